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
/**
 * A fused conv product (conv-kernels.ts) over `pairs` (a0, b0, a1, b1, ...),
 * answered in `sab` (threads.ts's convStart: flag, error message, result), and by an empty reply.
 */
export interface ConvRequest { op: 'conv'; id: number; bits: 64 | 128; kind: ConvKind; g: ConvGeometry; F: number; pairs: ArrayBuffer[]; sab: SharedArrayBuffer }
export type MatmulReply = { id: number; ok: true; out: ArrayBuffer } | { id: number; ok: false; message: string };

/** Bytes before a conv result in its shared memory (threads.ts's CONV_HEADER). */
const CONV_HEADER = 1024;

function conv(r: ConvRequest): void {
  const flag = new Int32Array(r.sab, 0, 2);
  try {
    const c = loadConvKernels();
    if (c.kernels === null) throw new Error(`ring matmul worker: ${c.error}`);
    const out = new BigUint64Array(r.sab, CONV_HEADER, size(convShapes(r.kind, r.g, r.F).out) * (r.bits / 64));
    const pairs = [];
    for (let q = 0; q < r.pairs.length; q += 2) pairs.push([new BigUint64Array(r.pairs[q]!), new BigUint64Array(r.pairs[q + 1]!)] as const);
    c.kernels.run(r.kind, r.bits, r.g, r.F, pairs, out);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    // (for a caller that awaits rather than waits: the result is in r.sab)
    parentPort!.postMessage({ id: r.id, ok: true, out: new ArrayBuffer(0) } satisfies MatmulReply);
  } catch (e) {
    const message = (e as Error).message;
    const msg = new TextEncoder().encode(message).subarray(0, CONV_HEADER - 8);
    new Uint8Array(r.sab, 8, msg.length).set(msg);
    flag[1] = msg.length;
    Atomics.store(flag, 0, 2);
    Atomics.notify(flag, 0);
    parentPort!.postMessage({ id: r.id, ok: false, message } satisfies MatmulReply);
  }
}

const { kernels, error } = loadWasmKernels();
loadConvKernels();
parentPort!.on('message', (r: MatmulRequest | ConvRequest) => {
  if (r.op === 'conv') {
    conv(r);
    return;
  }
  try {
    if (kernels === null) throw new Error(`ring matmul worker: ${error}`);
    const out = new BigUint64Array(r.m * r.n * (r.bits / 64));
    kernels.matmul(r.bits, new BigUint64Array(r.a), new BigUint64Array(r.b), out, r.m, r.k, r.n);
    parentPort!.postMessage({ id: r.id, ok: true, out: out.buffer } satisfies MatmulReply, [out.buffer]);
  } catch (e) {
    parentPort!.postMessage({ id: r.id, ok: false, message: (e as Error).message } satisfies MatmulReply);
  }
});
// loaded: the main thread may now wait for this thread synchronously (threads.ts's convStart)
parentPort!.postMessage({ ready: true });
