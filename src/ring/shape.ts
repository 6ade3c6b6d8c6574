/** Shape helpers (pure, no data). */
import { RingShapeError } from './errors.js';

export const fmtShape = (s: readonly number[]): string => `[${s.join(',')}]`;

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Validates a shape argument: array of non-negative safe integers. Returns a frozen copy. */
export function checkShape(fn: string, arg: string, shape: unknown): readonly number[] {
  if (!Array.isArray(shape)) {
    throw new TypeError(`${fn}: argument '${arg}' must be an array of non-negative integers, got ${describe(shape)}`);
  }
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new RangeError(`${fn}: argument '${arg}' must contain non-negative integers, got ${fmtShape(shape as number[])}`);
    }
  }
  return Object.freeze([...(shape as number[])]);
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/** numpy broadcasting of two shapes; throws naming argument `argB` on mismatch. */
export function broadcastShapes(fn: string, argB: string, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)]!;
    const db = i < n - b.length ? 1 : b[i - (n - b.length)]!;
    if (da === db || db === 1) out[i] = da;
    else if (da === 1) out[i] = db;
    else {
      throw new RingShapeError(`${fn}: argument '${argB}' has shape ${fmtShape(b)}, expected shape broadcastable to ${fmtShape(a)}`);
    }
  }
  return out;
}

/** Normalizes an axis in [-rank, rank) to [0, rank). */
export function normAxis(fn: string, arg: string, axis: unknown, rank: number): number {
  if (typeof axis !== 'number' || !Number.isInteger(axis)) {
    throw new TypeError(`${fn}: argument '${arg}' must be an integer, got ${describe(axis)}`);
  }
  if (axis < -rank || axis >= rank) {
    throw new RingShapeError(`${fn}: argument '${arg}' expected integer in [${-rank}, ${rank}), got ${axis}`);
  }
  return axis < 0 ? axis + rank : axis;
}

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}
