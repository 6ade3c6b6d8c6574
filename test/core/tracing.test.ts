import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AGGREGATORS,
  CLIENTS,
  SERVER,
  FedTypeError,
  FedValueError,
  INTRINSICS,
  PROTOCOL_URIS,
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
  getIntrinsic,
  localComputation,
  sequence,
  sequenceMap,
  sequenceReduce,
  sequenceSum,
  struct,
  tensor,
  unboundIntrinsics,
} from '../../src/core/index.js';
import '../../src/runtime/index.js';
import { secureSumComputation, temperatureComputations } from '../../src/runtime/index.js';

const F32 = tensor('float32');
const I32 = tensor('int32');
const I2 = tensor('int32', [2]);

test('golden: printed IR and type signatures of the examples', () => {
  const t = temperatureComputations();
  const s = secureSumComputation();
  const golden: [string, string, string][] = [
    [String(t.server.typeSignature), t.server.printIR(), '({float32}@CLIENTS -> float32@SERVER)|(arg -> (let v1=federated_mean(arg) in v1))'],
    [
      String(t.aggregatorsShort.typeSignature),
      t.aggregatorsShort.printIR(),
      '({float32}@CLIENTS -> float32@SERVER)|(arg -> (let v1=federated_mean_at_aggregators(arg),v2=federated_transfer_to_server(v1) in v2))',
    ],
    [
      String(t.aggregatorsLong.typeSignature),
      t.aggregatorsLong.printIR(),
      '({float32}@CLIENTS -> float32@SERVER)|(arg -> (let v1=federated_collect_at_aggregators(arg),v2=sequence_sum(v1),' +
        'v3=federated_map_at_aggregators(<comp#count,v1>),v4=federated_zip_at_aggregators(<v2,v3>),' +
        'v5=federated_map_at_aggregators(<comp#divide,v4>),v6=federated_transfer_to_server(v5) in v6))',
    ],
    [String(s.typeSignature), s.printIR(), '({int32[2]}@CLIENTS -> int32[2]@SERVER)|(arg -> (let v1=federated_secure_sum[bitwidth=32](arg) in v1))'],
  ];
  for (const [sig, irText, expected] of golden) assert.equal(`${sig}|${irText}`, expected);
});

test('golden: multi-parameter, broadcast, zip with names, struct result, weighted mean at AGGREGATORS', () => {
  const scale = localComputation([struct({ model: F32, data: F32 })], (p: { model: number; data: number }) => p.model * p.data, { name: 'scale' });
  const c = federatedComputation([federated(F32, SERVER), federated(F32, CLIENTS)], (s, x) => {
    const b = federatedBroadcast(s);
    const z = federatedZip({ model: b, data: x });
    const m = federatedMap(scale, z);
    return [federatedSum(m), federatedMean(x, { weights: x, placement: AGGREGATORS })];
  });
  assert.equal(String(c.typeSignature), '(<float32@SERVER,{float32}@CLIENTS> -> <float32@SERVER,float32@AGGREGATORS>)');
  assert.equal(
    c.printIR(),
    '(arg -> (let v1=federated_broadcast(arg[0]),v2=federated_zip_at_clients(<model=v1,data=arg[1]>),v3=federated_map(<comp#scale,v2>),' +
      'v4=federated_sum(v3),v5=federated_weighted_mean_at_aggregators(<arg[1],arg[1]>) in <v4,v5>))',
  );
  assert.equal(
    c.formatIR(),
    [
      '(arg ->',
      '  (let',
      '    v1=federated_broadcast(arg[0]),',
      '    v2=federated_zip_at_clients(<model=v1,data=arg[1]>),',
      '    v3=federated_map(<comp#scale,v2>),',
      '    v4=federated_sum(v3),',
      '    v5=federated_weighted_mean_at_aggregators(<arg[1],arg[1]>)',
      '   in <v4,v5>))',
    ].join('\n'),
  );
});

test('golden: composition inlines the called computation; constants become data; field selection by name', () => {
  const inner = federatedComputation(federated(tensor('int32', [3]), CLIENTS), (x) => federatedMax(x), { name: 'inner' });
  const outer = federatedComputation(federated(tensor('int32', [3]), CLIENTS), (x) => [inner(x), federatedCollect(x), federatedValue(3, CLIENTS)]);
  assert.equal(String(outer.typeSignature), '({int32[3]}@CLIENTS -> <int32[3]@SERVER,int32[3]*@SERVER,int32@CLIENTS>)');
  assert.equal(
    outer.printIR(),
    '(arg -> (let v1=(arg -> (let v1=federated_max(arg) in v1))(arg),v2=federated_collect(arg),v3=federated_value_at_clients(<3,CLIENTS>) in <v1,v2,v3>))',
  );
  const sel = federatedComputation(federated(struct({ a: I32, b: F32 }), SERVER), (x) => federatedApply(localComputation([struct({ a: I32, b: F32 })], (v: { a: number }) => v.a, { name: 'getA', result: I32 }), x));
  assert.equal(sel.printIR(), '(arg -> (let v1=federated_apply(<comp#getA,arg>) in v1))');
  const named = federatedComputation([struct({ a: federated(I32, SERVER), b: federated(F32, SERVER) })], (s) => [s.b, s[0]]);
  assert.equal(named.printIR(), '(arg -> <arg.b,arg[0]>)');
  assert.equal(String(named.typeSignature), '(<a=int32@SERVER,b=float32@SERVER> -> <float32@SERVER,int32@SERVER>)');
});

test('golden: every intrinsic traces to its placement variant', () => {
  const inc = localComputation([I32], (x: number) => x + 1, { name: 'inc', result: I32 });
  const add = localComputation([I32, I32], (a: number, b: number) => a + b, { name: 'add', result: I32 });
  const ident = localComputation([I32], (x: number) => x, { name: 'ident', result: I32 });
  const zero = localComputation([], () => 0, { name: 'zero', result: I32 });
  const c = federatedComputation([federated(I32, CLIENTS), federated(I32, SERVER)], (x, s) => {
    const seq = federatedCollect(x, { placement: AGGREGATORS });
    return [
      federatedEval(zero, CLIENTS),
      federatedEval(zero, AGGREGATORS),
      federatedBroadcast(s, { placement: AGGREGATORS }),
      federatedBroadcast(federatedValue(1, AGGREGATORS)),
      federatedSum(x, { placement: AGGREGATORS }),
      federatedSecureSum(x, { maxInput: 1000n, placement: AGGREGATORS }),
      federatedAggregate(x, 0, add, add, ident, { placement: AGGREGATORS }),
      federatedReduce(x, 0, add),
      federatedMin(x, { placement: AGGREGATORS }),
      sequenceReduce(sequenceMap(inc, seq), 0, add),
      sequenceSum(seq),
      federatedTransfer(federatedMean(x, { placement: AGGREGATORS })),
      federatedMap(inc, s),
    ];
  });
  const uris = [...c.printIR().matchAll(/v\d+=([a-z_]+)/g)].map((m) => m[1]);
  assert.deepEqual(uris, [
    'federated_collect_at_aggregators',
    'federated_eval_at_clients',
    'federated_eval_at_aggregators',
    'federated_broadcast_to_aggregators',
    'federated_value_at_aggregators',
    'federated_broadcast_from_aggregators',
    'federated_sum_at_aggregators',
    'federated_secure_sum_at_aggregators',
    'federated_aggregate_at_aggregators',
    'federated_reduce',
    'federated_min_at_aggregators',
    'sequence_map',
    'sequence_reduce',
    'sequence_sum',
    'federated_mean_at_aggregators',
    'federated_transfer_to_server',
    'federated_map_at_server',
  ]);
  assert.match(c.printIR(), /federated_secure_sum_at_aggregators\[maxInput=1000\]/);
  assert.equal(
    String(c.typeSignature),
    '(<{int32}@CLIENTS,int32@SERVER> -> <{int32}@CLIENTS,{int32}@AGGREGATORS,int32@AGGREGATORS,int32@CLIENTS,int32@AGGREGATORS,int32@AGGREGATORS,' +
      'int32@AGGREGATORS,int32@SERVER,int32@AGGREGATORS,int32@AGGREGATORS,int32@AGGREGATORS,float64@SERVER,int32@SERVER>)',
  );
});

test('registry: intrinsics are data; every variant has a local implementation; protocol variants are the secure/AGGREGATORS aggregations', () => {
  const names = INTRINSICS.map((d) => d.name);
  for (const n of [
    'federatedValue', 'federatedEval', 'federatedMap', 'federatedApply', 'federatedZip', 'federatedBroadcast', 'federatedSum', 'federatedMean',
    'federatedSecureSum', 'federatedAggregate', 'federatedCollect', 'federatedReduce', 'federatedMin', 'federatedMax', 'sequenceMap', 'sequenceReduce', 'sequenceSum',
  ]) {
    assert.ok(names.includes(n), n);
  }
  assert.equal(getIntrinsic('federatedSecureSum').secure, true);
  assert.equal(getIntrinsic('federatedSum').secure, false);
  assert.equal(getIntrinsic('federatedSum').defaultPlacement, 'SERVER');
  assert.deepEqual(
    getIntrinsic('federatedBroadcast').variants.map((v) => `${v.source}->${v.target}`),
    ['SERVER->CLIENTS', 'SERVER->AGGREGATORS', 'AGGREGATORS->CLIENTS'],
  );
  assert.deepEqual([...PROTOCOL_URIS].sort(), [
    'federated_mean_at_aggregators', 'federated_secure_sum', 'federated_secure_sum_at_aggregators', 'federated_sum_at_aggregators', 'federated_weighted_mean_at_aggregators',
  ]);
  assert.deepEqual(unboundIntrinsics('local'), []);
  assert.equal(getIntrinsic('federatedSum').variants[0]!.signature, '({T}@CLIENTS -> T@SERVER)');
});

// --- bad input at build time ------------------------------------------------

function throwsFed(f: () => unknown, intrinsic: string, argument: string, re?: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof FedTypeError, `expected FedTypeError, got ${String(e)}`);
    assert.ok(e instanceof TypeError);
    assert.equal(e.intrinsic, intrinsic);
    assert.equal(e.argument, argument);
    if (re) assert.match(e.message, re);
    return true;
  });
}

test('bad input: wrong placement (federatedSum of a SERVER value) at build time', () => {
  throwsFed(() => federatedComputation(federated(I32, SERVER), (x) => federatedSum(x)), 'federatedSum', 'value', /expected \{T\}@CLIENTS, got int32@SERVER/);
  throwsFed(() => federatedComputation(I32, (x) => federatedSum(x)), 'federatedSum', 'value', /got int32/);
  throwsFed(() => federatedComputation(federated(I32, CLIENTS), (x) => federatedBroadcast(x)), 'federatedBroadcast', 'value', /T@SERVER or T@AGGREGATORS, got \{int32\}@CLIENTS/);
  throwsFed(() => federatedComputation(federated(I32, CLIENTS), (x) => federatedSum(x, { placement: CLIENTS })), 'federatedSum', 'placement', /SERVER or AGGREGATORS, got CLIENTS/);
  throwsFed(() => federatedComputation(federated(I32, SERVER), (x) => federatedTransfer(x)), 'federatedTransfer', 'value', /T@AGGREGATORS/);
  throwsFed(
    () => federatedComputation([federated(I32, CLIENTS), federated(I32, SERVER)], (a, b) => federatedZip([a, b])),
    'federatedZip',
    'value[1]',
    /a value at CLIENTS/,
  );
});

test('bad input: a float tensor given to federatedSecureSum', () => {
  throwsFed(() => federatedComputation(federated(F32, CLIENTS), (x) => federatedSecureSum(x, { bitwidth: 8 })), 'federatedSecureSum', 'value', /integer tensors.*got \{float32\}@CLIENTS/);
  throwsFed(
    () => federatedComputation(federated(struct({ a: I32, b: tensor('float64', [2]) }), CLIENTS), (x) => federatedSecureSum(x, { bitwidth: 8 })),
    'federatedSecureSum',
    'value',
    /leaf\.b is float64/,
  );
});

test('bad input: secure-sum options (missing, both, out of range, unknown)', () => {
  const X = federated(I32, CLIENTS);
  throwsFed(() => federatedComputation(X, (x) => federatedSecureSum(x, {})), 'federatedSecureSum', 'bitwidth', /exactly one/);
  throwsFed(() => federatedComputation(X, (x) => federatedSecureSum(x, { bitwidth: 8, maxInput: 3 })), 'federatedSecureSum', 'bitwidth', /got both/);
  assert.throws(() => federatedComputation(X, (x) => federatedSecureSum(x, { bitwidth: 80 })), (e: unknown) => e instanceof FedValueError && e instanceof RangeError && /"bitwidth" expected integer in \[1, 62\], got 80/.test(e.message));
  assert.throws(() => federatedComputation(X, (x) => federatedSecureSum(x, { bitwidth: 0 })), RangeError);
  assert.throws(() => federatedComputation(X, (x) => federatedSecureSum(x, { maxInput: -1 })), RangeError);
  throwsFed(() => federatedComputation(X, (x) => federatedSecureSum(x, { bitwdith: 8 } as never)), 'federatedSecureSum', 'options', /unknown option 'bitwdith'/);
});

test('bad input: mismatched struct shapes at build time', () => {
  const U = struct({ a: I32, b: I32 });
  const comp = federatedComputation(federated(U, SERVER), (x) => x);
  throwsFed(() => federatedComputation(federated(struct({ a: I32 }), SERVER), (x) => comp(x)), 'computation', 'arg[0]', /<a=int32,b=int32>@SERVER, got <a=int32>@SERVER/);
  const acc = localComputation([U, I32], (u: { a: number; b: number }, x: number) => ({ a: u.a + x, b: u.b }), { result: U });
  throwsFed(
    () => federatedComputation(federated(I32, CLIENTS), (x) => federatedReduce(x, [1, 2, 3], acc)),
    'federatedReduce',
    'zero',
    /mismatched struct shape/,
  );
  throwsFed(() => federatedComputation(struct({ a: federated(I32, SERVER) }), (x) => x.c), 'federatedComputation', 'c', /a field of <a=int32@SERVER>/);
  throwsFed(() => federatedComputation(federated(U, SERVER), (x) => x.a), 'federatedComputation', 'a', /federatedMap/);
});

test('bad input: wrong number of arguments (intrinsics, computations, paramTypes)', () => {
  throwsFed(() => federatedComputation(federated(I32, CLIENTS), (x) => (federatedSum as (...a: unknown[]) => unknown)()), 'federatedSum', 'arguments', /1 to 2 argument/);
  throwsFed(() => federatedComputation(federated(I32, CLIENTS), (x) => (federatedMap as (...a: unknown[]) => unknown)(x)), 'federatedMap', 'arguments');
  const two = federatedComputation([federated(I32, CLIENTS), federated(I32, CLIENTS)], (a, b) => federatedSum(a), { name: 'two' });
  throwsFed(() => federatedComputation(federated(I32, CLIENTS), (x) => two(x)), 'two', 'arguments', /2 argument\(s\), got 1/);
  throwsFed(() => federatedComputation([], (x: unknown) => x), 'computation', 'paramTypes');
});

test('bad input: a local computation applied to a federated value directly', () => {
  const inc = localComputation([I32], (x: number) => x + 1, { name: 'inc', result: I32 });
  throwsFed(() => federatedComputation(federated(I32, CLIENTS), (x) => inc(x)), 'inc', 'arg[0]', /use.*federatedMap|apply it with federatedMap/);
  throwsFed(() => federatedComputation(federated(F32, CLIENTS), (x) => federatedMap(inc, x)), 'federatedMap', 'fn', /accepting float32/);
});

test('bad input: symbolic values refuse coercion and intrinsics refuse being called outside tracing', () => {
  throwsFed(() => federatedComputation(federated(I32, SERVER), (x) => (x as unknown as number) + 1), 'federatedComputation', 'symbolic value');
  throwsFed(() => federatedSum([1, 2]), 'federatedSum', 'context');
  throwsFed(() => federatedComputation(federated(I32, SERVER), async (x) => x), 'computation', 'fn', /synchronous/);
  let leaked: unknown;
  federatedComputation(federated(I32, CLIENTS), (x) => ((leaked = x), federatedSum(x)));
  throwsFed(() => federatedComputation(federated(I32, CLIENTS), () => federatedSum(leaked)), 'federatedSum', 'value', /another computation/);
});

test('local computations: result type inference and its refusals', () => {
  assert.equal(String(localComputation([F32, F32], (a: number, b: number) => a / b).typeSignature), '(<float32,float32> -> float32)');
  assert.equal(String(localComputation([tensor('float64', [3])], (a: number[]) => a.map((x) => x * 2)).typeSignature), '(float64[3] -> float64[3])');
  assert.equal(String(localComputation([I32], (a: number) => ({ x: a, ok: a > 0 })).typeSignature), '(int32 -> <x=int32,ok=bool>)');
  assert.equal(String(localComputation([I32, F32], (a: number, b: number) => a * b).typeSignature), '(<int32,float32> -> float32)');
  assert.equal(String(localComputation([I32, tensor('int64')], (a: number) => a).typeSignature), '(<int32,int64> -> float32)');
  assert.equal(String(localComputation([tensor('float32', [null])], (a: number[]) => a).typeSignature), '(float32[?] -> float32[?])');
  assert.equal(String(localComputation([I32], () => new Int32Array(4)).typeSignature), '(int32 -> int32[4])');
  throwsFed(() => localComputation([I32], async (a: number) => a), 'local', 'result', /Promise/);
  throwsFed(() => localComputation([I32], (): number => {
    throw new Error('boom');
  }), 'local', 'result', /boom/);
  throwsFed(() => localComputation([federated(I32, CLIENTS)], (a: number) => a), 'local', 'paramTypes[0]', /unplaced/);
});
