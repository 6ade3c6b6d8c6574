/**
 * fedcrypt: privacy-preserving federated learning in TypeScript.
 *
 * The root entry point exports the Federated Core (types, placements,
 * intrinsics, tracing, serialization), the runtime (execution contexts) and
 * the secure-aggregation protocols. The other layers have their own entry
 * points so that importing the core stays light:
 *   fedcrypt/encrypted  players, fixed point, Plaintext/Pond/ABY3
 *   fedcrypt/ring       Z_2^64 / Z_2^128 ring tensors (WebAssembly kernels)
 *   fedcrypt/paillier   Paillier keys, encryption, packing
 *   fedcrypt/crypto     PRG, identities, secure channels
 *   fedcrypt/transport  in-memory and gRPC transports
 *   fedcrypt/learning   FedSGD/FedAvg on tfjs, MNIST, models, reports (loads tfjs)
 */
export * from './core/index.js';
export * from './runtime/index.js';
export * from './aggregation/index.js';
