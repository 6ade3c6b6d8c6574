/**
 * The noise of distributed DP, measured:
 *
 * - the aggregate's error (result minus the exact clipped sum) has, per
 *   coordinate, the variance the configuration states: σ_central² = (z c)²
 *   times n_plan / n_expected, plus what the (test-only) noise source adds
 *   beyond the configured variance and the rounding variance (at most
 *   n / (4 s²)) — all stated in scaled units and divided by s². Unrotation
 *   is orthogonal, so the error's d coordinates are uncorrelated with that
 *   variance; for a Gaussian-like error the sample variance of d = 4000 of
 *   them has relative standard deviation sqrt(2/d) = 2.2%, and the test
 *   accepts within 6 of those (two-sided false-failure probability ~2e-9
 *   per check, 5 checks);
 * - the wrap rate of the modular clipping at the computed scale, in the
 *   worst case for the heuristic (every client sends the same update of norm
 *   c: the rotated signal adds up coherently): the count of wrapped
 *   coordinates among N is at most the 1e-6 upper quantile of
 *   Binomial(N, modclipProb), i.e. the rate is not above modclipProb
 *   (false-failure probability <= 1e-6 when the true rate is <= modclipProb).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TensorType } from '../../src/core/types.js';
import { checkPlan } from '../../src/aggregation/plan.js';
import { referenceRoles } from '../../src/aggregation/reference.js';
import { simulateRoles } from '../../src/aggregation/simulate.js';
import { distributedDp, encodeUpdate } from '../../src/dp/distributed.js';
import { countWraps } from '../../src/dp/modclip.js';
import { rotationSeed } from '../../src/dp/rotation.js';
import { testNoise, varianceOf } from './test-noise.js';

const d = 4000;
const policy = { minContributors: 1, allowInsecure: true };

/** Smallest q with P(Binomial(N, p) >= q) <= alpha (a one-sided upper limit), by summing the pmf. */
function binomialUpper(N: number, p: number, alpha: number): number {
  let pmf = Math.pow(1 - p, N);
  let cdf = pmf;
  for (let k = 0; k < N; k++) {
    if (1 - cdf <= alpha) return k + 1;
    pmf *= ((N - k) / (k + 1)) * (p / (1 - p));
    cdf += pmf;
  }
  return N;
}

describe('distributed DP noise', () => {
  for (const [mechanism, rotation, nPlan, nExpected] of [
    ['dgauss', 'hadamard', 8, 8],
    ['skellam', 'hadamard', 8, 8],
    ['dgauss', 'dft', 8, 8],
    ['skellam', 'dft', 8, 8],
    ['skellam', 'hadamard', 4, 8],
  ] as const) {
    it(`${mechanism}, ${rotation}, ${nPlan} of ${nExpected} expected clients: the aggregate's variance is the configured central σ²`, async () => {
      const z = 1.3, clip = 0.5;
      const noise = testNoise(`variance ${mechanism} ${rotation} ${nPlan}`);
      const ddp = distributedDp({ mechanism, rotation, bits: 20, clip, noiseMultiplier: z, expectedClients: nExpected, noise });
      const roles = ddp.over(referenceRoles());
      const clients = Array.from({ length: nPlan }, (_, i) => `c${i}`);
      const plan = checkPlan({ protocol: roles.name, invocationId: `var/${mechanism}/${rotation}/${nPlan}`, uri: 'federated_sum_at_aggregators', target: 'SERVER', leaves: [{ path: '', type: new TensorType('float32', [d]), size: d }], clients, aggregators: roles.aggregatorNames, server: 'server', params: roles.params });
      const xs = clients.map((_, k) => Float32Array.from({ length: d }, (_, i) => Math.sin(i * (k + 1)) * 0.02));
      const want = new Float64Array(d);
      for (const x of xs) {
        let n2 = 0;
        for (const v of x) n2 += v * v;
        const f = Math.min(1, clip / Math.sqrt(n2));
        x.forEach((v, i) => (want[i]! += v * f));
      }
      const r = await simulateRoles(roles, plan, xs.map((x) => ({ values: [x] })), { policy });
      const got = r.result.leaves[0] as Float64Array;
      let s1 = 0, s2 = 0;
      for (let i = 0; i < d; i++) {
        const e = got[i]! - want[i]!;
        s1 += e;
        s2 += e * e;
      }
      const variance = s2 / d;
      const p = ddp.params(d);
      const central = (z * clip) ** 2 * (nPlan / nExpected);
      const local = mechanism === 'dgauss' ? varianceOf('dgauss', p.localVariance) : varianceOf('skellam', p.skellamMu);
      const drawn = (nPlan * local) / p.scale ** 2;
      // the configured σ², exactly what the source draws, and the rounding's share on top (at most n/4 s²)
      assert.ok(Math.abs(drawn / central - 1) < 1e-3, `the source draws ${drawn}, configured ${central}`);
      const lo = drawn * (1 - 6 * Math.sqrt(2 / d)), hi = (drawn + nPlan / (4 * p.scale ** 2)) * (1 + 6 * Math.sqrt(2 / d));
      assert.ok(variance >= lo && variance <= hi, `variance ${variance} outside [${lo}, ${hi}] (central σ² ${central})`);
      assert.ok(Math.abs(s1 / d) <= 6 * Math.sqrt(hi / d), `mean error ${s1 / d}`);
      // the statement every party checks: z_eff = sqrt(n_plan (σ_local s)²) / Δ2
      const st = ddp.transform.statement(plan);
      assert.ok(Math.abs(st.noiseMultiplier - (Math.sqrt(central) * p.scale) / p.scaledInflatedL2) < 1e-9 * st.noiseMultiplier);
      assert.ok(st.noiseMultiplier < z * Math.sqrt(nPlan / nExpected), 'the inflated sensitivity lowers the effective multiplier');
    });
  }

  it('a client counts its local wraps and sends the residues of its noised values', () => {
    const ddp = distributedDp({ mechanism: 'dgauss', bits: 8, clip: 1, noiseMultiplier: 1, expectedClients: 4 });
    // a scale 50 times the computed one (test only): the client's own values leave the 8-bit range
    const p0 = ddp.params(256);
    const p = { ...p0, scale: p0.scale * 50, scaledInflatedL2: p0.scaledInflatedL2 * 51 };
    const r = encodeUpdate(p, Float64Array.from({ length: 256 }, (_, i) => Math.sin(i)), rotationSeed('local wraps'), testNoise('local wraps'));
    assert.equal(r.wraps, countWraps(r.noised, 8));
    assert.ok(r.wraps > 0);
    r.residues.forEach((v, i) => assert.ok(v >= 0 && v < 256 && (v - r.noised[i]!) % 256 === 0, `residue ${i}`));
  });

  it('wrap rate at the computed scale is at most modclipProb (worst case: aligned updates)', () => {
    const rows: string[] = [];
    for (const [mechanism, rotation, modclipProb] of [
      ['skellam', 'hadamard', 1e-2],
      ['dgauss', 'dft', 1e-2],
      ['skellam', 'dft', 1e-4],
    ] as const) {
      const n = 16, D = 4096, trials = modclipProb >= 1e-2 ? 2 : 16;
      const ddp = distributedDp({ mechanism, rotation, bits: 12, clip: 1, noiseMultiplier: 0.5, expectedClients: n, modclipProb });
      const p = ddp.params(D);
      const noise = testNoise(`wraps ${mechanism} ${rotation} ${modclipProb}`);
      const x = Float64Array.from({ length: D }, (_, i) => Math.cos(i * 0.37 + 1) + 0.3);
      let wraps = 0;
      for (let t = 0; t < trials; t++) {
        const seed = rotationSeed(`wraps/${t}`);
        const sum = new Float64Array(p.paddedDim);
        for (let c = 0; c < n; c++) encodeUpdate(p, x, seed, noise).noised.forEach((v, i) => (sum[i]! += v));
        wraps += countWraps(sum, p.bits);
      }
      const N = trials * p.paddedDim;
      const limit = binomialUpper(N, modclipProb, 1e-6);
      rows.push(`${mechanism}/${rotation}: ${wraps}/${N} = ${(wraps / N).toExponential(2)} (modclipProb ${modclipProb}, limit ${limit})`);
      assert.ok(wraps < limit, rows.at(-1));
    }
    // (the measured rates, for the report)
    console.log(`# wrap rates: ${rows.join('; ')}`);
  });
});
