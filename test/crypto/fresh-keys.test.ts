/**
 * Fresh X25519 / Ed25519 keys (crypto/identity.ts `freshPrivateKey`, `generateIdentity`): keys
 * that agree and sign as they should, independent from call to call, and no copy of a private
 * key left in node's shared Buffer pool (node's JWK import decodes the key into it; reachable
 * through the `.buffer` of any later small Buffer). Before the wipe every key was found there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, sign, verify } from 'node:crypto';
import { exportPrivateKey, freshPrivateKey, generateIdentity } from '../../src/crypto/identity.js';

test('fresh X25519 identities agree pairwise and differ from call to call; Ed25519 keys sign', () => {
  const a = generateIdentity(), b = generateIdentity();
  assert.deepEqual(a.privateKey.agree(b.publicKey), b.privateKey.agree(a.publicKey));
  assert.notDeepEqual(a.publicKey, b.publicKey);
  const keys = new Set(Array.from({ length: 50 }, () => Buffer.from(exportPrivateKey(generateIdentity().privateKey)).toString('hex')));
  assert.equal(keys.size, 50);
  const k = freshPrivateKey('ed25519');
  const sig = sign(null, Buffer.from('m'), k);
  assert.ok(verify(null, Buffer.from('m'), createPublicKey(k), sig));
  assert.equal(k.asymmetricKeyType, 'ed25519');
});

test("no private key is left in node's shared Buffer pool after a fresh key (X25519 and Ed25519, 200 each)", () => {
  for (const type of ['x25519', 'ed25519'] as const) {
    let found = 0;
    for (let i = 0; i < 200; i++) {
      const k = freshPrivateKey(type);
      const slab = Buffer.from(Buffer.allocUnsafe(1).buffer); // the current pool slab
      const der = k.export({ type: 'pkcs8', format: 'der' }); // (a native buffer, not from the pool)
      if (slab.indexOf(der.subarray(der.length - 32)) >= 0) found++;
      der.fill(0);
    }
    assert.equal(found, 0, `${type}: ${found} of 200 private keys found in the pool`);
  }
});
