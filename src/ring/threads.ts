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
  #ready = false;
  #failed: Error | undefined;
  #onReady: (() => void)[] = [];

  constructor() {
    this.#w = spawn();
    this.#w.unref();
    // (an unref before the worker is online does not hold: again once it is)
    this.#w.once('online', () => {
      if (this.#pending.size === 0 && this.#onReady.length === 0) this.#w.unref();
    });
    this.#w.on('message', (r: MatmulReply | { ready: true }) => {
      if ('ready' in r) {
        this.#ready = true;
        for (const f of this.#onReady.splice(0)) f();
        if (this.#pending.size === 0) this.#w.unref();
        return;
      }
      const p = this.#pending.get(r.id);
      if (p === undefined) return;
      this.#pending.delete(r.id);
      if (this.#pending.size === 0) this.#w.unref();
      if (r.ok) p.resolve(r.out);
      else p.reject(new Error(r.message));
    });
    this.#w.on('error', (e) => {
      this.#failed = e;
      this.#ready = false;
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
   * Whether the worker has loaded its kernels (it says so once, at start-up):
   * until then `convStart` must not be used (a synchronous wait could block
   * on a worker still loading its modules).
   */
  get ready(): boolean {
    return this.#ready && this.#failed === undefined;
  }

  /** Resolves once the worker is ready (tests; the protocols never wait for it). */
  whenReady(): Promise<void> {
    if (this.#ready) return Promise.resolve();
    this.#w.ref(); // (the wait keeps the process alive until then)
    return new Promise((resolve) => this.#onReady.push(resolve));
  }

  /**
   * Starts a fused conv product (conv-kernels.ts's run) in the worker on
   * copies of the operands (the caller's slices: conv.ts sends the worker's
   * part of the batch); the worker writes the result into shared memory.
   * `result()` returns it (a view of that memory), blocking this thread
   * (Atomics.wait) until the worker is done: a caller that computes its own
   * part meanwhile and then waits never yields to the event loop, so its
   * op's messages interleave with other ops' as when it computes everything
   * itself (only when `ready`: a synchronous wait must not block on a worker
   * still loading its modules). With `overlap`, `settled` resolves when the
   * worker is done (a message), for callers that await it as ABY3's matmul
   * awaits the products it gives the thread (then the worker need not be ready).
   */
  convStart(kind: ConvKind, bits: 64 | 128, g: ConvGeometry, F: number, pairs: readonly ConvPair[], outLimbs: number, overlap = false): { result(): BigUint64Array; settled: Promise<void> | undefined } {
    if (!overlap && !this.ready) throw new Error(`RingThread.convStart: the ring thread is not ready${this.#failed ? ` (${this.#failed.message})` : ''}`);
    const bufs = pairs.flatMap(([a, b]) => [copy(a), copy(b)]);
    const sab = new SharedArrayBuffer(CONV_HEADER + outLimbs * 8);
    const req: ConvRequest = { op: 'conv', id: this.#next++, bits, kind, g, F, pairs: bufs, sab };
    const settled = overlap ? this.#post(req, bufs).then(() => undefined) : (this.#w.postMessage(req, bufs), undefined);
    const flag = new Int32Array(sab, 0, 2);
    return {
      settled,
      result: () => {
        // the worker answers in milliseconds; the deadline only guards against a dead worker
        for (let waited = 0; Atomics.load(flag, 0) === 0; waited++) {
          if (waited === 600) throw new Error('RingThread.convStart: the ring thread did not answer within 60 s');
          Atomics.wait(flag, 0, 0, 100);
        }
        if (Atomics.load(flag, 0) !== 1) throw new Error(`ring thread: ${new TextDecoder().decode(new Uint8Array(sab, 8, flag[1]!).slice())}`);
        return new BigUint64Array(sab, CONV_HEADER, outLimbs);
      },
    };
  }

  #post(req: MatmulRequest | ConvRequest, transfer: ArrayBuffer[]): Promise<ArrayBuffer> {
    return new Promise((resolve, reject) => {
      this.#pending.set(req.id, { resolve, reject });
      this.#w.ref();
      this.#w.postMessage(req, transfer);
    });
  }
}

/** A conv request's shared memory: flag (0 running, 1 done, 2 failed), message length, message bytes, then the result. */
export const CONV_HEADER = 1024;
const copy = (t: BigUint64Array): ArrayBuffer => {
  const c = new BigUint64Array(t.length);
  c.set(t);
  return c.buffer;
};

/** Whether an [m, k] · [k, n] product is worth the ring thread: its multiply-adds dwarf the copies to and from it (thin products are copy-bound). */
export const worthRingThread = (m: number, k: number, n: number): boolean => m * k * n >= 2 ** 20 && m * k * n >= 32 * (m * k + k * n + m * n);

let thread: RingThread | null | undefined;

/** The process's ring matmul thread, or null (see the file comment). */
export function ringThread(): RingThread | null {
  if (thread === undefined) {
    const off = process.env['FEDCRYPT_RING_THREADS'] === '0' || availableParallelism() < 2 || getRingBackend() !== 'wasm';
    thread = off ? null : new RingThread();
  }
  return thread;
}
