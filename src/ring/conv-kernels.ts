/**
 * The conv kernels' loader (dist/wasm/conv.wasm, built from
 * src/ring/assembly/conv.ts): per thread one instance with its own memory;
 * each call copies the operands in, runs the fused product (see conv.ts) and
 * copies the result out. Imports nothing but the package root lookup, so the
 * ring thread (matmul-worker.ts) loads it cheaply.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './wasm.js';

type RingBits = 64 | 128;
const limbsOf = (bits: RingBits): number => bits / 64;

export interface ConvGeometry {
  B: number; H: number; W: number; C: number;
  KH: number; KW: number;
  sh: number; sw: number;
  OH: number; OW: number;
  pt: number; pl: number;
}
export type ConvKind = 'forward' | 'filter' | 'input';
export type ConvPair = readonly [BigUint64Array, BigUint64Array];

export const GEO = ['B', 'H', 'W', 'C', 'KH', 'KW', 'sh', 'sw', 'OH', 'OW', 'pt', 'pl'] as const;
export const KINDS: readonly ConvKind[] = ['forward', 'filter', 'input'];

/** The element shapes of a kind's operands and result. */
export function convShapes(kind: ConvKind, g: ConvGeometry, F: number): { a: number[]; b: number[]; out: number[] } {
  const rows = g.B * g.OH * g.OW, K = g.KH * g.KW * g.C;
  const x = [g.B, g.H, g.W, g.C];
  if (kind === 'forward') return { a: x, b: [K, F], out: [rows, F] };
  if (kind === 'filter') return { a: [rows, F], b: x, out: [F, K] };
  return { a: [rows, F], b: [F, K], out: x };
}

export const size = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);

/** Patch-block scratch target (bytes): the block, its product and the packed panel stay in L2 (measured: 128-512 KiB about equal, noisy). */
const BLOCK_BYTES = 256 * 1024;
const PAGE = 65536;
const align = (bytes: number): number => Math.ceil(bytes / 64) * 64;

type Fn = (...args: number[]) => void;
interface ConvExports { memory: { readonly buffer: ArrayBuffer; grow(pages: number): number }; heapBase(): number; convForward: Fn; convFilter: Fn; convInput: Fn }

/** The conv kernels of this thread's instance of conv.wasm. */
export interface ConvKernels {
  /** out = Σ over pairs of the kind's product (operands and out as convShapes, L limbs per element). */
  run(kind: ConvKind, bits: RingBits, g: ConvGeometry, F: number, pairs: readonly ConvPair[], out: BigUint64Array): void;
}

function makeKernels(ex: ConvExports): ConvKernels {
  const base = ex.heapBase();
  let u64 = new BigUint64Array(ex.memory.buffer);
  const ensure = (bytes: number): BigUint64Array => {
    const need = base + bytes, mem = ex.memory;
    if (mem.buffer.byteLength < need) mem.grow(Math.ceil((need - mem.buffer.byteLength) / PAGE));
    if (u64.buffer !== mem.buffer || u64.length * 8 !== mem.buffer.byteLength) u64 = new BigUint64Array(mem.buffer);
    return u64;
  };
  return {
    run(kind, bits, g, F, pairs, out) {
      const L = limbsOf(bits), E = 8 * L;
      const rows = g.B * g.OH * g.OW, K = g.KH * g.KW * g.C;
      // (the filter gradient's block is also the k of its product: a longer one measured faster)
      const rb = Math.max(1, Math.min(rows, Math.floor((kind === 'filter' ? 2 : 1) * BLOCK_BYTES / (K * E))));
      const sh = convShapes(kind, g, F);
      const aBytes = align(size(sh.a) * E), bBytes = align(size(sh.b) * E), outBytes = align(size(sh.out) * E);
      // layout: geometry | pairs (a, b)... | out | cols | tmp | at | panel
      let p = base + 64;
      const at0 = p;
      p += pairs.length * (aBytes + bBytes);
      const pOut = p;
      p += outBytes;
      const pCols = p;
      p += align(rb * K * E);
      const pTmp = p;
      p += align((kind === 'filter' ? F * K : rb * F) * E);
      const pAt = p;
      p += kind === 'filter' ? align(F * rb * E) : 0;
      const pPanel = p;
      p += align(Math.max(K, rb, F) * 64);
      const mem = ensure(p - base);
      const i32 = new Int32Array(mem.buffer, base, 12);
      GEO.forEach((k, i) => { i32[i] = g[k]; });
      pairs.forEach(([a, b], q) => {
        mem.set(a, (at0 + q * (aBytes + bBytes)) / 8);
        mem.set(b, (at0 + q * (aBytes + bBytes) + aBytes) / 8);
      });
      for (let q = 0; q < pairs.length; q++) {
        const pa = at0 + q * (aBytes + bBytes), pb = pa + aBytes, acc = q > 0 ? 1 : 0;
        if (kind === 'forward') ex.convForward(base, L, pa, pb, F, pOut, acc, rb, pCols, pTmp, pPanel);
        else if (kind === 'filter') ex.convFilter(base, L, pa, F, pb, pOut, acc, rb, pAt, pCols, pTmp, pPanel);
        else ex.convInput(base, L, pa, F, pb, pOut, acc, rb, pCols, pPanel);
      }
      out.set(mem.subarray(pOut / 8, pOut / 8 + out.length));
    },
  };
}

let loaded: { kernels: ConvKernels | null; error: string } | undefined;

/** This thread's conv kernels (conv.wasm loaded on first use), or null with the reason (not built). */
export function loadConvKernels(): { kernels: ConvKernels | null; error: string } {
  if (loaded === undefined) {
    const root = packageRoot();
    const file = root === null ? null : join(root, 'dist', 'wasm', 'conv.wasm');
    if (file === null || !existsSync(file)) loaded = { kernels: null, error: `${file ?? 'dist/wasm/conv.wasm'} is missing (run \`npm run build\`)` };
    else {
      const WA = (globalThis as unknown as { WebAssembly: { Module: new (b: Uint8Array) => object; Instance: new (m: object, i: object) => { exports: unknown } } }).WebAssembly;
      loaded = { kernels: makeKernels(new WA.Instance(new WA.Module(readFileSync(file)), {}).exports as ConvExports), error: '' };
    }
  }
  return loaded;
}

