// Property tests of the RDP accountant (fast-check, fixed seeds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RdpAccountant } from '../../src/dp/rdp-accountant.js';
import {
  composed,
  distributedDiscreteGaussian,
  gaussianEvent,
  poissonSampled,
  sampledWithoutReplacement,
  selfComposed,
  skellamEvent,
  type DpEvent,
} from '../../src/dp/events.js';

// A short list with fractional and integer orders keeps the runs fast.
const ORDERS = [1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5.5, 8, 12, 16, 24, 32, 48, 64, 128];
const SEED = 16;
const RUNS = 40;

function eps(q: number, z: number, steps: number, delta: number): number {
  const acc = new RdpAccountant({ orders: ORDERS });
  acc.compose(selfComposed(poissonSampled(q, gaussianEvent(z)), steps));
  return acc.getEpsilon(delta).epsilon;
}

function rdp(event: DpEvent, relation: 'add-remove' | 'replace-one' = 'add-remove'): Float64Array {
  const acc = new RdpAccountant({ orders: ORDERS, neighboringRelation: relation });
  acc.compose(event);
  return acc.rdp;
}

const q = fc.double({ min: 1e-4, max: 0.999, noNaN: true });
const z = fc.double({ min: 0.3, max: 20, noNaN: true });
const steps = fc.integer({ min: 1, max: 5000 });
const delta = fc.double({ min: 1e-12, max: 0.1, noNaN: true });
const TOL = (x: number) => 1e-12 + 1e-10 * Math.abs(x);

test('ε is non-decreasing in steps and in q', () => {
  fc.assert(
    fc.property(q, z, steps, steps, delta, (q1, z1, s1, s2, d) => {
      const [a, b] = s1 <= s2 ? [s1, s2] : [s2, s1];
      const ea = eps(q1, z1, a, d);
      const eb = eps(q1, z1, b, d);
      return ea <= eb + TOL(eb);
    }),
    { seed: SEED, numRuns: RUNS },
  );
  fc.assert(
    fc.property(q, q, z, steps, delta, (qa, qb, z1, s, d) => {
      const [lo, hi] = qa <= qb ? [qa, qb] : [qb, qa];
      const el = eps(lo, z1, s, d);
      const eh = eps(hi, z1, s, d);
      return el <= eh + TOL(eh);
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

test('ε is non-increasing in z and in δ', () => {
  fc.assert(
    fc.property(q, z, z, steps, delta, (q1, za, zb, s, d) => {
      const [lo, hi] = za <= zb ? [za, zb] : [zb, za];
      return eps(q1, hi, s, d) <= eps(q1, lo, s, d) + TOL(eps(q1, lo, s, d));
    }),
    { seed: SEED, numRuns: RUNS },
  );
  fc.assert(
    fc.property(q, z, steps, delta, delta, (q1, z1, s, da, db) => {
      const [lo, hi] = da <= db ? [da, db] : [db, da];
      const acc = new RdpAccountant({ orders: ORDERS });
      acc.compose(poissonSampled(q1, gaussianEvent(z1)), s);
      return acc.getEpsilon(hi).epsilon <= acc.getEpsilon(lo).epsilon + TOL(acc.getEpsilon(lo).epsilon);
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

test('composing k copies equals self-composition with count k (and compose(e, k))', () => {
  fc.assert(
    fc.property(q, z, fc.integer({ min: 1, max: 30 }), (q1, z1, k) => {
      const e = poissonSampled(q1, gaussianEvent(z1));
      const viaComposed = rdp(composed(Array.from({ length: k }, () => e)));
      const viaSelf = rdp(selfComposed(e, k));
      const acc = new RdpAccountant({ orders: ORDERS });
      acc.compose(e, k);
      const viaCount = acc.rdp;
      for (let i = 0; i < ORDERS.length; i++) {
        if (Math.abs(viaComposed[i]! - viaSelf[i]!) > TOL(viaSelf[i]!) * k) return false;
        if (Math.abs(viaCount[i]! - viaSelf[i]!) > TOL(viaSelf[i]!) * k) return false;
      }
      return true;
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

test('getDelta(getEpsilon(δ).epsilon) ≤ δ (up to 1e-9 relative)', () => {
  fc.assert(
    fc.property(q, z, steps, delta, (q1, z1, s, d) => {
      const acc = new RdpAccountant({ orders: ORDERS });
      acc.compose(poissonSampled(q1, gaussianEvent(z1)), s);
      const { epsilon } = acc.getEpsilon(d);
      if (!Number.isFinite(epsilon)) return true;
      return acc.getDelta(epsilon).delta <= d * (1 + 1e-9);
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

test('q = 0 gives 0 RDP; q = 1 gives the plain Gaussian α/(2z²) (Poisson and fixed-size)', () => {
  fc.assert(
    fc.property(z, fc.integer({ min: 1, max: 1000 }), (z1, n) => {
      const zero = rdp(poissonSampled(0, gaussianEvent(z1)));
      const zeroWor = rdp(sampledWithoutReplacement(n, 0, gaussianEvent(z1)), 'replace-one');
      const full = rdp(poissonSampled(1, gaussianEvent(z1)));
      const fullWor = rdp(sampledWithoutReplacement(n, n, gaussianEvent(z1)), 'replace-one');
      const g = (a: number) => a / (2 * z1 * z1);
      const near = (x: number, y: number) => Math.abs(x - y) <= 1e-14 * y;
      return ORDERS.every((a, i) => zero[i] === 0 && zeroWor[i] === 0 && near(full[i]!, g(a)) && near(fullWor[i]!, g(a)));
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

test('fixed-size sampling: RDP non-decreasing in the sample size, never above the unsampled Gaussian', () => {
  fc.assert(
    fc.property(z, fc.integer({ min: 2, max: 5000 }), fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 5000 }), (z1, n, ma, mb) => {
      const [lo, hi] = [Math.min(ma, mb) % n, Math.max(ma, mb) % n].sort((x, y) => x - y) as [number, number];
      const rl = rdp(sampledWithoutReplacement(n, lo, gaussianEvent(z1)), 'replace-one');
      const rh = rdp(sampledWithoutReplacement(n, hi, gaussianEvent(z1)), 'replace-one');
      return ORDERS.every((a, i) => rl[i]! <= rh[i]! + TOL(rh[i]!) && rh[i]! <= a / (2 * z1 * z1) * (1 + 1e-12));
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

test('distributed DP events: RDP non-increasing in the noise (σ for the discrete Gaussian sum, μ for Skellam)', () => {
  const l2 = fc.double({ min: 1, max: 1000, noNaN: true });
  fc.assert(
    fc.property(fc.double({ min: 0.5, max: 500, noNaN: true }), fc.double({ min: 0.5, max: 500, noNaN: true }), fc.integer({ min: 1, max: 200 }), l2, fc.integer({ min: 1, max: 1 << 20 }), (sa, sb, n, d2, dim) => {
      const [lo, hi] = sa <= sb ? [sa, sb] : [sb, sa];
      const ev = (s: number) => distributedDiscreteGaussian({ sigma: s, clients: n, l2Sensitivity: d2, dimension: dim });
      const rl = rdp(ev(lo));
      const rh = rdp(ev(hi));
      return ORDERS.every((_, i) => rh[i]! <= rl[i]! + TOL(rl[i]!));
    }),
    { seed: SEED, numRuns: RUNS },
  );
  fc.assert(
    fc.property(fc.double({ min: 1, max: 1e8, noNaN: true }), fc.double({ min: 1, max: 1e8, noNaN: true }), l2, fc.integer({ min: 1, max: 1 << 20 }), (ma, mb, d2, dim) => {
      const [lo, hi] = ma <= mb ? [ma, mb] : [mb, ma];
      const ev = (mu: number) => skellamEvent({ mu, l2Sensitivity: d2, dimension: dim });
      const rl = rdp(ev(lo));
      const rh = rdp(ev(hi));
      return ORDERS.every((_, i) => rh[i]! <= rl[i]! + TOL(rl[i]!));
    }),
    { seed: SEED, numRuns: RUNS },
  );
});
