/**
 * The intrinsic API: functions called while tracing a federated computation.
 * Each checks its arguments against the registry entry (intrinsics.ts) and
 * records a call of the placement-specific variant. Options objects accept
 * only the option names of the registry entry.
 */
import { FedTypeError } from './errors.js';
import { getIntrinsic, type InferOptions } from './intrinsics.js';
import * as ir from './ir.js';
import type { Node } from './ir.js';
import { isPlacement, type Placement } from './placements.js';
import { describe, type Type } from './types.js';
import { emitCall, fnNode, isComputation, isSymbolic, requireTrace, toNode, type Symbolic } from './tracing.js';

function checkArgCount(name: string, args: IArguments | unknown[], min: number, max: number, names: string): void {
  if (args.length < min || args.length > max) {
    throw new FedTypeError({
      intrinsic: name,
      argument: 'arguments',
      expected: min === max ? `${min} argument(s) (${names})` : `${min} to ${max} argument(s) (${names})`,
      actual: `${args.length}`,
    });
  }
}

function checkOptions(name: string, opts: unknown): Record<string, unknown> {
  if (opts === undefined) return {};
  const def = getIntrinsic(name);
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts) || isSymbolic(opts)) {
    throw new FedTypeError({ intrinsic: name, argument: 'options', expected: `an options object { ${def.options.join(', ')} }`, actual: describe(opts) });
  }
  for (const k of Object.keys(opts)) {
    if (!def.options.includes(k)) {
      throw new FedTypeError({
        intrinsic: name,
        argument: 'options',
        expected: def.options.length ? `options among { ${def.options.join(', ')} }` : 'no options',
        actual: `unknown option '${k}'`,
      });
    }
  }
  const o = opts as Record<string, unknown>;
  if (o.placement !== undefined && !isPlacement(o.placement)) {
    throw new FedTypeError({ intrinsic: name, argument: 'placement', expected: 'CLIENTS, SERVER or AGGREGATORS', actual: describe(o.placement) });
  }
  return o;
}

function emit(name: string, args: readonly Node[], options: InferOptions = {}): Symbolic {
  const def = getIntrinsic(name);
  const inferred = def.infer(
    args.map((a) => a.type),
    options,
  );
  return emitCall(ir.intrinsic(inferred.variant.uri, inferred.params, inferred.type), args);
}

const value = (name: string, x: unknown, arg = 'value'): Node => toNode(x, name, arg);

/** The member type of a federated (or plain) value, for typing function arguments. */
function memberOf(t: Type): Type {
  return t.kind === 'federated' ? t.member : t;
}
function seqElement(t: Type): Type | undefined {
  const m = memberOf(t);
  return m.kind === 'sequence' ? m.element : undefined;
}

export interface PlacementOption {
  placement?: Placement;
}

/** `federated_value`: place an unplaced value (or JS constant) at `placement`, all-equal. */
export function federatedValue(x: unknown, placement: Placement): Symbolic {
  const name = 'federatedValue';
  requireTrace(name);
  checkArgCount(name, arguments, 2, 2, 'value, placement');
  if (!isPlacement(placement)) throw new FedTypeError({ intrinsic: name, argument: 'placement', expected: 'CLIENTS, SERVER or AGGREGATORS', actual: describe(placement) });
  return emit(name, [value(name, x), ir.placementLiteral(placement)], { placement });
}

/** `federated_eval`: evaluate a no-argument function at `placement` (each member evaluates it). */
export function federatedEval(fn: unknown, placement: Placement): Symbolic {
  const name = 'federatedEval';
  requireTrace(name);
  checkArgCount(name, arguments, 2, 2, 'fn, placement');
  if (!isPlacement(placement)) throw new FedTypeError({ intrinsic: name, argument: 'placement', expected: 'CLIENTS, SERVER or AGGREGATORS', actual: describe(placement) });
  return emit(name, [fnNode(fn, name, 'fn', []), ir.placementLiteral(placement)], { placement });
}

/** `federated_map`: apply `fn` (a local computation, or a JS function wrapped as one) to every member of `x`. */
export function federatedMap(fn: unknown, x: unknown): Symbolic {
  const name = 'federatedMap';
  requireTrace(name);
  checkArgCount(name, arguments, 2, 2, 'fn, value');
  const v = value(name, x);
  return emit(name, [fnNode(fn, name, 'fn', [memberOf(v.type)]), v]);
}

/** `federated_apply`: apply `fn` to an all-equal value at SERVER (or AGGREGATORS). */
export function federatedApply(fn: unknown, x: unknown): Symbolic {
  const name = 'federatedApply';
  requireTrace(name);
  checkArgCount(name, arguments, 2, 2, 'fn, value');
  const v = value(name, x);
  return emit(name, [fnNode(fn, name, 'fn', [memberOf(v.type)]), v]);
}

/** `federated_zip`: an array (positional) or object (named) of federated values at one placement -> a federated struct. */
export function federatedZip(values: unknown): Symbolic {
  const name = 'federatedZip';
  requireTrace(name);
  checkArgCount(name, arguments, 1, 1, 'values');
  return emit(name, [value(name, values)]);
}

/** `federated_broadcast`: SERVER -> CLIENTS (default), SERVER -> AGGREGATORS, AGGREGATORS -> CLIENTS. */
export function federatedBroadcast(x: unknown, options?: PlacementOption): Symbolic {
  const name = 'federatedBroadcast';
  requireTrace(name);
  checkArgCount(name, arguments, 1, 2, 'value, options?');
  const o = checkOptions(name, options);
  return emit(name, [value(name, x)], { placement: o.placement as Placement | undefined });
}

/** `federated_sum` to SERVER (default) or AGGREGATORS (through the aggregation protocol). */
export function federatedSum(x: unknown, options?: PlacementOption): Symbolic {
  const name = 'federatedSum';
  requireTrace(name);
  checkArgCount(name, arguments, 1, 2, 'value, options?');
  const o = checkOptions(name, options);
  return emit(name, [value(name, x)], { placement: o.placement as Placement | undefined });
}

export interface MeanOptions extends PlacementOption {
  /** Per-client scalar weights, {number}@CLIENTS. */
  weights?: unknown;
}

/** `federated_mean` (optionally weighted) to SERVER (default) or AGGREGATORS (through the aggregation protocol). */
export function federatedMean(x: unknown, options?: MeanOptions): Symbolic {
  const name = 'federatedMean';
  requireTrace(name);
  checkArgCount(name, arguments, 1, 2, 'value, options?');
  const o = checkOptions(name, options);
  const args = [value(name, x)];
  if (o.weights !== undefined) args.push(value(name, o.weights, 'weights'));
  return emit(name, args, { placement: o.placement as Placement | undefined });
}

export interface SecureSumOptions extends PlacementOption {
  /** Each client value lies in [0, 2^bitwidth); integer in [1, 62]. */
  bitwidth?: number;
  /** Each client value lies in [0, maxInput]; integer in [0, 2^62 - 1]. */
  maxInput?: number | bigint;
}

/** `federated_secure_sum`: exact sum of integer client values in range, through the aggregation protocol. */
export function federatedSecureSum(x: unknown, options: SecureSumOptions): Symbolic {
  const name = 'federatedSecureSum';
  requireTrace(name);
  checkArgCount(name, arguments, 2, 2, 'value, { bitwidth | maxInput, placement? }');
  const o = checkOptions(name, options);
  const params: Record<string, number | string | boolean> = {};
  if (o.bitwidth !== undefined) params.bitwidth = o.bitwidth as number;
  if (o.maxInput !== undefined) params.maxInput = o.maxInput as unknown as number;
  return emit(name, [value(name, x)], { placement: o.placement as Placement | undefined, params });
}

/** The zero of an aggregate/reduce: typed by the accumulator's first parameter when it is known. */
function zeroNode(name: string, zero: unknown, op: unknown): Node {
  let expected: Type | undefined;
  const opType = isComputation(op) ? op.typeSignature : isSymbolic(op) ? op.type : undefined;
  if (opType?.kind === 'function' && opType.parameter?.kind === 'struct' && opType.parameter.elements.length === 2) {
    expected = opType.parameter.elements[0]![1];
  }
  return toNode(zero, name, 'zero', expected);
}

/** `federated_aggregate`: accumulate client values from `zero`, merge partial results, report. */
export function federatedAggregate(x: unknown, zero: unknown, accumulate: unknown, merge: unknown, report: unknown, options?: PlacementOption): Symbolic {
  const name = 'federatedAggregate';
  requireTrace(name);
  checkArgCount(name, arguments, 5, 6, 'value, zero, accumulate, merge, report, options?');
  const o = checkOptions(name, options);
  const v = value(name, x);
  const z = zeroNode(name, zero, accumulate);
  const t = memberOf(v.type);
  return emit(
    name,
    [v, z, fnNode(accumulate, name, 'accumulate', [z.type, t]), fnNode(merge, name, 'merge', [z.type, z.type]), fnNode(report, name, 'report', [z.type])],
    { placement: o.placement as Placement | undefined },
  );
}

/** `federated_collect`: client values, in client order, as a sequence at SERVER (default) or AGGREGATORS. */
export function federatedCollect(x: unknown, options?: PlacementOption): Symbolic {
  const name = 'federatedCollect';
  requireTrace(name);
  checkArgCount(name, arguments, 1, 2, 'value, options?');
  const o = checkOptions(name, options);
  return emit(name, [value(name, x)], { placement: o.placement as Placement | undefined });
}

/** `federated_reduce`: fold client values in client order with `op` from `zero`. */
export function federatedReduce(x: unknown, zero: unknown, op: unknown, options?: PlacementOption): Symbolic {
  const name = 'federatedReduce';
  requireTrace(name);
  checkArgCount(name, arguments, 3, 4, 'value, zero, op, options?');
  const o = checkOptions(name, options);
  const v = value(name, x);
  const z = zeroNode(name, zero, op);
  return emit(name, [v, z, fnNode(op, name, 'op', [z.type, memberOf(v.type)])], { placement: o.placement as Placement | undefined });
}

/** `federated_min`: elementwise minimum of client values. */
export function federatedMin(x: unknown, options?: PlacementOption): Symbolic {
  const name = 'federatedMin';
  requireTrace(name);
  checkArgCount(name, arguments, 1, 2, 'value, options?');
  const o = checkOptions(name, options);
  return emit(name, [value(name, x)], { placement: o.placement as Placement | undefined });
}

/** `federated_max`: elementwise maximum of client values. */
export function federatedMax(x: unknown, options?: PlacementOption): Symbolic {
  const name = 'federatedMax';
  requireTrace(name);
  checkArgCount(name, arguments, 1, 2, 'value, options?');
  const o = checkOptions(name, options);
  return emit(name, [value(name, x)], { placement: o.placement as Placement | undefined });
}

/** fedcrypt addition: release an all-equal AGGREGATORS value to SERVER. */
export function federatedTransfer(x: unknown, options?: PlacementOption): Symbolic {
  const name = 'federatedTransfer';
  requireTrace(name);
  checkArgCount(name, arguments, 1, 2, 'value, options?');
  const o = checkOptions(name, options);
  return emit(name, [value(name, x)], { placement: o.placement as Placement | undefined });
}

/** `sequence_map` (lifted over placements). */
export function sequenceMap(fn: unknown, seq: unknown): Symbolic {
  const name = 'sequenceMap';
  requireTrace(name);
  checkArgCount(name, arguments, 2, 2, 'fn, sequence');
  const s = value(name, seq, 'sequence');
  const el = seqElement(s.type);
  return emit(name, [fnNode(fn, name, 'fn', el ? [el] : []), s]);
}

/** `sequence_reduce` (lifted over placements). */
export function sequenceReduce(seq: unknown, zero: unknown, op: unknown): Symbolic {
  const name = 'sequenceReduce';
  requireTrace(name);
  checkArgCount(name, arguments, 3, 3, 'sequence, zero, op');
  const s = value(name, seq, 'sequence');
  const z = zeroNode(name, zero, op);
  const el = seqElement(s.type);
  return emit(name, [s, z, fnNode(op, name, 'op', el ? [z.type, el] : [z.type])]);
}

/** `sequence_sum` (lifted over placements). */
export function sequenceSum(seq: unknown): Symbolic {
  const name = 'sequenceSum';
  requireTrace(name);
  checkArgCount(name, arguments, 1, 1, 'sequence');
  return emit(name, [value(name, seq, 'sequence')]);
}
