import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import {
  certificateDer,
  certificateMatchesKey,
  checkPlayerCertificate,
  exportTlsPrivateKeyPem,
  generateTlsIdentity,
  importTlsPrivateKey,
} from '../../src/crypto/tls-identity.js';
import { selfSignedCertificate } from '../../src/crypto/x509.js';
import { ConfigError, parseConfig } from '../../src/transport/config.js';

test('tls-identity: a generated identity passes the pinned-certificate checks for its name only', () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,20}$/), (name) => {
      const id = generateTlsIdentity(name);
      const cert = checkPlayerCertificate(id.certificate.der, name);
      assert.ok(cert instanceof X509Certificate);
      assert.ok(certificateMatchesKey(id.certificate.der, id.privateKey));
      assert.throws(() => checkPlayerCertificate(id.certificate.der, `${name}x`, 'players.p.certificate'), (e: Error) => e instanceof RangeError && e.message.startsWith('players.p.certificate:'));
    }),
    { numRuns: 15 },
  );
});

test('tls-identity: refuses certificates that are not self-signed Ed25519 for the name, or not valid now', () => {
  const id = generateTlsIdentity('p');
  const other = generateTlsIdentity('p');
  assert.equal(certificateMatchesKey(id.certificate.der, other.privateKey), false);
  assert.equal(certificateMatchesKey(Uint8Array.of(1, 2), id.privateKey), false);
  const bad = Uint8Array.from(id.certificate.der);
  bad[bad.length - 1]! ^= 0x80; // the signature
  assert.throws(() => checkPlayerCertificate(bad, 'p', 'c'), /c: (the certificate is not self-signed|not an X.509)/);
  assert.throws(() => checkPlayerCertificate(Uint8Array.of(0x30, 0), 'p', 'c'), /c: not an X.509 certificate/);
  const old = selfSignedCertificate({ privateKey: id.privateKey, commonName: 'p', notBefore: new Date('2020-01-01T00:00:00Z'), validDays: 1 });
  assert.throws(() => checkPlayerCertificate(old.der, 'p', 'c'), /c: the certificate is valid from 2020-01-01/);
  assert.doesNotThrow(() => checkPlayerCertificate(old.der, 'p', 'c', new Date('2020-01-01T12:00:00Z')));
  assert.throws(() => checkPlayerCertificate('x' as never, 'p', 'c'), (e: Error) => e instanceof TypeError && /'c'/.test(e.message));
});

test('tls-identity: the private key leaves only through exportTlsPrivateKeyPem; PKCS#8 import checks the key type', () => {
  const id = generateTlsIdentity('p');
  assert.equal(JSON.stringify(id.privateKey), '{}');
  assert.equal(`${id.privateKey}`, '[object KeyObject]');
  const pem = exportTlsPrivateKeyPem(id);
  assert.match(pem, /^-----BEGIN PRIVATE KEY-----/);
  const der = new Uint8Array(id.privateKey.export({ format: 'der', type: 'pkcs8' }));
  assert.ok(certificateMatchesKey(id.certificate.der, importTlsPrivateKey(der)));
  const ec = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'der', type: 'pkcs8' }));
  assert.throws(() => importTlsPrivateKey(ec, 'tlsPrivateKey'), (e: Error) => e instanceof RangeError && /'tlsPrivateKey' must be an Ed25519 key/.test(e.message));
  assert.throws(() => importTlsPrivateKey(Uint8Array.of(1), 'k'), (e: Error) => e instanceof RangeError && /'k' is not a PKCS#8/.test(e.message));
  assert.throws(() => exportTlsPrivateKeyPem({} as never), (e: Error) => e instanceof TypeError && /'identity'/.test(e.message));
  assert.deepEqual(certificateDer(id.certificate.pem), id.certificate.der);
  assert.throws(() => certificateDer('-----BEGIN KEY-----\nAA==\n-----END KEY-----'), /not a PEM certificate/);
  assert.throws(() => generateTlsIdentity(''), RangeError);
});

test('tls-identity: a certificate not yet valid is refused (by the check and by the config a player loads), up to the second it becomes valid', () => {
  const id = generateTlsIdentity('p');
  const from = new Date(Math.floor(Date.now() / 1000) * 1000 + 86_400_000); // tomorrow, to the second (X.509 times)
  const future = selfSignedCertificate({ privateKey: id.privateKey, commonName: 'p', notBefore: from, validDays: 30 });
  const until = new Date(from.getTime() + 30 * 86_400_000);
  assert.throws(() => checkPlayerCertificate(future.der, 'p', 'c'), (e: Error) => e instanceof RangeError && e.message.startsWith(`c: the certificate is valid from ${from.toISOString()} to ${until.toISOString()}, not now (`));
  assert.throws(() => checkPlayerCertificate(future.der, 'p', 'c', new Date(from.getTime() - 1000)), /c: the certificate is valid from .*, not now/);
  assert.ok(checkPlayerCertificate(future.der, 'p', 'c', from) instanceof X509Certificate); // from its first second
  assert.ok(checkPlayerCertificate(future.der, 'p', 'c', until) instanceof X509Certificate); // to its last
  assert.throws(() => checkPlayerCertificate(future.der, 'p', 'c', new Date(until.getTime() + 1000)), /not now/);
  const config = JSON.stringify({ version: 1, links: 'tls', players: { p: { address: '127.0.0.1:4440', role: 'aggregator', certificate: Buffer.from(future.der).toString('base64') } } });
  assert.throws(() => parseConfig(config), (e: Error) => e instanceof ConfigError && e.entry === 'players.p.certificate' && /the certificate is valid from .*, not now/.test(e.message));
});
