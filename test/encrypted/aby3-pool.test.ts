/**
 * ABY3 max, argmax, maxPool2x2 and its backward mask (pool.ts): exact
 * on the encoding against the plaintext reference on random inputs (with
 * frequent ties: the lowest index wins), both precisions; rounds and bytes
 * against the tree's formula; SPMD (one simulated process per group of
 * players) for every conv and pool op.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ABY3, Player, ShapeMismatchError, type ReplicatedTensor } from '../../src/encrypted/index.js';
import { msbAndPlanes, planeWords } from '../../src/encrypted/protocols/aby3-binary.js';
import { geometry } from '../../src/encrypted/protocols/aby3-conv.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/index.js';
import { backFilterRef, backInputRef, convRef, data, poolRef, reduceRef, tied } from './conv-ref.js';
import { RoundTransport } from './rounds.js';

const [s0, s1, s2, alice] = ['server0', 'server1', 'server2', 'alice'].map((n) => new Player(n)) as [Player, Player, Player, Player];

for (const precision of ['low', 'high'] as const) {
  describe(`ABY3 max, argmax, maxPool2x2 (precision ${precision}): exact on the encoding`, () => {
    const p = new ABY3(s0, s1, s2, { precision, transport: new MemoryTransport(), players: [alice] });
    const read = async (t: ReplicatedTensor) => Array.from((await p.reveal(t, alice)).read());

    it('max and argmax along every axis of random shapes, ties frequent (the lowest index wins)', async () => {
      const arb = fc.record({ shape: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }), axis: fc.nat(), distinct: fc.constantFrom(0, 2, 3), seed: fc.integer({ min: 1, max: 2 ** 30 }) });
      await fc.assert(fc.asyncProperty(arb, async ({ shape, axis, distinct, seed }) => {
        const ax = axis % shape.length;
        const n = shape.reduce((a, b) => a * b, 1);
        const xs = tied(seed, n, distinct);
        const x = await p.encrypt(alice, xs, { shape });
        const want = reduceRef(xs, shape, ax);
        const m = await p.max(x, ax);
        const a = await p.argmax(x, ax - shape.length); // a negative axis counts from the end
        assert.deepEqual(m.shape, shape.filter((_, i) => i !== ax));
        assert.equal(a.encoding, 'int');
        assert.deepEqual(await read(m), want.max, `max ${JSON.stringify(shape)} axis ${ax}`);
        assert.deepEqual(await read(a), want.arg, `argmax ${JSON.stringify(shape)} axis ${ax}`);
      }), { numRuns: 14 });
    });

    it('ties: equal candidates give the first index; all-equal rows give 0', async () => {
      const xs = [1, 3, 3, 0, 3, 2, 2, 2, 2, 2, -1, 5, 5, 5, 5, 4, 4, 4, 4, 4];
      const x = await p.encrypt(alice, xs, { shape: [4, 5] });
      assert.deepEqual(await read(await p.argmax(x, 1)), [1, 0, 1, 0]);
      assert.deepEqual(await read(await p.max(x, 1)), [3, 2, 5, 4]);
      assert.deepEqual(await read(await p.argmax(x, 0)), [3, 2, 2, 2, 2], 'columns: 5 appears in rows 2 and 3 for columns 1-4; row 2 wins');
    });

    it('maxPool2x2, its mask and backward against the reference (odd sizes: the last row/column is in no window)', async () => {
      const arb = fc.record({ B: fc.integer({ min: 1, max: 2 }), H: fc.integer({ min: 2, max: 7 }), W: fc.integer({ min: 2, max: 7 }), C: fc.integer({ min: 1, max: 3 }), distinct: fc.constantFrom(0, 2), seed: fc.integer({ min: 1, max: 2 ** 30 }) });
      await fc.assert(fc.asyncProperty(arb, async ({ B, H, W, C, distinct, seed }) => {
        const shape = [B, H, W, C];
        const xs = tied(seed, B * H * W * C, distinct);
        const dys = data(seed + 5, B * Math.floor(H / 2) * Math.floor(W / 2) * C);
        const want = poolRef(xs, shape, dys);
        const x = await p.encrypt(alice, xs, { shape });
        const dy = await p.encrypt(alice, dys, { shape: [B, Math.floor(H / 2), Math.floor(W / 2), C] });
        const y = await p.maxPool2x2(x);
        assert.deepEqual(y.shape, [B, Math.floor(H / 2), Math.floor(W / 2), C]);
        assert.deepEqual(await read(y), want.y);
        const r = await p.maxPool2x2WithMask(x);
        assert.deepEqual(await read(r.y), want.y);
        assert.deepEqual(r.mask.shape, shape);
        assert.equal(r.mask.encoding, 'int');
        assert.deepEqual(await read(r.mask), want.mask);
        assert.deepEqual(await read(await p.maxPool2x2Backward(r.mask, dy)), want.dx, 'backward: dy at each window\'s argmax');
      }), { numRuns: 12 });
    });
  });
}

/** The tree's cost, as in pool.ts: per level one greater over P·n elements and one mul over the carried terms. */
function treeCost(k: number, n: number, l: 64 | 128, carry: 'none' | 'index' | 'mask') {
  const E = l / 8;
  const planes = msbAndPlanes(l);
  const bytes: [number, number, number] = [0, 0, 0];
  // per candidate: index public?, mask entries that are shared (not the public 1)
  let cands = Array.from({ length: k }, () => ({ pubIdx: true, size: 1, shared: 0 }));
  let levels = 0;
  while (cands.length > 1) {
    const P = Math.floor(cands.length / 2);
    const N = P * n;
    const W = planeWords(N) * 4;
    // greater: the sign bit (server0 inputs l bits), then the bit injection into 1 (2N, N, N elements)
    bytes[0] += (l + planes) * W + 2 * N * E;
    bytes[1] += planes * W + N * E;
    bytes[2] += planes * W + N * E;
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
    for (const i of [0, 1, 2]) bytes[i] += terms * n * E;
    cands = next;
    levels++;
  }
  return { bytes, levels };
}

describe('ABY3 max, argmax, maxPool2x2: rounds and bytes', () => {
  for (const precision of ['low', 'high'] as const) {
    it(`ceil(log2 k) levels of greater + mul, bytes as the tree's formula (${precision})`, async () => {
      const l = precision === 'low' ? 64 : 128;
      const E = l / 8;
      // critical path (docs/encrypted-ml.md): greater's (9 / 11) and the select's mul after it, per level; at 'high'
      // the next level's chain starts at server0, which waits only for server1's mul message: one round overlaps
      const path = (levels: number) => (l === 64 ? 10 * levels : 11 * levels + 1);
      const t = new RoundTransport();
      const p = new ABY3(s0, s1, s2, { precision, transport: t, players: [alice] });
      const check = async (label: string, f: () => Promise<unknown>, rounds: number, bytes: [number, number, number]) => {
        t.reset();
        await f();
        assert.equal(t.rounds(), rounds, `${label}: rounds (critical path)`);
        assert.deepEqual(t.bytes(), bytes, `${label}: bytes sent by server0..2`);
        assert.ok(t.log.every((m) => m.from.startsWith('server') && m.to.startsWith('server')), `${label}: only the servers talk`);
      };
      for (const [rows, k] of [[5, 2], [7, 3], [3, 4], [40, 5], [33, 8]] as const) {
        const x = await p.encrypt(alice, data(rows * k, rows * k), { shape: [rows, k] });
        await p.truncate(x);
        const levels = Math.ceil(Math.log2(k));
        const m = treeCost(k, rows, l, 'none');
        assert.equal(m.levels, levels);
        await check(`max [${rows}, ${k}]`, () => p.max(x, 1), path(levels), m.bytes);
        await check(`argmax [${rows}, ${k}]`, () => p.argmax(x, 1), path(levels), treeCost(k, rows, l, 'index').bytes);
      }
      for (const shape of [[2, 4, 4, 3], [1, 6, 5, 2], [4, 8, 8, 4]]) {
        const x = await p.encrypt(alice, data(3, shape.reduce((a, b) => a * b, 1)), { shape });
        const g = geometry('t', shape, 2, 2, 2, 'valid');
        const n = g.B * g.OH * g.OW * g.C;
        const plain = treeCost(4, n, l, 'none');
        const masked = treeCost(4, n, l, 'mask');
        // the mask's terms: 2n values at level 1 (masks local), n values + 4n masks at level 2
        assert.deepEqual(masked.bytes.map((b, i) => b - plain.bytes[i]!), [4 * n * E, 4 * n * E, 4 * n * E]);
        await check(`maxPool2x2 ${shape}`, () => p.maxPool2x2(x), path(2), plain.bytes);
        const r = await p.maxPool2x2WithMask(x);
        await check(`maxPool2x2WithMask ${shape}`, () => p.maxPool2x2WithMask(x), path(2), masked.bytes);
        const dy = await p.encrypt(alice, data(4, n), { shape: [g.B, g.OH, g.OW, g.C] });
        const N = shape.reduce((a, b) => a * b, 1);
        await check(`maxPool2x2Backward ${shape}`, () => p.maxPool2x2Backward(r.mask, dy), 1, [N * E, N * E, N * E]);
      }
    });
  }
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
