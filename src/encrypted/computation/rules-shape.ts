/**
 * Ops every protocol has (the engine's base class): `reshape`, `transpose`
 * and `divPublic`. Each follows the kinds' rules (rules-kinds.ts): on an
 * encrypted operand the protocol's op (local for reshape and transpose; one
 * truncation for divPublic), on public or private operands float64 in the
 * clear where the value is.
 */
import { describe, fmtShape, ShapeMismatchError } from '../errors.js';
import { broadcastShape } from '../protocols/base.js';
import type { ProtocolTensor, PublicTensor } from '../tensor.js';
import { SignatureError } from './errors.js';
import type { Attrs } from './ir.js';
import * as plain from './plain.js';
import { combine, runPlain } from './rules-kinds.js';
import type { InferCtx, OpRule } from './rules.js';
import { describeType, type TensorType } from './types.js';

function only(a: Attrs, where: string, allowed: readonly string[]): void {
  for (const k of Object.keys(a)) if (!allowed.includes(k)) throw new TypeError(`${where}: unknown attribute '${k}'${allowed.length ? ` (accepted: ${allowed.join(', ')})` : ' (takes none)'}`);
}

const intList = (v: unknown, min: number): v is number[] => Array.isArray(v) && v.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= min);

/** The shape `want` (one -1: inferred) for `x`'s size, or a ShapeMismatchError naming the node. */
function resolveShape(ctx: InferCtx, x: TensorType, want: readonly number[]): number[] {
  const size = x.shape.reduce((a, b) => a * b, 1);
  const known = want.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const free = want.indexOf(-1);
  const out = [...want];
  if (free >= 0) {
    if (known === 0 || size % known !== 0) throw new ShapeMismatchError(`${ctx.where}: cannot reshape argument 'x' ${fmtShape(x.shape)} (${size} elements) to ${fmtShape(want)}`);
    out[free] = size / known;
  } else if (known !== size) throw new ShapeMismatchError(`${ctx.where}: cannot reshape argument 'x' ${fmtShape(x.shape)} (${size} elements) to ${fmtShape(want)} (${known})`);
  return out;
}

/** The permutation (default: the axes reversed), checked against x's rank. */
function resolvePerm(ctx: InferCtx, x: TensorType, perm: readonly number[] | undefined): number[] {
  const r = x.shape.length;
  if (perm === undefined) return x.shape.map((_, i) => r - 1 - i);
  if (perm.length !== r || [...perm].sort((a, b) => a - b).some((a, i) => a !== i)) {
    throw new RangeError(`${ctx.where}: attribute 'perm' must be a permutation of 0..${r - 1} for argument 'x' ${fmtShape(x.shape)}, got ${JSON.stringify(perm)}`);
  }
  return [...perm];
}

export function shapeRules(): [string, OpRule][] {
  return [
    ['reshape', {
      arity: 1,
      argNames: ['x'],
      attrs(a, where) {
        only(a, where, ['shape']);
        const s = a['shape'];
        if (!intList(s, -1) || s.filter((d) => d === -1).length > 1) throw new TypeError(`${where}: attribute 'shape' must be an array of non-negative integers with at most one -1 (inferred), got ${describe(s)}`);
        return { shape: [...s] };
      },
      infer: (ctx, ts, a) => combine(ctx, ts, resolveShape(ctx, ts[0]!, a['shape'] as number[]), ts[0]!.dtype),
      run: (env, vs, _ts, _a, out) => (out.kind === 'encrypted' ? env.protocol!.reshape(vs[0] as ProtocolTensor, out.shape) : runPlain(vs, out, (x) => ({ values: x!.values, shape: out.shape }))),
    }],
    ['transpose', {
      arity: 1,
      argNames: ['x'],
      attrs(a, where) {
        only(a, where, ['perm']);
        const p = a['perm'];
        if (p === undefined) return {};
        if (!intList(p, 0)) throw new TypeError(`${where}: attribute 'perm' must be an array of axes (non-negative integers), got ${describe(p)}`);
        return { perm: [...p] };
      },
      infer(ctx, ts, a) {
        const x = ts[0]!;
        const perm = resolvePerm(ctx, x, a['perm'] as number[] | undefined);
        return combine(ctx, ts, perm.map((i) => x.shape[i]!), x.dtype);
      },
      run(env, vs, ts, a, out) {
        const perm = a['perm'] as number[] | undefined ?? ts[0]!.shape.map((_, i) => ts[0]!.shape.length - 1 - i);
        return out.kind === 'encrypted' ? env.protocol!.transpose(vs[0] as ProtocolTensor, perm) : runPlain(vs, out, (x) => plain.transpose(x!, perm));
      },
    }],
    ['divPublic', {
      arity: 2,
      argNames: ['x', 'c'],
      attrs: (a, where) => (only(a, where, []), {}),
      infer(ctx, ts) {
        const [x, c] = ts as [TensorType, TensorType];
        if (c.kind !== 'public') throw new SignatureError(`${ctx.where}: argument 'c' must be public (the divisor is known to every party), got ${describeType(c)}`);
        const zero = ctx.constant?.(1)?.indexOf(0) ?? -1;
        if (zero >= 0) throw new RangeError(`${ctx.where}: argument 'c' element ${zero} is 0`);
        return combine(ctx, ts, broadcastShape(ctx.where, x.shape, c.shape), 'fixed');
      },
      run: (env, vs, _ts, _a, out) => (out.kind === 'encrypted' ? env.protocol!.divPublic(vs[0] as ProtocolTensor, vs[1] as PublicTensor) : runPlain(vs, out, (x, c) => plain.zipWith('divPublic', x!, c!, (p, q) => p / q))),
    }],
  ];
}
