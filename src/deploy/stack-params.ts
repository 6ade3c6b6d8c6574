/**
 * What a training run on the execution stack (`runStackTraining`) must keep
 * to be resumed: the parameters that determine the model (a checkpoint
 * records them; `--resume` refuses a checkpoint whose parameters differ), and
 * the checkpoint save / restore of the driver's state (weights, server
 * optimizer state, rounds done, metrics so far).
 *
 * The data order of round r is a function of (seed, r) at every client
 * (`trainerFor` in learning/stack.ts), model initialisation of the seed, and
 * the aggregation is exact given the inputs: the weights and optimizer state
 * after round r are the whole state of a run.
 */
import type { DeployConfig } from '../transport/config.js';
import type { ModelOwner } from '../learning/roles.js';
import { CheckpointError, flattenOptimizerState, hasCheckpoint, loadCheckpoint, paramDifferences, saveCheckpoint } from './checkpoint.js';
import { checkServersFor, configHash, configRoles, OPTIMIZERS } from './roster.js';
import { NETWORK_PROTOCOLS, parseConfigPolicy, PolicyError, resolvePolicy, type NetworkProtocol } from './policy.js';

/** The parameters of a stack run (what a checkpoint must match). */
export interface StackParams {
  engine: 'stack';
  model: string;
  dataset: string;
  protocol: NetworkProtocol;
  precision: 'low' | 'high';
  mode: 'fedsgd' | 'fedavg';
  /** FedSGD: epochs; FedAvg: rounds. */
  epochs: number;
  batchSize: number;
  seed: number;
  /** FedSGD: cap on rounds; FedAvg: cap on local steps per round; null: none. */
  maxSteps: number | null;
  /** FedAvg only (null for FedSGD). */
  localEpochs: number | null;
  clientLr: number | null;
  optimizer: (typeof OPTIMIZERS)[number];
  lr: number;
  modelOwner: string;
  dataOwners: string[];
  servers: string[];
  /** FedSGD: the CLIENTS members and the rounds of an epoch (from the secure sum of their example counts); FedAvg: null. */
  clients: number | null;
  stepsPerEpoch: number | null;
  /** SecAgg's choices (protocol 'secagg' only): the graph, a chosen threshold (complete graph; null: the smallest the rules allow), the adversary mode. */
  secagg?: StackSecAgg;
}

/** A stack run's SecAgg choices (`--secagg-graph`, `--secagg-threshold`, `--secagg-adversary`). */
export interface StackSecAgg {
  graph: 'complete' | 'auto';
  threshold: number | null;
  adversary: 'semi-honest' | 'malicious';
}

export const STACK_KEYS: readonly (keyof StackParams)[] = [
  'engine', 'model', 'dataset', 'protocol', 'precision', 'mode', 'epochs', 'batchSize', 'seed', 'maxSteps', 'localEpochs', 'clientLr', 'optimizer', 'lr',
  'modelOwner', 'dataOwners', 'servers', 'clients', 'stepsPerEpoch',
];

/** The options of a stack run that `resolveStackParams` reads. */
export interface StackParamOptions {
  readonly mode?: 'fedsgd' | 'fedavg';
  /** Must equal the number of data owners in the config when given. */
  readonly owners?: number;
  readonly model?: string;
  readonly dataset?: string;
  readonly protocol?: NetworkProtocol;
  readonly precision?: 'low' | 'high';
  /** FedSGD: epochs (default 5); FedAvg: rounds (default 5). */
  readonly epochs?: number;
  readonly batchSize?: number;
  readonly seed?: number;
  readonly maxSteps?: number;
  readonly localEpochs?: number;
  readonly clientLr?: number;
  readonly optimizer?: 'amsgrad' | 'adam' | 'sgd';
  readonly lr?: number;
  /** Protocol 'secagg' only. */
  readonly secagg?: Partial<StackSecAgg>;
}

/** SecAgg's choices of a run, validated (RangeError naming the option). */
export function resolveSecAgg(protocol: NetworkProtocol, o: Partial<StackSecAgg> | undefined): StackSecAgg | undefined {
  if (protocol !== 'secagg') {
    if (o !== undefined && Object.values(o).some((v) => v !== undefined)) throw new RangeError(`"secagg" options apply to protocol 'secagg' only, not ${protocol}`);
    return undefined;
  }
  const graph = o?.graph ?? 'complete';
  if (graph !== 'complete' && graph !== 'auto') throw new RangeError(`"secaggGraph" expected 'complete' or 'auto', got ${JSON.stringify(graph)}`);
  const adversary = o?.adversary ?? 'semi-honest';
  if (adversary !== 'semi-honest' && adversary !== 'malicious') throw new RangeError(`"secaggAdversary" expected 'semi-honest' or 'malicious', got ${JSON.stringify(adversary)}`);
  const threshold = o?.threshold ?? null;
  if (threshold !== null) {
    if (!Number.isInteger(threshold) || threshold < 2) throw new RangeError(`"secaggThreshold" expected an integer >= 2, got ${String(threshold)}`);
    if (graph !== 'complete') throw new RangeError(`"secaggThreshold" is for the complete graph ('auto' derives t from the number of clients)`);
  }
  return { graph, threshold, adversary };
}

const int = (name: string, v: unknown, d: number, min: number): number => {
  const x = v ?? d;
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min) throw new RangeError(`"${name}" expected an integer >= ${min}, got ${String(x)}`);
  return x;
};
const positive = (name: string, v: unknown, d: number): number => {
  const x = v ?? d;
  if (typeof x !== 'number' || !(x > 0) || !Number.isFinite(x)) throw new RangeError(`"${name}" expected a finite number > 0, got ${String(x)}`);
  return x;
};

/**
 * The run's parameters from the options and the config (RangeError /
 * ConfigError naming the option or entry); FedSGD's `clients` and
 * `stepsPerEpoch` are filled in once the players have answered.
 */
export function resolveStackParams(config: DeployConfig, o: StackParamOptions): StackParams {
  const roles = configRoles(config);
  const mode = o.mode ?? 'fedavg';
  if (mode !== 'fedsgd' && mode !== 'fedavg') throw new RangeError(`"mode" expected 'fedsgd' or 'fedavg', got ${JSON.stringify(mode)}`);
  const protocol = String(o.protocol ?? 'aby3').toLowerCase() as NetworkProtocol;
  if (!(NETWORK_PROTOCOLS as readonly string[]).includes(protocol)) throw new RangeError(`"protocol" expected one of ${NETWORK_PROTOCOLS.join(', ')} for a networked run, got ${JSON.stringify(o.protocol)}`);
  if (o.owners !== undefined && o.owners !== roles.dataOwners.length) throw new RangeError(`"owners" is ${o.owners} but the config has ${roles.dataOwners.length} data owners (${roles.dataOwners.join(', ')})`);
  checkServersFor(protocol, roles.servers);
  const precision = o.precision ?? 'low';
  if (precision !== 'low' && precision !== 'high') throw new RangeError(`"precision" expected 'low' or 'high', got ${String(precision)}`);
  const optimizer = o.optimizer ?? (mode === 'fedsgd' ? 'amsgrad' : 'sgd');
  if (!(OPTIMIZERS as readonly string[]).includes(optimizer)) throw new RangeError(`"optimizer" expected amsgrad, adam or sgd, got ${String(optimizer)}`);
  const fedavg = mode === 'fedavg';
  return {
    engine: 'stack', model: (o.model ?? 'network_a').toLowerCase(), dataset: (o.dataset ?? 'mnist').toLowerCase(), protocol, precision, mode,
    epochs: int('epochs', o.epochs, 5, 1), batchSize: int('batchSize', o.batchSize, 128, 1), seed: int('seed', o.seed, 1, 0),
    maxSteps: o.maxSteps === undefined ? null : int('maxSteps', o.maxSteps, 1, 1),
    localEpochs: fedavg ? int('localEpochs', o.localEpochs, 1, 1) : null, clientLr: fedavg ? positive('clientLr', o.clientLr, 0.3) : null,
    optimizer, lr: positive('lr', o.lr, fedavg ? 1.0 : 0.008),
    modelOwner: roles.modelOwner, dataOwners: roles.dataOwners, servers: roles.servers, clients: null, stepsPerEpoch: null,
    ...(protocol === 'secagg' ? { secagg: resolveSecAgg(protocol, o.secagg)! } : (resolveSecAgg(protocol, o.secagg), {})),
  };
}

/**
 * Refuse up front, before a session is opened, a run the config's policy
 * (the floor every player holds, whatever it adds on its own command line)
 * refuses: a PolicyError naming the rule and "the config's policy", so the
 * model owner learns it without asking the players. `rounds`: the run's
 * total, once known (FedSGD's depends on the players' example counts).
 * Plaintext is each data owner's own opt-in: not decided here.
 */
export function checkConfigPolicy(config: DeployConfig, p: StackParams, rounds?: number): void {
  const floor = resolvePolicy(parseConfigPolicy(config.policy, 'config.json: '));
  const party = "the config's policy";
  if (p.protocol !== 'plaintext' && !floor.protocols.includes(p.protocol)) {
    throw new PolicyError('protocol', `every player refuses '${p.protocol}': the config's policy allows ${floor.protocols.join(', ')}${p.protocol === 'paillier' || p.protocol === 'secagg' ? ` (${p.protocol === 'paillier' ? 'Paillier' : 'SecAgg'} only where "policy": { "protocols": [...] } lists it)` : ''}`, { party });
  }
  if (p.secagg !== undefined && floor.secaggAdversary === 'malicious' && p.secagg.adversary !== 'malicious') {
    throw new PolicyError('secagg', `every player refuses secagg's semi-honest variant: the config's policy.secaggAdversary is 'malicious' (--secagg-adversary malicious)`, { party });
  }
  if (p.secagg?.threshold != null && p.secagg.threshold < floor.secaggMinThreshold) {
    throw new PolicyError('secagg', `threshold ${p.secagg.threshold} is below the config's policy.secaggMinThreshold of ${floor.secaggMinThreshold}`, { party });
  }
  if (p.dataOwners.length < floor.minContributors) {
    throw new PolicyError('minContributors', `the config has ${p.dataOwners.length} data owner(s), every player requires at least ${floor.minContributors} in an aggregate`, { party });
  }
  if (p.batchSize < floor.minBatchSize) throw new PolicyError('minBatchSize', `batch size ${p.batchSize} is below the config's minimum of ${floor.minBatchSize}`, { party });
  if (rounds !== undefined && rounds > floor.maxRounds) throw new PolicyError('maxRounds', `the run has ${rounds} rounds, the config's policy allows at most ${floor.maxRounds}`, { party });
  if (floor.models !== null && !floor.models.includes(p.model)) throw new PolicyError('model', `the config's policy trains ${floor.models.join(', ')}, not '${p.model}'`, { party });
  if (floor.datasets !== null && !floor.datasets.includes(p.dataset)) throw new PolicyError('dataset', `the config's policy trains on ${floor.datasets.join(', ')}, not '${p.dataset}'`, { party });
}

/** Rounds of the run: FedSGD min(epochs x stepsPerEpoch, maxSteps); FedAvg its rounds. */
export function totalRounds(p: StackParams): number {
  if (p.mode === 'fedavg') return p.epochs;
  if (p.stepsPerEpoch === null) throw new RangeError('totalRounds: a FedSGD run needs its stepsPerEpoch');
  return Math.min(p.epochs * p.stepsPerEpoch, p.maxSteps ?? Infinity);
}

/** What the driver keeps between rounds besides the model owner. */
export interface StackProgress {
  round: number;
  epochs: unknown[];
}

/**
 * Restore the model owner from the checkpoint in `dir` (CheckpointError if it
 * belongs to another run, config or model); the rounds done and the metrics
 * so far. No checkpoint there: round 0 (the caller says so).
 */
export function restoreStack(dir: string, params: StackParams, config: DeployConfig, modelOwner: ModelOwner): StackProgress | undefined {
  if (!hasCheckpoint(dir)) return undefined;
  const c = loadCheckpoint(dir);
  const diff = paramDifferences(c.params, params);
  if (diff.length) throw new CheckpointError(`${dir}: the checkpoint belongs to another run (${diff.join('; ')})`);
  const hash = configHash(config);
  if (c.configHash !== hash) throw new CheckpointError(`${dir}: the checkpoint was written with another config (hash ${c.configHash.slice(0, 12)}, now ${hash.slice(0, 12)})`);
  if (c.weights.length !== modelOwner.numParams) throw new CheckpointError(`${dir}: ${c.weights.length} weights, the model has ${modelOwner.numParams}`);
  const total = totalRounds(params);
  if (!(Number.isInteger(c.round) && c.round >= 0 && c.round <= total)) throw new CheckpointError(`${dir}: the checkpoint is at round ${c.round}, outside 0..${total}`);
  modelOwner.restore({ weights: c.weights, optimizer: c.optimizer });
  return { round: c.round, epochs: c.epochs ?? [] };
}

/** Save the driver's state after `round` rounds (atomically: see checkpoint.ts). */
export function saveStack(dir: string, params: StackParams, config: DeployConfig, modelOwner: ModelOwner, progress: StackProgress): void {
  const s = modelOwner.snapshot();
  saveCheckpoint(dir, { round: progress.round, params, configHash: configHash(config), weights: s.weights, optimizer: flattenOptimizerState(s.optimizer), epochs: progress.epochs });
}
