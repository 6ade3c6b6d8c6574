/**
 * L2 clipping of one client's update over all its leaves (the global norm),
 * as DP-FedAvg does before the sum (McMahan, Ramage, Talwar, Zhang, ICLR'18
 * "Learning differentially private recurrent language models", Algorithm 1;
 * TF Privacy's GaussianSumQuery clips a record by its global norm):
 *
 *   ‖x‖ = sqrt(Σ_leaves Σ_i x_i²),   clip_C(x) = x · min(1, C / ‖x‖).
 *
 * The result satisfies ‖clip_C(x)‖ ≤ C exactly in the stored dtype: after
 * scaling, the norm of the stored values is measured again and the scale
 * lowered by one part in 2^23 (float32) / 2^50 (float64) until it holds
 * (float rounding of x_i · s may otherwise land a hair above C). Values with
 * ‖x‖ ≤ C are returned as they are (the same arrays, not copied).
 *
 * The norm is computed in float64 (a plain sum of squares; with a max-abs
 * rescaling when that would overflow or reach the subnormal range), so no
 * finite input overflows it. Pure: no import from another layer.
 */

export type FloatLeaf = Float32Array | Float64Array;

export interface ClipResult<T extends FloatLeaf = FloatLeaf> {
  /** The clipped leaves (the input arrays themselves when not clipped). */
  readonly values: readonly T[];
  /** ‖x‖ before clipping. */
  readonly norm: number;
  /** Whether ‖x‖ > C (the values were scaled). */
  readonly clipped: boolean;
}

function checkLeaves(fn: string, values: unknown): asserts values is readonly FloatLeaf[] {
  if (!Array.isArray(values)) throw new TypeError(`${fn}: "values" expected an array of Float32Array/Float64Array, got ${typeof values}`);
  values.forEach((v, j) => {
    if (!(v instanceof Float32Array || v instanceof Float64Array)) throw new TypeError(`${fn}: "values[${j}]" expected a Float32Array or Float64Array, got ${Object.prototype.toString.call(v)}`);
  });
}

/**
 * The global L2 norm of `values` (all leaves together), in float64.
 * RangeError when an element is not finite (callers sanitize first).
 */
export function globalL2Norm(values: readonly FloatLeaf[]): number {
  checkLeaves('globalL2Norm', values);
  // fast path: the plain sum of squares, when it neither overflows nor comes near the subnormal range
  let s = 0;
  for (let j = 0; j < values.length; j++) {
    const v = values[j]!;
    for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  }
  // (s finite and not tiny: every element is finite and no square was lost to underflow that matters)
  if (s < Infinity && s > 2 ** -900) return Math.sqrt(s);
  return scaledNorm(values);
}

/** The norm with a max-abs rescaling (no overflow or underflow of the partial sums). */
function scaledNorm(values: readonly FloatLeaf[]): number {
  let m = 0;
  for (let j = 0; j < values.length; j++) {
    const v = values[j]!;
    for (let i = 0; i < v.length; i++) {
      const a = Math.abs(v[i]!);
      if (!(a <= Number.MAX_VALUE)) throw new RangeError(`globalL2Norm: "values[${j}]" element ${i} is ${v[i]}, not finite`);
      if (a > m) m = a;
    }
  }
  if (m === 0) return 0;
  // Σ (x/m)² ≤ number of elements: no overflow; m · sqrt(·) overflows only past MAX_VALUE itself
  let s = 0;
  for (const v of values) for (let i = 0; i < v.length; i++) {
    const y = v[i]! / m;
    s += y * y;
  }
  return m * Math.sqrt(s);
}

/** Check a clipping norm C (finite, > 0). */
export function checkClipNorm(fn: string, name: string, c: unknown): number {
  if (typeof c !== 'number' || !Number.isFinite(c) || !(c > 0)) throw new RangeError(`${fn}: "${name}" expected a finite number > 0, got ${String(c)}`);
  return c;
}

/**
 * clip_C(values) over all leaves (see the module comment). Returns the
 * clipped leaves (fresh arrays of the same types when clipped), the norm
 * before clipping and whether it was clipped (‖x‖ > C).
 */
export function clipByGlobalNorm<T extends FloatLeaf>(values: readonly T[], clip: number): ClipResult<T> {
  const fn = 'clipByGlobalNorm';
  checkLeaves(fn, values);
  checkClipNorm(fn, 'clip', clip);
  const norm = globalL2Norm(values);
  if (norm <= clip) return { values, norm, clipped: false };
  let scale = clip / norm;
  const f32 = values.some((v) => v instanceof Float32Array);
  const step = f32 ? 2 ** -23 : 2 ** -50;
  const out = values.map((v) => (v instanceof Float32Array ? new Float32Array(v.length) : new Float64Array(v.length))) as T[];
  for (let tries = 0; ; tries++) {
    for (let j = 0; j < values.length; j++) {
      const v = values[j]!;
      const o = out[j]!;
      for (let i = 0; i < v.length; i++) o[i] = v[i]! * scale;
    }
    if (globalL2Norm(out) <= clip) break;
    // (each step lowers the norm by at least one rounding unit; a handful of steps suffices)
    if (tries > 64) throw new Error(`${fn}: internal error: could not bring the norm below ${clip}`);
    scale *= 1 - step * 2 ** Math.min(tries, 20);
  }
  return { values: out, norm, clipped: true };
}
