/**
 * The role interface itself: plans (what every party agrees on, and what it
 * accepts from the network), the checks every role runs first, the party
 * transport view, and the simulation, over the insecure reference's roles.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TensorType } from '../../src/core/types.js';
import { PolicyError } from '../../src/core/errors.js';
import { checkPlan, planFromBytes, planToBytes, type AggregationPlan } from '../../src/aggregation/plan.js';
import { referenceAggregate, referenceRoles } from '../../src/aggregation/reference.js';
import { enforcePlan, type PartyContext, type RolePolicy } from '../../src/aggregation/roles.js';
import { simulateRoles, type ReceivedMessage } from '../../src/aggregation/simulate.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { partyTransport } from '../../src/transport/view.js';
import { TransportError } from '../../src/transport/errors.js';
import { leavesFromBytes, leavesToBytes, resultFromBytes, resultToBytes } from '../../src/aggregation/wire.js';

const leaf = (path: string, dtype: 'float32' | 'int32' | 'int64' | 'float64', shape: number[]) => {
  const type = new TensorType(dtype, shape);
  return { path, type, size: type.size! };
};

function plan(over: Partial<AggregationPlan> = {}): AggregationPlan {
  return checkPlan({
    protocol: 'insecure-reference',
    invocationId: 'inv/1',
    uri: 'federated_weighted_mean_at_aggregators',
    target: 'AGGREGATORS',
    leaves: [leaf('.a', 'float32', [2, 3]), leaf('.b', 'int32', [4])],
    clients: ['client-0', 'client-1', 'client-2'],
    aggregators: ['aggregator'],
    server: 'server',
    params: {},
    ...over,
  });
}

const OPEN: RolePolicy = { minContributors: 1, allowInsecure: true };
const rand = (n: number) => Float32Array.from({ length: n }, () => Math.fround(Math.random() * 200 - 100));
const ints = (n: number) => Int32Array.from({ length: n }, () => Math.floor(Math.random() * 2000) - 1000);

describe('aggregation plans', () => {
  it('round-trip through bytes, bound included', () => {
    for (const p of [plan(), plan({ uri: 'federated_secure_sum', target: 'SERVER', bound: 1n << 40n, leaves: [leaf('', 'int64', [7])] })]) {
      const q = planFromBytes(planToBytes(p));
      assert.deepEqual({ ...q, leaves: q.leaves.map((l) => [l.path, l.type.dtype, l.type.shape, l.size]) }, { ...p, leaves: p.leaves.map((l) => [l.path, l.type.dtype, l.type.shape, l.size]) });
    }
  });

  it('a party refuses malformed plans from the network before any role sees them', () => {
    const good = JSON.parse(new TextDecoder().decode(planToBytes(plan()))) as Record<string, unknown>;
    const bad: [string, Record<string, unknown>][] = [
      ['unknown field', { ...good, evil: 1 }],
      ['version', { ...good, v: 2 }],
      ['uri', { ...good, uri: 'federated_collect' }],
      ['target mismatch', { ...good, uri: 'federated_secure_sum', bound: '8', target: 'AGGREGATORS' }],
      ['no clients', { ...good, clients: [] }],
      ['party twice', { ...good, clients: ['client-0', 'client-0', 'client-1'] }],
      ['server is a client', { ...good, server: 'client-0' }],
      ['bad name', { ...good, clients: ['client-0', '../etc', 'c'] }],
      ['unknown shape', { ...good, leaves: [{ path: '', dtype: 'float32', shape: [-1] }] }],
      ['empty leaf', { ...good, leaves: [{ path: '', dtype: 'float32', shape: [0] }] }],
      ['bad dtype', { ...good, leaves: [{ path: '', dtype: 'string', shape: [1] }] }],
      ['bound on a mean', { ...good, bound: '7' }],
      ['param object', { ...good, params: { precision: { toString: 1 } } }],
      ['invocation id', { ...good, invocationId: 'a b' }],
    ];
    for (const [what, j] of bad) {
      assert.throws(() => planFromBytes(new TextEncoder().encode(JSON.stringify(j))), RangeError, what);
    }
    assert.throws(() => planFromBytes(new TextEncoder().encode('{"v":1')), RangeError);
    assert.throws(() => planFromBytes(new Uint8Array([0xff, 0xfe])), RangeError);
    // a secure sum needs its bound
    const ss = { ...good, uri: 'federated_secure_sum', target: 'SERVER' };
    assert.throws(() => planFromBytes(new TextEncoder().encode(JSON.stringify(ss))), /bound/);
  });
});

describe('enforcePlan: what every role checks first', () => {
  const roles = referenceRoles();
  const ctx = (me: string, policy: RolePolicy = OPEN): PartyContext => ({ me, transport: new MemoryTransport({ local: [me] }), policy });

  it('refuses an insecure protocol without the opt-in, a foreign protocol, too few clients, a role it is not named in', () => {
    const p = plan();
    const rule = (f: () => void, r: string, party: string) =>
      assert.throws(f, (e: unknown) => e instanceof PolicyError && e.rule === r && e.party === party && e.message.startsWith(`${party}: policy "${r}"`));
    rule(() => enforcePlan(roles, ctx('client-0', { minContributors: 1, allowInsecure: false }), p, 'client'), 'protocol', 'client-0');
    rule(() => enforcePlan(roles, ctx('client-1'), { ...p, protocol: 'mpc-aby3' }, 'client'), 'protocol', 'client-1');
    rule(() => enforcePlan(roles, ctx('client-1'), { ...p, params: { precision: 'low' } }, 'client'), 'protocol', 'client-1');
    rule(() => enforcePlan(roles, ctx('client-2', { minContributors: 4, allowInsecure: true }), p, 'client'), 'minContributors', 'client-2');
    rule(() => enforcePlan(roles, ctx('client-9'), p, 'client'), 'roster', 'client-9');
    rule(() => enforcePlan(roles, ctx('client-0'), p, 'aggregator', 0), 'roster', 'client-0');
    rule(() => enforcePlan(roles, ctx('aggregator'), p, 'server'), 'roster', 'aggregator');
    rule(() => enforcePlan(roles, ctx('aggregator'), { ...p, aggregators: ['aggregator', 'x'] }, 'aggregator', 0), 'roster', 'aggregator');
    for (const [me, role, i] of [['client-1', 'client', undefined], ['aggregator', 'aggregator', 0], ['server', 'server', undefined]] as const) {
      assert.doesNotThrow(() => enforcePlan(roles, ctx(me), p, role, i));
    }
  });
});

describe('the party transport view', () => {
  it('sends only as its party and receives only for it', async () => {
    const hub = new MemoryHub();
    const both = new MemoryTransport({ hub, local: ['a', 'b'] });
    const a = partyTransport(both, 'a');
    assert.equal(a.isLocal('a'), true);
    assert.equal(a.isLocal('b'), false);
    await assert.rejects(a.send('b', 'a', 'k', new Uint8Array(1)), TransportError);
    await assert.rejects(a.receive('b', 'a', 'k'), TransportError);
    await a.send('a', 'b', 'k', new Uint8Array([7]));
    assert.deepEqual([...(await both.receive('b', 'a', 'k'))], [7]);
    assert.throws(() => partyTransport(both, 'c'), TransportError);
  });
});

describe('wire encodings', () => {
  it('leaves and aggregates round-trip; lengths are checked', () => {
    const p = plan();
    const v = [rand(6), ints(4)];
    const back = leavesFromBytes(p, leavesToBytes(p, v), 'x');
    assert.deepEqual(back, v);
    assert.throws(() => leavesFromBytes(p, new Uint8Array(3), 'x'), RangeError);
    assert.throws(() => leavesToBytes(p, [ints(6), ints(4)]), RangeError);
    const r = { leaves: [Float64Array.from([1.5, -2, 3, 4, 5, 6]), [1n << 100n, -(1n << 90n), 3n, -4n]] };
    const q = resultFromBytes(p, resultToBytes(p, r), 'r');
    assert.deepEqual(q, r);
    const bytes = resultToBytes(p, r);
    assert.throws(() => resultFromBytes(p, bytes.subarray(0, bytes.length - 1), 'r'), RangeError);
    assert.throws(() => resultFromBytes(p, new Uint8Array([...bytes, 0]), 'r'), RangeError);
  });
});

describe('the insecure reference as roles', () => {
  it('every uri equals the reference arithmetic, and each client input reaches only the aggregator', async () => {
    const roles = referenceRoles();
    for (const [uri, target] of [
      ['federated_secure_sum', 'SERVER'],
      ['federated_sum_at_aggregators', 'AGGREGATORS'],
      ['federated_mean_at_aggregators', 'AGGREGATORS'],
      ['federated_weighted_mean_at_aggregators', 'AGGREGATORS'],
    ] as const) {
      const secure = uri === 'federated_secure_sum';
      const p = plan({ uri, target, ...(secure ? { bound: 1000n, leaves: [leaf('', 'int32', [5])] } : {}) });
      const values = p.clients.map(() => (secure ? [Int32Array.from({ length: 5 }, () => Math.floor(Math.random() * 1000))] : [rand(6), ints(4)]));
      const weights = p.clients.map(() => 1 + Math.floor(Math.random() * 50));
      const inputs = values.map((v, i) => (uri.includes('weighted') ? { values: v, weight: weights[i]! } : { values: v }));
      const seen: ReceivedMessage[] = [];
      const r = await simulateRoles(roles, p, inputs, { policy: OPEN, observe: (m) => seen.push(m) });
      const want = referenceAggregate({ uri, leaves: p.leaves, clientValues: values, numClients: 3, ...(uri.includes('weighted') ? { weights: Float64Array.from(weights) } : {}) });
      assert.deepEqual(r.result, want, uri);
      // clients receive nothing; the aggregator receives one message from each client; SERVER only from the aggregator
      assert.ok(seen.every((m) => !p.clients.includes(m.to)), 'a client received a message');
      assert.deepEqual(seen.filter((m) => m.to === 'aggregator').map((m) => m.from).sort(), [...p.clients].sort());
      assert.ok(seen.filter((m) => m.to === 'server').every((m) => m.from === 'aggregator'));
      assert.equal(seen.some((m) => m.to === 'server'), target === 'SERVER');
    }
  });

  it('a client without the opt-in refuses and sends nothing; the run fails with its PolicyError', async () => {
    const roles = referenceRoles();
    const p = plan({ uri: 'federated_sum_at_aggregators' });
    const seen: ReceivedMessage[] = [];
    const sent: string[] = [];
    await assert.rejects(
      simulateRoles(roles, p, p.clients.map(() => ({ values: [rand(6), ints(4)] })), {
        policyOf: (me) => (me === 'client-1' ? { minContributors: 1, allowInsecure: false } : OPEN),
        observe: (m) => (seen.push(m), sent.push(m.from)),
        timeoutMs: 60_000,
      }),
      (e: unknown) => e instanceof PolicyError && e.rule === 'protocol' && e.party === 'client-1',
    );
    assert.ok(!sent.includes('client-1'), 'the refusing client sent a value');
  });

  it('a client whose input does not match the plan fails before sending', async () => {
    const roles = referenceRoles();
    const p = plan({ uri: 'federated_sum_at_aggregators' });
    const inputs = p.clients.map((_, i) => ({ values: i === 2 ? [rand(5), ints(4)] : [rand(6), ints(4)] }));
    await assert.rejects(simulateRoles(roles, p, inputs, { policy: OPEN }), /client-2: leaf 0/);
    await assert.rejects(simulateRoles(roles, plan(), p.clients.map(() => ({ values: [rand(6), ints(4)] })), { policy: OPEN }), /weight expected/);
  });
});

describe('checkClientInput: what only the client can check', () => {
  it('refuses secure-sum values outside [0, bound) and NaN in a mean, naming the client and the element', async () => {
    const { checkClientInput } = await import('../../src/aggregation/roles.js');
    const ss = plan({ uri: 'federated_secure_sum', target: 'SERVER', bound: 16n, leaves: [leaf('', 'int32', [3])] });
    assert.doesNotThrow(() => checkClientInput('client-0', ss, { values: [Int32Array.from([0, 15, 7])] }));
    assert.throws(() => checkClientInput('client-0', ss, { values: [Int32Array.from([0, 16, 7])] }), /client-0: leaf 0 \(value\): element 1 = 16 outside \[0, 16\)/);
    assert.throws(() => checkClientInput('client-0', ss, { values: [Int32Array.from([-1, 1, 7])] }), /element 0 = -1/);
    const ss64 = plan({ uri: 'federated_secure_sum', target: 'SERVER', bound: 1n << 40n, leaves: [leaf('', 'int64', [2])] });
    assert.throws(() => checkClientInput('c', ss64, { values: [BigInt64Array.from([1n, 1n << 40n])] }), /element 1/);
    const m = plan({ uri: 'federated_mean_at_aggregators' });
    assert.throws(() => checkClientInput('client-2', m, { values: [Float32Array.from([1, 2, 3, NaN, 5, 6]), ints(4)] }), /client-2: leaf 0 \(\.a\): element 3 is NaN/);
    assert.throws(() => checkClientInput('client-2', m, { values: [rand(6), ints(4)], weight: 2 }), /only taken by a weighted mean/);
    const w = plan();
    for (const weight of [-1, Infinity, NaN, undefined]) assert.throws(() => checkClientInput('client-1', w, { values: [rand(6), ints(4)], ...(weight === undefined ? {} : { weight }) }), /weight expected/);
  });
});
