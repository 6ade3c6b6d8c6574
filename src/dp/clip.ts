/**
 * L2 clipping of one client's update (Abadi et al. CCS'16; TFF
 * aggregators/robust.py `clipping_factory`): x · min(1, c / ||x||_2). The
 * sensitivity of a sum of clipped updates to adding or removing one client
 * is then c in L2. There is no inverse (clipping loses the norm above c).
 */

/** ||x||_2, computed with a scale so that no partial sum overflows or underflows. */
export function l2Norm(x: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]!);
    if (!(a <= max)) max = a; // NaN propagates through max
  }
  if (max === 0 || !Number.isFinite(max)) return max;
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const a = x[i]! / max;
    s += a * a;
  }
  return max * Math.sqrt(s);
}

/** ||x||_1. */
export function l1Norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.abs(x[i]!);
  return s;
}

/**
 * `x` scaled onto the L2 ball of radius `clip` (a fresh array; unchanged
 * values when ||x|| <= clip). `clipped`: whether it was scaled. Non-finite
 * values are refused (RangeError naming "x").
 */
export function clipL2(x: Float64Array, clip: number): { values: Float64Array; norm: number; clipped: boolean } {
  if (!(x instanceof Float64Array)) throw new TypeError('clipL2: "x" expected a Float64Array');
  if (!(typeof clip === 'number' && clip > 0 && Number.isFinite(clip))) throw new RangeError(`clipL2: "clip" expected a finite number > 0, got ${String(clip)}`);
  const norm = l2Norm(x);
  if (!Number.isFinite(norm)) throw new RangeError(`clipL2: "x" has a non-finite value (norm ${norm})`);
  const out = x.slice();
  if (norm <= clip) return { values: out, norm, clipped: false };
  // the factor rounded down a hair: the result's norm never exceeds clip through rounding
  const f = (clip / norm) * (1 - 2 ** -50);
  for (let i = 0; i < out.length; i++) out[i]! *= f;
  return { values: out, norm, clipped: true };
}
