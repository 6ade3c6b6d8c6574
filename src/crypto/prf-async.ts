/**
 * The PRF of prg.ts computed off the event loop: `prfBytes(key, nonce, n)`
 * resolves with the same n bytes as `Prg.derive(key, nonce).fill(new
 * Uint8Array(n))`, computed by WebCrypto's AES-CTR on the libuv thread pool.
 * Streams that depend only on keys and nonces (the masks of a multi-round
 * protocol) can so be requested when an op starts and computed while the
 * event loop does the op's other work.
 *
 * Same stream: Prg.derive uses AES-128-CTR with the initial counter block
 * nonce (8 bytes) || 0^64, incremented as a 128-bit integer; WebCrypto with
 * `length: 64` increments the low 64 bits only, which is the same for any
 * stream shorter than 2^64 blocks (the test compares them).
 */
import { webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
import { ivFor, SEED_BYTES } from './prg.js';

const keys = new WeakMap<Uint8Array, Promise<CryptoKey>>();
let zeros = new Uint8Array(0);

function cryptoKey(key: Uint8Array): Promise<CryptoKey> {
  let k = keys.get(key);
  if (k === undefined) {
    k = webcrypto.subtle.importKey('raw', new Uint8Array(key), { name: 'AES-CTR' }, false, ['encrypt']);
    keys.set(key, k);
  }
  return k;
}

/** PRF(key, nonce) as `bytes` bytes (see the header). `key` is 16 bytes; the nonce as for Prg.derive. */
export async function prfBytes(key: Uint8Array, nonce: string | bigint | number, bytes: number): Promise<Uint8Array> {
  if (!(key instanceof Uint8Array) || key.length !== SEED_BYTES) throw new TypeError(`prfBytes: argument 'key' must be a Uint8Array of ${SEED_BYTES} bytes`);
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`prfBytes: argument 'bytes' must be a non-negative integer, got ${bytes}`);
  if (bytes === 0) return new Uint8Array(0);
  // AES-CTR of zeros is the key stream; the zero input is shared (WebCrypto copies it before it returns)
  if (zeros.length < bytes) zeros = new Uint8Array(Math.max(bytes, 2 * zeros.length));
  const out = await webcrypto.subtle.encrypt({ name: 'AES-CTR', counter: ivFor(nonce), length: 64 }, await cryptoKey(key), zeros.subarray(0, bytes));
  return new Uint8Array(out);
}
