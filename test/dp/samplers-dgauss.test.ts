/**
 * The exact discrete Gaussian (Canonne-Kamath-Steinke 2020, Algorithms 1-3): χ² goodness of
 * fit against the exact pmf exp(-x²/(2σ²)) normalised by its sum, for integer, non-integer
 * and BigInt-rational σ², through the float-filtered path, the all-BigInt path and the
 * filter's exact branch; mean and variance against the pmf's; the Int32 overflow check.
 * Fixed keys; each test states its false-failure probability for a fresh key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CryptoRandom } from '../../src/dp/random.js';
import { dgaussPlan, dgaussSample, discreteGaussian, discreteGaussianOne, discreteLaplaceT } from '../../src/dp/discrete-gaussian.js';
import { chi2Critical, chiSquare, dgaussPmf, meanVar, zUpper } from './stats.js';

const KEY = new Uint8Array(32).map((_, i) => 200 - i);
const rngFor = (label: string) => CryptoRandom.fromKey(KEY, label);

function fit(xs: ArrayLike<number>, sigma2: number): { stat: number; df: number; crit: number } {
  const hi = Math.ceil(10 * Math.sqrt(sigma2)) + 3;
  const r = chiSquare(Array.from(xs, (x) => x + hi), 0, dgaussPmf(sigma2, hi));
  return { ...r, crit: chi2Critical(r.df, 1e-6) };
}

test('χ² of the discrete Gaussian against its exact pmf, σ² = 0.5, 1, 2.3, 25, 1234.56, 1e6 (false failure 1e-6 each)', () => {
  for (const [sigma2, n] of [[0.5, 60_000], [1, 60_000], [2.3, 60_000], [25, 80_000], [1234.56, 100_000], [1e6, 150_000]] as const) {
    const xs = discreteGaussian(rngFor(`chi ${sigma2}`), sigma2, new Int32Array(n));
    const r = fit(xs, sigma2);
    assert.ok(r.stat < r.crit, `σ² = ${sigma2}: χ² = ${r.stat.toFixed(1)} on ${r.df} df, critical ${r.crit.toFixed(1)}`);
  }
});

test('σ² as a BigInt rational { num, den } (7/3): χ² (false failure 1e-6), and the same law as the equal number would give', () => {
  const xs = discreteGaussian(rngFor('rational'), { num: 14n, den: 6n }, new Float64Array(60_000));
  const r = fit(xs, 7 / 3);
  assert.ok(r.stat < r.crit, `χ² = ${r.stat} on ${r.df}`);
  // a dyadic number and its exact fraction produce the identical stream at the same key
  const a = discreteGaussian(rngFor('same'), 2.375, new Int32Array(500));
  const b = discreteGaussian(rngFor('same'), { num: 19n, den: 8n }, new Int32Array(500));
  assert.deepEqual(a, b);
});

test('the all-BigInt path and the float filter\'s exact branch give the same law (χ², false failure 1e-6 each)', () => {
  for (const mode of ['exact', 'widened'] as const) {
    for (const sigma2 of [0.7, 9.5, 400]) {
      const plan = dgaussPlan(sigma2, 't', mode);
      const rng = rngFor(`${mode} ${sigma2}`);
      const xs = Array.from({ length: 15_000 }, () => dgaussSample(rng, plan));
      const r = fit(xs, sigma2);
      assert.ok(r.stat < r.crit, `${mode} σ² = ${sigma2}: χ² = ${r.stat.toFixed(1)} on ${r.df}`);
    }
  }
});

test('σ² beyond 2^53 (every exponent in BigInt): mean and variance (z-tests, false failure 1e-6)', () => {
  const sigma2 = 2 ** 60 + 2 ** 20; // p ≥ 2^53: every exponent in BigInt
  const plan = dgaussPlan(sigma2);
  assert.equal(plan.fast, false);
  const xs = discreteGaussian(rngFor('huge'), sigma2, new Float64Array(20_000));
  const { mean, variance } = meanVar(xs);
  const n = xs.length, z = zUpper(0.25e-6);
  assert.ok(Math.abs(mean) < z * Math.sqrt(sigma2 / n), `mean ${mean}`);
  assert.ok(Math.abs(variance / sigma2 - 1) < z * Math.sqrt(2 / n), `variance ratio ${variance / sigma2}`);
});

test('mean 0 and variance equal to the pmf\'s variance (z-tests at 5.0, false failure 1e-6 each)', () => {
  for (const sigma2 of [0.3, 4, 1e4, 1e10]) {
    const n = 100_000;
    const xs = discreteGaussian(rngFor(`mv ${sigma2}`), sigma2, new Float64Array(n));
    // exact variance of N_Z(0, σ²) from the pmf (below σ² for small σ)
    const hi = Math.ceil(12 * Math.sqrt(sigma2)) + 3;
    const step = Math.max(1, Math.floor(hi / 200_000));
    let z0 = 0, m2 = 0, m4 = 0;
    for (let x = -hi; x <= hi; x += step) {
      const p = Math.exp(-(x * x) / (2 * sigma2));
      z0 += p;
      m2 += p * x * x;
      m4 += p * x ** 4;
    }
    const v = m2 / z0, k4 = m4 / z0;
    const { mean, variance } = meanVar(xs);
    const zc = zUpper(0.25e-6);
    assert.ok(Math.abs(mean) < zc * Math.sqrt(v / n), `σ² = ${sigma2}: mean ${mean}`);
    assert.ok(Math.abs(variance - v) < zc * Math.sqrt((k4 - v * v) / n), `σ² = ${sigma2}: variance ${variance} vs ${v}`);
    if (sigma2 >= 4) assert.ok(Math.abs(v / sigma2 - 1) < 1e-6);
  }
});

test('discrete Laplace (Algorithm 2) with scale t: P(Y = y) ∝ e^{-|y|/t} (χ², false failure 1e-6)', () => {
  for (const t of [1, 3, 50]) {
    const rng = rngFor(`dlap ${t}`);
    const xs = Array.from({ length: 60_000 }, () => discreteLaplaceT(rng, t));
    const hi = 40 * t;
    const pmf = Array.from({ length: 2 * hi + 1 }, (_, i) => Math.exp(-Math.abs(i - hi) / t));
    const r = chiSquare(xs.map((x) => x + hi), 0, pmf);
    assert.ok(r.stat < chi2Critical(r.df, 1e-6), `t = ${t}: ${r.stat} on ${r.df}`);
  }
});

test('discreteGaussianOne draws from the same law; Int32 overflow is refused naming "out"', () => {
  const rng = rngFor('one');
  const xs = Array.from({ length: 40_000 }, () => discreteGaussianOne(rng, 3.1));
  const r = fit(xs, 3.1);
  assert.ok(r.stat < r.crit);
  assert.throws(() => discreteGaussian(rngFor('ovf'), 2 ** 70, new Int32Array(4)), (e: Error) =>
    e instanceof RangeError && /does not fit the Int32Array "out"/.test(e.message) && /use a Float64Array/.test(e.message));
  const f = discreteGaussian(rngFor('ovf'), 2 ** 70, new Float64Array(4));
  assert.ok(f.every((x) => Number.isInteger(x)) && f.some((x) => Math.abs(x) > 2 ** 31));
});
