/**
 * A second thread for ring matmuls (node:worker_threads): `matmulOffThread(a, b)`
 * runs the same wasm kernel as `matmul` in a worker, so that a caller with
 * several independent products (ABY3's two per server, three servers in one
 * process) keeps both cores busy. The operands are copied into transferred
 * buffers and the product transferred back (no shared memory).
 *
 * `ringThread()` is the process's one worker, started on first use, or null
 * when the machine has one core, the wasm kernels are not built, or
 * FEDCRYPT_RING_THREADS=0. The worker is unref'd: it never keeps the process
 * alive.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { RingShapeError } from './errors.js';
import { getRingBackend } from './backend.js';
import { RingTensor } from './tensor.js';
import type { ConvGeometry, ConvKind, ConvPair } from './conv-kernels.js';
import type { ConvRequest, MatmulReply, MatmulRequest } from './matmul-worker.js';

function spawn(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./matmul-worker.js', import.meta.url));
  // from sources under tsx: register tsx in the worker first
  const url = new URL('./matmul-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); });`, { eval: true });
}

export class RingThread {
  readonly #w: Worker;
  readonly #pending = new Map<number, { resolve: (out: ArrayBuffer) => void; reject: (e: Error) => void }>();
  #next = 1;

  constructor() {
    this.#w = spawn();
    this.#w.unref();
    // (an unref before the worker is online does not hold: again once it is)
    this.#w.once('online', () => {
      if (this.#pending.size === 0) this.#w.unref();
    });
    this.#w.on('message', (r: MatmulReply) => {
      const p = this.#pending.get(r.id);
      if (p === undefined) return;
      this.#pending.delete(r.id);
      if (this.#pending.size === 0) this.#w.unref();
      if (r.ok) p.resolve(r.out);
      else p.reject(new Error(r.message));
    });
    this.#w.on('error', (e) => {
      for (const p of this.#pending.values()) p.reject(e);
      this.#pending.clear();
    });
  }

  /** a · b ([m, k] · [k, n], one ring) in the worker. */
  matmul(a: RingTensor, b: RingTensor): Promise<RingTensor> {
    if (a.bits !== b.bits || a.shape.length !== 2 || b.shape.length !== 2 || a.shape[1] !== b.shape[0]) {
      return Promise.reject(new RingShapeError(`matmulOffThread: expected [m, k] · [k, n] in one ring, got [${a.shape.join(', ')}] (Z_2^${a.bits}) and [${b.shape.join(', ')}] (Z_2^${b.bits})`));
    }
    const [m, k] = a.shape as [number, number];
    const n = b.shape[1]!;
    const id = this.#next++;
    const req: MatmulRequest = { op: 'matmul', id, bits: a.bits, m, k, n, a: a.data.slice().buffer as ArrayBuffer, b: b.data.slice().buffer as ArrayBuffer };
    return this.#post(req, [req.a, req.b]).then((out) => new RingTensor(a.bits, [m, n], new BigUint64Array(out)));
  }

  /**
   * A fused conv product (conv-kernels.ts's run) in the worker, on copies of
   * the operands (the caller's slices: conv.ts sends the worker's part of the batch).
   */
  conv(kind: ConvKind, bits: 64 | 128, g: ConvGeometry, F: number, pairs: readonly ConvPair[]): Promise<BigUint64Array> {
    const bufs = pairs.flatMap(([a, b]) => [a.slice().buffer as ArrayBuffer, b.slice().buffer as ArrayBuffer]);
    const req: ConvRequest = { op: 'conv', id: this.#next++, bits, kind, g, F, pairs: bufs };
    return this.#post(req, bufs).then((out) => new BigUint64Array(out));
  }

  #post(req: MatmulRequest | ConvRequest, transfer: ArrayBuffer[]): Promise<ArrayBuffer> {
    return new Promise((resolve, reject) => {
      this.#pending.set(req.id, { resolve, reject });
      this.#w.ref();
      this.#w.postMessage(req, transfer);
    });
  }
}

let thread: RingThread | null | undefined;

/** The process's ring matmul thread, or null (see the file comment). */
export function ringThread(): RingThread | null {
  if (thread === undefined) {
    const off = process.env['FEDCRYPT_RING_THREADS'] === '0' || availableParallelism() < 2 || getRingBackend() !== 'wasm';
    thread = off ? null : new RingThread();
  }
  return thread;
}
