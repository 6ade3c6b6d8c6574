/** Exact conversions behind the samplers' parameters (property tests with fast-check). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isqrt, numberToRational, parsePositiveRational, rangeProduct } from '../../src/dp/rational.js';

test('numberToRational is exact: num/den reproduces the double, den is a power of two, the fraction is reduced', () => {
  fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
    const { num, den } = numberToRational(x);
    assert.equal(den & (den - 1n), 0n);
    if (den > 1n) assert.equal(num & 1n, 1n);
    // exact check without rounding: x·den (powers of two, applied in steps ≤ 2^1000, exact since |x·den| = |num| < 2^53) is num
    let y = x;
    for (let e = den.toString(2).length - 1; e > 0; e -= 1000) y *= 2 ** Math.min(e, 1000);
    assert.equal(BigInt(y), num);
    return true;
  }), { numRuns: 2000 });
  assert.deepEqual(numberToRational(2.3), { num: 2589569785738035n, den: 2n ** 50n });
  assert.deepEqual(numberToRational(0.5), { num: 1n, den: 2n });
  assert.deepEqual(numberToRational(5e-324), { num: 1n, den: 2n ** 1074n });
});

test('isqrt(n) is ⌊√n⌋ and rangeProduct(lo, hi) the product of lo..hi', () => {
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 2n ** 300n }), (n) => {
    const r = isqrt(n);
    return r * r <= n && (r + 1n) * (r + 1n) > n;
  }), { numRuns: 1000 });
  assert.equal(rangeProduct(1n, 20n), 2432902008176640000n);
  assert.equal(rangeProduct(5n, 4n), 1n);
  assert.equal(rangeProduct(100n, 140n), Array.from({ length: 41 }, (_, i) => BigInt(100 + i)).reduce((a, b) => a * b, 1n));
});

test('parsePositiveRational reduces { num, den } and names the argument', () => {
  assert.deepEqual(parsePositiveRational({ num: 14n, den: 6n }, 'f', 'a'), { num: 7n, den: 3n });
  assert.throws(() => parsePositiveRational(-2, 'f', 'sigma2'), /^RangeError: f: "sigma2" expected a finite number > 0, got -2/);
  assert.deepEqual(parsePositiveRational(0, 'f', 'mu', true), { num: 0n, den: 1n });
});
