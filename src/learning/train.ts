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
import { checkDpOptions, dpSetup, freshSamplingKey, dpSeedKey, type DpTrainOptions, type DpSetup } from './dp-train.js';
import type { ClientSampling } from '../dp/sampling.js';
import { CryptoRandom } from '../dp/random.js';

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
  /**
   * DP-FedAvg (mode 'fedavg' only): central ('gaussian', 'adaptive') or
   * distributed ('skellam', 'dgauss') DP around the protocol's secure sum,
   * client sampling per round, ε so far each round (src/learning/dp-train.ts).
   */
  dp?: DpTrainOptions;
  /** With `dp`: also run the same training without DP (same seed, same sampled clients) and report both accuracies. */
  compareNoDp?: boolean;
  /** With `dp`: the run without DP's accuracy, measured elsewhere (e.g. by a benchmark), for the report. */
  noDpBaseline?: { accuracy: number; loss: number; perRound: number[]; clients?: number[] };
  /** FedAvg without DP: sample each round's clients (the DP run's twin). */
  sampling?: ClientSampling;
  /** FedAvg, server optimizer 'sgd': momentum (default 0). */
  serverMomentum?: number;
  /** Output folder; false to write nothing; default runs/<timestamp>. */
  out?: string | false;
  onRound?: (info: RoundInfo) => void;
  onEpoch?: (m: EpochMetrics) => void;
  /** Called once everything is set up, before the first round. */
  onStart?: (info: { aggregator: Aggregator; numParams: number; stepsPerEpoch: number; totalSteps: number; backend: string }) => void;
}

export interface TrainResult {
  metrics: RunMetrics;
  /** The model owner's final weights. */
  weights?: Float32Array;
  paths?: { dir: string; metrics: string; report: string };
  error?: Error;
}

/** The model owner's optimizer as every training path builds it (cosine decay to 2% over the planned steps). */
export function serverOptimizer(kind: string, lr: number, totalSteps: number, momentum = 0): FlatOptimizer {
  const decay = cosineDecay(Math.max(1, totalSteps), 0.02);
  if (momentum !== 0 && kind !== 'sgd') throw new RangeError(`"serverMomentum" applies to optimizer 'sgd' only, not '${kind}'`);
  switch (kind) {
    case 'amsgrad': return adam({ lr, amsgrad: true, decay });
    case 'adam': return adam({ lr, decay });
    case 'sgd': return sgd({ lr, ...(momentum ? { momentum } : {}) });
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
  if (options.dp !== undefined) {
    if (options.aggregator) throw new RangeError('"dp" builds its own aggregator around "protocol"; do not pass "aggregator" with it');
    checkDpOptions(options.dp, { mode, protocol, owners: nOwners });
  } else {
    for (const k of ['compareNoDp', 'noDpBaseline'] as const) if (options[k] !== undefined && options[k] !== false) throw new RangeError(`"${k}" applies to a run with "dp" only`);
  }
  if (options.sampling !== undefined && (options.dp !== undefined || mode !== 'fedavg')) throw new RangeError(`"sampling" is for FedAvg without "dp" (with "dp" the sampling is dp.samplingRate / dp.clientsPerRound)`);
  if (options.serverMomentum !== undefined && mode !== 'fedavg') throw new RangeError(`"serverMomentum" applies to mode 'fedavg' only`);
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
  const dataOwners = parts.map((p, i) => new DataOwner(names[i]!, model, data, p, { batchSize, seed, shuffleSeed: seed * 7919 + i }));
  const stepsPerEpoch = Math.min(...dataOwners.map((d) => d.iterations));
  const totalSteps = mode === 'fedsgd' ? Math.min(epochs * stepsPerEpoch, options.maxSteps ?? Infinity) : epochs;
  const modelOwner = new ModelOwner('model-owner', model, data, { seed, optimizer: serverOptimizer(optName, lr, totalSteps, options.serverMomentum ?? 0) });
  // the twin without DP draws the same clients: the sampler's key is kept for it (a fresh random key unless --dp-seed)
  const samplingKey = options.dp !== undefined && options.compareNoDp === true ? (options.dp.seed !== undefined ? dpSeedKey(options.dp.seed) : freshSamplingKey()) : undefined;
  let dp: DpSetup | undefined;
  if (options.dp !== undefined) {
    dp = await dpSetup({
      dp: options.dp, protocol, precision, population: nOwners, dim: modelOwner.numParams, insecureAllowPlaintext: options.insecureAllowPlaintext,
      ...(options.minContributors === undefined ? {} : { minContributors: options.minContributors }), ...(samplingKey ? { samplingKey } : {}),
      ...(options.secagg === undefined ? {} : { secagg: options.secagg }),
    });
  }
  const aggregator = options.aggregator ?? dp?.aggregator ?? (await makeAggregator(protocol, precision, names, Object.keys(protocolOptions).length ? protocolOptions : undefined));
  const config: RunMetrics['config'] = {
    model: modelName(model), dataset: datasetName, protocol: aggregator.name, precision, owners: nOwners, mode, batchSize, epochs, seed, nonIid,
    maxSteps: options.maxSteps, onBadUpdate, optimizer: optName, lr, aggregation: aggregator.description ?? aggregator.name, backend,
    ...(plaintext ? { insecurePlaintextOptIn: true } : {}),
    ...(mode === 'fedavg' ? { localEpochs: options.localEpochs ?? 1, clientLr: options.clientLr ?? 0.3 } : {}),
    ...(options.serverMomentum ? { serverMomentum: options.serverMomentum } : {}),
    ...(options.sampling ? { sampling: options.sampling.kind, samplingRate: options.sampling.kind === 'poisson' ? options.sampling.q : options.sampling.m / nOwners } : {}),
    ...(dp ? { dp: dp.options.mechanism } : {}),
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
      const sampling = dp?.sampling ?? options.sampling;
      await runFedAvg(modelOwner, dataOwners, aggregator, {
        rounds: epochs, localEpochs: options.localEpochs ?? 1, clientLr: options.clientLr ?? 0.3, maxLocalSteps: options.maxSteps, onBadUpdate,
        validationLimit: options.validationLimit, onRound: options.onRound, ...(sampling ? { sampling } : {}),
        onEpoch: (m) => {
          if (dp) m.dp = dp.afterRound(m);
          epochMetrics.push(m);
          options.onEpoch?.(m);
        },
      });
    }
  } catch (e) {
    error = e as Error;
  }
  const wallMs = performance.now() - t0;
  const last = epochMetrics[epochMetrics.length - 1];
  const final = last ? { accuracy: last.accuracy, loss: last.loss } : modelOwner.validateModel(options.validationLimit);
  const weights = modelOwner.shareWeights().slice();
  const numParams = modelOwner.numParams;
  modelOwner.dispose();
  dataOwners.forEach((d) => d.dispose());
  await aggregator.close?.();
  let dpMetrics = dp?.summary();
  if (dpMetrics) {
    let noDp = options.noDpBaseline;
    if (options.compareNoDp === true && !error) {
      // the same run without DP: same seed and data order, the same sampled clients (the sampler's key), FedAvg's weighted mean
      const { dp: _dp, compareNoDp: _c, noDpBaseline: _b, onEpoch: _e, onRound: _r, onStart: _s, ...rest } = options;
      const d = dp!.options;
      const rng = CryptoRandom.fromKey(samplingKey!, 'fedcrypt/dp/sampling');
      const twin = await train({ ...rest, out: false, sampling: d.samplingRate !== undefined ? { kind: 'poisson', q: d.samplingRate, rng } : { kind: 'fixed-size', m: d.clientsPerRound!, rng } });
      if (twin.error) throw twin.error;
      noDp = { accuracy: twin.metrics.final.accuracy, loss: twin.metrics.final.loss, perRound: twin.metrics.epochs.map((e) => e.accuracy), clients: twin.metrics.epochs.map((e) => e.sample?.size ?? nOwners) };
    }
    if (noDp) dpMetrics = { ...dpMetrics, noDp, accuracyGap: noDp.accuracy - final.accuracy };
  }
  const metrics: RunMetrics = {
    version: 1, startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), config, numParams,
    epochs: epochMetrics, unit: mode === 'fedsgd' ? 'epoch' : 'round', final, totals: summarize(epochMetrics, wallMs),
    ...(error ? { error: error.message } : {}),
    ...(dpMetrics ? { dp: dpMetrics } : {}),
  };
  const paths = options.out === false ? undefined : writeRunFolder(options.out ?? defaultRunDir(startedAt), metrics);
  return { metrics, weights, paths, error };
}
