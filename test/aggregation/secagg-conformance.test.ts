/**
 * The aggregation conformance suite (test/aggregation/conformance.ts) over
 * SecAgg, complete graph and SecAgg+ ('auto' falls back to the complete
 * graph at these sizes; an explicit Harary graph needs n >= k + 1, so it runs
 * at n >= 5), against the insecure reference on random inputs, for every
 * intrinsic it implements. A request placed at AGGREGATORS runs with target
 * SERVER (SecAgg has no aggregator parties; secagg-roles.ts).
 *
 * Tolerances (docs/secagg.md, "Encoding"): integers and secure sums exact;
 * float sums and means within n u/2, u = 2^-fracBits; weighted means (private
 * weights in fixed point) within (n u/2)(1 + |m|) / (W - n u/2), W >= 1.
 * Weighted means run with floatBits 80: the suite's 40-bit integers times
 * weights up to 10 fit.
 */
import { runAggregationConformance } from './conformance.js';
import { secAgg } from '../../src/aggregation/secagg-roles.js';

const MAX = 6;
const u = 2 ** -24;
const WEIGHTED = 'federated_weighted_mean_at_aggregators' as const;
const OTHERS = ['federated_secure_sum', 'federated_sum_at_aggregators', 'federated_mean_at_aggregators'] as const;
const e = (MAX * u) / 2 / (1 - (MAX * u) / 2);

for (const [label, graph, minClients] of [['complete', 'complete', 2], ['harary k=4 t=2', { harary: { k: 4, t: 2 } }, 5]] as const) {
  // (default floatBits 48: floats take the one-limb path in doubles; 80: two limbs in BigInt)
  const make = () => secAgg({ graph, corruptionRate: 0, dropoutRate: 0, floatBits: 80 });
  runAggregationConformance(`secagg (${label})`, () => secAgg({ graph, corruptionRate: 0, dropoutRate: 0 }), { numRuns: 5, minClients, maxClients: MAX, intrinsics: [...OTHERS], floatTolerance: { abs: (MAX * u) / 2, rel: 2 ** -40 } });
  runAggregationConformance(`secagg (${label}), weighted mean with private weights`, make, { numRuns: 5, minClients, maxClients: MAX, intrinsics: [WEIGHTED], minTotalWeight: 1, floatTolerance: { abs: e, rel: e + 2 ** -40 } });
}
