/**
 * `roles.clamp`: a client's input brought into what the protocol can encode,
 * so that the remote executor never refuses (and so never tells the driver
 * about) a value. Without it the protocol refuses the same input; with it the
 * aggregation runs, and values already in range are untouched.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TensorType } from '../../src/core/types.js';
import { checkPlan } from '../../src/aggregation/plan.js';
import { mpcRoles } from '../../src/aggregation/mpc-roles.js';
import { paillierRoles } from '../../src/aggregation/paillier-roles.js';
import { generateIdentity } from '../../src/crypto/secure-channel.js';
import { simulateRoles } from '../../src/aggregation/simulate.js';
import type { AggregationRoles, ClientInput } from '../../src/aggregation/roles.js';

const CLIENTS = ['c0', 'c1', 'c2'];
const POLICY = { minContributors: 1, allowInsecure: false };
const planOf = (roles: AggregationRoles) =>
  checkPlan({
    protocol: roles.name, invocationId: `clamp/${roles.name}`, uri: 'federated_weighted_mean_at_aggregators', target: 'AGGREGATORS',
    leaves: [{ path: '', type: new TensorType('float32', [3]), size: 3 }], clients: CLIENTS, aggregators: roles.aggregatorNames, server: 'server', params: roles.params,
  });

function cases(): [string, AggregationRoles][] {
  const ids = new Map([...CLIENTS, 'server', 'aggregator'].map((n) => [n, generateIdentity()]));
  return [
    ['mpc-aby3', mpcRoles({ protocol: 'aby3' })],
    ['paillier', paillierRoles({ maxClients: 3, keyBits: 512, workers: false, identities: ids })],
  ];
}

describe('roles.clamp', () => {
  for (const [name, roles] of cases()) {
    it(`${name}: an out-of-range weighted value is refused as is, aggregated once clamped; in-range inputs are untouched`, async () => {
      const plan = planOf(roles);
      // a weight the driver could pick to probe the value (|w·x| past the fixed-point range)
      const huge: ClientInput = { values: [Float32Array.of(98.625, -3, 1e30)], weight: 1e15 };
      const ok: ClientInput = { values: [Float32Array.of(1, 2, 3)], weight: 2 };
      const inputs = [huge, ok, ok];
      await assert.rejects(simulateRoles(roles, plan, inputs, { policy: POLICY, timeoutMs: 30_000 }));
      const k = roles.clamp!(plan, huge);
      assert.ok(k.clipped > 0);
      assert.equal(roles.clamp!(plan, ok).clipped, 0);
      assert.equal(roles.clamp!(plan, ok).input.values[0], ok.values[0], 'an in-range input is copied');
      const r = await simulateRoles(roles, plan, [k.input, ok, ok], { policy: POLICY, timeoutMs: 30_000 });
      assert.equal(r.result.leaves.length, 1);
      assert.ok(Array.from(r.result.leaves[0] as Float64Array).every(Number.isFinite));
    });
  }
});
