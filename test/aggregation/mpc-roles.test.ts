/**
 * The MPC aggregation as per-party roles (src/aggregation/mpc-roles.ts), each
 * party on its own transport view (simulateRoles): results against the
 * reference semantics, what each party receives, and each party's own
 * refusals (before it sends a byte).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { tensor, type DType } from '../../src/core/types.js';
import type { NumericArray } from '../../src/core/values.js';
import { PolicyError } from '../../src/core/errors.js';
import { mpcInstanceId, mpcRoles, type MpcProtocolName } from '../../src/aggregation/mpc-roles.js';
import { checkPlan, type AggregationPlan } from '../../src/aggregation/plan.js';
import { AGGREGATION_URIS, type AggregateLeafValue, type AggregationResult, type AggregationUri } from '../../src/aggregation/protocol.js';
import { referenceAggregate } from '../../src/aggregation/reference.js';
import type { AggregationRoles, ClientInput, RolePolicy } from '../../src/aggregation/roles.js';
import { simulateRoles, type ReceivedMessage } from '../../src/aggregation/simulate.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';

const OPEN: RolePolicy = Object.freeze({ minContributors: 1, allowInsecure: false });
const U = { low: 2 ** -16, high: 2 ** -32 } as const;
const E = { low: 8, high: 16 } as const;
let invocation = 0;

function makePlan(roles: AggregationRoles, uri: AggregationUri, leaves: { dtype: DType; size: number }[], n: number, extra: Partial<AggregationPlan> = {}): AggregationPlan {
  return checkPlan({
    protocol: roles.name,
    invocationId: `roles/${++invocation}`,
    uri,
    target: uri.endsWith('_at_aggregators') ? 'AGGREGATORS' : 'SERVER',
    leaves: leaves.map((l, j) => ({ path: leaves.length === 1 ? '' : `[${j}]`, type: tensor(l.dtype, [l.size]), size: l.size })),
    clients: Array.from({ length: n }, (_, i) => `client-${i}`),
    aggregators: roles.aggregatorNames,
    server: 'server',
    params: roles.params,
    ...extra,
  });
}

/** A small deterministic generator (the cases come from fast-check's seed). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const secureSum = (uri: AggregationUri) => uri === 'federated_secure_sum' || uri === 'federated_secure_sum_at_aggregators';
const integer = (d: DType) => d === 'int32' || d === 'uint32' || d === 'int64';

/**
 * One client's leaf: secure sums in [0, bound); integer sums full range; means: ints within 2^40, floats within 100.
 * `small` (means scaled by the servers at 'low': the truncation needs |sum| < 2^31 and fails with probability
 * about |sum| 2^-30 per element): ints within 100, floats within 1.
 */
function leafValues(r: () => number, uri: AggregationUri, dtype: DType, size: number, bound: bigint | undefined, small: boolean): NumericArray {
  if (small && uri === 'federated_mean_at_aggregators') {
    const v = () => Math.round((r() * 2 - 1) * 100);
    if (dtype === 'int64') return BigInt64Array.from({ length: size }, () => BigInt(v()));
    if (dtype === 'int32') return Int32Array.from({ length: size }, v);
    return dtype === 'float32' ? Float32Array.from({ length: size }, () => r() * 2 - 1) : Float64Array.from({ length: size }, () => r() * 2 - 1);
  }
  const big = (bits: number) => BigInt(Math.floor(r() * 2 ** 31)) * 2n ** BigInt(bits - 31) + BigInt(Math.floor(r() * 2 ** 31));
  switch (dtype) {
    case 'int32':
      return Int32Array.from({ length: size }, () => (bound !== undefined ? Math.floor(r() * Math.min(Number(bound), 2 ** 31)) : Math.floor(r() * 2 ** 32) - 2 ** 31));
    case 'uint32':
      return Uint32Array.from({ length: size }, () => Math.floor(r() * (bound !== undefined ? Math.min(Number(bound), 2 ** 32) : 2 ** 32)));
    case 'int64':
      return BigInt64Array.from({ length: size }, () => (bound !== undefined ? big(62) % bound : uri === 'federated_sum_at_aggregators' ? BigInt.asIntN(64, big(63) * 2n + 1n) : big(40) - (1n << 39n)));
    case 'float32':
      return Float32Array.from({ length: size }, () => (r() * 2 - 1) * 100);
    default:
      return Float64Array.from({ length: size }, () => (r() * 2 - 1) * 100);
  }
}

interface Case { uri: AggregationUri; n: number; leaves: { dtype: DType; size: number }[]; bound?: bigint; inputs: ClientInput[]; weights?: Float64Array }

function caseFor(uri: AggregationUri, seed: number, small = false): Case {
  const r = rng(seed);
  const n = 1 + Math.floor(r() * 5);
  const dtypes: DType[] = secureSum(uri) ? ['int32', 'uint32', 'int64'] : ['int32', 'int64', 'float32', 'float64'];
  const leaves = Array.from({ length: 1 + Math.floor(r() * 2) }, () => ({ dtype: dtypes[Math.floor(r() * dtypes.length)]!, size: 1 + Math.floor(r() * 5) }));
  const maxBits = Math.min(...leaves.map((l) => (l.dtype === 'int32' ? 31 : l.dtype === 'uint32' ? 32 : 62)));
  const bound = secureSum(uri) ? 1n << BigInt(1 + Math.floor(r() * maxBits)) : undefined;
  const weighted = uri === 'federated_weighted_mean_at_aggregators';
  // weights: the first at least 1 (W >= 1), others sometimes 0
  const weights = weighted ? Float64Array.from({ length: n }, (_, i) => (i === 0 ? 1 + r() * 10 : r() < 0.25 ? 0 : r() * 10)) : undefined;
  const inputs = Array.from({ length: n }, (_, i) => ({
    values: leaves.map((l) => leafValues(r, uri, l.dtype, l.size, bound, small)),
    ...(weights ? { weight: weights[i]! } : {}),
  }));
  return { uri, n, leaves, ...(bound !== undefined ? { bound } : {}), inputs, ...(weights ? { weights } : {}) };
}

/** The documented bound (mpc-roles.ts, docs/encrypted.md) of one float element, plus float64 rounding of the encodings. */
function bound(c: Case, precision: 'low' | 'high', scaling: 'owners' | 'servers', want: number, maxAbs: number): number {
  const u = U[precision];
  const n = c.n;
  const rounding = maxAbs * 2 ** -48;
  switch (c.uri) {
    case 'federated_weighted_mean_at_aggregators': {
      const W = c.weights!.reduce((a, b) => a + b, 0);
      return (n * u / 2) * (1 + Math.abs(want)) / (W - n * u / 2) + rounding;
    }
    case 'federated_mean_at_aggregators':
      return (scaling === 'owners' ? n * u / 2 : n * u / 2 / n + Math.abs(want) * u / 2 + u) + rounding;
    default:
      return n * u / 2 + rounding;
  }
}

function checkAgainstReference(c: Case, got: AggregationResult, precision: 'low' | 'high', scaling: 'owners' | 'servers'): void {
  const leaves = c.leaves.map((l, j) => ({ path: '', type: tensor(l.dtype, [l.size]), size: l.size, j }));
  const clientValues = c.inputs.map((x) => x.values);
  const want = referenceAggregate({ uri: c.uri, leaves, clientValues, numClients: c.n, ...(c.weights ? { weights: c.weights } : {}) });
  assert.equal(got.leaves.length, want.leaves.length);
  c.leaves.forEach((l, j) => {
    const g = got.leaves[j]!;
    const w = want.leaves[j]!;
    if (secureSum(c.uri) || (c.uri === 'federated_sum_at_aggregators' && integer(l.dtype))) {
      const big = (x: AggregateLeafValue) => Array.from(x as ArrayLike<bigint | number>, (v) => BigInt(v));
      assert.deepEqual(big(g), big(w), `${c.uri} leaf ${j} (${l.dtype}) is exact`);
      return;
    }
    assert.ok(g instanceof Float64Array, `${c.uri} leaf ${j}: a Float64Array`);
    for (let i = 0; i < l.size; i++) {
      const maxAbs = Math.max(...clientValues.map((v) => Math.abs(Number(v[j]![i]!))));
      const b = bound(c, precision, scaling, Number(w[i]), maxAbs);
      assert.ok(Math.abs(g[i]! - Number(w[i])) <= b, `${c.uri} leaf ${j} element ${i}: got ${g[i]}, want ${w[i]}, bound ${b}`);
    }
  });
}

describe('mpcRoles: every party on its own transport view agrees with the reference', () => {
  const configs = [
    ['aby3', 'low', 'owners'], ['aby3', 'high', 'owners'], ['aby3', 'low', 'servers'], ['aby3', 'high', 'servers'],
    ['pond', 'low', 'owners'], ['pond', 'high', 'owners'], ['pond', 'low', 'servers'], ['pond', 'high', 'servers'],
  ] as const;
  for (const [protocol, precision, meanScaling] of configs) {
    const small = meanScaling === 'servers' && precision === 'low';
    for (const uri of AGGREGATION_URIS) {
      it(`${protocol} (${precision}, meanScaling ${meanScaling}): ${uri}, random inputs (exact for integer sums, else within the documented bound)`, async () => {
        const roles = mpcRoles({ protocol, precision, meanScaling });
        await fc.assert(fc.asyncProperty(fc.integer(), async (seed) => {
          const c = caseFor(uri, seed, small);
          const plan = makePlan(roles, uri, c.leaves, c.n, c.bound !== undefined ? { bound: c.bound } : {});
          const r = await simulateRoles(roles, plan, c.inputs, { policy: OPEN });
          checkAgainstReference(c, r.result, precision, meanScaling);
          if (plan.target === 'AGGREGATORS') {
            assert.equal(r.atAggregators?.length, 3);
            for (const other of r.atAggregators!) assert.deepEqual(other, r.result, 'every aggregator party gets the same aggregate');
          }
        }), { numRuns: 5 });
      });
    }
  }

  it('the weights are private, so a mean dominated by one client is computed, not refused; weights that open as 0 are a RangeError at the receiver', async () => {
    const roles = mpcRoles();
    const plan = makePlan(roles, 'federated_weighted_mean_at_aggregators', [{ dtype: 'float32', size: 2 }], 3);
    const vals = [Float32Array.of(1, 2), Float32Array.of(3, 4), Float32Array.of(5, 6)];
    const r = await simulateRoles(roles, plan, vals.map((v, i) => ({ values: [v], weight: [0, 7, 0][i]! })), { policy: OPEN });
    assert.deepEqual(Array.from(r.result.leaves[0]!, Number), [3, 4]);
    const tiny = makePlan(roles, 'federated_weighted_mean_at_aggregators', [{ dtype: 'float32', size: 2 }], 3);
    await assert.rejects(simulateRoles(roles, tiny, vals.map((v) => ({ values: [v], weight: 2 ** -20 })), { policy: OPEN }), (e: unknown) => e instanceof RangeError && /weights .* sum to 0/.test((e as Error).message));
  });
});

describe('mpcRoles: what each party receives', () => {
  for (const protocol of ['aby3', 'pond'] as const) {
    const roles = mpcRoles({ protocol });
    const servers = protocol === 'aby3' ? ['server0', 'server1', 'server2'] : ['server0', 'server1'];
    const shareKeys = protocol === 'aby3' ? /\/(seeds01|seed1|seed0|x2)$/ : /\/(seed|masked)$/;

    for (const uri of ['federated_secure_sum', 'federated_mean_at_aggregators', 'federated_weighted_mean_at_aggregators'] as const) {
      it(`${protocol}, ${uri}: clients receive nothing; aggregators receive from a client only its own share messages; the server only openings from aggregators`, async () => {
        const n = 32;
        const dtype = uri === 'federated_secure_sum' ? 'int32' : 'float32';
        const plan = makePlan(roles, uri, [{ dtype, size: n }, { dtype, size: 3 }], 3, uri === 'federated_secure_sum' ? { bound: 1n << 20n } : {});
        const inputs = [0, 1, 2].map((c) => ({
          values: plan.leaves.map((l) => (dtype === 'int32' ? Int32Array.from({ length: l.size }, (_, i) => c * 1000 + i) : Float32Array.from({ length: l.size }, (_, i) => c + i / 4))),
          ...(uri === 'federated_weighted_mean_at_aggregators' ? { weight: 1 + c } : {}),
        }));
        const log: ReceivedMessage[] = [];
        await simulateRoles(roles, plan, inputs, { policy: OPEN, observe: (m) => log.push(m) });
        assert.ok(log.length > 0);
        for (const c of plan.clients) assert.ok(!log.some((m) => m.to === c), `${c} receives nothing`);
        // ABY3's exact secure sum to SERVER takes the fused path: each client sends server0 its seeds and server1
        // one component of its whole vector (both leaves); SERVER gets one sum from each; server2 takes no part
        if (protocol === 'aby3' && uri === 'federated_secure_sum') {
          const elements = plan.leaves.reduce((a, l) => a + l.size, 0);
          for (const c of plan.clients) {
            assert.deepEqual(log.filter((m) => m.from === c).map((m) => `${m.to}:${m.key.split('/').pop()}:${m.payload.length}`).sort(), ['server0:seeds01:32', `server1:x2:${elements * E.low}`]);
          }
          assert.ok(!log.some((m) => m.to === 'server2' || m.from === 'server2'), 'server2 takes no part');
          assert.deepEqual(log.filter((m) => m.to === 'server').map((m) => `${m.from}:${m.payload.length}`).sort(), [`server0:${elements * E.low}`, `server1:${elements * E.low}`]);
          assert.equal(log.length, 2 * plan.clients.length + 2);
          return;
        }
        const ids = [mpcInstanceId(plan.invocationId, 'low'), mpcInstanceId(plan.invocationId, 'high')];
        for (const m of log.filter((x) => plan.clients.includes(x.from))) {
          assert.ok(servers.includes(m.to), `a client sends to the sharing servers only (${m.from} -> ${m.to})`);
          assert.ok(ids.some((id) => m.key.startsWith(`${id}/`)) && shareKeys.test(m.key), `${m.from} -> ${m.to}: a share message of this invocation (${m.key})`);
          assert.ok([16, 32, ...plan.leaves.map((l) => l.size * E.low), 8].includes(m.payload.length), `${m.key}: a seed or one component (${m.payload.length} B)`);
        }
        // each client's messages to a server: at most one full component (plus seeds) per shared element
        const elements = plan.leaves.reduce((a, l) => a + l.size, 0) + (uri === 'federated_weighted_mean_at_aggregators' ? 1 : 0);
        const shared = plan.leaves.length + (uri === 'federated_weighted_mean_at_aggregators' ? 1 : 0);
        for (const s of servers) {
          for (const c of plan.clients) {
            const bytes = log.filter((m) => m.from === c && m.to === s).reduce((a, m) => a + m.payload.length, 0);
            assert.ok(bytes <= elements * E.low + 32 * shared, `${s} receives at most one component from ${c} (${bytes} B)`);
          }
        }
        const atServer = log.filter((m) => m.to === 'server');
        if (plan.target === 'SERVER') {
          assert.ok(atServer.length > 0 && atServer.every((m) => servers.includes(m.from)), 'the server receives only from aggregator parties');
          // one opening per leaf: ABY3 two messages (server0, server2), Pond one from each server
          assert.equal(atServer.length, 2 * plan.leaves.length);
        } else {
          assert.deepEqual(atServer, [], 'target AGGREGATORS: the SERVER party receives nothing');
          assert.ok(!log.some((m) => m.from === 'server'));
        }
      });
    }

    it(`${protocol}: a server's view of a client's share is fresh randomness: the same value twice gives different bytes, a zero vector's component is not zero and has balanced bits`, async () => {
      const size = 1024;
      const plan = () => makePlan(roles, 'federated_sum_at_aggregators', [{ dtype: 'float32', size }], 3);
      const zero = () => [0, 1, 2].map(() => ({ values: [new Float32Array(size)] }));
      const components: Uint8Array[] = [];
      for (let run = 0; run < 2; run++) {
        const log: ReceivedMessage[] = [];
        const r = await simulateRoles(roles, plan(), zero(), { policy: OPEN, observe: (m) => log.push(m) });
        assert.deepEqual(Array.from(r.result.leaves[0] as Float64Array), new Array(size).fill(0));
        // server1 holds the full component of client-0 (ABY3 x2, Pond the masked share)
        const full = log.filter((m) => m.from === 'client-0' && m.to === 'server1' && m.payload.length === size * E.low);
        assert.equal(full.length, 1);
        components.push(full[0]!.payload);
      }
      const [a, b] = components as [Uint8Array, Uint8Array];
      assert.notDeepEqual(a, b, 'the same (zero) value shares to different bytes');
      assert.ok(a.some((x) => x !== 0), 'the component of a zero vector is not zero');
      let ones = 0;
      for (const x of a) for (let k = 0; k < 8; k++) ones += (x >> k) & 1;
      const frac = ones / (a.length * 8);
      // 65536 bits: the standard deviation of the fraction is 0.002; 0.02 is 10 of them
      assert.ok(Math.abs(frac - 0.5) < 0.02, `bit frequency ${frac}`);
    });
  }
});

describe('mpcRoles: each party checks the plan against its own policy before it sends a byte', () => {
  const values = () => [0, 1, 2].map((c) => ({ values: [Float32Array.of(c, c + 0.5)] }));
  for (const protocol of ['aby3', 'pond'] as const) {
    const roles = mpcRoles({ protocol });
    for (const refuser of ['client-1', 'server0', roles.aggregatorNames[2]!, 'server']) {
      it(`${protocol}: ${refuser}, with minContributors 5, refuses a plan of 3 clients (PolicyError naming itself); nothing it would send is received`, async () => {
        const plan = makePlan(roles, 'federated_secure_sum', [{ dtype: 'int32', size: 2 }], 3, { bound: 256n });
        const log: ReceivedMessage[] = [];
        const strict: RolePolicy = { minContributors: 5, allowInsecure: false };
        const inputs = [0, 1, 2].map((c) => ({ values: [Int32Array.of(c, c + 1)] }));
        await assert.rejects(simulateRoles(roles, plan, inputs, { policyOf: (p) => (p === refuser ? strict : OPEN), observe: (m) => log.push(m) }),
          (e: unknown) => e instanceof PolicyError && e.rule === 'minContributors' && e.party === refuser && e.count === 3 && e.minimum === 5);
        assert.ok(!log.some((m) => m.from === refuser), `nothing from ${refuser} was received`);
      });
    }

    it(`${protocol}: a client that refuses (minContributors 5; a plan at precision 'high' for a party configured 'low') sends nothing at all`, async () => {
      const hub = new MemoryHub();
      const ctx = { me: 'client-0', transport: new MemoryTransport({ hub, local: ['client-0'] }), policy: { minContributors: 5, allowInsecure: false } };
      const plan = makePlan(roles, 'federated_mean_at_aggregators', [{ dtype: 'float32', size: 2 }], 3);
      await assert.rejects(roles.client(ctx, plan, values()[0]!), (e: unknown) => e instanceof PolicyError && e.rule === 'minContributors' && e.party === 'client-0');
      const high = makePlan(mpcRoles({ protocol, precision: 'high' }), 'federated_mean_at_aggregators', [{ dtype: 'float32', size: 2 }], 3);
      assert.equal(high.params['precision'], 'high');
      await assert.rejects(roles.client({ ...ctx, policy: OPEN }, high, values()[0]!), (e: unknown) => e instanceof PolicyError && e.rule === 'protocol' && e.party === 'client-0' && /precision/.test((e as Error).message));
      // out-of-range values (in the second leaf): refused at the client before any share (of the first) leaves it
      const two = makePlan(roles, 'federated_mean_at_aggregators', [{ dtype: 'float32', size: 2 }, { dtype: 'float32', size: 2 }], 3);
      await assert.rejects(roles.client({ ...ctx, policy: OPEN }, two, { values: [Float32Array.of(1, 2), Float32Array.of(1, 2 ** 50)] }), (e: unknown) => e instanceof RangeError && /client-0.*leaf 1/.test((e as Error).message));
      const sum = makePlan(roles, 'federated_secure_sum', [{ dtype: 'int32', size: 2 }, { dtype: 'int32', size: 1 }], 3, { bound: 256n });
      await assert.rejects(roles.client({ ...ctx, policy: OPEN }, sum, { values: [Int32Array.of(1, 2), Int32Array.of(256)] }), (e: unknown) => e instanceof RangeError && /leaf 1 .*\[0, 256\)/.test((e as Error).message));
      assert.equal(hub.stats()['client-0']?.bytesSent ?? 0, 0, 'the refusing client sent nothing');
      assert.equal(hub.pending(), 0);
    });

    it(`${protocol}: a plan at precision 'high' is refused by every party configured 'low' (rule 'protocol'); so is one with another meanScaling`, async () => {
      const high = makePlan(mpcRoles({ protocol, precision: 'high' }), 'federated_mean_at_aggregators', [{ dtype: 'float32', size: 2 }], 3);
      const log: ReceivedMessage[] = [];
      await assert.rejects(simulateRoles(roles, high, values(), { policy: OPEN, observe: (m) => log.push(m) }),
        (e: unknown) => e instanceof PolicyError && e.rule === 'protocol' && /precision/.test((e as Error).message));
      const servers = makePlan(mpcRoles({ protocol, meanScaling: 'servers' }), 'federated_mean_at_aggregators', [{ dtype: 'float32', size: 2 }], 3);
      await assert.rejects(simulateRoles(roles, servers, values(), { policy: OPEN, observe: (m) => log.push(m) }),
        (e: unknown) => e instanceof PolicyError && e.rule === 'protocol' && /meanScaling/.test((e as Error).message));
      assert.deepEqual(log, []);
    });
  }

  it('names, parameters and option checks', () => {
    const a = mpcRoles();
    assert.equal(a.name, 'mpc-aby3');
    assert.deepEqual({ ...a.params }, { protocol: 'aby3', precision: 'low', meanScaling: 'owners' });
    assert.deepEqual([...a.aggregatorNames], ['server0', 'server1', 'server2']);
    assert.equal(a.aggregatorCount, 3);
    assert.equal(a.secure, true);
    const p = mpcRoles({ protocol: 'pond', precision: 'high', meanScaling: 'servers' });
    assert.equal(p.name, 'mpc-pond');
    assert.deepEqual({ ...p.params }, { protocol: 'pond', precision: 'high', meanScaling: 'servers' });
    assert.deepEqual([...p.aggregatorNames], ['server0', 'server1', 'crypto-producer']);
    assert.throws(() => mpcRoles({ protocol: 'spdz' as MpcProtocolName }), (e: unknown) => e instanceof RangeError && /'protocol'/.test((e as Error).message));
    assert.throws(() => mpcRoles({ protocol: 3 as never }), TypeError);
    assert.throws(() => mpcRoles({ precision: 'mid' as never }), (e: unknown) => e instanceof RangeError && /'precision'/.test((e as Error).message));
    assert.throws(() => mpcRoles({ meanScaling: 'dealer' as never }), (e: unknown) => e instanceof RangeError && /'meanScaling'/.test((e as Error).message));
    assert.throws(() => mpcRoles(null as never), TypeError);
    // instance ids: valid protocol ids, distinct per invocation and ring
    const ids = ['agg/1', 'agg-1', 'agg:1', 'x'.repeat(160)].flatMap((i) => [mpcInstanceId(i, 'low'), mpcInstanceId(i, 'high')]);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^[A-Za-z0-9_.-]{1,64}$/);
  });
});
