/**
 * Exact discrete Gaussian N_Z(0, σ²): P[X = x] ∝ exp(-x²/(2σ²)) on the integers.
 *
 * Canonne, Kamath, Steinke 2020, "The Discrete Gaussian for Differential Privacy"
 * (NeurIPS 2020, arXiv:2004.00010), §5, Algorithm 3: t = ⌊σ⌋ + 1; repeat Y ← DLap(t) until
 * Bernoulli(exp(-(|Y| - σ²/t)² / (2σ²))) = 1; return Y. With σ² = p/q exactly, the exponent
 * is the rational γ = (|Y|·t·q − p)² / (2·p·q·t²).
 *
 * The discrete Laplace DLap(t) (P[Y = y] ∝ e^{-|y|/t}) is drawn as a sign bit B and a
 * geometric G with P[G ≥ x] = e^{-x/t}, rejecting (B = 1, G = 0): the same law as CKS's
 * Algorithm 2. G is max{x : U < e^{-x/t}} = ⌊−t·ln U⌋ for one uniform U (53 bits drawn):
 * the float ⌊−t·ln U⌋ is accepted when its error bound proves it for the whole interval of
 * U; otherwise `LazyUniform.geometric` finds G exactly. The acceptance Bernoulli is one 32-bit word against e^{-γ} through the same
 * filter (bernoulli-exp.ts `expNegSide`), else exactly.
 *
 * Exactness. Every decision is U < e^{-γ} for a uniform U and a rational γ, settled either
 * by float bounds that prove it (γ's float within a proven error, Math.exp's < 1 ulp, all
 * covered by a relative margin ≥ 100× their sum) or by exact integer brackets of e^{-γ}
 * (exp-bounds.ts). No float decides anything it has not proven. The filtered and the
 * all-exact modes therefore draw the SAME samples from the same stream.
 */
import { assertCryptoRandom, type CryptoRandom } from './random.js';
import { expNegSide, REL } from './bernoulli-exp.js';
import { LazyUniform } from './exp-bounds.js';
import { isqrt, parsePositiveRational, type Rational } from './rational.js';

const INT32_MAX = 2147483647;
// (module-local copies: the hot loop reads no imported binding)
const TWO53_ = 9007199254740992;
const INV32 = 1 / 4294967296;
const INV53 = 1 / TWO53_;
const REL_ = REL;
/** the float geometric stays below this (x + 1 exact, x/t's error bound valid) */
const GEO_MAX = 2 ** 52;

/** Precomputed constants of Algorithm 3 for σ² = p/q. */
export interface DGaussPlan {
  readonly sigma2: Rational;
  readonly t: number;
  readonly tBig: bigint;
  /** t·q (exact if `fast`) */
  readonly tq: number;
  readonly p: number;
  readonly tqBig: bigint;
  /** D = 2·p·q·t², γ's denominator */
  readonly D: bigint;
  readonly Df: number;
  /** p, t·q below 2^53: the numerator |Y|·t·q − p is computed in Number while |Y|·t·q < 2^53 */
  readonly fast: boolean;
  /** 'exact' / 'widened' (tests): the float filters decide nothing, every draw is exact */
  readonly widen: number;
}

export type Sigma2 = number | { num: bigint; den: bigint };

/**
 * Constants for σ²; `mode` (tests) is 'filtered' (default) or 'exact' / 'widened' (the
 * float filters never decide: every decision through exp-bounds.ts; the same samples).
 */
export function dgaussPlan(sigma2: Sigma2, fn = 'discreteGaussian', mode: 'filtered' | 'exact' | 'widened' = 'filtered'): DGaussPlan {
  const r = parsePositiveRational(sigma2, fn, 'sigma2');
  const t = isqrt(r.num / r.den) + 1n;
  // (σ < 2^47: a sample beyond 2^53, which a double cannot hold, has probability below 2^-1400)
  if (t > BigInt(2 ** 47)) throw new RangeError(`${fn}: "sigma2" too large (σ ≥ 2^47), got ${r.num}/${r.den}`);
  const tq = t * r.den;
  const D = 2n * r.num * r.den * t * t;
  const fast = r.num < BigInt(TWO53_) && tq < BigInt(TWO53_);
  const widen = mode === 'filtered' ? 0 : 2;
  return { sigma2: r, t: Number(t), tBig: t, tq: Number(tq), p: Number(r.num), tqBig: tq, D, Df: Number(D), fast, widen };
}

/**
 * The float geometric for U ∈ [u, u + 1)·2^-53: G = ⌊z⌋ for z = −t·ln U (G = max{x : U <
 * e^{-x/t}} ⇔ x < z). z is computed at the interval's midpoint; over the interval the true z
 * moves by at most t/(2u) from it, (u + 0.5)'s rounding adds t/(2u), Math.log's < 1 ulp and
 * the product's rounding |z|·3.3e-16: δ = 1.01·t/u + |z|·1e-15 bounds them all (3× on the last
 * term). G = ⌊z⌋ is returned when [z − δ, z + δ] holds no integer, else -1 (decide exactly).
 */
export function geometricFloat(u: number, t: number): number {
  if (u === 0) return -1;
  const z = -t * Math.log((u + 0.5) * INV53);
  const x = Math.floor(z);
  const d = (1.01 * t) / u + z * 1e-15;
  if (!(x >= 0 && x < GEO_MAX && z - d > x && z + d < x + 1)) return -1;
  return x;
}

/** Discrete Laplace with scale t (P[Y = y] ∝ e^{-|y|/t}), exactly. */
export function discreteLaplaceT(rng: CryptoRandom, t: number, plan?: DGaussPlan): number {
  const exactOnly = plan !== undefined && plan.widen !== 0;
  for (;;) {
    const neg = rng.bit();
    const u = rng.uint53();
    let x = exactOnly ? -1 : geometricFloat(u, t);
    if (x < 0) x = Number(new LazyUniform(rng, u, 53).geometric(plan?.tBig ?? BigInt(t)));
    if (neg === 1 && x === 0) continue;
    return neg === 1 ? -x : x;
  }
}

/** γ's exact numerator a² for a = |Y|·t·q − p. */
function gammaNum(plan: DGaussPlan, ay: number): bigint {
  const A = BigInt(ay) * plan.tqBig - plan.sigma2.num;
  return A * A;
}

/** the absolute error bound of the last `gammaFloat` */
let gErr = 0;

/**
 * γ = a²/D as a float g, its error bound |g − γ| ≤ `gErr`:
 * - a·t·q < 2^53: a exact, then a·a, D's conversion, the division: ≤ 3 roundings (g·REL);
 * - below 2^100: a = fl(fl(|Y|·tq) − p) within absErr = 2^-50·fl(|Y|·tq) (≥ 2 ulps of the
 *   product plus the subtraction's rounding), so |a² − fl(a)²| ≤ (2|a| + absErr)·absErr;
 * - beyond: ⌊a²·2^64/D⌋/2^64 in BigInt (below γ by < 2^-64), one rounding to a double.
 */
function gammaFloat(plan: DGaussPlan, ay: number): number {
  const prod = ay * plan.tq;
  if (plan.fast && prod < TWO53_) {
    const a = prod - plan.p;
    const g = (a * a) / plan.Df;
    gErr = g * REL_;
    return g;
  }
  if (plan.fast && prod < 1.2676506002282294e30) {
    const a = prod - plan.p, absErr = prod * 8.881784197001252e-16;
    const g = (a * a) / plan.Df;
    gErr = g * REL_ + ((2 * Math.abs(a) + absErr) * absErr / plan.Df) * 1.001;
    return g;
  }
  const g = Number((gammaNum(plan, ay) << 64n) / plan.D) / 2 ** 64;
  gErr = g * REL_ + 8.7e-19;
  return g;
}

/** One draw of Algorithm 3 for a plan. */
export function dgaussSample(rng: CryptoRandom, plan: DGaussPlan): number {
  for (;;) {
    const y = discreteLaplaceT(rng, plan.t, plan);
    const ay = Math.abs(y);
    const g = gammaFloat(plan, ay);
    const w = rng.uint32();
    let side = plan.widen !== 0 ? -1 : expNegSide(w, INV32, g, gErr);
    if (side === -1) side = new LazyUniform(rng, w, 32).belowExpNeg(gammaNum(plan, ay), plan.D) ? 1 : 0;
    if (side === 1) return y;
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
