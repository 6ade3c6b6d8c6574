/**
 * Player key files.
 *
 *   <dir>/<name>.key  JSON { format, name, publicKey, privateKey, tlsPrivateKey, certificate }
 *                     (base64; tlsPrivateKey is PKCS#8 DER), mode 0600
 *   <dir>/<name>.pub  the base64 X25519 public key on one line ("publicKey" in config.json)
 *   <dir>/<name>.crt  the self-signed Ed25519 certificate, PEM ("certificate" in
 *                     config.json takes its base64 DER, which keygen prints)
 *
 * A player has two credentials: the X25519 key authenticates it on 'noise'
 * links, the certificate on 'tls' links (transport/config.ts "links").
 * Key files of format fedcrypt-x25519-v1 (no TLS credential) still load;
 * such a player can only serve 'noise' links.
 *
 * keygen refuses to overwrite an existing key unless `force` is set;
 * loadIdentity refuses a private key file readable by group or others
 * (like ssh), and one whose public key does not match its private key.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { decodeKey, encodePublicKey, exportPrivateKey, generateIdentity, identityFromPrivateKey, bytesEqual, type Identity } from '../crypto/identity.js';
import { generateTlsIdentity, importTlsPrivateKey, certificateMatchesKey, checkPlayerCertificate, type TlsIdentity } from '../crypto/tls-identity.js';
import { certificatePem } from '../crypto/x509.js';
import { ConfigError } from '../transport/config.js';

const FORMAT_V1 = 'fedcrypt-x25519-v1';
const FORMAT = 'fedcrypt-player-v2';
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export interface KeygenResult {
  name: string;
  /** base64 */
  publicKey: string;
  privateKeyPath: string;
  publicKeyPath: string;
  /** base64 DER of the certificate (what config.json's "certificate" takes). */
  certificate: string;
  certificatePath: string;
}

export function keyPaths(name: string, dir: string): { privateKeyPath: string; publicKeyPath: string; certificatePath: string } {
  return { privateKeyPath: join(dir, `${name}.key`), publicKeyPath: join(dir, `${name}.pub`), certificatePath: join(dir, `${name}.crt`) };
}

/** Generate a player's key pair and certificate; write `<dir>/<name>.key` (0600), `<dir>/<name>.pub` and `<dir>/<name>.crt`. */
export function keygen(name: string, dir: string, options: { force?: boolean } = {}): KeygenResult {
  if (typeof name !== 'string') throw new TypeError(`keygen: "name" expected string, got ${typeof name}`);
  if (!NAME.test(name)) throw new RangeError(`keygen: "name" expected a player name (letters, digits, "_", ".", "-"; at most 63), got ${JSON.stringify(name)}`);
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`keygen: "dir" expected a non-empty string, got ${typeof dir}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKeyPath, publicKeyPath, certificatePath } = keyPaths(name, dir);
  if (!options.force && (existsSync(privateKeyPath) || existsSync(publicKeyPath) || existsSync(certificatePath))) {
    throw new RangeError(`keygen: a key for "${name}" already exists in ${dir}; pass force to replace it`);
  }
  const id = generateIdentity();
  const raw = exportPrivateKey(id.privateKey);
  const pub = encodePublicKey(id.publicKey);
  const tls = generateTlsIdentity(name);
  const tlsRaw = tls.privateKey.export({ format: 'der', type: 'pkcs8' });
  const certificate = Buffer.from(tls.certificate.der).toString('base64');
  const body = `${JSON.stringify({ format: FORMAT, name, publicKey: pub, privateKey: Buffer.from(raw).toString('base64'), tlsPrivateKey: tlsRaw.toString('base64'), certificate }, null, 2)}\n`;
  raw.fill(0);
  tlsRaw.fill(0);
  writeFileSync(privateKeyPath, body, { mode: 0o600, flag: options.force ? 'w' : 'wx' });
  chmodSync(privateKeyPath, 0o600); // mode is only applied on creation; force rewrites an existing file
  writeFileSync(publicKeyPath, `${pub}\n`, { mode: 0o644, flag: options.force ? 'w' : 'wx' });
  writeFileSync(certificatePath, tls.certificate.pem, { mode: 0o644, flag: options.force ? 'w' : 'wx' });
  return { name, publicKey: pub, privateKeyPath, publicKeyPath, certificate, certificatePath };
}

/** What a key file holds: the X25519 identity and, from format v2, the TLS identity. */
export type PlayerIdentity = Identity & { name: string; tls?: TlsIdentity };

/** How to make a player's key file, for messages about a missing one. */
export function keygenHint(name: string, dir: string): string {
  return `make it on that player's host with "fedcrypt keygen --name ${name} --dir ${dir}" (then rebuild the config with "fedcrypt config": the config pins the new certificate)`;
}

/**
 * Read a `.key` file written by keygen. `name` (default: the file's base
 * name) is the player it should be for, used in the message about a missing file.
 */
export function loadIdentity(path: string, options: { allowInsecureMode?: boolean; name?: string } = {}): PlayerIdentity {
  if (typeof path !== 'string') throw new TypeError(`loadIdentity: "path" expected string, got ${typeof path}`);
  const who = options.name ?? basename(path).replace(/\.key$/, '');
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(`${path}: no such key file (player "${who}"'s private key); ${keygenHint(who, dirname(path) || '.')}`, path);
    throw new ConfigError(`${path}: cannot read player "${who}"'s key file: ${(e as Error).message}`, path);
  }
  if (st.isDirectory()) throw new ConfigError(`${path}: is a folder, expected player "${who}"'s key file (<dir>/${who}.key)`, path);
  if (!options.allowInsecureMode && process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw new ConfigError(`${path}: private key file is accessible by group or others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 ${path}`, path);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${path}: cannot read player "${who}"'s key file: ${(e as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied' : (e as Error).message}`, path);
  }
  let obj: Record<string, unknown>;
  try {
    obj = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new ConfigError(`${path}: not a fedcrypt key file (invalid JSON)`, path);
  }
  if (typeof obj !== 'object' || obj === null || (obj['format'] !== FORMAT && obj['format'] !== FORMAT_V1)) throw new ConfigError(`${path}: not a fedcrypt key file (format must be ${FORMAT} or ${FORMAT_V1})`, path);
  if (typeof obj['name'] !== 'string') throw new ConfigError(`${path}.name: missing`, `${path}.name`);
  let raw: Uint8Array;
  let pub: Uint8Array;
  try {
    raw = decodeKey(obj['privateKey'], 'privateKey', path);
    pub = decodeKey(obj['publicKey'], 'publicKey', path);
  } catch (e) {
    throw new ConfigError((e as Error).message, path);
  }
  const id = identityFromPrivateKey(raw);
  raw.fill(0);
  if (!bytesEqual(id.publicKey, pub)) throw new ConfigError(`${path}: publicKey does not match privateKey`, `${path}.publicKey`);
  const name = obj['name'];
  if (obj['format'] === FORMAT_V1) return { ...id, name };
  let tls: TlsIdentity;
  try {
    if (typeof obj['tlsPrivateKey'] !== 'string' || typeof obj['certificate'] !== 'string') throw new RangeError('tlsPrivateKey and certificate must be base64 strings');
    const keyDer = new Uint8Array(Buffer.from(obj['tlsPrivateKey'], 'base64'));
    const privateKey = importTlsPrivateKey(keyDer, 'tlsPrivateKey', path);
    keyDer.fill(0);
    const der = new Uint8Array(Buffer.from(obj['certificate'], 'base64'));
    checkPlayerCertificate(der, name, `${path}.certificate`);
    if (!certificateMatchesKey(der, privateKey)) throw new RangeError(`${path}.certificate: does not match tlsPrivateKey`);
    tls = { name, privateKey, certificate: { der, pem: certificatePem(der) } };
  } catch (e) {
    throw new ConfigError((e as Error).message.startsWith(path) ? (e as Error).message : `${path}: ${(e as Error).message}`, path);
  }
  return { ...id, name, tls };
}
