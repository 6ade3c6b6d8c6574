/**
 * The learning layer's fast path through the Paillier aggregation: a weighted
 * mean of flat Float32Array updates, run as the Paillier roles (a
 * federated_weighted_mean_at_aggregators plan simulated by
 * `PaillierAggregation.simulate`, no separate code path). Each client encodes
 * w_i·x_i in fixed point and appends its weight w_i (its private input); SERVER
 * decrypts Σ w_i·x_i and Σ w_i and divides; as the target is AGGREGATORS, the
 * aggregation service receives the mean too. 'low' precision: 20 fractional
 * bits in 40-bit slots (|w_i·x_i| < 2^19); 'high': 32 in 64-bit slots
 * (|w_i·x_i| < 2^31). Encryption and decryption run on worker threads.
 */
import { TensorType } from '../core/types.js';
import { PaillierWorkerPool } from '../paillier/pool.js';
import { checkPlan } from './plan.js';
import { PaillierAggregation } from './paillier.js';

export interface PaillierSecureMeanOptions {
  /** 'low': 20 fractional bits in 40-bit slots; 'high': 32 in 64-bit slots (default 'low'). */
  precision?: 'low' | 'high';
  keyBits?: number;
  /** DJN noise exponent bits (default ceil(keyBits/2)); 256 is 4x cheaper per encryption (see docs/paillier.md). */
  noiseBits?: number;
  /** Minimum number of valid contributions (default 3; see PaillierAggregationOptions.minContributors). */
  minContributors?: number;
  workers?: PaillierWorkerPool | boolean | 'auto';
}

export interface PaillierSecureMeanResult {
  mean: Float32Array;
  bytesPerPlayer: Record<string, number>;
  bytesByRole: Record<string, number>;
}

// one protocol instance (parties' identities, the server's key pair, the long-lived channel state)
// per (clients, keyBits, noiseBits, minContributors, precision, workers)
const cachedProtocols = new Map<string, PaillierAggregation>();
const poolIds = new WeakMap<PaillierWorkerPool, number>();
let meanCounter = 0;
let poolCounter = 0;

/**
 * Weighted mean of flat Float32Array updates through the Paillier roles
 * (see the module comment). Fewer updates than `minContributors` (default 3)
 * is a PolicyError; a value outside the precision's range a ValueOutOfRangeError.
 */
export async function paillierSecureMean(
  updates: readonly Float32Array[],
  weights?: readonly number[],
  options: PaillierSecureMeanOptions = {},
): Promise<PaillierSecureMeanResult> {
  const fn = 'paillierSecureMean';
  if (!Array.isArray(updates) || updates.length === 0) throw new TypeError(`${fn}: "updates" expected non-empty array of Float32Array`);
  updates.forEach((u, i) => {
    if (!(u instanceof Float32Array)) throw new TypeError(`${fn}: "updates[${i}]" expected Float32Array`);
    if (u.length !== updates[0]!.length) throw new RangeError(`${fn}: "updates[${i}]" has ${u.length} values, "updates[0]" has ${updates[0]!.length}`);
  });
  const w = weights ?? updates.map(() => 1);
  if (!Array.isArray(w) || w.length !== updates.length) throw new RangeError(`${fn}: "weights" expected one number per update (${updates.length})`);
  w.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) throw new RangeError(`${fn}: "weights[${i}]" expected finite number >= 0, got ${x}`);
  });
  if (!w.some((x) => x > 0)) throw new RangeError(`${fn}: "weights" must not be all zero`);
  if (typeof options !== 'object' || options === null) throw new TypeError(`${fn}: "options" expected object`);
  const precision = options.precision ?? 'low';
  if (precision !== 'low' && precision !== 'high') throw new RangeError(`${fn}: "precision" expected 'low' or 'high', got ${String(precision)}`);
  const keyBits = options.keyBits ?? 2048;
  const workers = options.workers ?? true;
  let wid: string = String(workers);
  if (workers instanceof PaillierWorkerPool) {
    if (!poolIds.has(workers)) poolIds.set(workers, ++poolCounter);
    wid = `pool${poolIds.get(workers)}`;
  }
  const id = `${updates.length}/${keyBits}/${options.noiseBits ?? 'default'}/${options.minContributors ?? 'default'}/${precision}/${wid}`;
  let proto = cachedProtocols.get(id);
  if (!proto) {
    proto = new PaillierAggregation({
      numClients: updates.length,
      keyBits,
      fracBits: precision === 'low' ? 20 : 32,
      floatBits: precision === 'low' ? 40 : 64,
      workers,
      ...(options.noiseBits === undefined ? {} : { noiseBits: options.noiseBits }),
      ...(options.minContributors === undefined ? {} : { minContributors: options.minContributors }),
    });
    cachedProtocols.set(id, proto);
  }
  const n = updates[0]!.length;
  const plan = checkPlan({
    protocol: proto.roles.name,
    invocationId: `secure-mean/${++meanCounter}`,
    uri: 'federated_weighted_mean_at_aggregators',
    target: 'AGGREGATORS',
    leaves: [{ path: '', type: new TensorType('float32', [n]), size: n }],
    clients: updates.map((_, i) => `client-${i}`),
    aggregators: proto.roles.aggregatorNames,
    server: 'server',
    params: proto.roles.params,
  });
  const r = await proto.simulate(plan, updates.map((u, i) => ({ values: [u], weight: w[i]! })));
  const mean = Float32Array.from(r.result.leaves[0] as Float64Array);
  const bytesPerPlayer: Record<string, number> = { ...r.bytesSent };
  const bytesByRole: Record<string, number> = {};
  for (const [p, b] of Object.entries(bytesPerPlayer)) {
    const role = p.startsWith('client-') ? 'clients' : p;
    bytesByRole[role] = (bytesByRole[role] ?? 0) + b;
  }
  return { mean, bytesPerPlayer, bytesByRole };
}

/** The learning layer looks for `secureMean` in this module (src/learning/secure-aggregators.ts). */
export async function secureMean(updates: readonly Float32Array[], weights?: readonly number[], options: Record<string, unknown> = {}): Promise<PaillierSecureMeanResult> {
  const { precision, keyBits, workers, noiseBits, minContributors } = options as PaillierSecureMeanOptions;
  return paillierSecureMean(updates, weights, { precision, keyBits, workers, noiseBits, minContributors });
}
