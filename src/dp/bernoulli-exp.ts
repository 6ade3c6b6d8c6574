/**
 * Exact Bernoulli(e^{-γ}) for rational γ ≥ 0, and the float filter the samplers decide
 * "U < e^{-γ}" with.
 *
 * A draw is U < e^{-γ} for a uniform U whose first 32 bits w are drawn. When a float
 * approximation g of γ (|g − γ| ≤ err, proven by the caller) puts the whole interval
 * [w, w + 1)·2^-32 on one side of e^{-g}·(1 ± η) (η covering err, the rounding of
 * Math.exp and of the products), the side decides; otherwise `LazyUniform` (exp-bounds.ts)
 * decides it exactly from w plus fresh bits. The float only chooses which exact comparison
 * settles the draw; the law is exactly Bernoulli(e^{-γ}). (This replaces Canonne-Kamath-
 * Steinke's Algorithm 1, a loop of Bernoulli(γ/k) draws with the same law.)
 */
import type { CryptoRandom } from './random.js';
import { LazyUniform } from './exp-bounds.js';

const TWO32 = 4294967296;
/** relative error bound the callers' float γ is held to (≥ 100× any few roundings' worst case) */
export const REL = 1e-13;

/**
 * Where U ∈ [u, u + 1)·scale lies against e^{-γ}, given a float g with |g − γ| ≤ err
 * (scale a power of two, u + 1 ≤ 2^53, scale ≥ 2^-64): 1 when wholly below, 0 when wholly
 * at or above, -1 when the float cannot tell (then decide exactly).
 */
export function expNegSide(u: number, scale: number, g: number, err: number): 1 | 0 | -1 {
  if (!(g >= 0 && err >= 0 && err < 1e-3)) return -1;
  // e^{-γ} < e^{-690} < 2^-64 ≤ u·scale for u ≥ 1 (and Math.exp stays normal below 690)
  if (g - err > 690) return u >= 1 ? 0 : -1;
  const below = (u + 1) * scale, above = u * scale;
  // squeeze, no exp: (1 − γ/4)^4 ≤ e^{-γ} ≤ (1 + γ/4)^{-4}; both sides move by at most |Δγ|
  // (slopes within [−1, 0]), so err is an additive margin; 1e-14 covers their roundings
  if (g < 3.99) {
    const s = 1 - g / 4, s2 = s * s;
    if (below <= s2 * s2 * (1 - 1e-14) - err * 1.01) return 1;
  }
  const r = 1 + g / 4, r2 = r * r;
  if (above >= (1 / (r2 * r2)) * (1 + 1e-14) + err * 1.01) return 0;
  const p = Math.exp(-g);
  // e^{-γ} ∈ p·[1 − η, 1 + η]: e^{±err} (err < 1e-3: expm1(err) < 1.0006·err), the exp's
  // < 1 ulp, the two products' roundings
  const eta = err * 1.01 + 1e-14;
  if (below <= p * (1 - eta)) return 1;
  if (above >= p * (1 + eta)) return 0;
  return -1;
}

/**
 * Bernoulli(exp(-num/den)) exactly, for integers num ≥ 0, den ≥ 1 (numbers that are
 * safe integers, or BigInts).
 */
export function bernoulliExp(rng: CryptoRandom, num: number | bigint, den: number | bigint): 0 | 1 {
  let g: number, err: number;
  if (typeof num === 'number' && typeof den === 'number' && Number.isSafeInteger(num) && Number.isSafeInteger(den)) {
    if (num < 0 || den < 1) throw new RangeError(`bernoulliExp: expected num ≥ 0 and den ≥ 1, got ${num}/${den}`);
    g = num / den; // one rounding
    err = g * REL;
  } else {
    const n = BigInt(num), d = BigInt(den);
    if (n < 0n || d < 1n) throw new RangeError(`bernoulliExp: expected num ≥ 0 and den ≥ 1, got ${n}/${d}`);
    // ⌊n·2^64/d⌋/2^64: below γ by < 2^-64, then one rounding (Number(n)/Number(d) would overflow for d ≥ 2^1024)
    g = Number((n << 64n) / d) / 2 ** 64;
    err = g * REL + 8.7e-19;
  }
  const w = rng.uint32();
  const side = expNegSide(w, 1 / TWO32, g, err);
  if (side !== -1) return side;
  return new LazyUniform(rng, w, 32).belowExpNeg(BigInt(num), BigInt(den)) ? 1 : 0;
}

/** Bernoulli(e^{-1}). */
export function bernExp1(rng: CryptoRandom): 0 | 1 {
  return bernoulliExp(rng, 1, 1);
}
