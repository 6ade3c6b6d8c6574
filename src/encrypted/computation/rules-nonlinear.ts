/**
 * The IR's nonlinear, smooth, convolution and pooling ops (docs/encrypted-ml.md,
 * op table): ABY3's methods of the same names. Each takes encrypted operands
 * (a conv2d filter may also be public) and gives an encrypted result with the
 * operands' joined sensitivity; comparisons and argmax give 0/1 (index)
 * integers, dtype 'int' (the engine's encoding). A protocol without the
 * method (Plaintext) is refused when the computation is made concrete
 * (ProtocolMismatchError naming the op and the protocol), before any message.
 */
import { describe, fmtShape, ProtocolMismatchError, ShapeMismatchError } from '../errors.js';
import { geometry, strides2 } from '../protocols/aby3-conv.js';
import { broadcastShape } from '../protocols/base.js';
import type { ProtocolTensor } from '../tensor.js';
import { NoProtocolError, SignatureError } from './errors.js';
import type { Attrs } from './ir.js';
import type { AnyProtocol, InferCtx, OpRule } from './rules.js';
import { describeType, joinSensitivity, type Dtype, type TensorType } from './types.js';

type Method = (...a: unknown[]) => Promise<ProtocolTensor>;

/** The attributes an op accepts; any other is refused by name. */
function only(a: Attrs, where: string, allowed: readonly string[]): void {
  for (const k of Object.keys(a)) if (!allowed.includes(k)) throw new TypeError(`${where}: unknown attribute '${k}'${allowed.length ? ` (accepted: ${allowed.join(', ')})` : ' (takes none)'}`);
}

function intAttr(v: unknown, where: string, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new TypeError(`${where}: attribute '${what}' must be an integer, got ${describe(v)}`);
  return v;
}

function pairAttr(v: unknown, where: string, what: string): number | [number, number] {
  const pos = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x > 0;
  if (pos(v)) return v;
  if (Array.isArray(v) && v.length === 2 && pos(v[0]) && pos(v[1])) return [v[0], v[1]];
  throw new RangeError(`${where}: attribute '${what}' must be a positive integer or a pair of them, got ${describe(v)}`);
}

function axisIn(ctx: InferCtx, shape: readonly number[], axis: number): number {
  const r = shape.length;
  if (r === 0 || axis < -r || axis >= r) throw new RangeError(`${ctx.where}: attribute 'axis' expected an integer in [${-r}, ${r - 1}] for shape ${fmtShape(shape)}, got ${axis}`);
  return axis < 0 ? axis + r : axis;
}

/** The protocol's method `name`, or a ProtocolMismatchError naming the op and the protocol. */
function method(ctx: InferCtx, name: string): AnyProtocol {
  const p = ctx.protocol;
  if (p === undefined) throw new NoProtocolError(`${ctx.where}: computes on encrypted values and needs a protocol: call it inside withProtocol(protocol, ...), after setProtocol(protocol), or make it concrete with comp.concrete(protocol, signature)`);
  if (typeof (p as unknown as Record<string, unknown>)[name] !== 'function') {
    throw new ProtocolMismatchError(`${ctx.where}: op '${name}' is not implemented by protocol '${p.id}' (${p.constructor.name}); Pond and ABY3 implement it`);
  }
  return p;
}

function needEncrypted(ctx: InferCtx, t: TensorType, arg: string, dtype?: Dtype): void {
  if (t.kind !== 'encrypted') throw new SignatureError(`${ctx.where}: argument '${arg}' must be encrypted (encrypt it first: ops.encrypt), got ${describeType(t)}`);
  if (dtype !== undefined && t.dtype !== dtype) throw new SignatureError(`${ctx.where}: argument '${arg}' must have dtype '${dtype}', got ${describeType(t)}`);
}

const result = (ctx: InferCtx, ts: readonly TensorType[], shape: readonly number[], dtype: Dtype): TensorType => ({
  kind: 'encrypted', shape, dtype, placement: ctx.holders ?? [], sensitivity: joinSensitivity(ts.map((t) => t.sensitivity)),
});

const call = (env: { protocol: AnyProtocol | undefined }, name: string, ...a: unknown[]): Promise<ProtocolTensor> =>
  ((env.protocol as unknown as Record<string, Method>)[name] as Method).call(env.protocol, ...a);

/** x ↦ op(x), same shape: `dtype` the result's (undefined: x's), `input` the dtype x must have. */
function unary(name: string, opts: { input?: Dtype; dtype?: Dtype; attrs?: (a: Attrs, where: string) => Attrs; args?: (a: Attrs) => unknown[] } = {}): OpRule {
  return {
    arity: 1,
    argNames: ['x'],
    attrs: opts.attrs ?? ((a, where) => (only(a, where, []), {})),
    infer(ctx, ts) {
      method(ctx, name);
      needEncrypted(ctx, ts[0]!, 'x', opts.input);
      return result(ctx, ts, ts[0]!.shape, opts.dtype ?? ts[0]!.dtype);
    },
    run: (env, vs, _ts, a) => call(env, name, vs[0], ...(opts.args?.(a) ?? [])),
  };
}

function compare(name: 'greater' | 'less'): OpRule {
  return {
    arity: 2,
    argNames: ['x', 'y'],
    attrs: (a, where) => (only(a, where, []), {}),
    infer(ctx, ts) {
      method(ctx, name);
      const [x, y] = ts as [TensorType, TensorType];
      needEncrypted(ctx, x, 'x');
      needEncrypted(ctx, y, 'y');
      if (x.dtype !== y.dtype) throw new SignatureError(`${ctx.where}: arguments 'x' (${x.dtype}) and 'y' (${y.dtype}) have different dtypes`);
      if (fmtShape(x.shape) !== fmtShape(y.shape)) throw new ShapeMismatchError(`${ctx.where}: arguments 'x' ${fmtShape(x.shape)} and 'y' ${fmtShape(y.shape)} must have the same shape`);
      return result(ctx, ts, x.shape, 'int');
    },
    run: (env, vs) => call(env, name, vs[0], vs[1]),
  };
}

const axisAttrs = (required: boolean) => (a: Attrs, where: string): Attrs => {
  only(a, where, ['axis']);
  if (a['axis'] === undefined && !required) return { axis: -1 };
  return { axis: intAttr(a['axis'], where, 'axis') };
};

function reduce(name: 'max' | 'argmax'): OpRule {
  return {
    arity: 1,
    argNames: ['x'],
    attrs: axisAttrs(true),
    infer(ctx, ts, a) {
      method(ctx, name);
      const x = ts[0]!;
      needEncrypted(ctx, x, 'x');
      const k = axisIn(ctx, x.shape, a['axis'] as number);
      return result(ctx, ts, x.shape.filter((_, i) => i !== k), name === 'argmax' ? 'int' : x.dtype);
    },
    run: (env, vs, _ts, a) => call(env, name, vs[0], a['axis']),
  };
}

function softmaxLike(name: 'softmax' | 'logSoftmax'): OpRule {
  return {
    arity: 1,
    argNames: ['x'],
    attrs: axisAttrs(false),
    infer(ctx, ts, a) {
      method(ctx, name);
      needEncrypted(ctx, ts[0]!, 'x', 'fixed');
      axisIn(ctx, ts[0]!.shape, a['axis'] as number);
      return result(ctx, ts, ts[0]!.shape, 'fixed');
    },
    run: (env, vs, _ts, a) => call(env, name, vs[0], a['axis']),
  };
}

/** A conv2d or pool geometry of the NHWC shape `x` (argument or attribute `arg`), its errors named after the node. */
function geom(ctx: InferCtx, x: TensorType | readonly number[], KH: number, KW: number, strides: unknown, padding: unknown, arg = 'x', what = 'argument'): { OH: number; OW: number; B: number; C: number } {
  const shape = Array.isArray(x) ? (x as readonly number[]) : (x as TensorType).shape;
  if (shape.length !== 4) throw new ShapeMismatchError(`${ctx.where}: ${what} '${arg}' must have shape [batch, height, width, channels] (NHWC), got ${fmtShape(shape)}`);
  try {
    return geometry('conv', shape, KH, KW, strides, padding, arg);
  } catch (e) {
    if (e instanceof Error) e.message = `${ctx.where}: ${e.message.replace(/^ABY3\.conv: /, '')}`;
    throw e;
  }
}

/** `range: [lo, hi]` of reciprocal and div: 0 < lo < hi, hi/lo <= 2^20. */
function rangeAttrs(a: Attrs, where: string): Attrs {
  only(a, where, ['range']);
  const r = a['range'];
  if (!Array.isArray(r) || r.length !== 2 || typeof r[0] !== 'number' || typeof r[1] !== 'number') throw new TypeError(`${where}: attribute 'range' must be a pair [lo, hi] of numbers, got ${describe(r)}`);
  const [lo, hi] = r as [number, number];
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(lo > 0) || !(hi > lo) || hi / lo > 2 ** 20) throw new RangeError(`${where}: attribute 'range' must satisfy 0 < lo < hi (finite), hi/lo <= 2^20, got [${lo}, ${hi}]`);
  return { range: [lo, hi] };
}

/** conv2d's `strides` and `padding` (defaults 1 and 'valid'), and the backprops' shape attribute `shapeAttr` (4 positive integers) if given. */
const convAttrs = (shapeAttr?: string) => (a: Attrs, where: string): Attrs => {
  only(a, where, shapeAttr === undefined ? ['strides', 'padding'] : [shapeAttr, 'strides', 'padding']);
  const padding = a['padding'] ?? 'valid';
  if (padding !== 'valid' && padding !== 'same') throw new RangeError(`${where}: attribute 'padding' must be 'valid' or 'same', got ${describe(padding)}`);
  const out: Record<string, unknown> = { strides: pairAttr(a['strides'] ?? 1, where, 'strides'), padding };
  if (shapeAttr !== undefined) {
    const s = a[shapeAttr];
    if (!Array.isArray(s) || s.length !== 4 || !s.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d > 0)) throw new TypeError(`${where}: attribute '${shapeAttr}' must be 4 positive integers, got ${describe(s)}`);
    out[shapeAttr] = [...s];
  }
  return out;
};

const sameShape = (a: readonly number[], b: readonly number[]): boolean => fmtShape(a) === fmtShape(b);

export function nonlinearRules(): [string, OpRule][] {
  return [
    ['relu', unary('relu')],
    ['reluDerivative', unary('reluDerivative', { dtype: 'int' })],
    ['isNegative', unary('isNegative', { dtype: 'int' })],
    ['greater', compare('greater')],
    ['less', compare('less')],
    ['exp', unary('exp', {
      input: 'fixed',
      attrs(a, where) {
        only(a, where, ['clip']);
        const clip = a['clip'] ?? true;
        if (typeof clip !== 'boolean') throw new TypeError(`${where}: attribute 'clip' must be a boolean, got ${describe(clip)}`);
        return { clip };
      },
      args: (a) => [{ clip: a['clip'] }],
    })],
    ['sigmoid', unary('sigmoid', { input: 'fixed' })],
    ['reciprocal', unary('reciprocal', { input: 'fixed', attrs: rangeAttrs, args: (a) => [{ range: [...(a['range'] as number[])] }] })],
    ['softmax', softmaxLike('softmax')],
    ['logSoftmax', softmaxLike('logSoftmax')],
    ['max', reduce('max')],
    ['argmax', reduce('argmax')],
    ['conv2d', {
      arity: 2,
      argNames: ['x', 'w'],
      attrs: convAttrs(),
      infer(ctx, ts, a) {
        method(ctx, 'conv2d');
        const [x, w] = ts as [TensorType, TensorType];
        needEncrypted(ctx, x, 'x', 'fixed');
        if (w.kind === 'private') throw new SignatureError(`${ctx.where}: argument 'w' must be encrypted or public, got ${describeType(w)}`);
        if (w.dtype !== 'fixed') throw new SignatureError(`${ctx.where}: argument 'w' must have dtype 'fixed', got ${describeType(w)}`);
        if (w.shape.length !== 4 || w.shape[2] !== x.shape[3]) throw new ShapeMismatchError(`${ctx.where}: argument 'w' must have shape [kh, kw, ${x.shape[3] ?? 'inChannels'}, outChannels], got ${fmtShape(w.shape)}`);
        const g = geom(ctx, x, w.shape[0]!, w.shape[1]!, a['strides'], a['padding']);
        return result(ctx, ts, [g.B, g.OH, g.OW, w.shape[3]!], 'fixed');
      },
      run: (env, vs, _ts, a) => call(env, 'conv2d', vs[0], vs[1], { strides: a['strides'], padding: a['padding'] }),
    }],
    ['avgPool', {
      arity: 1,
      argNames: ['x'],
      attrs(a, where) {
        only(a, where, ['size', 'strides']);
        const size = pairAttr(a['size'], where, 'size');
        return { size, strides: pairAttr(a['strides'] ?? size, where, 'strides') };
      },
      infer(ctx, ts, a) {
        method(ctx, 'avgPool');
        const x = ts[0]!;
        needEncrypted(ctx, x, 'x', 'fixed');
        const [KH, KW] = strides2('avgPool', a['size'], 'size');
        const g = geom(ctx, x, KH, KW, a['strides'], 'valid');
        return result(ctx, ts, [g.B, g.OH, g.OW, g.C], 'fixed');
      },
      run: (env, vs, _ts, a) => call(env, 'avgPool', vs[0], { size: a['size'], strides: a['strides'] }),
    }],
    ['maxPool2x2', {
      arity: 1,
      argNames: ['x'],
      attrs: (a, where) => (only(a, where, []), {}),
      infer(ctx, ts) {
        method(ctx, 'maxPool2x2');
        const x = ts[0]!;
        needEncrypted(ctx, x, 'x');
        const g = geom(ctx, x, 2, 2, 2, 'valid');
        return result(ctx, ts, [g.B, g.OH, g.OW, g.C], x.dtype);
      },
      run: (env, vs) => call(env, 'maxPool2x2', vs[0]),
    }],
    ...trainingRules(),
  ];
}

/** b ? x : y, x / y, the conv2d gradients and maxPool2x2 with its mask and backward pass (the training-side ops). */
function trainingRules(): [string, OpRule][] {
  const filter = (ctx: InferCtx, w: TensorType, C: number | undefined): [number, number, number, number] => {
    if (w.kind === 'private') throw new SignatureError(`${ctx.where}: argument 'w' must be encrypted or public, got ${describeType(w)}`);
    if (w.dtype !== 'fixed') throw new SignatureError(`${ctx.where}: argument 'w' must have dtype 'fixed', got ${describeType(w)}`);
    if (w.shape.length !== 4 || (C !== undefined && w.shape[2] !== C)) throw new ShapeMismatchError(`${ctx.where}: argument 'w' must have shape [kh, kw, ${C ?? 'inChannels'}, outChannels], got ${fmtShape(w.shape)}`);
    return w.shape as [number, number, number, number];
  };
  const dyShape = (ctx: InferCtx, dy: TensorType, want: readonly number[]): void => {
    if (!sameShape(dy.shape, want)) throw new ShapeMismatchError(`${ctx.where}: argument 'dy' has shape ${fmtShape(dy.shape)}, expected ${fmtShape(want)} (the forward op's output for this input, filter, strides and padding)`);
  };
  const convOpts = (a: Attrs) => ({ strides: a['strides'], padding: a['padding'] });
  return [
    ['select', {
      arity: 3,
      argNames: ['b', 'x', 'y'],
      attrs: (a, where) => (only(a, where, []), {}),
      infer(ctx, ts) {
        method(ctx, 'select');
        const [b, x, y] = ts as [TensorType, TensorType, TensorType];
        needEncrypted(ctx, b, 'b', 'int');
        needEncrypted(ctx, x, 'x');
        needEncrypted(ctx, y, 'y');
        if (x.dtype !== y.dtype) throw new SignatureError(`${ctx.where}: arguments 'x' (${x.dtype}) and 'y' (${y.dtype}) have different dtypes`);
        if (!sameShape(x.shape, y.shape) || !sameShape(b.shape, x.shape)) throw new ShapeMismatchError(`${ctx.where}: arguments 'b' ${fmtShape(b.shape)}, 'x' ${fmtShape(x.shape)} and 'y' ${fmtShape(y.shape)} must have the same shape`);
        return result(ctx, ts, x.shape, x.dtype);
      },
      run: (env, vs) => call(env, 'select', vs[0], vs[1], vs[2]),
    }],
    ['div', {
      arity: 2,
      argNames: ['x', 'y'],
      attrs: rangeAttrs,
      infer(ctx, ts) {
        method(ctx, 'div');
        const [x, y] = ts as [TensorType, TensorType];
        needEncrypted(ctx, x, 'x', 'fixed');
        needEncrypted(ctx, y, 'y', 'fixed');
        return result(ctx, ts, broadcastShape(ctx.where, x.shape, y.shape), 'fixed');
      },
      run: (env, vs, _ts, a) => call(env, 'div', vs[0], vs[1], { range: [...(a['range'] as number[])] }),
    }],
    ['conv2dBackpropInput', {
      arity: 2,
      argNames: ['dy', 'w'],
      attrs: convAttrs('inputShape'),
      infer(ctx, ts, a) {
        method(ctx, 'conv2dBackpropInput');
        const [dy, w] = ts as [TensorType, TensorType];
        needEncrypted(ctx, dy, 'dy', 'fixed');
        const inputShape = a['inputShape'] as number[];
        const [KH, KW, , F] = filter(ctx, w, inputShape[3]);
        const g = geom(ctx, inputShape, KH, KW, a['strides'], a['padding'], 'inputShape', 'attribute');
        dyShape(ctx, dy, [g.B, g.OH, g.OW, F]);
        return result(ctx, ts, inputShape, 'fixed');
      },
      run: (env, vs, _ts, a) => call(env, 'conv2dBackpropInput', [...(a['inputShape'] as number[])], vs[0], vs[1], convOpts(a)),
    }],
    ['conv2dBackpropFilter', {
      arity: 2,
      argNames: ['x', 'dy'],
      attrs: convAttrs('filterShape'),
      infer(ctx, ts, a) {
        method(ctx, 'conv2dBackpropFilter');
        const [x, dy] = ts as [TensorType, TensorType];
        needEncrypted(ctx, x, 'x', 'fixed');
        needEncrypted(ctx, dy, 'dy', 'fixed');
        const [KH, KW, C, F] = a['filterShape'] as [number, number, number, number];
        const g = geom(ctx, x, KH, KW, a['strides'], a['padding']);
        if (C !== g.C) throw new ShapeMismatchError(`${ctx.where}: attribute 'filterShape' has ${C} input channels, argument 'x' ${fmtShape(x.shape)} has ${g.C}`);
        dyShape(ctx, dy, [g.B, g.OH, g.OW, F]);
        return result(ctx, ts, [KH, KW, C, F], 'fixed');
      },
      run: (env, vs, _ts, a) => call(env, 'conv2dBackpropFilter', vs[0], vs[1], [...(a['filterShape'] as number[])], convOpts(a)),
    }],
    ['maxPool2x2WithMask', {
      arity: 1,
      argNames: ['x'],
      results: 2,
      attrs: (a, where) => (only(a, where, []), {}),
      infer(ctx, ts) {
        method(ctx, 'maxPool2x2WithMask');
        const x = ts[0]!;
        needEncrypted(ctx, x, 'x');
        const g = geom(ctx, x, 2, 2, 2, 'valid');
        // [y, mask]: the pooled values, and 0/1 integers at each window's maximum (x's shape)
        return [result(ctx, ts, [g.B, g.OH, g.OW, g.C], x.dtype), result(ctx, ts, x.shape, 'int')];
      },
      async run(env, vs) {
        const r = (await call(env, 'maxPool2x2WithMask', vs[0])) as unknown as { y: ProtocolTensor; mask: ProtocolTensor };
        return [r.y, r.mask];
      },
    }],
    ['maxPool2x2Backward', {
      arity: 2,
      argNames: ['mask', 'dy'],
      attrs: (a, where) => (only(a, where, []), {}),
      infer(ctx, ts) {
        method(ctx, 'maxPool2x2Backward');
        const [mask, dy] = ts as [TensorType, TensorType];
        needEncrypted(ctx, mask, 'mask', 'int');
        needEncrypted(ctx, dy, 'dy');
        const g = geom(ctx, mask, 2, 2, 2, 'valid', 'mask');
        dyShape(ctx, dy, [g.B, g.OH, g.OW, g.C]);
        // mask (int) times the upsampled dy: dy's dtype, no truncation
        return result(ctx, ts, mask.shape, dy.dtype);
      },
      run: (env, vs) => call(env, 'maxPool2x2Backward', vs[0], vs[1]),
    }],
  ];
}
