/**
 * Loads dist/wasm/ring.wasm (built from src/ring/assembly/ring.ts by
 * `npm run build`) synchronously at module load and wraps it as RingKernels.
 *
 * Memory: tensors live in ordinary JS BigUint64Arrays; each kernel call copies
 * its inputs into a scratch region of the module's memory, runs, and copies
 * the result out (BigUint64Array.set, i.e. memcpy). Elementwise kernels work
 * in cache-sized chunks so the copies stay in cache. The memory grows to the
 * largest footprint seen (matmul/sum copy whole operands) and is reused; views
 * are re-created after memory.grow.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RingHeap } from './heap.js';
import type { RingKernels } from './reference.js';
import type { RingBits } from './tensor.js';

// Minimal WebAssembly typings (the project's lib settings do not include them).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  WebAssembly: {
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  };
}

type Fn = (...args: (number | bigint)[]) => void;
interface RingExports {
  memory: WasmMemory;
  heapBase(): number;
  zero: Fn;
  add64: Fn; sub64: Fn; mul64: Fn; neg64: Fn; addScalar64: Fn; mulScalar64: Fn; shift64: Fn; sum64: Fn; matmul64: Fn;
  add128: Fn; sub128: Fn; mul128: Fn; neg128: Fn; addScalar128: Fn; mulScalar128: Fn; shift128: Fn; sum128: Fn; matmul128: Fn;
}

/** Directory of the fedcrypt package (walks up from this file; works from src/ under tsx and from dist/). */
export function packageRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: unknown }).name === 'fedcrypt') return dir;
      } catch {
        // not ours; keep walking
      }
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

const PAGE = 65536;
/** Elements (u64 limbs) per chunk for elementwise kernels: 3 arrays x 128 KiB. */
const CHUNK = 16384;

class Arena {
  private u64: BigUint64Array;
  readonly base: number;
  constructor(private readonly ex: RingExports) {
    this.base = ex.heapBase();
    this.u64 = new BigUint64Array(ex.memory.buffer);
  }
  /** Makes [base, base + bytes) addressable; returns a current u64 view. */
  ensure(bytes: number): BigUint64Array {
    const need = this.base + bytes;
    const mem = this.ex.memory;
    if (mem.buffer.byteLength < need) {
      try {
        mem.grow(Math.ceil((need - mem.buffer.byteLength) / PAGE));
      } catch (e) {
        throw new RangeError(`ring wasm kernels: cannot grow wasm memory to ${Math.ceil(need / 2 ** 20)} MiB (${(e as Error).message})`);
      }
    }
    if (this.u64.buffer !== mem.buffer || this.u64.length * 8 !== mem.buffer.byteLength) this.u64 = new BigUint64Array(mem.buffer);
    return this.u64;
  }
}

const align = (bytes: number): number => Math.ceil(bytes / 64) * 64;

export interface WasmKernelOptions {
  /**
   * Soft bound on the scratch bytes one sum/matmul call copies into wasm
   * memory; larger operands are processed in blocks (B of a matmul is always
   * copied whole). Default 64 MiB.
   */
  maxScratchBytes?: number;
  /**
   * The resident tensor heap (src/ring/heap.ts): when every operand of a call
   * is a view into its memory, the call runs there in place, with no copies.
   */
  resident?: RingHeap | null;
}

function makeKernels(ex: RingExports, options: WasmKernelOptions = {}): RingKernels {
  const LIMIT = options.maxScratchBytes ?? 64 * 2 ** 20;
  const arena = new Arena(ex);
  const base = arena.base;
  // Fixed chunk regions for elementwise kernels.
  const pA = base, pB = base + CHUNK * 8, pO = base + 2 * CHUNK * 8;
  arena.ensure(3 * CHUNK * 8);
  const lim = (bits: RingBits): number => (bits === 64 ? 1 : 2);

  const R = options.resident ?? null;
  const RX = R?.ex;

  /** Kernel `op` at `bits` (e.g. add64) of the module: run in place when every operand is resident, else over copied chunks. */
  function binary(op: 'add' | 'sub' | 'mul', bits: RingBits, a: BigUint64Array, b: BigUint64Array, out: BigUint64Array): void {
    const kernel = `${op}${bits}` as const;
    if (R !== null && R.owns(out) && R.owns(a) && R.owns(b)) {
      RX![kernel](a.byteOffset, b.byteOffset, out.byteOffset, out.length / lim(bits));
      return;
    }
    const mem = arena.ensure(3 * CHUNK * 8);
    const L = lim(bits);
    const f = ex[kernel];
    for (let s = 0; s < out.length; s += CHUNK) {
      const e = Math.min(out.length, s + CHUNK);
      mem.set(a.subarray(s, e), pA / 8);
      mem.set(b.subarray(s, e), pB / 8);
      f(pA, pB, pO, (e - s) / L);
      out.set(mem.subarray(pO / 8, pO / 8 + (e - s)), s);
    }
  }

  /** Kernel `op` at `bits`: f(a, ...args, out, n), in place when resident, else over copied chunks. */
  function unary(op: 'neg' | 'addScalar' | 'mulScalar' | 'shift', bits: RingBits, a: BigUint64Array, out: BigUint64Array, args: (number | bigint)[]): void {
    const kernel = `${op}${bits}` as const;
    if (R !== null && R.owns(out) && R.owns(a)) {
      RX![kernel](a.byteOffset, ...args, out.byteOffset, out.length / lim(bits));
      return;
    }
    const mem = arena.ensure(3 * CHUNK * 8);
    const L = lim(bits);
    const f = ex[kernel];
    for (let s = 0; s < out.length; s += CHUNK) {
      const e = Math.min(out.length, s + CHUNK);
      mem.set(a.subarray(s, e), pA / 8);
      f(pA, ...args, pO, (e - s) / L);
      out.set(mem.subarray(pO / 8, pO / 8 + (e - s)), s);
    }
  }

  const lo = (s: bigint): bigint => BigInt.asUintN(64, s);
  const hi = (s: bigint): bigint => BigInt.asUintN(64, s >> 64n);
  const kindOf = { shl: 0, shrLogical: 1, shrArith: 2 } as const;

  return {
    name: 'wasm',
    add: (bits, a, b, out) => binary('add', bits, a, b, out),
    sub: (bits, a, b, out) => binary('sub', bits, a, b, out),
    mul: (bits, a, b, out) => binary('mul', bits, a, b, out),
    neg: (bits, a, out) => unary('neg', bits, a, out, []),
    addScalar: (bits, a, s, out) => unary('addScalar', bits, a, out, bits === 64 ? [s] : [lo(s), hi(s)]),
    mulScalar: (bits, a, s, out) => unary('mulScalar', bits, a, out, bits === 64 ? [s] : [lo(s), hi(s)]),
    shl: (bits, a, k, out) => unary('shift', bits, a, out, [k, kindOf.shl]),
    shrLogical: (bits, a, k, out) => unary('shift', bits, a, out, [k, kindOf.shrLogical]),
    shrArith: (bits, a, k, out) => unary('shift', bits, a, out, [k, kindOf.shrArith]),
    sumAxis(bits, a, outer, len, inner, out) {
      const sum = ex[`sum${bits}`];
      if (R !== null && R.owns(a) && R.owns(out)) {
        RX![`sum${bits}`](a.byteOffset, outer, len, inner, out.byteOffset);
        return;
      }
      if (a.length * 8 <= LIMIT) {
        const inBytes = align(a.length * 8);
        const mem = arena.ensure(inBytes + out.length * 8);
        const pIn = base, pOut = base + inBytes;
        mem.set(a, pIn / 8);
        sum(pIn, outer, len, inner, pOut);
        out.set(mem.subarray(pOut / 8, pOut / 8 + out.length));
        return;
      }
      // Blocked: per outer index, sum `lc` rows of length `inner` at a time into tmp, add tmp into acc.
      const L = lim(bits);
      const row = inner * L; // limbs per row
      const lc = Math.max(1, Math.floor(LIMIT / 8 / row));
      const rowBytes = align(row * 8);
      const mem = arena.ensure(2 * rowBytes + align(lc * row * 8));
      const pAcc = base, pTmp = base + rowBytes, pIn = base + 2 * rowBytes;
      const addRow = bits === 64 ? ex.add64 : ex.add128;
      for (let o = 0; o < outer; o++) {
        mem.fill(0n, pAcc / 8, pAcc / 8 + row);
        for (let l0 = 0; l0 < len; l0 += lc) {
          const l1 = Math.min(len, l0 + lc);
          mem.set(a.subarray((o * len + l0) * row, (o * len + l1) * row), pIn / 8);
          sum(pIn, 1, l1 - l0, inner, pTmp);
          addRow(pAcc, pTmp, pAcc, inner);
        }
        out.set(mem.subarray(pAcc / 8, pAcc / 8 + row), o * row);
      }
    },
    matmul(bits, a, b, out, m, k, n) {
      // B whole; A and out in blocks of `rb` rows so the scratch stays near LIMIT.
      const L = lim(bits);
      if (R !== null && R.owns(a) && R.owns(b) && R.owns(out)) {
        const [pp, cls] = R.alloc(k * 64);
        try {
          (bits === 64 ? RX!.matmul64 : RX!.matmul128)(a.byteOffset, b.byteOffset, out.byteOffset, m, k, n, pp);
        } finally {
          R.release(pp, cls);
        }
        return;
      }
      const sb = align(b.length * 8);
      const rowBytes = (k + n) * 8 * L;
      const rb = Math.max(1, Math.min(m, Math.floor(Math.max(0, LIMIT - sb) / rowBytes)));
      const sa = align(rb * k * 8 * L), so = align(rb * n * 8 * L);
      const mem = arena.ensure(sb + sa + so + k * 64);
      const pb = base, pa = base + sb, po = pa + sa, pp = po + so;
      mem.set(b, pb / 8);
      for (let i0 = 0; i0 < m; i0 += rb) {
        const i1 = Math.min(m, i0 + rb);
        mem.set(a.subarray(i0 * k * L, i1 * k * L), pa / 8);
        if (bits === 64) ex.matmul64(pa, pb, po, i1 - i0, k, n, pp);
        else ex.matmul128(pa, pb, po, i1 - i0, k, n, pp);
        out.set(mem.subarray(po / 8, po / 8 + (i1 - i0) * n * L), i0 * n * L);
      }
    },
  };
}

/** dist/wasm/ring.wasm under the package root (null when the root is not found). */
export function defaultWasmPath(): string | null {
  const root = packageRoot();
  return root === null ? null : join(root, 'dist', 'wasm', 'ring.wasm');
}

/** Instantiates the ring module from `file` (raw exports; used by the kernels and the benchmark). */
export function instantiateRingWasm(file: string): RingExports {
  const WA = (globalThis as unknown as WasmApi).WebAssembly;
  return new WA.Instance(new WA.Module(readFileSync(file)), {}).exports as unknown as RingExports;
}

export type { RingExports };

export function loadWasmKernels(
  file: string | null = defaultWasmPath(),
  options: WasmKernelOptions = {},
): { kernels: RingKernels | null; error: string } {
  if (file === null) return { kernels: null, error: 'fedcrypt package root not found' };
  if (!existsSync(file)) return { kernels: null, error: `${file} is missing` };
  try {
    return { kernels: makeKernels(instantiateRingWasm(file), options), error: '' };
  } catch (e) {
    return { kernels: null, error: `${file} failed to load: ${(e as Error).message}` };
  }
}
