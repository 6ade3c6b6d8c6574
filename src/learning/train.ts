/**
 * One call that sets up the seed's example (a model owner, N data owners on
 * equal or non-IID slices, an aggregator) and runs FedSGD or FedAvg, writing
 * a run folder. The CLI and the benchmark are thin layers over this.
 */
import { type Aggregator } from './aggregator.js';
import { initTf } from './tf.js';
import { PolicyError } from '../core/errors.js';
import { loadDataset, splitForOwners } from './mnist.js';
import { type ModelSpec, modelName, MODEL_NAMES } from './models.js';
import { ModelOwner, DataOwner, defaultServerOptimizer } from './roles.js';
import { trainFedSGD, type EpochMetrics, type RoundInfo, type BadUpdatePolicy } from './fedsgd.js';
import { runFedAvg } from './fedavg.js';
import { adam, sgd, cosineDecay, type FlatOptimizer } from './optimizers.js';
import { makeAggregator, type Precision, PROTOCOL_NAMES } from './secure-aggregators.js';
import { type RunMetrics, summarize, writeRunFolder, defaultRunDir } from './report.js';

export interface TrainOptions {
  model?: ModelSpec;
  dataset?: string;
  protocol?: string;
  precision?: Precision;
  owners?: number;
  mode?: 'fedsgd' | 'fedavg';
  batchSize?: number;
  /** FedSGD: epochs over each owner's data. FedAvg: rounds. */
  epochs?: number;
  seed?: number;
  nonIid?: boolean;
  maxSteps?: number;
  onBadUpdate?: BadUpdatePolicy;
  /** Server optimizer: 'amsgrad' (default), 'adam' or 'sgd'. */
  optimizer?: 'amsgrad' | 'adam' | 'sgd';
  /** Server learning rate; default 0.008 (FedSGD) / 1.0 (FedAvg, SGD on the mean delta). */
  lr?: number;
  /** FedAvg: local epochs per round (default 1) and client learning rate (default 0.3, SGD). */
  localEpochs?: number;
  clientLr?: number;
  validationLimit?: number;
  /** Use this aggregator instead of one made from `protocol`. */
  aggregator?: Aggregator;
  /**
   * INSECURE: the operator's opt-in to the 'plaintext' baseline, which hands
   * every data owner's update to the model owner. Without it a plaintext run
   * is refused (PolicyError, rule 'protocol'); with it the run's metrics and
   * report say so.
   */
  insecureAllowPlaintext?: boolean;
  /**
   * The secure protocols' minimum of contributors (default 3: the compute
   * servers or the Paillier aggregator refuse an aggregate of fewer data
   * owners, PolicyError 'minContributors'). Lower it only for experiments.
   */
  minContributors?: number;
  /** Protocol 'secagg' only: the graph ('complete' or 'auto'), a threshold (complete graph), the adversary mode. */
  secagg?: import('./secure-aggregators.js').SecAggChoices;
  /** Output folder; false to write nothing; default runs/<timestamp>. */
  out?: string | false;
  onRound?: (info: RoundInfo) => void;
  onEpoch?: (m: EpochMetrics) => void;
  /** Called once everything is set up, before the first round. */
  onStart?: (info: { aggregator: Aggregator; numParams: number; stepsPerEpoch: number; totalSteps: number; backend: string }) => void;
}

export interface TrainResult {
  metrics: RunMetrics;
  paths?: { dir: string; metrics: string; report: string };
  error?: Error;
}

/** The model owner's optimizer as every training path builds it (cosine decay to 2% over the planned steps). */
export function serverOptimizer(kind: string, lr: number, totalSteps: number): FlatOptimizer {
  const decay = cosineDecay(Math.max(1, totalSteps), 0.02);
  switch (kind) {
    case 'amsgrad': return adam({ lr, amsgrad: true, decay });
    case 'adam': return adam({ lr, decay });
    case 'sgd': return sgd({ lr });
    default: throw new RangeError(`unknown optimizer "${kind}"; valid optimizers: amsgrad, adam, sgd`);
  }
}

export async function train(options: TrainOptions = {}): Promise<TrainResult> {
  const startedAt = new Date();
  const model = options.model ?? 'network_a';
  if (typeof model === 'string' && !(MODEL_NAMES as readonly string[]).includes(model.toLowerCase()) && model.toLowerCase() !== 'logistic') {
    throw new RangeError(`unknown model "${model}"; valid models: ${MODEL_NAMES.join(', ')}`);
  }
  const datasetName = options.dataset ?? 'mnist';
  const mode = options.mode ?? 'fedsgd';
  if (mode !== 'fedsgd' && mode !== 'fedavg') throw new RangeError(`"mode" expected 'fedsgd' or 'fedavg', got ${String(mode)}`);
  const protocol = options.protocol ?? 'aby3';
  if (!options.aggregator && !(PROTOCOL_NAMES as readonly string[]).includes(protocol.toLowerCase())) throw new RangeError(`unknown protocol "${protocol}"; valid protocols: ${PROTOCOL_NAMES.join(', ')}`);
  // any aggregator that is not secure counts as plaintext, whatever its name
  const plaintext = options.aggregator ? options.aggregator.secure !== true : protocol.toLowerCase() === 'plaintext';
  if (plaintext && options.insecureAllowPlaintext !== true) {
    throw new PolicyError('protocol', "'plaintext' hands every data owner's update to the model owner: opt in with insecureAllowPlaintext: true (CLI: --insecure-allow-plaintext)");
  }
  const precision = options.precision ?? 'low';
  const nOwners = options.owners ?? 3;
  if (!Number.isInteger(nOwners) || nOwners < 1) throw new RangeError(`"owners" expected integer >= 1, got ${nOwners}`);
  const batchSize = options.batchSize ?? 128;
  const epochs = options.epochs ?? 5;
  const seed = options.seed ?? 1;
  const nonIid = options.nonIid ?? false;
  const onBadUpdate = options.onBadUpdate ?? 'abort';
  const optName = options.optimizer ?? (mode === 'fedsgd' ? 'amsgrad' : 'sgd');
  const lr = options.lr ?? (mode === 'fedsgd' ? 0.008 : 1.0);

  const backend = await initTf();
  const data = loadDataset(datasetName);
  const parts = splitForOwners(data.train, nOwners, nonIid);
  const names = parts.map((_, i) => `data-owner-${i}`);
  const protocolOptions = {
    ...(options.minContributors === undefined ? {} : { minContributors: options.minContributors }),
    ...(options.secagg === undefined ? {} : { secagg: options.secagg }),
  };
  if (options.secagg !== undefined && protocol.toLowerCase() !== 'secagg') throw new RangeError(`"secagg" options apply to protocol 'secagg' only, not ${protocol}`);
  const aggregator = options.aggregator ?? (await makeAggregator(protocol, precision, names, Object.keys(protocolOptions).length ? protocolOptions : undefined));
  const dataOwners = parts.map((p, i) => new DataOwner(names[i]!, model, data, p, { batchSize, seed, shuffleSeed: seed * 7919 + i }));
  const stepsPerEpoch = Math.min(...dataOwners.map((d) => d.iterations));
  const totalSteps = mode === 'fedsgd' ? Math.min(epochs * stepsPerEpoch, options.maxSteps ?? Infinity) : epochs;
  const modelOwner = new ModelOwner('model-owner', model, data, { seed, optimizer: serverOptimizer(optName, lr, totalSteps) });
  const config: RunMetrics['config'] = {
    model: modelName(model), dataset: datasetName, protocol: aggregator.name, precision, owners: nOwners, mode, batchSize, epochs, seed, nonIid,
    maxSteps: options.maxSteps, onBadUpdate, optimizer: optName, lr, aggregation: aggregator.description ?? aggregator.name, backend,
    ...(plaintext ? { insecurePlaintextOptIn: true } : {}),
    ...(mode === 'fedavg' ? { localEpochs: options.localEpochs ?? 1, clientLr: options.clientLr ?? 0.3 } : {}),
  };
  options.onStart?.({ aggregator, numParams: modelOwner.numParams, stepsPerEpoch, totalSteps, backend });
  const t0 = performance.now();
  let epochMetrics: EpochMetrics[] = [];
  let error: Error | undefined;
  try {
    if (mode === 'fedsgd') {
      epochMetrics = await trainFedSGD(modelOwner, dataOwners, aggregator, {
        epochs, maxSteps: options.maxSteps, onBadUpdate, validationLimit: options.validationLimit, onRound: options.onRound,
        onEpoch: (m) => { epochMetrics.push(m); options.onEpoch?.(m); },
      });
    } else {
      await runFedAvg(modelOwner, dataOwners, aggregator, {
        rounds: epochs, localEpochs: options.localEpochs ?? 1, clientLr: options.clientLr ?? 0.3, maxLocalSteps: options.maxSteps, onBadUpdate,
        validationLimit: options.validationLimit, onRound: options.onRound,
        onEpoch: (m) => { epochMetrics.push(m); options.onEpoch?.(m); },
      });
    }
  } catch (e) {
    error = e as Error;
  }
  const wallMs = performance.now() - t0;
  const last = epochMetrics[epochMetrics.length - 1];
  const final = last ? { accuracy: last.accuracy, loss: last.loss } : modelOwner.validateModel(options.validationLimit);
  const metrics: RunMetrics = {
    version: 1, startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), config, numParams: modelOwner.numParams,
    epochs: epochMetrics, unit: mode === 'fedsgd' ? 'epoch' : 'round', final, totals: summarize(epochMetrics, wallMs),
    ...(error ? { error: error.message } : {}),
  };
  modelOwner.dispose();
  dataOwners.forEach((d) => d.dispose());
  await aggregator.close?.();
  const paths = options.out === false ? undefined : writeRunFolder(options.out ?? defaultRunDir(startedAt), metrics);
  return { metrics, paths, error };
}
