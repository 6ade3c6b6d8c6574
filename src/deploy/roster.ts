/**
 * The roster of a config: who is the model owner, the data owners and the
 * compute servers (in config order), the servers a protocol needs, and the
 * hash every party of a session checks (a player refuses a session opened
 * for another config).
 */
import { createHash } from 'node:crypto';
import { ConfigError, formatConfig, type DeployConfig } from '../transport/config.js';
import type { NetworkProtocol } from './policy.js';

/** The server optimizers of networked training (`--optimizer`). */
export const OPTIMIZERS = ['amsgrad', 'adam', 'sgd'] as const;

/** sha256 of the canonical form of the config (players, addresses, roles, keys). */
export function configHash(config: DeployConfig): string {
  return createHash('sha256').update(formatConfig(config)).digest('hex');
}

/** The roles of a config: one model owner, the data owners and compute servers in config order. */
export function configRoles(config: DeployConfig): { modelOwner: string; dataOwners: string[]; servers: string[] } {
  const by = (role: string) => config.players.filter((p) => p.role === role).map((p) => p.name);
  const mo = by('model-owner');
  if (mo.length !== 1) throw new ConfigError(`players: a networked run needs exactly one player with role "model-owner", found ${mo.length}${mo.length ? ` (${mo.join(', ')})` : ''}`, 'players');
  const dataOwners = by('data-owner');
  if (dataOwners.length === 0) throw new ConfigError('players: a networked run needs at least one player with role "data-owner", found none', 'players');
  const servers = by('compute-server');
  for (const p of config.players) if (p.role === undefined) throw new ConfigError(`players.${p.name}.role: missing (one of model-owner, data-owner, compute-server)`, `players.${p.name}.role`);
  return { modelOwner: mo[0]!, dataOwners, servers };
}

/** Check the servers a protocol needs are in the config. */
export function checkServersFor(protocol: NetworkProtocol, servers: readonly string[]): void {
  // (SecAgg: the clients and SERVER only; compute servers, if any, take no part)
  if (protocol === 'secagg') return;
  if (protocol === 'paillier' || protocol === 'plaintext') {
    const what = protocol === 'paillier' ? 'the aggregation service' : "the insecure reference's aggregator";
    if (servers.length < 1) throw new ConfigError(`players: ${protocol} needs a player with role "compute-server" (${what})`, 'players');
    return;
  }
  if (servers.length !== 3) {
    throw new ConfigError(`players: ${protocol} needs exactly 3 players with role "compute-server"${protocol === 'pond' ? ' (two servers and the crypto producer)' : ''}, found ${servers.length}`, 'players');
  }
}
