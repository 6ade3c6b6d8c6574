/**
 * Intrinsics as data: ONE registry of every intrinsic of the Federated Core.
 *
 * Each entry records the API name, TFF's name, whether it is secure, the
 * argument names, the options it accepts, its default placement, and its
 * placement variants (per the AGGREGATORS placement RFC: one compiler-level
 * intrinsic per placement, e.g. `federated_mean_at_aggregators`), each with a
 * TFF type signature and whether it runs through the context's aggregation
 * protocol. `infer` computes the specialized signature for given argument
 * types, or throws a FedTypeError naming intrinsic, argument, expected and
 * actual types.
 *
 * Runtimes bind implementations per variant uri with `registerIntrinsicImpl`
 * (the way tfjs binds kernels to ops per backend).
 */
import { FedTypeError, FedValueError } from './errors.js';
import { AGGREGATORS, CLIENTS, SERVER, type Placement, type PlacementName } from './placements.js';
import {
  FederatedType,
  FunctionType,
  isIntegerDType,
  isTensorStruct,
  mapTensorLeaves,
  SequenceType,
  StructType,
  tensorLeaves,
  TensorType,
  type Type,
} from './types.js';
import type { IntrinsicParams } from './ir.js';

export interface IntrinsicVariant {
  /** Compiler-level name, e.g. 'federated_sum_at_aggregators'. */
  readonly uri: string;
  /** Where the (main) input lives; null for unplaced or any. */
  readonly source: PlacementName | null;
  /** Where the result lives; null for unplaced or same as input. */
  readonly target: PlacementName | null;
  /** Argument names of this variant, in the order they appear in the IR. */
  readonly args: readonly string[];
  /** TFF type signature with type variables. */
  readonly signature: string;
  /** Whether the variant is carried out by the context's aggregation protocol. */
  readonly protocol: boolean;
}

export interface InferOptions {
  /** The placement option (target) when the intrinsic takes one. */
  placement?: Placement;
  /** Static parameters (bitwidth, maxInput). */
  params?: IntrinsicParams;
}

export interface Inferred {
  readonly variant: IntrinsicVariant;
  readonly type: FunctionType;
  readonly params: IntrinsicParams;
}

export interface IntrinsicDef {
  /** API name, e.g. 'federatedSum'. */
  readonly name: string;
  /** TFF name, e.g. 'federated_sum'. */
  readonly tffName: string;
  /** Secure by definition (federatedSecureSum). */
  readonly secure: boolean;
  /** Option names accepted by the API function. */
  readonly options: readonly string[];
  /** Default of the `placement` option, when there is one. */
  readonly defaultPlacement: PlacementName | null;
  readonly variants: readonly IntrinsicVariant[];
  readonly description: string;
  /** Specialize to argument types; throws FedTypeError. */
  infer(args: readonly Type[], options: InferOptions): Inferred;
}

const V = (
  uri: string,
  source: PlacementName | null,
  target: PlacementName | null,
  args: readonly string[],
  signature: string,
  protocol = false,
): IntrinsicVariant => Object.freeze({ uri, source, target, args: Object.freeze([...args]), signature, protocol });

// ---------------------------------------------------------------------------
// Checking helpers.

function err(intrinsic: string, argument: string, expected: string, actual: Type | string, hint?: string): never {
  throw new FedTypeError({ intrinsic, argument, expected, actual: typeof actual === 'string' ? actual : String(actual), hint });
}

function arity(name: string, args: readonly Type[], names: readonly string[]): void {
  if (args.length !== names.length) {
    err(name, 'arguments', `${names.length} argument(s) (${names.join(', ')})`, `${args.length}`);
  }
}

function federatedAt(
  name: string,
  arg: string,
  t: Type,
  placements: readonly Placement[],
  opts: { allEqual?: boolean } = {},
): FederatedType {
  const exp = placements.map((p) => (opts.allEqual ? `T@${p.name}` : p.defaultAllEqual ? `T@${p.name}` : `{T}@${p.name}`)).join(' or ');
  if (t.kind !== 'federated') err(name, arg, `a federated value ${exp}`, t, 'wrong placement: the value is not placed');
  if (!placements.includes(t.placement)) err(name, arg, exp, t, 'wrong placement');
  if (opts.allEqual && !t.allEqual) err(name, arg, exp, t, 'expected an all-equal value');
  return t;
}

function unplaced(name: string, arg: string, t: Type): Type {
  if (t.kind === 'federated' || t.kind === 'placement') err(name, arg, 'an unplaced value', t);
  return t;
}

function functionOf(name: string, arg: string, t: Type, param: Type | null, paramDesc: string): FunctionType {
  if (t.kind !== 'function') err(name, arg, `a function (${paramDesc} -> U)`, t);
  if (param === null) {
    if (t.parameter !== null) err(name, arg, '( -> T)', t);
  } else if (t.parameter === null || !t.parameter.isAssignableFrom(param)) {
    err(name, arg, `a function accepting ${String(param)}`, t);
  }
  return t;
}

function numeric(name: string, arg: string, full: Type, member: Type, what = 'numeric tensors (or structs of them)'): void {
  if (!isTensorStruct(member)) err(name, arg, `a value of ${what}`, full);
  for (const leaf of tensorLeaves(member)) {
    if (leaf.type.dtype === 'bool') err(name, arg, `a value of ${what}`, full, `leaf${leaf.path} is bool`);
  }
}

function placementOption(name: string, opt: Placement | undefined, allowed: readonly Placement[], dflt: Placement): Placement {
  const p = opt ?? dflt;
  if (!allowed.includes(p)) err(name, 'placement', allowed.map((a) => a.name).join(' or '), p.name, 'wrong placement');
  return p;
}

function pack(args: readonly Type[]): Type | null {
  return args.length === 0 ? null : args.length === 1 ? args[0]! : new StructType(args);
}

function result(variant: IntrinsicVariant, args: readonly Type[], res: Type, params: IntrinsicParams = {}): Inferred {
  return { variant, type: new FunctionType(pack(args), res), params };
}

function pick(def: { variants: readonly IntrinsicVariant[] }, uri: string): IntrinsicVariant {
  return def.variants.find((v) => v.uri === uri)!;
}

const byPlacement = (p: Placement, clients: string, server: string, aggregators: string): string =>
  p === CLIENTS ? clients : p === SERVER ? server : aggregators;

/** Apply `f` to the member of a (possibly federated) sequence, keeping its placement. */
function liftOverPlacement(t: Type, f: (unplaced: Type) => Type): Type {
  if (t.kind === 'federated') return new FederatedType(f(t.member), t.placement, t.allEqual);
  return f(t);
}

function sequenceArg(name: string, arg: string, t: Type): SequenceType {
  const m = t.kind === 'federated' ? t.member : t;
  if (m.kind !== 'sequence') err(name, arg, 'a sequence T* (or a federated sequence)', t);
  return m;
}

// ---------------------------------------------------------------------------
// The registry.

type DefSpec = Omit<IntrinsicDef, 'infer'> & { infer(this: IntrinsicDef, args: readonly Type[], o: InferOptions): Inferred };

const defs: IntrinsicDef[] = [];
function define(spec: DefSpec): IntrinsicDef {
  const d = Object.freeze({ ...spec, options: Object.freeze([...spec.options]), variants: Object.freeze([...spec.variants]) }) as IntrinsicDef;
  defs.push(d);
  return d;
}

const NUM = 'numeric tensors (or structs of them)';

define({
  name: 'federatedValue',
  tffName: 'federated_value',
  secure: false,
  options: [],
  defaultPlacement: null,
  description: 'Places an unplaced value at a placement, all-equal.',
  variants: [
    V('federated_value_at_server', null, 'SERVER', ['value', 'placement'], '(<T,placement> -> T@SERVER)'),
    V('federated_value_at_clients', null, 'CLIENTS', ['value', 'placement'], '(<T,placement> -> T@CLIENTS)'),
    V('federated_value_at_aggregators', null, 'AGGREGATORS', ['value', 'placement'], '(<T,placement> -> T@AGGREGATORS)'),
  ],
  infer(args, o) {
    arity(this.name, args, ['value', 'placement']);
    const t = unplaced(this.name, 'value', args[0]!);
    if (t.kind === 'function') err(this.name, 'value', 'a non-functional value', t);
    if (args[1]!.kind !== 'placement' || o.placement === undefined) err(this.name, 'placement', 'a placement', args[1]!);
    const p = o.placement;
    return result(pick(this, byPlacement(p, 'federated_value_at_clients', 'federated_value_at_server', 'federated_value_at_aggregators')), args, new FederatedType(t, p, true));
  },
});

define({
  name: 'federatedEval',
  tffName: 'federated_eval',
  secure: false,
  options: [],
  defaultPlacement: null,
  description: 'Evaluates a no-argument function at a placement (at CLIENTS and AGGREGATORS each member evaluates it).',
  variants: [
    V('federated_eval_at_server', null, 'SERVER', ['fn', 'placement'], '(<( -> T),placement> -> T@SERVER)'),
    V('federated_eval_at_clients', null, 'CLIENTS', ['fn', 'placement'], '(<( -> T),placement> -> {T}@CLIENTS)'),
    V('federated_eval_at_aggregators', null, 'AGGREGATORS', ['fn', 'placement'], '(<( -> T),placement> -> {T}@AGGREGATORS)'),
  ],
  infer(args, o) {
    arity(this.name, args, ['fn', 'placement']);
    const f = functionOf(this.name, 'fn', args[0]!, null, '');
    if (args[1]!.kind !== 'placement' || o.placement === undefined) err(this.name, 'placement', 'a placement', args[1]!);
    const p = o.placement;
    unplaced(this.name, 'fn result', f.result);
    return result(pick(this, byPlacement(p, 'federated_eval_at_clients', 'federated_eval_at_server', 'federated_eval_at_aggregators')), args, new FederatedType(f.result, p, p === SERVER));
  },
});

define({
  name: 'federatedMap',
  tffName: 'federated_map',
  secure: false,
  options: [],
  defaultPlacement: null,
  description: 'Applies a function to every member of a federated value, pointwise; keeps placement and all-equality.',
  variants: [
    V('federated_map', 'CLIENTS', 'CLIENTS', ['fn', 'value'], '(<(T -> U),{T}@CLIENTS> -> {U}@CLIENTS)'),
    V('federated_map_at_server', 'SERVER', 'SERVER', ['fn', 'value'], '(<(T -> U),T@SERVER> -> U@SERVER)'),
    V('federated_map_at_aggregators', 'AGGREGATORS', 'AGGREGATORS', ['fn', 'value'], '(<(T -> U),{T}@AGGREGATORS> -> {U}@AGGREGATORS)'),
  ],
  infer(args) {
    arity(this.name, args, ['fn', 'value']);
    const v = federatedAt(this.name, 'value', args[1]!, [CLIENTS, SERVER, AGGREGATORS]);
    const f = functionOf(this.name, 'fn', args[0]!, v.member, String(v.member));
    unplaced(this.name, 'fn result', f.result);
    const uri = byPlacement(v.placement, 'federated_map', 'federated_map_at_server', 'federated_map_at_aggregators');
    return result(pick(this, uri), args, new FederatedType(f.result, v.placement, v.allEqual));
  },
});

define({
  name: 'federatedApply',
  tffName: 'federated_apply',
  secure: false,
  options: [],
  defaultPlacement: null,
  description: 'Applies a function to an all-equal value at SERVER (or AGGREGATORS).',
  variants: [
    V('federated_apply', 'SERVER', 'SERVER', ['fn', 'value'], '(<(T -> U),T@SERVER> -> U@SERVER)'),
    V('federated_apply_at_aggregators', 'AGGREGATORS', 'AGGREGATORS', ['fn', 'value'], '(<(T -> U),T@AGGREGATORS> -> U@AGGREGATORS)'),
  ],
  infer(args) {
    arity(this.name, args, ['fn', 'value']);
    const v = federatedAt(this.name, 'value', args[1]!, [SERVER, AGGREGATORS], { allEqual: true });
    const f = functionOf(this.name, 'fn', args[0]!, v.member, String(v.member));
    unplaced(this.name, 'fn result', f.result);
    return result(pick(this, v.placement === SERVER ? 'federated_apply' : 'federated_apply_at_aggregators'), args, new FederatedType(f.result, v.placement, true));
  },
});

define({
  name: 'federatedZip',
  tffName: 'federated_zip',
  secure: false,
  options: [],
  defaultPlacement: null,
  description: 'Turns a struct of federated values at one placement into a federated struct; names are kept.',
  variants: [
    V('federated_zip_at_clients', 'CLIENTS', 'CLIENTS', ['value'], '(<{T}@CLIENTS,{U}@CLIENTS,...> -> {<T,U,...>}@CLIENTS)'),
    V('federated_zip_at_server', 'SERVER', 'SERVER', ['value'], '(<T@SERVER,U@SERVER,...> -> <T,U,...>@SERVER)'),
    V('federated_zip_at_aggregators', 'AGGREGATORS', 'AGGREGATORS', ['value'], '(<T@AGGREGATORS,U@AGGREGATORS,...> -> <T,U,...>@AGGREGATORS)'),
  ],
  infer(args) {
    arity(this.name, args, ['value']);
    const s = args[0]!;
    if (s.kind !== 'struct' || s.elements.length === 0) err(this.name, 'value', 'a non-empty struct of federated values at one placement', s);
    const first = s.elements[0]![1];
    if (first.kind !== 'federated') err(this.name, 'value[0]', 'a federated value', first);
    const p = first.placement;
    let allEqual = true;
    s.elements.forEach(([, t], i) => {
      if (t.kind !== 'federated') err(this.name, `value[${i}]`, `a federated value at ${p.name}`, t);
      if (t.placement !== p) err(this.name, `value[${i}]`, `a value at ${p.name} (all elements at one placement)`, t, 'wrong placement');
      allEqual &&= t.allEqual;
    });
    const member = new StructType(s.elements.map(([n, t]) => [n, (t as FederatedType).member] as const));
    return result(pick(this, byPlacement(p, 'federated_zip_at_clients', 'federated_zip_at_server', 'federated_zip_at_aggregators')), args, new FederatedType(member, p, allEqual));
  },
});

define({
  name: 'federatedBroadcast',
  tffName: 'federated_broadcast',
  secure: false,
  options: ['placement'],
  defaultPlacement: 'CLIENTS',
  description: 'Sends an all-equal value down: SERVER->CLIENTS, SERVER->AGGREGATORS, AGGREGATORS->CLIENTS.',
  variants: [
    V('federated_broadcast', 'SERVER', 'CLIENTS', ['value'], '(T@SERVER -> T@CLIENTS)'),
    V('federated_broadcast_to_aggregators', 'SERVER', 'AGGREGATORS', ['value'], '(T@SERVER -> T@AGGREGATORS)'),
    V('federated_broadcast_from_aggregators', 'AGGREGATORS', 'CLIENTS', ['value'], '(T@AGGREGATORS -> T@CLIENTS)'),
  ],
  infer(args, o) {
    arity(this.name, args, ['value']);
    const target = placementOption(this.name, o.placement, [CLIENTS, AGGREGATORS], CLIENTS);
    const from = target === AGGREGATORS ? [SERVER] : [SERVER, AGGREGATORS];
    const v = federatedAt(this.name, 'value', args[0]!, from, { allEqual: true });
    const uri = target === AGGREGATORS ? 'federated_broadcast_to_aggregators' : v.placement === SERVER ? 'federated_broadcast' : 'federated_broadcast_from_aggregators';
    return result(pick(this, uri), args, new FederatedType(v.member, target, true));
  },
});

/** For aggregations {T}@CLIENTS -> T@SERVER|AGGREGATORS. */
function aggregation(
  self: IntrinsicDef,
  args: readonly Type[],
  o: InferOptions,
  uris: readonly [server: string, aggregators: string],
  member: (t: FederatedType) => Type,
  params: IntrinsicParams = {},
): Inferred {
  const target = placementOption(self.name, o.placement, [SERVER, AGGREGATORS], SERVER);
  const v = federatedAt(self.name, 'value', args[0]!, [CLIENTS]);
  return result(pick(self, target === SERVER ? uris[0] : uris[1]), args, new FederatedType(member(v), target, true), params);
}

define({
  name: 'federatedSum',
  tffName: 'federated_sum',
  secure: false,
  options: ['placement'],
  defaultPlacement: 'SERVER',
  description: 'Sums client values (numeric tensors or structs of them). At AGGREGATORS it runs through the aggregation protocol.',
  variants: [
    V('federated_sum', 'CLIENTS', 'SERVER', ['value'], '({T}@CLIENTS -> T@SERVER)'),
    V('federated_sum_at_aggregators', 'CLIENTS', 'AGGREGATORS', ['value'], '({T}@CLIENTS -> T@AGGREGATORS)', true),
  ],
  infer(args, o) {
    arity(this.name, args, ['value']);
    return aggregation(this, args, o, ['federated_sum', 'federated_sum_at_aggregators'], (v) => {
      numeric(this.name, 'value', v, v.member, NUM);
      return v.member;
    });
  },
});

/** Integer leaves become float64, float leaves keep their dtype. */
export function meanResultType(t: Type): Type {
  return mapTensorLeaves(t, (l) => (isIntegerDType(l.dtype) ? new TensorType('float64', l.shape) : l));
}

define({
  name: 'federatedMean',
  tffName: 'federated_mean',
  secure: false,
  options: ['placement', 'weights'],
  defaultPlacement: 'SERVER',
  description:
    'Mean of client values, optionally weighted ({number}@CLIENTS weights); integer leaves give float64. At AGGREGATORS it runs through the aggregation protocol.',
  variants: [
    V('federated_mean', 'CLIENTS', 'SERVER', ['value'], '({T}@CLIENTS -> T@SERVER)'),
    V('federated_weighted_mean', 'CLIENTS', 'SERVER', ['value', 'weights'], '(<{T}@CLIENTS,{W}@CLIENTS> -> T@SERVER)'),
    V('federated_mean_at_aggregators', 'CLIENTS', 'AGGREGATORS', ['value'], '({T}@CLIENTS -> T@AGGREGATORS)', true),
    V('federated_weighted_mean_at_aggregators', 'CLIENTS', 'AGGREGATORS', ['value', 'weights'], '(<{T}@CLIENTS,{W}@CLIENTS> -> T@AGGREGATORS)', true),
  ],
  infer(args, o) {
    if (args.length !== 1 && args.length !== 2) err(this.name, 'arguments', '1 or 2 argument(s) (value, weights?)', `${args.length}`);
    const weighted = args.length === 2;
    if (weighted) {
      const w = federatedAt(this.name, 'weights', args[1]!, [CLIENTS]);
      if (w.member.kind !== 'tensor' || w.member.shape.length !== 0 || w.member.dtype === 'bool') {
        err(this.name, 'weights', '{W}@CLIENTS with W a numeric scalar', w);
      }
    }
    const uris = weighted
      ? (['federated_weighted_mean', 'federated_weighted_mean_at_aggregators'] as const)
      : (['federated_mean', 'federated_mean_at_aggregators'] as const);
    return aggregation(this, args, o, uris, (v) => {
      numeric(this.name, 'value', v, v.member, NUM);
      return meanResultType(v.member);
    });
  },
});

export const SECURE_SUM_MAX_BITWIDTH = 62;

/** Validate the secure-sum options; returns the IR params. RangeError (FedValueError) naming the option. */
export function secureSumParams(name: string, opts: { bitwidth?: unknown; maxInput?: unknown }): IntrinsicParams {
  const hasB = opts.bitwidth !== undefined;
  const hasM = opts.maxInput !== undefined;
  if (hasB === hasM) {
    err(name, 'bitwidth', 'exactly one of the options "bitwidth" or "maxInput"', hasB ? 'both' : 'neither');
  }
  if (hasB) {
    const b = opts.bitwidth;
    if (typeof b !== 'number') err(name, 'bitwidth', 'an integer in [1, 62]', typeof b);
    if (!Number.isInteger(b) || b < 1 || b > SECURE_SUM_MAX_BITWIDTH) {
      throw new FedValueError('BAD_OPTION', '', `${name}: "bitwidth" expected integer in [1, ${SECURE_SUM_MAX_BITWIDTH}], got ${b}`);
    }
    return { bitwidth: b };
  }
  const m = typeof opts.maxInput === 'string' && /^\d+$/.test(opts.maxInput) ? BigInt(opts.maxInput) : opts.maxInput;
  if (typeof m !== 'number' && typeof m !== 'bigint') err(name, 'maxInput', 'an integer (number or bigint) in [0, 2^62 - 1]', typeof m);
  if (typeof m === 'number' && !Number.isSafeInteger(m)) {
    throw new FedValueError('BAD_OPTION', '', `${name}: "maxInput" expected a safe integer or a bigint, got ${m}`);
  }
  const big = BigInt(m);
  if (big < 0n || big >= 2n ** BigInt(SECURE_SUM_MAX_BITWIDTH)) {
    throw new FedValueError('BAD_OPTION', '', `${name}: "maxInput" expected integer in [0, 2^62 - 1], got ${big}`);
  }
  return { maxInput: big.toString() };
}

/** Exclusive upper bound of client values for a secure sum: 2^bitwidth, or maxInput + 1. */
export function secureSumBound(params: IntrinsicParams): bigint {
  if (typeof params.bitwidth === 'number') return 1n << BigInt(params.bitwidth);
  return BigInt(params.maxInput as string) + 1n;
}

define({
  name: 'federatedSecureSum',
  tffName: 'federated_secure_sum',
  secure: true,
  options: ['bitwidth', 'maxInput', 'placement'],
  defaultPlacement: 'SERVER',
  description:
    'Exact sum of integer client values, each in [0, 2^bitwidth) (or [0, maxInput]); always runs through the aggregation protocol; only the sum reaches the target placement.',
  variants: [
    V('federated_secure_sum', 'CLIENTS', 'SERVER', ['value'], '({T}@CLIENTS -> T@SERVER)', true),
    V('federated_secure_sum_at_aggregators', 'CLIENTS', 'AGGREGATORS', ['value'], '({T}@CLIENTS -> T@AGGREGATORS)', true),
  ],
  infer(args, o) {
    arity(this.name, args, ['value']);
    const params = secureSumParams(this.name, (o.params ?? {}) as { bitwidth?: unknown; maxInput?: unknown });
    return aggregation(
      this,
      args,
      o,
      ['federated_secure_sum', 'federated_secure_sum_at_aggregators'],
      (v) => {
        const what = 'integer tensors (int32, int64, uint32) or structs of them';
        if (!isTensorStruct(v.member)) err(this.name, 'value', `a value of ${what}`, v);
        for (const l of tensorLeaves(v.member)) {
          if (!isIntegerDType(l.type.dtype)) err(this.name, 'value', `a value of ${what}`, v, `leaf${l.path} is ${l.type.dtype}`);
        }
        return v.member;
      },
      params,
    );
  },
});

function checkAccumulate(name: string, arg: string, f: Type, u: Type, t: Type): FunctionType {
  const fu = functionOf(name, arg, f, new StructType([u, t]), `<${String(u)},${String(t)}>`);
  if (!u.isAssignableFrom(fu.result)) err(name, arg, `a function returning ${String(u)} (the zero's type)`, fu);
  return fu;
}

define({
  name: 'federatedAggregate',
  tffName: 'federated_aggregate',
  secure: false,
  options: ['placement'],
  defaultPlacement: 'SERVER',
  description: 'Generalized aggregation: accumulate client values into U from zero, merge partial accumulators, report R.',
  variants: [
    V('federated_aggregate', 'CLIENTS', 'SERVER', ['value', 'zero', 'accumulate', 'merge', 'report'], '(<{T}@CLIENTS,U,(<U,T> -> U),(<U,U> -> U),(U -> R)> -> R@SERVER)'),
    V(
      'federated_aggregate_at_aggregators',
      'CLIENTS',
      'AGGREGATORS',
      ['value', 'zero', 'accumulate', 'merge', 'report'],
      '(<{T}@CLIENTS,U,(<U,T> -> U),(<U,U> -> U),(U -> R)> -> R@AGGREGATORS)',
    ),
  ],
  infer(args, o) {
    arity(this.name, args, ['value', 'zero', 'accumulate', 'merge', 'report']);
    return aggregation(this, args, o, ['federated_aggregate', 'federated_aggregate_at_aggregators'], (v) => {
      const u = unplaced(this.name, 'zero', args[1]!);
      checkAccumulate(this.name, 'accumulate', args[2]!, u, v.member);
      checkAccumulate(this.name, 'merge', args[3]!, u, u);
      const r = functionOf(this.name, 'report', args[4]!, u, String(u));
      return unplaced(this.name, 'report result', r.result);
    });
  },
});

define({
  name: 'federatedCollect',
  tffName: 'federated_collect',
  secure: false,
  options: ['placement'],
  defaultPlacement: 'SERVER',
  description: 'Gathers all client values, in client order, into a sequence at SERVER or AGGREGATORS (in the clear).',
  variants: [
    V('federated_collect', 'CLIENTS', 'SERVER', ['value'], '({T}@CLIENTS -> T*@SERVER)'),
    V('federated_collect_at_aggregators', 'CLIENTS', 'AGGREGATORS', ['value'], '({T}@CLIENTS -> T*@AGGREGATORS)'),
  ],
  infer(args, o) {
    arity(this.name, args, ['value']);
    return aggregation(this, args, o, ['federated_collect', 'federated_collect_at_aggregators'], (v) => {
      if (v.member.kind === 'function') err(this.name, 'value', 'a non-functional value', v);
      return new SequenceType(v.member);
    });
  },
});

define({
  name: 'federatedReduce',
  tffName: 'federated_reduce',
  secure: false,
  options: ['placement'],
  defaultPlacement: 'SERVER',
  description: 'Folds client values, in client order, with op from zero.',
  variants: [
    V('federated_reduce', 'CLIENTS', 'SERVER', ['value', 'zero', 'op'], '(<{T}@CLIENTS,U,(<U,T> -> U)> -> U@SERVER)'),
    V('federated_reduce_at_aggregators', 'CLIENTS', 'AGGREGATORS', ['value', 'zero', 'op'], '(<{T}@CLIENTS,U,(<U,T> -> U)> -> U@AGGREGATORS)'),
  ],
  infer(args, o) {
    arity(this.name, args, ['value', 'zero', 'op']);
    return aggregation(this, args, o, ['federated_reduce', 'federated_reduce_at_aggregators'], (v) => {
      const u = unplaced(this.name, 'zero', args[1]!);
      checkAccumulate(this.name, 'op', args[2]!, u, v.member);
      return u;
    });
  },
});

for (const [name, tff, what] of [
  ['federatedMin', 'federated_min', 'minimum'],
  ['federatedMax', 'federated_max', 'maximum'],
] as const) {
  define({
    name,
    tffName: tff,
    secure: false,
    options: ['placement'],
    defaultPlacement: 'SERVER',
    description: `Elementwise ${what} of client values (numeric tensors or structs of them).`,
    variants: [
      V(tff, 'CLIENTS', 'SERVER', ['value'], '({T}@CLIENTS -> T@SERVER)'),
      V(`${tff}_at_aggregators`, 'CLIENTS', 'AGGREGATORS', ['value'], '({T}@CLIENTS -> T@AGGREGATORS)'),
    ],
    infer(args, o) {
      arity(this.name, args, ['value']);
      return aggregation(this, args, o, [tff, `${tff}_at_aggregators`], (v) => {
        numeric(this.name, 'value', v, v.member, NUM);
        return v.member;
      });
    },
  });
}

define({
  name: 'federatedTransfer',
  tffName: 'federated_transfer',
  secure: false,
  options: ['placement'],
  defaultPlacement: 'SERVER',
  description:
    'fedcrypt addition: releases an all-equal value held by AGGREGATORS to SERVER (no TFF intrinsic moves a value up to SERVER without aggregating it).',
  variants: [V('federated_transfer_to_server', 'AGGREGATORS', 'SERVER', ['value'], '(T@AGGREGATORS -> T@SERVER)')],
  infer(args, o) {
    arity(this.name, args, ['value']);
    placementOption(this.name, o.placement, [SERVER], SERVER);
    const v = federatedAt(this.name, 'value', args[0]!, [AGGREGATORS], { allEqual: true });
    return result(this.variants[0]!, args, new FederatedType(v.member, SERVER, true));
  },
});

define({
  name: 'sequenceMap',
  tffName: 'sequence_map',
  secure: false,
  options: [],
  defaultPlacement: null,
  description: 'Maps a function over a sequence; over a federated sequence it applies to each member (placement kept).',
  variants: [V('sequence_map', null, null, ['fn', 'sequence'], '(<(T -> U),T*> -> U*), lifted over any placement')],
  infer(args) {
    arity(this.name, args, ['fn', 'sequence']);
    const s = sequenceArg(this.name, 'sequence', args[1]!);
    const f = functionOf(this.name, 'fn', args[0]!, s.element, String(s.element));
    if (f.result.kind === 'federated' || f.result.kind === 'placement') err(this.name, 'fn', 'a function with an unplaced result', f);
    return result(this.variants[0]!, args, liftOverPlacement(args[1]!, () => new SequenceType(f.result)));
  },
});

define({
  name: 'sequenceReduce',
  tffName: 'sequence_reduce',
  secure: false,
  options: [],
  defaultPlacement: null,
  description: 'Folds a sequence with op from zero; over a federated sequence it applies to each member.',
  variants: [V('sequence_reduce', null, null, ['sequence', 'zero', 'op'], '(<T*,U,(<U,T> -> U)> -> U), lifted over any placement')],
  infer(args) {
    arity(this.name, args, ['sequence', 'zero', 'op']);
    const s = sequenceArg(this.name, 'sequence', args[0]!);
    const u = unplaced(this.name, 'zero', args[1]!);
    checkAccumulate(this.name, 'op', args[2]!, u, s.element);
    return result(this.variants[0]!, args, liftOverPlacement(args[0]!, () => u));
  },
});

define({
  name: 'sequenceSum',
  tffName: 'sequence_sum',
  secure: false,
  options: [],
  defaultPlacement: null,
  description: 'Sums a sequence of numeric tensors (or structs); over a federated sequence it applies to each member.',
  variants: [V('sequence_sum', null, null, ['sequence'], '(T* -> T), lifted over any placement')],
  infer(args) {
    arity(this.name, args, ['sequence']);
    const s = sequenceArg(this.name, 'sequence', args[0]!);
    numeric(this.name, 'sequence', args[0]!, s.element, NUM);
    return result(this.variants[0]!, args, liftOverPlacement(args[0]!, () => s.element));
  },
});

export const INTRINSICS: readonly IntrinsicDef[] = Object.freeze([...defs]);

const byName = new Map(INTRINSICS.map((d) => [d.name, d]));
const byUri = new Map<string, { def: IntrinsicDef; variant: IntrinsicVariant }>();
for (const d of INTRINSICS) for (const v of d.variants) byUri.set(v.uri, { def: d, variant: v });

export function getIntrinsic(name: string): IntrinsicDef {
  const d = byName.get(name);
  if (!d) throw new TypeError(`unknown intrinsic '${name}'`);
  return d;
}
export function intrinsicByUri(uri: string): { def: IntrinsicDef; variant: IntrinsicVariant } | undefined {
  return byUri.get(uri);
}
/** Every variant uri run by the aggregation protocol. */
export const PROTOCOL_URIS: readonly string[] = Object.freeze(
  INTRINSICS.flatMap((d) => d.variants.filter((v) => v.protocol).map((v) => v.uri)),
);

/** Placement of a variant's target, as a Placement (null when unplaced / same as input). */
export function variantTarget(v: IntrinsicVariant): Placement | null {
  return v.target === null ? null : v.target === 'CLIENTS' ? CLIENTS : v.target === 'SERVER' ? SERVER : AGGREGATORS;
}

/** Argument types of an intrinsic variant from its specialized function type. */
export function unpackArgs(variant: IntrinsicVariant, fnType: FunctionType): Type[] | null {
  const p = fnType.parameter;
  if (variant.args.length === 0) return p === null ? [] : null;
  if (variant.args.length === 1) return p === null ? null : [p];
  if (p === null || p.kind !== 'struct' || p.elements.length !== variant.args.length) return null;
  return p.elements.map(([, t]) => t);
}

// ---------------------------------------------------------------------------
// Binding of implementations (per runtime backend), like tfjs's kernel registry.

export type IntrinsicImpl<Ctx = unknown, V = unknown> = (call: {
  readonly def: IntrinsicDef;
  readonly variant: IntrinsicVariant;
  readonly type: FunctionType;
  readonly params: IntrinsicParams;
  readonly args: readonly V[];
  readonly ctx: Ctx;
}) => Promise<V>;

const impls = new Map<string, Map<string, IntrinsicImpl<any, any>>>();

export function registerIntrinsicImpl<Ctx, V>(backend: string, uri: string, impl: IntrinsicImpl<Ctx, V>): void {
  if (!byUri.has(uri)) throw new TypeError(`registerIntrinsicImpl: unknown intrinsic uri '${uri}'`);
  let m = impls.get(backend);
  if (!m) impls.set(backend, (m = new Map()));
  m.set(uri, impl);
}
export function getIntrinsicImpl<Ctx, V>(backend: string, uri: string): IntrinsicImpl<Ctx, V> | undefined {
  return impls.get(backend)?.get(uri);
}
/** Variant uris that have no implementation in `backend`. */
export function unboundIntrinsics(backend: string): string[] {
  return [...byUri.keys()].filter((u) => !impls.get(backend)?.has(u));
}

