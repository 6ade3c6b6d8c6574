/**
 * The encrypted forward pass of one layer spec under ABY3: each kind maps to
 * the protocol's ops (docs/encrypted-ml.md, "Models"). Batched: `x` is
 * [batch, ...inShape]. With `training`, a layer returns what its backward
 * pass needs (`saved`): its input, or maxpool's argmax mask.
 */
import type { ABY3 } from '../protocols/aby3.js';
import type { ReplicatedTensor } from '../tensor.js';
import { LayerError, sourceIndex, type LayerSpec } from './spec.js';

export interface Forward {
  y: ReplicatedTensor;
  /** What the backward pass of this layer needs (training only). */
  saved?: { x?: ReplicatedTensor; mask?: ReplicatedTensor; y?: ReplicatedTensor };
}

function expectParams(layer: LayerSpec, index: number, params: readonly ReplicatedTensor[], n: number): void {
  if (params.length !== n) throw new LayerError(layer.name, sourceIndex(layer, index), `expects ${n} parameter tensor(s), got ${params.length}`);
}

/** Add a per-feature bias [n] to y [..., n] (local: broadcast over the leading axes). */
function addBias(prot: ABY3, y: ReplicatedTensor, b: ReplicatedTensor | undefined): ReplicatedTensor {
  return b === undefined ? y : prot.add(y, b);
}

/**
 * y = layer(x) for layer `index` of a model, with its parameters `params`
 * (as paramShapes gives them, encrypted). `x` is [batch, ...inShape].
 */
export async function forwardLayer(prot: ABY3, layer: LayerSpec, index: number, params: readonly ReplicatedTensor[], x: ReplicatedTensor, training = false): Promise<Forward> {
  const B = x.shape[0]!;
  switch (layer.kind) {
    case 'dense': {
      expectParams(layer, index, params, layer.useBias ? 2 : 1);
      // on the last axis: the leading axes (batch and any others) are rows of one matmul
      const k = x.shape[x.shape.length - 1]!;
      const flat = x.shape.length === 2 ? x : prot.reshape(x, [x.size / k, k]);
      let y = addBias(prot, await prot.matmul(flat, params[0]!), params[1]);
      if (x.shape.length !== 2) y = prot.reshape(y, [...x.shape.slice(0, -1), layer.units]);
      return training ? { y, saved: { x } } : { y };
    }
    case 'conv2d': {
      expectParams(layer, index, params, layer.useBias ? 2 : 1);
      const y = addBias(prot, await prot.conv2d(x, params[0]!, { strides: layer.strides, padding: layer.padding }), params[1]);
      return training ? { y, saved: { x } } : { y };
    }
    case 'relu': {
      if (!training) return { y: await prot.relu(x) };
      // keep the derivative's 0/1 for the backward pass: relu(x) = x · [x > 0] ([x > 0] = [-x < 0]: 0 at 0, as tfjs)
      const d = await prot.isNegative(prot.neg(x));
      return { y: await prot.mul(x, d), saved: { mask: d } };
    }
    case 'sigmoid': {
      const y = await prot.sigmoid(x);
      return training ? { y, saved: { y } } : { y };
    }
    case 'softmax': return { y: await prot.softmax(x, -1) };
    case 'maxPool2x2': {
      if (!training) return { y: await prot.maxPool2x2(x) };
      const { y, mask } = await prot.maxPool2x2WithMask(x);
      return { y, saved: { mask } };
    }
    case 'avgPool': return { y: await prot.avgPool(x, { size: layer.size, strides: layer.strides }) };
    case 'globalAvgPool': {
      const [, h, w, c] = x.shape as [number, number, number, number];
      return { y: await prot.divPublic(prot.sum(prot.reshape(x, [B, h * w, c]), 1), h * w) };
    }
    case 'batchNorm': {
      expectParams(layer, index, params, 2);
      return { y: prot.add(await prot.mul(x, params[0]!), params[1]!) };
    }
    case 'flatten': return { y: prot.reshape(x, [B, x.size / B]) };
    case 'reshape': return { y: prot.reshape(x, [B, ...layer.targetShape]) };
    case 'identity': return { y: x };
  }
}
