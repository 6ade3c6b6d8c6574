// RDP of subsampled mechanisms (pure math).
//
// References:
// - [MTZ19] Mironov, Talwar, Zhang. "Rényi Differential Privacy of the Sampled
//   Gaussian Mechanism", arXiv:1908.10530, Sec. 3.3 (A_α at integer and
//   fractional α); the numerically stable evaluation follows TF Privacy's
//   `_compute_log_a_int` / `_compute_log_a_frac` as kept in Google's
//   dp_accounting (python/dp_accounting/dp_accounting/rdp/rdp_privacy_accountant.py).
// - [WBK19] Wang, Balle, Kasiviswanathan. "Subsampled Rényi Differential Privacy
//   and Analytical Moments Accountant", AISTATS 2019, Theorem 27 (sampling
//   without replacement, replace-one relation) and Corollary 10 (interpolation
//   of the CGF between integer orders).
// - [ZW19] Zhu, Wang. "Poisson Subsampled Rényi Differential Privacy", ICML 2019,
//   Theorem 5 (general upper bound for any base mechanism, integer α ≥ 2).

import { isInteger, logAdd, logComb, logErfc, logSubSign } from './rdp-numerics.js';

/**
 * log A_α for integer α and 0 < q < 1, where the RDP of the Poisson-subsampled
 * Gaussian with noise multiplier σ is log(A_α)/(α−1) and ([MTZ19] Sec. 3.3)
 *   A_α = Σ_{i=0..α} C(α,i) q^i (1−q)^(α−i) exp((i² − i)/(2σ²)).
 */
export function logAInt(q: number, sigma: number, alpha: number): number {
  let logA = -Infinity;
  const log1mq = Math.log1p(-q);
  const logq = Math.log(q);
  for (let i = 0; i <= alpha; i++) {
    const logCoef = logComb(alpha, i) + i * logq + (alpha - i) * log1mq;
    logA = logAdd(logA, logCoef + (i * i - i) / (2 * sigma * sigma));
  }
  return logA;
}

const MAX_STEPS_LOG_A_FRAC = 1000;

/**
 * log A_α for fractional α and 0 < q < 1 ([MTZ19] Sec. 3.3): A_α splits at
 * z₀ = σ² log(1/q − 1) + 1/2 into two series
 *   A₀ = Σ_i |C(α,i)| q^i (1−q)^(α−i) e^((i²−i)/(2σ²)) · ½ erfc((i − z₀)/(√2 σ))
 *   A₁ = Σ_i |C(α,i)| q^(α−i) (1−q)^i e^((j²−j)/(2σ²)) · ½ erfc((z₀ − j)/(√2 σ)),  j = α − i,
 * summed until both terms decrease and are below the running total by e^30.
 * Returns +∞ when the series has not converged after 1000 terms (that order is
 * then useless, as in dp_accounting).
 */
export function logAFrac(q: number, sigma: number, alpha: number): number {
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  const s2 = sigma * sigma;
  const z0 = s2 * Math.log(1 / q - 1) + 0.5;
  const log1mq = Math.log1p(-q);
  const logq = Math.log(q);
  const logHalf = Math.log(0.5);
  const sqrt2sigma = Math.SQRT2 * sigma;
  let lastS0 = -Infinity;
  let lastS1 = -Infinity;
  for (let i = 0; i < MAX_STEPS_LOG_A_FRAC; i++) {
    const logCoef = logComb(alpha, i);
    const j = alpha - i;
    const logT0 = logCoef + i * logq + j * log1mq;
    const logT1 = logCoef + j * logq + i * log1mq;
    const logE0 = logHalf + logErfc((i - z0) / sqrt2sigma);
    const logE1 = logHalf + logErfc((z0 - j) / sqrt2sigma);
    const logS0 = logT0 + (i * i - i) / (2 * s2) + logE0;
    const logS1 = logT1 + (j * j - j) / (2 * s2) + logE1;
    logA0 = logAdd(logA0, logS0);
    logA1 = logAdd(logA1, logS1);
    const total = logAdd(logA0, logA1);
    if (logS0 < lastS0 && logS1 < lastS1 && Math.max(logS0, logS1) < total - 30) return total;
    lastS0 = logS0;
    lastS1 = logS1;
  }
  return Infinity;
}

/**
 * RDP at order α of the Poisson-subsampled Gaussian mechanism (add/remove
 * relation), sampling probability q, noise multiplier z (σ / L2 sensitivity):
 * 0 when q = 0; ∞ when z = 0 or α = ∞; α/(2z²) when q = 1; else log(A_α)/(α−1).
 */
export function rdpPoissonGaussian(q: number, z: number, alpha: number): number {
  if (q === 0) return 0;
  if (alpha === Infinity || z === 0) return Infinity;
  if (q === 1) return alpha / (2 * z * z);
  const logA = isInteger(alpha) ? logAInt(q, z, alpha) : logAFrac(q, z, alpha);
  return logA / (alpha - 1);
}

/**
 * Forward differences of exp(f) at 0 in log space with signs, up to order n
 * ([WBK19] Theorem 27 needs Δ^ℓ of exp(K(·)), K the CGF); computed as
 * dp_accounting's `_get_forward_diffs` (including its scratch slot 0).
 */
function forwardDiffs(f: (x: number) => number, n: number): number[] {
  const vec = new Array<number>(n + 3).fill(0);
  const signs = new Array<boolean>(n + 3).fill(true);
  const deltas = new Array<number>(n + 2).fill(0);
  for (let i = 1; i < n + 3; i++) vec[i] = f(i - 1);
  for (let i = 0; i < n + 2; i++) {
    const m = n + 2 - i;
    for (let j = 0; j < m; j++) {
      if (signs[j] === signs[j + 1]) {
        const { positive, mag } = logSubSign(vec[j + 1]!, vec[j]!);
        vec[j] = mag;
        signs[j] = signs[j + 1] ? positive : !positive;
      } else {
        vec[j] = logAdd(vec[j]!, vec[j + 1]!);
        signs[j] = signs[j + 1]!;
      }
    }
    deltas[i] = vec[0]!;
  }
  return deltas;
}

const WOR_MAX_EXACT_ALPHA = 256;

/**
 * (α−1)·RDP at integer α of the Gaussian mechanism (noise multiplier σ) on a
 * uniformly random subset of fixed size m = q·n drawn without replacement,
 * replace-one relation ([WBK19] Theorem 27):
 *   log(1 + q² C(α,2) min{4(e^(ε(2)) − 1), 2 e^(ε(2))}
 *        + Σ_{ℓ=3..α} q^ℓ C(α,ℓ) min{4·√(Δ_lo·Δ_hi), 2 e^((ℓ−1)ε(ℓ))})
 * with ε(ℓ) = ℓ/(2σ²), Δ the forward differences of e^{K}, K(x) = x(x+1)/(2σ²);
 * for α > 256 only the second argument of each min is used (Stirling regime, as
 * dp_accounting does).
 */
function worLogAInt(q: number, sigma: number, alpha: number): number {
  if (alpha === 1) return 0;
  const s2 = sigma * sigma;
  const cgf = (x: number): number => (x * (x + 1)) / (2 * s2);
  const eps = (x: number): number => x / (2 * s2);
  let logA = 0;
  const logf2m1 = eps(2) + Math.log1p(-Math.exp(-eps(2)));
  const logq = Math.log(q);
  const term2 = 2 * logq + logComb(alpha, 2) + Math.min(Math.log(4) + logf2m1, eps(2) + Math.log(2));
  if (alpha <= WOR_MAX_EXACT_ALPHA) {
    const deltas = forwardDiffs(cgf, alpha);
    for (let i = 2; i <= alpha; i++) {
      let s: number;
      if (i === 2) s = term2;
      else {
        const lo = deltas[2 * Math.floor(i / 2) - 1]!;
        const hi = deltas[2 * Math.ceil(i / 2) - 1]!;
        s = Math.min(Math.log(4) + 0.5 * (lo + hi), Math.log(2) + cgf(i - 1));
        s += i * logq + logComb(alpha, i);
      }
      logA = logAdd(logA, s);
    }
    return logA;
  }
  for (let i = 2; i <= alpha; i++) {
    const s = i === 2 ? term2 : Math.log(2) + cgf(i - 1) + i * logq + logComb(alpha, i);
    logA = logAdd(logA, s);
  }
  return logA;
}

/**
 * RDP at order α ≥ 1 of the Gaussian mechanism on a fixed-size sample drawn
 * without replacement (q = m/n), replace-one relation ([WBK19] Thm 27; at a
 * fractional α the CGF is interpolated linearly between ⌊α⌋ and ⌈α⌉, [WBK19]
 * Corollary 10). 0 when q = 0, α/(2σ²) when q = 1. The result is min'd with
 * the unsampled Gaussian's α/(2σ²) (subsampling never hurts: couple the two
 * samples so they differ in at most one record, and use the joint convexity of
 * e^((α−1)D_α)); the [WBK19] bound exceeds it only for large q, where
 * dp_accounting returns the larger value.
 */
export function rdpSampledWorGaussian(q: number, sigma: number, alpha: number): number {
  if (q === 0) return 0;
  if (sigma === 0 || alpha === Infinity) return Infinity;
  if (q === 1) return alpha / (2 * sigma * sigma);
  const unsampled = alpha / (2 * sigma * sigma);
  let bound: number;
  if (isInteger(alpha)) bound = worLogAInt(q, sigma, alpha) / (alpha - 1);
  else {
    const lo = Math.floor(alpha);
    const hi = Math.ceil(alpha);
    const x = worLogAInt(q, sigma, lo);
    const y = worLogAInt(q, sigma, hi);
    const t = alpha - lo;
    bound = ((1 - t) * x + t * y) / (alpha - 1);
  }
  return Math.min(bound, unsampled);
}

/**
 * [ZW19] Theorem 5: RDP at integer α ≥ 2 of a mechanism with RDP ε(·) run on a
 * Poisson subsample with probability γ ∈ (0, 1):
 *   (α−1)·ε'(α) ≤ log{ (1−γ)^(α−1)(αγ − γ + 1) + C(α,2) γ² (1−γ)^(α−2) e^(ε(2))
 *                      + 3 Σ_{ℓ=3..α} C(α,ℓ) (1−γ)^(α−ℓ) γ^ℓ e^((ℓ−1)ε(ℓ)) }.
 * The result is min'd with the unamplified ε(α) (post-processing: subsampling
 * never hurts). Fractional α: the bound at ⌈α⌉ (RDP is non-decreasing in α).
 */
export function rdpPoissonSubsampledGeneric(gamma: number, alpha: number, eps: (order: number) => number): number {
  if (gamma === 0) return 0;
  if (alpha === Infinity) return Infinity;
  const base = eps(alpha);
  if (gamma === 1) return base;
  const a = Math.max(2, Math.ceil(alpha));
  const log1mg = Math.log1p(-gamma);
  const logg = Math.log(gamma);
  let acc = (a - 1) * log1mg + Math.log(a * gamma - gamma + 1);
  acc = logAdd(acc, eps(2) + logComb(a, 2) + 2 * logg + (a - 2) * log1mg);
  for (let l = 3; l <= a; l++) {
    acc = logAdd(acc, Math.log(3) + (l - 1) * eps(l) + logComb(a, l) + (a - l) * log1mg + l * logg);
  }
  return Math.min(acc / (a - 1), base);
}
