// Log-space helpers for the RDP accountant (pure math; no other fedcrypt layer).
//
// Log-gamma and the complementary error function come from the @stdlib math
// packages (well-kept, typed); log1p / expm1 are the engine's Math.log1p /
// Math.expm1 (ES2015, correctly handled near 0).

import gammaln from '@stdlib/math-base-special-gammaln';
import erfc from '@stdlib/math-base-special-erfc';
import erfcx from '@stdlib/math-base-special-erfcx';

/** log(e^x + e^y) without overflow: (1 + e^(a-b))·e^b with a ≤ b. */
export function logAdd(logx: number, logy: number): number {
  const a = Math.min(logx, logy);
  const b = Math.max(logx, logy);
  if (a === -Infinity) return b;
  return Math.log1p(Math.exp(a - b)) + b;
}

/** log|e^x − e^y| and its sign (true when e^x ≥ e^y); −∞ magnitude when equal. */
export function logSubSign(logx: number, logy: number): { positive: boolean; mag: number } {
  if (logx > logy) return { positive: true, mag: logx + Math.log1p(-Math.exp(logy - logx)) };
  if (logx < logy) return { positive: false, mag: logy + Math.log1p(-Math.exp(logx - logy)) };
  return { positive: true, mag: -Infinity };
}

/**
 * log|C(n, k)| = lnΓ(n+1) − lnΓ(k+1) − lnΓ(n−k+1), for real n (fractional RDP
 * orders give generalised binomial coefficients; lnΓ of a negative non-integer
 * is ln|Γ|, as scipy's gammaln).
 */
export function logComb(n: number, k: number): number {
  return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1);
}

/**
 * log(erfc(x)), accurate in the far tail where erfc underflows:
 * for x ≥ 0.5, log erfc(x) = log erfcx(x) − x² (erfcx(x) = e^(x²)·erfc(x));
 * otherwise log erfc(x) directly (erfc(x) ∈ (0.47, 2) there).
 */
export function logErfc(x: number): number {
  if (x >= 0.5) return Math.log(erfcx(x)) - x * x;
  return Math.log(erfc(x));
}

export function isInteger(x: number): boolean {
  return Number.isFinite(x) && Math.floor(x) === x;
}
