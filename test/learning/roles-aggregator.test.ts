/**
 * rolesAggregator: any aggregation role set as the learning layer's
 * Aggregator (each mean a federatedMean at SERVER over the roles,
 * simulated in this process).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rolesAggregator } from '../../src/learning/roles-aggregator.js';
import { referenceRoles } from '../../src/aggregation/reference.js';
import { mpcRoles } from '../../src/aggregation/mpc-roles.js';
import type { AggregationRoles } from '../../src/aggregation/roles.js';

function rand(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32) * 2 - 1;
}

for (const [label, make, tol] of [
  ['insecure reference', () => referenceRoles(), 1e-6],
  ['ABY3', () => mpcRoles({ protocol: 'aby3' }), 1e-4],
] as const) {
  test(`rolesAggregator over ${label}: weighted and unweighted means of random updates, several client counts`, async () => {
    const r = rand(7);
    for (const weighted of [true, false]) {
      const roles: AggregationRoles = make();
      const agg = rolesAggregator(roles, { weighted, minContributors: 1, ...(label === 'insecure reference' ? { allowInsecure: true } : {}) });
      for (const n of [3, 5, 4]) {
        const m = 37;
        const updates = Array.from({ length: n }, () => Float32Array.from({ length: m }, () => r() * 3));
        const weights = Array.from({ length: n }, (_, i) => 10 + 7 * i);
        const { mean } = await agg.mean(updates, weights);
        const W = weighted ? weights.reduce((a, b) => a + b, 0) : n;
        for (let j = 0; j < m; j++) {
          const want = updates.reduce((s, u, i) => s + u[j]! * (weighted ? weights[i]! : 1), 0) / W;
          assert.ok(Math.abs(mean[j]! - want) <= tol, `${label} weighted=${weighted} n=${n} [${j}]: ${mean[j]} vs ${want}`);
        }
      }
      await agg.close?.();
    }
  });
}

test('rolesAggregator: argument checks name the argument', () => {
  assert.throws(() => rolesAggregator(42 as never), /"roles" expected/);
});

test('rolesAggregator over SecAgg with the client count changing between means (Poisson-sampled rounds): each mean is the exact mean of its clients', async () => {
  const { secAggRoles } = await import('../../src/aggregation/secagg-roles.js');
  const agg = rolesAggregator(() => secAggRoles({ threshold: 2 }), { minContributors: 1 });
  const r = rand(11);
  for (const n of [3, 4, 3, 3]) {
    const updates = Array.from({ length: n }, () => Float32Array.from({ length: 5 }, () => r()));
    const { mean } = await agg.mean(updates, updates.map(() => 1));
    for (let j = 0; j < 5; j++) {
      const want = updates.reduce((s, u) => s + u[j]!, 0) / n;
      assert.ok(Math.abs(mean[j]! - want) < 1e-5, `n=${n} [${j}]: ${mean[j]} vs ${want}`);
    }
  }
  await agg.close?.();
});

test('rolesAggregator runs the role set itself (each client role is called once per mean, bytes are counted), weighted and unweighted', async () => {
  for (const weighted of [true, false]) {
    const inner = referenceRoles();
    let calls = 0;
    const spy: AggregationRoles = { ...inner, client: async (ctx, plan, input) => { calls++; return inner.client(ctx, plan, input); } };
    const agg = rolesAggregator(spy, { weighted, allowInsecure: true });
    const { bytesByRole } = await agg.mean([Float32Array.of(1, 2), Float32Array.of(3, 4), Float32Array.of(5, 6)], [1, 2, 3]);
    assert.equal(calls, 3, `weighted=${weighted}: the client roles ran`);
    assert.ok((bytesByRole['data-owners'] ?? 0) > 0, `weighted=${weighted}: bytes counted ${JSON.stringify(bytesByRole)}`);
  }
});
