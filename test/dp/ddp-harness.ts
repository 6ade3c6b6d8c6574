/**
 * Shared by the distributed-DP tests: the inner role sets (each with an
 * exact secure sum) and a plan of two float32 leaves (22 values) for them.
 */
import { TensorType } from '../../src/core/types.js';
import { checkPlan, type AggregationPlan } from '../../src/aggregation/plan.js';
import { referenceRoles } from '../../src/aggregation/reference.js';
import { mpcRoles } from '../../src/aggregation/mpc-roles.js';
import { paillierRoles } from '../../src/aggregation/paillier-roles.js';
import { secAggRoles } from '../../src/aggregation/secagg-roles.js';
import { generateIdentity } from '../../src/crypto/secure-channel.js';
import type { AggregationRoles } from '../../src/aggregation/roles.js';

export const CLIENTS = ['c0', 'c1', 'c2', 'c3'];
export const SHAPES = [[3, 5], [7]];
export const D_RAW = 22;

export function innerRoleSets(): [string, () => AggregationRoles][] {
  const ids = new Map([...CLIENTS, 'server', 'aggregator'].map((n) => [n, generateIdentity()]));
  return [
    ['insecure-reference', () => referenceRoles()],
    ['mpc-aby3', () => mpcRoles({ protocol: 'aby3' })],
    ['mpc-pond', () => mpcRoles({ protocol: 'pond' })],
    ['paillier', () => paillierRoles({ maxClients: 8, keyBits: 512, workers: false, identities: ids })],
    ['secagg', () => secAggRoles({ corruptionRate: 0, dropoutRate: 0 })],
  ];
}

export function planFor(roles: AggregationRoles, id: string, uri: 'federated_sum_at_aggregators' | 'federated_mean_at_aggregators', target: 'SERVER' | 'AGGREGATORS' = 'SERVER', clients = CLIENTS): AggregationPlan {
  return checkPlan({
    protocol: roles.name, invocationId: id, uri, target,
    leaves: SHAPES.map((s, j) => ({ path: `.w${j}`, type: new TensorType('float32', s), size: s.reduce((a, b) => a * b, 1) })),
    clients, aggregators: roles.aggregatorNames, server: 'server', params: roles.params,
  });
}

