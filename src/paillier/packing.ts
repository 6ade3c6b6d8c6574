/**
 * Packing many integers into one Paillier plaintext (BatchCrypt-style).
 *
 * A value v of `bitwidth` bits is offset-encoded to u = v + 2^(bitwidth-1)
 * (signed) or u = v (unsigned), so u ∈ [0, 2^bitwidth). Slots are
 *   slotBits = bitwidth + ceil(log2(maxClients))
 * bits wide: the sum of k ≤ maxClients encoded values is < k·2^bitwidth ≤
 * 2^slotBits, so slots never carry into each other and the packed sum never
 * wraps modulo n (slotsPerCiphertext·slotBits ≤ bits(n) - 1). Decoding
 * subtracts k·2^(bitwidth-1), which needs the number of contributions k; it is
 * carried next to the ciphertexts and checked against maxClients on every add.
 *
 * Range checks: encode() refuses values outside the bitwidth. A malicious
 * client can bypass encode() and encrypt any plaintext; decode() then detects
 * what it can: a slot whose sum exceeds k·(2^bitwidth - 1) (SlotOverflowError)
 * and bits above the last slot (RangeError). An excess that carries into the
 * next slot, or a shift that keeps every slot within range, is not detectable
 * (docs/paillier.md, "What a malicious data owner can still do").
 */
import { bitLength } from './bigint.js';
import { SlotOverflowError, TooManyClientsError, ValueOutOfRangeError, describe, expectInt } from './errors.js';

export interface PackingOptions {
  /** Bit length of the Paillier modulus n (e.g. 2048). */
  keyBits: number;
  /** Bits of each value (1..256): values in [-2^(b-1), 2^(b-1)) if signed, [0, 2^b) otherwise. */
  bitwidth: number;
  /** Largest number of contributions that may be summed (≥ 1). */
  maxClients: number;
  /** Offset encoding for negative values (default true). */
  signed?: boolean;
}

export type IntegerVector = ArrayLike<number> | ArrayLike<bigint> | ArrayLike<number | bigint> | BigInt64Array | BigUint64Array;

export class PaillierPacking {
  readonly keyBits: number;
  readonly bitwidth: number;
  readonly maxClients: number;
  readonly signed: boolean;
  readonly headroomBits: number;
  readonly slotBits: number;
  readonly slotsPerCiphertext: number;
  readonly #offset: bigint;
  readonly #min: bigint;
  readonly #max: bigint;

  constructor(options: PackingOptions) {
    const fn = 'PaillierPacking';
    if (typeof options !== 'object' || options === null) throw new TypeError(`${fn}: "options" expected object, got ${describe(options)}`);
    this.keyBits = expectInt(fn, 'keyBits', options.keyBits, 64, 1 << 14);
    this.bitwidth = expectInt(fn, 'bitwidth', options.bitwidth, 1, 256);
    this.maxClients = expectInt(fn, 'maxClients', options.maxClients, 1, 2 ** 31);
    if (options.signed !== undefined && typeof options.signed !== 'boolean') throw new TypeError(`${fn}: "signed" expected boolean, got ${describe(options.signed)}`);
    this.signed = options.signed ?? true;
    this.headroomBits = this.maxClients <= 1 ? 0 : bitLength(BigInt(this.maxClients - 1));
    this.slotBits = this.bitwidth + this.headroomBits;
    this.slotsPerCiphertext = Math.floor((this.keyBits - 1) / this.slotBits);
    if (this.slotsPerCiphertext < 1) throw new RangeError(`${fn}: a ${this.slotBits}-bit slot does not fit a ${this.keyBits}-bit key`);
    const bw = BigInt(this.bitwidth);
    this.#offset = this.signed ? 1n << (bw - 1n) : 0n;
    this.#min = this.signed ? -(1n << (bw - 1n)) : 0n;
    this.#max = this.signed ? (1n << (bw - 1n)) - 1n : (1n << bw) - 1n;
    Object.freeze(this);
  }

  /** Number of plaintexts (ciphertexts) for a vector of `length` values. */
  ciphertextsFor(length: number): number {
    return Math.ceil(length / this.slotsPerCiphertext);
  }

  /** Smallest and largest value accepted. */
  get range(): [bigint, bigint] {
    return [this.#min, this.#max];
  }

  /** Reject a number of contributions the headroom cannot hold. */
  checkContributions(fn: string, k: number): void {
    if (!Number.isInteger(k) || k < 0) throw new TypeError(`${fn}: "contributions" expected non-negative integer, got ${describe(k)}`);
    if (k > this.maxClients) {
      throw new TooManyClientsError(`${fn}: ${k} contributions exceed the packing's maxClients = ${this.maxClients} (headroom ${this.headroomBits} bits)`);
    }
  }

  /** Offset-encode and pack `values` into plaintexts in [0, 2^(keyBits-1)). */
  encode(values: IntegerVector): bigint[] {
    const fn = 'PaillierPacking.encode';
    if (values === null || typeof values !== 'object' || typeof (values as ArrayLike<unknown>).length !== 'number') {
      throw new TypeError(`${fn}: "values" expected array of integers, got ${describe(values)}`);
    }
    const len = values.length;
    const S = this.slotsPerCiphertext;
    const sb = BigInt(this.slotBits);
    const out: bigint[] = [];
    const small = this.bitwidth <= 52;
    const minN = Number(this.#min);
    const maxN = Number(this.#max);
    const offN = Number(this.#offset);
    for (let start = 0; start < len; start += S) {
      const end = Math.min(start + S, len);
      let acc = 0n;
      // slot 0 holds values[start] in the least significant bits
      for (let i = end - 1; i >= start; i--) {
        const v = (values as ArrayLike<unknown>)[i];
        let u: bigint;
        if (typeof v === 'number') {
          if (!Number.isInteger(v)) throw new TypeError(`${fn}: "values[${i}]" expected integer, got ${describe(v)}`);
          if (small) {
            if (v < minN || v > maxN) throw this.#outOfRange(fn, i, v);
            u = BigInt(v + offN);
          } else {
            const b = BigInt(v);
            if (b < this.#min || b > this.#max) throw this.#outOfRange(fn, i, v);
            u = b + this.#offset;
          }
        } else if (typeof v === 'bigint') {
          if (v < this.#min || v > this.#max) throw this.#outOfRange(fn, i, v);
          u = v + this.#offset;
        } else {
          throw new TypeError(`${fn}: "values[${i}]" expected integer, got ${describe(v)}`);
        }
        acc = (acc << sb) | u;
      }
      out.push(acc);
    }
    return out;
  }

  #outOfRange(fn: string, i: number, v: number | bigint): ValueOutOfRangeError {
    return new ValueOutOfRangeError(
      `${fn}: "values[${i}]" expected integer in [${this.#min}, ${this.#max}] (bitwidth ${this.bitwidth}${this.signed ? ', signed' : ''}), got ${v}`,
    );
  }

  /**
   * Unpack the sum of `contributions` packed vectors of `length` values and
   * remove the offsets. Returns exact bigints. A slot above
   * contributions·(2^bitwidth - 1) is SlotOverflowError (naming the value's
   * index); bits above the last slot are RangeError.
   */
  decode(plaintexts: readonly bigint[], length: number, contributions: number): bigint[] {
    const fn = 'PaillierPacking.decode';
    this.checkContributions(fn, contributions);
    expectInt(fn, 'length', length, 0, 2 ** 31);
    if (!Array.isArray(plaintexts) || plaintexts.length !== this.ciphertextsFor(length)) {
      throw new RangeError(`${fn}: "plaintexts" expected ${this.ciphertextsFor(length)} plaintexts for ${length} values, got ${describe(plaintexts)}`);
    }
    const S = this.slotsPerCiphertext;
    const sb = BigInt(this.slotBits);
    const mask = (1n << sb) - 1n;
    const off = this.#offset * BigInt(contributions);
    // the largest slot sum `contributions` in-range encodings can produce
    const top = ((1n << BigInt(this.bitwidth)) - 1n) * BigInt(contributions);
    const out: bigint[] = new Array(length);
    for (let c = 0; c < plaintexts.length; c++) {
      let x = plaintexts[c]!;
      const end = Math.min((c + 1) * S, length);
      for (let i = c * S; i < end; i++) {
        const slot = x & mask;
        if (slot > top) {
          throw new SlotOverflowError(i, `${fn}: slot of value ${i} holds ${slot}, above ${contributions} × (2^${this.bitwidth} - 1): a contribution was encoded outside the packing's range`);
        }
        out[i] = slot - off;
        x >>= sb;
      }
      if (x !== 0n) throw new RangeError(`${fn}: plaintext ${c} has bits above its last slot (wrong key, packing or length)`);
    }
    return out;
  }

  /** decode() as a Float64Array (exact while |sums| < 2^53). */
  decodeNumbers(plaintexts: readonly bigint[], length: number, contributions: number): Float64Array {
    const b = this.decode(plaintexts, length, contributions);
    const out = new Float64Array(length);
    for (let i = 0; i < length; i++) out[i] = Number(b[i]!);
    return out;
  }
}
