/** fedcrypt/crypto: the PRG, X25519 identities, and authenticated secure channels. */
export * from './prg.js';
export * from './identity.js';
export * from './secure-channel.js';
