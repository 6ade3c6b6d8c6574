/**
 * The closed IR of federated computations (TFF's building blocks).
 *
 * Ten node kinds and no others: reference, selection, struct, call, lambda,
 * block, intrinsic, data, placement, local (a local computation). Every node
 * carries its type. Nodes are plain immutable objects; `printIR` gives TFF's
 * compact notation, e.g. `(arg -> (let v1=federated_sum(arg) in v1))`.
 */
import type { Placement } from './placements.js';
import { FunctionType, PlacementType, StructType, type TensorType, type Type } from './types.js';
import type { TensorValue } from './values.js';

export interface ReferenceNode {
  readonly kind: 'reference';
  readonly name: string;
  readonly type: Type;
}
export interface SelectionNode {
  readonly kind: 'selection';
  readonly source: Node;
  readonly index: number;
  /** The field name when selected by name (printed `x.a`), else undefined (printed `x[0]`). */
  readonly name: string | undefined;
  readonly type: Type;
}
export interface StructNode {
  readonly kind: 'struct';
  readonly elements: readonly { readonly name: string | undefined; readonly value: Node }[];
  readonly type: StructType;
}
export interface CallNode {
  readonly kind: 'call';
  readonly fn: Node;
  readonly arg: Node | null;
  readonly type: Type;
}
export interface LambdaNode {
  readonly kind: 'lambda';
  readonly parameterName: string | null;
  readonly parameterType: Type | null;
  readonly body: Node;
  readonly type: FunctionType;
}
export interface BlockNode {
  readonly kind: 'block';
  readonly locals: readonly { readonly name: string; readonly value: Node }[];
  readonly result: Node;
  readonly type: Type;
}
/** Static intrinsic parameters (e.g. bitwidth); JSON-safe values only. */
export type IntrinsicParams = Readonly<Record<string, number | string | boolean>>;
export interface IntrinsicNode {
  readonly kind: 'intrinsic';
  /** The placement-specific variant uri, e.g. 'federated_mean_at_aggregators'. */
  readonly uri: string;
  readonly params: IntrinsicParams;
  readonly type: FunctionType;
}
export interface DataNode {
  readonly kind: 'data';
  readonly value: TensorValue;
  readonly type: TensorType;
}
export interface PlacementNode {
  readonly kind: 'placement';
  readonly placement: Placement;
  readonly type: PlacementType;
}

/** How a local computation is serialized: its source text, or a name in the local-computation registry. */
export interface LocalDef {
  readonly name: string;
  readonly parameterTypes: readonly Type[];
  readonly resultType: Type;
  /** The JS function (called with one argument per parameter type). */
  readonly fn: (...args: any[]) => unknown;
  /** Set when the function was registered with registerLocalComputation (serialized by name). */
  readonly registryName: string | undefined;
  /** Names the function may use besides standard globals once re-created from source (e.g. ['tf']). */
  readonly env: readonly string[];
  /** Set when `fn` was re-created from source text (deserialized). */
  readonly source: string | undefined;
}
export interface LocalNode {
  readonly kind: 'local';
  readonly def: LocalDef;
  readonly type: FunctionType;
}

export type Node =
  | ReferenceNode
  | SelectionNode
  | StructNode
  | CallNode
  | LambdaNode
  | BlockNode
  | IntrinsicNode
  | DataNode
  | PlacementNode
  | LocalNode;

export const NODE_KINDS = Object.freeze([
  'reference',
  'selection',
  'struct',
  'call',
  'lambda',
  'block',
  'intrinsic',
  'data',
  'placement',
  'local',
] as const);

// ---------------------------------------------------------------------------
// Constructors (no checking beyond what builds the type; see typecheck.ts).

const f = <T extends Node>(n: T): T => Object.freeze(n);

export const reference = (name: string, type: Type): ReferenceNode => f({ kind: 'reference', name, type });
export function selection(source: Node, index: number): SelectionNode {
  const st = source.type;
  if (st.kind !== 'struct' || index < 0 || index >= st.elements.length) {
    throw new TypeError(`selection: index ${index} out of range for ${String(st)}`);
  }
  const [name, type] = st.elements[index]!;
  return f({ kind: 'selection', source, index, name, type });
}
export function struct(elements: readonly { name: string | undefined; value: Node }[]): StructNode {
  const els = Object.freeze(elements.map((e) => Object.freeze({ name: e.name, value: e.value })));
  return f({ kind: 'struct', elements: els, type: new StructType(els.map((e) => [e.name, e.value.type] as const)) });
}
export function call(fn: Node, arg: Node | null, type?: Type): CallNode {
  if (fn.type.kind !== 'function') throw new TypeError(`call: expected a function, got ${String(fn.type)}`);
  return f({ kind: 'call', fn, arg, type: type ?? fn.type.result });
}
export function lambda(parameterName: string | null, parameterType: Type | null, body: Node): LambdaNode {
  return f({ kind: 'lambda', parameterName, parameterType, body, type: new FunctionType(parameterType, body.type) });
}
export function block(locals: readonly { name: string; value: Node }[], result: Node): BlockNode {
  return f({ kind: 'block', locals: Object.freeze(locals.map((l) => Object.freeze({ ...l }))), result, type: result.type });
}
export const intrinsic = (uri: string, params: IntrinsicParams, type: FunctionType): IntrinsicNode =>
  f({ kind: 'intrinsic', uri, params: Object.freeze({ ...params }), type });
export const data = (value: TensorValue): DataNode => f({ kind: 'data', value, type: value.type });
export const placementLiteral = (placement: Placement): PlacementNode => f({ kind: 'placement', placement, type: new PlacementType() });
export const local = (def: LocalDef): LocalNode => {
  const p = def.parameterTypes;
  const param = p.length === 0 ? null : p.length === 1 ? p[0]! : new StructType(p);
  return f({ kind: 'local', def, type: new FunctionType(param, def.resultType) });
};

// ---------------------------------------------------------------------------
// Printing (TFF compact notation).

function printData(v: TensorValue): string {
  const fmt = (x: number | bigint): string => {
    if (typeof x === 'bigint') return `${x}`;
    if (v.type.dtype === 'bool') return x ? 'true' : 'false';
    if (Object.is(x, -0)) return '-0';
    return String(x);
  };
  const shape = v.type.shape as number[];
  let k = 0;
  const rec = (d: number): string => {
    if (d === shape.length) return fmt(v.data[k++]!);
    const parts: string[] = [];
    for (let i = 0; i < shape[d]!; i++) parts.push(rec(d + 1));
    return `[${parts.join(',')}]`;
  };
  const body = rec(0);
  return v.type.dtype === 'int32' || v.type.dtype === 'float32' ? body : `${body}:${v.type.dtype}`;
}

function printParams(p: IntrinsicParams): string {
  const keys = Object.keys(p);
  return keys.length === 0 ? '' : `[${keys.map((k) => `${k}=${String(p[k])}`).join(',')}]`;
}

/** TFF's compact representation of an IR node. */
export function printIR(n: Node): string {
  switch (n.kind) {
    case 'reference':
      return n.name;
    case 'selection':
      return n.name === undefined ? `${printIR(n.source)}[${n.index}]` : `${printIR(n.source)}.${n.name}`;
    case 'struct':
      return `<${n.elements.map((e) => (e.name === undefined ? printIR(e.value) : `${e.name}=${printIR(e.value)}`)).join(',')}>`;
    case 'call':
      return `${printIR(n.fn)}(${n.arg === null ? '' : printIR(n.arg)})`;
    case 'lambda':
      return `(${n.parameterName ?? ''} -> ${printIR(n.body)})`;
    case 'block':
      return `(let ${n.locals.map((l) => `${l.name}=${printIR(l.value)}`).join(',')} in ${printIR(n.result)})`;
    case 'intrinsic':
      return `${n.uri}${printParams(n.params)}`;
    case 'data':
      return printData(n.value);
    case 'placement':
      return n.placement.name;
    case 'local':
      return `comp#${n.def.name}`;
  }
}

/** Multi-line form: one block local per line, indented (for reading large computations). */
export function formatIR(n: Node, indent = ''): string {
  const next = indent + '  ';
  switch (n.kind) {
    case 'lambda':
      return `(${n.parameterName ?? ''} ->\n${next}${formatIR(n.body, next)})`;
    case 'block':
      return `(let\n${n.locals.map((l) => `${next}${l.name}=${formatIR(l.value, next)}`).join(',\n')}\n${indent} in ${formatIR(n.result, indent)})`;
    case 'call':
      return n.fn.kind === 'lambda' ? `${formatIR(n.fn, indent)}(${n.arg === null ? '' : printIR(n.arg)})` : printIR(n);
    default:
      return printIR(n);
  }
}
