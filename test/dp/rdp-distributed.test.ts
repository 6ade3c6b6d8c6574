// RDP of the distributed discrete mechanisms and of Poisson-subsampled
// non-Gaussian mechanisms ([ZW19] Theorem 5).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RdpAccountant } from '../../src/dp/rdp-accountant.js';
import { distributedDiscreteGaussian, gaussianEvent, poissonSampled, selfComposed, skellamEvent } from '../../src/dp/events.js';
import { ddgTau, integerL1NormBound, rdpDistributedDiscreteGaussian, rdpSkellam, roundedL2NormBound } from '../../src/dp/rdp-distributed.js';
import { rdpPoissonGaussian, rdpPoissonSubsampledGeneric } from '../../src/dp/rdp-subsampled.js';

const near = (got: number, want: number, rel = 1e-12) => assert.ok(Math.abs(got - want) <= rel * Math.abs(want), `${got} vs ${want}`);

test('one client (τ = 0) is the discrete Gaussian: RDP α·Δ²/(2σ²) ([CKS20]; [DPA] test_discrete_gaussian_rdp: α = 3.14159, σ = 5, Δ = 2)', () => {
  assert.equal(ddgTau(5, 1), 0);
  const ev = distributedDiscreteGaussian({ sigma: 5, clients: 1, l2Sensitivity: 2, dimension: 1000 });
  near(rdpDistributedDiscreteGaussian(ev, 3.14159), (3.14159 * 4) / (2 * 25));
  const acc = new RdpAccountant({ orders: [3.14159] });
  acc.compose(ev);
  const g = new RdpAccountant({ orders: [3.14159] });
  g.compose(gaussianEvent(5 / 2));
  near(acc.rdp[0]!, g.rdp[0]!);
});

test('[KLS21] Theorem 1 τ: n = 2, σ = 1 gives 10·e^(−π²); n = 3 adds 10·e^(−4π²/3)', () => {
  near(ddgTau(1, 2), 10 * Math.exp(-Math.PI * Math.PI));
  near(ddgTau(1, 3), 10 * Math.exp(-Math.PI * Math.PI) + 10 * Math.exp((-4 * Math.PI * Math.PI) / 3));
  near(ddgTau(1, 2), 5.172318e-4, 1e-6); // e^(−π²) = 5.172318e-5
});

test('[KLS21] Prop. 14: the three bounds, each the minimum in some regime', () => {
  const terms = (sigma: number, n: number, l2: number, l1: number, d: number, a: number) => {
    const tau = ddgTau(sigma, n);
    const s = Math.sqrt(n) * sigma;
    return [
      (a / 2) * (l2 / s) ** 2 + tau * d,
      (a / 2) * ((l2 / s) ** 2 + (2 * l1 * tau) / s + tau * tau * d),
      (a / 2) * (l2 / s + Math.sqrt(d) * tau) ** 2,
    ];
  };
  const regimes: [number, number, number, number, number, number, number][] = [
    // σ, n, Δ2, Δ1, d, α, index of the smallest term
    [0.5, 10, 4, 8, 16, 2, 0], // large τ, small d: the additive τ·d bound
    [0.6, 10, 40, 60, 1000, 2, 1], // large Δ2, moderate Δ1: the L1 bound
    // Δ1 = √d·Δ2 (the default with no better L1 bound), tiny τ, huge d: the squared
    // bound (equal to the L1 one then; since Δ1 ≤ √d·Δ2 it never beats it strictly)
    [2, 2, 1, 1000, 1e6, 1.5, 2],
  ];
  for (const [sigma, n, l2, l1, d, a, which] of regimes) {
    const t = terms(sigma, n, l2, l1, d, a);
    assert.equal(Math.min(...t), t[which], `regime ${which}: ${t}`);
    if (which > 0) assert.ok(t[0]! > t[which]!, `regime ${which}: ${t}`);
    near(rdpDistributedDiscreteGaussian({ sigma, clients: n, l2Sensitivity: l2, l1Sensitivity: l1, dimension: d }, a), t[which]!);
  }
  // with large σ the sum behaves as one Gaussian of variance nσ²
  const wide = distributedDiscreteGaussian({ sigma: 20, clients: 50, l2Sensitivity: 100, dimension: 10_000 });
  near(rdpDistributedDiscreteGaussian(wide, 10), (10 * 100 * 100) / (2 * 50 * 400), 1e-9);
});

test('[AKL21] Skellam RDP: hand-computed value; tends to the Gaussian of variance μ', () => {
  // μ = 100, Δ2 = 2, Δ1 = 3, α = 4: 4·4/200 + min((7·4 + 18)/(4·100²), 9/200) = 0.08 + 0.00115
  near(rdpSkellam({ mu: 100, l2Sensitivity: 2, l1Sensitivity: 3 }, 4), 0.08115);
  // small μ: the second branch, 3Δ1/(2μ)
  near(rdpSkellam({ mu: 2, l2Sensitivity: 10, l1Sensitivity: 30 }, 8), (8 * 100) / 4 + 45 / 2);
  const huge = skellamEvent({ mu: 1e12, l2Sensitivity: 1000, dimension: 1 << 16 });
  near(rdpSkellam(huge, 5), (5 * 1e6) / 2e12, 1e-4);
  assert.equal(huge.l1Sensitivity, 1000 * Math.min(256, 1000));
});

test('[ZW19] Theorem 5 bound: an upper bound on the exact subsampled Gaussian, equal at α = 2, never above the unsampled RDP', () => {
  for (const q of [1e-3, 0.01, 0.1, 0.5]) {
    for (const z of [0.5, 1, 4]) {
      for (const a of [2, 3, 7, 20, 64]) {
        const exact = rdpPoissonGaussian(q, z, a);
        const zw = rdpPoissonSubsampledGeneric(q, a, (x) => x / (2 * z * z));
        assert.ok(zw >= exact * (1 - 1e-10) - 1e-15, `q=${q} z=${z} α=${a}: ${zw} < exact ${exact}`);
        assert.ok(zw <= a / (2 * z * z) * (1 + 1e-15));
        if (a === 2) assert.ok(Math.abs(zw - exact) <= 1e-15 + 1e-9 * exact);
      }
    }
  }
  // the bound itself at α = 3 (and ⌈2.5⌉ = 3), written out: ε(x) = x/2, γ = 0.1
  const g = 0.1;
  const e = (x: number) => x / 2;
  const want = Math.log((1 - g) ** 2 * (3 * g - g + 1) + 3 * g * g * (1 - g) * Math.exp(e(2)) + 3 * g ** 3 * Math.exp(2 * e(3))) / 2;
  near(rdpPoissonSubsampledGeneric(g, 3, e), want, 1e-12);
  near(rdpPoissonSubsampledGeneric(g, 2.5, e), Math.min(want, e(2.5)), 1e-12);
  assert.equal(rdpPoissonSubsampledGeneric(0, 5, (x) => x), 0);
  assert.equal(rdpPoissonSubsampledGeneric(1, 5, (x) => x), 5);
});

test('accountant: Poisson-sampled distributed events (q·ε(α) scaling in the small-q regime), flagged as Poisson', () => {
  const ev = distributedDiscreteGaussian({ sigma: 10, clients: 100, l2Sensitivity: 50, dimension: 1 << 16 });
  const orders = [1.5, 2, 4, 8, 16, 32];
  const full = new RdpAccountant({ orders });
  full.compose(ev);
  const sampled = new RdpAccountant({ orders });
  sampled.compose(selfComposed(poissonSampled(0.01, ev), 1));
  const one = new RdpAccountant({ orders });
  one.compose(poissonSampled(1, ev));
  orders.forEach((_, i) => {
    assert.ok(sampled.rdp[i]! < full.rdp[i]!);
    near(one.rdp[i]!, full.rdp[i]!);
  });
  assert.deepEqual([...sampled.samplingSchemes], ['poisson']);
  const sk = new RdpAccountant();
  sk.compose(poissonSampled(0.05, skellamEvent({ mu: 1e6, l2Sensitivity: 300, dimension: 1000 })), 200);
  const { epsilon } = sk.getEpsilon(1e-5);
  assert.ok(epsilon > 0 && Number.isFinite(epsilon));
});

test('[KLS21] rounding inflation: β = 0 gives c + √d; β > 0 the tighter conditional bound when d is large', () => {
  assert.equal(roundedL2NormBound(100, 0, 10_000), 200);
  // c = 100, d = 10000, β = e^(−0.5): √(2·0.5) = 1 → √(10000 + 2500 + 150) = √12650
  near(roundedL2NormBound(100, Math.exp(-0.5), 10_000), Math.sqrt(12650));
  // small d: the unconditional bound is the smaller one
  near(roundedL2NormBound(100, 1e-9, 4), 102);
  assert.equal(integerL1NormBound(10, 10_000), 100);
  assert.equal(integerL1NormBound(1000, 100), 10_000);
  assert.throws(() => roundedL2NormBound(1, 1, 4), /"beta"/);
  assert.throws(() => integerL1NormBound(1, 0), /"dimension"/);
});
