/**
 * The seed's two roles.
 *
 * - `ModelOwner` holds the model weights (flat) and the server optimizer,
 *   shares the weights with the data owners each round, receives only the
 *   aggregated mean, applies it, and validates on the test set.
 * - `DataOwner` holds its slice of the training data and a model replica;
 *   it sets the weights it receives and computes gradients (FedSGD) or a
 *   local update (FedAvg) on its own data with tfjs.
 */
import type { tf } from './tf.js';
import { type Dataset, type MnistData, type Slice, loadDataset, sliceDataset, IMAGE_SIZE } from './mnist.js';
import { type ModelSpec, makeModel, getFlatWeights, setFlatWeights, flatGradient, evaluate, weightLayout, modelName } from './models.js';
import { type FlatOptimizer, adam, cosineDecay } from './optimizers.js';
import { validateUpdate } from './aggregator.js';

/** Deterministic, non-cryptographic PRNG for data order only (not for anything secret). */
export function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

function resolveData(dataset: string | MnistData): MnistData {
  if (typeof dataset === 'string') return loadDataset(dataset);
  if (!dataset || typeof dataset !== 'object' || !dataset.train || !dataset.test) throw new TypeError('"dataset" expected a dataset name or { train, test }');
  return dataset;
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError(`"name" expected non-empty string, got ${typeof name}`);
  return name;
}

/** The default server optimizer: AMSGrad with cosine decay over the planned steps (see docs/learning.md for why). */
export function defaultServerOptimizer(totalSteps: number, lr = 0.008): FlatOptimizer {
  return adam({ lr, amsgrad: true, decay: cosineDecay(Math.max(1, totalSteps), 0.02) });
}

export interface ModelOwnerOptions {
  seed?: number;
  /** Server optimizer; default `defaultServerOptimizer(totalSteps)`. */
  optimizer?: FlatOptimizer;
  /** Steps the default optimizer's schedule spans. */
  totalSteps?: number;
}

export class ModelOwner {
  readonly name: string;
  readonly model: tf.LayersModel;
  readonly data: MnistData;
  readonly optimizer: FlatOptimizer;
  readonly modelName: string;
  private weights: Float32Array;

  constructor(name: string, model: ModelSpec, dataset: string | MnistData, options: ModelOwnerOptions = {}) {
    this.name = checkName(name);
    this.data = resolveData(dataset);
    this.model = makeModel(model, options.seed ?? 0);
    this.modelName = modelName(model);
    this.weights = getFlatWeights(this.model);
    this.optimizer = options.optimizer ?? defaultServerOptimizer(options.totalSteps ?? 1000);
  }

  get numParams(): number {
    return this.weights.length;
  }

  /** The current weights (a copy: what the model owner sends to each data owner). */
  shareWeights(): Float32Array {
    return this.weights.slice();
  }

  /** Replace the weights (e.g. FedAvg's server step computed elsewhere). */
  setWeights(w: Float32Array): void {
    validateUpdate(this.name, w, this.weights.length);
    this.weights = w.slice();
  }

  /** Apply the aggregated mean gradient with the server optimizer. Rejects non-finite or wrong-shape input, model unchanged. */
  updateModel(meanGradient: Float32Array): void {
    validateUpdate('aggregate', meanGradient, this.weights.length);
    this.optimizer.step(this.weights, meanGradient);
  }

  /** Snapshot of weights and optimizer state (for rounds that abort). */
  snapshot(): { weights: Float32Array; optimizer: unknown } {
    return { weights: this.weights.slice(), optimizer: this.optimizer.snapshot() };
  }

  restore(s: { weights: Float32Array; optimizer: unknown }): void {
    this.weights = s.weights.slice();
    this.optimizer.restore(s.optimizer);
  }

  /** Test accuracy and loss of the current weights (on at most `limit` test images). */
  validateModel(limit?: number): { accuracy: number; loss: number } {
    setFlatWeights(this.model, this.weights);
    const t = this.data.test;
    const n = Math.min(limit ?? t.count, t.count);
    return evaluate(this.model, t.images.subarray(0, n * IMAGE_SIZE), t.labels.subarray(0, n));
  }

  dispose(): void {
    this.model.dispose();
  }
}

export interface DataOwnerOptions {
  batchSize?: number;
  /** Model-initialisation seed (weights are overwritten by the model owner's anyway). */
  seed?: number;
  /** Seed of this owner's data order. */
  shuffleSeed?: number;
}

export interface GradientResult {
  grad: Float32Array;
  loss: number;
  examples: number;
}

export interface LocalUpdateOptions {
  epochs?: number;
  batchSize?: number;
  /** Optimizer for the local steps (fresh per round); default SGD lr 0.1. */
  optimizer?: FlatOptimizer;
  /** Stop after this many local steps. */
  maxSteps?: number;
}

export interface LocalUpdateResult {
  /** new weights - received weights */
  delta: Float32Array;
  examples: number;
  loss: number;
  steps: number;
}

export class DataOwner {
  readonly name: string;
  readonly model: tf.LayersModel;
  readonly data: Dataset;
  readonly batchSize: number;
  private readonly rand: () => number;
  private order: Uint32Array;
  private cursor: number;
  private weights: Float32Array | undefined;
  private gradBuf: Float32Array | undefined;
  private readonly xBuf: Float32Array;
  private readonly yBuf: Uint8Array;

  /**
   * @param slice a range of the dataset's training set (the seed's `slice(0, 20000)`), or an explicit Dataset (e.g. a non-IID split)
   */
  constructor(name: string, model: ModelSpec, dataset: string | MnistData, slice: Slice | Dataset, options: DataOwnerOptions = {}) {
    this.name = checkName(name);
    const data = resolveData(dataset);
    if (slice && typeof slice === 'object' && 'images' in slice) this.data = slice;
    else if (slice && typeof slice === 'object' && 'start' in slice) this.data = sliceDataset(data.train, slice, `${data.train.name}[${slice.start}:${slice.end}]`);
    else throw new TypeError('"slice" expected { start, end } or a Dataset');
    const bs = options.batchSize ?? 128;
    if (!Number.isInteger(bs) || bs < 1) throw new RangeError(`"batchSize" expected integer >= 1, got ${bs}`);
    if (this.data.count < bs) throw new RangeError(`data owner "${name}": slice holds ${this.data.count} examples, fewer than batchSize ${bs}`);
    this.batchSize = bs;
    this.model = makeModel(model, options.seed ?? 0);
    this.rand = splitmix32(options.shuffleSeed ?? 0);
    this.order = new Uint32Array(0);
    this.cursor = 0;
    this.reshuffle();
    this.xBuf = new Float32Array(bs * IMAGE_SIZE);
    this.yBuf = new Uint8Array(bs);
  }

  /** Batches per epoch of this owner's data (the seed's `iterations`). */
  get iterations(): number {
    return Math.floor(this.data.count / this.batchSize);
  }

  get numParams(): number {
    return weightLayout(this.model).total;
  }

  private reshuffle(): void {
    const n = this.data.count;
    const o = new Uint32Array(n);
    for (let i = 0; i < n; i++) o[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.rand() * (i + 1));
      const t = o[i]!; o[i] = o[j]!; o[j] = t;
    }
    this.order = o;
    this.cursor = 0;
  }

  /** Fill the batch buffers with the next `bs` examples (reshuffling at the end of an epoch). */
  private nextBatch(bs: number, x: Float32Array, y: Uint8Array): void {
    if (this.cursor + bs > this.order.length) this.reshuffle();
    for (let i = 0; i < bs; i++) {
      const j = this.order[this.cursor + i]!;
      x.set(this.data.images.subarray(j * IMAGE_SIZE, (j + 1) * IMAGE_SIZE), i * IMAGE_SIZE);
      y[i] = this.data.labels[j]!;
    }
    this.cursor += bs;
  }

  /**
   * Advance the data order by `n` batches of `batchSize` without reading any
   * data, exactly as `n` calls of `computeGradient` would (reshuffling at the
   * same points, from the same seeded order). Resuming at round `r` is
   * `skipBatches(r)` on a fresh owner: the round number is the whole state of
   * the data order.
   */
  skipBatches(n: number): void {
    if (typeof n !== 'number') throw new TypeError(`"n" expected a number, got ${typeof n}`);
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`"n" expected integer >= 0, got ${n}`);
    const bs = this.batchSize;
    for (let i = 0; i < n; i++) {
      if (this.cursor + bs > this.order.length) this.reshuffle();
      this.cursor += bs;
    }
  }

  /** Set the weights received from the model owner. */
  updateModel(weights: Float32Array): void {
    setFlatWeights(this.model, weights);
    this.weights = weights;
  }

  /** Mean gradient of the loss over this owner's next batch, at the received weights. */
  computeGradient(): GradientResult {
    if (!this.weights) throw new Error(`data owner "${this.name}": no weights received yet (call updateModel first)`);
    this.nextBatch(this.batchSize, this.xBuf, this.yBuf);
    // a fresh array each time: it is handed to the aggregator
    this.gradBuf = new Float32Array(this.weights.length);
    const { loss, grad } = flatGradient(this.model, this.xBuf, this.yBuf, this.gradBuf);
    return { grad, loss, examples: this.batchSize };
  }

  /** FedAvg's client step: train locally from the received weights, return the weight delta and example count. */
  localUpdate(options: LocalUpdateOptions = {}): LocalUpdateResult {
    if (!this.weights) throw new Error(`data owner "${this.name}": no weights received yet (call updateModel first)`);
    const epochs = options.epochs ?? 1;
    if (!(epochs > 0)) throw new RangeError(`"epochs" expected number > 0, got ${epochs}`);
    const bs = options.batchSize ?? this.batchSize;
    if (!Number.isInteger(bs) || bs < 1 || bs > this.data.count) throw new RangeError(`"batchSize" expected integer in [1, ${this.data.count}], got ${bs}`);
    let steps = Math.max(1, Math.floor((epochs * this.data.count) / bs));
    if (options.maxSteps !== undefined) steps = Math.min(steps, options.maxSteps);
    const opt = options.optimizer ?? (null as unknown as FlatOptimizer);
    const w = this.weights.slice();
    const x = bs === this.batchSize ? this.xBuf : new Float32Array(bs * IMAGE_SIZE);
    const y = bs === this.batchSize ? this.yBuf : new Uint8Array(bs);
    const g = new Float32Array(w.length);
    let lossSum = 0;
    for (let s = 0; s < steps; s++) {
      this.nextBatch(bs, x, y);
      if (s > 0) setFlatWeights(this.model, w);
      lossSum += flatGradient(this.model, x, y, g).loss;
      if (opt) opt.step(w, g);
      else for (let i = 0; i < w.length; i++) w[i] = w[i]! - 0.1 * g[i]!;
    }
    const delta = new Float32Array(w.length);
    for (let i = 0; i < w.length; i++) delta[i] = w[i]! - this.weights[i]!;
    return { delta, examples: steps * bs > this.data.count ? this.data.count : steps * bs, loss: lossSum / steps, steps };
  }

  dispose(): void {
    this.model.dispose();
  }
}
