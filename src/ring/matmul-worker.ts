/**
 * Worker thread body for the ring matmul thread (threads.ts): runs the wasm
 * matmul kernel, or a fused conv product (conv.ts, conv-kernels.ts), on
 * operands transferred from the main thread and transfers the result back.
 * Nothing but ring words and shapes crosses; the worker is in the same process.
 */
import { parentPort } from 'node:worker_threads';
import { convShapes, loadConvKernels, size, type ConvGeometry, type ConvKind } from './conv-kernels.js';
import { loadWasmKernels } from './wasm.js';

export interface MatmulRequest { op: 'matmul'; id: number; bits: 64 | 128; m: number; k: number; n: number; a: ArrayBuffer; b: ArrayBuffer }
/** A fused conv product (conv-kernels.ts) over `pairs` (a0, b0, a1, b1, ...). */
export interface ConvRequest { op: 'conv'; id: number; bits: 64 | 128; kind: ConvKind; g: ConvGeometry; F: number; pairs: ArrayBuffer[] }
export type MatmulReply = { id: number; ok: true; out: ArrayBuffer } | { id: number; ok: false; message: string };

const { kernels, error } = loadWasmKernels();
parentPort!.on('message', (r: MatmulRequest | ConvRequest) => {
  try {
    let out: BigUint64Array<ArrayBuffer>;
    if (r.op === 'conv') {
      const c = loadConvKernels();
      if (c.kernels === null) throw new Error(`ring matmul worker: ${c.error}`);
      out = new BigUint64Array(size(convShapes(r.kind, r.g, r.F).out) * (r.bits / 64));
      const pairs = [];
      for (let q = 0; q < r.pairs.length; q += 2) pairs.push([new BigUint64Array(r.pairs[q]!), new BigUint64Array(r.pairs[q + 1]!)] as const);
      c.kernels.run(r.kind, r.bits, r.g, r.F, pairs, out);
      parentPort!.postMessage({ id: r.id, ok: true, out: out.buffer } satisfies MatmulReply, [out.buffer]);
      return;
    }
    if (kernels === null) throw new Error(`ring matmul worker: ${error}`);
    out = new BigUint64Array(r.m * r.n * (r.bits / 64));
    kernels.matmul(r.bits, new BigUint64Array(r.a), new BigUint64Array(r.b), out, r.m, r.k, r.n);
    parentPort!.postMessage({ id: r.id, ok: true, out: out.buffer } satisfies MatmulReply, [out.buffer]);
  } catch (e) {
    parentPort!.postMessage({ id: r.id, ok: false, message: (e as Error).message } satisfies MatmulReply);
  }
});
