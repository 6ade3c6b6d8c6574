/**
 * Training on the execution stack across the players of config.json:
 * `fedcrypt train <model> <dataset> --config config.json --mode fedavg`.
 *
 * The driver is the model owner; it runs the learning layer's round
 * (`learningRound`, the same federated computation `localContext` runs) in a
 * `remoteContext`, applies each aggregate with its server optimizer,
 * validates, and writes the run folder (metrics.json, report.html) like an
 * in-process run. Each data owner serves its own clients' data
 * (`fedcrypt player --data mnist:0-20000 [--clients n]`, see
 * `learningDataSource`); the driver names the source 'fedcrypt/learning'.
 */
import type { DataSource } from '../runtime/remote/player.js';
import type { DeployConfig } from '../transport/config.js';
import { configRoles } from './job.js';
import type { NetworkProtocol } from './policy.js';

export const LEARNING_SOURCE = 'fedcrypt/learning';

export interface StackTrainingOptions {
  readonly configPath: string;
  readonly keyPath?: string;
  readonly model?: string;
  readonly dataset?: string;
  readonly protocol?: NetworkProtocol;
  readonly precision?: 'low' | 'high';
  /** FedAvg rounds. */
  readonly rounds?: number;
  readonly batchSize?: number;
  readonly seed?: number;
  readonly localEpochs?: number;
  readonly clientLr?: number;
  /** Cap on local steps per client per round. */
  readonly maxLocalSteps?: number;
  readonly optimizer?: 'amsgrad' | 'adam' | 'sgd';
  readonly lr?: number;
  readonly roundTimeoutMs?: number;
  readonly validationLimit?: number;
  /** Run folder (default runs/<time>); false: none. */
  readonly out?: string | false;
  readonly log?: (line: string) => void;
  readonly onRound?: (r: { round: number; totalRounds: number; ms: number }) => void;
  readonly onEpoch?: (m: { epoch: number; round: number; accuracy: number; loss: number }) => void;
}

export interface StackTrainingResult {
  readonly rounds: number;
  readonly weights: Float32Array;
  readonly accuracy: number;
  readonly loss: number;
  readonly error?: Error;
  readonly paths?: { dir: string; metrics: string; report: string };
}

/** Run FedAvg across the config's players (never throws for a failed round: returns it as `error`). */
export async function runStackTraining(o: StackTrainingOptions): Promise<StackTrainingResult> {
  const startedAt = new Date();
  const L = await import('../learning/index.js');
  const S = await import('../learning/stack.js');
  const { remoteContext } = await import('./remote.js');
  const { clientData } = await import('../runtime/remote/context.js');
  const backend = await L.initTf();
  const model = (o.model ?? 'network_a').toLowerCase();
  const dataset = (o.dataset ?? 'mnist').toLowerCase();
  const protocol = o.protocol ?? 'aby3';
  const precision = o.precision ?? 'low';
  const rounds = o.rounds ?? 5;
  const optimizer = o.optimizer ?? 'sgd';
  const lr = o.lr ?? 1.0;
  const data = L.loadDataset(dataset);
  const decay = L.cosineDecay(Math.max(1, rounds), 0.02);
  const opt = optimizer === 'sgd' ? L.sgd({ lr }) : optimizer === 'adam' ? L.adam({ lr, decay }) : L.adam({ lr, amsgrad: true, decay });
  const ctx = remoteContext({
    config: o.configPath, ...(o.keyPath ? { key: o.keyPath } : {}), protocol, params: protocol === 'plaintext' ? {} : { precision },
    insecureAllowPlaintext: protocol === 'plaintext', timeoutMs: o.roundTimeoutMs ?? 600_000,
  });
  const roles = configRoles(ctx.deployConfig);
  const modelOwner = new L.ModelOwner(roles.modelOwner, model, data, { seed: o.seed ?? 1, optimizer: opt });
  const epochs: import('../learning/fedsgd.js').EpochMetrics[] = [];
  let error: Error | undefined;
  let done = 0;
  const t0 = performance.now();
  try {
    let tRound = performance.now();
    await S.trainOnContext(ctx, {
      mode: 'fedavg', model, modelOwner, clients: clientData(LEARNING_SOURCE), rounds,
      hyper: { seed: o.seed ?? 1, batchSize: o.batchSize ?? 128, localEpochs: o.localEpochs ?? 1, clientLr: o.clientLr ?? 0.3, maxLocalSteps: o.maxLocalSteps ?? 0 },
      afterRound: (r) => {
        done = r;
        const t1 = performance.now();
        const v = modelOwner.validateModel(o.validationLimit);
        const serverMs = performance.now() - t1;
        const m = { epoch: r, round: r, accuracy: v.accuracy, loss: v.loss, trainLoss: NaN, localMs: 0, aggregationMs: t1 - tRound, serverMs, bytesByRole: {}, skipped: [] };
        epochs.push(m);
        o.onEpoch?.({ epoch: r, round: r, accuracy: v.accuracy, loss: v.loss });
        tRound = performance.now();
      },
      ...(o.onRound ? { onRound: o.onRound } : {}),
    });
  } catch (e) {
    error = e as Error;
  } finally {
    await ctx.close().catch(() => {});
  }
  const wallMs = performance.now() - t0;
  const last = epochs[epochs.length - 1];
  const final = last ? { accuracy: last.accuracy, loss: last.loss } : modelOwner.validateModel(o.validationLimit);
  const metrics: import('../learning/report.js').RunMetrics = {
    version: 1, startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(),
    config: {
      model, dataset, protocol, precision, owners: roles.dataOwners.length, mode: 'fedavg', batchSize: o.batchSize ?? 128, epochs: rounds, seed: o.seed ?? 1, nonIid: false,
      onBadUpdate: 'abort', optimizer, lr, aggregation: `${protocol} across the players of ${o.configPath}`, backend, networked: true,
      localEpochs: o.localEpochs ?? 1, clientLr: o.clientLr ?? 0.3, ...(o.maxLocalSteps ? { maxSteps: o.maxLocalSteps } : {}),
      ...(protocol === 'plaintext' ? { insecurePlaintextOptIn: true } : {}),
    },
    numParams: modelOwner.numParams, epochs, unit: 'round', final, totals: L.summarize(epochs, wallMs), ...(error ? { error: error.message } : {}),
  };
  const weights = modelOwner.shareWeights();
  modelOwner.dispose();
  const paths = o.out === false ? undefined : L.writeRunFolder(o.out ?? L.defaultRunDir(startedAt), metrics);
  return { rounds: done, weights, accuracy: final.accuracy, loss: final.loss, ...(error ? { error } : {}), ...(paths ? { paths } : {}) };
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
