/**
 * A role set that wraps another (`AggregationRoles`, aggregation/roles.ts)
 * with a public transform: the machinery of distributed DP (each client
 * rotates, clips, quantizes and noises its own update before a secure sum;
 * the target decodes) and of central DP (clients clip and may add a leaf;
 * the target adds noise and rescales).
 *
 *   outer plan   names the wrapper (`<transform>.<inner>`, e.g.
 *                `ddp-skellam.mpc-aby3`) and carries the transform's public
 *                parameters AND the inner role set's in its params: every
 *                party compares both with its own in `enforcePlan`, so a plan
 *                with other DP parameters (less noise, another clip, ...) is
 *                refused before any byte moves;
 *   inner plan   derived deterministically from the outer plan (public: the
 *                same at every party): the transform's uri, leaves and bound,
 *                the same roster and target, the inner role set's params,
 *                invocation id `<outer id>/<transform name>/<digest>`, the
 *                digest the first 128 bits (base64url) of SHA-256 of the
 *                WHOLE outer plan (planDigest): parties handed different
 *                outer plans (another adaptive clip, another roster, ...)
 *                that derive the same inner shape run different inner
 *                instances, and no aggregate is released (without it a
 *                SERVER could give the aggregators a plan with less noise
 *                than the clients', test/dp/dp-attacks.test.ts);
 *   client       enforcePlan (outer), the party's own DP policy, its input
 *                check, then `transform.encode` of ITS OWN input (nothing of
 *                it leaves the party but the encoded value), then the inner
 *                client role on the inner plan;
 *   aggregator   enforcePlan, DP policy, the inner aggregator role; with
 *                target AGGREGATORS it decodes the inner aggregate;
 *   server       enforcePlan, DP policy, the inner server role; with target
 *                SERVER it decodes.
 *
 * The DP policy (`DpPolicy`) is each party's own: a data owner refuses a
 * plan whose public privacy statement (`DpStatement`, computed from the
 * outer plan by the transform) is weaker than it accepts, before its client
 * role sends anything.
 */
import { PolicyError } from '../core/errors.js';
import type { AggregationPlan } from '../aggregation/plan.js';
import { checkPlan } from '../aggregation/plan.js';
import { planDigest } from '../aggregation/secagg-crypto.js';
import type { AggregationLeaf, AggregationResult, AggregationUri } from '../aggregation/protocol.js';
import { checkClientInput, enforcePlan, participantsOf, sanitizeClientInput, type AggregationRoles, type ClientInput, type PartyContext, type RoleName, type RolePolicy } from '../aggregation/roles.js';

/** Public parameters as plans hold them. */
export type PlanParams = Readonly<Record<string, string | number | boolean>>;

/**
 * What one aggregation of a plan guarantees, as the transform states it
 * publicly (a function of the plan only). A party compares it with its own
 * `DpPolicy`.
 */
export interface DpStatement {
  /** 'dgauss', 'skellam', 'gaussian', ... */
  readonly mechanism: string;
  /**
   * Effective noise multiplier of the aggregate: the standard deviation of
   * the noise in the aggregate over the L2 sensitivity of one client's
   * contribution, both in the same units, with the plan's number of clients
   * (inflated sensitivity of quantization included). 0: no noise.
   */
  readonly noiseMultiplier: number;
  /** The L2 clip of one client's update (its unscaled units). */
  readonly clip: number;
  /** Where the noise is added: 'clients' (distributed), 'aggregators', 'server'. */
  readonly noiseAt: 'clients' | 'aggregators' | 'server';
  /** ε of one aggregation at δ, where the transform can bound it (else a policy with `maxEpsilonPerRound` refuses). */
  epsilon?(delta: number): number;
  /**
   * The mechanism's own floor, checked by every party whatever its policy:
   * distributed DP's noise is the sum of the clients' shares, so a plan of
   * fewer clients than this (`clients` < `minClients`) holds too little of it.
   */
  readonly clients?: number;
  readonly minClients?: number;
}

/** A party's own rules on the privacy of the aggregations it takes part in (never taken from the plan). */
export interface DpPolicy {
  /** Refuse a plan whose `DpStatement.noiseMultiplier` is below this. */
  readonly minNoiseMultiplier?: number;
  /** Refuse a plan whose clip is above this. */
  readonly maxClip?: number;
  /** Refuse a plan whose one-round ε at `delta` is above this (needs `delta`). */
  readonly maxEpsilonPerRound?: number;
  readonly delta?: number;
  /** Accept only these mechanisms. */
  readonly mechanisms?: readonly string[];
  /** Accept only noise added at these places (a data owner that trusts no server: ['clients']). */
  readonly noiseAt?: readonly DpStatement['noiseAt'][];
}

/** A party's `RolePolicy` with its DP policy (`ctx.policy.dp`). */
export interface DpRolePolicy extends RolePolicy {
  readonly dp?: DpPolicy;
}

/** The uri, leaves and bound of the inner plan. */
export interface InnerShape {
  readonly uri: AggregationUri;
  readonly leaves: readonly AggregationLeaf[];
  readonly bound?: bigint;
}

/** What a client's encoding reports locally (counts; never sent). */
export type ClientReport = Readonly<Record<string, number>>;

/** The public transform a wrapper applies around an inner role set. */
export interface RoleTransform {
  /** Name, the prefix of the wrapper's protocol name ([A-Za-z0-9_-]). */
  readonly name: string;
  /** Public parameters; keys must differ from the inner role set's. */
  readonly params: PlanParams;
  /** The outer uris it takes. */
  readonly intrinsics: readonly AggregationUri[];
  /** The public privacy statement of an aggregation of `outer`. */
  statement(outer: AggregationPlan): DpStatement;
  /** The inner plan's uri, leaves and bound (deterministic, public). Throws RangeError for an outer plan it cannot run. */
  innerShape(outer: AggregationPlan): InnerShape;
  /** At a client: its own (checked) input as the inner role's input. */
  encode(outer: AggregationPlan, inner: AggregationPlan, input: ClientInput, me: string): { input: ClientInput; report?: ClientReport } | Promise<{ input: ClientInput; report?: ClientReport }>;
  /** At the target (`me`: SERVER, or the aggregator decoding): the inner aggregate as the outer one (one leaf per outer leaf). */
  decode(outer: AggregationPlan, inner: AggregationPlan, result: AggregationResult, me: string): AggregationResult | Promise<AggregationResult>;
}

export interface WrapOptions {
  /** The DP policy of the parties this process runs, where `ctx.policy.dp` is not set. */
  localPolicy?: DpPolicy | ((party: string) => DpPolicy | undefined);
  /** Sees each client's local report (clipped values, wraps, ...). Local only. */
  onClientReport?: (party: string, plan: AggregationPlan, report: ClientReport) => void;
}

export interface WrappedRoles extends AggregationRoles {
  readonly inner: AggregationRoles;
  readonly transform: RoleTransform;
  /** The inner plan of `outer` (the same object for the same outer plan object). */
  innerPlan(outer: AggregationPlan): AggregationPlan;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$/;

/** Refuse `statement` where `policy` asks more (PolicyError, rule 'dp'). */
export function checkDpPolicy(me: string, policy: DpPolicy | undefined, s: DpStatement): void {
  const refuse = (msg: string): never => {
    throw new PolicyError('dp', msg, { party: me });
  };
  if (s.minClients !== undefined && !((s.clients ?? 0) >= s.minClients)) {
    refuse(`the plan has ${String(s.clients)} client(s), fewer than the ${s.minClients} the mechanism needs for its noise (each client adds its share)`);
  }
  if (policy === undefined) return;
  if (policy.mechanisms !== undefined && !policy.mechanisms.includes(s.mechanism)) refuse(`mechanism '${s.mechanism}' is not among this party's (${policy.mechanisms.join(', ')})`);
  if (policy.noiseAt !== undefined && !policy.noiseAt.includes(s.noiseAt)) refuse(`noise added at ${s.noiseAt}, this party accepts it at ${policy.noiseAt.join(', ')} only`);
  if (policy.minNoiseMultiplier !== undefined && !(s.noiseMultiplier >= policy.minNoiseMultiplier)) {
    refuse(`the plan's noise multiplier ${s.noiseMultiplier.toPrecision(6)} is below this party's minimum ${policy.minNoiseMultiplier}`);
  }
  if (policy.maxClip !== undefined && !(s.clip <= policy.maxClip)) refuse(`the plan's clip ${s.clip} is above this party's maximum ${policy.maxClip}`);
  if (policy.maxEpsilonPerRound !== undefined) {
    const delta = policy.delta;
    if (delta === undefined || !(delta > 0 && delta < 1)) refuse(`"maxEpsilonPerRound" needs a "delta" in (0, 1), got ${String(delta)}`);
    if (s.epsilon === undefined) refuse(`mechanism '${s.mechanism}' states no ε per round; this party requires ε <= ${policy.maxEpsilonPerRound}`);
    const eps = s.epsilon!(delta!);
    if (!(eps <= policy.maxEpsilonPerRound)) refuse(`one round gives ε = ${eps.toPrecision(6)} at δ = ${delta}, above this party's maximum ${policy.maxEpsilonPerRound}`);
  }
}

/** Validate a DP policy's fields (errors name the field). */
export function checkDpPolicyShape(fn: string, p: unknown): DpPolicy | undefined {
  if (p === undefined) return undefined;
  if (p === null || typeof p !== 'object') throw new TypeError(`${fn}: "dp policy" expected an object, got ${p === null ? 'null' : typeof p}`);
  const o = p as Record<string, unknown>;
  for (const k of ['minNoiseMultiplier', 'maxClip', 'maxEpsilonPerRound', 'delta']) {
    const v = o[k];
    if (v !== undefined && !(typeof v === 'number' && v >= 0 && !Number.isNaN(v))) throw new RangeError(`${fn}: "${k}" expected a number >= 0, got ${String(v)}`);
  }
  for (const k of ['mechanisms', 'noiseAt']) if (o[k] !== undefined && !Array.isArray(o[k])) throw new TypeError(`${fn}: "${k}" expected an array of names`);
  return p as DpPolicy;
}

/**
 * Wrap `inner` with `transform` (see the module comment). The wrapper is
 * secure when the inner role set is; its aggregator parties are the inner's.
 */
export function wrapRoles(inner: AggregationRoles, transform: RoleTransform, options: WrapOptions = {}): WrappedRoles {
  const fn = 'wrapRoles';
  if (inner === null || typeof inner !== 'object' || typeof inner.client !== 'function') throw new TypeError(`${fn}: "inner" expected an AggregationRoles`);
  if (transform === null || typeof transform !== 'object' || typeof transform.encode !== 'function' || typeof transform.decode !== 'function') throw new TypeError(`${fn}: "transform" expected a RoleTransform`);
  if (!NAME.test(transform.name)) throw new RangeError(`${fn}: "transform.name" expected [A-Za-z0-9_-], at most 48 characters, got ${JSON.stringify(transform.name)}`);
  for (const k of Object.keys(transform.params)) {
    if (k in inner.params) throw new RangeError(`${fn}: "transform.params" key '${k}' is also a parameter of ${inner.name}`);
  }
  if (options === null || typeof options !== 'object') throw new TypeError(`${fn}: "options" expected an object`);
  if (options.localPolicy !== undefined && typeof options.localPolicy !== 'function') checkDpPolicyShape(fn, options.localPolicy);
  const params: PlanParams = Object.freeze({ ...transform.params, ...inner.params });
  const name = `${transform.name}.${inner.name}`;
  const inners = new WeakMap<AggregationPlan, AggregationPlan>();

  const innerPlan = (outer: AggregationPlan): AggregationPlan => {
    let p = inners.get(outer);
    if (p === undefined) {
      const shape = transform.innerShape(outer);
      p = checkPlan({
        protocol: inner.name,
        // (bound to the whole outer plan: see the module comment)
        invocationId: `${outer.invocationId}/${transform.name}/${planDigest(outer).subarray(0, 16).toString('base64url')}`,
        uri: shape.uri,
        target: outer.target,
        leaves: shape.leaves,
        ...(shape.bound === undefined ? {} : { bound: shape.bound }),
        clients: outer.clients,
        aggregators: outer.aggregators,
        server: outer.server,
        params: inner.params,
      });
      inners.set(outer, p);
    }
    return p;
  };

  const policyOf = (ctx: PartyContext): DpPolicy | undefined => {
    const own = (ctx.policy as DpRolePolicy).dp;
    if (own !== undefined) return checkDpPolicyShape(ctx.me, own);
    const l = options.localPolicy;
    return typeof l === 'function' ? checkDpPolicyShape(ctx.me, l(ctx.me)) : l;
  };

  /** Every check of the outer plan a party runs before it takes part. */
  const enter = (ctx: PartyContext, plan: AggregationPlan, role: RoleName, index?: number): AggregationPlan => {
    enforcePlan(self, ctx, plan, role, index);
    checkDpPolicy(ctx.me, policyOf(ctx), transform.statement(plan));
    return innerPlan(plan);
  };

  const self: WrappedRoles = Object.freeze<WrappedRoles>({
    name,
    secure: inner.secure,
    intrinsics: Object.freeze([...transform.intrinsics]),
    aggregatorCount: inner.aggregatorCount,
    aggregatorNames: inner.aggregatorNames,
    params,
    inner,
    transform,
    innerPlan,
    participants: (plan: AggregationPlan) => participantsOf(inner, innerPlan(plan)),
    // non-finite floats become 0 (the transform clips by norm: a value is never refused for its size)
    clamp(plan: AggregationPlan, input: ClientInput) {
      const s = sanitizeClientInput(plan, input);
      return { input: s.input, clipped: s.changed };
    },
    async client(ctx: PartyContext, plan: AggregationPlan, input: ClientInput): Promise<void> {
      const ip = enter(ctx, plan, 'client');
      checkClientInput(ctx.me, plan, input);
      const { input: encoded, report } = await transform.encode(plan, ip, input, ctx.me);
      if (report !== undefined) options.onClientReport?.(ctx.me, plan, report);
      await inner.client(ctx, ip, encoded);
    },
    async aggregator(ctx: PartyContext, plan: AggregationPlan, index: number): Promise<AggregationResult | undefined> {
      const ip = enter(ctx, plan, 'aggregator', index);
      const r = await inner.aggregator(ctx, ip, index);
      return r === undefined || plan.target !== 'AGGREGATORS' ? undefined : transform.decode(plan, ip, r, ctx.me);
    },
    async server(ctx: PartyContext, plan: AggregationPlan): Promise<AggregationResult | undefined> {
      const ip = enter(ctx, plan, 'server');
      const r = await inner.server(ctx, ip);
      return r === undefined || plan.target !== 'SERVER' ? undefined : transform.decode(plan, ip, r, ctx.me);
    },
    async close(): Promise<void> {
      await inner.close?.();
    },
  });
  return self;
}
