/**
 * The job spec: what every player of a networked training run must agree on.
 *
 * The driver (the model owner) builds it from the command line and the
 * config, and sends it to every player over the authenticated transport (the
 * pinned-key handshake and AEAD of crypto/secure-channel.ts authenticate the
 * sender as the config's model owner). A player accepts a job only if it
 * comes from the config's model owner, names it, carries the hash of the
 * same config the player loaded, and passes the player's own policy
 * (policy.ts: protocol, roster, minimum contributors, batch size, rounds,
 * model and dataset).
 */
import { createHash, randomBytes } from 'node:crypto';
import { ConfigError, formatConfig, type DeployConfig } from '../transport/config.js';

import { JOB_PROTOCOLS, NETWORK_PROTOCOLS, type NetworkProtocol } from './policy.js';

export { NETWORK_PROTOCOLS, type NetworkProtocol };
export const JOB_VERSION = 1;
export const OPTIMIZERS = ['amsgrad', 'adam', 'sgd'] as const;

/** Fields that determine the trained model (a checkpoint must match them to be resumed). */
export interface TrainingParams {
  model: string;
  dataset: string;
  protocol: NetworkProtocol;
  precision: 'low' | 'high';
  mode: 'fedsgd';
  epochs: number;
  batchSize: number;
  seed: number;
  nonIid: boolean;
  /** null: no limit. */
  maxSteps: number | null;
  optimizer: (typeof OPTIMIZERS)[number];
  lr: number;
  /** Player names, in config order. */
  modelOwner: string;
  dataOwners: string[];
  servers: string[];
}

export interface JobSpec extends TrainingParams {
  version: typeof JOB_VERSION;
  /** Random per job; every rendezvous key of the job starts with it. */
  jobId: string;
  numParams: number;
  stepsPerEpoch: number;
  totalSteps: number;
  /** Rounds already completed (0, or the checkpoint's round on --resume). */
  startRound: number;
  /** Deadline of one round (every receive of the round and the driver's wait). */
  roundTimeoutMs: number;
  /** How long a player waits for the next round to start (the driver validates and checkpoints in between). */
  idleTimeoutMs: number;
  /** sha256 (hex) of the canonical config: players refuse a job for another config. */
  configHash: string;
}

export const TRAINING_KEYS: readonly (keyof TrainingParams)[] = [
  'model', 'dataset', 'protocol', 'precision', 'mode', 'epochs', 'batchSize', 'seed', 'nonIid', 'maxSteps', 'optimizer', 'lr', 'modelOwner', 'dataOwners', 'servers',
];

export class JobError extends Error {
  override name = 'JobError';
}

/** sha256 of the canonical form of the config (players, addresses, roles, keys). */
export function configHash(config: DeployConfig): string {
  return createHash('sha256').update(formatConfig(config)).digest('hex');
}

export function newJobId(): string {
  return randomBytes(6).toString('hex');
}

/** The roles of a config: one model owner, the data owners and compute servers in config order. */
export function configRoles(config: DeployConfig): { modelOwner: string; dataOwners: string[]; servers: string[] } {
  const by = (role: string) => config.players.filter((p) => p.role === role).map((p) => p.name);
  const mo = by('model-owner');
  if (mo.length !== 1) throw new ConfigError(`players: a networked training needs exactly one player with role "model-owner", found ${mo.length}${mo.length ? ` (${mo.join(', ')})` : ''}`, 'players');
  const dataOwners = by('data-owner');
  if (dataOwners.length === 0) throw new ConfigError('players: a networked training needs at least one player with role "data-owner", found none', 'players');
  const servers = by('compute-server');
  for (const p of config.players) if (p.role === undefined) throw new ConfigError(`players.${p.name}.role: missing (one of model-owner, data-owner, compute-server)`, `players.${p.name}.role`);
  return { modelOwner: mo[0]!, dataOwners, servers };
}

/** Check the servers a protocol needs are in the config. */
export function checkServersFor(protocol: NetworkProtocol, servers: readonly string[]): void {
  if (protocol === 'paillier') {
    if (servers.length < 1) throw new ConfigError('players: paillier needs a player with role "compute-server" (the aggregation service)', 'players');
    return;
  }
  if (protocol !== 'plaintext' && servers.length !== 3) {
    throw new ConfigError(`players: ${protocol} needs exactly 3 players with role "compute-server"${protocol === 'pond' ? ' (two servers and the crypto producer)' : ''}, found ${servers.length}`, 'players');
  }
}

const isInt = (v: unknown, lo: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= lo;
// player names as the config allows them (names from the network reach log lines: no control characters)
const PLAYER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const isNames = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string' && PLAYER_NAME.test(x));

/** Validate a job spec received from the network (JobError naming the field). */
export function parseJobSpec(bytes: Uint8Array): JobSpec {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as Record<string, unknown>;
  } catch (e) {
    throw new JobError(`job spec: not valid JSON (${(e as Error).message})`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new JobError('job spec: expected an object');
  const bad = (k: string, want: string) => new JobError(`job spec: field "${k}" expected ${want}, got ${JSON.stringify(o[k])}`);
  if (o['version'] !== JOB_VERSION) throw bad('version', String(JOB_VERSION));
  if (typeof o['jobId'] !== 'string' || !/^[0-9a-f]{12}$/.test(o['jobId'])) throw bad('jobId', '12 hex digits');
  for (const k of ['model', 'dataset'] as const) if (typeof o[k] !== 'string' || !/^[a-z0-9_.-]{1,64}$/.test(o[k])) throw bad(k, 'a lower-case name (letters, digits, _ . -)');
  if (typeof o['modelOwner'] !== 'string' || !PLAYER_NAME.test(o['modelOwner'])) throw bad('modelOwner', 'a player name');
  if (typeof o['configHash'] !== 'string' || !/^[0-9a-f]{64}$/.test(o['configHash'])) throw bad('configHash', '64 hex digits');
  if (!(JOB_PROTOCOLS as readonly unknown[]).includes(o['protocol'])) throw bad('protocol', JOB_PROTOCOLS.join(' | '));
  if (o['precision'] !== 'low' && o['precision'] !== 'high') throw bad('precision', "'low' | 'high'");
  if (o['mode'] !== 'fedsgd') throw bad('mode', "'fedsgd'");
  if (!(OPTIMIZERS as readonly unknown[]).includes(o['optimizer'])) throw bad('optimizer', OPTIMIZERS.join(' | '));
  for (const k of ['epochs', 'batchSize', 'numParams', 'stepsPerEpoch', 'totalSteps', 'roundTimeoutMs', 'idleTimeoutMs'] as const) if (!isInt(o[k], 1)) throw bad(k, 'an integer >= 1');
  for (const k of ['seed', 'startRound'] as const) if (!isInt(o[k], 0)) throw bad(k, 'an integer >= 0');
  if (o['maxSteps'] !== null && !isInt(o['maxSteps'], 1)) throw bad('maxSteps', 'null or an integer >= 1');
  if (typeof o['nonIid'] !== 'boolean') throw bad('nonIid', 'a boolean');
  if (typeof o['lr'] !== 'number' || !(o['lr'] > 0) || !Number.isFinite(o['lr'])) throw bad('lr', 'a finite number > 0');
  if (!isNames(o['dataOwners']) || o['dataOwners'].length === 0) throw bad('dataOwners', 'a non-empty array of names');
  if (!isNames(o['servers'])) throw bad('servers', 'an array of names');
  if ((o['startRound'] as number) > (o['totalSteps'] as number)) throw bad('startRound', `at most totalSteps (${String(o['totalSteps'])})`);
  return o as unknown as JobSpec;
}

export function encodeJobSpec(spec: JobSpec): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(spec));
}

/** Every player of the job except the model owner. */
export function jobPeers(spec: Pick<TrainingParams, 'dataOwners' | 'servers' | 'protocol'>): string[] {
  return [...spec.dataOwners, ...(spec.protocol === 'plaintext' ? [] : spec.servers)];
}

/** The training parameters of a spec (what a checkpoint records). */
export function trainingParams(spec: TrainingParams): TrainingParams {
  const out: Record<string, unknown> = {};
  for (const k of TRAINING_KEYS) out[k] = spec[k];
  return out as unknown as TrainingParams;
}
