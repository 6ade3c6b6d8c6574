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
import { MemoryHub, MemoryTransport } from '../../src/transport/index.js';
import { backFilterRef, backInputRef, convRef, data, poolRef, reduceRef, tied } from './conv-ref.js';

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

describe('ABY3 conv and pool ops, SPMD (one simulated process per group of players)', () => {
  it('conv2d, both gradients, avgPool, max, argmax, maxPool2x2 with mask and backward: the reference values whatever the grouping', async () => {
    const shape = [2, 5, 4, 2];
    const g = geometry('t', shape, 3, 2, 1, 'same');
    const xs = tied(9, 80, 3);
    const ws = data(10, 3 * 2 * 2 * 3);
    const dys = data(11, 2 * g.OH * g.OW * 3);
    const dps = data(12, 2 * 2 * 2 * 2);
    const groupings = [[['server0'], ['server1'], ['server2'], ['alice']], [['server0', 'alice'], ['server1', 'server2']], [['server0', 'server1', 'server2', 'alice']]];
    const ulp = 2 ** -16;
    for (const groups of groupings) {
      const hub = new MemoryHub();
      const label = groups.map((x) => x.join('+')).join(' | ');
      const results = await Promise.all(groups.map(async (local) => {
        const p = new ABY3(s0, s1, s2, { transport: new MemoryTransport({ hub, local }), players: [alice], id: 'spmd-conv', timeoutMs: 10000 });
        const here = local.includes('alice');
        const x = await p.encrypt(alice, here ? xs : undefined, { shape });
        const w = await p.encrypt(alice, here ? ws : undefined, { shape: [3, 2, 2, 3] });
        const dy = await p.encrypt(alice, here ? dys : undefined, { shape: [2, g.OH, g.OW, 3] });
        const dp = await p.encrypt(alice, here ? dps : undefined, { shape: [2, 2, 2, 2] });
        const o = { padding: 'same' as const };
        const pooled = await p.maxPool2x2WithMask(x);
        const outs = [
          await p.conv2d(x, w, o), await p.conv2dBackpropInput(shape, dy, w, o), await p.conv2dBackpropFilter(x, dy, [3, 2, 2, 3], o),
          await p.avgPool(x, { size: 2 }), await p.max(x, 2), await p.argmax(x, 1), pooled.y, pooled.mask, await p.maxPool2x2Backward(pooled.mask, dp),
        ];
        const vals = [];
        for (const t of outs) vals.push(await p.reveal(t, alice));
        return here ? vals.map((v) => Array.from(v.read())) : undefined;
      }));
      const got = results.find((r) => r !== undefined)!;
      groups.forEach((gr, i) => { if (!gr.includes('alice')) assert.equal(results[i], undefined); });
      const close = (a: number[], b: ArrayLike<number>, bound: number, what: string) => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) <= bound, `${label}: ${what} [${i}] ${v} vs ${b[i]}`));
      close(got[0]!, convRef(xs, ws, g, 3), ulp, 'conv2d');
      close(got[1]!, backInputRef(dys, ws, g, 3), 6 * ulp, 'backprop input');
      close(got[2]!, backFilterRef(xs, dys, g, 3), ulp, 'backprop filter');
      const gp = geometry('t', shape, 2, 2, 2, 'valid');
      const avg = convRef(xs, Float64Array.from({ length: 16 }, (_, i) => (i % 2 === Math.floor(i / 2) % 2 ? 0.25 : 0)), gp, 2);
      close(got[3]!, avg, 2 * ulp, 'avgPool');
      assert.deepEqual(got[4], reduceRef(xs, shape, 2).max, `${label}: max`);
      assert.deepEqual(got[5], reduceRef(xs, shape, 1).arg, `${label}: argmax`);
      const pr = poolRef(xs, shape, dps);
      assert.deepEqual(got[6], pr.y, `${label}: maxPool2x2`);
      assert.deepEqual(got[7], pr.mask, `${label}: mask`);
      assert.deepEqual(got[8], pr.dx, `${label}: backward`);
    }
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
