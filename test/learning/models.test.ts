import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initTf, tf } from '../../src/learning/tf.js';
import { buildModel, MODEL_NAMES, getFlatWeights, setFlatWeights, flatGradient, weightLayout, evaluate, makeModel } from '../../src/learning/models.js';

before(async () => { await initTf(); });

test('the wasm backend is in use', async () => {
  assert.equal(await initTf(), 'wasm');
});

test('TFE model definitions: parameter counts', () => {
  const expected: Record<string, number> = {
    network_a: 784 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10,
    // conv16 5x5 (24x24) pool (12) conv16 5x5 (8) pool (4) -> 256 -> 100 -> 10
    network_b: (25 * 16 + 16) + (25 * 16 * 16 + 16) + (256 * 100 + 100) + (100 * 10 + 10),
    // conv20 (24) pool (12) conv50 (8) pool (4) -> 800 -> 500 -> 10
    network_c: (25 * 20 + 20) + (25 * 20 * 50 + 50) + (800 * 500 + 500) + (500 * 10 + 10),
    // conv5 stride 2 same (14x14x5 = 980) -> 100 -> 10
    network_d: (25 * 5 + 5) + (980 * 100 + 100) + (100 * 10 + 10),
    logistic_regression: 784 * 10 + 10,
  };
  for (const name of MODEL_NAMES) {
    const m = buildModel(name, { seed: 3 });
    assert.equal(weightLayout(m).total, expected[name], name);
    const out = m.predict(tf.zeros([2, 784])) as tf.Tensor;
    assert.deepEqual(out.shape, [2, 10]);
    out.dispose();
    m.dispose();
  }
});

test('unknown model names list the valid ones; bad seeds are rejected', () => {
  assert.throws(() => buildModel('network_z'), (e: Error) => e instanceof RangeError && e.message.includes('valid models: network_a, network_b, network_c, network_d, logistic_regression'));
  assert.throws(() => buildModel('network_a', { seed: -1 }), /"seed" expected integer >= 0/);
  assert.throws(() => buildModel(1 as unknown as string), TypeError);
});

test('seeded initializers: same seed, same weights; other seed, other weights', () => {
  const a = buildModel('network_a', { seed: 5 }), b = buildModel('network_a', { seed: 5 }), c = buildModel('network_a', { seed: 6 });
  const wa = getFlatWeights(a), wb = getFlatWeights(b), wc = getFlatWeights(c);
  assert.deepEqual(wa, wb);
  assert.notDeepEqual(wa, wc);
  [a, b, c].forEach((m) => m.dispose());
});

test('flat weights round-trip and wrong lengths are rejected', () => {
  const m = buildModel('network_d');
  const w = getFlatWeights(m).map((_, i) => Math.sin(i));
  setFlatWeights(m, w);
  assert.deepEqual(getFlatWeights(m), w);
  assert.throws(() => setFlatWeights(m, new Float32Array(3)), /"weights" expected length/);
  m.dispose();
});

test('flatGradient equals tfjs gradients and a finite difference (logistic regression)', () => {
  const m = buildModel('logistic_regression', { seed: 2 });
  const n = 8;
  const x = Float32Array.from({ length: n * 784 }, (_, i) => ((i * 7919) % 101) / 101);
  const y = Uint8Array.from({ length: n }, (_, i) => (i * 3) % 10);
  const { loss, grad } = flatGradient(m, x, y);
  // reference: softmax cross-entropy gradient for W: X^T (softmax(XW+b) - Y) / n
  const W = getFlatWeights(m);
  const probs: number[][] = [];
  for (let r = 0; r < n; r++) {
    const z = new Array(10).fill(0).map((_, k) => { let s = W[7840 + k]!; for (let j = 0; j < 784; j++) s += x[r * 784 + j]! * W[j * 10 + k]!; return s; });
    const mx = Math.max(...z); const e = z.map((v) => Math.exp(v - mx)); const t = e.reduce((a, b) => a + b, 0);
    probs.push(e.map((v) => v / t));
  }
  let refLoss = 0;
  for (let r = 0; r < n; r++) refLoss -= Math.log(probs[r]![y[r]!]!) / n;
  assert.ok(Math.abs(loss - refLoss) < 1e-4, `${loss} vs ${refLoss}`);
  for (const [j, k] of [[0, 0], [300, 4], [500, 9], [783, 3]] as const) {
    let g = 0;
    for (let r = 0; r < n; r++) g += x[r * 784 + j]! * (probs[r]![k]! - (y[r] === k ? 1 : 0)) / n;
    assert.ok(Math.abs(grad[j * 10 + k]! - g) < 1e-5, `dW[${j},${k}] ${grad[j * 10 + k]} vs ${g}`);
  }
  m.dispose();
});

test('a user-supplied LayersModel with a softmax output trains and evaluates', () => {
  const mk = () => {
    const m = tf.sequential();
    m.add(tf.layers.dense({ units: 16, inputShape: [784], activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
    m.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
    return m;
  };
  const m = makeModel(mk);
  const x = Float32Array.from({ length: 4 * 784 }, (_, i) => (i % 13) / 13);
  const y = Uint8Array.of(1, 2, 3, 4);
  const { loss, grad } = flatGradient(m, x, y);
  assert.ok(Number.isFinite(loss) && loss > 0);
  assert.equal(grad.length, weightLayout(m).total);
  assert.ok(grad.some((g) => g !== 0));
  const ev = evaluate(m, x, y);
  assert.ok(ev.accuracy >= 0 && ev.accuracy <= 1 && Number.isFinite(ev.loss));
  assert.throws(() => makeModel((() => 42) as unknown as () => tf.LayersModel), /LayersModel/);
  m.dispose();
});

test('Conv2DBackpropFilter (missing from tfjs-backend-wasm, registered by initTf) equals the direct sum, valid and same padding, strides 1 and 2', () => {
  for (const [xs, fs, st, pad] of [[[2, 7, 6, 2], [3, 3, 2, 3], 1, 'valid'], [[1, 8, 8, 1], [5, 5, 1, 2], 2, 'same'], [[2, 9, 7, 3], [3, 2, 3, 2], 2, 'valid']] as [number[], number[], number, 'valid' | 'same'][]) {
    const [b, h, w, c] = xs as [number, number, number, number];
    const [fh, fw, , f] = fs as [number, number, number, number];
    const xd = Float32Array.from({ length: b * h * w * c }, (_, i) => Math.sin(i * 1.3));
    const info = tf.backend_util.computeConv2DInfo(xs as [number, number, number, number], fs as [number, number, number, number], st, 1, pad);
    const oh = info.outHeight, ow = info.outWidth, top = info.padInfo.top, left = info.padInfo.left;
    const dyd = Float32Array.from({ length: b * oh * ow * f }, (_, i) => Math.cos(i * 0.7));
    const before = tf.memory().numTensors;
    const got = tf.tidy(() => tf.grad((wt: tf.Tensor) => tf.conv2d(tf.tensor4d(xd, [b, h, w, c]), wt as tf.Tensor4D, st, pad).mul(tf.tensor4d(dyd, [b, oh, ow, f])).sum())(tf.zeros(fs)).dataSync().slice());
    assert.equal(tf.memory().numTensors, before, 'no tensors leaked');
    for (let i = 0; i < fh; i++) for (let j = 0; j < fw; j++) for (let ci = 0; ci < c; ci++) for (let fo = 0; fo < f; fo++) {
      let ref = 0;
      for (let n = 0; n < b; n++) for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
        const iy = y * st + i - top, ix = x * st + j - left;
        if (iy < 0 || ix < 0 || iy >= h || ix >= w) continue;
        ref += xd[((n * h + iy) * w + ix) * c + ci]! * dyd[((n * oh + y) * ow + x) * f + fo]!;
      }
      const k = ((i * fw + j) * c + ci) * f + fo;
      assert.ok(Math.abs(got[k]! - ref) < 1e-4, `dW[${i},${j},${ci},${fo}] ${got[k]} vs ${ref} (${pad}, stride ${st})`);
    }
  }
});

test('every built-in model computes finite, non-zero gradients on the wasm backend', () => {
  const x = Float32Array.from({ length: 4 * 784 }, (_, i) => ((i * 31) % 255) / 255);
  const y = Uint8Array.of(0, 3, 7, 9);
  for (const name of MODEL_NAMES) {
    const m = buildModel(name, { seed: 1 });
    const before = tf.memory().numTensors;
    const { loss, grad } = flatGradient(m, x, y);
    assert.equal(tf.memory().numTensors, before, `${name}: no tensors leaked`);
    assert.ok(Number.isFinite(loss), name);
    assert.ok(grad.every(Number.isFinite) && grad.some((g) => g !== 0), name);
    m.dispose();
  }
});
