// The privacy loss distribution of the Poisson-subsampled Gaussian (src/dp/pld.ts) and its use by
// PrivacyAccountant: never below the exact δ (pessimistic), within the grid's rounding of it, and
// never above the RDP bound where it is read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import erfc from '@stdlib/math-base-special-erfc';
import { composePld, pldDelta, pldEpsilon, selfComposePld, subsampledGaussianPld } from '../../src/dp/pld.js';
import { gaussianEpsilon } from '../../src/dp/gdp.js';
import { PrivacyAccountant } from '../../src/dp/accountant.js';
import { RdpAccountant } from '../../src/dp/rdp-accountant.js';
import { dpFedAvgEpsilon } from '../../src/dp/dpfedavg-accounting.js';
import { composed, gaussianEvent, poissonSampled, sampledWithoutReplacement, selfComposed } from '../../src/dp/events.js';

const H = 1e-4;
const S = (x: number) => 0.5 * erfc(x / Math.SQRT2); // P(N(0,1) > x)

/** The exact δ(ε) of ONE subsampled Gaussian in one direction (the loss is monotone in x: one tail of each law). */
function exactOne(q: number, z: number, eps: number, dir: 'remove' | 'add'): number {
  // remove: L(x) = log(1 − q + q e^{(2x−1)/(2z²)}) > ε ⇔ x > x_ε; add: −L(x) > ε ⇔ x < x'_ε
  const xAt = (v: number) => (v <= Math.log1p(-q) ? -Infinity : z * z * Math.log((Math.exp(v) - (1 - q)) / q) + 0.5);
  const mixSf = (x: number) => (1 - q) * S(x / z) + q * S((x - 1) / z);
  if (dir === 'remove') {
    const x = xAt(eps);
    return mixSf(x) - Math.exp(eps) * S(x / z);
  }
  const x = xAt(-eps);
  if (x === -Infinity) return 0;
  return S(-x / z) - Math.exp(eps) * (1 - mixSf(x));
}

test('one subsampled Gaussian: the discretized δ(ε) is at least the exact one and at most the exact one at ε − h', () => {
  for (const [q, z] of [[0.5, 1.5], [0.01, 1], [0.2, 0.8], [1, 2]] as const) {
    for (const dir of ['remove', 'add'] as const) {
      const p = subsampledGaussianPld(q, z, dir, { h: H });
      let mass = p.infinity;
      for (const v of p.pmf) mass += v;
      assert.ok(Math.abs(mass - 1) < 1e-12, `q ${q} z ${z} ${dir}: mass ${mass}`);
      for (const eps of [0, 0.05, 0.3, 1, 2.5]) {
        const d = pldDelta(p, eps), lo = exactOne(q, z, eps, dir), hi = exactOne(q, z, eps - H, dir);
        assert.ok(d >= lo * (1 - 1e-9) - 1e-15, `q ${q} z ${z} ${dir} ε ${eps}: ${d} below the exact ${lo}`);
        assert.ok(d <= hi * (1 + 1e-9) + 1e-14, `q ${q} z ${z} ${dir} ε ${eps}: ${d} above the exact at ε − h, ${hi}`);
      }
    }
  }
});

// Two runs: δ(ε) by scipy's dblquad over (x1, x2) of E_P[(1 − e^{ε − L(x1) − L(x2)})₊] (the script is in
// docs/dp-accounting.md, "PLD"), at ε and at ε − 2h.
const TWO: [q: number, z: number, eps: number, dir: 'remove' | 'add', atEps: number, atEpsMinus2h: number][] = [
  [0.5, 1.5, 1.0, 'remove', 0.01329392968771344, 0.0133025797103583],
  [0.5, 1.5, 1.0, 'add', 6.960986931461589e-05, 6.993059396332028e-05],
  [0.5, 1.5, 2.0, 'remove', 0.00029949164911650044, 0.00029974984568892685],
  [0.2, 1.0, 1.5, 'remove', 0.0012940947797626093, 0.0012949171170600084],
];

test('two runs composed by FFT: δ(ε) between the numerically integrated δ at ε and at ε − 2h', () => {
  for (const [q, z, eps, dir, at, below] of TWO) {
    const one = subsampledGaussianPld(q, z, dir, { h: H });
    const two = composePld(one, one);
    const d = pldDelta(two, eps);
    assert.ok(d >= at * (1 - 1e-7), `q ${q} z ${z} ε ${eps} ${dir}: ${d} below ${at}`);
    assert.ok(d <= below * (1 + 1e-7), `q ${q} z ${z} ε ${eps} ${dir}: ${d} above ${below}`);
    assert.ok(Math.abs(pldDelta(selfComposePld(one, 2), eps) - d) <= 1e-13);
  }
});

test('q = 1: T runs give at least the exact Gaussian composition ε, and at most T·h more', () => {
  for (const [z, T] of [[2.4697265625, 15], [1, 4], [5, 40]] as const) {
    const e = Math.max(...(['remove', 'add'] as const).map((dir) => pldEpsilon(selfComposePld(subsampledGaussianPld(1, z, dir), T), 1e-5)));
    const exact = gaussianEpsilon(Math.sqrt(T) / z, 1e-5);
    assert.ok(e >= exact, `z ${z} T ${T}: ${e} below the exact ${exact}`);
    assert.ok(e <= exact + T * H + 1e-6, `z ${z} T ${T}: ${e} more than T·h above ${exact}`);
  }
});

test('PrivacyAccountant reads the PLD for Poisson-subsampled Gaussians where it is below RDP, and says so', () => {
  // the lead's DP-FedAvg probe: q 0.5, z 1.9534, 30 rounds: RDP 8.0, PLD 7.33
  const r = dpFedAvgEpsilon({ q: 0.5, rounds: 30, delta: 1e-5, noiseMultiplier: 1.953369140625 });
  const rdp = dpFedAvgEpsilon({ q: 0.5, rounds: 30, delta: 1e-5, noiseMultiplier: 1.953369140625, accountant: 'rdp' });
  assert.equal(r.accountant, 'pld');
  assert.equal(rdp.accountant, 'rdp');
  assert.ok(r.epsilon < rdp.epsilon - 0.5 && r.epsilon > 7, `${r.epsilon} against RDP ${rdp.epsilon}`);
  assert.ok(Number.isNaN(r.order));

  // composing round by round gives the same ε as composing the rounds at once
  const acc = new PrivacyAccountant();
  for (let i = 0; i < 5; i++) acc.compose(poissonSampled(0.3, gaussianEvent(1.2)));
  const once = new PrivacyAccountant().compose(selfComposed(poissonSampled(0.3, gaussianEvent(1.2)), 5));
  const a = acc.getEpsilon(1e-5), b = once.getEpsilon(1e-5);
  assert.equal(a.accountant, 'pld');
  assert.ok(Math.abs(a.epsilon - b.epsilon) < 5 * H, `${a.epsilon} against ${b.epsilon}`);
  assert.ok(a.epsilon <= new RdpAccountant().compose(selfComposed(poissonSampled(0.3, gaussianEvent(1.2)), 5)).getEpsilon(1e-5).epsilon);

  // an adaptive round (values and clipped count composed inside one sampling) is one Gaussian at z_eff
  const adaptive = new PrivacyAccountant().compose(poissonSampled(0.5, composed([gaussianEvent(2), gaussianEvent(4)])), 3).getEpsilon(1e-5);
  const zEff = (2 ** -2 + 4 ** -2) ** -0.5;
  const same = new PrivacyAccountant().compose(poissonSampled(0.5, gaussianEvent(zEff)), 3).getEpsilon(1e-5);
  assert.equal(adaptive.accountant, 'pld');
  assert.ok(Math.abs(adaptive.epsilon - same.epsilon) < 1e-9);

  // not a Poisson-sampled Gaussian (replace-one fixed size): RDP
  const fixed = new PrivacyAccountant({ neighboringRelation: 'replace-one' }).compose(sampledWithoutReplacement(100, 10, gaussianEvent(1)), 10).getEpsilon(1e-5);
  assert.equal(fixed.accountant, 'rdp');
  // a tiny q over many runs: the grid's rounding (runs·h) exceeds RDP's slack, and RDP is read
  const many = dpFedAvgEpsilon({ q: 0.0025, rounds: 6000, delta: 1e-5, noiseMultiplier: 1.3 });
  assert.equal(many.accountant, 'rdp');
  assert.throws(() => new PrivacyAccountant({ pldGrid: 0 }), /"pldGrid" expected a number in \(0, 0.1\]/);
});
