/**
 * BigInt number theory used by Paillier: modular exponentiation (sliding
 * window), inverse, gcd, CSPRNG sampling, fixed-length big-endian bytes, and
 * prime generation (trial division by a sieve, then Miller-Rabin with random
 * bases from node:crypto).
 */
import { randomBytes } from 'node:crypto';
import { powMod } from './mont.js';

export function bitLength(x: bigint): number {
  if (x < 0n) x = -x;
  if (x === 0n) return 0;
  // toString(16) is linear and far cheaper than a bit-by-bit loop.
  const h = x.toString(16);
  return (h.length - 1) * 4 + (32 - Math.clz32(parseInt(h[0]!, 16)));
}

export function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

export function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** a^{-1} mod m; throws RangeError when gcd(a, m) != 1. */
export function modInv(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new RangeError('modInv: argument is not invertible');
  return mod(s0, m);
}

/** base^exp mod m (exp >= 0) with a left-to-right sliding window. */
export function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  if (m === 1n) return 0n;
  if (exp < 0n) return modPow(modInv(base, m), -exp, m);
  base = mod(base, m);
  if (exp === 0n) return 1n;
  const bits = exp.toString(2);
  const len = bits.length;
  const w = len > 768 ? 6 : len > 256 ? 5 : len > 64 ? 4 : 1;
  if (w === 1) {
    let r = base;
    for (let i = 1; i < len; i++) {
      r = (r * r) % m;
      if (bits.charCodeAt(i) === 49) r = (r * base) % m;
    }
    return r;
  }
  // odd powers base^1, base^3, ..., base^(2^w - 1)
  const tbl: bigint[] = new Array(1 << (w - 1));
  tbl[0] = base;
  const b2 = (base * base) % m;
  for (let i = 1; i < tbl.length; i++) tbl[i] = (tbl[i - 1]! * b2) % m;
  let r = 1n;
  let started = false;
  let i = 0;
  while (i < len) {
    if (bits.charCodeAt(i) === 48) {
      if (started) r = (r * r) % m;
      i++;
      continue;
    }
    // longest window starting at i, at most w bits, ending in a 1
    let j = Math.min(i + w, len) - 1;
    while (bits.charCodeAt(j) === 48) j--;
    const val = parseInt(bits.slice(i, j + 1), 2);
    if (started) for (let k = i; k <= j; k++) r = (r * r) % m;
    r = started ? (r * tbl[(val - 1) >> 1]!) % m : tbl[(val - 1) >> 1]!;
    started = true;
    i = j + 1;
  }
  return r;
}

/** Uniform integer with exactly `bits` random bits (value in [0, 2^bits)). */
export function randomBits(bits: number): bigint {
  const bytes = Math.ceil(bits / 8);
  const buf = randomBytes(bytes);
  const extra = bytes * 8 - bits;
  if (extra > 0) buf[0]! &= 0xff >> extra;
  const x = bytesToBigint(buf);
  buf.fill(0);
  return x;
}

/** Uniform integer in [0, n) by rejection sampling. */
export function randomBelow(n: bigint): bigint {
  if (n <= 0n) throw new RangeError('randomBelow: bound must be positive');
  const bits = bitLength(n);
  for (;;) {
    const x = randomBits(bits);
    if (x < n) return x;
  }
}

/** Uniform element of Z*_n. */
export function randomUnit(n: bigint): bigint {
  for (;;) {
    const x = randomBelow(n);
    if (x > 0n && gcd(x, n) === 1n) return x;
  }
}

export function bytesToBigint(b: Uint8Array): bigint {
  if (b.length === 0) return 0n;
  return BigInt('0x' + Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex'));
}

/** Fixed-length big-endian encoding; RangeError if x does not fit. */
export function bigintToBytes(x: bigint, length: number): Uint8Array {
  if (x < 0n) throw new RangeError('bigintToBytes: negative value');
  const h = x.toString(16);
  if (h.length > length * 2) throw new RangeError(`bigintToBytes: value needs more than ${length} bytes`);
  return new Uint8Array(Buffer.from(h.padStart(length * 2, '0'), 'hex'));
}

// ---- primes ----------------------------------------------------------------

const SMALL_PRIMES: number[] = (() => {
  const limit = 1 << 14;
  const sieve = new Uint8Array(limit);
  const out: number[] = [];
  for (let i = 2; i < limit; i++) {
    if (sieve[i]) continue;
    out.push(i);
    for (let j = i * i; j < limit; j += i) sieve[j] = 1;
  }
  return out;
})();

/** The product of the primes below 2^14 (one gcd finds any of them in n). */
let smallPrimeProduct: bigint | undefined;

/** A prime factor of n below 2^14, or 0 when there is none (n > 1). */
export function smallPrimeFactor(n: bigint): number {
  smallPrimeProduct ??= SMALL_PRIMES.reduce((a, p) => a * BigInt(p), 1n);
  if (gcd(n, smallPrimeProduct) === 1n) return 0;
  return SMALL_PRIMES.find((p) => n % BigInt(p) === 0n)!;
}

/** floor(sqrt(x)) for x >= 0 (Newton's method). */
export function isqrt(x: bigint): bigint {
  if (x < 0n) throw new RangeError('isqrt: negative argument');
  if (x < 2n) return x;
  let r = 1n << BigInt(Math.ceil(bitLength(x) / 2));
  for (;;) {
    const next = (r + x / r) >> 1n;
    if (next >= r) return r;
    r = next;
  }
}

/** Miller-Rabin with `rounds` uniformly random bases in [2, n-2] (CSPRNG). */
export function millerRabin(n: bigint, rounds: number): boolean {
  if (n < 4n) return n === 2n || n === 3n;
  if ((n & 1n) === 0n) return false;
  let d = n - 1n;
  let s = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    s++;
  }
  outer: for (let r = 0; r < rounds; r++) {
    const a = 2n + randomBelow(n - 3n);
    let x = powMod(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    for (let i = 1; i < s; i++) {
      x = (x * x) % n;
      if (x === n - 1n) continue outer;
      if (x === 1n) return false;
    }
    return false;
  }
  return true;
}

export function isProbablePrime(n: bigint, rounds = 64): boolean {
  if (n < 2n) return false;
  for (const p of SMALL_PRIMES) {
    const bp = BigInt(p);
    if (n === bp) return true;
    if (n % bp === 0n) return false;
  }
  return millerRabin(n, rounds);
}

/**
 * Miller-Rabin rounds for random candidates of `bits` bits. FIPS 186-5 (Table
 * B.1) asks for 4-5 rounds at 1024-1536 bits for an error below 2^-100; we use
 * 64, which also bounds the worst-case (adversarial) error by 4^-64 = 2^-128.
 */
export const MR_ROUNDS = 64;

/**
 * A random prime of exactly `bits` bits with its two top bits set (so the
 * product of two such primes has exactly 2*bits bits). Incremental search from a
 * random odd start: residues modulo the small primes are kept as Numbers and
 * updated by +2, so trial division costs no BigInt work per candidate.
 */
export function randomPrime(bits: number, rounds = MR_ROUNDS): bigint {
  if (!Number.isInteger(bits) || bits < 16) throw new RangeError(`randomPrime: "bits" expected integer >= 16, got ${bits}`);
  const top = 3n << BigInt(bits - 2);
  for (;;) {
    const start = randomBits(bits) | top | 1n;
    const res = SMALL_PRIMES.map((p) => Number(start % BigInt(p)));
    // search a window of 2^14 odd numbers before drawing a fresh start
    for (let delta = 0; delta < 1 << 15; delta += 2) {
      let ok = true;
      for (let i = 1; i < SMALL_PRIMES.length; i++) {
        if ((res[i]! + delta) % SMALL_PRIMES[i]! === 0) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      const c = start + BigInt(delta);
      if (bitLength(c) !== bits) break;
      if (millerRabin(c, 1) && millerRabin(c, rounds - 1)) return c;
    }
  }
}
