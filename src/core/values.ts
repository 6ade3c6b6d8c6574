/**
 * Run-time values of the Federated Core, and their conversion from and to the
 * JS forms users pass and receive.
 *
 * Accepted forms (input), by type:
 * - tensor: a number / bigint / boolean (scalar), nested arrays (rectangular),
 *   a flat typed array (length = number of elements), or a tf.Tensor (detected
 *   by duck typing: `dataSync()` and `shape`; tfjs is never imported here).
 *   int32/uint32: integers in range (number or bigint); int64: bigint or safe
 *   integer number; float32/float64: numbers; bool: booleans (or 0/1).
 * - struct: an object with exactly the field names (named struct), or an array
 *   of the same length (any struct).
 * - sequence: an array of element values.
 * - federated, all-equal (e.g. T@SERVER): the member value itself.
 * - federated, not all-equal (e.g. {T}@CLIENTS): an array with one member
 *   value per client (the number of clients is taken from its length).
 *
 * Returned forms (output): scalar tensors as number (int64 as bigint, bool as
 * boolean), other tensors as nested arrays of those; named structs as plain
 * objects, positional (or partly named) structs as arrays; sequences as
 * arrays; all-equal federated values as the member; other federated values as
 * an array with one entry per member.
 */
import { FedArgumentError, FedValueError } from './errors.js';
import type { Placement } from './placements.js';
import { isPlacement } from './placements.js';
import {
  describe,
  FederatedType,
  FunctionType,
  isFloatDType,
  SequenceType,
  StructType,
  TensorType,
  type DType,
  type Type,
} from './types.js';

export type NumericArray = Int32Array | Uint32Array | BigInt64Array | Float32Array | Float64Array | Uint8Array;

export class TensorValue {
  readonly kind = 'tensor' as const;
  /** The concrete type (no unknown dimensions). */
  readonly type: TensorType;
  readonly data: NumericArray;
  constructor(type: TensorType, data: NumericArray) {
    this.type = type;
    this.data = data;
  }
}
export class StructValue {
  readonly kind = 'struct' as const;
  constructor(
    readonly type: StructType,
    readonly elements: readonly RtValue[],
  ) {}
}
export class SequenceValue {
  readonly kind = 'sequence' as const;
  constructor(
    readonly type: SequenceType,
    readonly items: readonly RtValue[],
  ) {}
}
export class FederatedValue {
  readonly kind = 'federated' as const;
  /** `members` holds one value when the type is all-equal, else one per member (client / aggregator). */
  constructor(
    readonly type: FederatedType,
    readonly members: readonly RtValue[],
  ) {}
}
export class FunctionValue {
  readonly kind = 'function' as const;
  constructor(
    readonly type: FunctionType,
    readonly apply: (arg: RtValue | null) => Promise<RtValue>,
    readonly label = 'function',
  ) {}
}
export class PlacementValue {
  readonly kind = 'placement' as const;
  constructor(readonly placement: Placement) {}
}

export type RtValue = TensorValue | StructValue | SequenceValue | FederatedValue | FunctionValue | PlacementValue;

export function allocate(dtype: DType, n: number): NumericArray {
  switch (dtype) {
    case 'int32':
      return new Int32Array(n);
    case 'uint32':
      return new Uint32Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'float32':
      return new Float32Array(n);
    case 'float64':
      return new Float64Array(n);
    case 'bool':
      return new Uint8Array(n);
  }
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const UINT32_MAX = 2 ** 32 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Check and store one element; `path` names it in errors. */
function putElement(out: NumericArray, i: number, x: unknown, dtype: DType, path: string): void {
  switch (dtype) {
    case 'int32':
    case 'uint32': {
      let v: number;
      if (typeof x === 'number') {
        if (!Number.isInteger(x)) throw new FedArgumentError('DTYPE', path, `${dtype} element expected an integer, got ${describe(x)}`);
        v = x;
      } else if (typeof x === 'bigint') {
        v = Number(x);
        if (BigInt(v) !== x) throw new FedValueError('OUT_OF_RANGE', path, `${dtype} element out of range: ${x}n`);
      } else {
        throw new FedArgumentError('DTYPE', path, `${dtype} element expected a number, got ${describe(x)}`);
      }
      const [lo, hi] = dtype === 'int32' ? [INT32_MIN, INT32_MAX] : [0, UINT32_MAX];
      if (v < lo || v > hi) throw new FedValueError('OUT_OF_RANGE', path, `${dtype} element expected in [${lo}, ${hi}], got ${v}`);
      (out as Int32Array | Uint32Array)[i] = v;
      return;
    }
    case 'int64': {
      let v: bigint;
      if (typeof x === 'bigint') v = x;
      else if (typeof x === 'number') {
        if (!Number.isSafeInteger(x)) {
          throw new FedArgumentError('DTYPE', path, `int64 element expected a bigint or a safe integer number, got ${describe(x)}`);
        }
        v = BigInt(x);
      } else throw new FedArgumentError('DTYPE', path, `int64 element expected a bigint, got ${describe(x)}`);
      if (v < INT64_MIN || v > INT64_MAX) throw new FedValueError('OUT_OF_RANGE', path, `int64 element out of range: ${v}n`);
      (out as BigInt64Array)[i] = v;
      return;
    }
    case 'float32':
    case 'float64':
      if (typeof x === 'number') (out as Float32Array)[i] = x;
      else if (typeof x === 'bigint') (out as Float32Array)[i] = Number(x);
      else throw new FedArgumentError('DTYPE', path, `${dtype} element expected a number, got ${describe(x)}`);
      return;
    case 'bool':
      if (typeof x === 'boolean') (out as Uint8Array)[i] = x ? 1 : 0;
      else if (x === 0 || x === 1) (out as Uint8Array)[i] = x;
      else throw new FedArgumentError('DTYPE', path, `bool element expected a boolean, got ${describe(x)}`);
      return;
  }
}

interface TensorLike {
  dataSync(): ArrayLike<number> | ArrayLike<string>;
  shape: number[];
  dtype?: string;
}
/** Duck-typed tf.Tensor detection (core does not import tfjs). */
export function isTensorLike(x: unknown): x is TensorLike {
  return (
    x !== null &&
    typeof x === 'object' &&
    typeof (x as { dataSync?: unknown }).dataSync === 'function' &&
    Array.isArray((x as { shape?: unknown }).shape)
  );
}

function isTypedArray(x: unknown): x is NumericArray | Int8Array | Int16Array | Uint16Array | Uint8ClampedArray | BigUint64Array {
  return ArrayBuffer.isView(x) && !(x instanceof DataView);
}

function checkShape(type: TensorType, actual: readonly number[], path: string): TensorType {
  const ok = type.shape.length === actual.length && type.shape.every((d, i) => d === null || d === actual[i]);
  if (!ok) {
    throw new FedArgumentError('SHAPE', path, `expected a tensor of type ${String(type)}, got shape [${actual.join(',')}]`);
  }
  return type.size !== null ? type : new TensorType(type.dtype, actual);
}

function tensorFromJs(x: unknown, type: TensorType, path: string): TensorValue {
  if (isTensorLike(x)) {
    const shape = x.shape;
    const concrete = checkShape(type, shape, path);
    const src = x.dataSync();
    const out = allocate(type.dtype, src.length);
    for (let i = 0; i < src.length; i++) putElement(out, i, src[i], type.dtype, `${path}[${i}]`);
    return new TensorValue(concrete, out);
  }
  if (isTypedArray(x)) {
    let concrete: TensorType;
    if (type.size !== null) {
      if (x.length !== type.size) {
        throw new FedArgumentError('SHAPE', path, `expected ${type.size} elements for ${String(type)}, got a ${describe(x)}`);
      }
      concrete = type;
    } else if (type.shape.length === 1) {
      concrete = new TensorType(type.dtype, [x.length]);
    } else {
      throw new FedArgumentError('SHAPE', path, `a flat typed array cannot give the unknown dimensions of ${String(type)}; pass nested arrays`);
    }
    const out = allocate(type.dtype, x.length);
    if (x.constructor === out.constructor || (isFloatDType(type.dtype) && !(x instanceof BigInt64Array) && !(x instanceof BigUint64Array))) {
      // Same representation (or any numbers into floats): no element can be invalid.
      (out as Float64Array).set(x as Float64Array);
    } else {
      for (let i = 0; i < x.length; i++) putElement(out, i, (x as ArrayLike<unknown>)[i], type.dtype, `${path}[${i}]`);
    }
    return new TensorValue(concrete, out);
  }
  if (Array.isArray(x)) {
    // Infer the shape from the nesting; every level must be rectangular.
    const shape: number[] = [];
    let probe: unknown = x;
    while (Array.isArray(probe)) {
      shape.push(probe.length);
      probe = probe[0];
    }
    const concrete = checkShape(type, shape, path);
    const n = shape.reduce((a, b) => a * b, 1);
    const out = allocate(type.dtype, n);
    let k = 0;
    const walk = (v: unknown, depth: number, p: string): void => {
      if (depth === shape.length) {
        if (Array.isArray(v)) throw new FedArgumentError('SHAPE', p, `ragged nested array for ${String(type)}`);
        putElement(out, k++, v, type.dtype, p);
        return;
      }
      if (!Array.isArray(v) || v.length !== shape[depth]) {
        throw new FedArgumentError('SHAPE', p, `ragged nested array for ${String(type)}: expected an array of ${shape[depth]}, got ${describe(v)}`);
      }
      for (let i = 0; i < v.length; i++) walk(v[i], depth + 1, `${p}[${i}]`);
    };
    walk(x, 0, path);
    return new TensorValue(concrete, out);
  }
  if (typeof x === 'number' || typeof x === 'bigint' || typeof x === 'boolean') {
    if (type.shape.length !== 0) {
      throw new FedArgumentError('SHAPE', path, `expected a tensor of type ${String(type)}, got the scalar ${describe(x)}`);
    }
    const out = allocate(type.dtype, 1);
    putElement(out, 0, x, type.dtype, path);
    return new TensorValue(type, out);
  }
  throw new FedArgumentError('VALUE_FORM', path, `expected a value of type ${String(type)} (number, nested arrays, typed array or tf.Tensor), got ${describe(x)}`);
}

export interface FromJsOptions {
  /** Number of clients, when known; a {T}@CLIENTS array must have this length. */
  clients?: number;
  /** Number of aggregator parties (default 1). */
  aggregators?: number;
}

/** Convert a user-supplied JS value to a run-time value of `type`. `path` names it in errors. */
export function fromJs(x: unknown, type: Type, path = 'value', opts: FromJsOptions = {}): RtValue {
  switch (type.kind) {
    case 'tensor':
      return tensorFromJs(x, type, path);
    case 'struct': {
      const els = type.elements;
      if (Array.isArray(x)) {
        if (x.length !== els.length) {
          throw new FedArgumentError('SHAPE', path, `mismatched struct shape: expected ${els.length} elements for ${String(type)}, got ${x.length}`);
        }
        return new StructValue(type, els.map(([n, t], i) => fromJs(x[i], t, n === undefined ? `${path}[${i}]` : `${path}.${n}`, opts)));
      }
      if (x !== null && typeof x === 'object' && !isTypedArray(x) && !isTensorLike(x) && els.every(([n]) => n !== undefined)) {
        const keys = Object.keys(x);
        const names = els.map(([n]) => n!);
        const missing = names.filter((n) => !keys.includes(n));
        const extra = keys.filter((k) => !names.includes(k));
        if (missing.length || extra.length) {
          throw new FedArgumentError(
            'SHAPE',
            path,
            `mismatched struct shape for ${String(type)}:` +
              (missing.length ? ` missing field(s) ${missing.join(', ')}` : '') +
              (extra.length ? ` unexpected field(s) ${extra.join(', ')}` : ''),
          );
        }
        return new StructValue(type, els.map(([n, t]) => fromJs((x as Record<string, unknown>)[n!], t, `${path}.${n}`, opts)));
      }
      throw new FedArgumentError('VALUE_FORM', path, `expected a struct ${String(type)} (an object or an array), got ${describe(x)}`);
    }
    case 'sequence': {
      if (!Array.isArray(x)) throw new FedArgumentError('VALUE_FORM', path, `expected a sequence ${String(type)} (an array), got ${describe(x)}`);
      return new SequenceValue(type, x.map((e, i) => fromJs(e, type.element, `${path}[${i}]`, opts)));
    }
    case 'federated': {
      if (type.allEqual) return new FederatedValue(type, [fromJs(x, type.member, path, opts)]);
      if (!Array.isArray(x)) {
        throw new FedArgumentError(
          'VALUE_FORM',
          path,
          `expected ${String(type)}: an array with one value per ${type.placement.name === 'CLIENTS' ? 'client' : 'member'}, got ${describe(x)}`,
        );
      }
      const expected = type.placement.name === 'CLIENTS' ? opts.clients : type.placement.name === 'AGGREGATORS' ? (opts.aggregators ?? 1) : 1;
      if (expected !== undefined && x.length !== expected) {
        throw new FedValueError(
          'CLIENT_COUNT',
          path,
          `expected ${expected} value(s) for ${String(type)} (one per ${type.placement.name === 'CLIENTS' ? 'client' : 'member'}), got ${x.length}`,
        );
      }
      const who = type.placement.name === 'CLIENTS' ? 'client' : 'member';
      return new FederatedValue(type, x.map((m, i) => fromJs(m, type.member, `${path}[${who} ${i}]`, opts)));
    }
    case 'placement':
      if (!isPlacement(x)) throw new FedArgumentError('VALUE_FORM', path, `expected a placement, got ${describe(x)}`);
      return new PlacementValue(x);
    case 'function':
      throw new FedArgumentError('VALUE_FORM', path, `function-typed arguments (${String(type)}) cannot be passed from JS`);
  }
}

function element(t: TensorValue, i: number): number | bigint | boolean {
  const v = t.data[i]!;
  return t.type.dtype === 'bool' ? v === 1 : v;
}

/** Convert a tensor value to a number/bigint/boolean (scalar) or nested arrays. */
export function tensorToJs(t: TensorValue): unknown {
  const shape = t.type.shape as number[];
  if (shape.length === 0) return element(t, 0);
  if (shape.length === 1 && t.type.dtype !== 'bool') {
    const d = t.data as Float64Array;
    const out = new Array<number>(d.length);
    for (let i = 0; i < d.length; i++) out[i] = d[i]!;
    return out;
  }
  let k = 0;
  const build = (d: number): unknown[] => {
    const n = shape[d]!;
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = d === shape.length - 1 ? element(t, k++) : build(d + 1);
    return out;
  };
  return build(0);
}

/** Convert a run-time value to the documented JS output form. */
export function toJs(v: RtValue): unknown {
  switch (v.kind) {
    case 'tensor':
      return tensorToJs(v);
    case 'struct': {
      const named = v.type.elements.length > 0 && v.type.elements.every(([n]) => n !== undefined);
      if (named) {
        const o: Record<string, unknown> = {};
        v.type.elements.forEach(([n], i) => (o[n!] = toJs(v.elements[i]!)));
        return o;
      }
      return v.elements.map(toJs);
    }
    case 'sequence':
      return v.items.map(toJs);
    case 'federated':
      return v.type.allEqual ? toJs(v.members[0]!) : v.members.map(toJs);
    case 'placement':
      return v.placement;
    case 'function':
      return async (...args: unknown[]): Promise<unknown> => {
        const p = v.type.parameter;
        const arg = p === null ? null : fromJs(p.kind === 'struct' && args.length !== 1 ? args : args[0], p, 'arg');
        return toJs(await v.apply(arg));
      };
  }
}

/**
 * `toJs`, but a tensor of rank >= 1 (other than bool) is its typed array
 * itself, not a number[] (a view of the value's memory: read it, do not
 * write it). For code that passes model-sized tensors on (local
 * computations that ask for it, a driver applying an aggregate): the same
 * numbers without a conversion element by element.
 */
export function toJsTyped(v: RtValue): unknown {
  switch (v.kind) {
    case 'tensor':
      return v.type.shape.length >= 1 && v.type.dtype !== 'bool' ? v.data : tensorToJs(v);
    case 'struct': {
      const named = v.type.elements.length > 0 && v.type.elements.every(([n]) => n !== undefined);
      if (named) {
        const o: Record<string, unknown> = {};
        v.type.elements.forEach(([n], i) => (o[n!] = toJsTyped(v.elements[i]!)));
        return o;
      }
      return v.elements.map(toJsTyped);
    }
    case 'sequence':
      return v.items.map(toJsTyped);
    case 'federated':
      return v.type.allEqual ? toJsTyped(v.members[0]!) : v.members.map(toJsTyped);
    default:
      return toJs(v);
  }
}

/** The tensor leaves of a tensor/struct value, depth-first. */
export function leavesOf(v: RtValue): TensorValue[] {
  if (v.kind === 'tensor') return [v];
  if (v.kind === 'struct') return v.elements.flatMap(leavesOf);
  throw new TypeError(`leavesOf: expected a tensor or struct value, got ${v.kind}`);
}

/** Rebuild a tensor/struct value of `type` from leaves (consumed in depth-first order). */
export function fromLeaves(type: Type, leaves: readonly TensorValue[]): RtValue {
  let k = 0;
  const build = (t: Type): RtValue => {
    if (t.kind === 'tensor') return leaves[k++]!;
    if (t.kind === 'struct') return new StructValue(t, t.elements.map(([, e]) => build(e)));
    throw new TypeError(`fromLeaves: expected a tensor or struct type, got ${String(t)}`);
  };
  const out = build(type);
  if (k !== leaves.length) throw new TypeError(`fromLeaves: ${leaves.length} leaves for a type with ${k}`);
  return out;
}

/** The concrete (run-time) type of a value; unknown dimensions filled in. */
export function valueType(v: RtValue): Type {
  switch (v.kind) {
    case 'tensor':
    case 'struct':
    case 'sequence':
    case 'federated':
    case 'function':
      return v.type;
    case 'placement':
      throw new TypeError('valueType: placement');
  }
}
