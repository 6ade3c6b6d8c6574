import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initTf } from '../../src/learning/tf.js';
import { loadMnist, slice, subset } from '../../src/learning/mnist.js';
import { ModelOwner, DataOwner } from '../../src/learning/roles.js';
import { fedSgdRound, trainFedSGD } from '../../src/learning/fedsgd.js';
import { plaintextAggregator, weightedMeanPlain, BadUpdateError, type Aggregator } from '../../src/learning/aggregator.js';
import { sgd } from '../../src/learning/optimizers.js';
import { flatGradient, buildModel, setFlatWeights } from '../../src/learning/models.js';

before(async () => { await initTf(); });

/** An aggregator that records what it was given (what the compute servers' input is, and what the model owner gets back). */
function recording(): Aggregator & { calls: { updates: Float32Array[]; weights: number[]; mean: Float32Array }[] } {
  const inner = plaintextAggregator();
  const calls: { updates: Float32Array[]; weights: number[]; mean: Float32Array }[] = [];
  return {
    name: 'recording', secure: false, calls,
    async mean(updates, weights) {
      const r = await inner.mean(updates, weights);
      calls.push({ updates: updates.map((u) => u.slice()), weights: [...weights], mean: r.mean.slice() });
      return r;
    },
  };
}

function setup(n = 3, batchSize = 32, size = 600) {
  const data = loadMnist();
  const owners = Array.from({ length: n }, (_, i) => new DataOwner(`data-owner-${i}`, 'network_a', data, slice(i * size, (i + 1) * size), { batchSize, seed: 1, shuffleSeed: i }));
  const mo = new ModelOwner('model-owner', 'network_a', data, { seed: 1, optimizer: sgd({ lr: 0.1 }) });
  return { data, owners, mo };
}

test("the seed's roles: data owner slices, iterations and batches from its own slice only", () => {
  const data = loadMnist();
  const d = new DataOwner('data-owner-1', 'logistic_regression', data, slice(20000, 40000), { batchSize: 128 });
  assert.equal(d.data.count, 20000);
  assert.equal(d.iterations, 156);
  assert.equal(d.data.labels[0], data.train.labels[20000]);
  assert.throws(() => d.computeGradient(), /no weights received yet/);
  assert.throws(() => new DataOwner('x', 'network_a', data, slice(0, 10), { batchSize: 128 }), /fewer than batchSize 128/);
  assert.throws(() => new DataOwner('', 'network_a', data, slice(0, 10)), /"name" expected non-empty string/);
  assert.throws(() => new DataOwner('x', 'network_a', data, 5 as unknown as ReturnType<typeof slice>), /"slice" expected/);
  assert.throws(() => new ModelOwner('m', 'network_q', data), /valid models: network_a/);
  assert.throws(() => new ModelOwner('m', 'network_a', 'svhn'), /valid datasets: mnist/);
  d.dispose();
});

test('a data owner\'s gradient is the gradient of its own batch at the weights the model owner sent', () => {
  const data = loadMnist();
  // a tiny owner whose whole slice is one batch: the batch is the slice, in some order
  const small = subset(data.train, [0, 1, 2, 3, 4, 5, 6, 7]);
  const d = new DataOwner('data-owner-0', 'logistic_regression', data, small, { batchSize: 8 });
  const mo = new ModelOwner('model-owner', 'logistic_regression', data, { seed: 4 });
  const w = mo.shareWeights();
  d.updateModel(w);
  const g = d.computeGradient();
  const ref = buildModel('logistic_regression');
  setFlatWeights(ref, w);
  const r = flatGradient(ref, small.images, small.labels);
  assert.equal(g.examples, 8);
  assert.ok(Math.abs(g.loss - r.loss) < 1e-5);
  for (let i = 0; i < r.grad.length; i++) assert.ok(Math.abs(g.grad[i]! - r.grad[i]!) < 1e-5);
  [d, mo].forEach((x) => x.dispose()); ref.dispose();
});

test('FedSGD round: data owners receive the model owner\'s weights, the aggregator gets their gradients weighted by batch size, the model owner gets only the mean', async () => {
  const { owners, mo } = setup(3, 16);
  const w0 = mo.shareWeights();
  const received: Float32Array[] = [];
  owners.forEach((o) => { const f = o.updateModel.bind(o); o.updateModel = (w) => { received.push(w.slice()); f(w); }; });
  const gotByModelOwner: Float32Array[] = [];
  const upd = mo.updateModel.bind(mo);
  mo.updateModel = (m) => { gotByModelOwner.push(m.slice()); upd(m); };
  const agg = recording();
  const r = await fedSgdRound(mo, owners, agg);
  assert.equal(received.length, 3);
  for (const w of received) assert.deepEqual(w, w0);
  assert.equal(agg.calls.length, 1);
  assert.deepEqual(agg.calls[0]!.weights, [16, 16, 16]);
  assert.equal(gotByModelOwner.length, 1);
  assert.deepEqual(gotByModelOwner[0], weightedMeanPlain(agg.calls[0]!.updates, [1, 1, 1]));
  // SGD lr 0.1: w1 = w0 - 0.1 * mean
  const w1 = mo.shareWeights();
  for (let i = 0; i < w1.length; i += 997) assert.ok(Math.abs(w1[i]! - (w0[i]! - 0.1 * gotByModelOwner[0]![i]!)) < 1e-6);
  assert.deepEqual(r.used, ['data-owner-0', 'data-owner-1', 'data-owner-2']);
  assert.ok(r.bytesByRole['model-owner']! > 0 && r.bytesByRole['data-owner-0']! > 0);
  [...owners, mo].forEach((x) => x.dispose());
});

for (const [label, corrupt] of [
  ['NaN', (g: Float32Array) => { g[7] = NaN; return g; }],
  ['Infinity', (g: Float32Array) => { g[0] = Infinity; return g; }],
  ['-Infinity', (g: Float32Array) => { g[g.length - 1] = -Infinity; return g; }],
  ['wrong shape', (g: Float32Array) => g.subarray(0, g.length - 1)],
] as const) {
  test(`bad update (${label}): abort names the owner and leaves the model unchanged; skip goes on without it`, async () => {
    const { owners, mo } = setup(3, 16);
    const bad = owners[1]!;
    const f = bad.computeGradient.bind(bad);
    bad.computeGradient = () => { const r = f(); return { ...r, grad: corrupt(r.grad) }; };
    const before = mo.snapshot();
    const agg = recording();
    await assert.rejects(fedSgdRound(mo, owners, agg, 'abort'), (e: Error) => e instanceof BadUpdateError && e.owner === 'data-owner-1' && e.message.includes('"data-owner-1"'));
    assert.deepEqual(mo.shareWeights(), before.weights);
    assert.equal(mo.optimizer.steps, 0);
    assert.equal(agg.calls.length, 0, 'nothing reached the aggregator');
    const r = await fedSgdRound(mo, owners, agg, 'skip');
    assert.deepEqual(r.used, ['data-owner-0', 'data-owner-2']);
    assert.equal(r.skipped.length, 1);
    assert.equal(r.skipped[0]!.owner, 'data-owner-1');
    assert.equal(agg.calls[0]!.updates.length, 2);
    assert.notDeepEqual(mo.shareWeights(), before.weights);
    // through the training loop too
    await assert.rejects(trainFedSGD(mo, owners, agg, { epochs: 1, maxSteps: 2 }), /data owner "data-owner-1"/);
    [...owners, mo].forEach((x) => x.dispose());
  });
}

test('skip with every owner bad aborts the round, model unchanged', async () => {
  const { owners, mo } = setup(2, 16);
  for (const o of owners) { const f = o.computeGradient.bind(o); o.computeGradient = () => { const r = f(); r.grad[0] = NaN; return r; }; }
  const w = mo.shareWeights();
  await assert.rejects(fedSgdRound(mo, owners, plaintextAggregator(), 'skip'), /every data owner was skipped/);
  assert.deepEqual(mo.shareWeights(), w);
  await assert.rejects(fedSgdRound(mo, owners, plaintextAggregator(), 'ignore' as 'skip'), /"onBadUpdate" expected 'abort' or 'skip'/);
  [...owners, mo].forEach((x) => x.dispose());
});

test('FedSGD on MNIST slices learns (a few dozen steps beat chance by far) and reports per-epoch metrics', async () => {
  const data = loadMnist();
  const owners = [0, 1, 2].map((i) => new DataOwner(`data-owner-${i}`, 'network_a', data, slice(i * 2000, (i + 1) * 2000), { batchSize: 64, seed: 2, shuffleSeed: i }));
  const mo = new ModelOwner('model-owner', 'network_a', data, { seed: 2, totalSteps: 40 });
  const acc0 = mo.validateModel(1000).accuracy;
  const rounds: number[] = [];
  const m = await trainFedSGD(mo, owners, plaintextAggregator(), { epochs: 2, maxSteps: 40, validationLimit: 1000, onRound: (r) => rounds.push(r.round) });
  assert.equal(m.length, 2);
  assert.deepEqual(rounds, Array.from({ length: 40 }, (_, i) => i + 1));
  assert.equal(m[0]!.round, 31); // 2000 / 64 = 31 steps per epoch
  assert.equal(m[1]!.round, 40);
  assert.ok(acc0 < 0.3, `untrained accuracy ${acc0}`);
  assert.ok(m[1]!.accuracy > 0.8, `accuracy after 40 steps ${m[1]!.accuracy}`);
  assert.ok(m[1]!.trainLoss < m[0]!.trainLoss);
  assert.ok(m[0]!.localMs > 0 && m[0]!.aggregationMs >= 0);
  await assert.rejects(trainFedSGD(mo, owners, plaintextAggregator(), { epochs: 0 }), /"epochs" expected integer >= 1/);
  await assert.rejects(trainFedSGD(mo, [], plaintextAggregator()), /at least one data owner/);
  [...owners, mo].forEach((x) => x.dispose());
});
