/**
 * Memory for the bit kernels (bit-kernels.ts, and their wasm build
 * dist/wasm/bitplanes.wasm from src/encrypted/assembly/bitplanes.ts): one
 * process-wide heap, and per-op workspaces on it.
 *
 * The sign circuit and bit injection (aby3-msb.ts, aby3-inject.ts) keep their
 * operands in the kernels' memory for the whole op, across its rounds, so the
 * kernels run in place: data enters once (the op's inputs, the PRF streams,
 * received messages) and leaves once (messages to send, the results), each
 * time as one memcpy. A workspace's blocks are its own until `release()`;
 * ops running concurrently (their rounds interleave at the awaits) have
 * separate workspaces. Blocks come in four sizes per power of two from 256
 * bytes (multiples of 64), reused through per-size free lists; the memory
 * keeps its high-water mark.
 *
 * The heap's memory may be replaced by a larger one when it grows (a wasm
 * memory detaches its old buffer), so views are taken only right before use
 * (`bytes()`), never kept across an allocation.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../ring/wasm.js';
import { type BitKernelSet, jsKernels } from './bit-kernels.js';

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmNs {
  WebAssembly: { Module: new (b: Uint8Array) => object; Instance: new (m: object, i: object) => { exports: Record<string, unknown> } };
}

const PAGE = 65536;
const MIN_CLASS = 8;

/** Size class c holds blocks of classBytes(c) bytes: four classes per power of two from 256 bytes (at most 25% slack), multiples of 64. */
const classBytes = (c: number): number => (2 ** (MIN_CLASS + (c >> 2)) / 4) * (4 + (c & 3));

export class BitHeap {
  readonly kernels: BitKernelSet;
  readonly backend: 'wasm' | 'js';
  readonly #grow: (bytes: number) => void;
  readonly #buffer: () => ArrayBuffer;
  #top: number;
  readonly #free: number[][] = [];
  #u8: Uint8Array | undefined;

  /** The wasm module's heap where `wasm` exports are given, else a JS ArrayBuffer with the JS kernels. */
  constructor(wasm?: Record<string, unknown>) {
    if (wasm !== undefined) {
      const mem = wasm['memory'] as WasmMemory;
      this.backend = 'wasm';
      this.kernels = wasm as unknown as BitKernelSet;
      this.#top = (wasm['heapBase'] as () => number)();
      this.#buffer = () => mem.buffer;
      this.#grow = (need) => {
        const have = mem.buffer.byteLength;
        // at least by a quarter of the current size: few grow calls (each one is slow) while the high-water mark is reached
        if (have >= need) return;
        try {
          mem.grow(Math.ceil(Math.max(need - have, have / 4) / PAGE));
        } catch {
          mem.grow(Math.ceil((need - have) / PAGE)); // near the maximum: only what is needed
        }
      };
    } else {
      let buf = new ArrayBuffer(PAGE);
      this.backend = 'js';
      this.kernels = jsKernels(() => buf);
      this.#top = 64; // pointer 0 means "absent"
      this.#buffer = () => buf;
      this.#grow = (need) => {
        if (buf.byteLength >= need) return;
        const next = new ArrayBuffer(Math.max(need, 2 * buf.byteLength));
        new Uint8Array(next).set(new Uint8Array(buf));
        buf = next;
      };
    }
  }

  /** A block of at least `bytes` bytes, 64-byte aligned (contents unspecified): [pointer, size class]. */
  alloc(bytes: number): [number, number] {
    let cls = 0;
    while (classBytes(cls) < bytes) cls++;
    const size = classBytes(cls);
    let ptr = this.#free[cls]?.pop();
    if (ptr === undefined) {
      ptr = this.#top;
      try {
        this.#grow(ptr + size);
      } catch (e) {
        throw new RangeError(`bit kernels: cannot grow their memory to ${Math.ceil((ptr + size) / 2 ** 20)} MiB (${(e as Error).message})`);
      }
      this.#top = ptr + size;
    }
    return [ptr, cls];
  }

  release(ptr: number, cls: number): void {
    (this.#free[cls] ??= []).push(ptr);
  }

  /** The memory's bytes (a view: take it again after any allocation). */
  bytes(): Uint8Array {
    const b = this.#buffer();
    if (this.#u8?.buffer !== b) this.#u8 = new Uint8Array(b);
    return this.#u8;
  }

  /** Bytes of memory in use or free (the high-water mark). */
  get size(): number {
    return this.#top;
  }
}

/** One op's blocks on a heap. Pointers are byte offsets; 0 is never a block. */
export class BitSpace {
  readonly heap: BitHeap;
  readonly k: BitKernelSet;
  readonly #blocks = new Map<number, number>();

  constructor(heap: BitHeap = bitHeap()) {
    this.heap = heap;
    this.k = heap.kernels;
  }

  /** A block of `bytes` bytes (contents unspecified). */
  alloc(bytes: number): number {
    const [ptr, cls] = this.heap.alloc(Math.max(1, bytes));
    this.#blocks.set(ptr, cls);
    return ptr;
  }

  /** A copy of `src` in a new block. */
  put(src: ArrayBufferView): number {
    const ptr = this.alloc(src.byteLength);
    this.heap.bytes().set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), ptr);
    return ptr;
  }

  /** A fresh copy (a new ArrayBuffer) of `bytes` bytes at ptr. */
  take(ptr: number, bytes: number): Uint8Array {
    return this.heap.bytes().slice(ptr, ptr + bytes);
  }

  /** Give a block back before the op ends. */
  free(ptr: number): void {
    const cls = this.#blocks.get(ptr);
    if (cls === undefined) throw new Error(`internal error: bit workspace frees ${ptr}, which is not its block`);
    this.#blocks.delete(ptr);
    this.heap.release(ptr, cls);
  }

  /** Give every block back (the op is over). */
  release(): void {
    for (const [ptr, cls] of this.#blocks) this.heap.release(ptr, cls);
    this.#blocks.clear();
  }
}

/** dist/wasm/bitplanes.wasm's exports, or why they did not load. */
export function loadBitWasm(file: string | null = defaultBitWasmPath()): { exports: Record<string, unknown> | null; error: string } {
  if (file === null) return { exports: null, error: 'fedcrypt package root not found' };
  if (!existsSync(file)) return { exports: null, error: `${file} is missing` };
  try {
    const WA = (globalThis as unknown as WasmNs).WebAssembly;
    return { exports: new WA.Instance(new WA.Module(readFileSync(file)), {}).exports, error: '' };
  } catch (e) {
    return { exports: null, error: `${file} failed to load: ${(e as Error).message}` };
  }
}

function defaultBitWasmPath(): string | null {
  const root = packageRoot();
  return root === null ? null : join(root, 'dist', 'wasm', 'bitplanes.wasm');
}

const heaps: { wasm?: BitHeap | null; js?: BitHeap } = {};
let current: 'wasm' | 'js' | undefined;

function wasmHeap(): BitHeap | null {
  if (heaps.wasm === undefined) {
    const w = loadBitWasm();
    heaps.wasm = w.exports === null ? null : new BitHeap(w.exports);
  }
  return heaps.wasm;
}

/** The process-wide heap: wasm where the module loads, else the JS kernels (or as set by setBitBackend). */
export function bitHeap(): BitHeap {
  if (current !== 'js') {
    const w = wasmHeap();
    if (w !== null) return w;
  }
  return (heaps.js ??= new BitHeap());
}

/**
 * Choose the kernels of the ops that start from now on: 'wasm' (the default;
 * an error when dist/wasm/bitplanes.wasm is not built) or 'js' (bit-kernels.ts,
 * the reference). For tests and comparisons.
 */
export function setBitBackend(name: 'wasm' | 'js'): void {
  if (name !== 'wasm' && name !== 'js') throw new RangeError(`setBitBackend: argument 'name' must be 'wasm' or 'js', got ${String(name)}`);
  if (name === 'wasm' && wasmHeap() === null) throw new Error(`setBitBackend: the wasm bit kernels are not available (${loadBitWasm().error}); run \`npm run build\``);
  current = name;
}
