// Exact accounting of Gaussian compositions (pure math; imports events only).
//
// A composition of Gaussian mechanisms without subsampling is itself exactly
// one Gaussian mechanism: k runs with noise multipliers z_i (noise stddev over
// L2 sensitivity) have the privacy profile of a single Gaussian with
//
//   μ = sqrt(Σ_i 1/z_i²)                     (μ-GDP; Dong, Roth, Su JRSS-B 2022,
//                                              Corollary 3.3: composition of Gaussian tradeoffs)
//
// and a μ-GDP mechanism is (ε, δ(ε))-DP for every ε ≥ 0, with δ(ε) exact
// (no mechanism of that profile achieves a smaller δ):
//
//   δ(ε) = Φ(−ε/μ + μ/2) − e^ε Φ(−ε/μ − μ/2)   (Balle, Wang ICML'18 Theorem 8;
//                                               Dong, Roth, Su Corollary 2.13)
//
// This is the tight (ε, δ) of DP-FedAvg without client sampling (q = 1) and of
// any other unsampled Gaussian composition; the RDP conversion is an upper
// bound on it (at q = 1, T = 15, δ = 1e-5: z = 2.4697 is (8.0, δ) by RDP and
// (7.44, δ) exactly). With subsampling (0 < q < 1) the composition is not
// Gaussian and `gdpMu` returns null: the RDP accountant stays the bound.
//
// Numerics. With a = ε/μ, b = μ/2, d = a − b, both terms are written with the
// scaled complementary error function erfcx(x) = e^{x²} erfc(x):
//   Φ(−d)          = ½ erfc(d/√2)        (= ½ e^{−d²/2} erfcx(d/√2) for d ≥ 0)
//   e^ε Φ(−a − b)  = ½ e^{−d²/2} erfcx((a + b)/√2)   (since (a+b)²/2 − ε = d²/2)
// so nothing overflows or underflows before the subtraction. `gaussianDelta`
// adds to the result a margin of 1e-13 times the sum of the two terms
// (erfcx's and exp's relative errors are a few ulps), so it is an upper bound
// of the exact δ; `gaussianEpsilon` returns an ε whose `gaussianDelta` is at
// most the target.

import erfc from '@stdlib/math-base-special-erfc';
import erfcx from '@stdlib/math-base-special-erfcx';
import type { DpEvent } from './events.js';

type Relation = 'add-remove' | 'replace-one';

/** Relative margin added to δ (see the module comment). */
const MARGIN = 1e-13;

function checkMu(who: string, mu: number): void {
  if (typeof mu !== 'number' || !(mu >= 0)) throw new RangeError(`${who}: "mu" expected a number ≥ 0 (or Infinity), got ${String(mu)}`);
}

/**
 * δ(ε) of a μ-GDP mechanism (see the module comment), an upper bound within
 * a relative 1e-13 of the exact value. μ = 0: 0 (nothing released); μ = ∞: 1.
 */
export function gaussianDelta(mu: number, epsilon: number): number {
  checkMu('gaussianDelta', mu);
  if (typeof epsilon !== 'number' || !(epsilon >= 0) || Number.isNaN(epsilon)) throw new RangeError(`gaussianDelta: "epsilon" expected a number ≥ 0, got ${String(epsilon)}`);
  if (mu === 0) return 0;
  if (mu === Infinity) return 1;
  if (epsilon === Infinity) return 0;
  const a = epsilon / mu, b = mu / 2, d = a - b;
  const damp = Math.exp(-(d * d) / 2);
  const second = 0.5 * damp * erfcx((a + b) / Math.SQRT2);
  const first = d >= 0 ? 0.5 * damp * erfcx(d / Math.SQRT2) : 0.5 * erfc(d / Math.SQRT2);
  const delta = first - second + MARGIN * (first + second);
  return Math.min(1, Math.max(0, delta));
}

/**
 * The smallest ε ≥ 0 (up to a relative 1e-12, rounded up) with
 * gaussianDelta(μ, ε) ≤ δ: a valid (ε, δ) of any μ-GDP mechanism.
 * ∞ for μ = ∞ (and δ < 1).
 */
export function gaussianEpsilon(mu: number, delta: number): number {
  checkMu('gaussianEpsilon', mu);
  if (typeof delta !== 'number' || !(delta > 0 && delta <= 1)) throw new RangeError(`gaussianEpsilon: "delta" expected a number in (0, 1], got ${String(delta)}`);
  if (gaussianDelta(mu, 0) <= delta) return 0;
  if (mu === Infinity) return Infinity;
  let lo = 0, hi = Math.max(1, mu * mu);
  while (gaussianDelta(mu, hi) > delta) {
    lo = hi;
    hi *= 2;
    if (hi > 1e300) return Infinity;
  }
  while (hi - lo > 1e-12 * hi) {
    const mid = (lo + hi) / 2;
    if (gaussianDelta(mu, mid) > delta) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * μ² of an event when it is exactly a Gaussian composition under `relation`,
 * else null: Gaussian(z) gives 1/z² (z relative to the relation's
 * sensitivity, as in the RDP accountant); Composed adds, SelfComposed
 * multiplies by its count; PoissonSampled with q = 1 (add/remove) and
 * SampledWithoutReplacement of all N records (replace-one) are the event
 * itself; q = 0 or a sample of 0 records releases nothing (0). Anything
 * subsampled with 0 < q < 1, or a discrete (distributed) mechanism: null.
 */
export function gdpMuSquared(event: DpEvent, relation: Relation = 'add-remove'): number | null {
  if (event === null || typeof event !== 'object') return null;
  switch (event.kind) {
    case 'gaussian':
      return event.noiseMultiplier === 0 ? Infinity : 1 / (event.noiseMultiplier * event.noiseMultiplier);
    case 'self-composed': {
      if (event.count === 0) return 0;
      const s = gdpMuSquared(event.event, relation);
      return s === null ? null : s * event.count;
    }
    case 'composed': {
      let total = 0;
      for (const e of event.events) {
        const s = gdpMuSquared(e, relation);
        if (s === null) return null;
        total += s;
      }
      return total;
    }
    case 'poisson-sampled':
      if (relation !== 'add-remove') return null;
      if (event.samplingProbability === 0) return 0;
      return event.samplingProbability === 1 ? gdpMuSquared(event.event, relation) : null;
    case 'sampled-without-replacement':
      if (relation !== 'replace-one') return null;
      if (event.sampleSize === 0) return 0;
      return event.sampleSize === event.sourceSize ? gdpMuSquared(event.event, relation) : null;
    default:
      return null;
  }
}

/** μ of an exact Gaussian composition (see gdpMuSquared), or null. */
export function gdpMu(event: DpEvent, relation: Relation = 'add-remove'): number | null {
  const s = gdpMuSquared(event, relation);
  return s === null ? null : Math.sqrt(s);
}
