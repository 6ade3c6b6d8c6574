import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { makeAggregator, secureAggregator, protocolAvailable } from '../../src/learning/secure-aggregators.js';
import { weightedMeanPlain } from '../../src/learning/aggregator.js';

const FRAC = { low: 16, high: 32 } as const;

/**
 * Fixed-point bound of the weighted mean as the aggregators compute it (meanScaling 'owners', the
 * default; docs/encrypted.md "Means"): each owner encodes (w_i / W) x_i, rounding to the nearest
 * multiple of u (u/2 each); the servers only add (exact in the ring); then the mean and the
 * reference are each rounded to float32 (|ref| 2^-24 each).
 */
function bound(updates: Float32Array[], i: number, u: number, ref: number): number {
  return (updates.length * u) / 2 + Math.abs(ref) * 2 ** -23 + 1e-12;
}

for (const protocol of ['aby3', 'pond'] as const) {
  for (const precision of ['low', 'high'] as const) {
    test(`${protocol} (${precision}) secure weighted mean equals the plaintext mean within the fixed-point bound`, async (t) => {
      if (!(await protocolAvailable(protocol))) {
        if (process.env.CI) assert.fail(`${protocol} not available from src/aggregation/mpc.ts`);
        t.skip(`${protocol} not available from src/aggregation/mpc.ts yet`);
        return;
      }
      // the arithmetic for 1..4 owners: the minimum of contributors is lowered explicitly (its default, 3, is tested below)
      const agg = await makeAggregator(protocol, precision, undefined, { minContributors: 1 });
      assert.equal(agg.secure, true);
      assert.match(agg.description!, new RegExp(`secure aggregation with ${protocol.toUpperCase()} \\(${precision} precision\\)`));
      const u = 2 ** -FRAC[precision];
      await fc.assert(fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }).chain((k) => fc.integer({ min: 1, max: 64 }).chain((n) => fc.tuple(
          fc.array(fc.array(fc.float({ min: -4, max: 4, noNaN: true }), { minLength: n, maxLength: n }), { minLength: k, maxLength: k }),
          fc.array(fc.integer({ min: 1, max: 512 }), { minLength: k, maxLength: k }),
        ))),
        async ([us, ws]) => {
          const updates = us.map((x) => Float32Array.from(x));
          const names = updates.map((_, i) => `owner-${i}`);
          const r = await agg.mean(updates, ws, names);
          const ref = weightedMeanPlain(updates, ws);
          assert.equal(r.mean.length, ref.length);
          for (let i = 0; i < ref.length; i++) {
            const b = bound(updates, i, u, ref[i]!);
            assert.ok(Math.abs(r.mean[i]! - ref[i]!) <= b, `element ${i}: ${r.mean[i]} vs ${ref[i]} (bound ${b})`);
          }
          // every owner sent its shares; compute servers took part; the model owner gets the mean as the return value
          for (const nm of names) assert.ok((r.bytesByRole[nm] ?? 0) > 0, `${nm} sent shares`);
          assert.ok(Object.keys(r.bytesByRole).some((k) => /server/.test(k)), 'server traffic recorded');
        },
      ), { numRuns: Number(process.env['FEDCRYPT_FC_RUNS'] ?? 12) });
      await assert.rejects(agg.mean([new Float32Array(2)], [1, 1]), /"weights" expected 1 entries/);
    });
  }
}

test('secureAggregator validates its options', () => {
  assert.throws(() => secureAggregator({ protocol: 'spdz' as 'aby3' }), /unknown protocol "spdz"; valid protocols/);
});

test('chunked secure aggregation (chunkSize smaller than the update) gives the same mean and adds up the bytes', async (t) => {
  if (!(await protocolAvailable('aby3'))) {
    if (process.env.CI) assert.fail('aby3 not available');
    t.skip('aby3 not available from src/aggregation/mpc.ts yet');
    return;
  }
  const n = 1000;
  const updates = [1, 2, 3].map((k) => Float32Array.from({ length: n }, (_, i) => Math.cos(i * k) * 0.5));
  const whole = await secureAggregator({ protocol: 'aby3', precision: 'high' }).mean(updates, [1, 2, 3]);
  const chunked = await secureAggregator({ protocol: 'aby3', precision: 'high', chunkSize: 97 }).mean(updates, [1, 2, 3]);
  const ref = weightedMeanPlain(updates, [1, 2, 3]);
  for (let i = 0; i < n; i++) {
    assert.ok(Math.abs(chunked.mean[i]! - ref[i]!) <= bound(updates, i, 2 ** -32, ref[i]!), `element ${i}`);
    assert.ok(Math.abs(chunked.mean[i]! - whole.mean[i]!) < 1e-6);
  }
  assert.ok(chunked.bytesByRole['data-owner-0']! >= whole.bytesByRole['data-owner-0']!);
  assert.throws(() => secureAggregator({ protocol: 'aby3', chunkSize: 0 }), /"chunkSize" expected integer >= 1/);
});

test('paillier secure weighted mean equals the plaintext mean within the fixed-point bound (through the adapter)', async (t) => {
  if (!(await protocolAvailable('paillier'))) {
    if (process.env.CI) assert.fail('paillier not available');
    t.skip('paillier not available from src/aggregation/paillier.ts yet');
    return;
  }
  const agg = secureAggregator({ protocol: 'paillier', precision: 'low', protocolOptions: { keyBits: 1024 } });
  assert.match(agg.description!, /secure aggregation with Paillier \(low precision\)/);
  const n = 40;
  const updates = [1, 2, 3].map((k) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * k + 0.3) * 2));
  const ws = [100, 50, 25];
  const r = await agg.mean(updates, ws, ['a', 'b', 'c']);
  const ref = weightedMeanPlain(updates, ws);
  // each client rounds w_i/W x_i to 20 fractional bits: error <= 3 * 2^-21, plus float32 rounding
  for (let i = 0; i < n; i++) assert.ok(Math.abs(r.mean[i]! - ref[i]!) <= 3 * 2 ** -21 + Math.abs(ref[i]!) * 2 ** -23, `element ${i}: ${r.mean[i]} vs ${ref[i]}`);
  assert.ok(Object.values(r.bytesByRole).reduce((a, b) => a + b, 0) > 0);
});
