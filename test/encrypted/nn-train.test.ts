/**
 * Private training (src/encrypted/nn/train.ts, optimizers.ts) against
 * plaintext tfjs training from the same initial weights on the same batches:
 * network_a (SGD and AMSgrad) and a small conv net (conv → relu → maxpool,
 * which private training runs as conv → maxpool → relu); what each party
 * receives (the data owner nothing, the model owner the trained weights and
 * the two evaluation numbers, the servers shares only); the same run as one
 * simulated process per party.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ABY3, Player, SensitivityError } from '../../src/encrypted/index.js';
import { convertModel } from '../../src/encrypted/nn/convert.js';
import { amsgrad, sgd, type AmsgradOptions } from '../../src/encrypted/nn/optimizers.js';
import { modelShapes, paramShapes } from '../../src/encrypted/nn/spec.js';
import { poolBeforeRelu, privateTrain, shuffled, trainingLayers, trainStep, type PrivateTrainResult } from '../../src/encrypted/nn/train.js';
import { loadMnist } from '../../src/learning/mnist.js';
import { buildModel, evaluate, flatGradient, getFlatWeights, setFlatWeights } from '../../src/learning/models.js';
import { initTf, tf } from '../../src/learning/tf.js';
import { MemoryHub, MemoryTransport, type Transport } from '../../src/transport/index.js';
import { RoundTransport } from './rounds.js';

const names = ['server0', 'server1', 'server2', 'data-owner', 'model-owner'] as const;
const [s0, s1, s2, dataOwner, modelOwner] = names.map((n) => new Player(n)) as [Player, Player, Player, Player, Player];

/** A small conv net (not one of network_a..d): conv 5x5/2 ×4 + relu, 2x2 max pool, dense 10. */
function smallConv(seed: number): tf.LayersModel {
  let k = 0;
  const init = () => tf.initializers.glorotUniform({ seed: seed * 31 + ++k });
  const m = tf.sequential({ name: 'small_conv' });
  m.add(tf.layers.reshape({ targetShape: [28, 28, 1], inputShape: [784] }));
  m.add(tf.layers.conv2d({ filters: 4, kernelSize: 5, strides: 2, activation: 'relu', kernelInitializer: init(), biasInitializer: 'zeros' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 10, kernelInitializer: init(), biasInitializer: 'zeros' }));
  return m;
}

interface Data { images: Float32Array; labels: Uint8Array; count: number }

/** The batches privateTrain's data owner forms (epoch 1, shuffling seed `seed`). */
function batches(d: Data, B: number, steps: number, seed: number): { x: Float32Array; y: Float32Array; labels: Uint8Array }[] {
  const order = shuffled(d.count, seed);
  return Array.from({ length: steps }, (_, k) => {
    const x = new Float32Array(B * 784), y = new Float32Array(B * 10), labels = new Uint8Array(B);
    for (let i = 0; i < B; i++) {
      const j = order[k * B + i]!;
      x.set(d.images.subarray(j * 784, (j + 1) * 784), i * 784);
      y[i * 10 + d.labels[j]!] = 1;
      labels[i] = d.labels[j]!;
    }
    return { x, y, labels };
  });
}

/** Plaintext SGD with tfjs (mean softmax cross-entropy, as privateTrain's gradient over B). */
function plainSgd(model: tf.LayersModel, bs: ReturnType<typeof batches>, lr: number): void {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const opt = tf.train.sgd(lr);
  for (const b of bs) {
    const B = b.labels.length;
    tf.tidy(() => opt.minimize(() => tf.losses.softmaxCrossEntropy(tf.tensor2d(b.y, [B, 10]), model.predict(tf.tensor2d(b.x, [B, 784])) as tf.Tensor) as tf.Scalar, false, vars));
  }
}

/** Plaintext AMSgrad, float64, the formula privateTrain computes: w −= lr_t·m/√(v̂ + ε²), Keras' bias correction in lr_t. */
function plainAmsgrad(model: tf.LayersModel, bs: ReturnType<typeof batches>, o: Required<Pick<AmsgradOptions, 'lr' | 'epsilon'>>): void {
  const w = Float64Array.from(getFlatWeights(model));
  const m = new Float64Array(w.length), v = new Float64Array(w.length), vh = new Float64Array(w.length);
  bs.forEach((b, k) => {
    const { grad } = flatGradient(model, b.x, b.labels);
    const t = k + 1;
    const lrT = (o.lr * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
    for (let i = 0; i < w.length; i++) {
      m[i] = 0.9 * m[i]! + 0.1 * grad[i]!;
      v[i] = 0.999 * v[i]! + 0.001 * grad[i]! ** 2;
      vh[i] = Math.max(vh[i]!, v[i]!);
      w[i] = w[i]! - (lrT * m[i]!) / Math.sqrt(vh[i]! + o.epsilon ** 2);
    }
    setFlatWeights(model, Float32Array.from(w));
  });
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => { let d = 0; for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!)); return d; };

describe('private training matches plaintext tfjs training from the same initial weights', () => {
  let train: Data;
  before(async () => {
    await initTf();
    const t = loadMnist().train;
    train = { images: t.images.subarray(0, 256 * 784), labels: t.labels.subarray(0, 256), count: 256 };
  });

  /** Private training, then: the weights' distance to plaintext training and both models' loss on the training images. */
  async function compare(build: () => tf.LayersModel, opts: { B: number; steps: number; optimizer: 'sgd' | 'amsgrad'; lr: number; precision?: 'low' | 'high'; eps?: number }) {
    const prot = new ABY3(s0, s1, s2, { precision: opts.precision ?? 'low', transport: new MemoryTransport() });
    const conv = convertModel(build());
    const optimizer = opts.optimizer === 'sgd' ? sgd({ lr: opts.lr }) : amsgrad({ lr: opts.lr, epsilon: opts.eps });
    const r = await privateTrain({ protocol: prot, dataOwner, modelOwner, model: conv, train, optimizer, batchSize: opts.B, epochs: 1, maxSteps: opts.steps, seed: 5 });
    assert.equal(r.steps, opts.steps);
    const ref = build();
    const init = getFlatWeights(ref);
    const bs = batches(train, opts.B, opts.steps, 5);
    if (opts.optimizer === 'sgd') plainSgd(ref, bs, opts.lr);
    else plainAmsgrad(ref, bs, { lr: opts.lr, epsilon: opts.eps! });
    const want = getFlatWeights(ref);
    const got = Float32Array.from(r.model!.weights.flat().flatMap((a) => Array.from(a)));
    const lossRef = evaluate(ref, train.images, train.labels).loss;
    setFlatWeights(ref, got);
    const lossGot = evaluate(ref, train.images, train.labels).loss;
    let sd = 0, su = 0;
    for (let i = 0; i < got.length; i++) { sd += (got[i]! - want[i]!) ** 2; su += (want[i]! - init[i]!) ** 2; }
    return { diff: maxDiff(got, want), update: maxDiff(want, init), rms: Math.sqrt(sd / su), lossRef, lossGot };
  }

  it('network_a, SGD (lr 0.1), 3 steps of 64 at low precision: weights within 1e-3 (< 5% of the largest update), loss within 2e-3', async () => {
    const r = await compare(() => buildModel('network_a', { seed: 2 }), { B: 64, steps: 3, optimizer: 'sgd', lr: 0.1 });
    assert.ok(r.update > 0.01, `the plaintext run moves the weights (${r.update})`);
    assert.ok(r.diff <= 1e-3 && r.diff <= 0.05 * r.update, `max |w_private − w_tfjs| = ${r.diff} (largest update ${r.update})`);
    assert.ok(Math.abs(r.lossGot - r.lossRef) <= 2e-3, `loss ${r.lossGot} vs ${r.lossRef}`);
  });

  // AMSgrad's step is about lr whatever the gradient's size, so the fixed-point noise of small gradients shows in their
  // steps: measured max 3–5% of the largest step, RMS 0.7–0.9% of the RMS step (4 runs)
  it('network_a, AMSgrad (lr 0.01, ε 1e-3), 3 steps of 64: weights within 10% of the largest update (RMS 3%), loss within 5e-3', async () => {
    const r = await compare(() => buildModel('network_a', { seed: 4 }), { B: 64, steps: 3, optimizer: 'amsgrad', lr: 0.01, eps: 1e-3 });
    assert.ok(r.diff <= 0.1 * r.update, `max |w_private − w_plain| = ${r.diff} (largest update ${r.update})`);
    assert.ok(r.rms <= 0.03, `RMS difference / RMS update = ${r.rms}`);
    assert.ok(Math.abs(r.lossGot - r.lossRef) <= 5e-3, `loss ${r.lossGot} vs ${r.lossRef}`);
  });

  it('a small conv net (conv, relu, max pool run as conv, max pool, relu), SGD, 3 steps of 32, both precisions: weights within 1e-3, loss within 2e-3', async () => {
    assert.deepEqual(poolBeforeRelu(convertModel(smallConv(1)).spec).layers.map((l) => l.kind), ['reshape', 'conv2d', 'maxPool2x2', 'relu', 'flatten', 'dense']);
    for (const precision of ['low', 'high'] as const) {
      const r = await compare(() => smallConv(1), { B: 32, steps: 3, optimizer: 'sgd', lr: 0.1, precision });
      assert.ok(r.update > 0.005, `the plaintext run moves the weights (${r.update})`);
      assert.ok(r.diff <= 1e-3, `${precision}: max |w_private − w_tfjs| = ${r.diff} (largest update ${r.update})`);
      assert.ok(Math.abs(r.lossGot - r.lossRef) <= 2e-3, `${precision}: loss ${r.lossGot} vs ${r.lossRef}`);
    }
  });
});

describe('private training: what each party receives', () => {
  let train: Data;
  let evalSet: Data;
  before(async () => {
    await initTf();
    const d = loadMnist();
    train = { images: d.train.images.subarray(0, 32 * 784), labels: d.train.labels.subarray(0, 32), count: 32 };
    evalSet = { images: d.test.images.subarray(0, 24 * 784), labels: d.test.labels.subarray(0, 24), count: 24 };
  });

  it('the data owner receives nothing, the model owner only the trained weights and the two evaluation sums, the servers shares only', async () => {
    const t = new RoundTransport();
    const prot = new ABY3(s0, s1, s2, { transport: t });
    const conv = convertModel(smallConv(3));
    const P = conv.weights.flat().reduce((a, w) => a + w.length, 0);
    const r = await privateTrain({ protocol: prot, dataOwner, modelOwner, model: conv, train, eval: evalSet, evalBatchSize: 16, optimizer: sgd(), batchSize: 16, epochs: 1, seed: 2 });
    assert.equal(r.steps, 2);
    const log = t.log;
    // the data owner: sends its batches' shares, receives nothing
    assert.deepEqual(log.filter((m) => m.to === 'data-owner'), []);
    // the model owner: receives the weights (x0 + x1 from server0, x2 from server2) and two scalars per evaluation, nothing else
    const toOwner = log.filter((m) => m.to === 'model-owner');
    assert.deepEqual(toOwner.map((m) => [m.from, m.key.split('/').pop(), m.bytes]).sort(), [
      ['server0', 'reveal01', 8], ['server0', 'reveal01', 8], ['server0', 'reveal01', 8 * P],
      ['server2', 'reveal2', 8], ['server2', 'reveal2', 8], ['server2', 'reveal2', 8 * P],
    ].sort());
    // what the owners send: seeds and one full masked component per input, to the servers only
    for (const owner of ['data-owner', 'model-owner']) {
      for (const m of log.filter((x) => x.from === owner)) {
        assert.ok(['server0', 'server1', 'server2'].includes(m.to), `${owner} sends to ${m.to}`);
        assert.match(m.key, /\/(seeds01|seed1|seed0|x2)$/);
      }
    }
    // inputs: 2 training batches (images, labels) + 2 evaluation batches (images, labels), 5 messages each
    assert.equal(log.filter((m) => m.from === 'data-owner').length, (2 * 2 + 2 * 2) * 5);
    assert.equal(log.filter((m) => m.from === 'model-owner').length, 5);
    // no value is opened to a server, and the masked components the servers receive look uniform (MNIST pixels are mostly 0)
    assert.deepEqual(log.filter((m) => m.to.startsWith('server') && /reveal/.test(m.key)), []);
    for (const m of log.filter((x) => x.from === 'data-owner' && x.key.endsWith('/x2') && x.bytes >= 1024)) {
      let ones = 0;
      for (const byte of m.payload) for (let b = byte; b; b &= b - 1) ones++;
      const freq = ones / (m.payload.length * 8);
      assert.ok(freq > 0.48 && freq < 0.52, `bit frequency ${freq} of the component sent to ${m.to}`);
    }
    assert.ok(Number.isFinite(r.epochs[0]!.accuracy) && r.model !== undefined);
  });

  it('the trained parameters cannot be revealed to the data owner (SensitivityError before any message)', async () => {
    const t = new RoundTransport();
    const prot = new ABY3(s0, s1, s2, { transport: t });
    const conv = convertModel(smallConv(3));
    const layers = trainingLayers(conv.spec);
    const inShapes = modelShapes({ inputShape: conv.spec.inputShape, layers }).inputs;
    const shapes = layers.map((l, i) => paramShapes(l, inShapes[i]!));
    const init = Float32Array.from(conv.weights.flat().flatMap((w) => Array.from(w)));
    const flat = await prot.encrypt(modelOwner, init, { sensitivity: [modelOwner] });
    const [x, y] = [await prot.encrypt(dataOwner, train.images.subarray(0, 8 * 784), { shape: [8, 784], sensitivity: [dataOwner, modelOwner] }), await prot.encrypt(dataOwner, new Float32Array(80).fill(0.1), { shape: [8, 10], sensitivity: [dataOwner, modelOwner] })];
    const next = await trainStep(prot, layers, inShapes, flat, shapes, x, y, sgd(), 1);
    assert.deepEqual(next.sensitivity?.map((p) => p.name), ['model-owner']);
    t.reset();
    assert.throws(() => prot.reveal(next, dataOwner), SensitivityError);
    assert.throws(() => prot.reveal(next, s1), SensitivityError);
    assert.equal(t.log.length, 0);
  });

  it('as one simulated process per party: only the model owner\'s process gets the model and the evaluation', async () => {
    const hub = new MemoryHub();
    const conv = convertModel(smallConv(5));
    const runs: Promise<PrivateTrainResult>[] = names.map((name) => {
      const transport: Transport = new MemoryTransport({ hub, local: [name] });
      const prot = new ABY3(s0, s1, s2, { transport, id: 'spmd-train' });
      const mine = name === 'data-owner';
      return privateTrain({
        protocol: prot, dataOwner, modelOwner, optimizer: sgd(), batchSize: 16, epochs: 1, seed: 2, evalBatchSize: 16,
        model: { spec: conv.spec, weights: name === 'model-owner' ? conv.weights : undefined },
        train: mine ? train : { count: train.count }, eval: mine ? evalSet : { count: evalSet.count },
      });
    });
    const results = await Promise.all(runs);
    results.forEach((r, i) => {
      const owner = names[i] === 'model-owner';
      assert.equal(r.model !== undefined, owner, `${names[i]}: model`);
      assert.equal(Number.isFinite(r.epochs[0]!.accuracy), owner, `${names[i]}: accuracy`);
    });
    // the same training in one process gives the same weights up to the truncations' rounding
    const one = await privateTrain({ protocol: new ABY3(s0, s1, s2, { transport: new MemoryTransport() }), dataOwner, modelOwner, model: conv, train, optimizer: sgd(), batchSize: 16, epochs: 1, seed: 2 });
    const a = results[4]!.model!.weights.flat(), b = one.model!.weights.flat();
    a.forEach((w, i) => assert.ok(maxDiff(w, b[i]!) <= 1e-3, `weights ${i}: ${maxDiff(w, b[i]!)}`));
    assert.equal(hub.pending(), 0, 'no message left behind');
  });
});
