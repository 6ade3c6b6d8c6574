/**
 * SecAgg (Bonawitz et al., CCS'17) and SecAgg+ (Bell et al., CCS'20) as a
 * role set of the per-party-role design (roles.ts): many clients, one
 * SERVER, no aggregator parties. The aggregate goes to SERVER only.
 *
 *   secAggRoles(options)  the roles: `client` (secagg-client.ts), `server`
 *                         (secagg-server.ts); `aggregator` refuses (none);
 *   secAgg(options)       the same as an AggregationProtocol for
 *                         `localContext({ aggregation })` (simulated in this
 *                         process, simulate.ts).
 *
 * Intrinsics: federated_secure_sum, and federated_sum / federated_mean /
 * weighted mean with target SERVER (the remote context runs
 * `federatedSum(..., { placement: AGGREGATORS })` followed by its transfer
 * to SERVER as a plan with target SERVER; a plan with target AGGREGATORS is
 * refused by every party, PolicyError 'protocol'). In `secAgg`'s local
 * simulation a request to AGGREGATORS runs with target SERVER: SecAgg has
 * no aggregator to hold it, and SERVER learns the aggregate.
 *
 * The public parameters (graph, k, threshold, adversary, corruptionRate,
 * dropoutRate, modulusBits, fracBits, floatBits) are in every plan;
 * `enforcePlan` makes every party compare them with its own, and each party
 * derives n, the graph and t from the plan (secagg-setup.ts). Each party
 * remembers the aggregations (invocation ids) it took part in and refuses a
 * repeated one (rule 'repeated-round').
 */
import { randomBytes } from 'node:crypto';
import { PolicyError } from '../core/errors.js';
import { SERVER } from '../core/placements.js';
import { LagrangeCache } from '../crypto/shamir.js';
import type { AggregationProtocol, AggregationRequest, AggregationResult } from './protocol.js';
import type { AggregationRoles } from './roles.js';
import { rolesAsProtocol, type RolesAsProtocolOptions } from './simulate.js';
import { secAggClient } from './secagg-client.js';
import { clampSecAggInput } from './secagg-encoding.js';
import { secAggServer, type SecAggResult, type SecAggServerHost } from './secagg-server.js';
import { SECAGG_INTRINSICS, secAggParams, type SecAggOptions, type SecAggParams } from './secagg-setup.js';

export interface SecAggRoles extends AggregationRoles {
  readonly params: SecAggParams;
  server(ctx: Parameters<AggregationRoles['server']>[0], plan: Parameters<AggregationRoles['server']>[1]): Promise<SecAggResult>;
}

/** Most invocation ids a party remembers (the oldest are forgotten first). */
const MAX_REMEMBERED = 1 << 16;

export function secAggRoles(options: SecAggOptions = {}): SecAggRoles {
  const { params, roundTimeoutMs, signing } = secAggParams(options, 'secAggRoles');
  const seen = new Map<string, Set<string>>();
  const host: SecAggServerHost = {
    get roles() {
      return self;
    },
    params,
    roundTimeoutMs,
    signing,
    lagrange: new LagrangeCache(),
    claimRound(me: string, invocationId: string): boolean {
      let s = seen.get(me);
      if (s === undefined) seen.set(me, (s = new Set()));
      if (s.has(invocationId)) return false;
      s.add(invocationId);
      if (s.size > MAX_REMEMBERED) s.delete(s.values().next().value!);
      return true;
    },
  };
  const self: SecAggRoles = Object.freeze<SecAggRoles>({
    name: 'secagg',
    secure: true,
    intrinsics: SECAGG_INTRINSICS,
    aggregatorCount: 0,
    aggregatorNames: Object.freeze([]) as readonly string[],
    params,
    clamp: (plan, input) => clampSecAggInput(plan, params, input),
    client: (ctx, plan, input) => secAggClient(host, ctx, plan, input),
    aggregator: async (ctx) => {
      throw new PolicyError('roster', 'secagg has no aggregator parties', { party: ctx.me });
    },
    server: (ctx, plan) => secAggServer(host, ctx, plan),
  });
  return self;
}

/**
 * SecAgg as an AggregationProtocol for `localContext({ aggregation })`: each
 * request runs every role in this process (simulateRoles); a request to
 * AGGREGATORS runs with target SERVER (see the module comment). Each request
 * gets a fresh round id (the context's invocation id, a random prefix and a
 * counter): contexts number their aggregations from 1, and a client refuses
 * a round id it has seen.
 */
export function secAgg(options: SecAggOptions = {}, simulation: RolesAsProtocolOptions = {}): AggregationProtocol {
  const roles = secAggRoles(options);
  const inner = rolesAsProtocol(roles, simulation);
  // a local context numbers its aggregations from 1: each simulated round gets a fresh id of its own
  const prefix = randomBytes(6).toString('hex');
  let count = 0;
  return Object.freeze({
    name: inner.name,
    secure: true,
    intrinsics: inner.intrinsics,
    aggregate(req: AggregationRequest): Promise<AggregationResult> {
      const fresh = { ...req, invocationId: `${req.invocationId}#${prefix}.${count++}` };
      return inner.aggregate(req.target.name === 'AGGREGATORS' ? { ...fresh, target: SERVER } : fresh);
    },
  });
}
