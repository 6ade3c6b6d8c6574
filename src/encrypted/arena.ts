/**
 * Working memory for ring tensors that are used and dropped within one
 * computation (e.g. one `secureMean` call), reused across calls.
 *
 * First touch of fresh memory costs about as much as the arithmetic on it, and
 * dropped tensors wait for V8's GC (peak RSS grows by the garbage), so the hot
 * path takes its buffers from an arena and hands them back when done.
 *
 * - `new RingArena()` (pooled): `take` serves buffers from a process-wide free
 *   list (best fit, at most 2x the size asked for) and allocates when none
 *   fits; `give(t)` returns one buffer early; `dispose()` returns all it took.
 *   Only pool memory that no other process or pending message can still read:
 *   use a pooled arena only when every player of the computation executes in
 *   this process (an in-memory transport hands payloads over without copying).
 * - `new RingArena({ pooled: false })`: plain fresh allocations, nothing kept.
 *
 * Buffers are NOT zeroed when reused: callers overwrite them. The pool keeps at
 * most `RingArena.maxPooledBytes` (default 64 MiB); `RingArena.clearPool()`
 * frees it.
 */
import { RingTensor, type RingBits } from '../ring/index.js';

const free: ArrayBuffer[] = [];
let pooledBytes = 0;

export interface RingArenaOptions {
  /** Reuse buffers through the process-wide pool (default true). */
  pooled?: boolean;
}

export class RingArena {
  /** Upper bound on the bytes the process-wide free list retains. */
  static maxPooledBytes = 64 * 2 ** 20;
  readonly pooled: boolean;
  #taken = new Set<ArrayBuffer>();

  constructor(options: RingArenaOptions = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError(`RingArena: argument 'options' must be an object`);
    if (options.pooled !== undefined && typeof options.pooled !== 'boolean') throw new TypeError(`RingArena: option 'pooled' must be a boolean, got ${typeof options.pooled}`);
    this.pooled = options.pooled ?? true;
  }

  /** A ring tensor of `shape` over uninitialised (pooled) or zeroed (fresh) memory. */
  take(bits: RingBits, shape: readonly number[]): RingTensor {
    const limbs = shape.reduce((a, b) => a * b, 1) * (bits / 64);
    if (!this.pooled) return new RingTensor(bits, shape);
    const bytes = limbs * 8;
    let best = -1;
    for (let i = 0; i < free.length; i++) {
      const b = free[i]!.byteLength;
      if (b >= bytes && b <= 2 * bytes + 4096 && (best < 0 || b < free[best]!.byteLength)) best = i;
    }
    let buf: ArrayBuffer;
    if (best >= 0) {
      buf = free[best]!;
      free.splice(best, 1);
      pooledBytes -= buf.byteLength;
    } else {
      buf = new ArrayBuffer(bytes);
    }
    this.#taken.add(buf);
    return new RingTensor(bits, shape, new BigUint64Array(buf, 0, limbs));
  }

  /** Hand one tensor taken from this arena back early (it must not be read afterwards). */
  give(t: RingTensor | undefined): void {
    if (t === undefined || !this.pooled) return;
    const buf = t.data.buffer as ArrayBuffer;
    if (!this.#taken.delete(buf)) return;
    release(buf);
  }

  /** Return every buffer still taken (none of the tensors may be read afterwards). */
  dispose(): void {
    for (const b of this.#taken) release(b);
    this.#taken.clear();
  }

  /** Bytes currently held by the process-wide free list. */
  static get pooledBytes(): number {
    return pooledBytes;
  }

  /** Drop the process-wide free list (the memory goes to the GC). */
  static clearPool(): void {
    free.length = 0;
    pooledBytes = 0;
  }
}

function release(buf: ArrayBuffer): void {
  if (pooledBytes + buf.byteLength > RingArena.maxPooledBytes) return;
  free.push(buf);
  pooledBytes += buf.byteLength;
}
