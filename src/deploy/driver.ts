/**
 * The driver: `fedcrypt train ... --config config.json` runs here. It plays
 * the model owner: builds the model and the server optimizer exactly as the
 * in-process train() does, resumes from a checkpoint if asked, sends the job
 * to every player and runs the rounds, checkpointing after each.
 */
import type { Transport } from '../transport/channel.js';
import type { GrpcTransport } from '../transport/grpc.js';
import type { ModelOwner } from '../learning/roles.js';
import type { FlatOptimizer } from '../learning/optimizers.js';
import { loadConfig, type DeployConfig } from '../transport/config.js';
import { checkServersFor, configHash, configRoles, JobError, newJobId, trainingParams, JOB_VERSION, NETWORK_PROTOCOLS, type JobSpec, type NetworkProtocol, type TrainingParams } from './job.js';
import { flattenOptimizerState, hasCheckpoint, loadCheckpoint, paramDifferences, saveCheckpoint, CheckpointError } from './checkpoint.js';
import { runDriverJob, type DriverRound } from './training.js';
import { checkJob, parseConfigPolicy, resolvePolicy } from './policy.js';

export interface NetworkTrainOptions {
  model?: string;
  dataset?: string;
  protocol?: string;
  precision?: 'low' | 'high';
  /** Must equal the number of data owners in the config when given. */
  owners?: number;
  mode?: 'fedsgd' | 'fedavg';
  epochs?: number;
  batchSize?: number;
  seed?: number;
  nonIid?: boolean;
  maxSteps?: number;
  optimizer?: 'amsgrad' | 'adam' | 'sgd';
  lr?: number;
  /** Round deadline (default 60 s). */
  roundTimeoutMs?: number;
  /** How long players wait between rounds (default 10 min). */
  idleTimeoutMs?: number;
  /** Checkpoint folder (after each round); required with `resume`. */
  checkpointDir?: string;
  resume?: boolean;
  validationLimit?: number;
  onRound?: (r: DriverRound) => void;
  onEpoch?: (m: { epoch: number; round: number; accuracy: number; loss: number }) => void;
  log?: (line: string) => void;
}

export interface NetworkTrainResult {
  /** Rounds completed in total (including those before a resume). */
  round: number;
  totalSteps: number;
  weights: Float32Array;
  epochs: { epoch: number; round: number; accuracy: number; loss: number }[];
  error?: Error;
  spec: JobSpec;
}

/** The server optimizer as train() builds it (learning/train.ts: serverOptimizer). */
async function serverOptimizer(kind: string, lr: number, totalSteps: number): Promise<FlatOptimizer> {
  const L = await import('../learning/optimizers.js');
  const decay = L.cosineDecay(Math.max(1, totalSteps), 0.02);
  switch (kind) {
    case 'amsgrad': return L.adam({ lr, amsgrad: true, decay });
    case 'adam': return L.adam({ lr, decay });
    case 'sgd': return L.sgd({ lr });
    default: throw new RangeError(`unknown optimizer "${kind}"; valid optimizers: amsgrad, adam, sgd`);
  }
}

/** Resolve the job parameters from options and the config (RangeError / ConfigError naming the option or entry). */
export function resolveParams(config: DeployConfig, o: NetworkTrainOptions): TrainingParams {
  const roles = configRoles(config);
  const protocol = (o.protocol ?? 'aby3').toLowerCase();
  if (protocol === 'paillier') throw new RangeError('"protocol" paillier runs across processes with --mode fedavg (FedAvg on the execution stack); FedSGD across processes runs aby3, pond or plaintext');
  if (!(NETWORK_PROTOCOLS as readonly string[]).includes(protocol)) throw new RangeError(`"protocol" expected one of ${NETWORK_PROTOCOLS.join(', ')} for a networked run, got ${JSON.stringify(o.protocol)}`);
  checkServersFor(protocol as NetworkProtocol, roles.servers);
  if (o.owners !== undefined && o.owners !== roles.dataOwners.length) throw new RangeError(`"owners" is ${o.owners} but the config has ${roles.dataOwners.length} data owners (${roles.dataOwners.join(', ')})`);
  const mode = o.mode ?? 'fedsgd';
  if (mode !== 'fedsgd') throw new RangeError(`"mode" ${JSON.stringify(mode)} is not available across processes yet (only 'fedsgd')`);
  const model = (o.model ?? 'network_a').toLowerCase();
  const int = (name: string, v: number | undefined, d: number, min: number): number => {
    const x = v ?? d;
    if (!Number.isInteger(x) || x < min) throw new RangeError(`"${name}" expected an integer >= ${min}, got ${String(x)}`);
    return x;
  };
  const optimizer = o.optimizer ?? 'amsgrad';
  if (!['amsgrad', 'adam', 'sgd'].includes(optimizer)) throw new RangeError(`"optimizer" expected amsgrad, adam or sgd, got ${String(optimizer)}`);
  const lr = o.lr ?? 0.008;
  if (typeof lr !== 'number' || !(lr > 0) || !Number.isFinite(lr)) throw new RangeError(`"lr" expected a finite number > 0, got ${String(lr)}`);
  const precision = o.precision ?? 'low';
  if (precision !== 'low' && precision !== 'high') throw new RangeError(`"precision" expected 'low' or 'high', got ${String(precision)}`);
  return {
    model, dataset: (o.dataset ?? 'mnist').toLowerCase(), protocol: protocol as NetworkProtocol, precision, mode: 'fedsgd',
    epochs: int('epochs', o.epochs, 5, 1), batchSize: int('batchSize', o.batchSize, 128, 1), seed: int('seed', o.seed, 1, 0), nonIid: o.nonIid ?? false,
    maxSteps: o.maxSteps === undefined ? null : int('maxSteps', o.maxSteps, 1, 1), optimizer: optimizer as TrainingParams['optimizer'], lr,
    modelOwner: roles.modelOwner, dataOwners: roles.dataOwners, servers: protocol === 'plaintext' ? [] : roles.servers,
  };
}

export interface DriverSetup {
  spec: JobSpec;
  modelOwner: ModelOwner;
  epochs: NonNullable<NetworkTrainResult['epochs']>;
}

/** Build the model owner and the job spec (restoring the checkpoint when resuming). */
export async function prepareDriver(config: DeployConfig, o: NetworkTrainOptions): Promise<DriverSetup> {
  const params = resolveParams(config, o);
  const roundTimeoutMs = o.roundTimeoutMs ?? 60_000;
  if (!Number.isInteger(roundTimeoutMs) || roundTimeoutMs < 1) throw new RangeError(`"roundTimeoutMs" expected an integer >= 1, got ${String(roundTimeoutMs)}`);
  const idleTimeoutMs = o.idleTimeoutMs ?? 600_000;
  if (o.resume && !o.checkpointDir) throw new RangeError('"resume" needs "checkpointDir" (--checkpoint-dir)');
  const hash = configHash(config);
  const L = await import('../learning/index.js');
  await L.initTf();
  const data = L.loadDataset(params.dataset);
  const parts = L.splitForOwners(data.train, params.dataOwners.length, params.nonIid);
  const stepsPerEpoch = Math.min(...parts.map((p) => Math.floor(p.count / params.batchSize)));
  if (stepsPerEpoch < 1) throw new RangeError(`"batchSize" ${params.batchSize} is larger than a data owner's slice (${Math.min(...parts.map((p) => p.count))} examples)`);
  const totalSteps = Math.min(params.epochs * stepsPerEpoch, params.maxSteps ?? Infinity);
  const modelOwner = new L.ModelOwner(params.modelOwner, params.model, data, { seed: params.seed, optimizer: await serverOptimizer(params.optimizer, params.lr, totalSteps) });
  let startRound = 0;
  let epochs: DriverSetup['epochs'] = [];
  if (o.resume && o.checkpointDir && hasCheckpoint(o.checkpointDir)) {
    const c = loadCheckpoint(o.checkpointDir);
    const diff = paramDifferences(c.params, params);
    if (diff.length) {
      modelOwner.dispose();
      throw new CheckpointError(`${o.checkpointDir}: the checkpoint belongs to another run (${diff.join('; ')})`);
    }
    if (c.configHash !== hash) {
      modelOwner.dispose();
      throw new CheckpointError(`${o.checkpointDir}: the checkpoint was written with another config (hash ${c.configHash.slice(0, 12)}, now ${hash.slice(0, 12)})`);
    }
    if (c.weights.length !== modelOwner.numParams) {
      modelOwner.dispose();
      throw new CheckpointError(`${o.checkpointDir}: ${c.weights.length} weights, the model has ${modelOwner.numParams}`);
    }
    modelOwner.restore({ weights: c.weights, optimizer: c.optimizer });
    startRound = c.round;
    epochs = (c.epochs ?? []) as DriverSetup['epochs'];
  } else if (o.resume) {
    o.log?.(`no checkpoint in ${o.checkpointDir ?? ''}: starting from round 0`);
  }
  const spec: JobSpec = {
    version: JOB_VERSION, jobId: newJobId(), ...params, numParams: modelOwner.numParams, stepsPerEpoch, totalSteps, startRound,
    roundTimeoutMs, idleTimeoutMs, configHash: hash,
  };
  // the players check the job against their own policies (at least the config's floor): say now what they would refuse
  try {
    // the laxest a player can be: the config's values (a player's own flags are only stricter)
    const cp = parseConfigPolicy(config.policy);
    const laxest = { insecureAllowPlaintext: true, minContributors: cp.minContributors, minBatchSize: cp.minBatchSize, maxRounds: cp.maxRounds };
    checkJob(resolvePolicy(cp, laxest), spec, configRoles(config), 'every player');
  } catch (e) {
    modelOwner.dispose();
    throw e;
  }
  if (spec.protocol === 'plaintext') o.log?.("warning: protocol 'plaintext' hands every data owner's update to the model owner; each data owner refuses it unless its operator started it with --insecure-allow-plaintext");
  return { spec, modelOwner, epochs };
}

/**
 * Drive a networked training over `transport` (local for the model owner).
 * Never throws for a failed round: returns it as `error`, with the weights of
 * the last completed round (also in the checkpoint).
 */
export async function driveTraining(transport: Transport, config: DeployConfig, o: NetworkTrainOptions): Promise<NetworkTrainResult> {
  const { spec, modelOwner, epochs } = await prepareDriver(config, o);
  const log = o.log ?? (() => {});
  if (!transport.isLocal(spec.modelOwner)) throw new JobError(`the transport does not host the model owner '${spec.modelOwner}'`);
  let round = spec.startRound;
  let error: Error | undefined;
  try {
    if (spec.startRound >= spec.totalSteps) log(`checkpoint is at round ${spec.startRound} of ${spec.totalSteps}: nothing left to train`);
    else {
      log(`job ${spec.jobId}: ${spec.protocol} ${spec.model}, ${spec.dataOwners.length} data owners, rounds ${spec.startRound + 1}..${spec.totalSteps}, round deadline ${spec.roundTimeoutMs} ms`);
      await runDriverJob(transport, spec, modelOwner, {
        log,
        afterRound: (r) => {
          round = r;
          const endOfEpoch = r % spec.stepsPerEpoch === 0 || r === spec.totalSteps;
          if (endOfEpoch) {
            const v = modelOwner.validateModel(o.validationLimit);
            const m = { epoch: Math.ceil(r / spec.stepsPerEpoch), round: r, accuracy: v.accuracy, loss: v.loss };
            epochs.push(m);
            o.onEpoch?.(m);
          }
          if (o.checkpointDir) {
            const s = modelOwner.snapshot();
            saveCheckpoint(o.checkpointDir, { round: r, params: trainingParams(spec), configHash: spec.configHash, weights: s.weights, optimizer: flattenOptimizerState(s.optimizer), epochs });
          }
        },
        onRound: o.onRound,
      });
    }
  } catch (e) {
    error = e as Error;
  }
  const weights = modelOwner.shareWeights();
  modelOwner.dispose();
  return { round, totalSteps: spec.totalSteps, weights, epochs, error, spec };
}

export interface DriverOptions extends NetworkTrainOptions {
  configPath: string;
  /** The model owner's key file (default keys/<model owner>.key). */
  keyPath?: string;
  runId?: string;
}

/** Load the config, start the model owner's transport, drive the training, close. */
export async function runNetworkedTraining(o: DriverOptions): Promise<NetworkTrainResult> {
  const config = loadConfig(o.configPath, { requireKeys: true });
  const { modelOwner } = configRoles(config);
  const { startPlayer } = await import('./player.js');
  const transport: GrpcTransport = await startPlayer({
    configPath: o.configPath, name: modelOwner, keyPath: o.keyPath ?? `keys/${modelOwner}.key`, handleSignals: true,
    connectTimeoutMs: Math.min(10_000, o.roundTimeoutMs ?? 60_000), ...(o.runId ? { runId: o.runId } : {}),
  });
  try {
    return await driveTraining(transport, config, o);
  } finally {
    await transport.close();
  }
}
