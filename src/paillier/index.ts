/** fedcrypt/paillier: the Paillier cryptosystem (g = n+1, DJN noise, CRT decryption), packing, worker pool. */
export {
  PaillierPublicKey,
  PaillierPrivateKey,
  generateKeyPair,
  defaultNoiseBits,
  deriveNoiseBase,
  publicKeyFingerprint,
  checkKeyFingerprint,
  MIN_NOISE_BITS,
  publicKeyToBytes,
  publicKeyFromBytes,
  publicKeyFromJSON,
  exportPrivateKey,
  importPrivateKey,
  exportPrivateKeyBytes,
  importPrivateKeyBytes,
  MIN_KEY_BITS,
  MAX_KEY_BITS,
  type PaillierKeyPair,
  type PublicKeyJSON,
  type PrivateKeyJSON,
} from './keys.js';
export {
  encrypt,
  decrypt,
  encryptTextbook,
  decryptTextbook,
  encryptWithNoise,
  noise,
  add,
  addPlain,
  multiplyScalar,
  rerandomize,
  sumCiphertexts,
  validateCiphertext,
  ciphertextToBytes,
  ciphertextFromBytes,
  ciphertextsToBytes,
  ciphertextsFromBytes,
  ciphertextToJSON,
  ciphertextFromJSON,
} from './paillier.js';
export { PaillierPacking, type PackingOptions, type IntegerVector } from './packing.js';
export {
  encryptVector,
  addVectors,
  rerandomizeVector,
  decryptVector,
  encryptedVectorToBytes,
  encryptedVectorFromBytes,
  type EncryptedVector,
} from './vector.js';
export { PaillierWorkerPool, sharedPaillierPool } from './pool.js';
export { FixedBaseTable } from './fixedbase.js';
export { montStatus } from './mont.js';
export {
  InvalidCiphertextError,
  EncodingLengthError,
  ValueOutOfRangeError,
  TooManyClientsError,
  KeyMismatchError,
  SecretCoercionError,
  UntrustedKeyError,
  SlotOverflowError,
} from './errors.js';
// Phase 2: the aggregation service bound to the Federated Core (lives in src/aggregation/paillier.ts;
// re-exported here because the issue names fedcrypt/paillier as its home).
// Facade: the issue names paillierContext as part of fedcrypt/paillier. It lives in the
// runtime layer (a context binds the aggregation protocol); this entry point re-exports it.
export { paillierAggregation, paillierSecureMean } from '../aggregation/paillier.js';
export { paillierContext, type PaillierContextOptions } from '../runtime/contexts.js';
