/**
 * Central DP (src/dp/central.ts) over the reference, ABY3 and Pond role sets:
 * with noise 0 the result is the sum of the clipped updates over the EXPECTED
 * count; with noise the empirical variance matches (z C / n)² (k z² C² / n²
 * with k aggregators adding noise); noise at the aggregators lands in the
 * aggregate and SERVER receives only the noised one; a client's own DP
 * policy refuses before it sends a byte; adaptive clipping follows TFF's
 * update on the released count.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TensorType } from '../../src/core/types.js';
import { PolicyError } from '../../src/core/errors.js';
import { checkPlan, type AggregationPlan } from '../../src/aggregation/plan.js';
import { referenceRoles } from '../../src/aggregation/reference.js';
import { mpcRoles } from '../../src/aggregation/mpc-roles.js';
import { simulateRoles, type ReceivedMessage } from '../../src/aggregation/simulate.js';
import type { AggregationRoles, ClientInput, RolePolicy } from '../../src/aggregation/roles.js';
import type { Transport } from '../../src/transport/channel.js';
import { clipByGlobalNorm, type FloatLeaf } from '../../src/dp/central-clip.js';
import { dpGaussianAdaptive, dpGaussianFixed, BELOW_LEAF_PATH, type CentralDpRoles } from '../../src/dp/central.js';
import type { DpRolePolicy } from '../../src/dp/wrap.js';
import { TestCsprng, Z_BOUND } from './central-helpers.js';

const SECURE: RolePolicy = { minContributors: 1, allowInsecure: false };
const INSECURE: RolePolicy = { minContributors: 1, allowInsecure: true };
let invocation = 0;

function planOf(roles: AggregationRoles, target: 'SERVER' | 'AGGREGATORS', sizes: readonly number[], clients: number, uri: 'federated_mean_at_aggregators' | 'federated_sum_at_aggregators' = 'federated_mean_at_aggregators', over: Partial<AggregationPlan> = {}): AggregationPlan {
  return checkPlan({
    protocol: roles.name,
    invocationId: `dp-central/${++invocation}`,
    uri,
    target,
    leaves: sizes.map((n, j) => ({ path: `[${j}]`, type: new TensorType(j === 0 ? 'float32' : 'float64', [n]), size: n })),
    clients: Array.from({ length: clients }, (_, i) => `owner${i}`),
    aggregators: roles.aggregatorNames,
    server: 'model-owner',
    params: roles.params,
    ...over,
  });
}

/** Client updates with norms around 1 (some clipped at C = 1, some not). */
function inputsOf(rng: TestCsprng, sizes: readonly number[], clients: number): ClientInput[] {
  return Array.from({ length: clients }, (_, c) => {
    const values = sizes.map((n, j) => {
      const v = j === 0 ? new Float32Array(n) : new Float64Array(n);
      rng.gaussian(v, (0.4 + 0.3 * c) / Math.sqrt(sizes.reduce((a, b) => a + b, 0)));
      return v;
    });
    return { values };
  });
}

/** Σ_i clip_C(x_i), in float64, leaf by leaf. */
function clippedSum(inputs: readonly ClientInput[], C: number): Float64Array[] {
  const out = inputs[0]!.values.map((v) => new Float64Array(v.length));
  for (const x of inputs) clipByGlobalNorm(x.values as FloatLeaf[], C).values.forEach((v, j) => v.forEach((e, i) => (out[j]![i]! += e)));
  return out;
}

const inners = (addends: boolean): [string, () => AggregationRoles, RolePolicy, number][] => [
  ...(addends ? [] : ([['reference', () => referenceRoles(), INSECURE, 1e-12]] as [string, () => AggregationRoles, RolePolicy, number][])),
  ['aby3', () => mpcRoles({ protocol: 'aby3', ...(addends ? { aggregatorAddends: true } : {}) }), SECURE, (5 * 2 ** -17) / 7 + 1e-12],
  ['pond', () => mpcRoles({ protocol: 'pond', ...(addends ? { aggregatorAddends: true } : {}) }), SECURE, (5 * 2 ** -17) / 7 + 1e-12],
];

describe('dpGaussianFixed with noise 0: the sum of clipped updates over the expected count', () => {
  for (const noiseAt of ['server', 'aggregators'] as const) {
    for (const [name, make, policy, tol] of inners(noiseAt === 'aggregators')) {
      for (const target of noiseAt === 'server' ? (['SERVER'] as const) : (['SERVER', 'AGGREGATORS'] as const)) {
        it(`${name}, noise at ${noiseAt}, target ${target}`, async () => {
          const rng = new TestCsprng(`fixed-zero/${name}/${noiseAt}/${target}`);
          const roles = dpGaussianFixed(make(), { noiseMultiplier: 0, clip: 1, clientsPerRound: 7, noiseAt });
          const sizes = [40, 3];
          const inputs = inputsOf(rng, sizes, 5);
          const plan = planOf(roles, target, sizes, 5);
          const r = await simulateRoles(roles, plan, inputs, { policy });
          const want = clippedSum(inputs, 1);
          // some clients were clipped, some not
          const clipped = inputs.map((x) => clipByGlobalNorm(x.values as FloatLeaf[], 1).clipped);
          assert.ok(clipped.includes(true) && clipped.includes(false), `clipped: ${clipped.join(',')}`);
          for (const res of r.atAggregators ?? [r.result]) {
            assert.equal(res.leaves.length, 2);
            res.leaves.forEach((l, j) => {
              const got = l as Float64Array;
              assert.equal(got.length, sizes[j]);
              // fixed point: each of the 5 encodings rounds by at most u/2 = 2^-17, then / 7
              for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - want[j]![i]! / 7) <= tol, `leaf ${j}[${i}]: ${got[i]} vs ${want[j]![i]! / 7}`);
            });
          }
          assert.equal(roles.clipState().history.at(-1)!.denominator, 7);
        });
      }
    }
  }

  it('an outer sum is the noised sum itself (no denominator)', async () => {
    const rng = new TestCsprng('fixed-sum');
    const roles = dpGaussianFixed(referenceRoles(), { noiseMultiplier: 0, clip: 0.5, clientsPerRound: 3, noiseAt: 'server' });
    const inputs = inputsOf(rng, [10], 4);
    const r = await simulateRoles(roles, planOf(roles, 'SERVER', [10], 4, 'federated_sum_at_aggregators'), inputs, { policy: INSECURE });
    const want = clippedSum(inputs, 0.5)[0]!;
    (r.result.leaves[0] as Float64Array).forEach((g, i) => assert.ok(Math.abs(g - want[i]!) < 1e-12));
  });
});
