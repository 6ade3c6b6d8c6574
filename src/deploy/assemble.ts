/**
 * `fedcrypt config`: assemble config.json from the players' public keygen
 * files instead of pasting base64 certificates by hand, and check a config.
 *
 * Each player runs `fedcrypt keygen --name <name>` on its own host; the
 * public halves (`<name>.crt`, `<name>.pub`) are sent to whoever assembles
 * the config and put in one folder. `assembleConfig` reads them, gives every
 * player its role and address, and validates the result with the one config
 * validator (transport/config.ts) plus the roles a networked run needs
 * (job.ts); `describeConfig` is the summary `fedcrypt config --check` prints.
 * Private key files are never read here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { certificateDer, checkPlayerCertificate } from '../crypto/tls-identity.js';
import { decodeKey } from '../crypto/identity.js';
import { ConfigError, formatConfig, validateConfig, LINK_MODES, type DeployConfig, type LinkMode, type Role } from '../transport/config.js';
import { DEFAULT_LIMITS, LIMIT_NAMES } from '../transport/limits.js';
import { checkServersFor, configHash, configRoles } from './roster.js';
import { describePolicy, NETWORK_PROTOCOLS, parseConfigPolicy, resolvePolicy } from './policy.js';
import { keyPaths } from './keys.js';

export interface AssembleOptions {
  /** Folder holding every player's `<name>.crt` ('tls' links) or `<name>.pub` ('noise'), as keygen wrote them. */
  keysDir: string;
  modelOwner: string;
  dataOwners: readonly string[];
  /** Compute servers (three for ABY3 and Pond). */
  servers?: readonly string[];
  /** Players with role "aggregator". */
  aggregators?: readonly string[];
  /** `host:port` per player; the others get `host` and the next port from `basePort`. */
  addresses?: Readonly<Record<string, string>>;
  /**
   * Host of the players without an address (default 127.0.0.1). `{name}`
   * stands for the player's name (one host per player, e.g. a Kubernetes
   * Service): then every such player listens on `basePort` itself.
   */
  host?: string;
  /** First port (default 4440): the i-th player (model owner, data owners, servers, aggregators) gets basePort + i. */
  basePort?: number;
  /** Default 'tls'. */
  links?: LinkMode;
  /** The config's `"policy"` object (deploy/policy.ts). */
  policy?: Record<string, unknown>;
}

export interface Assembled {
  config: DeployConfig;
  /** The config file's text. */
  text: string;
  /** The public files read, per player. */
  files: Record<string, string[]>;
}

const keygenLine = (name: string, dir: string) => `run "fedcrypt keygen --name ${name}" on its host and copy its ${name}.crt and ${name}.pub into ${dir}`;

/** Build and validate a config from the players' public keygen files (ConfigError naming the player, the file or the option). */
export function assembleConfig(o: AssembleOptions): Assembled {
  if (typeof o !== 'object' || o === null) throw new TypeError('assembleConfig: "options" expected object');
  if (typeof o.keysDir !== 'string' || o.keysDir === '') throw new TypeError('assembleConfig: "keysDir" expected a non-empty string');
  const links = o.links ?? 'tls';
  if (!(LINK_MODES as readonly string[]).includes(links)) throw new RangeError(`assembleConfig: "links" expected one of ${LINK_MODES.join(', ')}, got ${JSON.stringify(links)}`);
  const basePort = o.basePort ?? 4440;
  if (!Number.isInteger(basePort) || basePort < 1 || basePort > 65535) throw new RangeError(`assembleConfig: "basePort" expected an integer in [1, 65535], got ${String(basePort)}`);
  const host = o.host ?? '127.0.0.1';
  const perPlayerHost = host.includes('{name}');
  const roles: [Role, readonly string[] | undefined][] = [
    ['model-owner', [o.modelOwner]], ['data-owner', o.dataOwners], ['compute-server', o.servers], ['aggregator', o.aggregators],
  ];
  const order: [string, Role][] = [];
  const roleOf = new Map<string, Role>();
  for (const [role, names] of roles) {
    for (const name of names ?? []) {
      if (typeof name !== 'string' || name === '') throw new RangeError(`assembleConfig: a ${role} name is empty`);
      const other = roleOf.get(name);
      if (other !== undefined) throw new ConfigError(`player "${name}" is named twice (${other === role ? `twice as ${role}` : `as ${other} and as ${role}`}); each player has one role`, name);
      roleOf.set(name, role);
      order.push([name, role]);
    }
  }
  for (const name of Object.keys(o.addresses ?? {})) {
    if (!roleOf.has(name)) throw new ConfigError(`address for "${name}": no such player (players: ${order.map(([n]) => n).join(', ')})`, name);
  }
  const players: Record<string, Record<string, string>> = {};
  const files: Record<string, string[]> = {};
  const problems: string[] = [];
  order.forEach(([name, role], i) => {
    const address = o.addresses?.[name] ?? `${perPlayerHost ? host.replaceAll('{name}', name) : host}:${perPlayerHost ? basePort : basePort + i}`;
    const entry: Record<string, string> = { address, role };
    const { certificatePath, publicKeyPath } = keyPaths(name, o.keysDir);
    files[name] = [];
    // the credential the links need is required; the other is taken when present (keygen writes both)
    const want: ['certificate' | 'publicKey', string][] = [['certificate', certificatePath], ['publicKey', publicKeyPath]];
    for (const [field, path] of want) {
      const needed = (field === 'certificate') === (links === 'tls');
      if (!existsSync(path)) {
        if (needed) problems.push(`${path}: no such file (player "${name}"'s ${field === 'certificate' ? 'certificate' : 'public key'}); ${keygenLine(name, o.keysDir)}`);
        continue;
      }
      try {
        const text = readFileSync(path, 'utf8');
        if (field === 'certificate') {
          const der = certificateDer(text, path, 'fedcrypt config');
          checkPlayerCertificate(der, name, path);
          entry[field] = Buffer.from(der).toString('base64');
        } else {
          entry[field] = Buffer.from(decodeKey(text.trim(), path, 'fedcrypt config')).toString('base64');
        }
        files[name]!.push(path);
      } catch (e) {
        const m = (e as Error).message.replace(/^fedcrypt config: argument '([^']+)' /, '$1: ').replace(/^fedcrypt config: "([^"]+)" /, '$1: ');
        problems.push(`${m.startsWith(path) ? m : `${path}: ${m}`} (player "${name}")`);
      }
    }
    players[name] = entry;
  });
  if (problems.length) throw new ConfigError(problems.length === 1 ? problems[0]! : `${problems.length} problems with the players' public files:\n  - ${problems.join('\n  - ')}`, o.keysDir);
  if (o.policy !== undefined) parseConfigPolicy(o.policy, 'policy file: ');
  const raw = { version: 1, links, ...(o.policy !== undefined ? { policy: o.policy } : {}), players };
  const config = validateConfig(raw, { requireKeys: true, requireRoles: true });
  configRoles(config);
  return { config, text: formatConfig(config), files };
}

/** The summary `fedcrypt config --check` prints (and its warnings), for a config that validated. */
export function describeConfig(config: DeployConfig): { lines: string[]; warnings: string[] } {
  const warnings: string[] = [];
  const lines: string[] = [];
  lines.push(`links: ${config.links === 'tls' ? 'tls (mutual TLS; every player\'s certificate pinned)' : 'noise (pinned X25519 keys, authenticated encryption per frame)'}`);
  const width = Math.max(...config.players.map((p) => p.name.length));
  lines.push(`players (${config.players.length}):`);
  for (const p of config.players) lines.push(`  ${p.name.padEnd(width)}  ${(p.role ?? '(no role)').padEnd(14)}  ${p.address}`);
  const count = (role: Role) => config.players.filter((p) => p.role === role).length;
  lines.push(`roles: ${count('model-owner')} model owner, ${count('data-owner')} data owner(s), ${count('compute-server')} compute server(s), ${count('aggregator')} aggregator(s)`);
  let roles: ReturnType<typeof configRoles> | undefined;
  try {
    roles = configRoles(config);
  } catch (e) {
    warnings.push(`not usable for networked training: ${(e as Error).message}`);
  }
  if (roles) {
    const ok = NETWORK_PROTOCOLS.filter((p) => {
      try {
        checkServersFor(p, roles!.servers);
        return true;
      } catch {
        return false;
      }
    });
    lines.push(`networked training: --protocol ${ok.join(', ')}${ok.includes('plaintext') ? ' (plaintext only where every data owner opts in with --insecure-allow-plaintext' : ''}${ok.includes('paillier') ? `${ok.includes('plaintext') ? ';' : ' ('} paillier with --mode fedavg, where the config's policy lists it)` : ok.includes('plaintext') ? ')' : ''}`);
  }
  const policy = resolvePolicy(parseConfigPolicy(config.policy));
  lines.push(`policy (every player's floor; a player's own options may only make it stricter): ${describePolicy(policy)}`);
  warnings.push(...(policy.warnings ?? []));
  if (roles && roles.dataOwners.length < policy.minContributors) {
    warnings.push(`${roles.dataOwners.length} data owner(s), fewer than the ${policy.minContributors} contributors every player requires per aggregate: every secure job would be refused`);
  }
  const limits = LIMIT_NAMES.map((k) => `${k} ${config.limits?.[k] ?? DEFAULT_LIMITS[k]}${config.limits?.[k] !== undefined ? '' : ' (default)'}`);
  lines.push(`limits: ${limits.join(', ')}`);
  lines.push(`config hash: ${configHash(config).slice(0, 16)} (every player must load the same file)`);
  return { lines, warnings };
}
