/**
 * The bytes of every SecAgg message, parsed strictly: a version byte and a
 * type byte, then fixed-size fields; a decoder checks the exact length and
 * every count and index against the plan's n before it reads, and throws
 * RangeError (a client refuses such a message with rule 'malformed'; the
 * server treats a client whose message does not parse as dropped). The
 * checks of what the ids MEAN (repeated, non-neighbour, nested sets) are the
 * client's (secagg-client.ts), so that each refusal names its rule.
 *
 * Rendezvous keys `<inv>/secagg/r<round>/<what>`; sizes with n_1 = |U1|,
 * d = the client's neighbours that are alive, m' = entries, w = 4 or 8:
 *
 *   round  key            from → to        bytes
 *   0      r0/advertise   client → SERVER  2 + 64 (+ 64)          (c_pk, s_pk (, Ed25519 signature))
 *   1      r1/keys        SERVER → client  2 + 4 + 68 n_1 (+ 64 n_1) ((index, c_pk, s_pk (, signature)) of U1)
 *   1      r1/shares      client → SERVER  2 + 4 + 116 d          ((receiver, encrypted shares))
 *   2      r2/routed      SERVER → client  2 + 4 + 116 d          ((sender, encrypted shares))
 *   2      r2/masked      client → SERVER  2 + w m'               (masked input)
 *   3      r3/survivors   SERVER → client  2 + 4 + 4 n_3          (U3)                 malicious only
 *   3      r3/signature   client → SERVER  2 + 64                 (signature of U3)    malicious only
 *   4      r4/signatures  SERVER → client  2 + 4 + 68 n_4          ((index, signature)) malicious only
 *   4      r4/unmask      SERVER → client  2 + 8 + 4 (a + e)      (alive, dead neighbours)
 *   4      r4/reveal      client → SERVER  2 + 4 + 49 (a + e + 1) ((owner, kind, share))
 *
 * The signed forms (the malicious-server variant) carry Ed25519 signatures
 * (64 bytes) by the clients' pinned signing keys.
 */
import { SHAMIR_SHARE_BYTES } from '../crypto/shamir.js';
import type { MaskAccumulator } from '../crypto/mask-prg.js';

export const SECAGG_WIRE_VERSION = 1;
export const PUBLIC_KEY_BYTES = 32;
/** Encrypted shares: u32 sender, u32 receiver, key share, seed share (96 bytes) + 16-byte tag. */
export const SHARES_PLAINTEXT_BYTES = 8 + 2 * SHAMIR_SHARE_BYTES;
export const SHARES_CIPHERTEXT_BYTES = SHARES_PLAINTEXT_BYTES + 16;

export const SIGNATURE_BYTES = 64;
export const MSG = Object.freeze({ advertise: 0x10, keys: 0x11, shares: 0x12, routed: 0x13, masked: 0x14, unmask: 0x15, reveal: 0x16, survivors: 0x17, signature: 0x18, signatures: 0x19 });
type MsgType = keyof typeof MSG;

/** What a revealed share opens: the owner's self-mask seed (it is alive) or its masking key (it dropped). */
export const SHARE_KIND = Object.freeze({ seed: 1, key: 2 });
export type ShareKind = keyof typeof SHARE_KIND;

/** Rendezvous key of a message of `round` (the round is what a dropout schedule reads). */
export function secAggKey(invocationId: string, round: number, what: string): string {
  return `${invocationId}/secagg/r${round}/${what}`;
}

/** The round of a SecAgg rendezvous key, or undefined. */
export function roundOfKey(key: string): number | undefined {
  const m = /\/secagg\/r([0-9])\//.exec(key);
  return m ? Number(m[1]) : undefined;
}

function header(type: MsgType, body: number): { out: Uint8Array; dv: DataView } {
  const out = new Uint8Array(2 + body);
  out[0] = SECAGG_WIRE_VERSION;
  out[1] = MSG[type];
  return { out, dv: new DataView(out.buffer) };
}

function open(bytes: Uint8Array, type: MsgType): DataView {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`secagg ${type}: expected bytes`);
  if (bytes.length < 2) throw new RangeError(`secagg ${type}: ${bytes.length} bytes, too short`);
  if (bytes[0] !== SECAGG_WIRE_VERSION) throw new RangeError(`secagg ${type}: version ${bytes[0]}, expected ${SECAGG_WIRE_VERSION}`);
  if (bytes[1] !== MSG[type]) throw new RangeError(`secagg ${type}: message type 0x${bytes[1]!.toString(16)}, expected 0x${MSG[type].toString(16)}`);
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A counted list: u32 count at offset 2, then count items of `item` bytes; exact length, count <= max. */
function counted(bytes: Uint8Array, type: MsgType, item: number, max: number): { dv: DataView; count: number } {
  const dv = open(bytes, type);
  if (bytes.length < 6) throw new RangeError(`secagg ${type}: ${bytes.length} bytes, too short`);
  const count = dv.getUint32(2, true);
  if (count > max) throw new RangeError(`secagg ${type}: ${count} entries, at most ${max}`);
  if (bytes.length !== 6 + item * count) throw new RangeError(`secagg ${type}: ${bytes.length} bytes for ${count} entries, expected ${6 + item * count}`);
  return { dv, count };
}

// The decoders of lists (keys, encrypted shares, revealed shares) return views
// into the message's bytes (subarray, no copy per item: at n = 1000 SERVER
// decodes a million of them); a received message is never written to.

/** A well-formed message naming an index that is not a client of the plan. */
export class UnknownIndexError extends RangeError {
  override name = 'UnknownIndexError';
}

function index(dv: DataView, at: number, n: number, type: MsgType): number {
  const i = dv.getUint32(at, true);
  if (i >= n) throw new UnknownIndexError(`secagg ${type}: index ${i} is not a client of the plan (n = ${n})`);
  return i;
}

// ---------------------------------------------------------------- round 0: advertise

export interface AdvertisedKeys {
  /** Encryption key (X25519 public): the shares sent to this client are encrypted under a key agreed with it. */
  readonly cpk: Uint8Array;
  /** Masking key (X25519 public): pairwise masks come from keys agreed with it. */
  readonly spk: Uint8Array;
  /** Malicious-server variant: the client's Ed25519 signature of its keys (secagg-consistency.ts). */
  readonly sig?: Uint8Array;
}

const keyBytes = (signed: boolean): number => 64 + (signed ? SIGNATURE_BYTES : 0);

export function advertiseToBytes(k: AdvertisedKeys): Uint8Array {
  const { out } = header('advertise', keyBytes(k.sig !== undefined));
  out.set(k.cpk, 2);
  out.set(k.spk, 34);
  if (k.sig !== undefined) out.set(k.sig, 66);
  return out;
}

export function advertiseFromBytes(bytes: Uint8Array, signed = false): AdvertisedKeys {
  open(bytes, 'advertise');
  if (bytes.length !== 2 + keyBytes(signed)) throw new RangeError(`secagg advertise: ${bytes.length} bytes, expected ${2 + keyBytes(signed)}`);
  return { cpk: bytes.slice(2, 34), spk: bytes.slice(34, 66), ...(signed ? { sig: bytes.slice(66, 130) } : {}) };
}

// ---------------------------------------------------------------- round 1: the keys of U1

export interface KeyEntry extends AdvertisedKeys {
  readonly index: number;
}

/** The keys of U1 (signed: every entry carries its signature). */
export function keysToBytes(entries: readonly KeyEntry[], signed = false): Uint8Array {
  const item = 4 + keyBytes(signed);
  const { out, dv } = header('keys', 4 + item * entries.length);
  dv.setUint32(2, entries.length, true);
  entries.forEach((e, j) => {
    const at = 6 + item * j;
    dv.setUint32(at, e.index, true);
    out.set(e.cpk, at + 4);
    out.set(e.spk, at + 36);
    if (signed) out.set(e.sig!, at + 68);
  });
  return out;
}

/** Entries in message order (indices < n; repetitions are the client's to judge). */
export function keysFromBytes(bytes: Uint8Array, n: number, signed = false): KeyEntry[] {
  const item = 4 + keyBytes(signed);
  const { dv, count } = counted(bytes, 'keys', item, n);
  const out: KeyEntry[] = [];
  for (let j = 0; j < count; j++) {
    const at = 6 + item * j;
    out.push({ index: index(dv, at, n, 'keys'), cpk: bytes.subarray(at + 4, at + 36), spk: bytes.subarray(at + 36, at + 68), ...(signed ? { sig: bytes.subarray(at + 68, at + 132) } : {}) });
  }
  return out;
}

// ---------------------------------------------------------------- rounds 1 and 2: encrypted shares

/** An encrypted pair of shares and the other end (the receiver when a client sends, the sender when SERVER routes). */
export interface SealedShares {
  readonly peer: number;
  readonly ct: Uint8Array;
}

const SEALED_ITEM = 4 + SHARES_CIPHERTEXT_BYTES;

export function sealedToBytes(type: 'shares' | 'routed', entries: readonly SealedShares[]): Uint8Array {
  const { out, dv } = header(type, 4 + SEALED_ITEM * entries.length);
  dv.setUint32(2, entries.length, true);
  entries.forEach((e, j) => {
    const at = 6 + SEALED_ITEM * j;
    if (e.ct.length !== SHARES_CIPHERTEXT_BYTES) throw new RangeError(`secagg ${type}: a ciphertext of ${e.ct.length} bytes, expected ${SHARES_CIPHERTEXT_BYTES}`);
    dv.setUint32(at, e.peer, true);
    out.set(e.ct, at + 4);
  });
  return out;
}

export function sealedFromBytes(type: 'shares' | 'routed', bytes: Uint8Array, n: number): SealedShares[] {
  const { dv, count } = counted(bytes, type, SEALED_ITEM, n);
  const out: SealedShares[] = [];
  for (let j = 0; j < count; j++) {
    const at = 6 + SEALED_ITEM * j;
    out.push({ peer: index(dv, at, n, type), ct: bytes.subarray(at + 4, at + SEALED_ITEM) });
  }
  return out;
}

/**
 * The peers of an encrypted-shares message in message order, with the checks
 * of `sealedFromBytes` and no object per item (SERVER routes n(n − 1)
 * ciphertexts on the complete graph); item j's ciphertext is copied by
 * `routeSealed`.
 */
export function sealedPeers(type: 'shares' | 'routed', bytes: Uint8Array, n: number): Uint32Array {
  const { dv, count } = counted(bytes, type, SEALED_ITEM, n);
  const out = new Uint32Array(count);
  for (let j = 0; j < count; j++) out[j] = index(dv, 6 + SEALED_ITEM * j, n, type);
  return out;
}

/**
 * SERVER's `routed` message: `items` = [sender, j, sender, j, ...], item j of
 * `messages[sender]` (a `shares` message that passed `sealedPeers`) with its
 * peer field replaced by the sender: the ciphertexts as sent, the same bytes
 * as `sealedToBytes('routed', [{ peer: sender, ct }, ...])`.
 */
export function routeSealed(items: readonly number[], messages: readonly (Uint8Array | undefined)[]): Uint8Array {
  const count = items.length >>> 1;
  const { out, dv } = header('routed', 4 + SEALED_ITEM * count);
  dv.setUint32(2, count, true);
  for (let k = 0; k < count; k++) {
    const sender = items[2 * k]!;
    const from = 6 + SEALED_ITEM * items[2 * k + 1]! + 4;
    const at = 6 + SEALED_ITEM * k;
    dv.setUint32(at, sender, true);
    out.set(messages[sender]!.subarray(from, from + SHARES_CIPHERTEXT_BYTES), at + 4);
  }
  return out;
}

// ---------------------------------------------------------------- round 2: masked input

export function maskedToBytes(y: MaskAccumulator): Uint8Array {
  const { out } = header('masked', y.byteLength);
  out.set(new Uint8Array(y.buffer, y.byteOffset, y.byteLength), 2);
  return out;
}

export function maskedFromBytes(bytes: Uint8Array, bits: number, entries: number): MaskAccumulator {
  const body = maskedBody(bytes, bits, entries).slice();
  return bits <= 32 ? new Uint32Array(body.buffer) : new BigUint64Array(body.buffer);
}

/**
 * The masked vector's bytes (entries little-endian, w = 4 or 8 bytes each),
 * a view into the message after the checks of `maskedFromBytes`: SERVER adds
 * it into its sum from there (`MaskSum.addBytes`), with no copy per client.
 */
export function maskedBody(bytes: Uint8Array, bits: number, entries: number): Uint8Array {
  open(bytes, 'masked');
  const w = bits <= 32 ? 4 : 8;
  if (bytes.length !== 2 + w * entries) throw new RangeError(`secagg masked: ${bytes.length} bytes, expected ${2 + w * entries}`);
  return bytes.subarray(2);
}

// ---------------------------------------------------------------- round 4: unmasking

export interface UnmaskRequest {
  /** Neighbours whose masked input is in the sum: reveal their self-mask seed shares. */
  readonly alive: readonly number[];
  /** Neighbours that shared keys but whose masked input is not: reveal their masking-key shares. */
  readonly dead: readonly number[];
}

export function unmaskToBytes(r: UnmaskRequest): Uint8Array {
  const { out, dv } = header('unmask', 8 + 4 * (r.alive.length + r.dead.length));
  dv.setUint32(2, r.alive.length, true);
  dv.setUint32(6, r.dead.length, true);
  [...r.alive, ...r.dead].forEach((i, j) => dv.setUint32(10 + 4 * j, i, true));
  return out;
}

export function unmaskFromBytes(bytes: Uint8Array, n: number): UnmaskRequest {
  const dv = open(bytes, 'unmask');
  if (bytes.length < 10) throw new RangeError(`secagg unmask: ${bytes.length} bytes, too short`);
  const a = dv.getUint32(2, true);
  const d = dv.getUint32(6, true);
  if (a > n || d > n) throw new RangeError(`secagg unmask: ${a} alive and ${d} dead, at most ${n} each`);
  if (bytes.length !== 10 + 4 * (a + d)) throw new RangeError(`secagg unmask: ${bytes.length} bytes for ${a + d} ids, expected ${10 + 4 * (a + d)}`);
  const ids = Array.from({ length: a + d }, (_, j) => index(dv, 10 + 4 * j, n, 'unmask'));
  return { alive: ids.slice(0, a), dead: ids.slice(a) };
}

export interface RevealedShare {
  /** The client whose secret this is a share of. */
  readonly owner: number;
  readonly kind: ShareKind;
  readonly share: Uint8Array;
}

const REVEAL_ITEM = 5 + SHAMIR_SHARE_BYTES;

export function revealToBytes(entries: readonly RevealedShare[]): Uint8Array {
  const { out, dv } = header('reveal', 4 + REVEAL_ITEM * entries.length);
  dv.setUint32(2, entries.length, true);
  entries.forEach((e, j) => {
    const at = 6 + REVEAL_ITEM * j;
    dv.setUint32(at, e.owner, true);
    out[at + 4] = SHARE_KIND[e.kind];
    out.set(e.share, at + 5);
  });
  return out;
}

export function revealFromBytes(bytes: Uint8Array, n: number): RevealedShare[] {
  const { dv, count } = counted(bytes, 'reveal', REVEAL_ITEM, 2 * n);
  const out: RevealedShare[] = [];
  for (let j = 0; j < count; j++) {
    const at = 6 + REVEAL_ITEM * j;
    const k = bytes[at + 4];
    if (k !== SHARE_KIND.seed && k !== SHARE_KIND.key) throw new RangeError(`secagg reveal: share kind ${String(k)}, expected 1 (seed) or 2 (key)`);
    out.push({ owner: index(dv, at, n, 'reveal'), kind: k === SHARE_KIND.seed ? 'seed' : 'key', share: bytes.subarray(at + 5, at + REVEAL_ITEM) });
  }
  return out;
}

// ---------------------------------------------------------------- round 3 (malicious-server variant): consistency

/** U3 (SERVER → each client of U3). */
export function survivorsToBytes(ids: readonly number[]): Uint8Array {
  const { dv } = header('survivors', 4 + 4 * ids.length);
  dv.setUint32(2, ids.length, true);
  ids.forEach((i, j) => dv.setUint32(6 + 4 * j, i, true));
  return new Uint8Array(dv.buffer);
}

export function survivorsFromBytes(bytes: Uint8Array, n: number): number[] {
  const { dv, count } = counted(bytes, 'survivors', 4, n);
  return Array.from({ length: count }, (_, j) => index(dv, 6 + 4 * j, n, 'survivors'));
}

export function signatureToBytes(sig: Uint8Array): Uint8Array {
  const { out } = header('signature', SIGNATURE_BYTES);
  out.set(sig, 2);
  return out;
}

export function signatureFromBytes(bytes: Uint8Array): Uint8Array {
  open(bytes, 'signature');
  if (bytes.length !== 2 + SIGNATURE_BYTES) throw new RangeError(`secagg signature: ${bytes.length} bytes, expected ${2 + SIGNATURE_BYTES}`);
  return bytes.slice(2);
}

export interface IndexedSignature {
  readonly index: number;
  readonly sig: Uint8Array;
}

/** The signatures of U3 SERVER collected (SERVER → each client of U4). */
export function signaturesToBytes(entries: readonly IndexedSignature[]): Uint8Array {
  const item = 4 + SIGNATURE_BYTES;
  const { out, dv } = header('signatures', 4 + item * entries.length);
  dv.setUint32(2, entries.length, true);
  entries.forEach((e, j) => {
    dv.setUint32(6 + item * j, e.index, true);
    out.set(e.sig, 10 + item * j);
  });
  return out;
}

export function signaturesFromBytes(bytes: Uint8Array, n: number): IndexedSignature[] {
  const item = 4 + SIGNATURE_BYTES;
  const { dv, count } = counted(bytes, 'signatures', item, n);
  return Array.from({ length: count }, (_, j) => ({ index: index(dv, 6 + item * j, n, 'signatures'), sig: bytes.slice(10 + item * j, 6 + item * (j + 1)) }));
}
