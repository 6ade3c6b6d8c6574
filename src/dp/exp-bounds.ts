/**
 * Exact comparisons of a uniform U ∈ [0, 1) with e^{-γ}, γ = num/den ≥ 0 rational.
 *
 * The samplers decide "U < e^{-γ}" (a Bernoulli(e^{-γ}) draw, a geometric threshold) in
 * floating point when the float bounds prove the answer (float-filter.ts), and here when
 * they do not: U is kept as its drawn bits (`LazyUniform`: U ∈ [u, u + 1)·2^-bits, the
 * continuation uniform and independent), e^{-γ}·2^bits is bracketed by integers
 * (`expNegBounds`, BigInt, rigorous), and while the bracket does not decide, 64 more bits
 * of U are drawn. Every decision is thus a comparison of uniform bits with exact integer
 * bounds: the draw has exactly the law it names.
 */
import type { CryptoRandom } from './random.js';

const LN2 = Math.LN2;

function bitLength(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}

const ceilShift = (x: bigint, s: bigint): bigint => (x + (1n << s) - 1n) >> s;

/**
 * [L, H] with L ≤ e^{n/d}·2^g ≤ H, for 0 ≤ n ≤ d. Taylor terms t_k = ⌊t_{k-1}·n/(d·k)⌋ from
 * t_0 = 2^g, summed until the first zero term t_K: each floored term is below the true one
 * by at most k (e_k ≤ e_{k-1}·y/k + 1), so the terms before K lose at most K²/2, and the
 * tail from K is at most 2·(true t_K) ≤ 2K (ratio y/(K+1) ≤ 1/2): H = L + K² + 2K + 2.
 */
function expSeries(n: bigint, d: bigint, g: bigint): [bigint, bigint] {
  let term = 1n << g;
  let sum = term;
  let k = 0n;
  while (term > 0n) {
    k++;
    term = (term * n) / (d * k);
    sum += term;
  }
  return [sum, sum + k * k + 2n * k + 2n];
}

/** [lo, hi] bounding e^{-n/d}·2^g (0 ≤ n ≤ d): 2^{2g} over the bounds of e^{n/d}·2^g. */
function expNegFrac(n: bigint, d: bigint, g: bigint): [bigint, bigint] {
  const [l, h] = expSeries(n, d, g);
  const two = 1n << (2n * g);
  return [two / h, (two + l - 1n) / l];
}

const expNeg1Cache = new Map<bigint, [bigint, bigint]>();
function expNeg1(g: bigint): [bigint, bigint] {
  let b = expNeg1Cache.get(g);
  if (b === undefined) {
    b = expNegFrac(1n, 1n, g);
    if (expNeg1Cache.size > 64) expNeg1Cache.clear();
    expNeg1Cache.set(g, b);
  }
  return b;
}

/**
 * Integers [lo, hi] with lo ≤ e^{-num/den}·2^prec ≤ hi, for num ≥ 0, den ≥ 1, prec ≥ 0.
 * e^{-γ} = (e^{-1})^⌊γ⌋ · e^{-(γ-⌊γ⌋)} at 64 + 4·log2⌊γ⌋ guard bits (products floored for
 * lo, ceiled for hi), then rounded outward to 2^prec: hi − lo is a few units. When ⌊γ⌋ ≥ prec + 2
 * the value is below 2^-prec/4 and [0, 1] is returned.
 */
export function expNegBounds(num: bigint, den: bigint, prec: number): [bigint, bigint] {
  if (num < 0n || den < 1n) throw new RangeError(`expNegBounds: expected num ≥ 0 and den ≥ 1, got ${num}/${den}`);
  if (!Number.isSafeInteger(prec) || prec < 0) throw new RangeError(`expNegBounds: "prec" expected a safe integer ≥ 0, got ${prec}`);
  const whole = num / den;
  const P = BigInt(prec);
  if (whole >= P + 2n) return [0n, 1n]; // 2^prec·e^{-(prec+2)} = e^{-2}(2/e)^prec < 1
  const g = P + 64n + 4n * BigInt(bitLength(whole));
  let [lo, hi] = expNegFrac(num - whole * den, den, g);
  if (whole > 0n) {
    let [bl, bh] = expNeg1(g);
    for (let w = whole; w > 0n; ) {
      if (w & 1n) {
        lo = (lo * bl) >> g;
        hi = ceilShift(hi * bh, g);
      }
      w >>= 1n;
      if (w > 0n) {
        bl = (bl * bl) >> g;
        bh = ceilShift(bh * bh, g);
      }
    }
  }
  const s = g - P;
  return [lo >> s, ceilShift(hi, s)];
}

/**
 * A uniform U ∈ [0, 1) known so far by its first `bits` bits u (U ∈ [u, u + 1)·2^-bits);
 * more bits are drawn from `rng`, 64 at a time, only when a comparison needs them.
 */
export class LazyUniform {
  readonly #rng: CryptoRandom;
  #u: bigint;
  #bits: number;

  /** U whose first `bits` bits are the integer `head` (< 2^bits), already drawn from `rng`. */
  constructor(rng: CryptoRandom, head: number | bigint, bits: number) {
    this.#rng = rng;
    this.#u = BigInt(head);
    this.#bits = bits;
    if (this.#u < 0n || this.#u >= 1n << BigInt(bits)) throw new RangeError(`LazyUniform: "head" expected in [0, 2^${bits}), got ${head}`);
  }

  #extend(): void {
    const hi = this.#rng.uint32(), lo = this.#rng.uint32();
    this.#u = (this.#u << 64n) | (BigInt(hi) << 32n) | BigInt(lo);
    this.#bits += 64;
  }

  /** U < e^{-num/den}, decided exactly. */
  belowExpNeg(num: bigint, den: bigint): boolean {
    for (;;) {
      const [lo, hi] = expNegBounds(num, den, this.#bits);
      if (this.#u + 1n <= lo) return true;
      if (this.#u >= hi) return false;
      this.#extend();
    }
  }

  /**
   * G = max{x ≥ 0 : U < e^{-x/t}}, so P[G ≥ x] = e^{-x/t}: a geometric variable, exactly.
   * U is first refined until u ≥ 2t (its interval then spans at most about one step of the
   * walk: −t·ln U moves by t/u over it); a float estimate −t·ln U at the middle of the interval
   * starts the search, which walks to G by exact comparisons. (Where `geometricFloat` decides,
   * u > 2.02·t already: the refinement draws nothing, and both paths use the same bits.)
   */
  geometric(t: bigint): bigint {
    if (t < 1n) throw new RangeError(`LazyUniform.geometric: "t" expected ≥ 1, got ${t}`);
    while (this.#u < 2n * t) this.#extend();
    const sh = Math.max(0, bitLength(this.#u) - 60);
    const lnU = Math.log(Number(this.#u >> BigInt(sh)) + 0.5) + (sh - this.#bits) * LN2;
    const est = -Number(t) * lnU;
    let x = est > 0 && Number.isFinite(est) ? BigInt(Math.floor(est)) : 0n;
    while (x > 0n && !this.belowExpNeg(x, t)) x--;
    while (this.belowExpNeg(x + 1n, t)) x++;
    return x;
  }
}
