/**
 * The learning layer's fast path through the Paillier aggregation: a weighted
 * mean of flat Float32Array updates (clients encrypt w_i/W · x_i in fixed
 * point, the aggregator adds, the server decrypts; W = Σ w_i is public as in
 * the MPC secureMean). Encryption and decryption run on worker threads.
 */
import { PaillierPacking } from '../paillier/packing.js';
import { ValueOutOfRangeError } from '../paillier/errors.js';
import type { PaillierWorkerPool } from '../paillier/pool.js';
import { PaillierAggregation } from './paillier.js';

export interface PaillierSecureMeanOptions {
  /** 'low': 20 fractional bits in 40-bit slots; 'high': 32 in 64-bit slots (default 'low'). */
  precision?: 'low' | 'high';
  keyBits?: number;
  /** DJN noise exponent bits (default ceil(keyBits/2)); 256 is 4x cheaper per encryption (see docs/paillier.md). */
  noiseBits?: number;
  /** Minimum number of valid contributions (default 3; see PaillierAggregationOptions.minContributors). */
  minContributors?: number;
  /** Reuse one protocol instance (and its keys) across rounds; by default one is cached per (clients, keyBits). */
  protocol?: PaillierAggregation | string;
  workers?: PaillierWorkerPool | boolean | 'auto';
}

export interface PaillierSecureMeanResult {
  mean: Float32Array;
  bytesPerPlayer: Record<string, number>;
  bytesByRole: Record<string, number>;
}

const cachedProtocols = new Map<string, PaillierAggregation>();
let meanCounter = 0;

/**
 * Weighted mean of flat Float32Array updates through the full Paillier
 * protocol (clients encrypt w_i/W · x_i in fixed point, the aggregator adds,
 * the server decrypts; W = Σ w_i is public as in the MPC secureMean).
 * Encryption and decryption run on worker threads.
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
  const W = w.reduce((a, b) => a + b, 0);
  if (!(W > 0)) throw new RangeError(`${fn}: "weights" must not be all zero`);
  if (typeof options !== 'object' || options === null) throw new TypeError(`${fn}: "options" expected object`);
  const precision = options.precision ?? 'low';
  if (precision !== 'low' && precision !== 'high') throw new RangeError(`${fn}: "precision" expected 'low' or 'high', got ${String(precision)}`);
  const frac = precision === 'low' ? 20 : 32;
  const bitwidth = precision === 'low' ? 40 : 64;
  const keyBits = options.keyBits ?? 2048;
  let proto: PaillierAggregation;
  if (options.protocol instanceof PaillierAggregation) proto = options.protocol;
  else {
    const id = `${updates.length}/${keyBits}/${options.noiseBits ?? 'default'}/${options.minContributors ?? 'default'}`;
    proto =
      cachedProtocols.get(id) ??
      new PaillierAggregation({
        numClients: updates.length,
        keyBits,
        workers: options.workers ?? true,
        ...(options.noiseBits === undefined ? {} : { noiseBits: options.noiseBits }),
        ...(options.minContributors === undefined ? {} : { minContributors: options.minContributors }),
      });
    cachedProtocols.set(id, proto);
  }
  const packing = new PaillierPacking({ keyBits: proto.keyBits, bitwidth, maxClients: proto.numClients, signed: true });
  const scale = 2 ** frac;
  const lim = 2 ** (bitwidth - 1);
  const n = updates[0]!.length;
  const clients = updates.map((u, c) => () => {
    const f = w[c]! / W;
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const v = Math.round(u[i]! * f * scale);
      if (!(Math.abs(v) < lim)) throw new ValueOutOfRangeError(`${fn}: updates[${c}][${i}] = ${u[i]} does not fit ${precision} precision (|x·w/W| < 2^${bitwidth - 1 - frac})`);
      out[i] = v;
    }
    return out;
  });
  const before = proto.transport.stats();
  const { sums } = await proto.run(`secure-mean/${++meanCounter}`, packing, n, clients);
  const mean = new Float32Array(n);
  for (let i = 0; i < n; i++) mean[i] = Number(sums[i]!) / scale;
  const after = proto.transport.stats();
  const bytesPerPlayer: Record<string, number> = {};
  for (const [p, s] of Object.entries(after)) {
    const d = s.bytesSent - (before[p]?.bytesSent ?? 0);
    if (d > 0) bytesPerPlayer[p] = d;
  }
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
