import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  AGGREGATORS,
  CLIENTS,
  SERVER,
  FedSerializationError,
  FreeNameError,
  deserializeComputation,
  federated,
  federatedAggregate,
  federatedApply,
  federatedBroadcast,
  federatedCollect,
  federatedComputation,
  federatedEval,
  federatedMap,
  federatedMax,
  federatedMean,
  federatedMin,
  federatedReduce,
  federatedSecureSum,
  federatedSum,
  federatedTransfer,
  federatedValue,
  federatedZip,
  localComputation,
  registerLocalComputation,
  sequenceMap,
  sequenceReduce,
  sequenceSum,
  serializeComputation,
  struct,
  tensor,
  type Computation,
  type DType,
  type Type,
} from '../../src/core/index.js';
import { insecureReferenceAggregation, localContext, secureSumComputation, temperatureComputations } from '../../src/runtime/index.js';

const ctx = localContext({ aggregation: insecureReferenceAggregation({ warn: () => undefined }) });
const golden = (name: string): string => readFileSync(new URL(`./golden/${name}`, import.meta.url), 'utf8').trimEnd();
// The round trips below read back text this test wrote itself from its own functions: the one case where
// source-form local computations may be accepted (see test/core/deserialize-attack.test.ts for the default).
const OWN_TEXT = { allowSource: true } as const;

test('golden: serialized secure sum (format, version, IR, types)', () => {
  assert.equal(serializeComputation(secureSumComputation()), golden('secure-sum.json'));
  const doc = JSON.parse(golden('secure-sum.json'));
  assert.equal(doc.format, 'fedcrypt.computation');
  assert.equal(doc.version, 1);
});

test('round trip of the examples is exact and the deserialized computations run', async () => {
  const t = temperatureComputations();
  const readings = [68.5, 70.0, 69.5, 71.25, 72.0];
  for (const c of [t.server, t.aggregatorsShort, t.aggregatorsLong]) {
    const text = serializeComputation(c);
    const locals = JSON.parse(text).locals as { form: string }[];
    if (locals.some((l) => l.form === 'source')) {
      // Source-form locals are refused by default.
      assert.throws(() => deserializeComputation(text), (e: unknown) => e instanceof FedSerializationError && e.code === 'LOCAL' && /allowSource: true/.test(e.message));
    }
    // the long form's count and divide are registered by name (players run them): no source travels
    if (c === t.aggregatorsLong) assert.deepEqual(locals.map((l) => l.form), ['registry', 'registry']);
    const back = deserializeComputation(text, OWN_TEXT);
    assert.equal(serializeComputation(back), text);
    assert.equal(back.printIR(), c.printIR());
    assert.equal(String(back.typeSignature), String(c.typeSignature));
    assert.equal(await ctx.invoke(back, [readings]), await ctx.invoke(c, [readings]));
  }
  const s = deserializeComputation(golden('secure-sum.json'));
  assert.deepEqual(await ctx.invoke(s, [[[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]]]), [10, 15]);
});

// --- property: random computations round-trip exactly and behave the same ---

const memberArb: fc.Arbitrary<Type> = fc.oneof(
  fc.record({ d: fc.constantFrom<DType>('int32', 'float32', 'int64', 'float64'), s: fc.constantFrom<number[]>([], [2], [2, 3]) }).map(({ d, s }) => tensor(d, s)),
  fc.record({ a: fc.constantFrom<DType>('int32', 'uint32'), b: fc.constantFrom<DType>('int32', 'int64') }).map(({ a, b }) => struct({ a: tensor(a, [2]), b: tensor(b) })),
);
type Op = 'sum' | 'mean' | 'meanAgg' | 'secure' | 'collect' | 'min' | 'max' | 'broadcastSum' | 'mapIdentity' | 'sumAggTransfer';
const opArb = fc.constantFrom<Op>('sum', 'mean', 'meanAgg', 'secure', 'collect', 'min', 'max', 'broadcastSum', 'mapIdentity', 'sumAggTransfer');

function isInt(t: Type): boolean {
  return t.kind === 'tensor' ? t.dtype.includes('int') : t.kind === 'struct' ? t.elements.every(([, e]) => isInt(e)) : false;
}

function build(member: Type, ops: Op[]): Computation {
  const identity = localComputation([member], (v: unknown) => v, { name: 'identity', result: member });
  return federatedComputation([federated(member, CLIENTS)], (x) =>
    ops.map((op) => {
      switch (op) {
        case 'sum':
          return federatedSum(x);
        case 'mean':
          return federatedMean(x);
        case 'meanAgg':
          return federatedMean(x, { placement: AGGREGATORS });
        case 'secure':
          return isInt(member) ? federatedSecureSum(x, { bitwidth: 20 }) : federatedSum(x);
        case 'collect':
          return federatedCollect(x);
        case 'min':
          return federatedMin(x);
        case 'max':
          return federatedMax(x, { placement: AGGREGATORS });
        case 'broadcastSum':
          return federatedBroadcast(federatedSum(x));
        case 'mapIdentity':
          return federatedMap(identity, x);
        case 'sumAggTransfer':
          return federatedTransfer(federatedSum(x, { placement: AGGREGATORS }), { placement: SERVER });
      }
    }),
  );
}

function sample(t: Type, k: number): unknown {
  if (t.kind === 'tensor') {
    const n = t.shape.reduce<number>((a, b) => a * (b ?? 1), 1);
    const vals = Array.from({ length: n }, (_, i) => (t.dtype === 'int64' ? BigInt(k + i) : t.dtype.startsWith('float') ? (k * 3 + i) / 4 : k + i));
    if (t.shape.length === 0) return vals[0];
    if (t.shape.length === 1) return vals;
    return Array.from({ length: t.shape[0]! }, (_, r) => vals.slice(r * t.shape[1]!, (r + 1) * t.shape[1]!));
  }
  if (t.kind === 'struct') return Object.fromEntries(t.elements.map(([n, e]) => [n!, sample(e, k)]));
  throw new Error('unexpected');
}

test('property: serialize -> deserialize -> serialize is exact, and the result computes the same', async () => {
  await fc.assert(
    fc.asyncProperty(memberArb, fc.array(opArb, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 4 }), async (member, ops, n) => {
      const c = build(member, ops);
      const text = serializeComputation(c);
      const back = deserializeComputation(text, OWN_TEXT);
      assert.equal(serializeComputation(back), text);
      assert.equal(back.printIR(), c.printIR());
      assert.equal(String(back.typeSignature), String(c.typeSignature));
      const clients = Array.from({ length: n }, (_, k) => sample(member, k));
      assert.deepEqual(await ctx.invoke(back, [clients]), await ctx.invoke(c, [clients]));
    }),
    { numRuns: 40 },
  );
});

// --- local computations: the source form, its limits, the registry form ---

test('source-form local computations run after deserialization (closure-free, standard globals, env)', async () => {
  const F = tensor('float32', [3]);
  const norm = localComputation([F], (v: number[]) => {
    const s = Math.sqrt(v.reduce((a, b) => a + b * b, 0));
    return v.map((x) => (s === 0 ? 0 : x / s));
  }, { name: 'normalize' });
  const factor = { k: 2 }; // a closure variable of the original; the deserialized one gets it from env
  const scaleBy = localComputation([F], (v: number[]) => v.map((x) => x * factor.k), { name: 'scaleBy', env: { factor } });
  const comp = federatedComputation(federated(F, CLIENTS), (x) => federatedMean(federatedMap(scaleBy, federatedMap(norm, x))));
  const text = serializeComputation(comp);
  const doc = JSON.parse(text);
  assert.deepEqual(doc.locals.map((l: { form: string; env: string[] }) => [l.form, l.env]), [['source', []], ['source', ['factor']]]);
  const refusedSource = (e: unknown): boolean => e instanceof FedSerializationError && e.code === 'LOCAL' && /'normalize' refused.*allowSource: true/.test(e.message);
  assert.throws(() => deserializeComputation(text), refusedSource);
  assert.throws(() => deserializeComputation(text, { env: { factor: { k: 2 } } }), refusedSource);
  assert.throws(() => deserializeComputation(text, { env: { factor: { k: 2 } }, allowSource: false }), refusedSource);
  assert.throws(() => deserializeComputation(text, OWN_TEXT), (e: unknown) => e instanceof FedSerializationError && e.code === 'LOCAL' && /needs 'factor'/.test(e.message));
  const back = deserializeComputation(text, { ...OWN_TEXT, env: { factor: { k: 2 } } });
  const input = [[3, 4, 0], [0, 0, 5]];
  assert.deepEqual(await ctx.invoke(back, [input]), await ctx.invoke(comp, [input]));
});

test('closures are refused at serialization with a clear error; registering makes them serializable', async () => {
  const offset = 10;
  const addOffset = localComputation([tensor('int32')], (x: number) => x + offset, { name: 'addOffset' });
  const comp = federatedComputation(federated(tensor('int32'), CLIENTS), (x) => federatedMap(addOffset, x));
  assert.throws(
    () => serializeComputation(comp),
    (e: unknown) => e instanceof FedSerializationError && e.code === 'CLOSURE' && /addOffset.*refers to 'offset'/.test(e.message),
  );
  registerLocalComputation('test.addOffset', addOffset);
  const text = serializeComputation(comp);
  assert.equal(JSON.parse(text).locals[0].form, 'registry');
  const back = deserializeComputation(text);
  assert.deepEqual(await ctx.invoke(back, [[1, 2]]), [11, 12]);
  const tampered = text.replace('"test.addOffset"', '"test.missing"');
  assert.throws(() => deserializeComputation(tampered), (e: unknown) => e instanceof FedSerializationError && e.code === 'LOCAL' && /not registered/.test(e.message));
});

test('non-expression functions are refused at serialization; free names on unprobed paths fail clearly at run time', async () => {
  const obj = { m(x: number) { return x; } };
  const method = localComputation([tensor('int32')], obj.m, { name: 'method', result: tensor('int32') });
  const c1 = federatedComputation(federated(tensor('int32'), CLIENTS), (x) => federatedMap(method, x));
  assert.throws(() => serializeComputation(c1), (e: unknown) => e instanceof FedSerializationError && /not a function expression/.test(e.message));
  const native = localComputation([tensor('float32')], Math.abs, { name: 'abs', result: tensor('float32') });
  const c2 = federatedComputation(federated(tensor('float32'), CLIENTS), (x) => federatedMap(native, x));
  assert.throws(() => serializeComputation(c2), (e: unknown) => e instanceof FedSerializationError && /native or bound/.test(e.message));
  const hidden = 5;
  const branchy = localComputation([tensor('int32')], (x: number) => (x > 0 ? x + hidden : x), { name: 'branchy', result: tensor('int32') });
  const c3 = federatedComputation(federated(tensor('int32'), CLIENTS), (x) => federatedMap(branchy, x));
  const back = deserializeComputation(serializeComputation(c3), OWN_TEXT); // the zero probe does not take the branch
  assert.deepEqual(await ctx.invoke(back, [[0, 0]]), [0, 0]);
  await assert.rejects(ctx.invoke(back, [[1]]), (e: unknown) => e instanceof FreeNameError && e.freeName === 'hidden');
});

// --- tampered JSON IR ---------------------------------------------------------

function tamper(f: (doc: any) => void): string {
  const doc = JSON.parse(golden('secure-sum.json'));
  f(doc);
  return JSON.stringify(doc);
}
function refused(text: string, code: string, re?: RegExp): void {
  assert.throws(() => deserializeComputation(text), (e: unknown) => {
    assert.ok(e instanceof FedSerializationError, `expected FedSerializationError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

test('bad input: tampered JSON IR with an unknown node kind', () => {
  refused(tamper((d) => (d.ir.body.result.kind = 'quote')), 'NODE_KIND', /\$\.ir\.body\.result: unknown IR node kind "quote"/);
});

test('bad input: tampered JSON IR with a wrong type', () => {
  // The result claimed to be int64 while the secure sum of int32 is int32.
  refused(tamper((d) => (d.ir.body.locals[0].value.type.member.dtype = 'int64')), 'TYPE', /declared type int64\[2\]@SERVER but computed int32\[2\]@SERVER/);
  // The whole computation re-typed as float32: the secure sum refuses floats.
  refused(golden('secure-sum.json').replaceAll('"int32"', '"float32"'), 'TYPE', /integer tensors/);
  // A reference whose type disagrees with its binding.
  refused(tamper((d) => (d.ir.body.locals[0].value.arg.type.allEqual = true)), 'TYPE');
  // A dtype that does not exist.
  refused(tamper((d) => (d.parameterTypes[0].member.dtype = 'int16')), 'TYPE', /unknown dtype "int16"/);
});

test('bad input: tampered JSON IR with a wrong version, format, or not JSON', () => {
  refused(tamper((d) => (d.version = 2)), 'VERSION', /unsupported format version 2/);
  refused(tamper((d) => delete d.version), 'VERSION');
  refused(tamper((d) => (d.format = 'tff')), 'FORMAT');
  refused('{"format":', 'JSON');
});

test('bad input: tampered JSON IR with unknown intrinsic, out-of-scope reference, bad params, missing fields', () => {
  refused(tamper((d) => (d.ir.body.locals[0].value.fn.uri = 'federated_leak')), 'INTRINSIC', /unknown intrinsic 'federated_leak'/);
  refused(tamper((d) => (d.ir.body.result.name = 'v9')), 'SCOPE', /'v9', which is not in scope/);
  refused(tamper((d) => (d.ir.body.locals[0].value.fn.params.bitwidth = 99)), 'TYPE', /bitwidth/);
  refused(tamper((d) => (d.ir.body.locals[0].value.fn.params = {})), 'TYPE', /exactly one/);
  refused(tamper((d) => delete d.ir.body.result.name), 'FIELD', /missing field 'name'/);
  refused(tamper((d) => (d.ir.body.extra = 1)), 'FIELD', /unexpected field 'extra'/);
  refused(tamper((d) => (d.ir.body.locals[0].value.fn.uri = 'federated_secure_sum_at_aggregators')), 'TYPE');
  refused(tamper((d) => (d.ir.body.locals[0].value.fn.params.extra = 1)), 'TYPE', /parameters/);
  const sum = serializeComputation(federatedComputation(federated(tensor('int32'), CLIENTS), (x) => federatedSum(x)));
  refusedText(sum.replace('"params":{}', '"params":{"bitwidth":8}'), 'TYPE', /parameters \{"bitwidth":8\} are not valid/);
});

test('bad input: tampered placement literal; local-kind computations round-trip and run directly', async () => {
  const c = federatedComputation([], () => federatedBroadcast(federatedValue(2, SERVER)));
  const text = serializeComputation(c);
  refusedText(text.replace('"kind":"placement","placement":"SERVER"', '"kind":"placement","placement":"CLIENTS"'), 'TYPE', /placement literal CLIENTS given to 'federated_value_at_server'/);
  const sq = localComputation([tensor('float64', [2])], (v: number[]) => v.map((x) => x * x), { name: 'square' });
  const back = deserializeComputation(serializeComputation(sq), OWN_TEXT);
  assert.equal(back.kind, 'local');
  assert.equal(String(back.typeSignature), '(float64[2] -> float64[2])');
  assert.deepEqual(await ctx.invoke(back, [[3, -4]]), [9, 16]);
});

function refusedText(text: string, code: string, re?: RegExp): void {
  assert.throws(() => deserializeComputation(text), (e: unknown) => e instanceof FedSerializationError && e.code === code && (!re || re.test(e.message)));
}

test('bad input: absurdly deep JSON is refused cleanly, not with a stack overflow', () => {
  const deep = '{"kind":"sequence","element":'.repeat(20000) + '{"kind":"tensor","dtype":"int32","shape":[]}' + '}'.repeat(20000);
  refused(golden('secure-sum.json').replace('"parameterTypes":[', `"parameterTypes":[${deep},`), 'FIELD', /nesting deeper than 256/);
  const deepNode = '{"kind":"selection","index":0,"name":null,"type":{"kind":"placement"},"source":'.repeat(20000) + '{}' + '}'.repeat(20000);
  refused(tamper((d) => (d.ir.body.result = '__DEEP__')).replace('"__DEEP__"', deepNode), 'FIELD', /nesting deeper than 256/);
});

test('round trip of a computation using every intrinsic (each variant re-checked on load) is exact and computes the same', async () => {
  const I = tensor('int32');
  const inc = localComputation([I], (x: number) => x + 1, { name: 'inc', result: I });
  const add = localComputation([I, I], (a: number, b: number) => a + b, { name: 'add', result: I });
  const ident = localComputation([I], (x: number) => x, { name: 'ident', result: I });
  const seven = localComputation([], () => 7, { name: 'seven', result: I });
  const both = localComputation([struct({ a: I, b: I })], (p: { a: number; b: number }) => p.a * p.b, { name: 'both', result: I });
  const c = federatedComputation([federated(I, CLIENTS), federated(I, SERVER), federated(tensor('float32'), CLIENTS)], (x, s, w) => {
    const seq = federatedCollect(x, { placement: AGGREGATORS });
    return {
      evalClients: federatedEval(seven, CLIENTS),
      evalServer: federatedEval(seven, SERVER),
      evalAgg: federatedEval(seven, AGGREGATORS),
      toAgg: federatedBroadcast(s, { placement: AGGREGATORS }),
      fromAgg: federatedBroadcast(federatedValue(1, AGGREGATORS)),
      down: federatedBroadcast(s),
      sumAgg: federatedSum(x, { placement: AGGREGATORS }),
      secure: federatedSecureSum(x, { maxInput: 1000n, placement: AGGREGATORS }),
      secureServer: federatedSecureSum(x, { bitwidth: 12 }),
      aggregate: federatedAggregate(x, 0, add, add, ident, { placement: AGGREGATORS }),
      aggregateServer: federatedAggregate(x, 0, add, add, ident),
      reduce: federatedReduce(x, 0, add),
      reduceAgg: federatedReduce(x, 0, add, { placement: AGGREGATORS }),
      min: federatedMin(x, { placement: AGGREGATORS }),
      max: federatedMax(x),
      seq: sequenceReduce(sequenceMap(inc, seq), 0, add),
      seqSum: sequenceSum(seq),
      meanAgg: federatedTransfer(federatedMean(x, { placement: AGGREGATORS })),
      weighted: federatedMean(x, { weights: w }),
      weightedAgg: federatedMean(x, { weights: w, placement: AGGREGATORS }),
      mapServer: federatedMap(inc, s),
      apply: federatedApply(inc, s),
      applyAgg: federatedApply(inc, federatedValue(2, AGGREGATORS)),
      mapAgg: federatedMap(inc, federatedValue(3, AGGREGATORS)),
      zipServer: federatedMap(both, federatedZip({ a: s, b: federatedValue(5, SERVER) })),
      zipClients: federatedZip([x, w]),
    };
  });
  const text = serializeComputation(c);
  const back = deserializeComputation(text, OWN_TEXT);
  assert.equal(serializeComputation(back), text);
  assert.equal(back.printIR(), c.printIR());
  const args = [[3, 1, 4, 1, 5], 10, [1, 1, 2, 0, 1]];
  const a = await ctx.invoke(c, args);
  assert.deepEqual(await ctx.invoke(back, args), a);
  assert.deepEqual(a, {
    evalClients: [7, 7, 7, 7, 7], evalServer: 7, evalAgg: [7], toAgg: 10, fromAgg: 1, down: 10, sumAgg: 14, secure: 14, secureServer: 14,
    aggregate: 14, aggregateServer: 14, reduce: 14, reduceAgg: 14, min: 1, max: 5, seq: 19, seqSum: 14, meanAgg: 2.8,
    weighted: (3 + 1 + 8 + 0 + 5) / 5, weightedAgg: (3 + 1 + 8 + 0 + 5) / 5, mapServer: 11, apply: 11, applyAgg: 3, mapAgg: 4, zipServer: 50,
    zipClients: [[3, 1], [1, 1], [4, 2], [1, 0], [5, 1]],
  });
});
