/**
 * The registered ops of computations: for each, its attributes' check (used
 * when tracing and when reading JSON), its typing rule (shape, dtype, kind,
 * placement, sensitivity of the result, checked before anything runs), and
 * how it runs on the engine's ops. Only ops registered here exist: a
 * serialized computation can name nothing else.
 */
import { describe, fmtShape, SensitivityError, ShapeMismatchError, UnknownPlayerError } from '../errors.js';
import { flattenFloats } from '../fixed.js';
import { Player } from '../player.js';
import { broadcastShape, type Protocol } from '../protocols/base.js';
import { PrivateTensor, ProtocolTensor, PublicTensor, type Sensitivity } from '../tensor.js';
import { NoProtocolError, PlacementError, SignatureError } from './errors.js';
import type { Attrs } from './ir.js';
import * as plain from './plain.js';
import { combine, encrypted, needProtocol, runPlain } from './rules-kinds.js';
import { shapeRules } from './rules-shape.js';
import { nonlinearRules } from './rules-nonlinear.js';
import { checkSubtype, describeType, joinSensitivity, names, TensorSpec, type Dtype, type TensorType } from './types.js';

export type AnyProtocol = Protocol<ProtocolTensor>;
export type Value = PublicTensor | PrivateTensor | ProtocolTensor;

export interface InferCtx {
  /** e.g. "forward: node 3 (matmul)". */
  readonly where: string;
  readonly protocol: AnyProtocol | undefined;
  /** The protocol's share holders (the placement of its encrypted values). */
  readonly holders: readonly Player[] | undefined;
  /** Players the protocol will accept as reveal targets at this point of the program (grows with encrypts). */
  readonly known: Set<string>;
  readonly inputs: readonly TensorType[];
  /** The values of argument `j` of the node when it is a public constant of the computation (a `constant` node), else undefined. */
  readonly constant?: (j: number) => readonly number[] | undefined;
}

export interface RunEnv {
  readonly protocol: AnyProtocol | undefined;
  readonly assigns: [number, Value][];
}

export interface OpRule {
  readonly arity: number;
  readonly argNames: readonly string[];
  /** How many values the op gives (default 1); with more, `infer` returns one type and `run` one value per result, in order. */
  readonly results?: number;
  attrs(a: Attrs, where: string): Attrs;
  infer(ctx: InferCtx, ts: readonly TensorType[], a: Attrs): TensorType | undefined | readonly TensorType[];
  run(env: RunEnv, vs: readonly Value[], ts: readonly TensorType[], a: Attrs, out: TensorType, args: readonly number[], outs: readonly TensorType[]): Value | undefined | readonly Value[] | Promise<Value | undefined | readonly Value[]>;
}

// ------------------------------------------------------------ helpers

const noAttrs = (a: Attrs, where: string): Attrs => {
  if (Object.keys(a).length > 0) throw new TypeError(`${where}: takes no attributes, got ${Object.keys(a).join(', ')}`);
  return {};
};

function playerAttr(v: unknown, where: string, what: string): string {
  if (typeof v !== 'string') throw new TypeError(`${where}: attribute '${what}' must be a player name, got ${describe(v)}`);
  return new Player(v).name;
}

const sameDtype = (ctx: InferCtx, ts: readonly TensorType[], names: readonly string[]): Dtype => {
  if (ts[0]!.dtype !== ts[1]!.dtype) throw new SignatureError(`${ctx.where}: arguments '${names[0]}' (${ts[0]!.dtype}) and '${names[1]}' (${ts[1]!.dtype}) have different dtypes; combine fixed-point and int values by multiplication only`);
  return ts[0]!.dtype;
};

function productDtype(ctx: InferCtx, ts: readonly TensorType[]): Dtype {
  const [x, y] = ts as [TensorType, TensorType];
  for (const [a, b, n] of [[x, y, 'y'], [y, x, 'x']] as const) {
    if (a.kind === 'encrypted' && a.dtype === 'int' && b.kind === 'public' && b.dtype === 'fixed') {
      throw new SignatureError(`${ctx.where}: an encrypted int value times the fixed-point public argument '${n}' is not typed (the engine keeps int for an integral constant): declare the constant dtype 'int'`);
    }
  }
  return x.dtype === 'int' && y.dtype === 'int' ? 'int' : 'fixed';
}

/** Secret-share a private operand of an op with encrypted ones (the implicit encrypt). */
function lift(p: AnyProtocol, v: Value, t: TensorType, sensitivity: Sensitivity = t.sensitivity): Promise<ProtocolTensor> | ProtocolTensor {
  if (v instanceof ProtocolTensor) return v;
  const x = v as PrivateTensor;
  const opts = { shape: [...t.shape], sensitivity };
  if (t.dtype === 'int') return p.encryptInts(x.owner, x.isLocal ? Array.from(x.read()) : undefined, opts);
  return p.encrypt(x.owner, x.isLocal ? x.read() : undefined, opts);
}

async function liftAll(env: RunEnv, vs: readonly Value[], ts: readonly TensorType[]): Promise<(ProtocolTensor | PublicTensor)[]> {
  const out: (ProtocolTensor | PublicTensor)[] = [];
  // (one at a time, in argument order: every process takes the same op numbers)
  for (let i = 0; i < vs.length; i++) out.push(vs[i] instanceof PublicTensor ? (vs[i] as PublicTensor) : await lift(env.protocol!, vs[i]!, ts[i]!));
  return out;
}

// ------------------------------------------------------------ the ops

const binary = (kind: 'add' | 'sub' | 'mul'): OpRule => ({
  arity: 2,
  argNames: ['x', 'y'],
  attrs: noAttrs,
  infer(ctx, ts) {
    const shape = broadcastShape(ctx.where, ts[0]!.shape, ts[1]!.shape);
    const dtype = kind === 'mul' ? productDtype(ctx, ts) : sameDtype(ctx, ts, ['x', 'y']);
    return combine(ctx, ts, shape, dtype);
  },
  async run(env, vs, ts, _a, out) {
    const f = kind === 'add' ? (a: number, b: number) => a + b : kind === 'sub' ? (a: number, b: number) => a - b : (a: number, b: number) => a * b;
    if (out.kind !== 'encrypted') return runPlain(vs, out, (x, y) => plain.zipWith(kind, x!, y!, f));
    const p = env.protocol!;
    const [x, y] = await liftAll(env, vs, ts);
    if (x instanceof PublicTensor || y instanceof PublicTensor) {
      const [e, c, cFirst] = x instanceof PublicTensor ? [y as ProtocolTensor, x, true] : [x, y as PublicTensor, false];
      if (kind === 'mul') return p.mulPublic(e, c);
      if (kind === 'add') return p.addPublic(e, c);
      return cFirst ? p.addPublic(p.neg(e), c) : p.addPublic(e, new PublicTensor(c.values.map((v) => -v), c.shape));
    }
    return kind === 'add' ? p.add(x, y!) : kind === 'sub' ? p.sub(x, y!) : p.mul(x, y!);
  },
});

const RULES = new Map<string, OpRule>();

RULES.set('constant', {
  arity: 0,
  argNames: [],
  attrs(a, where) {
    const dtype = a['dtype'] ?? 'fixed';
    if (dtype !== 'fixed' && dtype !== 'int') throw new RangeError(`${where}: attribute 'dtype' must be 'fixed' or 'int', got ${describe(dtype)}`);
    if (!Array.isArray(a['values'])) throw new TypeError(`${where}: attribute 'values' must be an array of numbers, got ${describe(a['values'])}`);
    const flat = flattenFloats(where, 'values', Float64Array.from(a['values'] as number[]), a['shape'] as number[] | undefined);
    flat.values.forEach((v, i) => {
      if (!Number.isFinite(v) || (dtype === 'int' && !Number.isSafeInteger(v))) throw new RangeError(`${where}: element ${i} of 'values' must be a finite${dtype === 'int' ? ' safe integer' : ' number'}, got ${v}`);
    });
    return { values: Array.from(flat.values), shape: flat.shape, dtype };
  },
  infer: (_ctx, _ts, a) => ({ kind: 'public', shape: a['shape'] as number[], dtype: a['dtype'] as Dtype, placement: [], sensitivity: null }),
  run: (_env, _vs, _ts, a) => new PublicTensor(Float64Array.from(a['values'] as number[]), a['shape'] as number[]),
});

RULES.set('add', binary('add'));
RULES.set('sub', binary('sub'));
RULES.set('mul', binary('mul'));

RULES.set('neg', {
  arity: 1,
  argNames: ['x'],
  attrs: noAttrs,
  infer: (ctx, ts) => combine(ctx, ts, ts[0]!.shape, ts[0]!.dtype),
  run: (env, vs, _ts, _a, out) => (out.kind === 'encrypted' ? env.protocol!.neg(vs[0] as ProtocolTensor) : runPlain(vs, out, (x) => plain.map(x!, (v) => -v))),
});

RULES.set('matmul', {
  arity: 2,
  argNames: ['x', 'y'],
  attrs: noAttrs,
  infer(ctx, ts) {
    const [x, y] = ts as [TensorType, TensorType];
    if (x.shape.length !== 2 || y.shape.length !== 2 || x.shape[1] !== y.shape[0]) throw new ShapeMismatchError(`${ctx.where}: expected shapes [m, k] and [k, n], got 'x' ${fmtShape(x.shape)} and 'y' ${fmtShape(y.shape)}`);
    if (ts.some((t) => t.kind === 'encrypted') && ts.some((t) => t.kind === 'public')) {
      throw new SignatureError(`${ctx.where}: a matrix product of an encrypted and a public value is not in the engine yet; encrypt the public operand from a player (ops.encrypt of a private value)`);
    }
    return combine(ctx, ts, [x.shape[0]!, y.shape[1]!], productDtype(ctx, ts));
  },
  async run(env, vs, ts, _a, out) {
    if (out.kind !== 'encrypted') return runPlain(vs, out, (x, y) => plain.matmul(x!, y!));
    const [x, y] = (await liftAll(env, vs, ts)) as ProtocolTensor[];
    return env.protocol!.matmul(x!, y!);
  },
});

RULES.set('sum', {
  arity: 1,
  argNames: ['x'],
  attrs(a, where) {
    const axis = a['axis'];
    if (axis !== undefined && axis !== null && !(typeof axis === 'number' && Number.isSafeInteger(axis))) throw new TypeError(`${where}: attribute 'axis' must be an integer, got ${describe(axis)}`);
    const keepDims = a['keepDims'] ?? false;
    if (typeof keepDims !== 'boolean') throw new TypeError(`${where}: attribute 'keepDims' must be a boolean, got ${describe(keepDims)}`);
    return axis === undefined || axis === null ? { keepDims } : { axis, keepDims };
  },
  infer(ctx, ts, a) {
    const x = ts[0]!;
    const axis = a['axis'] as number | undefined;
    const keep = a['keepDims'] as boolean;
    let shape: number[];
    if (axis === undefined) shape = keep ? x.shape.map(() => 1) : [];
    else {
      const r = x.shape.length;
      if (axis < -r || axis >= r) throw new RangeError(`${ctx.where}: attribute 'axis' expected an integer in [${-r}, ${r - 1}] for shape ${fmtShape(x.shape)}, got ${axis}`);
      const k = axis < 0 ? axis + r : axis;
      shape = keep ? x.shape.map((d, i) => (i === k ? 1 : d)) : x.shape.filter((_, i) => i !== k);
    }
    return combine(ctx, ts, shape, x.dtype);
  },
  run(env, vs, _ts, a, out) {
    const axis = a['axis'] as number | undefined;
    const keep = a['keepDims'] as boolean;
    return out.kind === 'encrypted' ? env.protocol!.sum(vs[0] as ProtocolTensor, axis, keep) : runPlain(vs, out, (x) => plain.sum(x!, axis, keep));
  },
});

RULES.set('truncate', {
  arity: 1,
  argNames: ['x'],
  attrs: noAttrs,
  infer(ctx, ts) {
    if (ts[0]!.kind !== 'encrypted') throw new SignatureError(`${ctx.where}: argument 'x' must be encrypted (truncation divides a shared fixed-point value by 2^f), got ${describeType(ts[0]!)}`);
    return combine(ctx, ts, ts[0]!.shape, ts[0]!.dtype);
  },
  run: (env, vs) => env.protocol!.truncate(vs[0] as ProtocolTensor),
});

RULES.set('reveal', {
  arity: 1,
  argNames: ['x'],
  attrs: (a, where) => ({ player: playerAttr(a['player'], where, 'player') }),
  infer(ctx, ts, a) {
    const x = ts[0]!;
    const to = new Player(a['player'] as string);
    if (x.kind === 'public') return x;
    if (x.kind === 'private') {
      if (x.placement[0]!.name === to.name) return x;
      throw new PlacementError(`${ctx.where}: would send the private value of '${x.placement[0]!.name}' to '${to.name}' in the clear; encrypt it and reveal the encrypted value`);
    }
    if (x.sensitivity !== null && !x.sensitivity.some((p) => p.name === to.name)) {
      throw new SensitivityError(`${ctx.where}: player '${to.name}' is outside the sensitivity set ${names(x.sensitivity)} of argument 'x'`);
    }
    if (!ctx.known.has(to.name)) throw new UnknownPlayerError(`${ctx.where}: player '${to.name}' is unknown to protocol '${needProtocol(ctx).id}' (known: ${[...ctx.known].join(', ')}; add it with option 'players')`);
    return { kind: 'private', shape: x.shape, dtype: x.dtype, placement: [to], sensitivity: [to] };
  },
  run: (env, vs, ts, a) => (ts[0]!.kind === 'encrypted' ? env.protocol!.reveal(vs[0] as ProtocolTensor, new Player(a['player'] as string)) : vs[0]!),
});

RULES.set('encrypt', {
  arity: 1,
  argNames: ['x'],
  attrs(a, where) {
    const s = a['sensitivity'];
    if (s === undefined) return {};
    if (s === null) return { sensitivity: null };
    if (!Array.isArray(s)) throw new TypeError(`${where}: attribute 'sensitivity' must be an array of player names or null, got ${describe(s)}`);
    return { sensitivity: s.map((n, i) => playerAttr(n, where, `sensitivity[${i}]`)) };
  },
  infer(ctx, ts, a) {
    const x = ts[0]!;
    if (x.kind !== 'private') throw new SignatureError(`${ctx.where}: argument 'x' must be a private value (encrypt shares a player's plaintext), got ${describeType(x)}`);
    const p = needProtocol(ctx);
    const s = a['sensitivity'] as string[] | null | undefined;
    const sensitivity = s === undefined ? x.sensitivity : s === null ? null : s.map((n) => new Player(n));
    ctx.known.add(x.placement[0]!.name);
    sensitivity?.forEach((q) => ctx.known.add(q.name));
    void p;
    return encrypted(ctx, x.shape, x.dtype, sensitivity);
  },
  run: (env, vs, ts, _a, out) => lift(env.protocol!, vs[0]!, ts[0]!, out.sensitivity),
});

RULES.set('assign', {
  arity: 2,
  argNames: ['variable', 'value'],
  attrs: noAttrs,
  infer(ctx, ts) {
    const [v, x] = ts as [TensorType, TensorType];
    if (!v.variable) throw new SignatureError(`${ctx.where}: argument 'variable' must be an input passed as a Variable, got ${describeType(v)}`);
    checkSubtype(`${ctx.where}: argument 'value'`, x, TensorSpec.of(v), ctx.holders);
    return undefined;
  },
  run(env, vs, _ts, _a, _out, args) {
    env.assigns.push([args[0]!, vs[1]!]);
    return undefined;
  },
});

for (const [name, rule] of [...shapeRules(), ...nonlinearRules()]) RULES.set(name, rule);

/** The rule of a registered op (undefined if none). */
export function opRule(name: string): OpRule | undefined {
  return RULES.get(name);
}

export const OP_NAMES: readonly string[] = Object.freeze([...RULES.keys()]);
