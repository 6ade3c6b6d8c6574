/**
 * Training on the execution stack across the players of config.json:
 * `fedcrypt train <model> <dataset> --config config.json --mode fedavg|fedsgd`.
 *
 * The driver is the model owner; it runs the learning layer's round
 * (`learningRound`, the same federated computation `localContext` runs) in a
 * `remoteContext`, applies each aggregate with its server optimizer,
 * validates (FedAvg: every round; FedSGD: at the end of each epoch),
 * checkpoints after every round (`checkpointDir`; `resume` continues from
 * it to the same final model as an uninterrupted run), and writes the run
 * folder (metrics.json, report.html) like an in-process run. Each data owner
 * serves its own clients' data (`fedcrypt player --data mnist:0-20000
 * [--clients n]`, see `learningDataSource`); the driver names the source
 * 'fedcrypt/learning'. FedSGD's epoch length comes from a secure sum of the
 * clients' example counts (`learningExamples`).
 *
 * A failed round (a player gone, a deadline passed, a refusal) ends the run
 * with the error naming the player; the model owner keeps the state of the
 * last completed round, which is also the checkpoint's.
 */
import type { DataSource } from '../runtime/remote/player.js';
import type { DeployConfig } from '../transport/config.js';
import { configRoles } from './roster.js';
import type { NetworkProtocol } from './policy.js';
import { checkConfigPolicy, resolveSecAgg, resolveStackParams, restoreStack, saveStack, totalRounds, type StackParamOptions, type StackParams, type StackSecAgg } from './stack-params.js';
import { secAggParams } from '../aggregation/secagg-setup.js';

/** The public parameters of a run's SecAgg plans (every party compares them with its own and derives t from the plan's clients). */
export function secAggPlanParams(s: StackSecAgg): Record<string, unknown> {
  const signing = s.adversary === 'malicious' ? { signingKeys: new Map() } : {};
  return { ...secAggParams({ graph: s.graph, adversary: s.adversary, ...(s.threshold !== null ? { threshold: s.threshold } : {}), ...signing }, '--protocol secagg').params };
}

export const LEARNING_SOURCE = 'fedcrypt/learning';

export interface StackTrainingOptions extends Omit<StackParamOptions, 'epochs'> {
  readonly configPath: string;
  readonly keyPath?: string;
  /** FedAvg: rounds; FedSGD: epochs (default 5). */
  readonly rounds?: number;
  /** FedAvg: cap on local steps per client per round; FedSGD: cap on rounds. */
  readonly maxSteps?: number;
  /** @deprecated the same as maxSteps (FedAvg). */
  readonly maxLocalSteps?: number;
  readonly roundTimeoutMs?: number;
  readonly validationLimit?: number;
  /** Checkpoint folder (after every round); required with `resume`. */
  readonly checkpointDir?: string;
  /** Continue from the checkpoint in `checkpointDir` (none there: from round 0). */
  readonly resume?: boolean;
  /**
   * Complete a round without a data owner lost in it (aby3, pond; the
   * compute servers' --collect-timeout): the run goes on over the others,
   * and metrics.json / report.html name each dropout.
   */
  readonly dropout?: boolean;
  /** Run folder (default runs/<time>); false: none. */
  readonly out?: string | false;
  readonly log?: (line: string) => void;
  readonly onRound?: (r: { round: number; totalRounds: number; ms: number }) => void;
  readonly onEpoch?: (m: { epoch: number; round: number; accuracy: number; loss: number }) => void;
}

export interface StackTrainingResult {
  /** Rounds completed in total (including those before a resume). */
  readonly rounds: number;
  readonly totalRounds: number;
  readonly weights: Float32Array;
  readonly accuracy: number;
  readonly loss: number;
  readonly error?: Error;
  readonly paths?: { dir: string; metrics: string; report: string };
  readonly params: StackParams;
}

/** A round that failed: which one, and the cause (naming the player). */
export class StackRoundError extends Error {
  override name = 'StackRoundError';
  constructor(readonly round: number, cause: Error) {
    super(`round ${round} failed: ${cause.message}`, { cause });
  }
}

/** Train across the config's players (never throws for a failed round: returns it as `error`). */
export async function runStackTraining(o: StackTrainingOptions): Promise<StackTrainingResult> {
  const startedAt = new Date();
  if (o.resume && !o.checkpointDir) throw new RangeError('"resume" needs "checkpointDir" (--checkpoint-dir)');
  const L = await import('../learning/index.js');
  const S = await import('../learning/stack.js');
  const { serverOptimizer } = await import('../learning/train.js');
  const { remoteContext } = await import('./remote.js');
  const { clientData } = await import('../runtime/remote/context.js');
  const log = o.log ?? (() => {});
  const backend = await L.initTf();
  const ctx = remoteContext({
    config: o.configPath, ...(o.keyPath ? { key: o.keyPath } : {}), protocol: o.protocol ?? 'aby3',
    params: o.protocol === 'plaintext' ? {} : o.protocol === 'secagg' ? secAggPlanParams(resolveSecAgg('secagg', o.secagg)!) : { precision: o.precision ?? 'low' },
    insecureAllowPlaintext: o.protocol === 'plaintext', timeoutMs: o.roundTimeoutMs ?? 600_000, ...(o.dropout ? { dropout: true } : {}),
  });
  // which round each dropout happened in (the context records them in order)
  const dropouts: NonNullable<import('../learning/report.js').RunMetrics['dropouts']> = [];
  let seen = 0;
  const noteDropouts = (round: number): void => {
    for (const d of ctx.dropouts.slice(seen)) {
      dropouts.push({ round, clients: [...d.clients], players: [...d.players] });
      log(`round ${round}: ${d.players.join(', ') || d.clients.join(', ')} dropped out; completed over the other data owners`);
    }
    seen = ctx.dropouts.length;
  };
  const config = ctx.deployConfig;
  if (o.protocol === 'plaintext') log(`WARNING: --protocol plaintext is NOT secure: each data owner's update reaches this model owner in the clear (only players whose operators opted in with --insecure-allow-plaintext take part)`);
  let params: StackParams;
  try {
    params = resolveStackParams(config, { ...o, epochs: o.rounds, maxSteps: o.maxSteps ?? o.maxLocalSteps });
    // what the config's policy (every player's floor) refuses: refused here, before a session is opened
    checkConfigPolicy(config, params, params.mode === 'fedavg' ? params.epochs : undefined);
  } catch (e) {
    await ctx.close().catch(() => {});
    throw e;
  }
  const data = L.loadDataset(params.dataset);
  const clients = clientData(LEARNING_SOURCE);
  const epochs: import('../learning/fedsgd.js').EpochMetrics[] = [];
  let modelOwner: import('../learning/roles.js').ModelOwner | undefined;
  let error: Error | undefined;
  let done = 0;
  let total = params.mode === 'fedavg' ? params.epochs : 0;
  const t0 = performance.now();
  try {
    if (params.mode === 'fedsgd') {
      // the length of an epoch: the clients' mean number of batches, from a secure sum of their counts
      // (the context's own invoke: withContext would turn on Node's promise hooks for the rest of the run)
      const examples = Number(await ctx.invoke(S.learningExamples(), [clients]));
      const spe = S.stepsPerEpoch(examples, ctx.numClients, params.batchSize);
      if (spe < 1) throw new RangeError(`"batchSize" ${params.batchSize} is larger than a client's data (the ${ctx.numClients} clients hold ${examples} examples)`);
      params = { ...params, clients: ctx.numClients, stepsPerEpoch: spe };
      total = totalRounds(params);
      checkConfigPolicy(config, params, total);
    }
    modelOwner = new L.ModelOwner(params.modelOwner, params.model, data, { seed: params.seed, optimizer: serverOptimizer(params.optimizer, params.lr, total) });
    if (o.resume) {
      const p = restoreStack(o.checkpointDir!, params, config, modelOwner);
      if (p === undefined) log(`no checkpoint in ${o.checkpointDir}: starting from round 0`);
      else {
        done = p.round;
        // the metrics so far (JSON in the checkpoint: a NaN, e.g. the train loss the stack does not measure, came back as null)
        const num = (x: unknown): number => (typeof x === 'number' ? x : NaN);
        for (const e of p.epochs as (typeof epochs)[number][]) {
          epochs.push({ ...e, accuracy: num(e.accuracy), loss: num(e.loss), trainLoss: num(e.trainLoss), localMs: num(e.localMs), aggregationMs: num(e.aggregationMs), serverMs: num(e.serverMs) });
        }
      }
    }
    const mo = modelOwner;
    const endOfEpoch = (r: number) => params.mode === 'fedavg' || r % params.stepsPerEpoch! === 0 || r === total;
    if (done >= total) log(`checkpoint is at round ${done} of ${total}: nothing left to train`);
    else log(`${params.mode} on the execution stack: ${params.protocol} ${params.model}, rounds ${done + 1}..${total}${params.mode === 'fedsgd' ? ` (${params.stepsPerEpoch} per epoch, ${params.clients} clients)` : ''}`);
    let tEpoch = performance.now();
    let current = done;
    await S.trainOnContext(ctx, {
      mode: params.mode, model: params.model, modelOwner: mo, clients, rounds: total, startRound: done,
      hyper: { seed: params.seed, batchSize: params.batchSize, localEpochs: params.localEpochs ?? 1, clientLr: params.clientLr ?? 0, maxLocalSteps: params.mode === 'fedavg' ? (params.maxSteps ?? 0) : 0 },
      beforeRound: (r) => void (current = r),
      afterRound: (r) => {
        done = r;
        noteDropouts(r);
        if (endOfEpoch(r)) {
          const t1 = performance.now();
          const v = mo.validateModel(o.validationLimit);
          const serverMs = performance.now() - t1;
          const epoch = params.mode === 'fedavg' ? r : Math.ceil(r / params.stepsPerEpoch!);
          epochs.push({ epoch, round: r, accuracy: v.accuracy, loss: v.loss, trainLoss: NaN, localMs: 0, aggregationMs: t1 - tEpoch, serverMs, bytesByRole: {}, skipped: [] });
          o.onEpoch?.({ epoch, round: r, accuracy: v.accuracy, loss: v.loss });
          tEpoch = performance.now();
        }
        if (o.checkpointDir) saveStack(o.checkpointDir, params, config, mo, { round: r, epochs });
      },
      ...(o.onRound ? { onRound: o.onRound } : {}),
    }).catch((e: Error) => {
      throw new StackRoundError(current + 1, e);
    });
  } catch (e) {
    error = e as Error;
  } finally {
    await ctx.close().catch(() => {});
  }
  const wallMs = performance.now() - t0;
  const last = epochs[epochs.length - 1];
  const final = last ? { accuracy: last.accuracy, loss: last.loss } : modelOwner ? modelOwner.validateModel(o.validationLimit) : { accuracy: NaN, loss: NaN };
  const metrics: import('../learning/report.js').RunMetrics = {
    version: 1, startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(),
    config: {
      model: params.model, dataset: params.dataset, protocol: params.protocol, precision: params.precision, owners: params.dataOwners.length, mode: params.mode,
      batchSize: params.batchSize, epochs: params.epochs, seed: params.seed, nonIid: false, onBadUpdate: 'abort', optimizer: params.optimizer, lr: params.lr,
      aggregation: `${params.protocol} across the players of ${o.configPath}`, backend, networked: true, engine: 'stack',
      ...(params.mode === 'fedavg' ? { localEpochs: params.localEpochs, clientLr: params.clientLr } : { clients: params.clients, stepsPerEpoch: params.stepsPerEpoch, totalSteps: total }),
      ...(params.maxSteps !== null ? { maxSteps: params.maxSteps } : {}),
      ...(params.protocol === 'plaintext' ? { insecurePlaintextOptIn: true } : {}),
    },
    numParams: modelOwner?.numParams ?? 0, epochs, unit: params.mode === 'fedavg' ? 'round' : 'epoch', final, totals: L.summarize(epochs, wallMs), ...(error ? { error: error.message } : {}),
    ...(dropouts.length > 0 ? { dropouts } : {}),
  };
  const weights = modelOwner?.shareWeights() ?? new Float32Array(0);
  modelOwner?.dispose();
  const paths = o.out === false ? undefined : L.writeRunFolder(o.out ?? L.defaultRunDir(startedAt), metrics);
  return { rounds: done, totalRounds: total, weights, accuracy: final.accuracy, loss: final.loss, ...(error ? { error } : {}), ...(paths ? { paths } : {}), params };
}

/**
 * A data-owner player's learning data: `mnist` (the whole training set) or
 * `mnist:<start>-<end>` (a range of it), split equally among the clients it
 * hosts. The driver gets each hosted client's local number only.
 */
export async function learningDataSource(spec: string, me: string, config: DeployConfig, clients: number): Promise<DataSource> {
  const m = /^([a-z0-9_-]+)(?::(\d+)-(\d+))?$/.exec(spec);
  if (!m) throw new RangeError(`--data: expected <dataset> or <dataset>:<start>-<end> (e.g. mnist:0-20000), got ${JSON.stringify(spec)}`);
  const L = await import('../learning/index.js');
  const S = await import('../learning/stack.js');
  await L.initTf();
  const data = L.loadDataset(m[1]!);
  const start = m[2] === undefined ? 0 : Number(m[2]);
  const end = m[3] === undefined ? data.train.count : Number(m[3]);
  if (!(start < end && end <= data.train.count)) throw new RangeError(`--data: range ${start}-${end} is not within the ${data.train.count} training examples of ${m[1]}`);
  const part = L.sliceDataset(data.train, L.slice(start, end), `${m[1]}[${start}:${end}]`);
  const parts = clients === 1 ? [part] : L.equalSlices(part.count, clients).map((s) => L.sliceDataset(part, s));
  const ownerIndex = configRoles(config).dataOwners.indexOf(me);
  let ids: number[] | undefined;
  return (source, client) => {
    if (source !== LEARNING_SOURCE) throw new RangeError(`no data source '${source}' at ${me} (it serves '${LEARNING_SOURCE}')`);
    // the data order of a client: seed * 7919 + its index, as train() gives data owner i (one client per owner)
    ids ??= S.hostLearningClients(parts.map((d, i) => ({ name: clients === 1 ? me : `${me}:${i}`, data: d, shuffleIndex: clients === 1 ? ownerIndex : ownerIndex * 100_000 + i })));
    return ids[client.index]!;
  };
}
