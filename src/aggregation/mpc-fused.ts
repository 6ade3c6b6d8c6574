/**
 * mpcRoles' fused paths to SERVER with ABY3 (float sums and means; exact
 * integer sums, `fusedExactToServer` below). The float path, for sums and
 * means revealed to SERVER: one `ABY3.aggregateInto` (docs/encrypted.md) per aggregation, run by
 * every party of the plan as SPMD, instead of `encryptEncoded` + `addN` +
 * `revealRing` per leaf. A client shares one vector: its leaves one after the
 * other and, for a weighted mean, a final 1, all with its multiplier folded
 * into the encoding (1, 1/n, or its private weight w, so that the last
 * element encodes w itself).
 *
 *   client i    seed(r0)||seed(r1) to server0, x2 = encode(m_i x_i) - r0 - r1
 *               to server1 only (one share component uploaded, not two);
 *   server0     adds the expansions of the seeds; server1 adds the x2's; each
 *               sends its one sum to SERVER; server2 takes no part (no
 *               pairwise key is used: the instance sets none up);
 *   SERVER      decodes the two sums, splits the leaves (and the total
 *               weight W, by which it divides).
 *
 * The ring values are those of the generic path, element for element (the
 * fixed-point encoding of m_i x_i rounds x_i * (2^f m_i), and 1 * (2^f w) is
 * w * 2^f exactly; the same exact ring sum; the same decoding), so the result
 * is bit for bit the generic path's. What each party sees: server0 seeds
 * only; server1 each client's x2, uniform to it since it lacks r0; SERVER the
 * two sums (the value and a uniform mask).
 */
import type { Precision } from '../encrypted/fixed.js';
import type { ABY3 } from '../encrypted/protocols/aby3.js';
import type { AddNCollection } from '../encrypted/protocols/base.js';
import { RingArena } from '../encrypted/arena.js';
import type { Player } from '../encrypted/player.js';
import type { RingTensor } from '../ring/index.js';
import type { AggregationPlan } from './plan.js';
import type { AggregationResult } from './protocol.js';

/** What the fused path needs of a client's own input (from mpcRoles' checked OwnInput). */
export interface FusedInput {
  readonly index: number;
  /** Its leaves (float leaves only: the fused path takes no integer leaf). */
  readonly values: readonly (ArrayLike<number> | BigInt64Array)[];
  readonly multiplier: number;
  readonly weight?: number;
}

const FLOAT = new Set(['float32', 'float64']);

/**
 * Whether the plan takes the fused path: ABY3, target SERVER, a sum or mean
 * of float leaves only (a mean scaled by the owners, or weighted).
 */
export function fusedApplies(kind: string, scaling: string, plan: AggregationPlan): boolean {
  if (kind !== 'aby3' || plan.target !== 'SERVER') return false;
  const ok = plan.uri === 'federated_sum_at_aggregators' || plan.uri === 'federated_weighted_mean_at_aggregators' || (plan.uri === 'federated_mean_at_aggregators' && scaling === 'owners');
  return ok && plan.leaves.length > 0 && plan.leaves.every((l) => FLOAT.has(l.type.dtype));
}

/** The client's vector: its leaves one after the other (and a final 1 for a weighted mean); float32 when every leaf is. */
function concatenated(values: readonly (ArrayLike<number> | BigInt64Array)[], size: number, weighted: boolean): Float32Array | Float64Array {
  const f32 = values.every((v) => v instanceof Float32Array);
  const out = f32 ? new Float32Array(size) : new Float64Array(size);
  let at = 0;
  for (const v of values) {
    if (v instanceof BigInt64Array) for (let i = 0; i < v.length; i++) out[at + i] = Number(v[i]!);
    else out.set(v, at);
    at += v.length;
  }
  if (weighted) out[at] = 1;
  return out;
}

/**
 * The fused program at party `me` (every party of the plan runs it, making
 * the same calls in the same order). `own`: this party's input where it is
 * a client. `releaseGate`: an aggregator's (roles.ts), awaited before it
 * sends its sum to SERVER. `collect`: server0's and server1's dropout
 * tolerance (ABY3.aggregateInto). Resolves with the aggregate at SERVER, undefined
 * elsewhere.
 */
export async function fusedToServer(pr: ABY3, precision: Precision, plan: AggregationPlan, clients: readonly Player[], server: Player, me: string, own: FusedInput | undefined, releaseGate?: () => Promise<void>, collect?: AddNCollection): Promise<AggregationResult | undefined> {
  const receiving = plan.server === me;
  const weighted = plan.uri === 'federated_weighted_mean_at_aggregators';
  const size = plan.leaves.reduce((a, l) => a + l.size, 0) + (weighted ? 1 : 0);
  // pooled working memory: aggregateInto gives back only what never leaves this party (a client's own
  // expansions of its seeds, server0's expansions of the clients' seeds; an x2 only where its receiver has
  // added it); what it sends (x2, the sums) is never given back, so no pending message can see it reused.
  // No dispose(): the rest goes to the GC as before. Saves 2 of a client's 3 and 2n of server0's 2n+1
  // allocations of the vector's size per aggregation.
  const arena = new RingArena();
  // only where the client executes: its vector and multiplier (elsewhere not known, and not used)
  const inputs = clients.map((_, i) => (own !== undefined && own.index === i ? concatenated(own.values, size, weighted) : undefined));
  const multipliers = clients.map((_, i) => (own !== undefined && own.index === i ? (weighted ? own.weight! : own.multiplier) : 1));
  // SERVER's result: decoded straight into the leaves' float32 when every leaf is (the value a float64 decoding
  // would round to), a weighted mean divided by its total weight in the decoding's own multiplication
  const length = size - (weighted ? 1 : 0);
  const out = !receiving ? undefined : plan.leaves.every((l) => l.type.dtype === 'float32') ? new Float32Array(length) : new Float64Array(length);
  const divideByLast = (W: number): void => {
    if (!(W > 0)) throw new RangeError(`${me}: the weights of the weighted mean sum to ${W} in fixed point (precision '${precision}' resolves ${2 ** -pr.fixed.frac}); no mean`);
  };
  const sum = await pr.aggregateInto(clients, inputs, multipliers, server, out, { size, arena, ...(releaseGate === undefined ? {} : { releaseGate }), ...(collect === undefined ? {} : { collect }), ...(weighted ? { divideByLast } : {}) });
  if (!receiving) return undefined;
  const total = sum!;
  let at = 0;
  return {
    leaves: plan.leaves.map((leaf) => {
      const m = total.subarray(at, at + leaf.size);
      at += leaf.size;
      return m;
    }),
  };
}

/**
 * The exact fused path: ABY3, integer sums to SERVER, every leaf in one ring
 * (mpcRoles decides). A client shares one ring vector (its leaves one after
 * the other, `own.ring`) with `ABY3.aggregateRingInto`: its seeds to
 * server0, x2 = x - r0 - r1 to server1; SERVER adds the two sums and reads
 * each leaf's exact signed integers (int64 where every one fits, else
 * bigints), as the generic path's opening gives them. server2 takes no part.
 */
export async function fusedExactToServer(pr: ABY3, plan: AggregationPlan, clients: readonly Player[], server: Player, me: string, own: { index: number; ring: RingTensor } | undefined, releaseGate?: () => Promise<void>, collect?: AddNCollection): Promise<AggregationResult | undefined> {
  const size = plan.leaves.reduce((a, l) => a + l.size, 0);
  const inputs = clients.map((_, i) => (own !== undefined && own.index === i ? own.ring : undefined));
  const sum = await pr.aggregateRingInto(clients, inputs, server, { size, ...(releaseGate === undefined ? {} : { releaseGate }), ...(collect === undefined ? {} : { collect }) });
  if (plan.server !== me) return undefined;
  const ints = sum!.toSignedBigInts();
  let at = 0;
  return {
    leaves: plan.leaves.map((leaf) => {
      const v = ints.slice(at, at + leaf.size);
      at += leaf.size;
      return v.every((x) => x >= INT64_MIN && x <= INT64_MAX) ? BigInt64Array.from(v) : v;
    }),
  };
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
