/**
 * ABY3 conv2d (im2col + one matmul) and its gradients, avgPool, max,
 * argmax, maxPool2x2 and its mask (src/encrypted/protocols/conv.ts,
 * im2col.ts, pool.ts), what is not in the conformance suite: the float64
 * loop references (conv-ref.ts) checked against tfjs' conv2d and against
 * each other as adjoints, valid and same padding, strides 1 and 2; SPMD (one
 * simulated process per group of players) for every conv and pool op;
 * argument checks. The ops' values against the references and their rounds
 * and bytes, for both protocols and precisions, are in the conformance
 * suite, test/conformance/nonlinear.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ABY3, Player, ShapeMismatchError, type ReplicatedTensor } from '../../src/encrypted/index.js';
import { geometry } from '../../src/encrypted/protocols/aby3-conv.js';
import { initTf, tf } from '../../src/learning/tf.js';
import { MemoryTransport } from '../../src/transport/index.js';
import { backFilterRef, backInputRef, convRef, data } from './conv-ref.js';

const [s0, s1, s2, alice] = ['server0', 'server1', 'server2', 'alice'].map((n) => new Player(n)) as [Player, Player, Player, Player];

const maxErr = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);

interface Case { B: number; H: number; W: number; C: number; KH: number; KW: number; F: number; s: number | [number, number]; pad: 'valid' | 'same'; seed: number }
const fixedCases: Case[] = [
  { B: 2, H: 6, W: 5, C: 2, KH: 3, KW: 3, F: 3, s: 1, pad: 'valid', seed: 1 },
  { B: 2, H: 6, W: 5, C: 2, KH: 3, KW: 3, F: 3, s: 2, pad: 'valid', seed: 2 },
  { B: 1, H: 7, W: 6, C: 3, KH: 3, KW: 2, F: 2, s: 1, pad: 'same', seed: 3 },
  { B: 2, H: 7, W: 6, C: 1, KH: 3, KW: 3, F: 2, s: 2, pad: 'same', seed: 4 },
  // strides (1, 2): odd total padding on top (taken at the bottom), and a different stride per axis
  { B: 1, H: 6, W: 7, C: 2, KH: 2, KW: 3, F: 2, s: [1, 2], pad: 'same', seed: 5 },
  { B: 2, H: 7, W: 5, C: 1, KH: 3, KW: 2, F: 3, s: [2, 1], pad: 'valid', seed: 6 },
];
const strideOf = (s: number | [number, number]): [number, number] => (typeof s === 'number' ? [s, s] : s);

describe('conv2d references (float64 loops)', () => {
  it('match tfjs conv2d (valid and same, strides 1 and 2) and are adjoint to each other', async () => {
    await initTf();
    for (const k of fixedCases) {
      const g = geometry('ref', [k.B, k.H, k.W, k.C], k.KH, k.KW, k.s, k.pad);
      const x = data(k.seed, k.B * k.H * k.W * k.C);
      const w = data(k.seed + 7, k.KH * k.KW * k.C * k.F);
      const dy = data(k.seed + 11, k.B * g.OH * g.OW * k.F);
      const y = convRef(x, w, g, k.F);
      const t = tf.tidy(() => tf.conv2d(tf.tensor4d(Float32Array.from(x), [k.B, k.H, k.W, k.C]), tf.tensor4d(Float32Array.from(w), [k.KH, k.KW, k.C, k.F]), strideOf(k.s), k.pad).dataSync());
      assert.equal(t.length, y.length, `${JSON.stringify(k)}: output size`);
      assert.ok(maxErr(t, y) < 1e-3, `${JSON.stringify(k)}: tfjs conv2d`);
      // <conv(x, w), dy> = <x, dX(dy, w)> = <w, dW(x, dy)>
      const lhs = dot(y, dy);
      assert.equal(dot(x, backInputRef(dy, w, g, k.F)), lhs);
      assert.equal(dot(w, backFilterRef(x, dy, g, k.F)), lhs);
    }
  });
});

describe('ABY3 conv2d: argument checks name the argument', () => {
  it('shapes, channels, strides, padding', async () => {
    const p = new ABY3(s0, s1, s2, { transport: new MemoryTransport(), players: [alice] });
    const x = await p.encrypt(alice, data(1, 2 * 5 * 5 * 2), { shape: [2, 5, 5, 2] });
    const w = await p.encrypt(alice, data(2, 3 * 3 * 2 * 4), { shape: [3, 3, 2, 4] });
    const w3 = await p.encrypt(alice, data(2, 3 * 3 * 3 * 4), { shape: [3, 3, 3, 4] });
    const flat = await p.encrypt(alice, data(3, 10), { shape: [10] });
    await assert.rejects(p.conv2d(flat, w), (e: Error) => e instanceof ShapeMismatchError && /argument 'x'.*NHWC/.test(e.message));
    await assert.rejects(p.conv2d(x, w3), (e: Error) => e instanceof ShapeMismatchError && /argument 'w' has 3 input channels/.test(e.message));
    await assert.rejects(p.conv2d(x, w, { strides: 0 }), (e: Error) => e instanceof RangeError && /option 'strides'/.test(e.message));
    await assert.rejects(p.conv2d(x, w, { padding: 'full' as 'same' }), (e: Error) => e instanceof RangeError && /option 'padding'/.test(e.message));
    await assert.rejects(p.conv2d(x, 3 as unknown as ReplicatedTensor), (e: Error) => e instanceof TypeError && /argument 'w'/.test(e.message));
    const dy = await p.encrypt(alice, data(4, 2 * 3 * 3 * 4), { shape: [2, 3, 3, 4] });
    await assert.rejects(p.conv2dBackpropInput([2, 5, 5, 2], dy, w, { padding: 'same' }), (e: Error) => e instanceof ShapeMismatchError && /argument 'dy'/.test(e.message));
    await assert.rejects(p.conv2dBackpropFilter(x, dy, [3, 3, 1, 4]), (e: Error) => e instanceof ShapeMismatchError && /'filterShape' has 1 input channels/.test(e.message));
    await assert.rejects(p.avgPool(x, { size: 6 }), (e: Error) => e instanceof ShapeMismatchError && /larger than the input/.test(e.message));
  });
});

describe('ABY3 max and pooling: argument checks', () => {
  it('axis, shapes and the mask\'s encoding are checked', async () => {
    const p = new ABY3(s0, s1, s2, { transport: new MemoryTransport(), players: [alice] });
    const x = await p.encrypt(alice, data(1, 24), { shape: [2, 3, 4] });
    await assert.rejects(p.max(x, 3), (e: Error) => e instanceof RangeError && /argument 'axis'/.test(e.message));
    await assert.rejects(p.argmax(x, 1.5), (e: Error) => e instanceof TypeError && /argument 'axis'/.test(e.message));
    await assert.rejects(p.maxPool2x2(x), (e: Error) => e instanceof ShapeMismatchError && /NHWC/.test(e.message));
    const x4 = await p.encrypt(alice, data(2, 32), { shape: [1, 4, 4, 2] });
    const dy = await p.encrypt(alice, data(3, 8), { shape: [1, 2, 2, 2] });
    assert.throws(() => p.maxPool2x2Backward(x4, dy), (e: Error) => e instanceof TypeError && /argument 'mask' must hold 0\/1 integers/.test(e.message));
    const r = await p.maxPool2x2WithMask(x4);
    assert.throws(() => p.maxPool2x2Backward(r.mask, x4), (e: Error) => e instanceof ShapeMismatchError && /argument 'dy'/.test(e.message));
  });
});
