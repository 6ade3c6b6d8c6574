/**
 * Private prediction: `encryptModel(model, aby3, { owner })` secret-shares a
 * converted model's weights from the model owner; `predict(x)` runs the
 * encrypted forward pass on a client's encrypted input, and `predictFor`
 * encrypts a client's images, predicts and reveals the result (the class or
 * the model's output) to that client only (docs/encrypted-ml.md, "Models").
 *
 * Who learns what (semi-honest, one corrupted party, ABY3's setting): the
 * servers hold replicated shares only; the model owner sends its weights'
 * shares once and receives nothing afterwards; the client sends its input's
 * shares and receives the two reveal messages of its result. Inputs are
 * shared with sensitivity {client}, so the prediction (the intersection with
 * the weights' sensitivity) can be revealed to no one else: `reveal(y, owner)`
 * is a SensitivityError before any message.
 *
 * SPMD: every process makes the same calls in the same order. Where the
 * owner does not execute, pass `{ spec }` without weights; where the client
 * does not execute, pass `undefined` images and `options.count`.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { describe, fmtShape, SensitivityError, ShapeMismatchError } from '../errors.js';
import { checkEncodable } from '../fixed.js';
import { checkPlayer, type Player } from '../player.js';
import type { ABY3 } from '../protocols/aby3.js';
import { ReplicatedTensor } from '../tensor.js';
import { convertModel, type ConvertedModel } from './convert.js';
import { argmaxByPairs } from './argmax.js';
import { forwardLayer } from './forward.js';
import { LayerError, modelShapes, poolBeforeActivation, paramShapes, sourceIndex, type LayerSpec, type ModelSpec } from './spec.js';

export interface EncryptModelOptions {
  /** The player that holds the weights in the clear and secret-shares them (must not be a compute server). */
  owner: Player;
  /**
   * The players that may receive predictions: the weights' sensitivity is
   * {owner, ...clients}, so a prediction for anyone else cannot be revealed.
   * Default: any client (the weights' sensitivity is unrestricted; the
   * prediction's is still its input's).
   */
  clients?: readonly Player[];
}

export interface PredictForOptions {
  /** 'class' (default): the argmax over the last axis only; 'logits': the model's output (logits, or probabilities after a softmax). */
  output?: 'class' | 'logits';
  /** Images per encrypted batch (default 128). */
  batchSize?: number;
  /** Number of images; required where the client does not execute (SPMD). */
  count?: number;
  /** Called after each batch with the number of images done. */
  onBatch?: (done: number, total: number) => void;
  /** How the class is computed (output 'class'): see `ClassOptions`. */
  argmax?: ClassOptions['argmax'];
}

export interface ClassOptions {
  /**
   * 'pairs': all pairwise comparisons at once, then one for the winner (2
   * comparison rounds, c(c−1)/2 + c comparisons per row: argmax.ts);
   * 'tree': ABY3's argmax (ceil(log2 c) levels, c − 1 comparisons).
   * Default: 'pairs' for up to 16 classes, 'tree' above.
   */
  argmax?: 'pairs' | 'tree';
}

/** Strictly increasing on the last axis: dropped before an argmax (the class is unchanged). */
const ARGMAX_INVARIANT = new Set(['softmax', 'sigmoid', 'identity']);

/**
 * The order the encrypted forward pass runs the spec's layers in (spec
 * positions): identities dropped, and an elementwise monotone activation
 * (relu, sigmoid) followed by a 2x2 max pool swapped with it, since
 * maxpool(f(x)) = f(maxpool(x)) for nondecreasing f, and the activation then
 * runs on a quarter of the elements. `forClass`: trailing layers that do not
 * change the argmax (softmax, sigmoid) are dropped too.
 */
export function inferencePlan(layers: readonly LayerSpec[], forClass = false): number[] {
  const order = poolBeforeActivation(layers, layers.map((_, i) => i).filter((i) => layers[i]!.kind !== 'identity'));
  if (forClass) while (order.length > 0 && ARGMAX_INVARIANT.has(layers[order[order.length - 1]!]!.kind)) order.pop();
  return order;
}

function isLayersModel(m: unknown): m is tfTypes.LayersModel {
  return typeof m === 'object' && m !== null && typeof (m as { getClassName?: unknown }).getClassName === 'function' && Array.isArray((m as { layers?: unknown }).layers);
}

/** A model whose weights the servers hold as replicated shares. */
export class EncryptedModel {
  readonly spec: ModelSpec;
  readonly protocol: ABY3;
  readonly owner: Player;
  /** Input and output shapes without the batch dimension. */
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  readonly #params: readonly (readonly ReplicatedTensor[])[];
  /** The weights' sensitivity: who may receive a prediction (null: anyone the input allows). */
  readonly sensitivity: readonly Player[] | null;
  readonly #plans = new Map<boolean, number[]>();

  /** @internal use encryptModel */
  constructor(spec: ModelSpec, protocol: ABY3, owner: Player, params: readonly (readonly ReplicatedTensor[])[], sensitivity: readonly Player[] | null) {
    this.spec = spec;
    this.sensitivity = sensitivity === null ? null : Object.freeze([...sensitivity]);
    this.protocol = protocol;
    this.owner = owner;
    const { output } = modelShapes(spec);
    this.inputShape = [...spec.inputShape];
    this.outputShape = output;
    this.#params = params;
  }

  /** The number of encrypted weights (all parameter tensors' elements). */
  get parameterCount(): number {
    return this.#params.flat().reduce((a, t) => a + t.size, 0);
  }

  #plan(forClass: boolean): number[] {
    let p = this.#plans.get(forClass);
    if (p === undefined) this.#plans.set(forClass, (p = inferencePlan(this.spec.layers, forClass)));
    return p;
  }

  #checkInput(fn: string, x: unknown): ReplicatedTensor {
    if (!(x instanceof ReplicatedTensor)) throw new TypeError(`EncryptedModel.${fn}: argument 'x' must be a ReplicatedTensor of the model's protocol, got ${describe(x)}`);
    if (x.protocol !== this.protocol) throw new TypeError(`EncryptedModel.${fn}: argument 'x' belongs to protocol '${x.protocol.id}', the model to '${this.protocol.id}'`);
    if (x.encoding !== 'fixed') throw new TypeError(`EncryptedModel.${fn}: argument 'x' must hold fixed-point values, got encoding '${x.encoding}'`);
    const want = this.inputShape;
    if (x.shape.length !== want.length + 1 || want.some((d, i) => x.shape[i + 1] !== d) || x.shape[0]! < 1) {
      throw new ShapeMismatchError(`EncryptedModel.${fn}: argument 'x' has shape ${fmtShape(x.shape)}, expected [batch, ${want.join(', ')}]`);
    }
    return x;
  }

  async #run(x: ReplicatedTensor, plan: readonly number[]): Promise<ReplicatedTensor> {
    let y = x;
    for (const i of plan) y = (await forwardLayer(this.protocol, this.spec.layers[i]!, i, this.#params[i]!, y)).y;
    return y;
  }

  /**
   * The encrypted output [batch, ...outputShape] for an encrypted input
   * [batch, ...inputShape] (its sensitivity, joined with the weights', is the
   * output's). Argument errors before any message.
   */
  predict(x: ReplicatedTensor): Promise<ReplicatedTensor> {
    return this.#run(this.#checkInput('predict', x), this.#plan(false));
  }

  /**
   * The encrypted class (argmax over the last output axis, 'int'; ties: the
   * lowest index), without the trailing layers that do not change it
   * (softmax, sigmoid).
   */
  predictClass(x: ReplicatedTensor, options: ClassOptions = {}): Promise<ReplicatedTensor> {
    const how = options?.argmax ?? (this.outputShape[this.outputShape.length - 1]! <= 16 ? 'pairs' : 'tree');
    if (how !== 'pairs' && how !== 'tree') throw new TypeError(`EncryptedModel.predictClass: option 'argmax' must be 'pairs' or 'tree', got ${JSON.stringify(how)}`);
    return this.#run(this.#checkInput('predictClass', x), this.#plan(true)).then((y) => (how === 'pairs' ? argmaxByPairs(this.protocol, y) : this.protocol.argmax(y, -1)));
  }

  /**
   * Private prediction for `client`: its `images` ([count, ...inputShape]
   * row-major, where the client executes) are secret-shared by the client
   * with sensitivity {client} in batches, predicted, and the result revealed
   * to the client only. Resolves with the classes (Int32Array [count, ...])
   * or the outputs (Float32Array [count, ...outputShape]) where the client
   * executes, undefined elsewhere.
   */
  async predictFor(client: Player, images: Float32Array | Float64Array | undefined, options: PredictForOptions = {}): Promise<Int32Array | Float32Array | undefined> {
    const fn = 'EncryptedModel.predictFor';
    checkPlayer(fn, 'client', client);
    const prot = this.protocol;
    if (prot.players.some((s) => s.name === client.name)) throw new TypeError(`${fn}: argument 'client' must not be a compute server (got '${client.name}'): it would hold shares of its own input and result`);
    if (this.sensitivity !== null && !this.sensitivity.some((p) => p.name === client.name)) {
      throw new SensitivityError(`${fn}: client '${client.name}' is outside the model's sensitivity set {${this.sensitivity.map((p) => p.name).join(', ')}} (encryptModel's option 'clients')`);
    }
    if (options === null || typeof options !== 'object') throw new TypeError(`${fn}: argument 'options' must be an object, got ${describe(options)}`);
    const output = options.output ?? 'class';
    if (output !== 'class' && output !== 'logits') throw new TypeError(`${fn}: option 'output' must be 'class' or 'logits', got ${JSON.stringify(output)}`);
    if (options.argmax !== undefined && options.argmax !== 'pairs' && options.argmax !== 'tree') throw new TypeError(`${fn}: option 'argmax' must be 'pairs' or 'tree', got ${JSON.stringify(options.argmax)}`);
    const batchSize = options.batchSize ?? 128;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError(`${fn}: option 'batchSize' must be a positive integer, got ${String(batchSize)}`);
    const per = this.inputShape.reduce((a, b) => a * b, 1);
    const local = prot.transport.isLocal(client.name);
    let count = options.count;
    if (local) {
      if (!(images instanceof Float32Array || images instanceof Float64Array)) throw new TypeError(`${fn}: argument 'images' must be a Float32Array or Float64Array where '${client.name}' executes, got ${describe(images)}`);
      if (images.length % per !== 0) throw new ShapeMismatchError(`${fn}: argument 'images' has ${images.length} values, not a multiple of the input size ${per} (${fmtShape(this.inputShape)})`);
      if (count !== undefined && count !== images.length / per) throw new ShapeMismatchError(`${fn}: option 'count' is ${count}, argument 'images' holds ${images.length / per} images`);
      count = images.length / per;
    }
    if (count === undefined || !Number.isSafeInteger(count) || count < 1) throw new TypeError(`${fn}: option 'count' must be a positive integer where '${client.name}' does not execute, got ${String(count)}`);
    const outPer = output === 'class' ? this.outputShape.slice(0, -1).reduce((a, b) => a * b, 1) : this.outputShape.reduce((a, b) => a * b, 1);
    const values = local ? new Float32Array(count * outPer) : undefined;
    for (let s = 0; s < count; s += batchSize) {
      const b = Math.min(batchSize, count - s);
      const x = await prot.encrypt(client, images?.subarray(s * per, (s + b) * per), { shape: [b, ...this.inputShape], sensitivity: [client] });
      const y = output === 'class' ? await this.predictClass(x, { argmax: options.argmax }) : await this.predict(x);
      await prot.revealInto(y, client, values?.subarray(s * outPer, (s + b) * outPer) ?? new Float32Array(y.size));
      options.onBatch?.(s + b, count);
    }
    if (values === undefined) return undefined;
    return output === 'class' ? Int32Array.from(values) : values;
  }
}

/**
 * Secret-share a model's weights from `options.owner` under `protocol`.
 * `model`: a converted model, a tfjs LayersModel (converted here, at the
 * owner), or `{ spec }` alone where the owner does not execute.
 */
export async function encryptModel(model: ConvertedModel | { spec: ModelSpec; weights?: undefined } | tfTypes.LayersModel, protocol: ABY3, options: EncryptModelOptions): Promise<EncryptedModel> {
  const fn = 'encryptModel';
  if (protocol === null || typeof protocol !== 'object' || typeof (protocol as ABY3).relu !== 'function') throw new TypeError(`${fn}: argument 'protocol' must be an ABY3 instance, got ${describe(protocol)}`);
  if (options === null || typeof options !== 'object') throw new TypeError(`${fn}: argument 'options' must be { owner }, got ${describe(options)}`);
  const owner = checkPlayer(fn, 'options.owner', options.owner);
  if (protocol.players.some((s) => s.name === owner.name)) throw new TypeError(`${fn}: option 'owner' must not be a compute server (got '${owner.name}'): it would hold shares of the weights besides the weights`);
  const clients = options.clients;
  if (clients !== undefined && !Array.isArray(clients)) throw new TypeError(`${fn}: option 'clients' must be an array of Players, got ${describe(clients)}`);
  clients?.forEach((c, i) => checkPlayer(fn, `options.clients[${i}]`, c));
  const converted = isLayersModel(model) ? convertModel(model) : model;
  if (converted === null || typeof converted !== 'object' || typeof converted.spec !== 'object') throw new TypeError(`${fn}: argument 'model' must be a converted model ({ spec, weights }), a tfjs LayersModel, or { spec } where the owner does not execute`);
  const { spec, weights } = converted;
  const { inputs } = modelShapes(spec);
  const ownerHere = protocol.transport.isLocal(owner.name);
  if (ownerHere && weights === undefined) throw new TypeError(`${fn}: the owner '${owner.name}' executes here: argument 'model' needs its weights`);
  const sensitivity = clients === undefined ? null : [owner, ...clients];
  // every check before the first message
  const shapes = spec.layers.map((layer, i) => {
    const want = paramShapes(layer, inputs[i]!);
    if (!ownerHere) return want;
    const ws = weights![i];
    if (ws === undefined || ws.length !== want.length) throw new LayerError(layer.name, sourceIndex(layer, i), `expects ${want.length} weight arrays, got ${ws?.length ?? 'none'}`);
    want.forEach((shape, j) => {
      const w: unknown = ws[j];
      if (!(w instanceof Float32Array || w instanceof Float64Array)) throw new LayerError(layer.name, sourceIndex(layer, i), `weight ${j} must be a Float32Array, got ${describe(w)}`);
      if (w.length !== shape.reduce((a, b) => a * b, 1)) throw new LayerError(layer.name, sourceIndex(layer, i), `weight ${j} has ${w.length} values, expected shape ${fmtShape(shape)}`);
      checkEncodable(`${fn}: layer ${sourceIndex(layer, i)} '${layer.name}'`, `weight ${j}`, w, protocol.fixed);
    });
    return want;
  });
  const shares = shapes.map((ss, i) => Promise.all(ss.map((shape, j) => protocol.encrypt(owner, ownerHere ? weights![i]![j] : undefined, { shape, sensitivity }))));
  return new EncryptedModel(spec, protocol, owner, await Promise.all(shares), sensitivity);
}
