/**
 * ABY3 conv2d (im2col + one matmul) and its gradients, avgPool
 * (src/encrypted/protocols/conv.ts, im2col.ts): against float64 loop references on
 * random inputs (the references checked against tfjs' conv2d and against each
 * other as adjoints), valid and same padding, strides 1 and 2, both
 * precisions, with the error bounds of docs/encrypted-ml.md; rounds and bytes
 * against the formulas; argument checks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ABY3, Player, PublicTensor, ShapeMismatchError, type ReplicatedTensor } from '../../src/encrypted/index.js';
import { geometry } from '../../src/encrypted/protocols/aby3-conv.js';
import { initTf, tf } from '../../src/learning/tf.js';
import { MemoryTransport } from '../../src/transport/index.js';
import { backFilterRef, backInputRef, convRef, data } from './conv-ref.js';
import { RoundTransport } from './rounds.js';

const [s0, s1, s2, alice] = ['server0', 'server1', 'server2', 'alice'].map((n) => new Player(n)) as [Player, Player, Player, Player];

const maxErr = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);

interface Case { B: number; H: number; W: number; C: number; KH: number; KW: number; F: number; s: number | [number, number]; pad: 'valid' | 'same'; seed: number }
const caseArb = fc.record({
  B: fc.integer({ min: 1, max: 2 }), H: fc.integer({ min: 3, max: 7 }), W: fc.integer({ min: 3, max: 7 }), C: fc.integer({ min: 1, max: 3 }),
  KH: fc.integer({ min: 1, max: 3 }), KW: fc.integer({ min: 1, max: 3 }), F: fc.integer({ min: 1, max: 3 }),
  s: fc.constantFrom<number | [number, number]>(1, 2, [1, 2], [2, 1]), pad: fc.constantFrom('valid' as const, 'same' as const), seed: fc.integer({ min: 1, max: 2 ** 30 }),
});
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

for (const precision of ['low', 'high'] as const) {
  const f = precision === 'low' ? 16 : 32;
  const ulp = 2 ** -f;
  describe(`ABY3 conv2d and gradients (precision ${precision})`, () => {
    const p = new ABY3(s0, s1, s2, { precision, transport: new MemoryTransport(), players: [alice] });
    const read = async (t: ReplicatedTensor) => (await p.reveal(t, alice)).read();
    const run = async (k: Case) => {
      const g = geometry('t', [k.B, k.H, k.W, k.C], k.KH, k.KW, k.s, k.pad);
      const xs = data(k.seed, k.B * k.H * k.W * k.C);
      const ws = data(k.seed + 7, k.KH * k.KW * k.C * k.F);
      const dys = data(k.seed + 11, k.B * g.OH * g.OW * k.F);
      const x = await p.encrypt(alice, xs, { shape: [k.B, k.H, k.W, k.C] });
      const w = await p.encrypt(alice, ws, { shape: [k.KH, k.KW, k.C, k.F] });
      const dy = await p.encrypt(alice, dys, { shape: [k.B, g.OH, g.OW, k.F] });
      const o = { strides: k.s, padding: k.pad };
      const y = await p.conv2d(x, w, o);
      assert.deepEqual(y.shape, [k.B, g.OH, g.OW, k.F]);
      const label = `${precision} ${JSON.stringify(k)}`;
      // one truncation per output element: within one ulp (the inputs are exact in the encoding)
      assert.ok(maxErr(await read(y), convRef(xs, ws, g, k.F)) <= ulp, `${label}: conv2d`);
      assert.ok(maxErr(await read(await p.conv2d(x, new PublicTensor(ws, [k.KH, k.KW, k.C, k.F]), o)), convRef(xs, ws, g, k.F)) <= ulp, `${label}: conv2d, public filter`);
      // col2im runs on the products before their truncation: one truncation per input element
      const dx = await p.conv2dBackpropInput([k.B, k.H, k.W, k.C], dy, w, o);
      assert.deepEqual(dx.shape, [k.B, k.H, k.W, k.C]);
      assert.ok(maxErr(await read(dx), backInputRef(dys, ws, g, k.F)) <= ulp, `${label}: backprop input`);
      const dxp = await p.conv2dBackpropInput([k.B, k.H, k.W, k.C], dy, new PublicTensor(ws, [k.KH, k.KW, k.C, k.F]), o);
      assert.ok(maxErr(await read(dxp), backInputRef(dys, ws, g, k.F)) <= ulp, `${label}: backprop input, public filter`);
      const dw = await p.conv2dBackpropFilter(x, dy, [k.KH, k.KW, k.C, k.F], o);
      assert.deepEqual(dw.shape, [k.KH, k.KW, k.C, k.F]);
      assert.ok(maxErr(await read(dw), backFilterRef(xs, dys, g, k.F)) <= ulp, `${label}: backprop filter`);
    };

    it('conv2d, conv2dBackpropInput and conv2dBackpropFilter against the references: valid/same, strides 1/2, encrypted and public filters', async () => {
      for (const k of fixedCases) await run(k);
      await fc.assert(fc.asyncProperty(caseArb, run), { numRuns: 10 });
    });

    it('avgPool (valid) against the reference: within one ulp plus the encoding of 1/area', async () => {
      await fc.assert(fc.asyncProperty(fc.record({ B: fc.integer({ min: 1, max: 2 }), H: fc.integer({ min: 2, max: 7 }), W: fc.integer({ min: 2, max: 7 }), C: fc.integer({ min: 1, max: 3 }), kh: fc.integer({ min: 1, max: 3 }), kw: fc.integer({ min: 1, max: 3 }), s: fc.integer({ min: 1, max: 3 }), seed: fc.integer({ min: 1, max: 2 ** 30 }) }), async (c) => {
        const [kh, kw] = [Math.min(c.kh, c.H), Math.min(c.kw, c.W)];
        const g = geometry('t', [c.B, c.H, c.W, c.C], kh, kw, c.s, 'valid');
        const xs = data(c.seed, c.B * c.H * c.W * c.C);
        const x = await p.encrypt(alice, xs, { shape: [c.B, c.H, c.W, c.C] });
        const y = await p.avgPool(x, { size: [kh, kw], strides: c.s });
        assert.deepEqual(y.shape, [c.B, g.OH, g.OW, c.C]);
        const want = convRef(xs, new Float64Array(kh * kw * c.C * c.C).map((_, i) => (i % c.C === Math.floor(i / c.C) % c.C ? 1 / (kh * kw) : 0)), g, c.C);
        // divPublic: 1/area with f + ceil(log2 area) bits, relative error <= 2^-(f+1), plus one ulp of truncation
        const bound = ulp + 4 * 2 ** -(f + 1) + 1e-12; // |mean| < 4
        assert.ok(maxErr(await read(y), want) <= bound, `${precision} ${JSON.stringify(c)}: avgPool`);
      }), { numRuns: 12 });
    });
  });
}

describe('ABY3 conv2d: rounds and bytes equal one matmul\'s', () => {
  for (const precision of ['low', 'high'] as const) {
    it(`secret filter: 2 rounds, E per output element per server; public filter and avgPool: 1 round, E from server0 and server1 (${precision})`, async () => {
      const E = precision === 'low' ? 8 : 16;
      const t = new RoundTransport();
      const p = new ABY3(s0, s1, s2, { precision, transport: t, players: [alice] });
      for (const k of fixedCases) {
        const g = geometry('t', [k.B, k.H, k.W, k.C], k.KH, k.KW, k.s, k.pad);
        const x = await p.encrypt(alice, data(k.seed, k.B * k.H * k.W * k.C), { shape: [k.B, k.H, k.W, k.C] });
        const ws = data(k.seed + 1, k.KH * k.KW * k.C * k.F);
        const w = await p.encrypt(alice, ws, { shape: [k.KH, k.KW, k.C, k.F] });
        const dy = await p.encrypt(alice, data(k.seed + 2, k.B * g.OH * g.OW * k.F), { shape: [k.B, g.OH, g.OW, k.F] });
        await p.truncate(x); // key set-up done
        const o = { strides: k.s, padding: k.pad };
        const check = async (label: string, f: () => Promise<unknown>, rounds: number, bytes: [number, number, number]) => {
          t.reset();
          await f();
          assert.equal(t.rounds(), rounds, `${label} ${JSON.stringify(k)}: rounds`);
          assert.deepEqual(t.bytes(), bytes, `${label} ${JSON.stringify(k)}: bytes sent by server0..2`);
          assert.ok(t.log.every((m) => m.from.startsWith('server') && m.to.startsWith('server')), `${label}: only the servers talk`);
        };
        const out = k.B * g.OH * g.OW * k.F;
        await check('conv2d', () => p.conv2d(x, w, o), 2, [out * E, out * E, out * E]);
        await check('conv2d public filter', () => p.conv2d(x, new PublicTensor(ws, [k.KH, k.KW, k.C, k.F]), o), 1, [out * E, out * E, 0]);
        const inputs = k.B * k.H * k.W * k.C; // col2im before the truncation: one element per input element
        await check('conv2dBackpropInput', () => p.conv2dBackpropInput([k.B, k.H, k.W, k.C], dy, w, o), 2, [inputs * E, inputs * E, inputs * E]);
        await check('conv2dBackpropInput public filter', () => p.conv2dBackpropInput([k.B, k.H, k.W, k.C], dy, new PublicTensor(ws, [k.KH, k.KW, k.C, k.F]), o), 1, [inputs * E, inputs * E, 0]);
        const dw = k.KH * k.KW * k.C * k.F;
        await check('conv2dBackpropFilter', () => p.conv2dBackpropFilter(x, dy, [k.KH, k.KW, k.C, k.F], o), 2, [dw * E, dw * E, dw * E]);
        const gp = geometry('t', [k.B, k.H, k.W, k.C], 2, 2, 2, 'valid');
        const pooled = k.B * gp.OH * gp.OW * k.C;
        await check('avgPool', () => p.avgPool(x, { size: 2 }), 1, [pooled * E, pooled * E, 0]);
      }
    });
  }
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
