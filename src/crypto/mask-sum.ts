/**
 * A SecAgg sum modulo 2^bits kept in WebAssembly memory, for the server's
 * unmasking: masked inputs and mask streams are added into it in place with
 * SIMD kernels (`crypto/assembly/mask-add.ts` -> dist/wasm/mask-add.wasm),
 * each mask stream in 64 KiB keystream chunks copied into one reused buffer.
 * The same streams and the same result as `addMask` (the TypeScript
 * reference, mask-prg.ts), about 2x faster at 64 bits (docs/secagg.md).
 *
 * The backend is explicit: constructing a MaskSum without the built wasm
 * throws (no silent fallback); `addMask` is always available.
 */
import { createCipheriv } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../ring/wasm.js';
import { checkBytes, describe } from './identity.js';
import { reduceMasked, type MaskAccumulator } from './mask-prg.js';

const CHUNK = 64 * 1024;
const PAGE = 65536;
const zero = new Uint8Array(CHUNK);

interface WasmMemory { buffer: ArrayBuffer; grow(pages: number): number }
interface MaskAddExports {
  memory: WasmMemory;
  heapBase(): number;
  add32(acc: number, ks: number, n: number): void;
  sub32(acc: number, ks: number, n: number): void;
  add64(acc: number, ks: number, n: number): void;
  sub64(acc: number, ks: number, n: number): void;
}
interface WasmApi {
  WebAssembly: {
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  };
}

let compiled: object | undefined;

/** dist/wasm/mask-add.wasm under the package root (null when the root is not found). */
export function maskAddWasmPath(): string | null {
  const root = packageRoot();
  return root === null ? null : join(root, 'dist', 'wasm', 'mask-add.wasm');
}

function instantiate(): MaskAddExports {
  const WA = (globalThis as unknown as WasmApi).WebAssembly;
  if (compiled === undefined) {
    const file = maskAddWasmPath();
    if (file === null || !existsSync(file)) throw new Error(`MaskSum: ${file ?? 'dist/wasm/mask-add.wasm'} is missing; run \`npm run build\``);
    compiled = new WA.Module(readFileSync(file));
  }
  return new WA.Instance(compiled, {}).exports as unknown as MaskAddExports;
}

export class MaskSum {
  readonly bits: number;
  readonly length: number;
  readonly #ex: MaskAddExports;
  readonly #acc: number;
  readonly #ks: number;
  readonly #width: 4 | 8;

  /** A zero sum of `length` entries modulo 2^bits (1 <= bits <= 64), in its own wasm instance. */
  constructor(bits: number, length: number) {
    const fn = 'MaskSum';
    if (typeof bits !== 'number') throw new TypeError(`${fn}: "bits" expected an integer, got ${describe(bits)}`);
    if (!Number.isInteger(bits) || bits < 1 || bits > 64) throw new RangeError(`${fn}: "bits" expected an integer in [1, 64], got ${bits}`);
    if (typeof length !== 'number') throw new TypeError(`${fn}: "length" expected an integer, got ${describe(length)}`);
    const width = bits <= 32 ? 4 : 8;
    const maxLength = Math.floor((2 ** 32 - 2 * PAGE - CHUNK) / width);
    if (!Number.isSafeInteger(length) || length < 0 || length > maxLength) throw new RangeError(`${fn}: "length" expected an integer in [0, ${maxLength}], got ${length}`);
    this.bits = bits;
    this.length = length;
    this.#width = width;
    this.#ex = instantiate();
    this.#ks = this.#ex.heapBase();
    this.#acc = this.#ks + CHUNK;
    const need = this.#acc + length * width - this.#ex.memory.buffer.byteLength;
    if (need > 0) this.#ex.memory.grow(Math.ceil(need / PAGE));
    new Uint8Array(this.#ex.memory.buffer, this.#acc, length * width).fill(0);
  }

  /** sum += sign * stream(key), the stream of `addMask` (key: 16 bytes from pairwiseMaskKey / selfMaskKey). */
  addMask(key: Uint8Array, sign: 1 | -1): this {
    const fn = 'MaskSum.addMask';
    checkBytes(key, 'key', fn, 16);
    if (sign !== 1 && sign !== -1) throw new RangeError(`${fn}: "sign" expected 1 or -1, got ${String(sign)}`);
    const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
    const kernel = this.#width === 4 ? (sign === 1 ? this.#ex.add32 : this.#ex.sub32) : sign === 1 ? this.#ex.add64 : this.#ex.sub64;
    const mem = new Uint8Array(this.#ex.memory.buffer);
    const total = this.length * this.#width;
    for (let off = 0; off < total; off += CHUNK) {
      const n = Math.min(CHUNK, total - off);
      mem.set(cipher.update(n === CHUNK ? zero : zero.subarray(0, n)), this.#ks);
      kernel(this.#acc + off, this.#ks, n / this.#width);
    }
    return this;
  }

  /** sum += sign * values (a client's masked input: Uint32Array for bits <= 32, BigUint64Array above, `length` entries). */
  addValues(values: MaskAccumulator, sign: 1 | -1 = 1): this {
    const fn = 'MaskSum.addValues';
    const want = this.#width === 4 ? Uint32Array : BigUint64Array;
    if (!(values instanceof want)) throw new TypeError(`${fn}: "values" expected ${want.name} for bits ${this.bits}, got ${describe(values)}`);
    if (values.length !== this.length) throw new RangeError(`${fn}: "values" expected ${this.length} entries, got ${values.length}`);
    if (sign !== 1 && sign !== -1) throw new RangeError(`${fn}: "sign" expected 1 or -1, got ${String(sign)}`);
    const kernel = this.#width === 4 ? (sign === 1 ? this.#ex.add32 : this.#ex.sub32) : sign === 1 ? this.#ex.add64 : this.#ex.sub64;
    const src = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    const mem = new Uint8Array(this.#ex.memory.buffer);
    for (let off = 0; off < src.length; off += CHUNK) {
      const n = Math.min(CHUNK, src.length - off);
      mem.set(src.subarray(off, off + n), this.#ks);
      kernel(this.#acc + off, this.#ks, n / this.#width);
    }
    return this;
  }

  /** The sum modulo 2^bits (a copy: Uint32Array for bits <= 32, BigUint64Array above). */
  result(): MaskAccumulator {
    const bytes = new Uint8Array(this.#ex.memory.buffer, this.#acc, this.length * this.#width).slice();
    const out = this.#width === 4 ? new Uint32Array(bytes.buffer) : new BigUint64Array(bytes.buffer);
    return reduceMasked(out, this.bits);
  }
}
