/**
 * Gaussian noise for central DP (exact lattice noise Δ·N_Z(0, σ_Z²)): mean, variance and a
 * Kolmogorov–Smirnov test against N(0, σ'²) for Float32 and Float64 outputs; every value on
 * the grid Δℤ; σ' ∈ [σ, σ(1 + 2^-b)); addGaussianNoise rounds values to the grid and adds
 * the noise. Fixed keys; each test states its false-failure probability for a fresh key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CryptoRandom } from '../../src/dp/random.js';
import { addGaussianNoise, gaussian, gaussianGrid } from '../../src/dp/gaussian.js';
import { erfc, ksCritical, ksStatistic, meanVar, zUpper } from './stats.js';

const KEY = new Uint8Array(32).map((_, i) => (i * 31 + 9) & 255);
const rngFor = (label: string) => CryptoRandom.fromKey(KEY, label);
const normalCdf = (s: number) => (x: number) => 0.5 * erfc(-x / (s * Math.SQRT2));

test('gaussianGrid: Δ a power of two with σ/Δ in [2^b, 2^(b+1)) and σ ≤ σ\' < σ(1 + 2^-b)', () => {
  for (const sigma of [1, 0.013, 3.7e-5, 1e5, 123456.789, 2 ** 40 + 1]) {
    for (const [kind, b] of [['float32', 16], ['float64', 20]] as const) {
      const { delta, sigmaZ, sigmaEffective } = gaussianGrid(sigma, kind);
      assert.equal(Math.log2(delta), Math.round(Math.log2(delta)));
      assert.ok(sigma / delta >= 2 ** b && sigma / delta < 2 ** (b + 1), `${sigma} ${kind}`);
      assert.ok(Number.isInteger(sigmaZ));
      assert.ok(sigmaEffective >= sigma && sigmaEffective < sigma * (1 + 2 ** -b));
    }
  }
});

test('mean, variance (z-tests) and KS against N(0, σ\'²), Float32 and Float64, σ = 1, 0.013, 2.5e4 (false failure 1e-6 each)', () => {
  for (const sigma of [1, 0.013, 2.5e4]) {
    for (const Arr of [Float32Array, Float64Array]) {
      const n = 40_000;
      const out = gaussian(rngFor(`g ${sigma} ${Arr.name}`), sigma, new Arr(n));
      const s = gaussianGrid(sigma, Arr === Float32Array ? 'float32' : 'float64').sigmaEffective;
      const { mean, variance } = meanVar(out);
      const z = zUpper(1e-6 / 6);
      assert.ok(Math.abs(mean) < z * s / Math.sqrt(n), `σ = ${sigma} ${Arr.name}: mean ${mean}`);
      assert.ok(Math.abs(variance / (s * s) - 1) < z * Math.sqrt(2 / n), `σ = ${sigma} ${Arr.name}: variance ${variance}`);
      // KS against the continuous normal: the lattice step Δ = σ·2^-b adds at most ~Δ/(σ√(2π)) < 1e-5 to D_n
      const d = ksStatistic(out, normalCdf(s));
      assert.ok(d < ksCritical(n, 1e-6 / 3) + 1e-5, `σ = ${sigma} ${Arr.name}: D = ${d}`);
    }
  }
});

test('every noise value is an exact multiple of Δ (the support is the lattice Δℤ, whatever the draw)', () => {
  for (const Arr of [Float32Array, Float64Array]) {
    const sigma = 0.37;
    const { delta } = gaussianGrid(sigma, Arr === Float32Array ? 'float32' : 'float64');
    const out = gaussian(rngFor('grid'), sigma, new Arr(20_000));
    for (const x of out) assert.ok(Number.isInteger(x / delta), `${x} / ${delta}`);
  }
});

test('addGaussianNoise: outputs on the grid, and output − round(value/Δ)·Δ has mean 0 and variance σ\'² (z-tests, false failure 1e-6)', () => {
  const sigma = 0.5, n = 40_000;
  const values = new Float64Array(n).map((_, i) => Math.sin(i) * 3 + 1e-9 * i);
  const before = values.slice();
  addGaussianNoise(rngFor('add'), sigma, values);
  const { delta, sigmaEffective: s } = gaussianGrid(sigma, 'float64');
  const noise = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    assert.ok(Number.isInteger(values[i]! / delta));
    noise[i] = values[i]! - Math.round(before[i]! / delta) * delta;
  }
  const { mean, variance } = meanVar(noise);
  const z = zUpper(0.25e-6);
  assert.ok(Math.abs(mean) < z * s / Math.sqrt(n));
  assert.ok(Math.abs(variance / (s * s) - 1) < z * Math.sqrt(2 / n));
  assert.throws(() => addGaussianNoise(rngFor('add'), 1, new Float64Array([1, NaN])), /"values\[1\]" expected finite, got NaN/);
});
