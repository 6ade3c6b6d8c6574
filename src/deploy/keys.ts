/**
 * Player key files.
 *
 *   <dir>/<name>.key  JSON { format, name, publicKey, privateKey } (base64), mode 0600
 *   <dir>/<name>.pub  the base64 public key on one line, to paste into config.json
 *
 * keygen refuses to overwrite an existing key unless `force` is set;
 * loadIdentity refuses a private key file readable by group or others
 * (like ssh), and one whose public key does not match its private key.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeKey, encodePublicKey, exportPrivateKey, generateIdentity, identityFromPrivateKey, bytesEqual, type Identity } from '../crypto/identity.js';
import { ConfigError } from '../transport/config.js';

const FORMAT = 'fedcrypt-x25519-v1';
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export interface KeygenResult {
  name: string;
  /** base64 */
  publicKey: string;
  privateKeyPath: string;
  publicKeyPath: string;
}

export function keyPaths(name: string, dir: string): { privateKeyPath: string; publicKeyPath: string } {
  return { privateKeyPath: join(dir, `${name}.key`), publicKeyPath: join(dir, `${name}.pub`) };
}

/** Generate a player's key pair and write `<dir>/<name>.key` (0600) and `<dir>/<name>.pub`. */
export function keygen(name: string, dir: string, options: { force?: boolean } = {}): KeygenResult {
  if (typeof name !== 'string') throw new TypeError(`keygen: "name" expected string, got ${typeof name}`);
  if (!NAME.test(name)) throw new RangeError(`keygen: "name" expected a player name (letters, digits, "_", ".", "-"; at most 63), got ${JSON.stringify(name)}`);
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`keygen: "dir" expected a non-empty string, got ${typeof dir}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKeyPath, publicKeyPath } = keyPaths(name, dir);
  if (!options.force && (existsSync(privateKeyPath) || existsSync(publicKeyPath))) {
    throw new RangeError(`keygen: a key for "${name}" already exists in ${dir}; pass force to replace it`);
  }
  const id = generateIdentity();
  const raw = exportPrivateKey(id.privateKey);
  const pub = encodePublicKey(id.publicKey);
  const body = `${JSON.stringify({ format: FORMAT, name, publicKey: pub, privateKey: Buffer.from(raw).toString('base64') }, null, 2)}\n`;
  raw.fill(0);
  writeFileSync(privateKeyPath, body, { mode: 0o600, flag: options.force ? 'w' : 'wx' });
  chmodSync(privateKeyPath, 0o600); // mode is only applied on creation; force rewrites an existing file
  writeFileSync(publicKeyPath, `${pub}\n`, { mode: 0o644, flag: options.force ? 'w' : 'wx' });
  return { name, publicKey: pub, privateKeyPath, publicKeyPath };
}

/** Read a `.key` file written by keygen. */
export function loadIdentity(path: string, options: { allowInsecureMode?: boolean } = {}): Identity & { name: string } {
  if (typeof path !== 'string') throw new TypeError(`loadIdentity: "path" expected string, got ${typeof path}`);
  const st = statSync(path);
  if (!options.allowInsecureMode && process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw new ConfigError(`${path}: private key file is accessible by group or others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 ${path}`, path);
  }
  let obj: Record<string, unknown>;
  try {
    obj = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    throw new ConfigError(`${path}: not a fedcrypt key file (invalid JSON)`, path);
  }
  if (typeof obj !== 'object' || obj === null || obj['format'] !== FORMAT) throw new ConfigError(`${path}: not a fedcrypt key file (format must be ${FORMAT})`, path);
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
  return { ...id, name: obj['name'] };
}
