/**
 * The PRF of prg.ts computed ahead of need, by a worker thread:
 * `prfStream(key, nonce, n)` requests the same n bytes as
 * `Prg.derive(key, nonce).fill(new Uint8Array(n))`; `get()` on the request
 * resolves with them. Streams that depend only on keys and nonces (the masks
 * of a multi-round protocol) are requested when an op starts; the worker
 * computes them, in request order, into shared memory while the event loop
 * does the op's other work, and the event loop only copies them where they
 * are used. A request the worker has not started when `get()` is called is
 * computed right there instead (so a busy or starved worker never makes the
 * event loop wait for work it could do itself). The shared blocks are reused
 * (free lists by size class): the streams add no garbage.
 *
 * The consumer releases a stream once it has copied it (`release()`; its
 * bytes must not be read after), or `cancel()`s a request it will not use.
 * Without worker threads (or after the worker failed) streams are computed
 * on the event loop, with the same results; so are short ones.
 *
 * The worker receives the 16-byte keys through the process's own message
 * channel (nothing leaves the process) and keeps nothing between requests.
 */
import { Worker } from 'node:worker_threads';
import { ivFor, Prg, SEED_BYTES } from './prg.js';

/** A stream's bytes (a view of shared memory) and the hand-back of its block. */
export interface PrfStream {
  readonly bytes: Uint8Array;
  release(): void;
}

/** A requested stream. */
export interface PrfRequest {
  /** The stream (computed here now if the worker has not started it). */
  get(): Promise<PrfStream>;
  /** Not needed after all: dropped if not started, else released when done. Idempotent. */
  cancel(): void;
}

// The worker: AES-128-CTR key streams (CTR over zeros), 64 KiB at a time, into the given shared block.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createCipheriv } = require('node:crypto');
const CHUNK = 65536;
const zero = new Uint8Array(CHUNK);
const blocks = new Map(); // the shared blocks, each sent once
parentPort.on('message', ({ id, key, iv, block, sab, len }) => {
  try {
    if (sab !== undefined) blocks.set(block, sab);
    const c = createCipheriv('aes-128-ctr', key, iv);
    const dst = new Uint8Array(blocks.get(block), 0, len);
    for (let o = 0; o < len; o += CHUNK) dst.set(c.update(len - o >= CHUNK ? zero : zero.subarray(0, len - o)), o);
    parentPort.postMessage({ id });
  } catch (e) {
    parentPort.postMessage({ id, error: String(e && e.message) });
  }
});
`;

/** Streams shorter than this are computed on the event loop (less than a round trip to the worker). */
const INLINE_BYTES = 65536;
/** Requests the worker holds at once (the rest wait here, where get() can take them over). */
const IN_FLIGHT = 4;
const MIN_CLASS = 12;
const pools: SharedArrayBuffer[][] = [];
/** The number of each shared block (the worker is sent a block once, then its number). */
const blockIds = new WeakMap<SharedArrayBuffer, number>();
let nextBlock = 0;

interface Job {
  readonly id: number;
  readonly key: Uint8Array;
  readonly nonce: string | bigint | number;
  readonly stream: PrfStream;
  readonly sab: SharedArrayBuffer;
  state: 'queued' | 'posted' | 'done';
  readonly promise: Promise<PrfStream>;
  settle(inline: boolean): void;
}

const queue: Job[] = [];
const posted = new Map<number, Job>();
let worker: Worker | null | undefined;
let nextId = 0;

function getWorker(): Worker | null {
  if (worker !== undefined) return worker;
  try {
    const w = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] }); // plain CommonJS: no loaders of the main thread
    w.on('message', ({ id, error }: { id: number; error?: string }) => {
      const job = posted.get(id);
      posted.delete(id);
      job?.settle(error !== undefined); // an error there: computed here instead
      pump();
    });
    w.on('error', fail);
    w.on('exit', fail);
    w.unref(); // after the listeners; ref'd only while requests are posted (pump)
    worker = w;
  } catch {
    worker = null;
  }
  return worker;
}

/** Post queued requests while the worker holds fewer than IN_FLIGHT. */
function pump(): void {
  const w = worker;
  if (w === null || w === undefined) {
    for (const job of queue.splice(0)) job.settle(true);
    return;
  }
  while (posted.size < IN_FLIGHT && queue.length > 0) {
    const job = queue.shift()!;
    job.state = 'posted';
    posted.set(job.id, job);
    let block = blockIds.get(job.sab);
    const first = block === undefined;
    if (first) blockIds.set(job.sab, (block = nextBlock++));
    w.postMessage({ id: job.id, key: job.key, iv: ivFor(job.nonce), block, sab: first ? job.sab : undefined, len: job.stream.bytes.length });
  }
  if (posted.size > 0) w.ref();
  else w.unref();
}

/** The worker is gone: what it held and what waits are computed on the event loop, as is everything later. */
function fail(): void {
  worker = null;
  const held = [...posted.values()];
  posted.clear();
  for (const job of held) job.settle(true);
  pump();
}

/** Request PRF(key, nonce) of `bytes` bytes (see the header). `key` is 16 bytes; the nonce as for Prg.derive. */
export function prfStream(key: Uint8Array, nonce: string | bigint | number, bytes: number): PrfRequest {
  if (!(key instanceof Uint8Array) || key.length !== SEED_BYTES) throw new TypeError(`prfStream: argument 'key' must be a Uint8Array of ${SEED_BYTES} bytes`);
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`prfStream: argument 'bytes' must be a non-negative integer, got ${bytes}`);
  let cls = MIN_CLASS;
  while (2 ** cls < bytes) cls++;
  const sab = pools[cls]?.pop() ?? new SharedArrayBuffer(2 ** cls);
  let released = false;
  const stream: PrfStream = {
    bytes: new Uint8Array(sab, 0, bytes),
    release() {
      if (released) return;
      released = true;
      (pools[cls] ??= []).push(sab);
    },
  };
  let resolve!: (s: PrfStream) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<PrfStream>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => undefined); // awaited by get(); an unused request must not end the process
  const job: Job = {
    id: nextId++,
    key: new Uint8Array(key),
    nonce,
    stream,
    sab,
    state: 'queued',
    promise,
    settle(inline) {
      if (job.state === 'done') return;
      job.state = 'done';
      try {
        if (inline) Prg.derive(job.key, nonce).fill(stream.bytes);
        resolve(stream);
      } catch (e) {
        reject(e as Error);
      }
    },
  };
  if (bytes < INLINE_BYTES || getWorker() === null) job.settle(true);
  else {
    queue.push(job);
    pump();
  }
  return {
    get() {
      if (job.state === 'queued') {
        queue.splice(queue.indexOf(job), 1);
        job.settle(true);
      }
      return promise;
    },
    cancel() {
      if (job.state === 'queued') {
        queue.splice(queue.indexOf(job), 1);
        job.state = 'done';
        stream.release();
      } else void promise.then((s) => s.release(), () => undefined);
    },
  };
}
