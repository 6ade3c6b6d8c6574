/**
 * Models as TF Encrypted's federated-learning example defines them, built
 * with tfjs-layers, with seeded initializers so a seed reproduces a run.
 *
 * Every built-in model takes flat [batch, 784] inputs (the conv nets reshape
 * to [28, 28, 1] first) and outputs logits. A user-supplied tfjs LayersModel
 * works too (see `wrapModel`).
 */
import { tf } from './tf.js';

export const MODEL_NAMES = ['network_a', 'network_b', 'network_c', 'network_d', 'logistic_regression'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export interface ModelOptions {
  /** Seed for the kernel initializers (each layer derives its own). Default 0. */
  seed?: number;
  /** Input shape without the batch dimension; default [784]. */
  inputShape?: number[];
  numClasses?: number;
}

function checkSeed(seed: unknown): number {
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0) throw new RangeError(`"seed" expected integer >= 0, got ${String(seed)}`);
  return seed;
}

/** Build a fresh model by name; unknown names list the valid ones. */
export function buildModel(name: string, options: ModelOptions = {}): tf.LayersModel {
  if (typeof name !== 'string') throw new TypeError(`"model" expected string, got ${typeof name}`);
  const seed = checkSeed(options.seed ?? 0);
  const numClasses = options.numClasses ?? 10;
  const inputShape = options.inputShape ?? [784];
  let k = 0;
  const init = () => tf.initializers.glorotUniform({ seed: seed * 1009 + ++k });
  const dense = (units: number, activation?: 'relu') =>
    tf.layers.dense({ units, activation: activation ?? 'linear', kernelInitializer: init(), biasInitializer: 'zeros' });
  const conv = (filters: number, strides = 1, padding: 'valid' | 'same' = 'valid') =>
    tf.layers.conv2d({ filters, kernelSize: 5, strides, padding, activation: 'relu', kernelInitializer: init(), biasInitializer: 'zeros' });
  const pool = () => tf.layers.maxPooling2d({ poolSize: 2, strides: 2 });
  const m = tf.sequential({ name });
  const toImage = () => m.add(tf.layers.reshape({ targetShape: [28, 28, 1], inputShape }));
  // flat inputs go straight into the first dense layer; image-shaped ones are flattened first
  const toFlat = () => m.add(inputShape.length === 1 ? tf.layers.reshape({ targetShape: inputShape, inputShape }) : tf.layers.flatten({ inputShape }));
  switch (name.toLowerCase()) {
    case 'network_a':
      toFlat();
      m.add(dense(128, 'relu'));
      m.add(dense(128, 'relu'));
      m.add(dense(numClasses));
      break;
    case 'network_b':
      toImage();
      m.add(conv(16)); m.add(pool());
      m.add(conv(16)); m.add(pool());
      m.add(tf.layers.flatten());
      m.add(dense(100, 'relu'));
      m.add(dense(numClasses));
      break;
    case 'network_c':
      toImage();
      m.add(conv(20)); m.add(pool());
      m.add(conv(50)); m.add(pool());
      m.add(tf.layers.flatten());
      m.add(dense(500, 'relu'));
      m.add(dense(numClasses));
      break;
    case 'network_d':
      toImage();
      m.add(conv(5, 2, 'same'));
      m.add(tf.layers.flatten());
      m.add(dense(100, 'relu'));
      m.add(dense(numClasses));
      break;
    case 'logistic_regression':
    case 'logistic':
      toFlat();
      m.add(dense(numClasses));
      break;
    default:
      m.dispose();
      throw new RangeError(`unknown model "${name}"; valid models: ${MODEL_NAMES.join(', ')}`);
  }
  return m;
}

/** A source of models: a built-in name, or a factory returning a fresh tfjs LayersModel (same architecture every call). */
export type ModelSpec = string | (() => tf.LayersModel);

export function makeModel(spec: ModelSpec, seed = 0): tf.LayersModel {
  if (typeof spec === 'function') {
    const m = spec();
    if (!(m instanceof tf.LayersModel)) throw new TypeError('"modelFn" expected to return a tfjs LayersModel');
    return m;
  }
  return buildModel(spec, { seed });
}

export function modelName(spec: ModelSpec): string {
  return typeof spec === 'string' ? spec : 'custom';
}

/** Weight layout of a model's trainable variables, in order. */
export interface WeightLayout {
  readonly shapes: readonly (readonly number[])[];
  readonly sizes: readonly number[];
  readonly total: number;
}

export function weightLayout(model: tf.LayersModel): WeightLayout {
  const shapes = model.trainableWeights.map((w) => w.shape.map((d) => d as number));
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  return { shapes, sizes, total: sizes.reduce((a, b) => a + b, 0) };
}

/** The tf.Variables behind a model's trainable weights, in order. */
export function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/** Copy of all trainable weights as one flat Float32Array. */
export function getFlatWeights(model: tf.LayersModel): Float32Array {
  const vars = trainableVariables(model);
  const layout = weightLayout(model);
  const out = new Float32Array(layout.total);
  let off = 0;
  for (const v of vars) {
    const d = v.dataSync() as Float32Array;
    out.set(d, off);
    off += d.length;
  }
  return out;
}

/** Assign a flat weight vector to a model's trainable weights. */
export function setFlatWeights(model: tf.LayersModel, flat: Float32Array): void {
  const vars = trainableVariables(model);
  const layout = weightLayout(model);
  if (!(flat instanceof Float32Array)) throw new TypeError(`"weights" expected Float32Array, got ${Object.prototype.toString.call(flat)}`);
  if (flat.length !== layout.total) throw new RangeError(`"weights" expected length ${layout.total}, got ${flat.length}`);
  let off = 0;
  tf.tidy(() => {
    vars.forEach((v, i) => {
      const n = layout.sizes[i]!;
      v.assign(tf.tensor(flat.subarray(off, off + n), layout.shapes[i] as number[], 'float32'));
      off += n;
    });
  });
}

/** Whether the model's output is already a probability distribution (last layer softmax). */
function outputsProbabilities(model: tf.LayersModel): boolean {
  const last = model.layers[model.layers.length - 1];
  const act = (last?.getConfig() as { activation?: string } | undefined)?.activation;
  return act === 'softmax';
}

/** Reshape flat [n, 784] inputs to the model's input shape. */
export function toModelInput(model: tf.LayersModel, x: tf.Tensor2D): tf.Tensor {
  const shape = model.inputs[0]!.shape;
  const target = shape.slice(1).map((d) => d as number);
  if (target.length === 1 && target[0] === x.shape[1]) return x;
  return x.reshape([x.shape[0], ...target]);
}

/** Mean softmax cross-entropy of a batch (handles models ending in softmax as well as logits). */
export function batchLoss(model: tf.LayersModel, x: tf.Tensor2D, y: tf.Tensor2D): tf.Scalar {
  const out = model.apply(toModelInput(model, x), { training: true }) as tf.Tensor2D;
  if (outputsProbabilities(model)) return tf.losses.logLoss(y, out.clipByValue(1e-7, 1 - 1e-7)).mul(tf.scalar(y.shape[1]!)) as tf.Scalar;
  return tf.losses.softmaxCrossEntropy(y, out) as tf.Scalar;
}

/**
 * Mean loss and the gradient of the mean loss w.r.t. every trainable weight,
 * flattened in layout order into `out` (allocated if absent).
 */
export function flatGradient(model: tf.LayersModel, images: Float32Array, labels: Uint8Array, out?: Float32Array): { loss: number; grad: Float32Array } {
  const n = labels.length;
  const layout = weightLayout(model);
  const g = out ?? new Float32Array(layout.total);
  if (g.length !== layout.total) throw new RangeError(`"out" expected length ${layout.total}, got ${g.length}`);
  const vars = trainableVariables(model);
  let loss = 0;
  tf.tidy(() => {
    const x = tf.tensor2d(images, [n, images.length / n]);
    const y = tf.oneHot(tf.tensor1d(Int32Array.from(labels), 'int32'), layout.sizes[layout.sizes.length - 1]!) as tf.Tensor2D;
    const { value, grads } = tf.variableGrads(() => batchLoss(model, x, y), vars);
    loss = value.dataSync()[0]!;
    let off = 0;
    for (const v of vars) {
      const d = grads[v.name]!.dataSync() as Float32Array;
      g.set(d, off);
      off += d.length;
    }
  });
  return { loss, grad: g };
}

/** Accuracy and mean loss of a model on a labelled set, evaluated in chunks. */
export function evaluate(model: tf.LayersModel, images: Float32Array, labels: Uint8Array, chunk = 2000): { accuracy: number; loss: number } {
  const n = labels.length;
  const dim = images.length / n;
  let correct = 0;
  let lossSum = 0;
  for (let s = 0; s < n; s += chunk) {
    const e = Math.min(n, s + chunk);
    tf.tidy(() => {
      const x = tf.tensor2d(images.subarray(s * dim, e * dim), [e - s, dim]);
      const lab = tf.tensor1d(Int32Array.from(labels.subarray(s, e)), 'int32');
      let out = model.apply(toModelInput(model, x), { training: false }) as tf.Tensor2D;
      const probs = outputsProbabilities(model);
      const logp = probs ? out.clipByValue(1e-7, 1).log() : tf.logSoftmax(out);
      const y = tf.oneHot(lab, out.shape[1]!);
      lossSum += -(logp.mul(y).sum().dataSync()[0]!);
      correct += out.argMax(1).equal(lab).sum().dataSync()[0]!;
      out = out as tf.Tensor2D;
    });
  }
  return { accuracy: correct / n, loss: lossSum / n };
}
