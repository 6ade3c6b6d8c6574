// Privacy loss distributions (PLD) of the Poisson-subsampled Gaussian, with
// pessimistic discretization and composition by FFT (pure math).
//
// The tight (ε, δ) of a composition of subsampled Gaussians, as Google's
// dp_accounting `PLDAccountant` computes it (Meiser & Mohammadi CCS'18;
// Koskela, Jälkö, Honkela AISTATS'20; Doroshenko et al. "Connect the dots",
// PETS'22 for the pessimistic estimate):
//
// - One mechanism M with output laws P (on D) and Q (on the neighbour D'):
//   its privacy loss L(x) = log(P(x)/Q(x)) for x ~ P has a distribution (the
//   PLD) ω, and δ(ε) = ω(∞) + E_{l~ω}[(1 − e^{ε − l})₊].
// - Composition adds independent losses: the PLD of k mechanisms is the
//   convolution of their PLDs.
// - Discretization: the loss values are rounded UP to the grid h·ℤ, which
//   can only raise δ(ε) (the map l ↦ (1 − e^{ε−l})₊ is non-decreasing), so
//   every δ computed here is an upper bound of the true one ("pessimistic").
//   Each step's rounding adds at most h to the loss: ε is over-estimated by
//   at most (steps)·h, never under-estimated.
// - Tails: the P-mass beyond the high-loss end (at most tail/2) goes to the
//   loss +∞ (counted in δ in full); the P-mass beyond the low-loss end is put
//   on the lowest grid value kept (rounded up). Both are pessimistic. After
//   each convolution the same is done with its tails, and the FFT's rounding
//   is bounded and added to the +∞ mass (see `convolve`).
//
// The Poisson-subsampled Gaussian with sampling rate q and noise multiplier
// z (σ = z, sensitivity 1), under add/remove adjacency, has two directions
// (dp_accounting's REMOVE and ADD), each a PLD; the composition's δ(ε) is
// the larger of the two directions' (each composed separately):
//   remove: P = (1 − q)N(0, σ²) + qN(1, σ²), Q = N(0, σ²),
//           L(x) = log(1 − q + q e^{(2x − 1)/(2σ²)})  (increasing in x);
//   add:    P = N(0, σ²), Q = (1 − q)N(0, σ²) + qN(1, σ²),
//           L(x) = −log(1 − q + q e^{(2x − 1)/(2σ²)}) (decreasing in x).

import erfc from '@stdlib/math-base-special-erfc';
import FFT from 'fft.js';

/** A discrete PLD: mass pmf[i] at loss (offset + i)·h, and mass `infinity` at +∞. */
export interface Pld {
  readonly h: number;
  readonly offset: number;
  readonly pmf: Float64Array;
  readonly infinity: number;
}

export interface PldOptions {
  /** Grid width h of the loss values (default 1e-4, dp_accounting's). */
  readonly h?: number;
  /** Mass dropped (pessimistically) from the tails at each step (default 1e-15). */
  readonly tailMass?: number;
}

/** More grid points than this in one PLD is an error (raise `h`). */
const MAX_POINTS = 1 << 23;

const Phi = (x: number): number => 0.5 * erfc(-x / Math.SQRT2);
const Sbar = (x: number): number => 0.5 * erfc(x / Math.SQRT2);

function options(who: string, o: PldOptions): { h: number; tail: number } {
  const h = o.h ?? 1e-4;
  const tail = o.tailMass ?? 1e-15;
  if (typeof h !== 'number' || !(h > 0 && h <= 1)) throw new RangeError(`${who}: "h" expected a number in (0, 1], got ${String(h)}`);
  if (typeof tail !== 'number' || !(tail > 0 && tail < 1e-3)) throw new RangeError(`${who}: "tailMass" expected a number in (0, 1e-3), got ${String(tail)}`);
  return { h, tail };
}

/**
 * The PLD of one Poisson-subsampled Gaussian (rate q in (0, 1], noise
 * multiplier z > 0) in one direction, pessimistically discretized.
 */
export function subsampledGaussianPld(q: number, z: number, direction: 'remove' | 'add', o: PldOptions = {}): Pld {
  const who = 'subsampledGaussianPld';
  if (typeof q !== 'number' || !(q > 0 && q <= 1)) throw new RangeError(`${who}: "q" expected a number in (0, 1], got ${String(q)}`);
  if (typeof z !== 'number' || !(z > 0 && Number.isFinite(z))) throw new RangeError(`${who}: "z" expected a finite number > 0, got ${String(z)}`);
  if (direction !== 'remove' && direction !== 'add') throw new RangeError(`${who}: "direction" expected 'remove' or 'add', got ${JSON.stringify(direction)}`);
  const { h, tail } = options(who, o);
  const s2 = z * z;
  // g(x) = 1 − q + q e^{(2x−1)/(2σ²)}; log g computed without overflow
  const logG = (x: number): number => {
    const a = (2 * x - 1) / (2 * s2);
    if (q === 1) return a;
    const b = Math.log(q) + a, c = Math.log1p(-q);
    return b > c ? b + Math.log1p(Math.exp(c - b)) : c + Math.log1p(Math.exp(b - c));
  };
  // x with log g(x) = v (−∞ when v ≤ log(1 − q))
  const xOfLogG = (v: number): number => {
    if (q === 1) return v * s2 + 0.5;
    const c = Math.log1p(-q);
    if (v <= c) return -Infinity;
    // e^v − (1 − q) = e^v (1 − e^{c − v})
    return s2 * (v + Math.log(-Math.expm1(c - v)) - Math.log(q)) + 0.5;
  };
  // P's laws (x ~ P)
  const remove = direction === 'remove';
  const cdf = remove ? (x: number) => (1 - q) * Phi(x / z) + q * Phi((x - 1) / z) : (x: number) => Phi(x / z);
  const sf = remove ? (x: number) => (1 - q) * Sbar(x / z) + q * Sbar((x - 1) / z) : (x: number) => Sbar(x / z);
  // P(a < X ≤ b), each side in the form that does not cancel
  const mass = (a: number, b: number): number => (b <= 0.5 ? cdf(b) - cdf(a) : a >= 0.5 ? sf(a) - sf(b) : 1 - cdf(a) - sf(b));
  // x range holding all but tail of P: Gaussian tails beyond k σ are ≤ tail/4 each
  const k = Math.sqrt(2 * Math.log(4 / tail));
  const xLo = -k * z, xHi = 1 + k * z;
  const loss = (x: number): number => (remove ? logG(x) : -logG(x));
  const lossLo = Math.min(loss(xLo), loss(xHi)), lossHi = Math.max(loss(xLo), loss(xHi));
  const iMin = Math.ceil(lossLo / h), iMax = Math.ceil(lossHi / h);
  if (iMax - iMin + 1 > MAX_POINTS) throw new RangeError(`${who}: ${iMax - iMin + 1} grid points at h = ${h} (q ${q}, z ${z}): raise "h"`);
  const pmf = new Float64Array(iMax - iMin + 1);
  // x at the loss value l, clamped to [xLo, xHi]
  const clampX = (x: number) => Math.min(xHi, Math.max(xLo, x));
  const xAt = (l: number): number => clampX(xOfLogG(remove ? l : -l));
  for (let i = iMin; i <= iMax; i++) {
    // losses in ((i−1)h, ih] → P-mass of the x interval between the two boundaries
    const a = xAt((i - 1) * h), b = xAt(i * h);
    const m = remove ? mass(a, b) : mass(b, a);
    pmf[i - iMin] = m > 0 ? m : 0;
  }
  // the tails: the low-loss side onto the lowest grid point, the high-loss side to +∞
  const below = cdf(xLo), above = sf(xHi);
  if (remove) pmf[0]! += below;
  else pmf[0]! += above;
  const infinity = remove ? above : below;
  return { h, offset: iMin, pmf, infinity };
}

/** The PLD of a mechanism that reveals nothing (loss 0 with probability 1). */
export function identityPld(h = 1e-4): Pld {
  return { h, offset: 0, pmf: Float64Array.of(1), infinity: 0 };
}

const ffts = new Map<number, FFT>();
const fftOf = (n: number): FFT => {
  let f = ffts.get(n);
  if (f === undefined) {
    if (ffts.size > 16) ffts.clear();
    ffts.set(n, (f = new FFT(n)));
  }
  return f;
};

/**
 * The PLD of both mechanisms run in turn (the convolution), its tails
 * truncated pessimistically (tailMass each side). A bound on the FFT's total
 * rounding error (the sum over the output of |error|, from its L2 bound) is
 * added to the +∞ mass, so δ stays an upper bound.
 */
export function composePld(a: Pld, b: Pld, o: PldOptions = {}): Pld {
  const who = 'composePld';
  if (a.h !== b.h) throw new RangeError(`${who}: the PLDs have different grids (h ${a.h} and ${b.h})`);
  const { tail } = options(who, { h: a.h, ...o });
  const len = a.pmf.length + b.pmf.length - 1;
  if (len > MAX_POINTS) throw new RangeError(`${who}: ${len} grid points at h = ${a.h}: raise "h"`);
  let out: Float64Array;
  let fftSlack = 0;
  if (Math.min(a.pmf.length, b.pmf.length) <= 64) {
    // small: the direct sum (exact up to one rounding per term)
    out = new Float64Array(len);
    for (let i = 0; i < a.pmf.length; i++) {
      const ai = a.pmf[i]!;
      if (ai === 0) continue;
      for (let j = 0; j < b.pmf.length; j++) out[i + j]! += ai * b.pmf[j]!;
    }
  } else {
    let n = 4;
    while (n < len) n *= 2;
    const f = fftOf(n);
    const ra = new Float64Array(n), rb = new Float64Array(n);
    ra.set(a.pmf);
    rb.set(b.pmf);
    const A = new Float64Array(2 * n), Bc = new Float64Array(2 * n);
    f.realTransform(A, ra);
    f.completeSpectrum(A);
    f.realTransform(Bc, rb);
    f.completeSpectrum(Bc);
    for (let i = 0; i < 2 * n; i += 2) {
      const re = A[i]! * Bc[i]! - A[i + 1]! * Bc[i + 1]!;
      const im = A[i]! * Bc[i + 1]! + A[i + 1]! * Bc[i]!;
      A[i] = re;
      A[i + 1] = im;
    }
    f.inverseTransform(Bc, A);
    out = new Float64Array(len);
    for (let i = 0; i < len; i++) out[i] = Bc[2 * i]!;
    let a1 = 0, a2 = 0, b1 = 0, b2 = 0;
    for (const v of a.pmf) { a1 += v; a2 += v * v; }
    for (const v of b.pmf) { b1 += v; b2 += v * v; }
    // ‖error‖₂ ≤ 3·c·u·log2(n)·max(‖a‖₂‖b‖₁, ‖a‖₁‖b‖₂) (two forward transforms, the product, one inverse; c = 8
    // for the radix-4 butterflies), and Σ|error| ≤ √len·‖error‖₂
    fftSlack = Math.sqrt(len) * 24 * 2 ** -52 * Math.log2(n) * Math.max(Math.sqrt(a2) * b1, a1 * Math.sqrt(b2));
  }
  return truncate(a.h, a.offset + b.offset, out, a.infinity + b.infinity - a.infinity * b.infinity + fftSlack, tail);
}

/** Clamp rounding noise to 0, then move up to tail/2 of each tail: the low one onto the first kept point, the high one to +∞. */
function truncate(h: number, offset: number, pmf: Float64Array, infinity: number, tail: number): Pld {
  for (let i = 0; i < pmf.length; i++) if (!(pmf[i]! > 0)) pmf[i] = 0;
  let lo = 0, low = 0;
  while (lo < pmf.length - 1 && low + pmf[lo]! <= tail / 2) low += pmf[lo++]!;
  let hi = pmf.length - 1, high = 0;
  while (hi > lo && high + pmf[hi]! <= tail / 2) high += pmf[hi--]!;
  const kept = pmf.slice(lo, hi + 1);
  kept[0]! += low;
  return { h, offset: offset + lo, pmf: kept, infinity: Math.min(1, infinity + high) };
}

/** The PLD of `count` runs of `p` (binary powers, each convolution truncated). */
export function selfComposePld(p: Pld, count: number, o: PldOptions = {}): Pld {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`selfComposePld: "count" expected an integer ≥ 0, got ${String(count)}`);
  let result = identityPld(p.h);
  let base = p;
  for (let c = count; c > 0; c = Math.floor(c / 2)) {
    if (c % 2 === 1) result = composePld(result, base, o);
    if (c > 1) base = composePld(base, base, o);
  }
  return result;
}

/** δ(ε) of a PLD: ω(∞) + Σ_{l > ε} (1 − e^{ε − l}) ω(l); an upper bound of the true δ (see the module comment). */
export function pldDelta(p: Pld, epsilon: number): number {
  if (typeof epsilon !== 'number' || !(epsilon >= 0)) throw new RangeError(`pldDelta: "epsilon" expected a number ≥ 0, got ${String(epsilon)}`);
  let d = p.infinity;
  const first = Math.max(0, Math.floor(epsilon / p.h) - p.offset);
  for (let i = first; i < p.pmf.length; i++) {
    const l = (p.offset + i) * p.h;
    if (l > epsilon) d += -Math.expm1(epsilon - l) * p.pmf[i]!;
  }
  return Math.min(1, d);
}

/** The smallest ε ≥ 0 (bisection to 1e-9 relative, rounded up) with pldDelta(p, ε) ≤ δ; ∞ when the +∞ mass alone exceeds δ. */
export function pldEpsilon(p: Pld, delta: number): number {
  if (typeof delta !== 'number' || !(delta > 0 && delta <= 1)) throw new RangeError(`pldEpsilon: "delta" expected a number in (0, 1], got ${String(delta)}`);
  if (p.infinity > delta) return Infinity;
  if (pldDelta(p, 0) <= delta) return 0;
  let lo = 0, hi = Math.max(p.h, (p.offset + p.pmf.length) * p.h);
  while (pldDelta(p, hi) > delta) hi *= 2;
  while (hi - lo > 1e-9 * hi) {
    const mid = (lo + hi) / 2;
    if (pldDelta(p, mid) > delta) lo = mid;
    else hi = mid;
  }
  return hi;
}
