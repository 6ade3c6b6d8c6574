/**
 * MPC secure aggregation (ABY3 / Pond) against the insecure reference
 * semantics, what each party receives, and the secureMean fast path.
 * (mpcAggregation runs the per-party roles of mpc-roles.ts; their own tests:
 * mpc-roles.test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { intrinsicByUri } from '../../src/core/intrinsics.js';
import { AGGREGATORS, CLIENTS, SERVER, type Placement } from '../../src/core/placements.js';
import { tensor, type DType } from '../../src/core/types.js';
import type { NumericArray } from '../../src/core/values.js';
import { mpcAggregation, PolicyError, referenceAggregate, secureMean, type AggregationRequest, type AggregationUri } from '../../src/aggregation/index.js';
import { Player } from '../../src/encrypted/index.js';
import { MemoryTransport, type Transport } from '../../src/transport/index.js';
import type { ReceivedMessage } from '../../src/aggregation/simulate.js';

interface Msg { from: string; to: string; key: string; bytes: number }
class RecordingTransport implements Transport {
  readonly kind = 'recording';
  readonly log: Msg[] = [];
  readonly inner = new MemoryTransport();
  isLocal(p: string) { return this.inner.isLocal(p); }
  send(from: string, to: string, key: string, payload: Uint8Array) { this.log.push({ from, to, key, bytes: payload.length }); return this.inner.send(from, to, key, payload); }
  receive(to: string, from: string, key: string) { return this.inner.receive(to, from, key); }
  stats() { return this.inner.stats(); }
  resetStats() { this.inner.resetStats(); }
  close() { return this.inner.close(); }
}

let invocation = 0;
function request(uri: AggregationUri, dtypes: DType[], clientValues: NumericArray[][], extra: Partial<AggregationRequest> = {}, target: Placement = uri.endsWith('_at_aggregators') ? AGGREGATORS : SERVER): AggregationRequest {
  const found = intrinsicByUri(uri);
  assert.ok(found, `uri ${uri} is registered`);
  const leaves = dtypes.map((dtype, j) => ({ path: dtypes.length === 1 ? '' : `[${j}]`, type: tensor(dtype, [clientValues[0]![j]!.length]), size: clientValues[0]![j]!.length }));
  return {
    invocationId: `agg/${++invocation}`, intrinsic: found.def, variant: found.variant, uri,
    valueType: leaves[0]!.type, resultType: leaves[0]!.type, leaves, clientValues,
    source: CLIENTS, target, numClients: clientValues.length, numAggregators: 1, ...extra,
  };
}

const U: Record<'low' | 'high', number> = { low: 2 ** -16, high: 2 ** -32 };
const f32 = (n: number, r: number) => fc.array(fc.float({ min: -r, max: r, noNaN: true, noDefaultInfinity: true }), { minLength: n, maxLength: n }).map((a) => Float32Array.from(a));

for (const protocol of ['aby3', 'pond'] as const) {
  for (const precision of ['low', 'high'] as const) {
    describe(`mpcAggregation ${protocol} (${precision}) matches the reference`, () => {
      const u = U[precision];
      const agg = mpcAggregation({ protocol, precision, minContributors: 1 });
      const aggServers = mpcAggregation({ protocol, precision, meanScaling: 'servers', minContributors: 1 });

      it('federated_secure_sum on integers is exact (uint32 near 2^32, int64, bitwidth and maxInput bounds)', async () => {
        await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 62 }), async (clients, n, bitwidth) => {
          const bound = 1n << BigInt(bitwidth);
          const vals = Array.from({ length: clients }, (_, c) => [BigInt64Array.from({ length: n }, (_, i) => (bound - 1n - BigInt(c * 7 + i)) < 0n ? 0n : bound - 1n - BigInt(c * 7 + i))]);
          const req = request('federated_secure_sum', ['int64'], vals, { bitwidth, bound });
          const got = await agg.aggregate(req);
          assert.deepEqual(Array.from(got.leaves[0]!, BigInt), [...(referenceAggregate(req).leaves[0] as readonly bigint[])]);
        }), { numRuns: 8 });
        const u32 = [[Uint32Array.of(2 ** 32 - 1, 5)], [Uint32Array.of(2 ** 32 - 2, 0)]];
        const req = request('federated_secure_sum_at_aggregators', ['uint32'], u32, { bitwidth: 32, bound: 1n << 32n }, AGGREGATORS);
        assert.deepEqual(Array.from((await agg.aggregate(req)).leaves[0]!, BigInt), [2n ** 33n - 3n, 5n]);
      });

      it('integer leaves of federated_sum_at_aggregators are exact, negative values included', async () => {
        const vals = [[Int32Array.of(-2147483648, 7, 0)], [Int32Array.of(-2147483648, -9, 2147483647)]];
        const req = request('federated_sum_at_aggregators', ['int32'], vals, {}, AGGREGATORS);
        assert.deepEqual(Array.from((await agg.aggregate(req)).leaves[0]!, BigInt), [-4294967296n, -2n, 2147483647n]);
      });

      it('float sums, means and weighted means are within the documented bound (struct of two leaves)', async () => {
        await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 3 }), async (clients, n, m) => {
          const vals: NumericArray[][] = [];
          // |x| <= 1: with server-side scaling the truncation's wrap-around probability (|X| / 2^l, X <= 2^(2f+7) here) stays below 2^-25 per element at 'low'
          for (let c = 0; c < clients; c++) vals.push([fc.sample(f32(n, 1), 1)[0]!, fc.sample(f32(m, 1), 1)[0]!]);
          const weights = Float64Array.from({ length: clients }, (_, c) => 1 + ((c * 37) % 11));
          for (const [uri, scaling] of [['federated_sum_at_aggregators', 'owners'], ['federated_mean_at_aggregators', 'owners'], ['federated_weighted_mean_at_aggregators', 'owners'],
            ['federated_mean_at_aggregators', 'servers'], ['federated_weighted_mean_at_aggregators', 'servers']] as const) {
            const req = request(uri, ['float32', 'float32'], vals, uri === 'federated_weighted_mean_at_aggregators' ? { weights } : {});
            const want = referenceAggregate(req).leaves;
            const got = (await (scaling === 'owners' ? agg : aggServers).aggregate(req)).leaves;
            const W = uri === 'federated_sum_at_aggregators' ? 1 : uri === 'federated_mean_at_aggregators' ? clients : weights.reduce((a, b) => a + b, 0);
            got.forEach((leaf, j) => {
              assert.ok(leaf instanceof Float64Array);
              leaf.forEach((g, i) => {
                const w = Number((want[j] as Float64Array)[i]);
                // weighted (private weights, either scaling): sum(w x) and sum(w) each within n u/2, divided by the receiver: (n u/2)(1 + |m|)/(W - n u/2);
                // owners scale: one encoding (u/2) per client; servers scale: encodings scaled by 1/W, then divPublic |S/W| u/2 + u (docs/encrypted.md)
                const bound = uri === 'federated_weighted_mean_at_aggregators' ? clients * u / 2 * (1 + Math.abs(w)) / (W - clients * u / 2)
                  : scaling === 'owners' ? clients * u / 2 : clients * u / 2 / W + Math.abs(w) * u / 2 + u;
                assert.ok(Math.abs(g - w) <= bound + Math.abs(w) * 2 ** -40, `${uri} (${scaling}) leaf ${j} element ${i}: got ${g}, want ${w}, bound ${bound}`);
              });
            });
          }
        }), { numRuns: 6 });
      });
    });
  }
}

describe('mpcAggregation: what each party receives', () => {
  for (const protocol of ['aby3', 'pond'] as const) {
    const clients = ['client-0', 'client-1', 'client-2'];
    const servers = protocol === 'aby3' ? ['server0', 'server1', 'server2'] : ['server0', 'server1'];
    const aggregators = protocol === 'aby3' ? servers : [...servers, 'crypto-producer'];
    const E = 8;
    const n = 64;
    const common = (log: readonly ReceivedMessage[]) => {
      for (const c of clients) assert.ok(!log.some((m) => m.to === c), `${c} receives nothing`);
      for (const s of servers) {
        for (const c of clients) {
          const fromClient = log.filter((m) => m.from === c && m.to === s).reduce((a, m) => a + m.payload.length, 0);
          assert.ok(fromClient <= n * E + 32, `${s} receives at most one full component from ${c} (${fromClient} B)`);
        }
      }
      assert.ok(log.every((m) => !clients.includes(m.from) || servers.includes(m.to)), 'clients send to the sharing servers only');
    };

    it(`${protocol}, target SERVER (secure sum): clients receive nothing, servers one full component per client at most, only the SERVER party receives the result`, async () => {
      const log: ReceivedMessage[] = [];
      const agg = mpcAggregation({ protocol, minContributors: 1, observe: (m) => log.push(m) });
      const vals = [0, 1, 2].map((c) => [Int32Array.from({ length: n }, (_, i) => c * 100 + i)]);
      const req = request('federated_secure_sum', ['int32'], vals, { bitwidth: 16, bound: 1n << 16n });
      const got = (await agg.aggregate(req)).leaves[0]!;
      assert.deepEqual(Array.from(got, BigInt), Array.from({ length: n }, (_, i) => BigInt(300 + 3 * i)));
      common(log);
      assert.ok(!log.some((m) => m.to === 'crypto-producer'), 'the dealer receives nothing (no triples needed)');
      const toTarget = log.filter((m) => m.to === 'server');
      // Pond: one component from each server; ABY3 (the fused path of an exact sum to SERVER): the sum of the
      // clients' masks from server0 and of their x2's from server1, server2 taking no part
      assert.deepEqual(toTarget.map((m) => m.from).sort(), protocol === 'aby3' ? ['server0', 'server1'] : servers, 'reveal messages to the target');
      if (protocol === 'aby3') assert.ok(!log.some((m) => m.to === 'server2' || m.from === 'server2'), 'server2 takes no part');
      assert.ok(toTarget.every((m) => m.payload.length === n * E));
      // nobody but the target receives anything after the aggregate is formed
      const revealKeys = new Set(toTarget.map((m) => m.key));
      assert.ok(log.filter((m) => revealKeys.has(m.key)).every((m) => m.to === 'server'));
      assert.ok(agg.lastBytesSent && agg.lastBytesSent['client-0']! > 0);
      await agg.close?.();
    });

    it(`${protocol}, target AGGREGATORS (mean): the SERVER party takes no part, every aggregator party is opened the mean`, async () => {
      const log: ReceivedMessage[] = [];
      const agg = mpcAggregation({ protocol, minContributors: 1, observe: (m) => log.push(m) });
      const vals = [0, 1, 2].map((c) => [Float32Array.from({ length: n }, (_, i) => c + i / 8)]);
      const got = (await agg.aggregate(request('federated_mean_at_aggregators', ['float32'], vals))).leaves[0] as Float64Array;
      got.forEach((v, i) => assert.ok(Math.abs(v - (1 + i / 8)) < 2 ** -12));
      common(log);
      assert.ok(!log.some((m) => m.to === 'server' || m.from === 'server'), 'the SERVER party neither sends nor receives');
      for (const a of aggregators) assert.ok(log.some((m) => m.to === a && servers.includes(m.from)), `${a} is opened the mean`);
      assert.ok(agg.lastBytesSent && agg.lastBytesSent['server'] === undefined);
    });
  }
});

describe('secureMean (learning fast path)', () => {
  for (const protocol of ['aby3', 'pond'] as const) {
    for (const meanScaling of ['owners', 'servers'] as const) {
      // server-side scaling truncates: at 'high' so that 100k elements keep the wrap-around probability negligible
      const precision = meanScaling === 'owners' ? 'low' : 'high';
      it(`${protocol}, scaling at the ${meanScaling} (${precision}): weighted mean of 3 owners' 100k-parameter updates, bytes per player as in theory`, async () => {
        const n = 100_000;
        const updates = [0, 1, 2].map((k) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * (k + 1)) * 3));
        const weights = [10, 20, 70];
        const r = await secureMean(updates, weights, { protocol, meanScaling, precision, minContributors: 1 });
        assert.ok(r.mean instanceof Float32Array && r.mean.length === n);
        const u = precision === 'low' ? 2 ** -16 : 2 ** -32;
        for (let i = 0; i < n; i += 97) {
          const want = (10 * updates[0]![i]! + 20 * updates[1]![i]! + 70 * updates[2]![i]!) / 100;
          // float32 output rounding (2^-24 relative) plus the documented fixed-point bound
          const bound = meanScaling === 'owners' ? 3 * u / 2 : 3 * u / 2 / 100 + Math.abs(want) * u / 2 + u;
          assert.ok(Math.abs(r.mean[i]! - want) <= bound + Math.abs(want) * 2 ** -23, `element ${i}: ${r.mean[i]} vs ${want}`);
        }
        const E = precision === 'low' ? 8 : 16;
        // truncation after the division ('servers'): ABY3 server0 and server1 send n each; Pond truncates locally
        const trunc = meanScaling === 'servers' ? n * E : 0;
        if (protocol === 'aby3' && meanScaling === 'owners') {
          // ABY3.aggregateInto: each owner sends one full component (to server1) and two seeds (to server0);
          // server0 and server1 each send one sum (n) to the model owner; no pairwise key is used, so none is set up:
          // server2 sends nothing
          for (let k = 0; k < 3; k++) assert.equal(r.bytesPerPlayer[`data-owner-${k}`], n * E + 32, 'owner: one full component and two seeds');
          assert.equal(r.bytesPerPlayer['server0'], n * E);
          assert.equal(r.bytesPerPlayer['server1'], n * E);
          assert.equal(r.bytesPerPlayer['server2'] ?? 0, 0);
        } else if (protocol === 'aby3') {
          // fused input step (ABY3.encryptSum): each owner uploads one full component (to server1) and four seeds;
          // server1 forwards the sum of those components to server2 once (n)
          for (let k = 0; k < 3; k++) assert.equal(r.bytesPerPlayer[`data-owner-${k}`], n * E + 64, 'owner: one full component and four seeds');
          // set-up key 16 B; reveal: server0 sends x0 + x1 (n) and server2 x2 (n) to the model owner
          assert.equal(r.bytesPerPlayer['server0'], 16 + trunc + n * E);
          assert.equal(r.bytesPerPlayer['server1'], 16 + trunc + n * E);
          assert.equal(r.bytesPerPlayer['server2'], 16 + n * E);
        } else {
          for (let k = 0; k < 3; k++) assert.equal(r.bytesPerPlayer[`data-owner-${k}`], n * E + 16, 'owner: one masked share and a seed');
          assert.equal(r.bytesPerPlayer['server0'], n * E);
          assert.equal(r.bytesPerPlayer['server1'], n * E);
          assert.equal(r.bytesPerPlayer['crypto-producer'] ?? 0, 0, 'no triples needed');
        }
        assert.equal(r.bytesPerPlayer['model-owner'] ?? 0, 0);
      });
    }
  }

  it("option 'out': the mean is decoded into the given Float32Array; concurrent calls sharing the pooled working memory stay correct", async () => {
    const n = 5000;
    const mk = (k: number) => [0, 1, 2].map((j) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * (j + 1) + k) * 2));
    const sets = [mk(0), mk(1), mk(2), mk(3)];
    const outs = sets.map(() => new Float32Array(n));
    const rs = await Promise.all(sets.map((u, k) => secureMean(u, [1, 2, 3], { out: outs[k]! })));
    rs.forEach((r, k) => {
      assert.equal(r.mean, outs[k], 'the same array');
      for (let i = 0; i < n; i += 7) {
        const want = (sets[k]![0]![i]! + 2 * sets[k]![1]![i]! + 3 * sets[k]![2]![i]!) / 6;
        assert.ok(Math.abs(r.mean[i]! - want) <= 3 * 2 ** -17 + Math.abs(want) * 2 ** -23, `set ${k} element ${i}`);
      }
    });
    await assert.rejects(secureMean(sets[0]!, undefined, { out: new Float32Array(n - 1) }), (e: unknown) => e instanceof TypeError && /option 'out'/.test((e as Error).message));
    await assert.rejects(secureMean(sets[0]!, undefined, { out: new Float64Array(n) as never }), (e: unknown) => e instanceof TypeError && /option 'out'/.test((e as Error).message));
  });

  it('unweighted mean at high precision', async () => {
    const r = await secureMean([Float32Array.of(1, 2.5), Float32Array.of(3, -0.5)], undefined, { precision: 'high', minContributors: 1 });
    assert.deepEqual(Array.from(r.mean), [2, 1]);
  });

  it('bad input', async () => {
    await assert.rejects(secureMean([], undefined), TypeError);
    await assert.rejects(secureMean([new Float64Array(2) as never]), /updates\[0\]' must be a Float32Array/);
    await assert.rejects(secureMean([new Float32Array(2), new Float32Array(3)]), (e: unknown) => e instanceof RangeError && /'updates\[1\]' has 3 values/.test((e as Error).message));
    await assert.rejects(secureMean([new Float32Array(2)], [1, 2]), RangeError);
    await assert.rejects(secureMean([new Float32Array(2)], [-1]), (e: unknown) => e instanceof RangeError && /weights\[0\]/.test((e as Error).message));
    await assert.rejects(secureMean([new Float32Array(2)], [0]), /all zero/);
    await assert.rejects(secureMean([Float32Array.of(NaN)], undefined, { minContributors: 1 }), (e: unknown) => e instanceof RangeError && /NaN.*2\^47/.test((e as Error).message));
    await assert.rejects(secureMean([new Float32Array(2)], undefined, { protocol: 'spdz' as never }), (e: unknown) => e instanceof RangeError && /'aby3' or 'pond'/.test((e as Error).message));
    assert.throws(() => mpcAggregation({ precision: 'mid' as never }), RangeError);
    assert.throws(() => mpcAggregation({ meanScaling: 'dealer' as never }), (e: unknown) => e instanceof RangeError && /'meanScaling'/.test((e as Error).message));
    // per-party transports: the parties of mpcAggregation are simulated on their own views; the old options are refused by name
    assert.throws(() => mpcAggregation({ servers: [new Player('a')] } as never), (e: unknown) => e instanceof TypeError && /option 'servers'/.test((e as Error).message));
    assert.throws(() => mpcAggregation({ transport: new MemoryTransport() } as never), (e: unknown) => e instanceof TypeError && /option 'transport'/.test((e as Error).message));
    assert.throws(() => mpcAggregation({ observe: 1 as never }), (e: unknown) => e instanceof TypeError && /option 'observe'/.test((e as Error).message));
    assert.throws(() => mpcAggregation({ protocol: 'spdz' as never }), (e: unknown) => e instanceof RangeError && /'aby3' or 'pond'/.test((e as Error).message));
    assert.throws(() => mpcAggregation(null as never), TypeError);
  });
});

describe('mpcAggregation / secureMean: the servers reveal no aggregate of fewer than minContributors (default 3)', () => {
  const refused = (count: number) => (e: unknown) => e instanceof PolicyError && e.rule === 'minContributors' && e.count === count && e.minimum === 3;
  for (const protocol of ['aby3', 'pond'] as const) {
    it(`${protocol}: 2 clients are refused before any client shares a value; exactly 3 pass (mpcAggregation counts the plan's clients, its weights being private)`, async () => {
      const log: ReceivedMessage[] = [];
      const agg = mpcAggregation({ protocol, observe: (m) => log.push(m) });
      const vals = (k: number) => Array.from({ length: k }, (_, c) => [Float32Array.of(c, c + 0.5)]);
      await assert.rejects(agg.aggregate(request('federated_mean_at_aggregators', ['float32'], vals(2))), refused(2));
      await assert.rejects(agg.aggregate(request('federated_weighted_mean_at_aggregators', ['float32'], vals(2), { weights: Float64Array.of(1, 2) })), refused(2));
      assert.deepEqual(log, [], 'nothing was received by anyone');
      const got = (await agg.aggregate(request('federated_mean_at_aggregators', ['float32'], vals(3)))).leaves[0] as Float64Array;
      assert.ok(Math.abs(got[0]! - 1) < 2 ** -12 && Math.abs(got[1]! - 1.5) < 2 ** -12);
      assert.ok(log.length > 0);
      // weights are private inputs: no party can tell a zero weight, so 3 clients pass whatever their weights
      const w = (await agg.aggregate(request('federated_weighted_mean_at_aggregators', ['float32'], vals(3), { weights: Float64Array.of(0, 5, 0) }))).leaves[0] as Float64Array;
      assert.ok(Math.abs(w[0]! - 1) < 2 ** -12 && Math.abs(w[1]! - 1.5) < 2 ** -12);
    });
    it(`${protocol}: secureMean (public weights) refuses 2 owners, or 3 of which fewer than 3 have a weight of at least 1/100 of the largest, before anything is sent`, async () => {
      const transport = new RecordingTransport();
      await assert.rejects(secureMean([Float32Array.of(1), Float32Array.of(2)], undefined, { protocol, transport }), refused(2));
      await assert.rejects(secureMean([Float32Array.of(1), Float32Array.of(2), Float32Array.of(3)], [0, 5, 0], { protocol, transport }), refused(1));
      // weights that are not zero but negligible hide nothing either: the mean would be the victim's value
      await assert.rejects(secureMean([Float32Array.of(0.123), Float32Array.of(100), Float32Array.of(-50)], [1, 1e-12, 1e-12], { protocol, transport }), refused(1));
      await assert.rejects(secureMean([Float32Array.of(0.123), Float32Array.of(100), Float32Array.of(-50)], [1, 0.009, 0.5], { protocol, transport }), refused(2));
      assert.deepEqual(transport.log, [], 'nothing was sent');
      const m = await secureMean([Float32Array.of(1), Float32Array.of(2), Float32Array.of(6)], undefined, { protocol, transport });
      assert.ok(Math.abs(m.mean[0]! - 3) < 2 ** -12);
      assert.ok(transport.log.length > 0);
    });
  }
  it('the option is checked: an integer >= 1', () => {
    assert.throws(() => mpcAggregation({ minContributors: 0 }), (e: unknown) => e instanceof RangeError && /"minContributors"/.test((e as Error).message));
    assert.throws(() => mpcAggregation({ minContributors: 2.5 }), (e: unknown) => e instanceof TypeError && /"minContributors"/.test((e as Error).message));
  });
});
