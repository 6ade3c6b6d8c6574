import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { clipByGlobalNorm, globalL2Norm } from '../../src/dp/central-clip.js';
import { TestCsprng } from './central-helpers.js';

const leavesArb = fc.array(
  fc.oneof(
    fc.array(fc.float({ min: -1e3, max: 1e3, noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 50 }).map((a) => Float32Array.from(a)),
    fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 50 }).map((a) => Float64Array.from(a)),
  ),
  { minLength: 1, maxLength: 4 },
);

test('globalL2Norm: the norm over all leaves, no overflow for huge finite values', () => {
  assert.equal(globalL2Norm([Float64Array.of(3), Float32Array.of(4)]), 5);
  assert.equal(globalL2Norm([new Float64Array(3)]), 0);
  const big = globalL2Norm([Float64Array.of(1e300, 1e300)]);
  assert.ok(Math.abs(big / (Math.SQRT2 * 1e300) - 1) < 1e-15, `norm ${big}`);
  const tiny = globalL2Norm([Float64Array.of(1e-200, 1e-200)]);
  assert.ok(Math.abs(tiny / (Math.SQRT2 * 1e-200) - 1) < 1e-15, `norm ${tiny}`);
  assert.throws(() => globalL2Norm([Float64Array.of(1, NaN)]), /values\[0\]" element 1 is NaN/);
  assert.throws(() => globalL2Norm([Float32Array.of(0, -Infinity)]), /values\[0\]" element 1 is -Infinity/);
});

test('clipByGlobalNorm: norm <= C, unchanged below C, direction kept (property, random inputs)', () => {
  fc.assert(
    fc.property(leavesArb, fc.double({ min: 1e-3, max: 1e4, noNaN: true }), (leaves, C) => {
      const before = globalL2Norm(leaves);
      const r = clipByGlobalNorm(leaves, C);
      assert.equal(r.norm, before);
      assert.equal(r.clipped, before > C);
      if (!r.clipped) {
        r.values.forEach((v, j) => assert.equal(v, leaves[j]));
        return;
      }
      const after = globalL2Norm(r.values);
      assert.ok(after <= C, `norm ${after} > C ${C}`);
      // the same direction: every element is x_i * s for one s = C/||x|| (up to the dtype's rounding)
      const s = C / before;
      // (a float32 leaf anywhere: the scale may be lowered by a few parts in 2^23 for all leaves)
      const f32 = leaves.some((v) => v instanceof Float32Array);
      r.values.forEach((v, j) => {
        assert.equal(v.constructor, leaves[j]!.constructor);
        for (let i = 0; i < v.length; i++) {
          const want = leaves[j]![i]! * s;
          assert.ok(Math.abs(v[i]! - want) <= (f32 ? 4e-6 : 1e-12) * Math.abs(want) + (v instanceof Float32Array ? 1e-45 : 0), `leaf ${j} element ${i}: ${v[i]} vs ${want}`);
        }
      });
      // and the norm lands at C up to rounding
      assert.ok(after >= C * (1 - 1e-5), `norm ${after} much below C ${C}`);
    }),
    { numRuns: 300, seed: 16 },
  );
});

test('clipByGlobalNorm: on a model-sized random update the clipped norm is exactly at or below C', () => {
  const rng = new TestCsprng('clip-large');
  const a = new Float32Array(100_000);
  rng.gaussian(a, 0.01);
  const b = new Float32Array(10);
  rng.gaussian(b, 1);
  for (const C of [0.1, 1, 2.5]) {
    const r = clipByGlobalNorm([a, b], C);
    assert.ok(r.clipped, `C ${C} not clipped`);
    assert.ok(globalL2Norm(r.values) <= C, `norm ${globalL2Norm(r.values)} > C ${C}`);
  }
});

test('clipByGlobalNorm: arguments checked by name', () => {
  assert.throws(() => clipByGlobalNorm([Float64Array.of(1)], 0), /"clip" expected a finite number > 0, got 0/);
  assert.throws(() => clipByGlobalNorm([Float64Array.of(1)], NaN), /"clip"/);
  assert.throws(() => clipByGlobalNorm([[1] as unknown as Float64Array], 1), /"values\[0\]" expected a Float32Array or Float64Array/);
});
