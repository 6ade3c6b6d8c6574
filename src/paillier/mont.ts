/**
 * Loader for dist/wasm/paillier-mont.wasm (Montgomery exponentiation with
 * 28-bit limbs; source in assembly/paillier-mont.ts) and a BigInt front end.
 * Falls back to BigInt modPow when the wasm file is missing (before `npm run build`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { modInv, modPow } from './bigint.js';

// lib is ES2022 without DOM, so the WebAssembly global is typed here minimally.
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const WebAssembly = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface MontExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  digitsPtr(): number;
  tableEnd(nwin: number, w: number): number;
  fbbuild(nwin: number, w: number): void;
  fbpow(nwin: number, w: number): void;
  slotPtr(k: number): number;
  maxLimbs(): number;
  setup(s: number, ninv: number): void;
  modexp(expWords: number): void;
  mulmod(square: number): void;
}

let instance: MontExports | null | undefined;
let loadError = '';

function candidates(): string[] {
  const here = import.meta.url;
  return [
    new URL('../wasm/paillier-mont.wasm', here), // dist/paillier/mont.js -> dist/wasm
    new URL('../../dist/wasm/paillier-mont.wasm', here), // src/paillier/mont.ts -> dist/wasm
  ].map((u) => fileURLToPath(u));
}

function load(): MontExports | null {
  if (instance !== undefined) return instance;
  instance = null;
  if (process.env.FEDCRYPT_PAILLIER_NO_WASM === '1') {
    loadError = 'disabled by FEDCRYPT_PAILLIER_NO_WASM=1';
    return null;
  }
  for (const path of candidates()) {
    if (!existsSync(path)) continue;
    try {
      const mod = new WebAssembly.Module(readFileSync(path));
      instance = new WebAssembly.Instance(mod, {}).exports as unknown as MontExports;
      return instance;
    } catch (e) {
      loadError = `${path}: ${(e as Error).message}`;
    }
  }
  if (!loadError) loadError = 'dist/wasm/paillier-mont.wasm not found (run npm run build)';
  return null;
}

/** Whether the wasm kernel is in use, and why not. */
export function montStatus(): { wasm: boolean; error: string } {
  return { wasm: load() !== null, error: loadError };
}

const LIMB_HEX = 7; // 28-bit limbs = 7 hex digits

function writeLimbs(mem: Uint32Array, at: number, x: bigint, s: number): void {
  const h = x.toString(16);
  let end = h.length;
  for (let i = 0; i < s; i++) {
    const start = end - LIMB_HEX;
    mem[at + i] = end > 0 ? parseInt(h.slice(Math.max(0, start), end), 16) : 0;
    end = start;
  }
}

function readLimbs(mem: Uint32Array, at: number, s: number): bigint {
  let h = '';
  for (let i = s - 1; i >= 0; i--) h += mem[at + i]!.toString(16).padStart(LIMB_HEX, '0');
  return BigInt('0x' + h);
}

/** Per-modulus constants, computed once. */
export class MontModulus {
  readonly m: bigint;
  readonly s: number;
  readonly r2: bigint;
  readonly ninv: number;

  constructor(m: bigint) {
    if ((m & 1n) === 0n || m < 3n) throw new RangeError('MontModulus: modulus must be odd and > 2');
    const bits = m.toString(2).length;
    this.m = m;
    this.s = Math.ceil((bits + 2) / 28); // 4m < R = 2^(28 s)
    this.r2 = (1n << BigInt(56 * this.s)) % m;
    this.ninv = Number((1n << 28n) - modInv(m & ((1n << 28n) - 1n), 1n << 28n));
  }

  /** base^exp mod m (exp > 0); wasm when available, BigInt otherwise. */
  pow(base: bigint, exp: bigint): bigint {
    const w = load();
    if (w === null || this.s > w.maxLimbs() || exp <= 0n) return modPow(base, exp, this.m);
    const s = this.s;
    const mem = new Uint32Array(w.memory.buffer);
    const slot = (k: number) => w.slotPtr(k) / 4;
    w.setup(s, this.ninv);
    writeLimbs(mem, slot(0), this.m, s);
    writeLimbs(mem, slot(1), this.r2, s);
    writeLimbs(mem, slot(2), base % this.m, s);
    // exponent as u32 words
    const eh = exp.toString(16);
    const words = Math.ceil(eh.length / 8);
    const at = slot(3);
    for (let i = 0; i < words; i++) {
      const end = eh.length - 8 * i;
      mem[at + i] = parseInt(eh.slice(Math.max(0, end - 8), end), 16);
    }
    w.modexp(words);
    return readLimbs(mem, slot(2), s);
  }

  /** a·b mod m through the wasm Montgomery product (for tests). */
  mul(a: bigint, b: bigint): bigint {
    const w = load();
    if (w === null) return (a * b) % this.m;
    const s = this.s;
    const mem = new Uint32Array(w.memory.buffer);
    const slot = (k: number) => w.slotPtr(k) / 4;
    w.setup(s, this.ninv);
    writeLimbs(mem, slot(0), this.m, s);
    writeLimbs(mem, slot(1), this.r2, s);
    writeLimbs(mem, slot(2), a % this.m, s);
    writeLimbs(mem, slot(10), b % this.m, s);
    w.mulmod(a === b ? 1 : 0);
    return readLimbs(mem, slot(2), s);
  }
}

/** base^exp mod m through the wasm kernel for large odd moduli, BigInt modPow otherwise. */
export function powMod(base: bigint, exp: bigint, m: bigint): bigint {
  if ((m & 1n) === 1n && exp > 64n && m >> 255n !== 0n && load() !== null) return new MontModulus(m).pow(base, exp);
  return modPow(base, exp, m);
}

/** The table currently loaded in this thread's wasm instance (one at a time). */
let tableOwner: WasmFixedBase | null = null;

/**
 * Fixed-base exponentiation with the table in wasm memory (Montgomery form).
 * One table is resident per thread; using another key's table rebuilds it.
 */
export class WasmFixedBase {
  readonly mod: MontModulus;
  readonly base: bigint;
  readonly bits: number;
  readonly w: number;
  readonly nwin: number;

  constructor(base: bigint, modulus: bigint, bits: number, w: number) {
    this.mod = new MontModulus(modulus);
    this.base = base % modulus;
    this.bits = bits;
    this.w = w;
    this.nwin = Math.ceil(bits / w);
  }

  /** Whether the wasm path can serve this table. */
  static available(modulus: bigint, bits: number, w: number): boolean {
    const x = load();
    if (x === null) return false;
    const s = Math.ceil((modulus.toString(2).length + 2) / 28);
    return s <= x.maxLimbs() && Math.ceil(bits / w) <= 4096;
  }

  /** base^e mod m for 0 <= e < 2^bits. */
  pow(e: bigint): bigint {
    const x = load()!;
    const { s } = this.mod;
    x.setup(s, this.mod.ninv);
    let mem = new Uint32Array(x.memory.buffer);
    const slot = (k: number) => x.slotPtr(k) / 4;
    writeLimbs(mem, slot(0), this.mod.m, s);
    writeLimbs(mem, slot(1), this.mod.r2, s);
    if (tableOwner !== this) {
      const need = x.tableEnd(this.nwin, this.w);
      const have = x.memory.buffer.byteLength;
      if (need > have) x.memory.grow(Math.ceil((need - have) / 65536));
      mem = new Uint32Array(x.memory.buffer);
      writeLimbs(mem, slot(2), this.base, s);
      x.fbbuild(this.nwin, this.w);
      tableOwner = this;
    }
    const L = this.nwin * this.w;
    const bitsStr = e.toString(2).padStart(L, '0');
    const at = x.digitsPtr() / 4;
    for (let i = 0; i < this.nwin; i++) mem[at + i] = parseInt(bitsStr.slice(L - (i + 1) * this.w, L - i * this.w), 2);
    x.fbpow(this.nwin, this.w);
    return readLimbs(mem, slot(2), s);
  }
}
