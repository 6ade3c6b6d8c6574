/**
 * tfjs-layers model -> ModelSpec (spec.ts) and its weights, in plaintext, at
 * the model owner. A layer's fused activation becomes its own spec after it
 * (Dense{activation: 'relu'} -> dense, relu). Anything not listed in
 * docs/encrypted-ml.md's layer table ("Models"), or an option with a value
 * the encrypted model cannot honour, is a LayerError naming the layer, its
 * index in the source model's `layers` and the option.
 *
 * Options with no effect at inference are ignored: regularizers (they only
 * add to the training loss), constraints (applied by the optimizer after each
 * training step; the weights read here already satisfy them), initializers,
 * `trainable`, Dropout's `rate`/`seed`/`noiseShape`.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { fmtShape } from '../errors.js';
import { LayerError, outputShape, paramShapes, type LayerSpec, type ModelSpec } from './spec.js';

/** A converted model: the spec and, per spec layer, its parameters as paramShapes orders them (row-major float32). */
export interface ConvertedModel {
  readonly spec: ModelSpec;
  readonly weights: readonly (readonly Float32Array[])[];
}

type Config = Record<string, unknown>;
type Converted = { spec: LayerSpec; params: Float32Array[] };

/** The layer types the converter takes (the docs' layer table). */
export const SUPPORTED_LAYERS = [
  'InputLayer', 'Dense', 'Conv2D', 'ReLU', 'Softmax', 'Activation', 'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D',
  'BatchNormalization', 'Flatten', 'Reshape', 'Dropout',
] as const;
const SUPPORTED_ACTIVATIONS = ['linear', 'relu', 'sigmoid', 'softmax'];
const MERGE_LAYERS = new Set(['Add', 'Multiply', 'Average', 'Maximum', 'Minimum', 'Concatenate', 'Dot']);

function pair(v: unknown): [number, number] {
  return Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : [Number(v), Number(v)];
}

/** An axis option (tfjs counts the batch axis) is the last axis of an input of `rank` axes besides the batch. */
function isLastAxis(axis: unknown, rank: number): boolean {
  const a = Array.isArray(axis) && axis.length === 1 ? axis[0] : axis;
  return a === -1 || a === rank;
}

function activation(name: string, act: unknown): LayerSpec | null {
  switch (act ?? 'linear') {
    case 'linear': return null;
    case 'relu': return { kind: 'relu', name };
    case 'sigmoid': return { kind: 'sigmoid', name };
    case 'softmax': return { kind: 'softmax', name };
    default: return null;
  }
}

/**
 * One tfjs layer (index `index` in the source model, input shape `inShape`
 * without the batch) -> its specs, each with the weights it takes from the
 * layer. Throws LayerError.
 */
function convertLayer(layer: tfTypes.layers.Layer, index: number, weights: Float32Array[], inShape: readonly number[]): Converted[] {
  const name = layer.name;
  const cls = layer.getClassName();
  const c = layer.getConfig() as Config;
  const bad = (msg: string, option?: string): never => { throw new LayerError(name, index, msg, option); };
  const act = (key = 'activation'): LayerSpec | null => {
    const a = c[key] ?? 'linear';
    if (typeof a !== 'string' || !SUPPORTED_ACTIVATIONS.includes(a)) bad(`activation '${String(a)}' is not supported (supported: ${SUPPORTED_ACTIVATIONS.join(', ')})`, key);
    return activation(name, a);
  };
  const withAct = (main: Converted): Converted[] => {
    const a = act();
    return a === null ? [main] : [main, { spec: a, params: [] }];
  };
  if (c['dataFormat'] !== undefined && c['dataFormat'] !== null && c['dataFormat'] !== 'channelsLast') bad(`only channelsLast (NHWC) is supported, got '${String(c['dataFormat'])}'`, 'dataFormat');
  const noPadding = (size: [number, number], strides: [number, number]): boolean => {
    // 'same' pads nothing (so equals 'valid') when the windows tile the input exactly
    if (inShape.length !== 3) return false;
    return [0, 1].every((a) => Math.max((Math.ceil(inShape[a]! / strides[a]!) - 1) * strides[a]! + size[a]! - inShape[a]!, 0) === 0);
  };
  switch (cls) {
    case 'InputLayer':
      if (c['sparse'] === true) bad('sparse inputs are not supported', 'sparse');
      return [{ spec: { kind: 'identity', name }, params: [] }];
    case 'Dropout':
      return [{ spec: { kind: 'identity', name }, params: [] }];
    case 'Dense':
      return withAct({ spec: { kind: 'dense', name, units: Number(c['units']), useBias: c['useBias'] !== false }, params: weights });
    case 'Conv2D': {
      const d = pair(c['dilationRate'] ?? 1);
      if (d[0] !== 1 || d[1] !== 1) bad(`dilation ${d.join('x')} is not supported (only 1)`, 'dilationRate');
      const padding = c['padding'] ?? 'valid';
      if (padding !== 'valid' && padding !== 'same') bad(`padding '${String(padding)}' is not supported (valid, same)`, 'padding');
      return withAct({
        spec: { kind: 'conv2d', name, filters: Number(c['filters']), kernel: pair(c['kernelSize']), strides: pair(c['strides'] ?? 1), padding: padding as 'valid' | 'same', useBias: c['useBias'] !== false },
        params: weights,
      });
    }
    case 'MaxPooling2D': {
      const size = pair(c['poolSize'] ?? 2);
      const strides = pair(c['strides'] ?? c['poolSize'] ?? 2);
      if (size[0] !== 2 || size[1] !== 2) bad(`pool ${size.join('x')} is not supported (2x2 only)`, 'poolSize');
      if (strides[0] !== 2 || strides[1] !== 2) bad(`strides ${strides.join('x')} are not supported (2x2 only)`, 'strides');
      const padding = c['padding'] ?? 'valid';
      if (padding !== 'valid' && !(padding === 'same' && noPadding(size, strides))) bad(`padding '${String(padding)}' is not supported (valid; 'same' only where it pads nothing: even height and width, got input ${fmtShape(inShape)})`, 'padding');
      return [{ spec: { kind: 'maxPool2x2', name }, params: [] }];
    }
    case 'AveragePooling2D': {
      const size = pair(c['poolSize'] ?? 2);
      const strides = pair(c['strides'] ?? c['poolSize'] ?? 2);
      const padding = c['padding'] ?? 'valid';
      if (padding !== 'valid' && !(padding === 'same' && noPadding(size, strides))) bad(`padding '${String(padding)}' is not supported (valid; 'same' only where it pads nothing, got input ${fmtShape(inShape)})`, 'padding');
      return [{ spec: { kind: 'avgPool', name, size, strides }, params: [] }];
    }
    case 'GlobalAveragePooling2D':
      if (c['keepDims'] === true) bad('keepDims is not supported', 'keepDims');
      return [{ spec: { kind: 'globalAvgPool', name }, params: [] }];
    case 'Flatten':
      return [{ spec: { kind: 'flatten', name }, params: [] }];
    case 'Reshape': {
      // tfjs allows one unknown dimension (-1): resolved here from the input shape
      const t = (c['targetShape'] as unknown[]).map((d) => (d === null || d === -1 ? -1 : Number(d)));
      const known = t.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
      const total = inShape.reduce((a, b) => a * b, 1);
      if (t.filter((d) => d === -1).length > 1 || t.some((d) => d !== -1 && !(Number.isSafeInteger(d) && d > 0))) bad(`target shape ${fmtShape(t)} is not valid (positive sizes, at most one -1)`, 'targetShape');
      if (t.includes(-1) && (known === 0 || total % known !== 0)) bad(`cannot reshape ${fmtShape(inShape)} to ${fmtShape(t)}`, 'targetShape');
      return [{ spec: { kind: 'reshape', name, targetShape: t.map((d) => (d === -1 ? total / known : d)) }, params: [] }];
    }
    case 'Activation': {
      const a = act();
      return [{ spec: a ?? { kind: 'identity', name }, params: [] }];
    }
    case 'ReLU':
      if (c['maxValue'] !== undefined && c['maxValue'] !== null) bad(`a capped ReLU (maxValue ${String(c['maxValue'])}) is not supported`, 'maxValue');
      return [{ spec: { kind: 'relu', name }, params: [] }];
    case 'Softmax': {
      // tfjs' Softmax layer defaults to axis 1 (tf.softmax itself only takes the last axis)
      const axis = c['axis'] ?? 1;
      if (!isLastAxis(axis, inShape.length)) bad(`softmax over axis ${JSON.stringify(axis)} is not supported (the last axis only: -1 or ${inShape.length} for an input ${fmtShape(inShape)})`, 'axis');
      return [{ spec: { kind: 'softmax', name }, params: [] }];
    }
    case 'BatchNormalization': {
      // inference: y = (x - mean) / sqrt(var + eps) * gamma + beta = x * scale + shift, folded here in plaintext
      const axis = c['axis'] ?? -1;
      if (!isLastAxis(axis, inShape.length)) bad(`normalization over axis ${JSON.stringify(axis)} is not supported (the last axis only: -1 or ${inShape.length} for an input ${fmtShape(inShape)})`, 'axis');
      const eps = Number(c['epsilon'] ?? 1e-3);
      const n = inShape[inShape.length - 1]!;
      // tfjs' weight order: gamma (if scale), beta (if center), moving mean, moving variance
      const want = (c['scale'] === false ? 0 : 1) + (c['center'] === false ? 0 : 1) + 2;
      if (weights.length !== want || weights.some((w) => w.length !== n)) bad(`has ${weights.length} weight arrays of ${weights.map((w) => w.length).join(', ')} values, expected ${want} of ${n}`);
      const w = [...weights];
      const gamma = c['scale'] === false ? new Float32Array(n).fill(1) : w.shift()!;
      const beta = c['center'] === false ? new Float32Array(n) : w.shift()!;
      const [mean, variance] = w as [Float32Array, Float32Array];
      const scale = new Float32Array(n);
      const shift = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const s = gamma[i]! / Math.sqrt(variance[i]! + eps);
        scale[i] = s;
        shift[i] = beta[i]! - mean[i]! * s;
      }
      return [{ spec: { kind: 'batchNorm', name }, params: [scale, shift] }];
    }
    default:
      return bad(`layer type ${cls} is not supported (supported: ${SUPPORTED_LAYERS.join(', ')})`);
  }
}

interface Node { inboundLayers: tfTypes.layers.Layer[] }

/** The inbound nodes of `layer` that belong to `model` (a layer reused in another model has nodes of that model too). */
function nodesIn(model: tfTypes.LayersModel, layer: tfTypes.layers.Layer): Node[] {
  const nodes = (layer as unknown as { inboundNodes: Node[] }).inboundNodes ?? [];
  const keys = (model as unknown as { containerNodes?: Set<string> }).containerNodes;
  // (an unbuilt Sequential has no container nodes yet: its layers belong to it alone)
  return keys === undefined || keys.size === 0 ? nodes : nodes.filter((_, k) => keys.has(`${layer.name}_ib-${k}`));
}

/**
 * Convert a Sequential or functional tfjs model that is a chain (one input,
 * one output, each layer taking the previous one's output); weights are read
 * now (plaintext, at the caller). Every error is a LayerError with the source
 * layer's index in `model.layers`.
 */
export function convertModel(model: tfTypes.LayersModel): ConvertedModel {
  if (model === null || typeof model !== 'object' || !Array.isArray((model as { layers?: unknown }).layers) || !Array.isArray(model.inputs)) {
    throw new TypeError(`convertModel: argument 'model' must be a tfjs LayersModel (Sequential or functional), got ${model === null ? 'null' : typeof model}`);
  }
  const all = model.layers;
  const at = (l: tfTypes.layers.Layer | undefined): number => (l === undefined ? -1 : all.indexOf(l));
  const inputLayers = (model as unknown as { inputLayers?: tfTypes.layers.Layer[] }).inputLayers ?? [];
  if (model.inputs.length !== 1) {
    const l = inputLayers[1];
    throw new LayerError(l?.name ?? model.name, at(l), `the model has ${model.inputs.length} inputs (${inputLayers.map((x) => `'${x.name}'`).join(', ')}): only single-input chains convert`);
  }
  if (model.outputs.length !== 1) {
    const outs = (model as unknown as { outputLayers?: tfTypes.layers.Layer[] }).outputLayers ?? [];
    const l = outs[1];
    throw new LayerError(l?.name ?? model.name, at(l), `the model has ${model.outputs.length} outputs (${outs.map((x) => `'${x.name}'`).join(', ')}): only single-output chains convert`);
  }
  const inputShape = model.inputs[0]!.shape.slice(1);
  if (inputShape.some((d) => typeof d !== 'number' || d <= 0)) {
    const l = inputLayers[0];
    throw new LayerError(l?.name ?? model.name, at(l), `the input shape ${JSON.stringify(model.inputs[0]!.shape)} has an unknown dimension besides the batch`, 'inputShape');
  }
  const layers: LayerSpec[] = [];
  const weights: Float32Array[][] = [];
  let shape = inputShape as number[];
  // a merge layer is the reason a model branches: named before the first layer off the chain
  all.forEach((layer, index) => {
    const cls = layer.getClassName();
    if (!MERGE_LAYERS.has(cls)) return;
    const from = nodesIn(model, layer)[0]?.inboundLayers ?? [];
    throw new LayerError(layer.name, index, `${cls} merges ${from.length} inputs (${from.map((l) => `'${l.name}'`).join(', ')}): branching models are not supported, only chains`);
  });
  all.forEach((layer, index) => {
    const cls = layer.getClassName();
    const nodes = nodesIn(model, layer);
    if (Array.isArray((layer as unknown as { layers?: unknown }).layers)) {
      throw new LayerError(layer.name, index, `is a nested model (${cls}): put its layers in the outer model instead`);
    }
    if (nodes.length !== 1) throw new LayerError(layer.name, index, `is used ${nodes.length} times in the model (a shared layer): only chains convert`);
    const inbound = nodes[0]!.inboundLayers;
    if (cls !== 'InputLayer' && index > 0) {
      const prev = all[index - 1]!;
      if (inbound.length !== 1 || inbound[0] !== prev) {
        const from = inbound.map((l) => `'${l.name}' (layer ${at(l)})`).join(', ');
        throw new LayerError(layer.name, index, `takes its input from ${from || 'nothing'}, not from the previous layer '${prev.name}' (layer ${index - 1}): branching models are not supported, only chains`);
      }
    }
    if (cls === 'InputLayer' && index > 0) throw new LayerError(layer.name, index, 'a second input layer: only single-input chains convert');
    const ws = layer.getWeights().map((t) => Float32Array.from(t.dataSync() as Float32Array));
    for (const { spec, params } of convertLayer(layer, index, ws, shape)) {
      const s = { ...spec, index } as LayerSpec;
      // the parameters fit the shapes the spec expects: a LayerError at the source layer that does not
      const want = paramShapes(s, shape);
      if (want.length !== params.length || want.some((w, j) => w.reduce((a, b) => a * b, 1) !== params[j]!.length)) {
        throw new LayerError(layer.name, index, `has ${params.length} weight arrays (${params.map((g) => g.length).join(', ')} values), expected shapes ${JSON.stringify(want)}`);
      }
      shape = outputShape(s, layers.length, shape);
      layers.push(s);
      weights.push(params);
    }
  });
  return { spec: { inputShape: inputShape as number[], layers }, weights };
}
