/**
 * Any aggregation role set (`AggregationRoles`: SecAgg, a DP wrapper over
 * ABY3 / Pond / Paillier / SecAgg, ...) as the learning layer's `Aggregator`,
 * in one process: each `mean` is a `federatedMean` at SERVER run by
 * `localContext({ aggregation: rolesAsProtocol(roles) })`, so every party's
 * role runs on its own transport view of one MemoryHub (the same role code
 * as deployed). Weighted means pass each client's weight; `weighted: false`
 * runs the unweighted mean (DP-FedAvg: every clipped update counts the same,
 * and the role set decides the denominator).
 */
import { randomBytes } from 'node:crypto';
import type { AggregationProtocol } from '../aggregation/protocol.js';
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

type Run = (u: Float32Array[], w: number[]) => Promise<Float32Array>;

export function rolesAggregator(roles: AggregationRoles | ((n: number) => AggregationRoles | Promise<AggregationRoles>), options: RolesAggregatorOptions = {}): Aggregator {
  if (typeof roles !== 'function' && (roles === null || typeof roles !== 'object' || typeof (roles as AggregationRoles).client !== 'function')) {
    throw new TypeError('rolesAggregator: "roles" expected an AggregationRoles or a function of the client count returning one');
  }
  const weighted = options.weighted ?? true;
  const fixed = typeof roles === 'function' ? undefined : roles;
  let cached: { n: number; m: number; run: Run; close?: () => Promise<void> } | undefined;
  let lastBytes: Readonly<Record<string, number>> | undefined;
  const prefix = randomBytes(6).toString('hex');
  let count = 0;
  const name = options.name ?? fixed?.name ?? 'roles';
  return {
    name,
    secure: fixed?.secure ?? true,
    ...(options.description === undefined ? {} : { description: options.description }),
    async mean(updates, weights): Promise<AggregateResult> {
      checkMeanArgs(updates, weights);
      const n = updates.length;
      const m = updates[0]!.length;
      if (cached === undefined || cached.n !== n || cached.m !== m) {
        await cached?.close?.();
        const r = typeof roles === 'function' ? await roles(n) : roles;
        const core = await import('../core/index.js');
        const { localContext } = await import('../runtime/index.js');
        const { rolesAsProtocol } = await import('../aggregation/simulate.js');
        const inner = rolesAsProtocol(r, {
          ...(options.minContributors === undefined ? {} : { minContributors: options.minContributors }),
          ...(options.allowInsecure === undefined ? {} : { allowInsecure: options.allowInsecure }),
        });
        // every aggregation gets an id of its own across contexts (a fresh local context numbers from 1 again; SecAgg refuses a repeated round id)
        const aggregation: AggregationProtocol = {
          name: inner.name, secure: inner.secure, intrinsics: inner.intrinsics,
          aggregate: (req) => inner.aggregate({ ...req, invocationId: `${req.invocationId}#${prefix}.${count++}` }),
        };
        const ctx = localContext({ aggregation });
        const X = core.federated(core.tensor('float32', [m]), core.CLIENTS);
        const comp = weighted
          ? core.federatedComputation([X, core.federated(core.tensor('float32'), core.CLIENTS)], (x, w) => core.federatedMean(x, { weights: w }), { name: `${name}_weighted_mean` })
          : core.federatedComputation([X], (x) => core.federatedMean(x), { name: `${name}_mean` });
        cached = {
          n, m,
          run: async (u, w) => {
            const out = (await core.withContext(ctx, () => (weighted ? comp(u, w) : comp(u)))) as unknown;
            lastBytes = inner.lastBytesSent;
            return out instanceof Float32Array ? out : Float32Array.from(out as ArrayLike<number>);
          },
          ...(r.close ? { close: () => r.close!() } : {}),
        };
      }
      const mean = await cached.run([...updates], [...weights]);
      options.onResult?.({ clients: n });
      return { mean, bytesByRole: byRole(lastBytes) };
    },
    async close() {
      await cached?.close?.();
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
