// The plaintext reference of the private-training accuracy runs
// (docs/encrypted-ml.md, "Private training", "Accuracy after 5 epochs"):
// the same model (src/learning/models.ts), initial weights (seed 1) and
// batches in the same order as `fedcrypt private-train --seed 1` (the data
// owner's shuffle, `shuffled(60000, epoch)`), trained in plaintext: SGD on
// tfjs, or AMSgrad in float64 with privateTrain's formula
// (w −= lr_t·m/√(v̂ + ε²), Keras' bias correction) on tfjs gradients.
// Test accuracy and loss after each epoch.
//   node --import tsx bench/plaintext-accuracy.ts network_a sgd 0.3 [epochs]
//   node --import tsx bench/plaintext-accuracy.ts network_a amsgrad 0.001
import { shuffled } from '../src/encrypted/nn/train.js';
import { loadMnist } from '../src/learning/mnist.js';
import { buildModel, evaluate, flatGradient, getFlatWeights, setFlatWeights } from '../src/learning/models.js';
import { initTf, tf } from '../src/learning/tf.js';

const [name = 'network_a', opt = 'sgd', lrArg, epochsArg] = process.argv.slice(2);
const lr = Number(lrArg ?? (opt === 'sgd' ? 0.1 : 0.001));
const epochs = Number(epochsArg ?? 5);
const eps = 1e-4;
const B = 128;
await initTf();
const { train, test } = loadMnist();
const model = buildModel(name, { seed: 1 });
const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
const sgd = tf.train.sgd(lr);
const w = Float64Array.from(getFlatWeights(model));
const m = new Float64Array(w.length), v = new Float64Array(w.length), vhat = new Float64Array(w.length);
let t = 0;
for (let e = 1; e <= epochs; e++) {
  const order = shuffled(train.count, e);
  for (let k = 0; k < Math.floor(train.count / B); k++) {
    const x = new Float32Array(B * 784), y = new Float32Array(B * 10), labels = new Uint8Array(B);
    for (let i = 0; i < B; i++) {
      const j = order[k * B + i]!;
      x.set(train.images.subarray(j * 784, (j + 1) * 784), i * 784);
      y[i * 10 + train.labels[j]!] = 1;
      labels[i] = train.labels[j]!;
    }
    t++;
    if (opt === 'sgd') {
      tf.tidy(() => sgd.minimize(() => tf.losses.softmaxCrossEntropy(tf.tensor2d(y, [B, 10]), model.predict(tf.tensor2d(x, [B, 784])) as tf.Tensor) as tf.Scalar, false, vars));
      continue;
    }
    const { grad } = flatGradient(model, x, labels);
    const lrT = (lr * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
    for (let i = 0; i < w.length; i++) {
      m[i] = 0.9 * m[i]! + 0.1 * grad[i]!;
      v[i] = 0.999 * v[i]! + 0.001 * grad[i]! ** 2;
      vhat[i] = Math.max(vhat[i]!, v[i]!);
      w[i] = w[i]! - (lrT * m[i]!) / Math.sqrt(vhat[i]! + eps * eps);
    }
    setFlatWeights(model, Float32Array.from(w));
  }
  const r = evaluate(model, test.images, test.labels);
  console.log(`${name} ${opt} lr ${lr}, epoch ${e}: test accuracy ${(r.accuracy * 100).toFixed(2)}%, loss ${r.loss.toFixed(4)}`);
}
