// The fast paths behind SecAgg's bench figures give the same bytes as the
// plain node:crypto calls they replace: HKDF written with two HMACs
// (hkdfSha256) against hkdfSync; the JWK import of a raw X25519 public key
// against the SPKI DER import; agreeWith (an imported key) against agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, hkdfSync, randomBytes } from 'node:crypto';
import { hkdfSha256 } from '../../src/crypto/mask-prg.js';
import { generateIdentity, importPublicKey } from '../../src/crypto/identity.js';

test('hkdfSha256 equals hkdfSync for every length 1..32 and random inputs', () => {
  for (let r = 0; r < 50; r++) {
    const ikm = randomBytes(1 + (r % 40));
    const salt = r % 3 === 0 ? 'fedcrypt/secagg/mask/v1' : randomBytes(r % 70);
    const info = randomBytes(r * 3);
    for (const L of [1, 15, 16, 17, 31, 32]) {
      assert.deepEqual(hkdfSha256(ikm, salt, info, L), Buffer.from(hkdfSync('sha256', ikm, salt, info, L)), `r=${r} L=${L}`);
    }
  }
  assert.throws(() => hkdfSha256(randomBytes(32), 's', new Uint8Array(0), 33), RangeError);
  assert.throws(() => hkdfSha256(randomBytes(32), 's', new Uint8Array(0), 0), RangeError);
});

test('importPublicKey (JWK) gives the key of the SPKI DER import; agreeWith equals agree', () => {
  const SPKI = Buffer.from('302a300506032b656e032100', 'hex');
  for (let r = 0; r < 20; r++) {
    const { publicKey } = generateKeyPairSync('x25519');
    const der = publicKey.export({ type: 'spki', format: 'der' });
    const raw = new Uint8Array(der.subarray(der.length - 32));
    const viaJwk = importPublicKey(raw);
    const viaDer = createPublicKey({ key: Buffer.concat([SPKI, raw]), format: 'der', type: 'spki' });
    assert.ok(viaJwk.equals(viaDer));
    const me = generateIdentity();
    assert.deepEqual(me.privateKey.agreeWith(viaJwk), me.privateKey.agree(raw));
  }
  // a view into a larger buffer imports the viewed bytes only
  const { publicKey } = generateKeyPairSync('x25519');
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const big = new Uint8Array(100);
  big.set(der.subarray(der.length - 32), 40);
  assert.ok(importPublicKey(big.subarray(40, 72)).equals(publicKey));
  assert.throws(() => importPublicKey(new Uint8Array(31)), RangeError);
});

test('agreeWith refuses a low-order point and a key of another type', () => {
  const me = generateIdentity();
  assert.throws(() => me.privateKey.agreeWith(importPublicKey(new Uint8Array(32))), RangeError);
  assert.throws(() => me.privateKey.agree(new Uint8Array(32)), RangeError);
  assert.throws(() => me.privateKey.agreeWith(generateKeyPairSync('ed25519').publicKey), TypeError);
});
