/**
 * The ops of a traced computation (`ops.matmul(x, w)`, ...): each records a
 * node; nothing runs here. Operands are the computation's symbolic tensors,
 * or public constants (a number, nested arrays, a Float64Array with
 * `ops.constant`, a PublicTensor), which become `constant` nodes.
 */
import { describe } from '../errors.js';
import { checkPlayer, type Player } from '../player.js';
import { PublicTensor, SecretTensor } from '../tensor.js';
import { activeTrace, Symbolic, type Attrs, type Trace } from './ir.js';
import { opRule } from './rules.js';
import type { Dtype } from './types.js';

/** An operand: a symbolic tensor of the computation, or a public constant. */
export type Operand = Symbolic | number | readonly unknown[] | PublicTensor;

function record(fn: string, args: readonly Operand[], attrs: Attrs = {}): Symbolic {
  return recordMulti(fn, args, attrs)[0]!;
}

/** Record a node of the op's result count; its results in order. */
function recordMulti(fn: string, args: readonly Operand[], attrs: Attrs = {}): Symbolic[] {
  const t = activeTrace(fn);
  const rule = opRule(fn)!;
  const ids = args.map((a, i) => operand(t, fn, rule.argNames[i]!, a));
  return t.addMulti(fn, ids, rule.attrs(attrs, `ops.${fn}`), rule.results ?? 1);
}

function operand(t: Trace, fn: string, arg: string, a: Operand): number {
  if (a instanceof Symbolic) {
    if (!a.belongsTo(t)) throw new TypeError(`ops.${fn}: argument '${arg}' is a tensor of another computation`);
    return a.id;
  }
  if (a instanceof SecretTensor) {
    throw new TypeError(`ops.${fn}: argument '${arg}' is a ${a.constructor.name}: a computation gets secret values as arguments only (a traced computation holds no secret, so that it can be serialized)`);
  }
  if (a instanceof PublicTensor) return t.add('constant', [], opRule('constant')!.attrs({ values: Array.from(a.values), shape: [...a.shape], dtype: 'fixed' }, `ops.${fn}`)).id;
  if (typeof a === 'number' || Array.isArray(a)) return constant(a as number | readonly unknown[]).id;
  throw new TypeError(`ops.${fn}: argument '${arg}' must be a tensor of the computation or a public constant, got ${describe(a)}`);
}

function flatten(v: unknown, shape: number[], out: number[], depth = 0): void {
  if (Array.isArray(v)) {
    if (shape.length === depth) shape.push(v.length);
    for (const e of v) flatten(e, shape, out, depth + 1);
  } else out.push(v as number);
}

/** A public constant (it is stored in the computation, and in its JSON). */
export function constant(values: number | readonly unknown[] | Float64Array | Float32Array, options: { shape?: readonly number[]; dtype?: Dtype } = {}): Symbolic {
  const t = activeTrace('constant');
  let flat: number[];
  let shape: number[] | undefined = options.shape === undefined ? undefined : [...options.shape];
  if (typeof values === 'number') {
    flat = [values];
    shape ??= [];
  } else if (values instanceof Float64Array || values instanceof Float32Array) flat = Array.from(values);
  else {
    flat = [];
    const inferred: number[] = [];
    flatten(values, inferred, flat);
    shape ??= inferred;
  }
  return t.add('constant', [], opRule('constant')!.attrs({ values: flat, ...(shape === undefined ? {} : { shape }), dtype: options.dtype ?? 'fixed' }, 'ops.constant'));
}

export const add = (x: Operand, y: Operand): Symbolic => record('add', [x, y]);
export const sub = (x: Operand, y: Operand): Symbolic => record('sub', [x, y]);
export const mul = (x: Operand, y: Operand): Symbolic => record('mul', [x, y]);
export const neg = (x: Operand): Symbolic => record('neg', [x]);
/** [m, k] @ [k, n]. */
export const matmul = (x: Operand, y: Operand): Symbolic => record('matmul', [x, y]);
/** Sum over `axis` (all elements when omitted). */
export const sum = (x: Operand, axis?: number, keepDims = false): Symbolic => record('sum', [x], axis === undefined ? { keepDims } : { axis, keepDims });
/** The engine's truncation: divide an encrypted value by 2^f (products already truncate). */
export const truncate = (x: Operand): Symbolic => record('truncate', [x]);
/** Open `x` to `player` only (the seed's `decrypt`); a private value stays with its owner. */
export const reveal = (x: Operand, player: Player): Symbolic => record('reveal', [x], { player: checkPlayer('ops.reveal', 'player', player).name });
/**
 * Secret-share a private value (its owner's input) under the protocol.
 * `sensitivity`: the players allowed to see it and what is computed from it
 * (default: the value's own, its owner only); widening it is the program's
 * explicit decision, recorded in the computation.
 */
export const encrypt = (x: Operand, options: { sensitivity?: readonly Player[] | null } = {}): Symbolic =>
  record('encrypt', [x], options.sensitivity === undefined ? {} : { sensitivity: options.sensitivity === null ? null : options.sensitivity.map((p, i) => checkPlayer('ops.encrypt', `sensitivity[${i}]`, p).name) });
/** Give the Variable passed as `variable` the value `value` (when the run ends). */
export const assign = (variable: Symbolic, value: Operand): void => void record('assign', [variable, value]);

// ------------------------------------------------------------ ABY3's nonlinear ops (rules-nonlinear.ts; refused under a protocol without them)

/** max(x, 0), exact on the encoding. */
export const relu = (x: Operand): Symbolic => record('relu', [x]);
/** [x ≥ 0] as 0/1 integers (dtype 'int'). */
export const reluDerivative = (x: Operand): Symbolic => record('reluDerivative', [x]);
/** [x < 0] as 0/1 integers (dtype 'int'). */
export const isNegative = (x: Operand): Symbolic => record('isNegative', [x]);
/** [x > y] as 0/1 integers (dtype 'int'); same shapes. */
export const greater = (x: Operand, y: Operand): Symbolic => record('greater', [x, y]);
/** [x < y] as 0/1 integers (dtype 'int'); same shapes. */
export const less = (x: Operand, y: Operand): Symbolic => record('less', [x, y]);
/** e^x (fixed point); `clip` (default true): x ≤ −2^k gives 0. */
export const exp = (x: Operand, options: { clip?: boolean } = {}): Symbolic => record('exp', [x], options.clip === undefined ? {} : { clip: options.clip });
/** 1 / (1 + e^−x). */
export const sigmoid = (x: Operand): Symbolic => record('sigmoid', [x]);
/** 1/x for x in `range` = [lo, hi] (0 < lo < hi). */
export const reciprocal = (x: Operand, options: { range: readonly [number, number] }): Symbolic => record('reciprocal', [x], { range: options?.range === undefined ? undefined : [...options.range] });
/** softmax along `axis` (default the last). */
export const softmax = (x: Operand, axis?: number): Symbolic => record('softmax', [x], axis === undefined ? {} : { axis });
/** log softmax along `axis` (default the last). */
export const logSoftmax = (x: Operand, axis?: number): Symbolic => record('logSoftmax', [x], axis === undefined ? {} : { axis });
/** The maximum along `axis` (that axis removed). */
export const max = (x: Operand, axis: number): Symbolic => record('max', [x], { axis });
/** The index of the maximum along `axis` (dtype 'int'; ties: the lowest index). */
export const argmax = (x: Operand, axis: number): Symbolic => record('argmax', [x], { axis });
/** x [B, H, W, C] (NHWC) * w [KH, KW, C, F] (encrypted or public); `strides` (default 1), `padding` 'valid' (default) or 'same'. */
export const conv2d = (x: Operand, w: Operand, options: { strides?: number | readonly [number, number]; padding?: 'valid' | 'same' } = {}): Symbolic =>
  record('conv2d', [x, w], { ...(options.strides === undefined ? {} : { strides: typeof options.strides === 'number' ? options.strides : [...options.strides] }), ...(options.padding === undefined ? {} : { padding: options.padding }) });
/** The mean over `size` windows (valid padding), `strides` default `size`; NHWC. */
export const avgPool = (x: Operand, options: { size: number | readonly [number, number]; strides?: number | readonly [number, number] }): Symbolic => {
  const pair = (v: number | readonly [number, number]): number | number[] => (typeof v === 'number' ? v : [...v]);
  return record('avgPool', [x], { size: options?.size === undefined ? undefined : pair(options.size), ...(options?.strides === undefined ? {} : { strides: pair(options.strides) }) });
};
/** The maximum of each 2x2 window, stride 2 (NHWC). */
export const maxPool2x2 = (x: Operand): Symbolic => record('maxPool2x2', [x]);

type Pair = number | readonly [number, number];
const pairOf = (v: Pair): number | number[] => (typeof v === 'number' ? v : [...v]);
const convOptions = (o: { strides?: Pair; padding?: 'valid' | 'same' }): Attrs => ({ ...(o.strides === undefined ? {} : { strides: pairOf(o.strides) }), ...(o.padding === undefined ? {} : { padding: o.padding }) });

/** b ? x : y elementwise, b encrypted 0/1 integers (dtype 'int', e.g. from greater); same shapes. */
export const select = (b: Operand, x: Operand, y: Operand): Symbolic => record('select', [b, x, y]);
/** x / y (fixed point; broadcast) for every y in `range` = [lo, hi] (0 < lo < hi): y's reciprocal, then a product. */
export const div = (x: Operand, y: Operand, options: { range: readonly [number, number] }): Symbolic => record('div', [x, y], { range: options?.range === undefined ? undefined : [...options.range] });

// ------------------------------------------------------------ every protocol (rules-shape.ts)

/** x with `shape` (the same elements in the same order; one entry may be -1: inferred). */
export const reshape = (x: Operand, shape: readonly number[]): Symbolic => record('reshape', [x], { shape: Array.isArray(shape) ? [...shape] : shape });
/** x's axes permuted (result axis i is x's axis perm[i]); default: reversed. */
export const transpose = (x: Operand, perm?: readonly number[]): Symbolic => record('transpose', [x], perm === undefined ? {} : { perm: Array.isArray(perm) ? [...perm] : perm });
/** x / c for a public c (number, array, PublicTensor; broadcast; no element 0): the engine's divPublic (fixed-point result). */
export const divPublic = (x: Operand, c: Operand): Symbolic => record('divPublic', [x, c]);

// ------------------------------------------------------------ training-side ops (ABY3; rules-nonlinear.ts)

/** conv2d's gradient for its input: dy [B, OH, OW, F], w [KH, KW, C, F] (encrypted or public) → [B, H, W, C] = `inputShape`. */
export const conv2dBackpropInput = (dy: Operand, w: Operand, options: { inputShape: readonly number[]; strides?: Pair; padding?: 'valid' | 'same' }): Symbolic =>
  record('conv2dBackpropInput', [dy, w], { inputShape: options?.inputShape === undefined ? undefined : [...options.inputShape], ...convOptions(options ?? {}) });
/** conv2d's gradient for its filter: x [B, H, W, C], dy [B, OH, OW, F] → `filterShape` [KH, KW, C, F]. */
export const conv2dBackpropFilter = (x: Operand, dy: Operand, options: { filterShape: readonly number[]; strides?: Pair; padding?: 'valid' | 'same' }): Symbolic =>
  record('conv2dBackpropFilter', [x, dy], { filterShape: options?.filterShape === undefined ? undefined : [...options.filterShape], ...convOptions(options ?? {}) });
/** maxPool2x2 and its backward mask: `y` [B, H/2, W/2, C], `mask` x's shape, 0/1 integers at each window's maximum (one node, two results). */
export const maxPool2x2WithMask = (x: Operand): { y: Symbolic; mask: Symbolic } => {
  const [y, mask] = recordMulti('maxPool2x2WithMask', [x]) as [Symbolic, Symbolic];
  return { y, mask };
};
/** maxPool2x2's backward pass: mask · upsample(dy), mask from maxPool2x2WithMask, dy [B, H/2, W/2, C]. */
export const maxPool2x2Backward = (mask: Operand, dy: Operand): Symbolic => record('maxPool2x2Backward', [mask, dy]);
