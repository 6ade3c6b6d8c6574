/**
 * Worker thread body for the ring matmul thread (threads.ts): runs the wasm
 * matmul kernel on operands transferred from the main thread and transfers
 * the product back. Nothing but ring words crosses; the worker is in the
 * same process.
 */
import { parentPort } from 'node:worker_threads';
import { loadWasmKernels } from './wasm.js';

export interface MatmulRequest { id: number; bits: 64 | 128; m: number; k: number; n: number; a: ArrayBuffer; b: ArrayBuffer }
export type MatmulReply = { id: number; ok: true; out: ArrayBuffer } | { id: number; ok: false; message: string };

const { kernels, error } = loadWasmKernels();
parentPort!.on('message', (r: MatmulRequest) => {
  try {
    if (kernels === null) throw new Error(`ring matmul worker: ${error}`);
    const out = new BigUint64Array(r.m * r.n * (r.bits / 64));
    kernels.matmul(r.bits, new BigUint64Array(r.a), new BigUint64Array(r.b), out, r.m, r.k, r.n);
    parentPort!.postMessage({ id: r.id, ok: true, out: out.buffer } satisfies MatmulReply, [out.buffer]);
  } catch (e) {
    parentPort!.postMessage({ id: r.id, ok: false, message: (e as Error).message } satisfies MatmulReply);
  }
});
