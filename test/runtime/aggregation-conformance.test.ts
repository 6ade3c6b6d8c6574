import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runAggregationConformance, checkProtocolAgainstReference } from '../aggregation/conformance.js';
import { insecureReferenceAggregation, referenceAggregate, type AggregationProtocol, type AggregationRequest } from '../../src/runtime/index.js';

// The reference against itself (a sanity check of the suite's plumbing).
runAggregationConformance('insecure-reference', () => insecureReferenceAggregation({ warn: () => undefined }), { numRuns: 12 });

// The suite must be able to fail: protocols that are wrong in small ways are caught.
function skewed(name: string, f: (req: AggregationRequest) => ReturnType<typeof referenceAggregate>): () => AggregationProtocol {
  return () => ({ name, secure: false, intrinsics: ['federated_secure_sum', 'federated_mean_at_aggregators'], aggregate: async (r) => f(r) });
}

test('conformance catches a protocol that is off by one in the last client', async () => {
  const offByOne = skewed('off-by-one', (r) => {
    const res = referenceAggregate(r);
    return { leaves: res.leaves.map((l) => (l instanceof Float64Array ? l : (l as bigint[]).map((x, i) => (i === 0 ? x + 1n : x)))) };
  });
  await assert.rejects(checkProtocolAgainstReference(offByOne, { numRuns: 10, intrinsics: ['federated_secure_sum'] }));
});

test('conformance catches a mean that ignores the last client', async () => {
  const dropLast = skewed('drop-last', (r) => referenceAggregate({ ...r, clientValues: r.clientValues.slice(0, -1), numClients: Math.max(1, r.numClients - 1) }));
  await assert.rejects(checkProtocolAgainstReference(dropLast, { numRuns: 30, intrinsics: ['federated_mean_at_aggregators'], maxClients: 4 }));
});

test('conformance catches a protocol returning the wrong number of leaves', async () => {
  const noLeaves = skewed('no-leaves', () => ({ leaves: [] }));
  await assert.rejects(checkProtocolAgainstReference(noLeaves, { numRuns: 3, intrinsics: ['federated_secure_sum'] }));
});
