// Interoperability with an independent implementation (paillier-bigint, dev dependency).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as pb from 'paillier-bigint';
import { add, decrypt, encrypt, multiplyScalar } from '../../src/paillier/index.js';
import { keyPair } from './fixtures.js';

for (const bits of [512, 2048] as const) {
  test(`${bits}-bit key: our ciphertexts decrypt with paillier-bigint and theirs with ours`, () => {
    const { publicKey, privateKey } = keyPair(bits);
    const theirPk = new pb.PublicKey(publicKey.n, publicKey.n + 1n);
    const theirSk = new pb.PrivateKey(privateKey.lambda, privateKey.mu, theirPk, privateKey.p, privateKey.q);
    fc.assert(
      fc.property(fc.bigInt(0n, publicKey.n - 1n), fc.bigInt(0n, publicKey.n - 1n), (a, b) => {
        const ours = encrypt(publicKey, a);
        assert.equal(theirSk.decrypt(ours), a);
        const theirs = theirPk.encrypt(b);
        assert.equal(decrypt(privateKey, theirs), b);
        // mixed homomorphic operations
        assert.equal(decrypt(privateKey, add(publicKey, ours, theirs)), (a + b) % publicKey.n);
        assert.equal(theirSk.decrypt(theirPk.addition(ours, theirs)), (a + b) % publicKey.n);
        assert.equal(theirSk.decrypt(multiplyScalar(publicKey, theirs, 3n)), (3n * b) % publicKey.n);
      }),
      { numRuns: bits === 2048 ? 4 : 20 },
    );
  });
}
