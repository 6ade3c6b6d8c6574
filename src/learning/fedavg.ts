/**
 * Federated Averaging.
 *
 * `buildFederatedAveraging({ modelFn, clientOptimizer, serverOptimizer, aggregator })`
 * returns an iterative process `{ initialize(), next(state, clientData) }`.
 * One `next` is the federated computation
 *
 *   weights@CLIENTS   = federatedBroadcast(state.weights@SERVER)
 *   (delta, n)@CLIENTS = federatedMap(clientUpdate, clientData, weights)   -- local training (localComputation)
 *   meanDelta@SERVER  = federatedMean(delta, weight = n, placement AGGREGATORS)  -- the aggregator's protocol
 *   state'@SERVER     = serverUpdate(state, meanDelta)                     -- server optimizer on -meanDelta
 *
 * The stages are kept as separate functions so they map one-to-one onto the
 * core's intrinsics.
 */
import { type Aggregator, BadUpdateError, validateUpdate } from './aggregator.js';
import type { DataOwner } from './roles.js';
import type { ModelOwner } from './roles.js';
import { type ModelSpec, makeModel, getFlatWeights } from './models.js';
import { type FlatOptimizer, sgd } from './optimizers.js';
import type { BadUpdatePolicy, EpochMetrics, RoundInfo } from './fedsgd.js';

export interface FedAvgState {
  readonly round: number;
  readonly weights: Float32Array;
  /** Opaque server-optimizer state. */
  readonly optimizerState: unknown;
}

export interface FedAvgMetrics {
  round: number;
  clients: number;
  examples: number;
  trainLoss: number;
  localMs: number;
  aggregationMs: number;
  serverMs: number;
  bytesByRole: Record<string, number>;
  skipped: { owner: string; reason: string }[];
}

export interface FederatedAveragingOptions {
  /** A model name or a factory of fresh tfjs LayersModels (used for the initial weights). */
  modelFn: ModelSpec;
  /** A fresh optimizer for each client's local training each round; default SGD lr 0.05. */
  clientOptimizer?: () => FlatOptimizer;
  /** The server optimizer, applied to the pseudo-gradient -meanDelta; default SGD lr 1 (plain FedAvg). */
  serverOptimizer?: FlatOptimizer;
  aggregator: Aggregator;
  localEpochs?: number;
  batchSize?: number;
  /** Cap on local steps per client per round (short runs). */
  maxLocalSteps?: number;
  onBadUpdate?: BadUpdatePolicy;
  seed?: number;
}

export interface IterativeProcess {
  initialize(): FedAvgState;
  next(state: FedAvgState, clientData: readonly DataOwner[]): Promise<{ state: FedAvgState; metrics: FedAvgMetrics }>;
}

interface ClientOutput { name: string; delta: Float32Array; examples: number; loss: number }

/** federatedBroadcast: SERVER → every client (each gets the same weights). */
function federatedBroadcast(weights: Float32Array, clients: readonly DataOwner[]): number {
  for (const c of clients) c.updateModel(weights);
  return weights.length * 4 * clients.length;
}

/** federatedMap(clientUpdate): local training at each client. */
function federatedMapClientUpdate(clients: readonly DataOwner[], opts: FederatedAveragingOptions): ClientOutput[] {
  return clients.map((c) => {
    const r = c.localUpdate({ epochs: opts.localEpochs ?? 1, batchSize: opts.batchSize, optimizer: (opts.clientOptimizer ?? (() => sgd({ lr: 0.05 })))(), maxSteps: opts.maxLocalSteps });
    return { name: c.name, delta: r.delta, examples: r.examples, loss: r.loss };
  });
}

export function buildFederatedAveraging(options: FederatedAveragingOptions): IterativeProcess {
  if (!options || typeof options !== 'object') throw new TypeError('"options" expected an object');
  if (!options.aggregator || typeof options.aggregator.mean !== 'function') throw new TypeError('"aggregator" expected an Aggregator');
  if (options.modelFn === undefined) throw new TypeError('"modelFn" expected a model name or a function returning a tfjs LayersModel');
  const policy = options.onBadUpdate ?? 'abort';
  if (policy !== 'abort' && policy !== 'skip') throw new RangeError(`"onBadUpdate" expected 'abort' or 'skip', got ${String(policy)}`);
  const server = options.serverOptimizer ?? sgd({ lr: 1 });
  return {
    initialize(): FedAvgState {
      const m = makeModel(options.modelFn, options.seed ?? 0);
      const weights = getFlatWeights(m);
      m.dispose();
      return { round: 0, weights, optimizerState: server.snapshot() };
    },
    async next(state, clientData) {
      if (!state || !(state.weights instanceof Float32Array)) throw new TypeError('"state" expected a FedAvgState from initialize() or next()');
      if (!Array.isArray(clientData) || clientData.length === 0) throw new RangeError('"clientData" expected at least one data owner');
      const n = state.weights.length;
      const t0 = performance.now();
      const bytesByRole: Record<string, number> = { 'model-owner': federatedBroadcast(state.weights, clientData) };
      const outs = federatedMapClientUpdate(clientData, options);
      const t1 = performance.now();
      const kept: ClientOutput[] = [];
      const skipped: { owner: string; reason: string }[] = [];
      for (const o of outs) {
        try {
          validateUpdate(o.name, o.delta, n);
          kept.push(o);
        } catch (e) {
          if (policy === 'abort' || !(e instanceof BadUpdateError)) throw e;
          skipped.push({ owner: o.name, reason: e.reason });
        }
      }
      if (kept.length === 0) throw new BadUpdateError(skipped.map((s) => s.owner).join(', '), 'every data owner was skipped; round aborted, model unchanged');
      // federatedMean at AGGREGATORS, weighted by example counts
      const t2 = performance.now();
      const agg = await options.aggregator.mean(kept.map((k) => k.delta), kept.map((k) => k.examples), kept.map((k) => k.name));
      const t3 = performance.now();
      for (const [k, v] of Object.entries(agg.bytesByRole)) bytesByRole[k] = (bytesByRole[k] ?? 0) + v;
      // server update: pseudo-gradient = -meanDelta
      validateUpdate('aggregate', agg.mean, n);
      const weights = state.weights.slice();
      const pg = new Float32Array(n);
      for (let i = 0; i < n; i++) pg[i] = -agg.mean[i]!;
      server.restore(state.optimizerState);
      server.step(weights, pg);
      const t4 = performance.now();
      const examples = kept.reduce((a, k) => a + k.examples, 0);
      return {
        state: { round: state.round + 1, weights, optimizerState: server.snapshot() },
        metrics: {
          round: state.round + 1, clients: kept.length, examples, trainLoss: kept.reduce((a, k) => a + k.loss * k.examples, 0) / examples,
          localMs: t1 - t0 + (t2 - t1), aggregationMs: t3 - t2, serverMs: t4 - t3, bytesByRole, skipped,
        },
      };
    },
  };
}

export interface RunFedAvgOptions {
  rounds: number;
  localEpochs?: number;
  clientLr?: number;
  maxLocalSteps?: number;
  onBadUpdate?: BadUpdatePolicy;
  validationLimit?: number;
  onRound?: (info: RoundInfo) => void;
  onEpoch?: (m: EpochMetrics) => void;
}

/** Run FedAvg rounds with the model owner's weights and server optimizer; validates after every round. */
export async function runFedAvg(modelOwner: ModelOwner, dataOwners: readonly DataOwner[], aggregator: Aggregator, o: RunFedAvgOptions): Promise<EpochMetrics[]> {
  const clientLr = o.clientLr ?? 0.05;
  const proc = buildFederatedAveraging({
    modelFn: () => { throw new Error('unused'); }, aggregator, serverOptimizer: modelOwner.optimizer, clientOptimizer: () => sgd({ lr: clientLr }),
    localEpochs: o.localEpochs, maxLocalSteps: o.maxLocalSteps, onBadUpdate: o.onBadUpdate,
  });
  let state: FedAvgState = { round: 0, weights: modelOwner.shareWeights(), optimizerState: modelOwner.optimizer.snapshot() };
  const out: EpochMetrics[] = [];
  for (let r = 1; r <= o.rounds; r++) {
    const { state: s, metrics } = await proc.next(state, dataOwners);
    state = s;
    modelOwner.setWeights(state.weights);
    o.onRound?.({ round: r, epoch: r, step: 1, stepsPerEpoch: 1, totalSteps: o.rounds, trainLoss: metrics.trainLoss, localMs: metrics.localMs, aggregationMs: metrics.aggregationMs, owners: metrics.clients });
    const v = modelOwner.validateModel(o.validationLimit);
    const m: EpochMetrics = { epoch: r, round: r, accuracy: v.accuracy, loss: v.loss, trainLoss: metrics.trainLoss, localMs: metrics.localMs, aggregationMs: metrics.aggregationMs, serverMs: metrics.serverMs, bytesByRole: metrics.bytesByRole, skipped: metrics.skipped.map((k) => ({ round: r, ...k })) };
    out.push(m);
    o.onEpoch?.(m);
  }
  modelOwner.optimizer.restore(state.optimizerState);
  return out;
}
