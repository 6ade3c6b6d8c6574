/**
 * Aggregation protocols as per-party roles.
 *
 * A protocol is a set of roles; each party runs only its own role, with only
 * its own inputs, and talks to the others through its `PartyContext`'s
 * transport:
 *
 *   client(ctx, plan, input)   one per contributing client: encodes and
 *                              shares / encrypts ITS OWN value; it never
 *                              receives another client's value;
 *   aggregator(ctx, plan, i)   one per aggregator party of the protocol (ABY3:
 *                              three compute servers; Pond: two servers and a
 *                              dealer; Paillier: the aggregation service):
 *                              combines what it receives; resolves with the
 *                              aggregate when the plan's target is AGGREGATORS;
 *   server(ctx, plan)          the SERVER party (the model owner / driver):
 *                              resolves with the aggregate when the target is
 *                              SERVER (Paillier: it also holds the key and
 *                              routes the clients' sealed boxes).
 *
 * The plan (`plan.ts`) is public and the same at every party. Every role's
 * entry point checks it against the party's local policy (`enforcePlan`)
 * before it sends a byte. In simulation all roles run in one process, each on
 * its own transport view of one MemoryHub (`simulate.ts`); deployed, the same
 * functions run in different processes over gRPC.
 */
import { PolicyError } from '../core/errors.js';
import type { NumericArray } from '../core/values.js';
import type { Transport } from '../transport/channel.js';
import { hostOf } from '../transport/hosting.js';
import type { AggregationPlan } from './plan.js';
import type { AggregationResult, AggregationUri } from './protocol.js';

/** What a party holds locally while it runs a role. */
export interface PartyContext {
  /** This party's name (a player, or a client hosted by a player). */
  readonly me: string;
  /** A transport on which exactly this party is local (see `partyTransport`). */
  readonly transport: Transport;
  /** This party's own rules (never taken from the plan). */
  readonly policy: RolePolicy;
  /** Deadline of every receive of this role, in ms (default: none, the transport's own). */
  readonly timeoutMs?: number;
  /**
   * Called by an aggregator role right before it reveals or releases anything
   * (ABY3/Pond: the openings; Paillier: the sealed aggregate; the reference:
   * the result): the place for checks among the parties that must hold first
   * (remote execution: every client player was sent the same commands). It
   * throws to refuse; nothing is revealed then. `contributors`: the clients
   * the aggregate holds when some dropped out (`collectMs`), else undefined
   * (all of the plan's). A protocol without aggregators (SecAgg) calls it at
   * each client instead, before the client sends anything computed from its
   * input, with the clients whose inputs can be in the aggregate with its
   * own (SecAgg: U1); deployed, the client's player then checks the other
   * client players' agreement (runtime/remote/player.ts).
   */
  readonly releaseGate?: (contributors?: readonly string[]) => Promise<void>;
  /**
   * Dropout tolerance, at the parties that collect the clients' contributions
   * (aggregators; Paillier's router at SERVER): how long after its role
   * starts such a party waits for them, in ms. A client whose contribution is
   * not complete by then has dropped out: the protocol completes over the
   * others when its rules allow (every aggregator saw the same set of
   * complete contributions, agreed before anything is revealed; at least the
   * party's `minContributors` distinct contributors) and reports them in
   * `AggregationResult.contributors`; otherwise it fails and reveals
   * nothing. Undefined: every client of the plan must contribute.
   */
  readonly collectMs?: number;
  /**
   * At an aggregator party of a role set with `aggregatorAddends` (mpcRoles
   * with that option): this party's own private addend of float leaf
   * `leaf` (`size` elements), which the role secret-shares into that leaf's
   * sum before anything is opened, so that the opened aggregate holds every
   * aggregator's addend and no party learns another's (central DP noise at
   * the aggregators: src/dp/central.ts). Called once per float leaf.
   */
  readonly aggregatorAddend?: (leaf: number, size: number) => Float64Array;
}

/** The rules a party checks a plan against before it takes part. */
export interface RolePolicy {
  /** No aggregate of fewer contributors (clients in the plan) is taken part in. */
  readonly minContributors: number;
  /** Allow protocols that are not secure (values in the clear); an operator's explicit opt-in. */
  readonly allowInsecure: boolean;
}

/** A client's own input: its flattened leaves (in plan.leaves order) and, for weighted means, its weight. */
export interface ClientInput {
  readonly values: readonly NumericArray[];
  readonly weight?: number;
}

export interface AggregationRoles {
  /** Short name, e.g. 'mpc-aby3', 'paillier', 'insecure-reference'; plans name it. */
  readonly name: string;
  /** Whether no party other than the target learns anything beyond the aggregate (under the protocol's threat model). */
  readonly secure: boolean;
  readonly intrinsics: readonly AggregationUri[];
  /** Number of aggregator parties a plan must name (ABY3 3, Pond 3 (two servers and a dealer), Paillier 1, reference 0). */
  readonly aggregatorCount: number;
  /** Default names of the aggregator parties (simulation). */
  readonly aggregatorNames: readonly string[];
  /**
   * Whether every aggregator party adds its own private addend
   * (`PartyContext.aggregatorAddend`) into each float leaf's secret-shared
   * sum before the opening (mpcRoles({ aggregatorAddends: true })).
   */
  readonly aggregatorAddends?: boolean;
  /** Public parameters of this instance that every party must agree on; copied into every plan and compared by `enforcePlan`. */
  readonly params: Readonly<Record<string, string | number | boolean>>;
  client(ctx: PartyContext, plan: AggregationPlan, input: ClientInput): Promise<void>;
  aggregator(ctx: PartyContext, plan: AggregationPlan, index: number): Promise<AggregationResult | undefined>;
  server(ctx: PartyContext, plan: AggregationPlan): Promise<AggregationResult | undefined>;
  /**
   * A client's input brought into what the protocol can encode (fixed-point
   * range, Paillier slots), where a driver could otherwise learn about a value
   * from whether it is refused: the remote executor applies it before the
   * client role runs; `clipped` counts the values changed (logged locally).
   */
  clamp?(plan: AggregationPlan, input: ClientInput): { input: ClientInput; clipped: number };
  /**
   * The aggregator parties that take part in `plan` (default: all of
   * `plan.aggregators`). One that does not (ABY3's fused path: server2)
   * receives nothing and sends nothing: the remote executor does not ask it
   * to run a role, and the client players send it no command digest. Public:
   * every party derives the same from the plan.
   */
  participants?(plan: AggregationPlan): readonly string[];
  /**
   * Optional: `clamp(plan, sanitizeClientInput(plan, input).input)` in fewer
   * passes over the values, with the same result (element for element) and
   * counts (`sanitized`: what sanitizing changed; `clipped`: what clamping
   * then changed). The remote executor uses it where a role set has it.
   */
  sanitizeAndClamp?(plan: AggregationPlan, input: ClientInput): { input: ClientInput; sanitized: number; clipped: number };
  /** Release resources (worker pools). */
  close?(): Promise<void>;
}

export type RoleName = 'client' | 'aggregator' | 'server';

/** The aggregator parties taking part in `plan` (`AggregationRoles.participants`, default all). */
export function participantsOf(roles: AggregationRoles, plan: AggregationPlan): readonly string[] {
  return roles.participants?.(plan) ?? plan.aggregators;
}

/** Frozen plans whose roster names no party twice (checked once per plan object). */
const distinctRosters = new WeakSet<AggregationPlan>();

/**
 * The checks every role runs first, at every party, before it sends anything:
 * the plan names this protocol with this party's own parameters, names this
 * party in the role it is asked to run, has the protocol's number of
 * aggregators and distinct party names, and satisfies the party's policy
 * (a protocol that is not secure only with its operator's opt-in; at least
 * its minimum of contributors). Throws PolicyError (rule 'protocol',
 * 'minContributors', 'roster') or RangeError.
 */
export function enforcePlan(roles: AggregationRoles, ctx: PartyContext, plan: AggregationPlan, role: RoleName, index?: number): void {
  const me = ctx.me;
  if (plan.protocol !== roles.name) {
    throw new PolicyError('protocol', `asked to run protocol '${plan.protocol}' as '${roles.name}'`, { party: me });
  }
  if (!roles.secure && !ctx.policy.allowInsecure) {
    throw new PolicyError('protocol', `protocol '${roles.name}' is not secure (values in the clear) and this party did not opt in`, { party: me });
  }
  if (!roles.intrinsics.includes(plan.uri)) throw new RangeError(`${me}: protocol '${roles.name}' does not implement ${plan.uri}`);
  for (const [k, v] of Object.entries(roles.params)) {
    if (plan.params[k] !== v) throw new PolicyError('protocol', `plan asks ${k} = ${JSON.stringify(plan.params[k])}, this party runs ${roles.name} with ${JSON.stringify(v)}`, { party: me });
  }
  for (const k of Object.keys(plan.params)) {
    if (!(k in roles.params)) throw new PolicyError('protocol', `plan sets parameter '${k}', unknown to ${roles.name}`, { party: me });
  }
  if (plan.aggregators.length !== roles.aggregatorCount) {
    throw new PolicyError('roster', `plan names ${plan.aggregators.length} aggregator(s), ${roles.name} needs ${roles.aggregatorCount}`, { party: me });
  }
  if (!distinctRosters.has(plan)) {
    const all = [plan.server, ...plan.aggregators, ...plan.clients];
    if (new Set(all).size !== all.length) throw new PolicyError('roster', `plan names a party twice (${all.join(', ')})`, { party: me });
    // a frozen plan's roster cannot change: the many client roles a process hosts check it once
    if (Object.isFrozen(plan) && Object.isFrozen(plan.clients) && Object.isFrozen(plan.aggregators)) distinctRosters.add(plan);
  }
  const where = role === 'client' ? plan.clients.indexOf(me) : role === 'aggregator' ? (plan.aggregators[index!] === me ? index! : -1) : plan.server === me ? 0 : -1;
  if (where < 0) throw new PolicyError('roster', `asked to run role '${role}'${index === undefined ? '' : ` ${index}`}, but the plan does not name this party there`, { party: me });
  checkContributors(plan, ctx.policy, me);
}

/**
 * The contributors of a plan, as a party counts them: clients hosted by one
 * player (`owner0:0`, `owner0:1`, see transport/hosting.ts) count once, and
 * no client may be hosted by the SERVER party or an aggregator (the model
 * owner would otherwise add sybil clients of its own). PolicyError 'roster'
 * or 'minContributors'.
 */
export function checkContributors(plan: Pick<AggregationPlan, 'clients' | 'aggregators' | 'server'>, policy: RolePolicy, me: string): void {
  const others = new Set([plan.server, ...plan.aggregators].map(hostOf));
  const sybil = plan.clients.find((c) => others.has(hostOf(c)));
  if (sybil !== undefined) throw new PolicyError('roster', `client '${sybil}' is hosted by the SERVER party or an aggregator`, { party: me });
  const hosts = new Set(plan.clients.map(hostOf)).size;
  if (hosts < policy.minContributors) {
    throw new PolicyError('minContributors', `${hosts} distinct contributors (clients of one player count once), fewer than the minimum of ${policy.minContributors}`, {
      party: me,
      count: hosts,
      minimum: policy.minContributors,
    });
  }
}

/**
 * Inputs that passed `checkClientInput` for a plan, for the one check that
 * follows in the same process (`prepareRole` checks a client's input, then
 * the role it runs checks the very same object again, first thing): the
 * second check of the same input object, plan object, leaves and weight
 * skips the element scans, once. Any other input, plan or party is checked
 * in full.
 */
const passedClientInput = new WeakMap<ClientInput, { me: string; plan: AggregationPlan; values: readonly NumericArray[]; leaves: readonly NumericArray[]; weight: number | undefined }>();

/**
 * Inputs a sanitizer made (`sanitizeClientInput`, a role set's
 * `sanitizeAndClamp`): their float leaves hold no NaN by construction, so
 * `checkClientInput` does not scan them for one again. Keyed by the input
 * object, with the leaf arrays it had when noted.
 */
const nanFreeInputs = new WeakMap<ClientInput, readonly NumericArray[]>();

/** Note that `input`'s float leaves hold no NaN (for sanitizers only: they have just made it so). Returns `input`. */
export function noteNanFree<I extends ClientInput>(input: I): I {
  nanFreeInputs.set(input, [...input.values]);
  return input;
}

function isNanFree(input: ClientInput): boolean {
  const leaves = nanFreeInputs.get(input);
  return leaves !== undefined && leaves.length === input.values.length && leaves.every((v, j) => v === input.values[j]);
}

/** Check a client's own input against the plan (leaf count, sizes, weight). */
export function checkClientInput(me: string, plan: AggregationPlan, input: ClientInput): void {
  if (input === null || typeof input !== 'object' || !Array.isArray(input.values)) throw new TypeError(`${me}: client input expected { values: NumericArray[] }`);
  const passed = passedClientInput.get(input);
  if (passed !== undefined) {
    passedClientInput.delete(input);
    if (passed.me === me && passed.plan === plan && passed.values === input.values && passed.weight === input.weight && passed.leaves.length === input.values.length && passed.leaves.every((v, j) => v === input.values[j])) return;
  }
  if (input.values.length !== plan.leaves.length) throw new RangeError(`${me}: ${input.values.length} leaves, the plan has ${plan.leaves.length}`);
  input.values.forEach((v, j) => {
    if (!ArrayBuffer.isView(v) || (v as unknown as ArrayLike<unknown>).length !== plan.leaves[j]!.size) {
      throw new RangeError(`${me}: leaf ${j} (${plan.leaves[j]!.path || 'value'}) has ${ArrayBuffer.isView(v) ? (v as unknown as ArrayLike<unknown>).length : typeof v} elements, the plan says ${plan.leaves[j]!.size}`);
    }
  });
  // the checks only the client can make (deployed, nobody else sees its value)
  const secureSum = plan.uri === 'federated_secure_sum' || plan.uri === 'federated_secure_sum_at_aggregators';
  // (a sanitized input holds no NaN: not scanned again)
  const mean = (plan.uri === 'federated_mean_at_aggregators' || plan.uri === 'federated_weighted_mean_at_aggregators') && !isNanFree(input);
  input.values.forEach((v, j) => {
    const where = `${me}: leaf ${j} (${plan.leaves[j]!.path || 'value'})`;
    if (secureSum) {
      const bound = plan.bound!;
      const nb = Number(bound);
      for (let i = 0; i < v.length; i++) {
        const x = v[i]!;
        if (typeof x === 'bigint' ? x < 0n || x >= bound : !(x >= 0 && x < nb) || !Number.isInteger(x)) {
          throw new RangeError(`${where}: element ${i} = ${String(x)} outside [0, ${bound}) of the secure sum`);
        }
      }
    } else if (mean && (v instanceof Float32Array || v instanceof Float64Array)) {
      for (let i = 0; i < v.length; i++) if (Number.isNaN(v[i])) throw new RangeError(`${where}: element ${i} is NaN`);
    }
  });
  const weighted = plan.uri === 'federated_weighted_mean_at_aggregators';
  if (weighted) {
    const w = input.weight;
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) throw new RangeError(`${me}: weight expected a finite number >= 0, got ${String(w)}`);
  } else if (input.weight !== undefined) {
    throw new RangeError(`${me}: a weight is only taken by a weighted mean, not by ${plan.uri}`);
  }
  passedClientInput.set(input, { me, plan, values: input.values, leaves: [...input.values], weight: input.weight });
}

/**
 * For `clamp` implementations: a float leaf with every element whose
 * |x · multiplier| is not below `limit` (or that is NaN) replaced by the
 * nearest value that is (NaN by 0); copied only when something changes.
 * `sanitized`: first replace every non-finite element by 0 (as
 * `sanitizeClientInput` does), in the same pass; `zeroed` counts those.
 */
export function clipScaledFloats(v: NumericArray, multiplier: number, limit: number, sanitized = false): { values: NumericArray; clipped: number; zeroed: number } {
  if (!(v instanceof Float32Array || v instanceof Float64Array)) return { values: v, clipped: 0, zeroed: 0 };
  if (multiplier === 0) {
    if (!sanitized) return { values: v, clipped: 0, zeroed: 0 };
    const z = zeroNonFinite(v);
    return { values: z.values, clipped: 0, zeroed: z.zeroed };
  }
  return v instanceof Float32Array ? clip32(v, limit / Math.abs(multiplier), sanitized) : clip64(v, limit / Math.abs(multiplier), sanitized);
}

// (one monomorphic loop per array type: the element reads of a scan over a model-sized leaf stay fast)
function clip32(v: Float32Array, b: number, sanitized: boolean): { values: Float32Array; clipped: number; zeroed: number } {
  let out: Float32Array | undefined;
  let clipped = 0;
  let zeroed = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (!(x > -b && x < b)) {
      out ??= v.slice();
      // (sanitizing first: a non-finite element becomes 0, which is then clipped like any value)
      const y = sanitized && !Number.isFinite(x) ? (zeroed++, 0) : x;
      if (y > -b && y < b) {
        out[i] = y;
        continue;
      }
      // a float32 may round back up to b: one part in 2^20 inside
      out[i] = Number.isNaN(y) ? 0 : Math.sign(y) * b * (1 - 2 ** -20);
      clipped++;
    }
  }
  return { values: out ?? v, clipped, zeroed };
}

function clip64(v: Float64Array, b: number, sanitized: boolean): { values: Float64Array; clipped: number; zeroed: number } {
  let out: Float64Array | undefined;
  let clipped = 0;
  let zeroed = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (!(x > -b && x < b)) {
      out ??= v.slice();
      const y = sanitized && !Number.isFinite(x) ? (zeroed++, 0) : x;
      if (y > -b && y < b) {
        out[i] = y;
        continue;
      }
      out[i] = Number.isNaN(y) ? 0 : Math.sign(y) * b * (1 - 2 ** -20);
      clipped++;
    }
  }
  return { values: out ?? v, clipped, zeroed };
}

function zeroNonFinite<T extends Float32Array | Float64Array>(v: T): { values: T; zeroed: number } {
  let out: T | undefined;
  let zeroed = 0;
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i]!)) {
      out ??= v.slice() as T;
      out[i] = 0;
      zeroed++;
    }
  }
  return { values: out ?? v, zeroed };
}

/**
 * A client's input as the remote executor gives it to its role: a
 * secure-sum value outside [0, bound) is clipped into it, a non-finite float
 * (and a negative or non-finite weight) becomes 0, so that whether an
 * aggregation fails never depends on a client's value (the driver would
 * otherwise learn a bit of it from the reply). `changed` counts the values
 * changed. `skip[j]`: leaf j is passed through untouched (a caller that
 * sanitizes it itself, `clipScaledFloats(..., true)`).
 */
export function sanitizeClientInput(plan: AggregationPlan, input: ClientInput, skip?: readonly boolean[]): { input: ClientInput; changed: number } {
  let n = 0;
  const secureSum = plan.uri === 'federated_secure_sum' || plan.uri === 'federated_secure_sum_at_aggregators';
  const values = input.values.map((v, j) => {
    if (skip?.[j] === true) return v;
    let out: typeof v | undefined;
    const set = (i: number, x: number | bigint) => {
      out ??= v.slice() as typeof v;
      (out as unknown as (number | bigint)[])[i] = x;
      n++;
    };
    if (secureSum) {
      const bound = plan.bound!;
      for (let i = 0; i < v.length; i++) {
        const x = v[i]!;
        if (typeof x === 'bigint') {
          if (x < 0n) set(i, 0n);
          else if (x >= bound) set(i, bound - 1n);
        } else if (!(x >= 0)) set(i, 0);
        else if (x >= Number(bound)) set(i, Number(bound - 1n));
      }
      return out ?? v;
    }
    if (v instanceof Float32Array || v instanceof Float64Array) {
      const z = zeroNonFinite(v);
      n += z.zeroed;
      return z.values;
    }
    return v;
  });
  let weight = input.weight;
  if (weight !== undefined && !(Number.isFinite(weight) && weight >= 0)) {
    weight = 0;
    n++;
  }
  const out = { values, ...(weight === undefined ? {} : { weight }) };
  // every float leaf zeroed where not finite (unless a caller sanitizes some itself: then it notes the result)
  return { input: skip?.some((x) => x) === true ? out : noteNanFree(out), changed: n };
}
