/**
 * The PRF of prg.ts computed by a worker thread: `prfStream(key, nonce, n)`
 * resolves with the same n bytes as `Prg.derive(key, nonce).fill(new
 * Uint8Array(n))`, written by the worker into shared memory. Streams that
 * depend only on keys and nonces (the masks of a multi-round protocol) are
 * requested when an op starts and computed on another core while the event
 * loop does the op's other work; the event loop's only cost is copying them
 * where they are used. The shared blocks are reused (free lists by size
 * class), so the streams add no garbage.
 *
 * The caller releases a stream once it has copied it (`release()`); a
 * released stream's bytes must not be read again. Without worker threads
 * (or after the worker failed) streams are computed on the event loop, with
 * the same results.
 *
 * The worker receives the 16-byte keys through the process's own message
 * channel (no copy leaves the process) and keeps nothing between requests.
 */
import { Worker } from 'node:worker_threads';
import { ivFor, Prg, SEED_BYTES } from './prg.js';

/** A stream's bytes (a view of shared memory) and the hand-back of its block. */
export interface PrfStream {
  readonly bytes: Uint8Array;
  release(): void;
}

// The worker: AES-128-CTR key streams (CTR over zeros), 64 KiB at a time, into the given shared block.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createCipheriv } = require('node:crypto');
const CHUNK = 65536;
const zero = new Uint8Array(CHUNK);
parentPort.on('message', ({ id, key, iv, sab, off, len }) => {
  try {
    const c = createCipheriv('aes-128-ctr', key, iv);
    const dst = new Uint8Array(sab, off, len);
    for (let o = 0; o < len; o += CHUNK) dst.set(c.update(len - o >= CHUNK ? zero : zero.subarray(0, len - o)), o);
    parentPort.postMessage({ id });
  } catch (e) {
    parentPort.postMessage({ id, error: String(e && e.message) });
  }
});
`;

const MIN_CLASS = 12;
/** Streams shorter than this are computed on the event loop. */
const INLINE_BYTES = 65536;
const pools: SharedArrayBuffer[][] = [];

function takeBlock(bytes: number): [SharedArrayBuffer, number] {
  let cls = MIN_CLASS;
  while (2 ** cls < bytes) cls++;
  return [pools[cls]?.pop() ?? new SharedArrayBuffer(2 ** cls), cls];
}

let worker: Worker | null | undefined;
/** Requests in flight: done() when the worker has written the stream, inline() to compute it here instead. */
const pending = new Map<number, { done: () => void; inline: () => void }>();
let nextId = 0;

function getWorker(): Worker | null {
  if (worker !== undefined) return worker;
  try {
    const w = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] }); // plain CommonJS: no loaders of the main thread
    w.on('message', ({ id, error }: { id: number; error?: string }) => {
      const p = pending.get(id);
      pending.delete(id);
      if (pending.size === 0) w.unref();
      if (p === undefined) return;
      if (error === undefined) p.done();
      else p.inline();
    });
    w.on('error', fail);
    w.on('exit', fail);
    // the worker keeps the process alive only while requests are pending (ref'd in prfStream); unref'd after the listeners
    w.unref();
    worker = w;
  } catch {
    worker = null;
  }
  return worker;
}

/** The worker is gone: pending and later requests are computed on the event loop. */
function fail(): void {
  worker = null;
  const left = [...pending.values()];
  pending.clear();
  for (const p of left) p.inline();
}

/** PRF(key, nonce) as `bytes` bytes (see the header). `key` is 16 bytes; the nonce as for Prg.derive. */
export function prfStream(key: Uint8Array, nonce: string | bigint | number, bytes: number): Promise<PrfStream> {
  if (!(key instanceof Uint8Array) || key.length !== SEED_BYTES) throw new TypeError(`prfStream: argument 'key' must be a Uint8Array of ${SEED_BYTES} bytes`);
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`prfStream: argument 'bytes' must be a non-negative integer, got ${bytes}`);
  const [sab, cls] = takeBlock(bytes);
  let released = false;
  const stream: PrfStream = {
    bytes: new Uint8Array(sab, 0, bytes),
    release() {
      if (released) return;
      released = true;
      (pools[cls] ??= []).push(sab);
    },
  };
  const inline = (): PrfStream => {
    Prg.derive(key, nonce).fill(stream.bytes);
    return stream;
  };
  // a short stream costs less here than a round trip to the worker
  const w = bytes < INLINE_BYTES ? null : getWorker();
  if (w === null) return Promise.resolve(inline());
  const id = nextId++;
  return new Promise<PrfStream>((resolve, reject) => {
    const run = (f: () => PrfStream): void => {
      try {
        resolve(f());
      } catch (e) {
        reject(e as Error);
      }
    };
    pending.set(id, { done: () => resolve(stream), inline: () => run(inline) });
    if (pending.size === 1) w.ref();
    w.postMessage({ id, key: new Uint8Array(key), iv: ivFor(nonce), sab, off: 0, len: bytes });
  });
}
