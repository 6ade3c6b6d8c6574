import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decode, encode, encodeScalar, FIXED_HIGH, FIXED_LOW, flattenFloats } from '../../src/encrypted/index.js';

describe('fixed point', () => {
  for (const cfg of [FIXED_LOW, FIXED_HIGH]) {
    it(`encode/decode round trip within 2^-(f+1) and matches round(x * 2^f) (${cfg.precision})`, () => {
      fc.assert(fc.property(fc.array(fc.double({ min: -cfg.bound / 2, max: cfg.bound / 2, noNaN: true }), { minLength: 1, maxLength: 50 }), (xs) => {
        const t = encode(xs, [xs.length], cfg);
        const back = decode(t, cfg);
        const ints = t.toSignedBigInts();
        xs.forEach((x, i) => {
          assert.equal(ints[i], BigInt(Math.round(x * 2 ** cfg.frac)), `element ${i}`);
          // decode is exact up to float64 rounding of the result
          assert.ok(Math.abs(back[i]! - x) <= 2 ** -(cfg.frac + 1) + Math.abs(x) * 2 ** -52, `element ${i}: ${back[i]} vs ${x}`);
        });
      }), { numRuns: 50 });
      assert.equal(encodeScalar(-1.5, cfg), BigInt(-1.5 * 2 ** cfg.frac));
    });
  }

  it('flattens nested arrays and typed arrays with shapes', () => {
    assert.deepEqual(flattenFloats('f', 'v', [[1, 2, 3], [4, 5, 6]]).shape, [2, 3]);
    assert.deepEqual(flattenFloats('f', 'v', 5).shape, []);
    const f32 = new Float32Array(6);
    assert.equal(flattenFloats('f', 'v', f32, [3, 2]).values, f32, 'typed arrays are not copied');
    assert.throws(() => flattenFloats('f', 'v', [[1], ['x']]), (e: unknown) => e instanceof TypeError && /'v\[1\]\[0\]' must be a number/.test((e as Error).message));
    assert.throws(() => flattenFloats('f', 'v', 'abc'), TypeError);
    assert.throws(() => flattenFloats('f', 'v', f32, [4]), RangeError);
  });
});
