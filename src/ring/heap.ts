/**
 * The resident tensor heap and ring scopes.
 *
 * By default a RingTensor's limbs live in an ordinary JS BigUint64Array and
 * every wasm kernel call copies its operands into the kernel module's memory
 * and the result back out (src/ring/wasm.ts). Inside `ringScope(fn)`, tensors
 * the ring layer creates live in wasm memory instead (they are "resident"), so
 * kernels on resident operands run in place, without copies, and a result's
 * memory is a reused block rather than fresh pages. The lifetime rule is
 * tfjs's `tidy`: when `fn` returns, every tensor created inside it is freed
 * except those reachable from its return value (a tensor, or arrays and plain
 * objects holding tensors); those move to the enclosing scope, or, at the
 * outermost scope, are copied into ordinary JS memory. A freed tensor is
 * marked disposed and every ring op refuses it.
 *
 * The memory is a *shared* WebAssembly.Memory (a second build of the ring
 * kernels, dist/wasm/ring-shared.wasm, imports it): views over a shared memory
 * stay valid when it grows, so a resident tensor's `data` never detaches. (It
 * is not used for the copying path: V8 copies into and out of shared memory
 * with relaxed atomics, about 2x slower than memcpy.) Blocks come in powers of
 * two from 1 KiB and are reused through per-size free lists; the memory keeps
 * its high-water mark (wasm memory cannot shrink).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RingExports } from './wasm.js';
import { packageRoot } from './wasm.js';

interface SharedMemory {
  readonly buffer: ArrayBufferLike;
  grow(pages: number): number;
}
interface WasmNs {
  WebAssembly: {
    Memory: new (d: { initial: number; maximum: number; shared: boolean }) => SharedMemory;
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  };
}

const PAGE = 65536;
/** Smallest block (2^10 bytes); tensors below this stay in JS memory. */
const MIN_CLASS = 10;
export const MIN_RESIDENT_BYTES = 1 << MIN_CLASS;

export class RingHeap {
  readonly ex: RingExports;
  private readonly memory: SharedMemory;
  /** Every SharedArrayBuffer object the memory has handed out (one per size it has had). */
  private readonly buffers = new WeakSet<object>();
  private u8: Uint8Array;
  private readonly base: number;
  private top: number;
  private readonly free: number[][] = [];
  private live = 0;
  private liveBlocks = 0;

  constructor(ex: RingExports, memory: SharedMemory) {
    this.ex = ex;
    this.memory = memory;
    this.base = ex.heapBase();
    this.top = this.base;
    this.u8 = this.refresh();
  }

  private refresh(): Uint8Array {
    const buf = this.memory.buffer;
    this.buffers.add(buf);
    this.u8 = new Uint8Array(buf);
    return this.u8;
  }

  /** A block of at least `bytes` bytes (contents unspecified): [ptr, size class]. */
  alloc(bytes: number): [number, number] {
    let cls = MIN_CLASS;
    while (1 << cls < bytes && cls < 32) cls++;
    const size = 2 ** cls;
    if (size < bytes) throw new RangeError(`ring heap: argument 'bytes' is ${bytes}, above the 4 GiB of wasm32 memory`);
    let ptr = this.free[cls]?.pop();
    if (ptr === undefined) {
      ptr = this.top;
      const need = ptr + size;
      const have = this.memory.buffer.byteLength;
      if (need > have) {
        try {
          this.memory.grow(Math.ceil((need - have) / PAGE));
        } catch (e) {
          throw new RangeError(`ring heap: cannot grow the resident heap to ${Math.ceil(need / 2 ** 20)} MiB (${(e as Error).message})`);
        }
        this.refresh();
      }
      this.top = need;
    }
    this.live += size;
    this.liveBlocks++;
    return [ptr, cls];
  }

  release(ptr: number, cls: number): void {
    (this.free[cls] ??= []).push(ptr);
    this.live -= 2 ** cls;
    this.liveBlocks--;
  }

  /** A view of `limbs` u64 limbs at `ptr` over the current memory. */
  view(ptr: number, limbs: number): BigUint64Array {
    if (this.u8.byteLength !== this.memory.buffer.byteLength) this.refresh();
    return new BigUint64Array(this.u8.buffer, ptr, limbs);
  }

  zero(ptr: number, bytes: number): void {
    this.ex.zero(ptr, bytes);
  }

  /** Whether `a` is a view into this heap's memory (its byteOffset is then its address). */
  owns(a: ArrayBufferView): boolean {
    return this.buffers.has(a.buffer);
  }

  stats(): RingHeapStats {
    return { available: true, liveBytes: this.live, liveBlocks: this.liveBlocks, reservedBytes: this.top - this.base };
  }
}

export interface RingHeapStats {
  /** Whether the resident heap loaded (dist/wasm/ring-shared.wasm built, shared memory available). */
  available: boolean;
  /** Bytes in blocks held by live resident tensors (block sizes, powers of two). */
  liveBytes: number;
  liveBlocks: number;
  /** High-water mark of the heap (bytes handed out at least once; kept for reuse). */
  reservedBytes: number;
}

function loadHeap(): { heap: RingHeap | null; error: string } {
  const root = packageRoot();
  if (root === null) return { heap: null, error: 'fedcrypt package root not found' };
  const file = join(root, 'dist', 'wasm', 'ring-shared.wasm');
  if (!existsSync(file)) return { heap: null, error: `${file} is missing` };
  const WA = (globalThis as unknown as WasmNs).WebAssembly;
  let lastError = '';
  // The maximum is reserved (not committed) up front; try smaller ones where address space is limited.
  for (const maximum of [65536, 16384, 4096]) {
    try {
      const memory = new WA.Memory({ initial: 32, maximum, shared: true });
      const ex = new WA.Instance(new WA.Module(readFileSync(file)), { env: { memory } }).exports as unknown as RingExports;
      return { heap: new RingHeap(ex, memory), error: '' };
    } catch (e) {
      lastError = (e as Error).message;
    }
  }
  return { heap: null, error: `${file} failed to load: ${lastError}` };
}

const loaded = loadHeap();

/** The resident heap, or null when it is not available (then scoped tensors live in JS memory). */
export function residentHeap(): RingHeap | null {
  return loaded.heap;
}

export function ringHeapStats(): RingHeapStats {
  return loaded.heap?.stats() ?? { available: false, liveBytes: 0, liveBlocks: 0, reservedBytes: 0 };
}

// ------------------------------------------------------------------ scopes

/** What a scope knows of one resident tensor it created. */
export interface Tracked {
  ptr: number;
  cls: number;
  /** Free the block and mark the tensor disposed. */
  dispose(): void;
  /** Move the tensor's limbs to JS memory, then free the block. */
  evict(): void;
}

class Scope {
  readonly tracked = new Map<object, Tracked>();
}

const stack: Scope[] = [];

/** The innermost open scope (undefined outside every scope). */
export function currentScope(): Scope | undefined {
  return stack[stack.length - 1];
}

export function track(scope: Scope, owner: object, t: Tracked): void {
  scope.tracked.set(owner, t);
}

/** Objects reachable from `x` through arrays, plain objects, Maps and Sets (tensors included). */
function reachable(x: unknown, tracked: Map<object, Tracked>, out: Set<object>, seen: Set<object>): void {
  if (x === null || typeof x !== 'object' || seen.has(x)) return;
  seen.add(x);
  if (tracked.has(x)) {
    out.add(x);
    return;
  }
  if (Array.isArray(x)) for (const v of x) reachable(v, tracked, out, seen);
  else if (x instanceof Map) for (const [k, v] of x) (reachable(k, tracked, out, seen), reachable(v, tracked, out, seen));
  else if (x instanceof Set) for (const v of x) reachable(v, tracked, out, seen);
  else if (Object.getPrototypeOf(x) === Object.prototype || Object.getPrototypeOf(x) === null) {
    for (const v of Object.values(x)) reachable(v, tracked, out, seen);
  }
}

function close(scope: Scope, result: unknown, failed: boolean): void {
  const keep = new Set<object>();
  if (!failed) reachable(result, scope.tracked, keep, new Set());
  const parent = currentScope();
  for (const [owner, t] of scope.tracked) {
    if (!keep.has(owner)) t.dispose();
    else if (parent !== undefined) parent.tracked.set(owner, t);
    else t.evict();
  }
  scope.tracked.clear();
}

/**
 * Runs `fn` with ring tensors resident in wasm memory (see the file comment):
 * tensors created inside are freed when `fn` returns, except those reachable
 * from its return value. `fn` must be synchronous.
 */
export function ringScope<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError(`ringScope: argument 'fn' must be a function, got ${fn === null ? 'null' : typeof fn}`);
  const scope = new Scope();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    close(scope, undefined, true);
    throw e;
  }
  stack.pop();
  const thenable = result !== null && (typeof result === 'object' || typeof result === 'function') && typeof (result as { then?: unknown }).then === 'function';
  close(scope, thenable ? undefined : result, thenable);
  if (thenable) {
    throw new TypeError(`ringScope: argument 'fn' must be synchronous, but it returned a promise (the tensors it created are freed when it returns)`);
  }
  return result;
}
