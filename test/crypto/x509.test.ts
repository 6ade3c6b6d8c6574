/**
 * selfSignedCertificate (src/crypto/x509.ts): node:crypto's X509Certificate
 * parses what it builds and verifies its signature; TLS 1.3 accepts it as a
 * pinned trust anchor on both sides (mutual TLS) and refuses a peer whose
 * certificate is not pinned; bad arguments are refused by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { selfSignedCertificate } from '../../src/crypto/x509.js';

const ed = () => generateKeyPairSync('ed25519').privateKey;

test('X509Certificate parses the certificate: subject = issuer = CN, key, validity, signature', () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !/[=,+\\"<>#;\n\r\0]/.test(s) && s.trim() === s && s.length > 0),
      fc.integer({ min: 1, max: 36_500 }),
      fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2100, 0, 1) }),
      fc.uint8Array({ minLength: 1, maxLength: 20 }),
      (cn, days, start, serial) => {
        const key = ed();
        const from = new Date(Math.floor(start / 1000) * 1000);
        const cert = selfSignedCertificate({ privateKey: key, commonName: cn, validDays: days, notBefore: from, serial });
        const x = new X509Certificate(cert.pem);
        assert.equal(x.subject, `CN=${cn}`);
        assert.equal(x.issuer, `CN=${cn}`);
        assert.equal(new Date(x.validFrom).getTime(), from.getTime());
        assert.equal(new Date(x.validTo).getTime(), from.getTime() + days * 86_400_000);
        assert.ok(x.publicKey.equals(createPublicKey(key)));
        assert.ok(x.verify(createPublicKey(key)), 'self-signature verifies');
        assert.ok(!x.verify(createPublicKey(ed())), 'another key does not verify it');
        assert.ok(x.checkIssued(x), 'self-issued');
        assert.deepEqual(new Uint8Array(x.raw), cert.der);
        // the serial is positive: top bit of the given first byte cleared
        const hex = x.serialNumber.replace(/^0+/, '');
        assert.ok(hex.length > 0);
      },
    ),
    { numRuns: 60 },
  );
});

test('the same key, name, period and serial give the same certificate (deterministic Ed25519)', () => {
  const key = ed();
  const o = { privateKey: key, commonName: 'server0', notBefore: new Date(Date.UTC(2026, 10, 24)), serial: Uint8Array.of(1, 2, 3) };
  assert.deepEqual(selfSignedCertificate(o).der, selfSignedCertificate({ ...o, privateKey: createPrivateKey(key.export({ format: 'pem', type: 'pkcs8' })) }).der);
});

test('a flipped byte in the signed part breaks the signature or the parse', () => {
  const key = ed();
  const { der } = selfSignedCertificate({ privateKey: key, commonName: 'owner0' });
  for (let i = 40; i < der.length - 70; i += 7) {
    const bad = Uint8Array.from(der);
    bad[i]! ^= 0x01;
    let ok = false;
    try {
      ok = new X509Certificate(bad).verify(createPublicKey(key));
    } catch {
      ok = false;
    }
    assert.equal(ok, false, `byte ${i}`);
  }
});

interface Party { key: string; cert: string }
const party = (cn: string): Party => {
  const k = ed();
  return { key: k.export({ format: 'pem', type: 'pkcs8' }) as string, cert: selfSignedCertificate({ privateKey: k, commonName: cn }).pem };
};

/** One mutual-TLS 1.3 connection: the server trusts `serverTrusts`, the client `clientTrusts`; what each side saw. */
async function mtls(server: Party, client: Party, serverTrusts: string[], clientTrusts: string[]): Promise<{ ok: boolean; serverSaw?: string; clientSaw?: string }> {
  let serverSaw: string | undefined;
  const srv = createServer({ key: server.key, cert: server.cert, ca: serverTrusts, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (s: TLSSocket) => {
    serverSaw = s.getPeerCertificate().subject?.CN;
    s.end('x');
  });
  srv.on('tlsClientError', () => {});
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  try {
    return await new Promise((resolve) => {
      let clientSaw: string | undefined;
      let got = false;
      const c = connect({ host: '127.0.0.1', port, key: client.key, cert: client.cert, ca: clientTrusts, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined }, () => {
        clientSaw = c.getPeerCertificate().subject?.CN;
      });
      // TLS 1.3: the client's handshake completes before the server has checked the client's
      // certificate; a refusal shows as an error or a close without the server's byte
      c.on('data', () => (got = true));
      c.on('error', () => {});
      c.on('close', () => resolve(got ? { ok: true, serverSaw, clientSaw } : { ok: false }));
    });
  } finally {
    srv.close();
  }
}

test('TLS 1.3 with the certificates as pinned roots: mutual authentication, and a peer not pinned is refused', async () => {
  const s = party('server0');
  const c = party('owner0');
  const stranger = party('owner0'); // same name, another key
  const good = await mtls(s, c, [c.cert], [s.cert]);
  assert.deepEqual(good, { ok: true, serverSaw: 'owner0', clientSaw: 'server0' });
  const badClient = await mtls(s, stranger, [c.cert], [s.cert]);
  assert.equal(badClient.ok, false, 'the server refuses a client certificate it does not pin');
  const badServer = await mtls(stranger, c, [c.cert], [s.cert]);
  assert.equal(badServer.ok, false, 'the client refuses a server certificate it does not pin');
});

test('bad arguments are refused, naming the argument', () => {
  const key = ed();
  assert.throws(() => selfSignedCertificate(null as never), /argument 'options'/);
  assert.throws(() => selfSignedCertificate({ privateKey: 'k' as never, commonName: 'a' }), /option 'privateKey'/);
  assert.throws(() => selfSignedCertificate({ privateKey: createPublicKey(key), commonName: 'a' }), /option 'privateKey'/);
  assert.throws(() => selfSignedCertificate({ privateKey: generateKeyPairSync('x25519').privateKey, commonName: 'a' }), /Ed25519/);
  assert.throws(() => selfSignedCertificate({ privateKey: key, commonName: '' }), /commonName/);
  assert.throws(() => selfSignedCertificate({ privateKey: key, commonName: 'x'.repeat(65) }), /commonName/);
  assert.throws(() => selfSignedCertificate({ privateKey: key, commonName: 'a', validDays: 0 }), /validDays/);
  assert.throws(() => selfSignedCertificate({ privateKey: key, commonName: 'a', validDays: 1.5 }), /validDays/);
  assert.throws(() => selfSignedCertificate({ privateKey: key, commonName: 'a', notBefore: new Date(NaN) }), /notBefore/);
  assert.throws(() => selfSignedCertificate({ privateKey: key, commonName: 'a', serial: new Uint8Array(21) }), /serial/);
  assert.throws(() => selfSignedCertificate({ privateKey: key, commonName: 'a', serial: [1] as never }), /serial/);
});
