/**
 * The kinds' rules shared by the ops (docs/encrypted-ml.md, "Ops"): the
 * result type of an op combining public, private and encrypted operands, and
 * running an op in the clear where its operands are public or private.
 */
import { PrivateTensor, PublicTensor, type Sensitivity } from '../tensor.js';
import { NoProtocolError, PlacementError } from './errors.js';
import type * as plain from './plain.js';
import type { AnyProtocol, InferCtx, Value } from './rules.js';
import { joinSensitivity, type Dtype, type TensorType } from './types.js';

export function needProtocol(ctx: InferCtx): AnyProtocol {
  if (ctx.protocol === undefined) throw new NoProtocolError(`${ctx.where}: computes on encrypted values and needs a protocol: call it inside withProtocol(protocol, ...), after setProtocol(protocol), or make it concrete with comp.concrete(protocol, signature)`);
  return ctx.protocol;
}

export const encrypted = (ctx: InferCtx, shape: readonly number[], dtype: Dtype, sensitivity: Sensitivity): TensorType => ({ kind: 'encrypted', shape, dtype, placement: ctx.holders ?? [], sensitivity });

/** The result type of an elementwise or matrix op combining `ts`: the kinds' rules (see docs/encrypted-ml.md). */
export function combine(ctx: InferCtx, ts: readonly TensorType[], shape: readonly number[], dtype: Dtype): TensorType {
  const sensitivity = joinSensitivity(ts.map((t) => t.sensitivity));
  if (ts.some((t) => t.kind === 'encrypted')) {
    needProtocol(ctx);
    return encrypted(ctx, shape, dtype, sensitivity);
  }
  const owners = [...new Set(ts.filter((t) => t.kind === 'private').map((t) => t.placement[0]!.name))];
  if (owners.length > 1) throw new PlacementError(`${ctx.where}: combines private values of ${owners.map((o) => `'${o}'`).join(' and ')} in the clear; encrypt them first (ops.encrypt)`);
  if (owners.length === 0) return { kind: 'public', shape, dtype, placement: [], sensitivity: null };
  const owner = ts.find((t) => t.kind === 'private')!.placement[0]!;
  return { kind: 'private', shape, dtype, placement: [owner], sensitivity };
}

export function plainOf(v: Value): plain.Plain | undefined {
  if (v instanceof PublicTensor) return { values: v.values, shape: v.shape };
  if (v instanceof PrivateTensor) return v.isLocal ? { values: v.read(), shape: v.shape } : undefined;
  return undefined;
}

export function fromPlain(out: TensorType, r: plain.Plain | undefined): Value {
  if (out.kind === 'public') return new PublicTensor(r!.values, out.shape);
  return new PrivateTensor(out.placement[0]!, out.shape, r?.values);
}

/** Run in the clear (public / private operands; undefined where a private value is absent). */
export function runPlain(vs: readonly Value[], out: TensorType, f: (...ps: plain.Plain[]) => plain.Plain): Value {
  const ps = vs.map(plainOf);
  return fromPlain(out, ps.every((p) => p !== undefined) ? f(...(ps as plain.Plain[])) : undefined);
}
