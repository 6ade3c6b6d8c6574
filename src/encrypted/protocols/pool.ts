/**
 * max, argmax and 2x2 max pooling by a tree of comparisons, on any sharing
 * whose parts are ring tensors (ABY3's, Pond's: the protocol's `greater`,
 * `mul` and `addPublic` through its `NNHost`).
 *
 * k candidates (same shape, n elements each) are paired left to right,
 * (0, 1), (2, 3), ...; each level compares every pair at once, c = [B > A]
 * (one `greater` over the concatenation of the pairs: the sign bit of A − B,
 * bit-injected into 0/1 integers), and then selects with one multiplication
 * by c (c is an integer sharing: no truncation) over the concatenation of
 * everything the pair carries:
 *
 *   value   A + c (B − A)
 *   index   A + c (B − A) (argmax; local while both indices are public)
 *   mask    [(1 − c) mA, c mB] (the one-hot of the winner; local while the
 *           masks are the public 1 of single candidates)
 *
 * An odd candidate passes up unchanged. ceil(log2 k) levels, each one
 * `greater` and one `mul` after it. Ties: c = 0 when B = A, so the left
 * (lower-index) candidate wins every tie; order is kept through the levels,
 * so the result is the lowest index among the maxima (as tf.argMax).
 *
 * maxPool2x2 (NHWC, valid): the four entries of each window are gathered
 * locally (tap order (0,0), (0,1), (1,0), (1,1)) and reduced by two levels;
 * its mask (the one-hot of the argmax, scattered back to the input's
 * positions, 0 where no window reaches) is the backward pass's selector:
 * dx = mask · upsample(dy), one multiplication.
 *
 * Costs: docs/encrypted-ml.md.
 *
 * Layout: candidates, their concatenations and cuts are flat views of the
 * same words wherever they are contiguous (parts are never mutated), and
 * maxPool2x2 gathers its taps in the order (0,0), (1,0), (0,1), (1,1), so
 * that level 1's left and right operands are each one contiguous half. A
 * local op on the slots computes once per distinct operand words (a
 * component held by two servers executing here is one array).
 */
import * as ring from '../../ring/index.js';
import { RingTensor } from '../../ring/index.js';
import { RingArena } from '../arena.js';
import { describe, fmtShape, ShapeMismatchError } from '../errors.js';
import type { Encoding, ProtocolTensor } from '../tensor.js';
import { intersectSensitivity, type Parts } from './base.js';
import type { NNHost } from './conv.js';
import { geometry, local, type Geometry } from './im2col.js';
import { gatherTaps, scatterTaps, upsampleMap, type PartMap } from './pool-layout.js';

type Idx<T> = number | T;
/** A member's one-hot entry: the public 1 (a single candidate) or a 0/1 integer sharing. */
type Mask<T> = (1 | T)[];
interface Cand<T> { val: T; idx?: Idx<T>; mask?: Mask<T> }

/** The same words as a flat tensor (a view). */
const flat = (p: RingTensor): RingTensor => (p.shape.length === 1 ? p : new RingTensor(p.bits, [p.size], p.data));
/** The same words under another shape (a view). */
const reshaped = (p: RingTensor, shape: readonly number[]): RingTensor => new RingTensor(p.bits, shape, p.data);
/** Elements [off, off + n) of a flat tensor (a view). */
const range = (p: RingTensor, off: number, n: number): RingTensor => {
  const L = p.bits / 64;
  return new RingTensor(p.bits, [n], p.data.subarray(off * L, (off + n) * L));
};
const sameWords = (a: RingTensor, b: RingTensor): boolean => a.data.buffer === b.data.buffer && a.data.byteOffset === b.data.byteOffset && a.data.length === b.data.length;

/** f over each slot present in all of xs; a slot whose operands are an earlier slot's words reuses its result (ABY3: a component held by two servers executing here). */
function slotwise(xs: readonly (readonly (RingTensor | undefined)[])[], f: (...ps: RingTensor[]) => RingTensor): Parts {
  const slots = xs[0]!.length;
  const out: (RingTensor | undefined)[] = new Array(slots).fill(undefined);
  for (let s = 0; s < slots; s++) {
    const ps = xs.map((x) => x[s]);
    if (ps.some((q) => q === undefined)) continue;
    for (let t = 0; t < s && out[s] === undefined; t++) if (out[t] !== undefined && xs.every((x) => sameWords(x[t]!, x[s]!))) out[s] = out[t];
    out[s] ??= f(...(ps as RingTensor[]));
  }
  return out;
}

/** The flat tensors ps as one view when they are consecutive runs of one buffer. */
function adjacent(ps: readonly RingTensor[]): RingTensor | undefined {
  const d0 = ps[0]!.data;
  let end = d0.byteOffset + d0.byteLength;
  for (let i = 1; i < ps.length; i++) {
    const d = ps[i]!.data;
    if (d.buffer !== d0.buffer || d.byteOffset !== end) return undefined;
    end += d.byteLength;
  }
  const limbs = (end - d0.byteOffset) / 8;
  return new RingTensor(ps[0]!.bits, [limbs / (ps[0]!.bits / 64)], new BigUint64Array(d0.buffer, d0.byteOffset, limbs));
}

export class PoolOps<T extends ProtocolTensor> {
  readonly #h: NNHost<T>;
  constructor(host: NNHost<T>) {
    this.#h = host;
  }

  /** The qualified name of method `fn` for errors ('ABY3.max'). */
  #w(fn: string): string {
    return `${this.#h.name}.${fn}`;
  }

  /** Slot-wise concatenation of flat tensors (local; a view where they are adjacent). */
  #cat(ts: readonly T[], enc: Encoding): T {
    const h = this.#h;
    const size = ts.reduce((a, t) => a + t.size, 0);
    const parts = slotwise(ts.map((t) => t.parts), (...ps) => {
      const fs = ps.map(flat);
      return fs.length === 1 ? fs[0]! : adjacent(fs) ?? ring.concat(fs, 0);
    });
    return h.arith(parts, [size], enc, intersectSensitivity(ts.map((t) => t.sensitivity)));
  }

  /** Elements [off, off + n) of a flat tensor (local, a view). */
  #cut(t: T, off: number, n: number, enc: Encoding = t.encoding): T {
    return this.#h.arith(local(t, (p) => range(flat(p), off, n)), [n], enc, t.sensitivity);
  }

  #map(t: T, f: (p: RingTensor) => RingTensor, enc: Encoding = t.encoding, shape: readonly number[] = t.shape): T {
    return this.#h.arith(slotwise([t.parts], f), shape, enc, t.sensitivity);
  }

  /** The public integer k as a sharing shaped like t (local: zeros, k added at the constant slots). */
  #constant(t: T, k: number): T {
    return this.#h.addPublic(this.#map(t, (p) => new RingTensor(p.bits, [p.size]), 'int', [t.size]), k);
  }

  /** Reduce the candidates to one by ceil(log2 k) levels of greater + select (see the header). */
  async #tree(cands: Cand<T>[]): Promise<Cand<T>> {
    const h = this.#h;
    while (cands.length > 1) {
      const P = Math.floor(cands.length / 2);
      const n = cands[0]!.val.size;
      const enc = cands[0]!.val.encoding;
      const As = Array.from({ length: P }, (_, j) => cands[2 * j]!);
      const Bs = Array.from({ length: P }, (_, j) => cands[2 * j + 1]!);
      const catA = this.#cat(As.map((a) => a.val), enc);
      const catB = this.#cat(Bs.map((b) => b.val), enc);
      const c = await h.greater(catB, catA);
      const cj = Array.from({ length: P }, (_, j) => this.#cut(c, j * n, n, 'int'));
      // the terms multiplied by c_j, in one mul of their concatenation (all as integers: no truncation);
      // a term with ySub is y - ySub (B - A for the value)
      const terms: { j: number; y: T; ySub?: T }[] = [];
      const asInt = (t: T): T => this.#map(t, flat, 'int', [n]);
      const plan = As.map((A, j) => {
        const B = Bs[j]!;
        const at = (y: T, ySub?: T): number => terms.push({ j, y: asInt(y), ySub: ySub === undefined ? undefined : asInt(ySub) }) - 1;
        const val = at(B.val, A.val);
        let idx: number | undefined;
        if (A.idx !== undefined && B.idx !== undefined && !(typeof A.idx === 'number' && typeof B.idx === 'number')) {
          const ia = typeof A.idx === 'number' ? this.#constant(cj[j]!, A.idx) : A.idx;
          const ib = typeof B.idx === 'number' ? this.#constant(cj[j]!, B.idx) : B.idx;
          idx = at(ib, ia);
        }
        const mA = A.mask?.map((m) => (m === 1 ? -1 : at(m)));
        const mB = B.mask?.map((m) => (m === 1 ? -1 : at(m)));
        return { val, idx, mA, mB };
      });
      const prod = await this.#mulCat(terms.map((t) => ({ x: cj[t.j]!, y: t.y, ySub: t.ySub })));
      const got = (i: number, e: Encoding): T => this.#cut(prod, i * n, n, e);
      // A + c (B - A) of every pair at once where the value terms are the product's first P n elements
      const valsFirst = plan.every((q, j) => q.val === j);
      const vAll = valsFirst ? this.#add(catA, this.#cut(prod, 0, P * n, enc)) : undefined;
      const next: Cand<T>[] = As.map((A, j) => {
        const B = Bs[j]!;
        const q = plan[j]!;
        const out: Cand<T> = { val: vAll !== undefined ? this.#cut(vAll, j * n, n) : this.#add(A.val, got(q.val, enc)) };
        if (A.idx !== undefined && B.idx !== undefined) {
          if (q.idx !== undefined) out.idx = this.#add(typeof A.idx === 'number' ? this.#constant(cj[j]!, A.idx) : A.idx, got(q.idx, 'int'));
          else out.idx = h.addPublic(this.#map(cj[j]!, (p) => ring.mulScalar(p, BigInt((B.idx as number) - (A.idx as number)))), A.idx as number);
        }
        if (A.mask !== undefined && B.mask !== undefined) {
          const left = A.mask.map((m, i) => (m === 1 ? h.addPublic(this.#map(cj[j]!, ring.neg), 1) : this.#sub(m, got(q.mA![i]!, 'int'))));
          const right = B.mask.map((m, i) => (m === 1 ? cj[j]! : got(q.mB![i]!, 'int')));
          out.mask = [...left, ...right];
        }
        return out;
      });
      if (cands.length % 2 === 1) next.push(cands[cands.length - 1]!);
      cands = next;
    }
    return cands[0]!;
  }

  #sub(x: T, y: T): T {
    return this.#h.arith(slotwise([x.parts, y.parts], (p, q) => ring.sub(flat(p), flat(q))), [x.size], x.encoding, intersectSensitivity([x.sensitivity, y.sensitivity]));
  }

  /** mul of the concatenations of the x's and of the (y - ySub)'s: the host's mulCat, else formed here. */
  #mulCat(segs: { x: T; y: T; ySub?: T; yMap?: PartMap }[]): Promise<T> {
    const h = this.#h;
    if (h.mulCat !== undefined) return h.mulCat(segs);
    const ys = segs.map((s) => (s.yMap !== undefined ? this.#map(s.y, (p) => s.yMap!.ring(flat(p)), s.y.encoding, [s.x.size]) : s.ySub === undefined ? s.y : this.#sub(s.y, s.ySub)));
    return h.mul(this.#cat(segs.map((s) => s.x), 'int'), this.#cat(ys, 'int'));
  }

  #add(x: T, y: T): T {
    return this.#h.arith(slotwise([x.parts, y.parts], (p, q) => ring.add(flat(p), flat(q))), [x.size], x.encoding, intersectSensitivity([x.sensitivity, y.sensitivity]));
  }

  /** The k slices of x along `axis` as flat candidates, and the result shape. */
  #along(fn: string, x: unknown, axis: unknown): { a: T; rows: T[]; shape: number[] } {
    const a = this.#h.checkArith(fn, 'x', x);
    const r = a.shape.length;
    if (typeof axis !== 'number' || !Number.isInteger(axis)) throw new TypeError(`${this.#w(fn)}: argument 'axis' must be an integer, got ${describe(axis)}`);
    if (r === 0 || axis < -r || axis >= r) throw new RangeError(`${this.#w(fn)}: argument 'axis' expected integer in [${-r}, ${r - 1}] for shape ${fmtShape(a.shape)}, got ${axis}`);
    const ax = axis < 0 ? axis + r : axis;
    const k = a.shape[ax]!;
    if (k === 0) throw new ShapeMismatchError(`${this.#w(fn)}: axis ${ax} of 'x' (shape ${fmtShape(a.shape)}) is empty`);
    const shape = a.shape.filter((_, i) => i !== ax);
    const n = a.size / k;
    const perm = [ax, ...a.shape.map((_, i) => i).filter((i) => i !== ax)];
    const moved = ax === 0 ? a : this.#map(a, (p) => ring.transpose(p, perm), a.encoding, perm.map((d) => a.shape[d]!));
    const rows = Array.from({ length: k }, (_, j) => this.#cut(moved, j * n, n));
    return { a, rows, shape };
  }

  /** The maximum along `axis` (that axis removed), exact on the encoding. */
  async max(x: T, axis: number): Promise<T> {
    const { rows, shape } = this.#along('max', x, axis);
    const best = await this.#tree(rows.map((val) => ({ val })));
    return this.#map(best.val, (p) => reshaped(p, shape), best.val.encoding, shape);
  }

  /** The index of the maximum along `axis` (0/1.. integers, encoding 'int'); ties: the lowest index. */
  async argmax(x: T, axis: number): Promise<T> {
    const { rows, shape } = this.#along('argmax', x, axis);
    const best = await this.#tree(rows.map((val, j) => ({ val, idx: j })));
    const idx = typeof best.idx === 'number' ? this.#constant(best.val, best.idx) : best.idx!;
    return this.#map(idx, (p) => reshaped(p, shape), 'int', shape);
  }

  #pool(fn: string, x: unknown): { a: T; g: Geometry; cands: T[]; arena: RingArena } {
    const a = this.#h.checkArith(fn, 'x', x);
    const g = geometry(this.#w(fn), a.shape, 2, 2, 2, 'valid');
    const n = g.B * g.OH * g.OW * g.C;
    // taps stored (0,0), (1,0), (0,1), (1,1): the tree's level-1 pairs (0,1), (2,3) take their left
    // candidates from the first half and their right ones from the second, each contiguous. The taps
    // are local (never sent) and dead once the tree is done: their memory is reused (see #done)
    const arena = new RingArena();
    const taps = this.#map(a, (p) => gatherTaps(p, g, [0, 2, 1, 3], arena.take(p.bits, [4 * n])), a.encoding, [4 * n]);
    const cands = [0, 2, 1, 3].map((j) => this.#cut(taps, j * n, n));
    return { a, g, cands, arena };
  }

  /** The tree's result; the taps' memory goes back to the pool unless a result part is a view of it (an odd candidate passed up). */
  #done(arena: RingArena, cands: readonly T[], best: Cand<T>): Cand<T> {
    const tapsOf = new Set(cands.flatMap((c) => c.parts.map((p) => p?.data.buffer)));
    const out = [best.val, ...(best.mask ?? []).filter((m): m is T => m !== 1)];
    if (!out.some((t) => t.parts.some((p) => p !== undefined && tapsOf.has(p.data.buffer)))) arena.dispose();
    return best;
  }

  /** 2x2 max pooling, stride 2, valid (NHWC): [B, H, W, C] → [B, floor(H/2), floor(W/2), C]. */
  async maxPool2x2(x: T): Promise<T> {
    const { g, cands, arena } = this.#pool('maxPool2x2', x);
    const best = this.#done(arena, cands, await this.#tree(cands.map((val) => ({ val }))));
    const shape = [g.B, g.OH, g.OW, g.C];
    return this.#map(best.val, (p) => reshaped(p, shape), best.val.encoding, shape);
  }

  /**
   * maxPool2x2 and its backward mask: [B, H, W, C] 0/1 integers, 1 at the
   * position of each window's maximum (the first in window order (0,0), (0,1),
   * (1,0), (1,1) among ties), 0 elsewhere.
   */
  async maxPool2x2WithMask(x: T): Promise<{ y: T; mask: T }> {
    const { a, g, cands, arena } = this.#pool('maxPool2x2WithMask', x);
    const best = this.#done(arena, cands, await this.#tree(cands.map((val) => ({ val, mask: [1] }))));
    const shape = [g.B, g.OH, g.OW, g.C];
    // the four masks are the taps' blocks: scattered from their parts (no concatenation)
    const ms = best.mask as T[];
    const mask = this.#h.arith(slotwise(ms.map((m) => m.parts), (...ps) => scatterTaps(ps.map(flat), g)), a.shape, 'int', intersectSensitivity(ms.map((m) => m.sensitivity)));
    return { y: this.#map(best.val, (p) => reshaped(p, shape), best.val.encoding, shape), mask };
  }

  /** dx = mask · upsample(dy): dy [B, OH, OW, C] copied to its window's four positions, times the 0/1 mask (one mul, no truncation). */
  maxPool2x2Backward(mask: T, dy: T): Promise<T> {
    const fn = 'maxPool2x2Backward';
    const m = this.#h.checkArith(fn, 'mask', mask);
    const d = this.#h.checkArith(fn, 'dy', dy);
    if (m.encoding !== 'int') throw new TypeError(`${this.#w(fn)}: argument 'mask' must hold 0/1 integers (encoding 'int', from maxPool2x2WithMask), got '${m.encoding}'`);
    const g = geometry(this.#w(fn), m.shape, 2, 2, 2, 'valid', 'mask');
    const want = [g.B, g.OH, g.OW, g.C];
    if (d.shape.length !== 4 || !d.shape.every((v, i) => v === want[i])) throw new ShapeMismatchError(`${this.#w(fn)}: argument 'dy' has shape ${fmtShape(d.shape)}, expected ${fmtShape(want)} for 'mask' of shape ${fmtShape(m.shape)}`);
    // the upsampling inside the product's workspace where the host gathers its operands (mulCat)
    if (this.#h.mulCat !== undefined) {
      const flatM = this.#map(m, flat, m.encoding, [m.size]);
      return this.#h.mulCat([{ x: flatM, y: this.#map(d, flat, d.encoding, [d.size]), yMap: upsampleMap(g) }]).then((z) => this.#map(z, (p) => reshaped(p, m.shape), z.encoding, m.shape));
    }
    const up = this.#map(d, (p) => scatterTaps(p, g, true), d.encoding, m.shape);
    return this.#h.mul(m, up);
  }
}
