/**
 * The aggregation interface the learning layer talks to, its plaintext
 * baseline, and the checks every owner's update goes through first.
 *
 * Secure implementations (ABY3 / Pond / Paillier) live in the aggregation
 * layer; `secure-aggregators.ts` adapts them to this interface. Dependencies
 * point one way: learning → aggregation/encrypted.
 */

export interface AggregateResult {
  /** The weighted mean: the only thing that reaches the model owner. */
  mean: Float32Array;
  /** Bytes sent by each role during this aggregation (data owners, compute servers, ...). */
  bytesByRole: Record<string, number>;
}

export interface Aggregator {
  readonly name: string;
  readonly secure: boolean;
  /** Human-readable description printed by the CLI and the report. */
  readonly description?: string;
  /** Weighted mean of per-owner flat updates (all the same length). */
  mean(updates: readonly Float32Array[], weights: readonly number[], owners?: readonly string[]): Promise<AggregateResult>;
  /** Release resources (workers, transports). */
  close?(): Promise<void>;
}

/** An owner's update was rejected (NaN/Infinity or wrong shape); names the owner. */
export class BadUpdateError extends Error {
  override name = 'BadUpdateError';
  constructor(readonly owner: string, readonly reason: string) {
    super(`update from data owner "${owner}" rejected: ${reason}`);
  }
}

/**
 * Check one owner's update: a Float32Array of the expected length whose
 * entries are all finite. Throws BadUpdateError naming the owner.
 */
export function validateUpdate(owner: string, update: unknown, expectedLength: number): asserts update is Float32Array {
  if (!(update instanceof Float32Array)) {
    throw new BadUpdateError(owner, `expected Float32Array, got ${update === null ? 'null' : typeof update === 'object' ? Object.prototype.toString.call(update) : typeof update}`);
  }
  if (update.length !== expectedLength) throw new BadUpdateError(owner, `wrong shape: expected ${expectedLength} values, got ${update.length}`);
  for (let i = 0; i < update.length; i++) {
    const v = update[i]!;
    // v - v is NaN for both NaN and ±Infinity
    if (v - v !== 0) throw new BadUpdateError(owner, `non-finite value ${v} at index ${i}`);
  }
}

/** Check the arguments of `Aggregator.mean` (shared by every implementation). */
export function checkMeanArgs(updates: readonly Float32Array[], weights: readonly number[]): number {
  if (!Array.isArray(updates)) throw new TypeError(`"updates" expected array of Float32Array, got ${typeof updates}`);
  if (updates.length === 0) throw new RangeError('"updates" expected at least one update, got 0');
  if (!Array.isArray(weights)) throw new TypeError(`"weights" expected array of numbers, got ${typeof weights}`);
  if (weights.length !== updates.length) throw new RangeError(`"weights" expected ${updates.length} entries (one per update), got ${weights.length}`);
  const n = updates[0]?.length ?? 0;
  updates.forEach((u, i) => {
    if (!(u instanceof Float32Array)) throw new TypeError(`"updates[${i}]" expected Float32Array, got ${typeof u}`);
    if (u.length !== n) throw new RangeError(`"updates[${i}]" expected length ${n}, got ${u.length}`);
  });
  let total = 0;
  weights.forEach((w, i) => {
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) throw new RangeError(`"weights[${i}]" expected finite number >= 0, got ${String(w)}`);
    total += w;
  });
  if (!(total > 0)) throw new RangeError('"weights" expected a positive sum, got 0');
  return n;
}

/**
 * Weighted mean, accumulated in float64 block by block (4096 values) and
 * written into one fresh Float32Array: the only model-sized allocation.
 */
export function weightedMeanPlain(updates: readonly Float32Array[], weights: readonly number[]): Float32Array {
  const n = checkMeanArgs(updates, weights);
  const total = weights.reduce((a, b) => a + b, 0);
  const ws = weights.map((w) => w / total);
  const out = new Float32Array(n);
  const B = 4096;
  const acc = new Float64Array(B);
  for (let s = 0; s < n; s += B) {
    const e = Math.min(n, s + B);
    acc.fill(0);
    for (let k = 0; k < updates.length; k++) {
      const u = updates[k]!;
      const w = ws[k]!;
      for (let i = s; i < e; i++) acc[i - s] += w * u[i]!;
    }
    for (let i = s; i < e; i++) out[i] = acc[i - s]!;
  }
  return out;
}

export const PLAINTEXT_DESCRIPTION = 'plaintext aggregation (baseline, NOT secure)';

/**
 * The baseline: the aggregator sees every owner's update in the clear.
 * Bytes: each owner sends 4 bytes per value to the aggregator, which sends
 * the mean (4 bytes per value) to the model owner.
 */
export function plaintextAggregator(ownerNames?: readonly string[]): Aggregator {
  return {
    name: 'plaintext',
    secure: false,
    description: PLAINTEXT_DESCRIPTION,
    async mean(updates, weights, owners) {
      const mean = weightedMeanPlain(updates, weights);
      const names = owners && owners.length === updates.length ? owners : ownerNames && ownerNames.length === updates.length ? ownerNames : undefined;
      const bytesByRole: Record<string, number> = {};
      updates.forEach((u, i) => { bytesByRole[names?.[i] ?? `data-owner-${i}`] = u.length * 4; });
      bytesByRole['aggregator'] = mean.length * 4;
      return { mean, bytesByRole };
    },
  };
}
