/**
 * Exact Bernoulli(exp(-γ)) for rational γ ≥ 0: Canonne, Kamath, Steinke 2020,
 * "The Discrete Gaussian for Differential Privacy", Algorithm 1:
 * - γ ∈ [0, 1]: K ← 1; repeat A ← Bernoulli(γ/K), K ← K + 1 while A = 1; return 1 iff the
 *   final K is odd (P = Σ_k odd … = e^{-γ}, the alternating series of e^{-γ});
 * - γ > 1: ⌊γ⌋ draws of Bernoulli(e^{-1}) (return 0 at the first 0), then Bernoulli(e^{-(γ-⌊γ⌋)}).
 * Only integer comparisons of uniform draws (`CryptoRandom.int` / `bigBelow`): no floating point.
 */
import type { CryptoRandom } from './random.js';

const TWO53 = 9007199254740992;

// Bernoulli(1/k) without a division: u uniform in [0, 2^32) is kept when u < k·⌊2^32/k⌋, and then
// u < ⌊2^32/k⌋ has probability exactly 1/k.
const TWO32 = 4294967296;
const SMALL = 64;
const QUOT = Array.from({ length: SMALL }, (_, k) => (k === 0 ? 0 : Math.floor(TWO32 / k)));
const LIMIT = QUOT.map((q, k) => q * k);

/** Bernoulli(1/k) for an integer k ≥ 1, exactly. */
export function bernInv(rng: CryptoRandom, k: number): boolean {
  if (k >= SMALL) return rng.int(k) === 0;
  const limit = LIMIT[k]!;
  let u = rng.uint32();
  while (u >= limit) u = rng.uint32();
  return u < QUOT[k]!;
}

/** Bernoulli(e^{-1}) (Algorithm 1 with γ = 1: the first draw Bernoulli(1) always succeeds). */
export function bernExp1(rng: CryptoRandom): 0 | 1 {
  let k = 2;
  while (bernInv(rng, k)) k++;
  return (k & 1) as 0 | 1;
}

/** Bernoulli(exp(-n/d)) for safe integers 0 ≤ n ≤ d, d ≥ 1 (Algorithm 1, γ ∈ [0, 1]). */
export function bernExpFrac(rng: CryptoRandom, n: number, d: number): 0 | 1 {
  if (n === 0) return 1;
  let k = 1;
  for (;;) {
    const dk = d * k;
    const a = dk <= TWO53 ? rng.int(dk) < n : rng.bigBelow(BigInt(d) * BigInt(k)) < BigInt(n);
    if (!a) break;
    k++;
  }
  return (k & 1) as 0 | 1;
}

/** Bernoulli(exp(-num/den)) for BigInt num ≥ 0, den ≥ 1 (Algorithm 1, all BigInt). */
export function bernExpBig(rng: CryptoRandom, num: bigint, den: bigint): 0 | 1 {
  const whole = num / den;
  for (let i = 0n; i < whole; i++) if (bernExp1(rng) === 0) return 0;
  const r = num - whole * den;
  if (r === 0n) return 1;
  let k = 1n;
  while (rng.bigBelow(den * k) < r) k++;
  return (k & 1n) === 1n ? 1 : 0;
}

/**
 * Bernoulli(exp(-num/den)) exactly, for integers num ≥ 0, den ≥ 1 (numbers that are
 * safe integers, or BigInts).
 */
export function bernoulliExp(rng: CryptoRandom, num: number | bigint, den: number | bigint): 0 | 1 {
  if (typeof num === 'number' && typeof den === 'number' && Number.isSafeInteger(num) && Number.isSafeInteger(den)) {
    if (num < 0 || den < 1) throw new RangeError(`bernoulliExp: expected num ≥ 0 and den ≥ 1, got ${num}/${den}`);
    const whole = Math.floor(num / den);
    if (whole * den <= num && num - whole * den < den) {
      for (let i = 0; i < whole; i++) if (bernExp1(rng) === 0) return 0;
      return bernExpFrac(rng, num - whole * den, den);
    }
  }
  const n = BigInt(num), d = BigInt(den);
  if (n < 0n || d < 1n) throw new RangeError(`bernoulliExp: expected num ≥ 0 and den ≥ 1, got ${n}/${d}`);
  return bernExpBig(rng, n, d);
}
