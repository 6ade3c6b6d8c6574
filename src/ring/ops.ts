/**
 * Ring tensor operations. Elementwise ops broadcast numpy-style; errors name
 * the function and the argument. Every op returns a fresh tensor (no aliasing)
 * except the *InPlace variants, which write into and return `dst`.
 */
import { kernels } from './backend.js';
import { RingDisposedError, RingMismatchError, RingShapeError } from './errors.js';
import { broadcastShapes, checkShape, describe, fmtShape, normAxis, shapeSize, stridesOf } from './shape.js';
import { emptyTensor, limbsOf, RingTensor, type RingBits } from './tensor.js';

// ---------------------------------------------------------------- checks

export function checkTensor(fn: string, arg: string, x: unknown): RingTensor {
  if (!(x instanceof RingTensor)) {
    throw new TypeError(`${fn}: argument '${arg}' must be a RingTensor, got ${describe(x)}`);
  }
  if (x.disposed) {
    throw new RingDisposedError(`${fn}: argument '${arg}' was freed when the ring scope that created it ended (return it from the scope to keep it)`);
  }
  return x;
}

function sameRing(fn: string, a: RingTensor, argA: string, b: RingTensor, argB: string): void {
  if (a.bits !== b.bits) {
    throw new RingMismatchError(`${fn}: argument '${argB}' is in Z_2^${b.bits}, expected Z_2^${a.bits} (the ring of '${argA}')`);
  }
}

function checkScalar(fn: string, arg: string, s: unknown, bits: RingBits): bigint {
  if (typeof s !== 'bigint') throw new TypeError(`${fn}: argument '${arg}' must be a bigint, got ${describe(s)}`);
  return BigInt.asUintN(bits, s);
}

function checkShift(fn: string, k: unknown, bits: RingBits): number {
  if (typeof k !== 'number' || !Number.isInteger(k)) {
    throw new TypeError(`${fn}: argument 'k' must be an integer, got ${describe(k)}`);
  }
  if (k < 0 || k >= bits) throw new RangeError(`${fn}: argument 'k' expected integer in [0, ${bits - 1}], got ${k}`);
  return k;
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);

// ---------------------------------------------------------------- strided gather

/**
 * out[idx] = src[offset + sum_d idx_d * strides[d]] (strides in elements),
 * for idx over outShape; copies `limbs` limbs per element.
 */
function gatherInto(src: BigUint64Array, limbs: number, outShape: readonly number[], strides: readonly number[], offset: number, out: BigUint64Array): BigUint64Array {
  const n = shapeSize(outShape);
  if (n === 0) return out;
  const rank = outShape.length;
  if (rank === 0) {
    for (let l = 0; l < limbs; l++) out[l] = src[offset * limbs + l]!;
    return out;
  }
  const last = outShape[rank - 1]!;
  const ls = strides[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let base = offset;
  let o = 0;
  for (;;) {
    if (limbs === 1) {
      if (ls === 1) {
        out.set(src.subarray(base, base + last), o);
        o += last;
      } else {
        for (let j = 0, s = base; j < last; j++, s += ls) out[o++] = src[s]!;
      }
    } else {
      if (ls === 1) {
        out.set(src.subarray(2 * base, 2 * (base + last)), 2 * o);
        o += last;
      } else {
        for (let j = 0, s = base; j < last; j++, s += ls) {
          out[2 * o] = src[2 * s]!;
          out[2 * o + 1] = src[2 * s + 1]!;
          o++;
        }
      }
    }
    // advance the outer counters
    let d = rank - 2;
    for (; d >= 0; d--) {
      idx[d]!++;
      base += strides[d]!;
      if (idx[d]! < outShape[d]!) break;
      base -= idx[d]! * strides[d]!;
      idx[d] = 0;
    }
    if (d < 0) return out;
  }
}

/** A new tensor of `shape` gathered from `src` (see gatherInto). */
function gather(bits: RingBits, src: BigUint64Array, shape: readonly number[], strides: readonly number[], offset: number): RingTensor {
  const t = emptyTensor(bits, shape);
  gatherInto(src, limbsOf(bits), shape, strides, offset, t.data);
  return t;
}

/** A copy of `a`'s limbs under a new shape of the same size. */
function copyAs(a: RingTensor, shape: readonly number[]): RingTensor {
  const t = emptyTensor(a.bits, shape);
  t.data.set(a.data);
  return t;
}

/** Strides of `x` seen through broadcasting to `shape` (0 on broadcast dims). */
function broadcastStrides(xShape: readonly number[], shape: readonly number[]): number[] {
  const xs = stridesOf(xShape);
  const off = shape.length - xShape.length;
  return shape.map((d, i) => (i < off || (xShape[i - off] === 1 && d !== 1) ? 0 : xs[i - off]!));
}

function expandTo(x: RingTensor, shape: readonly number[]): RingTensor {
  if (sameShape(x.shape, shape)) return x;
  // a leading broadcast (x's shape without its leading 1s is shape's tail, e.g. a bias [F] to [B, H, W, F]):
  // whole copies of x's limbs, doubled each time (log2 copies instead of a copy per row)
  let lead = 0;
  while (lead < x.shape.length && x.shape[lead] === 1) lead++;
  const tail = x.shape.slice(lead);
  if (x.size > 0 && tail.length <= shape.length && sameShape(tail, shape.slice(shape.length - tail.length))) {
    const t = emptyTensor(x.bits, shape);
    const out = t.data;
    if (out.length === 0) return t;
    out.set(x.data);
    for (let filled = x.data.length; filled < out.length; filled *= 2) out.copyWithin(filled, 0, Math.min(filled, out.length - filled));
    return t;
  }
  return gather(x.bits, x.data, shape, broadcastStrides(x.shape, shape), 0);
}

// ---------------------------------------------------------------- elementwise

type BinKernel = 'add' | 'sub' | 'mul';

function binaryOp(fn: string, k: BinKernel, a: RingTensor, b: RingTensor): RingTensor {
  checkTensor(fn, 'a', a);
  checkTensor(fn, 'b', b);
  sameRing(fn, a, 'a', b, 'b');
  const K = kernels();
  if (sameShape(a.shape, b.shape)) {
    const out = emptyTensor(a.bits, a.shape);
    K[k](a.bits, a.data, b.data, out.data);
    return out;
  }
  const shape = broadcastShapes(fn, 'b', a.shape, b.shape);
  if (b.size === 1 && sameShape(a.shape, shape)) {
    const s = b.get(0);
    const out = emptyTensor(a.bits, shape);
    if (k === 'mul') K.mulScalar(a.bits, a.data, s, out.data);
    else K.addScalar(a.bits, a.data, k === 'add' ? s : BigInt.asUintN(a.bits, -s), out.data);
    return out;
  }
  const A = expandTo(a, shape);
  const B = expandTo(b, shape);
  const out = emptyTensor(a.bits, shape);
  K[k](a.bits, A.data, B.data, out.data);
  return out;
}

function binaryInPlace(fn: string, k: BinKernel, dst: RingTensor, b: RingTensor): RingTensor {
  checkTensor(fn, 'dst', dst);
  checkTensor(fn, 'b', b);
  sameRing(fn, dst, 'dst', b, 'b');
  const K = kernels();
  if (!sameShape(dst.shape, b.shape)) {
    const shape = broadcastShapes(fn, 'b', dst.shape, b.shape);
    if (!sameShape(shape, dst.shape)) {
      throw new RingShapeError(`${fn}: argument 'b' has shape ${fmtShape(b.shape)}, expected shape broadcastable to ${fmtShape(dst.shape)} (the shape of 'dst')`);
    }
    if (b.size === 1) {
      const s = b.get(0);
      if (k === 'mul') K.mulScalar(dst.bits, dst.data, s, dst.data);
      else K.addScalar(dst.bits, dst.data, k === 'add' ? s : BigInt.asUintN(dst.bits, -s), dst.data);
      return dst;
    }
    b = expandTo(b, shape);
  }
  K[k](dst.bits, dst.data, b.data, dst.data);
  return dst;
}

/** a + b mod 2^bits (broadcasting). */
export const add = (a: RingTensor, b: RingTensor): RingTensor => binaryOp('add', 'add', a, b);
/** a - b mod 2^bits (broadcasting). */
export const sub = (a: RingTensor, b: RingTensor): RingTensor => binaryOp('sub', 'sub', a, b);
/** a * b mod 2^bits (broadcasting). */
export const mul = (a: RingTensor, b: RingTensor): RingTensor => binaryOp('mul', 'mul', a, b);
/** dst += b; b broadcastable to dst's shape. Returns dst. */
export const addInPlace = (dst: RingTensor, b: RingTensor): RingTensor => binaryInPlace('addInPlace', 'add', dst, b);
/** dst -= b. Returns dst. */
export const subInPlace = (dst: RingTensor, b: RingTensor): RingTensor => binaryInPlace('subInPlace', 'sub', dst, b);
/** dst *= b. Returns dst. */
export const mulInPlace = (dst: RingTensor, b: RingTensor): RingTensor => binaryInPlace('mulInPlace', 'mul', dst, b);

/** -a mod 2^bits. */
export function neg(a: RingTensor): RingTensor {
  checkTensor('neg', 'a', a);
  const out = emptyTensor(a.bits, a.shape);
  kernels().neg(a.bits, a.data, out.data);
  return out;
}

/** dst = -dst. Returns dst. */
export function negInPlace(dst: RingTensor): RingTensor {
  checkTensor('negInPlace', 'dst', dst);
  kernels().neg(dst.bits, dst.data, dst.data);
  return dst;
}

/** a + s (s reduced mod 2^bits; negatives allowed). */
export function addScalar(a: RingTensor, s: bigint): RingTensor {
  checkTensor('addScalar', 'a', a);
  const v = checkScalar('addScalar', 's', s, a.bits);
  const out = emptyTensor(a.bits, a.shape);
  kernels().addScalar(a.bits, a.data, v, out.data);
  return out;
}

/** a * s (s reduced mod 2^bits; negatives allowed). */
export function mulScalar(a: RingTensor, s: bigint): RingTensor {
  checkTensor('mulScalar', 'a', a);
  const v = checkScalar('mulScalar', 's', s, a.bits);
  const out = emptyTensor(a.bits, a.shape);
  kernels().mulScalar(a.bits, a.data, v, out.data);
  return out;
}

/** dst += s. Returns dst. */
export function addScalarInPlace(dst: RingTensor, s: bigint): RingTensor {
  checkTensor('addScalarInPlace', 'dst', dst);
  kernels().addScalar(dst.bits, dst.data, checkScalar('addScalarInPlace', 's', s, dst.bits), dst.data);
  return dst;
}

/** dst *= s. Returns dst. */
export function mulScalarInPlace(dst: RingTensor, s: bigint): RingTensor {
  checkTensor('mulScalarInPlace', 'dst', dst);
  kernels().mulScalar(dst.bits, dst.data, checkScalar('mulScalarInPlace', 's', s, dst.bits), dst.data);
  return dst;
}

function shiftOp(fn: string, kern: 'shl' | 'shrLogical' | 'shrArith', a: RingTensor, k: number, inPlace: boolean): RingTensor {
  checkTensor(fn, inPlace ? 'dst' : 'a', a);
  const kk = checkShift(fn, k, a.bits);
  const out = inPlace ? a : emptyTensor(a.bits, a.shape);
  kernels()[kern](a.bits, a.data, kk, out.data);
  return out;
}

/** a << k mod 2^bits, k in [0, bits). */
export const shl = (a: RingTensor, k: number): RingTensor => shiftOp('shl', 'shl', a, k, false);
/** Unsigned a >> k (zeros shifted in), k in [0, bits). */
export const shrLogical = (a: RingTensor, k: number): RingTensor => shiftOp('shrLogical', 'shrLogical', a, k, false);
/** Two's complement a >> k (sign bit shifted in), k in [0, bits). */
export const shrArith = (a: RingTensor, k: number): RingTensor => shiftOp('shrArith', 'shrArith', a, k, false);
export const shlInPlace = (dst: RingTensor, k: number): RingTensor => shiftOp('shlInPlace', 'shl', dst, k, true);
export const shrLogicalInPlace = (dst: RingTensor, k: number): RingTensor => shiftOp('shrLogicalInPlace', 'shrLogical', dst, k, true);
export const shrArithInPlace = (dst: RingTensor, k: number): RingTensor => shiftOp('shrArithInPlace', 'shrArith', dst, k, true);

// ---------------------------------------------------------------- reductions, matmul

/**
 * Sum of all elements (axis undefined; shape [] or all-ones with keepDims) or
 * along one axis (negative axes count from the end).
 */
export function sum(a: RingTensor, axis?: number, keepDims = false): RingTensor {
  checkTensor('sum', 'a', a);
  if (typeof keepDims !== 'boolean') throw new TypeError(`sum: argument 'keepDims' must be a boolean, got ${describe(keepDims)}`);
  let outer: number, len: number, inner: number, shape: number[];
  if (axis === undefined) {
    outer = 1;
    len = a.size;
    inner = 1;
    shape = keepDims ? a.shape.map(() => 1) : [];
  } else {
    const ax = normAxis('sum', 'axis', axis, a.shape.length);
    outer = shapeSize(a.shape.slice(0, ax));
    len = a.shape[ax]!;
    inner = shapeSize(a.shape.slice(ax + 1));
    shape = keepDims ? a.shape.map((d, i) => (i === ax ? 1 : d)) : a.shape.filter((_, i) => i !== ax);
  }
  const out = emptyTensor(a.bits, shape);
  if (out.size > 0) kernels().sumAxis(a.bits, a.data, outer, len, inner, out.data);
  return out;
}

/** 2-D matrix product [m,k] x [k,n] -> [m,n] mod 2^bits. */
export function matmul(a: RingTensor, b: RingTensor): RingTensor {
  checkTensor('matmul', 'a', a);
  checkTensor('matmul', 'b', b);
  sameRing('matmul', a, 'a', b, 'b');
  if (a.shape.length !== 2) throw new RingShapeError(`matmul: argument 'a' has shape ${fmtShape(a.shape)}, expected a 2-D shape [m,k]`);
  const [m, k] = a.shape as [number, number];
  if (b.shape.length !== 2 || b.shape[0] !== k) {
    throw new RingShapeError(`matmul: argument 'b' has shape ${fmtShape(b.shape)}, expected a 2-D shape [${k},n] (k from 'a' of shape ${fmtShape(a.shape)})`);
  }
  const n = b.shape[1]!;
  const out = emptyTensor(a.bits, [m, n]);
  if (out.size > 0) kernels().matmul(a.bits, a.data, b.data, out.data, m, k, n);
  return out;
}

// ---------------------------------------------------------------- layout

/** Permutes axes (default: reverse them). */
export function transpose(a: RingTensor, perm?: readonly number[]): RingTensor {
  checkTensor('transpose', 'a', a);
  const rank = a.shape.length;
  let p: number[];
  if (perm === undefined) p = a.shape.map((_, i) => rank - 1 - i);
  else {
    if (!Array.isArray(perm)) throw new TypeError(`transpose: argument 'perm' must be an array of integers, got ${describe(perm)}`);
    const seen = new Set<number>();
    p = perm.map((x) => {
      const ax = typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < rank ? x : -1;
      if (ax < 0 || seen.has(ax) || perm.length !== rank) {
        throw new RingShapeError(`transpose: argument 'perm' is [${perm.join(',')}], expected a permutation of [0..${rank - 1}] for shape ${fmtShape(a.shape)}`);
      }
      seen.add(ax);
      return ax;
    });
    if (perm.length !== rank) {
      throw new RingShapeError(`transpose: argument 'perm' is [${perm.join(',')}], expected a permutation of [0..${rank - 1}] for shape ${fmtShape(a.shape)}`);
    }
  }
  const st = stridesOf(a.shape);
  const shape = p.map((ax) => a.shape[ax]!);
  return gather(a.bits, a.data, shape, p.map((ax) => st[ax]!), 0);
}

/** Same elements, new shape (one dimension may be -1). Copies. */
export function reshape(a: RingTensor, shape: readonly number[]): RingTensor {
  checkTensor('reshape', 'a', a);
  if (!Array.isArray(shape)) throw new TypeError(`reshape: argument 'shape' must be an array of integers, got ${describe(shape)}`);
  const inferred = shape.filter((d) => d === -1).length;
  const bad = (): never => {
    throw new RingShapeError(`reshape: argument 'shape' is ${fmtShape(shape)}, incompatible with ${a.size} elements of shape ${fmtShape(a.shape)}`);
  };
  if (inferred > 1 || shape.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < -1)) bad();
  let sh = [...shape];
  if (inferred === 1) {
    const known = shapeSize(shape.filter((d) => d !== -1));
    if (known === 0 || a.size % known !== 0) bad();
    sh = shape.map((d) => (d === -1 ? a.size / known : d));
  }
  if (shapeSize(sh) !== a.size) bad();
  return copyAs(a, sh);
}

/** TF-style slice: `size[d] = -1` takes the rest of dimension d. */
export function slice(a: RingTensor, begin: readonly number[], size: readonly number[]): RingTensor {
  checkTensor('slice', 'a', a);
  const rank = a.shape.length;
  for (const [arg, v] of [['begin', begin], ['size', size]] as const) {
    if (!Array.isArray(v)) throw new TypeError(`slice: argument '${arg}' must be an array of integers, got ${describe(v)}`);
    if (v.length !== rank) throw new RingShapeError(`slice: argument '${arg}' has length ${v.length}, expected ${rank} (rank of shape ${fmtShape(a.shape)})`);
  }
  const sz = size.map((s, d) => (s === -1 ? a.shape[d]! - begin[d]! : s));
  for (let d = 0; d < rank; d++) {
    const b = begin[d]!;
    if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > a.shape[d]!) {
      throw new RingShapeError(`slice: argument 'begin' is [${begin.join(',')}], out of range for shape ${fmtShape(a.shape)}`);
    }
    const s = sz[d]!;
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 0 || b + s > a.shape[d]!) {
      throw new RingShapeError(`slice: argument 'size' is [${size.join(',')}], out of range for begin [${begin.join(',')}] in shape ${fmtShape(a.shape)}`);
    }
  }
  const st = stridesOf(a.shape);
  const offset = begin.reduce((acc, b, d) => acc + b * st[d]!, 0);
  return gather(a.bits, a.data, sz, st, offset);
}

/** Joins tensors along `axis`; all other dimensions must agree. */
export function concat(tensorsArg: readonly RingTensor[], axis: number): RingTensor {
  const tensors: readonly RingTensor[] = tensorsArg;
  if (!Array.isArray(tensorsArg)) throw new TypeError(`concat: argument 'tensors' must be an array of RingTensor, got ${describe(tensors)}`);
  if (tensors.length === 0) throw new RangeError(`concat: argument 'tensors' must not be empty`);
  tensors.forEach((t, i) => checkTensor('concat', `tensors[${i}]`, t));
  const first = tensors[0]!;
  const rank = first.shape.length;
  if (rank === 0) throw new RingShapeError(`concat: argument 'tensors[0]' has shape [], expected rank >= 1`);
  const ax = normAxis('concat', 'axis', axis, rank);
  let total = 0;
  tensors.forEach((t, i) => {
    sameRing('concat', first, 'tensors[0]', t, `tensors[${i}]`);
    if (t.shape.length !== rank || t.shape.some((d, j) => j !== ax && d !== first.shape[j])) {
      throw new RingShapeError(
        `concat: argument 'tensors[${i}]' has shape ${fmtShape(t.shape)}, expected ${fmtShape(first.shape.map((d, j) => (j === ax ? -1 : d)))} (any size on axis ${ax})`,
      );
    }
    total += t.shape[ax]!;
  });
  const shape = first.shape.map((d, j) => (j === ax ? total : d));
  const limbs = limbsOf(first.bits);
  const outer = shapeSize(first.shape.slice(0, ax));
  const inner = shapeSize(first.shape.slice(ax + 1)) * limbs;
  const res = emptyTensor(first.bits, shape);
  const out = res.data;
  const row = total * inner;
  let col = 0;
  for (const t of tensors) {
    const chunk = t.shape[ax]! * inner;
    for (let o = 0; o < outer; o++) out.set(t.data.subarray(o * chunk, (o + 1) * chunk), o * row + col);
    col += chunk;
  }
  return res;
}

/** numpy broadcast_to (copies). */
export function broadcastTo(a: RingTensor, shape: readonly number[]): RingTensor {
  checkTensor('broadcastTo', 'a', a);
  const sh = checkShape('broadcastTo', 'shape', shape);
  const ok = a.shape.length <= sh.length && a.shape.every((d, i) => d === 1 || d === sh[i + sh.length - a.shape.length]);
  if (!ok) throw new RingShapeError(`broadcastTo: argument 'a' has shape ${fmtShape(a.shape)}, expected shape broadcastable to ${fmtShape(sh)}`);
  return sameShape(a.shape, sh) ? a.clone() : expandTo(a, sh);
}

/** Inserts a dimension of size 1 at `axis` in [-rank-1, rank]. Copies. */
export function expandDims(a: RingTensor, axis: number): RingTensor {
  checkTensor('expandDims', 'a', a);
  const ax = normAxis('expandDims', 'axis', axis, a.shape.length + 1);
  const shape = [...a.shape];
  shape.splice(ax, 0, 1);
  return copyAs(a, shape);
}

/** Removes size-1 dimensions (all of them, or those listed, which must be 1). Copies. */
export function squeeze(a: RingTensor, axes?: readonly number[]): RingTensor {
  checkTensor('squeeze', 'a', a);
  let drop: Set<number>;
  if (axes === undefined) drop = new Set(a.shape.flatMap((d, i) => (d === 1 ? [i] : [])));
  else {
    if (!Array.isArray(axes)) throw new TypeError(`squeeze: argument 'axes' must be an array of integers, got ${describe(axes)}`);
    drop = new Set(axes.map((x) => normAxis('squeeze', 'axes', x, a.shape.length)));
    for (const ax of drop) {
      if (a.shape[ax] !== 1) throw new RingShapeError(`squeeze: argument 'axes' names axis ${ax} of size ${a.shape[ax]} in shape ${fmtShape(a.shape)}, expected size 1`);
    }
  }
  return copyAs(a, a.shape.filter((_, i) => !drop.has(i)));
}

/** True when both tensors have the same ring, shape and elements. */
export function equals(a: RingTensor, b: RingTensor): boolean {
  checkTensor('equals', 'a', a);
  checkTensor('equals', 'b', b);
  if (a.bits !== b.bits || !sameShape(a.shape, b.shape)) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}
