/**
 * The smooth nonlinear ops of ABY3 and Pond, composed from the protocol's
 * mul / mulPublic / divPublic / truncation and its comparisons (sign bit,
 * select, relu, isNegative) through an `ApproxHost`: exp, reciprocal,
 * division, sigmoid, softmax and log-softmax (issue 14; costs, ranges and
 * measured errors in docs/encrypted-ml.md, "ABY3 smooth ops").
 *
 * - exp(x) = lim (1 + x/n)^n, with the base one Taylor term better:
 *   exp(x) ≈ (1 + z + z²/2)^(2^k), z = x/2^k. 1 + z + z²/2 = 1/2 + a² with
 *   a = (1 + z)/√2, so the base costs one squaring; then k squarings.
 *   k = 5 at 'low' (f = 16), 8 at 'high' (f = 32): each squaring's truncation
 *   noise (one ulp) is amplified by up to 2^k, the approximation error is
 *   about |x|³/(6·4^k) relative; k balances the two for x ≤ 0. With `clip`
 *   (the default), a is replaced by relu(a) (one comparison), so that every
 *   x ≤ -2^k gives (1/2)^(2^k) (0 in the encoding) instead of a wrong large value.
 * - reciprocal(x) for x in a public range [lo, hi], 0 < lo < hi: Newton–Raphson
 *   y ← y (2 − x y) from the best linear guess y0 = α − β x on the range
 *   (minimax relative error: |1 − x y0| ≤ E = (hi − lo)²/((hi + lo)² + 4 lo hi));
 *   the error squares each iteration, so k = min{k : E^(2^k) ≤ 2^-f} iterations.
 * - sigmoid(x) = s ? t/(1+t) : 1/(1+t) with t = exp(−|x|) ∈ (0, 1] and s = [x < 0]:
 *   the reciprocal only ever sees [1, 2] and exp never sees a positive argument.
 * - softmax along an axis: the row maximum by a tree of comparisons and
 *   selects (ceil(log2 c) levels), exp(x − max) ∈ (0, 1], the sum ∈ [1, c], its
 *   reciprocal on [1/2, 1.01 c + 1/2], one product.
 * - logSoftmax = (x − max) − log(sum); log s on [1, c] by the Householder
 *   iteration y ← y − Σ_{j=1..K} h^j/j, h = 1 − s·exp(−y) (the series of
 *   log(1 − h), so each iteration takes y − log s to the series' tail), from
 *   the tangent of log that bounds it from above on the range (h ∈ [0, 1)).
 *
 * Everything here is a composition of the protocol's ops on the servers' own parts,
 * plus local gathers of columns (the max tree); the iteration counts and
 * constants depend on public ranges and the precision only.
 */
import { RingTensor } from '../../ring/index.js';
import { describe, fmtShape } from '../errors.js';
import type { FixedPointConfig } from '../fixed.js';
import type { Encoding, ProtocolTensor, Sensitivity } from '../tensor.js';
import type { Parts } from './base.js';

/** Squarings of exp's base: 2^k is the limit approximation's exponent. */
export const expSquarings = (bits: 64 | 128): number => (bits === 64 ? 5 : 8);

/** Minimax linear guess for 1/x on [lo, hi]: y0 = alpha − beta x, |1 − x y0| ≤ err. */
export function reciprocalGuess(lo: number, hi: number): { alpha: number; beta: number; err: number } {
  const beta = 8 / (4 * lo * hi + (lo + hi) ** 2);
  return { alpha: beta * (lo + hi), beta, err: (hi - lo) ** 2 / ((hi + lo) ** 2 + 4 * lo * hi) };
}

/** Newton iterations for reciprocal on [lo, hi] at f fractional bits: the least k with err^(2^k) ≤ 2^-f. */
export function reciprocalIterations(lo: number, hi: number, frac: number): number {
  const { err } = reciprocalGuess(lo, hi);
  let k = 0;
  for (let e = err; e > 2 ** -frac; e *= e) k++;
  return k;
}

/** Softmax's reciprocal range for rows of c entries: the sum of exp(x − max) is in [1, c] up to exp's error. */
export const softmaxRange = (c: number): [number, number] => [0.5, 1.01 * c + 0.5];

/** Terms of the log series per Householder iteration. */
export const LOG_ORDER = 4;

/**
 * log's initial guess on [lo, hi]: the tangent of log at t, y0 = log t + (s − t)/t ≥ log s,
 * t chosen so that the gap y0 − log s is equal at both ends; `gap` is that largest gap.
 */
export function logGuess(lo: number, hi: number): { t: number; gap: number } {
  const gapAt = (t: number, s: number): number => Math.log(t) + (s - t) / t - Math.log(s);
  let [a, b] = [lo, hi];
  for (let i = 0; i < 200; i++) {
    const t = (a + b) / 2;
    if (gapAt(t, lo) < gapAt(t, hi)) a = t;
    else b = t;
  }
  const t = (a + b) / 2;
  return { t, gap: Math.max(gapAt(t, lo), gapAt(t, hi)) };
}

/** Householder iterations for log on [lo, hi]: from the largest gap, until the series' tail is ≤ 2^-f. */
export function logIterations(lo: number, hi: number, frac: number): number {
  let d = logGuess(lo, hi).gap;
  let k = 0;
  while (d > 2 ** -frac) {
    const h = 1 - Math.exp(-d);
    let s = 0;
    for (let j = 1; j <= LOG_ORDER; j++) s += h ** j / j;
    d -= s;
    k++;
  }
  return k;
}

/** log's range for softmax's sums. */
export const logSoftmaxRange = (c: number): [number, number] => [0.99, 1.01 * c];

export interface ApproxOptions {
  /** exp: clip the base at 0 (one relu), so that x ≤ −2^k gives 0. Default true. */
  clip?: boolean;
}

/**
 * What the smooth ops need of their protocol (T its arithmetic tensors, B its
 * boolean ones): the arithmetic, the comparisons, and the sign bit with the
 * select by it (the softmax row maximum).
 */
export interface ApproxHost<T extends ProtocolTensor, B> {
  /** The protocol's class name, prefixed to errors ('ABY3', 'Pond'). */
  readonly name: string;
  readonly bits: 64 | 128;
  readonly fixed: FixedPointConfig;
  checkArith(fn: string, arg: string, x: unknown): T;
  arith(parts: Parts, shape: readonly number[], encoding: Encoding, sensitivity: Sensitivity): T;
  mul(x: T, y: T): Promise<T>;
  mulPublic(x: T, c: number): Promise<T>;
  divPublic(x: T, c: number): Promise<T>;
  addPublic(x: T, c: number): T;
  add(x: T, y: T): T;
  sub(x: T, y: T): T;
  neg(x: T): T;
  addN(xs: readonly T[]): T;
  sum(x: T, axis: number, keepDims: boolean): T;
  reshape(x: T, shape: readonly number[]): T;
  transpose(x: T, perm: readonly number[]): T;
  relu(x: T): Promise<T>;
  isNegative(x: T): Promise<T>;
  signBit(x: T): Promise<B>;
  select(b: B, x: T, y: T): Promise<T>;
}

const checkRange = (where: string, range: unknown): [number, number] => {
  if (!Array.isArray(range) || range.length !== 2 || typeof range[0] !== 'number' || typeof range[1] !== 'number') {
    throw new TypeError(`${where}: option 'range' must be a pair [lo, hi] of numbers, got ${describe(range)}`);
  }
  const [lo, hi] = range as [number, number];
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(lo > 0) || !(hi > lo)) throw new RangeError(`${where}: option 'range' must satisfy 0 < lo < hi (finite), got [${lo}, ${hi}]`);
  if (hi / lo > 2 ** 20) throw new RangeError(`${where}: option 'range' is too wide (hi/lo = ${hi / lo} > 2^20): the linear initial guess would need too many iterations`);
  return [lo, hi];
};

/** The smooth ops of one protocol instance (see the header). */
export class ApproxOps<T extends ProtocolTensor, B> {
  readonly #p: ApproxHost<T, B>;
  constructor(host: ApproxHost<T, B>) {
    this.#p = host;
  }

  /** The qualified name of method `fn` for errors ('ABY3.exp'). */
  #w(fn: string): string {
    return `${this.#p.name}.${fn}`;
  }

  #fixed(fn: string, arg: string, x: unknown): T {
    const t = this.#p.checkArith(fn, arg, x);
    if (t.encoding !== 'fixed') throw new TypeError(`${this.#w(fn)}: argument '${arg}' must be a fixed-point tensor, got encoding '${t.encoding}'`);
    return t;
  }

  #clip(fn: string, options: ApproxOptions | undefined): boolean {
    if (options === undefined) return true;
    if (options === null || typeof options !== 'object') throw new TypeError(`${this.#w(fn)}: argument 'options' must be an object, got ${describe(options)}`);
    if (options.clip !== undefined && typeof options.clip !== 'boolean') throw new TypeError(`${this.#w(fn)}: option 'clip' must be a boolean, got ${describe(options.clip)}`);
    return options.clip ?? true;
  }

  /** exp(x) (see the header; costs in docs/encrypted-ml.md). */
  exp(x: T, options?: ApproxOptions): Promise<T> {
    const a = this.#fixed('exp', 'x', x);
    return this.#exp(a, this.#clip('exp', options));
  }

  async #exp(x: T, clip: boolean): Promise<T> {
    const p = this.#p;
    const k = expSquarings(p.bits);
    // a = (1 + x/2^k)/√2: one truncation. mulPublic, not divPublic: the value truncated is then
    // |x| 2^(2f)/(2^k √2) and not up to 2^k times more (truncation failure: docs/encrypted.md)
    let a = p.addPublic(await p.mulPublic(x, 2 ** -k * Math.SQRT1_2), Math.SQRT1_2);
    if (clip) a = await p.relu(a);
    let v = p.addPublic(await p.mul(a, a), 0.5);
    for (let i = 0; i < k; i++) v = await p.mul(v, v);
    return v;
  }

  /** 1/x for x in the public `range` [lo, hi] (0 < lo < hi): Newton–Raphson from the minimax linear guess. */
  reciprocal(x: T, options: { range: [number, number] }): Promise<T> {
    const a = this.#fixed('reciprocal', 'x', x);
    if (options === null || typeof options !== 'object') throw new TypeError(`${this.#w('reciprocal')}: argument 'options' must be an object with option 'range', got ${describe(options)}`);
    return this.#reciprocal(a, checkRange(this.#w('reciprocal'), options.range));
  }

  async #reciprocal(x: T, [lo, hi]: [number, number], iterations = reciprocalIterations(lo, hi, this.#p.fixed.frac)): Promise<T> {
    const p = this.#p;
    const { alpha, beta } = reciprocalGuess(lo, hi);
    let y = p.addPublic(p.neg(await p.divPublic(x, 1 / beta)), alpha);
    for (let i = 0; i < iterations; i++) {
      const e = await p.mul(x, y);
      y = await p.mul(y, p.addPublic(p.neg(e), 2));
    }
    return y;
  }

  /** x / y for y in the public `range`: x · reciprocal(y). Same shapes (or broadcast). */
  div(x: T, y: T, options: { range: [number, number] }): Promise<T> {
    const a = this.#fixed('div', 'x', x);
    const b = this.#fixed('div', 'y', y);
    if (options === null || typeof options !== 'object') throw new TypeError(`${this.#w('div')}: argument 'options' must be an object with option 'range', got ${describe(options)}`);
    const range = checkRange(this.#w('div'), options.range);
    return this.#reciprocal(b, range).then((r) => this.#p.mul(a, r));
  }

  /** sigmoid(x) = 1/(1 + exp(−x)), for every x in the encoding's range (see the header; ABY3 with option comparisonBits k: |x| < 2^(k-1-f)). */
  sigmoid(x: T): Promise<T> {
    return this.#sigmoid(this.#fixed('sigmoid', 'x', x));
  }

  async #sigmoid(a: T): Promise<T> {
    const p = this.#p;
    const s = await p.isNegative(a);
    const abs = p.sub(a, await p.mulPublic(await p.mul(s, a), 2)); // |x| = x − 2 s x (int × fixed: no truncation)
    const t = await this.#exp(p.neg(abs), true);
    const r = await this.#reciprocal(p.addPublic(t, 1), [1, 2]);
    // s ? 1 − r : r
    return p.add(r, await p.mul(s, p.addPublic(p.neg(await p.mulPublic(r, 2)), 1)));
  }

  #axis(fn: string, x: T, axis: unknown): number {
    const r = x.shape.length;
    if (r === 0) throw new RangeError(`${this.#w(fn)}: argument 'x' must have at least one axis, got shape ${fmtShape(x.shape)}`);
    if (typeof axis !== 'number' || !Number.isInteger(axis)) throw new TypeError(`${this.#w(fn)}: argument 'axis' must be an integer, got ${describe(axis)}`);
    if (axis < -r || axis >= r) throw new RangeError(`${this.#w(fn)}: argument 'axis' expected integer in [${-r}, ${r - 1}], got ${axis}`);
    return axis < 0 ? axis + r : axis;
  }

  /** Move `axis` last (local), returning the permutation to undo it. */
  #toLast(x: T, axis: number): [T, number[] | undefined] {
    const r = x.shape.length;
    if (axis === r - 1) return [x, undefined];
    const perm = x.shape.map((_, i) => i);
    [perm[axis], perm[r - 1]] = [perm[r - 1]!, perm[axis]!];
    return [this.#p.transpose(x, perm), perm];
  }

  /** Columns `cols` of a [rows, c] tensor (local, on each server's own parts). */
  #columns(x: T, rows: number, c: number, cols: readonly number[]): T {
    const L = this.#p.bits === 64 ? 1 : 2;
    const parts = x.parts.map((t) => {
      if (t === undefined) return undefined;
      const out = new RingTensor(t.bits, [rows, cols.length]);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < cols.length; j++) {
          const src = (r * c + cols[j]!) * L;
          const dst = (r * cols.length + j) * L;
          for (let q = 0; q < L; q++) out.data[dst + q] = t.data[src + q]!;
        }
      }
      return out;
    });
    return this.#p.arith(parts, [rows, cols.length], x.encoding, x.sensitivity);
  }

  /** Column-wise concatenation of [rows, a] and [rows, b] (local). */
  #concat(x: T, y: T, rows: number): T {
    const L = this.#p.bits === 64 ? 1 : 2;
    const [a, b] = [x.shape[1]!, y.shape[1]!];
    const parts = x.parts.map((t, s) => {
      const u = y.parts[s];
      if (t === undefined || u === undefined) return undefined;
      const out = new RingTensor(t.bits, [rows, a + b]);
      for (let r = 0; r < rows; r++) {
        out.data.set(t.data.subarray(r * a * L, (r + 1) * a * L), r * (a + b) * L);
        out.data.set(u.data.subarray(r * b * L, (r + 1) * b * L), (r * (a + b) + a) * L);
      }
      return out;
    });
    return this.#p.arith(parts, [rows, a + b], x.encoding, x.sensitivity);
  }

  /**
   * The maximum of each row of a [rows, c] tensor, [rows, 1]: ceil(log2 c)
   * levels, each one signBit of the pairs' differences and one select by
   * bit injection on all pairs of the level (an odd column passes up).
   */
  async #rowMax(x: T): Promise<T> {
    const p = this.#p;
    const rows = x.shape[0]!;
    let cur = x;
    while (cur.shape[1]! > 1) {
      const c = cur.shape[1]!;
      const half = Math.floor(c / 2);
      const ev = this.#columns(cur, rows, c, Array.from({ length: half }, (_, j) => 2 * j));
      const od = this.#columns(cur, rows, c, Array.from({ length: half }, (_, j) => 2 * j + 1));
      const b = await p.signBit(p.sub(ev, od)); // [even < odd]
      const m = await p.select(b, od, ev);
      cur = c % 2 === 0 ? m : this.#concat(m, this.#columns(cur, rows, c, [c - 1]), rows);
    }
    return cur;
  }

  /** max(x − rowmax) etc. shared by softmax and logSoftmax: [x − max (≤ 0), its shape as [rows, c], undo]. */
  async #shifted(a: T, ax: number): Promise<{ d: T; c: number; perm: number[] | undefined; shape: number[] }> {
    const p = this.#p;
    const [t, perm] = this.#toLast(a, ax);
    const shape = [...t.shape];
    const c = shape[shape.length - 1]!;
    const rows = t.size / c;
    const flat = p.reshape(t, [rows, c]);
    const m = await this.#rowMax(flat);
    return { d: p.sub(flat, m), c, perm, shape };
  }

  #restore(y: T, shape: number[], perm: number[] | undefined): T {
    const t = this.#p.reshape(y, shape);
    return perm === undefined ? t : this.#p.transpose(t, perm);
  }

  /** softmax along `axis` (default the last): exp(x − max) / Σ exp(x − max). */
  softmax(x: T, axis = -1, options?: ApproxOptions): Promise<T> {
    const a = this.#fixed('softmax', 'x', x);
    return this.#softmax(a, this.#axis('softmax', a, axis), this.#clip('softmax', options));
  }

  async #softmax(x: T, axis: number, clip: boolean): Promise<T> {
    const p = this.#p;
    const { d, c, perm, shape } = await this.#shifted(x, axis);
    const e = await this.#exp(d, clip);
    const r = await this.#reciprocal(p.sum(e, 1, true), softmaxRange(c));
    return this.#restore(await p.mul(e, r), shape, perm);
  }

  /** log(softmax) along `axis`: (x − max) − log Σ exp(x − max). */
  logSoftmax(x: T, axis = -1, options?: ApproxOptions): Promise<T> {
    const a = this.#fixed('logSoftmax', 'x', x);
    return this.#logSoftmax(a, this.#axis('logSoftmax', a, axis), this.#clip('logSoftmax', options));
  }

  async #logSoftmax(x: T, axis: number, clip: boolean): Promise<T> {
    const p = this.#p;
    const { d, c, perm, shape } = await this.#shifted(x, axis);
    const s = p.sum(await this.#exp(d, clip), 1, true);
    return this.#restore(p.sub(d, await this.#log(s, logSoftmaxRange(c))), shape, perm);
  }

  /** log s for s in [lo, hi] (see the header). */
  async #log(s: T, [lo, hi]: [number, number]): Promise<T> {
    const p = this.#p;
    const { t } = logGuess(lo, hi);
    let y = p.addPublic(await p.divPublic(s, t), Math.log(t) - 1);
    const iters = logIterations(lo, hi, p.fixed.frac);
    for (let i = 0; i < iters; i++) {
      // h = 1 − s exp(−y); exp(−y) with −y ∈ [−log hi − gap, 0]: no clip needed
      const h = p.addPublic(p.neg(await p.mul(s, await this.#exp(p.neg(y), false))), 1);
      const h2 = await p.mul(h, h);
      const [h3, h4] = await Promise.all([p.mul(h2, h), p.mul(h2, h2)]);
      // Σ h^j/j for j ≤ 4: h + h²/2 + h³/3 + h⁴/4, the three fractions in one truncation round
      const terms = await Promise.all([p.divPublic(h2, 2), p.divPublic(h3, 3), p.divPublic(h4, 4)]);
      y = p.sub(y, p.addN([h, ...terms]));
    }
    return y;
  }
}
