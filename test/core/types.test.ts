import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AGGREGATORS,
  CLIENTS,
  SERVER,
  DTYPES,
  FederatedType,
  FunctionType,
  SequenceType,
  StructType,
  TensorType,
  PlacementType,
  isAssignable,
  typeFromJson,
  typeToJson,
  typesEqual,
  type Type,
} from '../../src/core/index.js';

test('placements are frozen singletons with TFF defaults', () => {
  assert.ok(Object.isFrozen(CLIENTS) && Object.isFrozen(SERVER) && Object.isFrozen(AGGREGATORS));
  assert.equal(CLIENTS.defaultAllEqual, false);
  assert.equal(SERVER.defaultAllEqual, true);
  assert.equal(AGGREGATORS.defaultAllEqual, true);
  assert.throws(() => {
    (SERVER as { name: string }).name = 'X';
  }, TypeError);
});

test('golden: types print in TFF notation', () => {
  const golden: [Type, string][] = [
    [new TensorType('int32'), 'int32'],
    [new TensorType('float32', [3]), 'float32[3]'],
    [new TensorType('float64', [null, 10]), 'float64[?,10]'],
    [new FederatedType(new TensorType('int32', [2]), CLIENTS), '{int32[2]}@CLIENTS'],
    [new FederatedType(new TensorType('float32'), SERVER), 'float32@SERVER'],
    [new FederatedType(new TensorType('float32'), CLIENTS, true), 'float32@CLIENTS'],
    [new FederatedType(new TensorType('float32'), AGGREGATORS), 'float32@AGGREGATORS'],
    [new FederatedType(new TensorType('float32'), AGGREGATORS, false), '{float32}@AGGREGATORS'],
    [new StructType({ a: new TensorType('int32'), b: new TensorType('float32', [3]) }), '<a=int32,b=float32[3]>'],
    [new StructType([new TensorType('bool'), new TensorType('uint32')]), '<bool,uint32>'],
    [new StructType([['x', new TensorType('int64')], [undefined, new TensorType('bool')]]), '<x=int64,bool>'],
    [new SequenceType(new TensorType('int32')), 'int32*'],
    [new SequenceType(new StructType({ x: new TensorType('float32') })), '<x=float32>*'],
    [new FunctionType(new TensorType('int32'), new TensorType('float32')), '(int32 -> float32)'],
    [new FunctionType(null, new TensorType('int32')), '( -> int32)'],
    [new SequenceType(new FunctionType(null, new TensorType('int32'))), '(( -> int32))*'],
    [new FederatedType(new SequenceType(new TensorType('float32')), AGGREGATORS), 'float32*@AGGREGATORS'],
    [
      new FunctionType(new FederatedType(new TensorType('int32', [2]), CLIENTS), new FederatedType(new TensorType('int32', [2]), SERVER)),
      '({int32[2]}@CLIENTS -> int32[2]@SERVER)',
    ],
    [new PlacementType(), 'placement'],
  ];
  for (const [t, s] of golden) assert.equal(String(t), s);
});

test('bad type constructions are refused with errors naming the argument', () => {
  assert.throws(() => new TensorType('float16' as never), /"dtype" expected one of/);
  assert.throws(() => new TensorType('int32', [-1]), RangeError);
  assert.throws(() => new TensorType('int32', [1.5]), RangeError);
  assert.throws(() => new StructType({ a: 3 as never }), /field 'a' expected a Type/);
  assert.throws(() => new StructType([['a', new TensorType('int32')], ['a', new TensorType('int32')]]), /duplicate field name 'a'/);
  assert.throws(() => new FederatedType(new FederatedType(new TensorType('int32'), SERVER), CLIENTS), /cannot be a federated type/);
  assert.throws(() => new FederatedType(new TensorType('int32'), 'CLIENTS' as never), /"placement" expected/);
  assert.throws(() => new SequenceType(new FederatedType(new TensorType('int32'), SERVER)), /cannot be a federated type/);
});

// --- arbitraries ------------------------------------------------------------

const dim = fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constant(null));
const tensorArb = fc.record({ d: fc.constantFrom(...DTYPES), s: fc.array(dim, { maxLength: 3 }) }).map(({ d, s }) => new TensorType(d, s));
const name = fc.constantFrom('a', 'b', 'c', 'x', 'y');

const { unplaced } = fc.letrec<{ unplaced: Type }>((tie) => ({
  unplaced: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tensorArb,
    fc
      .array(fc.tuple(fc.option(name, { nil: undefined }), tie('unplaced')), { maxLength: 3 })
      .map((els) => {
        const seen = new Set<string>();
        return new StructType(els.map(([n, t]) => [n !== undefined && !seen.has(n) && (seen.add(n), true) ? n : undefined, t] as const));
      }),
    tie('unplaced').map((t) => new SequenceType(t)),
    fc.tuple(fc.option(tie('unplaced'), { nil: null }), tie('unplaced')).map(([p, r]) => new FunctionType(p, r)),
  ),
}));
const placementArb = fc.constantFrom(CLIENTS, SERVER, AGGREGATORS);
const anyType: fc.Arbitrary<Type> = fc.oneof(
  unplaced,
  fc.tuple(unplaced, placementArb, fc.boolean()).map(([m, p, a]) => new FederatedType(m, p, a)),
  fc.constant(new PlacementType()),
);

/** A supertype of t: forget dimensions, names; an all-equal value may become per-member. */
function generalize(t: Type, r: () => boolean): Type {
  switch (t.kind) {
    case 'tensor':
      return new TensorType(t.dtype, t.shape.map((d) => (r() ? null : d)));
    case 'struct':
      return new StructType(t.elements.map(([n, e]) => [r() ? undefined : n, generalize(e, r)] as const));
    case 'sequence':
      return new SequenceType(generalize(t.element, r));
    case 'function':
      return new FunctionType(t.parameter === null ? null : specialize(t.parameter, r), generalize(t.result, r));
    case 'federated':
      return new FederatedType(generalize(t.member, r), t.placement, t.allEqual && r() ? false : t.allEqual);
    case 'placement':
      return t;
  }
}
/** A subtype of t (used for contravariant positions): fill unknown dimensions; names kept. */
function specialize(t: Type, r: () => boolean): Type {
  switch (t.kind) {
    case 'tensor':
      return new TensorType(t.dtype, t.shape.map((d) => (d === null ? (r() ? 2 : 0) : d)));
    case 'struct':
      return new StructType(t.elements.map(([n, e]) => [n, specialize(e, r)] as const));
    case 'sequence':
      return new SequenceType(specialize(t.element, r));
    case 'function':
      return new FunctionType(t.parameter === null ? null : generalize(t.parameter, r), specialize(t.result, r));
    case 'federated':
      return new FederatedType(specialize(t.member, r), t.placement, t.allEqual || r());
    case 'placement':
      return t;
  }
}
const coin = (bits: boolean[]) => {
  let i = 0;
  return () => bits[i++ % bits.length]!;
};

test('property: assignability is reflexive and agrees with equality both ways', () => {
  fc.assert(
    fc.property(anyType, anyType, (a, b) => {
      assert.ok(isAssignable(a, a));
      assert.equal(isAssignable(a, b) && isAssignable(b, a), typesEqual(a, b));
    }),
    { numRuns: 300 },
  );
});

test('property: a generalized type accepts the original; chains are transitive', () => {
  fc.assert(
    fc.property(anyType, fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), (t, b1, b2) => {
      const g1 = generalize(t, coin(b1));
      const g2 = generalize(g1, coin(b2));
      assert.ok(g1.isAssignableFrom(t), `${String(g1)} should accept ${String(t)}`);
      assert.ok(g2.isAssignableFrom(g1), `${String(g2)} should accept ${String(g1)}`);
      assert.ok(g2.isAssignableFrom(t), `transitivity: ${String(g2)} should accept ${String(t)}`);
    }),
    { numRuns: 300 },
  );
});

test('assignability: the specific rules', () => {
  const i2 = new TensorType('int32', [2]);
  const iq = new TensorType('int32', [null]);
  assert.ok(iq.isAssignableFrom(i2));
  assert.ok(!i2.isAssignableFrom(iq));
  assert.ok(!new TensorType('float32', [2]).isAssignableFrom(i2), 'dtype must match');
  assert.ok(!new TensorType('int32', [2, 1]).isAssignableFrom(i2), 'rank must match');
  const named = new StructType({ a: i2 });
  const pos = new StructType([i2]);
  assert.ok(pos.isAssignableFrom(named), 'unnamed target accepts named source');
  assert.ok(!named.isAssignableFrom(pos), 'named target needs the name');
  assert.ok(!new StructType({ b: i2 }).isAssignableFrom(named), 'names must match');
  const allEq = new FederatedType(i2, CLIENTS, true);
  const per = new FederatedType(i2, CLIENTS);
  assert.ok(per.isAssignableFrom(allEq));
  assert.ok(!allEq.isAssignableFrom(per));
  assert.ok(!new FederatedType(i2, SERVER).isAssignableFrom(new FederatedType(i2, AGGREGATORS)), 'placement must match');
  const f = new FunctionType(iq, i2);
  assert.ok(new FunctionType(i2, iq).isAssignableFrom(f), 'parameter contravariant, result covariant');
  assert.ok(!f.isAssignableFrom(new FunctionType(i2, iq)));
});

test('property: type JSON round trip is exact', () => {
  fc.assert(
    fc.property(anyType, (t) => {
      const j = JSON.stringify(typeToJson(t));
      const back = typeFromJson(JSON.parse(j));
      assert.ok(typesEqual(back, t));
      assert.equal(String(back), String(t));
      assert.equal(JSON.stringify(typeToJson(back)), j);
    }),
    { numRuns: 300 },
  );
});
