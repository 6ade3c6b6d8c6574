/**
 * Self-signed X.509 v3 certificates for Ed25519 keys (RFC 5280, RFC 8410),
 * DER-encoded by hand: node:crypto signs and parses certificates
 * (`X509Certificate`) but cannot build one.
 *
 * What this is for: mutual TLS between players (docs/DEPLOY.md, "Where a
 * robust margin would come from: mutual TLS"), where every player presents
 * its own self-signed certificate and every peer accepts exactly the
 * certificates of its config (each one its own root). So the certificate
 * carries only what TLS needs: the subject (the player's name, as CN, also
 * the issuer), a validity period, the public key and the signature. No
 * extensions: OpenSSL treats a self-signed certificate in its trust store as
 * a trust anchor, and without a keyUsage extension every usage is allowed.
 *
 * The serial number is 16 random bytes (positive); Ed25519 signatures are
 * deterministic, so the same key, name, period and serial give the same
 * certificate.
 */
import { createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { checkName, describe } from './identity.js';

/** DER of the OBJECT IDENTIFIERs used: id-Ed25519 (1.3.101.112, RFC 8410) and id-at-commonName (2.5.4.3). */
const OID_ED25519 = Uint8Array.of(0x06, 0x03, 0x2b, 0x65, 0x70);
const OID_COMMON_NAME = Uint8Array.of(0x06, 0x03, 0x55, 0x04, 0x03);
const DAY_MS = 86_400_000;

export interface SelfSignedOptions {
  /** The Ed25519 private key that signs, and whose public key the certificate carries. */
  privateKey: KeyObject;
  /** Subject and issuer common name (e.g. the player's name). */
  commonName: string;
  /** Validity in days from `notBefore` (default 3650, at most 36500). */
  validDays?: number;
  /** Start of validity (default: now minus one hour, for clock skew). */
  notBefore?: Date;
  /** 1 to 20 bytes, big-endian; the top bit is cleared (serials are positive). Default: 16 random bytes. */
  serial?: Uint8Array;
}

export interface Certificate {
  der: Uint8Array;
  pem: string;
}

// ---------------------------------------------------------------- DER

function length(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const len = length(n);
  const out = new Uint8Array(1 + len.length + n);
  out[0] = tag;
  out.set(len, 1);
  let at = 1 + len.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const seq = (...parts: Uint8Array[]) => tlv(0x30, ...parts);

/** A non-negative INTEGER from big-endian bytes, minimally encoded. */
function uint(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const v = bytes.subarray(i);
  return v[0]! & 0x80 ? tlv(0x02, Uint8Array.of(0), v) : tlv(0x02, v);
}

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280, 4.1.2.5), to the second. */
function time(d: Date): Uint8Array {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const y = d.getUTCFullYear();
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  const enc = new TextEncoder();
  return y < 2050 ? tlv(0x17, enc.encode(`${p(y % 100)}${rest}`)) : tlv(0x18, enc.encode(`${p(y, 4)}${rest}`));
}

function name(cn: string): Uint8Array {
  return seq(tlv(0x31, seq(OID_COMMON_NAME, tlv(0x0c, new TextEncoder().encode(cn)))));
}

// ---------------------------------------------------------------- certificate

/** A self-signed certificate for an Ed25519 key; see the file comment. */
export function selfSignedCertificate(options: SelfSignedOptions): Certificate {
  const fn = 'selfSignedCertificate';
  if (options === null || typeof options !== 'object') throw new TypeError(`${fn}: argument 'options' must be an object, got ${describe(options)}`);
  const { privateKey, commonName } = options;
  if ((privateKey as KeyObject | null | undefined)?.type !== 'private') {
    throw new TypeError(`${fn}: option 'privateKey' must be a private KeyObject, got ${describe(privateKey)}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new RangeError(`${fn}: option 'privateKey' must be an Ed25519 key, got ${String(privateKey.asymmetricKeyType)}`);
  checkName(commonName, 'commonName', fn, 64); // X.520 ub-common-name
  const days = options.validDays ?? 3650;
  if (!Number.isInteger(days) || days < 1 || days > 36_500) throw new RangeError(`${fn}: option 'validDays' must be an integer from 1 to 36500, got ${String(days)}`);
  const from = options.notBefore ?? new Date(Date.now() - 3_600_000);
  if (!(from instanceof Date) || Number.isNaN(from.getTime())) throw new TypeError(`${fn}: option 'notBefore' must be a valid Date, got ${describe(from)}`);
  const until = new Date(from.getTime() + days * DAY_MS);
  if (from.getUTCFullYear() < 1950 || until.getUTCFullYear() > 9999) throw new RangeError(`${fn}: validity ${from.toISOString()} .. ${until.toISOString()} outside the years 1950..9999`);
  if (options.serial !== undefined && !(options.serial instanceof Uint8Array)) throw new TypeError(`${fn}: option 'serial' must be a Uint8Array, got ${describe(options.serial)}`);
  const serial = options.serial === undefined ? new Uint8Array(randomBytes(16)) : Uint8Array.from(options.serial);
  if (serial.length < 1 || serial.length > 20) throw new RangeError(`${fn}: option 'serial' must have 1 to 20 bytes, got ${serial.length}`);
  serial[0] = serial[0]! & 0x7f;
  if (serial.every((b) => b === 0)) serial[serial.length - 1] = 1; // RFC 5280: positive

  const algorithm = seq(OID_ED25519); // Ed25519: no parameters (RFC 8410)
  const spki = new Uint8Array(createPublicKey(privateKey).export({ format: 'der', type: 'spki' })); // SubjectPublicKeyInfo
  const subject = name(commonName);
  const tbs = seq(
    tlv(0xa0, uint(Uint8Array.of(2))), // version v3
    uint(serial),
    algorithm,
    subject, // issuer: self-signed
    seq(time(from), time(until)),
    subject,
    spki,
  );
  const signature = sign(null, tbs, privateKey);
  const der = seq(tbs, algorithm, tlv(0x03, Uint8Array.of(0), signature));
  return { der, pem: certificatePem(der) };
}

/** PEM text of a DER certificate (64-character base64 lines). */
export function certificatePem(der: Uint8Array): string {
  return `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
}

