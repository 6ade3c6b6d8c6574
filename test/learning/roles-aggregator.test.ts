/**
 * rolesAggregator: any aggregation role set as the learning layer's
 * Aggregator (each mean a federatedMean at SERVER over the roles,
 * simulated in this process), and FedAvg's per-round client choice.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { rolesAggregator } from '../../src/learning/roles-aggregator.js';
import { referenceRoles } from '../../src/aggregation/reference.js';
import { mpcRoles } from '../../src/aggregation/mpc-roles.js';
import type { AggregationRoles } from '../../src/aggregation/roles.js';
import { initTf } from '../../src/learning/tf.js';
import { loadMnist, slice } from '../../src/learning/mnist.js';
import { DataOwner, ModelOwner } from '../../src/learning/roles.js';
import { runFedAvg } from '../../src/learning/fedavg.js';
import { plaintextAggregator } from '../../src/learning/aggregator.js';
import { sgd } from '../../src/learning/optimizers.js';

before(async () => { await initTf(); });

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

test('runFedAvg clientsForRound: only the chosen clients train and are averaged; an empty round leaves the model unchanged', async () => {
  const data = loadMnist();
  const owners = [0, 1, 2, 3].map((i) => new DataOwner(`data-owner-${i}`, 'logistic_regression', data, slice(i * 100, i * 100 + 100), { batchSize: 50, shuffleSeed: i }));
  const inner = plaintextAggregator();
  const seen: number[][] = [];
  const agg = { name: 'recording', secure: false, async mean(u: readonly Float32Array[], w: readonly number[], names?: readonly string[]) { seen.push([u.length, ...(names ?? []).map((n) => Number(n.slice(-1)))]); return inner.mean(u, w); } };
  const mo = new ModelOwner('model-owner', 'logistic_regression', data, { seed: 1, optimizer: sgd({ lr: 1 }) });
  const before0 = mo.shareWeights().slice();
  const picks: Record<number, number[]> = { 1: [1, 3], 2: [], 3: [0, 1, 2, 3] };
  const metrics = await runFedAvg(mo, owners, agg, { rounds: 3, clientLr: 0.1, validationLimit: 100, clientsForRound: (r, all) => picks[r]!.map((i) => all[i]!) });
  assert.deepEqual(seen, [[2, 1, 3], [4, 0, 1, 2, 3]]);
  assert.equal(metrics.length, 3);
  assert.deepEqual(metrics[1]!.bytesByRole, {});
  assert.ok(Number.isNaN(metrics[1]!.trainLoss));
  assert.equal(metrics[1]!.accuracy, metrics[0]!.accuracy, 'the empty round changes nothing');
  assert.notDeepEqual(mo.shareWeights(), before0);
  mo.dispose();
  owners.forEach((o) => o.dispose());
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
