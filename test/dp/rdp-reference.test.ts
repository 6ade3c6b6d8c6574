// The RDP accountant against published reference values.
//
// Sources (read for the numbers only):
// - [TFP] tensorflow/privacy, tensorflow_privacy/privacy/analysis/compute_dp_sgd_privacy_test.py
//   at 03035d5d4a271ac795dab80f5bc1cef82fc3d462 (`test_compute_dp_sgd_privacy`,
//   `test_compute_dp_sgd_example_privacy`); the library it tests
//   (compute_dp_sgd_privacy_lib.py) composes SelfComposed(PoissonSampled(q,
//   Gaussian(z)), steps) in dp_accounting's RdpAccountant.
// - [TFP-old] tensorflow/privacy, tensorflow_privacy/privacy/analysis/rdp_accountant_test.py
//   at 38fe4aa984ca5da36416c8b5b4197fbad105b020 (before its removal in favour of dp_accounting).
// - [TFP-noise] tensorflow/privacy, tensorflow_privacy/privacy/analysis/compute_noise_from_budget_test.py
//   at 03035d5d4a271ac795dab80f5bc1cef82fc3d462: target ε values computed with the classic conversion.
// - [DPA] google/differential-privacy, python/dp_accounting/dp_accounting/rdp/rdp_privacy_accountant_test.py
//   at b5b0286e313b64a692abfc8c528d54ef47d960a0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RdpAccountant,
  TF_PRIVACY_ORDERS,
  DP_ACCOUNTING_DEFAULT_ORDERS,
} from '../../src/dp/rdp-accountant.js';
import { gaussianEvent, poissonSampled, sampledWithoutReplacement, selfComposed } from '../../src/dp/events.js';
import { rdpPoissonGaussian, rdpSampledWorGaussian } from '../../src/dp/rdp-subsampled.js';
import { epsilonFromRdp, epsilonFromRdpClassic, deltaFromRdp } from '../../src/dp/rdp-conversion.js';

function dpSgdEpsilon(q: number, z: number, steps: number, delta: number, orders?: readonly number[]) {
  const acc = new RdpAccountant({ orders });
  acc.compose(selfComposed(q === 1 ? gaussianEvent(z) : poissonSampled(q, gaussianEvent(z)), steps));
  return acc.getEpsilon(delta);
}

test('issue 16 table, rows 1-3 ([TFP] test_compute_dp_sgd_privacy Test0-2): TF Privacy orders, |Δε| ≤ 1e-9 (row 3 relative)', () => {
  // Test0: n = 60000, batch 150, z = 1.3, 15 epochs → q = 0.0025, steps = ceil(15·60000/150) = 6000.
  const r0 = dpSgdEpsilon(150 / 60000, 1.3, Math.ceil((15 * 60000) / 150), 1e-5, TF_PRIVACY_ORDERS);
  assert.ok(Math.abs(r0.epsilon - 0.7242234026109595) <= 1e-9, `row 1: ${r0.epsilon}`);
  assert.equal(r0.order, 19);
  // Test1: n = 100000, batch 100, z = 1.0, 30 epochs → q = 0.001, steps = 30000.
  const r1 = dpSgdEpsilon(100 / 100000, 1.0, Math.ceil((30 * 100000) / 100), 1e-7, TF_PRIVACY_ORDERS);
  assert.ok(Math.abs(r1.epsilon - 1.4154988495444842) <= 1e-9, `row 2: ${r1.epsilon}`);
  assert.equal(r1.order, 13);
  // Test2: n = 1e8, batch 1024, z = 0.1, 10 epochs → steps = ceil(976562.5) = 976563.
  const steps2 = Math.ceil((10 * 1e8) / 1024);
  assert.equal(steps2, 976563);
  const r2 = dpSgdEpsilon(1024 / 1e8, 0.1, steps2, 1e-7, TF_PRIVACY_ORDERS);
  assert.ok(Math.abs(r2.epsilon - 5907982.3113984) / 5907982.3113984 <= 1e-9, `row 3: ${r2.epsilon}`);
  assert.equal(r2.order, 1.25);
});

test('[TFP-noise] the same RDP through the classic conversion (Mironov 2017 Prop. 3) gives TF Privacy\'s older ε values (9 digits given)', () => {
  const cases: [number, number, number, number, number][] = [
    // n, batch, z, epochs, δ → ε (Test0-2)
    [60000, 150, 1.3, 15, 1e-5, 0.941870567],
    [100000, 100, 1.0, 30, 1e-7, 1.70928734],
    [100000000, 1024, 0.1, 10, 1e-7, 5907984.81339406],
  ].map(([n, b, z, e, d, eps]) => [b! / n!, z!, Math.ceil((e! * n!) / b!), d!, eps!]);
  for (const [q, z, steps, delta, want] of cases) {
    const acc = new RdpAccountant({ orders: TF_PRIVACY_ORDERS });
    acc.compose(selfComposed(poissonSampled(q, gaussianEvent(z)), steps));
    const got = epsilonFromRdpClassic(acc.orders, acc.rdp, delta).epsilon;
    assert.ok(Math.abs(got - want) <= 5e-9 * Math.max(1, want), `q=${q}: ${got} vs ${want}`);
    assert.ok(acc.getEpsilon(delta).epsilon < got, 'the improved conversion is tighter');
  }
});

test('issue 16 table, rows 4-5 ([TFP] test_compute_dp_sgd_example_privacy, RDP, no microbatching): dp_accounting default orders, at the precision given (|Δε| ≤ 5e-8)', () => {
  // 1.2 epochs, z = 0.7, δ = 1e-5. With q = 0.01: steps = ceil(1.2/0.01) = 120.
  assert.equal(Math.ceil(1.2 / 0.01), 120);
  const r4 = dpSgdEpsilon(0.01, 0.7, 120, 1e-5);
  assert.ok(Math.abs(r4.epsilon - 3.2392676) <= 5e-8, `row 4: ${r4.epsilon}`);
  // Without sampling: steps = ceil(1.2) = 2 Gaussian releases.
  const r5 = dpSgdEpsilon(1, 0.7, 2, 1e-5);
  assert.ok(Math.abs(r5.epsilon - 10.8602036) <= 5e-8, `row 5: ${r5.epsilon}`);
});

test('default order lists are the references\' lists', () => {
  assert.equal(DP_ACCOUNTING_DEFAULT_ORDERS.length, 99 + 53 + 4);
  assert.equal(DP_ACCOUNTING_DEFAULT_ORDERS[0], 1.1);
  assert.equal(DP_ACCOUNTING_DEFAULT_ORDERS[98], 10.9);
  assert.deepEqual(DP_ACCOUNTING_DEFAULT_ORDERS.slice(99, 101), [11, 12]);
  assert.deepEqual(DP_ACCOUNTING_DEFAULT_ORDERS.slice(-5), [63, 128, 256, 512, 1024]);
  assert.equal(TF_PRIVACY_ORDERS.length, 10 + 59 + 3);
  assert.deepEqual(TF_PRIVACY_ORDERS.slice(0, 11), [1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5, 5]);
  assert.deepEqual(TF_PRIVACY_ORDERS.slice(-4), [63, 128, 256, 512]);
  assert.deepEqual(new RdpAccountant().orders, DP_ACCOUNTING_DEFAULT_ORDERS);
});

test('[DPA] test_compute_rdp_poisson_sampled_gaussian: z = 2.5, q = 0.01, 50 steps (rtol 1e-4 there; 1e-8 here on its 9 digits)', () => {
  const orders = [1.5, 2.5, 5, 50, 100, Infinity];
  const acc = new RdpAccountant({ orders });
  acc.compose(selfComposed(poissonSampled(0.01, gaussianEvent(2.5)), 50));
  const want = [6.70579741e-4, 1.0854871e-3, 2.18075656e-3, 2.38460375e-2, 1.67416308e2, Infinity];
  const got = acc.rdp;
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-8 * want[i]!, `order ${orders[i]}: ${got[i]} vs ${want[i]}`);
  assert.equal(got[5], Infinity);
});

test('[TFP-old] test_compute_rdp_sequence_without_replacement: fixed-size sampling, q = 0.01, z = 2.5, 50 steps (rtol 1e-4)', () => {
  const orders = [1.001, 1.5, 2.5, 5, 50, 100, 256, 512, 1024, Infinity];
  const acc = new RdpAccountant({ orders, neighboringRelation: 'replace-one' });
  acc.compose(selfComposed(sampledWithoutReplacement(10000, 100, gaussianEvent(2.5)), 50));
  const want = [3.4701e-3, 3.4701e-3, 4.6386e-3, 8.7634e-3, 9.8474e-2, 1.6776e2, 7.9297e2, 1.8174e3, 3.8656e3, Infinity];
  const got = acc.rdp;
  for (let i = 0; i < 9; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-4 * want[i]!, `order ${orders[i]}: ${got[i]} vs ${want[i]}`);
  assert.equal(got[9], Infinity);
  assert.deepEqual([...acc.samplingSchemes], ['fixed-size']);
});

test('[TFP-old] scalar, no-data and no-sampling cases', () => {
  // test_compute_rdp_scalar: compute_rdp(q=0.1, z=2, steps=10, order=5) ≈ 0.07737 (5 places).
  assert.ok(Math.abs(10 * rdpPoissonGaussian(0.1, 2, 5) - 0.07737) < 5e-6);
  // test_compute_rdp_no_data / no_sampling.
  assert.equal(rdpPoissonGaussian(0, 10, 20), 0);
  assert.equal(rdpPoissonGaussian(1, 10, 20), 0.1);
  assert.equal(rdpSampledWorGaussian(0, 10, 20), 0);
  assert.equal(rdpSampledWorGaussian(1, 10, 20), 0.1);
});

test('[DPA]/[TFP-old] conversion, pure DP: orders 2..32, RDP ≡ 1.1 → ε = 1.32783806176 at order 32, and back to δ = 1e-5', () => {
  const orders = Array.from({ length: 31 }, (_, i) => 2 + i);
  const rdp = orders.map(() => 1.1);
  const e = epsilonFromRdp(orders, rdp, 1e-5);
  assert.ok(Math.abs(e.epsilon - 1.32783806176) < 5e-8, String(e.epsilon));
  assert.equal(e.order, 32);
  const d = deltaFromRdp(orders, rdp, 1.32783806176);
  assert.ok(Math.abs(d.delta - 1e-5) < 5e-8, String(d.delta));
  assert.equal(d.order, 32);
});

test('[DPA] test_compute_epsilon_delta_gaussian: z = 4.530877117 gives (1, 1e-6) on the orders 1.000..99.999', () => {
  const orders = Array.from({ length: 99000 }, (_, i) => 0.001 * (i + 1000));
  const rdp = orders.map((a) => rdpPoissonGaussian(1, 4.530877117, a));
  assert.ok(Math.abs(epsilonFromRdp(orders, rdp, 1e-6).epsilon - 1) < 5e-8);
  assert.ok(Math.abs(deltaFromRdp(orders, rdp, 1).delta - 1e-6) < 5e-8);
});

test('[DPA] test_delta_bounds_gaussian: exact Gaussian δ ≤ RDP δ ≤ the standard bound', () => {
  // Exact δ of the Gaussian mechanism with z = 1 (Balle & Wang 2018, Theorem 8):
  // δ₀(ε) = Φ(−ε + 1/2) − e^ε Φ(−ε − 1/2), here via erfc.
  const orders = Array.from({ length: 495 }, (_, i) => 0.1 * (i + 10));
  const rdp = orders.map((a) => rdpPoissonGaussian(1, 1, a));
  for (let k = 0; k < 500; k++) {
    const eps = 0.1 * k;
    const { delta } = deltaFromRdp(orders, rdp, eps);
    const delta0 = erfcApprox((eps - 0.5) / Math.SQRT2) / 2 - (Math.exp(eps) * erfcApprox((eps + 0.5) / Math.SQRT2)) / 2;
    assert.ok(delta0 <= delta * (1 + 1e-9) + 1e-300, `ε=${eps}: exact ${delta0} > ${delta}`);
    const delta1 = eps >= 0.5 ? Math.exp(-0.5 * (eps - 0.5) ** 2) : 1;
    assert.ok(delta <= delta1 + 1e-300, `ε=${eps}: ${delta} > standard ${delta1}`);
  }
});

// erfc by its continued fraction / series (an oracle independent of @stdlib), ~1e-13 relative.
function erfcApprox(x: number): number {
  if (x < 0) return 2 - erfcApprox(-x);
  if (x < 2) {
    // erf(x) = 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1))
    let term = x;
    let sum = x;
    for (let n = 1; n < 100; n++) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // Lentz continued fraction: erfc(x) = e^(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))
  let f = x;
  for (let k = 200; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

test('[DPA] test_epsilon_delta_consistency: getDelta(getEpsilon(δ)) = δ over q, z, δ', () => {
  const orders = Array.from({ length: 48 }, (_, i) => 2 + i);
  for (const q of [0, 0.01, 0.1, 0.8, 1]) {
    for (const z of [0, 0.1, 1, 10, 100]) {
      const acc = new RdpAccountant({ orders });
      acc.compose(poissonSampled(q, gaussianEvent(z)));
      for (const delta of [0.99, 0.9, 0.1, 0.01, 1e-3, 1e-5, 1e-9, 1e-12]) {
        const { epsilon } = acc.getEpsilon(delta);
        const d2 = acc.getDelta(epsilon).delta;
        if (epsilon === Infinity) assert.equal(d2, 1);
        else if (epsilon === 0) assert.ok(d2 <= delta);
        else assert.ok(Math.abs(d2 - delta) <= 1e-7 * Math.max(delta, 1e-7), `q=${q} z=${z} δ=${delta}: ${d2}`);
      }
    }
  }
});

test('[DPA] zero sampling and non-private events', () => {
  for (const z of [1, 0]) {
    const acc = new RdpAccountant({ orders: [3.14159] });
    acc.compose(poissonSampled(0, gaussianEvent(z)));
    assert.equal(acc.getEpsilon(1e-10).epsilon, 0);
    assert.equal(acc.getDelta(1e-10).delta, 0);
  }
  const fixed = new RdpAccountant({ orders: [3.14159], neighboringRelation: 'replace-one' });
  fixed.compose(sampledWithoutReplacement(1000, 0, gaussianEvent(1)));
  assert.equal(fixed.getEpsilon(1e-10).epsilon, 0);
  assert.equal(fixed.getDelta(1e-10).delta, 0);
  const open = new RdpAccountant({ orders: [3.14159] });
  open.compose(gaussianEvent(0));
  assert.equal(open.getEpsilon(0.1).epsilon, Infinity);
});
