/**
 * Tracing: `federatedComputation(paramTypes, fn)` calls `fn` once on symbolic
 * values and records what it does as IR. Every intrinsic call and every call
 * of another computation is bound to a block local (`v1`, `v2`, ...), so a
 * value used twice is computed once, as in TFF.
 *
 * A Computation is a callable object: `await comp(...args)` runs it in the
 * current execution context; called while another computation is being traced
 * it records a call instead (composition).
 */
import { inspect } from 'node:util';
import { currentContext } from './context.js';
import { FedArgumentError, FedTypeError, FedValueError } from './errors.js';
import * as ir from './ir.js';
import { printIR, formatIR, type LambdaNode, type LocalNode, type Node } from './ir.js';
import { isPlacement } from './placements.js';
import { describe, FunctionType, isType, packParameters, TensorType, type Type } from './types.js';
import { fromJs, isTensorLike, type RtValue } from './values.js';
import { localComputation } from './local.js';

export interface Computation {
  (...args: unknown[]): any;
  /** 'federated' (traced into IR) or 'local' (ordinary JS at one place). */
  readonly kind: 'federated' | 'local';
  readonly computationName: string;
  /** The type signature, printable in TFF notation: `({int32[2]}@CLIENTS -> int32[2]@SERVER)`. */
  readonly typeSignature: FunctionType;
  readonly parameterTypes: readonly Type[];
  /** The IR: a lambda (federated) or a local node. */
  readonly ir: LambdaNode | LocalNode;
  /** TFF compact IR text. */
  printIR(): string;
  /** Multi-line IR text. */
  formatIR(): string;
}

const COMPUTATION = Symbol('fedcrypt.computation');

export function isComputation(x: unknown): x is Computation {
  return typeof x === 'function' && (x as unknown as Record<symbol, unknown>)[COMPUTATION] === true;
}

// ---------------------------------------------------------------------------
// Trace state.

class TraceState {
  readonly locals: { name: string; value: Node }[] = [];
  private counter = 0;
  constructor(readonly name: string) {}
  bind(value: Node): Node {
    const name = `v${++this.counter}`;
    this.locals.push({ name, value });
    return ir.reference(name, value.type);
  }
}

const traceStack: TraceState[] = [];
function currentTrace(): TraceState | undefined {
  return traceStack[traceStack.length - 1];
}

export function requireTrace(name: string): TraceState {
  const t = currentTrace();
  if (!t) {
    throw new FedTypeError({
      intrinsic: name,
      argument: 'context',
      expected: 'a call while tracing a federatedComputation',
      actual: 'a call outside any federated computation',
    });
  }
  return t;
}

// ---------------------------------------------------------------------------
// Symbolic values.

const SYM = Symbol('fedcrypt.symbolic');
const SYM_NODE = Symbol('fedcrypt.symbolic.node');
const SYM_TRACE = Symbol('fedcrypt.symbolic.trace');

/** A value seen while tracing: it stands for an IR node of some type. Struct fields: `x.a`, `x[0]`, `const [a, b] = x`. */
export interface Symbolic {
  readonly node: Node;
  readonly type: Type;
  readonly [key: string]: any;
}

export function isSymbolic(x: unknown): x is Symbolic {
  return x !== null && typeof x === 'object' && (x as Record<symbol, unknown>)[SYM] === true;
}

function noCoercion(t: Type): () => never {
  return () => {
    throw new FedTypeError({
      intrinsic: 'federatedComputation',
      argument: 'symbolic value',
      expected: 'intrinsics or computations to be applied to it',
      actual: `an attempt to use a ${String(t)} as a plain JS value`,
      hint: 'values are symbolic while tracing; do arithmetic in a localComputation applied with federatedMap',
    });
  };
}

const LENIENT = new Set(['constructor', 'then', 'toJSON', 'asymmetricMatch', '$$typeof', 'nodeType', 'inspect', 'prototype']);

export function makeSymbolic(node: Node, trace: TraceState): Symbolic {
  const t = node.type;
  const target = Object.create(null) as Record<string | symbol, unknown>;
  return new Proxy(target, {
    get(_, prop) {
      if (prop === SYM) return true;
      if (prop === SYM_NODE) return node;
      if (prop === SYM_TRACE) return trace;
      if (prop === 'node') return node;
      if (prop === 'type') return t;
      if (prop === Symbol.toPrimitive || prop === 'valueOf') return noCoercion(t);
      if (prop === inspect.custom || prop === 'toString') return () => `Symbolic(${printIR(node)}: ${String(t)})`;
      if (prop === Symbol.iterator) {
        if (t.kind !== 'struct') return noCoercion(t);
        return function* () {
          for (let i = 0; i < t.elements.length; i++) yield makeSymbolic(ir.selection(node, i), trace);
        };
      }
      if (typeof prop !== 'string') return undefined;
      if (t.kind === 'struct') {
        const byName = t.indexOf(prop);
        if (byName >= 0) return makeSymbolic(ir.selection(node, byName), trace);
        if (/^\d+$/.test(prop) && Number(prop) < t.elements.length) {
          const n = ir.selection(node, Number(prop));
          // Selected by position: print x[i] even if the field has a name.
          return makeSymbolic(Object.freeze({ ...n, name: undefined }), trace);
        }
        if (prop === 'length') return t.elements.length;
      }
      if (LENIENT.has(prop)) return undefined;
      throw new FedTypeError({
        intrinsic: 'federatedComputation',
        argument: prop,
        expected: t.kind === 'struct' ? `a field of ${String(t)}` : 'a struct value to select from',
        actual: String(t),
        hint: t.kind === 'federated' ? 'select inside a localComputation applied with federatedMap' : undefined,
      });
    },
    set() {
      throw new TypeError('symbolic values are immutable');
    },
    has(_, prop) {
      return prop === 'node' || prop === 'type' || (t.kind === 'struct' && typeof prop === 'string' && t.indexOf(prop) >= 0);
    },
  }) as unknown as Symbolic;
}

// ---------------------------------------------------------------------------
// Converting API arguments to IR nodes.

/** Type of a JS constant given in a federated computation (TFF: int -> int32, float -> float32). */
export function constantType(x: unknown): Type | undefined {
  if (typeof x === 'number') return new TensorType(Number.isInteger(x) ? 'int32' : 'float32');
  if (typeof x === 'boolean') return new TensorType('bool');
  if (typeof x === 'bigint') return new TensorType('int64');
  if (x instanceof Int32Array) return new TensorType('int32', [x.length]);
  if (x instanceof Uint32Array) return new TensorType('uint32', [x.length]);
  if (x instanceof BigInt64Array) return new TensorType('int64', [x.length]);
  if (x instanceof Float32Array) return new TensorType('float32', [x.length]);
  if (x instanceof Float64Array) return new TensorType('float64', [x.length]);
  if (isTensorLike(x)) {
    const d = x.dtype === 'int32' ? 'int32' : x.dtype === 'bool' ? 'bool' : x.dtype === 'float32' ? 'float32' : undefined;
    return d ? new TensorType(d, x.shape) : undefined;
  }
  if (Array.isArray(x)) {
    // Rectangular numeric nesting -> tensor; else positional struct.
    const shape: number[] = [];
    let p: unknown = x;
    while (Array.isArray(p)) {
      shape.push(p.length);
      p = p[0];
    }
    const flat = (x as unknown[]).flat(Infinity);
    if (flat.length > 0 && flat.every((e) => typeof e === 'number')) {
      return new TensorType(flat.every((e) => Number.isInteger(e)) ? 'int32' : 'float32', shape);
    }
    if (flat.length > 0 && flat.every((e) => typeof e === 'boolean')) return new TensorType('bool', shape);
    if (flat.length > 0 && flat.every((e) => typeof e === 'bigint')) return new TensorType('int64', shape);
    return undefined;
  }
  return undefined;
}

function dataNodes(v: RtValue): Node {
  if (v.kind === 'tensor') return ir.data(v);
  if (v.kind === 'struct') return ir.struct(v.elements.map((e, i) => ({ name: v.type.elements[i]![0], value: dataNodes(e) })));
  throw new TypeError(`constants of kind ${v.kind} are not supported`);
}

/**
 * Turn an API argument into an IR node: a symbolic value, a computation, a
 * placement, an array/object of those (a struct), or a JS constant (data).
 * `expected` (when given) types constants and plain JS functions.
 */
export function toNode(x: unknown, intrinsic: string, argument: string, expected?: Type): Node {
  const trace = requireTrace(intrinsic);
  if (isSymbolic(x)) {
    if ((x as unknown as Record<symbol, unknown>)[SYM_TRACE] !== trace) {
      throw new FedTypeError({
        intrinsic,
        argument,
        expected: 'a value of the computation being traced',
        actual: `a symbolic value from another computation (${String(x.type)})`,
        hint: 'symbolic values cannot be captured across computations; pass them as arguments',
      });
    }
    return x.node;
  }
  if (isComputation(x)) return x.ir;
  if (isPlacement(x)) return ir.placementLiteral(x);
  if (typeof x === 'function') {
    if (expected?.kind === 'function') return fnNode(x, intrinsic, argument, expected.parameter === null ? [] : [expected.parameter]);
    throw new FedTypeError({ intrinsic, argument, expected: expected ? String(expected) : 'a value', actual: 'a plain JS function' });
  }
  const hasSymbolic = (v: unknown): boolean =>
    isSymbolic(v) || isComputation(v) || isPlacement(v) || (Array.isArray(v) && v.some(hasSymbolic)) ||
    (v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v) && !isTensorLike(v) && Object.values(v).some(hasSymbolic));
  if (expected?.kind === 'struct' && x !== null && typeof x === 'object' && !ArrayBuffer.isView(x) && !isTensorLike(x)) {
    const n = expected.elements.length;
    const names = expected.elements.map(([k]) => k);
    const bad = Array.isArray(x)
      ? x.length !== n
      : Object.keys(x).length !== n || Object.keys(x).some((k) => !names.includes(k));
    if (bad) {
      throw new FedTypeError({
        intrinsic,
        argument,
        expected: String(expected),
        actual: Array.isArray(x) ? `an array of ${x.length}` : `an object with fields ${Object.keys(x).join(', ') || '(none)'}`,
        hint: 'mismatched struct shape',
      });
    }
  }
  if (Array.isArray(x) && (x.some(hasSymbolic) || expected?.kind === 'struct')) {
    const exp = expected?.kind === 'struct' && expected.elements.length === x.length ? expected : undefined;
    return ir.struct(x.map((e, i) => ({ name: exp?.elements[i]![0], value: toNode(e, intrinsic, `${argument}[${i}]`, exp?.elements[i]![1]) })));
  }
  if (x !== null && typeof x === 'object' && !Array.isArray(x) && !ArrayBuffer.isView(x) && !isTensorLike(x)) {
    const entries = Object.entries(x);
    const exp = expected?.kind === 'struct' ? expected : undefined;
    return ir.struct(
      entries.map(([k, v]) => {
        const i = exp ? exp.indexOf(k) : -1;
        return { name: k, value: toNode(v, intrinsic, `${argument}.${k}`, i >= 0 ? exp!.elements[i]![1] : undefined) };
      }),
    );
  }
  const t = expected && (expected.kind === 'tensor' || expected.kind === 'struct') ? expected : constantType(x);
  if (t === undefined) {
    throw new FedTypeError({ intrinsic, argument, expected: expected ? String(expected) : 'a symbolic value or a constant', actual: describe(x) });
  }
  try {
    return dataNodes(fromJs(x, t, argument));
  } catch (e) {
    if (e instanceof FedArgumentError || e instanceof FedValueError) {
      throw new FedTypeError({ intrinsic, argument, expected: String(t), actual: describe(x), hint: e.message });
    }
    throw e;
  }
}

/** A function argument: a computation, a symbolic function, or a plain JS function (wrapped as a local computation of `paramTypes`). */
export function fnNode(x: unknown, intrinsic: string, argument: string, paramTypes: readonly Type[]): Node {
  if (isComputation(x)) return x.ir;
  if (isSymbolic(x)) return toNode(x, intrinsic, argument);
  if (typeof x === 'function') {
    return localComputation(paramTypes, x as (...a: unknown[]) => unknown, { name: x.name || `${intrinsic}_${argument}` }).ir;
  }
  throw new FedTypeError({
    intrinsic,
    argument,
    expected: `a function (${paramTypes.map(String).join(', ')} -> U): a computation or a JS function`,
    actual: describe(x),
  });
}

// ---------------------------------------------------------------------------
// Computations.

function normalizeParams(fnName: string, paramTypes: unknown): Type[] {
  const list = isType(paramTypes) ? [paramTypes] : paramTypes;
  if (!Array.isArray(list)) throw new TypeError(`${fnName}: "paramTypes" expected a Type or an array of Types, got ${describe(paramTypes)}`);
  list.forEach((t, i) => {
    if (!isType(t)) throw new TypeError(`${fnName}: "paramTypes[${i}]" expected a Type, got ${describe(t)}`);
  });
  return list as Type[];
}

export function makeComputation(kind: 'federated' | 'local', node: LambdaNode | LocalNode, parameterTypes: readonly Type[], name: string): Computation {
  const comp = function (this: unknown, ...args: unknown[]): unknown {
    if (currentTrace()) return traceCall(comp, args);
    return currentContext().invoke(comp, args);
  } as Computation;
  Object.defineProperties(comp, {
    [COMPUTATION]: { value: true },
    kind: { value: kind, enumerable: true },
    computationName: { value: name, enumerable: true },
    typeSignature: { value: node.type, enumerable: true },
    parameterTypes: { value: Object.freeze([...parameterTypes]), enumerable: true },
    ir: { value: node, enumerable: true },
    printIR: { value: () => printIR(node) },
    formatIR: { value: () => formatIR(node) },
    toString: { value: () => `${name}: ${String(node.type)}` },
    [inspect.custom]: { value: () => `Computation ${name}: ${String(node.type)}` },
  });
  Object.defineProperty(comp, 'name', { value: name });
  return comp;
}

function traceCall(comp: Computation, args: unknown[]): Symbolic {
  const trace = currentTrace()!;
  const name = comp.computationName;
  const params = comp.parameterTypes;
  if (args.length !== params.length) {
    throw new FedTypeError({ intrinsic: name, argument: 'arguments', expected: `${params.length} argument(s)`, actual: `${args.length}` });
  }
  const nodes = args.map((a, i) => {
    const n = toNode(a, name, `arg[${i}]`, params[i]);
    if (!params[i]!.isAssignableFrom(n.type)) {
      const federatedToLocal = comp.kind === 'local' && n.type.kind === 'federated';
      throw new FedTypeError({
        intrinsic: name,
        argument: `arg[${i}]`,
        expected: String(params[i]),
        actual: String(n.type),
        hint: federatedToLocal ? 'a local computation runs at one place: apply it with federatedMap' : undefined,
      });
    }
    return n;
  });
  const arg = nodes.length === 0 ? null : nodes.length === 1 ? nodes[0]! : ir.struct(nodes.map((value) => ({ name: undefined, value })));
  return makeSymbolic(trace.bind(ir.call(comp.ir, arg)), trace);
}

export interface FederatedComputationOptions {
  /** Name used in messages and printed calls (default: fn.name or 'computation'). */
  name?: string;
}

/**
 * Trace `fn` over symbolic values of `paramTypes` into a federated computation.
 * `fn` receives one symbolic argument per parameter type and returns a
 * symbolic value, a constant, or an array/object of those (a struct).
 */
export function federatedComputation(
  paramTypes: Type | readonly Type[],
  fn: (...args: any[]) => unknown,
  options: FederatedComputationOptions = {},
): Computation {
  const params = normalizeParams('federatedComputation', paramTypes);
  if (typeof fn !== 'function') throw new TypeError(`federatedComputation: "fn" expected a function, got ${describe(fn)}`);
  const name = options.name ?? (fn.name || 'computation');
  if (fn.length > params.length) {
    throw new FedTypeError({
      intrinsic: name,
      argument: 'paramTypes',
      expected: `${fn.length} parameter type(s) (the function declares ${fn.length} parameters)`,
      actual: `${params.length}`,
    });
  }
  const trace = new TraceState(name);
  const paramType = packParameters(params);
  const paramRef = paramType === null ? null : ir.reference('arg', paramType);
  const syms =
    paramRef === null ? [] : params.length === 1 ? [makeSymbolic(paramRef, trace)] : params.map((_, i) => makeSymbolic(ir.selection(paramRef, i), trace));
  traceStack.push(trace);
  let body: Node;
  try {
    const out = fn(...syms);
    if (out instanceof Promise) {
      out.catch(() => undefined);
      throw new FedTypeError({ intrinsic: name, argument: 'fn', expected: 'a synchronous function (it is traced once)', actual: 'a function returning a Promise' });
    }
    if (out === undefined) throw new FedTypeError({ intrinsic: name, argument: 'fn result', expected: 'a value', actual: 'undefined' });
    const resultNode = toNode(out, name, 'result');
    body = trace.locals.length === 0 ? resultNode : ir.block(trace.locals, resultNode);
  } finally {
    traceStack.pop();
  }
  const lam = ir.lambda(paramRef === null ? null : 'arg', paramType, body);
  return makeComputation('federated', lam, params, name);
}

/** Emit a call of intrinsic `uri` (used by the intrinsic API functions). */
export function emitCall(fnNode: Node, args: readonly Node[]): Symbolic {
  const trace = currentTrace()!;
  const arg = args.length === 0 ? null : args.length === 1 ? args[0]! : ir.struct(args.map((value) => ({ name: undefined, value })));
  return makeSymbolic(trace.bind(ir.call(fnNode, arg)), trace);
}

