/**
 * IR checker: verifies that every node's declared type is the type computed
 * from its children, that references are in scope, and that every intrinsic
 * call is a valid specialization of its registry entry. Used on deserialized
 * IR (a tampered JSON IR is refused) and available to runtimes.
 */
import { FedSerializationError, FedTypeError, FedValueError } from './errors.js';
import { intrinsicByUri, unpackArgs, variantTarget } from './intrinsics.js';
import type { Node } from './ir.js';
import { FunctionType, StructType, typesEqual, type Type } from './types.js';

function mismatch(path: string, what: string, declared: Type, computed: Type | string): never {
  throw new FedSerializationError('TYPE', path, `${what}: declared type ${String(declared)} but ${typeof computed === 'string' ? computed : `computed ${String(computed)}`}`);
}

function same(path: string, what: string, declared: Type, computed: Type): void {
  if (!typesEqual(declared, computed)) mismatch(path, what, declared, computed);
}

/** Throws FedSerializationError (code TYPE, SCOPE or INTRINSIC) naming the JSON path of the bad node. */
export function checkIR(node: Node, path = '$', scope: ReadonlyMap<string, Type> = new Map()): void {
  switch (node.kind) {
    case 'reference': {
      const t = scope.get(node.name);
      if (t === undefined) throw new FedSerializationError('SCOPE', path, `reference to '${node.name}', which is not in scope`);
      same(path, `reference '${node.name}'`, node.type, t);
      return;
    }
    case 'selection': {
      checkIR(node.source, `${path}.source`, scope);
      const st = node.source.type;
      if (st.kind !== 'struct') throw new FedSerializationError('TYPE', path, `selection from a non-struct ${String(st)}`);
      if (!Number.isInteger(node.index) || node.index < 0 || node.index >= st.elements.length) {
        throw new FedSerializationError('TYPE', path, `selection index ${node.index} out of range for ${String(st)}`);
      }
      const [n, t] = st.elements[node.index]!;
      if (node.name !== undefined && node.name !== n) throw new FedSerializationError('TYPE', path, `selection name '${node.name}' does not match field ${node.index} of ${String(st)}`);
      same(path, 'selection', node.type, t);
      return;
    }
    case 'struct':
      node.elements.forEach((e, i) => checkIR(e.value, `${path}.elements[${i}].value`, scope));
      same(path, 'struct', node.type, new StructType(node.elements.map((e) => [e.name, e.value.type] as const)));
      return;
    case 'call': {
      checkIR(node.fn, `${path}.fn`, scope);
      if (node.arg !== null) checkIR(node.arg, `${path}.arg`, scope);
      const ft = node.fn.type;
      if (ft.kind !== 'function') throw new FedSerializationError('TYPE', path, `call of a non-function ${String(ft)}`);
      if (ft.parameter === null ? node.arg !== null : node.arg === null || !ft.parameter.isAssignableFrom(node.arg.type)) {
        throw new FedSerializationError('TYPE', path, `call of ${String(ft)} with argument ${node.arg === null ? 'none' : String(node.arg.type)}`);
      }
      same(path, 'call', node.type, ft.result);
      // federated_value/eval take their placement as a literal (as traced), and it must name the variant's placement.
      if (node.fn.kind === 'intrinsic') {
        const v = intrinsicByUri(node.fn.uri)!.variant; // the fn node was checked above: its uri is known
        if (v.args[1] === 'placement') {
          // Two arguments, so the parameter is a struct and (checked above) the argument is present.
          const lit = node.arg!.kind === 'struct' ? node.arg!.elements[1]!.value : undefined;
          if (lit === undefined || lit.kind !== 'placement') {
            throw new FedSerializationError('TYPE', `${path}.arg`, `the placement argument of '${node.fn.uri}' must be a placement literal`);
          }
          if (lit.placement.name !== v.target) {
            throw new FedSerializationError('TYPE', `${path}.arg.elements[1]`, `placement literal ${lit.placement.name} given to '${node.fn.uri}'`);
          }
        }
      }
      return;
    }
    case 'lambda': {
      if ((node.parameterName === null) !== (node.parameterType === null)) {
        throw new FedSerializationError('TYPE', path, 'lambda parameter name and type must both be present or both be null');
      }
      const inner = new Map(scope);
      if (node.parameterName !== null) inner.set(node.parameterName, node.parameterType!);
      checkIR(node.body, `${path}.body`, inner);
      same(path, 'lambda', node.type, new FunctionType(node.parameterType, node.body.type));
      return;
    }
    case 'block': {
      const inner = new Map(scope);
      node.locals.forEach((l, i) => {
        checkIR(l.value, `${path}.locals[${i}].value`, inner);
        inner.set(l.name, l.value.type);
      });
      checkIR(node.result, `${path}.result`, inner);
      same(path, 'block', node.type, node.result.type);
      return;
    }
    case 'intrinsic': {
      const found = intrinsicByUri(node.uri);
      if (!found) throw new FedSerializationError('INTRINSIC', path, `unknown intrinsic '${node.uri}'`);
      if (node.type.kind !== 'function') throw new FedSerializationError('TYPE', path, `intrinsic '${node.uri}' has non-function type ${String(node.type)}`);
      const args = unpackArgs(found.variant, node.type);
      if (args === null) throw new FedSerializationError('TYPE', path, `intrinsic '${node.uri}': parameter ${String(node.type.parameter)} does not match its arguments (${found.variant.args.join(', ')})`);
      let inferred;
      try {
        inferred = found.def.infer(args, { placement: variantTarget(found.variant) ?? undefined, params: node.params });
      } catch (e) {
        if (e instanceof FedTypeError || e instanceof FedValueError) {
          throw new FedSerializationError('TYPE', path, `intrinsic '${node.uri}' with type ${String(node.type)}: ${e.message}`);
        }
        throw e;
      }
      if (inferred.variant.uri !== node.uri) {
        throw new FedSerializationError('TYPE', path, `intrinsic '${node.uri}' applied to ${String(node.type.parameter)} is '${inferred.variant.uri}'`);
      }
      same(path, `intrinsic '${node.uri}'`, node.type, inferred.type);
      if (JSON.stringify(inferred.params) !== JSON.stringify(node.params)) {
        throw new FedSerializationError('TYPE', path, `intrinsic '${node.uri}': parameters ${JSON.stringify(node.params)} are not valid (expected ${JSON.stringify(inferred.params)})`);
      }
      return;
    }
    case 'data':
      same(path, 'data', node.type, node.value.type);
      return;
    case 'placement':
      if (node.type.kind !== 'placement') mismatch(path, 'placement literal', node.type, 'expected placement');
      return;
    case 'local': {
      const p = node.def.parameterTypes;
      same(path, `local computation '${node.def.name}'`, node.type, new FunctionType(p.length === 0 ? null : p.length === 1 ? p[0]! : new StructType(p), node.def.resultType));
      return;
    }
  }
}
