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
