import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADAPTIVE_DEFAULTS, ADAPTIVE_NOISE_RULE, AdaptiveNoiseError, adaptiveNoiseParams, belowIndicator, quantileStep } from '../../src/dp/quantile.js';
import { gaussianAdaptiveParams, gaussianFixedParams, centralNoiseStd, dpDenominator, meanNoiseStd } from '../../src/dp/central-params.js';
import { TestCsprng } from './central-helpers.js';

test("TFF's defaults", () => {
  assert.deepEqual({ ...ADAPTIVE_DEFAULTS }, { initialClip: 0.1, targetQuantile: 0.5, learningRate: 0.2, clippedCountStddevPerClient: 0.05 });
  const p = gaussianAdaptiveParams({ noiseMultiplier: 1, clientsPerRound: 100, noiseAt: 'server' });
  assert.equal(p.clip, 0.1);
  assert.equal(p.targetQuantile, 0.5);
  assert.equal(p.learningRate, 0.2);
  assert.equal(p.clippedCountStddev, 5);
});

test('value noise multiplier z_v = (z^-2 - (2 sigma_b)^-2)^(-1/2), hand-computed', () => {
  // z = 1, n = 100: sigma_b = 5, z_v = (1 - 1/100)^(-1/2)
  const a = adaptiveNoiseParams(1, 100);
  assert.equal(a.clippedCountStddev, 5);
  assert.ok(Math.abs(a.valueNoiseMultiplier - 1.005037815259212) < 1e-15, `z_v ${a.valueNoiseMultiplier}`);
  // z = 0.5, sigma_b = 5: (4 - 0.01)^(-1/2)
  assert.ok(Math.abs(adaptiveNoiseParams(0.5, 7, 5).valueNoiseMultiplier - 0.5006261743217588) < 1e-15, 'z_v at z = 0.5, sigma_b = 5');
  // z = 0: no noise anywhere
  assert.deepEqual(adaptiveNoiseParams(0, 100), { noiseMultiplier: 0, valueNoiseMultiplier: 0, clippedCountStddev: 0 });
  // the raised multiplier is above z
  assert.ok(a.valueNoiseMultiplier > 1, 'z_v > z');
});

test('parameters where z_v is undefined are refused with the rule named', () => {
  // n = 10: sigma_b = 0.5, 2 sigma_b = 1 = z
  assert.throws(() => adaptiveNoiseParams(1, 10), (e: unknown) => e instanceof AdaptiveNoiseError && e.rule === ADAPTIVE_NOISE_RULE && /noiseMultiplier < 2 \* clippedCountStddev/.test(e.message));
  assert.throws(() => adaptiveNoiseParams(1, 100, 0), AdaptiveNoiseError);
  assert.throws(() => gaussianAdaptiveParams({ noiseMultiplier: 3, clientsPerRound: 20, noiseAt: 'server' }), AdaptiveNoiseError);
  assert.throws(() => adaptiveNoiseParams(-1, 10), /"noiseMultiplier" expected a finite number >= 0, got -1/);
  assert.throws(() => adaptiveNoiseParams(1, 0), /"clientsPerRound" expected a finite number > 0, got 0/);
});

test("the geometric update C' = C exp(-eta (b - gamma)) on hand-computed steps", () => {
  // 10 expected clients, 8 below the clip (sum of b - 1/2 = 3), noise +0.5: b = 3.5/10 + 0.5 = 0.85
  const s = quantileStep({ clip: 0.1, noisedBelowSum: 3.5, expectedClients: 10, targetQuantile: 0.5, learningRate: 0.2 });
  assert.ok(Math.abs(s.belowFraction - 0.85) < 1e-15, `b ${s.belowFraction}`);
  assert.ok(Math.abs(s.nextClip - 0.09323938199059484) < 1e-17, `C' ${s.nextClip}`);
  // clamped to [0, 1]: b = 1, C' = 0.1 exp(-0.1)
  const hi = quantileStep({ clip: 0.1, noisedBelowSum: 20, expectedClients: 10, targetQuantile: 0.5, learningRate: 0.2 });
  assert.equal(hi.belowFraction, 1);
  assert.ok(Math.abs(hi.nextClip - 0.09048374180359596) < 1e-17, `C' ${hi.nextClip}`);
  // b = 0: the clip grows by exp(eta gamma)
  const lo = quantileStep({ clip: 2, noisedBelowSum: -9, expectedClients: 10, targetQuantile: 0.5, learningRate: 0.2 });
  assert.equal(lo.belowFraction, 0);
  assert.ok(Math.abs(lo.nextClip - 2 * Math.exp(0.1)) < 1e-15, `C' ${lo.nextClip}`);
  // at the target: unchanged
  assert.equal(quantileStep({ clip: 0.7, noisedBelowSum: 0, expectedClients: 10, targetQuantile: 0.5, learningRate: 0.2 }).nextClip, 0.7);
  assert.equal(belowIndicator(1, 1), 0.5);
  assert.equal(belowIndicator(1.0000001, 1), -0.5);
});

/**
 * Convergence: norms i.i.d. Exponential(1) (quantile gamma at -ln(1 - gamma)), 100 expected clients per round
 * (Poisson-varying count: 100 drawn each round, no matter), TFF's default noise sigma_b = 5 on the count,
 * eta = 0.2, from C = 0.1, 400 rounds, fixed seed. The geometric mean of the clip over the last 200 rounds has
 * F(C) within 0.05 of gamma. (The estimator's stationary jitter: sd of b per round ~0.07, so the mean of log C over
 * 200 rounds moves F(C) by ~0.01; 0.05 is > 4 of those: false-failure probability < 1e-4 per seed, and the seed is fixed.)
 */
for (const gamma of [0.5, 0.8]) {
  test(`the estimator converges to the target quantile ${gamma} (Exponential(1) norms, sigma_b = 0.05 n)`, () => {
    const rng = new TestCsprng(`quantile-${gamma}`);
    const n = 100;
    const sigmaB = 0.05 * n;
    let C = 0.1;
    let logSum = 0;
    const rounds = 400;
    const noise = new Float64Array(1);
    for (let r = 0; r < rounds; r++) {
      let S = 0;
      for (let i = 0; i < n; i++) S += belowIndicator(-Math.log(1 - rng.uniform()), C);
      rng.gaussian(noise, sigmaB);
      C = quantileStep({ clip: C, noisedBelowSum: S + noise[0]!, expectedClients: n, targetQuantile: gamma, learningRate: 0.2 }).nextClip;
      if (r >= rounds / 2) logSum += Math.log(C);
    }
    const Cbar = Math.exp(logSum / (rounds / 2));
    const F = 1 - Math.exp(-Cbar);
    if (process.env.DP_VERBOSE) console.log(`gamma ${gamma}: F(C) = ${F}, C = ${Cbar}`);
    assert.ok(Math.abs(F - gamma) < 0.05, `F(C) = ${F} at C = ${Cbar}, target ${gamma}`);
  });
}

test('central noise std zC and the fixed denominator (expected clients, not realised)', () => {
  const p = gaussianFixedParams({ noiseMultiplier: 1.3, clip: 0.5, clientsPerRound: 40, noiseAt: 'server' });
  assert.equal(centralNoiseStd(p, p.clip), 1.3 * 0.5);
  assert.equal(dpDenominator(p), 40);
  assert.equal(meanNoiseStd(p, p.clip), (1.3 * 0.5) / 40);
  assert.throws(() => gaussianFixedParams({ noiseMultiplier: 1, clip: 0, clientsPerRound: 4, noiseAt: 'server' }), /"clip" expected a finite number > 0/);
  assert.throws(() => gaussianFixedParams({ noiseMultiplier: 1, clip: 1, clientsPerRound: 4, noiseAt: 'everywhere' as 'server' }), /"noiseAt" expected 'server' or 'aggregators'/);
});
