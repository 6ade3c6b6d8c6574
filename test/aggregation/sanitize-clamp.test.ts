/**
 * The data owner's one-pass preparation of a client's input
 * (`roles.sanitizeAndClamp`, used by the remote executor) gives what the two
 * steps it replaces give (sanitize, then clamp), element for element and
 * count for count; and the second `checkClientInput` of an input in one
 * process skips its scans only for the very input that passed the first;
 * a sanitizer's output is not scanned for NaN again, unless a leaf is swapped.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TensorType } from '../../src/core/types.js';
import { checkPlan, type AggregationPlan } from '../../src/aggregation/plan.js';
import { mpcRoles } from '../../src/aggregation/mpc-roles.js';
import { checkClientInput, type AggregationRoles, type ClientInput } from '../../src/aggregation/roles.js';
import { sanitize } from '../../src/runtime/remote/sanitize.js';
import type { AggregationUri } from '../../src/aggregation/protocol.js';

const CLIENTS = ['c0', 'c1', 'c2'];
const planOf = (roles: AggregationRoles, uri: AggregationUri, dtypes: ('float32' | 'float64' | 'int32')[], bound?: bigint): AggregationPlan =>
  checkPlan({
    protocol: roles.name, invocationId: `sc/${uri}`, uri, target: 'SERVER',
    leaves: dtypes.map((d, j) => ({ path: `/l${j}`, type: new TensorType(d, [6]), size: 6 })),
    ...(bound === undefined ? {} : { bound }),
    clients: CLIENTS, aggregators: roles.aggregatorNames, server: 'server', params: roles.params,
  });

const bits = (v: ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');

/** What the remote executor did before: sanitize, then clamp (with each step's count). */
function twoSteps(roles: AggregationRoles, plan: AggregationPlan, input: ClientInput): { input: ClientInput; sanitized: number; clipped: number } {
  let sanitized = 0;
  const s = sanitize(plan, input, (n) => (sanitized += n));
  const k = roles.clamp!(plan, s);
  return { input: k.input, sanitized, clipped: k.clipped };
}

describe('sanitizeAndClamp (mpcRoles)', () => {
  const big = 2 ** 50;
  const leaves = () => [
    Float32Array.of(1.5, Number.NaN, Number.POSITIVE_INFINITY, -big, 3e38, -0.25),
    Float64Array.of(Number.NEGATIVE_INFINITY, 2 ** 46, -1, Number.NaN, big * big, 7),
  ];
  const weights = [2, 0, 1e15, Number.NaN, -1, Number.POSITIVE_INFINITY, 1e-300];
  for (const meanScaling of ['owners', 'servers'] as const) {
    const roles = mpcRoles({ protocol: 'aby3', meanScaling });
    for (const uri of ['federated_weighted_mean_at_aggregators', 'federated_mean_at_aggregators', 'federated_sum_at_aggregators'] as const) {
      it(`${meanScaling} ${uri}: the same values, bit for bit, and the same counts as sanitize then clamp`, () => {
        const plan = planOf(roles, uri, ['float32', 'float64']);
        for (const w of uri.includes('weighted') ? weights : [undefined]) {
          const input: ClientInput = { values: leaves(), ...(w === undefined ? {} : { weight: w }) };
          const want = twoSteps(roles, plan, input);
          const got = roles.sanitizeAndClamp!(plan, input);
          assert.equal(got.sanitized, want.sanitized, `weight ${w}`);
          assert.equal(got.clipped, want.clipped, `weight ${w}`);
          assert.equal(got.input.weight, want.input.weight);
          assert.deepEqual(got.input.values.map((v) => v.constructor.name), want.input.values.map((v) => v.constructor.name));
          assert.deepEqual(got.input.values.map((v) => bits(v as Float64Array)), want.input.values.map((v) => bits(v as Float64Array)), `weight ${w}`);
          // something was changed (the case is not vacuous), the caller's arrays never
          assert.ok(got.sanitized > 0 && (got.clipped > 0 || !(w === undefined || w === 2 || w === 1e15)), `weight ${w}`);
          assert.ok(Number.isNaN(input.values[0]![1]!));
        }
      });
    }
    it(`${meanScaling}: secure-sum and integer leaves as sanitize then clamp`, () => {
      const ss = planOf(roles, 'federated_secure_sum_at_aggregators', ['int32', 'float64'], 16n);
      const a: ClientInput = { values: [Int32Array.of(0, 16, -3, 7, 15, 99), Float64Array.of(Number.NaN, 1.5, 16, -1, 3, Number.POSITIVE_INFINITY)] };
      const want = twoSteps(roles, ss, a);
      const got = roles.sanitizeAndClamp!(ss, a);
      assert.deepEqual([got.sanitized, got.clipped], [want.sanitized, want.clipped]);
      assert.ok(got.sanitized > 0);
      assert.deepEqual(got.input.values.map((v) => bits(v as Int32Array)), want.input.values.map((v) => bits(v as Int32Array)));
      const mean = planOf(roles, 'federated_mean_at_aggregators', ['int32', 'float32']);
      const b: ClientInput = { values: [Int32Array.of(1, -2, 3, 2 ** 30, 5, 6), Float32Array.of(Number.NaN, 1, 2, 3, 4, 3e38)] };
      const want2 = twoSteps(roles, mean, b);
      const got2 = roles.sanitizeAndClamp!(mean, b);
      assert.deepEqual([got2.sanitized, got2.clipped], [want2.sanitized, want2.clipped]);
      assert.deepEqual(got2.input.values.map((v) => bits(v as Int32Array)), want2.input.values.map((v) => bits(v as Int32Array)));
    });
  }
});

describe('checkClientInput, checked again in the same process', () => {
  const roles = mpcRoles({ protocol: 'aby3' });
  const plan = planOf(roles, 'federated_mean_at_aggregators', ['float32']);
  it('a leaf swapped after the first check is scanned (and refused) at the second', () => {
    const input: ClientInput = { values: [Float32Array.of(1, 2, 3, 4, 5, 6)] };
    checkClientInput('c0', plan, input);
    (input.values as Float32Array[])[0] = Float32Array.of(1, 2, Number.NaN, 4, 5, 6);
    assert.throws(() => checkClientInput('c0', plan, input), /c0: leaf 0 \(\/l0\): element 2 is NaN/);
  });
  it('another plan, another party, or a third check of the same input: scanned', () => {
    const other = planOf(roles, 'federated_mean_at_aggregators', ['float32']);
    const v = Float32Array.of(1, 2, 3, 4, 5, 6);
    const input: ClientInput = { values: [v] };
    checkClientInput('c0', plan, input);
    v[4] = Number.NaN;
    assert.throws(() => checkClientInput('c0', other, input), /element 4 is NaN/);
    v[4] = 5;
    checkClientInput('c0', plan, input);
    v[4] = Number.NaN;
    assert.throws(() => checkClientInput('c1', plan, input), /c1: .*element 4 is NaN/);
    v[4] = 5;
    checkClientInput('c0', plan, input);
    checkClientInput('c0', plan, input);
    v[4] = Number.NaN;
    assert.throws(() => checkClientInput('c0', plan, input), /element 4 is NaN/);
  });
  it("a sanitizer's output is not scanned for NaN again (it holds none); a leaf swapped into it is", () => {
    const raw: ClientInput = { values: [Float32Array.of(1, Number.NaN, 3, Number.POSITIVE_INFINITY, 5, 6)] };
    for (const made of [roles.sanitizeAndClamp!(plan, raw).input, sanitize(plan, raw, () => {})]) {
      assert.ok(!Array.from(made.values[0] as Float32Array).some(Number.isNaN));
      checkClientInput('c0', plan, made);
      checkClientInput('c2', plan, made);
      (made.values as Float32Array[])[0] = Float32Array.of(1, 2, Number.NaN, 4, 5, 6);
      assert.throws(() => checkClientInput('c0', plan, made), /element 2 is NaN/);
    }
    // the raw input itself was never sanitized: scanned
    assert.throws(() => checkClientInput('c0', plan, raw), /element 1 is NaN/);
  });
});
