/**
 * Aggregation roles with every party in its own OS process (issue 13): the
 * test process is the driver and the SERVER party; each aggregator and each
 * client is a child process (role-party.ts) serving its own player of a
 * config.json over gRPC with mutual TLS, on 127.0.0.1 with ports chosen at
 * run time. A client's input is written to that child's stdin only.
 *
 * For every protocol of ROLE_PROTOCOLS (role-protocols.ts), the same plans
 * (a secure sum to SERVER, a weighted mean at AGGREGATORS, a struct of two
 * leaves, 3 clients, random inputs) run once in `simulateRoles` and once
 * across the processes: the aggregates must be equal bit for bit, and what
 * each process reports it received must be what the protocol allows.
 * Also: refusals (minContributors, the insecure opt-in) reach the driver
 * naming the party and the rule, and the refusing party sends nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TensorType, type DType } from '../../src/core/types.js';
import type { NumericArray } from '../../src/core/values.js';
import { PolicyError } from '../../src/core/errors.js';
import { keygen, loadIdentity } from '../../src/deploy/keys.js';
import { startPlayer } from '../../src/deploy/player.js';
import { RoleDriver, ROLES_KEY } from '../../src/deploy/roles-player.js';
import { checkPlan, type AggregationPlan } from '../../src/aggregation/plan.js';
import type { AggregationRoles, ClientInput, RolePolicy } from '../../src/aggregation/roles.js';
import { simulateRoles } from '../../src/aggregation/simulate.js';
import { leavesToBytes, resultToBytes } from '../../src/aggregation/wire.js';
import type { AggregationUri } from '../../src/aggregation/protocol.js';
import type { GrpcTransport } from '../../src/transport/grpc.js';
import { freePorts, ROOT, TSX } from '../deploy/helpers.js';
import { ROLE_PROTOCOLS } from './role-protocols.js';
import { isControl, messageId, PlanLog, RecordingTransport, type Message } from './role-recording.js';

const PARTY = join(ROOT, 'test', 'aggregation', 'role-party.ts');
/** Hang guards only (never reached by a normal run). */
const ROLE_TIMEOUT_MS = 60_000;
const HANG_MS = 150_000;

const SERVER = 'server';
const CLIENTS = ['client-0', 'client-1', 'client-2'];
/** minContributors 5 (with the insecure opt-in, so that its refusal is that rule). */
const STRICT = 'client-strict';
/** No insecure opt-in. */
const NO_OPT_IN = 'client-no-opt-in';
const OPEN: RolePolicy = Object.freeze({ minContributors: 1, allowInsecure: true });

interface Report {
  party: string;
  seq: number;
  invocationId: string;
  role?: string;
  index?: number;
  received: Message[];
  sent: Message[];
  unattributed: Message[];
  result?: string;
  error?: { name?: string; rule?: string; message?: string };
  aborted?: boolean;
}

interface Child {
  name: string;
  child: ChildProcess;
  lines: string[];
  listeners: Set<() => void>;
  exited: Promise<number | null>;
}

function startParty(name: string, args: string[], cwd: string): Child {
  const child = spawn(process.execPath, ['--import', TSX, PARTY, '--name', name, ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  const c: Child = { name, child, lines: [], listeners: new Set(), exited: new Promise((r) => child.once('exit', (code) => r(code))) };
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      c.lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    for (const l of c.listeners) l();
  });
  child.stderr!.on('data', (d: Buffer) => c.lines.push(`stderr: ${d.toString().trimEnd()}`));
  void c.exited.then(() => {
    for (const l of c.listeners) l();
  });
  return c;
}

/** The first stdout JSON line of `c` that `pick` accepts (hang guard: HANG_MS, or the child's exit). */
function lineOf<T>(c: Child, pick: (v: Record<string, unknown>) => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = () => {
      for (const l of c.lines) {
        if (!l.startsWith('{')) continue;
        const v = pick(JSON.parse(l) as Record<string, unknown>);
        if (v !== undefined) return done(() => resolve(v));
      }
      if (c.child.exitCode !== null || c.child.signalCode !== null) done(() => reject(new Error(`${c.name} exited; output:\n${c.lines.join('\n')}`)));
    };
    const timer = setTimeout(() => done(() => reject(new Error(`${c.name}: no such line after ${HANG_MS} ms; output:\n${c.lines.join('\n')}`))), HANG_MS);
    const done = (f: () => void) => {
      clearTimeout(timer);
      c.listeners.delete(check);
      f();
    };
    c.listeners.add(check);
    check();
  });
}

const reportOf = (c: Child, inv: string): Promise<Report> => lineOf(c, (v) => ((v['report'] as Report | undefined)?.invocationId === inv ? (v['report'] as Report) : undefined));

function leaf(path: string, dtype: DType, n: number) {
  return { path, type: new TensorType(dtype, [n]), size: n };
}

/** A random value of a leaf (integers below `bound`, floats in [-100, 100)). */
function randomLeaf(dtype: DType, n: number, bound: number): NumericArray {
  if (dtype === 'float32') return Float32Array.from({ length: n }, () => Math.fround((Math.random() * 2 - 1) * 100));
  return Int32Array.from({ length: n }, () => randomInt(bound));
}

const b64 = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
const fromB64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

/** Does `hay` contain `needle` as a byte string? */
function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(Buffer.from(needle.buffer, needle.byteOffset, needle.byteLength)) >= 0;
}

describe('aggregation roles, each party in its own OS process (gRPC, mutual TLS)', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-roles-'));
  // the driver's role sets (its own key), and the simulation's (every party's keys); built once the keys exist
  let local: AggregationRoles[] = [];
  let simulated: AggregationRoles[] = [];
  const aggregators = Array.from({ length: 3 }, (_, i) => `agg-${i}`);
  const children = new Map<string, Child>();
  let grpc: GrpcTransport | undefined;
  let rec: RecordingTransport;
  let log: PlanLog;
  let driver: RoleDriver;
  let plans = 0;

  before(async () => {
    const players: [string, string][] = [[SERVER, 'model-owner'], ...aggregators.map((a): [string, string] => [a, 'aggregator']), ...[...CLIENTS, STRICT, NO_OPT_IN].map((c): [string, string] => [c, 'data-owner'])];
    const ports = await freePorts(players.length);
    const entries: Record<string, unknown> = {};
    players.forEach(([name, role], i) => {
      const k = keygen(name, join(dir, 'keys'));
      entries[name] = { address: `127.0.0.1:${ports[i]}`, role, certificate: k.certificate, publicKey: k.publicKey };
    });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ version: 1, links: 'tls', players: entries }, null, 2));
    const identities = new Map(players.map(([name]) => [name, loadIdentity(join(dir, 'keys', `${name}.key`))]));
    const pinned = new Map([...identities].map(([n, id]) => [n, id.publicKey]));
    local = ROLE_PROTOCOLS.map((p) => p.make({ identities: new Map([[SERVER, identities.get(SERVER)!]]), pinnedKeys: pinned }));
    simulated = ROLE_PROTOCOLS.map((p) => p.make({ identities, pinnedKeys: pinned }));
    assert.ok(Math.max(...local.map((r) => r.aggregatorCount)) <= aggregators.length);
    const common = (name: string) => ['--config', 'config.json', '--key', join('keys', `${name}.key`), '--driver', SERVER, '--protocols', ROLE_PROTOCOLS.map((p) => p.name).join(','), '--timeout-ms', String(ROLE_TIMEOUT_MS)];
    for (const name of [...aggregators, ...CLIENTS]) children.set(name, startParty(name, [...common(name), '--allow-insecure'], dir));
    children.set(STRICT, startParty(STRICT, [...common(STRICT), '--allow-insecure', '--min-contributors', '5'], dir));
    children.set(NO_OPT_IN, startParty(NO_OPT_IN, common(NO_OPT_IN), dir));
    grpc = await startPlayer({ configPath: join(dir, 'config.json'), name: SERVER, keyPath: join(dir, 'keys', `${SERVER}.key`), handleSignals: false });
    rec = new RecordingTransport(grpc);
    log = new PlanLog(rec);
    driver = new RoleDriver(rec, SERVER);
    await Promise.all([...children.values()].map((c) => lineOf(c, (v) => v['ready'])));
  });

  after(async () => {
    await grpc?.close();
    await Promise.all(
      [...children.values()].map(async (c) => {
        if (c.child.exitCode !== null || c.child.signalCode !== null) return;
        c.child.kill('SIGTERM');
        const t = setTimeout(() => c.child.kill('SIGKILL'), 5000);
        await c.exited;
        clearTimeout(t);
      }),
    );
    await Promise.all([...local, ...simulated].map((r) => r.close?.()));
    rmSync(dir, { recursive: true, force: true });
  });

  function makePlan(roles: AggregationRoles, uri: AggregationUri, clients: readonly string[]): AggregationPlan {
    const sum = uri === 'federated_secure_sum';
    return checkPlan({
      protocol: roles.name,
      invocationId: `${roles.name}/${uri}/${plans++}`,
      uri,
      target: uri.endsWith('_at_aggregators') ? 'AGGREGATORS' : 'SERVER',
      leaves: sum ? [leaf('.a', 'int32', 5), leaf('.b', 'int32', 3)] : [leaf('.a', 'float32', 5), leaf('.b', 'int32', 3)],
      ...(sum ? { bound: 1n << 20n } : {}),
      clients,
      aggregators: aggregators.slice(0, roles.aggregatorCount),
      server: SERVER,
      params: roles.params,
    });
  }

  function randomInputs(plan: AggregationPlan): ClientInput[] {
    return plan.clients.map(() => {
      const values = plan.leaves.map((l) => randomLeaf(l.type.dtype, l.size, 1 << 20));
      return plan.uri === 'federated_weighted_mean_at_aggregators' ? { values, weight: 0.5 + Math.random() * 3 } : { values };
    });
  }

  /** Give each client process (but `skip`) its own input (its stdin only). */
  function feed(plan: AggregationPlan, inputs: readonly ClientInput[], skip?: string): void {
    plan.clients.forEach((c, i) => {
      if (c === skip) return;
      const v = inputs[i]!;
      children.get(c)!.child.stdin!.write(`${JSON.stringify({ invocationId: plan.invocationId, values: b64(leavesToBytes(plan, v.values)), ...(v.weight === undefined ? {} : { weight: v.weight }) })}\n`);
    });
  }

  /** What the driver (the SERVER party) sent and received for a plan. */
  const driverLog = (inv: string) => log.of(inv);
  const run = (roles: AggregationRoles, plan: AggregationPlan, policy = OPEN) => driver.run(roles, plan, { policy, timeoutMs: ROLE_TIMEOUT_MS, observe: log.observe });

  for (const [k, proto] of ROLE_PROTOCOLS.entries()) {
    // built in `before` (they need the keys); the test bodies run after it
    const roles = () => local[k]!;

    test(`${proto.name}: a secure sum and a weighted mean across processes equal simulateRoles bit for bit; each party received only what the protocol allows`, async (t) => {
      for (const uri of ['federated_secure_sum', 'federated_weighted_mean_at_aggregators'] as const) {
        const plan = makePlan(roles(), uri, CLIENTS);
        const inputs = randomInputs(plan);
        const sim = await simulateRoles(simulated[k]!, plan, inputs, { policy: OPEN, timeoutMs: ROLE_TIMEOUT_MS });
        feed(plan, inputs);
        const inv = plan.invocationId;
        const parties = [...plan.aggregators, ...plan.clients];
        const [done, ...reports] = await Promise.all([run(roles(), plan), ...parties.map((p) => reportOf(children.get(p)!, inv))]);
        const by = new Map(reports.map((r) => [r.party, r]));
        for (const r of reports) {
          assert.equal(r.error, undefined, `${r.party}: ${JSON.stringify(r.error)}`);
          assert.deepEqual(r.unattributed, [], `${r.party} has messages of no plan`);
        }
        assert.deepEqual(log.unattributed(), [], 'the driver has messages of no plan');

        // 1. the aggregates, bit for bit
        if (plan.target === 'SERVER') {
          assert.ok(done.result, 'the SERVER party got no aggregate');
          assert.deepEqual(resultToBytes(plan, done.result), resultToBytes(plan, sim.result), `${uri}: the aggregate at SERVER differs from the simulation`);
          for (const a of plan.aggregators) assert.equal(by.get(a)!.result, undefined, `${a} holds the aggregate of a SERVER-target plan`);
        } else {
          assert.equal(done.result, undefined);
          plan.aggregators.forEach((a, i) => {
            assert.ok(by.get(a)!.result, `${a} got no aggregate`);
            assert.deepEqual(fromB64(by.get(a)!.result!), resultToBytes(plan, sim.atAggregators![i]!), `${uri}: the aggregate at ${a} differs from the simulation`);
          });
        }
        for (const c of plan.clients) assert.equal(by.get(c)!.result, undefined, `${c} holds an aggregate`);

        // 2. what each party received (each process's own log) and sent
        const received = new Map<string, Message[]>([[SERVER, driverLog(inv).received], ...reports.map((r): [string, Message[]] => [r.party, r.received])]);
        const sent = new Map<string, Message[]>([[SERVER, driverLog(inv).sent], ...reports.map((r): [string, Message[]] => [r.party, r.sent])]);
        for (const c of plan.clients) {
          for (const m of received.get(c)!) assert.ok(!plan.clients.includes(m.from), `${c} received ${m.key} from client ${m.from}`);
          for (const m of sent.get(c)!) assert.ok(!plan.clients.includes(m.to), `${c} sent ${m.key} to client ${m.to}`);
        }
        const atServer = received.get(SERVER)!;
        const fromClients = atServer.filter((x) => !isControl(x) && plan.clients.includes(x.from));
        for (const m of atServer.filter((x) => !isControl(x) && !fromClients.includes(x))) assert.ok(plan.aggregators.includes(m.from), `SERVER received ${m.key} from ${m.from}, not an aggregator`);
        if (proto.serverRelays) {
          // the SERVER only routes: one box from each client, each forwarded unchanged to the aggregator (sealed to it, useless to SERVER)
          assert.deepEqual(fromClients.map((m) => m.from).sort(), [...plan.clients].sort(), 'SERVER receives one box from each client');
          const forwarded = new Set(sent.get(SERVER)!.filter((m) => m.to === plan.aggregators[0]).map((m) => m.sha256));
          for (const m of fromClients) assert.ok(forwarded.has(m.sha256), `SERVER did not forward ${m.from}'s box unchanged`);
        } else {
          assert.deepEqual(fromClients, [], 'SERVER received a message from a client');
        }
        // the control messages the SERVER party gets are each party's short report, nothing else
        for (const m of atServer.filter(isControl)) {
          assert.equal(m.key, `${ROLES_KEY}/${inv}/report`, `SERVER received control message ${m.key} from ${m.from}`);
          assert.deepEqual(JSON.parse(Buffer.from(m.b64!, 'base64').toString()), { ok: true });
        }
        if (proto.name === 'insecure-reference') {
          const roleMsgs = atServer.filter((x) => !isControl(x));
          assert.deepEqual(roleMsgs.map((m) => m.from), plan.target === 'SERVER' ? [plan.aggregators[0]] : [], 'reference: the SERVER party hears from its one aggregator only');
        }
        // every message was received by the party it was sent to, byte for byte (sha256), and nothing else arrived
        const allSent = [...sent.values()].flat().filter((m) => !m.key.startsWith(`${ROLES_KEY}/plan/`));
        const allReceived = [...received.values()].flat();
        assert.deepEqual(allReceived.map(messageId).sort(), allSent.map(messageId).sort(), 'sent and received messages differ');
        // the protocol ran over the network: role messages, not only control
        assert.ok(allSent.some((m) => !isControl(m)), 'no role message was sent');

        // 3. no party received another party's input bytes in the clear, except the reference's aggregator
        const secrets = plan.clients.map((c, i) => ({
          owner: c,
          parts: [...plan.leaves.map((l, j) => leavesToBytesLeaf(inputs[i]!.values[j]!)), ...(inputs[i]!.weight === undefined ? [] : [new Uint8Array(Float64Array.of(inputs[i]!.weight!).buffer)])],
        }));
        let seenInClear = 0;
        for (const [party, msgs] of received) {
          for (const m of msgs) {
            assert.ok(m.b64 !== undefined, `${party}: ${m.key} too large to scan`);
            const p = fromB64(m.b64);
            for (const s of secrets) {
              if (s.owner === party) continue;
              for (const part of s.parts) {
                if (!contains(p, part)) continue;
                assert.ok(!roles().secure && plan.aggregators[0] === party, `${party} received ${s.owner}'s input in the clear (${m.key} from ${m.from})`);
                seenInClear++;
              }
            }
          }
        }
        // the scan finds what is there: the reference's aggregator does hold every client's leaves (and weights)
        if (!roles().secure) assert.equal(seenInClear, secrets.reduce((a, s) => a + s.parts.length, 0));
        t.diagnostic(`${uri}: ${allSent.length} messages, ${allSent.reduce((a, m) => a + m.bytes, 0)} bytes`);
      }
    });

    test(`${proto.name}: a client whose policy says minContributors 5 refuses a 3-client plan; the driver's error names it and the rule`, async () => {
      const plan = makePlan(roles(), 'federated_secure_sum', [STRICT, CLIENTS[1]!, CLIENTS[2]!]);
      // it refuses before it asks for its input: it is never given one
      feed(plan, randomInputs(plan), STRICT);
      const err = await run(roles(), plan).then(
        () => assert.fail('the plan ran'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof PolicyError, String(err));
      assert.equal(err.party, STRICT);
      assert.equal(err.rule, 'minContributors');
      assert.match(err.message, new RegExp(`^${STRICT}: policy "minContributors" refuses: .*3 clients.*minimum of 5`));
      const r = await reportOf(children.get(STRICT)!, plan.invocationId);
      assert.equal(r.error?.rule, 'minContributors');
      // it sent its refusal to the driver and nothing else
      assert.deepEqual(r.sent.map((m) => `${m.to}:${m.key}`), [`${SERVER}:${ROLES_KEY}/${plan.invocationId}/report`]);
    });

    test(`${proto.name}: a client without the insecure opt-in refuses an insecure protocol (sending nothing) and takes part in a secure one`, async () => {
      if (roles().secure) {
        const plan = makePlan(roles(), 'federated_secure_sum', [NO_OPT_IN, CLIENTS[1]!, CLIENTS[2]!]);
        const inputs = randomInputs(plan);
        feed(plan, inputs);
        const [done, sim] = await Promise.all([run(roles(), plan), simulateRoles(simulated[k]!, plan, inputs, { policy: OPEN, timeoutMs: ROLE_TIMEOUT_MS })]);
        assert.deepEqual(resultToBytes(plan, done.result!), resultToBytes(plan, sim.result));
        assert.equal((await reportOf(children.get(NO_OPT_IN)!, plan.invocationId)).error, undefined);
        return;
      }
      // every party of the insecure reference must opt in (this one has not): it refuses, asks for no input, sends nothing
      const plan = makePlan(roles(), 'federated_secure_sum', [NO_OPT_IN, CLIENTS[1]!, CLIENTS[2]!]);
      feed(plan, randomInputs(plan), NO_OPT_IN);
      const err = await run(roles(), plan).then(
        () => assert.fail('the plan ran'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof PolicyError, String(err));
      assert.equal(err.party, NO_OPT_IN);
      assert.equal(err.rule, 'protocol');
      const inv = plan.invocationId;
      const mine = await reportOf(children.get(NO_OPT_IN)!, inv);
      assert.deepEqual(mine.sent.map((m) => `${m.to}:${m.key}`), [`${SERVER}:${ROLES_KEY}/${inv}/report`]);
      // the aggregator was told to give up, and holds nothing of the refusing client
      for (const a of plan.aggregators) {
        const r = await reportOf(children.get(a)!, inv);
        assert.ok(!r.received.some((m) => m.from === NO_OPT_IN), `${a} received from ${NO_OPT_IN}`);
      }
      // nor did the SERVER party get a role message
      assert.deepEqual(driverLog(inv).received.filter((m) => !isControl(m)), []);

      // the driver (SERVER) without the opt-in refuses before anything leaves it
      const plan2 = makePlan(roles(), 'federated_secure_sum', CLIENTS);
      const before = rec.sent.length;
      await assert.rejects(run(roles(), plan2, { minContributors: 1, allowInsecure: false }), (e: unknown) => e instanceof PolicyError && e.rule === 'protocol' && e.party === SERVER);
      assert.equal(rec.sent.length, before, 'the refusing driver sent something');
    });
  }
});

/** One leaf's bytes as a client holds them. */
function leavesToBytesLeaf(v: NumericArray): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice();
}
