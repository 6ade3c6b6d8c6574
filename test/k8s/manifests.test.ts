/**
 * deploy/k8s: every manifest parses (YAML 1.1, as Kubernetes reads it) and
 * names itself; the manifests agree with each other (Services select the
 * pods of existing workloads, the kustomization lists every file) and with
 * the example config (a workload and a Service per player, its port, its
 * role); each player's pod mounts the config and only its own key; and a
 * ConfigMap built as the kustomization builds it, from a config made by
 * `fedcrypt config` and real keys, holds no Secret data. kubectl is not run.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { validateConfig } from '../../src/transport/config.js';
import { parseJsonStrict } from '../../src/transport/config-json.js';
import { keygen } from '../../src/deploy/keys.js';
import { fedcrypt, ROOT } from '../cli/run-cli.js';

const K8S = join(ROOT, 'deploy', 'k8s');
type Obj = Record<string, any>;

function load(file: string): Obj[] {
  const docs = parseAllDocuments(readFileSync(join(K8S, file), 'utf8'), { version: '1.1', prettyErrors: true });
  return docs.map((d, i) => {
    assert.deepEqual(d.errors.map(String), [], `${file}, document ${i + 1}`);
    return d.toJS() as Obj;
  }).filter((o) => o !== null);
}

const files = readdirSync(K8S).filter((f) => f.endsWith('.yaml')).sort();
const byFile = new Map(files.map((f) => [f, load(f)]));
const kustomization = byFile.get('kustomization.yaml')![0]!;
const objects = [...byFile.entries()].filter(([f]) => f !== 'kustomization.yaml').flatMap(([, o]) => o);
const workloads = objects.filter((o) => o.kind === 'Deployment' || o.kind === 'Job');
const services = objects.filter((o) => o.kind === 'Service');
const example = validateConfig(parseJsonStrict(readFileSync(join(K8S, 'config.example.json'), 'utf8')), { source: 'config.example.json' });
const podOf = (w: Obj): Obj => w.spec.template.spec;
const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels?.[k] === v);
const containers = (w: Obj): Obj[] => [...(podOf(w).initContainers ?? []), ...podOf(w).containers];
const main = (w: Obj): Obj => podOf(w).containers[0];

describe('deploy/k8s manifests', () => {
  it('every document parses and has apiVersion, kind and metadata.name', () => {
    assert.ok(files.length >= 6, files.join(', '));
    for (const [f, docs] of byFile) {
      assert.ok(docs.length > 0, f);
      for (const o of docs) {
        for (const k of ['apiVersion', 'kind']) assert.equal(typeof o[k], 'string', `${f}: ${k}`);
        assert.equal(typeof o.metadata?.name, 'string', `${f}: ${o.kind} without metadata.name`);
        assert.match(o.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${f}: ${o.metadata.name} is a DNS label`);
      }
    }
  });

  it('the kustomization lists every manifest file, and only existing ones; names are unique per kind', () => {
    assert.equal(kustomization.kind, 'Kustomization');
    assert.deepEqual([...kustomization.resources].sort(), files.filter((f) => f !== 'kustomization.yaml'));
    const seen = new Set<string>();
    for (const o of objects) {
      const id = `${o.kind}/${o.metadata.name}`;
      assert.ok(!seen.has(id), `duplicate ${id}`);
      seen.add(id);
    }
    const images = new Set((kustomization.images as Obj[]).map((i) => i.name));
    for (const w of workloads) for (const c of containers(w)) assert.ok(images.has(c.image), `${w.metadata.name}/${c.name}: image ${c.image} set by the kustomization`);
  });

  it('each Service selects the pods of exactly one existing workload, on a port that container exposes', () => {
    for (const s of services) {
      const sel = s.spec.selector as Record<string, string>;
      assert.ok(sel && Object.keys(sel).length > 0, `${s.metadata.name}: selector`);
      const hit = workloads.filter((w) => matches(sel, w.spec.template.metadata.labels));
      assert.equal(hit.length, 1, `Service ${s.metadata.name} selects ${hit.map((w) => w.metadata.name).join(', ') || 'nothing'}`);
      for (const p of s.spec.ports as Obj[]) {
        const cp = (main(hit[0]!).ports as Obj[]).find((x) => x.name === p.targetPort || x.containerPort === p.targetPort);
        assert.ok(cp, `${s.metadata.name}: targetPort ${p.targetPort} is a port of ${hit[0]!.metadata.name}`);
      }
    }
    for (const w of workloads.filter((x) => x.kind === 'Deployment')) {
      assert.ok(matches(w.spec.selector.matchLabels, w.spec.template.metadata.labels), `${w.metadata.name}: selector matches its pods`);
      assert.equal(w.spec.replicas, 1, `${w.metadata.name}: one process per player`);
      assert.equal(w.spec.strategy?.type, 'Recreate', `${w.metadata.name}: never two pods of one player`);
    }
  });

  it('every player of the example config has a workload and a Service: its role, its port, its name and key on the command line', () => {
    for (const p of example.players) {
      const w = workloads.filter((x) => x.spec.template.metadata.labels['fedcrypt/player'] === p.name);
      assert.equal(w.length, 1, `one workload for ${p.name}`);
      const pod = w[0]!;
      assert.equal(pod.kind, p.role === 'model-owner' ? 'Job' : 'Deployment', p.name);
      assert.equal(pod.spec.template.metadata.labels['fedcrypt/role'], p.role, `${p.name}: role label`);
      const s = services.find((x) => x.metadata.name === p.name);
      assert.ok(s, `Service ${p.name}`);
      assert.ok(matches(s.spec.selector, pod.spec.template.metadata.labels), `Service ${p.name} selects ${p.name}'s pod`);
      assert.equal(p.host, p.name, `${p.name}'s address is its Service`);
      assert.equal(s.spec.ports[0].port, p.port, `${p.name}: Service port = the config's`);
      assert.equal((main(pod).ports as Obj[]).find((x) => x.name === s.spec.ports[0].targetPort)?.containerPort, p.port, `${p.name}: the container listens on the config's port`);
      const args = main(pod).args as string[];
      assert.equal(args[0], p.role === 'model-owner' ? 'train' : 'player', p.name);
      const opt = (flag: string) => args[args.indexOf(flag) + 1];
      assert.equal(opt('--config'), '/etc/fedcrypt/config.json', p.name);
      assert.equal(opt('--key'), `/run/fedcrypt/keys/${p.name}.key`, p.name);
      if (p.role !== 'model-owner') assert.equal(opt('--name'), p.name);
    }
    // and nothing the config does not name
    assert.deepEqual(workloads.map((w) => w.spec.template.metadata.labels['fedcrypt/player']).sort(), example.players.map((p) => p.name).sort());
    assert.deepEqual(services.map((s) => s.metadata.name).sort(), example.players.map((p) => p.name).sort());
  });

  it("each pod mounts the config's ConfigMap and only its own player's key Secret; keys are never a literal Secret or ConfigMap", () => {
    assert.ok(!objects.some((o) => o.kind === 'Secret' || o.kind === 'ConfigMap'), 'no literal Secret or ConfigMap: both come from the generators');
    const generated = new Set((kustomization.secretGenerator as Obj[]).map((g) => g.name));
    for (const w of workloads) {
      const name = w.spec.template.metadata.labels['fedcrypt/player'];
      const vols = podOf(w).volumes as Obj[];
      const secrets = vols.filter((v) => v.secret).map((v) => v.secret.secretName);
      assert.deepEqual(secrets, [`fedcrypt-key-${name}`], `${name} mounts its own key only`);
      assert.ok(generated.has(secrets[0]), `${name}: its Secret is generated`);
      assert.deepEqual(vols.filter((v) => v.configMap).map((v) => v.configMap.name), ['fedcrypt-config'], name);
      const keyVol = vols.find((v) => v.secret)!;
      assert.equal(keyVol.secret.defaultMode & 0o077, 0, `${name}: the Secret's files are not world-readable`);
      // the key reaches the player through a memory-backed volume, not the config's mount
      const keys = vols.find((v) => v.name === 'keys');
      assert.equal(keys?.emptyDir?.medium, 'Memory', name);
      const cfgMount = (main(w).volumeMounts as Obj[]).find((m) => m.name === 'config');
      assert.equal(cfgMount?.mountPath, '/etc/fedcrypt', name);
      assert.ok(!(main(w).volumeMounts as Obj[]).some((m) => m.name === keyVol.name), `${name}: the main container does not mount the raw Secret`);
    }
  });

  it('probes, resources and a hardened security context, as the tool needs them', () => {
    for (const w of workloads) {
      const pod = podOf(w);
      assert.equal(pod.securityContext.runAsNonRoot, true, w.metadata.name);
      assert.equal(pod.automountServiceAccountToken, false, w.metadata.name);
      for (const c of containers(w)) {
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${w.metadata.name}/${c.name}`);
        assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${w.metadata.name}/${c.name}`);
        assert.ok(c.resources?.requests?.cpu && c.resources?.requests?.memory && c.resources?.limits?.memory, `${w.metadata.name}/${c.name}: requests and a memory limit`);
      }
      if (w.kind !== 'Deployment') continue;
      const c = main(w);
      const ready = (c.args as string[])[(c.args as string[]).indexOf('--ready-file') + 1];
      assert.ok(ready, `${w.metadata.name}: --ready-file`);
      for (const probe of ['readinessProbe', 'livenessProbe']) {
        assert.ok(c[probe]?.exec, `${w.metadata.name}: ${probe} is an exec probe (a TCP probe is a refused TLS handshake, logged)`);
        assert.ok((c[probe].exec.command as string[]).join(' ').includes(ready), `${w.metadata.name}: ${probe} reads the ready file`);
      }
    }
  });
});

describe('deploy/k8s from a config made by fedcrypt config', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-k8s-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  before(() => {
    for (const p of example.players) keygen(p.name, join(dir, 'keys'));
  });

  it("the README's command gives the example config's players, roles and addresses, and the generated ConfigMap holds no Secret data", () => {
    const role = (r: string) => example.players.filter((p) => p.role === r).map((p) => p.name).join(',');
    const r = fedcrypt(['config', '--keys', 'keys', '--model-owner', role('model-owner'), '--data-owners', role('data-owner'), '--servers', role('compute-server'),
      '--host', '{name}', '--base-port', '4440', '--out', 'config.json'], dir);
    assert.equal(r.status, 0, r.out);
    const made = validateConfig(parseJsonStrict(readFileSync(join(dir, 'config.json'), 'utf8')), { requireKeys: true });
    assert.deepEqual(made.players.map((p) => [p.name, p.role, p.address]), example.players.map((p) => [p.name, p.role, p.address]));
    // what the kustomization's generators would make, read from the files they name (relative to the kustomization)
    const read = (spec: string) => {
      const [key, path] = spec.includes('=') ? spec.split('=') as [string, string] : [spec.split('/').pop()!, spec];
      return [key, readFileSync(join(dir, path), 'utf8')] as const;
    };
    const configMaps = (kustomization.configMapGenerator as Obj[]).map((g) => ({ name: g.name, data: Object.fromEntries((g.files as string[]).map(read)) }));
    const secrets = (kustomization.secretGenerator as Obj[]).map((g) => ({ name: g.name, data: Object.fromEntries((g.files as string[]).map(read)) }));
    assert.deepEqual(configMaps.map((c) => Object.keys(c.data)), [['config.json']]);
    assert.deepEqual(secrets.map((s) => s.name).sort(), example.players.map((p) => `fedcrypt-key-${p.name}`).sort());
    for (const g of [...(kustomization.configMapGenerator as Obj[])]) for (const f of g.files as string[]) assert.ok(!/\.key$|(^|=)keys\//.test(f), `ConfigMap source ${f} is not a key`);
    for (const s of secrets) {
      const name = s.name.replace(/^fedcrypt-key-/, '');
      const key = JSON.parse(s.data['player.key']!) as Record<string, string>;
      assert.equal(key['name'], name, `${s.name} holds ${name}'s key`);
      for (const c of configMaps) {
        for (const text of Object.values(c.data)) {
          assert.ok(!text.includes(s.data['player.key']!), `${s.name} not in ConfigMap ${c.name}`);
          for (const field of ['privateKey', 'tlsPrivateKey']) assert.ok(!text.includes(key[field]!), `${name}'s ${field} not in ConfigMap ${c.name}`);
        }
      }
    }
    assert.ok(existsSync(join(K8S, '.gitignore')) && /^keys\/$/m.test(readFileSync(join(K8S, '.gitignore'), 'utf8')), 'deploy/k8s/keys/ is git-ignored');
  });
});
