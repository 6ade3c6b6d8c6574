// The RDP accountant: log A_α against numerical integration, composition,
// effective noise multipliers, neighbouring relations and typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RdpAccountant, effectiveNoiseMultiplier } from '../../src/dp/rdp-accountant.js';
import {
  composed,
  distributedDiscreteGaussian,
  gaussianEvent,
  poissonSampled,
  sampledWithoutReplacement,
  selfComposed,
  skellamEvent,
  UnsupportedDpEventError,
  type DpEvent,
} from '../../src/dp/events.js';
import { logAFrac, logAInt } from '../../src/dp/rdp-subsampled.js';
import { logAdd } from '../../src/dp/rdp-numerics.js';
import { PrivacyAccountant } from '../../src/dp/accountant.js';
import { gaussianEpsilon } from '../../src/dp/gdp.js';

/**
 * log A_α = log ∫ φ_σ(x) · (1 − q + q·exp((2x − 1)/(2σ²)))^α dx by composite
 * Simpson in log space (an oracle independent of the series the accountant
 * sums; [DPA] test_compute_log_a_equals_mp does the same with mpmath).
 */
function logAByQuadrature(q: number, sigma: number, alpha: number): number {
  const lo = -60 * sigma - 2;
  const hi = alpha + 60 * sigma + 2;
  const n = 400_000; // even
  const h = (hi - lo) / n;
  const s2 = sigma * sigma;
  const logNorm = -0.5 * Math.log(2 * Math.PI * s2);
  const log1mq = Math.log1p(-q);
  const logq = Math.log(q);
  const lf = new Float64Array(n + 1);
  let m = -Infinity;
  for (let i = 0; i <= n; i++) {
    const x = lo + i * h;
    const v = logNorm - (x * x) / (2 * s2) + alpha * logAdd(log1mq, logq + (2 * x - 1) / (2 * s2));
    lf[i] = v;
    if (v > m) m = v;
  }
  let sum = 0;
  for (let i = 0; i <= n; i++) {
    const w = i === 0 || i === n ? 1 : i % 2 === 1 ? 4 : 2;
    sum += w * Math.exp(lf[i]! - m);
  }
  return m + Math.log((sum * h) / 3);
}

test('log A_α equals numerical integration at [DPA]\'s test_compute_log_a_equals_mp points (rtol 1e-9, atol 1e-11; quadrature error ~1e-13)', () => {
  const cases: [number, number, number][] = [
    [1e-7, 0.1, 1.01],
    [1e-6, 0.1, 256],
    [1e-5, 0.1, 256.1],
    [1e-6, 1, 27],
    [1e-4, 1, 1.5],
    [1e-3, 1, 2],
    [0.01, 10, 20],
    [0.1, 100, 20.5],
    [0.99, 0.1, 256],
    [0.999, 100, 256.1],
    [0.02, 0.8, 7.3],
  ];
  for (const [q, sigma, alpha] of cases) {
    const got = Number.isInteger(alpha) ? logAInt(q, sigma, alpha) : logAFrac(q, sigma, alpha);
    const want = logAByQuadrature(q, sigma, alpha);
    const msg = `q=${q} σ=${sigma} α=${alpha}: series ${got}, quadrature ${want}`;
    assert.ok(Math.abs(got - want) <= 1e-11 + 1e-9 * Math.abs(want), msg);
    // at fractional orders the series sums |C(α, i)| ([MTZ19] Sec. 3.3), an upper bound
    if (!Number.isInteger(alpha)) assert.ok(got >= want - 1e-12 - 1e-14 * Math.abs(want), msg);
  }
});

function rdpAt(event: DpEvent, count = 1, order = 2.71828): number {
  const acc = new RdpAccountant({ orders: [order] });
  acc.compose(event, count);
  return acc.rdp[0]!;
}

test('[DPA] test_rdp_composition: count, SelfComposed and Composed agree', () => {
  const base = gaussianEvent(3.14159);
  const one = rdpAt(base);
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) <= 1e-12 * Math.abs(b), `${a} vs ${b}`);
  close(rdpAt(base, 6), 6 * one);
  close(rdpAt(selfComposed(base, 6)), 6 * one);
  close(rdpAt(selfComposed(base, 2), 3), 6 * one);
  close(rdpAt(composed([base, base, base, base, base, base])), 6 * one);
  close(rdpAt(composed([selfComposed(base, 1), selfComposed(base, 2), selfComposed(base, 3)])), 6 * one);
  const other = gaussianEvent(1.61803);
  close(rdpAt(composed([base, other])), one + rdpAt(other));
  // a Gaussian's RDP is α/(2z²)
  close(one, 2.71828 / (2 * 3.14159 ** 2));
});

test('[DPA] test_compute_rdp_multi_gaussian and effective noise multiplier', () => {
  const alpha = 3.14159;
  const [s1, s2] = [2.71828, 6.28319];
  const got = rdpAt(poissonSampled(1, composed([gaussianEvent(s1), gaussianEvent(s2)])), 1, alpha);
  assert.ok(Math.abs(got - (alpha / (2 * s1 * s1) + alpha / (2 * s2 * s2))) < 1e-12);
  const sig = [0.3, 0.7, 1.1, 2.2];
  const tree = composed([
    gaussianEvent(sig[0]!),
    selfComposed(gaussianEvent(sig[1]!), 3),
    composed([gaussianEvent(sig[2]!), gaussianEvent(sig[3]!)]),
  ]);
  const want = (sig[0]! ** -2 + 3 * sig[1]! ** -2 + sig[2]! ** -2 + sig[3]! ** -2) ** -0.5;
  assert.ok(Math.abs((effectiveNoiseMultiplier(tree) as number) - want) < 1e-12);
  // Poisson-sampled tree = Poisson-sampled single Gaussian at z_eff
  const a = rdpAt(poissonSampled(0.05, tree), 1, 8);
  const b = rdpAt(poissonSampled(0.05, gaussianEvent(want)), 1, 8);
  assert.ok(Math.abs(a - b) <= 1e-12 * b);
});

test('relations: Poisson only under add-remove, fixed-size only under replace-one; typed errors name the event; state unchanged', () => {
  const addRemove = new RdpAccountant();
  const wor = sampledWithoutReplacement(1000, 10, gaussianEvent(1));
  assert.equal(addRemove.supports(wor), false);
  assert.throws(() => addRemove.compose(wor), (e: unknown) => e instanceof UnsupportedDpEventError && e.event === wor && /SampledWithoutReplacement\(fixed size 10 of 1000/.test(e.message) && /replace-one/.test(e.message));
  const replace = new RdpAccountant({ neighboringRelation: 'replace-one' });
  const pois = poissonSampled(0.1, gaussianEvent(1));
  assert.equal(replace.supports(pois), false);
  assert.throws(() => replace.compose(pois), (e: unknown) => e instanceof UnsupportedDpEventError && /PoissonSampled\(q=0.1/.test(e.message) && /add-remove/.test(e.message));
  assert.equal(replace.supports(wor), true);
  assert.equal(addRemove.supports(pois), true);
  // nested sampling is refused, naming the inner event; an earlier valid part of a Composed is not half-applied
  const nested = composed([gaussianEvent(2), poissonSampled(0.1, poissonSampled(0.5, gaussianEvent(1)))]);
  const before = addRemove.rdp;
  assert.throws(() => addRemove.compose(nested), (e: unknown) => e instanceof UnsupportedDpEventError && /found PoissonSampled\(q=0.5/.test(e.message));
  assert.deepEqual(addRemove.rdp, before);
  assert.equal(addRemove.ledger.length, 0);
  // fixed-size sampling of a Skellam event is not supported ([WBK19] is for Gaussians here)
  const skWor = sampledWithoutReplacement(100, 10, skellamEvent({ mu: 100, l2Sensitivity: 1, l1Sensitivity: 1 }));
  assert.throws(() => replace.compose(skWor), (e: unknown) => e instanceof UnsupportedDpEventError && /Skellam/.test(e.message));
  // garbage
  assert.throws(() => addRemove.compose({ kind: 'laplace' } as unknown as DpEvent), UnsupportedDpEventError);
  assert.throws(() => addRemove.compose(composed([null as unknown as DpEvent])), /not an event \(null\)/);
  assert.throws(() => new RdpAccountant({ neighboringRelation: 'replace-special' as never }), /"neighboringRelation"/);
  assert.throws(() => new RdpAccountant({ orders: [0.5, 2] }), /"orders"/);
});

test('argument checks name the argument', () => {
  assert.throws(() => gaussianEvent(-1), /gaussianEvent: "noiseMultiplier"/);
  assert.throws(() => poissonSampled(1.5, gaussianEvent(1)), /poissonSampled: "samplingProbability"/);
  assert.throws(() => sampledWithoutReplacement(10, 11, gaussianEvent(1)), /"sampleSize"/);
  assert.throws(() => selfComposed(gaussianEvent(1), 1.5), /selfComposed: "count"/);
  assert.throws(() => distributedDiscreteGaussian({ sigma: 0.4, clients: 2, l2Sensitivity: 1, dimension: 1 }), /"sigma"/);
  assert.throws(() => skellamEvent({ mu: 0, l2Sensitivity: 1, l1Sensitivity: 1 }), /skellamEvent: "mu"/);
  const acc = new RdpAccountant();
  assert.throws(() => acc.getEpsilon(-1), /getEpsilon: "delta"/);
  assert.throws(() => acc.getDelta(-1), /getDelta: "epsilon"/);
  assert.throws(() => acc.compose(gaussianEvent(1), -1), /compose: "count"/);
});

test('ledger and sampling flags record what was composed', () => {
  const acc = new RdpAccountant();
  acc.compose(poissonSampled(0.01, gaussianEvent(1)), 10);
  acc.compose(gaussianEvent(5));
  assert.deepEqual([...acc.samplingSchemes], ['poisson']);
  assert.equal(acc.ledger.length, 2);
  assert.equal(acc.ledger[0]!.count, 10);
});

test('snapshot / restore round-trips through JSON (∞ RDP included) and goes on composing', () => {
  const acc = new RdpAccountant({ orders: [1.5, 2, 8, Infinity] });
  acc.compose(poissonSampled(0.02, gaussianEvent(1.1)), 50);
  const back = RdpAccountant.restore(JSON.parse(JSON.stringify(acc.snapshot())));
  assert.deepEqual(back.rdp, acc.rdp);
  assert.deepEqual(back.getEpsilon(1e-5), acc.getEpsilon(1e-5));
  assert.deepEqual([...back.samplingSchemes], ['poisson']);
  assert.equal(back.ledger.length, 1);
  acc.compose(gaussianEvent(3));
  back.compose(gaussianEvent(3));
  assert.deepEqual(back.rdp, acc.rdp);
  const bad = { ...acc.snapshot(), rdp: [1, 2] };
  assert.throws(() => RdpAccountant.restore(bad), /"state.rdp" expected 4 values/);
  assert.throws(() => RdpAccountant.restore({ ...acc.snapshot(), rdp: [1, -2, 3, null] }), /"state.rdp\[1\]"/);
});

test('hand-built or JSON events are checked as their constructors check them: a negative count, multiplier or rate is refused, state unchanged', () => {
  const acc = new RdpAccountant();
  acc.compose(gaussianEvent(1), 4);
  const before = acc.getEpsilon(1e-5).epsilon;
  const bad: unknown[] = [
    { kind: 'self-composed', count: -3, event: { kind: 'gaussian', noiseMultiplier: 1 } },
    { kind: 'gaussian', noiseMultiplier: -1 },
    { kind: 'poisson-sampled', samplingProbability: 1.5, event: { kind: 'gaussian', noiseMultiplier: 1 } },
    { kind: 'composed', events: [{ kind: 'gaussian', noiseMultiplier: 1 }, { kind: 'self-composed', count: 0.5, event: { kind: 'gaussian', noiseMultiplier: 1 } }] },
    { kind: 'skellam', mu: -1, l2Sensitivity: 1, l1Sensitivity: 1 },
  ];
  for (const e of bad) {
    assert.throws(() => acc.compose(e as DpEvent), /malformed/, JSON.stringify(e));
    assert.equal(acc.supports(e as DpEvent), false);
  }
  assert.equal(acc.getEpsilon(1e-5).epsilon, before);
  const p = new PrivacyAccountant().compose(gaussianEvent(1), 4);
  assert.throws(() => p.compose(bad[0] as DpEvent), /malformed/);
  assert.equal(p.getEpsilon(1e-5).epsilon, gaussianEpsilon(2, 1e-5), 'the exact reading is unchanged too');
});
