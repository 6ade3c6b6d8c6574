import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AGGREGATORS,
  CLIENTS,
  SERVER,
  FedArgumentError,
  FedValueError,
  federated,
  federatedAggregate,
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
  federatedValue,
  federatedZip,
  getDefaultContext,
  localComputation,
  sequence,
  sequenceMap,
  sequenceReduce,
  sequenceSum,
  setDefaultContext,
  struct,
  tensor,
  withContext,
  type ExecutionContext,
} from '../../src/core/index.js';
import {
  insecureReferenceAggregation,
  localContext,
  runCoreDemo,
  secureSumComputation,
  temperatureComputations,
  type AggregationProtocol,
  type AggregationRequest,
} from '../../src/runtime/index.js';

const quiet = () => insecureReferenceAggregation({ warn: () => undefined });
const ctx = localContext({ aggregation: quiet() });
const I32 = tensor('int32');
const F32 = tensor('float32');
const I2 = tensor('int32', [2]);

test('the RFC temperature example gives the same number in all three forms', async () => {
  const t = temperatureComputations();
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 40, max: 110 }).map((x) => x / 4), { minLength: 1, maxLength: 8 }), async (readings) => {
      const expected = Math.fround(readings.reduce((a, b) => a + b, 0) / readings.length);
      const a = await ctx.invoke(t.server, [readings]);
      const b = await ctx.invoke(t.aggregatorsShort, [readings]);
      const c = await ctx.invoke(t.aggregatorsLong, [readings]);
      assert.equal(a, expected);
      assert.equal(b, a);
      assert.equal(c, a);
    }),
    { numRuns: 25 },
  );
});

test("the seed's secure_paillier_addition returns [10, 15] under the reference lowering", async () => {
  const x = Array.from({ length: 5 }, (_, i) => [i, i + 1]);
  assert.deepEqual(await withContext(ctx, () => secureSumComputation()(x)), [10, 15]);
});

test('property: secure sum equals the plaintext sum (int32/uint32/int64, structs), exact', async () => {
  const comp64 = federatedComputation(federated(struct({ a: tensor('int64', [3]), b: tensor('uint32') }), CLIENTS), (x) => federatedSecureSum(x, { bitwidth: 62 }));
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ a: fc.array(fc.bigInt({ min: 0n, max: 2n ** 62n - 1n }), { minLength: 3, maxLength: 3 }), b: fc.integer({ min: 0, max: 2 ** 20 }) }), { minLength: 1, maxLength: 1 }),
      async (clients) => {
        const r = (await ctx.invoke(comp64, [clients])) as { a: bigint[]; b: number };
        assert.deepEqual(r.a, [0, 1, 2].map((i) => clients.reduce((s, c) => s + c.a[i]!, 0n)));
        assert.equal(r.b, clients.reduce((s, c) => s + c.b, 0));
      },
    ),
    { numRuns: 25 },
  );
  const comp32 = federatedComputation(federated(I2, CLIENTS), (x) => federatedSecureSum(x, { maxInput: 1000 }));
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 1000 })), { minLength: 0, maxLength: 9 }), async (clients) => {
      assert.deepEqual(await ctx.invoke(comp32, [clients]), [clients.reduce((s, c) => s + c[0], 0), clients.reduce((s, c) => s + c[1], 0)]);
    }),
    { numRuns: 25 },
  );
});

test('what each party receives: the protocol gets the typed per-client leaves; only the aggregate is placed at the target', async () => {
  const seen: AggregationRequest[] = [];
  const spy: AggregationProtocol = {
    name: 'spy',
    secure: false,
    intrinsics: ['federated_secure_sum', 'federated_mean_at_aggregators', 'federated_weighted_mean_at_aggregators'],
    async aggregate(req) {
      seen.push(req);
      return quiet().aggregate(req);
    },
  };
  const c = localContext({ aggregation: spy, numAggregators: 3 });
  const comp = federatedComputation(federated(struct({ w: I2, n: tensor('uint32') }), CLIENTS), (x) => federatedSecureSum(x, { bitwidth: 10 }));
  const out = await c.invoke(comp, [[{ w: [1, 2], n: 3 }, { w: [4, 5], n: 6 }]]);
  assert.deepEqual(out, { w: [5, 7], n: 9 });
  assert.equal(seen.length, 1);
  const r = seen[0]!;
  assert.equal(r.uri, 'federated_secure_sum');
  assert.equal(r.intrinsic.name, 'federatedSecureSum');
  assert.equal(r.intrinsic.secure, true);
  assert.equal(r.source, CLIENTS);
  assert.equal(r.target, SERVER);
  assert.equal(r.numClients, 2);
  assert.equal(r.numAggregators, 3);
  assert.equal(r.bitwidth, 10);
  assert.equal(r.bound, 1024n);
  assert.deepEqual(r.leaves.map((l) => [l.path, String(l.type), l.size]), [['.w', 'int32[2]', 2], ['.n', 'uint32', 1]]);
  assert.ok(r.clientValues[0]![0] instanceof Int32Array && r.clientValues[1]![1] instanceof Uint32Array);
  assert.deepEqual(r.clientValues.map((c) => c.map((a) => [...a])), [[[1, 2], [3]], [[4, 5], [6]]]);
  assert.equal(String(r.valueType), '<w=int32[2],n=uint32>');
  // Means at AGGREGATORS: integer leaves become float64 in the result type; weights arrive as Float64Array.
  const mean = federatedComputation([federated(I32, CLIENTS), federated(F32, CLIENTS)], (x, w) => federatedMean(x, { placement: AGGREGATORS, weights: w }));
  assert.equal(String(mean.typeSignature), '(<{int32}@CLIENTS,{float32}@CLIENTS> -> float64@AGGREGATORS)');
  assert.equal(await c.invoke(mean, [[1, 4], [3, 1]]), (1 * 3 + 4 * 1) / 4);
  const r2 = seen[1]!;
  assert.equal(r2.target, AGGREGATORS);
  assert.deepEqual([...r2.weights!], [3, 1]);
  assert.equal(String(r2.resultType), 'float64');
  assert.notEqual(r2.invocationId, r.invocationId);
  // A protocol that does not implement an intrinsic is refused by name.
  const sumAgg = federatedComputation(federated(I32, CLIENTS), (x) => federatedSum(x, { placement: AGGREGATORS }));
  await assert.rejects(c.invoke(sumAgg, [[1]]), /'spy' does not implement federated_sum_at_aggregators/);
  // Plain SERVER sums never reach the protocol.
  const n = seen.length;
  assert.equal(await c.invoke(federatedComputation(federated(I32, CLIENTS), (x) => federatedSum(x)), [[1, 2]]), 3);
  assert.equal(seen.length, n);
});

test('the insecure reference warns once', async () => {
  const messages: string[] = [];
  const c = localContext({ aggregation: insecureReferenceAggregation({ warn: (m) => messages.push(m) }) });
  const comp = secureSumComputation();
  await c.invoke(comp, [[[1, 2]]]);
  await c.invoke(comp, [[[1, 2]]]);
  assert.equal(messages.length, 1);
  assert.match(messages[0]!, /IN THE CLEAR/);
});

test('every other intrinsic runs with TFF semantics in the local context', async () => {
  const inc = localComputation([I32], (x: number) => x + 1, { name: 'inc', result: I32 });
  const add = localComputation([I32, I32], (a: number, b: number) => a + b, { name: 'add', result: I32 });
  const seed = localComputation([], () => 7, { name: 'seven', result: I32 });
  const pair = localComputation([struct({ lo: I32, hi: I32 }), I32], (u: { lo: number; hi: number }, x: number) => ({ lo: Math.min(u.lo, x), hi: Math.max(u.hi, x) }), {
    name: 'pair',
    result: struct({ lo: I32, hi: I32 }),
  });
  const mergePair = localComputation([struct({ lo: I32, hi: I32 }), struct({ lo: I32, hi: I32 })], (a: { lo: number; hi: number }, b: { lo: number; hi: number }) => ({ lo: Math.min(a.lo, b.lo), hi: Math.max(a.hi, b.hi) }), {
    name: 'mergePair',
    result: struct({ lo: I32, hi: I32 }),
  });
  const width = localComputation([struct({ lo: I32, hi: I32 })], (u: { lo: number; hi: number }) => u.hi - u.lo, { name: 'width', result: I32 });
  const comp = federatedComputation([federated(I32, CLIENTS), federated(I32, SERVER)], (x, s) => ({
    map: federatedMap(inc, x),
    broadcast: federatedBroadcast(s),
    zip: federatedZip([x, federatedBroadcast(s)]),
    evalClients: federatedEval(seed, CLIENTS),
    value: federatedValue(3, SERVER),
    collect: federatedCollect(x),
    reduce: federatedReduce(x, 100, add),
    aggregate: federatedAggregate(x, { lo: 1000, hi: -1000 }, pair, mergePair, width),
    min: federatedMin(x),
    max: federatedMax(x, { placement: AGGREGATORS }),
    seq: sequenceReduce(sequenceMap(inc, federatedCollect(x, { placement: AGGREGATORS })), 0, add),
    seqSum: sequenceSum(federatedCollect(x)),
    sum: federatedSum(x),
    mean: federatedMean(x),
  }));
  const out = await ctx.invoke(comp, [[5, -2, 9, 4], 10]);
  assert.deepEqual(out, {
    map: [6, -1, 10, 5],
    broadcast: 10,
    zip: [[5, 10], [-2, 10], [9, 10], [4, 10]],
    evalClients: [7, 7, 7, 7],
    value: 3,
    collect: [5, -2, 9, 4],
    reduce: 116,
    aggregate: 11,
    min: -2,
    max: 9,
    seq: 20,
    seqSum: 16,
    sum: 16,
    mean: 4,
  });
});

test('value forms: typed arrays, tf.Tensor-like objects, nested arrays, bigint, objects; results in the documented form', async () => {
  const M = tensor('float32', [2, 2]);
  const comp = federatedComputation(federated(M, CLIENTS), (x) => [federatedSum(x), federatedCollect(x)]);
  const fakeTensor = { shape: [2, 2], dtype: 'float32', dataSync: () => new Float32Array([1, 2, 3, 4]) };
  const out = (await ctx.invoke(comp, [[new Float32Array([1, 1, 1, 1]), fakeTensor, [[0.5, 0], [0, 0.5]]]])) as [number[][], number[][][]];
  assert.deepEqual(out[0], [[2.5, 3], [4, 5.5]]);
  assert.deepEqual(out[1][1], [[1, 2], [3, 4]]);
  const unknown = federatedComputation(federated(tensor('int64', [null]), SERVER), (x) => x);
  assert.deepEqual(await ctx.invoke(unknown, [new BigInt64Array([1n, 2n, 3n])]), [1n, 2n, 3n]);
  const b = federatedComputation(federated(tensor('bool', [2]), SERVER), (x) => x);
  assert.deepEqual(await ctx.invoke(b, [[true, false]]), [true, false]);
});

test('contexts: setDefaultContext and the scoped withContext (also across awaits)', async () => {
  const calls: string[] = [];
  const tagged = (tag: string): ExecutionContext => ({ name: tag, invoke: async (c, args) => (calls.push(tag), ctx.invoke(c, args)) });
  const comp = federatedComputation(federated(I32, CLIENTS), (x) => federatedSum(x));
  const before = getDefaultContext();
  try {
    setDefaultContext(tagged('default'));
    assert.equal(await comp([1, 2]), 3);
    await withContext(tagged('scoped'), async () => {
      await new Promise((r) => setTimeout(r, 1));
      assert.equal(await comp([3]), 3);
      await withContext(tagged('inner'), () => comp([1]));
    });
    assert.equal(await comp([4]), 4);
    assert.deepEqual(calls, ['default', 'scoped', 'inner', 'default']);
  } finally {
    setDefaultContext(before);
  }
  assert.throws(() => setDefaultContext({} as never), TypeError);
});

// --- bad input at run time ----------------------------------------------------

function rejectsWith(p: Promise<unknown>, cls: Function, code: string, re?: RegExp): Promise<void> {
  return assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    assert.equal((e as FedValueError).code, code, (e as Error).message);
    if (re) assert.match((e as Error).message, re);
    return true;
  });
}

test('bad input: a client value outside [0, 2^bitwidth) (and negative)', async () => {
  const comp = federatedComputation(federated(I2, CLIENTS), (x) => federatedSecureSum(x, { bitwidth: 4 }));
  await rejectsWith(ctx.invoke(comp, [[[1, 2], [3, 16]]]), FedValueError, 'OUT_OF_RANGE', /^value\[client 1\]\[1\]: federatedSecureSum: client value 16 outside \[0, 2\^4\) \(bitwidth 4\)$/);
  await rejectsWith(ctx.invoke(comp, [[[-1, 2]]]), FedValueError, 'OUT_OF_RANGE', /-1 outside/);
  const m = federatedComputation(federated(I32, CLIENTS), (x) => federatedSecureSum(x, { maxInput: 10 }));
  await rejectsWith(ctx.invoke(m, [[10, 11]]), FedValueError, 'OUT_OF_RANGE', /11 outside \[0, 10\]/);
  assert.equal(await ctx.invoke(m, [[10, 10]]), 20);
});

test('bad input: a secure sum that does not fit the result dtype', async () => {
  const comp = federatedComputation(federated(I32, CLIENTS), (x) => federatedSecureSum(x, { bitwidth: 31 }));
  await rejectsWith(ctx.invoke(comp, [[2 ** 31 - 1, 1]]), FedValueError, 'OVERFLOW', /2147483648 cannot be represented in int32/);
  const plain = federatedComputation(federated(I32, CLIENTS), (x) => federatedSum(x));
  await rejectsWith(ctx.invoke(plain, [[2 ** 31 - 1, 1]]), FedValueError, 'OVERFLOW');
});

test('bad input: NaN in a mean (values and weights)', async () => {
  const comp = federatedComputation(federated(tensor('float64', [2]), CLIENTS), (x) => federatedMean(x));
  await rejectsWith(ctx.invoke(comp, [[[1, 2], [NaN, 3]]]), FedValueError, 'NAN', /value\[client 1\]\[0\]/);
  const agg = federatedComputation(federated(F32, CLIENTS), (x) => federatedMean(x, { placement: AGGREGATORS }));
  await rejectsWith(ctx.invoke(agg, [[NaN]]), FedValueError, 'NAN');
  const w = federatedComputation([federated(F32, CLIENTS), federated(F32, CLIENTS)], (x, wt) => federatedMean(x, { weights: wt }));
  await rejectsWith(ctx.invoke(w, [[1, 2], [1, NaN]]), FedValueError, 'NAN', /weights\[client 1\]/);
  await rejectsWith(ctx.invoke(w, [[1, 2], [0, 0]]), FedValueError, 'BAD_WEIGHTS');
  await rejectsWith(ctx.invoke(w, [[1, 2], [1, -1]]), FedValueError, 'BAD_WEIGHTS');
  await rejectsWith(ctx.invoke(comp, [[]]), FedValueError, 'EMPTY');
});

test('bad input: mismatched struct shapes in values', async () => {
  const comp = federatedComputation(federated(struct({ a: I32, b: I2 }), CLIENTS), (x) => federatedSum(x));
  await rejectsWith(ctx.invoke(comp, [[{ a: 1, b: [1, 2] }, { a: 1 }]]), FedArgumentError, 'SHAPE', /arg\[0\]\[client 1\].*missing field\(s\) b/);
  await rejectsWith(ctx.invoke(comp, [[{ a: 1, b: [1, 2], c: 3 }]]), FedArgumentError, 'SHAPE', /unexpected field\(s\) c/);
  await rejectsWith(ctx.invoke(comp, [[{ a: 1, b: [1, 2, 3] }]]), FedArgumentError, 'SHAPE', /int32\[2\]/);
  await rejectsWith(ctx.invoke(comp, [[[1]]]), FedArgumentError, 'SHAPE', /expected 2 elements/);
  await rejectsWith(ctx.invoke(comp, [[{ a: 1.5, b: [1, 2] }]]), FedArgumentError, 'DTYPE', /expected an integer, got 1\.5/);
  const ragged = federatedComputation(federated(tensor('int32', [null, 2]), CLIENTS), (x) => federatedCollect(x));
  await rejectsWith(ctx.invoke(ragged, [[[[1, 2], [3]]]]), FedArgumentError, 'SHAPE', /ragged/);
  const q = federatedComputation(federated(tensor('int32', [null]), CLIENTS), (x) => federatedSum(x));
  await rejectsWith(ctx.invoke(q, [[[1, 2], [3]]]), FedArgumentError, 'SHAPE', /clients' values differ in shape/);
});

test("bad input: the wrong number of arguments, or of clients' values", async () => {
  const comp = federatedComputation([federated(I32, CLIENTS), federated(I32, CLIENTS)], (a, b) => federatedSum(federatedZip([a, b])) as never, { name: 'two' });
  await rejectsWith(ctx.invoke(comp, [[1, 2]]), FedArgumentError, 'ARG_COUNT', /two: expected 2 argument/);
  await rejectsWith(ctx.invoke(comp, [[1, 2], [1], [3]]), FedArgumentError, 'ARG_COUNT');
  await rejectsWith(ctx.invoke(comp, [[1, 2], [3]]), FedValueError, 'CLIENT_COUNT', /arg\[1\]: 1 client values, but arg\[0\] has 2/);
  const fixed = localContext({ aggregation: quiet(), numClients: 3 });
  const one = federatedComputation(federated(I32, CLIENTS), (x) => federatedSum(x));
  await rejectsWith(fixed.invoke(one, [[1, 2]]), FedValueError, 'CLIENT_COUNT', /numClients 3/);
  const evalOnly = federatedComputation([], () => federatedEval(localComputation([], () => 1, { result: I32 }), CLIENTS));
  await rejectsWith(ctx.invoke(evalOnly, []), FedValueError, 'CLIENT_COUNT', /number of clients is unknown/);
  assert.deepEqual(await fixed.invoke(evalOnly, []), [1, 1, 1]);
  await rejectsWith(ctx.invoke(one, [5]), FedArgumentError, 'VALUE_FORM', /one value per client/);
  await assert.rejects(withContext(ctx, () => one('x')), FedArgumentError);
});

test('bad options of localContext and of the reference are refused', () => {
  assert.throws(() => localContext({ aggregation: {} as never }), /AggregationProtocol/);
  assert.throws(() => localContext({ numClients: -1 }), RangeError);
  assert.throws(() => localContext({ numAggregators: 0 }), RangeError);
  assert.throws(() => localContext({ clients: 3 } as never), /unknown option 'clients'/);
  assert.throws(() => insecureReferenceAggregation({ warn: 3 as never }), TypeError);
});

test('runCoreDemo returns printable text with both examples', async () => {
  const text = await runCoreDemo();
  assert.equal(text.match(/ 70\.25 /g)?.length, 3);
  assert.match(text, /\[10,15\]/);
  assert.match(text, /IN THE CLEAR/);
});

test('a sequence-typed parameter: sequences pass as arrays', async () => {
  const comp = federatedComputation(federated(sequence(F32), CLIENTS), (x) => federatedSum(sequenceSum(x)));
  assert.equal(await ctx.invoke(comp, [[[1, 2], [], [0.5]]]), 3.5);
});

test('composition: a federated computation over unplaced values used as the mapped function; local computations called directly', async () => {
  const twice = localComputation([F32], (x: number) => 2 * x, { name: 'twice' });
  const quad = federatedComputation([F32], (x) => twice(twice(x)), { name: 'quad' });
  assert.equal(String(quad.typeSignature), '(float32 -> float32)');
  const comp = federatedComputation(federated(F32, CLIENTS), (x) => federatedMean(federatedMap(quad, x)));
  assert.equal(await ctx.invoke(comp, [[1, 2, 3]]), 8);
  assert.equal(await withContext(ctx, () => twice(1.5)), 3);
  const cst = federatedComputation([], () => federatedValue({ a: 1, b: [0.5, 2] }, AGGREGATORS));
  assert.equal(String(cst.typeSignature), '( -> <a=int32,b=float32[2]>@AGGREGATORS)');
  assert.deepEqual(await ctx.invoke(cst, []), { a: 1, b: [0.5, 2] });
});

test('an inferred integer result refuses a non-integer at run time (never rounds)', async () => {
  const half = localComputation([I32], (x: number) => x / 2, { name: 'half' });
  assert.equal(String(half.typeSignature), '(int32 -> int32)');
  const comp = federatedComputation(federated(I32, CLIENTS), (x) => federatedMap(half, x));
  assert.deepEqual(await ctx.invoke(comp, [[4, 8]]), [2, 4]);
  await rejectsWith(ctx.invoke(comp, [[3]]), FedArgumentError, 'DTYPE', /result of local computation 'half'.*got 1\.5.*pass \{ result \}/);
});
