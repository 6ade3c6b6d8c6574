/**
 * The Federated Core type system (TFF's): tensors, structs, sequences,
 * functions, federated types and the placement type. Every type prints in TFF
 * notation and has an assignability check. Types are immutable (frozen).
 */
import { isPlacement, type Placement } from './placements.js';

export const DTYPES = ['int32', 'int64', 'uint32', 'float32', 'float64', 'bool'] as const;
export type DType = (typeof DTYPES)[number];

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && (DTYPES as readonly string[]).includes(x);
}
export function isIntegerDType(d: DType): boolean {
  return d === 'int32' || d === 'int64' || d === 'uint32';
}
export function isFloatDType(d: DType): boolean {
  return d === 'float32' || d === 'float64';
}

/** A dimension is a non-negative integer, or null when unknown (printed `?`). */
export type Dim = number | null;

export type Type = TensorType | StructType | SequenceType | FunctionType | FederatedType | PlacementType;

abstract class TypeBase {
  abstract readonly kind: Type['kind'];
  abstract toString(): string;
  /** Structural equality. */
  equals(other: Type): boolean {
    return typesEqual(this as unknown as Type, other);
  }
  /** Whether a value of type `source` may be used where `this` is expected. */
  isAssignableFrom(source: Type): boolean {
    return isAssignable(this as unknown as Type, source);
  }
}

export class TensorType extends TypeBase {
  readonly kind = 'tensor' as const;
  readonly dtype: DType;
  readonly shape: readonly Dim[];
  constructor(dtype: DType, shape: readonly Dim[] = []) {
    super();
    if (!isDType(dtype)) {
      throw new TypeError(`TensorType: "dtype" expected one of ${DTYPES.join(', ')}, got ${describe(dtype)}`);
    }
    if (!Array.isArray(shape)) throw new TypeError(`TensorType: "shape" expected an array, got ${describe(shape)}`);
    for (const d of shape) {
      if (d !== null && !(Number.isInteger(d) && d >= 0 && d <= 2 ** 31)) {
        throw new RangeError(`TensorType: "shape" entries expected integers >= 0 or null, got ${describe(d)}`);
      }
    }
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    Object.freeze(this);
  }
  get rank(): number {
    return this.shape.length;
  }
  /** Number of elements, or null when a dimension is unknown. */
  get size(): number | null {
    let n = 1;
    for (const d of this.shape) {
      if (d === null) return null;
      n *= d;
    }
    return n;
  }
  toString(): string {
    return this.shape.length === 0 ? this.dtype : `${this.dtype}[${this.shape.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
  }
}

export type StructElement = readonly [name: string | undefined, type: Type];

export class StructType extends TypeBase {
  readonly kind = 'struct' as const;
  readonly elements: readonly StructElement[];
  /**
   * `new StructType([t1, t2])` (positional), `new StructType({ a: t1, b: t2 })`
   * (named), or `new StructType([['a', t1], [undefined, t2]])` (mixed).
   */
  constructor(elements: readonly (Type | StructElement)[] | Readonly<Record<string, Type>>) {
    super();
    let els: StructElement[];
    if (Array.isArray(elements)) {
      els = elements.map((e, i) => {
        if (isType(e)) return [undefined, e] as const;
        if (Array.isArray(e) && e.length === 2 && (e[0] === undefined || typeof e[0] === 'string') && isType(e[1])) {
          return [e[0], e[1]] as const;
        }
        throw new TypeError(`StructType: element ${i} expected a Type or [name, Type], got ${describe(e)}`);
      });
    } else if (elements !== null && typeof elements === 'object') {
      els = Object.entries(elements as Record<string, unknown>).map(([k, v]) => {
        if (!isType(v)) throw new TypeError(`StructType: field '${k}' expected a Type, got ${describe(v)}`);
        return [k, v] as const;
      });
    } else {
      throw new TypeError(`StructType: "elements" expected an array or an object, got ${describe(elements)}`);
    }
    const seen = new Set<string>();
    for (const [n] of els) {
      if (n === undefined) continue;
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) throw new TypeError(`StructType: field name expected an identifier, got ${JSON.stringify(n)}`);
      if (seen.has(n)) throw new TypeError(`StructType: duplicate field name '${n}'`);
      seen.add(n);
    }
    this.elements = Object.freeze(els.map((e) => Object.freeze(e) as StructElement));
    Object.freeze(this);
  }
  get length(): number {
    return this.elements.length;
  }
  get names(): (string | undefined)[] {
    return this.elements.map((e) => e[0]);
  }
  /** Index of a field by name, or -1. */
  indexOf(name: string): number {
    return this.elements.findIndex((e) => e[0] === name);
  }
  toString(): string {
    return `<${this.elements.map(([n, t]) => (n === undefined ? String(t) : `${n}=${String(t)}`)).join(',')}>`;
  }
}

export class SequenceType extends TypeBase {
  readonly kind = 'sequence' as const;
  readonly element: Type;
  constructor(element: Type) {
    super();
    if (!isType(element)) throw new TypeError(`SequenceType: "element" expected a Type, got ${describe(element)}`);
    if (element.kind === 'federated' || element.kind === 'placement') {
      throw new TypeError(`SequenceType: "element" cannot be a ${element.kind} type, got ${String(element)}`);
    }
    this.element = element;
    Object.freeze(this);
  }
  toString(): string {
    const e = String(this.element);
    return this.element.kind === 'function' ? `(${e})*` : `${e}*`;
  }
}

export class FunctionType extends TypeBase {
  readonly kind = 'function' as const;
  /** null for a function of no argument. */
  readonly parameter: Type | null;
  readonly result: Type;
  constructor(parameter: Type | null, result: Type) {
    super();
    if (parameter !== null && !isType(parameter)) {
      throw new TypeError(`FunctionType: "parameter" expected a Type or null, got ${describe(parameter)}`);
    }
    if (!isType(result)) throw new TypeError(`FunctionType: "result" expected a Type, got ${describe(result)}`);
    this.parameter = parameter;
    this.result = result;
    Object.freeze(this);
  }
  toString(): string {
    return `(${this.parameter === null ? '' : String(this.parameter)} -> ${String(this.result)})`;
  }
}

export class FederatedType extends TypeBase {
  readonly kind = 'federated' as const;
  readonly member: Type;
  readonly placement: Placement;
  readonly allEqual: boolean;
  constructor(member: Type, placement: Placement, allEqual?: boolean) {
    super();
    if (!isType(member)) throw new TypeError(`FederatedType: "member" expected a Type, got ${describe(member)}`);
    if (member.kind === 'federated' || member.kind === 'placement') {
      throw new TypeError(`FederatedType: "member" cannot be a ${member.kind} type, got ${String(member)}`);
    }
    if (!isPlacement(placement)) {
      throw new TypeError(`FederatedType: "placement" expected CLIENTS, SERVER or AGGREGATORS, got ${describe(placement)}`);
    }
    if (allEqual !== undefined && typeof allEqual !== 'boolean') {
      throw new TypeError(`FederatedType: "allEqual" expected a boolean, got ${describe(allEqual)}`);
    }
    this.member = member;
    this.placement = placement;
    this.allEqual = allEqual ?? placement.defaultAllEqual;
    Object.freeze(this);
  }
  toString(): string {
    const m = String(this.member);
    return this.allEqual ? `${m}@${this.placement.name}` : `{${m}}@${this.placement.name}`;
  }
}

/** The type of a placement literal (printed `placement`). */
export class PlacementType extends TypeBase {
  readonly kind = 'placement' as const;
  constructor() {
    super();
    Object.freeze(this);
  }
  toString(): string {
    return 'placement';
  }
}

export function isType(x: unknown): x is Type {
  return (
    x instanceof TensorType ||
    x instanceof StructType ||
    x instanceof SequenceType ||
    x instanceof FunctionType ||
    x instanceof FederatedType ||
    x instanceof PlacementType
  );
}

export function typesEqual(a: Type, b: Type): boolean {
  if (a === b) return true;
  switch (a.kind) {
    case 'tensor':
      return b.kind === 'tensor' && a.dtype === b.dtype && a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
    case 'struct':
      return (
        b.kind === 'struct' &&
        a.elements.length === b.elements.length &&
        a.elements.every(([n, t], i) => n === b.elements[i]![0] && typesEqual(t, b.elements[i]![1]))
      );
    case 'sequence':
      return b.kind === 'sequence' && typesEqual(a.element, b.element);
    case 'function':
      return (
        b.kind === 'function' &&
        (a.parameter === null ? b.parameter === null : b.parameter !== null && typesEqual(a.parameter, b.parameter)) &&
        typesEqual(a.result, b.result)
      );
    case 'federated':
      return b.kind === 'federated' && a.placement === b.placement && a.allEqual === b.allEqual && typesEqual(a.member, b.member);
    case 'placement':
      return b.kind === 'placement';
  }
}

/**
 * TFF assignability: may a value of type `source` be used where `target` is
 * expected?
 * - tensors: same dtype and rank; a target dimension `?` accepts any size.
 * - structs: same length; where the target names a field the source must use
 *   the same name; elements pairwise assignable.
 * - sequences: elements assignable. Functions: parameter contravariant, result
 *   covariant. Federated: same placement, member assignable, and an all-equal
 *   target needs an all-equal source (an all-equal value may be used where a
 *   per-member value is expected, not the reverse).
 */
export function isAssignable(target: Type, source: Type): boolean {
  switch (target.kind) {
    case 'tensor':
      return (
        source.kind === 'tensor' &&
        target.dtype === source.dtype &&
        target.shape.length === source.shape.length &&
        target.shape.every((d, i) => d === null || d === source.shape[i])
      );
    case 'struct':
      return (
        source.kind === 'struct' &&
        target.elements.length === source.elements.length &&
        target.elements.every(([n, t], i) => {
          const [sn, st] = source.elements[i]!;
          return (n === undefined || n === sn) && isAssignable(t, st);
        })
      );
    case 'sequence':
      return source.kind === 'sequence' && isAssignable(target.element, source.element);
    case 'function':
      return (
        source.kind === 'function' &&
        (target.parameter === null
          ? source.parameter === null
          : source.parameter !== null && isAssignable(source.parameter, target.parameter)) &&
        isAssignable(target.result, source.result)
      );
    case 'federated':
      return (
        source.kind === 'federated' &&
        target.placement === source.placement &&
        (!target.allEqual || source.allEqual) &&
        isAssignable(target.member, source.member)
      );
    case 'placement':
      return source.kind === 'placement';
  }
}

/** Short description of any JS value for error messages. */
export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (isType(x)) return `type ${String(x)}`;
  if (typeof x === 'string') return JSON.stringify(x.length > 40 ? x.slice(0, 40) + '…' : x);
  if (typeof x === 'number' || typeof x === 'boolean') return String(x);
  if (typeof x === 'bigint') return `${x}n`;
  if (typeof x === 'function') return `function ${x.name || '(anonymous)'}`;
  if (Array.isArray(x)) return `array(${x.length})`;
  if (ArrayBuffer.isView(x)) return `${x.constructor.name}(${(x as unknown as { length: number }).length})`;
  if (typeof x === 'object') return (x as object).constructor?.name ? `${(x as object).constructor.name} object` : 'object';
  return typeof x;
}

// ---------------------------------------------------------------------------
// Convenience constructors.

export const tensor = (dtype: DType, shape: readonly Dim[] = []): TensorType => new TensorType(dtype, shape);
export const struct = (elements: ConstructorParameters<typeof StructType>[0]): StructType => new StructType(elements);
export const sequence = (element: Type): SequenceType => new SequenceType(element);
export const fn = (parameter: Type | null, result: Type): FunctionType => new FunctionType(parameter, result);
export const federated = (member: Type, placement: Placement, allEqual?: boolean): FederatedType =>
  new FederatedType(member, placement, allEqual);
export const PLACEMENT_TYPE: PlacementType = new PlacementType();

export const int32 = new TensorType('int32');
export const int64 = new TensorType('int64');
export const uint32 = new TensorType('uint32');
export const float32 = new TensorType('float32');
export const float64 = new TensorType('float64');
export const bool = new TensorType('bool');

/** Is `t` a tensor, or a struct (nested) whose leaves are all tensors? */
export function isTensorStruct(t: Type): boolean {
  if (t.kind === 'tensor') return true;
  if (t.kind === 'struct') return t.elements.every(([, e]) => isTensorStruct(e));
  return false;
}

/** The tensor leaves of a tensor/struct type, in depth-first order, with paths like '.a[1]'. */
export function tensorLeaves(t: Type, path = ''): { path: string; type: TensorType }[] {
  if (t.kind === 'tensor') return [{ path, type: t }];
  if (t.kind === 'struct') {
    return t.elements.flatMap(([n, e], i) => tensorLeaves(e, n === undefined ? `${path}[${i}]` : `${path}.${n}`));
  }
  throw new TypeError(`tensorLeaves: expected a tensor or struct of tensors, got ${String(t)}`);
}

/** Rebuild a type by replacing every tensor leaf. */
export function mapTensorLeaves(t: Type, f: (leaf: TensorType) => TensorType): Type {
  if (t.kind === 'tensor') return f(t);
  if (t.kind === 'struct') return new StructType(t.elements.map(([n, e]) => [n, mapTensorLeaves(e, f)] as const));
  throw new TypeError(`mapTensorLeaves: expected a tensor or struct of tensors, got ${String(t)}`);
}

/** The parameter type of a function taking `params` (TFF packs several into a positional struct). */
export function packParameters(params: readonly Type[]): Type | null {
  if (params.length === 0) return null;
  if (params.length === 1) return params[0]!;
  return new StructType(params);
}

// ---------------------------------------------------------------------------
// JSON form of types (used by serialization).

export type TypeJson =
  | { kind: 'tensor'; dtype: DType; shape: Dim[] }
  | { kind: 'struct'; elements: [string | null, TypeJson][] }
  | { kind: 'sequence'; element: TypeJson }
  | { kind: 'function'; parameter: TypeJson | null; result: TypeJson }
  | { kind: 'federated'; member: TypeJson; placement: string; allEqual: boolean }
  | { kind: 'placement' };

export function typeToJson(t: Type): TypeJson {
  switch (t.kind) {
    case 'tensor':
      return { kind: 'tensor', dtype: t.dtype, shape: [...t.shape] };
    case 'struct':
      return { kind: 'struct', elements: t.elements.map(([n, e]) => [n ?? null, typeToJson(e)]) };
    case 'sequence':
      return { kind: 'sequence', element: typeToJson(t.element) };
    case 'function':
      return { kind: 'function', parameter: t.parameter === null ? null : typeToJson(t.parameter), result: typeToJson(t.result) };
    case 'federated':
      return { kind: 'federated', member: typeToJson(t.member), placement: t.placement.name, allEqual: t.allEqual };
    case 'placement':
      return { kind: 'placement' };
  }
}

