// RingTensor construction, conversions and byte round trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { RingTensor } from '../../src/ring/index.js';
import { anyTensorArb, bitsArb, mod, shapeArb, sizeOf } from './helpers.js';

test('fromBigInts reduces mod 2^bits (negatives to two\'s complement); toBigInts/toSignedBigInts/get', () => {
  fc.assert(
    fc.property(
      fc.tuple(bitsArb, shapeArb(2, 5)).chain(([bits, shape]) =>
        fc.tuple(fc.constant(bits), fc.constant(shape), fc.array(fc.bigInt({ min: -(1n << 200n), max: 1n << 200n }), { minLength: sizeOf(shape), maxLength: sizeOf(shape) })),
      ),
      ([bits, shape, vals]) => {
        const t = RingTensor.fromBigInts(bits, shape, vals);
        const M = mod(bits);
        const u = vals.map((v) => ((v % M) + M) % M);
        assert.deepEqual(t.toBigInts(), u);
        assert.deepEqual(t.toSignedBigInts(), u.map((v) => (v >= M / 2n ? v - M : v)));
        u.forEach((v, i) => assert.equal(t.get(i), v));
        assert.equal(t.size, sizeOf(shape));
        assert.equal(t.data.length, t.size * (bits / 64));
        // 128-bit limbs are little-endian [lo, hi]
        if (bits === 128 && t.size > 0) {
          assert.equal(t.data[0], u[0]! & ((1n << 64n) - 1n));
          assert.equal(t.data[1], u[0]! >> 64n);
        }
      },
    ),
    { numRuns: 80 },
  );
});

test('toBytes / fromBytes round trip; toBytes is little-endian and a view over data', () => {
  fc.assert(
    fc.property(anyTensorArb(3, 5), (t) => {
      const bytes = t.toBytes();
      assert.equal(bytes.length, t.size * (t.bits / 8));
      const back = RingTensor.fromBytes(t.bits, t.shape, bytes);
      assert.deepEqual(back.toBigInts(), t.toBigInts());
      assert.deepEqual(back.shape, t.shape);
      if (t.size > 0) {
        // byte 0 is the least significant byte of element 0
        assert.equal(BigInt(bytes[0]!), t.get(0) & 0xffn);
        // fromBytes copies: mutating the source bytes does not change the result
        const copy = Uint8Array.from(bytes);
        const fresh = RingTensor.fromBytes(t.bits, t.shape, copy);
        copy[0] = copy[0]! ^ 0xff;
        assert.equal(fresh.get(0), t.get(0));
        // toBytes is a view: writes through data are visible
        const c = t.clone();
        const view = c.toBytes();
        c.data[0] = c.data[0]! ^ 1n;
        assert.equal(view[0], bytes[0]! ^ 1);
      }
    }),
    { numRuns: 80 },
  );
});

test('fromBytes accepts an unaligned subarray', () => {
  const buf = randomBytes(8 * 5 + 3);
  const sub = buf.subarray(3);
  const t = RingTensor.fromBytes(64, [5], sub);
  for (let i = 0; i < 5; i++) assert.equal(t.get(i), Buffer.from(sub).readBigUInt64LE(8 * i));
});

test('fromRandomBytes uses the first size*bits/8 bytes of the stream', () => {
  for (const bits of [64, 128] as const) {
    const stream = randomBytes(6 * (bits / 8) + 11);
    const t = RingTensor.fromRandomBytes(bits, [2, 3], stream);
    assert.deepEqual(t.toBytes(), Uint8Array.from(stream.subarray(0, 6 * (bits / 8))));
  }
});

test('fromRandomBytes looks uniform: each of the 64 bit positions is set about half the time', () => {
  const n = 4096;
  const t = RingTensor.fromRandomBytes(64, [n], randomBytes(8 * n));
  for (let b = 0n; b < 64n; b++) {
    let ones = 0;
    for (let i = 0; i < n; i++) if ((t.data[i]! >> b) & 1n) ones++;
    // binomial(4096, 1/2): sd = 32; 6 sd bound fails with probability < 1e-8 per bit
    assert.ok(Math.abs(ones - n / 2) < 6 * 32, `bit ${b}: ${ones} ones of ${n}`);
  }
});

test('constructor adopts data without copying; zeros by default; clone copies', () => {
  const d = new BigUint64Array([1n, 2n, 3n, 4n]);
  const t = new RingTensor(128, [2], d);
  assert.equal(t.data, d);
  assert.deepEqual(t.toBigInts(), [(2n << 64n) | 1n, (4n << 64n) | 3n]);
  const z = new RingTensor(64, [2, 0, 3]);
  assert.equal(z.size, 0);
  assert.deepEqual(new RingTensor(64, [3]).toBigInts(), [0n, 0n, 0n]);
  const c = t.clone();
  c.data[0] = 9n;
  assert.equal(t.data[0], 1n);
  assert.deepEqual(new RingTensor(64, []).shape, []);
  assert.equal(new RingTensor(64, []).size, 1);
  assert.ok(Object.isFrozen(t.shape));
});
