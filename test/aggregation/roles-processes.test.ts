/**
 * Aggregation roles with every party in its own OS process (issue 13), run by
 * the remote executor: the test process is the driver and the SERVER party
 * (`remoteExecutionContext`); each aggregator and each client is a child
 * process (role-party.ts) serving its own player of a config.json over gRPC
 * with mutual TLS (`servePlayerExecutor`), on 127.0.0.1 with ports chosen at
 * run time. A client's input reaches only that child (its stdin), which
 * serves it as its CLIENTS value (`clientData`).
 *
 * For every protocol of ROLE_PROTOCOLS (role-protocols.ts), one federated
 * computation (a secure sum to SERVER, and a weighted mean at AGGREGATORS
 * moved to SERVER; structs of two leaves, 3 clients, random inputs) runs
 * across the processes and in `localContext` with `rolesAsProtocol` of the
 * same roles: the results must be equal bit for bit, the aggregate each
 * aggregator party holds equal to `simulateRoles`', and what each process
 * received what the protocol allows. Also: refusals (minContributors, the
 * insecure opt-in) reach the driver as a PolicyError naming the party and the
 * rule, the refusing party sends nothing but its replies to the driver, and
 * every other player stops waiting (the session's abort).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGGREGATORS, CLIENTS, SERVER as AT_SERVER, federated, federatedComputation, federatedMean, federatedSecureSum, federatedTransfer, struct, tensor, withContext, type Computation } from '../../src/core/index.js';
import { PolicyError } from '../../src/core/errors.js';
import { generateIdentity, type Identity } from '../../src/crypto/identity.js';
import { keygen, loadIdentity } from '../../src/deploy/keys.js';
import { startPlayer } from '../../src/deploy/player.js';
import { localContext } from '../../src/runtime/index.js';
import { clientData, remoteExecutionContext } from '../../src/runtime/remote/context.js';
import { unframe, unframeBatch } from '../../src/runtime/remote/wire.js';
import { planFromBytes, type AggregationPlan } from '../../src/aggregation/plan.js';
import type { AggregationRoles, ClientInput, RolePolicy } from '../../src/aggregation/roles.js';
import { rolesAsProtocol, simulateRoles } from '../../src/aggregation/simulate.js';
import { resultToBytes } from '../../src/aggregation/wire.js';
import type { GrpcTransport } from '../../src/transport/grpc.js';
import { HostingTransport } from '../../src/transport/hosting.js';
import { freePorts, ROOT, TSX } from '../deploy/helpers.js';
import { ROLE_PROTOCOLS, watched } from './role-protocols.js';
import { isExec, messageId, ofSession, RecordingTransport, type Message } from './role-recording.js';

const PARTY = join(ROOT, 'test', 'aggregation', 'role-party.ts');
/** Hang guards only (never reached by a normal run). */
const ROLE_TIMEOUT_MS = 60_000;
const HANG_MS = 150_000;

const SERVER = 'server';
const CLIENT_NAMES = ['client-0', 'client-1', 'client-2'];
/** minContributors 5 (with the insecure opt-in, so that its refusal is that rule). */
const STRICT = 'client-strict';
/** No insecure opt-in. */
const NO_OPT_IN = 'client-no-opt-in';
const OPEN: RolePolicy = Object.freeze({ minContributors: 1, allowInsecure: true });

// the computations (the same object runs in both contexts)
const SUM_T = struct({ a: tensor('int32', [5]), b: tensor('int32', [3]) });
const MEAN_T = struct({ a: tensor('float32', [5]), b: tensor('int32', [3]) });
const BITS = 20;
const sumAndMean = federatedComputation([federated(SUM_T, CLIENTS), federated(MEAN_T, CLIENTS), federated(tensor('float64'), CLIENTS)], (s, m, w) => [
  federatedSecureSum(s, { bitwidth: BITS }),
  federatedTransfer(federatedMean(m, { weights: w, placement: AGGREGATORS }), { placement: AT_SERVER }),
]);
const secureSum = federatedComputation([federated(SUM_T, CLIENTS)], (s) => federatedSecureSum(s, { bitwidth: BITS }));

/** A client's own data: its values for the sum, for the mean, and its weight. */
interface Input {
  sum: { a: number[]; b: number[] };
  mean: { a: number[]; b: number[] };
  weight: number;
}
const ints = (n: number) => Array.from({ length: n }, () => randomInt(1 << BITS));
const randomInput = (): Input => ({
  sum: { a: ints(5), b: ints(3) },
  mean: { a: Array.from({ length: 5 }, () => Math.fround((Math.random() * 2 - 1) * 100)), b: ints(3) },
  weight: 0.5 + Math.random() * 3,
});
/** Each leaf of an input as the client holds it (bytes), for the payload scans. */
const secretsOf = (i: Input): Uint8Array[] =>
  [Int32Array.from(i.sum.a), Int32Array.from(i.sum.b), Float32Array.from(i.mean.a), Int32Array.from(i.mean.b), Float64Array.of(i.weight)].map((x) => new Uint8Array(x.buffer));
/** The input of a plan's client, as its role takes it. */
function roleInput(plan: AggregationPlan, i: Input): ClientInput {
  if (plan.uri === 'federated_weighted_mean_at_aggregators') return { values: [Float32Array.from(i.mean.a), Int32Array.from(i.mean.b)], weight: i.weight };
  return { values: [Int32Array.from(i.sum.a), Int32Array.from(i.sum.b)] };
}

interface Report {
  party: string;
  session: string;
  endedBy: 'end' | 'abort';
  received: Message[];
  sent: Message[];
  stray: Message[];
  log: string[];
  aggregates: { plan: string; result: string | null }[];
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

const reportOf = (c: Child, session: string): Promise<Report> => lineOf(c, (v) => ((v['report'] as Report | undefined)?.session === session ? (v['report'] as Report) : undefined));
const fromB64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
const payload = (m: Message): Uint8Array => {
  assert.ok(m.b64 !== undefined, `${m.key} is too large to scan`);
  return fromB64(m.b64);
};
/** The commands of an executor message, or the replies (one, or a batch of them: unframeBatch), in order. */
const itemsOf = (m: Message) => {
  const f = unframe(payload(m), m.key);
  return f.header['op'] === 'batch' ? unframeBatch(f, m.key) : [f];
};
const isReply = (m: Message) => isExec(m) && m.key.endsWith('/reply');
/** The error of a run and the players' logs (failure messages). */
const logsOf = (run: CaseRun): string => [String(run.error), ...[...run.reports.values()].flatMap((r) => r.log)].join('\n');
const isAbort = (m: Message) => isExec(m) && m.key.endsWith('/abort');

/** Does `hay` contain `needle` as a byte string? */
function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(Buffer.from(needle.buffer, needle.byteOffset, needle.byteLength)) >= 0;
}

interface CaseRun {
  session: string;
  aggregators: string[];
  result?: unknown;
  error?: unknown;
  reports: Map<string, Report>;
  /** What the driver (the SERVER party) sent and received in the session. */
  driver: { sent: Message[]; received: Message[] };
  /** How each run of the driver's own (server) role ended. */
  serverRoles: ({ ok: true } | { error: unknown })[];
}

describe('aggregation roles, each party in its own OS process, run by the remote executor (gRPC, mutual TLS)', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-roles-'));
  // the driver's role sets (its own key), and the simulation's (every party's keys); built once the keys exist
  let local: AggregationRoles[] = [];
  let simulated: AggregationRoles[] = [];
  const aggregators = Array.from({ length: 3 }, (_, i) => `agg-${i}`);
  const children = new Map<string, Child>();
  let grpc: GrpcTransport | undefined;
  let rec: RecordingTransport;
  let sessions = 0;

  before(async () => {
    const players: [string, string][] = [[SERVER, 'model-owner'], ...aggregators.map((a): [string, string] => [a, 'aggregator']), ...[...CLIENT_NAMES, STRICT, NO_OPT_IN].map((c): [string, string] => [c, 'data-owner'])];
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
    // the simulation also runs the protocols' default aggregator names (localContext's plans): keys of their own, in memory
    const simIds = new Map<string, Identity>(identities);
    for (const r of local) for (const a of r.aggregatorNames) if (!simIds.has(a)) simIds.set(a, generateIdentity());
    simulated = ROLE_PROTOCOLS.map((p) => p.make({ identities: simIds, pinnedKeys: new Map([...simIds].map(([n, id]) => [n, id.publicKey])) }));
    assert.ok(Math.max(...local.map((r) => r.aggregatorCount)) <= aggregators.length);
    const common = (name: string) => ['--config', 'config.json', '--key', join('keys', `${name}.key`), '--driver', SERVER, '--protocols', ROLE_PROTOCOLS.map((p) => p.name).join(','), '--timeout-ms', String(ROLE_TIMEOUT_MS)];
    for (const name of aggregators) children.set(name, startParty(name, [...common(name), '--allow-insecure'], dir));
    for (const name of CLIENT_NAMES) children.set(name, startParty(name, [...common(name), '--client', '--allow-insecure'], dir));
    children.set(STRICT, startParty(STRICT, [...common(STRICT), '--client', '--allow-insecure', '--min-contributors', '5'], dir));
    children.set(NO_OPT_IN, startParty(NO_OPT_IN, [...common(NO_OPT_IN), '--client'], dir));
    grpc = await startPlayer({ configPath: join(dir, 'config.json'), name: SERVER, keyPath: join(dir, 'keys', `${SERVER}.key`), handleSignals: false });
    rec = new RecordingTransport(new HostingTransport(grpc));
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

  /**
   * One session: each child of it is told the session on its stdin (a client
   * also its own input), the driver runs `comp` with `remoteExecutionContext`
   * and ends the session, and every child reports once the session is over.
   */
  async function runCase(k: number, comp: Computation, args: unknown[], clients: readonly string[], inputs: ReadonlyMap<string, Input>, policy: RolePolicy = OPEN): Promise<CaseRun> {
    const roles = local[k]!;
    const session = `s${String(sessions++).padStart(3, '0')}q`;
    const aggs = aggregators.slice(0, roles.aggregatorCount);
    const tell = (p: string, v: unknown) => children.get(p)!.child.stdin!.write(`${JSON.stringify(v)}\n`);
    for (const a of aggs) tell(a, { session });
    for (const c of clients) tell(c, { session, input: inputs.get(c) });
    const serverRuns: Promise<{ ok: true } | { error: unknown }>[] = [];
    const ctx = remoteExecutionContext({
      transport: rec,
      server: SERVER,
      session,
      players: [...clients.map((c) => ({ name: c, clients: [c] })), ...aggs.map((a) => ({ name: a, clients: [] }))],
      roles: watched(roles, { server: (_, running) => serverRuns.push(running.then(() => ({ ok: true }) as const, (error: unknown) => ({ error }))) }),
      aggregators: aggs,
      policy,
      timeoutMs: ROLE_TIMEOUT_MS,
    });
    let outcome: { result: unknown } | { error: unknown };
    try {
      outcome = { result: await withContext(ctx, () => comp(...args)) };
      await ctx.close();
    } catch (error) {
      outcome = { error }; // the context aborted the session
    }
    const reports = await Promise.all([...aggs, ...clients].map((p) => reportOf(children.get(p)!, session)));
    for (const r of reports) assert.deepEqual(r.stray, [], `${r.party} has messages of no session`);
    const serverRoles = await Promise.all(serverRuns);
    return { session, aggregators: aggs, ...outcome, reports: new Map(reports.map((r) => [r.party, r])), driver: { sent: ofSession(rec.sent, session), received: ofSession(rec.received, session) }, serverRoles };
  }

  const inputsFor = (clients: readonly string[]) => new Map(clients.map((c) => [c, randomInput()]));
  const argsOf = (comp: Computation) => (comp === sumAndMean ? [clientData('sum'), clientData('mean'), clientData('weight')] : [clientData('sum')]);
  /** The same computation in one process: localContext with the simulation of the same roles. */
  async function inProcess(k: number, comp: Computation, inputs: readonly Input[]): Promise<unknown> {
    const ctx = localContext({ aggregation: rolesAsProtocol(simulated[k]!, { allowInsecure: true, serverName: SERVER, clientName: (i) => `client-${i}`, timeoutMs: ROLE_TIMEOUT_MS }) });
    const args = comp === sumAndMean ? [inputs.map((i) => i.sum), inputs.map((i) => i.mean), inputs.map((i) => i.weight)] : [inputs.map((i) => i.sum)];
    return withContext(ctx, () => comp(...args));
  }

  /** A refused session: the PolicyError of `party` for `rule`; the refusing party sent nothing but its replies; every other player stopped at the abort. */
  function assertRefused(run: CaseRun, party: string, rule: string): PolicyError {
    const err = run.error;
    assert.ok(err instanceof PolicyError, String(err));
    assert.equal(err.party, party);
    assert.equal(err.rule, rule);
    const mine = run.reports.get(party)!;
    for (const m of mine.sent) assert.ok(isReply(m) && m.to === SERVER, `${party} sent ${m.key} to ${m.to}`);
    const refusal = itemsOf(mine.sent.at(-1)!).at(-1)!.header;
    assert.deepEqual([refusal['ok'], refusal['rule'], refusal['party']], [false, rule, party], 'its last reply is its refusal');
    for (const [p, r] of run.reports) {
      assert.ok(!r.received.some((m) => m.from === party), `${p} received from ${party}`);
      assert.equal(r.endedBy, 'abort', `${p}'s session did not end with the abort`);
      // a player whose role was waiting gave up because the driver aborted the session, not at a deadline
      if (p !== party) for (const l of r.log) assert.match(l, /the driver aborted the session/, `${p}: ${l}`);
    }
    // (an aggregator waiting on the refusing party's contribution was one of them)
    assert.ok(run.aggregators.some((a) => run.reports.get(a)!.log.length > 0), 'no aggregator was waiting in the aggregation when it was aborted');
    assert.ok(!run.driver.received.some((m) => m.from === party && !isExec(m)), `SERVER received a role message from ${party}`);
    // and so did the driver's own role, waiting on what the refusing party would have sent
    assert.equal(run.serverRoles.length, 1);
    const own = run.serverRoles[0]!;
    assert.ok('error' in own && /the aggregation failed at a player/.test(String(own.error)), `the driver's role: ${'error' in own ? String(own.error) : 'ok'}`);
    return err;
  }

  for (const [k, proto] of ROLE_PROTOCOLS.entries()) {
    const roles = () => local[k]!;

    test(`${proto.name}: a secure sum to SERVER and a weighted mean at AGGREGATORS moved to SERVER, across processes, equal localContext and simulateRoles bit for bit; each party received only what the protocol allows`, async (t) => {
      const inputs = inputsFor(CLIENT_NAMES);
      const run = await runCase(k, sumAndMean, argsOf(sumAndMean), CLIENT_NAMES, inputs);
      assert.equal(run.error, undefined, logsOf(run));
      assert.deepEqual(run.serverRoles, [{ ok: true }, { ok: true }]);
      for (const r of run.reports.values()) assert.equal(r.endedBy, 'end', `${r.party}: ${r.log.join('\n')}`);

      // 1. the results, bit for bit: at SERVER as in one process, and the aggregate each aggregator party holds as in the simulation
      const want = await inProcess(k, sumAndMean, CLIENT_NAMES.map((c) => inputs.get(c)!));
      assert.deepStrictEqual(run.result, want);
      const ran = run.reports.get(run.aggregators[0]!)!.aggregates.map((x) => planFromBytes(fromB64(x.plan)));
      assert.deepEqual(ran.map((p) => p.uri).sort(), ['federated_secure_sum', 'federated_weighted_mean_at_aggregators']);
      for (const plan of ran) {
        assert.deepEqual(plan.clients, CLIENT_NAMES);
        const sim = await simulateRoles(simulated[k]!, plan, plan.clients.map((c) => roleInput(plan, inputs.get(c)!)), { policy: OPEN, timeoutMs: ROLE_TIMEOUT_MS });
        run.aggregators.forEach((a, i) => {
          const held = run.reports.get(a)!.aggregates.find((x) => planFromBytes(fromB64(x.plan)).invocationId === plan.invocationId);
          assert.ok(held, `${a} did not run ${plan.invocationId}`);
          if (plan.target === 'SERVER') assert.equal(held.result, null, `${a} holds the aggregate of a SERVER-target plan`);
          else assert.deepEqual(fromB64(held.result!), resultToBytes(plan, sim.atAggregators![i]!), `the aggregate at ${a} differs from the simulation`);
        });
      }

      // 2. what each party received (each process's own log) and sent
      const received = new Map<string, Message[]>([[SERVER, run.driver.received], ...[...run.reports.values()].map((r): [string, Message[]] => [r.party, r.received])]);
      const sent = new Map<string, Message[]>([[SERVER, run.driver.sent], ...[...run.reports.values()].map((r): [string, Message[]] => [r.party, r.sent])]);
      for (const c of CLIENT_NAMES) {
        for (const m of received.get(c)!) assert.ok(!CLIENT_NAMES.includes(m.from), `${c} received ${m.key} from client ${m.from}`);
        for (const m of sent.get(c)!) assert.ok(!CLIENT_NAMES.includes(m.to), `${c} sent ${m.key} to client ${m.to}`);
      }
      const atServer = received.get(SERVER)!;
      // from a client player, SERVER gets replies: an acknowledgement, no value
      for (const m of atServer.filter((x) => isExec(x) && CLIENT_NAMES.includes(x.from))) {
        assert.ok(isReply(m), `SERVER received ${m.key} from ${m.from}`);
        for (const { header, blobs } of itemsOf(m)) {
          assert.equal(header['ok'], true);
          assert.equal(blobs.length, 0, `${m.from}'s reply carries a value`);
        }
      }
      const roleMsgs = atServer.filter((x) => !isExec(x));
      const fromClients = roleMsgs.filter((x) => CLIENT_NAMES.includes(x.from));
      for (const m of roleMsgs.filter((x) => !fromClients.includes(x))) assert.ok(run.aggregators.includes(m.from), `SERVER received ${m.key} from ${m.from}, not an aggregator`);
      if (proto.serverRelays) {
        // the SERVER only routes: one box from each client per aggregation, each forwarded unchanged to the aggregator (sealed to it, useless to SERVER)
        assert.deepEqual(fromClients.map((m) => m.from).sort(), [...CLIENT_NAMES, ...CLIENT_NAMES].sort(), 'SERVER receives one box from each client per aggregation');
        const forwarded = new Set(sent.get(SERVER)!.filter((m) => m.to === run.aggregators[0]).map((m) => m.sha256));
        for (const m of fromClients) assert.ok(forwarded.has(m.sha256), `SERVER did not forward ${m.from}'s box unchanged`);
      } else {
        assert.deepEqual(fromClients, [], 'SERVER received a message from a client');
      }
      if (proto.name === 'insecure-reference') {
        // the one aggregator sends SERVER each aggregate once: the sum (target SERVER), and the mean (placed at AGGREGATORS, but
        // its first use is its transfer to SERVER: the remote context defers it and runs it with target SERVER, no 'transfer')
        assert.deepEqual(ran.map((p) => p.target), ['SERVER', 'SERVER'], 'the mean moved to SERVER was not run to SERVER directly');
        const heard = roleMsgs.map((m) => [m.from, ran.findIndex((p) => m.key.startsWith(`${p.invocationId}/`))]);
        assert.deepEqual(heard.sort(), [[run.aggregators[0], 0], [run.aggregators[0], 1]], 'reference: the SERVER party hears from its one aggregator only, once per aggregate');
      }
      // every message was received by the party it was sent to, byte for byte (sha256), and nothing else arrived
      const allSent = [...sent.values()].flat();
      const allReceived = [...received.values()].flat();
      assert.deepEqual(allReceived.map(messageId).sort(), allSent.map(messageId).sort(), 'sent and received messages differ');
      // the protocol ran over the network: role messages, not only commands and replies
      assert.ok(allSent.some((m) => !isExec(m)), 'no role message was sent');

      // 3. no party received another party's input bytes in the clear, except the reference's aggregator
      const secrets = CLIENT_NAMES.map((c) => ({ owner: c, parts: secretsOf(inputs.get(c)!) }));
      let seenInClear = 0;
      for (const [party, msgs] of received) {
        for (const m of msgs) {
          const p = payload(m);
          for (const s of secrets) {
            if (s.owner === party) continue;
            for (const part of s.parts) {
              if (!contains(p, part)) continue;
              assert.ok(!roles().secure && run.aggregators[0] === party && !isExec(m), `${party} received ${s.owner}'s input in the clear (${m.key} from ${m.from})`);
              seenInClear++;
            }
          }
        }
      }
      // the scan finds what is there: the reference's aggregator does hold every client's leaves and weight
      if (!roles().secure) assert.equal(seenInClear, secrets.reduce((a, s) => a + s.parts.length, 0));
      t.diagnostic(`session ${run.session}: ${allSent.length} messages (${allSent.filter(isExec).length} commands, replies, aborts), ${allSent.reduce((a, m) => a + m.bytes, 0)} bytes`);
    });

    test(`${proto.name}: a client whose policy says minContributors 5 refuses a 3-client plan at 'aggregate'; the driver's PolicyError names it and the rule; the others stop at the session's abort`, async () => {
      const clients = [STRICT, CLIENT_NAMES[1]!, CLIENT_NAMES[2]!];
      const run = await runCase(k, secureSum, argsOf(secureSum), clients, inputsFor(clients));
      const err = assertRefused(run, STRICT, 'minContributors');
      assert.match(err.message, new RegExp(`^${STRICT}: policy "minContributors" refuses: 3 distinct contributors.*minimum of 5`));
    });

    test(`${proto.name}: a client without the insecure opt-in refuses an insecure protocol (sending nothing) and takes part in a secure one`, async () => {
      const clients = [NO_OPT_IN, CLIENT_NAMES[1]!, CLIENT_NAMES[2]!];
      const inputs = inputsFor(clients);
      if (roles().secure) {
        const run = await runCase(k, secureSum, argsOf(secureSum), clients, inputs);
        assert.equal(run.error, undefined, logsOf(run));
        assert.deepStrictEqual(run.result, await inProcess(k, secureSum, clients.map((c) => inputs.get(c)!)));
        assert.deepEqual(run.reports.get(NO_OPT_IN)!.log, []);
        return;
      }
      // every party of the insecure reference must opt in (this one has not): it refuses, sends nothing, the aggregator gives up
      assertRefused(await runCase(k, secureSum, argsOf(secureSum), clients, inputs), NO_OPT_IN, 'protocol');

      // the driver (SERVER) without the opt-in refuses before the plan leaves it: no 'aggregate' command, no role message
      const run = await runCase(k, secureSum, argsOf(secureSum), CLIENT_NAMES, inputsFor(CLIENT_NAMES), { minContributors: 1, allowInsecure: false });
      assert.ok(run.error instanceof PolicyError && run.error.rule === 'protocol' && run.error.party === SERVER, String(run.error));
      assert.deepEqual(run.serverRoles, [], "the refusing driver's role ran");
      const ops = run.driver.sent.filter((m) => !isAbort(m)).flatMap((m) => (isExec(m) ? itemsOf(m).map((f) => f.header['op']) : [`role message ${m.key}`]));
      assert.deepEqual([...new Set(ops)], ['data'], 'the refusing driver sent more than its data commands');
      for (const r of run.reports.values()) {
        assert.equal(r.endedBy, 'abort');
        assert.ok(r.sent.every(isReply), `${r.party} sent a role message`);
      }
    });
  }
});
