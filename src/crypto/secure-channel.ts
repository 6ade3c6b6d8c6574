/**
 * Authenticated, confidential channels between players whose static X25519
 * public keys are PINNED (from configuration; never taken from a router or
 * from the peer itself).
 *
 * 1. Link handshake (Noise-KK-like, three messages, both static keys known
 *    in advance):
 *      I -> R  msg1 = version, suite, initiator name, responder name, E_i
 *      R -> I  msg2 = E_r, confirm_R
 *      I -> R  msg3 = confirm_I
 *    ikm = DH(e_i,E_r) || DH(e_i,S_r) || DH(s_i,E_r) || DH(s_i,S_r);
 *    h   = SHA-256(label, suite, context, name_i, S_i, name_r, S_r, E_i, E_r);
 *    HKDF-SHA256(ikm, salt = h) -> key I->R, key R->I, confirm_R, confirm_I.
 *    Each side proves its static key through a DH it alone can compute with the
 *    other's fresh ephemeral (es / se), so a stolen key of one side does not let
 *    an attacker impersonate the other (no key-compromise impersonation), and
 *    ee gives forward secrecy. Both identities and the context (e.g. a run id)
 *    are bound into every key.
 *
 * 2. Session: AEAD (AES-256-GCM by default, or ChaCha20-Poly1305) per message,
 *    one key per direction, 96-bit nonce = 0^32 || seq (64-bit big-endian),
 *    seq strictly increasing on send; the header (version, seq, associated data
 *    such as a round id) is authenticated. Receive rejects a bad tag
 *    (ChannelAuthError), a replayed or out-of-window seq (ReplayError), an
 *    authentic message carrying other associated data than expected
 *    (WrongContextError).
 *
 * 3. Sealed box, for messages routed through an untrusted relay (CLIENTS ->
 *    AGGREGATORS via the server): one message, fresh ephemeral E,
 *    key = HKDF(DH(e,S_r) || DH(s_s,S_r), salt = SHA-256(label, suite, context,
 *    names, static keys, E)); authenticates the sender to the recipient, a
 *    per-(sender, recipient) sequence number and associated data are
 *    authenticated and checked against a replay window. Limits (inherent to a
 *    one-message design): no forward secrecy against a later theft of the
 *    recipient's key, and whoever holds the recipient's private key can forge
 *    boxes to that recipient.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync } from 'node:crypto';
import {
  KEY_BYTES,
  PrivateKey,
  bytesEqual,
  checkBytes,
  checkName,
  describe,
  generateIdentity,
  type Identity,
} from './identity.js';

export {
  generateIdentity,
  identityFromPrivateKey,
  exportPrivateKey,
  encodePublicKey,
  decodeKey,
  PrivateKey,
  type Identity,
} from './identity.js';

// ---------------------------------------------------------------- errors

export class SecureChannelError extends Error {
  /** The peer concerned, when known. */
  readonly peer: string | undefined;
  constructor(message: string, peer?: string) {
    super(message);
    this.name = new.target.name;
    this.peer = peer;
  }
}
/** Bad tag, bad key confirmation, or a malformed/forged message. */
export class ChannelAuthError extends SecureChannelError {}
/** A sequence number already seen, or older than the replay window. */
export class ReplayError extends SecureChannelError {}
/** A peer (by name) whose key is not pinned. */
export class UnknownPeerError extends SecureChannelError {}
/** An authentic message bound to other associated data (e.g. another round id) than expected. */
export class WrongContextError extends SecureChannelError {}
/** A handshake step called out of order, or a malformed handshake message. */
export class HandshakeError extends SecureChannelError {}

// ---------------------------------------------------------------- parameters

export type CipherSuite = 'aes-256-gcm' | 'chacha20-poly1305';
const SUITES: Record<CipherSuite, number> = { 'aes-256-gcm': 1, 'chacha20-poly1305': 2 };
const VERSION = 1;
const T_INIT = 1;
const T_RESP = 2;
const T_FIN = 3;
const T_DATA = 0x10;
const T_SEALED = 0x20;
const TAG = 16;
const LABEL_HS = 'fedcrypt/secure-channel/v1';
const LABEL_BOX = 'fedcrypt/sealed-box/v1';
const MAX_SEQ = Number.MAX_SAFE_INTEGER;
/**
 * Large messages go through the cipher in pieces of this size: node:crypto
 * allocates a fresh output buffer per update() call, and small buffers are
 * recycled by malloc while large ones cost page faults (2x slower overall).
 * 64 KiB (below glibc's default 128 KiB mmap threshold, so still recycled):
 * 4 MiB through AES-256-GCM + copy in 1.5 ms vs 4.0 ms in 16 KiB pieces (per
 * call overhead), and 4x fewer buffers for the GC; end to end over
 * GrpcTransport, receiver CPU per 4 MiB message 12-14 -> 7-9 ms (bench/transport).
 */
const PIECE = 64 * 1024;
/** Default replay window: accepts reordering by up to this many messages. */
export const DEFAULT_WINDOW = 1024;

/** Pinned public keys by player name. */
export type PinnedKeys = ReadonlyMap<string, Uint8Array>;

export interface LocalParty {
  name: string;
  identity: Identity;
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

function checkSuite(suite: unknown, fn: string): CipherSuite {
  if (typeof suite !== 'string' || !Object.hasOwn(SUITES, suite)) {
    throw new RangeError(`${fn}: "suite" expected 'aes-256-gcm' or 'chacha20-poly1305', got ${JSON.stringify(suite)}`);
  }
  return suite as CipherSuite;
}

function checkLocal(self: unknown, fn: string): LocalParty {
  if (typeof self !== 'object' || self === null) throw new TypeError(`${fn}: "self" expected { name, identity }, got ${describe(self)}`);
  const s = self as LocalParty;
  checkName(s.name, 'self.name', fn);
  if (!((s.identity as Identity | null | undefined)?.privateKey instanceof PrivateKey)) {
    throw new TypeError(`${fn}: "self.identity" expected { publicKey, privateKey: PrivateKey }`);
  }
  checkBytes(s.identity.publicKey, 'self.identity.publicKey', fn, KEY_BYTES);
  if (!bytesEqual(s.identity.publicKey, s.identity.privateKey.publicKey)) {
    throw new RangeError(`${fn}: "self.identity.publicKey" does not match its private key`);
  }
  return s;
}

function checkPinned(keys: unknown, name: string, fn: string): PinnedKeys {
  if (!(keys instanceof Map)) throw new TypeError(`${fn}: "${name}" expected Map<string, Uint8Array>, got ${describe(keys)}`);
  for (const [k, v] of keys) {
    checkName(k, `${name} key`, fn);
    checkBytes(v, `${name}.get(${JSON.stringify(k)})`, fn, KEY_BYTES);
  }
  return keys;
}

function checkContext(context: unknown, fn: string): Uint8Array {
  if (typeof context === 'string') return enc.encode(context);
  if (context instanceof Uint8Array) return context;
  throw new TypeError(`${fn}: "context" expected string or Uint8Array, got ${describe(context)}`);
}

function checkAd(ad: unknown, fn: string, name = 'ad'): Uint8Array {
  if (ad === undefined) return new Uint8Array(0);
  if (typeof ad === 'string') return enc.encode(ad);
  if (ad instanceof Uint8Array) return ad;
  throw new TypeError(`${fn}: "${name}" expected string or Uint8Array, got ${describe(ad)}`);
}

/** Length-prefixed (u32 BE) concatenation, for transcripts. */
function lp(...parts: Uint8Array[]): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(p.length);
    out.push(len, Buffer.from(p.buffer, p.byteOffset, p.byteLength));
  }
  return Buffer.concat(out);
}

function sha256(...parts: Uint8Array[]): Buffer {
  return createHash('sha256').update(lp(...parts)).digest();
}

function hkdf(ikm: Uint8Array, salt: Uint8Array, info: string, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}

function aeadSeal(suite: CipherSuite, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, pt: Uint8Array | readonly Uint8Array[], out: Buffer, offset: number): void {
  const parts = pt instanceof Uint8Array ? [pt] : pt;
  let total = 0;
  for (const p of parts) total += p.length;
  const c = createCipheriv(suite as 'aes-256-gcm', key, nonce, { authTagLength: TAG });
  c.setAAD(aad, { plaintextLength: total });
  let at = offset;
  for (const p of parts) {
    const ct = c.update(p);
    ct.copy(out, at);
    at += ct.length;
  }
  const fin = c.final();
  fin.copy(out, at);
  c.getAuthTag().copy(out, at + fin.length);
}

function aeadOpen(suite: CipherSuite, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ctAndTag: Uint8Array): Buffer | null {
  const pieces = aeadOpenPieces(suite, key, nonce, aad, ctAndTag);
  if (!pieces) return null;
  return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
}

/** Decrypt in PIECE-sized pieces; null (and the pieces wiped) if the tag is bad. */
function aeadOpenPieces(suite: CipherSuite, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ctAndTag: Uint8Array): Buffer[] | null {
  if (ctAndTag.length < TAG) return null;
  const ct = ctAndTag.subarray(0, ctAndTag.length - TAG);
  const d = createDecipheriv(suite as 'aes-256-gcm', key, nonce, { authTagLength: TAG });
  d.setAAD(aad, { plaintextLength: ct.length });
  d.setAuthTag(ctAndTag.subarray(ctAndTag.length - TAG));
  const out: Buffer[] = [];
  for (let o = 0; o < ct.length; o += PIECE) out.push(d.update(ct.subarray(o, o + PIECE)));
  try {
    const fin = d.final();
    if (fin.length || out.length === 0) out.push(fin);
    return out;
  } catch {
    for (const p of out) p.fill(0);
    return null;
  }
}

function nonceFor(seq: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(seq), 4);
  return n;
}

/** A byte reader that throws `mk(msg)` on truncation. */
class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array, readonly fail: (m: string) => Error) {}
  u8(): number {
    if (this.pos + 1 > this.buf.length) throw this.fail('truncated');
    return this.buf[this.pos++]!;
  }
  u32(): number {
    if (this.pos + 4 > this.buf.length) throw this.fail('truncated');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getUint32(0);
    this.pos += 4;
    return v;
  }
  u64(): number {
    if (this.pos + 8 > this.buf.length) throw this.fail('truncated');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getBigUint64(0);
    this.pos += 8;
    if (v > BigInt(MAX_SEQ)) throw this.fail('sequence number out of range');
    return Number(v);
  }
  bytes(n: number): Uint8Array {
    if (this.pos + n > this.buf.length) throw this.fail('truncated');
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  name(): string {
    const n = this.u8();
    if (n === 0) throw this.fail('empty name');
    try {
      return dec.decode(this.bytes(n));
    } catch (e) {
      if (e instanceof SecureChannelError) throw e;
      throw this.fail('name is not UTF-8');
    }
  }
  rest(): Uint8Array {
    const v = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return v;
  }
}

function nameBytes(name: string): Buffer {
  const b = Buffer.from(name); // UTF-8
  return Buffer.concat([Buffer.from([b.length]), b]);
}

// ---------------------------------------------------------------- replay window

/**
 * Sliding-window replay protection (as in IPsec/DTLS): a sequence number is
 * accepted once, and only if it is newer than `highest - window`. With
 * window 0, only strictly increasing numbers are accepted (gaps allowed).
 */
export class ReplayWindow {
  readonly window: number;
  #highest = -1;
  #seen = new Set<number>();

  constructor(window = DEFAULT_WINDOW) {
    if (!Number.isInteger(window)) throw new TypeError(`ReplayWindow: "window" expected integer, got ${describe(window)}`);
    if (window < 0 || window > 1 << 20) throw new RangeError(`ReplayWindow: "window" expected integer in [0, 1048576], got ${window}`);
    this.window = window;
  }

  /** Why `seq` would be refused, or null if it is acceptable. Does not change state. */
  check(seq: number): string | null {
    if (seq > this.#highest) return null;
    if (seq <= this.#highest - this.window) return `sequence number ${seq} is outside the replay window (highest seen ${this.#highest}, window ${this.window})`;
    if (this.#seen.has(seq)) return `sequence number ${seq} was already received`;
    return null;
  }

  /** Sequence numbers remembered now: at most 2 * window + 16 (none with window 0). */
  get tracked(): number {
    return this.#seen.size;
  }

  /** Record `seq` as received (call only after authenticating it). */
  mark(seq: number): void {
    if (seq > this.#highest) this.#highest = seq;
    if (this.window === 0) return;
    this.#seen.add(seq);
    if (this.#seen.size > 2 * this.window + 16) {
      const floor = this.#highest - this.window;
      for (const s of this.#seen) if (s <= floor) this.#seen.delete(s);
    }
  }
}

// ---------------------------------------------------------------- session

export interface SessionOptions {
  /** Reordering tolerated on receive (see ReplayWindow). Default 1024. */
  window?: number;
}

export interface OpenedMessage {
  plaintext: Uint8Array;
  /** The authenticated associated data carried by the message. */
  ad: Uint8Array;
  seq: number;
}

/** An established channel: seal to the peer, open from the peer. */
export class SecureSession {
  readonly localName: string;
  readonly peerName: string;
  /** Transcript hash of the handshake (32 bytes); equal on both sides. */
  readonly sessionId: Uint8Array;
  readonly suite: CipherSuite;
  #sendKey: Buffer;
  #recvKey: Buffer;
  #sendSeq = 0;
  #replay: ReplayWindow;
  #closed = false;

  /** @internal use the handshake classes. */
  constructor(localName: string, peerName: string, sessionId: Uint8Array, suite: CipherSuite, sendKey: Buffer, recvKey: Buffer, options: SessionOptions = {}) {
    this.localName = localName;
    this.peerName = peerName;
    this.sessionId = sessionId;
    this.suite = suite;
    this.#sendKey = sendKey;
    this.#recvKey = recvKey;
    this.#replay = new ReplayWindow(options.window ?? DEFAULT_WINDOW);
  }

  /** Next sequence number `seal` will use. */
  get nextSeq(): number {
    return this.#sendSeq;
  }

  #live(fn: string): void {
    if (this.#closed) throw new HandshakeError(`SecureSession.${fn}: session with "${this.peerName}" is closed`, this.peerName);
  }

  /**
   * Encrypt `plaintext` for the peer; `ad` (e.g. a round id) travels in clear
   * and is authenticated. Frame: version | type | seq (u64) | adLen (u32) | ad | ct | tag.
   */
  seal(plaintext: Uint8Array, ad?: Uint8Array | string): Uint8Array {
    checkBytes(plaintext, 'plaintext', 'SecureSession.seal');
    return this.sealParts([plaintext], ad);
  }

  /**
   * `seal` of the concatenation of `parts`, returned as pieces whose
   * concatenation is the frame (saves a copy when the caller copies into its
   * own wire buffer anyway).
   */
  sealPieces(parts: readonly Uint8Array[], ad?: Uint8Array | string): Uint8Array[] {
    this.#live('seal');
    if (!Array.isArray(parts)) throw new TypeError(`SecureSession.sealPieces: "parts" expected array of Uint8Array, got ${describe(parts)}`);
    let length = 0;
    parts.forEach((p, i) => {
      checkBytes(p, `parts[${i}]`, 'SecureSession.sealPieces');
      length += p.length;
    });
    const adBytes = checkAd(ad, 'SecureSession.sealPieces');
    if (this.#sendSeq >= MAX_SEQ) throw new RangeError('SecureSession.seal: sequence numbers exhausted; open a new session');
    const seq = this.#sendSeq++;
    const header = Buffer.allocUnsafeSlow(14 + adBytes.length);
    header[0] = VERSION;
    header[1] = T_DATA;
    header.writeBigUInt64BE(BigInt(seq), 2);
    header.writeUInt32BE(adBytes.length, 10);
    header.set(adBytes, 14);
    const c = createCipheriv(this.suite as 'aes-256-gcm', this.#sendKey, nonceFor(seq), { authTagLength: TAG });
    c.setAAD(header, { plaintextLength: length });
    const out: Uint8Array[] = [header];
    for (const p of parts) {
      for (let o = 0; o < p.length; o += PIECE) {
        const ct = c.update(p.subarray(o, o + PIECE));
        if (ct.length) out.push(ct);
      }
    }
    const fin = c.final();
    if (fin.length) out.push(fin);
    out.push(c.getAuthTag());
    return out;
  }

  /** `seal` of the concatenation of `parts`, without concatenating them first. */
  sealParts(parts: readonly Uint8Array[], ad?: Uint8Array | string): Uint8Array {
    this.#live('seal');
    if (!Array.isArray(parts)) throw new TypeError(`SecureSession.sealParts: "parts" expected array of Uint8Array, got ${describe(parts)}`);
    let length = 0;
    parts.forEach((p, i) => {
      checkBytes(p, `parts[${i}]`, 'SecureSession.sealParts');
      length += p.length;
    });
    const adBytes = checkAd(ad, 'SecureSession.seal');
    if (this.#sendSeq >= MAX_SEQ) throw new RangeError('SecureSession.seal: sequence numbers exhausted; open a new session');
    const seq = this.#sendSeq++;
    const headerLen = 14 + adBytes.length;
    const out = Buffer.allocUnsafeSlow(headerLen + length + TAG);
    out[0] = VERSION;
    out[1] = T_DATA;
    out.writeBigUInt64BE(BigInt(seq), 2);
    out.writeUInt32BE(adBytes.length, 10);
    out.set(adBytes, 14);
    aeadSeal(this.suite, this.#sendKey, nonceFor(seq), out.subarray(0, headerLen), parts, out, headerLen);
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }

  /**
   * Authenticate and decrypt a frame from the peer. With `expectedAd`, an
   * authentic frame carrying other associated data throws WrongContextError
   * (its sequence number is consumed all the same).
   */
  open(frame: Uint8Array, expectedAd?: Uint8Array | string): Uint8Array {
    const fn = 'SecureSession.open';
    const expected = expectedAd === undefined ? undefined : checkAd(expectedAd, fn, 'expectedAd');
    const m = this.openMessage(frame);
    if (expected !== undefined && !bytesEqual(m.ad, expected)) {
      m.plaintext.fill(0);
      throw new WrongContextError(`${fn}: message ${m.seq} from "${this.peerName}" is bound to other associated data than expected`, this.peerName);
    }
    return m.plaintext;
  }

  /** Like `open`, returning the authenticated associated data and sequence number. */
  openMessage(frame: Uint8Array): OpenedMessage {
    const m = this.openPieces(frame);
    const pt = m.pieces.length === 1 ? m.pieces[0]! : Buffer.concat(m.pieces);
    return { plaintext: new Uint8Array(pt.buffer, pt.byteOffset, pt.length), ad: m.ad, seq: m.seq };
  }

  /**
   * Like `openMessage`, with the plaintext as pieces (their concatenation),
   * released only after the tag has been verified. Saves a copy for callers
   * that copy the plaintext into their own buffer anyway.
   */
  openPieces(frame: Uint8Array): { pieces: Uint8Array[]; ad: Uint8Array; seq: number } {
    const fn = 'SecureSession.open';
    this.#live('open');
    checkBytes(frame, 'frame', fn);
    const peer = this.peerName;
    const r = new Reader(frame, (m) => new ChannelAuthError(`${fn}: malformed frame from "${peer}": ${m}`, peer));
    if (r.u8() !== VERSION) throw new ChannelAuthError(`${fn}: frame from "${peer}" has an unknown version`, peer);
    if (r.u8() !== T_DATA) throw new ChannelAuthError(`${fn}: frame from "${peer}" is not a data frame`, peer);
    const seq = r.u64();
    const ad = r.bytes(r.u32());
    const headerLen = r.pos;
    const why = this.#replay.check(seq);
    if (why) throw new ReplayError(`${fn}: from "${peer}": ${why}`, peer);
    const pieces = aeadOpenPieces(this.suite, this.#recvKey, nonceFor(seq), frame.subarray(0, headerLen), r.rest());
    if (!pieces) throw new ChannelAuthError(`${fn}: bad authentication tag on message ${seq} from "${peer}"`, peer);
    this.#replay.mark(seq);
    return { pieces, ad: new Uint8Array(ad), seq }; // a copy (a Buffer's slice() would be a view of the frame)
  }

  /** Wipe the keys; further use throws. */
  close(): void {
    this.#closed = true;
    this.#sendKey.fill(0);
    this.#recvKey.fill(0);
  }
}

// ---------------------------------------------------------------- handshake

export interface InitiatorOptions extends SessionOptions {
  self: LocalParty;
  /** The responder, with its PINNED public key. */
  peer: { name: string; publicKey: Uint8Array };
  /** Bound into every key, e.g. a run or session id; both sides must agree. */
  context: string | Uint8Array;
  suite?: CipherSuite;
}

interface Derived {
  h: Buffer;
  i2r: Buffer;
  r2i: Buffer;
  confirmR: Buffer;
  confirmI: Buffer;
}

function derive(suite: CipherSuite, context: Uint8Array, iName: string, sI: Uint8Array, rName: string, sR: Uint8Array, eI: Uint8Array, eR: Uint8Array, ikm: Buffer): Derived {
  const h = sha256(enc.encode(LABEL_HS), Uint8Array.of(SUITES[suite]), context, enc.encode(iName), sI, enc.encode(rName), sR, eI, eR);
  const okm = hkdf(ikm, h, `${LABEL_HS} keys`, 128);
  ikm.fill(0);
  const d = { h, i2r: okm.subarray(0, 32), r2i: okm.subarray(32, 64), confirmR: okm.subarray(64, 96), confirmI: okm.subarray(96, 128) };
  return {
    h: d.h,
    i2r: Buffer.from(d.i2r),
    r2i: Buffer.from(d.r2i),
    confirmR: Buffer.from(d.confirmR),
    confirmI: Buffer.from(d.confirmI),
  };
}

type InitStage = 'new' | 'sent' | 'done' | 'failed';

/** Initiator side: `start()` -> msg1; `finish(msg2)` -> { message: msg3, session }. */
export class HandshakeInitiator {
  #o: { self: LocalParty; peerName: string; peerKey: Uint8Array; context: Uint8Array; suite: CipherSuite; window: number | undefined };
  #stage: InitStage = 'new';
  #eph: Identity | undefined;

  constructor(options: InitiatorOptions) {
    const fn = 'HandshakeInitiator';
    if (typeof options !== 'object' || options === null) throw new TypeError(`${fn}: "options" expected object, got ${describe(options)}`);
    const self = checkLocal(options.self, fn);
    if (typeof options.peer !== 'object' || options.peer === null) throw new TypeError(`${fn}: "peer" expected { name, publicKey }, got ${describe(options.peer)}`);
    const peerName = checkName(options.peer.name, 'peer.name', fn);
    const peerKey = new Uint8Array(checkBytes(options.peer.publicKey, 'peer.publicKey', fn, KEY_BYTES)); // a copy, even of a Buffer
    this.#o = { self, peerName, peerKey, context: checkContext(options.context, fn), suite: checkSuite(options.suite ?? 'aes-256-gcm', fn), window: options.window };
  }

  get stage(): InitStage {
    return this.#stage;
  }

  start(): Uint8Array {
    if (this.#stage !== 'new') throw new HandshakeError(`HandshakeInitiator.start: called in stage '${this.#stage}', expected 'new'`, this.#o.peerName);
    this.#eph = generateIdentity();
    this.#stage = 'sent';
    const o = this.#o;
    return new Uint8Array(Buffer.concat([Buffer.from([VERSION, T_INIT, SUITES[o.suite]]), nameBytes(o.self.name), nameBytes(o.peerName), this.#eph.publicKey]));
  }

  finish(msg2: Uint8Array): { message: Uint8Array; session: SecureSession } {
    const fn = 'HandshakeInitiator.finish';
    const o = this.#o;
    if (this.#stage !== 'sent') throw new HandshakeError(`${fn}: called in stage '${this.#stage}', expected 'sent'`, o.peerName);
    checkBytes(msg2, 'msg2', fn);
    this.#stage = 'failed';
    const eph = this.#eph!;
    this.#eph = undefined;
    const r = new Reader(msg2, (m) => new HandshakeError(`${fn}: malformed reply from "${o.peerName}": ${m}`, o.peerName));
    if (r.u8() !== VERSION || r.u8() !== T_RESP) throw new HandshakeError(`${fn}: reply from "${o.peerName}" is not a handshake response`, o.peerName);
    const eR = r.bytes(KEY_BYTES);
    const tag = r.bytes(32);
    if (r.pos !== msg2.length) throw new HandshakeError(`${fn}: reply from "${o.peerName}" has trailing bytes`, o.peerName);
    let ikm: Buffer;
    try {
      ikm = Buffer.concat([
        eph.privateKey.agree(eR, fn),
        eph.privateKey.agree(o.peerKey, fn),
        o.self.identity.privateKey.agree(eR, fn),
        o.self.identity.privateKey.agree(o.peerKey, fn),
      ]);
    } catch (e) {
      throw new ChannelAuthError(`${fn}: bad ephemeral key from "${o.peerName}": ${(e as Error).message}`, o.peerName);
    }
    const d = derive(o.suite, o.context, o.self.name, o.self.identity.publicKey, o.peerName, o.peerKey, eph.publicKey, eR, ikm);
    if (!bytesEqual(tag, d.confirmR)) {
      d.i2r.fill(0);
      d.r2i.fill(0);
      throw new ChannelAuthError(`${fn}: "${o.peerName}" failed to prove its pinned key (or context/suite differ)`, o.peerName);
    }
    this.#stage = 'done';
    const message = new Uint8Array(Buffer.concat([Buffer.from([VERSION, T_FIN]), d.confirmI]));
    return { message, session: new SecureSession(o.self.name, o.peerName, new Uint8Array(d.h), o.suite, d.i2r, d.r2i, { window: o.window }) };
  }
}

export interface ResponderOptions extends SessionOptions {
  /** This player, or several local players (msg1 names which one is addressed). */
  self: LocalParty | readonly LocalParty[];
  /** PINNED public keys of every peer allowed to connect. */
  peers: PinnedKeys;
  context: string | Uint8Array;
  suite?: CipherSuite;
}

type RespStage = 'new' | 'replied' | 'done' | 'failed';

/** Responder side: `respond(msg1)` -> msg2; `finish(msg3)` -> session. */
export class HandshakeResponder {
  #locals: Map<string, LocalParty>;
  #peers: PinnedKeys;
  #context: Uint8Array;
  #suite: CipherSuite;
  #window: number | undefined;
  #stage: RespStage = 'new';
  #pending: { d: Derived; peer: string; local: string } | undefined;

  constructor(options: ResponderOptions) {
    const fn = 'HandshakeResponder';
    if (typeof options !== 'object' || options === null) throw new TypeError(`${fn}: "options" expected object, got ${describe(options)}`);
    const selves = Array.isArray(options.self) ? options.self : [options.self];
    if (selves.length === 0) throw new RangeError(`${fn}: "self" expected at least one local party`);
    this.#locals = new Map(selves.map((s: unknown) => { const l = checkLocal(s, fn); return [l.name, l]; }));
    this.#peers = checkPinned(options.peers, 'peers', fn);
    this.#context = checkContext(options.context, fn);
    this.#suite = checkSuite(options.suite ?? 'aes-256-gcm', fn);
    this.#window = options.window;
  }

  get stage(): RespStage {
    return this.#stage;
  }

  /** The initiator's claimed name once msg1 is parsed (authenticated only after finish). */
  get peerName(): string | undefined {
    return this.#pending?.peer;
  }

  respond(msg1: Uint8Array): Uint8Array {
    const fn = 'HandshakeResponder.respond';
    if (this.#stage !== 'new') throw new HandshakeError(`${fn}: called in stage '${this.#stage}', expected 'new'`);
    checkBytes(msg1, 'msg1', fn);
    this.#stage = 'failed';
    const r = new Reader(msg1, (m) => new HandshakeError(`${fn}: malformed hello: ${m}`));
    if (r.u8() !== VERSION || r.u8() !== T_INIT) throw new HandshakeError(`${fn}: not a handshake hello (or unknown version)`);
    const suiteId = r.u8();
    const iName = r.name();
    const rName = r.name();
    const eI = r.bytes(KEY_BYTES);
    if (r.pos !== msg1.length) throw new HandshakeError(`${fn}: hello from "${iName}" has trailing bytes`, iName);
    if (suiteId !== SUITES[this.#suite]) throw new HandshakeError(`${fn}: "${iName}" proposes cipher suite ${suiteId}, expected ${SUITES[this.#suite]}`, iName);
    const local = this.#locals.get(rName);
    if (!local) throw new UnknownPeerError(`${fn}: hello from "${iName}" is addressed to "${rName}", which is not a local player here`, iName);
    const sI = this.#peers.get(iName);
    if (!sI) throw new UnknownPeerError(`${fn}: "${iName}" has no pinned public key; connection refused`, iName);
    const eph = generateIdentity();
    let ikm: Buffer;
    try {
      ikm = Buffer.concat([
        eph.privateKey.agree(eI, fn),
        local.identity.privateKey.agree(eI, fn),
        eph.privateKey.agree(sI, fn),
        local.identity.privateKey.agree(sI, fn),
      ]);
    } catch (e) {
      throw new ChannelAuthError(`${fn}: bad ephemeral key from "${iName}": ${(e as Error).message}`, iName);
    }
    const d = derive(this.#suite, this.#context, iName, sI, rName, local.identity.publicKey, eI, eph.publicKey, ikm);
    this.#pending = { d, peer: iName, local: rName };
    this.#stage = 'replied';
    return new Uint8Array(Buffer.concat([Buffer.from([VERSION, T_RESP]), eph.publicKey, d.confirmR]));
  }

  finish(msg3: Uint8Array): SecureSession {
    const fn = 'HandshakeResponder.finish';
    if (this.#stage !== 'replied') throw new HandshakeError(`${fn}: called in stage '${this.#stage}', expected 'replied'`);
    checkBytes(msg3, 'msg3', fn);
    const p = this.#pending!;
    this.#pending = undefined;
    this.#stage = 'failed';
    const ok = msg3[0] === VERSION && msg3[1] === T_FIN && bytesEqual(msg3.subarray(2), p.d.confirmI); // bytesEqual checks the length
    if (!ok) {
      p.d.i2r.fill(0);
      p.d.r2i.fill(0);
      throw new ChannelAuthError(`${fn}: "${p.peer}" failed to prove its pinned key (or context differs)`, p.peer);
    }
    this.#stage = 'done';
    return new SecureSession(p.local, p.peer, new Uint8Array(p.d.h), this.#suite, p.d.r2i, p.d.i2r, { window: this.#window });
  }
}

/** Run a whole handshake in memory (tests, or two parties in one process). */
export function connectPair(a: LocalParty, b: LocalParty, context: string | Uint8Array, suite?: CipherSuite): [SecureSession, SecureSession] {
  const i = new HandshakeInitiator({ self: a, peer: { name: b.name, publicKey: b.identity.publicKey }, context, ...(suite ? { suite } : {}) });
  const r = new HandshakeResponder({ self: b, peers: new Map([[a.name, a.identity.publicKey]]), context, ...(suite ? { suite } : {}) });
  const m2 = r.respond(i.start());
  const { message, session } = i.finish(m2);
  return [session, r.finish(message)];
}

// ---------------------------------------------------------------- sealed box

export interface SealedBoxSenderOptions {
  self: LocalParty;
  /** PINNED public keys of the recipients. */
  recipients: PinnedKeys;
  context: string | Uint8Array;
  suite?: CipherSuite;
}

function boxKey(suite: CipherSuite, context: Uint8Array, sName: string, sS: Uint8Array, rName: string, sR: Uint8Array, e: Uint8Array, ikm: Buffer): Buffer {
  const salt = sha256(enc.encode(LABEL_BOX), Uint8Array.of(SUITES[suite]), context, enc.encode(sName), sS, enc.encode(rName), sR, e);
  const k = hkdf(ikm, salt, `${LABEL_BOX} key`, 32);
  ikm.fill(0);
  return k;
}

/**
 * One-shot authenticated encryption to a pinned recipient, for relaying
 * through an untrusted party. Box: version | type | suite | sender | recipient
 * | E | seq (u64) | adLen (u32) | ad | ct | tag.
 */
export class SealedBoxSender {
  #self: LocalParty;
  #recipients: PinnedKeys;
  #context: Uint8Array;
  #suite: CipherSuite;
  #seq = new Map<string, number>();

  constructor(options: SealedBoxSenderOptions) {
    const fn = 'SealedBoxSender';
    if (typeof options !== 'object' || options === null) throw new TypeError(`${fn}: "options" expected object, got ${describe(options)}`);
    this.#self = checkLocal(options.self, fn);
    this.#recipients = checkPinned(options.recipients, 'recipients', fn);
    this.#context = checkContext(options.context, fn);
    this.#suite = checkSuite(options.suite ?? 'aes-256-gcm', fn);
  }

  seal(to: string, plaintext: Uint8Array, ad?: Uint8Array | string): Uint8Array {
    const fn = 'SealedBoxSender.seal';
    checkName(to, 'to', fn);
    checkBytes(plaintext, 'plaintext', fn);
    const adBytes = checkAd(ad, fn);
    const sR = this.#recipients.get(to);
    if (!sR) throw new UnknownPeerError(`${fn}: recipient "${to}" has no pinned public key`, to);
    const seq = this.#seq.get(to) ?? 0;
    if (seq >= MAX_SEQ) throw new RangeError(`${fn}: sequence numbers to "${to}" exhausted`);
    this.#seq.set(to, seq + 1);
    const eph = generateIdentity();
    const ikm = Buffer.concat([eph.privateKey.agree(sR, fn), this.#self.identity.privateKey.agree(sR, fn)]);
    const key = boxKey(this.#suite, this.#context, this.#self.name, this.#self.identity.publicKey, to, sR, eph.publicKey, ikm);
    const seqB = Buffer.alloc(12);
    seqB.writeBigUInt64BE(BigInt(seq), 0);
    seqB.writeUInt32BE(adBytes.length, 8);
    const header = Buffer.concat([Buffer.from([VERSION, T_SEALED, SUITES[this.#suite]]), nameBytes(this.#self.name), nameBytes(to), eph.publicKey, seqB, adBytes]);
    const out = Buffer.allocUnsafeSlow(header.length + plaintext.length + TAG);
    header.copy(out, 0);
    aeadSeal(this.#suite, key, Buffer.alloc(12), header, plaintext, out, header.length);
    key.fill(0);
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }
}

export interface SealedBoxReceiverOptions {
  self: LocalParty;
  /** PINNED public keys of the senders allowed to write to this player. */
  senders: PinnedKeys;
  context: string | Uint8Array;
  suite?: CipherSuite;
  /** Replay window per sender (reordering by the relay tolerated up to this). Default 1024. */
  window?: number;
}

export interface OpenedBox extends OpenedMessage {
  sender: string;
}

export class SealedBoxReceiver {
  #self: LocalParty;
  #senders: PinnedKeys;
  #context: Uint8Array;
  #suite: CipherSuite;
  #window: number;
  #replay = new Map<string, ReplayWindow>();

  constructor(options: SealedBoxReceiverOptions) {
    const fn = 'SealedBoxReceiver';
    if (typeof options !== 'object' || options === null) throw new TypeError(`${fn}: "options" expected object, got ${describe(options)}`);
    this.#self = checkLocal(options.self, fn);
    this.#senders = checkPinned(options.senders, 'senders', fn);
    this.#context = checkContext(options.context, fn);
    this.#suite = checkSuite(options.suite ?? 'aes-256-gcm', fn);
    this.#window = options.window ?? DEFAULT_WINDOW;
    new ReplayWindow(this.#window); // validates
  }

  /**
   * Authenticate and decrypt a box. Throws UnknownPeerError (sender not
   * pinned), ChannelAuthError (bad tag, forged, or not for this player),
   * ReplayError, WrongContextError (authentic, other associated data than `expectedAd`).
   */
  open(box: Uint8Array, expectedAd?: Uint8Array | string): OpenedBox {
    const fn = 'SealedBoxReceiver.open';
    checkBytes(box, 'box', fn);
    const expected = expectedAd === undefined ? undefined : checkAd(expectedAd, fn, 'expectedAd');
    const r = new Reader(box, (m) => new ChannelAuthError(`${fn}: malformed box: ${m}`));
    if (r.u8() !== VERSION || r.u8() !== T_SEALED) throw new ChannelAuthError(`${fn}: not a sealed box (or unknown version)`);
    if (r.u8() !== SUITES[this.#suite]) throw new ChannelAuthError(`${fn}: box uses another cipher suite`);
    const sName = r.name();
    const rName = r.name();
    const e = r.bytes(KEY_BYTES);
    const seq = r.u64();
    const ad = r.bytes(r.u32());
    const headerLen = r.pos;
    const sS = this.#senders.get(sName);
    if (!sS) throw new UnknownPeerError(`${fn}: sender "${sName}" has no pinned public key`, sName);
    if (rName !== this.#self.name) throw new ChannelAuthError(`${fn}: box from "${sName}" is addressed to "${rName}", not "${this.#self.name}"`, sName);
    let win = this.#replay.get(sName);
    if (!win) {
      win = new ReplayWindow(this.#window);
      this.#replay.set(sName, win);
    }
    const why = win.check(seq);
    if (why) throw new ReplayError(`${fn}: from "${sName}": ${why}`, sName);
    let ikm: Buffer;
    try {
      ikm = Buffer.concat([this.#self.identity.privateKey.agree(e, fn), this.#self.identity.privateKey.agree(sS, fn)]);
    } catch (err) {
      throw new ChannelAuthError(`${fn}: bad ephemeral key in box from "${sName}": ${(err as Error).message}`, sName);
    }
    const key = boxKey(this.#suite, this.#context, sName, sS, rName, this.#self.identity.publicKey, e, ikm);
    const pt = aeadOpen(this.#suite, key, Buffer.alloc(12), box.subarray(0, headerLen), r.rest());
    key.fill(0);
    if (!pt) throw new ChannelAuthError(`${fn}: bad authentication tag on box ${seq} from "${sName}"`, sName);
    win.mark(seq);
    if (expected !== undefined && !bytesEqual(ad, expected)) {
      pt.fill(0);
      throw new WrongContextError(`${fn}: box ${seq} from "${sName}" is bound to other associated data than expected`, sName);
    }
    return { sender: sName, plaintext: new Uint8Array(pt.buffer, pt.byteOffset, pt.length), ad: new Uint8Array(ad), seq };
  }
}
