import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { plaintextAggregator, weightedMeanPlain, validateUpdate, BadUpdateError, checkMeanArgs, PLAINTEXT_DESCRIPTION } from '../../src/learning/aggregator.js';
import { makeAggregator, secureAggregator } from '../../src/learning/secure-aggregators.js';

const updatesArb = fc.integer({ min: 1, max: 5 }).chain((k) => fc.integer({ min: 1, max: 40 }).chain((n) => fc.tuple(
  fc.array(fc.array(fc.float({ min: -100, max: 100, noNaN: true }), { minLength: n, maxLength: n }), { minLength: k, maxLength: k }),
  fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: k, maxLength: k }),
)));

test('plaintext weighted mean equals the reference sum(w_i u_i) / sum(w_i)', async () => {
  await fc.assert(fc.asyncProperty(updatesArb, async ([us, ws]) => {
    const updates = us.map((u) => Float32Array.from(u));
    const agg = plaintextAggregator();
    const { mean, bytesByRole } = await agg.mean(updates, ws);
    const tot = ws.reduce((a, b) => a + b, 0);
    for (let i = 0; i < mean.length; i++) {
      let ref = 0;
      updates.forEach((u, k) => { ref += (ws[k]! * u[i]!) / tot; });
      assert.ok(Math.abs(mean[i]! - ref) <= 1e-5 * (1 + Math.abs(ref)), `${mean[i]} vs ${ref}`);
    }
    assert.equal(bytesByRole['data-owner-0'], updates[0]!.length * 4);
    assert.equal(bytesByRole['aggregator'], mean.length * 4);
  }));
});

test('weights scale-invariant; equal weights give the plain mean', () => {
  const u = [Float32Array.of(1, 2), Float32Array.of(3, 6)];
  assert.deepEqual([...weightedMeanPlain(u, [1, 1])], [2, 4]);
  assert.deepEqual([...weightedMeanPlain(u, [5, 5])], [2, 4]);
  assert.deepEqual([...weightedMeanPlain(u, [3, 1])], [1.5, 3]);
});

test('plaintext aggregation says it is the insecure baseline', () => {
  const a = plaintextAggregator();
  assert.equal(a.secure, false);
  assert.equal(a.description, 'plaintext aggregation (baseline, NOT secure)');
  assert.equal(PLAINTEXT_DESCRIPTION, a.description);
});

test('validateUpdate names the owner for NaN, Infinity, -Infinity, wrong shape and wrong type', () => {
  const ok = new Float32Array(4);
  validateUpdate('alice', ok, 4);
  for (const bad of [NaN, Infinity, -Infinity]) {
    const u = new Float32Array(4); u[2] = bad;
    assert.throws(() => validateUpdate('alice', u, 4), (e: Error) => e instanceof BadUpdateError && e.owner === 'alice' && /data owner "alice"/.test(e.message) && e.message.includes(`non-finite value ${bad} at index 2`));
  }
  assert.throws(() => validateUpdate('bob', new Float32Array(3), 4), (e: Error) => e instanceof BadUpdateError && /"bob".*wrong shape: expected 4 values, got 3/.test(e.message));
  assert.throws(() => validateUpdate('carol', [1, 2, 3, 4], 4), (e: Error) => e instanceof BadUpdateError && /"carol".*expected Float32Array/.test(e.message));
  assert.throws(() => validateUpdate('dave', new Float64Array(4), 4), /"dave".*Float64Array/);
});

test('mean() argument checks name the argument', async () => {
  const a = plaintextAggregator();
  await assert.rejects(a.mean([], []), /"updates" expected at least one update/);
  await assert.rejects(a.mean([new Float32Array(2)], [1, 2]), /"weights" expected 1 entries/);
  await assert.rejects(a.mean([new Float32Array(2), new Float32Array(3)], [1, 1]), /"updates\[1\]" expected length 2, got 3/);
  await assert.rejects(a.mean([new Float32Array(2)], [-1]), /"weights\[0\]" expected finite number >= 0/);
  await assert.rejects(a.mean([new Float32Array(2)], [0]), /positive sum/);
  await assert.rejects(a.mean([new Float32Array(2)], [NaN]), RangeError);
  assert.throws(() => checkMeanArgs('x' as unknown as Float32Array[], []), TypeError);
  await assert.rejects(a.mean([[1, 2] as unknown as Float32Array], [1]), TypeError);
});

test('unknown protocols and precisions list the valid ones', async () => {
  await assert.rejects(makeAggregator('spdz'), /unknown protocol "spdz"; valid protocols: aby3, pond, paillier, secagg, plaintext/);
  assert.throws(() => secureAggregator({ protocol: 'aby3', precision: 'mid' as 'low' }), /"precision" expected one of low, high/);
  assert.equal((await makeAggregator('plaintext')).secure, false);
  const s = await makeAggregator('aby3', 'high');
  assert.equal(s.secure, true);
  assert.equal(s.name, 'aby3');
});
