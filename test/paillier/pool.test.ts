import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { decrypt, encrypt, InvalidCiphertextError, PaillierWorkerPool, ValueOutOfRangeError } from '../../src/paillier/index.js';
import { keyPair } from './fixtures.js';

const pool = new PaillierWorkerPool(2);
after(() => pool.close());

test('worker pool: batch encryption, batch decryption and split-CRT decryption agree with the plaintexts', async () => {
  const { publicKey, privateKey } = keyPair(512);
  const ms = Array.from({ length: 9 }, (_, i) => (BigInt(i) * 0x1234567n) % publicKey.n);
  const cs = await pool.encryptMany(publicKey, ms);
  assert.equal(cs.length, ms.length);
  assert.deepEqual(cs.map((c) => decrypt(privateKey, c)), ms);
  assert.deepEqual(await pool.decryptMany(privateKey, cs), ms);
  const c = encrypt(publicKey, 4242n);
  assert.equal(await pool.decrypt(privateKey, c), 4242n);
});

test('worker pool: bad inputs are rejected with typed errors', async () => {
  const { publicKey, privateKey } = keyPair(512);
  await assert.rejects(pool.encryptMany(publicKey, [publicKey.n]), ValueOutOfRangeError);
  await assert.rejects(pool.decrypt(privateKey, 0n), InvalidCiphertextError);
  await assert.rejects(pool.decrypt(privateKey, privateKey.p), InvalidCiphertextError);
  await assert.rejects(pool.decryptMany(privateKey, [publicKey.n2]), InvalidCiphertextError);
});
