// The exact accounting of unsampled Gaussian compositions (src/dp/gdp.ts,
// src/dp/accountant.ts): δ(ε) and ε(δ) of μ-GDP against high-precision
// reference values and an independent quadrature, never below the exact
// value; properties against the RDP accountant; which events are exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { gaussianDelta, gaussianEpsilon, gdpMu, gdpMuSquared } from '../../src/dp/gdp.js';
import { PrivacyAccountant } from '../../src/dp/accountant.js';
import { RdpAccountant } from '../../src/dp/rdp-accountant.js';
import { dpFedAvgEpsilon, noiseMultiplierFor } from '../../src/dp/dpfedavg-accounting.js';
import { composed, distributedDiscreteGaussian, gaussianEvent, poissonSampled, sampledWithoutReplacement, selfComposed, skellamEvent } from '../../src/dp/events.js';

// Reference values: mpmath at 60 digits, δ(ε) = ncdf(−ε/μ + μ/2) − exp(ε)·ncdf(−ε/μ − μ/2) and ε(δ) by
// 250 bisection steps on it (the script is in docs/dp-accounting.md, "Exact Gaussian composition").
const DELTA_REF: [mu: number, eps: number, delta: number][] = [
  [0.1, 0, 0.039877611676744925404],
  [0.5, 0.5, 0.052440323287669661712],
  [1, 1, 0.1269367375066439458],
  [1, 3, 0.0015371853694009548469],
  [2, 0, 0.68268949213708589717],
  [2, 4, 0.084953318671071062843],
  [0.05, 0.2, 3.9472432817893421702e-7],
  [5, 10, 0.61662373041021237369],
  [3, 20, 4.2247546167694100861e-8],
  [0.001, 0.01, 7.5120257223582011565e-28],
  [0.3, 5, 2.4655161885115424932e-63],
  [1.666, 8, 9.995364307030868052e-6],
];
const EPS_REF: [mu: number, delta: number, eps: number][] = [
  [1, 1e-5, 4.3771780956812246277],
  [0.5, 1e-6, 2.254084650219740935],
  [2, 1e-5, 9.9972561464343003965],
  [0.1, 1e-3, 0.19753397323971044224],
  [3, 1e-10, 23.048728462006143787],
  [Math.sqrt(15) / 2.4697265625, 1e-5, 7.437370859365041143],
  [Math.sqrt(15) / 2.32470703125, 1e-5, 7.9998759495009552028],
  [10, 1e-5, 91.817289624663744685],
  [0.01, 1e-5, 0.027219419814577136174],
];

test('δ(ε) of μ-GDP: the reference values, never below them (relative 1e-7 above at most)', () => {
  for (const [mu, eps, ref] of DELTA_REF) {
    const d = gaussianDelta(mu, eps);
    assert.ok(d >= ref * (1 - 1e-15), `μ ${mu}, ε ${eps}: ${d} below the exact ${ref}`);
    assert.ok(d <= ref * (1 + 1e-7), `μ ${mu}, ε ${eps}: ${d} too far above ${ref}`);
  }
  assert.equal(gaussianDelta(0, 1), 0);
  assert.equal(gaussianDelta(Infinity, 1), 1);
  assert.equal(gaussianDelta(1, Infinity), 0);
});

test('ε(δ) of μ-GDP: the reference values, never below them (relative 1e-9 above at most)', () => {
  for (const [mu, delta, ref] of EPS_REF) {
    const e = gaussianEpsilon(mu, delta);
    assert.ok(e >= ref * (1 - 1e-15), `μ ${mu}, δ ${delta}: ${e} below the exact ${ref}`);
    assert.ok(e <= ref * (1 + 1e-9), `μ ${mu}, δ ${delta}: ${e} too far above ${ref}`);
    assert.ok(gaussianDelta(mu, e) <= delta, 'the returned ε meets δ');
  }
  assert.equal(gaussianEpsilon(0, 1e-5), 0);
  assert.equal(gaussianEpsilon(Infinity, 1e-5), Infinity);
  assert.equal(gaussianEpsilon(0.1, 0.5), 0, 'δ(0) = erf(μ/(2√2)) ≈ 0.04 is already below δ');
});

// The hockey-stick divergence of N(μ, 1) against N(0, 1), integrated directly (Simpson), without erfc.
function deltaByQuadrature(mu: number, eps: number): number {
  const x0 = eps / mu + mu / 2; // φ(x − μ) ≥ e^ε φ(x) exactly for x ≥ x0
  const n = 200_000, h = 40 / n, c = 1 / Math.sqrt(2 * Math.PI);
  const f = (x: number): number => c * (Math.exp(-((x - mu) ** 2) / 2) - Math.exp(eps - (x * x) / 2));
  let s = f(x0) + f(x0 + 40);
  for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * f(x0 + i * h);
  return (s * h) / 3;
}

test('δ(ε) agrees with a direct quadrature of the privacy loss on random (μ, ε)', () => {
  fc.assert(
    fc.property(fc.double({ min: 0.2, max: 4, noNaN: true }), fc.double({ min: 0, max: 8, noNaN: true }), (mu, eps) => {
      const q = deltaByQuadrature(mu, eps);
      fc.pre(q > 1e-10);
      const d = gaussianDelta(mu, eps);
      return Math.abs(d - q) <= 1e-8 * q;
    }),
    { seed: 25, numRuns: 30 },
  );
});

test('properties: δ falls with ε and rises with μ; the exact ε is never above the RDP bound of the same composition', () => {
  fc.assert(
    fc.property(fc.double({ min: 0.05, max: 5, noNaN: true }), fc.double({ min: 0, max: 20, noNaN: true }), fc.double({ min: 0.01, max: 2, noNaN: true }), (mu, eps, step) =>
      gaussianDelta(mu, eps + step) <= gaussianDelta(mu, eps) && gaussianDelta(mu, eps) <= gaussianDelta(mu * (1 + step), eps)),
    { seed: 25, numRuns: 200 },
  );
  fc.assert(
    fc.property(fc.double({ min: 0.5, max: 20, noNaN: true }), fc.integer({ min: 1, max: 200 }), fc.double({ min: -10, max: -2, noNaN: true }), (z, T, logDelta) => {
      const delta = 10 ** logDelta;
      const rdp = new RdpAccountant().compose(selfComposed(gaussianEvent(z), T)).getEpsilon(delta).epsilon;
      const exact = gaussianEpsilon(Math.sqrt(T) / z, delta);
      return exact <= rdp && gaussianDelta(Math.sqrt(T) / z, exact) <= delta;
    }),
    { seed: 25, numRuns: 60 },
  );
});

test('which events are exact Gaussian compositions (μ²), and which are not (null)', () => {
  const g = gaussianEvent(2);
  assert.equal(gdpMuSquared(g), 0.25);
  assert.equal(gdpMuSquared(selfComposed(g, 15)), 15 / 4);
  assert.equal(gdpMuSquared(composed([g, gaussianEvent(4), selfComposed(g, 0)])), 0.25 + 1 / 16);
  assert.equal(gdpMuSquared(poissonSampled(1, g)), 0.25, 'q = 1: every record, no subsampling');
  assert.equal(gdpMuSquared(poissonSampled(0, g)), 0, 'q = 0: nothing released');
  assert.equal(gdpMuSquared(poissonSampled(0.999, g)), null, 'any subsampling: not a Gaussian composition');
  assert.equal(gdpMuSquared(poissonSampled(1, g), 'replace-one'), null, 'Poisson sampling is accounted under add/remove only');
  assert.equal(gdpMuSquared(sampledWithoutReplacement(10, 10, g), 'replace-one'), 0.25);
  assert.equal(gdpMuSquared(sampledWithoutReplacement(10, 9, g), 'replace-one'), null);
  assert.equal(gdpMuSquared(sampledWithoutReplacement(10, 10, g)), null, 'fixed size is accounted under replace-one only');
  assert.equal(gdpMuSquared(selfComposed(poissonSampled(0.5, g), 3)), null);
  assert.equal(gdpMuSquared(composed([g, distributedDiscreteGaussian({ sigma: 10, clients: 2, l2Sensitivity: 1, dimension: 4 })])), null, 'discrete mechanisms are not Gaussian');
  assert.equal(gdpMuSquared(skellamEvent({ mu: 10, l2Sensitivity: 1, dimension: 4 })), null);
  assert.equal(gdpMu(gaussianEvent(0)), Infinity, 'no noise: ε = ∞');
  assert.equal(gaussianEpsilon(gdpMu(gaussianEvent(0))!, 1e-5), Infinity);
  assert.equal(gdpMu(selfComposed(gaussianEvent(3), 9)), 1);
});

test('PrivacyAccountant: exact while nothing is subsampled, then never again; the reading names its bound', () => {
  const acc = new PrivacyAccountant();
  acc.compose(poissonSampled(1, gaussianEvent(2.5)), 10);
  let r = acc.getEpsilon(1e-5);
  assert.equal(r.accountant, 'gdp');
  assert.ok(Number.isNaN(r.order));
  assert.equal(r.mu, Math.sqrt(10) / 2.5);
  assert.equal(r.epsilon, gaussianEpsilon(Math.sqrt(10) / 2.5, 1e-5));
  assert.ok(r.epsilon < acc.rdp.getEpsilon(1e-5).epsilon);
  acc.compose(poissonSampled(0.5, gaussianEvent(2.5)));
  r = acc.getEpsilon(1e-5);
  assert.equal(r.accountant, 'pld', 'subsampled: the PLD, below RDP here');
  assert.equal(acc.mu, null);
  assert.ok(r.epsilon <= acc.rdp.getEpsilon(1e-5).epsilon);
  acc.compose(poissonSampled(1, gaussianEvent(2.5)));
  assert.notEqual(acc.getEpsilon(1e-5).accountant, 'gdp', 'once a subsampled event is composed, never exact again');

  // 'rdp' mode; an unsupported event leaves both states unchanged
  const rdpOnly = new PrivacyAccountant({ accountant: 'rdp' }).compose(gaussianEvent(2), 4);
  assert.equal(rdpOnly.getEpsilon(1e-5).accountant, 'rdp');
  const fixed = new PrivacyAccountant();
  assert.throws(() => fixed.compose(sampledWithoutReplacement(10, 10, gaussianEvent(1))), /replace-one/);
  assert.equal(fixed.mu, 0);
  assert.throws(() => new PrivacyAccountant({ accountant: 'pld' as never }), /"accountant" expected 'best' or 'rdp'/);
});

test('DP-FedAvg at q = 1 reads the exact composition: z for (8, 1e-5) over 15 rounds is 6% below the RDP one', () => {
  const exact = noiseMultiplierFor({ q: 1, rounds: 15, delta: 1e-5, targetEpsilon: 8, relativeTolerance: 1e-6 });
  const rdp = noiseMultiplierFor({ q: 1, rounds: 15, delta: 1e-5, targetEpsilon: 8, relativeTolerance: 1e-6, accountant: 'rdp' });
  assert.equal(exact.accountant, 'gdp');
  assert.equal(rdp.accountant, 'rdp');
  // the exact smallest z (mpmath, 50 digits): 2.32467720053606863
  assert.ok(exact.noiseMultiplier >= 2.3246772005360686 && exact.noiseMultiplier <= 2.3246772005360686 * (1 + 2e-6), String(exact.noiseMultiplier));
  assert.ok(rdp.noiseMultiplier > 2.46 && rdp.noiseMultiplier < 2.48);
  // subsampled: not a Gaussian composition (the PLD or RDP bound, test/dp/pld.test.ts)
  const sub = dpFedAvgEpsilon({ q: 0.5, rounds: 30, delta: 1e-5, noiseMultiplier: 1.9534 });
  assert.notEqual(sub.accountant, 'gdp');
  assert.ok(sub.epsilon <= dpFedAvgEpsilon({ q: 0.5, rounds: 30, delta: 1e-5, noiseMultiplier: 1.9534, accountant: 'rdp' }).epsilon);
  // fixed size of everyone (replace-one, z relative to 2C) is unsampled too
  const all = dpFedAvgEpsilon({ q: 1, rounds: 4, delta: 1e-5, noiseMultiplier: 3, sampling: 'fixed-size', population: 10 });
  assert.equal(all.accountant, 'gdp');
  assert.equal(all.epsilon, gaussianEpsilon(2 / 3, 1e-5));
});
