/** fedcrypt/crypto: the PRG, X25519 identities, authenticated secure channels, and self-signed Ed25519 certificates (for mutual TLS). */
export * from './prg.js';
export * from './identity.js';
export * from './secure-channel.js';
export * from './x509.js';
