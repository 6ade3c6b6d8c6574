/**
 * The encrypted backward pass of each layer kind (src/encrypted/nn/backward.ts)
 * against tfjs' gradients (tf.grads of Σ layer(x)·dy) on random inputs, at
 * both precisions, with asserted bounds; the softmax-cross-entropy gradient
 * against tf.grad of tf.losses.softmaxCrossEntropy; the errors of layers
 * that cannot be trained.
 *
 * Inputs are multiples of 2^-10 in [-1, 1) (exact in both encodings, and
 * their products exact in float32), so the fixed-point error is the
 * truncations' (1 ulp = 2^-f per truncated sum, `ulps` below) and tfjs'
 * float32 sums add at most 2^-23 per unit of Σ|term| (`f32`). tfjs runs on
 * its 'cpu' backend (see `before`).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ABY3, Player, type ReplicatedTensor } from '../../src/encrypted/index.js';
import { backwardLayer, lossGradient } from '../../src/encrypted/nn/backward.js';
import { forwardLayer } from '../../src/encrypted/nn/forward.js';
import { LayerError, outputShape, paramShapes, type LayerSpec } from '../../src/encrypted/nn/spec.js';
import { initTf, tf } from '../../src/learning/tf.js';
import { MemoryTransport } from '../../src/transport/index.js';
import { data } from './conv-ref.js';

const [s0, s1, s2, alice] = ['server0', 'server1', 'server2', 'alice'].map((n) => new Player(n)) as [Player, Player, Player, Player];
const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
/** Multiples of 2^-10 in [-1, 1). */
const rnd = (seed: number, n: number) => Float32Array.from(data(seed, n), (v) => v / 4);
/** Distinct values (no ties in a max pool): a shuffled grid of multiples of 2^-10, away from 0. */
function distinct(seed: number, n: number): Float32Array {
  const v = Float32Array.from({ length: n }, (_, i) => ((i + 1) * (i % 2 === 0 ? 1 : -1)) / 1024);
  const r = data(seed, n);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(((r[i]! + 4) / 8) * (i + 1));
    [v[i], v[j]] = [v[j]!, v[i]!];
  }
  return v;
}
const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let worst = 0, at = -1;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (d > worst) { worst = d; at = i; }
  }
  assert.ok(worst <= tol, `${what}: max error ${worst} at ${at} (got ${got[at]}, want ${want[at]}) above the bound ${tol}`);
}

interface Case {
  layer: LayerSpec;
  inShape: number[];
  batch: number;
  /** tfjs' version of the layer on [x, ...params]. */
  tfFn: (x: tf.Tensor, ...p: tf.Tensor[]) => tf.Tensor;
  /** the bound on dx, on each param gradient, in (ulps, Σ|term| for float32). */
  bounds: { dx?: [number, number]; grads?: [number, number][]; y?: [number, number] };
  x?: (seed: number, n: number) => Float32Array;
}

const conv = (name: string, filters: number, kernel: [number, number], strides: [number, number], padding: 'valid' | 'same'): LayerSpec => ({ kind: 'conv2d', name, filters, kernel, strides, padding, useBias: true });

/** The cases; sizes small enough for the whole file to take a few seconds. */
function cases(): Case[] {
  const B = 4;
  const convCase = (l: LayerSpec & { kind: 'conv2d' }, inShape: number[]): Case => {
    const [KH, KW] = l.kernel;
    const [sh, sw] = l.strides;
    const C = inShape[2]!;
    const taps = Math.ceil(KH / sh) * Math.ceil(KW / sw);
    const out = outputShape(l, 0, inShape);
    return {
      layer: l, inShape, batch: B,
      tfFn: (x, w, b) => tf.add(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, l.strides, l.padding), b!),
      // forward and dW: one truncated sum each; dx: ceil(KH/sh)·ceil(KW/sw) truncated patch entries summed
      bounds: { y: [1, KH * KW * C], grads: [[1, B * out[0]! * out[1]!], [0, B * out[0]! * out[1]!]], dx: [taps, taps * l.filters] },
    };
  };
  return [
    {
      layer: { kind: 'dense', name: 'fc', units: 5, useBias: true }, inShape: [12], batch: 8,
      tfFn: (x, w, b) => tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b!),
      bounds: { y: [1, 12], grads: [[1, 8], [0, 8]], dx: [1, 5] },
    },
    convCase(conv('conv-valid', 3, [3, 3], [1, 1], 'valid') as LayerSpec & { kind: 'conv2d' }, [7, 7, 2]),
    convCase(conv('conv-same-s2', 3, [3, 3], [2, 2], 'same') as LayerSpec & { kind: 'conv2d' }, [7, 6, 2]),
    convCase(conv('conv-5x5-s21', 2, [5, 5], [2, 1], 'valid') as LayerSpec & { kind: 'conv2d' }, [9, 8, 1]),
    { layer: { kind: 'relu', name: 'relu' }, inShape: [6, 5], batch: B, tfFn: (x) => tf.relu(x), bounds: { y: [1, 0], dx: [0, 0] }, x: distinct },
    { layer: { kind: 'maxPool2x2', name: 'pool' }, inShape: [6, 6, 3], batch: B, tfFn: (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid'), bounds: { y: [0, 0], dx: [0, 0] }, x: distinct },
    { layer: { kind: 'maxPool2x2', name: 'pool-odd' }, inShape: [5, 7, 2], batch: B, tfFn: (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid'), bounds: { y: [0, 0], dx: [0, 0] }, x: distinct },
    { layer: { kind: 'avgPool', name: 'avg', size: [2, 2], strides: [2, 2] }, inShape: [6, 4, 3], batch: B, tfFn: (x) => tf.avgPool(x as tf.Tensor4D, 2, 2, 'valid'), bounds: { y: [1, 4], dx: [1, 1] } },
    { layer: { kind: 'avgPool', name: 'avg-overlap', size: [3, 2], strides: [2, 1] }, inShape: [7, 5, 2], batch: B, tfFn: (x) => tf.avgPool(x as tf.Tensor4D, [3, 2], [2, 1], 'valid'), bounds: { y: [1, 6], dx: [1, 6] } },
    // windows overlapping along one axis only (the backward's scatter adds there, copies where windows are disjoint)
    { layer: { kind: 'avgPool', name: 'avg-overlap-w', size: [2, 2], strides: [2, 1] }, inShape: [6, 5, 2], batch: B, tfFn: (x) => tf.avgPool(x as tf.Tensor4D, [2, 2], [2, 1], 'valid'), bounds: { y: [1, 4], dx: [1, 4] } },
    { layer: { kind: 'globalAvgPool', name: 'gap' }, inShape: [4, 3, 5], batch: B, tfFn: (x) => tf.mean(x, [1, 2]), bounds: { y: [1, 12], dx: [1, 1] } },
    { layer: { kind: 'flatten', name: 'flat' }, inShape: [3, 2, 4], batch: B, tfFn: (x) => tf.reshape(x, [B, 24]), bounds: { y: [0, 0], dx: [0, 0] } },
    { layer: { kind: 'reshape', name: 'reshape', targetShape: [4, 6] }, inShape: [24], batch: B, tfFn: (x) => tf.reshape(x, [B, 4, 6]), bounds: { y: [0, 0], dx: [0, 0] } },
    { layer: { kind: 'identity', name: 'dropout' }, inShape: [7], batch: B, tfFn: (x) => x, bounds: { y: [0, 0], dx: [0, 0] } },
  ];
}

for (const precision of ['low', 'high'] as const) {
  describe(`nn backward per layer vs tfjs gradients (precision ${precision})`, () => {
    const p = new ABY3(s0, s1, s2, { precision, transport: new MemoryTransport(), players: [alice] });
    const ulp = 2 ** -p.fixed.frac;
    const read = async (t: ReplicatedTensor) => (await p.reveal(t, alice)).read();
    // tfjs' 'cpu' backend: the wasm backend's MaxPoolGrad (tfjs 4.22) routes nothing back from a window whose
    // maximum is negative (it returns 0 there; 'cpu' and ABY3 give dy to the argmax)
    before(async () => { await initTf(); await tf.setBackend('cpu'); });

    for (const [ci, c] of cases().entries()) {
      it(`${c.layer.kind} '${c.layer.name}' input [${c.batch}, ${c.inShape.join(', ')}]: y, dx and parameter gradients within the bounds`, async () => {
        const seed = 100 * ci + (precision === 'low' ? 1 : 2);
        const xShape = [c.batch, ...c.inShape];
        const xs = (c.x ?? rnd)(seed, prod(xShape));
        const pShapes = paramShapes(c.layer, c.inShape);
        const ps = pShapes.map((s, j) => rnd(seed + 10 + j, prod(s)));
        const yShape = [c.batch, ...outputShape(c.layer, 0, c.inShape)];
        const dys = rnd(seed + 20, prod(yShape));
        // encrypted
        const x = await p.encrypt(alice, xs, { shape: xShape });
        const params = await Promise.all(ps.map((v, j) => p.encrypt(alice, v, { shape: pShapes[j] })));
        const f = await forwardLayer(p, c.layer, 0, params, x, true);
        const dy = await p.encrypt(alice, dys, { shape: yShape });
        const b = await backwardLayer(p, c.layer, 0, params, f.saved, dy, { inShape: c.inShape });
        assert.deepEqual(b.dx?.shape, xShape);
        assert.equal(b.grads.length, pShapes.length);
        // tfjs
        const { y: yRef, g } = tf.tidy(() => {
          const xt = tf.tensor(xs, xShape);
          const pt = ps.map((v, j) => tf.tensor(v, pShapes[j]));
          const fn = (...a: tf.Tensor[]) => c.tfFn(a[0]!, ...a.slice(1));
          const gs = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(fn(...a), tf.tensor(dys, yShape))))([xt, ...pt]);
          return { y: fn(xt, ...pt).dataSync(), g: gs.map((t) => t.dataSync()) };
        });
        const mx = maxAbs(xs), mp = ps.length ? maxAbs(ps[0]!) : 0, md = maxAbs(dys);
        const tol = ([u, terms]: [number, number], m: number) => u * ulp + 2 ** -23 * terms * m;
        assertClose(await read(f.y), yRef, tol(c.bounds.y!, mx * Math.max(mp, 1)), 'forward y');
        assertClose(await read(b.dx!), g[0]!, tol(c.bounds.dx!, md * Math.max(mp, 1)), 'dx');
        for (let j = 0; j < pShapes.length; j++) {
          assert.deepEqual(b.grads[j]!.shape, pShapes[j]);
          assertClose(await read(b.grads[j]!), g[j + 1]!, tol(c.bounds.grads![j]!, md * Math.max(mx, 1)), `gradient of parameter ${j}`);
        }
        // the first layer with parameters skips its input gradient
        if (pShapes.length > 0) {
          const nb = await backwardLayer(p, c.layer, 0, params, f.saved, dy, { inShape: c.inShape, needInput: false });
          assert.equal(nb.dx, undefined);
        }
      });
    }

    it('sigmoid: dx = dy·y(1 − y) within sigmoid\'s bound', async () => {
      const layer: LayerSpec = { kind: 'sigmoid', name: 'sig' };
      const shape = [4, 6];
      const xs = Float32Array.from(data(7, 24), (v) => v * 1.5); // [-6, 6)
      const dys = rnd(8, 24);
      const x = await p.encrypt(alice, xs, { shape });
      const f = await forwardLayer(p, layer, 0, [], x, true);
      const b = await backwardLayer(p, layer, 0, [], f.saved, await p.encrypt(alice, dys, { shape }), { inShape: [6] });
      const want = tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.sigmoid(t), tf.tensor(dys, shape))))(tf.tensor(xs, shape)).dataSync());
      // sigmoid's error e (6e-4 / 4e-6, docs/encrypted-ml.md) changes y(1 − y) by at most e; two products of one ulp each
      const e = precision === 'low' ? 6e-4 : 4e-6;
      assertClose(await read(b.dx!), want, maxAbs(dys) * e + 3 * ulp + 1e-6, 'dx');
    });

    it('lossGradient: softmax(z) − y over B ("mean") and not ("sum") against tf.grad of softmaxCrossEntropy', async () => {
      const B = 6, C = 10;
      const zs = Float32Array.from(data(9, B * C), (v) => v * 1.25); // [-5, 5)
      const ys = new Float32Array(B * C);
      for (let i = 0; i < B; i++) ys[i * C + ((i * 7) % C)] = 1;
      const z = await p.encrypt(alice, zs, { shape: [B, C] });
      const y = await p.encrypt(alice, ys, { shape: [B, C] });
      const want = tf.tidy(() => tf.grad((t: tf.Tensor) => tf.losses.softmaxCrossEntropy(tf.tensor(ys, [B, C]), t))(tf.tensor(zs, [B, C])).dataSync());
      const softmaxErr = precision === 'low' ? 3e-3 : 3e-5; // the op table's bound
      assertClose(await read(await lossGradient(p, z, y)), want, softmaxErr / B + ulp + 1e-7, 'mean');
      assertClose(await read(await lossGradient(p, z, y, { reduction: 'sum' })), Array.from(want, (v) => v * B), softmaxErr + 1e-6, 'sum');
      await assert.rejects(lossGradient(p, z, await p.encrypt(alice, ys.subarray(0, 50), { shape: [5, C] })), /argument 'onehot' has shape \[5, 10\], expected \[6, 10\]/);
    });

    it('layers that cannot be trained, and a backward without its saved values, are LayerErrors naming the layer', async () => {
      const x = await p.encrypt(alice, rnd(3, 8), { shape: [2, 4] });
      const bn: LayerSpec = { kind: 'batchNorm', name: 'bn' };
      await assert.rejects(backwardLayer(p, bn, 3, [x, x], {}, x, { inShape: [4] }), (e: unknown) => e instanceof LayerError && e.index === 3 && /layer 3 'bn'.*cannot be trained/.test(e.message));
      await assert.rejects(backwardLayer(p, { kind: 'softmax', name: 'sm' }, 2, [], {}, x, { inShape: [4] }), /layer 2 'sm'.*only as the last layer/);
      await assert.rejects(backwardLayer(p, { kind: 'dense', name: 'fc', units: 4, useBias: false }, 1, [x], undefined, x, { inShape: [4] }), /layer 1 'fc'.*did not save its input/);
      await assert.rejects(backwardLayer(p, { kind: 'dense', name: 'fc', units: 4, useBias: true }, 1, [x], { x }, x, { inShape: [4] }), /layer 1 'fc'.*expects 2 parameter tensor\(s\), got 1/);
    });
  });
}
