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
 * It is traced once per model size with the Federated Core
 * (`federatedComputation`) and run in a local context whose aggregation
 * plug-in is the chosen Aggregator (`aggregatorAsProtocol`), so the weighted
 * mean is taken at AGGREGATORS by that protocol.
 */
import { type Aggregator, BadUpdateError, validateUpdate } from './aggregator.js';
import type { DataOwner } from './roles.js';
import type { ModelOwner } from './roles.js';
import { type ModelSpec, makeModel, getFlatWeights } from './models.js';
import { type FlatOptimizer, sgd } from './optimizers.js';
import {
  AGGREGATORS, CLIENTS, SERVER, federated, federatedBroadcast, federatedComputation, federatedMap, federatedMean, federatedTransfer, federatedZip,
  localComputation, struct, tensor, withContext, type Computation,
} from '../core/index.js';
import { localContext } from '../runtime/index.js';
import type { AggregationProtocol, AggregationRequest, AggregationResult, AggregationUri } from '../aggregation/protocol.js';
import type { BadUpdatePolicy, EpochMetrics, RoundInfo } from './fedsgd.js';
import { sampleClients, type ClientSampling } from '../dp/sampling.js';

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
  /** A fresh optimizer for each client's local training each round; default SGD lr 0.3. */
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

/**
 * The learning layer's Aggregator as the core's aggregation plug-in: it
 * carries out federated_weighted_mean_at_aggregators (and the unweighted
 * mean) for float32 leaves, and keeps the bytes-per-role figures.
 */
export function aggregatorAsProtocol(aggregator: Aggregator, ownerNames: () => readonly string[]): AggregationProtocol & { lastBytesByRole: Record<string, number> } {
  const p = {
    name: aggregator.name,
    secure: aggregator.secure,
    intrinsics: ['federated_mean_at_aggregators', 'federated_weighted_mean_at_aggregators'] as AggregationUri[],
    lastBytesByRole: {} as Record<string, number>,
    async aggregate(req: AggregationRequest): Promise<AggregationResult> {
      const weights = req.weights ? Array.from(req.weights) : req.clientValues.map(() => 1);
      const names = ownerNames();
      const leaves: Float64Array[] = [];
      p.lastBytesByRole = {};
      for (let l = 0; l < req.leaves.length; l++) {
        const updates = req.clientValues.map((c) => (c[l] instanceof Float32Array ? (c[l] as Float32Array) : Float32Array.from(c[l] as ArrayLike<number>)));
        // clients whose weight is 0 (skipped bad updates) take no part
        const keep = weights.map((w, i) => (w > 0 ? i : -1)).filter((i) => i >= 0);
        const r = await aggregator.mean(keep.map((i) => updates[i]!), keep.map((i) => weights[i]!), names.length === weights.length ? keep.map((i) => names[i]!) : undefined);
        for (const [k, v] of Object.entries(r.bytesByRole)) p.lastBytesByRole[k] = (p.lastBytesByRole[k] ?? 0) + v;
        leaves.push(Float64Array.from(r.mean));
      }
      return { leaves };
    },
  };
  return p;
}

interface RoundScratch {
  clients: readonly DataOwner[];
  losses: number[];
  examples: number[];
  skipped: { owner: string; reason: string }[];
  localMs: number;
}

export function buildFederatedAveraging(options: FederatedAveragingOptions): IterativeProcess & { readonly computation: (n: number) => Computation } {
  if (!options || typeof options !== 'object') throw new TypeError('"options" expected an object');
  if (!options.aggregator || typeof options.aggregator.mean !== 'function') throw new TypeError('"aggregator" expected an Aggregator');
  if (options.modelFn === undefined) throw new TypeError('"modelFn" expected a model name or a function returning a tfjs LayersModel');
  const policy = options.onBadUpdate ?? 'abort';
  if (policy !== 'abort' && policy !== 'skip') throw new RangeError(`"onBadUpdate" expected 'abort' or 'skip', got ${String(policy)}`);
  const server = options.serverOptimizer ?? sgd({ lr: 1 });
  const makeClientOpt = options.clientOptimizer ?? (() => sgd({ lr: 0.3 }));
  // per-round data the client computation reads (the client data are JS objects, not tensors)
  let scratch: RoundScratch | undefined;
  const protocol = aggregatorAsProtocol(options.aggregator, () => scratch?.clients.map((c) => c.name) ?? []);
  const ctx = localContext({ aggregation: protocol });
  const comps = new Map<number, Computation>();

  /** The round as a federated computation on the core, for models of n parameters. */
  function computation(n: number): Computation {
    const hit = comps.get(n);
    if (hit) return hit;
    const W = tensor('float32', [n]);
    const F32 = tensor('float32');
    const I32 = tensor('int32');
    const Out = struct([['delta', W], ['examples', F32]]);
    // local training at one client: the weights it received and its own index
    const clientUpdate = localComputation([W, I32], (w: Float32Array | number[], id: number) => {
      const s = scratch!;
      const c = s.clients[id]!;
      const t0 = performance.now();
      c.updateModel(w instanceof Float32Array ? w : Float32Array.from(w));
      const r = c.localUpdate({ epochs: options.localEpochs ?? 1, batchSize: options.batchSize, optimizer: makeClientOpt(), maxSteps: options.maxLocalSteps });
      s.localMs += performance.now() - t0;
      try {
        validateUpdate(c.name, r.delta, n);
      } catch (e) {
        if (policy === 'abort' || !(e instanceof BadUpdateError)) throw e;
        s.skipped.push({ owner: c.name, reason: e.reason });
        return { delta: new Float32Array(n), examples: 0 };
      }
      s.losses[id] = r.loss;
      s.examples[id] = r.examples;
      return { delta: r.delta, examples: r.examples };
    }, { name: 'client_update', result: Out });
    const delta = localComputation([Out], (o: { delta: Float32Array }) => o.delta, { name: 'delta_of', result: W });
    const examples = localComputation([Out], (o: { examples: number }) => o.examples, { name: 'examples_of', result: F32 });
    const comp = federatedComputation([federated(W, SERVER), federated(I32, CLIENTS)], (weights, ids) => {
      const atClients = federatedBroadcast(weights);
      const out = federatedMap(clientUpdate, federatedZip([atClients, ids]));
      const mean = federatedMean(federatedMap(delta, out), { weights: federatedMap(examples, out), placement: AGGREGATORS });
      return federatedTransfer(mean, { placement: SERVER });
    }, { name: 'federated_averaging_round' });
    comps.set(n, comp);
    return comp;
  }

  return {
    computation,
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
      const comp = computation(n);
      scratch = { clients: clientData, losses: [], examples: [], skipped: [], localMs: 0 };
      const s = scratch;
      const ids = clientData.map((_, i) => i);
      const t0 = performance.now();
      let meanJs: unknown;
      try {
        meanJs = await withContext(ctx, () => comp(state.weights, ids));
      } catch (e) {
        throw unwrapBadUpdate(e);
      } finally {
        scratch = undefined;
      }
      const t1 = performance.now();
      if (s.skipped.length === clientData.length) throw new BadUpdateError(s.skipped.map((k) => k.owner).join(', '), 'every data owner was skipped; round aborted, model unchanged');
      const mean = Float32Array.from(meanJs as ArrayLike<number>);
      // server update at SERVER: pseudo-gradient = -meanDelta
      validateUpdate('aggregate', mean, n);
      const weights = state.weights.slice();
      for (let i = 0; i < n; i++) mean[i] = -mean[i]!;
      server.restore(state.optimizerState);
      server.step(weights, mean);
      const t2 = performance.now();
      const examplesTotal = s.examples.reduce((a, b) => a + (b ?? 0), 0);
      const lossSum = s.losses.reduce((a, l, i) => a + (l ?? 0) * (s.examples[i] ?? 0), 0);
      const bytesByRole: Record<string, number> = { 'model-owner': n * 4 * clientData.length };
      for (const [k, v] of Object.entries(protocol.lastBytesByRole)) bytesByRole[k] = (bytesByRole[k] ?? 0) + v;
      return {
        state: { round: state.round + 1, weights, optimizerState: server.snapshot() },
        metrics: {
          round: state.round + 1, clients: clientData.length - s.skipped.length, examples: examplesTotal, trainLoss: examplesTotal > 0 ? lossSum / examplesTotal : NaN,
          // everything in the federated computation that is not local training: broadcast, value conversion, the aggregation protocol
          localMs: s.localMs, aggregationMs: t1 - t0 - s.localMs, serverMs: t2 - t1, bytesByRole, skipped: s.skipped,
        },
      };
    },
  };
}

/** The executor may wrap errors thrown by a local computation; find the BadUpdateError inside. */
function unwrapBadUpdate(e: unknown): unknown {
  let x: unknown = e;
  for (let i = 0; i < 5 && x; i++) {
    if (x instanceof BadUpdateError) return x;
    x = (x as { cause?: unknown }).cause;
  }
  return e;
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
  /**
   * Choose each round's participants from `dataOwners` (src/dp/sampling.ts):
   * Poisson with probability q from a CSPRNG (the DP accountant's
   * assumption), or a fixed size m flagged 'fixed-size'. A round that draws
   * no one (Poisson) leaves the model unchanged and is reported with
   * `sample.empty` (the accountant still counts it); it is never redrawn.
   * Default: every data owner every round.
   */
  sampling?: ClientSampling;
}

/** Run FedAvg rounds with the model owner's weights and server optimizer; validates after every round. */
export async function runFedAvg(modelOwner: ModelOwner, dataOwners: readonly DataOwner[], aggregator: Aggregator, o: RunFedAvgOptions): Promise<EpochMetrics[]> {
  const clientLr = o.clientLr ?? 0.3;
  const proc = buildFederatedAveraging({
    modelFn: () => { throw new Error('unused'); }, aggregator, serverOptimizer: modelOwner.optimizer, clientOptimizer: () => sgd({ lr: clientLr }),
    localEpochs: o.localEpochs, maxLocalSteps: o.maxLocalSteps, onBadUpdate: o.onBadUpdate,
  });
  let state: FedAvgState = { round: 0, weights: modelOwner.shareWeights(), optimizerState: modelOwner.optimizer.snapshot() };
  const out: EpochMetrics[] = [];
  for (let r = 1; r <= o.rounds; r++) {
    const drawn = o.sampling === undefined ? undefined : sampleClients(dataOwners, o.sampling);
    const sample = drawn === undefined ? undefined : { sampling: drawn.sampling, rate: drawn.rate, expected: drawn.expected, size: drawn.clients.length, empty: drawn.empty };
    if (drawn?.empty === true) {
      // nobody sampled: no aggregation (the core aggregates over at least one client); the model is unchanged
      o.onRound?.({ round: r, epoch: r, step: 1, stepsPerEpoch: 1, totalSteps: o.rounds, trainLoss: NaN, localMs: 0, aggregationMs: 0, owners: 0 });
      const v = modelOwner.validateModel(o.validationLimit);
      const m: EpochMetrics = { epoch: r, round: r, accuracy: v.accuracy, loss: v.loss, trainLoss: NaN, localMs: 0, aggregationMs: 0, serverMs: 0, bytesByRole: {}, skipped: [], sample: sample! };
      out.push(m);
      o.onEpoch?.(m);
      continue;
    }
    const { state: s, metrics } = await proc.next(state, drawn?.clients ?? dataOwners);
    state = s;
    modelOwner.setWeights(state.weights);
    o.onRound?.({ round: r, epoch: r, step: 1, stepsPerEpoch: 1, totalSteps: o.rounds, trainLoss: metrics.trainLoss, localMs: metrics.localMs, aggregationMs: metrics.aggregationMs, owners: metrics.clients });
    const v = modelOwner.validateModel(o.validationLimit);
    const m: EpochMetrics = { epoch: r, round: r, accuracy: v.accuracy, loss: v.loss, trainLoss: metrics.trainLoss, localMs: metrics.localMs, aggregationMs: metrics.aggregationMs, serverMs: metrics.serverMs, bytesByRole: metrics.bytesByRole, skipped: metrics.skipped.map((k) => ({ round: r, ...k })), ...(sample === undefined ? {} : { sample }) };
    out.push(m);
    o.onEpoch?.(m);
  }
  modelOwner.optimizer.restore(state.optimizerState);
  return out;
}
