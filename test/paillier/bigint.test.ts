import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bigintToBytes, bitLength, bytesToBigint, gcd, isProbablePrime, modInv, modPow, randomBelow, randomPrime } from '../../src/paillier/bigint.js';
import { MontModulus, montStatus, powMod } from '../../src/paillier/mont.js';

const naivePow = (b: bigint, e: bigint, m: bigint) => {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
};

test('modPow agrees with square-and-multiply', () => {
  fc.assert(
    fc.property(fc.bigInt(2n, 1n << 700n), fc.bigInt(0n, 1n << 900n), fc.bigInt(2n, 1n << 600n), (m, e, b) => {
      assert.equal(modPow(b, e, m), naivePow(b, e, m));
    }),
    { numRuns: 40 },
  );
});

test('modInv inverts and refuses non-units', () => {
  fc.assert(
    fc.property(fc.bigInt(3n, 1n << 300n), fc.bigInt(1n, 1n << 300n), (m, a) => {
      if (gcd(a, m) !== 1n) assert.throws(() => modInv(a, m), RangeError);
      else assert.equal((modInv(a, m) * a) % m, 1n % m);
    }),
    { numRuns: 60 },
  );
});

test('wasm Montgomery kernel is loaded (after npm run build) and agrees with BigInt', () => {
  const st = montStatus();
  assert.equal(st.wasm, true, `wasm kernel not loaded: ${st.error}`);
  fc.assert(
    fc.property(fc.bigInt(1n << 255n, 1n << 4100n), fc.bigInt(0n, 1n << 4100n), fc.bigInt(1n, 1n << 1100n), (m0, b, e) => {
      const m = m0 | 1n;
      const M = new MontModulus(m);
      assert.equal(M.mul(b, b), (b * b) % m);
      assert.equal(M.mul(b, e), (b * e) % m);
      assert.equal(M.pow(b, e), modPow(b, e, m));
      assert.equal(powMod(b, e, m), modPow(b, e, m));
    }),
    { numRuns: 25 },
  );
});

test('Montgomery edge cases: base 0, base m-1, exponent 1', () => {
  const m = (1n << 2047n) + 12345n * 2n + 1n;
  const M = new MontModulus(m);
  assert.equal(M.pow(0n, 5n), 0n);
  assert.equal(M.pow(m - 1n, 3n), m - 1n);
  assert.equal(M.pow(m - 1n, 2n), 1n);
  assert.equal(M.pow(123456789n, 1n), 123456789n);
});

test('primality: small primes, composites, Carmichael numbers, a known large prime', () => {
  for (const p of [2n, 3n, 5n, 97n, 7919n, 104729n]) assert.equal(isProbablePrime(p), true, `${p}`);
  for (const c of [0n, 1n, 4n, 561n, 1105n, 1729n, 2465n, 41041n, 825265n, 104729n * 7919n]) assert.equal(isProbablePrime(c), false, `${c}`);
  const m127 = (1n << 127n) - 1n; // Mersenne prime
  assert.equal(isProbablePrime(m127), true);
  assert.equal(isProbablePrime(m127 * ((1n << 61n) - 1n)), false);
  // a strong pseudoprime to bases 2..37 (Arnault-style numbers fool fixed bases; random bases do not)
  assert.equal(isProbablePrime(3825123056546413051n), false);
});

test('randomPrime has exactly the requested bits and its top two bits set', () => {
  for (const bits of [64, 256, 512]) {
    const p = randomPrime(bits);
    assert.equal(bitLength(p), bits);
    assert.equal(p >> BigInt(bits - 2), 3n);
    assert.equal(isProbablePrime(p), true);
  }
});

test('fixed-length big-endian bytes round trip and reject overflow', () => {
  fc.assert(
    fc.property(fc.bigInt(0n, (1n << 256n) - 1n), (x) => {
      const b = bigintToBytes(x, 32);
      assert.equal(b.length, 32);
      assert.equal(bytesToBigint(b), x);
    }),
  );
  assert.throws(() => bigintToBytes(1n << 256n, 32), RangeError);
  assert.throws(() => bigintToBytes(-1n, 32), RangeError);
  const r = randomBelow(1000n);
  assert.ok(r >= 0n && r < 1000n);
});

test('fixed-base table: the wasm path and the BigInt path agree with modPow, across two resident tables', async () => {
  const { FixedBaseTable } = await import('../../src/paillier/fixedbase.js');
  fc.assert(
    fc.property(fc.bigInt(1n << 511n, 1n << 1100n), fc.bigInt(2n, 1n << 1100n), fc.array(fc.bigInt(0n, (1n << 300n) - 1n), { minLength: 1, maxLength: 4 }), (m0, b, es) => {
      const m = m0 | 1n;
      const t1 = new FixedBaseTable(b, m, 300, 5);
      const t2 = new FixedBaseTable(b + 1n, m, 300, 7);
      for (const e of es) {
        assert.equal(t1.pow(e), modPow(b, e, m));
        assert.equal(t2.pow(e), modPow(b + 1n, e, m));
        assert.equal(t1.powBigint(e), modPow(b, e, m));
      }
      assert.equal(t1.wasm, true);
      assert.throws(() => t1.pow(1n << 300n), RangeError);
    }),
    { numRuns: 8 },
  );
});
