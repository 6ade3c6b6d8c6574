/**
 * Implementations of every intrinsic for the local runtime (backend 'local'),
 * bound to the core registry with registerIntrinsicImpl. Variants marked
 * `protocol` go through the context's aggregation protocol; the plain SERVER
 * sum and mean use the reference arithmetic directly (same validation, same
 * result conversion), so both paths agree by construction.
 */
import { FedArgumentError, FedValueError } from '../core/errors.js';
import { registerIntrinsicImpl, secureSumBound, type IntrinsicDef, type IntrinsicVariant } from '../core/intrinsics.js';
import type { IntrinsicParams } from '../core/ir.js';
import { AGGREGATORS, CLIENTS } from '../core/placements.js';
import {
  FederatedType,
  FunctionType,
  isIntegerDType,
  SequenceType,
  StructType,
  tensorLeaves,
  TensorType,
  mapTensorLeaves,
  type Type,
} from '../core/types.js';
import {
  allocate,
  FederatedValue,
  fromLeaves,
  leavesOf,
  SequenceValue,
  StructValue,
  TensorValue,
  type FunctionValue,
  type NumericArray,
  type RtValue,
} from '../core/values.js';
import type { AggregateLeafValue, AggregationLeaf, AggregationRequest, AggregationUri } from '../aggregation/protocol.js';
import { referenceAggregate } from '../aggregation/reference.js';
import { BACKEND, type LocalEnv } from './executor.js';

/** One call of an intrinsic, as a backend's implementation gets it (the remote backend's too). */
export interface IntrinsicCall {
  readonly def: IntrinsicDef;
  readonly variant: IntrinsicVariant;
  readonly type: FunctionType;
  readonly params: IntrinsicParams;
  readonly args: readonly RtValue[];
  readonly ctx: LocalEnv;
}
type Call = IntrinsicCall;
const reg = (uri: string, impl: (c: Call) => Promise<RtValue>): void => registerIntrinsicImpl<LocalEnv, RtValue>(BACKEND, uri, impl);

const fed = (v: RtValue): FederatedValue => {
  if (v.kind !== 'federated') throw new TypeError(`expected a federated value, got ${v.kind}`);
  return v;
};
const fnv = (v: RtValue): FunctionValue => {
  if (v.kind !== 'function') throw new TypeError(`expected a function value, got ${v.kind}`);
  return v;
};
const resultType = (c: Call): FederatedType => c.type.result as FederatedType;

/** Members of a federated value, one per party (an all-equal value is replicated). */
function expand(v: FederatedValue, env: LocalEnv): readonly RtValue[] {
  if (!v.type.allEqual) return v.members;
  const n = v.type.placement === CLIENTS ? env.clients() : v.type.placement === AGGREGATORS ? env.numAggregators : 1;
  return new Array<RtValue>(n).fill(v.members[0]!);
}

async function mapMembers(ms: readonly RtValue[], f: (m: RtValue) => Promise<RtValue>): Promise<RtValue[]> {
  const out: RtValue[] = [];
  for (const m of ms) out.push(await f(m));
  return out;
}

// --- placing, evaluating, mapping, zipping, moving -------------------------

for (const uri of ['federated_value_at_server', 'federated_value_at_clients', 'federated_value_at_aggregators']) {
  reg(uri, async (c) => new FederatedValue(resultType(c), [c.args[0]!]));
}
reg('federated_eval_at_server', async (c) => new FederatedValue(resultType(c), [await fnv(c.args[0]!).apply(null)]));
reg('federated_eval_at_clients', async (c) => {
  const f = fnv(c.args[0]!);
  return new FederatedValue(resultType(c), await mapMembers(new Array(c.ctx.clients()).fill(null), () => f.apply(null)));
});
reg('federated_eval_at_aggregators', async (c) => {
  const f = fnv(c.args[0]!);
  return new FederatedValue(resultType(c), await mapMembers(new Array(c.ctx.numAggregators).fill(null), () => f.apply(null)));
});
for (const uri of ['federated_map', 'federated_map_at_server', 'federated_map_at_aggregators', 'federated_apply', 'federated_apply_at_aggregators']) {
  reg(uri, async (c) => {
    const f = fnv(c.args[0]!);
    const v = fed(c.args[1]!);
    return new FederatedValue(resultType(c), await mapMembers(v.members, (m) => f.apply(m)));
  });
}
for (const uri of ['federated_zip_at_clients', 'federated_zip_at_server', 'federated_zip_at_aggregators']) {
  reg(uri, async (c) => {
    const s = c.args[0] as StructValue;
    const rt = resultType(c);
    const vs = s.elements.map(fed);
    if (rt.allEqual) return new FederatedValue(rt, [new StructValue(rt.member as StructType, vs.map((v) => v.members[0]!))]);
    const lengths = vs.filter((v) => !v.type.allEqual).map((v) => v.members.length);
    if (lengths.some((l) => l !== lengths[0])) {
      throw new FedValueError('CLIENT_COUNT', 'federatedZip', `values to zip have different numbers of members: ${lengths.join(', ')}`);
    }
    const n = lengths[0]!;
    const cols = vs.map((v) => (v.type.allEqual ? new Array<RtValue>(n).fill(v.members[0]!) : v.members));
    const members = Array.from({ length: n }, (_, i) => new StructValue(rt.member as StructType, cols.map((col) => col[i]!)));
    return new FederatedValue(rt, members);
  });
}
for (const uri of ['federated_broadcast', 'federated_broadcast_to_aggregators', 'federated_broadcast_from_aggregators', 'federated_transfer_to_server']) {
  reg(uri, async (c) => new FederatedValue(resultType(c), [fed(c.args[0]!).members[0]!]));
}

// --- aggregations through the protocol (or the reference arithmetic) ------

function checkLeafShapes(clientLeaves: readonly TensorValue[][], memberType: Type): AggregationLeaf[] {
  const paths = tensorLeaves(memberType).map((l) => l.path);
  const first = clientLeaves[0]!;
  const leaves = first.map((t, j) => ({ path: paths[j]!, type: t.type, size: t.data.length }));
  clientLeaves.forEach((ls, k) => {
    ls.forEach((t, j) => {
      const a = t.type.shape;
      const b = leaves[j]!.type.shape;
      if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
        throw new FedArgumentError('SHAPE', `value[client ${k}]${leaves[j]!.path}`, `clients' values differ in shape: ${String(t.type)} vs ${String(leaves[j]!.type)} (client 0)`);
      }
    });
  });
  return leaves;
}

function checkRange(values: readonly (readonly NumericArray[])[], leaves: readonly AggregationLeaf[], bound: bigint, params: IntrinsicParams): void {
  const desc = typeof params.bitwidth === 'number' ? `[0, 2^${params.bitwidth}) (bitwidth ${params.bitwidth})` : `[0, ${params.maxInput}] (maxInput)`;
  const nbound = Number(bound);
  values.forEach((ls, k) =>
    ls.forEach((a, j) => {
      for (let i = 0; i < a.length; i++) {
        const x = a[i]!;
        const bad = typeof x === 'bigint' ? x < 0n || x >= bound : x < 0 || x >= nbound;
        if (bad) {
          throw new FedValueError('OUT_OF_RANGE', `value[client ${k}]${leaves[j]!.path}[${i}]`, `federatedSecureSum: client value ${x} outside ${desc}`);
        }
      }
    }),
  );
}

function checkNaN(values: readonly (readonly NumericArray[])[], leaves: readonly AggregationLeaf[], name: string): void {
  values.forEach((ls, k) =>
    ls.forEach((a, j) => {
      if (!(a instanceof Float32Array || a instanceof Float64Array)) return;
      for (let i = 0; i < a.length; i++) {
        if (Number.isNaN(a[i])) throw new FedValueError('NAN', `value[client ${k}]${leaves[j]!.path}[${i}]`, `${name}: NaN in a client value`);
      }
    }),
  );
}

const INT_RANGE: Record<string, readonly [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
};

/** Convert an aggregate leaf to the result dtype: exact integers range-checked, floats cast (a whole Float32Array for a float32 leaf is taken as is: the protocol's own, fresh array). */
export function toResultLeaf(v: AggregateLeafValue | undefined, t: TensorType, path: string, what: string): TensorValue {
  const size = t.size!;
  if (v === undefined || (v as { length?: unknown }).length !== size) {
    throw new FedValueError('PROTOCOL_RESULT', path, `${what}: aggregate leaf has ${v === undefined ? 'no value' : `${(v as { length: number }).length} elements`}, expected ${size}`);
  }
  // a float32 leaf the protocol already decoded into float32, filling its own array: adopted, not copied
  if (t.dtype === 'float32' && v instanceof Float32Array && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) return new TensorValue(t, v);
  const out = allocate(t.dtype, size);
  if (isIntegerDType(t.dtype)) {
    if (v instanceof Float64Array || v instanceof Float32Array) throw new FedValueError('PROTOCOL_RESULT', path, `${what}: an integer aggregate must be exact (bigint[]), got a ${v.constructor.name}`);
    const [lo, hi] = INT_RANGE[t.dtype]!;
    for (let i = 0; i < size; i++) {
      const x = (v as readonly bigint[])[i]!;
      if (typeof x !== 'bigint') throw new FedValueError('PROTOCOL_RESULT', path, `${what}: integer aggregate elements must be bigint`);
      if (x < lo || x > hi) {
        throw new FedValueError('OVERFLOW', `${path}[${i}]`, `${what}: the sum ${x} cannot be represented in ${t.dtype} (range [${lo}, ${hi}])`);
      }
      if (out instanceof BigInt64Array) out[i] = x;
      else (out as Int32Array)[i] = Number(x);
    }
  } else if ((v instanceof Float64Array || v instanceof Float32Array) && (out instanceof Float32Array || out instanceof Float64Array)) {
    // the same conversion as the loop below, element for element (to float32: rounded to nearest), natively
    out.set(v);
  } else {
    for (let i = 0; i < size; i++) {
      const x = (v as ArrayLike<number | bigint>)[i]!;
      (out as Float64Array)[i] = Number(x);
    }
  }
  return new TensorValue(t, out);
}

export const CLEAR_EQUIVALENT: Record<string, AggregationUri> = {
  federated_sum: 'federated_sum_at_aggregators',
  federated_mean: 'federated_mean_at_aggregators',
  federated_weighted_mean: 'federated_weighted_mean_at_aggregators',
};

async function aggregation(c: Call): Promise<RtValue> {
  const env = c.ctx;
  const name = c.def.name;
  const v = fed(c.args[0]!);
  const members = expand(v, env);
  const rt = resultType(c);
  const memberType = v.type.member;
  const isMean = c.def.name === 'federatedMean';
  const isSecure = c.def.name === 'federatedSecureSum';
  const n = members.length;
  if (n === 0) {
    if (isMean) throw new FedValueError('EMPTY', 'value', `${name}: no clients`);
    const ls = tensorLeaves(rt.member).map((l) => l.type);
    if (ls.some((t) => t.size === null)) throw new FedValueError('EMPTY', 'value', `${name}: no clients, and the shape of the sum is unknown`);
    return new FederatedValue(rt, [fromLeaves(rt.member, ls.map((t) => new TensorValue(t, allocate(t.dtype, t.size!))))]);
  }
  const clientLeaves = members.map((m) => leavesOf(m));
  const leaves = checkLeafShapes(clientLeaves, memberType);
  const clientValues = clientLeaves.map((ls) => ls.map((t) => t.data));
  let bound: bigint | undefined;
  if (isSecure) {
    bound = secureSumBound(c.params);
    checkRange(clientValues, leaves, bound, c.params);
  }
  if (isMean) checkNaN(clientValues, leaves, name);
  let weights: Float64Array | undefined;
  if (c.args.length === 2) {
    const w = expand(fed(c.args[1]!), env);
    if (w.length !== n) throw new FedValueError('CLIENT_COUNT', 'weights', `${name}: ${w.length} weights for ${n} clients`);
    weights = new Float64Array(n);
    let total = 0;
    w.forEach((x, k) => {
      const val = Number((x as TensorValue).data[0]!);
      if (Number.isNaN(val)) throw new FedValueError('NAN', `weights[client ${k}]`, `${name}: NaN weight`);
      if (!Number.isFinite(val) || val < 0) throw new FedValueError('BAD_WEIGHTS', `weights[client ${k}]`, `${name}: weights must be finite and >= 0, got ${val}`);
      weights![k] = val;
      total += val;
    });
    if (!(total > 0)) throw new FedValueError('BAD_WEIGHTS', 'weights', `${name}: the weights sum to ${total}; at least one must be > 0`);
  }
  const viaProtocol = c.variant.protocol;
  const uri = (viaProtocol ? c.variant.uri : CLEAR_EQUIVALENT[c.variant.uri]) as AggregationUri;
  const resultLeafTypes = leaves.map((l) => (isMean && isIntegerDType(l.type.dtype) ? new TensorType('float64', l.type.shape) : l.type));
  const concreteResult = (() => {
    let k = 0;
    return mapTensorLeaves(rt.member, () => resultLeafTypes[k++]!);
  })();
  const req: AggregationRequest = Object.freeze({
    invocationId: env.nextId(),
    intrinsic: c.def,
    variant: c.variant,
    uri,
    valueType: memberType,
    resultType: concreteResult,
    leaves: Object.freeze(leaves),
    clientValues: Object.freeze(clientValues.map((ls) => Object.freeze(ls))),
    ...(weights ? { weights } : {}),
    ...(typeof c.params.bitwidth === 'number' ? { bitwidth: c.params.bitwidth } : {}),
    ...(typeof c.params.maxInput === 'string' ? { maxInput: BigInt(c.params.maxInput) } : {}),
    ...(bound !== undefined ? { bound } : {}),
    source: CLIENTS,
    target: rt.placement,
    numClients: n,
    numAggregators: env.numAggregators,
  });
  let result;
  if (viaProtocol) {
    const p = env.aggregation;
    if (!p.intrinsics.includes(uri)) {
      throw new TypeError(`aggregation protocol '${p.name}' does not implement ${uri} (it implements: ${p.intrinsics.join(', ') || 'nothing'})`);
    }
    result = await p.aggregate(req);
    if (!result || !Array.isArray(result.leaves) || result.leaves.length !== leaves.length) {
      throw new FedValueError('PROTOCOL_RESULT', '', `aggregation protocol '${p.name}' returned ${result && Array.isArray(result.leaves) ? result.leaves.length : 'no'} leaves for ${uri}, expected ${leaves.length}`);
    }
  } else {
    result = referenceAggregate(req);
  }
  const what = `${name} (${c.variant.uri}${viaProtocol ? ` via '${env.aggregation.name}'` : ''})`;
  const out = resultLeafTypes.map((t, j) => toResultLeaf(result.leaves[j], t, `result${leaves[j]!.path}`, what));
  return new FederatedValue(rt, [fromLeaves(concreteResult, out)]);
}

for (const uri of [
  'federated_sum',
  'federated_sum_at_aggregators',
  'federated_mean',
  'federated_weighted_mean',
  'federated_mean_at_aggregators',
  'federated_weighted_mean_at_aggregators',
  'federated_secure_sum',
  'federated_secure_sum_at_aggregators',
]) {
  reg(uri, aggregation);
}

// --- min / max -------------------------------------------------------------

function extremum(kind: 'min' | 'max') {
  return async (c: Call): Promise<RtValue> => {
    const name = c.def.name;
    const v = fed(c.args[0]!);
    const members = expand(v, c.ctx);
    if (members.length === 0) throw new FedValueError('EMPTY', 'value', `${name}: no clients`);
    const clientLeaves = members.map((m) => leavesOf(m));
    const leaves = checkLeafShapes(clientLeaves, v.type.member);
    const cv = clientLeaves.map((ls) => ls.map((t) => t.data));
    checkNaN(cv, leaves, name);
    const out = leaves.map((l, j) => {
      const acc = cv[0]![j]!.slice() as NumericArray;
      for (let k = 1; k < cv.length; k++) {
        const a = cv[k]![j]!;
        for (let i = 0; i < acc.length; i++) {
          const better = kind === 'min' ? a[i]! < acc[i]! : a[i]! > acc[i]!;
          if (better) (acc as Float64Array)[i] = a[i] as number;
        }
      }
      return new TensorValue(l.type, acc);
    });
    let k = 0;
    const concrete = mapTensorLeaves(v.type.member, () => out[k++]!.type);
    return new FederatedValue(resultType(c), [fromLeaves(concrete, out)]);
  };
}
reg('federated_min', extremum('min'));
reg('federated_min_at_aggregators', extremum('min'));
reg('federated_max', extremum('max'));
reg('federated_max_at_aggregators', extremum('max'));

// --- collect, reduce, aggregate ----------------------------------------------

for (const uri of ['federated_collect', 'federated_collect_at_aggregators']) {
  reg(uri, async (c) => {
    const rt = resultType(c);
    return new FederatedValue(rt, [new SequenceValue(rt.member as SequenceType, expand(fed(c.args[0]!), c.ctx))]);
  });
}

async function fold(items: readonly RtValue[], zero: RtValue, op: FunctionValue): Promise<RtValue> {
  let acc = zero;
  const pt = op.type.parameter as StructType;
  for (const m of items) acc = await op.apply(new StructValue(pt, [acc, m]));
  return acc;
}

for (const uri of ['federated_reduce', 'federated_reduce_at_aggregators']) {
  reg(uri, async (c) => new FederatedValue(resultType(c), [await fold(expand(fed(c.args[0]!), c.ctx), c.args[1]!, fnv(c.args[2]!))]));
}

for (const uri of ['federated_aggregate', 'federated_aggregate_at_aggregators']) {
  // Accumulate the first and second halves of the clients separately from zero, merge, report
  // (so that merge is exercised; with fewer than 2 clients merge is not called).
  reg(uri, async (c) => {
    const items = expand(fed(c.args[0]!), c.ctx);
    const [zero, acc, merge, report] = [c.args[1]!, fnv(c.args[2]!), fnv(c.args[3]!), fnv(c.args[4]!)];
    let u: RtValue;
    if (items.length < 2) u = await fold(items, zero, acc);
    else {
      const h = Math.ceil(items.length / 2);
      const a = await fold(items.slice(0, h), zero, acc);
      const b = await fold(items.slice(h), zero, acc);
      u = await merge.apply(new StructValue(merge.type.parameter as StructType, [a, b]));
    }
    return new FederatedValue(resultType(c), [await report.apply(u)]);
  });
}

// --- sequences (lifted over placements) -------------------------------------

async function lifted(c: Call, seqArg: RtValue, f: (s: SequenceValue, resultMember: Type) => Promise<RtValue>): Promise<RtValue> {
  const rt = c.type.result;
  if (seqArg.kind === 'federated') {
    const frt = rt as FederatedType;
    return new FederatedValue(frt, await mapMembers(seqArg.members, (m) => f(m as SequenceValue, frt.member)));
  }
  return f(seqArg as SequenceValue, rt);
}

reg('sequence_map', async (c) => {
  const fn = fnv(c.args[0]!);
  return lifted(c, c.args[1]!, async (s, rm) => new SequenceValue(rm as SequenceType, await mapMembers(s.items, (x) => fn.apply(x))));
});
reg('sequence_reduce', async (c) => lifted(c, c.args[0]!, (s) => fold(s.items, c.args[1]!, fnv(c.args[2]!))));
reg('sequence_sum', async (c) =>
  lifted(c, c.args[0]!, async (s, rm) => {
    if (s.items.length === 0) {
      const ls = tensorLeaves(rm).map((l) => l.type);
      if (ls.some((t) => t.size === null)) throw new FedValueError('EMPTY', 'sequence', 'sequenceSum: empty sequence of unknown shape');
      return fromLeaves(rm, ls.map((t) => new TensorValue(t, allocate(t.dtype, t.size!))));
    }
    const itemLeaves = s.items.map((x) => leavesOf(x));
    const leaves = checkLeafShapes(itemLeaves, rm);
    const cv = itemLeaves.map((ls) => ls.map((t) => t.data));
    const req = { leaves, clientValues: cv, uri: 'federated_sum_at_aggregators', numClients: cv.length } as unknown as AggregationRequest;
    const res = referenceAggregate(req);
    const out = leaves.map((l, j) => toResultLeaf(res.leaves[j], l.type, `result${l.path}`, 'sequenceSum'));
    let k = 0;
    return fromLeaves(mapTensorLeaves(rm, () => out[k++]!.type), out);
  }),
);

