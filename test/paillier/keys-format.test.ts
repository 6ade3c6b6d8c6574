// The public-key format pinned against an independent reading of its spec (docs/paillier.md,
// "Keys a client accepts"): a change to the derivation or the byte layout changes every key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  checkKeyFingerprint,
  deriveNoiseBase,
  generateKeyPair,
  PaillierPublicKey,
  publicKeyFingerprint,
  publicKeyFromJSON,
  publicKeyToBytes,
  UntrustedKeyError,
} from '../../src/paillier/index.js';
import { noiseBaseCacheSize } from '../../src/paillier/keys.js';
import { modPow } from '../../src/paillier/bigint.js';
import { keyBytes, keyPair } from './fixtures.js';

/** x = SHA-256(tag ‖ 0x00 ‖ u32be(i) ‖ n) for i = 0, 1, ..., concatenated, cut to bytes(n) + 16, mod n. */
function specSeed(n: bigint): bigint {
  const L = Math.ceil(n.toString(2).length / 8);
  const nb = Buffer.from(n.toString(16).padStart(2 * L, '0'), 'hex');
  const out: Buffer[] = [];
  for (let i = 0; 32 * out.length < L + 16; i++) {
    const ctr = Buffer.alloc(4);
    ctr.writeUInt32BE(i);
    out.push(createHash('sha256').update(Buffer.concat([Buffer.from('fedcrypt/paillier/djn-noise-base/v1', 'utf8'), Buffer.from([0]), ctr, nb])).digest());
  }
  return BigInt('0x' + Buffer.concat(out).subarray(0, L + 16).toString('hex')) % n;
}

test('the derived noise base follows its spec: hs = (n - x^2 mod n)^n mod n^2 with x the SHA-256 counter-mode seed', () => {
  for (const bits of [512, 1024] as const) {
    const { n, n2, hs } = keyPair(bits).publicKey;
    const x = specSeed(n);
    assert.equal(hs, modPow(n - ((x * x) % n), n, n2), `${bits} bits`);
  }
  // a 256-bit key: bytes(n) + 16 = 48 is not a multiple of 32 (two blocks, cut)
  const k = generateKeyPair(256).publicKey;
  const x = specSeed(k.n);
  assert.equal(k.hs, modPow(k.n - ((x * x) % k.n), k.n, k.n2));
});

test('the key bytes are u16 L, u16 noiseBits, n, hs (big-endian, fixed length); the fingerprint is SHA-256 of them', () => {
  const pk = new PaillierPublicKey(keyPair(512).publicKey.n, { noiseBits: 300 });
  const b = publicKeyToBytes(pk);
  assert.deepEqual([...b], [...keyBytes(pk.n, pk.hs, 300)]);
  assert.equal(publicKeyFingerprint(pk), createHash('sha256').update(b).digest('hex'));
});

test('fingerprint and hex formats are anchored: nothing may precede or follow the digits', () => {
  const pk = keyPair(512).publicKey;
  const fp = publicKeyFingerprint(pk);
  for (const bad of [fp + '0', '0' + fp, fp + 'x', 'x' + fp, fp.slice(0, 63) + 'g']) {
    assert.throws(() => checkKeyFingerprint('c', pk, bad), (e: Error) => e instanceof TypeError && /"keyFingerprint" expected SHA-256 fingerprint/.test(e.message), bad);
  }
  const j = pk.toJSON();
  for (const bad of ['g' + j.n, j.n + 'g', ' ' + j.n, '']) {
    assert.throws(() => publicKeyFromJSON({ ...j, n: bad }), (e: Error) => e instanceof TypeError && /"n" expected lowercase hex/.test(e.message), bad);
  }
  for (const bad of ['g' + j.hs, j.hs + 'g', '']) {
    assert.throws(() => publicKeyFromJSON({ ...j, hs: bad }), (e: Error) => e instanceof TypeError && /"hs" expected lowercase hex/.test(e.message), bad);
  }
  assert.throws(() => publicKeyFromJSON({ ...j, n: j.n.toUpperCase() }), TypeError);
});

test('a modulus whose derived seed shares its factor is refused naming "n" (found by search: x ≡ 0 mod 16411)', () => {
  // n = 16411·r, r odd with no prime factor below 2^14: passes the small-factor, square and prime checks
  const n = 0x2d311c9e4080732afe878c3d1057031e4c89397bcf534ab82c134dcba880058be817n;
  assert.equal(n % 16411n, 0n);
  assert.equal(specSeed(n) % 16411n, 0n);
  assert.throws(() => new PaillierPublicKey(n), (e: unknown) => e instanceof UntrustedKeyError && e.field === 'n' && /PaillierPublicKey: "n" shares a factor with its derived noise seed/.test(e.message));
});

test('the derived-base cache is bounded: a server sending many keys cannot grow it past 16 moduli', () => {
  const ns = Array.from({ length: 20 }, () => generateKeyPair(256).publicKey.n);
  for (const n of ns) deriveNoiseBase(n);
  assert.ok(noiseBaseCacheSize() <= 16, String(noiseBaseCacheSize()));
  assert.equal(noiseBaseCacheSize(), 16);
  // evicted moduli are derived (and checked) again, to the same base
  const x = specSeed(ns[0]!);
  assert.equal(deriveNoiseBase(ns[0]!), modPow(ns[0]! - ((x * x) % ns[0]!), ns[0]!, ns[0]! * ns[0]!));
});
