// The fused conv kernels (src/ring/conv.ts) against im2col + ring.matmul + col2im
// (im2col.ts), one product on this thread, network_b's, network_c's and network_d's conv shapes,
// best of 7 wall and CPU time, the two alternating:
//   node --import tsx bench/conv-kernels.bench.ts
import * as ring from '../src/ring/index.js';
import { convProduct, convShapes, type ConvKind } from '../src/ring/conv.js';
import { col2im, geometry, im2col } from '../src/encrypted/protocols/im2col.js';

const rand = (bits: 64 | 128, shape: number[]): ring.RingTensor => {
  const t = ring.RingTensor.zeros(bits, shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = BigInt.asUintN(64, BigInt(Math.floor(Math.random() * 2 ** 52)) * 4099n);
  return t;
};
const SHAPES = [
  { name: 'B conv1', x: [128, 28, 28, 1], k: 5, F: 16 },
  { name: 'B conv2', x: [128, 12, 12, 16], k: 5, F: 16 },
  { name: 'C conv2', x: [128, 12, 12, 20], k: 5, F: 50 },
  { name: 'D conv1', x: [128, 28, 28, 1], k: 5, F: 5, s: 2, p: 'same' as const },
];
// best of 7 wall and CPU (this thread's work is all on this thread: split off), the two functions alternating
const best = (f: () => unknown, g: () => unknown, n = 7): number[] => {
  const b = [Infinity, Infinity, Infinity, Infinity];
  for (let i = 0; i < n; i++) {
    [f, g].forEach((h, j) => {
      const t = performance.now(), c = process.cpuUsage();
      h();
      const cu = process.cpuUsage(c);
      b[2 * j] = Math.min(b[2 * j]!, performance.now() - t);
      b[2 * j + 1] = Math.min(b[2 * j + 1]!, (cu.user + cu.system) / 1000);
    });
  }
  return b;
};
for (const bits of [64] as const) {
  for (const s of SHAPES) {
    const g = geometry('bench', s.x, s.k, s.k, s.s ?? 1, s.p ?? 'valid');
    const rows = g.B * g.OH * g.OW, K = g.KH * g.KW * g.C;
    for (const kind of ['forward', 'filter', 'input'] as ConvKind[]) {
      const sh = convShapes(kind, g, s.F);
      const a = rand(bits, sh.a), b = rand(bits, sh.b);
      const ref = kind === 'forward' ? () => ring.matmul(im2col(a, g), b)
        : kind === 'filter' ? () => ring.matmul(ring.transpose(a, [1, 0]), im2col(b, g))
        : () => col2im(ring.matmul(ring.reshape(a, [rows, s.F]), ring.reshape(b, [s.F, K])), g);
      const [fw, fc, rw, rc] = best(() => convProduct(kind, g, s.F, [[a, b]], { split: false }), ref);
      console.log(`Z_2^${bits} ${s.name} ${kind}: fused ${fw!.toFixed(1)} ms (CPU ${fc!.toFixed(1)}), im2col+matmul ${rw!.toFixed(1)} ms (CPU ${rc!.toFixed(1)}) (${(rows * K * s.F / 1e6).toFixed(0)} M multiply-adds)`);
    }
  }
}
