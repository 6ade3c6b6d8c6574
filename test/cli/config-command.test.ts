/**
 * `fedcrypt config`: config.json assembled from the players' public keygen
 * files (never a private key), refused overwrite, `--check`'s summary and
 * every refusal naming the file, the player or the option; run through the
 * CLI as a user runs it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keygen, type KeygenResult } from '../../src/deploy/keys.js';
import { loadConfig, ConfigError } from '../../src/transport/config.js';
import { assembleConfig } from '../../src/deploy/assemble.js';
import { fedcrypt } from './run-cli.js';

const NAMES = ['model-owner', 'owner0', 'owner1', 'owner2', 'server0', 'server1', 'server2'];
const ROLES = ['--model-owner', 'model-owner', '--data-owners', 'owner0,owner1,owner2', '--servers', 'server0,server1,server2'];

describe('fedcrypt config', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-config-cmd-'));
  const keys: Record<string, KeygenResult> = {};
  before(() => {
    for (const n of NAMES) keys[n] = keygen(n, join(dir, 'keys'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('assembles config.json from the public files: every certificate and public key as keygen made it, roles, addresses; no private key', () => {
    const r = fedcrypt(['config', '--keys', 'keys', ...ROLES, '--base-port', '7000', '--address', 'server2=10.0.0.5:7101', '--out', 'config.json'], dir);
    assert.equal(r.status, 0, r.out);
    assert.match(r.stdout, /wrote config\.json from 14 public files in keys \(no private key read\)/);
    const c = loadConfig(join(dir, 'config.json'), { requireKeys: true });
    assert.equal(c.links, 'tls');
    assert.deepEqual(c.players.map((p) => [p.name, p.role, p.address]), [
      ['model-owner', 'model-owner', '127.0.0.1:7000'], ['owner0', 'data-owner', '127.0.0.1:7001'], ['owner1', 'data-owner', '127.0.0.1:7002'],
      ['owner2', 'data-owner', '127.0.0.1:7003'], ['server0', 'compute-server', '127.0.0.1:7004'], ['server1', 'compute-server', '127.0.0.1:7005'],
      ['server2', 'compute-server', '10.0.0.5:7101'],
    ]);
    for (const p of c.players) {
      assert.equal(Buffer.from(p.certificate!).toString('base64'), keys[p.name]!.certificate, p.name);
      assert.equal(Buffer.from(p.publicKey!).toString('base64'), keys[p.name]!.publicKey, p.name);
    }
    const text = readFileSync(join(dir, 'config.json'), 'utf8');
    for (const n of NAMES) {
      const k = JSON.parse(readFileSync(keys[n]!.privateKeyPath, 'utf8')) as { privateKey: string; tlsPrivateKey: string };
      assert.ok(!text.includes(k.privateKey) && !text.includes(k.tlsPrivateKey), `${n}'s private key is not in the config`);
    }
    // the summary: players, roles, links, policy
    assert.match(r.stdout, /links: tls/);
    assert.match(r.stdout, /server2 +compute-server +10\.0\.0\.5:7101/);
    assert.match(r.stdout, /roles: 1 model owner, 3 data owner\(s\), 3 compute server\(s\), 0 aggregator\(s\)/);
    assert.match(r.stdout, /policy \(every player's floor.*\): protocols aby3, pond; at least 3 contributors/);
  });

  it('refuses to overwrite without --force (the file is left as it was); --force replaces it; --out - prints it', () => {
    const path = join(dir, 'keep.json');
    writeFileSync(path, 'mine');
    const r = fedcrypt(['config', '--keys', 'keys', ...ROLES, '--out', 'keep.json'], dir);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /keep\.json already exists; pass --force to replace it/);
    assert.equal(readFileSync(path, 'utf8'), 'mine');
    const f = fedcrypt(['config', '--keys', 'keys', ...ROLES, '--out', 'keep.json', '--force'], dir);
    assert.equal(f.status, 0, f.out);
    assert.equal(loadConfig(path, { requireKeys: true }).players.length, 7);
    const s = fedcrypt(['config', '--keys', 'keys', ...ROLES, '--out', '-'], dir);
    assert.equal(s.status, 0, s.out);
    assert.equal(JSON.parse(s.stdout).players['owner1'].certificate, keys['owner1']!.certificate);
  });

  it("--host '{name}': each player at its own host (a Kubernetes Service name), all on --base-port", () => {
    const a = assembleConfig({ keysDir: join(dir, 'keys'), modelOwner: 'model-owner', dataOwners: ['owner0', 'owner1', 'owner2'], servers: ['server0', 'server1', 'server2'], host: '{name}', basePort: 4440 });
    assert.deepEqual(a.config.players.map((p) => p.address), NAMES.map((n) => `${n}:4440`));
  });

  it('--links noise needs only the .pub files; a policy file is validated and included', () => {
    const pubs = mkdtempSync(join(dir, 'pubs-'));
    for (const n of NAMES) copyFileSync(keys[n]!.publicKeyPath, join(pubs, `${n}.pub`));
    writeFileSync(join(dir, 'policy.json'), JSON.stringify({ minContributors: 3, protocols: ['aby3'] }));
    const r = fedcrypt(['config', '--keys', pubs, ...ROLES, '--links', 'noise', '--policy', 'policy.json', '--out', 'noise.json'], dir);
    assert.equal(r.status, 0, r.out);
    const c = loadConfig(join(dir, 'noise.json'), { requireKeys: true });
    assert.equal(c.links, 'noise');
    assert.ok(c.players.every((p) => p.publicKey && !p.certificate));
    assert.deepEqual(c.policy, { minContributors: 3, protocols: ['aby3'] });
    assert.match(r.stdout, /protocols aby3;/);
    writeFileSync(join(dir, 'bad-policy.json'), JSON.stringify({ minContributors: 1 }));
    const b = fedcrypt(['config', '--keys', pubs, ...ROLES, '--links', 'noise', '--policy', 'bad-policy.json', '--out', 'x.json'], dir);
    assert.equal(b.status, 1);
    assert.match(b.stderr, /policy\.minContributors: expected an integer >= 2/);
    assert.ok(!existsSync(join(dir, 'x.json')));
  });

  it('names every missing or wrong public file and the keygen command that makes it, writing nothing', () => {
    const bad = mkdtempSync(join(dir, 'bad-'));
    for (const n of NAMES) {
      copyFileSync(keys[n]!.certificatePath, join(bad, `${n}.crt`));
      copyFileSync(keys[n]!.publicKeyPath, join(bad, `${n}.pub`));
    }
    unlinkSync(join(bad, 'server2.crt'));
    copyFileSync(keys['owner0']!.certificatePath, join(bad, 'owner1.crt')); // owner0's certificate under owner1's name
    const r = fedcrypt(['config', '--keys', bad, ...ROLES, '--out', 'bad.json'], dir);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /2 problems with the players' public files/);
    assert.match(r.stderr, /owner1\.crt: the certificate is for "owner0", not "owner1" \(player "owner1"\)/);
    assert.match(r.stderr, /server2\.crt: no such file \(player "server2"'s certificate\); run "fedcrypt keygen --name server2" on its host/);
    assert.ok(!existsSync(join(dir, 'bad.json')));
  });

  it('refuses a player named twice, an --address for no player, and a missing role option', () => {
    const twice = fedcrypt(['config', '--keys', 'keys', '--model-owner', 'model-owner', '--data-owners', 'owner0,owner1', '--servers', 'owner1,server1,server2', '--out', 'n.json'], dir);
    assert.equal(twice.status, 1);
    assert.match(twice.stderr, /player "owner1" is named twice \(as data-owner and as compute-server\)/);
    const addr = fedcrypt(['config', '--keys', 'keys', ...ROLES, '--address', 'bob=10.0.0.1:1', '--out', 'n.json'], dir);
    assert.equal(addr.status, 1);
    assert.match(addr.stderr, /address for "bob": no such player/);
    const none = fedcrypt(['config', '--keys', 'keys', '--data-owners', 'owner0'], dir);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /--model-owner required to assemble a config \(or --check <file> to check one\)/);
    assert.throws(() => assembleConfig({ keysDir: join(dir, 'keys'), modelOwner: 'model-owner', dataOwners: ['owner0'], basePort: 65535 }), (e: Error) => e instanceof ConfigError && /players\.owner0\.address: port 65536 out of range/.test(e.message));
    assert.ok(!existsSync(join(dir, 'n.json')));
  });

  it('--check validates with the transport\'s validator and prints players, roles, links, policy; with --keys it checks the key files found there', () => {
    assert.equal(fedcrypt(['config', '--keys', 'keys', ...ROLES, '--out', 'check.json'], dir).status, 0);
    const r = fedcrypt(['config', '--check', 'check.json', '--keys', 'keys'], dir);
    assert.equal(r.status, 0, r.out);
    assert.match(r.stdout, /^check\.json: valid$/m);
    assert.match(r.stdout, /players \(7\):/);
    assert.match(r.stdout, /owner2 +data-owner +127\.0\.0\.1:4443/);
    assert.match(r.stdout, /networked training: --protocol aby3, pond, paillier, secagg, plaintext \(plaintext only where every data owner opts in with --insecure-allow-plaintext; paillier with --mode fedavg, where the config's policy lists it\)/);
    assert.match(r.stdout, /config hash: [0-9a-f]{16}/);
    for (const n of NAMES) assert.match(r.stdout, new RegExp(`key file keys/${n}\\.key: matches players\\.${n}`));
    // a key that the config does not pin: the player and the file
    const other = mkdtempSync(join(dir, 'other-'));
    for (const n of NAMES) copyFileSync(keys[n]!.privateKeyPath, join(other, `${n}.key`));
    keygen('server1', other, { force: true });
    const m = fedcrypt(['config', '--check', 'check.json', '--keys', other], dir);
    assert.equal(m.status, 1);
    assert.match(m.stderr, /player "server1": .*server1\.key does not match the certificate check\.json pins for it \(players\.server1\.certificate\)/);
    // a config with a problem: the entry
    const text = JSON.parse(readFileSync(join(dir, 'check.json'), 'utf8'));
    delete text.players.owner1.role;
    writeFileSync(join(dir, 'norole.json'), JSON.stringify(text));
    const n = fedcrypt(['config', '--check', 'norole.json'], dir);
    assert.equal(n.status, 1);
    assert.match(n.stderr, /norole\.json: players\.owner1\.role: missing/);
    // too few data owners for the policy: said up front
    const few = fedcrypt(['config', '--keys', 'keys', '--model-owner', 'model-owner', '--data-owners', 'owner0,owner1', '--out', 'few.json'], dir);
    assert.equal(few.status, 0, few.out);
    assert.match(few.stdout, /warning: 2 data owner\(s\), fewer than the 3 contributors every player requires per aggregate/);
    // assembling options do not apply to --check
    const mixed = fedcrypt(['config', '--check', 'check.json', '--host', 'x', '--force'], dir);
    assert.equal(mixed.status, 1);
    assert.match(mixed.stderr, /--host, --force: not with --check/);
  });
});
