/**
 * Aggregation roles across processes: one party's role on a player's
 * transport, a player's loop that takes plans from a driver, and the
 * driver's side.
 *
 *   runRole(transport, { roles, plan, role, index, input, policy })
 *       runs this party's role (aggregation/roles.ts) on its own view of the
 *       transport (`partyTransport`); the plan may come as bytes and is
 *       parsed here (`planFromBytes`); the role checks it against the
 *       party's policy (`enforcePlan`) before it sends anything.
 *   serveRoles(transport, { me, driver, protocols, policy, inputFor })
 *       a player's loop: plan n arrives from the driver under
 *       `fedcrypt/roles/plan/<n>`; the player finds its place in it, runs its
 *       role (several plans may run at once) and reports the outcome to the
 *       driver under `fedcrypt/roles/<invocationId>/report`: `{ ok: true }`,
 *       or a refusal (`rule`, message) or failure (its class only, see
 *       `reportText`). The driver's `end` message (`.../end`, `abort`
 *       true when a party failed) closes the plan: a role still waiting in
 *       it gives up at once (its receives fail).
 *   RoleDriver.run(roles, plan, { policy })
 *       the driver's side: checks its own role first, sends the plan (as
 *       bytes) to every other party, runs its own role when the plan names
 *       it, and waits for every report: the first refusal fails the run with
 *       the party's PolicyError (party and rule), any other failure with a
 *       RoleError naming the party; then it ends the plan at every party.
 *
 * The role code is the one the simulation runs (`simulateRoles`); only the
 * transport differs (gRPC between processes here).
 */
import type { ReceiveOptions, Transport } from '../transport/channel.js';
import { TransportError } from '../transport/errors.js';
import { partyTransport } from '../transport/view.js';
import { checkPlan, planFromBytes, planToBytes, type AggregationPlan } from '../aggregation/plan.js';
import type { AggregationResult } from '../aggregation/protocol.js';
import { enforcePlan, type AggregationRoles, type ClientInput, type PartyContext, type RoleName, type RolePolicy } from '../aggregation/roles.js';
import { isPolicyRule, PolicyError } from './policy.js';
import { reportText } from './training.js';

export const ROLES_KEY = 'fedcrypt/roles';
const enc = new TextEncoder();
const dec = new TextDecoder();
const json = (v: unknown): Uint8Array => enc.encode(JSON.stringify(v));

/** A party's failure (not a refusal by its policy), as the driver learns it. */
export class RoleError extends Error {
  override name = 'RoleError';
  constructor(message: string, readonly party: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

export interface RunRoleOptions {
  readonly roles: AggregationRoles;
  /** The plan, as received (bytes: parsed here) or parsed. */
  readonly plan: AggregationPlan | Uint8Array;
  readonly role: RoleName;
  /** aggregator: its position in plan.aggregators (required); client: its position in plan.clients (default: the client local to the transport). */
  readonly index?: number;
  /** client: its own input. */
  readonly input?: ClientInput;
  /** This party's own rules. */
  readonly policy: RolePolicy;
  /** Deadline of every receive of the role, ms. */
  readonly timeoutMs?: number;
}

const ROLE_NAMES: readonly RoleName[] = ['client', 'aggregator', 'server'];

function checkPolicy(fn: string, p: RolePolicy): RolePolicy {
  if (p === null || typeof p !== 'object') throw new TypeError(`${fn}: "policy" expected { minContributors, allowInsecure }`);
  if (typeof p.minContributors !== 'number' || !Number.isInteger(p.minContributors) || p.minContributors < 1) throw new RangeError(`${fn}: "policy.minContributors" expected an integer >= 1, got ${String(p.minContributors)}`);
  if (typeof p.allowInsecure !== 'boolean') throw new TypeError(`${fn}: "policy.allowInsecure" expected boolean, got ${typeof p.allowInsecure}`);
  return p;
}

/** The party the plan names in `role` (at `index`) that this transport hosts. */
function partyOf(transport: Transport, plan: AggregationPlan, role: RoleName, index: number | undefined): { me: string; index: number | undefined } {
  if (role === 'server') return { me: plan.server, index: undefined };
  const names = role === 'client' ? plan.clients : plan.aggregators;
  if (index === undefined && role === 'client') {
    const local = names.filter((c) => transport.isLocal(c));
    if (local.length !== 1) throw new RangeError(`runRole: ${local.length} clients of the plan are local to this transport; pass "index"`);
    return { me: local[0]!, index: names.indexOf(local[0]!) };
  }
  if (index === undefined || !Number.isInteger(index) || index < 0 || index >= names.length) {
    throw new RangeError(`runRole: "index" expected an integer in [0, ${names.length}) for role '${role}', got ${String(index)}`);
  }
  return { me: names[index]!, index };
}

/** Run one party's role of `plan` on `transport` (see the module doc). Resolves with the aggregate where this party is a target. */
export async function runRole(transport: Transport, options: RunRoleOptions): Promise<AggregationResult | undefined> {
  const fn = 'runRole';
  if (transport === null || typeof transport !== 'object' || typeof transport.send !== 'function') throw new TypeError(`${fn}: argument 'transport' must be a Transport`);
  if (options === null || typeof options !== 'object') throw new TypeError(`${fn}: "options" expected an object`);
  const { roles, role } = options;
  if (roles === null || typeof roles !== 'object' || typeof roles.client !== 'function') throw new TypeError(`${fn}: "roles" expected AggregationRoles`);
  if (!ROLE_NAMES.includes(role)) throw new RangeError(`${fn}: "role" expected one of ${ROLE_NAMES.join(', ')}, got ${JSON.stringify(role)}`);
  const policy = checkPolicy(fn, options.policy);
  const plan = options.plan instanceof Uint8Array ? planFromBytes(options.plan) : checkPlan(options.plan);
  const { me, index } = partyOf(transport, plan, role, options.index);
  if (!transport.isLocal(me)) {
    throw new PolicyError('roster', `the plan names '${me}' as its ${role}${index === undefined ? '' : ` ${index}`}, a party this process does not run`, { party: me });
  }
  const ctx: PartyContext = { me, transport: partyTransport(transport, me), policy, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) };
  if (role === 'client') {
    if (options.input === undefined) throw new TypeError(`${fn}: "input" expected the client's own input`);
    await roles.client(ctx, plan, options.input);
    return undefined;
  }
  return role === 'aggregator' ? roles.aggregator(ctx, plan, index!) : roles.server(ctx, plan);
}

/** `t`, with every receive failing once `ended` settles (a role waiting on a party that failed gives up at once). */
function endable(t: Transport, ended: Promise<unknown>, why: string): Transport {
  const stop = ended.then(
    () => Promise.reject(new TransportError(why)),
    () => Promise.reject(new TransportError(why)),
  );
  stop.catch(() => {});
  return new Proxy(t, {
    get(target, prop, receiver) {
      if (prop === 'receive') return (to: string, from: string, key: string, o?: ReceiveOptions) => Promise.race([target.receive(to, from, key, o), stop]);
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** A message a party's role sent or received (for tests and audits: what each party holds). */
export interface ObservedMessage {
  readonly invocationId: string;
  readonly direction: 'sent' | 'received';
  readonly from: string;
  readonly to: string;
  readonly key: string;
  readonly payload: Uint8Array;
}

/** `t`, reporting every message the role of plan `invocationId` sends and receives. */
function observed(t: Transport, invocationId: string, observe: ((m: ObservedMessage) => void) | undefined): Transport {
  if (observe === undefined) return t;
  return new Proxy(t, {
    get(target, prop, receiver) {
      if (prop === 'send') {
        return (from: string, to: string, key: string, payload: Uint8Array) => {
          observe({ invocationId, direction: 'sent', from, to, key, payload });
          return target.send(from, to, key, payload);
        };
      }
      if (prop === 'receive') {
        return async (to: string, from: string, key: string, o?: ReceiveOptions) => {
          const payload = await target.receive(to, from, key, o);
          observe({ invocationId, direction: 'received', from, to, key, payload });
          return payload;
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** Where the plan names `me`. */
export function placeIn(plan: AggregationPlan, me: string): { role: RoleName; index?: number } | undefined {
  if (plan.server === me) return { role: 'server' };
  const a = plan.aggregators.indexOf(me);
  if (a >= 0) return { role: 'aggregator', index: a };
  const c = plan.clients.indexOf(me);
  return c >= 0 ? { role: 'client', index: c } : undefined;
}

/** A report from a party to the driver. */
interface Report {
  ok: boolean;
  rule?: string;
  error?: string;
}

/** What a player did with one plan. */
export interface RoleOutcome {
  /** Sequence number of the plan from this driver. */
  readonly seq: number;
  readonly plan?: AggregationPlan;
  readonly role?: RoleName;
  readonly index?: number;
  /** The aggregate, where this party is a target. */
  readonly result?: AggregationResult;
  /** The refusal or failure of this party. */
  readonly error?: unknown;
  /** The driver ended the plan before this party's role finished (another party failed). */
  readonly aborted?: boolean;
}

export interface ServeRolesOptions {
  /** This player's name. */
  readonly me: string;
  /** The only party this player takes plans from. */
  readonly driver: string;
  /** The protocols this player runs (a plan naming another one is refused). */
  readonly protocols: readonly AggregationRoles[];
  readonly policy: RolePolicy;
  /** A client's own input for a plan. */
  readonly inputFor?: (plan: AggregationPlan) => ClientInput | Promise<ClientInput>;
  /** Receive deadline of the roles, ms; the driver's `end` is awaited at most 2x this plus a minute (default 10 minutes). */
  readonly timeoutMs?: number;
  /** Called once per plan, after the driver ended it. */
  readonly onOutcome?: (o: RoleOutcome) => void;
  /** Sees every message this player's roles send and receive. */
  readonly observe?: (m: ObservedMessage) => void;
}

/** The part of `serveRoles` for one plan. */
async function servePlan(transport: Transport, o: ServeRolesOptions, seq: number, bytes: Uint8Array, timeoutMs: number): Promise<RoleOutcome> {
  const { me, driver } = o;
  let plan: AggregationPlan;
  try {
    plan = planFromBytes(bytes);
  } catch (error) {
    // no invocation id to answer under: the driver learns it from its own deadline; this player logs it
    return { seq, error };
  }
  const key = `${ROLES_KEY}/${plan.invocationId}`;
  const end = transport.receive(me, driver, `${key}/end`, { timeoutMs: 2 * timeoutMs + 60_000 }).then((b) => JSON.parse(dec.decode(b)) as { abort?: boolean });
  end.catch(() => {});
  const place = placeIn(plan, me);
  const work = (async () => {
    const roles = o.protocols.find((r) => r.name === plan.protocol);
    if (roles === undefined) throw new PolicyError('protocol', `plan asks for protocol '${plan.protocol}', this player runs ${o.protocols.map((r) => r.name).join(', ') || 'none'}`, { party: me });
    if (place === undefined) throw new PolicyError('roster', 'the plan does not name this party', { party: me });
    // a client refuses before it computes or asks for its input (the role checks again before it sends)
    if (place.role === 'client') enforcePlan(roles, { me, transport: partyTransport(transport, me), policy: o.policy }, plan, 'client', place.index);
    const input = place.role === 'client' ? await (o.inputFor ?? (() => Promise.reject(new TypeError(`${me}: no input for a client role`))))(plan) : undefined;
    // observed inside endable: a message that arrives for a receive the end cut short is still seen
    const view = endable(observed(transport, plan.invocationId, o.observe), end, `${me}: the driver ended plan ${plan.invocationId}`);
    return runRole(view, { roles, plan, role: place.role, ...(place.index === undefined ? {} : { index: place.index }), ...(input === undefined ? {} : { input }), policy: o.policy, timeoutMs });
  })();
  const ended = { ended: true } as const;
  const first = await Promise.race([work.then((r) => ({ r }), (error: unknown) => ({ error })), end.then(() => ended, () => ended)]);
  const base = { seq, plan, ...(place ?? {}) };
  if ('ended' in first) {
    work.catch(() => {}); // its receives fail now (endable)
    return { ...base, aborted: true };
  }
  const report: Report = 'error' in first ? { ok: false, ...(first.error instanceof PolicyError ? { rule: first.error.rule } : {}), error: reportText(first.error, me) } : { ok: true };
  await transport.send(me, driver, `${key}/report`, json(report)).catch(() => {});
  await end.catch(() => undefined);
  return 'error' in first ? { ...base, error: first.error } : { ...base, ...(first.r === undefined ? {} : { result: first.r }) };
}

/**
 * A player's loop: take plan after plan from the driver and run this
 * player's role in each. Resolves when the transport closes.
 */
export async function serveRoles(transport: Transport, options: ServeRolesOptions): Promise<void> {
  const fn = 'serveRoles';
  if (options === null || typeof options !== 'object') throw new TypeError(`${fn}: "options" expected an object`);
  for (const k of ['me', 'driver'] as const) if (typeof options[k] !== 'string' || options[k] === '') throw new TypeError(`${fn}: "${k}" expected a party name`);
  if (!Array.isArray(options.protocols)) throw new TypeError(`${fn}: "protocols" expected an array of AggregationRoles`);
  checkPolicy(fn, options.policy);
  const timeoutMs = options.timeoutMs ?? 600_000;
  const running = new Set<Promise<void>>();
  for (let seq = 0; ; seq++) {
    let bytes: Uint8Array;
    try {
      bytes = await transport.receive(options.me, options.driver, `${ROLES_KEY}/plan/${seq}`);
    } catch {
      break; // the transport closed
    }
    const p: Promise<void> = servePlan(transport, options, seq, bytes, timeoutMs)
      .then((out) => options.onOutcome?.(out))
      .finally(() => running.delete(p));
    running.add(p);
  }
  await Promise.allSettled([...running]);
}

export interface DriveOptions {
  /** The driver's own rules (for its own role, when the plan names it). */
  readonly policy: RolePolicy;
  /** Deadline of the roles' receives, ms (default 10 minutes); a party's report is awaited that long plus a minute. */
  readonly timeoutMs?: number;
  /** Sees every message the driver's own role sends and receives. */
  readonly observe?: (m: ObservedMessage) => void;
}

export interface DriveResult {
  /** The driver's own role's result (the aggregate when it is the SERVER target). */
  readonly result?: AggregationResult;
}

/** The driver's side of `serveRoles`: one transport, one party name (usually the plan's SERVER). */
export class RoleDriver {
  readonly #seq = new Map<string, number>();
  constructor(readonly transport: Transport, readonly me: string) {
    if (transport === null || typeof transport !== 'object' || typeof transport.send !== 'function') throw new TypeError(`RoleDriver: argument 'transport' must be a Transport`);
    if (typeof me !== 'string' || !transport.isLocal(me)) throw new TypeError(`RoleDriver: argument 'me' must name a party local to the transport`);
  }

  /** Run `plan` at every party it names; see the module doc. */
  async run(roles: AggregationRoles, plan: AggregationPlan, options: DriveOptions): Promise<DriveResult> {
    plan = checkPlan(plan);
    const policy = checkPolicy('RoleDriver.run', options.policy);
    const timeoutMs = options.timeoutMs ?? 600_000;
    const { transport, me } = this;
    const own = placeIn(plan, me);
    if (own !== undefined) {
      if (own.role === 'client') throw new RangeError(`RoleDriver.run: the driver '${me}' cannot be a client of the plan (it has no input)`);
      // refuse before anything leaves this party
      enforcePlan(roles, { me, transport: partyTransport(transport, me), policy }, plan, own.role, own.index);
    }
    const parties = [plan.server, ...plan.aggregators, ...plan.clients].filter((p) => p !== me);
    const key = `${ROLES_KEY}/${plan.invocationId}`;
    const bytes = planToBytes(plan);
    const sent = await Promise.allSettled(parties.map((p) => {
      const seq = this.#seq.get(p) ?? 0;
      this.#seq.set(p, seq + 1);
      return transport.send(me, p, `${ROLES_KEY}/plan/${seq}`, bytes);
    }));
    let failure: Error | undefined;
    sent.forEach((s, i) => {
      if (s.status === 'rejected') failure ??= new RoleError(`cannot send the plan to '${parties[i]!}': ${(s.reason as Error).message}`, parties[i]!, s.reason);
    });
    let result: AggregationResult | undefined;
    let fail!: () => void;
    const failed = new Promise<void>((r) => (fail = r));
    if (failure === undefined) {
      const reports = parties.map((p) =>
        transport.receive(me, p, `${key}/report`, { timeoutMs: timeoutMs + 60_000 }).then(
          (b) => {
            let r: Report;
            try {
              r = JSON.parse(dec.decode(b)) as Report;
            } catch {
              throw new RoleError(`party '${p}' sent a malformed report`, p);
            }
            if (r.ok === true) return;
            const why = typeof r.error === 'string' ? r.error.slice(0, 2000) : 'failed';
            if (isPolicyRule(r.rule)) throw new PolicyError(r.rule, why.replace(/^.*?policy "[A-Za-z]+" refuses: /, ''), { party: p });
            throw new RoleError(`party '${p}' failed: ${why}`, p);
          },
          (e: Error) => {
            throw e instanceof RoleError || e instanceof PolicyError ? e : new RoleError(`no report from party '${p}': ${e.message}`, p, e);
          },
        ),
      );
      const mine =
        own === undefined
          ? Promise.resolve(undefined)
          : runRole(endable(observed(transport, plan.invocationId, options.observe), failed, `${me}: plan ${plan.invocationId} failed at another party`), { roles, plan, role: own.role, ...(own.index === undefined ? {} : { index: own.index }), policy, timeoutMs }).catch((e: unknown) => {
              throw e instanceof PolicyError ? e : new RoleError(`the driver's own role failed: ${(e as Error).message}`, me, e);
            });
      try {
        [result] = await Promise.all([mine, ...reports]);
      } catch (e) {
        failure = e as Error;
        reports.forEach((r) => r.catch(() => {}));
        mine.catch(() => {});
        fail(); // the driver's own role stops waiting
      }
    }
    // end the plan at every party that has it (a party still waiting on one that failed gives up)
    const end = json(failure === undefined ? { abort: false } : { abort: true });
    await Promise.allSettled(parties.filter((_, i) => sent[i]!.status === 'fulfilled').map((p) => transport.send(me, p, `${key}/end`, end)));
    if (failure !== undefined) throw failure;
    return result === undefined ? {} : { result };
  }
}
