/** fedcrypt/crypto: the PRG, X25519 identities, authenticated secure channels, self-signed Ed25519 certificates (for mutual TLS), and the SecAgg primitives (Shamir sharing of 32-byte secrets, the mask PRG). */
export * from './prg.js';
export * from './identity.js';
export * from './secure-channel.js';
export * from './x509.js';
export * from './shamir.js';
export * from './mask-prg.js';
export * from './mask-sum.js';
