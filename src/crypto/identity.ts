/**
 * Static X25519 identity keys of a player.
 *
 * A public key is 32 raw bytes (base64 in config files). A private key is a
 * `PrivateKey` object that wraps a node:crypto KeyObject and refuses coercion
 * (valueOf, toJSON, Symbol.toPrimitive, template strings all throw), so it
 * cannot leak into logs or JSON by accident. Exporting the raw bytes is an
 * explicit call (`exportPrivateKey`), used only by keygen.
 */
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { inspect } from 'node:util';

export const KEY_BYTES = 32;

// DER prefix of an X25519 PKCS#8 private key (RFC 8410).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** Throws TypeError unless `value` is a Uint8Array, RangeError unless it has `length` bytes. */
export function checkBytes(value: unknown, name: string, fn: string, length?: number): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${fn}: "${name}" expected Uint8Array, got ${describe(value)}`);
  }
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${fn}: "${name}" expected ${length} bytes, got ${value.length}`);
  }
  return value;
}

/** Throws TypeError unless `value` is a non-empty string (of at most `max` UTF-8 bytes). */
export function checkName(value: unknown, name: string, fn: string, max = 255): string {
  if (typeof value !== 'string') {
    throw new TypeError(`${fn}: "${name}" expected string, got ${describe(value)}`);
  }
  const n = Buffer.byteLength(value); // UTF-8
  if (n === 0 || n > max) {
    throw new RangeError(`${fn}: "${name}" expected a string of 1 to ${max} bytes, got ${n} bytes`);
  }
  return value;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (value instanceof Uint8Array) return `${value.constructor.name}(${value.length})`;
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}

const refuse = (what: string): never => {
  throw new TypeError(`PrivateKey: a private key cannot be converted (${what}); use exportPrivateKey() explicitly`);
};

/** An X25519 private key that refuses coercion. */
export class PrivateKey {
  readonly #key: KeyObject;
  readonly #publicKey: Uint8Array;

  private constructor(key: KeyObject) {
    this.#key = key;
    // the public key as a JWK (RFC 8037: x = the raw key, base64url): 13x faster than the SPKI DER export in node 20
    const x = (createPublicKey(key).export({ format: 'jwk' }) as { x?: unknown }).x;
    if (typeof x !== 'string') throw new TypeError('PrivateKey: the public key did not export');
    this.#publicKey = new Uint8Array(Buffer.from(x, 'base64url'));
    if (this.#publicKey.length !== KEY_BYTES) throw new TypeError(`PrivateKey: a public key of ${this.#publicKey.length} bytes`);
  }

  /** @internal */
  static fromKeyObject(key: KeyObject): PrivateKey {
    if (key.type !== 'private' || key.asymmetricKeyType !== 'x25519') {
      throw new TypeError('PrivateKey: "key" expected an X25519 private KeyObject');
    }
    return new PrivateKey(key);
  }

  /** The 32-byte public key of this private key (a copy). */
  get publicKey(): Uint8Array {
    return this.#publicKey.slice();
  }

  /** @internal X25519(this, peerPublicKey); throws on a low-order peer key (all-zero output). */
  agree(peerPublicKey: Uint8Array, fn = 'agree'): Buffer {
    checkBytes(peerPublicKey, 'peerPublicKey', fn, KEY_BYTES);
    return this.agreeWith(importPublicKey(peerPublicKey), fn);
  }

  /**
   * @internal X25519(this, peer) with the peer's key already imported
   * (`importPublicKey`): a party that agrees with one public key many times
   * (SERVER, for each dropped client, with every surviving neighbour's masking
   * key) imports it once. Throws on a low-order peer key, as `agree`.
   */
  agreeWith(peer: KeyObject, fn = 'agree'): Buffer {
    if (peer.type !== 'public' || peer.asymmetricKeyType !== 'x25519') throw new TypeError(`${fn}: "peer" expected an X25519 public KeyObject`);
    let shared: Buffer;
    try {
      shared = diffieHellman({ privateKey: this.#key, publicKey: peer });
    } catch {
      // OpenSSL refuses a low-order point itself (all-zero output); the check below is a second line
      throw new RangeError(`${fn}: "peerPublicKey" is a low-order point (no shared secret)`);
    }
    let acc = 0;
    for (const b of shared) acc |= b;
    if (acc === 0) throw new RangeError(`${fn}: "peerPublicKey" is a low-order point (shared secret is zero)`);
    return shared;
  }

  /** @internal */
  get keyObject(): KeyObject {
    return this.#key;
  }

  valueOf(): never {
    return refuse('valueOf');
  }
  toJSON(): never {
    return refuse('toJSON');
  }
  toString(): never {
    return refuse('toString');
  }
  [Symbol.toPrimitive](): never {
    return refuse('Symbol.toPrimitive');
  }
  [inspect.custom](): string {
    return 'PrivateKey(X25519, <redacted>)';
  }
}

export interface Identity {
  /** 32 raw bytes. */
  publicKey: Uint8Array;
  privateKey: PrivateKey;
}

/**
 * @internal A fresh private key of `type` (node:crypto's CSPRNG), as a KeyObject of its own.
 *
 * Why not `generateKeyPairSync(type).privateKey`: in node 20 that KeyObject shares its key (and
 * the key's mutex) with the key-generation job, which is garbage once the call returns. A
 * garbage collection during a later export of the key (a JWK export allocates strings) can run
 * the job's destructor, which locks the mutex the export holds: the process deadlocks (seen as
 * a hang in about one run in six that generated 20,000 identities; gdb: ExportJWKEdKey → GC →
 * ~KeyGenJob → uv_mutex_lock). So the key comes out of the job encoded and is imported into a
 * key the job never held. JWK both ways: 113 µs per key against 725 µs through PKCS#8 DER (whose
 * import alone takes 530 µs in node 20); the private JWK's string is left to the collector.
 */
export function freshPrivateKey(type: 'x25519' | 'ed25519'): KeyObject {
  const { privateKey: jwk } = generateKeyPairSync(type as 'x25519', { publicKeyEncoding: { format: 'jwk' }, privateKeyEncoding: { format: 'jwk' } }) as unknown as { privateKey: JsonWebKey };
  const key = createPrivateKey({ key: jwk, format: 'jwk' });
  wipePooledCopy(jwk.d!);
  return key;
}

/**
 * node's JWK import decodes "d" with `Buffer.from(d, 'base64')`, which for 32 bytes is a slice of
 * node's shared 8 KiB Buffer pool: the raw private key would stay there, reachable through the
 * `.buffer` of any later small Buffer. That copy is found in the current pool slab and zeroed
 * (the decode buffer is dead once the import returned, and no live Buffer holds these 32 random
 * bytes). The base64url string `d` itself stays in the JS heap until collected (strings cannot be
 * wiped).
 */
function wipePooledCopy(d: string): void {
  const raw = Buffer.alloc(KEY_BYTES); // (Buffer.alloc never takes from the pool)
  raw.write(d, 'base64url');
  const slab = Buffer.from(Buffer.allocUnsafe(1).buffer); // the current pool slab, whole
  for (let i = slab.indexOf(raw); i >= 0; i = slab.indexOf(raw, i + 1)) slab.fill(0, i, i + KEY_BYTES);
  raw.fill(0);
}

/** A fresh static X25519 identity (from the node:crypto CSPRNG). */
export function generateIdentity(): Identity {
  const sk = PrivateKey.fromKeyObject(freshPrivateKey('x25519'));
  return { publicKey: sk.publicKey, privateKey: sk };
}

/** Rebuild an identity from the 32 raw private-key bytes. */
export function identityFromPrivateKey(raw: Uint8Array): Identity {
  checkBytes(raw, 'raw', 'identityFromPrivateKey', KEY_BYTES);
  // (Buffer.alloc, not Buffer.concat: a 48-byte concat is a slice of node's shared pool, left holding the key)
  const der = Buffer.alloc(PKCS8_PREFIX.length + KEY_BYTES);
  der.set(PKCS8_PREFIX, 0);
  der.set(raw, PKCS8_PREFIX.length);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
  const sk = PrivateKey.fromKeyObject(key);
  return { publicKey: sk.publicKey, privateKey: sk };
}

/** The 32 raw private-key bytes (for key files only). The caller should wipe them after use. */
export function exportPrivateKey(privateKey: PrivateKey): Uint8Array {
  if (!(privateKey instanceof PrivateKey)) {
    throw new TypeError(`exportPrivateKey: "privateKey" expected PrivateKey, got ${describe(privateKey)}`);
  }
  const der = privateKey.keyObject.export({ type: 'pkcs8', format: 'der' });
  const raw = new Uint8Array(der.subarray(der.length - KEY_BYTES));
  der.fill(0);
  return raw;
}

/**
 * @internal A node:crypto KeyObject for a raw 32-byte X25519 public key.
 * Imported as a JWK (RFC 8037: the raw key, base64url): the same key as the
 * SPKI DER import, about 8x faster in node 20 (7 µs against 80 µs, more than
 * the X25519 agreement itself).
 */
export function importPublicKey(raw: Uint8Array): KeyObject {
  checkBytes(raw, 'raw', 'importPublicKey', KEY_BYTES);
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url') }, format: 'jwk' });
}

/** Standard base64 of a 32-byte public key. */
export function encodePublicKey(publicKey: Uint8Array): string {
  checkBytes(publicKey, 'publicKey', 'encodePublicKey', KEY_BYTES);
  return Buffer.from(publicKey).toString('base64');
}

const B64 = /^[A-Za-z0-9+/]{43}=$/;

/** Parse a base64 (standard alphabet, padded) 32-byte key; `name` is used in the error. */
export function decodeKey(text: unknown, name = 'text', fn = 'decodeKey'): Uint8Array {
  if (typeof text !== 'string') throw new TypeError(`${fn}: "${name}" expected base64 string, got ${describe(text)}`);
  const t = text.trim();
  if (!B64.test(t)) {
    throw new RangeError(`${fn}: "${name}" expected 44 characters of base64 encoding 32 bytes, got ${JSON.stringify(t.slice(0, 60))}`);
  }
  return new Uint8Array(Buffer.from(t, 'base64'));
}

/** Constant-time equality of two byte strings of equal length. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i]! ^ b[i]!;
  return acc === 0;
}
