// Public-key validation (what a party checks on a key it did not generate) and the key classes' checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { randomBytes } from 'node:crypto';
import {
  checkKeyFingerprint,
  decrypt,
  defaultNoiseBits,
  deriveNoiseBase,
  EncodingLengthError,
  encrypt,
  exportPrivateKey,
  exportPrivateKeyBytes,
  FixedBaseTable,
  generateKeyPair,
  importPrivateKey,
  importPrivateKeyBytes,
  KeyMismatchError,
  MIN_NOISE_BITS,
  PaillierPrivateKey,
  PaillierPublicKey,
  publicKeyFingerprint,
  publicKeyFromBytes,
  publicKeyFromJSON,
  publicKeyToBytes,
  UntrustedKeyError,
} from '../../src/paillier/index.js';
import { checkModulus, noiseSeed, NOISE_BASE_DOMAIN } from '../../src/paillier/keys.js';
import { gcd, isqrt, modPow, randomPrime, smallPrimeFactor } from '../../src/paillier/bigint.js';
import { keyBytes, keyPair } from './fixtures.js';

const { publicKey: pk, privateKey: sk } = keyPair(512);
const n = pk.n;

const untrusted = (field: string, re?: RegExp) => (e: unknown) =>
  e instanceof UntrustedKeyError && e instanceof RangeError && e.field === field && e.code === 'PAILLIER_UNTRUSTED_KEY' && e.name === 'UntrustedKeyError' && (re === undefined || re.test(e.message));

test('the noise base is derived from n alone: hs = (-x^2)^n mod n^2 with x = noiseSeed(n), an encryption of 0', () => {
  const x = noiseSeed(n);
  assert.ok(x > 1n && x < n);
  assert.equal(gcd(x, n), 1n);
  const h = (n - ((x * x) % n)) % n;
  assert.equal(pk.hs, modPow(h, n, pk.n2));
  assert.equal(deriveNoiseBase(n), pk.hs);
  // hs is an n-th residue: it decrypts to 0, and so does every noise factor hs^a
  assert.equal(decrypt(sk, pk.hs), 0n);
  // deterministic: another party parsing the key, or building it from n alone, gets the same base
  assert.equal(new PaillierPublicKey(n).hs, pk.hs);
  assert.equal(publicKeyFromBytes(publicKeyToBytes(pk)).hs, pk.hs);
  // the seed is SHA-256 of (tag, counter, n), 128 bits longer than n, reduced mod n: it depends on every byte of n
  assert.equal(NOISE_BASE_DOMAIN, 'fedcrypt/paillier/djn-noise-base/v1');
  const other = keyPair(1024).publicKey;
  assert.notEqual(noiseSeed(other.n), x);
  assert.ok(noiseSeed(other.n).toString(2).length > 1000);
  // not of small order: hs^k != 1 for small k
  for (const k of [1n, 2n, 3n, 4n, 6n, 8n, 12n]) assert.notEqual(modPow(pk.hs, k, pk.n2), 1n, `hs^${k}`);
});

test('a key whose hs is not the derived base is refused, naming "hs" (n^2 - 1, order-2 and 1 + n bases, one flipped bit)', () => {
  const p2 = sk.p * sk.p;
  const q2 = sk.q * sk.q;
  // u = 1 mod p^2, -1 mod q^2: a unit of order 2 (its noise is 1 or u, which the aggregator could simply try)
  const u = (1n + p2 * (((q2 - 2n) * modPow(p2, -1n, q2)) % q2)) % pk.n2;
  assert.equal((u * u) % pk.n2, 1n);
  for (const hs of [pk.n2 - 1n, u, n + 1n, pk.hs ^ 1n]) {
    assert.throws(() => publicKeyFromBytes(keyBytes(n, hs, 256)), untrusted('hs', /"hs" is not the noise base derived from n/));
    assert.throws(() => new PaillierPublicKey(n, { hs }), untrusted('hs'));
    assert.throws(() => publicKeyFromJSON({ kind: 'paillier-public-key', n: n.toString(16), hs: hs.toString(16), noiseBits: 256 }), untrusted('hs'));
  }
  assert.throws(() => new PaillierPublicKey(n, { hs: 5 as unknown as bigint }), (e: Error) => e instanceof TypeError && /"hs"/.test(e.message));
  assert.equal(new PaillierPublicKey(n, { hs: pk.hs }).hs, pk.hs);
});

test(`noiseBits below ${MIN_NOISE_BITS} or above 2·bits is refused, naming "noiseBits"; the bounds themselves are accepted`, () => {
  assert.equal(MIN_NOISE_BITS, 256);
  for (const nb of [0, 128, 255, 2 * pk.bits + 1, 65535]) {
    assert.throws(() => publicKeyFromBytes(keyBytes(n, pk.hs, nb)), untrusted('noiseBits', new RegExp(`"noiseBits" expected integer in \\[256, ${2 * pk.bits}\\].*got ${nb}`)));
  }
  assert.equal(publicKeyFromBytes(keyBytes(n, pk.hs, 256)).noiseBits, 256);
  assert.equal(publicKeyFromBytes(keyBytes(n, pk.hs, 2 * pk.bits)).noiseBits, 2 * pk.bits);
  assert.throws(() => new PaillierPublicKey(n, { noiseBits: 300.5 }), (e: Error) => e instanceof TypeError && /"noiseBits"/.test(e.message));
  assert.throws(() => new PaillierPublicKey(n, { noiseBits: '300' as unknown as number }), TypeError);
  assert.throws(() => generateKeyPair(512, { noiseBits: 200 }), untrusted('noiseBits'));
  assert.throws(() => new PaillierPublicKey(n, null as unknown as {}), (e: Error) => e instanceof TypeError && /"options"/.test(e.message));
  assert.deepEqual([512, 513, 2048, 3072].map(defaultNoiseBits), [256, 257, 1024, 1536]);
  assert.equal(new PaillierPublicKey(n).noiseBits, 256);
});

test('trivially weak moduli are refused naming "n": a small factor, a square, a prime; size and parity are RangeErrors', () => {
  const p = randomPrime(256);
  const q = randomPrime(256);
  assert.throws(() => publicKeyFromBytes(keyBytes(3n * p * q, 2n, 256)), untrusted('n', /small prime factor 3\b/));
  assert.throws(() => new PaillierPublicKey(16381n * p * q), untrusted('n', /small prime factor 16381\b/));
  assert.throws(() => new PaillierPublicKey(p * p), untrusted('n', /perfect square/));
  const big = randomPrime(512);
  assert.throws(() => new PaillierPublicKey(big), untrusted('n', /is prime/));
  assert.throws(() => deriveNoiseBase(big), untrusted('n', /deriveNoiseBase: "n" is prime/));
  for (const bad of [p * q + 1n, (1n << 254n) | 1n, (1n << 8192n) + 1n, -n]) {
    assert.throws(() => new PaillierPublicKey(bad), (e: Error) => e instanceof RangeError && !(e instanceof UntrustedKeyError) && /"n" expected odd modulus of 256\.\.8192 bits/.test(e.message), String(bad).slice(0, 20));
  }
  assert.throws(() => checkModulus('f', 7), (e: Error) => e instanceof TypeError && /f: "n" expected bigint/.test(e.message));
  assert.equal(checkModulus('f', n), n);
  // the helpers behind the checks
  assert.equal(smallPrimeFactor(n), 0);
  assert.equal(smallPrimeFactor(3n * 5n * p), 3);
  assert.equal(smallPrimeFactor(16381n * p), 16381);
  assert.equal(smallPrimeFactor(16411n * p), 0); // 16411 is the first prime above 2^14
  assert.deepEqual([0n, 1n, 2n, 3n, 4n, 8n, 9n, 99n, 100n].map(isqrt), [0n, 1n, 1n, 1n, 2n, 2n, 3n, 9n, 10n]);
  assert.equal(isqrt(p * p), p);
  assert.equal(isqrt(p * p - 1n), p - 1n);
  assert.throws(() => isqrt(-1n), RangeError);
});

test('fingerprints: SHA-256 of the canonical key bytes; a mismatch is refused naming "keyFingerprint"', () => {
  const fp = publicKeyFingerprint(pk);
  assert.match(fp, /^[0-9a-f]{64}$/);
  assert.equal(publicKeyFingerprint(publicKeyFromBytes(publicKeyToBytes(pk))), fp);
  assert.notEqual(publicKeyFingerprint(new PaillierPublicKey(n, { noiseBits: 300 })), fp);
  assert.notEqual(publicKeyFingerprint(keyPair(1024).publicKey), fp);
  checkKeyFingerprint('client-0', pk, fp);
  assert.throws(() => checkKeyFingerprint('client-0', keyPair(1024).publicKey, fp), untrusted('keyFingerprint', /^client-0: .* is not the pinned "keyFingerprint"/));
  assert.throws(() => checkKeyFingerprint('c', pk, fp.toUpperCase()), (e: Error) => e instanceof TypeError && /"keyFingerprint"/.test(e.message));
  assert.throws(() => checkKeyFingerprint('c', pk, fp.slice(1)), TypeError);
  assert.throws(() => publicKeyFingerprint({ n } as unknown as PaillierPublicKey), (e: Error) => e instanceof TypeError && /"publicKey"/.test(e.message));
});

test('public key bytes and JSON: malformed input is a typed error naming what is wrong', () => {
  const b = publicKeyToBytes(pk);
  assert.equal(b.length, 4 + 3 * pk.byteLength);
  assert.throws(() => publicKeyFromBytes(b.subarray(0, 3)), (e: Error) => e instanceof EncodingLengthError && /too short \(3 bytes\)/.test(e.message));
  assert.throws(() => publicKeyFromBytes(new Uint8Array(4 + 3 * pk.byteLength + 1)), (e: Error) => e instanceof EncodingLengthError && /expected \d+ bytes/.test(e.message));
  assert.throws(() => publicKeyFromBytes([...b] as unknown as Uint8Array), (e: Error) => e instanceof TypeError && /"bytes"/.test(e.message));
  // a modulus with a leading zero byte (not the canonical encoding)
  const padded = keyBytes(n, pk.hs, 256);
  const L = pk.byteLength + 1;
  const lead = new Uint8Array(4 + 3 * L);
  new DataView(lead.buffer).setUint16(0, L);
  new DataView(lead.buffer).setUint16(2, 256);
  lead.set(padded.subarray(4, 4 + pk.byteLength), 5);
  lead.set(padded.subarray(4 + pk.byteLength), 4 + L + 1);
  assert.throws(() => publicKeyFromBytes(lead), (e: Error) => e instanceof EncodingLengthError && /leading zero byte/.test(e.message));
  const j = pk.toJSON();
  assert.deepEqual(Object.keys(j), ['kind', 'n', 'hs', 'noiseBits']);
  assert.throws(() => publicKeyFromJSON(null), (e: Error) => e instanceof TypeError && /"json"/.test(e.message));
  assert.throws(() => publicKeyFromJSON({ ...j, n: 'XYZ' }), (e: Error) => e instanceof TypeError && /"n"/.test(e.message));
  assert.throws(() => publicKeyFromJSON({ ...j, n: 5 }), TypeError);
  assert.throws(() => publicKeyFromJSON({ ...j, hs: 'G' }), (e: Error) => e instanceof TypeError && /"hs"/.test(e.message));
  assert.throws(() => publicKeyFromJSON({ ...j, hs: 7 }), TypeError);
  assert.equal(publicKeyFromJSON(j).hs, pk.hs);
});

test('public key object: frozen, sizes, equality, inspect, and a noise table only for its own base', () => {
  assert.ok(Object.isFrozen(pk));
  assert.equal(pk.byteLength, 64);
  assert.equal(pk.ciphertextByteLength, 128);
  assert.equal(pk.g, n + 1n);
  assert.ok(pk.equals(new PaillierPublicKey(n)));
  assert.ok(!pk.equals(keyPair(1024).publicKey));
  assert.ok(!pk.equals({ n } as unknown as PaillierPublicKey));
  assert.equal(inspect(pk), 'PaillierPublicKey { bits: 512 }');
  const fresh = new PaillierPublicKey(n);
  assert.equal(fresh.hasNoiseTable, false);
  fresh.adoptNoiseTable(new FixedBaseTable(pk.hs, pk.n2, 256));
  assert.equal(fresh.hasNoiseTable, true);
  assert.throws(() => fresh.adoptNoiseTable(new FixedBaseTable(pk.hs + 1n, pk.n2, 256)), KeyMismatchError);
  assert.throws(() => fresh.adoptNoiseTable(new FixedBaseTable(pk.hs, pk.n2 + 2n, 256)), KeyMismatchError);
  assert.equal(decrypt(sk, encrypt(fresh, 12345n)), 12345n);
  assert.equal(fresh.noiseTable.base, pk.hs);
  assert.equal(fresh.noiseTable.bits, 256);
});

test('private key: bad primes and mismatched keys are refused; lambda and mu are the textbook values', () => {
  const { p, q } = sk;
  assert.throws(() => new PaillierPrivateKey(p, p), (e: Error) => e instanceof RangeError && /must differ/.test(e.message));
  assert.throws(() => new PaillierPrivateKey(2n, q), (e: Error) => e instanceof RangeError && /odd primes/.test(e.message));
  assert.throws(() => new PaillierPrivateKey(p, 1n), RangeError);
  assert.throws(() => new PaillierPrivateKey(p, 5 as unknown as bigint), (e: Error) => e instanceof TypeError && /"q"/.test(e.message));
  assert.throws(() => new PaillierPrivateKey(5 as unknown as bigint, q), (e: Error) => e instanceof TypeError && /"p"/.test(e.message));
  assert.throws(() => new PaillierPrivateKey(p, q, keyPair(1024).publicKey), (e: Error) => e instanceof KeyMismatchError && /does not match/.test(e.message));
  // 7 and 43: 7 divides 43 - 1, so gcd(n, (p-1)(q-1)) != 1
  assert.throws(() => new PaillierPrivateKey(7n, 43n), (e: Error) => e instanceof RangeError && /gcd/.test(e.message));
  const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
  assert.equal(sk.lambda, lambda);
  assert.equal((sk.mu * lambda) % n, 1n);
  const own = new PaillierPrivateKey(p, q);
  assert.equal(own.publicKey.n, n);
  assert.equal(own.publicKey.hs, pk.hs);
  const c = encrypt(pk, 99n);
  assert.equal(own.combine(own.decryptModP(c), own.decryptModQ(c)), 99n);
  assert.equal(own.decryptModP(c), 99n % p);
  assert.equal(own.decryptModQ(c), 99n % q);
  assert.ok(Object.isFrozen(own));
  assert.match(inspect(own), /PaillierPrivateKey \{ bits: 512, <secret> \}/);
});

test('private key export/import: typed errors for everything that is not a private key', () => {
  assert.throws(() => exportPrivateKey(pk as unknown as PaillierPrivateKey), (e: Error) => e instanceof TypeError && /"privateKey"/.test(e.message));
  const j = exportPrivateKey(sk);
  assert.equal(j.kind, 'paillier-private-key');
  assert.throws(() => importPrivateKey(null), (e: Error) => e instanceof TypeError && /"json"/.test(e.message));
  assert.throws(() => importPrivateKey({ ...j, kind: 'x' }), TypeError);
  assert.throws(() => importPrivateKey({ ...j, p: 'Z' }), (e: Error) => e instanceof TypeError && /"p" and "q"/.test(e.message));
  assert.throws(() => importPrivateKey({ ...j, q: 3 }), TypeError);
  const b = exportPrivateKeyBytes(sk);
  assert.equal(b.length, 4 + 3 * pk.byteLength + 2 * 32);
  assert.throws(() => importPrivateKeyBytes(b.subarray(0, 3)), (e: Error) => e instanceof EncodingLengthError && /too short/.test(e.message));
  assert.throws(() => importPrivateKeyBytes(new Uint8Array([...b, 0])), (e: Error) => e instanceof EncodingLengthError && /expected \d+ bytes/.test(e.message));
  assert.throws(() => importPrivateKeyBytes([...b] as unknown as Uint8Array), TypeError);
  assert.equal(importPrivateKeyBytes(b).p, sk.p);
});

test('generateKeyPair: bad sizes name "bits"; the key carries the derived base and the requested noiseBits', () => {
  assert.throws(() => generateKeyPair(514.5), (e: Error) => e instanceof TypeError && /"bits"/.test(e.message));
  assert.throws(() => generateKeyPair(514 + 1), (e: Error) => e instanceof RangeError && /"bits" expected even integer/.test(e.message));
  assert.throws(() => generateKeyPair(254), RangeError);
  assert.throws(() => generateKeyPair(8194), RangeError);
  const k = generateKeyPair(256, { noiseBits: 300 });
  assert.equal(k.publicKey.bits, 256);
  assert.equal(k.publicKey.noiseBits, 300);
  assert.equal(k.publicKey.hs, deriveNoiseBase(k.publicKey.n));
  assert.equal(k.privateKey.publicKey, k.publicKey);
  assert.equal(decrypt(k.privateKey, encrypt(k.publicKey, 7n)), 7n);
});

test('boundaries the checks must get exactly right (each pinned so that moving it by one fails a test)', () => {
  // an odd modulus of exactly 8192 bits with no small factor is accepted by checkModulus (8193 bits is not)
  let big: bigint;
  do big = (BigInt('0x' + randomBytes(1024).toString('hex')) | (1n << 8191n) | 1n) & ((1n << 8192n) - 1n);
  while (smallPrimeFactor(big) !== 0);
  assert.equal(checkModulus('f', big), big);
  // 4 bytes: long enough to read L; L = 0 gives n = 0, refused as a modulus (not as "too short")
  assert.throws(() => publicKeyFromBytes(new Uint8Array(4)), (e: Error) => e instanceof RangeError && !(e instanceof EncodingLengthError) && /"n" expected odd modulus/.test(e.message));
  assert.throws(() => importPrivateKeyBytes(new Uint8Array(4)), (e: Error) => e instanceof RangeError && !(e instanceof EncodingLengthError) && /"n" expected odd modulus/.test(e.message));
  assert.throws(() => importPrivateKeyBytes(new Uint8Array(3)), (e: Error) => e instanceof EncodingLengthError && /^importPrivateKeyBytes: "bytes" too short \(3 bytes\)/.test(e.message));
  assert.throws(() => importPrivateKeyBytes([1, 2, 3, 4, 5] as unknown as Uint8Array), (e: Error) => e instanceof TypeError && /^importPrivateKeyBytes: "bytes" expected Uint8Array/.test(e.message));
  // p = 3 (or q = 3) is an odd prime: the key is refused for its modulus (small factor), not as "not odd primes"
  const q = [sk.p, sk.q].find((x) => x % 3n === 2n) ?? randomPrimeMod3();
  assert.throws(() => new PaillierPrivateKey(3n, q), (e: unknown) => e instanceof UntrustedKeyError && e.field === 'n' && /small prime factor 3\b/.test((e as Error).message));
  assert.throws(() => new PaillierPrivateKey(q, 3n), (e: unknown) => e instanceof UntrustedKeyError && e.field === 'n');
  // gcd(n, (p-1)(q-1)) != 1 whichever prime divides the other minus one: 7 | 43 - 1, both orders
  for (const [a, b] of [[7n, 43n], [43n, 7n]] as const) {
    assert.throws(() => new PaillierPrivateKey(a, b), (e: Error) => e instanceof RangeError && /gcd\(n, \(p-1\)\(q-1\)\) != 1/.test(e.message), `${a}, ${b}`);
  }
  // a private key's JSON needs both primes in hex
  const j = exportPrivateKey(sk);
  for (const bad of [{ p: 'Z' }, { q: 'Z' }, { p: 5 }, { q: 5 }]) {
    assert.throws(() => importPrivateKey({ ...j, ...bad }), (e: Error) => e instanceof TypeError && /^importPrivateKey: "p" and "q" expected lowercase hex strings/.test(e.message), JSON.stringify(bad));
  }
});

function randomPrimeMod3(): bigint {
  for (;;) {
    const r = randomPrime(256);
    if (r % 3n === 2n) return r;
  }
}
