// Cached keys for the Paillier tests: small keys for property tests, one 2048-bit key.
import { generateKeyPair, type PaillierKeyPair } from '../../src/paillier/index.js';

const cache = new Map<number, PaillierKeyPair>();

export function keyPair(bits: 512 | 1024 | 2048): PaillierKeyPair {
  let k = cache.get(bits);
  if (!k) {
    k = generateKeyPair(bits);
    cache.set(bits, k);
  }
  return k;
}

/** Key bytes as a server would put them on the wire: u16 L, u16 noiseBits, n (L bytes), hs (2L bytes). */
export function keyBytes(n: bigint, hs: bigint, noiseBits: number): Uint8Array {
  const L = Math.ceil(n.toString(2).length / 8);
  const out = new Uint8Array(4 + 3 * L);
  new DataView(out.buffer).setUint16(0, L);
  new DataView(out.buffer).setUint16(2, noiseBits);
  out.set(Buffer.from(n.toString(16).padStart(2 * L, '0'), 'hex'), 4);
  out.set(Buffer.from(hs.toString(16).padStart(4 * L, '0'), 'hex'), 4 + L);
  return out;
}
