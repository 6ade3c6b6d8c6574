/**
 * Learning on the execution stack: one FedSGD step and one FedAvg round as
 * federated computations that any execution context runs unchanged —
 * `localContext` in one process, `remoteContext` across the players of a
 * config:
 *
 *   round(weights@SERVER, hyper@SERVER, clients@CLIENTS):
 *     h@CLIENTS = broadcast(hyper)
 *     update@CLIENTS = federatedMap(step, federatedZip([broadcast(weights), h, clients]))
 *     n@CLIENTS = federatedMap(examples, federatedZip([h, clients]))      -- the examples the step trains on
 *     mean@AGGREGATORS = federatedMean(update, { weights: n })           -- the bound protocol's roles
 *     return transfer(mean, SERVER)
 *
 * (A remote context runs an aggregate whose first use is its transfer to
 * SERVER with the protocol revealing it to SERVER only: see
 * runtime/remote/context.ts.) The data owners' example counts, for the
 * length of a FedSGD epoch, come from a secure sum (`learningExamples`): no
 * party learns a client's count.
 *
 * `step` is a local computation registered by name (`fedcrypt.learning.…`),
 * made on demand in every process from the name (model, size), so a player
 * runs it without taking code from the network. It trains on a client that
 * THIS process hosts (`hostLearningClients`): the CLIENTS value is only the
 * local number of that client; its data never leaves the process. Every step
 * checks the hyperparameters the driver sent against this process's learning
 * policy (`setLearningPolicy`: minimum batch size, models) and refuses with a
 * PolicyError.
 */
import { PolicyError } from '../core/errors.js';
import {
  AGGREGATORS, CLIENTS, SERVER, federated, federatedBroadcast, federatedComputation, federatedMap, federatedMean, federatedSecureSum, federatedTransfer, federatedZip,
  localComputation, registeredLocal, registerLocalComputationFactory, struct, tensor, withContext, type Computation, type ExecutionContext,
} from '../core/index.js';
import { BadUpdateError, validateUpdate } from './aggregator.js';
import type { Dataset } from './mnist.js';
import { MODEL_NAMES, type ModelSpec } from './models.js';
import { DataOwner, type ModelOwner } from './roles.js';
import { sgd } from './optimizers.js';
import { initTf } from './tf.js';

export type StackMode = 'fedsgd' | 'fedavg';
const I32 = tensor('int32');
const F32 = tensor('float32');

/** The hyperparameters the driver broadcasts each round (checked by every client's policy). */
export const HYPER = struct([
  ['seed', I32],
  ['batchSize', I32],
  ['round', I32],
  ['localEpochs', I32],
  ['clientLr', F32],
  ['maxLocalSteps', I32],
]);
export interface Hyper {
  seed: number;
  batchSize: number;
  /** Index of this round (0-based): the data order of round r is that after r rounds. */
  round: number;
  localEpochs: number;
  clientLr: number;
  /** 0: no cap. */
  maxLocalSteps: number;
}

/** A client whose data this process holds. */
export interface HostedClient {
  readonly name: string;
  readonly data: Dataset;
  /** Data order seed offset (train() uses the owner's index: seed * 7919 + index). */
  readonly shuffleIndex: number;
}

const hosted: HostedClient[] = [];

/** Host clients in this process; returns their local numbers (the CLIENTS values of the learning computations). */
export function hostLearningClients(clients: readonly HostedClient[]): number[] {
  return clients.map((c) => {
    if (!c || typeof c.name !== 'string' || !c.data || !(c.data.images instanceof Float32Array)) throw new TypeError('hostLearningClients: expected { name, data: Dataset, shuffleIndex }');
    hosted.push(Object.freeze({ ...c }));
    return hosted.length - 1;
  });
}

export interface LearningPolicy {
  /** Refuse batches smaller than this. */
  readonly minBatchSize: number;
  /** Models this process trains (null: any). */
  readonly models: readonly string[] | null;
  /** Refuse a step or round numbered this or higher (a run of at most this many rounds; default: no limit). */
  readonly maxRounds?: number;
}
let policy: LearningPolicy = Object.freeze({ minBatchSize: 1, models: null });

/** This process's rules for every learning step it runs (a player's operator sets them at start). */
export function setLearningPolicy(p: LearningPolicy): void {
  if (!Number.isInteger(p.minBatchSize) || p.minBatchSize < 1) throw new RangeError(`setLearningPolicy: "minBatchSize" expected integer >= 1, got ${p.minBatchSize}`);
  if (p.maxRounds !== undefined && !(Number.isInteger(p.maxRounds) && p.maxRounds >= 1)) throw new RangeError(`setLearningPolicy: "maxRounds" expected integer >= 1, got ${p.maxRounds}`);
  policy = Object.freeze({ minBatchSize: p.minBatchSize, models: p.models === null ? null : [...p.models], ...(p.maxRounds === undefined ? {} : { maxRounds: p.maxRounds }) });
}

interface Trainer {
  owner: DataOwner;
  /** Rounds of data order consumed so far. */
  rounds: number;
}
const trainers = new Map<string, Trainer>();

/** The DataOwner of hosted client `id` for this model and batch order, advanced to round `h.round`. */
function trainerFor(id: number, model: string, h: Hyper, mode: StackMode): Trainer {
  const c = hosted[id];
  if (c === undefined) throw new RangeError(`learning step: no client #${id} is hosted in this process`);
  const key = `${id}|${model}|${h.batchSize}|${h.seed}|${mode}`;
  let t = trainers.get(key);
  if (t === undefined || t.rounds !== h.round) {
    // a new run, a resumed one, or a round seen again: the data order at round r is the order after
    // r rounds' batches (FedSGD: one per round; FedAvg: the same number of local steps every round)
    t?.owner.dispose();
    const owner = new DataOwner(c.name, model, { train: c.data, test: c.data }, c.data, { batchSize: h.batchSize, seed: h.seed, shuffleSeed: h.seed * 7919 + c.shuffleIndex });
    owner.skipBatches(h.round * (mode === 'fedsgd' ? 1 : localSteps(c.data.count, h)));
    t = { owner, rounds: h.round };
    trainers.set(key, t);
  }
  return t;
}

/** Local steps of one FedAvg round (DataOwner.localUpdate's count). */
function localSteps(count: number, h: Hyper): number {
  const steps = Math.max(1, Math.floor((h.localEpochs * count) / h.batchSize));
  return h.maxLocalSteps > 0 ? Math.min(steps, h.maxLocalSteps) : steps;
}

function checkPolicy(model: string, h: Hyper, party: string): void {
  if (policy.models !== null && !policy.models.includes(model)) throw new PolicyError('model', `asked to train '${model}', this player trains ${policy.models.join(', ')}`, { party });
  if (!(h.batchSize >= policy.minBatchSize)) {
    throw new PolicyError('minBatchSize', `batch size ${h.batchSize} is below the minimum of ${policy.minBatchSize}`, { party, count: h.batchSize, minimum: policy.minBatchSize });
  }
  if (policy.maxRounds !== undefined && !(h.round < policy.maxRounds)) {
    throw new PolicyError('maxRounds', `round ${h.round + 1} is past this player's maximum of ${policy.maxRounds} rounds`, { party, count: h.round + 1, minimum: policy.maxRounds });
  }
}

const PREFIX = 'fedcrypt.learning.';

/** Bits of a client's example count in the secure sum of `learningExamples` (a count below 2^24). */
export const COUNT_BITS = 24;

/** The examples a client's step of this round trains on (its weight in the mean): FedSGD one batch; FedAvg DataOwner.localUpdate's count. */
function examplesOf(mode: StackMode, h: Hyper, id: number): number {
  const c = hosted[id];
  if (c === undefined) throw new RangeError(`learning examples: no client #${id} is hosted in this process`);
  if (mode === 'fedsgd') return h.batchSize;
  const steps = localSteps(c.data.count, h);
  return steps * h.batchSize > c.data.count ? c.data.count : steps * h.batchSize;
}

/** The local computations of the family, from their names: `<mode>:<model>:<n>` (the step), `examples:<mode>`, `count`. */
function make(rest: string): Computation | undefined {
  if (rest === 'count') {
    // a hosted client's number of training examples (it only leaves the process inside a secure sum)
    return localComputation([I32], (id: number) => {
      const c = hosted[id];
      if (c === undefined) throw new RangeError(`learning count: no client #${id} is hosted in this process`);
      if (c.data.count >= 2 ** COUNT_BITS) throw new RangeError(`${c.name}: ${c.data.count} examples, above the ${2 ** COUNT_BITS} a count may have`);
      return c.data.count;
    }, { name: 'example_count', result: I32 });
  }
  if (rest === 'examples:fedsgd' || rest === 'examples:fedavg') {
    const mode = rest.slice('examples:'.length) as StackMode;
    return localComputation([HYPER, I32], (h: Hyper, id: number) => examplesOf(mode, h, id), { name: `${mode}_examples`, result: F32 });
  }
  const parts = rest.split(':');
  const n = Number(parts[parts.length - 1]);
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 28) return undefined;
  const W = tensor('float32', [n]);
  if (parts.length !== 3 || (parts[0] !== 'fedsgd' && parts[0] !== 'fedavg')) return undefined;
  const mode = parts[0] as StackMode;
  const model = parts[1]!;
  if (!(MODEL_NAMES as readonly string[]).includes(model) && model !== 'logistic') return undefined;
  return localComputation(
    [W, HYPER, I32],
    async (w: Float32Array | number[], h: Hyper, id: number) => {
      await initTf();
      const name = hosted[id]?.name ?? `client #${id}`;
      checkPolicy(model, h, name);
      const t = trainerFor(id, model, h, mode);
      const weights = w instanceof Float32Array ? w : Float32Array.from(w);
      if (weights.length !== n) throw new RangeError(`${name}: ${weights.length} weights, the model has ${n}`);
      t.owner.updateModel(weights);
      // the update alone: its weight comes from `examples:<mode>` (the same count, checked here)
      const { update, examples } = mode === 'fedsgd' ? (({ grad, examples }) => ({ update: grad, examples }))(t.owner.computeGradient())
        : (({ delta, examples }) => ({ update: delta, examples }))(t.owner.localUpdate({ epochs: h.localEpochs, batchSize: h.batchSize, optimizer: sgd({ lr: h.clientLr }), ...(h.maxLocalSteps > 0 ? { maxSteps: h.maxLocalSteps } : {}) }));
      t.rounds++;
      if (examples !== examplesOf(mode, h, id)) throw new Error(`${name}: internal error: the step trained on ${examples} examples, its weight says ${examplesOf(mode, h, id)}`);
      validateUpdate(name, update, n);
      return update;
    },
    // the weights as a Float32Array (a read-only view of the broadcast value), not a model-sized number[]
    { name: `${mode}_step`, result: W, typedArrays: true },
  );
}
const made = new Map<string, Computation>();
registerLocalComputationFactory(PREFIX, (rest) => {
  const c = make(rest);
  if (c !== undefined) made.set(PREFIX + rest, c);
  return c;
});

function local(name: string): Computation {
  if (registeredLocal(name) === undefined) throw new RangeError(`no learning computation '${name}'`);
  // the factory registered it; take the Computation made for it
  const c = made.get(name);
  if (c !== undefined) return c;
  throw new Error(`learning computation '${name}' was registered elsewhere`);
}

/** The name of the step computation (what a player resolves). */
export function stepName(mode: StackMode, model: string, n: number): string {
  return `${PREFIX}${mode}:${model}:${n}`;
}

const rounds = new Map<string, Computation>();

/** One FedSGD step or FedAvg round for a model of n parameters, as a federated computation. */
export function learningRound(mode: StackMode, model: ModelSpec, n: number): Computation {
  if (typeof model !== 'string') throw new TypeError('learningRound: "model" must be a model name (it is part of the step computation\'s registered name)');
  const key = `${mode}:${model}:${n}`;
  const hit = rounds.get(key);
  if (hit) return hit;
  const step = local(stepName(mode, model, n));
  const examples = local(`${PREFIX}examples:${mode}`);
  const W = tensor('float32', [n]);
  const comp = federatedComputation([federated(W, SERVER), federated(HYPER, SERVER), federated(I32, CLIENTS)], (weights, hyper, clients) => {
    const h = federatedBroadcast(hyper);
    const update = federatedMap(step, federatedZip([federatedBroadcast(weights), h, clients]));
    const mean = federatedMean(update, { weights: federatedMap(examples, federatedZip([h, clients])), placement: AGGREGATORS });
    return federatedTransfer(mean, { placement: SERVER });
  }, { name: `${mode}_round` });
  rounds.set(key, comp);
  return comp;
}

let examplesComp: Computation | undefined;

/**
 * The total number of training examples of the clients, by a secure sum
 * (each count below 2^COUNT_BITS): what the driver needs for the length of
 * a FedSGD epoch without learning any client's count.
 */
export function learningExamples(): Computation {
  examplesComp ??= federatedComputation([federated(I32, CLIENTS)], (clients) => federatedSecureSum(federatedMap(local(`${PREFIX}count`), clients), { bitwidth: COUNT_BITS }), { name: 'learning_examples' });
  return examplesComp;
}

/**
 * Rounds of one FedSGD epoch: each client's batches per pass over its data,
 * from the clients' mean count (the secure sum over the number of clients);
 * equal to the in-process `min(iterations)` when the slices are equal.
 */
export function stepsPerEpoch(totalExamples: number, clients: number, batchSize: number): number {
  if (!Number.isSafeInteger(totalExamples) || totalExamples < 0) throw new RangeError(`stepsPerEpoch: "totalExamples" expected an integer >= 0, got ${totalExamples}`);
  if (!Number.isInteger(clients) || clients < 1) throw new RangeError(`stepsPerEpoch: "clients" expected an integer >= 1, got ${clients}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`stepsPerEpoch: "batchSize" expected an integer >= 1, got ${batchSize}`);
  return Math.floor(totalExamples / (clients * batchSize));
}

export interface StackRound {
  round: number;
  totalRounds: number;
  ms: number;
}

export interface StackTrainOptions {
  readonly mode: StackMode;
  readonly model: string;
  /** The SERVER side: weights, server optimizer, validation. */
  readonly modelOwner: ModelOwner;
  /** The CLIENTS argument: local numbers (localContext) or clientData('<source>') (remoteContext). */
  readonly clients: unknown;
  /** Rounds to run in total (FedSGD: steps). */
  readonly rounds: number;
  /** Rounds already done (a resumed run: the data order of round r depends only on r). */
  readonly startRound?: number;
  readonly hyper: Omit<Hyper, 'round'>;
  readonly onRound?: (r: StackRound) => void;
  /** Called before round `round` (0-based) starts. */
  readonly beforeRound?: (round: number) => void;
  /** Called after each round with the model owner updated (checkpoint here). */
  readonly afterRound?: (round: number) => void | Promise<void>;
}

/**
 * The driver's loop, the same for every context: broadcast the weights and
 * hyperparameters, let the context run the round, apply the aggregate with
 * the model owner's optimizer (FedSGD: the mean gradient; FedAvg: the
 * pseudo-gradient -mean delta).
 */
export async function trainOnContext(ctx: ExecutionContext, o: StackTrainOptions): Promise<void> {
  const n = o.modelOwner.numParams;
  const comp = learningRound(o.mode, o.model, n);
  for (let r = o.startRound ?? 0; r < o.rounds; r++) {
    o.beforeRound?.(r);
    const t0 = performance.now();
    const hyper: Hyper = { ...o.hyper, round: r };
    // a context that can hand the aggregate over as a typed array (the remote one) does: the same numbers
    const typed = (ctx as { invokeTyped?: ExecutionContext['invoke'] }).invokeTyped;
    const args = [o.modelOwner.shareWeights(), hyper, o.clients];
    const out = typed !== undefined ? await typed.call(ctx, comp, args) : await withContext(ctx, () => comp(...args));
    // (the remote context's typed result is this invocation's own array: used as is, no copy)
    const mean = out instanceof Float32Array ? out : Float32Array.from(out as ArrayLike<number>);
    // (updateModel checks it: the right size, every element finite)
    if (o.mode === 'fedavg') for (let i = 0; i < n; i++) mean[i] = -mean[i]!;
    o.modelOwner.updateModel(mean);
    await o.afterRound?.(r + 1);
    o.onRound?.({ round: r + 1, totalRounds: o.rounds, ms: performance.now() - t0 });
  }
}

export { BadUpdateError };
