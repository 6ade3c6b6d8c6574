import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  addVectors,
  decryptVector,
  EncodingLengthError,
  encryptedVectorFromBytes,
  encryptedVectorToBytes,
  encryptVector,
  InvalidCiphertextError,
  PaillierPacking,
  rerandomizeVector,
  TooManyClientsError,
  ValueOutOfRangeError,
  type EncryptedVector,
} from '../../src/paillier/index.js';
import { keyPair } from './fixtures.js';

const { publicKey: pk, privateKey: sk } = keyPair(512);

test('slot layout: 2048-bit key, int32, 10 clients -> 36-bit slots, 56 values per ciphertext', () => {
  const p = new PaillierPacking({ keyBits: 2048, bitwidth: 32, maxClients: 10 });
  assert.equal(p.headroomBits, 4);
  assert.equal(p.slotBits, 36);
  assert.equal(p.slotsPerCiphertext, 56);
  assert.equal(p.ciphertextsFor(100_000), 1786);
  const one = new PaillierPacking({ keyBits: 2048, bitwidth: 8, maxClients: 1 });
  assert.equal(one.headroomBits, 0);
  assert.equal(new PaillierPacking({ keyBits: 2048, bitwidth: 8, maxClients: 16 }).headroomBits, 4);
  assert.equal(new PaillierPacking({ keyBits: 2048, bitwidth: 8, maxClients: 17 }).headroomBits, 5);
});

test('plaintext encode/decode: sums of up to maxClients signed vectors are exact (no slot overflow)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 2, max: 33 }),
      fc.integer({ min: 1, max: 60 }),
      fc.boolean(),
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      (bitwidth, maxClients, length, signed, seed) => {
        const p = new PaillierPacking({ keyBits: 512, bitwidth, maxClients, signed });
        const [lo, hi] = p.range;
        const rng = fc.bigInt(lo, hi);
        const k = 1 + (seed % maxClients);
        // extreme values make overflow bugs show: mix bounds with random draws
        const vecs = Array.from({ length: k }, (_, c) =>
          Array.from({ length }, (_, i) => ((c + i + seed) % 3 === 0 ? hi : (c + i + seed) % 3 === 1 ? lo : fc.sample(rng, { numRuns: 1, seed: seed + c * 97 + i })[0]!)),
        );
        let acc: bigint[] | undefined;
        for (const v of vecs) {
          const e = p.encode(v);
          acc = acc ? acc.map((x, i) => x + e[i]!) : e;
        }
        const want = Array.from({ length }, (_, i) => vecs.reduce((s, v) => s + v[i]!, 0n));
        assert.deepEqual(p.decode(acc!, length, k), want);
      },
    ),
    { numRuns: 60 },
  );
});

test('encrypted packing: random int vectors from a random number of clients (negatives included) sum exactly', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 30 }),
      fc.integer({ min: 1, max: 2 ** 30 }),
      (maxClients, length, seed) => {
        const p = new PaillierPacking({ keyBits: pk.bits, bitwidth: 32, maxClients });
        const k = 1 + (seed % maxClients);
        const vecs = Array.from({ length: k }, (_, c) => Int32Array.from({ length }, (_, i) => (Math.imul(seed ^ (c * 7919), i + 13) | 0)));
        const enc = vecs.map((v) => encryptVector(pk, p, v));
        const sum = rerandomizeVector(pk, addVectors(pk, p, enc));
        assert.equal(sum.contributions, k);
        const want = Array.from({ length }, (_, i) => vecs.reduce((s, v) => s + BigInt(v[i]!), 0n));
        assert.deepEqual(decryptVector(sk, p, sum), want);
      },
    ),
    { numRuns: 15 },
  );
});

test('one 512-bit ciphertext carries floor(511 / slotBits) values', () => {
  const p = new PaillierPacking({ keyBits: pk.bits, bitwidth: 16, maxClients: 4 });
  const v = encryptVector(pk, p, Array.from({ length: 100 }, (_, i) => i - 50));
  assert.equal(p.slotsPerCiphertext, Math.floor(511 / 18));
  assert.equal(v.ciphertexts.length, Math.ceil(100 / p.slotsPerCiphertext));
});

test('a value outside the declared bitwidth is ValueOutOfRangeError naming the index', () => {
  const p = new PaillierPacking({ keyBits: pk.bits, bitwidth: 8, maxClients: 4 });
  assert.throws(() => p.encode([1, 2, 128]), (e: Error) => e instanceof ValueOutOfRangeError && /values\[2\]/.test(e.message));
  assert.throws(() => p.encode([-129]), ValueOutOfRangeError);
  assert.throws(() => encryptVector(pk, p, [0, 1000]), ValueOutOfRangeError);
  assert.throws(() => p.encode([1.5]), TypeError);
  assert.throws(() => p.encode(['1' as unknown as number]), TypeError);
  const u = new PaillierPacking({ keyBits: pk.bits, bitwidth: 8, maxClients: 4, signed: false });
  assert.throws(() => u.encode([-1]), ValueOutOfRangeError);
  assert.throws(() => u.encode([256]), ValueOutOfRangeError);
  assert.deepEqual(u.decode(u.encode([255, 0]), 2, 1), [255n, 0n]);
  const big = new PaillierPacking({ keyBits: pk.bits, bitwidth: 64, maxClients: 2 });
  assert.throws(() => big.encode([1n << 63n]), ValueOutOfRangeError);
  assert.deepEqual(big.decode(big.encode([-(1n << 63n), (1n << 63n) - 1n]), 2, 1), [-(1n << 63n), (1n << 63n) - 1n]);
});

test('more clients than the packing allows is TooManyClientsError, before any ciphertext is combined', () => {
  const p = new PaillierPacking({ keyBits: pk.bits, bitwidth: 8, maxClients: 3 });
  const vs = Array.from({ length: 4 }, (_, i) => encryptVector(pk, p, [i, -i]));
  assert.throws(() => addVectors(pk, p, vs), TooManyClientsError);
  const three = addVectors(pk, p, vs.slice(0, 3));
  assert.throws(() => addVectors(pk, p, [three, vs[3]!]), TooManyClientsError);
  assert.deepEqual(decryptVector(sk, p, three), [3n, -3n]);
  assert.throws(() => p.decode([0n], 1, 4), TooManyClientsError);
  const forged: EncryptedVector = { ...vs[0]!, contributions: 4 };
  assert.throws(() => decryptVector(sk, p, forged), TooManyClientsError);
});

test('bad packing options are typed errors naming the argument', () => {
  assert.throws(() => new PaillierPacking({ keyBits: 2048, bitwidth: 0, maxClients: 2 }), (e: Error) => e instanceof RangeError && /"bitwidth"/.test(e.message));
  assert.throws(() => new PaillierPacking({ keyBits: 2048, bitwidth: 257, maxClients: 2 }), RangeError);
  assert.throws(() => new PaillierPacking({ keyBits: 2048, bitwidth: 32, maxClients: 0 }), (e: Error) => e instanceof RangeError && /"maxClients"/.test(e.message));
  assert.throws(() => new PaillierPacking({ keyBits: 2048, bitwidth: '32' as unknown as number, maxClients: 2 }), TypeError);
  assert.throws(() => new PaillierPacking({ keyBits: 64, bitwidth: 64, maxClients: 2 }), RangeError);
});

test('encrypted vectors: wire form round-trips; wrong length and out-of-group ciphertexts are rejected', () => {
  const p = new PaillierPacking({ keyBits: pk.bits, bitwidth: 16, maxClients: 5 });
  const v = encryptVector(pk, p, Array.from({ length: 40 }, (_, i) => 3 * i - 60));
  const b = encryptedVectorToBytes(pk, v);
  const v2 = encryptedVectorFromBytes(pk, p, b);
  assert.deepEqual(v2, v);
  assert.throws(() => encryptedVectorFromBytes(pk, p, b.subarray(0, b.length - 1)), EncodingLengthError);
  const bad = b.slice();
  bad.fill(0xff, 8, 8 + pk.ciphertextByteLength);
  assert.throws(() => encryptedVectorFromBytes(pk, p, bad), InvalidCiphertextError);
  const tooMany = b.slice();
  new DataView(tooMany.buffer).setUint32(4, 6);
  assert.throws(() => encryptedVectorFromBytes(pk, p, tooMany), TooManyClientsError);
  // a zero ciphertext inside a vector is caught by addVectors before it is combined
  const zero: EncryptedVector = { ...v, ciphertexts: [0n, ...v.ciphertexts.slice(1)] };
  assert.throws(() => addVectors(pk, p, [v, zero]), InvalidCiphertextError);
  const nonUnit: EncryptedVector = { ...v, ciphertexts: [sk.q * 3n, ...v.ciphertexts.slice(1)] };
  assert.throws(() => addVectors(pk, p, [v, nonUnit]), InvalidCiphertextError);
  assert.throws(() => addVectors(pk, p, [v, { ...v, length: 39 }]), RangeError);
});
