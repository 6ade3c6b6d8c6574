/**
 * Float64 kernels for values in the clear (public values, and private values
 * at their owner): what a local or private computation runs, and what the
 * tests use as the plaintext reference.
 */
import { broadcastShape } from '../protocols/base.js';

export interface Plain {
  readonly values: Float64Array;
  readonly shape: readonly number[];
}

const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

function strides(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= shape[i]!;
  }
  return st;
}

/** Elementwise f(x, y) with broadcasting. */
export function zipWith(fn: string, x: Plain, y: Plain, f: (a: number, b: number) => number): Plain {
  const shape = broadcastShape(fn, x.shape, y.shape);
  const n = shape.length;
  const out = new Float64Array(size(shape));
  const ost = strides(shape);
  const bst = (s: readonly number[]): number[] => {
    const st = strides(s);
    return shape.map((_, i) => {
      const j = i - (n - s.length);
      return j < 0 || s[j] === 1 ? 0 : st[j]!;
    });
  };
  const xs = bst(x.shape);
  const ys = bst(y.shape);
  for (let k = 0; k < out.length; k++) {
    let r = k;
    let ix = 0;
    let iy = 0;
    for (let i = 0; i < n; i++) {
      const c = Math.floor(r / ost[i]!);
      r -= c * ost[i]!;
      ix += c * xs[i]!;
      iy += c * ys[i]!;
    }
    out[k] = f(x.values[ix]!, y.values[iy]!);
  }
  return { values: out, shape };
}

export const map = (x: Plain, f: (a: number) => number): Plain => ({ values: x.values.map(f), shape: [...x.shape] });

export function matmul(x: Plain, y: Plain): Plain {
  const [m, k] = x.shape as [number, number];
  const nn = y.shape[1]!;
  const out = new Float64Array(m * nn);
  for (let i = 0; i < m; i++) {
    for (let l = 0; l < k; l++) {
      const a = x.values[i * k + l]!;
      for (let j = 0; j < nn; j++) out[i * nn + j] += a * y.values[l * nn + j]!;
    }
  }
  return { values: out, shape: [m, nn] };
}

/** Sum over `axis` (all elements when undefined); the shape as the engine's `sum`. */
export function sum(x: Plain, axis: number | undefined, keepDims: boolean): Plain {
  if (axis === undefined) {
    let s = 0;
    for (const v of x.values) s += v;
    return { values: Float64Array.of(s), shape: keepDims ? x.shape.map(() => 1) : [] };
  }
  const r = x.shape.length;
  const a = axis < 0 ? axis + r : axis;
  const outer = size(x.shape.slice(0, a));
  const d = x.shape[a]!;
  const inner = size(x.shape.slice(a + 1));
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) for (let j = 0; j < d; j++) for (let i = 0; i < inner; i++) out[o * inner + i] += x.values[(o * d + j) * inner + i]!;
  return { values: out, shape: keepDims ? x.shape.map((v, i) => (i === a ? 1 : v)) : x.shape.filter((_, i) => i !== a) };
}

/** Axes permuted: result axis i is x's axis perm[i] (the engine's transpose). */
export function transpose(x: Plain, perm: readonly number[]): Plain {
  const shape = perm.map((a) => x.shape[a]!);
  const src = strides(x.shape);
  const out = new Float64Array(x.values.length);
  const ost = strides(shape);
  for (let k = 0; k < out.length; k++) {
    let r = k;
    let from = 0;
    for (let i = 0; i < shape.length; i++) {
      const c = Math.floor(r / ost[i]!);
      r -= c * ost[i]!;
      from += c * src[perm[i]!]!;
    }
    out[k] = x.values[from]!;
  }
  return { values: out, shape };
}
