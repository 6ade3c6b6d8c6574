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

/** One layer; `name` is the source layer's name (tfjs' `layer.name`), for errors. */
export type LayerSpec =
  | { kind: 'dense'; name: string; units: number; useBias: boolean }
  | { kind: 'conv2d'; name: string; filters: number; kernel: [number, number]; strides: [number, number]; padding: Padding; useBias: boolean }
  | { kind: 'relu'; name: string }
  | { kind: 'sigmoid'; name: string }
  | { kind: 'softmax'; name: string }
  | { kind: 'maxPool2x2'; name: string }
  | { kind: 'avgPool'; name: string; size: [number, number]; strides: [number, number] }
  | { kind: 'globalAvgPool'; name: string }
  /** inference batch normalization folded to y = x · scale + shift per channel (last axis). */
  | { kind: 'batchNorm'; name: string }
  | { kind: 'flatten'; name: string }
  | { kind: 'reshape'; name: string; targetShape: number[] }
  /** Dropout at inference, InputLayer, linear activation. */
  | { kind: 'identity'; name: string };

export type LayerKind = LayerSpec['kind'];

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

/** The output shape of `TensorFlow` convolution/pooling along one axis. */
export function outSize(n: number, k: number, s: number, padding: Padding): number {
  return padding === 'same' ? Math.ceil(n / s) : Math.floor((n - k) / s) + 1;
}

/** The shapes of a layer's parameters for an input of shape `inShape` (no batch dimension), in order. */
export function paramShapes(layer: LayerSpec, inShape: readonly number[]): number[][] {
  switch (layer.kind) {
    case 'dense': return layer.useBias ? [[inShape[inShape.length - 1]!, layer.units], [layer.units]] : [[inShape[inShape.length - 1]!, layer.units]];
    case 'conv2d': {
      const k = [layer.kernel[0], layer.kernel[1], inShape[2]!, layer.filters];
      return layer.useBias ? [k, [layer.filters]] : [k];
    }
    case 'batchNorm': return [[inShape[inShape.length - 1]!], [inShape[inShape.length - 1]!]];
    default: return [];
  }
}

/** The output shape of `layer` (index `index`) for an input of shape `inShape`; a LayerError when it does not fit. */
export function outputShape(layer: LayerSpec, index: number, inShape: readonly number[]): number[] {
  const bad = (msg: string, option?: string): never => { throw new LayerError(layer.name, index, msg, option); };
  const image = (): [number, number, number] => {
    if (inShape.length !== 3) bad(`expects an image input [height, width, channels], got ${fmtShape(inShape)}`);
    return [inShape[0]!, inShape[1]!, inShape[2]!];
  };
  switch (layer.kind) {
    case 'dense':
      if (inShape.length !== 1) bad(`expects a flat input [features], got ${fmtShape(inShape)} (add a Flatten layer before it)`);
      return [layer.units];
    case 'conv2d': {
      const [h, w] = image();
      const [kh, kw] = layer.kernel;
      if (layer.padding === 'valid' && (kh > h || kw > w)) bad(`kernel ${kh}x${kw} is larger than the input ${h}x${w}`, 'kernelSize');
      return [outSize(h, kh, layer.strides[0], layer.padding), outSize(w, kw, layer.strides[1], layer.padding), layer.filters];
    }
    case 'maxPool2x2': {
      const [h, w, c] = image();
      if (h < 2 || w < 2) bad(`a 2x2 pool needs an input of at least 2x2, got ${h}x${w}`);
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
      if (inShape.length !== 1) bad(`softmax over an input of shape ${fmtShape(inShape)}: only flat inputs [classes] are supported`);
      return [...inShape];
    default: return [...inShape];
  }
}

/** Input shape of every layer and the model's output shape (LayerError at the first layer that does not fit). */
export function modelShapes(model: ModelSpec): { inputs: number[][]; output: number[] } {
  const inputs: number[][] = [];
  let s = [...model.inputShape];
  model.layers.forEach((l, i) => {
    inputs.push(s);
    s = outputShape(l, i, s);
  });
  return { inputs, output: s };
}
