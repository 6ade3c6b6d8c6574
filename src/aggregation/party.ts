/**
 * One party's role of a plan, as a process that runs it starts it (the remote
 * executor: a player's hosted clients and its aggregator party, the driver's
 * SERVER party).
 *
 *   prepareRole(transport, { roles, plan, role, index, input, policy })
 *       finds the party the plan names in `role` (at `index`), checks that
 *       this process runs it (`transport.isLocal`), gives it its own view of
 *       the transport (`partyTransport`) and runs the party's own checks
 *       (`enforcePlan`, and a client's `checkClientInput`); it sends nothing.
 *       Its `run()` then runs the role (which checks again, first thing).
 *
 * The two steps let a process check every party it runs, and the driver
 * its own role, before anything leaves it: a refusal is thrown by
 * `prepareRole`, never half-way through a protocol.
 */
import { PolicyError } from '../core/errors.js';
import type { Transport } from '../transport/channel.js';
import { partyTransport } from '../transport/view.js';
import { checkPlan, planFromBytes, type AggregationPlan } from './plan.js';
import type { AggregationResult } from './protocol.js';
import { checkClientInput, enforcePlan, type AggregationRoles, type ClientInput, type PartyContext, type RoleName, type RolePolicy } from './roles.js';

export interface PrepareRoleOptions {
  readonly roles: AggregationRoles;
  /** The plan, as received (bytes: parsed here) or parsed. */
  readonly plan: AggregationPlan | Uint8Array;
  readonly role: RoleName;
  /** client: its position in plan.clients; aggregator: its position in plan.aggregators (both required). */
  readonly index?: number;
  /** client: its own input. */
  readonly input?: ClientInput;
  /** This party's own rules. */
  readonly policy: RolePolicy;
  /** Deadline of every receive of the role, ms. */
  readonly timeoutMs?: number;
  /** An aggregator's release gate (roles.ts `PartyContext.releaseGate`). */
  readonly releaseGate?: (contributors?: readonly string[]) => Promise<void>;
  /** Dropout tolerance of a collecting party (roles.ts `PartyContext.collectMs`). */
  readonly collectMs?: number;
}

/** A party's role, checked and ready: nothing has been sent. */
export interface PreparedRole {
  readonly me: string;
  readonly role: RoleName;
  readonly index: number | undefined;
  readonly plan: AggregationPlan;
  /** Run the role; resolves with the aggregate where this party is a target. */
  run(): Promise<AggregationResult | undefined>;
}

const ROLE_NAMES: readonly RoleName[] = ['client', 'aggregator', 'server'];

function checkPolicy(fn: string, p: RolePolicy): RolePolicy {
  if (p === null || typeof p !== 'object') throw new TypeError(`${fn}: "policy" expected { minContributors, allowInsecure }`);
  if (typeof p.minContributors !== 'number' || !Number.isInteger(p.minContributors) || p.minContributors < 1) throw new RangeError(`${fn}: "policy.minContributors" expected an integer >= 1, got ${String(p.minContributors)}`);
  if (typeof p.allowInsecure !== 'boolean') throw new TypeError(`${fn}: "policy.allowInsecure" expected boolean, got ${typeof p.allowInsecure}`);
  return p;
}

function checkCollectMs(fn: string, ms: unknown): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new RangeError(`${fn}: "collectMs" expected a finite number of ms >= 0, got ${String(ms)}`);
  return ms;
}

/** Check one party's part in `plan` and prepare its role on `transport` (see the module doc). Throws PolicyError, RangeError or TypeError. */
export function prepareRole(transport: Transport, options: PrepareRoleOptions): PreparedRole {
  const fn = 'prepareRole';
  if (transport === null || typeof transport !== 'object' || typeof transport.send !== 'function') throw new TypeError(`${fn}: argument 'transport' must be a Transport`);
  if (options === null || typeof options !== 'object') throw new TypeError(`${fn}: "options" expected an object`);
  const { roles, role } = options;
  if (roles === null || typeof roles !== 'object' || typeof roles.client !== 'function') throw new TypeError(`${fn}: "roles" expected AggregationRoles`);
  if (!ROLE_NAMES.includes(role)) throw new RangeError(`${fn}: "role" expected one of ${ROLE_NAMES.join(', ')}, got ${JSON.stringify(role)}`);
  const policy = checkPolicy(fn, options.policy);
  const plan = options.plan instanceof Uint8Array ? planFromBytes(options.plan) : checkPlan(options.plan);
  let me: string;
  let index: number | undefined;
  if (role === 'server') me = plan.server;
  else {
    const names = role === 'client' ? plan.clients : plan.aggregators;
    index = options.index;
    if (index === undefined || !Number.isInteger(index) || index < 0 || index >= names.length) {
      throw new RangeError(`${fn}: "index" expected an integer in [0, ${names.length}) for role '${role}', got ${String(index)}`);
    }
    me = names[index]!;
  }
  if (!transport.isLocal(me)) {
    throw new PolicyError('roster', `the plan names '${me}' as its ${role}${index === undefined ? '' : ` ${index}`}, a party this process does not run`, { party: me });
  }
  const ctx: PartyContext = {
    me, transport: partyTransport(transport, me), policy,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.releaseGate === undefined ? {} : { releaseGate: options.releaseGate }),
    ...(options.collectMs === undefined ? {} : { collectMs: checkCollectMs(fn, options.collectMs) }),
  };
  enforcePlan(roles, ctx, plan, role, index);
  const input = options.input;
  if (role === 'client') {
    if (input === undefined) throw new TypeError(`${fn}: "input" expected the client's own input`);
    checkClientInput(me, plan, input);
  }
  const run = async (): Promise<AggregationResult | undefined> => {
    if (role === 'client') {
      await roles.client(ctx, plan, input!);
      return undefined;
    }
    return role === 'aggregator' ? roles.aggregator(ctx, plan, index!) : roles.server(ctx, plan);
  };
  return Object.freeze({ me, role, index, plan, run });
}
