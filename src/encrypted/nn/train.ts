/**
 * Private training under ABY3 (docs/encrypted-ml.md, "Private training"):
 * a data owner secret-shares its images and one-hot labels batch by batch,
 * a model owner secret-shares the initial weights, the three servers run the
 * forward pass (forward.ts), the loss gradient and the backward pass
 * (backward.ts) and the optimizer (optimizers.ts) on shares, and the trained
 * weights are revealed to the model owner only. Per epoch, the servers
 * evaluate the model on the data owner's (secret-shared) evaluation set and
 * reveal two numbers to the model owner: the count of correct predictions
 * and the summed cross-entropy. Nothing else leaves the servers: the data
 * owner receives nothing, the servers receive only shares.
 *
 * SPMD: every process calls privateTrain with the same public arguments
 * (spec, counts, batch size, epochs, optimizer); the data owner's process
 * passes the data, the model owner's the weights.
 */
import type { ABY3 } from '../protocols/aby3.js';
import type { Player } from '../player.js';
import type { ReplicatedTensor } from '../tensor.js';
import { backwardLayer, lossGradient } from './backward.js';
import type { ConvertedModel } from './convert.js';
import { forwardLayer, type Forward } from './forward.js';
import { flatConcat, flatSplit, type EncryptedOptimizer } from './optimizers.js';
import { LayerError, modelShapes, poolBeforeActivation, paramShapes, type LayerSpec, type ModelSpec } from './spec.js';

/**
 * The spec with each relu (or sigmoid) directly followed by a 2x2 max pool
 * run after the pool (spec.ts poolBeforeActivation, as private prediction):
 * the same values with 4x fewer comparisons; the gradients also agree except
 * where the window's maximum is exactly 0. Only weightless layers move.
 */
export function poolBeforeRelu(spec: ModelSpec): ModelSpec {
  return { inputShape: spec.inputShape, layers: poolBeforeActivation(spec.layers).map((i) => spec.layers[i]!) };
}

/** The layers private training runs: pool before relu, a final softmax folded into the loss; LayerError for a layer it cannot train. */
export function trainingLayers(spec: ModelSpec): LayerSpec[] {
  const layers = [...poolBeforeRelu(spec).layers];
  if (layers.length > 0 && layers[layers.length - 1]!.kind === 'softmax') layers.pop();
  layers.forEach((l, i) => {
    if (l.kind === 'batchNorm') throw new LayerError(l.name, i, 'batch normalization (inference form) cannot be trained privately');
    if (l.kind === 'softmax') throw new LayerError(l.name, i, 'softmax is trainable only as the last layer (folded into the cross-entropy loss)');
  });
  const out = modelShapes({ inputShape: spec.inputShape, layers }).output;
  if (out.length !== 1) throw new LayerError(layers[layers.length - 1]?.name ?? spec.layers[0]?.name ?? 'model', layers.length - 1, `the model's output must be flat [classes] logits for the cross-entropy loss, got [${out.join(', ')}]`);
  return layers;
}

/** A labelled set: images row-major (B × input size floats) and labels in [0, classes); present where the data owner executes. */
export interface PrivateDataset {
  readonly count: number;
  readonly images?: Float32Array;
  readonly labels?: Uint8Array;
}

export interface StepReport { epoch: number; step: number; totalSteps: number; shareMs: number; stepMs: number }
export interface EpochReport {
  epoch: number;
  steps: number;
  /** Evaluation on the data owner's evaluation set: correct count / count, revealed to the model owner (NaN elsewhere, or without an evaluation set). */
  accuracy: number;
  /** Mean cross-entropy on the evaluation set (model owner; NaN elsewhere). */
  loss: number;
  trainMs: number;
  evalMs: number;
}

export interface PrivateTrainOptions {
  protocol: ABY3;
  dataOwner: Player;
  modelOwner: Player;
  /** The model's spec (public); its weights only where the model owner executes. */
  model: { spec: ModelSpec; weights?: ConvertedModel['weights'] };
  train: PrivateDataset;
  eval?: PrivateDataset;
  optimizer: EncryptedOptimizer;
  batchSize?: number;
  epochs?: number;
  /** Stop after this many steps in all. */
  maxSteps?: number;
  /** The data owner's shuffling seed (its own: the order is never sent). Default 1. */
  seed?: number;
  /** Evaluation batch size (default 1000). */
  evalBatchSize?: number;
  onStep?: (r: StepReport) => void;
  onEpoch?: (r: EpochReport) => void;
}

export interface PrivateTrainResult {
  /** The trained model (the spec as given), where the model owner executes; undefined elsewhere. */
  model?: ConvertedModel;
  epochs: EpochReport[];
  steps: number;
}

/** A deterministic shuffle (mulberry32) of [0, n). */
export function shuffled(n: number, seed: number): Uint32Array {
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** Images and one-hot labels of examples `idx` (at the data owner). */
function gather(ds: PrivateDataset, idx: ArrayLike<number>, dim: number, classes: number): { x: Float32Array; y: Float32Array } {
  const n = idx.length;
  const x = new Float32Array(n * dim);
  const y = new Float32Array(n * classes);
  for (let i = 0; i < n; i++) {
    const j = idx[i]!;
    x.set(ds.images!.subarray(j * dim, (j + 1) * dim), i * dim);
    y[i * classes + ds.labels![j]!] = 1;
  }
  return { x, y };
}

function checkDataset(fn: string, arg: string, ds: PrivateDataset | undefined, local: boolean, dim: number, classes: number): void {
  if (ds === undefined || typeof ds !== 'object') throw new TypeError(`${fn}: argument '${arg}' must be { count, images?, labels? }`);
  if (!Number.isSafeInteger(ds.count) || ds.count < 1) throw new RangeError(`${fn}: '${arg}.count' must be a positive integer, got ${String(ds.count)}`);
  if (!local) return;
  if (!(ds.images instanceof Float32Array) || ds.images.length !== ds.count * dim) throw new TypeError(`${fn}: '${arg}.images' must be a Float32Array of ${ds.count} × ${dim} values where the data owner executes`);
  if (!(ds.labels instanceof Uint8Array) || ds.labels.length !== ds.count) throw new TypeError(`${fn}: '${arg}.labels' must be a Uint8Array of ${ds.count} labels where the data owner executes`);
  for (let i = 0; i < ds.count; i++) if (ds.labels[i]! >= classes) throw new RangeError(`${fn}: '${arg}.labels[${i}]' is ${ds.labels[i]}, outside [0, ${classes})`);
}

/** The forward pass of the training layers; `training` keeps what the backward pass needs. */
async function forwardAll(prot: ABY3, layers: readonly LayerSpec[], params: readonly ReplicatedTensor[][], x: ReplicatedTensor, training: boolean): Promise<{ y: ReplicatedTensor; saved: Forward['saved'][] }> {
  const saved: Forward['saved'][] = [];
  let h = x;
  for (let i = 0; i < layers.length; i++) {
    const f = await forwardLayer(prot, layers[i]!, i, params[i]!, h, training);
    saved.push(f.saved);
    h = f.y;
  }
  return { y: h, saved };
}

/**
 * One training step on an encrypted batch: forward, softmax − onehot,
 * backward (no input gradient for the first layer with parameters or
 * before it), the optimizer on all parameters at once. Returns the new
 * flat parameter tensor.
 */
export async function trainStep(prot: ABY3, layers: readonly LayerSpec[], inShapes: readonly number[][], flat: ReplicatedTensor, shapes: readonly number[][][], x: ReplicatedTensor, onehot: ReplicatedTensor, optimizer: EncryptedOptimizer, step: number): Promise<ReplicatedTensor> {
  const B = x.shape[0]!;
  const params = splitParams(flat, shapes);
  const { y: logits, saved } = await forwardAll(prot, layers, params, x, true);
  let dy = await lossGradient(prot, logits, onehot, { reduction: 'sum' });
  const firstParam = shapes.findIndex((s) => s.length > 0);
  const grads: ReplicatedTensor[][] = layers.map(() => []);
  for (let i = layers.length - 1; i >= Math.max(0, firstParam); i--) {
    const b = await backwardLayer(prot, layers[i]!, i, params[i]!, saved[i], dy, { inShape: inShapes[i]!, needInput: i > firstParam });
    grads[i] = b.grads;
    if (b.dx !== undefined) dy = b.dx;
  }
  return optimizer.update(prot, flat, flatConcat(grads.flat()), { gradScale: 1 / B, step });
}

/** Per-layer parameter tensors (views) of the flat tensor. */
function splitParams(flat: ReplicatedTensor, shapes: readonly number[][][]): ReplicatedTensor[][] {
  const views = flatSplit(flat, shapes.flat());
  let k = 0;
  return shapes.map((s) => s.map(() => views[k++]!));
}

/**
 * Evaluate on an encrypted batch: [correct count ('int'), summed cross-entropy] as encrypted scalars.
 * correct: the logit at the label equals the row maximum (exact: both are entries of the same tensor).
 */
async function evalBatch(prot: ABY3, logits: ReplicatedTensor, onehotInt: ReplicatedTensor): Promise<[ReplicatedTensor, ReplicatedTensor]> {
  const [atLabel, max, logp] = await Promise.all([
    prot.mul(onehotInt, logits).then((t) => prot.sum(t, 1)),
    prot.max(logits, 1),
    prot.logSoftmax(logits, -1),
  ]);
  const wrong = await prot.isNegative(prot.sub(atLabel, max));
  const n = logits.shape[0]!;
  const correct = prot.addPublic(prot.neg(prot.sum(wrong)), n);
  const nll = prot.neg(prot.sum(await prot.mul(onehotInt, logp)));
  return [correct, nll];
}

/** Train `model` privately (see the file comment). Every check runs before any message. */
export async function privateTrain(o: PrivateTrainOptions): Promise<PrivateTrainResult> {
  const fn = 'privateTrain';
  const prot = o.protocol;
  const { spec } = o.model;
  const layers = trainingLayers(spec);
  const { inputs: inShapes, output } = modelShapes({ inputShape: spec.inputShape, layers });
  const classes = output[0]!;
  const dim = spec.inputShape.reduce((a, b) => a * b, 1);
  const shapes = layers.map((l, i) => paramShapes(l, inShapes[i]!));
  if (shapes.every((s) => s.length === 0)) throw new LayerError(spec.layers[0]?.name ?? 'model', 0, 'the model has no parameters to train');
  const batch = o.batchSize ?? 128;
  const epochs = o.epochs ?? 1;
  if (!Number.isSafeInteger(batch) || batch < 1) throw new RangeError(`${fn}: option 'batchSize' must be a positive integer, got ${String(batch)}`);
  if (!Number.isSafeInteger(epochs) || epochs < 1) throw new RangeError(`${fn}: option 'epochs' must be a positive integer, got ${String(epochs)}`);
  if (o.maxSteps !== undefined && (!Number.isSafeInteger(o.maxSteps) || o.maxSteps < 1)) throw new RangeError(`${fn}: option 'maxSteps' must be a positive integer, got ${String(o.maxSteps)}`);
  const evalBatch_ = o.evalBatchSize ?? 1000;
  const dataHere = prot.transport.isLocal(o.dataOwner.name);
  const modelHere = prot.transport.isLocal(o.modelOwner.name);
  checkDataset(fn, 'train', o.train, dataHere, dim, classes);
  if (o.eval !== undefined) checkDataset(fn, 'eval', o.eval, dataHere, dim, classes);
  if (o.train.count < batch) throw new RangeError(`${fn}: the training set has ${o.train.count} examples, fewer than one batch of ${batch}`);
  if (modelHere) {
    const w = o.model.weights;
    // the converted model's weights index the spec's layers; the training layers keep those indices (see poolBeforeRelu)
    if (!Array.isArray(w) || w.length !== spec.layers.length) throw new TypeError(`${fn}: 'model.weights' must have one entry per layer of the spec (${spec.layers.length}) where the model owner executes`);
    shapes.forEach((s, i) => {
      const got = w[i]!;
      if (got.length !== s.length || s.some((sh, j) => sh.reduce((a, b) => a * b, 1) !== got[j]!.length)) throw new LayerError(layers[i]!.name, i, `has ${got.length} weight arrays, expected shapes ${JSON.stringify(s)}`);
    });
  }
  const perEpoch = Math.floor(o.train.count / batch);
  const total = Math.min(perEpoch * epochs, o.maxSteps ?? Infinity);
  const seed = o.seed ?? 1;
  const { dataOwner, modelOwner } = o;
  const dataSens = [dataOwner, modelOwner];

  // the model owner shares its initial weights, as one flat vector (sensitivity: itself only)
  const flatShapes = shapes.flat();
  const size = flatShapes.reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  let init: Float32Array | undefined;
  if (modelHere) {
    init = new Float32Array(size);
    let off = 0;
    shapes.forEach((s, i) => s.forEach((_, j) => { const a = o.model.weights![i]![j]!; init!.set(a, off); off += a.length; }));
  }
  let flat = await prot.encrypt(modelOwner, init, { shape: [size], sensitivity: [modelOwner] });

  const reports: EpochReport[] = [];
  let step = 0;
  for (let epoch = 1; epoch <= epochs && step < total; epoch++) {
    const t0 = performance.now();
    const order = dataHere ? shuffled(o.train.count, seed + epoch - 1) : undefined;
    const start = step;
    for (let k = 0; k < perEpoch && step < total; k++) {
      const s0 = performance.now();
      const b = order !== undefined ? gather(o.train, order.subarray(k * batch, (k + 1) * batch), dim, classes) : undefined;
      const [x, y] = await Promise.all([
        prot.encrypt(dataOwner, b?.x, { shape: [batch, ...spec.inputShape], sensitivity: dataSens }),
        prot.encrypt(dataOwner, b?.y, { shape: [batch, classes], sensitivity: dataSens }),
      ]);
      const s1 = performance.now();
      step++;
      flat = await trainStep(prot, layers, inShapes, flat, shapes, x, y, o.optimizer, step);
      o.onStep?.({ epoch, step, totalSteps: total, shareMs: s1 - s0, stepMs: performance.now() - s1 });
    }
    const t1 = performance.now();
    let accuracy = NaN;
    let loss = NaN;
    if (o.eval !== undefined) {
      const r = await evaluatePrivately(prot, layers, splitParams(flat, shapes), o.eval, { dataOwner, modelOwner, dim, classes, inputShape: spec.inputShape, batch: evalBatch_ });
      accuracy = r.accuracy;
      loss = r.loss;
    }
    const rep: EpochReport = { epoch, steps: step - start, accuracy, loss, trainMs: t1 - t0, evalMs: performance.now() - t1 };
    reports.push(rep);
    o.onEpoch?.(rep);
  }

  // the trained weights, to the model owner only
  const out = modelHere ? new Float32Array(size) : undefined;
  await prot.revealInto(flat, modelOwner, out ?? new Float32Array(size));
  let model: ConvertedModel | undefined;
  if (out !== undefined) {
    let off = 0;
    const weights = spec.layers.map((_, i) => (shapes[i] ?? []).map((s) => {
      const n = s.reduce((a, b) => a * b, 1);
      const w = out.slice(off, off + n);
      off += n;
      return w;
    }));
    model = { spec, weights };
  }
  return { model, epochs: reports, steps: step };
}

/**
 * The model evaluated on the data owner's encrypted set: the correct count
 * and the summed cross-entropy (log-softmax) are summed over the batches on
 * shares and revealed to the model owner only (NaN elsewhere).
 */
export async function evaluatePrivately(prot: ABY3, layers: readonly LayerSpec[], params: readonly ReplicatedTensor[][], ds: PrivateDataset, o: { dataOwner: Player; modelOwner: Player; dim: number; classes: number; inputShape: readonly number[]; batch: number }): Promise<{ accuracy: number; loss: number }> {
  const dataHere = prot.transport.isLocal(o.dataOwner.name);
  let correct: ReplicatedTensor | undefined;
  let nll: ReplicatedTensor | undefined;
  for (let s = 0; s < ds.count; s += o.batch) {
    const n = Math.min(o.batch, ds.count - s);
    const b = dataHere ? gather(ds, Uint32Array.from({ length: n }, (_, i) => s + i), o.dim, o.classes) : undefined;
    const sens = [o.dataOwner, o.modelOwner];
    const [x, y] = await Promise.all([
      prot.encrypt(o.dataOwner, b?.x, { shape: [n, ...o.inputShape], sensitivity: sens }),
      prot.encryptInts(o.dataOwner, b === undefined ? undefined : Array.from(b.y), { shape: [n, o.classes], sensitivity: sens }),
    ]);
    const { y: logits } = await forwardAll(prot, layers, params, x, false);
    const [c, l] = await evalBatch(prot, logits, y);
    correct = correct === undefined ? c : prot.add(correct, c);
    nll = nll === undefined ? l : prot.add(nll, l);
  }
  const [c, l] = await Promise.all([prot.reveal(correct!, o.modelOwner), prot.reveal(nll!, o.modelOwner)]);
  if (!prot.transport.isLocal(o.modelOwner.name)) return { accuracy: NaN, loss: NaN };
  return { accuracy: c.read()[0]! / ds.count, loss: l.read()[0]! / ds.count };
}
