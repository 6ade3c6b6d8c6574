/**
 * Encrypted models as data: a list of layer specs (what each layer computes,
 * its options and the shapes of its parameters), independent of any
 * protocol. tfjs-layers models convert to it (convert.ts); the encrypted
 * forward pass (forward.ts), private prediction (model.ts) and private
 * training (train.ts) all run over the same specs.
 *
 * Shapes exclude the batch dimension. Images are NHWC, as tfjs.
 */
import { fmtShape } from '../errors.js';

export type Padding = 'valid' | 'same';

/**
 * What every layer spec carries: `name` is the source layer's name (tfjs'
 * `layer.name`) and `index` its index in the source model's `layers` (both
 * for errors; several specs may come from one source layer, e.g. Dense with
 * a fused activation). Without `index`, errors give the spec's own index.
 */
interface Named { name: string; index?: number }

/** One layer. */
export type LayerSpec = Named & (
  /** y = x w + b on the last axis (any rank: the leading axes are batch-like). */
  | { kind: 'dense'; units: number; useBias: boolean }
  | { kind: 'conv2d'; filters: number; kernel: [number, number]; strides: [number, number]; padding: Padding; useBias: boolean }
  | { kind: 'relu' }
  | { kind: 'sigmoid' }
  /** softmax over the last axis (tf.softmax's only axis). */
  | { kind: 'softmax' }
  | { kind: 'maxPool2x2' }
  | { kind: 'avgPool'; size: [number, number]; strides: [number, number] }
  | { kind: 'globalAvgPool' }
  /** inference batch normalization folded to y = x · scale + shift per channel (last axis). */
  | { kind: 'batchNorm' }
  | { kind: 'flatten' }
  | { kind: 'reshape'; targetShape: number[] }
  /** Dropout at inference, InputLayer, linear activation. */
  | { kind: 'identity' }
);

export type LayerKind = LayerSpec['kind'];

export const LAYER_KINDS: readonly LayerKind[] = ['dense', 'conv2d', 'relu', 'sigmoid', 'softmax', 'maxPool2x2', 'avgPool', 'globalAvgPool', 'batchNorm', 'flatten', 'reshape', 'identity'];

/** A model: its input shape (no batch dimension) and its layers in order. */
export interface ModelSpec {
  readonly inputShape: readonly number[];
  readonly layers: readonly LayerSpec[];
}

/** A layer (or option) that cannot be converted or run; names the layer, its index and the option. */
export class LayerError extends Error {
  readonly layer: string;
  readonly index: number;
  readonly option: string | undefined;
  constructor(layer: string, index: number, message: string, option?: string) {
    super(`layer ${index} '${layer}'${option === undefined ? '' : ` option '${option}'`}: ${message}`);
    this.name = 'LayerError';
    this.layer = layer;
    this.index = index;
    this.option = option;
  }
}

const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

/** The index errors give for `layer` at spec position `i`: its source index when it has one. */
export const sourceIndex = (layer: LayerSpec, i: number): number => layer.index ?? i;

/** The output shape of `TensorFlow` convolution/pooling along one axis. */
export function outSize(n: number, k: number, s: number, padding: Padding): number {
  return padding === 'same' ? Math.ceil(n / s) : Math.floor((n - k) / s) + 1;
}

/**
 * The options of a spec are what its kind needs, of the right types (a spec
 * read from a file is checked here before anything uses it). LayerError
 * naming the option.
 */
export function checkLayer(layer: LayerSpec, i: number): void {
  const l = layer as unknown as Record<string, unknown>;
  const name = typeof l['name'] === 'string' ? (l['name'] as string) : `#${i}`;
  const index = typeof l['index'] === 'number' ? (l['index'] as number) : i;
  const bad = (msg: string, option?: string): never => { throw new LayerError(name, index, msg, option); };
  if (layer === null || typeof layer !== 'object') bad(`a layer spec must be an object, got ${layer === null ? 'null' : typeof layer}`);
  if (typeof l['name'] !== 'string') bad(`'name' must be a string`, 'name');
  if (l['index'] !== undefined && !(Number.isSafeInteger(l['index']) && (l['index'] as number) >= 0)) bad(`'index' must be a non-negative integer, got ${String(l['index'])}`, 'index');
  if (!LAYER_KINDS.includes(l['kind'] as LayerKind)) bad(`unknown kind ${JSON.stringify(l['kind'])} (known: ${LAYER_KINDS.join(', ')})`, 'kind');
  const pair = (key: string): void => {
    const v = l[key];
    if (!Array.isArray(v) || v.length !== 2 || !v.every(isPosInt)) bad(`'${key}' must be two positive integers, got ${JSON.stringify(v)}`, key);
  };
  const bool = (key: string): void => { if (typeof l[key] !== 'boolean') bad(`'${key}' must be a boolean, got ${JSON.stringify(l[key])}`, key); };
  switch (layer.kind) {
    case 'dense':
      if (!isPosInt(layer.units)) bad(`'units' must be a positive integer, got ${JSON.stringify(layer.units)}`, 'units');
      bool('useBias');
      break;
    case 'conv2d':
      if (!isPosInt(layer.filters)) bad(`'filters' must be a positive integer, got ${JSON.stringify(layer.filters)}`, 'filters');
      pair('kernel'); pair('strides'); bool('useBias');
      if (layer.padding !== 'valid' && layer.padding !== 'same') bad(`'padding' must be 'valid' or 'same', got ${JSON.stringify(layer.padding)}`, 'padding');
      break;
    case 'avgPool': pair('size'); pair('strides'); break;
    case 'reshape':
      if (!Array.isArray(layer.targetShape) || !layer.targetShape.every(isPosInt)) bad(`'targetShape' must be positive integers, got ${JSON.stringify(layer.targetShape)}`, 'targetShape');
      break;
    default: break;
  }
}

/** The shapes of a layer's parameters for an input of shape `inShape` (no batch dimension), in order. */
export function paramShapes(layer: LayerSpec, inShape: readonly number[]): number[][] {
  const last = inShape[inShape.length - 1]!;
  switch (layer.kind) {
    case 'dense': return layer.useBias ? [[last, layer.units], [layer.units]] : [[last, layer.units]];
    case 'conv2d': {
      const k = [layer.kernel[0], layer.kernel[1], inShape[2]!, layer.filters];
      return layer.useBias ? [k, [layer.filters]] : [k];
    }
    case 'batchNorm': return [[last], [last]];
    default: return [];
  }
}

/**
 * The output shape of `layer` (spec position `i`) for an input of shape
 * `inShape`; a LayerError (with the layer's source index) when it does not fit.
 */
export function outputShape(layer: LayerSpec, i: number, inShape: readonly number[]): number[] {
  checkLayer(layer, i);
  const bad = (msg: string, option?: string): never => { throw new LayerError(layer.name, sourceIndex(layer, i), msg, option); };
  const image = (): [number, number, number] => {
    if (inShape.length !== 3) bad(`expects an image input [height, width, channels], got ${fmtShape(inShape)}`);
    return [inShape[0]!, inShape[1]!, inShape[2]!];
  };
  const atLeast1D = (): void => { if (inShape.length < 1) bad(`expects an input with at least one axis besides the batch, got ${fmtShape(inShape)}`); };
  switch (layer.kind) {
    case 'dense':
      atLeast1D();
      return [...inShape.slice(0, -1), layer.units];
    case 'conv2d': {
      const [h, w] = image();
      const [kh, kw] = layer.kernel;
      if (layer.padding === 'valid' && (kh > h || kw > w)) bad(`kernel ${kh}x${kw} is larger than the input ${h}x${w}`, 'kernelSize');
      return [outSize(h, kh, layer.strides[0], layer.padding), outSize(w, kw, layer.strides[1], layer.padding), layer.filters];
    }
    case 'maxPool2x2': {
      const [h, w, c] = image();
      if (h < 2 || w < 2) bad(`a 2x2 pool needs an input of at least 2x2, got ${h}x${w}`, 'poolSize');
      return [Math.floor(h / 2), Math.floor(w / 2), c];
    }
    case 'avgPool': {
      const [h, w, c] = image();
      if (layer.size[0] > h || layer.size[1] > w) bad(`pool ${layer.size.join('x')} is larger than the input ${h}x${w}`, 'poolSize');
      return [outSize(h, layer.size[0], layer.strides[0], 'valid'), outSize(w, layer.size[1], layer.strides[1], 'valid'), c];
    }
    case 'globalAvgPool': return [image()[2]];
    case 'flatten': return [prod(inShape)];
    case 'reshape':
      if (prod(layer.targetShape) !== prod(inShape)) bad(`cannot reshape ${fmtShape(inShape)} to ${fmtShape(layer.targetShape)}`, 'targetShape');
      return [...layer.targetShape];
    case 'softmax':
    case 'batchNorm':
      atLeast1D();
      return [...inShape];
    default: return [...inShape];
  }
}

/** Input shape of every layer and the model's output shape (LayerError at the first layer that does not fit). */
export function modelShapes(model: ModelSpec): { inputs: number[][]; output: number[] } {
  if (!Array.isArray(model.inputShape) || !model.inputShape.every(isPosInt)) {
    throw new TypeError(`model spec: 'inputShape' must be positive integers (no batch dimension), got ${JSON.stringify(model.inputShape)}`);
  }
  const inputs: number[][] = [];
  let s = [...model.inputShape];
  model.layers.forEach((l, i) => {
    inputs.push(s);
    s = outputShape(l, i, s);
  });
  return { inputs, output: s };
}

/** Elementwise nondecreasing activations: maxpool(f(x)) = f(maxpool(x)). */
const MONOTONE_ACTIVATIONS: ReadonlySet<LayerKind> = new Set<LayerKind>(['relu', 'sigmoid']);

/**
 * `order` (spec positions) with every elementwise nondecreasing activation
 * (relu, sigmoid) that is directly followed by a 2x2 max pool moved after
 * it: the same function (maxpool(f(x)) = f(maxpool(x))), and the activation
 * then runs on a quarter of the elements. Only weightless layers move, so
 * the weights still index the spec's layers. Used by private prediction
 * (model.ts) and private training (train.ts) alike.
 */
export function poolBeforeActivation(layers: readonly LayerSpec[], order: readonly number[] = layers.map((_, i) => i)): number[] {
  const out = [...order];
  for (let k = 0; k + 1 < out.length; k++) {
    if (MONOTONE_ACTIVATIONS.has(layers[out[k]!]!.kind) && layers[out[k + 1]!]!.kind === 'maxPool2x2') {
      [out[k], out[k + 1]] = [out[k + 1]!, out[k]!];
      k = Math.max(-1, k - 2); // the activation may move past another pool
    }
  }
  return out;
}
