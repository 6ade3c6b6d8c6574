/**
 * tfjs-layers model -> ModelSpec (spec.ts) and its weights, in plaintext, at
 * the model owner. A layer's fused activation becomes its own spec after it
 * (Dense{activation: 'relu'} -> dense, relu). Anything not listed in
 * docs/encrypted-ml.md's layer table, or an option with a value the
 * encrypted model cannot honour, is a LayerError naming the layer, its index
 * in the model and the option.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { LayerError, modelShapes, paramShapes, type LayerSpec, type ModelSpec } from './spec.js';

/** A converted model: the spec and, per spec layer, its parameters as paramShapes orders them (row-major float32). */
export interface ConvertedModel {
  readonly spec: ModelSpec;
  readonly weights: readonly (readonly Float32Array[])[];
}

type Config = Record<string, unknown>;

function pair(v: unknown): [number, number] {
  return Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : [Number(v), Number(v)];
}

function activation(name: string, index: number, act: unknown, option = 'activation'): LayerSpec | null {
  switch (act ?? 'linear') {
    case 'linear': return null;
    case 'relu': return { kind: 'relu', name };
    case 'sigmoid': return { kind: 'sigmoid', name };
    case 'softmax': return { kind: 'softmax', name };
    default: throw new LayerError(name, index, `activation '${String(act)}' is not supported (supported: linear, relu, sigmoid, softmax)`, option);
  }
}

/**
 * One tfjs layer -> its specs, each with the weights it takes from the tfjs
 * layer (`take(i)` = the layer's i-th weight array). Throws LayerError.
 */
function convertLayer(layer: tfTypes.layers.Layer, index: number, weights: Float32Array[]): { spec: LayerSpec; params: Float32Array[] }[] {
  const name = layer.name;
  const cls = layer.getClassName();
  const c = layer.getConfig() as Config;
  const bad = (msg: string, option?: string): never => { throw new LayerError(name, index, msg, option); };
  const withAct = (main: { spec: LayerSpec; params: Float32Array[] }) => {
    const a = activation(name, index, c['activation']);
    return a === null ? [main] : [main, { spec: a, params: [] }];
  };
  if (c['dataFormat'] !== undefined && c['dataFormat'] !== 'channelsLast') bad(`only channelsLast (NHWC) is supported, got '${String(c['dataFormat'])}'`, 'dataFormat');
  switch (cls) {
    case 'InputLayer':
    case 'Dropout':
      return [{ spec: { kind: 'identity', name }, params: [] }];
    case 'Dense':
      return withAct({ spec: { kind: 'dense', name, units: Number(c['units']), useBias: c['useBias'] !== false }, params: weights });
    case 'Conv2D': {
      const d = pair(c['dilationRate'] ?? 1);
      if (d[0] !== 1 || d[1] !== 1) bad(`dilation ${d.join('x')} is not supported (only 1)`, 'dilationRate');
      const padding = c['padding'];
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
      if (c['padding'] !== undefined && c['padding'] !== 'valid') bad(`padding '${String(c['padding'])}' is not supported (valid only)`, 'padding');
      return [{ spec: { kind: 'maxPool2x2', name }, params: [] }];
    }
    case 'AveragePooling2D': {
      if (c['padding'] !== undefined && c['padding'] !== 'valid') bad(`padding '${String(c['padding'])}' is not supported (valid only)`, 'padding');
      const size = pair(c['poolSize'] ?? 2);
      return [{ spec: { kind: 'avgPool', name, size, strides: pair(c['strides'] ?? c['poolSize'] ?? 2) }, params: [] }];
    }
    case 'GlobalAveragePooling2D':
      return [{ spec: { kind: 'globalAvgPool', name }, params: [] }];
    case 'Flatten':
      return [{ spec: { kind: 'flatten', name }, params: [] }];
    case 'Reshape':
      return [{ spec: { kind: 'reshape', name, targetShape: (c['targetShape'] as number[]).map(Number) }, params: [] }];
    case 'Activation': {
      const a = activation(name, index, c['activation']);
      return [{ spec: a ?? { kind: 'identity', name }, params: [] }];
    }
    case 'ReLU':
      if (c['maxValue'] !== undefined && c['maxValue'] !== null) bad(`a capped ReLU (maxValue ${String(c['maxValue'])}) is not supported`, 'maxValue');
      return [{ spec: { kind: 'relu', name }, params: [] }];
    case 'Softmax':
      if (c['axis'] !== undefined && c['axis'] !== -1) bad(`softmax over axis ${String(c['axis'])} is not supported (the last axis only)`, 'axis');
      return [{ spec: { kind: 'softmax', name }, params: [] }];
    case 'BatchNormalization': {
      // inference: y = (x - mean) / sqrt(var + eps) * gamma + beta = x * scale + shift, folded here in plaintext
      const axis = c['axis'];
      if (axis !== undefined && axis !== -1 && !(Array.isArray(axis) && axis.length === 1 && axis[0] === -1)) bad(`normalization over axis ${JSON.stringify(axis)} is not supported (the last axis only)`, 'axis');
      const eps = Number(c['epsilon'] ?? 1e-3);
      let w = [...weights];
      const n = w[w.length - 1]!.length;
      const gamma = c['scale'] === false ? new Float32Array(n).fill(1) : w.shift()!;
      const beta = c['center'] === false ? new Float32Array(n) : w.shift()!;
      const [mean, variance] = w;
      if (mean === undefined || variance === undefined) bad('missing moving mean / variance weights');
      const scale = new Float32Array(n);
      const shift = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        scale[i] = gamma[i]! / Math.sqrt(variance![i]! + eps);
        shift[i] = beta[i]! - mean![i]! * scale[i]!;
      }
      w = [scale, shift];
      return [{ spec: { kind: 'batchNorm', name }, params: w }];
    }
    default:
      return bad(`layer type ${cls} is not supported (supported: Dense, Conv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, BatchNormalization, Flatten, Reshape, Dropout, Activation, ReLU, Softmax)`);
  }
}

/** Convert a Sequential (or linear functional) tfjs model; weights are read now (plaintext, at the caller). */
export function convertModel(model: tfTypes.LayersModel): ConvertedModel {
  const input = model.inputs[0]?.shape;
  if (model.inputs.length !== 1 || model.outputs.length !== 1 || input === undefined) {
    throw new LayerError(model.name, -1, `expects one input and one output, got ${model.inputs.length} and ${model.outputs.length}`);
  }
  const layers: LayerSpec[] = [];
  const weights: Float32Array[][] = [];
  model.layers.forEach((layer, index) => {
    // a linear chain only: each layer's input is the previous layer's output
    const inbound = (layer as unknown as { inboundNodes: { inboundLayers: unknown[] }[] }).inboundNodes;
    if (index > 0 && (inbound.length !== 1 || inbound[0]!.inboundLayers.length !== 1 || inbound[0]!.inboundLayers[0] !== model.layers[index - 1])) {
      throw new LayerError(layer.name, index, 'only a chain of layers (each taking the previous one\'s output) is supported');
    }
    const ws = layer.getWeights().map((t) => t.dataSync() as Float32Array);
    for (const { spec, params } of convertLayer(layer, index, ws)) {
      layers.push(spec);
      weights.push(params.map((p) => Float32Array.from(p)));
    }
  });
  const spec: ModelSpec = { inputShape: input.slice(1).map(Number), layers };
  // shapes (and parameter counts) fit: a LayerError at the first layer that does not
  const { inputs } = modelShapes(spec);
  layers.forEach((l, i) => {
    const want = paramShapes(l, inputs[i]!);
    const got = weights[i]!;
    if (want.length !== got.length || want.some((s, j) => s.reduce((a, b) => a * b, 1) !== got[j]!.length)) {
      throw new LayerError(l.name, i, `has ${got.length} weight arrays (${got.map((g) => g.length).join(', ')} values), expected shapes ${JSON.stringify(want)}`);
    }
  });
  return { spec, weights };
}
