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
  SlotOverflowError,
  TooManyClientsError,
  ValueOutOfRangeError,
  type EncryptedVector,
  type PackingOptions,
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

// ---- range checks (each kills a single-line mutation of packing.ts that survived before) ----

test('bigint values below the range are refused (the bigint lower-bound check), signed and unsigned', () => {
  const big = new PaillierPacking({ keyBits: pk.bits, bitwidth: 64, maxClients: 2 });
  const min = -(1n << 63n);
  assert.deepEqual(big.decode(big.encode([min]), 1, 1), [min]);
  assert.throws(() => big.encode([min - 1n]), (e: Error) => e instanceof ValueOutOfRangeError && /"values\[0\]" expected integer in \[-9223372036854775808, 9223372036854775807\] \(bitwidth 64, signed\), got -9223372036854775809/.test(e.message));
  assert.throws(() => big.encode([0n, -(1n << 200n)]), (e: Error) => e instanceof ValueOutOfRangeError && /values\[1\]/.test(e.message));
  const small = new PaillierPacking({ keyBits: pk.bits, bitwidth: 8, maxClients: 2 });
  assert.throws(() => small.encode([-129n]), ValueOutOfRangeError);
  assert.throws(() => small.encode([128n]), ValueOutOfRangeError);
  assert.deepEqual(small.decode(small.encode([-128n, 127n]), 2, 1), [-128n, 127n]);
  const u = new PaillierPacking({ keyBits: pk.bits, bitwidth: 8, maxClients: 2, signed: false });
  assert.throws(() => u.encode([-1n]), (e: Error) => e instanceof ValueOutOfRangeError && /in \[0, 255\] \(bitwidth 8\), got -1$/.test(e.message));
  assert.throws(() => u.encode([256n]), ValueOutOfRangeError);
  // the lower bound is what keeps a negative value from borrowing from the slot above
  assert.deepEqual(u.decode(u.encode([0n, 255n]), 2, 1), [0n, 255n]);
});

test('numbers beyond 52 bits go through the exact bigint check (2^63 is not below the int64 maximum)', () => {
  const big = new PaillierPacking({ keyBits: pk.bits, bitwidth: 64, maxClients: 2 });
  assert.throws(() => big.encode([2 ** 63]), (e: Error) => e instanceof ValueOutOfRangeError && /values\[0\]/.test(e.message));
  assert.throws(() => big.encode([-(2 ** 63) - 4096]), ValueOutOfRangeError);
  assert.deepEqual(big.decode(big.encode([-(2 ** 63), 2 ** 62, -5]), 3, 1), [-(1n << 63n), 1n << 62n, -5n]);
  assert.throws(() => big.encode([0.5]), TypeError);
  const w52 = new PaillierPacking({ keyBits: pk.bits, bitwidth: 52, maxClients: 2 });
  assert.deepEqual(w52.decode(w52.encode([-(2 ** 51), 2 ** 51 - 1]), 2, 1), [-(1n << 51n), (1n << 51n) - 1n]);
  assert.throws(() => w52.encode([2 ** 51]), ValueOutOfRangeError);
  assert.throws(() => w52.encode([-(2 ** 51) - 1]), ValueOutOfRangeError);
  const w53 = new PaillierPacking({ keyBits: pk.bits, bitwidth: 53, maxClients: 2, signed: false });
  assert.deepEqual(w53.decode(w53.encode([2 ** 53 - 1, 0]), 2, 1), [(1n << 53n) - 1n, 0n]);
  assert.throws(() => w53.encode([2 ** 53]), ValueOutOfRangeError);
});

test('decode: bits above the last slot are refused (wrong key, packing or length, or a forged plaintext)', () => {
  const p = new PaillierPacking({ keyBits: pk.bits, bitwidth: 8, maxClients: 4, signed: false });
  const S = p.slotsPerCiphertext;
  const len = S + 3; // the second plaintext uses 3 of its S slots
  const ms = p.encode(Array.from({ length: len }, (_, i) => i % 256));
  assert.deepEqual(p.decode(ms, len, 1).map(Number), Array.from({ length: len }, (_, i) => i % 256));
  const above = (c: number, used: number) => ms.map((m, i) => (i === c ? m | (1n << BigInt(used * p.slotBits)) : m));
  assert.throws(() => p.decode(above(1, 3), len, 1), (e: Error) => e instanceof RangeError && /plaintext 1 has bits above its last slot/.test(e.message));
  assert.throws(() => p.decode(above(0, S), len, 1), (e: Error) => e instanceof RangeError && /plaintext 0 has bits above its last slot/.test(e.message));
  // a whole vector decoded with too short a length is caught the same way
  assert.throws(() => p.decode([ms[0]!], S - 1, 1), /bits above its last slot/);
});

test('decode: a slot above contributions·(2^bitwidth - 1) is SlotOverflowError naming the value; the bound itself passes', () => {
  const p = new PaillierPacking({ keyBits: pk.bits, bitwidth: 8, maxClients: 4, signed: true });
  const sb = BigInt(p.slotBits);
  // three contributions: the largest honest slot sum is 3·255 (offset encoding of three 127s)
  const top = 3n * 255n;
  const at = (i: number, v: bigint) => v << (sb * BigInt(i));
  assert.deepEqual(p.decode([at(0, top) | at(1, 0n)], 2, 3), [3n * 127n, -3n * 128n]);
  assert.throws(() => p.decode([at(0, 5n) | at(1, top + 1n)], 2, 3), (e: unknown) => e instanceof SlotOverflowError && e.index === 1 && e.code === 'PAILLIER_SLOT_OVERFLOW' && /slot of value 1 holds 766, above 3 × \(2\^8 - 1\)/.test(e.message));
  assert.throws(() => p.decode([at(0, 1n)], 1, 0), (e: unknown) => e instanceof SlotOverflowError && e.index === 0);
  assert.deepEqual(p.decode([0n], 1, 0), [0n]);
});

test('decode: argument checks (contributions, length, number of plaintexts) are typed errors', () => {
  const p = new PaillierPacking({ keyBits: pk.bits, bitwidth: 8, maxClients: 4 });
  const ms = p.encode([1, 2, 3]);
  assert.throws(() => p.decode(ms, 3, -1), (e: Error) => e instanceof TypeError && /"contributions" expected non-negative integer/.test(e.message));
  assert.throws(() => p.decode(ms, 3, 1.5), TypeError);
  assert.deepEqual(p.decode(ms.map((m) => m * 4n), 3, 4), [4n, 8n, 12n]);
  assert.throws(() => p.decode(ms, 3, 5), (e: Error) => e instanceof TooManyClientsError && /5 contributions exceed the packing's maxClients = 4 \(headroom 2 bits\)/.test(e.message));
  assert.throws(() => p.decode(ms, -1, 1), (e: Error) => e instanceof RangeError && /"length"/.test(e.message));
  assert.throws(() => p.decode(ms, 2.5, 1), (e: Error) => e instanceof TypeError && /"length"/.test(e.message));
  assert.throws(() => p.decode([...ms, 0n], 3, 1), (e: Error) => e instanceof RangeError && /"plaintexts" expected 1 plaintexts for 3 values/.test(e.message));
  assert.throws(() => p.decode({ length: 1, 0: ms[0] } as unknown as bigint[], 3, 1), RangeError);
  assert.deepEqual(p.decode([], 0, 0), []);
  const f = p.decodeNumbers(ms, 3, 1);
  assert.ok(f instanceof Float64Array);
  assert.deepEqual([...f], [1, 2, 3]);
});

test('packing options and encode arguments: typed errors naming the argument', () => {
  assert.throws(() => new PaillierPacking(null as unknown as PackingOptions), (e: Error) => e instanceof TypeError && /"options"/.test(e.message));
  assert.throws(() => new PaillierPacking({ keyBits: 512, bitwidth: 8, maxClients: 2, signed: 'yes' as unknown as boolean }), (e: Error) => e instanceof TypeError && /"signed"/.test(e.message));
  assert.throws(() => new PaillierPacking({ keyBits: 63, bitwidth: 8, maxClients: 2 }), (e: Error) => e instanceof RangeError && /"keyBits"/.test(e.message));
  assert.throws(() => new PaillierPacking({ keyBits: 512, bitwidth: 8, maxClients: 2 ** 31 + 1 }), (e: Error) => e instanceof RangeError && /"maxClients"/.test(e.message));
  assert.throws(() => new PaillierPacking({ keyBits: 64, bitwidth: 63, maxClients: 2 }), (e: Error) => e instanceof RangeError && /a 64-bit slot does not fit a 64-bit key/.test(e.message));
  const fits = new PaillierPacking({ keyBits: 64, bitwidth: 62, maxClients: 2 });
  assert.equal(fits.slotsPerCiphertext, 1);
  assert.ok(Object.isFrozen(fits));
  assert.deepEqual(fits.range, [-(1n << 61n), (1n << 61n) - 1n]);
  assert.deepEqual(new PaillierPacking({ keyBits: 64, bitwidth: 8, maxClients: 1, signed: false }).range, [0n, 255n]);
  const p = new PaillierPacking({ keyBits: pk.bits, bitwidth: 8, maxClients: 2 });
  for (const bad of [null, 5, 'abc', { length: 'x' }]) assert.throws(() => p.encode(bad as unknown as number[]), (e: Error) => e instanceof TypeError && /"values" expected array of integers/.test(e.message));
  assert.throws(() => p.encode([1, null as unknown as number]), (e: Error) => e instanceof TypeError && /"values\[1\]" expected integer/.test(e.message));
  assert.throws(() => p.encode([NaN]), (e: Error) => e instanceof TypeError && /"values\[0\]"/.test(e.message));
  assert.deepEqual(p.encode([]), []);
  assert.equal(p.ciphertextsFor(0), 0);
  assert.equal(p.ciphertextsFor(p.slotsPerCiphertext), 1);
  assert.equal(p.ciphertextsFor(p.slotsPerCiphertext + 1), 2);
  // slot 0 holds values[start] in the least significant bits
  assert.deepEqual(p.encode([1, 0]), [(128n << BigInt(p.slotBits)) | 129n]);
  assert.deepEqual(new PaillierPacking({ keyBits: pk.bits, bitwidth: 8, maxClients: 2, signed: false }).encode(new Uint8Array([3, 4])), [(4n << 9n) | 3n]);
});
