// The fused conv kernels (src/ring/conv.ts, conv.wasm) against the JS reference
// (im2col.ts's im2col / col2im and ring.matmul) on random inputs: both rings,
// odd shapes, strides, 'valid' and 'same' padding, one to three pairs, on this
// thread and split with the ring thread (waited for synchronously, or awaited).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ring from '../../src/ring/index.js';
import { convAvailable, convProduct, convShapes, type ConvKind } from '../../src/ring/conv.js';
import { ringThread } from '../../src/ring/threads.js';
import { col2im, geometry, im2col } from '../../src/encrypted/protocols/im2col.js';

const rand = (bits: 64 | 128, shape: number[], seed: number): ring.RingTensor => {
  const t = ring.RingTensor.zeros(bits, shape);
  let s = BigInt(seed) * 0x9e3779b97f4a7c15n + 1n;
  for (let i = 0; i < t.data.length; i++) {
    s = (s * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
    t.data[i] = s ^ (s >> 29n);
  }
  return t;
};

type G = ReturnType<typeof geometry>;
/** The reference: the product of the materialised patch matrix. */
function reference(kind: ConvKind, g: G, F: number, a: ring.RingTensor, b: ring.RingTensor): ring.RingTensor {
  const rows = g.B * g.OH * g.OW, K = g.KH * g.KW * g.C;
  if (kind === 'forward') return ring.matmul(im2col(a, g), ring.reshape(b, [K, F]));
  if (kind === 'filter') return ring.matmul(ring.transpose(ring.reshape(a, [rows, F]), [1, 0]), im2col(b, g));
  return col2im(ring.matmul(ring.reshape(a, [rows, F]), ring.reshape(b, [F, K])), g);
}

const CASES: { x: [number, number, number, number]; k: [number, number]; F: number; s: number | [number, number]; p: 'valid' | 'same' }[] = [
  { x: [1, 1, 1, 1], k: [1, 1], F: 1, s: 1, p: 'valid' },
  { x: [2, 7, 6, 3], k: [3, 2], F: 5, s: 1, p: 'valid' },
  { x: [3, 9, 8, 2], k: [5, 5], F: 3, s: 2, p: 'same' },
  { x: [2, 8, 9, 1], k: [4, 3], F: 7, s: [2, 3], p: 'same' },
  { x: [3, 10, 10, 4], k: [3, 3], F: 9, s: [1, 2], p: 'valid' },
  { x: [4, 12, 12, 16], k: [5, 5], F: 16, s: 1, p: 'valid' },
  { x: [2, 6, 5, 3], k: [5, 5], F: 2, s: 1, p: 'same' },
];

test('convProduct equals im2col / ring.matmul / col2im (Z_2^64 and Z_2^128, strides, padding, 1-3 pairs)', { skip: !convAvailable() && 'conv.wasm not built or ts backend' }, async () => {
  // split: true goes to the ring thread once it has started (until then, and without one, it computes here)
  await ringThread()?.whenReady();
  let seed = 1;
  for (const bits of [64, 128] as const) {
    for (const c of CASES) {
      const g = geometry('test', c.x, c.k[0], c.k[1], c.s, c.p);
      for (const kind of ['forward', 'filter', 'input'] as const) {
        const sh = convShapes(kind, g, c.F);
        for (const n of [1, 2, 3]) {
          const pairs = Array.from({ length: n }, () => [rand(bits, sh.a, seed++), rand(bits, sh.b, seed++)] as const);
          let want = reference(kind, g, c.F, pairs[0]![0], pairs[0]![1]);
          for (const [a, b] of pairs.slice(1)) want = ring.add(want, reference(kind, g, c.F, a, b));
          for (const mode of [{ split: false }, { split: true }, { split: true, overlap: true }]) {
            const got = await convProduct(kind, g, c.F, pairs, mode);
            const what = `Z_2^${bits} ${kind} x [${c.x}] k [${c.k}] F ${c.F} strides ${String(c.s)} ${c.p}, ${n} pair(s), ${JSON.stringify(mode)}`;
            assert.deepEqual(got.shape, sh.out, what);
            assert.ok(ring.equals(got, ring.reshape(want, sh.out)), what);
          }
        }
      }
    }
  }
});

test('convProduct checks its arguments, naming them', { skip: !convAvailable() && 'conv.wasm not built or ts backend' }, () => {
  const g = geometry('test', [2, 5, 5, 1], 3, 3, 1, 'valid');
  const x = rand(64, [2, 5, 5, 1], 1), w = rand(64, [9, 4], 2);
  assert.throws(() => convProduct('sideways' as ConvKind, g, 4, [[x, w]]), /argument 'kind'/);
  assert.throws(() => convProduct('forward', { ...g, KH: 0 }, 4, [[x, w]]), /argument 'g' has an invalid 'KH'/);
  assert.throws(() => convProduct('forward', g, 0, [[x, w]]), /argument 'F'/);
  assert.throws(() => convProduct('forward', g, 4, []), /argument 'pairs'/);
  assert.throws(() => convProduct('forward', g, 4, [[x, rand(64, [9, 3], 3)]]), /pairs\[0\]\.b must be a Z_2\^64 tensor of 36 elements/);
  assert.throws(() => convProduct('forward', g, 4, [[x, w], [x, rand(128, [9, 4], 3)]]), /pairs\[1\]\.b/);
});
