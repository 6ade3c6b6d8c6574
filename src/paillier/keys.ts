/**
 * Paillier keys with g = n + 1.
 *
 * Key generation: p, q random primes of exactly bits/2 bits with the two top
 * bits set (so n = pq has exactly `bits` bits), trial division then 64 rounds
 * of Miller-Rabin with CSPRNG bases, p != q, gcd(n, (p-1)(q-1)) = 1.
 *
 * The DJN noise base (Damgard-Jurik-Nielsen, "A generalization of Paillier's
 * public-key system with applications to electronic voting", IJIS 2010, §4.1,
 * "Some optimizations") is hs = h^n mod n^2 with h = -x^2 mod n. Here x is not
 * drawn by the key owner: every party derives it from n alone (SHA-256 of a
 * domain tag and n, expanded and reduced mod n; `deriveNoiseBase`), so no
 * server-chosen value enters the clients' noise. A public key whose `hs` is
 * not the derived one is refused (UntrustedKeyError naming "hs"), as is a
 * noise exponent below MIN_NOISE_BITS ("noiseBits") and a modulus that is
 * prime, a square or has a factor below 2^14 ("n"). See docs/paillier.md.
 */
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { bigintToBytes, bitLength, bytesToBigint, gcd, isqrt, millerRabin, mod, modInv, randomPrime, smallPrimeFactor } from './bigint.js';
import { EncodingLengthError, KeyMismatchError, SecretCoercionError, UntrustedKeyError, describe, expectBigint, expectInt } from './errors.js';
import { FixedBaseTable } from './fixedbase.js';
import { MontModulus, powMod } from './mont.js';

export const MIN_KEY_BITS = 256;
export const MAX_KEY_BITS = 8192;
/** Floor of the DJN exponent length: 2λ for λ = 128 (the generic attack on an ℓ-bit exponent costs 2^(ℓ/2)). */
export const MIN_NOISE_BITS = 256;
/** Domain separation tag of the noise-base derivation (part of the key format: changing it changes every hs). */
export const NOISE_BASE_DOMAIN = 'fedcrypt/paillier/djn-noise-base/v1';

/** Length in bits of the DJN exponent: ceil(k/2) as in DJN, at least MIN_NOISE_BITS. */
export function defaultNoiseBits(keyBits: number): number {
  return Math.max(MIN_NOISE_BITS, Math.ceil(keyBits / 2));
}

/**
 * The checks a party makes on a modulus it did not generate: odd, of
 * MIN_KEY_BITS..MAX_KEY_BITS bits (RangeError), and none of the cheap
 * give-aways of a modulus anyone can factor: a prime factor below 2^14, a
 * square, a prime (UntrustedKeyError naming "n"). A modulus with a larger
 * weak factor passes; only pinning the key (fingerprint) or a proof of a
 * well-formed modulus (not implemented) rules that out.
 */
export function checkModulus(fn: string, n: unknown): bigint {
  expectBigint(fn, 'n', n);
  const m = n as bigint;
  const bits = bitLength(m);
  if (m < 0n || bits < MIN_KEY_BITS || bits > MAX_KEY_BITS || (m & 1n) === 0n) {
    throw new RangeError(`${fn}: "n" expected odd modulus of ${MIN_KEY_BITS}..${MAX_KEY_BITS} bits, got ${describe(m)}`);
  }
  const f = smallPrimeFactor(m);
  if (f !== 0) throw new UntrustedKeyError('n', `${fn}: "n" has the small prime factor ${f}`);
  const r = isqrt(m);
  if (r * r === m) throw new UntrustedKeyError('n', `${fn}: "n" is a perfect square`);
  if (millerRabin(m, 1)) throw new UntrustedKeyError('n', `${fn}: "n" is prime`);
  return m;
}

/** n -> hs for moduli already checked (a few keys are live at a time; bounded, oldest out first). */
const derivedBases = new Map<bigint, bigint>();
const DERIVED_CACHE_SIZE = 16;

/** Number of moduli whose derived base is cached (at most 16, whatever a server sends). */
export function noiseBaseCacheSize(): number {
  return derivedBases.size;
}

/** x in [0, n): SHA-256 in counter mode over (tag, counter, n), 128 bits longer than n, reduced mod n. */
export function noiseSeed(n: bigint): bigint {
  const L = Math.ceil(bitLength(n) / 8);
  const nb = bigintToBytes(n, L);
  const need = L + 16;
  const blocks: Buffer[] = [];
  for (let i = 0; blocks.length * 32 < need; i++) {
    const ctr = Buffer.alloc(4);
    ctr.writeUInt32BE(i);
    blocks.push(createHash('sha256').update(NOISE_BASE_DOMAIN).update(Buffer.from([0])).update(ctr).update(nb).digest());
  }
  return bytesToBigint(new Uint8Array(Buffer.concat(blocks).subarray(0, need))) % n;
}

/**
 * The DJN noise base for modulus n, derived from n alone: x = noiseSeed(n),
 * h = -x^2 mod n, hs = h^n mod n^2. Checks n first (checkModulus). Cached
 * per n.
 */
export function deriveNoiseBase(n: bigint, fn = 'deriveNoiseBase'): bigint {
  const hit = derivedBases.get(n);
  if (hit !== undefined) return hit;
  checkModulus(fn, n);
  const x = noiseSeed(n);
  if (gcd(x, n) !== 1n) throw new UntrustedKeyError('n', `${fn}: "n" shares a factor with its derived noise seed`);
  const hs = powMod(n - ((x * x) % n), n, n * n);
  if (derivedBases.size >= DERIVED_CACHE_SIZE) derivedBases.delete(derivedBases.keys().next().value!);
  derivedBases.set(n, hs);
  return hs;
}

export class PaillierPublicKey {
  readonly n: bigint;
  readonly n2: bigint;
  readonly g: bigint;
  /** Bit length of n. */
  readonly bits: number;
  /** Bytes of n in the fixed-length encoding. */
  readonly byteLength: number;
  /** Bytes of one ciphertext (an element of Z_{n^2}). */
  readonly ciphertextByteLength: number;
  /** DJN noise base hs = h^n mod n^2, h = -x^2 mod n with x derived from n (deriveNoiseBase). */
  readonly hs: bigint;
  /** Bit length of the DJN random exponent. */
  readonly noiseBits: number;
  #table: FixedBaseTable | undefined;

  /**
   * A public key for modulus n. The noise base is always the one derived from
   * n (deriveNoiseBase); `hs`, when given (e.g. parsed from bytes), must equal
   * it (UntrustedKeyError naming "hs"). `noiseBits` must lie in
   * [MIN_NOISE_BITS, 2·bits] (UntrustedKeyError naming "noiseBits").
   */
  constructor(n: bigint, options: { hs?: bigint; noiseBits?: number } = {}) {
    const fn = 'PaillierPublicKey';
    if (typeof options !== 'object' || options === null) throw new TypeError(`${fn}: "options" expected object, got ${describe(options)}`);
    const hs = deriveNoiseBase(n, fn);
    const bits = bitLength(n);
    const nb = options.noiseBits ?? defaultNoiseBits(bits);
    if (typeof nb !== 'number' || !Number.isInteger(nb)) throw new TypeError(`${fn}: "noiseBits" expected integer, got ${describe(nb)}`);
    if (nb < MIN_NOISE_BITS || nb > 2 * bits) {
      throw new UntrustedKeyError('noiseBits', `${fn}: "noiseBits" expected integer in [${MIN_NOISE_BITS}, ${2 * bits}] (the floor is 2λ for λ = 128), got ${nb}`);
    }
    if (options.hs !== undefined && expectBigint(fn, 'hs', options.hs) !== hs) {
      throw new UntrustedKeyError('hs', `${fn}: "hs" is not the noise base derived from n; a noise base chosen by the key owner is refused`);
    }
    this.n = n;
    this.n2 = n * n;
    this.g = n + 1n;
    this.bits = bits;
    this.byteLength = Math.ceil(bits / 8);
    this.ciphertextByteLength = Math.ceil(bitLength(this.n2) / 8);
    this.noiseBits = nb;
    this.hs = hs;
    Object.freeze(this);
  }

  /** Fixed-base table for hs (built on first use; ~ (noiseBits/w)·2^w elements of Z_{n^2}). */
  get noiseTable(): FixedBaseTable {
    if (!this.#table) this.#table = new FixedBaseTable(this.hs, this.n2, this.noiseBits);
    return this.#table;
  }

  /** Whether the fixed-base table has been built. */
  get hasNoiseTable(): boolean {
    return this.#table !== undefined;
  }

  /** Install a table built elsewhere (e.g. received from a worker). */
  adoptNoiseTable(t: FixedBaseTable): void {
    if (t.base !== this.hs || t.modulus !== this.n2) throw new KeyMismatchError('adoptNoiseTable: table is for another key');
    this.#table = t;
  }

  equals(other: PaillierPublicKey): boolean {
    return other instanceof PaillierPublicKey && other.n === this.n;
  }

  toJSON(): PublicKeyJSON {
    return { kind: 'paillier-public-key', n: this.n.toString(16), hs: this.hs.toString(16), noiseBits: this.noiseBits };
  }

  [inspect.custom](): string {
    return `PaillierPublicKey { bits: ${this.bits} }`;
  }
}

export interface PublicKeyJSON {
  kind: 'paillier-public-key';
  n: string;
  hs: string;
  noiseBits: number;
}

const HEX = /^[0-9a-f]+$/;

export function publicKeyFromJSON(j: unknown): PaillierPublicKey {
  const o = j as PublicKeyJSON;
  if (typeof o !== 'object' || o === null || o.kind !== 'paillier-public-key') {
    throw new TypeError(`publicKeyFromJSON: "json" expected { kind: 'paillier-public-key', ... }, got ${describe(j)}`);
  }
  if (typeof o.n !== 'string' || !HEX.test(o.n)) throw new TypeError('publicKeyFromJSON: "n" expected lowercase hex string');
  if (typeof o.hs !== 'string' || !HEX.test(o.hs)) throw new TypeError('publicKeyFromJSON: "hs" expected lowercase hex string');
  return new PaillierPublicKey(BigInt('0x' + o.n), { hs: BigInt('0x' + o.hs), noiseBits: o.noiseBits });
}

/**
 * Fixed-length bytes: u16 big-endian byte length L of n, u16 noiseBits, then n
 * (L bytes) and hs (2L bytes), all big-endian.
 */
export function publicKeyToBytes(pk: PaillierPublicKey): Uint8Array {
  const L = pk.byteLength;
  const out = new Uint8Array(4 + 3 * L);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, L);
  dv.setUint16(2, pk.noiseBits);
  out.set(bigintToBytes(pk.n, L), 4);
  out.set(bigintToBytes(pk.hs, 2 * L), 4 + L);
  return out;
}

export function publicKeyFromBytes(b: Uint8Array): PaillierPublicKey {
  if (!(b instanceof Uint8Array)) throw new TypeError(`publicKeyFromBytes: "bytes" expected Uint8Array, got ${describe(b)}`);
  if (b.length < 4) throw new EncodingLengthError(`publicKeyFromBytes: "bytes" too short (${b.length} bytes)`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const L = dv.getUint16(0);
  const noiseBits = dv.getUint16(2);
  if (b.length !== 4 + 3 * L) throw new EncodingLengthError(`publicKeyFromBytes: expected ${4 + 3 * L} bytes for a ${L}-byte modulus, got ${b.length}`);
  const n = bytesToBigint(b.subarray(4, 4 + L));
  if (Math.ceil(bitLength(n) / 8) !== L) throw new EncodingLengthError('publicKeyFromBytes: modulus has a leading zero byte');
  return new PaillierPublicKey(n, { hs: bytesToBigint(b.subarray(4 + L)), noiseBits });
}

/** SHA-256 (lowercase hex) of the canonical public key bytes (publicKeyToBytes): what a party pins. */
export function publicKeyFingerprint(pk: PaillierPublicKey): string {
  if (!(pk instanceof PaillierPublicKey)) throw new TypeError(`publicKeyFingerprint: "publicKey" expected PaillierPublicKey, got ${describe(pk)}`);
  return createHash('sha256').update(publicKeyToBytes(pk)).digest('hex');
}

const FINGERPRINT = /^[0-9a-f]{64}$/;

/** A fingerprint option: 64 lowercase hex digits (TypeError naming `arg` otherwise). */
export function expectFingerprint(fn: string, arg: string, v: unknown): string {
  if (typeof v !== 'string' || !FINGERPRINT.test(v)) throw new TypeError(`${fn}: "${arg}" expected SHA-256 fingerprint (64 lowercase hex digits), got ${describe(v)}`);
  return v;
}

/** Refuse a key that is not the pinned one (UntrustedKeyError naming "keyFingerprint"). */
export function checkKeyFingerprint(fn: string, pk: PaillierPublicKey, expected: string): void {
  expectFingerprint(fn, 'keyFingerprint', expected);
  const got = publicKeyFingerprint(pk);
  if (got !== expected) throw new UntrustedKeyError('keyFingerprint', `${fn}: the public key's fingerprint ${got} is not the pinned "keyFingerprint" ${expected}`);
}

const SECRET = 'PaillierPrivateKey';

export class PaillierPrivateKey {
  readonly publicKey: PaillierPublicKey;
  #p: bigint;
  #q: bigint;
  // CRT decryption constants
  #p2: bigint;
  #q2: bigint;
  #hp: bigint;
  #hq: bigint;
  #qInvP: bigint;
  #mp: MontModulus;
  #mq: MontModulus;

  constructor(p: bigint, q: bigint, publicKey?: PaillierPublicKey) {
    expectBigint('PaillierPrivateKey', 'p', p);
    expectBigint('PaillierPrivateKey', 'q', q);
    if (p === q) throw new RangeError('PaillierPrivateKey: "p" and "q" must differ');
    if (p < 3n || q < 3n) throw new RangeError('PaillierPrivateKey: "p" and "q" must be odd primes');
    const n = p * q;
    if (publicKey !== undefined && publicKey.n !== n) throw new KeyMismatchError('PaillierPrivateKey: p*q does not match publicKey.n');
    if (gcd(n, (p - 1n) * (q - 1n)) !== 1n) throw new RangeError('PaillierPrivateKey: gcd(n, (p-1)(q-1)) != 1');
    this.publicKey = publicKey ?? new PaillierPublicKey(n);
    this.#p = p;
    this.#q = q;
    this.#p2 = p * p;
    this.#q2 = q * q;
    // With g = n+1: L_p(g^{p-1} mod p^2) = (p-1)q mod p, so hp = ((p-1)q)^{-1} mod p.
    this.#hp = modInv(mod((p - 1n) * q, p), p);
    this.#hq = modInv(mod((q - 1n) * p, q), q);
    this.#qInvP = modInv(q, p);
    this.#mp = new MontModulus(this.#p2);
    this.#mq = new MontModulus(this.#q2);
    Object.freeze(this);
  }

  get p(): bigint {
    return this.#p;
  }
  get q(): bigint {
    return this.#q;
  }
  /** lambda = lcm(p-1, q-1) (for interoperability with other implementations). */
  get lambda(): bigint {
    const a = this.#p - 1n;
    const b = this.#q - 1n;
    return (a * b) / gcd(a, b);
  }
  /** mu = lambda^{-1} mod n (valid for g = n+1). */
  get mu(): bigint {
    return modInv(this.lambda, this.publicKey.n);
  }

  /** The p-half of CRT decryption: m mod p from c. */
  decryptModP(c: bigint): bigint {
    const x = this.#mp.pow(c % this.#p2, this.#p - 1n);
    return (((x - 1n) / this.#p) * this.#hp) % this.#p;
  }
  /** The q-half of CRT decryption: m mod q from c. */
  decryptModQ(c: bigint): bigint {
    const x = this.#mq.pow(c % this.#q2, this.#q - 1n);
    return (((x - 1n) / this.#q) * this.#hq) % this.#q;
  }
  /** Garner recombination of the two halves into m in [0, n). */
  combine(mp: bigint, mq: bigint): bigint {
    return mq + this.#q * mod((mp - mq) * this.#qInvP, this.#p);
  }

  valueOf(): never {
    throw new SecretCoercionError(SECRET);
  }
  toString(): never {
    throw new SecretCoercionError(SECRET);
  }
  toJSON(): never {
    throw new SecretCoercionError(SECRET);
  }
  [Symbol.toPrimitive](): never {
    throw new SecretCoercionError(SECRET);
  }
  [inspect.custom](): string {
    return `PaillierPrivateKey { bits: ${this.publicKey.bits}, <secret> }`;
  }
}

export interface PrivateKeyJSON {
  kind: 'paillier-private-key';
  p: string;
  q: string;
  publicKey: PublicKeyJSON;
}

/** The one explicit way out for a private key (JSON with hex p, q). */
export function exportPrivateKey(sk: PaillierPrivateKey): PrivateKeyJSON {
  if (!(sk instanceof PaillierPrivateKey)) throw new TypeError(`exportPrivateKey: "privateKey" expected PaillierPrivateKey, got ${describe(sk)}`);
  return { kind: 'paillier-private-key', p: sk.p.toString(16), q: sk.q.toString(16), publicKey: sk.publicKey.toJSON() };
}

export function importPrivateKey(j: unknown): PaillierPrivateKey {
  const o = j as PrivateKeyJSON;
  if (typeof o !== 'object' || o === null || o.kind !== 'paillier-private-key') {
    throw new TypeError(`importPrivateKey: "json" expected { kind: 'paillier-private-key', ... }, got ${describe(j)}`);
  }
  if (typeof o.p !== 'string' || !HEX.test(o.p) || typeof o.q !== 'string' || !HEX.test(o.q)) {
    throw new TypeError('importPrivateKey: "p" and "q" expected lowercase hex strings');
  }
  return new PaillierPrivateKey(BigInt('0x' + o.p), BigInt('0x' + o.q), publicKeyFromJSON(o.publicKey));
}

/** Fixed-length bytes of a private key: the public key bytes, then p and q (L/2 bytes each, L = bytes of n). */
export function exportPrivateKeyBytes(sk: PaillierPrivateKey): Uint8Array {
  const pkb = publicKeyToBytes(sk.publicKey);
  const half = Math.ceil(sk.publicKey.bits / 16);
  const out = new Uint8Array(pkb.length + 2 * half);
  out.set(pkb, 0);
  out.set(bigintToBytes(sk.p, half), pkb.length);
  out.set(bigintToBytes(sk.q, half), pkb.length + half);
  return out;
}

export function importPrivateKeyBytes(b: Uint8Array): PaillierPrivateKey {
  if (!(b instanceof Uint8Array)) throw new TypeError(`importPrivateKeyBytes: "bytes" expected Uint8Array, got ${describe(b)}`);
  if (b.length < 4) throw new EncodingLengthError(`importPrivateKeyBytes: "bytes" too short (${b.length} bytes)`);
  const L = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint16(0);
  const pkLen = 4 + 3 * L;
  const pk = publicKeyFromBytes(b.subarray(0, Math.min(pkLen, b.length)));
  const half = Math.ceil(pk.bits / 16);
  if (b.length !== pkLen + 2 * half) throw new EncodingLengthError(`importPrivateKeyBytes: expected ${pkLen + 2 * half} bytes, got ${b.length}`);
  return new PaillierPrivateKey(bytesToBigint(b.subarray(pkLen, pkLen + half)), bytesToBigint(b.subarray(pkLen + half)), pk);
}

export interface PaillierKeyPair {
  publicKey: PaillierPublicKey;
  privateKey: PaillierPrivateKey;
}

/**
 * Generate a key pair with an n of exactly `bits` bits (even, 256..8192;
 * use 2048 or 3072 in production, smaller only in tests).
 */
export function generateKeyPair(bits = 2048, options: { noiseBits?: number } = {}): PaillierKeyPair {
  expectInt('generateKeyPair', 'bits', bits, MIN_KEY_BITS, MAX_KEY_BITS);
  if (bits % 2 !== 0) throw new RangeError(`generateKeyPair: "bits" expected even integer, got ${bits}`);
  // Both primes have their two top bits set, so n = pq has exactly `bits` bits (9·2^(bits-4) <= n < 2^bits),
  // and q - 1 < 2p (and p - 1 < 2q), so neither prime divides the other minus one: gcd(n, (p-1)(q-1)) = 1.
  // PaillierPrivateKey checks the gcd again; the tests check the size.
  const p = randomPrime(bits / 2);
  let q = randomPrime(bits / 2);
  while (q === p) q = randomPrime(bits / 2);
  const publicKey = new PaillierPublicKey(p * q, options);
  return { publicKey, privateKey: new PaillierPrivateKey(p, q, publicKey) };
}
