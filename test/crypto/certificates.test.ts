/**
 * Player certificates, check by check: what selfSignedCertificate encodes
 * (minimal positive serials, UTCTime through 2049 and GeneralizedTime from
 * 2050, 64-column PEM), the bounds of its options, and what
 * checkPlayerCertificate refuses among certificates a peer could make with
 * other tools (built here with a small DER writer): a key that is not
 * Ed25519, an issuer that is not the subject, a subject without a CN that
 * only contains "CN=". Plus the PEM/DER and key helpers of tls-identity.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import {
  certificateDer,
  checkPlayerCertificate,
  exportTlsPrivateKeyPem,
  generateTlsIdentity,
  importTlsPrivateKey,
} from '../../src/crypto/tls-identity.js';
import { certificatePem, selfSignedCertificate } from '../../src/crypto/x509.js';

const is = (cls: new (...a: never[]) => Error, re: RegExp) => (e: unknown) => e instanceof cls && re.test((e as Error).message);
const ed = () => generateKeyPairSync('ed25519').privateKey;
const DAY = 86_400_000;

// ---------------------------------------------------------------- a small DER writer (as another tool would)

const len = (n: number) => (n < 0x80 ? Buffer.of(n) : n < 0x100 ? Buffer.of(0x81, n) : Buffer.of(0x82, n >> 8, n & 0xff));
const tlv = (tag: number, ...parts: Uint8Array[]) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.of(tag), len(body.length), body]);
};
const seq = (...p: Uint8Array[]) => tlv(0x30, ...p);
const OID = {
  ed25519: Buffer.from('06032b6570', 'hex'),
  ecdsaSha256: Buffer.from('06082a8648ce3d040302', 'hex'),
  cn: Buffer.from('0603550403', 'hex'),
  o: Buffer.from('060355040a', 'hex'),
};
const rdn = (...attrs: [Buffer, string][]) => seq(...attrs.map(([oid, v]) => tlv(0x31, seq(oid, tlv(0x0c, Buffer.from(v))))));
const utc = (d: Date) => tlv(0x17, Buffer.from(`${d.toISOString().slice(2, 19).replace(/[-T:]/g, '')}Z`));

/** A certificate for `key`'s public key, signed by `key`, with the given names. */
function certificate(key: KeyObject, subject: Buffer, issuer = subject): Uint8Array {
  const ec = key.asymmetricKeyType === 'ec';
  const alg = seq(ec ? OID.ecdsaSha256 : OID.ed25519);
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const now = Date.now();
  const tbs = seq(tlv(0xa0, tlv(0x02, Buffer.of(2))), tlv(0x02, Buffer.of(0x42)), alg, issuer, seq(utc(new Date(now - DAY)), utc(new Date(now + 30 * DAY))), subject, spki);
  const sig = sign(ec ? 'sha256' : null, tbs, key);
  return new Uint8Array(seq(tbs, alg, tlv(0x03, Buffer.of(0), sig)));
}

test('checkPlayerCertificate: refuses what another tool could produce: a key that is not Ed25519, an issuer other than the subject, a subject with no CN', () => {
  const key = ed();
  const ok = certificate(key, rdn([OID.cn, 'p']));
  assert.ok(checkPlayerCertificate(ok, 'p', 'c') instanceof X509Certificate, 'the DER writer makes acceptable certificates');
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const ecCert = certificate(ec, rdn([OID.cn, 'p']));
  assert.equal(new X509Certificate(ecCert).verify(createPublicKey(ec)), true);
  assert.throws(() => checkPlayerCertificate(ecCert, 'p', 'c'), is(RangeError, /^c: the certificate's key is ec, expected ed25519$/));
  const otherIssuer = certificate(key, rdn([OID.cn, 'p']), rdn([OID.cn, 'q']));
  assert.equal(new X509Certificate(otherIssuer).verify(createPublicKey(key)), true, 'signed by its own key');
  assert.throws(() => checkPlayerCertificate(otherIssuer, 'p', 'c'), is(RangeError, /^c: the certificate is not self-signed by its own key$/));
  const noCn = certificate(key, rdn([OID.o, 'notCN=p']));
  assert.throws(() => checkPlayerCertificate(noCn, 'p', 'c'), is(RangeError, /^c: the certificate is for "O=notCN=p", not "p"$/));
  const two = certificate(key, rdn([OID.o, 'org'], [OID.cn, 'p']));
  assert.ok(checkPlayerCertificate(two, 'p', 'c'), 'a CN among other attributes names the player');
  assert.throws(() => checkPlayerCertificate(certificate(key, rdn([OID.cn, 'p2'])), 'p', 'c'), is(RangeError, /^c: the certificate is for "p2", not "p"$/));
  // the default argument name and the function's own name
  assert.throws(() => checkPlayerCertificate(Uint8Array.of(1), 'p'), is(RangeError, /^certificate: not an X\.509 certificate/));
  assert.throws(() => checkPlayerCertificate('der' as never, 'p'), is(TypeError, /^checkPlayerCertificate: argument 'certificate' must be a Uint8Array, got string$/));
});

test('selfSignedCertificate: serials are minimal positive INTEGERs (leading zeros dropped, top bit cleared, zero made 1)', () => {
  const key = ed();
  const serialOf = (s: number[]) => new X509Certificate(selfSignedCertificate({ privateKey: key, commonName: 'p', serial: Uint8Array.from(s) }).der).serialNumber;
  assert.equal(serialOf([0, 0, 5]), '05');
  assert.equal(serialOf([5, 7]), '0507');
  assert.equal(serialOf([0, 5, 7]), '0507');
  assert.equal(serialOf([0, 0, 0, 0x7f, 0]), '7F00');
  assert.equal(serialOf([0, 0]), '01');
  assert.equal(serialOf([0]), '01');
  assert.equal(serialOf([0x80, 1]), '01');
  assert.equal(serialOf([0xff, 0xff]), '7FFF');
  assert.equal(serialOf(new Array(20).fill(0x11)), '11'.repeat(20));
  const given = Uint8Array.of(0x80, 1);
  selfSignedCertificate({ privateKey: key, commonName: 'p', serial: given });
  assert.deepEqual(given, Uint8Array.of(0x80, 1), "the caller's serial is not modified");
  assert.throws(() => selfSignedCertificate({ privateKey: key, commonName: 'p', serial: new Uint8Array(0) }), is(RangeError, /^selfSignedCertificate: option 'serial' must have 1 to 20 bytes, got 0$/));
  assert.throws(() => selfSignedCertificate({ privateKey: key, commonName: 'p', serial: new Uint8Array(21) }), is(RangeError, /got 21$/));
  assert.match(new X509Certificate(selfSignedCertificate({ privateKey: key, commonName: 'p' }).der).serialNumber, /^[0-7][0-9A-F]{31}$/); // 16 random bytes, positive
});

test('selfSignedCertificate: validity encoded as UTCTime through 2049, GeneralizedTime from 2050; its bounds (1950, 9999, 1 to 36500 days) are enforced', () => {
  const key = ed();
  const der = (from: string, days = 1) => Buffer.from(selfSignedCertificate({ privateKey: key, commonName: 'p', notBefore: new Date(from), validDays: days }).der);
  const has = (d: Buffer, tag: number, text: string) => d.includes(Buffer.concat([Buffer.of(tag, text.length), Buffer.from(text)]));
  const late = der('2049-12-30T23:59:59Z');
  assert.ok(has(late, 0x17, '491230235959Z') && has(late, 0x17, '491231235959Z'), 'both times in 2049: UTCTime');
  const edge = der('2049-12-31T12:00:00Z');
  assert.ok(has(edge, 0x17, '491231120000Z') && has(edge, 0x18, '20500101120000Z'), 'until in 2050: GeneralizedTime');
  const early = der('1950-01-01T00:00:00Z');
  assert.ok(has(early, 0x17, '500101000000Z'));
  assert.equal(new X509Certificate(early).validFrom, 'Jan  1 00:00:00 1950 GMT');
  assert.throws(() => der('1949-12-31T23:59:59Z'), is(RangeError, /^selfSignedCertificate: validity 1949-12-31T23:59:59\.000Z \.\. 1950-01-01T23:59:59\.000Z outside the years 1950\.\.9999$/));
  assert.ok(has(der('9999-01-01T00:00:00Z', 364), 0x18, '99991231000000Z'));
  assert.throws(() => der('9999-01-01T00:00:00Z', 365), is(RangeError, /outside the years 1950\.\.9999$/));
  assert.equal(new X509Certificate(der('2000-01-01T00:00:00Z', 36_500)).validTo, 'Dec  7 00:00:00 2099 GMT');
  assert.throws(() => der('2000-01-01T00:00:00Z', 36_501), is(RangeError, /^selfSignedCertificate: option 'validDays' must be an integer from 1 to 36500, got 36501$/));
  assert.throws(() => der('2000-01-01T00:00:00Z', '5' as never), is(RangeError, /option 'validDays' must be an integer from 1 to 36500, got 5$/));
  assert.throws(() => selfSignedCertificate({ privateKey: key, commonName: 'p', notBefore: '2020-01-01' as never }), is(TypeError, /^selfSignedCertificate: option 'notBefore' must be a valid Date, got string$/));
  const now = Date.now();
  const dflt = new X509Certificate(selfSignedCertificate({ privateKey: key, commonName: 'p' }).der);
  const from = new Date(dflt.validFrom).getTime();
  assert.ok(from <= now - 3_600_000 + 1000 && from >= now - 3_600_000 - 60_000, 'valid from an hour ago (clock skew)');
  assert.equal(new Date(dflt.validTo).getTime() - from, 3650 * DAY, 'for ten years');
});

test('selfSignedCertificate: arguments are refused by name; PEM is wrapped at 64 columns', () => {
  const key = ed();
  assert.throws(() => selfSignedCertificate('x' as never), is(TypeError, /^selfSignedCertificate: argument 'options' must be an object, got string$/));
  assert.throws(() => selfSignedCertificate({ privateKey: null as never, commonName: 'a' }), is(TypeError, /^selfSignedCertificate: option 'privateKey' must be a private KeyObject, got null$/));
  assert.throws(() => selfSignedCertificate({ privateKey: 'k' as never, commonName: 'a' }), is(TypeError, /option 'privateKey' must be a private KeyObject, got string$/));
  assert.throws(() => selfSignedCertificate({ privateKey: { type: 'private' } as never, commonName: 'a' }), is(RangeError, /^selfSignedCertificate: option 'privateKey' must be an Ed25519 key, got undefined$/));
  assert.throws(() => selfSignedCertificate({ privateKey: key, commonName: 'x'.repeat(65) }), is(RangeError, /^selfSignedCertificate: "commonName" expected a string of 1 to 64 bytes, got 65 bytes$/));
  const cert = selfSignedCertificate({ privateKey: key, commonName: 'a-rather-long-common-name-to-make-the-certificate-longer' });
  const lines = cert.pem.trim().split('\n');
  assert.equal(lines[0], '-----BEGIN CERTIFICATE-----');
  assert.equal(lines.at(-1), '-----END CERTIFICATE-----');
  const body = lines.slice(1, -1);
  assert.ok(body.length >= 3);
  body.slice(0, -1).forEach((l) => assert.equal(l.length, 64));
  assert.ok(body.at(-1)!.length <= 64 && body.at(-1)!.length > 0);
  assert.equal(Buffer.from(body.join(''), 'base64').compare(Buffer.from(cert.der)), 0);
  assert.equal(certificatePem(cert.der), cert.pem);
});

test('tls-identity helpers: validity days, names, key export and import, PEM or DER in, each refusal by name', () => {
  const short = generateTlsIdentity('p', { validDays: 2 });
  const x = new X509Certificate(short.certificate.der);
  assert.equal(new Date(x.validTo).getTime() - new Date(x.validFrom).getTime(), 2 * DAY);
  assert.equal(new Date(new X509Certificate(generateTlsIdentity('p').certificate.der).validTo).getTime() - new Date(new X509Certificate(generateTlsIdentity('p').certificate.der).validFrom).getTime(), 3650 * DAY);
  assert.throws(() => generateTlsIdentity(''), is(RangeError, /^generateTlsIdentity: "name" expected a string of 1 to 64 bytes, got 0 bytes$/));
  assert.throws(() => generateTlsIdentity('n'.repeat(65)), is(RangeError, /got 65 bytes$/));
  assert.equal(generateTlsIdentity('n'.repeat(64)).name.length, 64);
  // export only from a private key
  assert.throws(() => exportTlsPrivateKeyPem(null as never), is(TypeError, /^exportTlsPrivateKeyPem: argument 'identity' must be a TlsIdentity, got null$/));
  assert.throws(() => exportTlsPrivateKeyPem('id' as never), is(TypeError, /got string$/));
  assert.throws(() => exportTlsPrivateKeyPem({ ...short, privateKey: createPublicKey(short.privateKey) }), is(TypeError, /must be a TlsIdentity, got Object$/));
  assert.throws(() => importTlsPrivateKey('pem' as never), is(TypeError, /^importTlsPrivateKey: argument 'pkcs8' must be a Uint8Array, got string$/));
  assert.throws(() => importTlsPrivateKey(Uint8Array.of(1)), is(RangeError, /^importTlsPrivateKey: argument 'pkcs8' is not a PKCS#8 private key$/));
  // PEM in any usual layout, or DER as is; anything else refused
  const { der, pem } = short.certificate;
  assert.equal(certificateDer(der), der);
  assert.deepEqual(certificateDer(pem), der);
  assert.deepEqual(certificateDer(`\n  ${pem.replace(/\n/g, '\r\n')}  \n`), der);
  assert.deepEqual(certificateDer(pem.replace('-----\n', '-----\n\n').replace('\n-----END', '\n\n-----END')), der);
  assert.deepEqual(certificateDer(pem.replace(/\n(?!-)/g, '\n  ')), der);
  for (const bad of [`junk\n${pem}`, `${pem}junk`, pem.replace('CERTIFICATE-----\n', 'CERTIFICATE-----\n!'), 'not pem', '-----BEGIN CERTIFICATE----------END CERTIFICATE-----']) {
    assert.throws(() => certificateDer(bad), is(RangeError, /^certificateDer: argument 'certificate' is not a PEM certificate$/), bad.slice(0, 40));
  }
  assert.throws(() => certificateDer(5 as never), is(TypeError, /^certificateDer: argument 'certificate' must be DER bytes or PEM text, got number$/));
  assert.throws(() => certificateDer(5 as never, 'players.p.certificate', 'config'), is(TypeError, /^config: argument 'players\.p\.certificate' must be/));
});
