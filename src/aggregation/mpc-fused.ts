/**
 * mpcRoles' fused path for float sums and means revealed to SERVER with
 * ABY3: each leaf (and, for a weighted mean, the weight) is one
 * `ABY3.aggregateInto` (docs/encrypted.md), run by every party of the plan
 * as SPMD, instead of `encryptEncoded` + `addN` + `revealRing`.
 *
 *   client i    seed(r0)||seed(r1) to server0, x2 = encode(m_i x_i) - r0 - r1
 *               to server1 only (one share component uploaded, not two);
 *   server0     adds the expansions of the seeds; server1 adds the x2's; each
 *               sends its one sum to SERVER; server2 takes no part (it only
 *               runs the protocol instance's key set-up);
 *   SERVER      decodes the two sums (and divides by the opened total weight).
 *
 * The ring values are those of the generic path, element for element (the
 * same fixed-point encoding of m_i x_i, the same exact ring sum, the same
 * decoding), so the result is bit for bit the generic path's. What each party
 * sees: server0 seeds only; server1 each client's x2, uniform to it since it
 * lacks r0; SERVER the two sums (the value and a uniform mask).
 */
import type { Precision } from '../encrypted/fixed.js';
import type { ABY3 } from '../encrypted/protocols/aby3.js';
import { RingArena } from '../encrypted/arena.js';
import type { Player } from '../encrypted/player.js';
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

const floats = (v: ArrayLike<number> | BigInt64Array): Float32Array | Float64Array => (v instanceof Float32Array || v instanceof Float64Array ? v : Float64Array.from(v as ArrayLike<number>, Number));

/**
 * The fused program at party `me` (every party of the plan runs it, making
 * the same calls in the same order). `own`: this party's input where it is
 * a client. Resolves with the aggregate at SERVER, undefined elsewhere.
 */
export async function fusedToServer(pr: ABY3, precision: Precision, plan: AggregationPlan, clients: readonly Player[], server: Player, me: string, own: FusedInput | undefined): Promise<AggregationResult | undefined> {
  const receiving = plan.server === me;
  const weighted = plan.uri === 'federated_weighted_mean_at_aggregators';
  const arena = new RingArena({ pooled: false });
  const inputs = (value: (o: FusedInput) => Float32Array | Float64Array): (Float32Array | Float64Array | undefined)[] => clients.map((_, i) => (own !== undefined && own.index === i ? value(own) : undefined));
  // the multiplier matters only where the client executes (elsewhere it is not known, and not used)
  const multipliers = (m: (o: FusedInput) => number): number[] => clients.map((_, i) => (own !== undefined && own.index === i ? m(own) : 1));
  // one aggregateInto per weight and leaf, in the same order at every party (op numbers agree)
  const total = weighted
    ? pr.aggregateInto(clients, inputs((o) => Float64Array.of(o.weight!)), multipliers(() => 1), server, receiving ? new Float64Array(1) : undefined, { size: 1, arena })
    : undefined;
  const sums = plan.leaves.map((leaf, j) => pr.aggregateInto(clients, inputs((o) => floats(o.values[j]!)), multipliers((o) => o.multiplier), server, receiving ? new Float64Array(leaf.size) : undefined, { size: leaf.size, arena }));
  // keep a failure of one for the await below (no unhandled rejection while another is pending)
  total?.catch(() => undefined);
  sums.forEach((p) => p.catch(() => undefined));
  const [w, ...leaves] = await Promise.all([total, ...sums]);
  if (!receiving) return undefined;
  if (!weighted) return { leaves: leaves.map((v) => v!) };
  const W = w![0]!;
  if (!(W > 0)) throw new RangeError(`${me}: the weights of the weighted mean sum to ${W} in fixed point (precision '${precision}' resolves ${2 ** -pr.fixed.frac}); no mean`);
  return {
    leaves: leaves.map((v) => {
      const m = v!;
      for (let i = 0; i < m.length; i++) m[i]! /= W;
      return m;
    }),
  };
}
