import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import fc from 'fast-check';
import {
  add,
  addPlain,
  ciphertextFromBytes,
  ciphertextFromJSON,
  ciphertextToBytes,
  ciphertextToJSON,
  ciphertextsFromBytes,
  ciphertextsToBytes,
  decrypt,
  decryptTextbook,
  encrypt,
  encryptTextbook,
  EncodingLengthError,
  exportPrivateKey,
  exportPrivateKeyBytes,
  generateKeyPair,
  importPrivateKey,
  importPrivateKeyBytes,
  InvalidCiphertextError,
  multiplyScalar,
  PaillierPrivateKey,
  PaillierPublicKey,
  publicKeyFromBytes,
  publicKeyFromJSON,
  publicKeyToBytes,
  rerandomize,
  SecretCoercionError,
  sumCiphertexts,
  validateCiphertext,
  ValueOutOfRangeError,
} from '../../src/paillier/index.js';
import { bitLength, isProbablePrime } from '../../src/paillier/bigint.js';
import { keyPair } from './fixtures.js';

const { publicKey: pk, privateKey: sk } = keyPair(512);
const n = pk.n;
const plain = fc.bigInt(0n, n - 1n);

test('key generation: n has exactly the requested bits, p and q are distinct primes of half the bits', () => {
  for (const bits of [512, 1024] as const) {
    const { publicKey, privateKey } = keyPair(bits);
    assert.equal(bitLength(publicKey.n), bits);
    assert.equal(publicKey.bits, bits);
    assert.equal(privateKey.p * privateKey.q, publicKey.n);
    assert.notEqual(privateKey.p, privateKey.q);
    assert.equal(bitLength(privateKey.p), bits / 2);
    assert.equal(bitLength(privateKey.q), bits / 2);
    assert.ok(isProbablePrime(privateKey.p, 20) && isProbablePrime(privateKey.q, 20));
    assert.equal(publicKey.g, publicKey.n + 1n);
  }
});

test('generateKeyPair rejects bad sizes with typed errors naming the argument', () => {
  assert.throws(() => generateKeyPair(1000.5), (e: Error) => e instanceof TypeError && /"bits"/.test(e.message));
  assert.throws(() => generateKeyPair(128), (e: Error) => e instanceof RangeError && /"bits"/.test(e.message));
  assert.throws(() => generateKeyPair(513), RangeError);
  assert.throws(() => generateKeyPair('2048' as unknown as number), TypeError);
});

test('Dec(Enc(m)) = m, textbook and DJN encryption, CRT and textbook decryption agree', () => {
  fc.assert(
    fc.property(plain, (m) => {
      const c = encrypt(pk, m);
      assert.equal(decrypt(sk, c), m);
      assert.equal(decryptTextbook(sk, c), m);
      assert.equal(decrypt(sk, encryptTextbook(pk, m)), m);
    }),
    { numRuns: 40 },
  );
});

test('homomorphism: Dec(Enc(a)·Enc(b)) = a + b mod n', () => {
  fc.assert(
    fc.property(plain, plain, (a, b) => {
      assert.equal(decrypt(sk, add(pk, encrypt(pk, a), encrypt(pk, b))), (a + b) % n);
    }),
    { numRuns: 40 },
  );
});

test('scalar multiplication: Dec(Enc(a)^k) = k·a mod n, including negative k', () => {
  fc.assert(
    fc.property(plain, fc.bigInt(-(1n << 200n), 1n << 200n), (a, k) => {
      const r = ((k * a) % n + n) % n;
      assert.equal(decrypt(sk, multiplyScalar(pk, encrypt(pk, a), k)), r);
    }),
    { numRuns: 30 },
  );
});

test('addPlain adds a plaintext', () => {
  fc.assert(
    fc.property(plain, fc.bigInt(-(1n << 100n), 1n << 100n), (a, k) => {
      assert.equal(decrypt(sk, addPlain(pk, encrypt(pk, a), k)), (((a + k) % n) + n) % n);
    }),
    { numRuns: 30 },
  );
});

test('re-randomization changes the ciphertext, not the plaintext', () => {
  fc.assert(
    fc.property(plain, (m) => {
      const c = encrypt(pk, m);
      const c2 = rerandomize(pk, c);
      assert.notEqual(c2, c);
      assert.equal(decrypt(sk, c2), m);
    }),
    { numRuns: 30 },
  );
});

test('encryption is randomized: two encryptions of the same value differ', () => {
  assert.notEqual(encrypt(pk, 5n), encrypt(pk, 5n));
});

test('sumCiphertexts (balanced tree) decrypts to the sum of any number of plaintexts', () => {
  fc.assert(
    fc.property(fc.array(plain, { minLength: 1, maxLength: 17 }), (ms) => {
      const s = sumCiphertexts(pk, ms.map((m) => encrypt(pk, m)));
      assert.equal(decrypt(sk, s), ms.reduce((a, b) => a + b, 0n) % n);
    }),
    { numRuns: 15 },
  );
});

test('ciphertexts serialize to fixed-length big-endian bytes and JSON', () => {
  fc.assert(
    fc.property(plain, (m) => {
      const c = encrypt(pk, m);
      const b = ciphertextToBytes(pk, c);
      assert.equal(b.length, pk.ciphertextByteLength);
      assert.equal(ciphertextFromBytes(pk, b), c);
      const j = ciphertextToJSON(pk, c);
      assert.equal(j.length, 2 * pk.ciphertextByteLength);
      assert.equal(ciphertextFromJSON(pk, JSON.parse(JSON.stringify(j))), c);
    }),
    { numRuns: 20 },
  );
  const cs = [encrypt(pk, 1n), encrypt(pk, 2n), 1n];
  assert.deepEqual(ciphertextsFromBytes(pk, ciphertextsToBytes(pk, cs)), cs);
});

test('public key round-trips through bytes and JSON (same n, same noise base)', () => {
  const b = publicKeyToBytes(pk);
  const pk2 = publicKeyFromBytes(b);
  assert.equal(pk2.n, pk.n);
  assert.equal(pk2.hs, pk.hs);
  assert.equal(b.length, 4 + 3 * pk.byteLength);
  const pk3 = publicKeyFromJSON(JSON.parse(JSON.stringify(pk)));
  assert.equal(pk3.hs, pk.hs);
  assert.equal(decrypt(sk, encrypt(pk3, 42n)), 42n);
  assert.throws(() => publicKeyFromBytes(b.subarray(0, b.length - 1)), EncodingLengthError);
  assert.throws(() => publicKeyFromJSON({ kind: 'nope' }), TypeError);
});

test('private key: explicit export round-trips; every implicit coercion throws; inspect hides it', () => {
  const j = exportPrivateKey(sk);
  const sk2 = importPrivateKey(JSON.parse(JSON.stringify(j)));
  assert.equal(sk2.p, sk.p);
  const sk3 = importPrivateKeyBytes(exportPrivateKeyBytes(sk));
  assert.equal(sk3.q, sk.q);
  assert.equal(decrypt(sk3, encrypt(pk, 77n)), 77n);
  assert.throws(() => JSON.stringify(sk), SecretCoercionError);
  assert.throws(() => `${sk}`, SecretCoercionError);
  assert.throws(() => String(sk), SecretCoercionError);
  assert.throws(() => +(sk as unknown as number), SecretCoercionError);
  assert.throws(() => sk.valueOf(), SecretCoercionError);
  assert.throws(() => sk.toString(), SecretCoercionError);
  const shown = inspect(sk, { depth: 5 });
  assert.ok(!shown.includes(sk.p.toString()) && !shown.includes(sk.p.toString(16)), 'inspect must not show p');
  assert.throws(() => importPrivateKeyBytes(exportPrivateKeyBytes(sk).subarray(1)), EncodingLengthError);
  assert.throws(() => new PaillierPrivateKey(sk.p, sk.q, keyPair(1024).publicKey), TypeError);
});

test('bad ciphertexts: >= n^2, 0, negative, gcd(c, n) != 1 are InvalidCiphertextError', () => {
  const { p } = sk;
  for (const bad of [pk.n2, pk.n2 + 5n, 0n, -3n]) {
    assert.throws(() => decrypt(sk, bad), InvalidCiphertextError, `decrypt ${bad}`);
    assert.throws(() => validateCiphertext(pk, bad), InvalidCiphertextError);
    assert.throws(() => add(pk, bad, encrypt(pk, 1n)), InvalidCiphertextError);
    assert.throws(() => rerandomize(pk, bad), InvalidCiphertextError);
  }
  const nonUnit = p * 12345n;
  assert.throws(() => decrypt(sk, nonUnit), InvalidCiphertextError);
  assert.throws(() => validateCiphertext(pk, nonUnit), InvalidCiphertextError);
  assert.throws(() => ciphertextFromBytes(pk, ciphertextToBytes(pk, nonUnit)), InvalidCiphertextError);
  // the batch check of the product names the culprit
  assert.throws(
    () => sumCiphertexts(pk, [encrypt(pk, 1n), nonUnit, encrypt(pk, 2n)]),
    (e: Error) => e instanceof InvalidCiphertextError && /ciphertexts\[1\]/.test(e.message),
  );
  assert.throws(() => decrypt(sk, 5 as unknown as bigint), TypeError);
});

test('bad ciphertext bytes: wrong length is EncodingLengthError, value >= n^2 is InvalidCiphertextError', () => {
  const b = ciphertextToBytes(pk, encrypt(pk, 9n));
  assert.throws(() => ciphertextFromBytes(pk, b.subarray(1)), EncodingLengthError);
  const longer = new Uint8Array(b.length + 1);
  longer.set(b, 1);
  assert.throws(() => ciphertextFromBytes(pk, longer), EncodingLengthError);
  assert.throws(() => ciphertextsFromBytes(pk, longer), EncodingLengthError);
  assert.throws(() => ciphertextFromBytes(pk, new Uint8Array(b.length).fill(0xff)), InvalidCiphertextError);
  assert.throws(() => ciphertextFromJSON(pk, 'ab'), EncodingLengthError);
  assert.throws(() => ciphertextFromJSON(pk, 42), TypeError);
});

test('bad plaintexts: outside [0, n) is ValueOutOfRangeError, a non-bigint is TypeError', () => {
  assert.throws(() => encrypt(pk, n), ValueOutOfRangeError);
  assert.throws(() => encrypt(pk, -1n), ValueOutOfRangeError);
  assert.throws(() => encrypt(pk, 3 as unknown as bigint), (e: Error) => e instanceof TypeError && /"m"/.test(e.message));
  assert.throws(() => encrypt({ n } as unknown as PaillierPublicKey, 3n), (e: Error) => e instanceof TypeError && /"publicKey"/.test(e.message));
  assert.throws(() => new PaillierPublicKey(1234n), RangeError);
});
