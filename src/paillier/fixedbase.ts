/**
 * Fixed-base exponentiation with a windowed precomputed table (the "fixed-base
 * windowing" / BGMW idea): for an exponent of `bits` bits split in windows of
 * `w` bits, table[i][d] = base^(d·2^(w·i)) mod m for d in 1..2^w-1, so
 * base^e = Π_i table[i][digit_i(e)]: about bits/w modular multiplications and
 * no squarings. Memory: ceil(bits/w)·(2^w - 1) residues.
 *
 * When the wasm kernel is available the table lives in wasm memory in
 * Montgomery form and the products run there (mont.ts WasmFixedBase);
 * otherwise it is built here from BigInts on first use.
 */
import { WasmFixedBase } from './mont.js';

export class FixedBaseTable {
  readonly base: bigint;
  readonly modulus: bigint;
  readonly bits: number;
  readonly w: number;
  #rows: bigint[][] | undefined;
  readonly #wasm: WasmFixedBase | null;

  constructor(base: bigint, modulus: bigint, bits: number, w = 7) {
    if (!Number.isInteger(w) || w < 1 || w > 12) throw new RangeError(`FixedBaseTable: "w" expected integer in [1, 12], got ${w}`);
    this.base = base;
    this.modulus = modulus;
    this.bits = bits;
    this.w = w;
    this.#wasm = (modulus & 1n) === 1n && WasmFixedBase.available(modulus, bits, w) ? new WasmFixedBase(base, modulus, bits, w) : null;
  }

  /** Whether the products run in wasm. */
  get wasm(): boolean {
    return this.#wasm !== null;
  }

  #build(): bigint[][] {
    const { base, modulus, bits, w } = this;
    const windows = Math.ceil(bits / w);
    const rows: bigint[][] = [];
    let g = base % modulus; // base^(2^(w·i))
    for (let i = 0; i < windows; i++) {
      const row = new Array<bigint>(1 << w);
      row[0] = 1n;
      row[1] = g;
      for (let d = 2; d < 1 << w; d++) row[d] = (row[d - 1]! * g) % modulus;
      rows.push(row);
      g = (row[(1 << w) - 1]! * g) % modulus;
    }
    return rows;
  }

  /** base^e mod m for 0 <= e < 2^bits. */
  pow(e: bigint): bigint {
    if (e < 0n || e >> BigInt(this.bits) !== 0n) throw new RangeError(`FixedBaseTable.pow: exponent outside [0, 2^${this.bits})`);
    if (this.#wasm) return this.#wasm.pow(e);
    return this.powBigint(e);
  }

  /** Build the table now (in wasm memory, or the BigInt rows) instead of on the first pow. */
  prepare(): void {
    if (this.#wasm) this.#wasm.pow(0n);
    else this.#rows ??= this.#build();
  }

  /** The BigInt path (also the reference in tests). */
  powBigint(e: bigint): bigint {
    const rows = (this.#rows ??= this.#build());
    const mask = BigInt((1 << this.w) - 1);
    const wb = BigInt(this.w);
    let r = 1n;
    let first = true;
    for (let i = 0; e !== 0n; i++, e >>= wb) {
      const d = Number(e & mask);
      if (d === 0) continue;
      const t = rows[i]![d]!;
      if (first) {
        r = t;
        first = false;
      } else r = (r * t) % this.modulus;
    }
    return r;
  }
}
