/**
 * Deployment configuration: which player runs where, with which role and
 * which pinned credential (certificate or public key).
 *
 * Two accepted shapes:
 *   TF Encrypted's flat map     { "server0": "localhost:4440", ... }
 *   the full form               { "version": 1, "links": "tls", "players": {
 *                                   "server0": { "address": "10.0.0.5:4440",
 *                                                "role": "compute-server",
 *                                                "certificate": "<base64 DER>",
 *                                                "publicKey": "<base64 of 32 bytes>" } } }
 * (entries of the full form may also be a bare "host:port" string). "links"
 * picks how links are secured: "tls" needs every player's certificate,
 * "noise" (the default) every player's publicKey. The optional "limits"
 * object sets the receive limits of every link (transport/limits.ts). Every problem is a
 * ConfigError naming the entry: duplicate names (the parser refuses duplicate
 * JSON keys), duplicate host:port, missing or unknown role, malformed address
 * or port, badly encoded key, a certificate that does not parse, is not a
 * self-signed Ed25519 certificate for that player's name or is expired,
 * unknown fields.
 */
import { readFileSync } from 'node:fs';
import { decodeKey } from '../crypto/identity.js';
import { certificateDer, checkPlayerCertificate } from '../crypto/tls-identity.js';
import { DuplicateKeyError, JsonSyntaxError, parseJsonStrict } from './config-json.js';
import { DEFAULT_LIMITS, LIMIT_NAMES, limitProblem, limitsConflict, type ReceiveLimits } from './limits.js';

export const ROLES = ['model-owner', 'data-owner', 'compute-server', 'aggregator'] as const;
/** model-owner = SERVER placement, data-owner = CLIENTS, compute-server = MPC servers, aggregator = AGGREGATORS. */
export type Role = (typeof ROLES)[number];

export interface PlayerEntry {
  name: string;
  host: string;
  port: number;
  /** `host:port` as written (IPv6 in brackets). */
  address: string;
  role?: Role;
  /** Pinned X25519 public key (32 bytes): authenticates the player on 'noise' links. */
  publicKey?: Uint8Array;
  /** Pinned self-signed Ed25519 certificate (DER): authenticates the player on 'tls' links. */
  certificate?: Uint8Array;
}

/**
 * How links are secured: 'tls' (mutual TLS 1.3, every player's self-signed
 * certificate pinned) or 'noise' (pinned-key handshake over plaintext gRPC,
 * then an AEAD frame per chunk). See transport/grpc.ts.
 */
export const LINK_MODES = ['tls', 'noise'] as const;
export type LinkMode = (typeof LINK_MODES)[number];

export interface DeployConfig {
  version: 1;
  /** Default 'noise' (what a config without "links" has always meant). */
  links: LinkMode;
  players: PlayerEntry[];
  /**
   * The optional `"policy"` object, kept as written (a JSON object): the
   * deploy layer validates and applies it (deploy/policy.ts), each player as
   * the floor of its own local policy.
   */
  policy?: Readonly<Record<string, unknown>>;
  /** Receive limits of every player's links (transport/limits.ts; defaults for those absent). */
  limits?: Partial<ReceiveLimits>;
}

export interface ConfigOptions {
  /** Every player must have a role (default true; false accepts TFE's flat config). */
  requireRoles?: boolean;
  /** Every player must have what its links need: a certificate ('tls') or a public key ('noise'). Default false; the gRPC transport requires them. */
  requireKeys?: boolean;
  /** Used in messages, e.g. the file name. */
  source?: string;
}

export class ConfigError extends Error {
  /** The entry concerned, e.g. `players.server0.address`, or `<root>`. */
  readonly entry: string;
  constructor(message: string, entry: string) {
    super(message);
    this.name = 'ConfigError';
    this.entry = entry;
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
const FIELDS = new Set(['address', 'role', 'publicKey', 'certificate']);
const TOP_FIELDS = ['version', 'links', 'players', 'policy', 'limits'];

function isIPv4(h: string): boolean {
  const p = h.split('.');
  return p.length === 4 && p.every((x) => /^(0|[1-9]\d{0,2})$/.test(x) && Number(x) <= 255);
}

function isIPv6(h: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(h) || !h.includes(':')) return false;
  const dbl = h.split('::');
  if (dbl.length > 2) return false;
  const groups = h.split(':').filter((g) => g !== '');
  const last = groups[groups.length - 1] ?? '';
  const v4 = last.includes('.');
  if (v4 && !isIPv4(last)) return false;
  const n = groups.length + (v4 ? 1 : 0);
  if (!groups.slice(0, v4 ? -1 : undefined).every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return false;
  return dbl.length === 2 ? n <= 7 : n === 8;
}

function isHostname(h: string): boolean {
  return h.length <= 253 && h.split('.').every((l) => LABEL.test(l)) && !/^\d+$/.test(h.split('.').pop() ?? '');
}

/** Parse `host:port` (IPv6 as `[::1]:4440`); throws ConfigError naming `entry`. */
export function parseAddress(address: unknown, entry: string): { host: string; port: number } {
  if (typeof address !== 'string') throw new ConfigError(`${entry}: expected a "host:port" string, got ${address === null ? 'null' : typeof address}`, entry);
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  if (!m) throw new ConfigError(`${entry}: malformed address ${JSON.stringify(address)}, expected "host:port" (IPv6 as "[addr]:port")`, entry);
  const host = (m[1] ?? m[2])!;
  const port = Number(m[3]);
  if (m[1] !== undefined ? !isIPv6(host) : !(isIPv4(host) || isHostname(host))) {
    throw new ConfigError(`${entry}: malformed host ${JSON.stringify(host)} in ${JSON.stringify(address)}`, entry);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(`${entry}: port ${m[3]} out of range, expected an integer in [1, 65535]`, entry);
  }
  return { host, port };
}

function decodeBase64(text: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) throw new RangeError('not base64 (expected the base64 DER certificate written by "fedcrypt keygen")');
  return new Uint8Array(Buffer.from(text, 'base64'));
}

const entryPath = (full: boolean, name: string) => (full ? `players.${name}` : name);

/** Validate an already-parsed config object. */
export function validateConfig(raw: unknown, options: ConfigOptions = {}): DeployConfig {
  const requireRoles = options.requireRoles ?? true;
  const src = options.source ? `${options.source}: ` : '';
  const err = (msg: string, entry: string) => new ConfigError(`${src}${msg}`, entry);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw err('<root>: expected a JSON object', '<root>');
  const obj = raw as Record<string, unknown>;
  const full = 'players' in obj;
  let entries: Record<string, unknown>;
  if (full) {
    for (const k of Object.keys(obj)) if (!TOP_FIELDS.includes(k)) throw err(`${k}: unknown top-level field (expected ${TOP_FIELDS.map((f) => `"${f}"`).join(', ')})`, k);
    if (obj['policy'] !== undefined && (typeof obj['policy'] !== 'object' || obj['policy'] === null || Array.isArray(obj['policy']))) throw err('policy: expected an object (see docs/DEPLOY.md, "Party policy")', 'policy');
    if (obj['version'] !== undefined && obj['version'] !== 1) throw err(`version: unsupported config version ${JSON.stringify(obj['version'])}, expected 1`, 'version');
    if (obj['links'] !== undefined && !(LINK_MODES as readonly unknown[]).includes(obj['links'])) throw err(`links: unknown link mode ${JSON.stringify(obj['links'])}, expected one of ${LINK_MODES.join(', ')}`, 'links');
    const p = obj['players'];
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw err('players: expected an object mapping player names to entries', 'players');
    entries = p as Record<string, unknown>;
  } else {
    entries = obj;
  }
  const links: LinkMode = full && obj['links'] !== undefined ? (obj['links'] as LinkMode) : 'noise';
  const names = Object.keys(entries);
  if (names.length === 0) throw err(`${full ? 'players' : '<root>'}: no players configured`, full ? 'players' : '<root>');
  const players: PlayerEntry[] = [];
  const byAddress = new Map<string, string>();
  const lower = new Map<string, string>();
  for (const name of names) {
    const at = entryPath(full, name);
    if (!NAME.test(name)) throw err(`${at}: invalid player name ${JSON.stringify(name)} (letters, digits, "_", ".", "-"; at most 63; starting with a letter or digit)`, at);
    const clash = lower.get(name.toLowerCase());
    if (clash !== undefined) throw err(`${at}: duplicate player name (same as ${JSON.stringify(clash)} up to case)`, at);
    lower.set(name.toLowerCase(), name);
    const e = entries[name];
    let address: unknown;
    let role: unknown;
    let key: unknown;
    let cert: unknown;
    if (typeof e === 'string') {
      address = e;
    } else if (typeof e === 'object' && e !== null && !Array.isArray(e)) {
      const o = e as Record<string, unknown>;
      for (const k of Object.keys(o)) if (!FIELDS.has(k)) throw err(`${at}.${k}: unknown field (expected address, role, publicKey, certificate)`, `${at}.${k}`);
      if (!('address' in o)) throw err(`${at}.address: missing`, `${at}.address`);
      address = o['address'];
      role = o['role'];
      key = o['publicKey'];
      cert = o['certificate'];
    } else {
      throw err(`${at}: expected "host:port" or { address, role, publicKey, certificate }`, at);
    }
    let host: string;
    let port: number;
    try {
      ({ host, port } = parseAddress(address, `${at}.address`));
    } catch (x) {
      throw err((x as Error).message, `${at}.address`);
    }
    const p: PlayerEntry = { name, host, port, address: address as string };
    if (role === undefined) {
      if (requireRoles) throw err(`${at}.role: missing (one of ${ROLES.join(', ')})`, `${at}.role`);
    } else if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
      throw err(`${at}.role: unknown role ${JSON.stringify(role)}, expected one of ${ROLES.join(', ')}`, `${at}.role`);
    } else {
      p.role = role as Role;
    }
    if (key === undefined) {
      if (options.requireKeys && links === 'noise') throw err(`${at}.publicKey: missing (run "fedcrypt keygen --name ${name}" on its host, then rebuild the config from the keys with "fedcrypt config")`, `${at}.publicKey`);
    } else {
      try {
        p.publicKey = decodeKey(key, `${at}.publicKey`, 'config');
      } catch (x) {
        throw err(`${at}.publicKey: ${(x as Error).message.replace(/^config: /, '')}`, `${at}.publicKey`);
      }
    }
    if (cert === undefined) {
      if (options.requireKeys && links === 'tls') throw err(`${at}.certificate: missing (run "fedcrypt keygen --name ${name}" on its host, then rebuild the config from the keys with "fedcrypt config")`, `${at}.certificate`);
    } else {
      try {
        if (typeof cert !== 'string') throw new RangeError(`expected a base64 DER (or PEM) certificate string, got ${cert === null ? 'null' : typeof cert}`);
        const der = cert.includes('-----BEGIN') ? certificateDer(cert) : decodeBase64(cert);
        checkPlayerCertificate(der, name, `${at}.certificate`);
        p.certificate = der;
      } catch (x) {
        const m = (x as Error).message;
        throw err(m.startsWith(`${at}.certificate`) ? m : `${at}.certificate: ${m.replace(/^certificateDer: argument 'certificate' /, '')}`, `${at}.certificate`);
      }
    }
    const hp = `${host.toLowerCase()}:${port}`;
    const other = byAddress.get(hp);
    if (other !== undefined) throw err(`${at}.address: ${address as string} is already used by player ${JSON.stringify(other)}`, `${at}.address`);
    byAddress.set(hp, name);
    players.push(p);
  }
  const keys = new Map<string, string>();
  for (const p of players) {
    if (!p.publicKey) continue;
    const k = Buffer.from(p.publicKey).toString('base64');
    const other = keys.get(k);
    const at = `${entryPath(full, p.name)}.publicKey`;
    if (other !== undefined) throw err(`${at}: same public key as player ${JSON.stringify(other)} (each player needs its own key pair)`, at);
    keys.set(k, p.name);
  }
  const certs = new Map<string, string>();
  for (const p of players) {
    if (!p.certificate) continue;
    const k = Buffer.from(p.certificate).toString('base64');
    const other = certs.get(k);
    const at = `${entryPath(full, p.name)}.certificate`;
    if (other !== undefined) throw err(`${at}: same certificate as player ${JSON.stringify(other)}`, at);
    certs.set(k, p.name);
  }
  const policy = full && obj['policy'] !== undefined ? (JSON.parse(JSON.stringify(obj['policy'])) as Record<string, unknown>) : undefined;
  const limits = full && obj['limits'] !== undefined ? parseLimits(obj['limits'], err) : undefined;
  return { version: 1, links, players, ...(policy ? { policy } : {}), ...(limits ? { limits } : {}) };
}

/** The optional top-level "limits" object: known fields only, each an integer in its range (ConfigError naming `limits.<field>`). */
function parseLimits(raw: unknown, err: (msg: string, entry: string) => ConfigError): Partial<ReceiveLimits> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw err(`limits: expected an object with any of ${LIMIT_NAMES.join(', ')}`, 'limits');
  const given = raw as Record<string, unknown>;
  for (const k of Object.keys(given)) if (!(LIMIT_NAMES as readonly string[]).includes(k)) throw err(`limits.${k}: unknown field (expected ${LIMIT_NAMES.join(', ')})`, `limits.${k}`);
  const out: Partial<ReceiveLimits> = {}; // in LIMIT_NAMES order, so that formatConfig (the config hash) does not depend on the file's order
  for (const k of LIMIT_NAMES.filter((n) => n in given)) {
    const problem = limitProblem(k, given[k]);
    if (problem) throw err(`limits.${k}: ${problem.message}`, `limits.${k}`);
    out[k] = given[k] as number;
  }
  const conflict = limitsConflict({ ...DEFAULT_LIMITS, ...out });
  if (conflict) throw err(`limits.maxBufferedBytes: ${conflict}`, 'limits.maxBufferedBytes');
  return out;
}

/** Parse config text (duplicate JSON keys are refused) and validate it. */
export function parseConfig(text: string, options: ConfigOptions = {}): DeployConfig {
  if (typeof text !== 'string') throw new TypeError(`parseConfig: "text" expected string, got ${typeof text}`);
  const src = options.source ? `${options.source}: ` : '';
  let raw: unknown;
  try {
    raw = parseJsonStrict(text);
  } catch (e) {
    if (e instanceof DuplicateKeyError) {
      const entry = e.path.replace(/^\[|\]$/g, '');
      const what = /^players[.[]/.test(e.path) || !text.includes('"players"') ? 'duplicate player name' : 'duplicate key';
      throw new ConfigError(`${src}${e.path}: ${what} ${JSON.stringify(e.key)} (line ${e.line})`, entry);
    }
    if (e instanceof JsonSyntaxError) throw new ConfigError(`${src}${e.message}`, e.path);
    throw e;
  }
  return validateConfig(raw, options);
}

/** How to make the config file, for messages about a missing one. */
export const MAKE_CONFIG_HINT = 'make it with "fedcrypt config --keys keys --model-owner <name> --data-owners <names> --servers <names> --out config.json" from the players\' keygen files (docs/DEPLOY.md)';

/**
 * Read a text file the deployment needs, or throw a ConfigError saying which
 * file it is and how to make it (never a bare ENOENT): `what` names the file's
 * purpose, `make` how to create it.
 */
export function readDeployFile(path: string, what: string, make: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? `no such file (${what}); ${make}`
      : code === 'EACCES' || code === 'EPERM' ? `cannot read it (permission denied; ${what})`
      : code === 'EISDIR' ? `is a folder, expected a file (${what})`
      : `cannot read it (${what}): ${(e as Error).message}`;
    throw new ConfigError(`${path}: ${why}`, path);
  }
}

export function loadConfig(path: string, options: ConfigOptions = {}): DeployConfig {
  if (typeof path !== 'string') throw new TypeError(`loadConfig: "path" expected string, got ${typeof path}`);
  return parseConfig(readDeployFile(path, 'the deployment config', MAKE_CONFIG_HINT), { source: path, ...options });
}

/** The entry of `name`, or a ConfigError. */
export function playerEntry(config: DeployConfig, name: string): PlayerEntry {
  const p = config.players.find((x) => x.name === name);
  if (!p) throw new ConfigError(`player ${JSON.stringify(name)} is not in the config (players: ${config.players.map((x) => x.name).join(', ')})`, name);
  return p;
}

/** Pinned certificates (DER) of every player; a player without one is a ConfigError. */
export function pinnedCertificates(config: DeployConfig): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const p of config.players) {
    if (!p.certificate) throw new ConfigError(`players.${p.name}.certificate: missing; every player needs a pinned certificate for TLS links`, `players.${p.name}.certificate`);
    out.set(p.name, p.certificate);
  }
  return out;
}

/** Pinned public keys of every player; a player without one is a ConfigError. */
export function pinnedKeys(config: DeployConfig): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const p of config.players) {
    if (!p.publicKey) throw new ConfigError(`players.${p.name}.publicKey: missing; every player needs a pinned key for authenticated links`, `players.${p.name}.publicKey`);
    out.set(p.name, p.publicKey);
  }
  return out;
}

/** The full-form JSON of a config (keys in base64). */
export function formatConfig(config: DeployConfig): string {
  const players: Record<string, unknown> = {};
  for (const p of config.players) {
    players[p.name] = {
      address: p.address,
      ...(p.role ? { role: p.role } : {}),
      ...(p.publicKey ? { publicKey: Buffer.from(p.publicKey).toString('base64') } : {}),
      ...(p.certificate ? { certificate: Buffer.from(p.certificate).toString('base64') } : {}),
    };
  }
  return `${JSON.stringify({ version: 1, ...(config.links === 'tls' ? { links: 'tls' } : {}), ...(config.policy ? { policy: config.policy } : {}), ...(config.limits ? { limits: config.limits } : {}), players }, null, 2)}\n`;
}
