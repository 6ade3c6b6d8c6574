/**
 * The wasm samplers (src/dp/wasm-samplers.ts) against the TypeScript reference: for the
 * same CryptoRandom stream, the same samples and the same stream position afterwards, on
 * random keys and parameters (fast-check), across many 64 KiB word windows, through the
 * replayed cases (the dgauss filter's exact branch forced, BigInt plans, the Poisson bit
 * buffer carried in and out); the distribution tests (χ², variance) over the wasm path;
 * `exactNoise`, the pipeline's NoiseSource over the exact samplers. Needs `npm run build`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CryptoRandom, NotCryptoRandomError } from '../../src/dp/random.js';
import { dgaussPlan, dgaussSample, discreteGaussian } from '../../src/dp/discrete-gaussian.js';
import { poisson, skellam } from '../../src/dp/poisson.js';
import { discreteGaussianWasm, dpSamplersWasmAvailable, poissonWasm, skellamWasm } from '../../src/dp/wasm-samplers.js';
import { exactNoise } from '../../src/dp/exact-noise.js';
import { chi2Critical, chiSquare, dgaussPmf, meanVar, poissonPmf, skellamPmf, zUpper } from './stats.js';

const KEY = new Uint8Array(32).map((_, i) => (i * 29 + 11) & 255);
const rngFor = (label: string, key = KEY) => CryptoRandom.fromKey(key, label);

test('the wasm kernel is built (npm run build)', () => {
  assert.ok(dpSamplersWasmAvailable(), 'dist/wasm/dp-samplers.wasm is missing');
});

/** The next few draws of two streams agree (same position, same bit buffer). */
function sameState(a: CryptoRandom, b: CryptoRandom, msg: string): void {
  for (let i = 0; i < 3; i++) assert.equal(a.bit(), b.bit(), `${msg}: bit ${i}`);
  for (let i = 0; i < 3; i++) assert.equal(a.uint32(), b.uint32(), `${msg}: word ${i}`);
}

test('discrete Gaussian: wasm = TypeScript sample for sample, and the same stream position, σ² from 0.3 to 1e12 and 7/3', () => {
  for (const s2 of [0.3, 1, 2.3, 25, 1234.56, 6.6e5, 1e9, 1e12]) {
    const n = s2 > 1e6 ? 20_000 : 60_000; // about 14-18 words each: many 16 Ki-word windows
    const a = rngFor(`g ${s2}`), b = rngFor(`g ${s2}`);
    const x = discreteGaussian(a, s2, new Int32Array(n));
    const y = discreteGaussianWasm(b, s2, new Int32Array(n));
    assert.deepEqual(y, x, `σ² = ${s2}`);
    sameState(a, b, `σ² = ${s2}`);
  }
  const a = rngFor('r'), b = rngFor('r');
  assert.deepEqual(discreteGaussianWasm(b, { num: 14n, den: 6n }, new Float64Array(5000)), discreteGaussian(a, { num: 14n, den: 6n }, new Float64Array(5000)));
  sameState(a, b, '7/3');
});

test('discrete Gaussian: every sample replayed in TypeScript (the filter\'s exact branch forced), and a BigInt plan', () => {
  const plan = dgaussPlan(9.5, 't', 'widened');
  const a = rngFor('w'), b = rngFor('w');
  const x = Array.from({ length: 3000 }, () => dgaussSample(a, plan));
  const y = discreteGaussianWasm(b, 9.5, new Int32Array(3000), 'widened');
  assert.deepEqual(Array.from(y), x);
  sameState(a, b, 'widened');
  const s2 = 2 ** 60 + 2 ** 20; // not `fast`: TypeScript throughout
  const c = rngFor('big'), d = rngFor('big');
  assert.deepEqual(discreteGaussianWasm(d, s2, new Float64Array(300)), discreteGaussian(c, s2, new Float64Array(300)));
  sameState(c, d, 'BigInt');
});

test('Poisson and Skellam: wasm = TypeScript for μ from 0.05 to 2^40, with the bit buffer carried across calls', () => {
  for (const mu of [0.05, 0.3, 1, 3.7, 17.5, 50, 1e3, 3.3e5, 1e8, 2 ** 40]) {
    const n = mu > 1e6 ? 8000 : 25_000;
    for (const [f, g] of [[poisson, poissonWasm], [skellam, skellamWasm]] as const) {
      const a = rngFor(`p ${mu}`), b = rngFor(`p ${mu}`);
      // a bit drawn first: the buffer holds 31 bits when the sampler starts
      assert.equal(a.bit(), b.bit());
      const x = f(a, mu, new Float64Array(n)), x2 = f(a, mu, new Float64Array(777));
      const y = g(b, mu, new Float64Array(n)), y2 = g(b, mu, new Float64Array(777));
      assert.deepEqual(y, x, `${f.name} μ = ${mu}`);
      assert.deepEqual(y2, x2, `${f.name} μ = ${mu} (second call)`);
      sameState(a, b, `${f.name} μ = ${mu}`);
    }
  }
  assert.deepEqual(Array.from(skellamWasm(rngFor('z'), 0, new Int32Array(4))), [0, 0, 0, 0]);
});

test('random keys and parameters (fast-check): wasm = TypeScript for dgauss, Poisson and Skellam', () => {
  fc.assert(fc.property(
    fc.uint8Array({ minLength: 32, maxLength: 32 }),
    fc.double({ min: 0.01, max: 1e10, noNaN: true }),
    fc.integer({ min: 1, max: 3000 }),
    (key, param, n) => {
      const a = rngFor('fc', key), b = rngFor('fc', key);
      // (poisson first: the dgauss kernel must hand the bit buffer back untouched)
      assert.deepEqual(poissonWasm(b, param, new Float64Array(n)), poisson(a, param, new Float64Array(n)));
      assert.deepEqual(discreteGaussianWasm(b, param, new Float64Array(n)), discreteGaussian(a, param, new Float64Array(n)));
      assert.deepEqual(skellamWasm(b, param, new Float64Array(n)), skellam(a, param, new Float64Array(n)));
      assert.deepEqual(poissonWasm(b, param / 3, new Float64Array(n)), poisson(a, param / 3, new Float64Array(n)));
      sameState(a, b, 'fc');
    },
  ), { numRuns: 40 });
});

test('wasm path: χ² of the discrete Gaussian (σ² = 0.5, 25, 1e6), Poisson (μ = 0.3, 7, 1e5) and Skellam (μ = 3.7, 50) (false failure 1e-6 each)', () => {
  for (const s2 of [0.5, 25, 1e6]) {
    const hi = Math.ceil(10 * Math.sqrt(s2)) + 3;
    const xs = discreteGaussianWasm(rngFor(`chi g ${s2}`), s2, new Int32Array(80_000));
    const r = chiSquare(Array.from(xs, (x) => x + hi), 0, dgaussPmf(s2, hi));
    assert.ok(r.stat < chi2Critical(r.df, 1e-6), `σ² = ${s2}: χ² = ${r.stat.toFixed(1)} on ${r.df}`);
  }
  for (const mu of [0.3, 7, 1e5]) {
    const hi = Math.ceil(mu + 12 * Math.sqrt(mu) + 20);
    const xs = poissonWasm(rngFor(`chi p ${mu}`), mu, new Int32Array(80_000));
    const r = chiSquare(xs, 0, poissonPmf(mu, hi));
    assert.ok(r.stat < chi2Critical(r.df, 1e-6), `μ = ${mu}: χ² = ${r.stat.toFixed(1)} on ${r.df}`);
  }
  for (const mu of [3.7, 50]) {
    const hi = Math.ceil(12 * Math.sqrt(2 * mu) + 10);
    const xs = skellamWasm(rngFor(`chi s ${mu}`), mu, new Int32Array(50_000));
    const r = chiSquare(Array.from(xs, (x) => x + hi), 0, skellamPmf(mu, hi));
    assert.ok(r.stat < chi2Critical(r.df, 1e-6), `μ = ${mu}: χ² = ${r.stat.toFixed(1)} on ${r.df}`);
  }
});

test('σ² with a large denominator (659053.1234567 = p/2^32, as ddpParams gives: |Y|·t·q passes 2^53 for |Y| > 2582, the rounded-a filter): χ² for TypeScript and wasm (false failure 1e-6 each)', () => {
  const s2 = 659053.1234567;
  assert.ok(dgaussPlan(s2).tq * 2582 < 2 ** 53 && dgaussPlan(s2).tq * 2583 > 2 ** 53);
  const hi = Math.ceil(10 * Math.sqrt(s2)) + 3;
  for (const f of [discreteGaussian, discreteGaussianWasm]) {
    const xs = f(rngFor(`chi big-q ${f.name}`), s2, new Int32Array(100_000));
    const r = chiSquare(Array.from(xs, (x) => x + hi), 0, dgaussPmf(s2, hi));
    assert.ok(r.stat < chi2Critical(r.df, 1e-6), `${f.name}: χ² = ${r.stat.toFixed(1)} on ${r.df}`);
  }
});

test('wasm path at distributed DP\'s noise levels: variance of dgauss (σ² = 6.6e5) and Skellam (μ = 3.3e5) (z-tests, false failure 1e-6 each)', () => {
  const n = 131_072, z = zUpper(0.25e-6);
  const g = meanVar(discreteGaussianWasm(rngFor('v g'), 6.6e5, new Int32Array(n)));
  // variance of the sample variance ≈ 2σ⁴/n (the discrete Gaussian's kurtosis is the Gaussian's to 1e-100 here)
  assert.ok(Math.abs(g.mean) < z * Math.sqrt(6.6e5 / n), `dgauss mean ${g.mean}`);
  assert.ok(Math.abs(g.variance - 6.6e5) < z * Math.sqrt((2 * 6.6e5 ** 2) / n), `dgauss variance ${g.variance}`);
  const mu = 3.3e5, v = 2 * mu;
  const s = meanVar(skellamWasm(rngFor('v s'), mu, new Int32Array(n)));
  assert.ok(Math.abs(s.mean) < z * Math.sqrt(v / n), `skellam mean ${s.mean}`);
  assert.ok(Math.abs(s.variance - v) < z * Math.sqrt((2 * mu + 2 * v * v) / n), `skellam variance ${s.variance}`);
});

test('the wasm samplers refuse non-CSPRNG sources and bad arguments, naming them', () => {
  for (const f of [discreteGaussianWasm, skellamWasm, poissonWasm] as const) {
    assert.throws(() => f(Math.random as unknown as CryptoRandom, 1, new Int32Array(1)), (e: unknown) => e instanceof NotCryptoRandomError && e.argument === 'rng');
    assert.throws(() => f(rngFor('x'), 1, new Uint32Array(1) as unknown as Int32Array), /"out"/);
    assert.throws(() => f(rngFor('x'), -1, new Int32Array(1)), /"(sigma2|mu)"/);
  }
  // a sample beyond int32 in an Int32Array "out" (σ = 2^40: replayed in TypeScript, which refuses it)
  assert.throws(() => discreteGaussianWasm(rngFor('o'), 2 ** 80, new Int32Array(10)), /does not fit the Int32Array "out"/);
});

test('exactNoise: the pipeline\'s NoiseSource over the exact samplers, wasm = ts, coins = the stream\'s words', () => {
  assert.throws(() => exactNoise({ uint32: () => 4 } as unknown as CryptoRandom), (e: unknown) => e instanceof NotCryptoRandomError && e.argument === 'rng');
  assert.throws(() => exactNoise(rngFor('x'), { backend: 'gpu' as 'ts' }), /"backend"/);
  const w = exactNoise(rngFor('n'), { backend: 'wasm' }), t = exactNoise(rngFor('n'), { backend: 'ts' });
  assert.equal(w.csprng, true);
  assert.equal(exactNoise(rngFor('n')).backend, 'wasm');
  const out = () => [new Int32Array(3000), new Int32Array(3000)] as const;
  const [a1, b1] = out(), [a2, b2] = out();
  w.dgauss(a1, 6.6e5); t.dgauss(b1, 6.6e5);
  w.skellam(a2, 3.3e5); t.skellam(b2, 3.3e5);
  assert.deepEqual(a1, b1);
  assert.deepEqual(a2, b2);
  const u = new Uint32Array(40_000), ref = rngFor('u');
  exactNoise(rngFor('u')).randomUint32(u);
  for (let i = 0; i < u.length; i++) assert.equal(u[i], ref.uint32());
});
