/**
 * Any aggregation role set (`AggregationRoles`: SecAgg, a DP wrapper over
 * ABY3 / Pond / Paillier / SecAgg, ...) as the learning layer's `Aggregator`,
 * in one process: each `mean` is one plan (uri federated_[weighted_]mean_at_aggregators,
 * target SERVER, as a federatedMean at SERVER run by the protocol in a remote
 * context) run by `simulateRoles`, so every party's role runs on its own
 * transport view of one MemoryHub (the same role code as deployed). (A
 * federatedMean at SERVER in a local context would be computed by the
 * runtime in the clear, never by the role set.) Weighted means pass each client's weight; `weighted: false`
 * runs the unweighted mean (DP-FedAvg: every clipped update counts the same,
 * and the role set decides the denominator).
 */
import { randomBytes } from 'node:crypto';
import type { AggregationRoles } from '../aggregation/roles.js';
import { type Aggregator, type AggregateResult, checkMeanArgs } from './aggregator.js';

export interface RolesAggregatorOptions {
  /** Name for reports (default the role set's). */
  name?: string;
  /** Human-readable description for the CLI and the report. */
  description?: string;
  /** Weighted mean (default) or the unweighted mean (each client's weight ignored). */
  weighted?: boolean;
  /** The parties' minimum of contributors (default the context's). */
  minContributors?: number;
  /** INSECURE role sets (the reference) only: every simulated party opts in to values in the clear. */
  allowInsecure?: boolean;
  /** Called with each mean's role set result extras (e.g. a DP wrapper's counters), if the protocol reports them. */
  onResult?: (info: { clients: number }) => void;
}

export function rolesAggregator(roles: AggregationRoles | ((n: number) => AggregationRoles | Promise<AggregationRoles>), options: RolesAggregatorOptions = {}): Aggregator {
  if (typeof roles !== 'function' && (roles === null || typeof roles !== 'object' || typeof (roles as AggregationRoles).client !== 'function')) {
    throw new TypeError('rolesAggregator: "roles" expected an AggregationRoles or a function of the client count returning one');
  }
  const weighted = options.weighted ?? true;
  const fixed = typeof roles === 'function' ? undefined : roles;
  let cached: { n: number; roles: AggregationRoles } | undefined;
  const prefix = randomBytes(6).toString('hex');
  let count = 0;
  const name = options.name ?? fixed?.name ?? 'roles';
  const uri = weighted ? 'federated_weighted_mean_at_aggregators' : 'federated_mean_at_aggregators';
  const policy = Object.freeze({ minContributors: options.minContributors ?? 1, allowInsecure: options.allowInsecure ?? false });
  return {
    name,
    secure: fixed?.secure ?? true,
    ...(options.description === undefined ? {} : { description: options.description }),
    async mean(updates, weights): Promise<AggregateResult> {
      checkMeanArgs(updates, weights);
      const n = updates.length;
      const m = updates[0]!.length;
      if (fixed === undefined && (cached === undefined || cached.n !== n)) {
        await cached?.roles.close?.();
        cached = { n, roles: await (roles as (n: number) => AggregationRoles | Promise<AggregationRoles>)(n) };
      }
      const r = fixed ?? cached!.roles;
      if (!r.intrinsics.includes(uri)) throw new RangeError(`rolesAggregator: '${r.name}' does not run ${uri}${weighted ? ' (a weighted mean; DP role sets take { weighted: false })' : ''}`);
      const [{ simulateRoles }, { checkPlan }, { TensorType }] = await Promise.all([import('../aggregation/simulate.js'), import('../aggregation/plan.js'), import('../core/types.js')]);
      // every aggregation gets an id of its own (SecAgg refuses a repeated round id)
      const plan = checkPlan({
        protocol: r.name, invocationId: `roles-agg.${prefix}.${count++}`, uri, target: 'SERVER',
        leaves: [{ path: '', type: new TensorType('float32', [m]), size: m }],
        clients: updates.map((_, i) => `client-${i}`), aggregators: r.aggregatorNames, server: 'server', params: r.params,
      });
      const inputs = updates.map((u, i) => (weighted ? { values: [u], weight: weights[i]! } : { values: [u] }));
      const res = await simulateRoles(r, plan, inputs, { policy });
      const out = res.result.leaves[0];
      const mean = out instanceof Float32Array ? out : Float32Array.from(out as ArrayLike<number>, Number);
      options.onResult?.({ clients: n });
      return { mean, bytesByRole: byRole(res.bytesSent) };
    },
    async close() {
      await (fixed ?? cached?.roles)?.close?.();
      cached = undefined;
    },
  };
}

/** Bytes sent per simulated party, the clients summed as 'data-owners' (the report's roles). */
function byRole(sent: Readonly<Record<string, number>> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [party, b] of Object.entries(sent ?? {})) {
    const role = party.startsWith('client-') ? 'data-owners' : party;
    out[role] = (out[role] ?? 0) + b;
  }
  return out;
}
