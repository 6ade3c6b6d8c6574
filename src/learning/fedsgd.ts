/**
 * The seed's per-batch FedSGD loop:
 *
 *   for each epoch, for each of data_owners[0].iterations batches:
 *     weights = model_owner.share_weights(); every data owner sets them
 *     every data owner computes its gradient on its next batch
 *     the aggregator computes the mean (weighted by batch size) — secure
 *       aggregators never decrypt an individual gradient
 *     the model owner applies the mean with its optimizer
 *   model_owner.validate_model()
 *
 * Bad updates (NaN/Infinity, wrong shape) are caught before aggregation:
 * `onBadUpdate: 'abort'` (default) throws a BadUpdateError naming the owner
 * with the model unchanged; 'skip' drops that owner from the round.
 */
import { type Aggregator, BadUpdateError, validateUpdate } from './aggregator.js';
import type { DataOwner, ModelOwner } from './roles.js';

export type BadUpdatePolicy = 'abort' | 'skip';

export interface EpochMetrics {
  epoch: number;
  /** Rounds (steps) completed so far in total. */
  round: number;
  accuracy: number;
  loss: number;
  trainLoss: number;
  localMs: number;
  aggregationMs: number;
  serverMs: number;
  /** Bytes sent per role during this epoch. */
  bytesByRole: Record<string, number>;
  skipped: { round: number; owner: string; reason: string }[];
  /** Client sampling of this round (runFedAvg with `sampling`): how, at which rate, how many expected and drawn. */
  sample?: { sampling: 'poisson' | 'fixed-size'; rate: number; expected: number; size: number; empty: boolean };
  /** DP-FedAvg (train's `dp`): the round's accounting, ε so far. */
  dp?: import('./dp-train.js').DpRoundRecord;
}

export interface RoundInfo {
  round: number;
  epoch: number;
  step: number;
  stepsPerEpoch: number;
  totalSteps: number;
  trainLoss: number;
  localMs: number;
  aggregationMs: number;
  owners: number;
}

export interface FedSgdOptions {
  epochs?: number;
  /** Stop after this many rounds in total (for short runs); validation still runs at the end. */
  maxSteps?: number;
  onBadUpdate?: BadUpdatePolicy;
  /** Validate on at most this many test images (default: all). */
  validationLimit?: number;
  onRound?: (info: RoundInfo) => void;
  onEpoch?: (m: EpochMetrics) => void;
}

export interface RoundResult {
  trainLoss: number;
  localMs: number;
  aggregationMs: number;
  serverMs: number;
  bytesByRole: Record<string, number>;
  used: string[];
  skipped: { owner: string; reason: string }[];
}

function addBytes(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/**
 * One FedSGD round. On 'abort' a bad update throws BadUpdateError (the model
 * owner's weights and optimizer state are untouched: nothing was applied);
 * on 'skip' the round goes on without that owner (throws if none are left).
 */
export async function fedSgdRound(modelOwner: ModelOwner, dataOwners: readonly DataOwner[], aggregator: Aggregator, onBadUpdate: BadUpdatePolicy = 'abort'): Promise<RoundResult> {
  if (onBadUpdate !== 'abort' && onBadUpdate !== 'skip') throw new RangeError(`"onBadUpdate" expected 'abort' or 'skip', got ${String(onBadUpdate)}`);
  const n = modelOwner.numParams;
  const bytesByRole: Record<string, number> = {};
  const t0 = performance.now();
  const weights = modelOwner.shareWeights();
  bytesByRole[modelOwner.name] = weights.length * 4 * dataOwners.length;
  const updates: Float32Array[] = [];
  const counts: number[] = [];
  const used: string[] = [];
  const skipped: { owner: string; reason: string }[] = [];
  let lossSum = 0;
  for (const owner of dataOwners) {
    owner.updateModel(weights);
    const r = owner.computeGradient();
    try {
      validateUpdate(owner.name, r.grad, n);
    } catch (e) {
      if (onBadUpdate === 'abort' || !(e instanceof BadUpdateError)) throw e;
      skipped.push({ owner: owner.name, reason: e.reason });
      continue;
    }
    updates.push(r.grad);
    counts.push(r.examples);
    used.push(owner.name);
    lossSum += r.loss * r.examples;
  }
  if (updates.length === 0) throw new BadUpdateError(skipped.map((s) => s.owner).join(', '), 'every data owner was skipped; round aborted, model unchanged');
  const t1 = performance.now();
  const agg = await aggregator.mean(updates, counts, used);
  const t2 = performance.now();
  addBytes(bytesByRole, agg.bytesByRole);
  modelOwner.updateModel(agg.mean);
  const t3 = performance.now();
  const total = counts.reduce((a, b) => a + b, 0);
  return { trainLoss: lossSum / total, localMs: t1 - t0, aggregationMs: t2 - t1, serverMs: t3 - t2, bytesByRole, used, skipped };
}

/** Run per-batch FedSGD for `epochs` epochs (or `maxSteps` rounds); returns per-epoch metrics. */
export async function trainFedSGD(modelOwner: ModelOwner, dataOwners: readonly DataOwner[], aggregator: Aggregator, options: FedSgdOptions = {}): Promise<EpochMetrics[]> {
  const epochs = options.epochs ?? 5;
  if (!Number.isInteger(epochs) || epochs < 1) throw new RangeError(`"epochs" expected integer >= 1, got ${epochs}`);
  if (options.maxSteps !== undefined && (!Number.isInteger(options.maxSteps) || options.maxSteps < 1)) throw new RangeError(`"maxSteps" expected integer >= 1, got ${options.maxSteps}`);
  if (dataOwners.length === 0) throw new RangeError('"dataOwners" expected at least one data owner, got 0');
  const stepsPerEpoch = Math.min(...dataOwners.map((d) => d.iterations));
  const totalSteps = Math.min(epochs * stepsPerEpoch, options.maxSteps ?? Infinity);
  const out: EpochMetrics[] = [];
  let round = 0;
  for (let e = 1; e <= epochs && round < totalSteps; e++) {
    const m: EpochMetrics = { epoch: e, round, accuracy: 0, loss: 0, trainLoss: 0, localMs: 0, aggregationMs: 0, serverMs: 0, bytesByRole: {}, skipped: [] };
    let lossSum = 0;
    let steps = 0;
    for (let s = 0; s < stepsPerEpoch && round < totalSteps; s++) {
      const r = await fedSgdRound(modelOwner, dataOwners, aggregator, options.onBadUpdate ?? 'abort');
      round++;
      steps++;
      lossSum += r.trainLoss;
      m.localMs += r.localMs;
      m.aggregationMs += r.aggregationMs;
      m.serverMs += r.serverMs;
      addBytes(m.bytesByRole, r.bytesByRole);
      for (const k of r.skipped) m.skipped.push({ round, ...k });
      options.onRound?.({ round, epoch: e, step: s + 1, stepsPerEpoch, totalSteps, trainLoss: r.trainLoss, localMs: r.localMs, aggregationMs: r.aggregationMs, owners: r.used.length });
    }
    const v = modelOwner.validateModel(options.validationLimit);
    m.round = round;
    m.accuracy = v.accuracy;
    m.loss = v.loss;
    m.trainLoss = lossSum / Math.max(1, steps);
    out.push(m);
    options.onEpoch?.(m);
  }
  return out;
}
