/**
 * Exact Poisson and Skellam: χ² against the Poisson pmf (normalised by its sum) for small and
 * large means, through the float-filtered and the all-BigInt acceptance; the float filter's
 * error bound against the exact BigInt ratio; the envelope constant K; Skellam χ² against the
 * convolution of two Poisson pmfs, variance 2μ, and sums of n Skellam(μ) against Skellam(nμ).
 * Fixed keys; each test states its false-failure probability for a fresh key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CryptoRandom } from '../../src/dp/random.js';
import { lnRatio, poisson, poissonOne, poissonPlan, poissonSample, skellam, skellamOne } from '../../src/dp/poisson.js';
import { rangeProduct } from '../../src/dp/rational.js';
import { chi2Critical, chiSquare, meanVar, poissonPmf, skellamPmf, zUpper } from './stats.js';

const KEY = new Uint8Array(32).map((_, i) => (i * 13 + 5) & 255);
const rngFor = (label: string) => CryptoRandom.fromKey(KEY, label);

function poissonFit(xs: ArrayLike<number>, mu: number): { stat: number; df: number; crit: number } {
  const hi = Math.ceil(mu + 12 * Math.sqrt(mu) + 20);
  const r = chiSquare(xs, 0, poissonPmf(mu, hi));
  return { ...r, crit: chi2Critical(r.df, 1e-6) };
}

test('Poisson χ² for small and large means: 0.05, 0.3, 1, 2.5, 7, 30.25, 1e3, 1e5, 1e7 (false failure 1e-6 each)', () => {
  for (const mu of [0.05, 0.3, 1, 2.5, 7, 30.25, 1e3, 1e5, 1e7]) {
    const xs = poisson(rngFor(`p ${mu}`), mu, new Int32Array(mu >= 1e5 ? 150_000 : 60_000));
    const r = poissonFit(xs, mu);
    assert.ok(r.stat < r.crit, `μ = ${mu}: χ² = ${r.stat.toFixed(1)} on ${r.df} df, critical ${r.crit.toFixed(1)}`);
  }
});

test('Poisson with every acceptance decided in BigInt (no float filter) has the same law (χ², false failure 1e-6 each)', () => {
  for (const mu of [0.4, 6.5, 2000]) {
    const plan = poissonPlan(mu, 't', true);
    const rng = rngFor(`exact ${mu}`);
    const xs = Array.from({ length: 12_000 }, () => poissonSample(rng, plan));
    const r = poissonFit(xs, mu);
    assert.ok(r.stat < r.crit, `μ = ${mu}: χ² = ${r.stat.toFixed(1)} on ${r.df}`);
  }
});

test('Poisson with a BigInt-rational mean {num, den}: χ² (false failure 1e-6); mean 0 gives zeros', () => {
  const xs = poisson(rngFor('rat'), { num: 100n, den: 7n }, new Float64Array(50_000));
  const r = poissonFit(xs, 100 / 7);
  assert.ok(r.stat < r.crit);
  assert.deepEqual(Array.from(poisson(rngFor('z'), 0, new Int32Array(5))), [0, 0, 0, 0, 0]);
  assert.equal(poissonOne(rngFor('z'), { num: 0n, den: 3n }), 0);
});

/** ln of a positive rational a/b to ~1e-16 relative of ln(a/b) (scaled BigInt quotient). */
function lnRational(a: bigint, b: bigint): number {
  const shift = BigInt(a.toString(2).length - b.toString(2).length - 60);
  const q = shift >= 0n ? (a / (b << shift)) : ((a << -shift) / b);
  return Math.log(Number(q)) + Number(shift) * Math.LN2;
}

test('the float filter: ln(P(k)/P(m)) is within a tenth of its stated error bound of the exact BigInt value', () => {
  const rng = rngFor('filter');
  let worst = 0;
  for (const mu of [0.3, 7.5, 17.9, 18.2, 1234.5, 1e6 + 0.125, 2 ** 35 + 0.25]) {
    const plan = poissonPlan(mu);
    const r = plan.mu;
    const ks = new Set<number>([0, 1, 17, 18, 19, plan.m + 1, Math.max(0, plan.m - 1)]);
    for (let i = 0; i < 25; i++) ks.add(Math.max(0, plan.m + (rng.int(2 * 12 * plan.w + 1) - 12 * plan.w)));
    for (const k of ks) {
      if (Math.abs(k - plan.m) > 40_000) continue; // keeps the exact products small
      const m = BigInt(plan.m), kb = BigInt(k);
      let num: bigint, den: bigint;
      if (kb >= m) {
        num = r.num ** (kb - m);
        den = r.den ** (kb - m) * rangeProduct(m + 1n, kb);
      } else {
        num = rangeProduct(kb + 1n, m) * r.den ** (m - kb);
        den = r.num ** (m - kb);
      }
      const exact = lnRational(num, den);
      const [v, tol] = lnRatio(plan, k);
      worst = Math.max(worst, Math.abs(v - exact) / Math.max(tol, 1e-300));
      assert.ok(Math.abs(v - exact) <= tol / 10, `μ = ${mu}, k = ${k}: ${v} vs ${exact} (tol ${tol})`);
    }
  }
  if (process.env['DP_VERBOSE']) console.log(`largest |error| / bound: ${worst}`);
});

test('the envelope constant K bounds 2^j·P(m ± j·w)/P(m) for every block j (so the acceptance never exceeds 1)', () => {
  for (const mu of [0.05, 1, 3.3, 18.5, 500, 1e6]) {
    const plan = poissonPlan(mu);
    const K = Number(plan.kNum) / 2 ** 20;
    assert.ok(K >= 1);
    for (let j = 1; j <= 60; j++) {
      for (const k of [plan.m + j * plan.w, plan.m - j * plan.w]) {
        if (k < 0) continue;
        const [lr, tol] = lnRatio(plan, k);
        assert.ok(j * Math.LN2 + lr + tol < Math.log(K), `μ = ${mu}, j = ${j}, k = ${k}`);
      }
    }
  }
});

test('Skellam χ² against the convolution of two Poisson pmfs, μ = 0.2, 3.7, 50 (false failure 1e-6 each)', () => {
  for (const mu of [0.2, 3.7, 50]) {
    const xs = skellam(rngFor(`s ${mu}`), mu, new Int32Array(50_000));
    const hi = Math.ceil(12 * Math.sqrt(2 * mu) + 10);
    const r = chiSquare(Array.from(xs, (x) => x + hi), 0, skellamPmf(mu, hi));
    assert.ok(r.stat < chi2Critical(r.df, 1e-6), `μ = ${mu}: χ² = ${r.stat.toFixed(1)} on ${r.df}`);
  }
});

test('Skellam: mean 0 and variance 2μ for μ = 1e4, 1e8 (z-tests, false failure 1e-6 each)', () => {
  for (const mu of [1e4, 1e8]) {
    const n = 60_000;
    const xs = skellam(rngFor(`sv ${mu}`), mu, new Float64Array(n));
    const { mean, variance } = meanVar(xs);
    const v = 2 * mu, z = zUpper(0.25e-6);
    // var of the sample variance: (κ4 + 2v²)/n with κ4 = 2μ the Skellam fourth cumulant
    assert.ok(Math.abs(mean) < z * Math.sqrt(v / n), `μ = ${mu}: mean ${mean}`);
    assert.ok(Math.abs(variance - v) < z * Math.sqrt((2 * mu + 2 * v * v) / n), `μ = ${mu}: variance ${variance}`);
  }
});

test('the sum of n Skellam(μ) is Skellam(nμ): χ² of sums of 10 Skellam(2.5) and of 4 Skellam(1e3/3) (false failure 1e-6 each)', () => {
  for (const [n, mu] of [[10, 2.5], [4, { num: 1000n, den: 3n }]] as const) {
    const muF = typeof mu === 'number' ? mu : Number(mu.num) / Number(mu.den);
    const rng = rngFor(`sum ${n}`);
    const sums = new Int32Array(30_000);
    const one = new Int32Array(n);
    for (let i = 0; i < sums.length; i++) {
      skellam(rng, mu, one);
      sums[i] = one.reduce((a, b) => a + b, 0);
    }
    const hi = Math.ceil(12 * Math.sqrt(2 * n * muF) + 10);
    const r = chiSquare(Array.from(sums, (x) => x + hi), 0, skellamPmf(n * muF, hi));
    assert.ok(r.stat < chi2Critical(r.df, 1e-6), `n = ${n}: χ² = ${r.stat.toFixed(1)} on ${r.df}`);
  }
});

test('skellamOne draws from the same law (χ², false failure 1e-6)', () => {
  const rng = rngFor('sone');
  const xs = Array.from({ length: 30_000 }, () => skellamOne(rng, 6));
  const hi = 80;
  const r = chiSquare(xs.map((x) => x + hi), 0, skellamPmf(6, hi));
  assert.ok(r.stat < chi2Critical(r.df, 1e-6));
});
