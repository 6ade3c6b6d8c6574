/**
 * Exact Poisson(μ) for rational μ ≥ 0, and Skellam(μ) = Poisson(μ) − Poisson(μ).
 *
 * Method (rejection around the mode with an exactly evaluated, rational acceptance
 * probability; cost O(1) expected per sample for every μ):
 * - m = ⌊μ⌋ is a mode; R(k) = P(k)/P(m) = μ^{k-m}·m!/k! ≤ 1, and R decreases on each side
 *   of m (P(k+1)/P(k) = μ/(k+1)).
 * - Proposal: a block index J with P(J = j) = 2^{-(j+1)}, a sign S, an offset V uniform in
 *   {0, …, w−1} with w = ⌈√μ⌉; d = ±(J·w + V), k = m + d. Its pmf is g(k) = 2^{-J}/(4w) for
 *   d ≠ 0 and 1/(2w) for d = 0 — all integers and powers of two.
 * - Acceptance A(k) = R(k)·2^J / K for d ≠ 0 and 1/(2K) for d = 0, K ≥ max(1, sup_j 2^j·R(m ± j·w))
 *   a dyadic rational (found once per μ: j·ln2 + ln R(m + j·w) is concave in j because the
 *   Poisson pmf is log-concave, so the scan stops after it decreases). A(k) ∝ P(k)/g(k) and
 *   A ≤ 1, so accepted k are exactly Poisson(μ) (von Neumann rejection).
 *   Expected proposals per sample: 4w·K·P(m) ≈ 4K/√(2π) ≈ 2 for large μ.
 * - Bernoulli(A(k)) with A(k) = R(k)·2^{J}/K a rational: ln A is computed in floating point
 *   (Stirling series with its remainder, log1p for the differences) with an error bound far
 *   above its worst case; a 53-bit uniform u decides when [u, u+1)·2^-53 is wholly below or
 *   above the interval around A; otherwise the exact rational A (BigInt products
 *   μ^{|d|}, (m+1)…(m+d)) is compared with U = (u + V)·2^-53, V fresh uniform. So the result
 *   is exactly Poisson(μ) whatever the floats do, as long as the error bound holds; the
 *   bound is checked against the exact value in test/dp/samplers-poisson.test.ts.
 * Alternatives considered: Duchon-Duvignau / sums of Poisson(1) and binomial thinning
 * cost O(μ); a product of Bernoulli(μ/i) factors costs O(√μ); Knuth's and PTRS use
 * floating point exp/log as the sampling law and are not exact.
 */
import { assertCryptoRandom, type CryptoRandom } from './random.js';
import { parsePositiveRational, rangeProduct, type Rational } from './rational.js';

const TWO53 = 9007199254740992;
const LN2 = Math.LN2;
const MAX_MU = 2 ** 40;
const INT32_MAX = 2147483647;
const KBITS = 20;

// ln((z-1)!) for z = 1..18 (17! < 2^53 is exact in a double)
const LNFACT: number[] = [];
for (let z = 1, f = 1; z <= 18; z++) {
  LNFACT.push(Math.log(f));
  f *= z;
}
const HALF_LN_2PI = 0.5 * Math.log(2 * Math.PI);

/** Stirling tail s(z) = 1/(12z) − 1/(360z³) + 1/(1260z⁵) − 1/(1680z⁷) (remainder < 1/(1188 z⁹)). */
function stirlingTail(z: number): number {
  const r = 1 / z, r2 = r * r;
  return r * (1 / 12 - r2 * (1 / 360 - r2 * (1 / 1260 - r2 / 1680)));
}

/** ln Γ(z) = ln((z−1)!) for an integer z ≥ 1. */
function lnGammaInt(z: number): number {
  if (z <= 18) return LNFACT[z - 1]!;
  return (z - 0.5) * Math.log(z) - z + HALF_LN_2PI + stirlingTail(z);
}

export interface PoissonPlan {
  readonly mu: Rational;
  readonly muF: number;
  readonly lnMu: number;
  /** μ − (m + 1), computed from the exact rational */
  readonly muMinusX: number;
  /** log1p((μ − (m + 1))/(m + 1)) = ln(μ/(m + 1)) (once per μ) */
  readonly lnMuX: number;
  /** ln(m + 1) */
  readonly lnX: number;
  readonly m: number;
  readonly w: number;
  /** K = kNum / 2^KBITS */
  readonly kNum: bigint;
  readonly lnK: number;
  /** decide every acceptance exactly (BigInt), skipping the float filter (tests) */
  readonly exactOnly: boolean;
}

/** ln R(k) = ln(P(k)/P(m)) in floating point, and its error bound. */
export function lnRatio(plan: PoissonPlan, k: number): [value: number, tol: number] {
  const { m } = plan;
  const d = k - m;
  if (d === 0) return [0, 0];
  const x = m + 1, y = k + 1;
  let v: number, lnMax: number;
  if (x > 18 && y > 18) {
    const L = Math.log1p(d / x); // ln(y/x)
    const s = stirlingTail(y) - stirlingTail(x);
    v = d * plan.lnMuX + d - (y - 0.5) * L - s;
    lnMax = plan.lnX + Math.max(0, L);
  } else {
    v = d * plan.lnMu - (lnGammaInt(y) - lnGammaInt(x));
    lnMax = plan.lnX + Math.max(0, d) / x; // ≥ ln max(x, y): ln(1 + d/x) ≤ d/x
  }
  // (the error bound uses ln max(x, y) from these, without a second log per proposal)
  const tol = 1e-10 + 1e-14 * (Math.abs(d) + 1) * (Math.abs(plan.lnMu) + lnMax + 4);
  return [v, tol];
}

export function poissonPlan(mu: number | Rational, fn = 'poisson', exactOnly = false): PoissonPlan {
  const r = parsePositiveRational(mu, fn, 'mu', true);
  const mBig = r.num / r.den;
  if (mBig > BigInt(MAX_MU)) throw new RangeError(`${fn}: "mu" expected ≤ 2^40, got ${r.num}/${r.den}`);
  const m = Number(mBig);
  const frac = Number(r.num - mBig * r.den) / Number(r.den); // μ − m in [0, 1)
  const muF = m + frac;
  const w = Math.max(1, Math.ceil(Math.sqrt(muF)));
  const plan0 = { mu: r, muF, lnMu: Math.log(muF), muMinusX: frac - 1, lnMuX: Math.log1p((frac - 1) / (m + 1)), lnX: Math.log(m + 1), m, w, kNum: 0n, lnK: 0, exactOnly };
  let best = 0;
  if (r.num !== 0n) {
    for (const side of [1, -1]) {
      let prev = -Infinity, down = 0;
      for (let j = 1; down < 3; j++) {
        const k = m + side * j * w;
        if (k < 0) break;
        const [lr, tol] = lnRatio(plan0, k);
        const h = j * LN2 + lr + tol;
        if (h > best) best = h;
        if (h < prev) down++;
        prev = h;
      }
    }
  }
  const kNum = BigInt(Math.ceil(Math.exp(best + 1e-6) * 2 ** KBITS) + 1);
  return { ...plan0, kNum, lnK: Math.log(Number(kNum) / 2 ** KBITS) };
}

/** The exact acceptance A = R(k)·2^J/K as num/den (BigInt). */
function exactAcceptance(plan: PoissonPlan, k: number, J: number): [bigint, bigint] {
  const { num: p, den: q } = plan.mu;
  const m = BigInt(plan.m), kb = BigInt(k);
  let rn: bigint, rd: bigint;
  if (kb > m) {
    const e = kb - m;
    rn = p ** e;
    rd = q ** e * rangeProduct(m + 1n, kb);
  } else {
    const e = m - kb;
    rn = rangeProduct(kb + 1n, m) * q ** e;
    rd = p ** e;
  }
  return [rn << BigInt(J + KBITS), rd * plan.kNum];
}

/** Bernoulli(A(k)) for a proposal with d ≠ 0. */
function accept(rng: CryptoRandom, plan: PoissonPlan, k: number, J: number): boolean {
  const u = rng.uint53();
  if (!plan.exactOnly) {
    const [lr, tol] = lnRatio(plan, k);
    const e = lr + J * LN2 - plan.lnK;
    // squeeze (no exp): (1 + e/4)^4 ≤ e^e ≤ (1 − e/4)^-4 for −4 ≤ e ≤ 0; with 2e-15 of slack for
    // their ≤ 6 roundings and Math.exp's, each threshold lies beyond the full test's (monotone
    // rounding), so a draw it settles is settled the same way by the full test below.
    if (e >= -50 && e <= 0) {
      const s = 1 + e / 4, s2 = s * s, t = 1 - e / 4, t2 = t * t;
      if (s >= 0 && (u + 1) / TWO53 <= s2 * s2 * (1 - 2e-15) * (1 - 2 * tol - 1e-14)) return true;
      if (u / TWO53 >= (1 / (t2 * t2)) * (1 + 2e-15) * (1 + 2 * tol + 1e-14)) return false;
    }
    const a = Math.exp(e);
    // relative bounds hold while a is a normal double; below 1e-290 (including underflow to a
    // subnormal or 0, where A < e^{-700}) only "reject when U ≥ 1e-290" is used
    const small = a < 1e-290;
    const lo = small ? 0 : a * (1 - 2 * tol - 1e-14);
    const hi = small ? 1e-290 : a * (1 + 2 * tol + 1e-14);
    if ((u + 1) / TWO53 <= lo) return true;
    if (u / TWO53 >= hi) return false;
  }
  const [an, ad] = exactAcceptance(plan, k, J);
  if (an > ad) throw new Error(`poisson: internal error, acceptance above 1 at k = ${k} (μ = ${plan.mu.num}/${plan.mu.den})`);
  // U = (u + V)/2^53 < an/ad  ⇔  V < (an·2^53 − u·ad)/ad
  const num = an * BigInt(TWO53) - BigInt(u) * ad;
  return num <= 0n ? false : num >= ad ? true : rng.bigBelow(ad) < num;
}

/** One exact Poisson(μ) sample for a plan. */
export function poissonSample(rng: CryptoRandom, plan: PoissonPlan): number {
  if (plan.mu.num === 0n) return 0;
  const { m, w } = plan;
  for (;;) {
    let J = 0;
    while (rng.bit() === 1) J++;
    const neg = rng.bit();
    const v = w === 1 ? 0 : rng.int(w);
    const a = J * w + v;
    if (a === 0) {
      // A = 1/(2K) = 2^(KBITS-1)/kNum
      if (rng.bernoulli(BigInt(1 << (KBITS - 1)), plan.kNum) === 1) return m;
      continue;
    }
    const k = neg === 1 ? m - a : m + a;
    if (k < 0) continue;
    if (accept(rng, plan, k, J)) return k;
  }
}

function checkOut(out: unknown, fn: string): boolean {
  if (out instanceof Int32Array) return true;
  if (out instanceof Float64Array) return false;
  throw new TypeError(`${fn}: "out" expected Int32Array or Float64Array, got ${out === null ? 'null' : typeof out === 'object' ? (out as object).constructor?.name : typeof out}`);
}

function store(out: Int32Array | Float64Array, isInt: boolean, i: number, x: number, fn: string): void {
  if (isInt && (x > INT32_MAX || x < -INT32_MAX - 1)) {
    throw new RangeError(`${fn}: sample ${x} at index ${i} does not fit the Int32Array "out"; use a Float64Array`);
  }
  out[i] = x;
}

/** Fill `out` with independent exact Poisson(μ) samples; μ a finite number ≥ 0 (exact dyadic value) or `{ num, den }`. */
export function poisson(rng: CryptoRandom, mu: number | Rational, out: Int32Array | Float64Array): Int32Array | Float64Array {
  assertCryptoRandom(rng, 'rng', 'poisson');
  const isInt = checkOut(out, 'poisson');
  const plan = poissonPlan(mu, 'poisson');
  for (let i = 0; i < out.length; i++) store(out, isInt, i, poissonSample(rng, plan), 'poisson');
  return out;
}

export function poissonOne(rng: CryptoRandom, mu: number | Rational): number {
  assertCryptoRandom(rng, 'rng', 'poissonOne');
  return poissonSample(rng, poissonPlan(mu, 'poissonOne'));
}

/**
 * Fill `out` with independent exact Skellam(μ) samples, X₁ − X₂ with X₁, X₂ ~ Poisson(μ)
 * independent (variance 2μ; Agarwal, Kairouz, Liu 2021, "The Skellam Mechanism").
 */
export function skellam(rng: CryptoRandom, mu: number | Rational, out: Int32Array | Float64Array): Int32Array | Float64Array {
  assertCryptoRandom(rng, 'rng', 'skellam');
  const isInt = checkOut(out, 'skellam');
  const plan = poissonPlan(mu, 'skellam');
  for (let i = 0; i < out.length; i++) store(out, isInt, i, poissonSample(rng, plan) - poissonSample(rng, plan), 'skellam');
  return out;
}

export function skellamOne(rng: CryptoRandom, mu: number | Rational): number {
  assertCryptoRandom(rng, 'rng', 'skellamOne');
  const plan = poissonPlan(mu, 'skellamOne');
  return poissonSample(rng, plan) - poissonSample(rng, plan);
}
