/**
 * The aggregation conformance suite (test/aggregation/conformance.ts) run over
 * the MPC protocols at both precisions. Float tolerance: with the default
 * owner-side scaling, each client's value is encoded once (error 2^-(f+1)) and
 * the servers only add, so |error| <= maxClients * 2^-(f+1) (docs/encrypted.md);
 * integer results are compared exactly; rel covers float64 rounding when
 * encoding large values (x * w/W * 2^f is computed in float64).
 */
import { mpcAggregation } from '../../src/aggregation/index.js';
import { runAggregationConformance } from './conformance.js';

const MAX_CLIENTS = 6;
for (const protocol of ['aby3', 'pond'] as const) {
  for (const precision of ['low', 'high'] as const) {
    const u = precision === 'low' ? 2 ** -16 : 2 ** -32;
    runAggregationConformance(`mpc ${protocol} (${precision})`, () => mpcAggregation({ protocol, precision, minContributors: 1 }), {
      numRuns: 6,
      maxClients: MAX_CLIENTS,
      floatTolerance: { abs: MAX_CLIENTS * u / 2, rel: 2 ** -48 },
    });
  }
}
