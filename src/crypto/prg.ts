/**
 * Pseudo-random generator: AES-128 in counter mode from `node:crypto`, keyed
 * by a 16-byte seed drawn from the CSPRNG (`crypto.randomBytes`).
 *
 * Output is produced in 64 KiB chunks (a single huge `update()` is slow, and so
 * is first touch of fresh memory) from one reused all-zero input buffer.
 *
 * `Prg.derive(key, nonce)` is the PRF used for pairwise keys: the stream for
 * `(key, nonce)` is AES-CTR with IV = nonce (8 bytes, big-endian) || 0^64, so
 * distinct nonces give disjoint counter ranges (up to 2^64 blocks each).
 */
import { createCipheriv, createHash, randomBytes, type Cipher } from 'node:crypto';
import { RingTensor, type RingBits } from '../ring/index.js';

export const SEED_BYTES = 16;
const CHUNK = 64 * 1024;
let zeroChunk: Uint8Array | undefined;

function checkSeed(seed: unknown, fn: string): Uint8Array {
  if (!(seed instanceof Uint8Array)) {
    throw new TypeError(`${fn}: "seed" expected Uint8Array of ${SEED_BYTES} bytes, got ${describe(seed)}`);
  }
  if (seed.length !== SEED_BYTES) {
    throw new RangeError(`${fn}: "seed" expected ${SEED_BYTES} bytes, got ${seed.length}`);
  }
  return seed;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/** A fresh 16-byte seed from the CSPRNG. */
export function randomSeed(): Uint8Array {
  return new Uint8Array(randomBytes(SEED_BYTES));
}

/** The initial counter block of `Prg.derive(key, nonce)`'s stream (16 bytes: the nonce's 8 bytes, then zeros). */
export function ivFor(nonce: string | bigint | number): Uint8Array {
  return new Uint8Array(nonceBytes(nonce));
}

/** Map a string or bigint nonce to the 8-byte IV prefix (strings are hashed with SHA-256). */
function nonceBytes(nonce: string | bigint | number): Buffer {
  const out = Buffer.alloc(16);
  if (typeof nonce === 'string') {
    createHash('sha256').update(nonce).digest().copy(out, 0, 0, 8);
  } else {
    const n = BigInt(nonce);
    if (n < 0n || n >= 1n << 64n) throw new RangeError(`Prg.derive: "nonce" expected integer in [0, 2^64), got ${n}`);
    out.writeBigUInt64BE(n, 0);
  }
  return out;
}

export class Prg {
  #cipher: Cipher;
  #seed: Uint8Array;
  #buf: Uint8Array = new Uint8Array(0);
  #pos = 0;

  /** A PRG keyed by `seed` (16 bytes), or by a fresh CSPRNG seed when omitted. */
  constructor(seed?: Uint8Array, iv?: Uint8Array) {
    this.#seed = seed === undefined ? randomSeed() : new Uint8Array(checkSeed(seed, 'Prg'));
    const ivBuf = iv === undefined ? Buffer.alloc(16) : Buffer.from(iv);
    if (ivBuf.length !== 16) throw new RangeError(`Prg: "iv" expected 16 bytes, got ${ivBuf.length}`);
    this.#cipher = createCipheriv('aes-128-ctr', this.#seed, ivBuf);
  }

  /** PRF: the stream keyed by `key` for `nonce` (a string label or an integer counter). */
  static derive(key: Uint8Array, nonce: string | bigint | number): Prg {
    checkSeed(key, 'Prg.derive');
    return new Prg(key, nonceBytes(nonce));
  }

  /** A copy of the seed (to hand to a party that must reproduce the stream). */
  get seed(): Uint8Array {
    return new Uint8Array(this.#seed);
  }

  /** Fill `out` with the next pseudo-random bytes. */
  fill<T extends ArrayBufferView>(out: T): T {
    if (!ArrayBuffer.isView(out)) throw new TypeError(`Prg.fill: "out" expected a typed array, got ${describe(out)}`);
    const dst = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    let off = 0;
    // drain leftovers from the previous chunk first
    if (this.#pos < this.#buf.length) {
      const n = Math.min(this.#buf.length - this.#pos, dst.length);
      dst.set(this.#buf.subarray(this.#pos, this.#pos + n), 0);
      this.#pos += n;
      off = n;
    }
    const zero = (zeroChunk ??= new Uint8Array(CHUNK));
    while (dst.length - off >= CHUNK) {
      dst.set(this.#cipher.update(zero), off);
      off += CHUNK;
    }
    if (off < dst.length) {
      const rest = dst.length - off;
      const chunk = rest <= 4096 ? zero.subarray(0, 4096) : zero.subarray(0, Math.min(CHUNK, ((rest + 4095) >> 12) << 12));
      this.#buf = this.#cipher.update(chunk);
      this.#pos = 0;
      dst.set(this.#buf.subarray(0, rest), off);
      this.#pos = rest;
    }
    return out;
  }

  /** `bytes` fresh pseudo-random bytes. */
  random(bytes: number): Uint8Array {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new RangeError(`Prg.random: "bytes" expected a non-negative integer, got ${bytes}`);
    }
    return this.fill(new Uint8Array(bytes));
  }

  /** `count` pseudo-random 64-bit words. */
  randomWords(count: number): BigUint64Array {
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new RangeError(`Prg.randomWords: "count" expected a non-negative integer, got ${count}`);
    }
    return this.fill(new BigUint64Array(count));
  }

  /** A uniformly random ring tensor (Z_2^bits) from the next bytes of the stream. */
  ringTensor(bits: RingBits, shape: readonly number[]): RingTensor {
    const t = new RingTensor(bits, shape);
    this.fill(t.data);
    return t;
  }

  /** Fill an existing ring tensor with the next bytes of the stream (reusing its memory); returns it. */
  ringTensorInto(t: RingTensor): RingTensor {
    if (!(t instanceof RingTensor)) throw new TypeError(`Prg.ringTensorInto: "t" expected a RingTensor, got ${describe(t)}`);
    this.fill(t.data);
    return t;
  }

  /** Seeds never print, serialize or coerce. */
  toJSON(): never { throw new TypeError('Prg: refusing to serialize a PRG (it holds a secret seed)'); }
  valueOf(): never { throw new TypeError('Prg: refusing to coerce a PRG (it holds a secret seed)'); }
  [Symbol.toPrimitive](): never { throw new TypeError('Prg: refusing to coerce a PRG (it holds a secret seed)'); }
  [Symbol.for('nodejs.util.inspect.custom')](): string { return 'Prg { <secret> }'; }
}
