/**
 * The aggregation conformance suite (test/aggregation/conformance.ts) run over
 * the MPC protocols (their per-party roles, simulated by rolesAsProtocol) at
 * both precisions. Float tolerance: with the default owner-side scaling, each
 * client's value is encoded once (error 2^-(f+1)) and the servers only add, so
 * |error| <= maxClients * 2^-(f+1) (docs/encrypted.md); integer results are
 * compared exactly; rel covers float64 rounding when encoding large values
 * (x * 2^f / n is computed in float64).
 *
 * Weighted means (private weights): the receiver opens sum(w x) and sum(w),
 * each within n u/2, and divides: |error| <= (n u/2)(1 + |m|)/(W - n u/2),
 * i.e. with W >= 1 (minTotalWeight) abs and rel n u/2 / (1 - n u/2).
 */
import { AGGREGATION_URIS, mpcAggregation } from '../../src/aggregation/index.js';
import { runAggregationConformance } from './conformance.js';

const MAX_CLIENTS = 6;
const WEIGHTED = 'federated_weighted_mean_at_aggregators';
for (const protocol of ['aby3', 'pond'] as const) {
  for (const precision of ['low', 'high'] as const) {
    const u = precision === 'low' ? 2 ** -16 : 2 ** -32;
    const make = () => mpcAggregation({ protocol, precision, minContributors: 1 });
    runAggregationConformance(`mpc ${protocol} (${precision})`, make, {
      numRuns: 6,
      maxClients: MAX_CLIENTS,
      intrinsics: AGGREGATION_URIS.filter((x) => x !== WEIGHTED),
      floatTolerance: { abs: MAX_CLIENTS * u / 2, rel: 2 ** -48 },
    });
    const e = MAX_CLIENTS * u / 2 / (1 - MAX_CLIENTS * u / 2);
    runAggregationConformance(`mpc ${protocol} (${precision}), weighted mean with private weights`, make, {
      numRuns: 6,
      maxClients: MAX_CLIENTS,
      intrinsics: [WEIGHTED],
      minTotalWeight: 1,
      floatTolerance: { abs: e, rel: e + 2 ** -48 },
    });
  }
}
