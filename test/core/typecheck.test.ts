// checkIR on hand-built IR: each rule of src/core/typecheck.ts is broken once, as a tampered or
// hostile computation would, and must be refused with a FedSerializationError whose code, path
// and message name the rule; the nearest valid IR must pass (so a rule that refuses too much fails too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENTS, SERVER, FedSerializationError, checkIR, localComputation } from '../../src/core/index.js';
import * as ir from '../../src/core/ir.js';
import type { Node } from '../../src/core/ir.js';
import { federated, fn, PLACEMENT_TYPE, struct, tensor, type Type } from '../../src/core/types.js';
import { TensorValue } from '../../src/core/values.js';

const I = tensor('int32');
const F = tensor('float32');
const AB = struct({ a: I, b: I }); // two fields of one type: only the index/name rules tell them apart
const AF = struct({ a: I, b: F });

/** A node as a deserializer would build it from JSON, without the constructors' checks. */
const raw = (o: Record<string, unknown>): Node => Object.freeze(o) as unknown as Node;
const int32s = (...xs: number[]): Node => ir.data(new TensorValue(tensor('int32', [xs.length]), Int32Array.from(xs)));
const one = (x: number): Node => ir.data(new TensorValue(I, Int32Array.of(x)));
const flt = (x: number): Node => ir.data(new TensorValue(F, Float32Array.of(x)));
/** `(p -> body)` with p of type t: puts p in scope. */
const withParam = (t: Type, body: (p: Node) => Node): Node => {
  const p = ir.reference('p', t);
  return ir.lambda('p', t, body(p));
};

function refuses(node: Node, code: string, path: string, message: RegExp): void {
  assert.throws(
    () => checkIR(node), // default path '$' and an empty scope
    (e: unknown) => {
      assert.ok(e instanceof FedSerializationError, `expected FedSerializationError, got ${String(e)}`);
      assert.equal(e.code, code, e.message);
      assert.equal(e.path, path, e.message);
      assert.match(e.message, message);
      assert.equal(e.message, `${path}: ${e.message.slice(path.length + 2)}`);
      return true;
    },
  );
}
const accepts = (node: Node): void => assert.doesNotThrow(() => checkIR(node));

test('selection: the index must name a field of the source struct', () => {
  accepts(withParam(AB, (p) => ir.selection(p, 0)));
  accepts(withParam(AB, (p) => ir.selection(p, 1)));
  for (const index of [2, -1, 0.5, Number.NaN]) {
    refuses(
      withParam(AB, (p) => raw({ kind: 'selection', source: p, index, name: undefined, type: I })),
      'TYPE',
      '$.body',
      new RegExp(`^\\$\\.body: selection index ${index} out of range for <a=int32,b=int32>$`),
    );
  }
});

test('selection: a name must be the name of the selected field', () => {
  // Field 0 is 'a'; selecting it under the name 'b' (same type) is refused.
  refuses(
    withParam(AB, (p) => raw({ kind: 'selection', source: p, index: 0, name: 'b', type: I })),
    'TYPE',
    '$.body',
    /selection name 'b' does not match field 0 of <a=int32,b=int32>$/,
  );
  // A name on an unnamed field is refused too.
  refuses(withParam(struct([I, I]), (p) => raw({ kind: 'selection', source: p, index: 1, name: 'x', type: I })), 'TYPE', '$.body', /selection name 'x' does not match field 1/);
  // Positional selection (no name) of a named field is valid.
  accepts(withParam(AB, (p) => raw({ kind: 'selection', source: p, index: 1, name: undefined, type: I })));
});

test('selection: declared type, non-struct source, and errors inside the source', () => {
  refuses(withParam(AF, (p) => raw({ kind: 'selection', source: p, index: 1, name: 'b', type: I })), 'TYPE', '$.body', /selection: declared type int32 but computed float32$/);
  refuses(withParam(I, (p) => raw({ kind: 'selection', source: p, index: 0, name: undefined, type: I })), 'TYPE', '$.body', /selection from a non-struct int32$/);
  refuses(ir.lambda(null, null, raw({ kind: 'selection', source: ir.reference('q', AB), index: 0, name: 'a', type: I })), 'SCOPE', '$.body.source', /reference to 'q', which is not in scope$/);
});

test('call: the argument must be assignable to the parameter, and present exactly when there is one', () => {
  const id = withParam(I, (p) => p); // (int32 -> int32)
  const seven = ir.lambda(null, null, one(7)); // ( -> int32)
  accepts(ir.call(id, one(1)));
  accepts(ir.call(seven, null));
  // An argument of a more specific type is assignable: int32[2] to int32[?].
  const anyLen = withParam(tensor('int32', [null]), (p) => p);
  accepts(ir.call(anyLen, int32s(1, 2)));
  refuses(ir.call(id, flt(1)), 'TYPE', '$', /^\$: call of \(int32 -> int32\) with argument float32$/);
  refuses(ir.call(id, null), 'TYPE', '$', /call of \(int32 -> int32\) with argument none$/);
  refuses(ir.call(seven, one(1)), 'TYPE', '$', /call of \( -> int32\) with argument int32$/);
  refuses(ir.call(anyLen, one(1)), 'TYPE', '$', /call of \(int32\[\?\] -> int32\[\?\]\) with argument int32$/);
});

test('call: non-function, declared result, and errors inside fn and arg', () => {
  refuses(raw({ kind: 'call', fn: one(1), arg: null, type: I }), 'TYPE', '$', /call of a non-function int32$/);
  const id = withParam(I, (p) => p);
  refuses(raw({ kind: 'call', fn: id, arg: one(1), type: F }), 'TYPE', '$', /call: declared type float32 but computed int32$/);
  refuses(ir.call(id, ir.reference('y', I)), 'SCOPE', '$.arg', /reference to 'y'/);
  refuses(ir.call(raw({ kind: 'reference', name: 'g', type: fn(I, I) }), one(1)), 'SCOPE', '$.fn', /reference to 'g'/);
});

test('call: a placement literal given to federated_value must be the variant\'s placement', () => {
  const at = (p: typeof CLIENTS): Node =>
    ir.call(
      ir.intrinsic('federated_value_at_server', {}, fn(struct([I, PLACEMENT_TYPE]), federated(I, SERVER))),
      ir.struct([{ name: undefined, value: one(2) }, { name: undefined, value: ir.placementLiteral(p) }]),
    );
  accepts(at(SERVER));
  refuses(at(CLIENTS), 'TYPE', '$.arg.elements[1]', /placement literal CLIENTS given to 'federated_value_at_server'$/);
  const evalAt = ir.intrinsic('federated_eval_at_clients', {}, fn(struct([fn(null, I), PLACEMENT_TYPE]), federated(I, CLIENTS)));
  const seven = ir.lambda(null, null, one(7));
  accepts(ir.call(evalAt, ir.struct([{ name: undefined, value: seven }, { name: undefined, value: ir.placementLiteral(CLIENTS) }])));
  refuses(ir.call(evalAt, ir.struct([{ name: undefined, value: seven }, { name: undefined, value: ir.placementLiteral(SERVER) }])), 'TYPE', '$.arg.elements[1]', /placement literal SERVER given to 'federated_eval_at_clients'$/);
});

test('call: the placement of federated_value/eval is a literal, not a value passed by reference', () => {
  const valueAtServer = ir.intrinsic('federated_value_at_server', {}, fn(struct([I, PLACEMENT_TYPE]), federated(I, SERVER)));
  // Through a block local bound to a (wrong) literal: the literal check would not see it.
  const viaLocal = ir.block(
    [{ name: 'p', value: ir.placementLiteral(CLIENTS) }],
    ir.call(valueAtServer, ir.struct([{ name: undefined, value: one(2) }, { name: undefined, value: ir.reference('p', PLACEMENT_TYPE) }])),
  );
  refuses(viaLocal, 'TYPE', '$.result.arg', /^\$\.result\.arg: the placement argument of 'federated_value_at_server' must be a placement literal$/);
  // The whole argument passed as one struct-typed value.
  refuses(withParam(struct([I, PLACEMENT_TYPE]), (q) => ir.call(valueAtServer, q)), 'TYPE', '$.body.arg', /the placement argument of 'federated_value_at_server' must be a placement literal$/);
});

test('reference: in scope, with the type of its binding', () => {
  refuses(ir.reference('x', I), 'SCOPE', '$', /^\$: reference to 'x', which is not in scope$/);
  refuses(withParam(I, () => ir.reference('p', F)), 'TYPE', '$.body', /reference 'p': declared type float32 but computed int32$/);
  assert.doesNotThrow(() => checkIR(ir.reference('x', I), '$', new Map([['x', I]])));
});

test('struct: declared type is the elements\' types and names; errors inside elements name the element', () => {
  accepts(ir.struct([{ name: 'a', value: one(1) }, { name: 'b', value: flt(2) }]));
  refuses(raw({ kind: 'struct', elements: [{ name: 'a', value: one(1) }, { name: 'c', value: flt(2) }], type: AF }), 'TYPE', '$', /struct: declared type <a=int32,b=float32> but computed <a=int32,c=float32>$/);
  refuses(ir.struct([{ name: 'a', value: one(1) }, { name: 'b', value: ir.reference('z', I) }]), 'SCOPE', '$.elements[1].value', /reference to 'z'/);
});

test('lambda: parameter name and type both or neither; declared type; the parameter is in scope of the body only', () => {
  accepts(ir.lambda(null, null, one(1)));
  refuses(raw({ kind: 'lambda', parameterName: null, parameterType: I, body: one(1), type: fn(I, I) }), 'TYPE', '$', /lambda parameter name and type must both be present or both be null$/);
  refuses(raw({ kind: 'lambda', parameterName: 'x', parameterType: null, body: one(1), type: fn(null, I) }), 'TYPE', '$', /lambda parameter name and type must both be present or both be null$/);
  refuses(raw({ kind: 'lambda', parameterName: 'x', parameterType: I, body: one(1), type: fn(F, I) }), 'TYPE', '$', /lambda: declared type \(float32 -> int32\) but computed \(int32 -> int32\)$/);
  refuses(ir.lambda('x', I, ir.reference('y', I)), 'SCOPE', '$.body', /reference to 'y'/);
  // The parameter does not leak out of its lambda.
  refuses(ir.struct([{ name: undefined, value: withParam(I, (p) => p) }, { name: undefined, value: ir.reference('p', I) }]), 'SCOPE', '$.elements[1].value', /reference to 'p'/);
});

test('block: each local sees the earlier ones only; declared type is the result\'s', () => {
  const v1 = ir.reference('v1', I);
  accepts(ir.block([{ name: 'v1', value: one(1) }, { name: 'v2', value: v1 }], ir.reference('v2', I)));
  refuses(ir.block([{ name: 'v1', value: ir.reference('v2', I) }, { name: 'v2', value: one(1) }], v1), 'SCOPE', '$.locals[0].value', /reference to 'v2', which is not in scope$/);
  refuses(ir.block([{ name: 'v1', value: one(1) }], ir.reference('v3', I)), 'SCOPE', '$.result', /reference to 'v3'/);
  refuses(ir.block([{ name: 'v1', value: one(1) }], ir.reference('v1', F)), 'TYPE', '$.result', /reference 'v1': declared type float32 but computed int32$/);
  refuses(raw({ kind: 'block', locals: [], result: one(1), type: F }), 'TYPE', '$', /block: declared type float32 but computed int32$/);
});

test('intrinsic: known uri, function type, arguments, inferred variant, type and params', () => {
  const sumType = fn(federated(I, CLIENTS), federated(I, SERVER));
  accepts(ir.intrinsic('federated_sum', {}, sumType));
  refuses(ir.intrinsic('federated_leak', {}, sumType), 'INTRINSIC', '$', /^\$: unknown intrinsic 'federated_leak'$/);
  refuses(raw({ kind: 'intrinsic', uri: 'federated_sum', params: {}, type: I }), 'TYPE', '$', /intrinsic 'federated_sum' has non-function type int32$/);
  refuses(ir.intrinsic('federated_sum', {}, fn(null, federated(I, SERVER))), 'TYPE', '$', /intrinsic 'federated_sum': parameter null does not match its arguments \(value\)$/);
  refuses(ir.intrinsic('federated_map', {}, fn(federated(I, CLIENTS), federated(I, CLIENTS))), 'TYPE', '$', /intrinsic 'federated_map': parameter \{int32\}@CLIENTS does not match its arguments \(fn, value\)$/);
  // The registry's own check (a FedTypeError) becomes a TYPE error naming the intrinsic and its type.
  refuses(ir.intrinsic('federated_sum', {}, fn(federated(I, SERVER), federated(I, SERVER))), 'TYPE', '$', /intrinsic 'federated_sum' with type \(int32@SERVER -> int32@SERVER\): federatedSum: argument 'value' expected/);
  // ... and so does a FedValueError (an option out of range).
  const secure = (bitwidth: number): Node => ir.intrinsic('federated_secure_sum', { bitwidth }, sumType);
  accepts(secure(8));
  refuses(secure(99), 'TYPE', '$', /intrinsic 'federated_secure_sum' with type .*bitwidth/);
  // A variant uri that does not fit its argument's placement (the clients' map dressed as the server's).
  const mapType = fn(struct([fn(I, I), federated(I, CLIENTS)]), federated(I, CLIENTS));
  accepts(ir.intrinsic('federated_map', {}, mapType));
  refuses(ir.intrinsic('federated_map_at_server', {}, mapType), 'TYPE', '$', /intrinsic 'federated_map_at_server' applied to <\(int32 -> int32\),\{int32\}@CLIENTS> is 'federated_map'$/);
  refuses(ir.intrinsic('federated_sum', {}, fn(federated(I, CLIENTS), federated(F, SERVER))), 'TYPE', '$', /intrinsic 'federated_sum': declared type \(\{int32\}@CLIENTS -> float32@SERVER\) but computed \(\{int32\}@CLIENTS -> int32@SERVER\)$/);
  refuses(ir.intrinsic('federated_sum', { bitwidth: 8 }, sumType), 'TYPE', '$', /intrinsic 'federated_sum': parameters \{"bitwidth":8\} are not valid \(expected \{\}\)$/);
});

test('data, placement and local nodes: the declared type is the value\'s, placement, and the local computation\'s signature', () => {
  accepts(int32s(1, 2));
  refuses(raw({ kind: 'data', value: new TensorValue(tensor('int32', [2]), Int32Array.of(1, 2)), type: tensor('int32', [3]) }), 'TYPE', '$', /data: declared type int32\[3\] but computed int32\[2\]$/);
  accepts(ir.placementLiteral(CLIENTS));
  refuses(raw({ kind: 'placement', placement: CLIENTS, type: I }), 'TYPE', '$', /placement literal: declared type int32 but expected placement$/);
  const zero = localComputation([], () => 0, { name: 'zero', result: I });
  const inc = localComputation([I], (x: number) => x + 1, { name: 'inc', result: I });
  const add = localComputation([I, F], (a: number, b: number) => a + b, { name: 'add', result: F });
  for (const c of [zero, inc, add]) accepts(c.ir);
  const def = (c: typeof inc): ir.LocalDef => (c.ir as ir.LocalNode).def;
  refuses(raw({ kind: 'local', def: def(zero), type: fn(I, I) }), 'TYPE', '$', /local computation 'zero': declared type \(int32 -> int32\) but computed \( -> int32\)$/);
  refuses(raw({ kind: 'local', def: def(inc), type: fn(F, I) }), 'TYPE', '$', /local computation 'inc': declared type \(float32 -> int32\) but computed \(int32 -> int32\)$/);
  refuses(raw({ kind: 'local', def: def(add), type: fn(I, F) }), 'TYPE', '$', /local computation 'add': declared type \(int32 -> float32\) but computed \(<int32,float32> -> float32\)$/);
});
