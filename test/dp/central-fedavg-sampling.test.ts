/**
 * Poisson client sampling in the learning layer's FedAvg loop (runFedAvg's
 * `sampling`): each round trains exactly the clients the sampler draws, the
 * round reports how it sampled, and an empty round leaves the model unchanged.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initTf } from '../../src/learning/tf.js';
import { loadMnist, slice } from '../../src/learning/mnist.js';
import { DataOwner, ModelOwner } from '../../src/learning/roles.js';
import { runFedAvg } from '../../src/learning/fedavg.js';
import { plaintextAggregator, type Aggregator } from '../../src/learning/aggregator.js';
import { poissonSample } from '../../src/dp/sampling.js';
import { TestCsprng } from './central-helpers.js';

before(async () => { await initTf(); });

test('runFedAvg with Poisson sampling: each round aggregates exactly the drawn clients; an empty round changes nothing', async () => {
  const data = loadMnist();
  const owners = Array.from({ length: 6 }, (_, i) => new DataOwner(`data-owner-${i}`, 'logistic_regression', data, slice(i * 50, i * 50 + 50), { batchSize: 25, shuffleSeed: i }));
  const modelOwner = new ModelOwner('model-owner', 'logistic_regression', data);
  const inner = plaintextAggregator();
  const seen: string[][] = [];
  const agg: Aggregator = { name: 'recording', secure: false, async mean(u, w, names) { seen.push([...(names ?? [])]); return inner.mean(u, w, names); } };
  const q = 0.5;
  const rounds = 5;
  const metrics = await runFedAvg(modelOwner, owners, agg, { rounds, maxLocalSteps: 1, validationLimit: 100, sampling: { kind: 'poisson', q, rng: new TestCsprng('fedavg-sampling').rng } });
  // the same draws from the same deterministic CSPRNG
  const replay = new TestCsprng('fedavg-sampling').rng;
  const want = Array.from({ length: rounds }, () => poissonSample(owners, q, replay).clients.map((o) => o.name));
  assert.ok(new Set(want.map((w) => w.join())).size > 1, `the draws differ between rounds: ${JSON.stringify(want)}`);
  assert.deepEqual(seen, want.filter((w) => w.length > 0));
  metrics.forEach((m, r) => {
    assert.deepEqual(m.sample, { sampling: 'poisson', rate: q, expected: 3, size: want[r]!.length, empty: want[r]!.length === 0 });
  });
  // q = 0: every round is empty, the model does not move
  const before = modelOwner.shareWeights().slice();
  const empty = await runFedAvg(modelOwner, owners, agg, { rounds: 2, validationLimit: 100, sampling: { kind: 'poisson', q: 0, rng: new TestCsprng('x').rng } });
  assert.ok(empty.every((m) => m.sample?.empty === true && Number.isNaN(m.trainLoss)), 'empty rounds reported');
  assert.deepEqual(modelOwner.shareWeights(), before);
  await assert.rejects(runFedAvg(modelOwner, owners, agg, { rounds: 1, sampling: { kind: 'poisson', q: 0.5, rng: Math.random as never } }), /"rng" expected a CryptoRandom/);
  owners.forEach((o) => o.dispose());
  modelOwner.dispose();
});
