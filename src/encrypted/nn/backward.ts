/**
 * The encrypted backward pass of one layer spec under ABY3, and the
 * softmax-cross-entropy loss gradient (docs/encrypted-ml.md, "Private
 * training"). A layer's backward takes what its training forward pass saved
 * (forward.ts: the input of dense / conv2d, the 0/1 mask of relu and
 * maxPool2x2, the output of sigmoid) and dy = dL/dy, and gives the gradients
 * of its parameters (in paramShapes' order) and, when asked, dx = dL/dx.
 *
 *   dense    dW = xᵀ · dy (one matmul), db = Σ_batch dy (local), dx = dy · Wᵀ (one matmul)
 *   conv2d   dW = conv2dBackpropFilter(x, dy), db = Σ_{batch, y, x} dy (local), dx = conv2dBackpropInput
 *   relu     dx = dy · [x ≥ 0] (one int × fixed mul: one round, no truncation)
 *   maxPool2x2  dx = mask · upsample(dy) (one int × fixed mul)
 *   avgPool  dx = unwindows(dy, every tap) / area (local scatter + one divPublic)
 *   globalAvgPool  dx = broadcast(dy) / (h·w)
 *   sigmoid  dx = dy · y (1 − y) (two muls)
 *   flatten, reshape, identity: dy reshaped to the input's shape (local)
 *
 * Everything runs on the servers' own parts; nothing is revealed.
 */
import * as ring from '../../ring/index.js';
import type { RingTensor } from '../../ring/index.js';
import type { ABY3 } from '../protocols/aby3.js';
import { geometry, local, unwindows } from '../protocols/aby3-conv.js';
import { ReplicatedTensor, type Encoding } from '../tensor.js';
import type { Forward } from './forward.js';
import { LayerError, type LayerSpec } from './spec.js';

export interface Backward {
  /** dL/dx, [batch, ...inShape]; absent when not asked for. */
  dx?: ReplicatedTensor;
  /** dL/dparam for each parameter of the layer, in paramShapes' order. */
  grads: ReplicatedTensor[];
}

export interface BackwardOptions {
  /** The layer's input shape without the batch dimension (modelShapes(spec).inputs[index]). */
  inShape: readonly number[];
  /** Compute dx (false for the first layer with parameters and everything before it). Default true. */
  needInput?: boolean;
}

/** A replicated tensor over `parts`, with x's protocol, placement and sensitivity. */
function like(x: ReplicatedTensor, parts: (RingTensor | undefined)[], shape: readonly number[], encoding: Encoding = x.encoding): ReplicatedTensor {
  return new ReplicatedTensor(x.protocol, x.placement, parts, shape, encoding, x.sensitivity);
}

function need<T>(v: T | undefined, layer: LayerSpec, index: number, what: string): T {
  if (v === undefined) throw new LayerError(layer.name, index, `backward: the training forward pass did not save ${what} (call forwardLayer with training = true)`);
  return v;
}

function expectParams(layer: LayerSpec, index: number, params: readonly ReplicatedTensor[], n: number): void {
  if (params.length !== n) throw new LayerError(layer.name, index, `backward: expects ${n} parameter tensor(s), got ${params.length}`);
}

/** Σ over every axis but the last: [..., n] → [n] (local). */
function sumToLast(prot: ABY3, t: ReplicatedTensor): ReplicatedTensor {
  const n = t.shape[t.shape.length - 1]!;
  return prot.sum(prot.reshape(t, [t.size / n, n]), 0);
}

/**
 * dL/dparams (and dL/dx) of layer `index` from dy = dL/dy. `saved` is what
 * forwardLayer(..., training = true) returned for this layer; `params` the
 * layer's (encrypted) parameters. Throws a LayerError for a layer kind that
 * cannot be trained (batchNorm, softmax inside the model).
 */
export async function backwardLayer(prot: ABY3, layer: LayerSpec, index: number, params: readonly ReplicatedTensor[], saved: Forward['saved'], dy: ReplicatedTensor, options: BackwardOptions): Promise<Backward> {
  const needInput = options.needInput ?? true;
  const B = dy.shape[0]!;
  const inShape = [B, ...options.inShape];
  switch (layer.kind) {
    case 'dense': {
      expectParams(layer, index, params, layer.useBias ? 2 : 1);
      const x = need(saved?.x, layer, index, 'its input');
      const w = params[0]!;
      const x2 = x.shape.length === 2 ? x : prot.reshape(x, [B, x.size / B]);
      const [dw, dx] = await Promise.all([
        prot.matmul(prot.transpose(x2), dy),
        needInput ? prot.matmul(dy, prot.transpose(w)) : undefined,
      ]);
      const grads = layer.useBias ? [dw, prot.sum(dy, 0)] : [dw];
      return dx === undefined ? { grads } : { dx: prot.reshape(dx, inShape), grads };
    }
    case 'conv2d': {
      expectParams(layer, index, params, layer.useBias ? 2 : 1);
      const x = need(saved?.x, layer, index, 'its input');
      const w = params[0]!;
      const opts = { strides: layer.strides, padding: layer.padding };
      const [dw, dx] = await Promise.all([
        prot.conv2dBackpropFilter(x, dy, w.shape, opts),
        needInput ? prot.conv2dBackpropInput(x.shape, dy, w, opts) : undefined,
      ]);
      const grads = layer.useBias ? [dw, sumToLast(prot, dy)] : [dw];
      return dx === undefined ? { grads } : { dx, grads };
    }
    case 'relu': {
      if (!needInput) return { grads: [] };
      return { dx: await prot.mul(dy, need(saved?.mask, layer, index, 'the derivative mask')), grads: [] };
    }
    case 'maxPool2x2': {
      if (!needInput) return { grads: [] };
      return { dx: await prot.maxPool2x2Backward(need(saved?.mask, layer, index, 'the argmax mask'), dy), grads: [] };
    }
    case 'avgPool': {
      if (!needInput) return { grads: [] };
      const g = geometry('avgPool backward', inShape, layer.size[0], layer.size[1], layer.strides, 'valid', 'inShape');
      const T = g.KH * g.KW;
      // every tap of a window receives the window's dy: unwindows adds them back (overlapping windows sum)
      const up = like(dy, local(dy, (p) => unwindows(p, g)), inShape);
      return { dx: await prot.divPublic(up, T), grads: [] };
    }
    case 'globalAvgPool': {
      if (!needInput) return { grads: [] };
      const [, h, w, c] = inShape as [number, number, number, number];
      const up = like(dy, local(dy, (p) => ring.broadcastTo(ring.reshape(p, [B, 1, 1, c]), inShape)), inShape);
      return { dx: await prot.divPublic(up, h * w), grads: [] };
    }
    case 'sigmoid': {
      if (!needInput) return { grads: [] };
      const y = need(saved?.y, layer, index, 'its output');
      const dsig = await prot.mul(y, prot.addPublic(prot.neg(y), 1));
      return { dx: await prot.mul(dy, dsig), grads: [] };
    }
    case 'flatten':
    case 'reshape':
    case 'identity':
      return needInput ? { dx: prot.reshape(dy, inShape), grads: [] } : { grads: [] };
    case 'batchNorm':
      throw new LayerError(layer.name, index, 'batch normalization is converted for inference (folded moving statistics) and cannot be trained here; remove it or train in plaintext');
    case 'softmax':
      throw new LayerError(layer.name, index, 'softmax is trainable only as the last layer, where it is folded into the cross-entropy loss');
  }
}

export interface LossGradientOptions {
  /**
   * 'mean' (default): (softmax(z) − y)/B, the gradient of the batch's mean
   * loss (one divPublic more); 'sum': softmax(z) − y, the gradient of the
   * summed loss (private training uses it and puts the 1/B into the public
   * learning rate: one truncation less, and dz keeps f fractional bits
   * instead of f − log2 B).
   */
  reduction?: 'mean' | 'sum';
}

/**
 * The gradient of the softmax cross-entropy loss with respect to the logits
 * z [B, classes], for one-hot labels y [B, classes]: softmax(z) − y, over B
 * for the mean. softmax is ABY3's (row max, exp, reciprocal; its error bound
 * in docs/encrypted-ml.md).
 */
export async function lossGradient(prot: ABY3, logits: ReplicatedTensor, onehot: ReplicatedTensor, options: LossGradientOptions = {}): Promise<ReplicatedTensor> {
  const fn = 'lossGradient';
  if (logits.shape.length !== 2) throw new RangeError(`${fn}: argument 'logits' must be [batch, classes], got [${logits.shape.join(', ')}]`);
  if (onehot.shape.length !== 2 || onehot.shape[0] !== logits.shape[0] || onehot.shape[1] !== logits.shape[1]) {
    throw new RangeError(`${fn}: argument 'onehot' has shape [${onehot.shape.join(', ')}], expected [${logits.shape.join(', ')}] (the logits')`);
  }
  if (onehot.encoding !== 'fixed') throw new TypeError(`${fn}: argument 'onehot' must be fixed point (encrypt the one-hot labels as floats)`);
  const reduction = options.reduction ?? 'mean';
  if (reduction !== 'mean' && reduction !== 'sum') throw new RangeError(`${fn}: option 'reduction' must be 'mean' or 'sum', got ${String(reduction)}`);
  const dz = prot.sub(await prot.softmax(logits, -1), onehot);
  return reduction === 'sum' ? dz : prot.divPublic(dz, logits.shape[0]!);
}
