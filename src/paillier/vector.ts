/**
 * Encrypted vectors: a packed, encrypted vector of `length` integers that is
 * the sum of `contributions` client vectors. The contribution count travels
 * with the ciphertexts so the headroom check (TooManyClientsError) happens
 * before any ciphertext is multiplied in, and decoding can remove the offsets.
 *
 * Wire form (fixed-length, big-endian): u32 length, u32 contributions, then
 * ciphertextsFor(length) ciphertexts of ciphertextByteLength bytes each.
 */
import { EncodingLengthError, KeyMismatchError, describe } from './errors.js';
import { PaillierPrivateKey, PaillierPublicKey } from './keys.js';
import { PaillierPacking, type IntegerVector } from './packing.js';
import {
  checkCiphertextRange,
  ciphertextToBytes,
  ciphertextFromBytes,
  decrypt,
  encrypt,
  rerandomize,
  treeProduct,
  validateCiphertext,
} from './paillier.js';
import { gcd } from './bigint.js';

export interface EncryptedVector {
  readonly length: number;
  readonly contributions: number;
  readonly ciphertexts: readonly bigint[];
}

function checkPacking(fn: string, publicKey: PaillierPublicKey, packing: PaillierPacking): void {
  if (!(publicKey instanceof PaillierPublicKey)) throw new TypeError(`${fn}: "publicKey" expected PaillierPublicKey, got ${describe(publicKey)}`);
  if (!(packing instanceof PaillierPacking)) throw new TypeError(`${fn}: "packing" expected PaillierPacking, got ${describe(packing)}`);
  if (packing.keyBits > publicKey.bits) throw new KeyMismatchError(`${fn}: packing is for ${packing.keyBits}-bit keys, key has ${publicKey.bits} bits`);
}

export function checkEncryptedVector(fn: string, publicKey: PaillierPublicKey, packing: PaillierPacking, v: unknown, arg = 'vector'): EncryptedVector {
  const e = v as EncryptedVector;
  if (typeof e !== 'object' || e === null || !Array.isArray(e.ciphertexts)) throw new TypeError(`${fn}: "${arg}" expected EncryptedVector, got ${describe(v)}`);
  if (!Number.isInteger(e.length) || e.length < 0) throw new TypeError(`${fn}: "${arg}.length" expected non-negative integer, got ${describe(e.length)}`);
  packing.checkContributions(fn, e.contributions);
  if (e.ciphertexts.length !== packing.ciphertextsFor(e.length)) {
    throw new RangeError(`${fn}: "${arg}" has ${e.ciphertexts.length} ciphertexts, expected ${packing.ciphertextsFor(e.length)} for ${e.length} values`);
  }
  e.ciphertexts.forEach((c, i) => checkCiphertextRange(fn, publicKey, c, `${arg}.ciphertexts[${i}]`));
  return e;
}

/** Encode, pack and encrypt one client's vector (contributions = 1). */
export function encryptVector(publicKey: PaillierPublicKey, packing: PaillierPacking, values: IntegerVector): EncryptedVector {
  checkPacking('encryptVector', publicKey, packing);
  const plaintexts = packing.encode(values);
  return { length: values.length, contributions: 1, ciphertexts: plaintexts.map((m) => encrypt(publicKey, m)) };
}

/**
 * Homomorphic sum of encrypted vectors (balanced tree per ciphertext
 * position). Checks shapes and the total contribution count against the
 * packing first (TooManyClientsError), then every ciphertext (InvalidCiphertextError).
 */
export function addVectors(publicKey: PaillierPublicKey, packing: PaillierPacking, vectors: readonly EncryptedVector[]): EncryptedVector {
  const fn = 'addVectors';
  checkPacking(fn, publicKey, packing);
  if (!Array.isArray(vectors) || vectors.length === 0) throw new TypeError(`${fn}: "vectors" expected non-empty array, got ${describe(vectors)}`);
  vectors.forEach((v, i) => checkEncryptedVector(fn, publicKey, packing, v, `vectors[${i}]`));
  const length = vectors[0]!.length;
  vectors.forEach((v, i) => {
    if (v.length !== length) throw new RangeError(`${fn}: "vectors[${i}]" has length ${v.length}, expected ${length}`);
  });
  const contributions = vectors.reduce((a, v) => a + v.contributions, 0);
  packing.checkContributions(fn, contributions);
  const { n, n2 } = publicKey;
  const ciphertexts: bigint[] = [];
  // every element was range-checked above; the unit check (gcd with n) runs
  // once on the product of all sums, and per position only if that fails
  let all = 1n;
  for (let k = 0; k < vectors[0]!.ciphertexts.length; k++) {
    const s = treeProduct(vectors.map((v) => v.ciphertexts[k]!), n2);
    ciphertexts.push(s);
    all = (all * (s % n)) % n;
  }
  if (gcd(all, n) !== 1n) {
    vectors.forEach((v, i) => v.ciphertexts.forEach((c: bigint, k: number) => validateCiphertext(publicKey, c, fn, `vectors[${i}].ciphertexts[${k}]`)));
  }
  return { length, contributions, ciphertexts };
}

/** Re-randomize every ciphertext of a vector. */
export function rerandomizeVector(publicKey: PaillierPublicKey, v: EncryptedVector): EncryptedVector {
  return { length: v.length, contributions: v.contributions, ciphertexts: v.ciphertexts.map((c) => rerandomize(publicKey, c)) };
}

/** Decrypt, unpack and remove the offsets: exact sums as bigints. */
export function decryptVector(privateKey: PaillierPrivateKey, packing: PaillierPacking, v: EncryptedVector): bigint[] {
  checkPacking('decryptVector', privateKey.publicKey, packing);
  checkEncryptedVector('decryptVector', privateKey.publicKey, packing, v);
  return packing.decode(v.ciphertexts.map((c) => decrypt(privateKey, c)), v.length, v.contributions);
}

export function encryptedVectorToBytes(publicKey: PaillierPublicKey, v: EncryptedVector): Uint8Array {
  const L = publicKey.ciphertextByteLength;
  const out = new Uint8Array(8 + v.ciphertexts.length * L);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, v.length);
  dv.setUint32(4, v.contributions);
  v.ciphertexts.forEach((c, i) => out.set(ciphertextToBytes(publicKey, c), 8 + i * L));
  return out;
}

/** Parse the wire form; EncodingLengthError for a wrong length, InvalidCiphertextError for elements outside [1, n^2). */
export function encryptedVectorFromBytes(publicKey: PaillierPublicKey, packing: PaillierPacking, b: Uint8Array): EncryptedVector {
  const fn = 'encryptedVectorFromBytes';
  checkPacking(fn, publicKey, packing);
  if (!(b instanceof Uint8Array)) throw new TypeError(`${fn}: "bytes" expected Uint8Array, got ${describe(b)}`);
  if (b.length < 8) throw new EncodingLengthError(`${fn}: "bytes" too short (${b.length} bytes)`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const length = dv.getUint32(0);
  const contributions = dv.getUint32(4);
  packing.checkContributions(fn, contributions);
  const L = publicKey.ciphertextByteLength;
  const k = packing.ciphertextsFor(length);
  if (b.length !== 8 + k * L) throw new EncodingLengthError(`${fn}: expected ${8 + k * L} bytes for ${length} values, got ${b.length}`);
  const ciphertexts: bigint[] = [];
  for (let i = 0; i < k; i++) ciphertexts.push(ciphertextFromBytes(publicKey, b.subarray(8 + i * L, 8 + (i + 1) * L), { checkUnit: false }));
  return { length, contributions, ciphertexts };
}
