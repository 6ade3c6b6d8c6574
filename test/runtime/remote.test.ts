/**
 * The remote execution context over players simulated on one MemoryHub (each
 * with its own transport, as separate processes would be): the same
 * computations give the same values as localContext, client data comes from
 * each player's own source, and a player refuses what its policy refuses.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  AGGREGATORS, CLIENTS, SERVER, federated, federatedBroadcast, federatedComputation, federatedMap, federatedMean, federatedSecureSum, federatedSum,
  federatedTransfer, federatedZip, federatedReduce, localComputation, registerLocalComputation, struct, tensor, withContext, PolicyError,
} from '../../src/core/index.js';
import { localContext, temperatureComputations, secureSumComputation } from '../../src/runtime/index.js';
import { clientData, remoteExecutionContext, RemoteCommandError, type RemotePlayer } from '../../src/runtime/remote/context.js';
import { servePlayerExecutor, type DataSource } from '../../src/runtime/remote/player.js';
import { insecureReferenceAggregation, referenceRoles } from '../../src/aggregation/reference.js';
import type { AggregationRoles, RolePolicy } from '../../src/aggregation/roles.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { HostingTransport } from '../../src/transport/hosting.js';
import type { ReceivedMessage } from '../../src/aggregation/simulate.js';
import { unframe, unframeBatch } from '../../src/runtime/remote/wire.js';

const OPT_IN: RolePolicy = { minContributors: 1, allowInsecure: true };
const F32 = tensor('float32');

// every client's private data: the driver never sees these tables
const TEMPS: Record<string, number> = { 'owner0:0': 68.5, 'owner0:1': 70, 'owner1:0': 69.5, 'owner1:1': 71.25, 'owner2:0': 72 };
const VECS: Record<string, number[]> = { 'owner0:0': [0, 1], 'owner0:1': [1, 2], 'owner1:0': [2, 3], 'owner1:1': [3, 4], 'owner2:0': [4, 5] };
const data: DataSource = (source, c) => {
  if (source === 'temps') return TEMPS[c.name];
  if (source === 'vecs') return VECS[c.name];
  if (source === 'pairs') return { x: Float32Array.from([TEMPS[c.name]!, -TEMPS[c.name]!]), n: c.index + 1 };
  throw new RangeError(`no data source '${source}'`);
};

interface Deployment {
  hub: MemoryHub;
  ctx: ReturnType<typeof remoteExecutionContext>;
  received: ReceivedMessage[];
  served: Promise<unknown>[];
}

let sessions = 0;
/** A driver and its players, each on its own transport of one hub (parties hosted per player). */
function deploy(roles: AggregationRoles, policyOf: (player: string) => RolePolicy = () => OPT_IN): Deployment {
  const hub = new MemoryHub();
  const session = `s${sessions++}`;
  const received: ReceivedMessage[] = [];
  const owners: RemotePlayer[] = [
    { name: 'owner0', clients: ['owner0:0', 'owner0:1'] },
    { name: 'owner1', clients: ['owner1:0', 'owner1:1'] },
    { name: 'owner2', clients: ['owner2:0'] },
  ];
  const players: RemotePlayer[] = [...owners, ...roles.aggregatorNames.map((name) => ({ name, clients: [] }))];
  const transportOf = (p: string) => {
    const t = new HostingTransport(new MemoryTransport({ hub, local: [p] }));
    return new Proxy(t, {
      get(target, prop) {
        if (prop === 'receive') {
          return async (to: string, from: string, key: string, o?: object) => {
            const payload = await target.receive(to, from, key, o);
            received.push({ to, from, key, payload });
            return payload;
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  };
  const served = players.map((p) =>
    servePlayerExecutor(transportOf(p.name), { me: p.name, driver: 'model-owner', session, clients: p.clients, data, roles: [roles], policy: policyOf(p.name), timeoutMs: 20_000 }).catch((e: unknown) => e),
  );
  const ctx = remoteExecutionContext({ transport: transportOf('model-owner'), server: 'model-owner', session, players, roles, policy: OPT_IN, timeoutMs: 20_000 });
  hubs.push(hub);
  return { hub, ctx, received, served };
}
const hubs: MemoryHub[] = [];
// receives that a failure left waiting hold timers: the hubs are closed at the end
after(() => hubs.forEach((h) => h.close()));

const double = localComputation([F32], (x: number) => 2 * x, { name: 'double' });
registerLocalComputation('test-remote/double', double);
const mul = localComputation([F32, F32], (a: number, b: number) => a * b, { name: 'mul' });
const add = localComputation([F32, F32], (a: number, b: number) => a + b, { name: 'add' });
registerLocalComputation('test-remote/mul', mul);
const weightOf = localComputation([struct({ x: tensor('float32', [2]), n: tensor('int32') })], (p: { n: number }) => p.n, { name: 'weightOf', result: F32 });
registerLocalComputation('test-remote/weightOf', weightOf);
const xOf = localComputation([struct({ x: tensor('float32', [2]), n: tensor('int32') })], (p: { x: number[] }) => p.x, { name: 'xOf', result: tensor('float32', [2]) });
registerLocalComputation('test-remote/xOf', xOf);

describe('remoteExecutionContext over the insecure reference roles (operators opted in)', () => {
  const d = deploy(referenceRoles());
  after(() => d.ctx.close());

  it('the temperature example in its three forms (the long one collects in the clear: operators opted in) and the secure sum give the in-process values', async () => {
    const t = temperatureComputations();
    const readings = Object.values(TEMPS);
    const local = localContext({ aggregation: insecureReferenceAggregation({ warn: () => {} }) });
    for (const comp of [t.server, t.aggregatorsShort, t.aggregatorsLong]) {
      const want = await withContext(local, () => comp(readings));
      const got = await withContext(d.ctx, () => comp(clientData('temps')));
      assert.equal(got, want, comp.computationName);
    }
    const s = secureSumComputation();
    const want = await withContext(local, () => s(Object.values(VECS)));
    assert.deepEqual(await withContext(d.ctx, () => s(clientData('vecs'))), want);
    assert.deepEqual(want, [10, 15]);
  });

  it('broadcast, map (registered), zip and a weighted mean with weights computed at the clients', async () => {
    const comp = federatedComputation([federated(F32, SERVER), federated(struct({ x: tensor('float32', [2]), n: tensor('int32') }), CLIENTS), federated(F32, CLIENTS)], (scale, pairs, temps) => {
      const doubled = federatedMap(double, temps);
      const scaled = federatedMap(mul, federatedZip([federatedBroadcast(scale), doubled]));
      const w = federatedMap(weightOf, pairs);
      const x = federatedMap(xOf, pairs);
      return [federatedMean(x, { weights: w }), federatedSum(scaled), federatedTransfer(federatedMean(doubled, { placement: AGGREGATORS }), { placement: SERVER })];
    });
    const got = (await withContext(d.ctx, () => comp(3, clientData('pairs'), clientData('temps')))) as [number[], number, number];
    // weights: client index within its player + 1 -> [1, 2, 1, 2, 1]
    const names = Object.keys(TEMPS);
    const w = [1, 2, 1, 2, 1];
    const W = w.reduce((a, b) => a + b, 0);
    const mx = names.reduce((a, n, i) => a + w[i]! * Math.fround(TEMPS[n]!), 0) / W;
    assert.ok(Math.abs(got[0][0]! - mx) < 1e-4 && Math.abs(got[0][1]! + mx) < 1e-4, JSON.stringify(got[0]));
    const sum2 = names.reduce((a, n) => a + 2 * TEMPS[n]!, 0);
    assert.ok(Math.abs(got[1] - 3 * sum2) < 1e-3, String(got[1]));
    assert.ok(Math.abs(got[2] - sum2 / 5) < 1e-3, String(got[2]));
  });

  it('no client value ever reaches the driver: it receives only replies and the aggregate', () => {
    const atDriver = d.received.filter((m) => m.to === 'model-owner');
    assert.ok(atDriver.length > 0);
    for (const m of atDriver) {
      assert.ok(m.key.endsWith('/reply') || m.from === 'aggregator', `driver got ${m.key} from ${m.from}`);
      // a reply (or each of a batch of replies) carries no client value: no blob, a short header (transfer replies come from the aggregator only)
      if (m.from !== 'aggregator') {
        const f = unframe(m.payload, 'reply');
        for (const r of f.header['op'] === 'batch' ? unframeBatch(f, 'replies') : [f]) {
          assert.equal(r.blobs.length, 0, `reply of ${m.from} carries a blob`);
          assert.ok(JSON.stringify(r.header).length < 400, `reply of ${m.from}: ${JSON.stringify(r.header).slice(0, 100)}`);
        }
      }
    }
    // clients receive nothing but commands from the driver
    assert.ok(d.received.filter((m) => m.to.includes(':')).length === 0);
  });

  it('every value a player holds for a call is dropped when the call ends (a session of many rounds does not grow)', async () => {
    const s = secureSumComputation();
    for (let round = 0; round < 3; round++) assert.deepEqual(await withContext(d.ctx, () => s(clientData('vecs'))), [10, 15]);
    // (the last call's dispose is pipelined: closing waits for every player's replies, in order)
    await d.ctx.close();
    // each player: the values the driver asked it to hold (commands with 'out'), and those it was told to drop
    // (commands come alone or in batches)
    const commands = d.received
      .filter((m) => m.from === 'model-owner' && /^exec\/s\d+\/\d+$/.test(m.key))
      .flatMap((m) => {
        const f = unframe(m.payload, 'command');
        return (f.header['op'] === 'batch' ? unframeBatch(f, 'commands') : [f]).map((c) => ({ to: m.to, h: c.header }));
      });
    const dropped = new Map<string, Set<number>>();
    for (const { to, h } of commands) if (h['op'] === 'dispose') for (const r of h['refs'] as number[]) (dropped.get(to) ?? dropped.set(to, new Set()).get(to)!).add(r);
    const held = commands.filter(({ h }) => typeof h['out'] === 'number' && h['op'] !== 'dispose');
    assert.ok(held.length > 0);
    for (const { to, h } of held) assert.ok(dropped.get(to)?.has(h['out'] as number), `${to} was told to drop value #${String(h['out'])} (${String(h['op'])})`);
  });
});

describe('what the remote context refuses', () => {
  // each failure ends its session (the players are told), so each case has its own deployment
  const t = temperatureComputations();
  it('client data is never an argument', async () => {
    await assert.rejects(withContext(deploy(referenceRoles()).ctx, () => t.server([1, 2, 3])), /client data never comes from the driver/);
  });
  it('a local computation not registered by name, and intrinsics the players do not run', async () => {
    const anon = localComputation([F32], (x: number) => x + 1);
    const comp = federatedComputation([federated(F32, CLIENTS)], (x) => federatedSum(federatedMap(anon, x)));
    await assert.rejects(withContext(deploy(referenceRoles()).ctx, () => comp(clientData('temps'))), /registered by name/);
    const reduce = federatedComputation([federated(F32, CLIENTS)], (x) => federatedReduce(x, 0, add));
    await assert.rejects(withContext(deploy(referenceRoles()).ctx, () => reduce(clientData('temps'))), /federated_reduce on values placed at the players is not supported/);
  });
  it('an unknown data source fails at the players, named, with no detail leaked; the session is then over', async () => {
    const d = deploy(referenceRoles());
    await assert.rejects(withContext(d.ctx, () => t.server(clientData('nope'))), (e: unknown) => e instanceof RemoteCommandError && /owner0/.test(e.message) && !/no data source/.test(e.message));
    await assert.rejects(withContext(d.ctx, () => t.server(clientData('temps'))), /session failed earlier/);
    // every player stopped serving the session
    const ends = await Promise.all(d.served);
    assert.ok(ends.every((x) => x === undefined), String(ends));
  });
});

describe('each player defends itself in the remote context', () => {
  it('a data owner without the insecure opt-in refuses the reference protocol; the driver names it and the rule', async () => {
    const d = deploy(referenceRoles(), (p) => (p === 'owner1' ? { minContributors: 1, allowInsecure: false } : OPT_IN));
    const t = temperatureComputations();
    await assert.rejects(
      withContext(d.ctx, () => t.server(clientData('temps'))),
      (e: unknown) => e instanceof PolicyError && e.rule === 'protocol' && /^owner1:\d/.test(e.party ?? ''),
    );
    // owner1's clients sent nothing to the aggregator
    assert.ok(!d.received.some((m) => m.to === 'aggregator' && m.from.startsWith('owner1')));
  });

  it('a data owner requiring more contributors than the roster refuses', async () => {
    const d = deploy(referenceRoles(), (p) => (p === 'owner2' ? { minContributors: 6, allowInsecure: true } : OPT_IN));
    await assert.rejects(withContext(d.ctx, () => secureSumComputation()(clientData('vecs'))), (e: unknown) => e instanceof PolicyError && e.rule === 'minContributors' && e.party === 'owner2:0');
    assert.ok(!d.received.some((m) => m.from === 'owner2:0'));
  });
});

describe('federatedCollect in a remote context', () => {
  it("a client whose operator did not opt in refuses to hand its value to the aggregators in the clear", async () => {
    const d = deploy(referenceRoles(), (p) => (p === 'owner0' ? { minContributors: 1, allowInsecure: false } : OPT_IN));
    await assert.rejects(withContext(d.ctx, () => temperatureComputations().aggregatorsLong(clientData('temps'))), (e: unknown) => e instanceof PolicyError && e.rule === 'protocol' && e.party === 'owner0');
    // nothing of owner0's clients reached the aggregator
    assert.ok(!d.received.some((m) => m.to === 'aggregator' && m.from.startsWith('owner0')));
  });
});
