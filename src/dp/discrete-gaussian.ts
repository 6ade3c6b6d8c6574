/**
 * Exact discrete Gaussian N_Z(0, σ²): P[X = x] ∝ exp(-x²/(2σ²)) on the integers.
 *
 * Canonne, Kamath, Steinke 2020, "The Discrete Gaussian for Differential Privacy"
 * (NeurIPS 2020, arXiv:2004.00010), §5:
 * - Algorithm 2, discrete Laplace with scale t (P[Y = y] ∝ e^{-|y|/t}): U uniform in
 *   {0, …, t-1}; accept U with Bernoulli(e^{-U/t}); V = number of successes of
 *   Bernoulli(e^{-1}) before the first failure; X = U + t·V; sign bit B; reject (B = 1, X = 0);
 * - Algorithm 3, the discrete Gaussian: t = ⌊σ⌋ + 1; repeat Y ← DLap(t) until
 *   Bernoulli(exp(-(|Y| - σ²/t)² / (2σ²))) = 1; return Y.
 * With σ² = p/q exactly, the exponent of Algorithm 3 is the rational
 *   γ = (|Y|·t·q − p)² / (2·p·q·t²).
 *
 * Exactness. Every random decision is a comparison of uniform integers (from
 * `CryptoRandom`) with exact integers. The last Bernoulli(e^{-γ}) has a fast path: γ is
 * first approximated in floating point with a rigorous error bound (relative 1e-13,
 * ≥ 30× the ≤ 4 roundings' worst case) and used only to (a) pick k = ⌊γ⌋ when the bound
 * proves it, and (b) decide each Bernoulli(f/K) of Algorithm 1 (f = γ − k) from the
 * first 53 bits u of the uniform U when the interval [u, u+1)·2^-53 lies wholly on one
 * side of the interval around f/K. Otherwise the decision is made exactly with BigInt
 * from the same u plus fresh bits (U < f/K ⇔ V < (r·2^53 − u·D·K)/(D·K), r = γ's exact
 * remainder numerator, D its denominator). Floats thus only choose which exact
 * comparison settles the draw; no floating-point exp/log is used.
 */
import { assertCryptoRandom, type CryptoRandom } from './random.js';
import { bernExp1, bernExpBig, bernExpFrac } from './bernoulli-exp.js';
import { isqrt, parsePositiveRational, type Rational } from './rational.js';

const TWO53 = 9007199254740992;
const INT32_MAX = 2147483647;
const REL = 1e-13;

/** Precomputed constants of Algorithm 3 for σ² = p/q. */
export interface DGaussPlan {
  readonly sigma2: Rational;
  readonly t: number;
  /** t·q (exact if `fast`) */
  readonly tq: number;
  readonly p: number;
  readonly tqBig: bigint;
  /** D = 2·p·q·t², γ's denominator */
  readonly D: bigint;
  readonly Df: number;
  /** p, t·q below 2^53: the numerator |Y|·t·q − p is computed in Number while |Y|·t·q < 2^53 */
  readonly fast: boolean;
  /** tests only: widen the float filter's undecided band by this much (forces the exact branch) */
  readonly widen: number;
}

export type Sigma2 = number | { num: bigint; den: bigint };

/**
 * Constants for σ²; `mode` (tests) is 'filtered' (default), 'exact' (BigInt for every γ) or
 * 'widened' (the float filter's fraction test never decides: its exact branch settles each draw).
 */
export function dgaussPlan(sigma2: Sigma2, fn = 'discreteGaussian', mode: 'filtered' | 'exact' | 'widened' = 'filtered'): DGaussPlan {
  const r = parsePositiveRational(sigma2, fn, 'sigma2');
  const t = isqrt(r.num / r.den) + 1n;
  if (t > BigInt(TWO53 / 4)) throw new RangeError(`${fn}: "sigma2" too large (σ ≥ 2^51), got ${r.num}/${r.den}`);
  const tq = t * r.den;
  const D = 2n * r.num * r.den * t * t;
  const fast = mode !== 'exact' && r.num < BigInt(TWO53) && tq < BigInt(TWO53);
  const widen = mode === 'widened' ? 2 : 0;
  return { sigma2: r, t: Number(t), tq: Number(tq), p: Number(r.num), tqBig: tq, D, Df: Number(D), fast, widen };
}

/** Discrete Laplace with scale t (Algorithm 2 with s = 1). */
export function discreteLaplaceT(rng: CryptoRandom, t: number): number {
  for (;;) {
    const u = t === 1 ? 0 : rng.int(t);
    if (u !== 0 && bernExpFrac(rng, u, t) === 0) continue;
    let v = 0;
    while (bernExp1(rng) === 1) v++;
    const neg = rng.uint32() & 1;
    const x = u + t * v;
    if (neg === 1 && x === 0) continue;
    return neg === 1 ? -x : x;
  }
}

/** The exact integer a = ay·t·q − p (`a` itself when it is exact, absErr = 0). */
function exactA(plan: DGaussPlan, a: number, ay: number, absErr: number): bigint {
  return absErr === 0 ? BigInt(a) : BigInt(ay) * plan.tqBig - plan.sigma2.num;
}

/**
 * Bernoulli(exp(-a²/D)) for the integer a = |Y|·t·q − p, with the float filter described above.
 * `a` is that integer as a double, exact when `ay·tq` < 2^53; above, `a` is fl(fl(ay·tq) − p), within
 * `absErr` = 2^-50·fl(ay·tq) (≥ 2 ulps of the product plus the subtraction's rounding) of the exact
 * integer, which is then only built in BigInt (from ay) for the exact branches.
 */
function bernGauss(rng: CryptoRandom, plan: DGaussPlan, a: number, ay: number, absErr: number): 0 | 1 {
  const g = (a * a) / plan.Df;
  if (!Number.isFinite(g)) return bernExpBig(rng, exactA(plan, a, ay, absErr) ** 2n, plan.D);
  // |a² − fl(a)²| ≤ 2|a|·absErr + absErr² (relative slack 1e-3 for the roundings of this bound)
  const err = g * REL + (absErr === 0 ? 0 : ((2 * Math.abs(a) + absErr) * absErr / plan.Df) * 1.001) + 1e-300;
  const k = Math.floor(g);
  if (Math.floor(g - err) !== k || Math.floor(g + err) !== k) return bernExpBig(rng, exactA(plan, a, ay, absErr) ** 2n, plan.D);
  for (let i = 0; i < k; i++) if (bernExp1(rng) === 0) return 0;
  const f = g - k;
  const ef = err + g * 2.3e-16;
  let rem: bigint | undefined;
  let K = 1;
  for (;;) {
    const u = rng.uint53();
    const lo = ((f - ef) / K) * (1 - 1e-15) - plan.widen;
    const hi = ((f + ef) / K) * (1 + 1e-15) + plan.widen;
    let accept: boolean;
    if ((u + 1) / TWO53 <= lo) accept = true;
    else if (u / TWO53 >= hi) accept = false;
    else {
      // exact: U = (u + V)/2^53 < rem/(D·K)  ⇔  V < (rem·2^53 − u·D·K)/(D·K)
      rem ??= exactA(plan, a, ay, absErr) ** 2n - BigInt(k) * plan.D;
      const den = plan.D * BigInt(K);
      const num = rem * BigInt(TWO53) - BigInt(u) * den;
      accept = num <= 0n ? false : num >= den ? true : rng.bigBelow(den) < num;
    }
    if (!accept) break;
    K++;
  }
  return (K & 1) as 0 | 1;
}

/** One draw of Algorithm 3 for a plan. */
export function dgaussSample(rng: CryptoRandom, plan: DGaussPlan): number {
  for (;;) {
    const y = discreteLaplaceT(rng, plan.t);
    const ay = Math.abs(y);
    const prod = ay * plan.tq;
    if (plan.fast && prod < TWO53) {
      if (bernGauss(rng, plan, prod - plan.p, ay, 0) === 1) return y;
    } else if (plan.fast && prod < TWO53 * TWO53) {
      // a rounded: the filter widens by its error bound, the exact branches use BigInt
      if (bernGauss(rng, plan, prod - plan.p, ay, prod * 2 ** -50) === 1) return y;
    } else {
      const a = BigInt(ay) * plan.tqBig - plan.sigma2.num;
      if (bernExpBig(rng, a * a, plan.D) === 1) return y;
    }
  }
}

/**
 * Fill `out` with independent exact discrete Gaussian samples N_Z(0, σ²).
 * `sigma2`: a positive finite number (its exact dyadic value is used) or `{ num, den }` BigInts.
 * An Int32Array `out` must hold every sample: a RangeError is thrown otherwise (use a Float64Array).
 */
export function discreteGaussian(rng: CryptoRandom, sigma2: Sigma2, out: Int32Array | Float64Array): Int32Array | Float64Array {
  assertCryptoRandom(rng, 'rng', 'discreteGaussian');
  const isInt = out instanceof Int32Array;
  if (!isInt && !(out instanceof Float64Array)) {
    throw new TypeError(`discreteGaussian: "out" expected Int32Array or Float64Array, got ${out === null ? 'null' : typeof out === 'object' ? (out as object).constructor?.name : typeof out}`);
  }
  const plan = dgaussPlan(sigma2, 'discreteGaussian');
  for (let i = 0; i < out.length; i++) {
    const x = dgaussSample(rng, plan);
    if (isInt && (x > INT32_MAX || x < -INT32_MAX - 1)) {
      throw new RangeError(`discreteGaussian: sample ${x} at index ${i} does not fit the Int32Array "out" (σ² = ${plan.sigma2.num}/${plan.sigma2.den}); use a Float64Array`);
    }
    out[i] = x;
  }
  return out;
}

/** One exact discrete Gaussian sample N_Z(0, σ²). */
export function discreteGaussianOne(rng: CryptoRandom, sigma2: Sigma2): number {
  assertCryptoRandom(rng, 'rng', 'discreteGaussianOne');
  return dgaussSample(rng, dgaussPlan(sigma2, 'discreteGaussianOne'));
}
