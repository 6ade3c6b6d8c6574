/**
 * The SecAgg mask PRG: AES-128-CTR keystreams, keyed by HKDF-SHA256 of a
 * full 32-byte secret (an X25519 shared secret for a pairwise mask, a
 * client's self-mask seed for its self mask), expanded in chunks straight
 * into an accumulator modulo 2^bits (1 <= bits <= 64). A whole mask is never
 * materialised.
 *
 * Key derivation (docs/secagg.md pins it with known-answer tests):
 *   key  = HKDF-SHA256(ikm = secret (32 bytes), salt = "fedcrypt/secagg/mask/v1",
 *                      info, L = 16)
 *   info = "fedcrypt/secagg/mask/v1" || 0x00 || purpose (1 byte: 0x01 pairwise, 0x02 self)
 *          || bits (1 byte) || lp(round) || lp(id_1) [|| lp(id_2)]
 *   lp(x) = length of x as u32 big-endian || x (UTF-8 for strings)
 *   pairwise: id_1 < id_2 in byte order of their UTF-8 (the canonical order),
 *             so both ends derive the same key; self: the owner's id alone.
 *   stream = AES-128-CTR(key, IV = 0^128), entry i = bytes [w*i, w*i + w) read
 *            little-endian, w = 4 (bits <= 32) or 8 (bits > 32).
 *
 * Modulus: entries are added modulo 2^32 (bits <= 32, a `Uint32Array`) or
 * 2^64 (bits > 32, a `BigUint64Array`); since 2^bits divides the word's
 * modulus, reducing once at the end (`reduceMasked`: keep the low `bits`
 * bits) gives the sum modulo 2^bits exactly, and the low bits of a uniform
 * word are a uniform mask modulo 2^bits.
 *
 * Pairwise sign: the client whose id comes first in the canonical order adds
 * the stream, the other subtracts it, so the pair's masks cancel in the sum.
 */
import { createCipheriv, hkdfSync } from 'node:crypto';
import { endianness } from 'node:os';
import { checkBytes, checkName, describe } from './identity.js';

export const MASK_LABEL = 'fedcrypt/secagg/mask/v1';
export const MASK_SECRET_BYTES = 32;
export type MaskPurpose = 'pairwise' | 'self';
const PURPOSE_BYTE: Record<MaskPurpose, number> = { pairwise: 1, self: 2 };
/** Keystream bytes per cipher call: 64 KiB stays below glibc's mmap threshold, so node's output buffers are recycled. */
const CHUNK = 64 * 1024;
const zero = new Uint8Array(CHUNK);
const enc = new TextEncoder();

if (endianness() !== 'LE') throw new Error('mask-prg: a little-endian platform is required (typed-array views of the keystream)');

/** Accumulator of masked entries: `Uint32Array` for bits <= 32, `BigUint64Array` for bits > 32. */
export type MaskAccumulator = Uint32Array | BigUint64Array;

export interface MaskLabel {
  /** The round id (fresh per round: a key is never reused across rounds). */
  readonly round: string | Uint8Array;
  /** Modulus bits, 1..64. */
  readonly bits: number;
}

function checkBits(bits: unknown, fn: string): number {
  if (typeof bits !== 'number') throw new TypeError(`${fn}: "bits" expected an integer, got ${describe(bits)}`);
  if (!Number.isInteger(bits) || bits < 1 || bits > 64) throw new RangeError(`${fn}: "bits" expected an integer in [1, 64], got ${bits}`);
  return bits;
}

function roundBytes(round: unknown, fn: string): Uint8Array {
  if (typeof round === 'string') {
    if (round.length === 0) throw new RangeError(`${fn}: "round" expected a non-empty id`);
    return enc.encode(round);
  }
  if (round instanceof Uint8Array) {
    if (round.length === 0) throw new RangeError(`${fn}: "round" expected a non-empty id`);
    return round;
  }
  throw new TypeError(`${fn}: "round" expected string or Uint8Array, got ${describe(round)}`);
}

function lp(x: Uint8Array): Buffer {
  const out = Buffer.alloc(4 + x.length);
  out.writeUInt32BE(x.length, 0);
  out.set(x, 4);
  return out;
}

/** The HKDF info string of a mask key (exported for the known-answer tests and docs). */
export function maskInfo(purpose: MaskPurpose, label: MaskLabel, ids: readonly string[]): Uint8Array {
  const fn = 'maskInfo';
  if (purpose !== 'pairwise' && purpose !== 'self') throw new RangeError(`${fn}: "purpose" expected 'pairwise' or 'self', got ${JSON.stringify(purpose)}`);
  if (typeof label !== 'object' || label === null) throw new TypeError(`${fn}: "label" expected { round, bits }, got ${describe(label)}`);
  const bits = checkBits(label.bits, fn);
  const round = roundBytes(label.round, fn);
  const idBytes = ids.map((id, i) => enc.encode(checkName(id, `ids[${i}]`, fn)));
  return Buffer.concat([enc.encode(MASK_LABEL), Buffer.from([0, PURPOSE_BYTE[purpose], bits]), lp(round), ...idBytes.map(lp)]);
}

function hkdf16(secret: Uint8Array, info: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', secret, enc.encode(MASK_LABEL), info, 16));
}

/** Byte-wise order of two ids' UTF-8: negative when a comes first. */
export function compareIds(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The AES-128 key of the pairwise mask between clients `a` and `b` (either
 * order: the ids are put in canonical order) from their 32-byte X25519
 * shared secret.
 */
export function pairwiseMaskKey(sharedSecret: Uint8Array, label: MaskLabel, a: string, b: string): Uint8Array {
  const fn = 'pairwiseMaskKey';
  checkBytes(sharedSecret, 'sharedSecret', fn, MASK_SECRET_BYTES);
  checkName(a, 'a', fn);
  checkName(b, 'b', fn);
  const c = compareIds(a, b);
  if (c === 0) throw new RangeError(`${fn}: "b" must differ from "a" (${JSON.stringify(a)}): no pairwise mask with oneself`);
  return hkdf16(sharedSecret, maskInfo('pairwise', label, c < 0 ? [a, b] : [b, a]));
}

/** The AES-128 key of client `id`'s self mask from its 32-byte self-mask seed. */
export function selfMaskKey(seed: Uint8Array, label: MaskLabel, id: string): Uint8Array {
  const fn = 'selfMaskKey';
  checkBytes(seed, 'seed', fn, MASK_SECRET_BYTES);
  return hkdf16(seed, maskInfo('self', label, [id]));
}

/** +1 when `me` adds the pairwise mask with `peer` (me first in the canonical order), -1 when it subtracts it. */
export function pairwiseSign(me: string, peer: string): 1 | -1 {
  checkName(me, 'me', 'pairwiseSign');
  checkName(peer, 'peer', 'pairwiseSign');
  const c = compareIds(me, peer);
  if (c === 0) throw new RangeError(`pairwiseSign: "peer" must differ from "me" (${JSON.stringify(me)})`);
  return c < 0 ? 1 : -1;
}

function checkAcc(acc: unknown, bits: number, fn: string): MaskAccumulator {
  if (bits <= 32) {
    if (!(acc instanceof Uint32Array)) throw new TypeError(`${fn}: "acc" expected Uint32Array for bits <= 32, got ${describe(acc)}`);
  } else if (!(acc instanceof BigUint64Array)) {
    throw new TypeError(`${fn}: "acc" expected BigUint64Array for bits > 32, got ${describe(acc)}`);
  }
  return acc as MaskAccumulator;
}

let scratch = new Int32Array(CHUNK / 4);

/**
 * acc += sign * stream(key) entry by entry, modulo 2^32 (Uint32Array) or 2^64
 * (BigUint64Array), in 64 KiB keystream chunks. `key`: 16 bytes from
 * `pairwiseMaskKey` / `selfMaskKey`. Reduce with `reduceMasked` at the end.
 *
 * The loops work on Int32Array views (small integers in V8, no doubles); a
 * 64-bit entry is a (lo, hi) word pair with the carry (borrow) out of the
 * low word computed without a branch from the operands' and the result's
 * top bits (a branch on random carries mispredicts half the time: 2x slower).
 */
export function addMask(acc: MaskAccumulator, key: Uint8Array, sign: 1 | -1, bits: number): MaskAccumulator {
  const fn = 'addMask';
  checkBits(bits, fn);
  checkAcc(acc, bits, fn);
  checkBytes(key, 'key', fn, 16);
  if (sign !== 1 && sign !== -1) throw new RangeError(`${fn}: "sign" expected 1 or -1, got ${String(sign)}`);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const words = new Int32Array(acc.buffer, acc.byteOffset, acc.byteLength >>> 2);
  const wide = acc instanceof BigUint64Array;
  const total = words.length;
  for (let off = 0; off < total; off += CHUNK / 4) {
    const n = Math.min(CHUNK / 4, total - off);
    const buf = cipher.update(n === CHUNK / 4 ? zero : zero.subarray(0, n * 4));
    let ks: Int32Array;
    if ((buf.byteOffset & 3) === 0) ks = new Int32Array(buf.buffer, buf.byteOffset, n);
    else {
      new Uint8Array(scratch.buffer, 0, n * 4).set(buf.subarray(0, n * 4));
      ks = scratch;
    }
    if (!wide) {
      if (sign === 1) for (let i = 0; i < n; i++) words[off + i] = (words[off + i]! + ks[i]!) | 0;
      else for (let i = 0; i < n; i++) words[off + i] = (words[off + i]! - ks[i]!) | 0;
    } else if (sign === 1) {
      for (let i = 0; i < n; i += 2) {
        const x = words[off + i]!, k = ks[i]!;
        const s = (x + k) | 0;
        words[off + i] = s;
        words[off + i + 1] = (words[off + i + 1]! + ks[i + 1]! + (((x & k) | ((x | k) & ~s)) >>> 31)) | 0;
      }
    } else {
      for (let i = 0; i < n; i += 2) {
        const x = words[off + i]!, k = ks[i]!;
        const s = (x - k) | 0;
        words[off + i] = s;
        words[off + i + 1] = (words[off + i + 1]! - ks[i + 1]! - (((~x & k) | (~(x ^ k) & s)) >>> 31)) | 0;
      }
    }
  }
  return acc;
}

/** Keep the low `bits` bits of every entry (the sum modulo 2^bits); in place, returns `acc`. */
export function reduceMasked(acc: MaskAccumulator, bits: number): MaskAccumulator {
  const fn = 'reduceMasked';
  checkBits(bits, fn);
  checkAcc(acc, bits, fn);
  if (bits === 32 || bits === 64) return acc;
  const words = new Uint32Array(acc.buffer, acc.byteOffset, acc.byteLength >>> 2);
  if (bits < 32) {
    const m = (2 ** bits - 1) >>> 0;
    for (let i = 0; i < words.length; i++) words[i] = words[i]! & m;
  } else {
    const m = (2 ** (bits - 32) - 1) >>> 0;
    for (let i = 1; i < words.length; i += 2) words[i] = words[i]! & m;
  }
  return acc;
}

/** A zeroed accumulator of `length` entries for `bits`. */
export function maskAccumulator(bits: number, length: number): MaskAccumulator {
  checkBits(bits, 'maskAccumulator');
  if (typeof length !== 'number') throw new TypeError(`maskAccumulator: "length" expected an integer, got ${describe(length)}`);
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`maskAccumulator: "length" expected a non-negative integer, got ${length}`);
  return bits <= 32 ? new Uint32Array(length) : new BigUint64Array(length);
}
