/**
 * JSON serialization of computations.
 *
 * `serializeComputation(comp)` gives JSON text:
 *   { "format": "fedcrypt.computation", "version": 1, "kind": "federated"|"local",
 *     "name": ..., "parameterTypes": [type...], "locals": [local...], "ir": node }
 * Types are objects ({"kind":"tensor","dtype":"int32","shape":[2]}, ...). Every
 * IR node carries its type. Local computations are listed once in `locals` and
 * referenced by index from `local` nodes; each is either
 *   {"form":"registry","registry":name, ...}  (looked up with registerLocalComputation) or
 *   {"form":"source","source":"(x) => ...","env":[names], ...}  (JS source text; see below).
 * Tensor data is a flat array: numbers (NaN, Infinity, -Infinity, -0 as
 * strings), int64 as decimal strings, bool as booleans.
 *
 * `deserializeComputation(text, { env, allowSource })` validates everything
 * (format, version, node kinds, fields, types; then the whole IR is re-checked
 * by typecheck.ts) and returns a callable computation. The round trip is exact:
 * serializing the result gives the same text.
 *
 * Source-form local computations are code. Deserialization refuses them unless
 * the caller passes `{ allowSource: true }`; even then the text is not
 * evaluated while parsing, only when the computation is first invoked, and
 * then it runs with the caller's full authority (the `with` scope that
 * resolves names is NOT a sandbox). Text that is not trusted (anything from
 * the network or a file someone else wrote) must use the registry form, which
 * names a function the receiving side registered itself.
 */
import { FedSerializationError } from './errors.js';
import type { LocalDef, Node } from './ir.js';
import { NODE_KINDS } from './ir.js';
import { lazySourceFunction, localSource, registeredLocal, registeredName } from './local.js';
import { placementByName } from './placements.js';
import {
  FederatedType,
  FunctionType,
  isDType,
  PlacementType,
  SequenceType,
  StructType,
  TensorType,
  typeToJson,
  typesEqual,
  type Type,
  type TypeJson,
} from './types.js';
import { allocate, TensorValue } from './values.js';
import { checkIR } from './typecheck.js';
import { makeComputation, isComputation, type Computation } from './tracing.js';

export const FORMAT = 'fedcrypt.computation';
export const FORMAT_VERSION = 1;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

// ---------------------------------------------------------------------------
// Writing.

function dataToJson(v: TensorValue): Json[] {
  const out: Json[] = [];
  for (let i = 0; i < v.data.length; i++) {
    const x = v.data[i]!;
    if (typeof x === 'bigint') out.push(x.toString());
    else if (v.type.dtype === 'bool') out.push(x === 1);
    else if (Number.isNaN(x)) out.push('NaN');
    else if (x === Infinity) out.push('Infinity');
    else if (x === -Infinity) out.push('-Infinity');
    else if (Object.is(x, -0)) out.push('-0');
    else out.push(x);
  }
  return out;
}

function nodeToJson(n: Node, locals: Map<LocalDef, number>): Json {
  const type = typeToJson(n.type) as unknown as Json;
  switch (n.kind) {
    case 'reference':
      return { kind: 'reference', name: n.name, type };
    case 'selection':
      return { kind: 'selection', source: nodeToJson(n.source, locals), index: n.index, name: n.name ?? null, type };
    case 'struct':
      return { kind: 'struct', elements: n.elements.map((e) => ({ name: e.name ?? null, value: nodeToJson(e.value, locals) })), type };
    case 'call':
      return { kind: 'call', fn: nodeToJson(n.fn, locals), arg: n.arg === null ? null : nodeToJson(n.arg, locals), type };
    case 'lambda':
      return { kind: 'lambda', parameterName: n.parameterName, body: nodeToJson(n.body, locals), type };
    case 'block':
      return { kind: 'block', locals: n.locals.map((l) => ({ name: l.name, value: nodeToJson(l.value, locals) })), result: nodeToJson(n.result, locals), type };
    case 'intrinsic':
      return { kind: 'intrinsic', uri: n.uri, params: { ...n.params }, type };
    case 'data':
      return { kind: 'data', value: dataToJson(n.value), type };
    case 'placement':
      return { kind: 'placement', placement: n.placement.name, type };
    case 'local': {
      let i = locals.get(n.def);
      if (i === undefined) locals.set(n.def, (i = locals.size));
      return { kind: 'local', local: i, type };
    }
  }
}

function localToJson(def: LocalDef): Json {
  const common = {
    name: def.name,
    parameterTypes: def.parameterTypes.map((t) => typeToJson(t)) as unknown as Json,
    result: typeToJson(def.resultType) as unknown as Json,
  };
  const reg = def.registryName ?? registeredName(def);
  if (reg !== undefined) return { ...common, form: 'registry', registry: reg };
  return { ...common, form: 'source', source: localSource(def), env: [...def.env] };
}

/** JSON text of a computation (see the module comment for the format). */
export function serializeComputation(comp: Computation): string {
  if (!isComputation(comp)) throw new TypeError(`serializeComputation: "comp" expected a computation, got ${typeof comp}`);
  const locals = new Map<LocalDef, number>();
  const irJson = nodeToJson(comp.ir, locals);
  const doc = {
    format: FORMAT,
    version: FORMAT_VERSION,
    kind: comp.kind,
    name: comp.computationName,
    parameterTypes: comp.parameterTypes.map((t) => typeToJson(t)),
    locals: [...locals.keys()].map(localToJson),
    ir: irJson,
  };
  return JSON.stringify(doc);
}

// ---------------------------------------------------------------------------
// Reading.

const fail = (code: ConstructorParameters<typeof FedSerializationError>[0], path: string, msg: string): never => {
  throw new FedSerializationError(code, path, msg);
};

function obj(x: unknown, path: string): Record<string, unknown> {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) fail('FIELD', path, `expected an object, got ${Array.isArray(x) ? 'an array' : x === null ? 'null' : typeof x}`);
  return x as Record<string, unknown>;
}
function arr(x: unknown, path: string): unknown[] {
  if (!Array.isArray(x)) fail('FIELD', path, `expected an array, got ${x === null ? 'null' : typeof x}`);
  return x as unknown[];
}
function str(x: unknown, path: string): string {
  if (typeof x !== 'string') fail('FIELD', path, `expected a string, got ${x === null ? 'null' : typeof x}`);
  return x as string;
}
function optName(x: unknown, path: string): string | undefined {
  if (x === null) return undefined;
  return str(x, path);
}
function keys(o: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail('FIELD', path, `unexpected field '${k}'`);
  for (const k of allowed) if (!(k in o)) fail('FIELD', path, `missing field '${k}'`);
}

export const MAX_DEPTH = 256;

function depthOf(path: string): number {
  let d = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 46 /* . */) d++;
  return d;
}

export function typeFromJson(x: unknown, path = '$'): Type {
  if (depthOf(path) > MAX_DEPTH) fail('FIELD', path, `nesting deeper than ${MAX_DEPTH}`);
  const o = obj(x, path);
  try {
    switch (o.kind) {
      case 'tensor': {
        keys(o, ['kind', 'dtype', 'shape'], path);
        if (!isDType(o.dtype)) fail('TYPE', `${path}.dtype`, `unknown dtype ${JSON.stringify(o.dtype)}`);
        return new TensorType(o.dtype as TensorType['dtype'], arr(o.shape, `${path}.shape`) as (number | null)[]);
      }
      case 'struct':
        keys(o, ['kind', 'elements'], path);
        return new StructType(
          arr(o.elements, `${path}.elements`).map((e, i) => {
            const pair = arr(e, `${path}.elements[${i}]`);
            if (pair.length !== 2) fail('TYPE', `${path}.elements[${i}]`, 'expected [name, type]');
            return [optName(pair[0], `${path}.elements[${i}][0]`), typeFromJson(pair[1], `${path}.elements[${i}][1]`)] as const;
          }),
        );
      case 'sequence':
        keys(o, ['kind', 'element'], path);
        return new SequenceType(typeFromJson(o.element, `${path}.element`));
      case 'function':
        keys(o, ['kind', 'parameter', 'result'], path);
        return new FunctionType(o.parameter === null ? null : typeFromJson(o.parameter, `${path}.parameter`), typeFromJson(o.result, `${path}.result`));
      case 'federated': {
        keys(o, ['kind', 'member', 'placement', 'allEqual'], path);
        const p = placementByName(str(o.placement, `${path}.placement`));
        if (!p) fail('TYPE', `${path}.placement`, `unknown placement ${JSON.stringify(o.placement)}`);
        if (typeof o.allEqual !== 'boolean') fail('TYPE', `${path}.allEqual`, 'expected a boolean');
        return new FederatedType(typeFromJson(o.member, `${path}.member`), p!, o.allEqual as boolean);
      }
      case 'placement':
        keys(o, ['kind'], path);
        return new PlacementType();
      default:
        return fail('TYPE', path, `unknown type kind ${JSON.stringify(o.kind)}`);
    }
  } catch (e) {
    if (e instanceof FedSerializationError) throw e;
    return fail('TYPE', path, (e as Error).message);
  }
}

function dataFromJson(values: unknown[], t: TensorType, path: string): TensorValue {
  if (t.size === null) fail('TYPE', path, `data of type ${String(t)} must have a known shape`);
  if (values.length !== t.size) fail('TYPE', path, `data of type ${String(t)} has ${values.length} elements, expected ${t.size}`);
  const out = allocate(t.dtype, values.length);
  values.forEach((x, i) => {
    const p = `${path}[${i}]`;
    switch (t.dtype) {
      case 'int64':
        if (typeof x !== 'string' || !/^-?\d+$/.test(x)) fail('TYPE', p, 'int64 data expected a decimal string');
        (out as BigInt64Array)[i] = BigInt(x as string);
        if ((out as BigInt64Array)[i] !== BigInt(x as string)) fail('TYPE', p, 'int64 data out of range');
        return;
      case 'bool':
        if (typeof x !== 'boolean') fail('TYPE', p, 'bool data expected a boolean');
        (out as Uint8Array)[i] = x ? 1 : 0;
        return;
      case 'int32':
      case 'uint32': {
        if (typeof x !== 'number' || !Number.isInteger(x)) fail('TYPE', p, `${t.dtype} data expected an integer`);
        (out as Int32Array)[i] = x as number;
        if ((out as Int32Array)[i] !== x) fail('TYPE', p, `${t.dtype} data out of range`);
        return;
      }
      default: {
        const special: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity, '-0': -0 };
        if (typeof x === 'string' && x in special) (out as Float64Array)[i] = special[x]!;
        else if (typeof x === 'number') (out as Float64Array)[i] = x;
        else fail('TYPE', p, `${t.dtype} data expected a number`);
        if (t.dtype === 'float32' && typeof x === 'number' && (out as Float32Array)[i] !== x) fail('TYPE', p, 'float32 data is not a float32 value');
      }
    }
  });
  return new TensorValue(t, out);
}

function nodeFromJson(x: unknown, path: string, locals: readonly LocalDef[]): Node {
  if (depthOf(path) > MAX_DEPTH) fail('FIELD', path, `nesting deeper than ${MAX_DEPTH}`);
  const o = obj(x, path);
  if (typeof o.kind !== 'string' || !(NODE_KINDS as readonly string[]).includes(o.kind)) {
    fail('NODE_KIND', path, `unknown IR node kind ${JSON.stringify(o.kind)} (expected one of ${NODE_KINDS.join(', ')})`);
  }
  const type = typeFromJson(o.type, `${path}.type`);
  const n = <T extends Node>(node: T): T => Object.freeze(node);
  const fnType = (): FunctionType => (type.kind === 'function' ? type : fail('TYPE', `${path}.type`, `a ${String(o.kind)} node must have a function type, got ${String(type)}`));
  switch (o.kind) {
    case 'reference':
      keys(o, ['kind', 'name', 'type'], path);
      return n({ kind: 'reference', name: str(o.name, `${path}.name`), type });
    case 'selection':
      keys(o, ['kind', 'source', 'index', 'name', 'type'], path);
      if (!Number.isInteger(o.index)) fail('FIELD', `${path}.index`, 'expected an integer');
      return n({ kind: 'selection', source: nodeFromJson(o.source, `${path}.source`, locals), index: o.index as number, name: optName(o.name, `${path}.name`), type });
    case 'struct': {
      keys(o, ['kind', 'elements', 'type'], path);
      if (type.kind !== 'struct') fail('TYPE', `${path}.type`, `a struct node must have a struct type, got ${String(type)}`);
      const elements = arr(o.elements, `${path}.elements`).map((e, i) => {
        const eo = obj(e, `${path}.elements[${i}]`);
        keys(eo, ['name', 'value'], `${path}.elements[${i}]`);
        return Object.freeze({ name: optName(eo.name, `${path}.elements[${i}].name`), value: nodeFromJson(eo.value, `${path}.elements[${i}].value`, locals) });
      });
      return n({ kind: 'struct', elements: Object.freeze(elements), type: type as StructType });
    }
    case 'call':
      keys(o, ['kind', 'fn', 'arg', 'type'], path);
      return n({ kind: 'call', fn: nodeFromJson(o.fn, `${path}.fn`, locals), arg: o.arg === null ? null : nodeFromJson(o.arg, `${path}.arg`, locals), type });
    case 'lambda': {
      keys(o, ['kind', 'parameterName', 'body', 'type'], path);
      const ft = fnType();
      return n({
        kind: 'lambda',
        parameterName: o.parameterName === null ? null : str(o.parameterName, `${path}.parameterName`),
        parameterType: ft.parameter,
        body: nodeFromJson(o.body, `${path}.body`, locals),
        type: ft,
      });
    }
    case 'block': {
      keys(o, ['kind', 'locals', 'result', 'type'], path);
      const ls = arr(o.locals, `${path}.locals`).map((l, i) => {
        const lo = obj(l, `${path}.locals[${i}]`);
        keys(lo, ['name', 'value'], `${path}.locals[${i}]`);
        return Object.freeze({ name: str(lo.name, `${path}.locals[${i}].name`), value: nodeFromJson(lo.value, `${path}.locals[${i}].value`, locals) });
      });
      return n({ kind: 'block', locals: Object.freeze(ls), result: nodeFromJson(o.result, `${path}.result`, locals), type });
    }
    case 'intrinsic': {
      keys(o, ['kind', 'uri', 'params', 'type'], path);
      const params = obj(o.params, `${path}.params`);
      for (const [k, v] of Object.entries(params)) {
        if (typeof v !== 'number' && typeof v !== 'string' && typeof v !== 'boolean') fail('FIELD', `${path}.params.${k}`, 'expected a number, string or boolean');
      }
      return n({ kind: 'intrinsic', uri: str(o.uri, `${path}.uri`), params: Object.freeze({ ...(params as Record<string, number>) }), type: fnType() });
    }
    case 'data': {
      keys(o, ['kind', 'value', 'type'], path);
      if (type.kind !== 'tensor') fail('TYPE', `${path}.type`, `a data node must have a tensor type, got ${String(type)}`);
      return n({ kind: 'data', value: dataFromJson(arr(o.value, `${path}.value`), type as TensorType, `${path}.value`), type: type as TensorType });
    }
    case 'placement': {
      keys(o, ['kind', 'placement', 'type'], path);
      const p = placementByName(str(o.placement, `${path}.placement`));
      if (!p) fail('FIELD', `${path}.placement`, `unknown placement ${JSON.stringify(o.placement)}`);
      if (type.kind !== 'placement') fail('TYPE', `${path}.type`, `a placement node must have type placement, got ${String(type)}`);
      return n({ kind: 'placement', placement: p!, type: type as PlacementType });
    }
    case 'local': {
      keys(o, ['kind', 'local', 'type'], path);
      const i = o.local;
      if (!Number.isInteger(i) || (i as number) < 0 || (i as number) >= locals.length) fail('LOCAL', `${path}.local`, `no local computation #${String(i)}`);
      return n({ kind: 'local', def: locals[i as number]!, type: fnType() });
    }
  }
  return fail('NODE_KIND', path, `unknown IR node kind ${JSON.stringify(o.kind)}`);
}

export interface DeserializeOptions {
  /** Values of the env names that source-form local computations declared (e.g. { tf }). */
  env?: Readonly<Record<string, unknown>>;
  /**
   * Accept source-form local computations (default false: they are refused
   * with FedSerializationError code LOCAL, and nothing in the text is run).
   *
   * `true` RUNS ARBITRARY CODE WITH THE CALLER'S FULL AUTHORITY: the source is
   * compiled and executed when the computation is invoked (never while
   * parsing), inside a `with` scope that only detects closure variables and is
   * NOT a sandbox (`this` or `Object.constructor("return process")()` reach
   * every global). Pass `true` only for text you wrote yourself or trust as
   * your own code, never for text received over the network; registered
   * (by-name) local computations are the form for text that is not trusted.
   */
  allowSource?: boolean;
}

function localFromJson(x: unknown, path: string, options: DeserializeOptions): LocalDef {
  const o = obj(x, path);
  const name = str(o.name, `${path}.name`);
  const parameterTypes = arr(o.parameterTypes, `${path}.parameterTypes`).map((t, i) => typeFromJson(t, `${path}.parameterTypes[${i}]`));
  const resultType = typeFromJson(o.result, `${path}.result`);
  if (o.form === 'registry') {
    keys(o, ['name', 'parameterTypes', 'result', 'form', 'registry'], path);
    const reg = str(o.registry, `${path}.registry`);
    const def = registeredLocal(reg);
    if (!def) fail('LOCAL', path, `local computation '${reg}' is not registered (registerLocalComputation('${reg}', comp) before deserializing)`);
    const ok =
      def!.parameterTypes.length === parameterTypes.length &&
      def!.parameterTypes.every((t, i) => typesEqual(t, parameterTypes[i]!)) &&
      typesEqual(def!.resultType, resultType) &&
      def!.name === name;
    if (!ok) fail('TYPE', path, `registered local computation '${reg}' does not have the serialized name and types`);
    return def!;
  }
  if (o.form === 'source') {
    if (options.allowSource !== true) {
      fail(
        'LOCAL',
        path,
        `source-form local computation '${name}' refused: source text is code and is not run unless the caller passes { allowSource: true } ` +
          `for text it trusts as its own; register the function (registerLocalComputation) and serialize it by name instead`,
      );
    }
    keys(o, ['name', 'parameterTypes', 'result', 'form', 'source', 'env'], path);
    const source = str(o.source, `${path}.source`);
    const env = arr(o.env, `${path}.env`).map((e, i) => str(e, `${path}.env[${i}]`));
    const values: Record<string, unknown> = {};
    for (const e of env) {
      if (!options.env || !Object.prototype.hasOwnProperty.call(options.env, e)) {
        fail('LOCAL', path, `local computation '${name}' needs '${e}' in deserializeComputation(text, { env: { ${e} } })`);
      }
      values[e] = options.env![e];
    }
    // Not compiled here: the text is evaluated on the computation's first call.
    const fn = lazySourceFunction(source, name, values);
    return Object.freeze({ name, parameterTypes: Object.freeze(parameterTypes), resultType, fn, registryName: undefined, env: Object.freeze(env), source });
  }
  return fail('LOCAL', `${path}.form`, `unknown local computation form ${JSON.stringify(o.form)} (expected "source" or "registry")`);
}

/** Rebuild a callable computation from JSON text; throws FedSerializationError on anything invalid. */
export function deserializeComputation(text: string, options: DeserializeOptions = {}): Computation {
  if (typeof text !== 'string') throw new TypeError(`deserializeComputation: "text" expected a string, got ${typeof text}`);
  if (options === null || typeof options !== 'object') throw new TypeError(`deserializeComputation: "options" expected an object, got ${options === null ? 'null' : typeof options}`);
  if (options.allowSource !== undefined && typeof options.allowSource !== 'boolean') {
    throw new TypeError(`deserializeComputation: "allowSource" expected a boolean, got ${typeof options.allowSource}`);
  }
  if (options.env !== undefined && (options.env === null || typeof options.env !== 'object')) {
    throw new TypeError(`deserializeComputation: "env" expected an object of name -> value, got ${options.env === null ? 'null' : typeof options.env}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return fail('JSON', '$', `not valid JSON (${(e as Error).message})`);
  }
  const o = obj(doc, '$');
  if (o.format !== FORMAT) fail('FORMAT', '$.format', `expected "${FORMAT}", got ${JSON.stringify(o.format)}`);
  if (o.version !== FORMAT_VERSION) fail('VERSION', '$.version', `unsupported format version ${JSON.stringify(o.version)} (this build reads version ${FORMAT_VERSION})`);
  keys(o, ['format', 'version', 'kind', 'name', 'parameterTypes', 'locals', 'ir'], '$');
  if (o.kind !== 'federated' && o.kind !== 'local') fail('FIELD', '$.kind', `expected "federated" or "local", got ${JSON.stringify(o.kind)}`);
  const name = str(o.name, '$.name');
  const parameterTypes = arr(o.parameterTypes, '$.parameterTypes').map((t, i) => typeFromJson(t, `$.parameterTypes[${i}]`));
  const locals = arr(o.locals, '$.locals').map((l, i) => localFromJson(l, `$.locals[${i}]`, options));
  const node = nodeFromJson(o.ir, '$.ir', locals);
  checkIR(node, '$.ir');
  const packed = parameterTypes.length === 0 ? null : parameterTypes.length === 1 ? parameterTypes[0]! : new StructType(parameterTypes);
  const ft = node.type as FunctionType;
  if (o.kind === 'federated' && node.kind !== 'lambda') fail('TYPE', '$.ir', `a federated computation's IR must be a lambda, got ${node.kind}`);
  if (o.kind === 'local' && node.kind !== 'local') fail('TYPE', '$.ir', `a local computation's IR must be a local node, got ${node.kind}`);
  if (packed === null ? ft.parameter !== null : ft.parameter === null || !typesEqual(packed, ft.parameter)) {
    fail('TYPE', '$.parameterTypes', `parameter types do not match the IR's parameter ${String(ft.parameter)}`);
  }
  return makeComputation(o.kind as "federated" | "local", node as Extract<Node, { kind: 'lambda' | 'local' }>, parameterTypes, name);
}


export type { TypeJson };
