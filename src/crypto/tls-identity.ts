/**
 * A player's TLS identity: an Ed25519 key and the self-signed certificate
 * that carries its name (x509.ts), and the checks a peer runs on a
 * certificate pinned in the deployment config before trusting it.
 *
 * The private key stays a KeyObject (it prints as `[object KeyObject]` and
 * serializes to `{}`); the PEM that grpc-js needs is produced only by the
 * explicit `exportTlsPrivateKeyPem`.
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { checkName, describe, freshPrivateKey } from './identity.js';
import { selfSignedCertificate, type Certificate } from './x509.js';

export interface TlsIdentity {
  /** The player's name: the certificate's subject CN. */
  name: string;
  /** Ed25519 private key. */
  privateKey: KeyObject;
  certificate: Certificate;
}

/** A fresh Ed25519 key and a self-signed certificate for `name`. */
export function generateTlsIdentity(name: string, options: { validDays?: number } = {}): TlsIdentity {
  checkName(name, 'name', 'generateTlsIdentity', 64);
  const privateKey = freshPrivateKey('ed25519'); // (not the key-generation job's key: see identity.ts)
  const certificate = selfSignedCertificate({ privateKey, commonName: name, ...(options.validDays !== undefined ? { validDays: options.validDays } : {}) });
  return { name, privateKey, certificate };
}

/** PKCS#8 PEM of the private key (for the TLS stack; the only way out of a TlsIdentity). */
export function exportTlsPrivateKeyPem(identity: TlsIdentity): string {
  if ((identity as TlsIdentity | null | undefined)?.privateKey?.type !== 'private') {
    throw new TypeError(`exportTlsPrivateKeyPem: argument 'identity' must be a TlsIdentity, got ${describe(identity)}`);
  }
  return identity.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
}

/** Private key from its PKCS#8 DER (key files); must be Ed25519. */
export function importTlsPrivateKey(pkcs8: Uint8Array, arg = 'pkcs8', fn = 'importTlsPrivateKey'): KeyObject {
  if (!(pkcs8 instanceof Uint8Array)) throw new TypeError(`${fn}: argument '${arg}' must be a Uint8Array, got ${describe(pkcs8)}`);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
  } catch {
    throw new RangeError(`${fn}: argument '${arg}' is not a PKCS#8 private key`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new RangeError(`${fn}: argument '${arg}' must be an Ed25519 key, got ${String(key.asymmetricKeyType)}`);
  return key;
}

/** Certificate bytes: DER, or PEM text. */
export function certificateDer(value: Uint8Array | string, arg = 'certificate', fn = 'certificateDer'): Uint8Array {
  if (typeof value === 'string') {
    const m = /^-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----$/.exec(value.trim());
    if (!m) throw new RangeError(`${fn}: argument '${arg}' is not a PEM certificate`);
    return new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  }
  if (!(value instanceof Uint8Array)) throw new TypeError(`${fn}: argument '${arg}' must be DER bytes or PEM text, got ${describe(value)}`);
  return value;
}

/**
 * The checks a pinned player certificate must pass: it parses, carries an
 * Ed25519 key, is self-signed by that key, names `name` (subject CN) and is
 * valid at `now`. Returns the parsed certificate; throws RangeError naming `arg`.
 */
export function checkPlayerCertificate(der: Uint8Array, name: string, arg = 'certificate', now: Date = new Date()): X509Certificate {
  const fn = 'checkPlayerCertificate';
  if (!(der instanceof Uint8Array)) throw new TypeError(`${fn}: argument '${arg}' must be a Uint8Array, got ${describe(der)}`);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(der));
  } catch {
    throw new RangeError(`${arg}: not an X.509 certificate (expected the base64 DER written by "fedcrypt keygen")`);
  }
  if (cert.publicKey.asymmetricKeyType !== 'ed25519') throw new RangeError(`${arg}: the certificate's key is ${String(cert.publicKey.asymmetricKeyType)}, expected ed25519`);
  if (!cert.verify(cert.publicKey) || cert.subject !== cert.issuer) throw new RangeError(`${arg}: the certificate is not self-signed by its own key`);
  const cn = /^CN=(.*)/m.exec(cert.subject)?.[1]; // subject attributes one per line
  if (cn !== name) throw new RangeError(`${arg}: the certificate is for ${JSON.stringify(cn ?? cert.subject)}, not ${JSON.stringify(name)}`);
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  if (now < from || now > to) throw new RangeError(`${arg}: the certificate is valid from ${from.toISOString()} to ${to.toISOString()}, not now (${now.toISOString()})`);
  return cert;
}

/** Does `certificate` carry the public key of `privateKey`? */
export function certificateMatchesKey(certificate: Uint8Array, privateKey: KeyObject): boolean {
  try {
    const a = new X509Certificate(Buffer.from(certificate)).publicKey.export({ format: 'der', type: 'spki' });
    const b = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    return Buffer.compare(a, b) === 0;
  } catch {
    return false;
  }
}
