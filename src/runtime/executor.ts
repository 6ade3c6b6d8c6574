/**
 * The IR interpreter of the local runtime. Evaluates the closed IR over run-time
 * values (core/values.ts); intrinsics dispatch to the implementations bound in
 * the core registry for backend 'local' (runtime/intrinsics.ts).
 */
import { FedArgumentError, FedValueError } from '../core/errors.js';
import { getIntrinsicImpl, intrinsicByUri, unpackArgs } from '../core/intrinsics.js';
import type { LocalDef, Node } from '../core/ir.js';
import { fromJs, FunctionValue, PlacementValue, StructValue, toJs, toJsTyped, type RtValue } from '../core/values.js';
import { localTakesTypedArrays } from '../core/local.js';
import type { AggregationProtocol } from '../aggregation/protocol.js';

export const BACKEND = 'local';

export interface LocalEnv {
  /** Number of clients of this invocation; throws FedValueError CLIENT_COUNT when unknown. */
  clients(): number;
  readonly numAggregators: number;
  readonly aggregation: AggregationProtocol;
  /** A fresh id for an aggregation (rendezvous keys). */
  nextId(): string;
  /** The backend whose intrinsic implementations run (default 'local'). */
  readonly backend?: string;
}

/** The local computation behind a function value made from a 'local' IR node. */
const localDefs = new WeakMap<FunctionValue, LocalDef>();
export function localDefOf(f: RtValue): LocalDef | undefined {
  return f.kind === 'function' ? localDefs.get(f) : undefined;
}

class Scope {
  constructor(
    private readonly vars: ReadonlyMap<string, RtValue>,
    private readonly parent: Scope | null,
  ) {}
  lookup(name: string): RtValue {
    const v = this.vars.get(name);
    if (v !== undefined) return v;
    if (this.parent) return this.parent.lookup(name);
    throw new ReferenceError(`IR reference to '${name}' is not in scope`);
  }
  with(name: string, v: RtValue): Scope {
    return new Scope(new Map([[name, v]]), this);
  }
}

export const EMPTY_SCOPE = new Scope(new Map(), null);

export async function runLocal(def: LocalDef, arg: RtValue | null): Promise<RtValue> {
  const n = def.parameterTypes.length;
  const conv = localTakesTypedArrays(def) ? toJsTyped : toJs;
  const jsArgs = n === 0 ? [] : n === 1 ? [conv(arg!)] : (arg as StructValue).elements.map(conv);
  const out = await def.fn(...jsArgs);
  try {
    return fromJs(out, def.resultType, `result of local computation '${def.name}'`);
  } catch (e) {
    if (e instanceof FedArgumentError || e instanceof FedValueError) {
      e.message = `${e.message} (declared result type ${String(def.resultType)}; pass { result } to localComputation if the inferred type is wrong)`;
    }
    throw e;
  }
}

export async function evaluate(node: Node, scope: Scope, env: LocalEnv): Promise<RtValue> {
  switch (node.kind) {
    case 'reference':
      return scope.lookup(node.name);
    case 'selection': {
      const s = await evaluate(node.source, scope, env);
      if (s.kind !== 'struct') throw new TypeError(`selection from a ${s.kind} value`);
      return s.elements[node.index]!;
    }
    case 'struct': {
      const els: RtValue[] = [];
      for (const e of node.elements) els.push(await evaluate(e.value, scope, env));
      return new StructValue(node.type, els);
    }
    case 'call': {
      const f = await evaluate(node.fn, scope, env);
      if (f.kind !== 'function') throw new TypeError(`call of a ${f.kind} value`);
      const a = node.arg === null ? null : await evaluate(node.arg, scope, env);
      return f.apply(a);
    }
    case 'lambda': {
      const { parameterName, body } = node;
      return new FunctionValue(node.type, (a) => evaluate(body, parameterName === null ? scope : scope.with(parameterName, a!), env), 'lambda');
    }
    case 'block': {
      let s = scope;
      for (const l of node.locals) s = s.with(l.name, await evaluate(l.value, s, env));
      return evaluate(node.result, s, env);
    }
    case 'intrinsic': {
      const found = intrinsicByUri(node.uri);
      if (!found) throw new TypeError(`unknown intrinsic '${node.uri}'`);
      const backend = env.backend ?? BACKEND;
      const impl = getIntrinsicImpl<LocalEnv, RtValue>(backend, node.uri);
      if (!impl) throw new TypeError(`intrinsic '${node.uri}' has no implementation in the ${backend} runtime`);
      const { def, variant } = found;
      const type = node.type;
      const params = node.params;
      return new FunctionValue(
        type,
        (a) => {
          const n = unpackArgs(variant, type)!.length;
          const args = n === 0 ? [] : n === 1 ? [a!] : (a as StructValue).elements;
          return impl({ def, variant, type, params, args, ctx: env });
        },
        node.uri,
      );
    }
    case 'data':
      return node.value;
    case 'placement':
      return new PlacementValue(node.placement);
    case 'local': {
      const def = node.def;
      const f = new FunctionValue(node.type, (a) => runLocal(def, a), def.name);
      localDefs.set(f, def);
      return f;
    }
  }
}
