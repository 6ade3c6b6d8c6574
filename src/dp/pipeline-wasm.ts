/**
 * `encodeUpdate` (distributed.ts) for the Hadamard rotation with its passes in WebAssembly
 * (src/dp/assembly/dp-pipeline.ts → dist/wasm/dp-pipeline.wasm): sign flips + fast
 * Walsh–Hadamard transform + 1/√D, the L2 norm, clip·scale + stochastic rounding, the integer
 * norms, noise + modular clipping + residues, over buffers kept in one wasm memory and reused
 * from update to update (no fresh memory per update but the two returned arrays). The noise
 * and the rounding's coins come from the same `NoiseSource` calls in the same order as the
 * TypeScript, written straight into that memory; every pass performs the TypeScript's
 * floating-point operations in the same order per value, so the result is bit-for-bit
 * `encodeUpdateTs`'s (tested on random inputs).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../ring/wasm.js';
import type { DdpParams } from './ddp-params.js';
import { inflatedL2NormBound } from './discretize.js';
import type { NoiseSource } from './noise.js';
import { seedStream } from './rotation.js';

const PAGE = 65536;

interface Exports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  heapBase(): number;
  badIndex(): number;
  l1Norm(): number;
  sqNorm(): number;
  hadamard(a: number, n: number, signs: number, s: number): void;
  l2Norm(a: number, n: number): number;
  scaleRound(a: number, n: number, f: number, coins: number, q: number): number;
  intNorms(q: number, n: number): void;
  finish(q: number, z: number, n: number, noise: number, mask: number, lo: number, hi: number, res: number): number;
}
interface WasmApi {
  WebAssembly: {
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  };
}

/** dist/wasm/dp-pipeline.wasm under the package root (null when the root is not found). */
export function dpPipelineWasmPath(): string | null {
  const root = packageRoot();
  return root === null ? null : join(root, 'dist', 'wasm', 'dp-pipeline.wasm');
}

let available: boolean | undefined;
/** Whether the wasm pipeline can run (the built kernel is present). */
export function dpPipelineWasmAvailable(): boolean {
  if (available === undefined) {
    const f = dpPipelineWasmPath();
    available = f !== null && existsSync(f);
  }
  return available;
}

let ex: Exports | undefined;
let laidOutFor = -1;
let lay = { a: 0, coins: 0, q: 0, z: 0, res: 0, signs: 0 };

function kernel(D: number): Exports {
  if (ex === undefined) {
    const file = dpPipelineWasmPath();
    if (file === null || !existsSync(file)) throw new Error(`encodeUpdate: ${file ?? 'dist/wasm/dp-pipeline.wasm'} is missing; run \`npm run build\``);
    const WA = (globalThis as unknown as WasmApi).WebAssembly;
    ex = new WA.Instance(new WA.Module(readFileSync(file)), { env: { abort: () => { throw new Error('dp-pipeline.wasm: abort'); } } }).exports as unknown as Exports;
  }
  if (laidOutFor < D) {
    const base = ex.heapBase();
    const a = base, coins = a + 8 * D, q = coins + 4 * D, z = q + 4 * D, res = z + 4 * D, signs = res + 4 * D;
    const need = signs + 4 * Math.ceil(D / 32) + 64;
    const have = ex.memory.buffer.byteLength;
    if (need > have) ex.memory.grow(Math.ceil((need - have) / PAGE));
    lay = { a, coins, q, z, res, signs };
    laidOutFor = D;
  }
  return ex;
}

export interface EncodedUpdateWasm {
  readonly residues: Int32Array;
  readonly noised: Int32Array;
  readonly clipped: boolean;
  readonly wraps: number;
  readonly tries: number;
}

/** `encodeUpdate` for p.rotation 'hadamard' (checked by the caller), in wasm. */
export function encodeUpdateWasm(p: DdpParams, x: Float64Array, seed: Uint8Array, noise: NoiseSource): EncodedUpdateWasm {
  const D = p.paddedDim;
  const k = kernel(D);
  const buf = k.memory.buffer;
  // rotate: zero-padded copy, signs from the public seed, FWHT, 1/√D
  const a = new Float64Array(buf, lay.a, D);
  a.set(x);
  a.fill(0, x.length);
  new Uint32Array(buf, lay.signs, Math.ceil(D / 32)).set(seedStream(seed, Math.ceil(D / 32)));
  k.hadamard(lay.a, D, lay.signs, 1 / Math.sqrt(D));
  const norm = k.l2Norm(lay.a, D);
  if (!Number.isFinite(norm)) throw new RangeError('encodeUpdate: "x" has a non-finite value');
  const clipped = norm > p.clip;
  const f = (clipped ? (p.clip / norm) * (1 - 2 ** -50) : 1) * p.scale;
  // stochasticRound(y·f, noise, { beta, normBound: clip·scale })
  const normBound = p.clip * p.scale;
  if (!(normBound >= 0)) throw new RangeError(`stochasticRound: "normBound" expected a finite number >= 0, got ${String(normBound)}`);
  const bound = Number.isFinite(normBound) ? inflatedL2NormBound(normBound, 1, p.beta, Math.max(1, D)) : Infinity;
  const coins = new Uint32Array(buf, lay.coins, D);
  let tries = 1;
  for (;; tries++) {
    noise.randomUint32(coins);
    const n2 = k.scaleRound(lay.a, D, f, lay.coins, lay.q);
    const bad = k.badIndex();
    if (bad >= 0) throw new RangeError(`stochasticRound: "x[${bad}]" = ${a[bad]! * f} is not finite or does not fit an int32`);
    if (p.beta === 0 || Math.sqrt(n2) <= bound) break;
    if (tries >= 1000) throw new RangeError(`stochasticRound: conditional rounding (beta ${p.beta}) found no rounding within norm ${bound} in 1000 tries`);
  }
  k.intNorms(lay.q, D);
  const l1 = k.l1Norm(), l2 = Math.sqrt(k.sqNorm());
  if (!(l2 <= p.scaledInflatedL2)) throw new RangeError(`encodeUpdate: rounded norm ${l2} above Δ2 = ${p.scaledInflatedL2}`);
  if (p.mechanism === 'skellam' && !(l1 <= p.scaledL1)) throw new RangeError(`encodeUpdate: rounded L1 norm ${l1} above Δ1 = ${p.scaledL1}`);
  const withNoise = p.localVariance > 0;
  if (withNoise) {
    const z = new Int32Array(buf, lay.z, D);
    if (p.mechanism === 'dgauss') noise.dgauss(z, p.localVariance);
    else noise.skellam(z, p.skellamMu);
  }
  const mask = 2 ** p.bits - 1, lo = -(2 ** (p.bits - 1)), hi = 2 ** (p.bits - 1);
  const wraps = k.finish(lay.q, lay.z, D, withNoise ? 1 : 0, mask, lo, hi, lay.res);
  const badV = k.badIndex();
  if (badV >= 0) {
    const v = new Int32Array(buf, lay.q, D)[badV]! + new Int32Array(buf, lay.z, D)[badV]!;
    throw new RangeError(`encodeUpdate: a noised value ${v} does not fit an int32`);
  }
  const residues = new Int32Array(D);
  residues.set(new Int32Array(buf, lay.res, D));
  const noised = new Int32Array(D);
  noised.set(new Int32Array(buf, lay.q, D));
  return { residues, noised, clipped, wraps, tries };
}
