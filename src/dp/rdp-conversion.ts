// RDP → (ε, δ) conversion (pure math).
//
// The bound used is [CKS20] Proposition 12 (arXiv:2004.00010 v4; also
// Asoodeh et al. arXiv:2001.05990 Eq. (20)): a mechanism with RDP r at order
// α > 1 is (ε, δ)-DP for
//   ε = r + log1p(−1/α) − log(δ·α)/(α − 1),
//   δ = exp((α − 1)(r − ε + log1p(−1/α)) − log α),
// together with the KL bound δ ≤ √(1 − e^(−r)) (so ε = 0 when δ² > 1 − e^(−r)).
// Orders α ≤ 1.01 are not used by the first bound (numerically unstable as
// α → 1). This is the conversion of Google's dp_accounting (`compute_epsilon`,
// `compute_delta`), which TF Privacy uses; the classic bound of Mironov 2017
// Prop. 3, ε = r − log δ/(α−1), is looser and does NOT reproduce TF Privacy's
// current reference values.

function checkOrdersRdp(orders: readonly number[], rdp: ArrayLike<number>, who: string): void {
  if (orders.length !== rdp.length) {
    throw new RangeError(`${who}: "orders" and "rdp" must have the same length, got ${orders.length} and ${rdp.length}`);
  }
  if (orders.length === 0) throw new RangeError(`${who}: "orders" expected non-empty`);
  for (const a of orders) {
    if (!(a >= 1)) throw new RangeError(`${who}: "orders" expected every order ≥ 1, got ${a}`);
  }
}

/** Smallest ε over the orders for the given δ, with the order achieving it. */
export function epsilonFromRdp(orders: readonly number[], rdp: ArrayLike<number>, delta: number): { epsilon: number; order: number } {
  if (!(delta >= 0 && delta <= 1)) throw new RangeError(`epsilonFromRdp: "delta" expected in [0, 1], got ${delta}`);
  checkOrdersRdp(orders, rdp, 'epsilonFromRdp');
  if (delta === 0) {
    for (let i = 0; i < rdp.length; i++) if (rdp[i] !== 0) return { epsilon: Infinity, order: 0 };
    return { epsilon: 0, order: 0 };
  }
  let best = Infinity;
  let bestIdx = 0;
  for (let i = 0; i < orders.length; i++) {
    const a = orders[i]!;
    const r = rdp[i]!;
    let eps: number;
    if (r < 0) eps = 0; // numerical noise from extreme events
    else if (delta * delta + Math.expm1(-r) > 0) eps = 0; // KL bound already gives δ
    else if (a > 1.01) eps = r + Math.log1p(-1 / a) - Math.log(delta * a) / (a - 1);
    else eps = Infinity;
    if (Number.isNaN(eps)) eps = Infinity;
    if (eps < best) {
      best = eps;
      bestIdx = i;
    }
  }
  return { epsilon: Math.max(0, best), order: orders[bestIdx]! };
}

/** Smallest δ over the orders for the given ε, with the order achieving it. */
export function deltaFromRdp(orders: readonly number[], rdp: ArrayLike<number>, epsilon: number): { delta: number; order: number } {
  if (!(epsilon >= 0)) throw new RangeError(`deltaFromRdp: "epsilon" expected ≥ 0, got ${epsilon}`);
  checkOrdersRdp(orders, rdp, 'deltaFromRdp');
  let best = Infinity;
  let bestIdx = 0;
  for (let i = 0; i < orders.length; i++) {
    const a = orders[i]!;
    const r = rdp[i]!;
    let logDelta: number;
    if (r <= 0) logDelta = -Infinity;
    else logDelta = 0.5 * Math.log1p(-Math.exp(-r)); // KL bound
    if (a > 1.01) {
      const bound = (a - 1) * (r - epsilon + Math.log1p(-1 / a)) - Math.log(a);
      if (bound < logDelta) logDelta = bound;
    }
    if (Number.isNaN(logDelta)) logDelta = Infinity;
    if (logDelta < best) {
      best = logDelta;
      bestIdx = i;
    }
  }
  return { delta: Math.min(Math.exp(best), 1), order: orders[bestIdx]! };
}

/**
 * The classic conversion (Mironov 2017, "Rényi Differential Privacy", Prop. 3):
 * ε = min_α r(α) − log δ/(α − 1). Looser than `epsilonFromRdp`; kept to compare
 * with figures computed before TF Privacy / dp_accounting moved to [CKS20]
 * Prop. 12 (e.g. TF Privacy's compute_noise_from_budget_test targets).
 */
export function epsilonFromRdpClassic(orders: readonly number[], rdp: ArrayLike<number>, delta: number): { epsilon: number; order: number } {
  if (!(delta > 0 && delta <= 1)) throw new RangeError(`epsilonFromRdpClassic: "delta" expected in (0, 1], got ${delta}`);
  checkOrdersRdp(orders, rdp, 'epsilonFromRdpClassic');
  let best = Infinity;
  let bestIdx = 0;
  for (let i = 0; i < orders.length; i++) {
    const a = orders[i]!;
    const eps = a > 1 ? rdp[i]! - Math.log(delta) / (a - 1) : Infinity;
    if (eps < best) {
      best = eps;
      bestIdx = i;
    }
  }
  return { epsilon: Math.max(0, best), order: orders[bestIdx]! };
}
