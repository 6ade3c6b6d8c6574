/**
 * Local computations: ordinary TypeScript (or tfjs) code that runs at one
 * place, like `tff.tf_computation`.
 *
 * `localComputation(paramTypes, fn, { result?, name?, env? })`. `fn` receives
 * one JS value per parameter type (in the documented output form: numbers,
 * nested arrays, objects) and returns a value of the result type (any accepted
 * input form). When `result` is not given it is inferred by calling `fn` once
 * on zero values of the parameter types (a probe): a tf.Tensor or typed array
 * gives its dtype and shape; a plain number gives the parameters' dtype when
 * all their numeric leaves share one (int32 -> int32, float64 -> float64),
 * else their one float dtype, else float32 (a non-integer returned where an
 * integer dtype was inferred is a clear error at run time, never rounded);
 * a bigint gives int64; a boolean
 * gives bool; nested numeric arrays a tensor; objects named structs, mixed
 * arrays positional structs. If a parameter has an unknown dimension or is a
 * sequence, inferred result dimensions are unknown (`?`). Async functions need
 * `result`.
 *
 * Serialization forms (see serialize.ts):
 * - registry: `registerLocalComputation(name, comp)`; serialized by name and
 *   looked up on deserialization (any function, closures included);
 * - source: `fn.toString()`. Deserialized only when the caller passes
 *   `{ allowSource: true }`, and then compiled lazily, on the first call of the
 *   computation, with `new Function` inside a `with` scope where only the
 *   parameters, standard globals (Math, Number, Array, typed arrays, ...) and
 *   the names listed in `env` resolve; any other free name throws a
 *   FreeNameError naming it. That scope is a closure detector, NOT a sandbox:
 *   source text can reach every global and `process` through `this`,
 *   `Object.constructor` and the like, so running it runs arbitrary code with
 *   the caller's full authority. Serialization refuses a function that is not
 *   an expression (method shorthand, native, bound) or that reads a closure
 *   variable during a probe run.
 */
import { FedSerializationError, FedTypeError } from './errors.js';
import * as ir from './ir.js';
import type { LocalDef } from './ir.js';
import { describe, isFloatDType, isType, StructType, TensorType, type DType, type Type } from './types.js';
import { isTensorLike, tensorToJs, TensorValue, allocate } from './values.js';
import { makeComputation, type Computation } from './tracing.js';

export interface LocalComputationOptions {
  /** The result type; inferred by a probe call when absent. */
  result?: Type;
  /** Name for messages, printed IR (`comp#name`) and serialization (default fn.name or 'local'). */
  name?: string;
  /**
   * Names the function uses besides its parameters and standard globals, with
   * their values (e.g. `{ tf }`). Only the names are serialized; pass the
   * values again to deserializeComputation({ env }).
   */
  env?: Readonly<Record<string, unknown>>;
  /**
   * Pass tensor arguments of rank >= 1 as their typed arrays (read-only
   * views) instead of number[] (`toJsTyped`): for computations on
   * model-sized tensors. Default false.
   */
  typedArrays?: boolean;
}

const envValues = new WeakMap<LocalDef, Readonly<Record<string, unknown>>>();
const typedDefs = new WeakSet<LocalDef>();
/** Whether `def` takes its tensor arguments as typed arrays (`typedArrays`). */
export function localTakesTypedArrays(def: LocalDef): boolean {
  return typedDefs.has(def);
}
export function localEnvValues(def: LocalDef): Readonly<Record<string, unknown>> {
  return envValues.get(def) ?? {};
}

/** A JS value of `t` made of zeros (unknown dimensions taken as 1; sequences of one element). */
export function zeroJs(t: Type): unknown {
  switch (t.kind) {
    case 'tensor': {
      const shape = t.shape.map((d) => d ?? 1);
      const n = shape.reduce((a, b) => a * b, 1);
      return tensorToJs(new TensorValue(new TensorType(t.dtype, shape), allocate(t.dtype, n)));
    }
    case 'struct': {
      const named = t.elements.length > 0 && t.elements.every(([n]) => n !== undefined);
      if (named) return Object.fromEntries(t.elements.map(([n, e]) => [n!, zeroJs(e)]));
      return t.elements.map(([, e]) => zeroJs(e));
    }
    case 'sequence':
      return [zeroJs(t.element)];
    default:
      throw new TypeError(`no zero value for ${String(t)}`);
  }
}

function hasUnknownOrSequence(t: Type): boolean {
  switch (t.kind) {
    case 'tensor':
      return t.shape.some((d) => d === null);
    case 'struct':
      return t.elements.some(([, e]) => hasUnknownOrSequence(e));
    case 'sequence':
      return true;
    default:
      return false;
  }
}

/** The dtype of plain-number results: the parameters' dtype when all numeric leaves share one, else their one float dtype, else float32. */
function numberDType(params: readonly Type[]): DType {
  const all = new Set<DType>();
  const collect = (t: Type): void => {
    if (t.kind === 'tensor') {
      if (t.dtype !== 'bool') all.add(t.dtype);
    } else if (t.kind === 'struct') t.elements.forEach(([, e]) => collect(e));
    else if (t.kind === 'sequence') collect(t.element);
  };
  params.forEach(collect);
  if (all.size === 1) return [...all][0]!;
  const floats = [...all].filter(isFloatDType);
  return floats.length === 1 ? floats[0]! : 'float32';
}

/** Infer the type of a JS value returned by a local computation. */
export function inferJsType(x: unknown, numberDType: DType, path = 'result'): Type {
  if (typeof x === 'number') return new TensorType(numberDType);
  if (typeof x === 'bigint') return new TensorType('int64');
  if (typeof x === 'boolean') return new TensorType('bool');
  if (isTensorLike(x)) {
    const d = x.dtype;
    if (d === 'float32' || d === 'int32' || d === 'bool') return new TensorType(d, x.shape);
    throw new TypeError(`${path}: tf.Tensor of dtype ${String(d)} is not supported`);
  }
  if (ArrayBuffer.isView(x)) {
    const n = (x as unknown as { length: number }).length;
    if (x instanceof Int32Array) return new TensorType('int32', [n]);
    if (x instanceof Uint32Array) return new TensorType('uint32', [n]);
    if (x instanceof BigInt64Array) return new TensorType('int64', [n]);
    if (x instanceof Float32Array) return new TensorType('float32', [n]);
    if (x instanceof Float64Array) return new TensorType('float64', [n]);
    throw new TypeError(`${path}: ${describe(x)} has no dtype; use Int32Array, Uint32Array, BigInt64Array, Float32Array or Float64Array`);
  }
  if (Array.isArray(x)) {
    if (x.length === 0) throw new TypeError(`${path}: cannot infer a type from an empty array`);
    const shape: number[] = [];
    let p: unknown = x;
    while (Array.isArray(p)) {
      shape.push(p.length);
      p = p[0];
    }
    const flat = (x as unknown[]).flat(Infinity);
    const rect = flat.length === shape.reduce((a, b) => a * b, 1);
    if (rect && flat.every((e) => typeof e === 'number')) return new TensorType(numberDType, shape);
    if (rect && flat.every((e) => typeof e === 'boolean')) return new TensorType('bool', shape);
    if (rect && flat.every((e) => typeof e === 'bigint')) return new TensorType('int64', shape);
    return new StructType(x.map((e, i) => inferJsType(e, numberDType, `${path}[${i}]`)));
  }
  if (x !== null && typeof x === 'object') {
    return new StructType(Object.fromEntries(Object.entries(x).map(([k, v]) => [k, inferJsType(v, numberDType, `${path}.${k}`)])));
  }
  throw new TypeError(`${path}: cannot infer a type from ${describe(x)}`);
}

function unknownDims(t: Type): Type {
  if (t.kind === 'tensor') return new TensorType(t.dtype, t.shape.map(() => null));
  if (t.kind === 'struct') return new StructType(t.elements.map(([n, e]) => [n, unknownDims(e)] as const));
  return t;
}

function checkParamType(name: string, t: Type, i: number): void {
  const bad = (x: Type): boolean =>
    x.kind === 'federated' || x.kind === 'function' || x.kind === 'placement' || (x.kind === 'struct' && x.elements.some(([, e]) => bad(e))) || (x.kind === 'sequence' && bad(x.element));
  if (bad(t)) {
    throw new FedTypeError({
      intrinsic: name,
      argument: `paramTypes[${i}]`,
      expected: 'an unplaced tensor, struct or sequence type',
      actual: String(t),
      hint: 'local computations run at one place; apply them to federated values with federatedMap',
    });
  }
}

export function localComputation(
  paramTypes: Type | readonly Type[],
  fn: (...args: any[]) => unknown,
  options: LocalComputationOptions = {},
): Computation {
  const list = isType(paramTypes) ? [paramTypes] : paramTypes;
  if (!Array.isArray(list)) throw new TypeError(`localComputation: "paramTypes" expected a Type or an array of Types, got ${describe(paramTypes)}`);
  list.forEach((t, i) => {
    if (!isType(t)) throw new TypeError(`localComputation: "paramTypes[${i}]" expected a Type, got ${describe(t)}`);
  });
  if (typeof fn !== 'function') throw new TypeError(`localComputation: "fn" expected a function, got ${describe(fn)}`);
  if (options === null || typeof options !== 'object') throw new TypeError(`localComputation: "options" expected an object, got ${describe(options)}`);
  const name = options.name ?? (fn.name || 'local');
  if (!/^[A-Za-z_$][\w$]*$/.test(name)) throw new TypeError(`localComputation: "name" expected an identifier, got ${JSON.stringify(name)}`);
  const params = list as Type[];
  params.forEach((t, i) => checkParamType(name, t, i));
  if (options.env !== undefined && (options.env === null || typeof options.env !== 'object')) {
    throw new TypeError(`localComputation: "env" expected an object of name -> value, got ${describe(options.env)}`);
  }
  let resultType: Type;
  if (options.result !== undefined) {
    if (!isType(options.result)) throw new TypeError(`localComputation: "result" expected a Type, got ${describe(options.result)}`);
    resultType = options.result;
  } else {
    let out: unknown;
    try {
      out = fn(...params.map(zeroJs));
    } catch (e) {
      throw new FedTypeError({
        intrinsic: name,
        argument: 'result',
        expected: 'a result type (inferred by calling fn on zeros)',
        actual: `a probe call that threw: ${(e as Error)?.message ?? String(e)}`,
        hint: 'pass { result: <Type> } to localComputation',
      });
    }
    if (out instanceof Promise) {
      out.catch(() => undefined);
      throw new FedTypeError({ intrinsic: name, argument: 'result', expected: 'a synchronous result, or { result: <Type> }', actual: 'a Promise', hint: 'async local computations must declare their result type' });
    }
    try {
      resultType = inferJsType(out, numberDType(params));
    } catch (e) {
      throw new FedTypeError({ intrinsic: name, argument: 'result', expected: 'a value whose type can be inferred', actual: (e as Error).message, hint: 'pass { result: <Type> }' });
    }
    if (params.some(hasUnknownOrSequence)) resultType = unknownDims(resultType);
  }
  const def: LocalDef = Object.freeze({
    name,
    parameterTypes: Object.freeze([...params]),
    resultType,
    fn,
    registryName: undefined,
    env: Object.freeze(Object.keys(options.env ?? {})),
    source: undefined,
  });
  if (options.env) envValues.set(def, Object.freeze({ ...options.env }));
  if (options.typedArrays === true) typedDefs.add(def);
  return makeComputation('local', ir.local(def), params, name);
}

// ---------------------------------------------------------------------------
// Registry of local computations (serialized by name).

const registryByName = new Map<string, LocalDef>();
const registryByDef = new Map<LocalDef, string>();

/** Register a local computation under `name`, so that it serializes by name and deserializes from this registry. */
export function registerLocalComputation(name: string, comp: Computation): void {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError(`registerLocalComputation: "name" expected a non-empty string, got ${describe(name)}`);
  if (typeof comp !== 'function' || (comp as Computation).kind !== 'local') {
    throw new TypeError(`registerLocalComputation: "comp" expected a local computation, got ${describe(comp)}`);
  }
  const def = (comp.ir as ir.LocalNode).def;
  const prev = registryByName.get(name);
  if (prev && prev !== def) throw new TypeError(`registerLocalComputation: name '${name}' is already registered`);
  registryByName.set(name, def);
  registryByDef.set(def, name);
}
export function unregisterLocalComputation(name: string): void {
  const d = registryByName.get(name);
  if (d) registryByDef.delete(d);
  registryByName.delete(name);
}
export function registeredName(def: LocalDef): string | undefined {
  return registryByDef.get(def);
}
/**
 * A family of local computations named `<prefix><parameters>` (e.g. the
 * learning layer's `fedcrypt.fedavg.update:network_a:…`): `make(rest)`
 * returns the computation for the rest of the name, or undefined when the
 * name is not one of the family. A made computation is registered under its
 * full name, so it serializes by name and is made once per process.
 */
const factories = new Map<string, (rest: string) => Computation | undefined>();
export function registerLocalComputationFactory(prefix: string, make: (rest: string) => Computation | undefined): void {
  if (typeof prefix !== 'string' || prefix.length === 0) throw new TypeError(`registerLocalComputationFactory: "prefix" expected a non-empty string, got ${describe(prefix)}`);
  if (typeof make !== 'function') throw new TypeError(`registerLocalComputationFactory: "make" expected a function, got ${describe(make)}`);
  const prev = factories.get(prefix);
  if (prev && prev !== make) throw new TypeError(`registerLocalComputationFactory: prefix '${prefix}' is already registered`);
  factories.set(prefix, make);
}
export function registeredLocal(name: string): LocalDef | undefined {
  const hit = registryByName.get(name);
  if (hit !== undefined || typeof name !== 'string') return hit;
  for (const [prefix, make] of factories) {
    if (!name.startsWith(prefix)) continue;
    const comp = make(name.slice(prefix.length));
    if (comp === undefined) return undefined;
    registerLocalComputation(name, comp);
    return registryByName.get(name);
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Source form. The `with` scope below detects closure variables; it is NOT a
// sandbox and confines nothing (`this`, `Object.constructor("return process")()`
// reach everything). Source text it runs is code with the caller's authority.

const ALLOWED_GLOBALS = new Set([
  'Math', 'Number', 'Array', 'Object', 'JSON', 'BigInt', 'Boolean', 'String', 'Symbol', 'Map', 'Set', 'WeakMap',
  'Infinity', 'NaN', 'undefined', 'isNaN', 'isFinite', 'parseFloat', 'parseInt', 'Promise',
  'Error', 'TypeError', 'RangeError',
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array',
  'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array', 'ArrayBuffer', 'DataView',
]);

/** Thrown inside a re-created local computation when it reads a name that is not available. */
export class FreeNameError extends ReferenceError {
  constructor(readonly freeName: string, readonly computation: string) {
    super(
      `local computation '${computation}' refers to '${freeName}', which is not a parameter, a standard global or an env name ` +
        `(source-form local computations must not capture closure variables; pass it in env or use registerLocalComputation)`,
    );
    this.name = 'FreeNameError';
  }
}

/**
 * Re-create a function from its source text inside a `with` scope that
 * resolves only allowed names, so a free name is reported (FreeNameError).
 * This EVALUATES the text: it is not a sandbox, and hostile text escapes it.
 * Only ever call it on text the caller trusts as its own code.
 */
export function recreateFromSource(source: string, name: string, env: Readonly<Record<string, unknown>>): (...a: unknown[]) => unknown {
  const values: Record<string, unknown> = { __name: (f: unknown) => f, ...env };
  const scope = new Proxy(Object.create(null) as object, {
    has: (_, k) => typeof k === 'string',
    get: (_, k) => {
      if (k === Symbol.unscopables) return undefined;
      if (typeof k !== 'string') return undefined;
      if (Object.prototype.hasOwnProperty.call(values, k)) return values[k];
      if (ALLOWED_GLOBALS.has(k)) return (globalThis as Record<string, unknown>)[k];
      throw new FreeNameError(k, name);
    },
    set: (_, k) => {
      throw new FreeNameError(String(k), name);
    },
  });
  let made: unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    made = new Function('__fedcrypt_scope__', `with (__fedcrypt_scope__) { return (${source}\n); }`)(scope);
  } catch (e) {
    throw new FedSerializationError('LOCAL', '', `local computation '${name}': its source is not a function expression (${(e as Error).message})`);
  }
  if (typeof made !== 'function') throw new FedSerializationError('LOCAL', '', `local computation '${name}': its source does not evaluate to a function`);
  return made as (...a: unknown[]) => unknown;
}

/**
 * A function that compiles `source` (recreateFromSource) on its first call and
 * not before: deserializing text with { allowSource: true } evaluates nothing;
 * the code runs only when the computation is invoked.
 */
export function lazySourceFunction(source: string, name: string, env: Readonly<Record<string, unknown>>): (...a: unknown[]) => unknown {
  let made: ((...a: unknown[]) => unknown) | undefined;
  return (...args: unknown[]): unknown => {
    made ??= recreateFromSource(source, name, env);
    return made(...args);
  };
}

/**
 * The source text of a local computation, checked: refuses native/bound
 * functions, method shorthand and classes, and functions that read closure
 * variables during a probe run on zero values.
 */
export function localSource(def: LocalDef): string {
  if (def.source !== undefined) return def.source;
  const src = Function.prototype.toString.call(def.fn);
  const refuse = (why: string): never => {
    throw new FedSerializationError(
      'CLOSURE',
      '',
      `cannot serialize local computation '${def.name}' as source: ${why}; register it with registerLocalComputation(name, comp) to serialize it by name`,
    );
  };
  if (/\{\s*\[native code\]\s*\}\s*$/.test(src)) refuse('it is a native or bound function');
  if (/^class[\s{]/.test(src)) refuse('it is a class');
  try {
    // Syntax check only: a method shorthand like `f(x) { ... }` is not an expression.
    new Function(`return (${src}\n);`);
  } catch {
    refuse('its source text is not a function expression (method shorthand?)');
  }
  const env = Object.fromEntries(def.env.map((n) => [n, localEnvValues(def)[n]]));
  const re = recreateFromSource(src, def.name, env);
  try {
    const out = re(...def.parameterTypes.map(zeroJs));
    if (out instanceof Promise) out.catch(() => undefined);
  } catch (e) {
    if (e instanceof FreeNameError) refuse(`it refers to '${e.freeName}' from its closure (pass it in env, or register it)`);
    // Other errors of the probe run (meaningless zero inputs) are not ours to judge.
  }
  return src;
}

