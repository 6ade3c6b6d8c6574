/**
 * `CryptoRandom`: the only random source the DP mechanisms accept.
 *
 * Two constructors, both cryptographically secure:
 * - `CryptoRandom.system()`: bytes from node:crypto's CSPRNG (`randomFillSync`).
 * - `CryptoRandom.fromKey(key, label)`: AES-256-CTR keystream (node:crypto) under
 *   the key HKDF-SHA256(ikm = key, salt = "fedcrypt/dp/CryptoRandom", info = label).
 *   This is a CSPRNG with a *chosen* key: as unpredictable as the key is, so it is
 *   for tests and reproducible runs; with a key known to an adversary it gives no
 *   privacy at all. Draw the key from `randomBytes(32)` for production use, or use
 *   `system()`.
 *
 * Draws are served from a 64 KiB buffer refilled in place (one reused buffer: the
 * first touch of fresh memory is slow, and so is a single huge `update()`), read as
 * little-endian 32-bit words.
 *
 * All integer draws are exact (rejection sampling, no modulo bias):
 * - `uint32()`: uniform in [0, 2^32);
 * - `int(n)`: uniform in [0, n), n an integer in [1, 2^53];
 * - `bigBelow(n)`: uniform BigInt in [0, n);
 * - `bernoulli(num, den)`: 1 with probability exactly num/den (safe-integer numbers or BigInts,
 *   0 ≤ num ≤ den, den ≥ 1).
 *
 * `assertCryptoRandom(x, arg, fn)` is a brand check (a private field, so neither a
 * look-alike object nor a subclass-free copy passes) throwing `NotCryptoRandomError`.
 */
import { createCipheriv, hkdfSync, randomFillSync, type Cipher } from 'node:crypto';

const CHUNK = 64 * 1024;
const WORDS = CHUNK / 4;
const TWO32 = 4294967296;
const TWO53 = 9007199254740992;
const token = Symbol('CryptoRandom');
let zeroChunk: Uint8Array | undefined;

/** Thrown when a DP mechanism is given anything but a `CryptoRandom` (Math.random, a seeded PRNG, a look-alike). */
export class NotCryptoRandomError extends TypeError {
  readonly argument: string;
  constructor(message: string, argument: string) {
    super(message);
    this.name = 'NotCryptoRandomError';
    this.argument = argument;
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'function') return `function ${(v as { name?: string }).name || '(anonymous)'}`;
  if (typeof v === 'object') return `object ${(v as object).constructor?.name ?? '(no prototype)'}`;
  return typeof v;
}

/**
 * INTERNAL (src/dp/wasm-samplers.ts only; not for the dp facade): the unread words of a
 * CryptoRandom's current buffer and its bit buffer, and moving its position FORWARD over words
 * read elsewhere. Words are never handed out twice: `advance` refuses to move back.
 */
export interface WordWindow {
  /** the current buffer (refilled first if it was used up); words[pos..] are unread */
  readonly words: Uint32Array;
  readonly pos: number;
  readonly bitWord: number;
  readonly bitsLeft: number;
}
export let cryptoRandomWindow: (r: CryptoRandom) => WordWindow;
export let cryptoRandomAdvance: (r: CryptoRandom, pos: number, bitWord: number, bitsLeft: number) => void;

export class CryptoRandom {
  static {
    cryptoRandomWindow = (r) => {
      if (r.#pos === WORDS) {
        r.#refill(r.#bytes);
        r.#pos = 0;
      }
      return { words: r.#words, pos: r.#pos, bitWord: r.#bitWord, bitsLeft: r.#bitsLeft };
    };
    cryptoRandomAdvance = (r, pos, bitWord, bitsLeft) => {
      if (!(Number.isInteger(pos) && pos >= r.#pos && pos <= WORDS)) throw new RangeError(`CryptoRandom: internal error, cannot move from word ${r.#pos} to ${pos}`);
      r.#pos = pos;
      r.#bitWord = bitWord >>> 0;
      r.#bitsLeft = bitsLeft;
    };
  }

  // brand: only objects built by this class's constructor have this private field
  readonly #brand = true;
  readonly #refill: (buf: Uint8Array) => void;
  readonly #bytes: Uint8Array;
  readonly #words: Uint32Array;
  #pos = WORDS;
  #lastN = 1;
  #lastLimit = TWO32;
  #bitWord = 0;
  #bitsLeft = 0;
  readonly kind: 'system' | 'keyed';

  private constructor(t: symbol, kind: 'system' | 'keyed', refill: (buf: Uint8Array) => void) {
    if (t !== token) throw new TypeError('CryptoRandom: use CryptoRandom.system() or CryptoRandom.fromKey()');
    this.kind = kind;
    this.#refill = refill;
    this.#bytes = new Uint8Array(CHUNK);
    this.#words = new Uint32Array(this.#bytes.buffer, 0, WORDS);
  }

  /** The system CSPRNG (node:crypto `randomFillSync`). */
  static system(): CryptoRandom {
    return new CryptoRandom(token, 'system', (buf) => { randomFillSync(buf); });
  }

  /**
   * A deterministic CSPRNG: AES-256-CTR (zero IV) under HKDF-SHA256(key, salt, label).
   * Secure only as long as `key` (32 bytes) is secret and uniformly random; meant for
   * tests and reproducible runs. Distinct labels give independent streams.
   */
  static fromKey(key: Uint8Array, label: string): CryptoRandom {
    if (!(key instanceof Uint8Array)) throw new TypeError(`CryptoRandom.fromKey: "key" expected Uint8Array of 32 bytes, got ${describe(key)}`);
    if (key.length !== 32) throw new RangeError(`CryptoRandom.fromKey: "key" expected 32 bytes, got ${key.length}`);
    if (typeof label !== 'string') throw new TypeError(`CryptoRandom.fromKey: "label" expected string, got ${describe(label)}`);
    const k = Buffer.from(hkdfSync('sha256', key, 'fedcrypt/dp/CryptoRandom', label, 32));
    const cipher: Cipher = createCipheriv('aes-256-ctr', k, Buffer.alloc(16));
    zeroChunk ??= new Uint8Array(CHUNK);
    const zero = zeroChunk;
    return new CryptoRandom(token, 'keyed', (buf) => {
      const out = cipher.update(zero);
      buf.set(out);
    });
  }

  /** True iff `x` was built by `CryptoRandom.system()` or `CryptoRandom.fromKey()` (brand check, not duck typing). */
  static is(x: unknown): x is CryptoRandom {
    return typeof x === 'object' && x !== null && #brand in x;
  }

  /** Uniform integer in [0, 2^32). */
  uint32(): number {
    if (this.#pos === WORDS) {
      this.#refill(this.#bytes);
      this.#pos = 0;
    }
    return this.#words[this.#pos++]!;
  }

  /** Fill `out` with the next `out.length` words: the same as that many `uint32()` calls. */
  fillUint32(out: Uint32Array): Uint32Array {
    let at = 0;
    while (at < out.length) {
      if (this.#pos === WORDS) {
        this.#refill(this.#bytes);
        this.#pos = 0;
      }
      const k = Math.min(out.length - at, WORDS - this.#pos);
      out.set(this.#words.subarray(this.#pos, this.#pos + k), at);
      this.#pos += k;
      at += k;
    }
    return out;
  }

  /** A uniform bit (buffered: 32 bits per word drawn). */
  bit(): 0 | 1 {
    if (this.#bitsLeft === 0) {
      this.#bitWord = this.uint32();
      this.#bitsLeft = 32;
    }
    this.#bitsLeft--;
    const b = this.#bitWord & 1;
    this.#bitWord >>>= 1;
    return b as 0 | 1;
  }

  /** Uniform integer in [0, 2^53). */
  uint53(): number {
    return (this.uint32() & 0x1fffff) * TWO32 + this.uint32();
  }

  /** Uniform integer in [0, n), n an integer in [1, 2^53]; exact (rejection of the top partial block). */
  int(n: number): number {
    if (n <= TWO32) {
      if (n === TWO32) return this.uint32();
      // limit = largest multiple of n not above 2^32 (cached for repeated bounds)
      let limit = this.#lastLimit;
      if (n !== this.#lastN) {
        if (!Number.isInteger(n) || n < 1) throw new RangeError(`CryptoRandom.int: "n" expected integer in [1, 2^53], got ${n}`);
        limit = TWO32 - (TWO32 % n);
        this.#lastN = n;
        this.#lastLimit = limit;
      }
      let x = this.uint32();
      while (x >= limit) x = this.uint32();
      return x % n;
    }
    if (!(n <= TWO53) || !Number.isInteger(n)) throw new RangeError(`CryptoRandom.int: "n" expected integer in [1, 2^53], got ${n}`);
    if (n === TWO53) return this.uint53();
    const limit = TWO53 - (TWO53 % n);
    let x = this.uint53();
    while (x >= limit) x = this.uint53();
    return x % n;
  }

  /** Uniform BigInt in [0, n), n ≥ 1 (draw bitLength(n - 1) bits, reject ≥ n). */
  bigBelow(n: bigint): bigint {
    if (n <= 0n) throw new RangeError(`CryptoRandom.bigBelow: "n" expected ≥ 1, got ${n}`);
    if (n === 1n) return 0n;
    if (n <= BigInt(TWO53)) return BigInt(this.int(Number(n)));
    const bits = (n - 1n).toString(2).length;
    const words = Math.ceil(bits / 32);
    const topMask = bits % 32 === 0 ? 0xffffffff : (1 << (bits % 32)) - 1;
    for (;;) {
      let x = BigInt((this.uint32() & topMask) >>> 0);
      for (let i = 1; i < words; i++) x = (x << 32n) | BigInt(this.uint32());
      if (x < n) return x;
    }
  }

  /** 1 with probability exactly num/den (0 ≤ num ≤ den, den ≥ 1; numbers must be safe integers), else 0. */
  bernoulli(num: number | bigint, den: number | bigint): 0 | 1 {
    if (typeof num === 'number' && typeof den === 'number' && Number.isSafeInteger(num) && Number.isSafeInteger(den) && num >= 0 && num <= den && den >= 1) {
      return this.int(den) < num ? 1 : 0;
    }
    if ((typeof num === 'number' && !Number.isSafeInteger(num)) || (typeof den === 'number' && !Number.isSafeInteger(den))) {
      throw new RangeError(`CryptoRandom.bernoulli: "num" and "den" expected safe integers or BigInts, got ${num}/${den}`);
    }
    const n = BigInt(num), d = BigInt(den);
    if (d < 1n || n < 0n || n > d) throw new RangeError(`CryptoRandom.bernoulli: expected 0 ≤ num ≤ den and den ≥ 1, got ${n}/${d}`);
    return this.bigBelow(d) < n ? 1 : 0;
  }

  /** A uniform double in [0, 1) on the grid 2^-53 (for the inexact baselines and filters only). */
  float53(): number {
    return this.uint53() / TWO53;
  }
}

/** Throw `NotCryptoRandomError` naming `argName` unless `x` is a `CryptoRandom`. */
export function assertCryptoRandom(x: unknown, argName: string, fn: string): asserts x is CryptoRandom {
  if (!CryptoRandom.is(x)) {
    const what = x === Math.random ? 'Math.random' : describe(x);
    throw new NotCryptoRandomError(
      `${fn}: "${argName}" expected a CryptoRandom (CryptoRandom.system() or CryptoRandom.fromKey()), got ${what}; ` +
        'DP noise must come from a CSPRNG',
      argName,
    );
  }
}
