/**
 * Reusable conformance suite for aggregation protocols.
 *
 *   import { runAggregationConformance } from '../aggregation/conformance.js';
 *   runAggregationConformance('pond', () => pondAggregation({ ... }), { numRuns: 10, floatTolerance: { abs: 1e-3, rel: 1e-4 } });
 *
 * For every intrinsic the protocol implements, random inputs (fast-check:
 * client count, dtype, shape, plain tensor or struct, values, bitwidth,
 * weights) are run through a federated computation in a localContext bound to
 * the protocol and in one bound to the insecure reference; results must match
 * exactly for integers and within the tolerance for floats (plus one float32
 * ulp for float32 results, which the final cast can round apart), and errors (e.g.
 * OVERFLOW) must have the same class and code. Also checks the protocol's
 * metadata, the out-of-range refusal and the overflow error.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AGGREGATORS,
  CLIENTS,
  FedValueError,
  federated,
  federatedComputation,
  federatedMean,
  federatedSecureSum,
  federatedSum,
  meanResultType,
  struct,
  tensor,
  type Computation,
  type DType,
  type Type,
} from '../../src/core/index.js';
import { AGGREGATION_URIS, type AggregationProtocol, type AggregationUri } from '../../src/aggregation/protocol.js';
import { insecureReferenceAggregation } from '../../src/aggregation/reference.js';
import { localContext } from '../../src/runtime/index.js';

export interface ConformanceOptions {
  /** fast-check runs per intrinsic (default 15). */
  numRuns?: number;
  /** Clients per case: minClients..maxClients (default 6). */
  maxClients?: number;
  /** Fewest clients per case (default 1; SecAgg needs 2). */
  minClients?: number;
  /** Float comparison: |a - b| <= abs + rel * |b| (default abs 1e-9, rel 1e-9: exact up to float64 rounding order). */
  floatTolerance?: { abs: number; rel: number };
  /** Largest |value| of float inputs (default 1000). */
  floatRange?: number;
  /** Restrict to these intrinsics (default: all the protocol implements). */
  intrinsics?: readonly AggregationUri[];
  /**
   * Weighted means: a drawn weight below this becomes 0 (default 0: any float32 in [0, 10]).
   * A protocol whose clients keep their weights private and encode them in fixed point
   * resolves a weight only to its precision, so the total weight must not vanish there.
   */
  minWeight?: number;
  /** fast-check seed, for reproducing a failure. */
  seed?: number;
  /** Per-test timeout in ms (default 120000). */
  timeoutMs?: number;
  /**
   * Weighted means: raise the first weight of a case whose weights sum below
   * this (default 0: any weights, one of them > 0). For protocols whose error
   * grows as 1/sum(w) (private weights in fixed point: the receiver divides).
   */
  minTotalWeight?: number;
}

export interface ConformanceCase {
  uri: AggregationUri;
  member: Type;
  clients: unknown[];
  weights?: number[];
  bitwidth?: number;
  computation: Computation;
}

const leafDtypes = (uri: AggregationUri): readonly DType[] =>
  uri.startsWith('federated_secure_sum') ? ['int32', 'uint32', 'int64'] : ['int32', 'int64', 'float32', 'float64'];

const MAX_BITS: Record<string, number> = { int32: 31, uint32: 32, int64: 62 };

function valueArb(dtype: DType, bits: number, floatRange: number): fc.Arbitrary<number | bigint> {
  if (dtype === 'int64') return fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });
  if (dtype === 'int32' || dtype === 'uint32') return fc.integer({ min: 0, max: 2 ** Math.min(bits, 31) - 1 }).chain((x) => (bits >= 32 ? fc.constantFrom(x, x + 2 ** 31) : fc.constant(x)));
  const d = fc.double({ min: -floatRange, max: floatRange, noNaN: true, noDefaultInfinity: true });
  return dtype === 'float32' ? d.map((x) => Math.fround(x)) : d;
}

function tensorValue(shape: number[], el: fc.Arbitrary<number | bigint>): fc.Arbitrary<unknown> {
  if (shape.length === 0) return el;
  return fc.array(el, { minLength: shape[0]!, maxLength: shape[0]! });
}

/** Arbitrary of conformance cases for one intrinsic. */
export function caseArb(uri: AggregationUri, o: ConformanceOptions = {}): fc.Arbitrary<ConformanceCase> {
  const maxClients = o.maxClients ?? 6;
  const floatRange = o.floatRange ?? 1000;
  const minTotalWeight = o.minTotalWeight ?? 0;
  const secure = uri.startsWith('federated_secure_sum');
  return fc
    .record({
      n: fc.integer({ min: o.minClients ?? 1, max: maxClients }),
      d1: fc.constantFrom(...leafDtypes(uri)),
      d2: fc.constantFrom(...leafDtypes(uri)),
      s1: fc.constantFrom<number[]>([], [1], [3], [4]),
      s2: fc.constantFrom<number[]>([], [2]),
      isStruct: fc.boolean(),
      bitsSlack: fc.integer({ min: 0, max: 40 }),
    })
    .chain(({ n, d1, d2, s1, s2, isStruct, bitsSlack }) => {
      const maxBits = Math.min(MAX_BITS[d1] ?? 62, isStruct ? (MAX_BITS[d2] ?? 62) : 62);
      const bitwidth = secure ? Math.max(1, maxBits - (bitsSlack % maxBits)) : 20;
      const bits = secure ? bitwidth : d1 === 'int64' || d2 === 'int64' ? 40 : 20;
      const member: Type = isStruct ? struct({ a: tensor(d1, s1), b: tensor(d2, s2) }) : tensor(d1, s1);
      const one = isStruct
        ? fc.record({ a: tensorValue(s1, valueArb(d1, bits, floatRange)), b: tensorValue(s2, valueArb(d2, bits, floatRange)) })
        : tensorValue(s1, valueArb(d1, bits, floatRange));
      const weighted = uri === 'federated_weighted_mean_at_aggregators';
      return fc.record({
        clients: fc.array(one, { minLength: n, maxLength: n }),
        weights: weighted
          ? fc
              .array(fc.double({ min: 0, max: 10, noNaN: true }).map((x) => (Math.fround(x) < (o.minWeight ?? 0) ? 0 : Math.fround(x))), { minLength: n, maxLength: n })
              .map((w) => (w.some((x) => x > 0) ? w : [1, ...w.slice(1)]))
              .map((w) => {
                const total = w.reduce((a, b) => a + b, 0);
                return total >= minTotalWeight ? w : [Math.fround(w[0]! + minTotalWeight), ...w.slice(1)];
              })
          : fc.constant(undefined),
      }).map(({ clients, weights }) => ({
        uri,
        member,
        clients,
        weights,
        bitwidth: secure ? bitwidth : undefined,
        computation: computationFor(uri, member, bitwidth),
      }));
    });
}

/** The federated computation that runs `uri` on a {member}@CLIENTS argument (and weights). */
export function computationFor(uri: AggregationUri, member: Type, bitwidth = 32): Computation {
  const X = federated(member, CLIENTS);
  const W = federated(tensor('float32'), CLIENTS);
  switch (uri) {
    case 'federated_secure_sum':
      return federatedComputation([X], (x) => federatedSecureSum(x, { bitwidth }));
    case 'federated_secure_sum_at_aggregators':
      return federatedComputation([X], (x) => federatedSecureSum(x, { bitwidth, placement: AGGREGATORS }));
    case 'federated_sum_at_aggregators':
      return federatedComputation([X], (x) => federatedSum(x, { placement: AGGREGATORS }));
    case 'federated_mean_at_aggregators':
      return federatedComputation([X], (x) => federatedMean(x, { placement: AGGREGATORS }));
    case 'federated_weighted_mean_at_aggregators':
      return federatedComputation([X, W], (x, w) => federatedMean(x, { placement: AGGREGATORS, weights: w }));
  }
}

/** Compare outputs: exact for integers/bigints, within tolerance for non-integer numbers. */
export function assertClose(actual: unknown, expected: unknown, tol: { abs: number; rel: number }, path = 'result'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    if (Number.isInteger(expected) && Number.isInteger(actual) && Math.abs(expected) < 2 ** 53 && tol.abs === 0 && tol.rel === 0) {
      assert.equal(actual, expected, path);
      return;
    }
    const ok = Math.abs(actual - expected) <= tol.abs + tol.rel * Math.abs(expected) || Object.is(actual, expected);
    assert.ok(ok, `${path}: ${actual} differs from the reference ${expected} beyond abs ${tol.abs} + rel ${tol.rel}`);
    return;
  }
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual) && actual.length === expected.length, `${path}: expected an array of ${expected.length}, got ${JSON.stringify(actual, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))}`);
    expected.forEach((e, i) => assertClose((actual as unknown[])[i], e, tol, `${path}[${i}]`));
    return;
  }
  if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object', `${path}: expected an object`);
    assert.deepEqual(Object.keys(actual as object), Object.keys(expected as object), `${path}: field names`);
    for (const k of Object.keys(expected as object)) assertClose((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], tol, `${path}.${k}`);
    return;
  }
  assert.deepEqual(actual, expected, path);
}

async function outcome(ctx: ReturnType<typeof localContext>, c: ConformanceCase): Promise<{ ok: true; value: unknown } | { ok: false; error: unknown }> {
  try {
    const args = c.weights ? [c.clients, c.weights] : [c.clients];
    return { ok: true, value: await ctx.invoke(c.computation, args) };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Run one case under the protocol and the reference; throws (assert) on any difference. */
export async function checkCase(protocol: AggregationProtocol, c: ConformanceCase, tol: { abs: number; rel: number }): Promise<void> {
  const mine = await outcome(localContext({ aggregation: protocol }), c);
  const ref = await outcome(localContext({ aggregation: insecureReferenceAggregation({ warn: () => undefined }) }), c);
  if (!ref.ok) {
    assert.ok(!mine.ok, `the reference failed with ${String(ref.error)} but '${protocol.name}' returned ${String((mine as { value: unknown }).value)}`);
    assert.equal((mine.error as Error).constructor, (ref.error as Error).constructor, `error class: ${String(mine.error)} vs reference ${String(ref.error)}`);
    assert.equal((mine.error as FedValueError).code, (ref.error as FedValueError).code, `error code: ${String(mine.error)} vs reference ${String(ref.error)}`);
    return;
  }
  if (!mine.ok) throw mine.error;
  const resultType = c.uri.includes('mean') ? meanResultType(c.member) : c.member;
  assertCloseTyped(mine.value, ref.value, resultType, tol);
}

/** 2^-23: two reals within tolerance may round to adjacent float32 values (one ulp apart) when cast to float32. */
export const FLOAT32_ULP_REL = 2 ** -23;

/**
 * Compare outputs leaf by leaf along `type`: integer leaves exactly, float64
 * leaves within `tol`, float32 leaves within `tol` plus one float32 ulp
 * (the cast of the result to float32 can move values that are within `tol`
 * onto adjacent float32 values).
 */
export function assertCloseTyped(actual: unknown, expected: unknown, type: Type, tol: { abs: number; rel: number }, path = 'result'): void {
  if (type.kind === 'struct') {
    type.elements.forEach(([n, t], i) => {
      const pick = (v: unknown) => (n !== undefined && !Array.isArray(v) ? (v as Record<string, unknown>)[n] : (v as unknown[])[i]);
      assertCloseTyped(pick(actual), pick(expected), t, tol, n === undefined ? `${path}[${i}]` : `${path}.${n}`);
    });
    return;
  }
  if (type.kind !== 'tensor') throw new TypeError(`assertCloseTyped: unexpected ${String(type)}`);
  if (type.dtype === 'float32') assertClose(actual, expected, { abs: tol.abs, rel: tol.rel + FLOAT32_ULP_REL }, path);
  else if (type.dtype === 'float64') assertClose(actual, expected, tol, path);
  else assertClose(actual, expected, { abs: 0, rel: 0 }, path);
}

/** The property check for every intrinsic of `protocol` (used by the suite; callable directly). */
export async function checkProtocolAgainstReference(makeProtocol: () => AggregationProtocol | Promise<AggregationProtocol>, o: ConformanceOptions = {}): Promise<void> {
  const protocol = await makeProtocol();
  try {
    const tol = o.floatTolerance ?? { abs: 1e-9, rel: 1e-9 };
    for (const uri of o.intrinsics ?? protocol.intrinsics) {
      await fc.assert(
        fc.asyncProperty(caseArb(uri, o), (c) => checkCase(protocol, c, tol)),
        { numRuns: o.numRuns ?? 15, ...(o.seed !== undefined ? { seed: o.seed } : {}) },
      );
    }
  } finally {
    await protocol.close?.();
  }
}

/** Register the conformance tests of a protocol with node:test. */
export function runAggregationConformance(
  name: string,
  makeProtocol: () => AggregationProtocol | Promise<AggregationProtocol>,
  options: ConformanceOptions = {},
): void {
  const timeout = options.timeoutMs ?? 120_000;
  describe(`aggregation conformance: ${name}`, () => {
    test('metadata: name, secure flag, implemented intrinsics', async () => {
      const p = await makeProtocol();
      try {
        assert.equal(typeof p.name, 'string');
        assert.ok(p.name.length > 0);
        assert.equal(typeof p.secure, 'boolean');
        assert.ok(p.intrinsics.length > 0, 'implements at least one intrinsic');
        for (const u of p.intrinsics) assert.ok((AGGREGATION_URIS as readonly string[]).includes(u), `unknown intrinsic ${u}`);
      } finally {
        await p.close?.();
      }
    });

    const uris = options.intrinsics ?? AGGREGATION_URIS;
    for (const uri of uris) {
      test(`${uri}: random inputs agree with the insecure reference`, { timeout }, async (t) => {
        const p = await makeProtocol();
        try {
          if (!p.intrinsics.includes(uri)) {
            t.skip(`${name} does not implement ${uri}`);
            return;
          }
        } finally {
          await p.close?.();
        }
        await checkProtocolAgainstReference(makeProtocol, { ...options, intrinsics: [uri] });
      });
    }

    test('secure sum: a client value outside [0, 2^bitwidth) is refused before the protocol runs', { timeout }, async (t) => {
      const p = await makeProtocol();
      try {
        if (!p.intrinsics.includes('federated_secure_sum')) return t.skip('no federated_secure_sum');
        let calls = 0;
        const spy: AggregationProtocol = { ...p, name: p.name, secure: p.secure, intrinsics: p.intrinsics, aggregate: (r) => (calls++, p.aggregate(r)) };
        const comp = computationFor('federated_secure_sum', tensor('int32', [2]), 8);
        await assert.rejects(localContext({ aggregation: spy }).invoke(comp, [[[1, 2], [3, 256]]]), (e: unknown) => e instanceof FedValueError && e.code === 'OUT_OF_RANGE');
        assert.equal(calls, 0);
      } finally {
        await p.close?.();
      }
    });

    test('secure sum: a sum that does not fit the dtype is an OVERFLOW error', { timeout }, async (t) => {
      const p = await makeProtocol();
      try {
        if (!p.intrinsics.includes('federated_secure_sum')) return t.skip('no federated_secure_sum');
        const comp = computationFor('federated_secure_sum', tensor('int32'), 31);
        const big = 2 ** 31 - 1;
        const pad = new Array<number>(Math.max(0, (options.minClients ?? 1) - 3)).fill(0);
        await assert.rejects(localContext({ aggregation: p }).invoke(comp, [[big, big, 5, ...pad]]), (e: unknown) => e instanceof FedValueError && e.code === 'OVERFLOW');
      } finally {
        await p.close?.();
      }
    });
  });
}
