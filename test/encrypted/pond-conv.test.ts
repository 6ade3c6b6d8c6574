/**
 * Pond's conv2d and gradients, avgPool, max, argmax, maxPool2x2 with its mask
 * and backward (the protocol-independent conv.ts / pool.ts over Pond's
 * matmul, truncation and comparisons): against the float64 references on
 * random inputs at both precisions, with the bounds of docs/encrypted-ml.md;
 * rounds and bytes per party against the formulas; SPMD; the IR's ops under
 * Pond; argument checks name Pond.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { computation, ops, Player, Pond, PrivateTensor, PublicTensor, ShapeMismatchError, TensorSpec, type AdditiveTensor, type Symbolic } from '../../src/encrypted/index.js';
import { planeWords } from '../../src/encrypted/protocols/aby3-binary.js';
import { geometry } from '../../src/encrypted/protocols/im2col.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/index.js';
import { backFilterRef, backInputRef, convRef, data, poolRef, reduceRef, tied } from './conv-ref.js';
import { RoundTransport } from './rounds.js';

const [s0, s1, dealer, alice, carol] = ['server0', 'server1', 'dealer', 'alice', 'carol'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player];
const PARTIES = ['server0', 'server1', 'dealer'];
const geo = (shape: number[], KH: number, KW: number, s: unknown, pad: unknown) => geometry('t', shape, KH, KW, s, pad);

const maxErr = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

interface Case { B: number; H: number; W: number; C: number; KH: number; KW: number; F: number; s: number | [number, number]; pad: 'valid' | 'same'; seed: number }
const caseArb = fc.record({
  B: fc.integer({ min: 1, max: 2 }), H: fc.integer({ min: 3, max: 7 }), W: fc.integer({ min: 3, max: 7 }), C: fc.integer({ min: 1, max: 3 }),
  KH: fc.integer({ min: 1, max: 3 }), KW: fc.integer({ min: 1, max: 3 }), F: fc.integer({ min: 1, max: 3 }),
  s: fc.constantFrom<number | [number, number]>(1, 2, [1, 2], [2, 1]), pad: fc.constantFrom('valid' as const, 'same' as const), seed: fc.integer({ min: 1, max: 2 ** 30 }),
});
const fixedCases: Case[] = [
  { B: 2, H: 6, W: 5, C: 2, KH: 3, KW: 3, F: 3, s: 1, pad: 'valid', seed: 1 },
  { B: 1, H: 7, W: 6, C: 3, KH: 3, KW: 2, F: 2, s: 1, pad: 'same', seed: 3 },
  { B: 1, H: 6, W: 7, C: 2, KH: 2, KW: 3, F: 2, s: [1, 2], pad: 'same', seed: 5 },
];
const strideOf = (s: number | [number, number]): [number, number] => (typeof s === 'number' ? [s, s] : s);

for (const precision of ['low', 'high'] as const) {
  const f = precision === 'low' ? 16 : 32;
  const ulp = 2 ** -f;
  describe(`Pond conv2d, gradients, avgPool (precision ${precision})`, () => {
    const p = new Pond(s0, s1, dealer, { precision, transport: new MemoryTransport(), players: [alice] });
    const read = async (t: AdditiveTensor) => (await p.reveal(t, alice)).read();
    const run = async (k: Case) => {
      const g = geo([k.B, k.H, k.W, k.C], k.KH, k.KW, k.s, k.pad);
      const [xs, ws, dys] = [data(k.seed, k.B * k.H * k.W * k.C), data(k.seed + 7, k.KH * k.KW * k.C * k.F), data(k.seed + 11, k.B * g.OH * g.OW * k.F)];
      const x = await p.encrypt(alice, xs, { shape: [k.B, k.H, k.W, k.C] });
      const w = await p.encrypt(alice, ws, { shape: [k.KH, k.KW, k.C, k.F] });
      const wp = new PublicTensor(ws, [k.KH, k.KW, k.C, k.F]);
      const dy = await p.encrypt(alice, dys, { shape: [k.B, g.OH, g.OW, k.F] });
      const o = { strides: k.s, padding: k.pad };
      const label = `${precision} ${JSON.stringify(k)}`;
      // one (local, SecureML) truncation per output element: within one ulp (the inputs are exact in the encoding)
      const y = await p.conv2d(x, w, o);
      assert.deepEqual(y.shape, [k.B, g.OH, g.OW, k.F]);
      assert.ok(maxErr(await read(y), convRef(xs, ws, g, k.F)) <= ulp, `${label}: conv2d`);
      assert.ok(maxErr(await read(await p.conv2d(x, wp, o)), convRef(xs, ws, g, k.F)) <= ulp, `${label}: conv2d, public filter`);
      const overlap = Math.ceil(k.KH / strideOf(k.s)[0]) * Math.ceil(k.KW / strideOf(k.s)[1]);
      // encrypted filter: the product dealt after col2im, one truncation per input element (one ulp); public: truncated before col2im
      assert.ok(maxErr(await read(await p.conv2dBackpropInput([k.B, k.H, k.W, k.C], dy, w, o)), backInputRef(dys, ws, g, k.F)) <= ulp, `${label}: backprop input`);
      assert.ok(maxErr(await read(await p.conv2dBackpropInput([k.B, k.H, k.W, k.C], dy, wp, o)), backInputRef(dys, ws, g, k.F)) <= overlap * ulp, `${label}: backprop input, public filter`);
      const dw = await p.conv2dBackpropFilter(x, dy, [k.KH, k.KW, k.C, k.F], o);
      assert.deepEqual(dw.shape, [k.KH, k.KW, k.C, k.F]);
      assert.ok(maxErr(await read(dw), backFilterRef(xs, dys, g, k.F)) <= ulp, `${label}: backprop filter`);
      // avgPool: 1/area with f + ceil(log2 area) bits (relative error <= 2^-(f+1)) and one truncation
      const [kh, kw] = [Math.min(2, k.H), Math.min(3, k.W)];
      const gp = geo([k.B, k.H, k.W, k.C], kh, kw, 1, 'valid');
      const avg = convRef(xs, new Float64Array(kh * kw * k.C * k.C).map((_, i) => (i % k.C === Math.floor(i / k.C) % k.C ? 1 / (kh * kw) : 0)), gp, k.C);
      assert.ok(maxErr(await read(await p.avgPool(x, { size: [kh, kw], strides: 1 })), avg) <= ulp + 4 * 2 ** -(f + 1) + 1e-12, `${label}: avgPool`);
    };

    it('against the references: valid/same, strides 1/2, encrypted and public filters', async () => {
      for (const k of fixedCases) await run(k);
      await fc.assert(fc.asyncProperty(caseArb, run), { numRuns: 6 });
    });
  });

  describe(`Pond max, argmax, maxPool2x2 (precision ${precision}): exact on the encoding`, () => {
    const p = new Pond(s0, s1, dealer, { precision, transport: new MemoryTransport(), players: [alice] });
    const read = async (t: AdditiveTensor) => Array.from((await p.reveal(t, alice)).read());

    it('max and argmax along every axis (ties frequent: the lowest index wins); maxPool2x2, its mask and backward', async () => {
      const arb = fc.record({ shape: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 }), axis: fc.nat(), distinct: fc.constantFrom(0, 2, 3), seed: fc.integer({ min: 1, max: 2 ** 30 }) });
      await fc.assert(fc.asyncProperty(arb, async ({ shape, axis, distinct, seed }) => {
        const ax = axis % shape.length;
        const xs = tied(seed, shape.reduce((a, b) => a * b, 1), distinct);
        const x = await p.encrypt(alice, xs, { shape });
        const want = reduceRef(xs, shape, ax);
        assert.deepEqual(await read(await p.max(x, ax)), want.max, `max ${JSON.stringify(shape)} axis ${ax}`);
        assert.deepEqual(await read(await p.argmax(x, ax - shape.length)), want.arg, `argmax ${JSON.stringify(shape)} axis ${ax}`);
      }), { numRuns: 8 });
      const pool = fc.record({ B: fc.integer({ min: 1, max: 2 }), H: fc.integer({ min: 2, max: 6 }), W: fc.integer({ min: 2, max: 6 }), C: fc.integer({ min: 1, max: 2 }), distinct: fc.constantFrom(0, 2), seed: fc.integer({ min: 1, max: 2 ** 30 }) });
      await fc.assert(fc.asyncProperty(pool, async ({ B, H, W, C, distinct, seed }) => {
        const shape = [B, H, W, C];
        const xs = tied(seed, B * H * W * C, distinct);
        const dys = data(seed + 5, B * Math.floor(H / 2) * Math.floor(W / 2) * C);
        const want = poolRef(xs, shape, dys);
        const x = await p.encrypt(alice, xs, { shape });
        const dy = await p.encrypt(alice, dys, { shape: [B, Math.floor(H / 2), Math.floor(W / 2), C] });
        assert.deepEqual(await read(await p.maxPool2x2(x)), want.y);
        const r = await p.maxPool2x2WithMask(x);
        assert.deepEqual(await read(r.y), want.y);
        assert.equal(r.mask.encoding, 'int');
        assert.deepEqual(await read(r.mask), want.mask);
        assert.deepEqual(await read(await p.maxPool2x2Backward(r.mask, dy)), want.dx);
      }), { numRuns: 6 });
    });
  });
}

/**
 * The tree's cost under Pond, per level with P pairs of n elements: greater on
 * N = P·n (sign 4m − 3 − L planes + B2A 1 plane per server, the dealer
 * 3m − 2 − L planes + N·E) and one mul on the carried terms (2E per term
 * element per server, E from the dealer).
 */
function pondTreeCost(k: number, n: number, l: 64 | 128, carry: 'none' | 'index' | 'mask') {
  const E = l / 8;
  const m = l - 1;
  const L = Math.ceil(Math.log2(m));
  const bytes: [number, number, number] = [0, 0, 0];
  let cands = Array.from({ length: k }, () => ({ pubIdx: true, size: 1, shared: 0 }));
  let levels = 0;
  while (cands.length > 1) {
    const P = Math.floor(cands.length / 2);
    const N = P * n;
    const W = planeWords(N) * 4;
    bytes[0] += (4 * m - 3 - L + 1) * W;
    bytes[1] += (4 * m - 3 - L + 1) * W;
    bytes[2] += (3 * m - 2 - L) * W + N * E;
    const next = [];
    let terms = 0;
    for (let j = 0; j < P; j++) {
      const [A, B] = [cands[2 * j]!, cands[2 * j + 1]!];
      terms += 1;
      if (carry === 'index' && !(A.pubIdx && B.pubIdx)) terms += 1;
      if (carry === 'mask') terms += A.shared + B.shared;
      next.push({ pubIdx: false, size: A.size + B.size, shared: A.size + B.size });
    }
    if (cands.length % 2 === 1) next.push(cands[cands.length - 1]!);
    bytes[0] += 2 * terms * n * E;
    bytes[1] += 2 * terms * n * E;
    bytes[2] += terms * n * E;
    cands = next;
    levels++;
  }
  return { bytes, levels };
}

describe('Pond conv and pool ops: rounds and bytes per party', () => {
  for (const precision of ['low', 'high'] as const) {
    it(`conv2d one Beaver matmul opening x and w (not the patch matrix); public filter and avgPool local; pool trees ${precision === 'low' ? 9 : 10} online rounds per level (${precision})`, async () => {
      const l = precision === 'low' ? 64 : 128;
      const E = l / 8;
      const t = new RoundTransport(new MemoryTransport(), { offline: ['dealer'] });
      const p = new Pond(s0, s1, dealer, { precision, transport: t, players: [alice] });
      const check = async (label: string, f: () => Promise<unknown>, online: number, path: number, bytes: [number, number, number]) => {
        t.reset();
        await f();
        assert.equal(t.onlineRounds(), online, `${label}: online rounds`);
        assert.equal(t.rounds(), path, `${label}: critical path`);
        assert.deepEqual(PARTIES.map((s) => t.sentBy(s)), bytes, `${label}: bytes sent by server0, server1, dealer`);
        assert.ok(t.log.every((m) => PARTIES.includes(m.from) && PARTIES.includes(m.to) && m.to !== 'dealer'), `${label}: only the parties talk, the dealer receives nothing`);
      };
      for (const k of fixedCases) {
        const g = geo([k.B, k.H, k.W, k.C], k.KH, k.KW, k.s, k.pad);
        const nx = k.B * k.H * k.W * k.C;
        const nw = k.KH * k.KW * k.C * k.F;
        const ny = k.B * g.OH * g.OW * k.F;
        const x = await p.encrypt(alice, data(k.seed, nx), { shape: [k.B, k.H, k.W, k.C] });
        const ws = data(k.seed + 1, nw);
        const w = await p.encrypt(alice, ws, { shape: [k.KH, k.KW, k.C, k.F] });
        const dy = await p.encrypt(alice, data(k.seed + 2, ny), { shape: [k.B, g.OH, g.OW, k.F] });
        await p.mul(x, x); // the dealer's keys are set up
        const o = { strides: k.s, padding: k.pad };
        const label = JSON.stringify(k);
        await check(`conv2d ${label}`, () => p.conv2d(x, w, o), 1, 2, [(nx + nw) * E, (nx + nw) * E, ny * E]);
        await check(`conv2d public filter ${label}`, () => p.conv2d(x, new PublicTensor(ws, [k.KH, k.KW, k.C, k.F]), o), 0, 0, [0, 0, 0]);
        // the dealer's c comes after col2im: input-shaped, not the patch matrix
        await check(`conv2dBackpropInput ${label}`, () => p.conv2dBackpropInput([k.B, k.H, k.W, k.C], dy, w, o), 1, 2, [(ny + nw) * E, (ny + nw) * E, nx * E]);
        await check(`conv2dBackpropFilter ${label}`, () => p.conv2dBackpropFilter(x, dy, [k.KH, k.KW, k.C, k.F], o), 1, 2, [(nx + ny) * E, (nx + ny) * E, nw * E]);
        await check(`avgPool ${label}`, () => p.avgPool(x, { size: 2 }), 0, 0, [0, 0, 0]);
      }
      const perLevel = l === 64 ? 9 : 10;
      for (const [rows, k] of [[5, 2], [7, 3], [40, 5], [33, 8]] as const) {
        const x = await p.encrypt(alice, data(rows * k, rows * k), { shape: [rows, k] });
        const L = Math.ceil(Math.log2(k));
        const m = pondTreeCost(k, rows, l, 'none');
        assert.equal(m.levels, L);
        await check(`max [${rows}, ${k}]`, () => p.max(x, 1), perLevel * L, perLevel * L + 1, m.bytes);
        await check(`argmax [${rows}, ${k}]`, () => p.argmax(x, 1), perLevel * L, perLevel * L + 1, pondTreeCost(k, rows, l, 'index').bytes);
      }
      for (const shape of [[2, 4, 4, 3], [1, 6, 5, 2]]) {
        const x = await p.encrypt(alice, data(3, shape.reduce((a, b) => a * b, 1)), { shape });
        const g = geo(shape, 2, 2, 2, 'valid');
        const n = g.B * g.OH * g.OW * g.C;
        await check(`maxPool2x2 ${shape}`, () => p.maxPool2x2(x), 2 * perLevel, 2 * perLevel + 1, pondTreeCost(4, n, l, 'none').bytes);
        const r = await p.maxPool2x2WithMask(x);
        await check(`maxPool2x2WithMask ${shape}`, () => p.maxPool2x2WithMask(x), 2 * perLevel, 2 * perLevel + 1, pondTreeCost(4, n, l, 'mask').bytes);
        const dy = await p.encrypt(alice, data(4, n), { shape: [g.B, g.OH, g.OW, g.C] });
        const N = shape.reduce((a, b) => a * b, 1);
        await check(`maxPool2x2Backward ${shape}`, () => p.maxPool2x2Backward(r.mask, dy), 1, 2, [2 * N * E, 2 * N * E, N * E]);
      }
    });
  }
});

describe('Pond conv and pool ops, SPMD and in the computation IR', () => {
  it('conv2d, both gradients, avgPool, max, argmax, maxPool2x2 with mask and backward: the reference values whatever the grouping', async () => {
    const shape = [2, 5, 4, 2];
    const g = geo(shape, 3, 2, 1, 'same');
    const xs = tied(9, 80, 3);
    const ws = data(10, 3 * 2 * 2 * 3);
    const dys = data(11, 2 * g.OH * g.OW * 3);
    const dps = data(12, 2 * 2 * 2 * 2);
    const ulp = 2 ** -16;
    for (const groups of [[['server0'], ['server1'], ['dealer'], ['alice']], [['server0', 'dealer', 'alice'], ['server1']]]) {
      const hub = new MemoryHub();
      const label = groups.map((x) => x.join('+')).join(' | ');
      const results = await Promise.all(groups.map(async (local) => {
        const p = new Pond(s0, s1, dealer, { transport: new MemoryTransport({ hub, local }), players: [alice], id: 'spmd-pond-conv', timeoutMs: 10000 });
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
      assert.equal(hub.pending(), 0, `${label}: no message left unclaimed`);
      const got = results.find((r) => r !== undefined)!;
      const close = (a: number[], b: ArrayLike<number>, bound: number, what: string) => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) <= bound, `${label}: ${what} [${i}] ${v} vs ${b[i]}`));
      close(got[0]!, convRef(xs, ws, g, 3), ulp, 'conv2d');
      close(got[1]!, backInputRef(dys, ws, g, 3), ulp, 'backprop input');
      close(got[2]!, backFilterRef(xs, dys, g, 3), ulp, 'backprop filter');
      const gp = geo(shape, 2, 2, 2, 'valid');
      close(got[3]!, convRef(xs, Float64Array.from({ length: 16 }, (_, i) => (i % 2 === Math.floor(i / 2) % 2 ? 0.25 : 0)), gp, 2), 2 * ulp, 'avgPool');
      assert.deepEqual(got[4], reduceRef(xs, shape, 2).max, `${label}: max`);
      assert.deepEqual(got[5], reduceRef(xs, shape, 1).arg, `${label}: argmax`);
      const pr = poolRef(xs, shape, dps);
      assert.deepEqual([got[6], got[7], got[8]], [pr.y, pr.mask, pr.dx], `${label}: maxPool2x2, mask, backward`);
    }
  });

  it('a computation with conv2d, relu, maxPool2x2, avgPool, greater and argmax, concrete under Pond: the plaintext result', async () => {
    const [B, H, W, C, F] = [2, 6, 6, 1, 2];
    const xs = data(21, B * H * W * C);
    const ws = data(22, 3 * 3 * C * F);
    const comp = computation(function net(x, w) {
      const h = ops.relu(ops.conv2d(ops.encrypt(x, { sensitivity: null }), ops.encrypt(w, { sensitivity: null }), { padding: 'same' }));
      const pooled = ops.maxPool2x2(h);
      const avg = ops.avgPool(h, { size: 2 });
      return [ops.reveal(pooled, carol), ops.reveal(ops.argmax(pooled, 3), carol), ops.reveal(ops.greater(pooled, avg), carol)];
    } as (...a: Symbolic[]) => Symbolic[]);
    const pond = new Pond(s0, s1, dealer, { transport: new MemoryTransport(), players: [alice, carol] });
    const c = comp.concrete(pond, [TensorSpec.private(alice, { shape: [B, H, W, C] }), TensorSpec.private(alice, { shape: [3, 3, C, F] })]);
    const out = (await c.run(new PrivateTensor(alice, [B, H, W, C], xs), new PrivateTensor(alice, [3, 3, C, F], ws))) as PrivateTensor[];
    const g = geo([B, H, W, C], 3, 3, 1, 'same');
    const h = convRef(xs, ws, g, F).map((v) => Math.max(v, 0));
    const want = poolRef(h, [B, H, W, F]).y;
    assert.ok(maxErr(out[0]!.read(), want) <= 2 ** -16, 'maxPool2x2(relu(conv2d))');
    // argmax and greater compare the encrypted values (within an ulp of the references): check against the revealed pooled values
    const got = Array.from(out[0]!.read());
    assert.deepEqual(Array.from(out[1]!.read()), reduceRef(Float64Array.from(got), [B, 3, 3, F], 3).arg, 'argmax of the pooled values over the channels');
    // maxPool ≥ avgPool of the same window: greater is 1 unless the window is constant (up to an ulp or two)
    const avg = convRef(h, Float64Array.from({ length: 4 * F * F }, (_, i) => (i % F === Math.floor(i / F) % F ? 0.25 : 0)), geo([B, H, W, F], 2, 2, 2, 'valid'), F);
    Array.from(out[2]!.read()).forEach((v, i) => assert.equal(v, want[i]! - avg[i]! > 3 * 2 ** -16 ? 1 : want[i]! - avg[i]! < -(2 ** -16) ? 0 : v, `greater [${i}]`));
  });
});

describe('Pond smooth ops in the computation IR', () => {
  it('softmax(x) and sigmoid(x) concrete under Pond: within the op table\'s bounds', async () => {
    const xs = Float64Array.from({ length: 3 * 10 }, (_, i) => Math.round(Math.sin(i * 1.3) * 5 * 256) / 256);
    const comp = computation(function smooth(x) {
      const e = ops.encrypt(x, { sensitivity: null });
      return [ops.reveal(ops.softmax(e), carol), ops.reveal(ops.sigmoid(e), carol)];
    } as (...a: Symbolic[]) => Symbolic[]);
    const pond = new Pond(s0, s1, dealer, { transport: new MemoryTransport(), players: [alice, carol] });
    const c = comp.concrete(pond, [TensorSpec.private(alice, { shape: [3, 10] })]);
    const [sm, sg] = (await c.run(new PrivateTensor(alice, [3, 10], xs))) as PrivateTensor[];
    const want = Array.from(xs, (_, i) => {
      const row = Array.from(xs.subarray(Math.floor(i / 10) * 10, Math.floor(i / 10) * 10 + 10));
      const mx = Math.max(...row);
      return Math.exp(xs[i]! - mx) / row.reduce((a, v) => a + Math.exp(v - mx), 0);
    });
    assert.ok(maxErr(sm!.read(), want) <= 3e-3, 'softmax');
    assert.ok(maxErr(sg!.read(), Array.from(xs, (v) => 1 / (1 + Math.exp(-v)))) <= 6e-4, 'sigmoid');
  });
});

describe('Pond conv and pool: argument checks name Pond and the argument', () => {
  it('shapes, channels, strides, padding, axis, the mask\'s encoding', async () => {
    const p = new Pond(s0, s1, dealer, { transport: new MemoryTransport(), players: [alice] });
    const x = await p.encrypt(alice, data(1, 2 * 5 * 5 * 2), { shape: [2, 5, 5, 2] });
    const w3 = await p.encrypt(alice, data(2, 3 * 3 * 3 * 4), { shape: [3, 3, 3, 4] });
    const flat = await p.encrypt(alice, data(3, 10), { shape: [10] });
    await assert.rejects(p.conv2d(flat, w3), (e: Error) => e instanceof ShapeMismatchError && /^Pond\.conv2d: argument 'x'.*NHWC/.test(e.message));
    await assert.rejects(p.conv2d(x, w3), (e: Error) => e instanceof ShapeMismatchError && /^Pond\.conv2d: argument 'w' has 3 input channels/.test(e.message));
    await assert.rejects(p.conv2d(x, x, { strides: 0 }), (e: Error) => e instanceof RangeError && /^Pond\.conv2d: option 'strides'/.test(e.message));
    await assert.rejects(p.avgPool(x, { size: 6 }), (e: Error) => e instanceof ShapeMismatchError && /^Pond\.avgPool: .*larger than the input/.test(e.message));
    await assert.rejects(p.max(x, 4), (e: Error) => e instanceof RangeError && /^Pond\.max: argument 'axis'/.test(e.message));
    const x4 = await p.encrypt(alice, data(2, 32), { shape: [1, 4, 4, 2] });
    const dy = await p.encrypt(alice, data(3, 8), { shape: [1, 2, 2, 2] });
    assert.throws(() => p.maxPool2x2Backward(x4, dy), (e: Error) => e instanceof TypeError && /^Pond\.maxPool2x2Backward: argument 'mask' must hold 0\/1 integers/.test(e.message));
  });
});
