/**
 * Paillier encryption with g = n + 1.
 *
 *   Enc(m) = (1 + m·n) · ρ mod n^2,  Dec by CRT: m_p = L_p(c^{p-1} mod p^2)·hp mod p, same for q, Garner.
 *
 * The noise ρ must be a random n-th residue. Textbook Paillier takes ρ = r^n
 * (a 2048-bit exponent on a 4096-bit modulus: ~50 ms with BigInt). We use the
 * Damgard-Jurik-Nielsen form (DJN 2010, §4): ρ = hs^a mod n^2 with the public
 * hs = h^n, h = -x^2 mod n, and a uniform in [0, 2^ℓ). ℓ defaults to ceil(k/2)
 * (1024 bits for a 2048-bit n, 1536 for 3072), the length DJN propose. The
 * security of this variant rests on DCR plus the assumption that h^a for an
 * ℓ-bit a is indistinguishable from a uniform element of <h> (a short-exponent
 * / subgroup indistinguishability assumption; cf. Koshiba-Kurosawa, "Short
 * exponent Diffie-Hellman problems", PKC 2004). The generic attack on an ℓ-bit
 * exponent costs 2^(ℓ/2) group operations, so ℓ ≥ 2λ is the floor (256 bits for
 * λ = 128); ceil(k/2) leaves a wide margin above it. With the public hs known,
 * hs^a is computed with a fixed-base windowed table (fixedbase.ts): ~ℓ/7
 * multiplications modulo n^2 per encryption.
 *
 * Ciphertexts are bigints in Z*_{n^2}; they serialize to fixed-length
 * big-endian bytes (ciphertextByteLength = bytes of n^2) and to hex JSON.
 */
import { bigintToBytes, bytesToBigint, gcd, mod, modPow, randomBits, randomUnit } from './bigint.js';
import { EncodingLengthError, InvalidCiphertextError, KeyMismatchError, ValueOutOfRangeError, describe, expectBigint } from './errors.js';
import { PaillierPrivateKey, PaillierPublicKey } from './keys.js';
import { powMod } from './mont.js';

function expectPublicKey(fn: string, pk: unknown): PaillierPublicKey {
  if (!(pk instanceof PaillierPublicKey)) throw new TypeError(`${fn}: "publicKey" expected PaillierPublicKey, got ${describe(pk)}`);
  return pk;
}

function expectPrivateKey(fn: string, sk: unknown): PaillierPrivateKey {
  if (!(sk instanceof PaillierPrivateKey)) throw new TypeError(`${fn}: "privateKey" expected PaillierPrivateKey, got ${describe(sk)}`);
  return sk;
}

function checkPlaintext(fn: string, pk: PaillierPublicKey, m: unknown): bigint {
  expectBigint(fn, 'm', m);
  if ((m as bigint) < 0n || (m as bigint) >= pk.n) throw new ValueOutOfRangeError(`${fn}: "m" expected bigint in [0, n), got ${describe(m)}`);
  return m as bigint;
}

/** Cheap range check: 0 < c < n^2 (no gcd). */
export function checkCiphertextRange(fn: string, pk: PaillierPublicKey, c: unknown, arg = 'c'): bigint {
  expectBigint(fn, arg, c);
  if ((c as bigint) <= 0n || (c as bigint) >= pk.n2) {
    throw new InvalidCiphertextError(`${fn}: "${arg}" expected element of Z*_{n^2} (0 < c < n^2), got ${describe(c)}`);
  }
  return c as bigint;
}

/** Full membership test of Z*_{n^2}: range, then gcd(c, n) = 1. Throws InvalidCiphertextError. */
export function validateCiphertext(publicKey: PaillierPublicKey, c: unknown, fn = 'validateCiphertext', arg = 'c'): bigint {
  expectPublicKey(fn, publicKey);
  checkCiphertextRange(fn, publicKey, c, arg);
  if (gcd((c as bigint) % publicKey.n, publicKey.n) !== 1n) {
    throw new InvalidCiphertextError(`${fn}: "${arg}" is not a unit modulo n^2 (gcd(c, n) != 1)`);
  }
  return c as bigint;
}

/** A fresh DJN noise factor hs^a mod n^2. */
export function noise(publicKey: PaillierPublicKey): bigint {
  return publicKey.noiseTable.pow(randomBits(publicKey.noiseBits));
}

/** Enc(m) for m in [0, n). */
export function encrypt(publicKey: PaillierPublicKey, m: bigint): bigint {
  expectPublicKey('encrypt', publicKey);
  checkPlaintext('encrypt', publicKey, m);
  return encryptWithNoise(publicKey, m, noise(publicKey));
}

/** Enc(m) with a caller-supplied noise factor (e.g. precomputed by a worker). */
export function encryptWithNoise(publicKey: PaillierPublicKey, m: bigint, rho: bigint): bigint {
  const { n, n2 } = publicKey;
  return ((1n + m * n) * rho) % n2;
}

/** Textbook encryption with ρ = r^n mod n^2, r uniform in Z*_n (the baseline, and the noise form of other libraries). */
export function encryptTextbook(publicKey: PaillierPublicKey, m: bigint): bigint {
  expectPublicKey('encryptTextbook', publicKey);
  checkPlaintext('encryptTextbook', publicKey, m);
  const { n, n2 } = publicKey;
  return ((1n + m * n) * modPow(randomUnit(n), n, n2)) % n2; // deliberately plain BigInt: the baseline
}

/** Dec(c) in [0, n), by CRT. Rejects c outside Z*_{n^2} with InvalidCiphertextError. */
export function decrypt(privateKey: PaillierPrivateKey, c: bigint): bigint {
  expectPrivateKey('decrypt', privateKey);
  checkCiphertextRange('decrypt', privateKey.publicKey, c);
  if (c % privateKey.p === 0n || c % privateKey.q === 0n) {
    throw new InvalidCiphertextError('decrypt: "c" is not a unit modulo n^2 (gcd(c, n) != 1)');
  }
  return privateKey.combine(privateKey.decryptModP(c), privateKey.decryptModQ(c));
}

/** Textbook decryption m = L(c^λ mod n^2)·μ mod n (the baseline). */
export function decryptTextbook(privateKey: PaillierPrivateKey, c: bigint): bigint {
  expectPrivateKey('decryptTextbook', privateKey);
  const { n, n2 } = privateKey.publicKey;
  checkCiphertextRange('decryptTextbook', privateKey.publicKey, c);
  return mod(((modPow(c, privateKey.lambda, n2) - 1n) / n) * privateKey.mu, n);
}

/** Enc(a)·Enc(b) = Enc(a + b mod n). */
export function add(publicKey: PaillierPublicKey, a: bigint, b: bigint): bigint {
  expectPublicKey('add', publicKey);
  checkCiphertextRange('add', publicKey, a, 'a');
  checkCiphertextRange('add', publicKey, b, 'b');
  return (a * b) % publicKey.n2;
}

/** Enc(m)^k = Enc(k·m mod n); k any bigint (reduced mod n; negative allowed). */
export function multiplyScalar(publicKey: PaillierPublicKey, c: bigint, k: bigint): bigint {
  expectPublicKey('multiplyScalar', publicKey);
  checkCiphertextRange('multiplyScalar', publicKey, c);
  expectBigint('multiplyScalar', 'k', k);
  const e = mod(k, publicKey.n);
  // for a negative k, c^(n - |k|) is slow; use the inverse of c instead
  if (k < 0n && -k < e) return modPow(c, k, publicKey.n2);
  return powMod(c, e, publicKey.n2);
}

/** Enc(m) + Enc(k) for a plaintext k: c·(1 + k·n). */
export function addPlain(publicKey: PaillierPublicKey, c: bigint, k: bigint): bigint {
  expectPublicKey('addPlain', publicKey);
  checkCiphertextRange('addPlain', publicKey, c);
  expectBigint('addPlain', 'k', k);
  return (c * (1n + mod(k, publicKey.n) * publicKey.n)) % publicKey.n2;
}

/** A fresh-looking ciphertext of the same plaintext: c·ρ. */
export function rerandomize(publicKey: PaillierPublicKey, c: bigint): bigint {
  expectPublicKey('rerandomize', publicKey);
  checkCiphertextRange('rerandomize', publicKey, c);
  return (c * noise(publicKey)) % publicKey.n2;
}

/**
 * Homomorphic sum of ciphertexts in a balanced binary tree (depth log2 k).
 * Each input is range-checked; gcd(·, n) = 1 is checked once on the product
 * (a product is a unit iff every factor is), and only when that fails every
 * input is checked to name the culprit. Throws InvalidCiphertextError.
 */
export function sumCiphertexts(publicKey: PaillierPublicKey, cs: readonly bigint[]): bigint {
  expectPublicKey('sumCiphertexts', publicKey);
  if (!Array.isArray(cs) || cs.length === 0) throw new TypeError(`sumCiphertexts: "ciphertexts" expected non-empty array, got ${describe(cs)}`);
  cs.forEach((c, i) => checkCiphertextRange('sumCiphertexts', publicKey, c, `ciphertexts[${i}]`));
  const s = treeProduct(cs, publicKey.n2);
  if (gcd(s % publicKey.n, publicKey.n) !== 1n) {
    cs.forEach((c, i) => validateCiphertext(publicKey, c, 'sumCiphertexts', `ciphertexts[${i}]`));
  }
  return s;
}

export function treeProduct(xs: readonly bigint[], m: bigint): bigint {
  let level = xs.slice();
  while (level.length > 1) {
    const next: bigint[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push((level[i]! * level[i + 1]!) % m);
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!;
}

// ---- serialization ---------------------------------------------------------

export function ciphertextToBytes(publicKey: PaillierPublicKey, c: bigint): Uint8Array {
  expectPublicKey('ciphertextToBytes', publicKey);
  checkCiphertextRange('ciphertextToBytes', publicKey, c);
  return bigintToBytes(c, publicKey.ciphertextByteLength);
}

/** Parse fixed-length big-endian bytes; EncodingLengthError on a wrong length, InvalidCiphertextError outside Z*_{n^2}. */
export function ciphertextFromBytes(publicKey: PaillierPublicKey, b: Uint8Array, options: { checkUnit?: boolean } = {}): bigint {
  expectPublicKey('ciphertextFromBytes', publicKey);
  if (!(b instanceof Uint8Array)) throw new TypeError(`ciphertextFromBytes: "bytes" expected Uint8Array, got ${describe(b)}`);
  if (b.length !== publicKey.ciphertextByteLength) {
    throw new EncodingLengthError(`ciphertextFromBytes: "bytes" expected ${publicKey.ciphertextByteLength} bytes, got ${b.length}`);
  }
  const c = bytesToBigint(b);
  return options.checkUnit === false ? checkCiphertextRange('ciphertextFromBytes', publicKey, c) : validateCiphertext(publicKey, c, 'ciphertextFromBytes');
}

/** Concatenate many ciphertexts (each ciphertextByteLength bytes). */
export function ciphertextsToBytes(publicKey: PaillierPublicKey, cs: readonly bigint[]): Uint8Array {
  const L = publicKey.ciphertextByteLength;
  const out = new Uint8Array(cs.length * L);
  cs.forEach((c, i) => out.set(ciphertextToBytes(publicKey, c), i * L));
  return out;
}

/** Split and parse; only the range is checked per element (use sumCiphertexts / decrypt for the unit check). */
export function ciphertextsFromBytes(publicKey: PaillierPublicKey, b: Uint8Array): bigint[] {
  expectPublicKey('ciphertextsFromBytes', publicKey);
  if (!(b instanceof Uint8Array)) throw new TypeError(`ciphertextsFromBytes: "bytes" expected Uint8Array, got ${describe(b)}`);
  const L = publicKey.ciphertextByteLength;
  if (b.length % L !== 0) throw new EncodingLengthError(`ciphertextsFromBytes: length ${b.length} is not a multiple of ${L}`);
  const out: bigint[] = [];
  for (let i = 0; i < b.length; i += L) {
    out.push(ciphertextFromBytes(publicKey, b.subarray(i, i + L), { checkUnit: false }));
  }
  return out;
}

export function ciphertextToJSON(publicKey: PaillierPublicKey, c: bigint): string {
  checkCiphertextRange('ciphertextToJSON', publicKey, c);
  return c.toString(16).padStart(publicKey.ciphertextByteLength * 2, '0');
}

export function ciphertextFromJSON(publicKey: PaillierPublicKey, s: unknown): bigint {
  if (typeof s !== 'string' || !/^[0-9a-f]*$/.test(s)) throw new TypeError(`ciphertextFromJSON: "json" expected lowercase hex string, got ${describe(s)}`);
  if (s.length !== publicKey.ciphertextByteLength * 2) {
    throw new EncodingLengthError(`ciphertextFromJSON: expected ${publicKey.ciphertextByteLength * 2} hex digits, got ${s.length}`);
  }
  return validateCiphertext(publicKey, BigInt('0x' + s), 'ciphertextFromJSON');
}

export function assertSameKey(fn: string, a: PaillierPublicKey, b: PaillierPublicKey): void {
  if (a.n !== b.n) throw new KeyMismatchError(`${fn}: ciphertexts belong to different public keys`);
}

