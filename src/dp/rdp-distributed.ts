// RDP bounds of the distributed discrete mechanisms (pure math). All
// quantities are in the integer (scaled and rounded) domain the noise is added
// in: sensitivities of the integer vector, the discrete noise's parameters.
//
// References:
// - [KLS21] Kairouz, Liu, Steinke. "The Distributed Discrete Gaussian Mechanism
//   for Federated Learning with Secure Aggregation", ICML 2021
//   (arXiv:2102.06387): Theorem 1 (τ, the sum of n discrete Gaussians) and
//   Proposition 14 / Eq. (17) (the RDP bound with L1 and L2 sensitivities),
//   as the authors implement it in google-research/federated
//   distributed_dp/accounting_utils.py (`compute_rdp_dgaussian`, `ddgauss_epsilon`).
// - [CKS20] Canonne, Kamath, Steinke. "The Discrete Gaussian for Differential
//   Privacy", NeurIPS 2020: one discrete Gaussian N_Z(0, σ²) with L2
//   sensitivity Δ is (Δ²/(2σ²))-zCDP, i.e. RDP α·Δ²/(2σ²) (the n = 1 case, τ = 0).
// - [AKL21] Agarwal, Kairouz, Liu. "The Skellam Mechanism for Differentially
//   Private Federated Learning", NeurIPS 2021 (arXiv:2110.04995), the
//   multi-dimensional Skellam RDP theorem, as the authors implement it in
//   google-research/federated distributed_dp/accounting_utils.py (`_skellam_rdp`).

/**
 * [KLS21] Theorem 1: the sum of n independent N_Z(0, σ²) is close to
 * N_Z(0, nσ²) with τ = 10 · Σ_{k=1..n−1} exp(−2π²σ² · k/(k+1)) (0 for n = 1).
 */
export function ddgTau(sigma: number, clients: number): number {
  let tau = 0;
  const c = 2 * Math.PI * Math.PI * sigma * sigma;
  for (let k = 1; k < clients; k++) tau += Math.exp((-c * k) / (k + 1));
  return 10 * tau;
}

export interface DdgParams {
  /** Scale σ of each client's discrete Gaussian N_Z(0, σ²) (integer domain; ≥ 1/2 per [KLS21]). */
  readonly sigma: number;
  /** Number n of clients whose noise is summed. */
  readonly clients: number;
  /** L2 sensitivity Δ₂ of the integer sum. */
  readonly l2Sensitivity: number;
  /** L1 sensitivity Δ₁ of the integer sum. */
  readonly l1Sensitivity: number;
  /** Dimension d of the vector. */
  readonly dimension: number;
}

/**
 * RDP at order α > 1 of x ↦ x + Σ_{i=1..n} Z_i, Z_i ~ N_Z(0, σ²)^d ([KLS21]
 * Prop. 14 / Eq. (17)), with s = √n·σ:
 *   ε(α) = min{ α Δ₂²/(2s²) + τ d,
 *               (α/2)(Δ₂²/s² + 2 Δ₁ τ / s + τ² d),
 *               (α/2)(Δ₂/s + τ √d)² }.
 */
export function rdpDistributedDiscreteGaussian(p: DdgParams, alpha: number): number {
  if (alpha === Infinity) return Infinity;
  const tau = ddgTau(p.sigma, p.clients);
  const s = Math.sqrt(p.clients) * p.sigma;
  const l2 = p.l2Sensitivity / s;
  const l1 = p.l1Sensitivity / s;
  const d = p.dimension;
  const t1 = (alpha / 2) * l2 * l2 + tau * d;
  const t2 = (alpha / 2) * (l2 * l2 + 2 * l1 * tau + tau * tau * d);
  const t3 = (alpha / 2) * (l2 + Math.sqrt(d) * tau) ** 2;
  return Math.min(t1, t2, t3);
}

export interface SkellamParams {
  /** μ: variance of the aggregate Skellam noise (sum of the clients' shares), integer domain. */
  readonly mu: number;
  /** L2 sensitivity Δ₂ of the integer sum. */
  readonly l2Sensitivity: number;
  /** L1 sensitivity Δ₁ of the integer sum. */
  readonly l1Sensitivity: number;
}

/**
 * RDP at order α > 1 of the multi-dimensional Skellam mechanism with aggregate
 * variance μ ([AKL21]):
 *   ε(α) = α Δ₂²/(2μ) + min{ ((2α − 1) Δ₂² + 6 Δ₁) / (4μ²),  3 Δ₁ / (2μ) }.
 */
export function rdpSkellam(p: SkellamParams, alpha: number): number {
  if (alpha === Infinity) return Infinity;
  const { mu, l2Sensitivity: l2, l1Sensitivity: l1 } = p;
  const base = (alpha * l2 * l2) / (2 * mu);
  return base + Math.min(((2 * alpha - 1) * l2 * l2 + 6 * l1) / (4 * mu * mu), (3 * l1) / (2 * mu));
}

/**
 * L2 norm bound after conditional stochastic rounding to the integer grid
 * ([KLS21] Sec. 4.1, Theorem 1 / Proposition 22; google-research/federated
 * `rounded_l2_norm_bound`): for a vector of L2 norm ≤ c (already scaled) in
 * dimension d, rounding is retried until the rounded norm is at most
 *   min{ c + √d,  √(c² + d/4 + √(2 log(1/β)) · (c + √d/2)) },
 * which happens with probability ≥ 1 − β (β = 0: the first, unconditional bound).
 */
export function roundedL2NormBound(c: number, beta: number, dimension: number): number {
  if (!(c >= 0) || !Number.isFinite(c)) throw new RangeError(`roundedL2NormBound: "c" expected a finite number ≥ 0, got ${c}`);
  if (!(beta >= 0 && beta < 1)) throw new RangeError(`roundedL2NormBound: "beta" expected in [0, 1), got ${beta}`);
  if (!Number.isSafeInteger(dimension) || dimension < 1) throw new RangeError(`roundedL2NormBound: "dimension" expected an integer ≥ 1, got ${dimension}`);
  const b1 = c + Math.sqrt(dimension);
  if (beta === 0) return b1;
  const sq = c * c + 0.25 * dimension + Math.sqrt(2 * Math.log(1 / beta)) * (c + 0.5 * Math.sqrt(dimension));
  return Math.min(b1, Math.sqrt(sq));
}

/**
 * L1 bound of an integer vector of L2 norm ≤ c2 in dimension d:
 * c2 · min(√d, c2) (‖x‖₁ ≤ √d‖x‖₂; and ‖x‖₁ ≤ ‖x‖₂² for integer coordinates).
 */
export function integerL1NormBound(c2: number, dimension: number): number {
  if (!(c2 >= 0) || !Number.isFinite(c2)) throw new RangeError(`integerL1NormBound: "c2" expected a finite number ≥ 0, got ${c2}`);
  if (!Number.isSafeInteger(dimension) || dimension < 1) throw new RangeError(`integerL1NormBound: "dimension" expected an integer ≥ 1, got ${dimension}`);
  return c2 * Math.min(Math.sqrt(dimension), c2);
}
