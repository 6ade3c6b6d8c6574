/**
 * The exact comparisons behind the samplers (src/dp/exp-bounds.ts) and the float filters that
 * may only decide what they prove (bernoulli-exp.ts `expNegSide`, discrete-gaussian.ts
 * `geometricFloat`):
 * - `expNegBounds` brackets e^{-γ} against published digits, Math.exp and the identity
 *   e^{-a}·e^{-b} = e^{-(a+b)}, and the bracket is a few units wide;
 * - `LazyUniform`'s exact branch has the conditional law it must have inside the filter's
 *   undecided cell, and its geometric has P[G = x] = (1 − q)q^x;
 * - where a float filter decides, the exact comparison with the same first bits and ANY
 *   continuation decides the same (boundary cells chosen on purpose);
 * - the filtered and the all-exact discrete Gaussian draw the same samples from one stream.
 * Fixed keys; statistical tests state their false-failure probability for a fresh key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CryptoRandom } from '../../src/dp/random.js';
import { expNegBounds, LazyUniform } from '../../src/dp/exp-bounds.js';
import { bernoulliExp, expNegSide, REL } from '../../src/dp/bernoulli-exp.js';
import { dgaussPlan, dgaussSample, geometricFloat } from '../../src/dp/discrete-gaussian.js';
import { chi2Critical, chiSquare, zUpper } from './stats.js';

const KEY = new Uint8Array(32).map((_, i) => 91 + 3 * i);
const rngFor = (label: string) => CryptoRandom.fromKey(KEY, label);

/** [v·2^prec] bracketed from a decimal string of the value's first digits (error < 10^-digits). */
function fromDigits(digits: string, prec: number): [bigint, bigint] {
  const d = BigInt(digits.length);
  const m = BigInt(digits);
  const lo = (m << BigInt(prec)) / 10n ** d;
  const hi = (((m + 1n) << BigInt(prec)) + 10n ** d - 1n) / 10n ** d;
  return [lo, hi];
}

test('expNegBounds brackets e^-1, e^-2 and e^-1/2 against their published digits, within 4 units at 2^-100', () => {
  for (const [num, den, digits] of [
    [1n, 1n, '3678794411714423215955237701614608674458'],
    [2n, 1n, '1353352832366126918939994949724844034076'],
    [1n, 2n, '6065306597126334236037995349911804534419'],
    [6n, 3n, '1353352832366126918939994949724844034076'],
  ] as const) {
    const prec = 100;
    const [lo, hi] = expNegBounds(num, den, prec);
    const [dl, dh] = fromDigits(digits, prec);
    // the two brackets of the same number must overlap, and ours is tight
    assert.ok(lo <= dh && dl <= hi, `e^-${num}/${den}: [${lo}, ${hi}] against the digits' [${dl}, ${dh}]`);
    assert.ok(hi - lo <= 4n, `width ${hi - lo}`);
  }
});

test('expNegBounds: lo ≤ hi, within 8 units, agrees with Math.exp at 2^-48, and e^-a·e^-b = e^-(a+b) (fast-check)', () => {
  fc.assert(fc.property(
    fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.bigInt({ min: 1n, max: 10n ** 11n }),
    fc.integer({ min: 40, max: 300 }),
    (a, b, den, prec) => {
      const P = BigInt(prec);
      const [la, ha] = expNegBounds(a, den, prec), [lb, hb] = expNegBounds(b, den, prec), [lc, hc] = expNegBounds(a + b, den, prec);
      for (const [l, h] of [[la, ha], [lb, hb], [lc, hc]]) {
        assert.ok(l <= h && h - l <= 8n, `[${l}, ${h}]`);
      }
      // e^-a·e^-b·2^2prec lies in [la·lb, ha·hb] and in [lc, hc]·2^prec: the intervals overlap
      assert.ok(la * lb <= hc << P && lc << P <= ha * hb, 'e^-a·e^-b against e^-(a+b)');
      const x = Number(a) / Number(den);
      if (x < 30) {
        const f = Math.exp(-x);
        const [l48, h48] = expNegBounds(a, den, 48);
        assert.ok(Math.abs(Number(l48) - f * 2 ** 48) <= 2 + f * 2 ** 48 * 1e-13 && Math.abs(Number(h48) - f * 2 ** 48) <= 2 + f * 2 ** 48 * 1e-13, `e^-${x}: [${l48}, ${h48}] vs ${f * 2 ** 48}`);
      }
    }), { numRuns: 300, seed: 16 });
  // far tails: [0, 1] when e^{-γ}·2^prec < 1/4, never a bracket that excludes the value
  assert.deepEqual(expNegBounds(10n ** 6n, 1n, 64), [0n, 1n]);
  const [l, h] = expNegBounds(40n, 1n, 64); // e^-40·2^64 = 7.8e1
  assert.ok(l <= 79n && h >= 78n && h - l <= 2n, `[${l}, ${h}]`);
  assert.throws(() => expNegBounds(-1n, 1n, 8), /expected num ≥ 0 and den ≥ 1/);
  assert.throws(() => expNegBounds(1n, 0n, 8), /expected num ≥ 0 and den ≥ 1/);
  assert.throws(() => expNegBounds(1n, 1n, -1), /"prec" expected/);
});

function binomZ(s: number, n: number, p: number): number {
  return (s - n * p) / Math.sqrt(n * p * (1 - p));
}

test('LazyUniform inside the undecided cell: P[U < e^-γ | U ∈ cell] = the cell\'s fraction below e^-γ (binomial, false failure 1e-6 each)', () => {
  const rng = rngFor('cell');
  for (const [num, den] of [[1n, 1n], [3n, 7n], [5n, 2n]] as const) {
    const p = Math.exp(-Number(num) / Number(den));
    const head = Math.floor(p * 2 ** 32); // the 32-bit cell holding e^-γ
    const frac = p * 2 ** 32 - head; // float: good to 1e-6 here
    const N = 40_000;
    let below = 0;
    for (let i = 0; i < N; i++) if (new LazyUniform(rng, head, 32).belowExpNeg(num, den)) below++;
    assert.ok(Math.abs(binomZ(below, N, frac)) < zUpper(0.5e-6), `γ = ${num}/${den}: ${below / N} vs ${frac}`);
    // the cells next to it are decided without a single extra bit
    assert.equal(new LazyUniform(rng, head - 1, 32).belowExpNeg(num, den), true);
    assert.equal(new LazyUniform(rng, head + 1, 32).belowExpNeg(num, den), false);
  }
  assert.throws(() => new LazyUniform(rng, 2 ** 32, 32), /"head" expected in \[0, 2\^32\)/);
});

test('LazyUniform.geometric: P[G = x] = (1 − q)q^x, q = e^-1/t, t = 1, 3, 40 (χ², false failure 1e-6 each)', () => {
  for (const t of [1, 3, 40]) {
    const rng = rngFor(`geo ${t}`);
    const xs = Array.from({ length: 6000 }, () => Number(new LazyUniform(rng, rng.uint32(), 32).geometric(BigInt(t))));
    const hi = 30 * t;
    const pmf = Array.from({ length: hi + 1 }, (_, x) => Math.exp(-x / t));
    const r = chiSquare(xs, 0, pmf);
    assert.ok(r.stat < chi2Critical(r.df, 1e-6), `t = ${t}: χ² ${r.stat.toFixed(1)} on ${r.df}`);
  }
});

test('where expNegSide decides, the exact comparison from the same 32 bits decides the same for every continuation (cells at e^-γ ± 3)', () => {
  const rng = rngFor('side');
  let decided = 0, undecided = 0;
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 9n }), fc.bigInt({ min: 1n, max: 10n ** 8n }), fc.integer({ min: -3, max: 3 }), (num, den, off) => {
    const g = Number(num) / Number(den);
    const w = Math.floor(Math.exp(-g) * 2 ** 32) + off;
    if (w < 0 || w >= 2 ** 32) return;
    const side = expNegSide(w, 2 ** -32, g, g * REL);
    if (side === -1) {
      undecided++;
      return;
    }
    decided++;
    for (let k = 0; k < 4; k++) assert.equal(new LazyUniform(rng, w, 32).belowExpNeg(num, den) ? 1 : 0, side, `γ = ${num}/${den}, w = e^-γ·2^32 ${off >= 0 ? '+' : ''}${off}`);
  }), { numRuns: 1500, seed: 7 });
  assert.ok(decided > 500 && undecided > 100, `decided ${decided}, undecided ${undecided}`);
  // a float that is not a bound decides nothing
  assert.equal(expNegSide(5, 2 ** -32, Number.NaN, 0), -1);
  assert.equal(expNegSide(5, 2 ** -32, 1, Number.POSITIVE_INFINITY), -1);
});

test('where geometricFloat decides, the exact geometric from the same 53 bits is the same for every continuation (u at the thresholds e^-x/t ± 2)', () => {
  const rng = rngFor('geoside');
  let decided = 0, undecided = 0;
  for (const t of [1, 7, 813, 12_990, 1_000_001]) {
    for (let i = 0; i < 60; i++) {
      const x = rng.int(25 * t);
      const u = Math.floor(Math.exp(-x / t) * 2 ** 53) + rng.int(5) - 2;
      if (u < 0 || u >= 2 ** 53) continue;
      const f = geometricFloat(u, t);
      if (f === -1) {
        undecided++;
        continue;
      }
      decided++;
      for (let k = 0; k < 3; k++) assert.equal(Number(new LazyUniform(rng, u, 53).geometric(BigInt(t))), f, `t = ${t}, u = ${u}`);
    }
  }
  assert.ok(decided > 50 && undecided > 50, `decided ${decided}, undecided ${undecided}`);
  assert.equal(geometricFloat(0, 5), -1);
});

test('the filtered and the all-exact discrete Gaussian draw the same samples from the same stream (σ² from 0.2 to 1e10, and 7/3)', () => {
  for (const s2 of [0.2, 1, 9.5, 659_019.24, 1e10, { num: 14n, den: 6n }] as const) {
    const n = 1500;
    const a = rngFor(`same ${String(s2)}`), b = rngFor(`same ${String(s2)}`);
    const fast = dgaussPlan(s2), exact = dgaussPlan(s2, 't', 'exact');
    const x = Array.from({ length: n }, () => dgaussSample(a, fast));
    const y = Array.from({ length: n }, () => dgaussSample(b, exact));
    assert.deepEqual(x, y, `σ² = ${String(s2)}`);
    // and the streams stand at the same place
    assert.equal(a.uint32(), b.uint32());
  }
});

test('regressions from the audit: a BigInt γ whose denominator overflows a double, a geometric from a tiny head at t = 2^40, σ ≥ 2^47 refused', () => {
  const rng = rngFor('audit');
  // γ = 2^1023/2^1024 = 1/2: Number(den) is Infinity; the draw must still be Bernoulli(e^-1/2)
  const N = 20_000;
  let c = 0;
  for (let i = 0; i < N; i++) c += bernoulliExp(rng, 1n << 1023n, 1n << 1024n);
  assert.ok(Math.abs(binomZ(c, N, Math.exp(-0.5))) < zUpper(0.5e-6), `${c / N} vs ${Math.exp(-0.5)}`);
  // U ∈ [1, 2)·2^-53 at t = 2^40: the walk once took ~10^5 steps from a stale estimate; U is refined first now
  const t = 2n ** 40n;
  for (let k = 0; k < 5; k++) {
    const g = Number(new LazyUniform(rng, 1, 53).geometric(t));
    const lo = Math.floor(2 ** 40 * 52 * Math.LN2) - 1, hi = Math.ceil(2 ** 40 * 53 * Math.LN2) + 1;
    assert.ok(g >= lo && g <= hi, `G = ${g} outside [${lo}, ${hi}]`);
  }
  assert.throws(() => dgaussPlan(2 ** 94), /"sigma2" too large \(σ ≥ 2\^47\)/);
  assert.ok(dgaussPlan(2 ** 92).t > 0);
});
