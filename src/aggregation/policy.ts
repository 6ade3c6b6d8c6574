/**
 * Refusals by policy in the aggregation layer: a party that protects the
 * clients refuses to take part in (or to release) an aggregate that breaks a
 * rule it holds locally. The first rule is `minContributors`: an aggregate of
 * fewer than the minimum number of valid contributions is never released
 * (a sum of one client is that client's data).
 */

/** Default minimum number of contributions an aggregate must have. */
export const DEFAULT_MIN_CONTRIBUTORS = 3;

/** A client whose contribution was left out, and why. */
export interface RejectedContribution {
  readonly client: number;
  /** Error class and message, e.g. "ChannelAuthError: ...". */
  readonly reason: string;
}

export interface PolicyErrorDetails {
  /** The rule that refused, e.g. 'minContributors'. */
  readonly rule: string;
  /** The party that refused (e.g. 'aggregator', 'client-0', 'server'). */
  readonly party: string;
  /** What the rule counted (e.g. valid contributions). */
  readonly count?: number;
  /** The rule's minimum. */
  readonly minimum?: number;
  /** Contributions left out before the rule was applied. */
  readonly rejected?: readonly RejectedContribution[];
}

/** A refusal by policy: names the rule, the party, the count and the minimum. */
export class PolicyError extends Error {
  readonly code = 'POLICY_REFUSED';
  readonly rule: string;
  readonly party: string;
  readonly count: number | undefined;
  readonly minimum: number | undefined;
  readonly rejected: readonly RejectedContribution[];

  constructor(details: PolicyErrorDetails, message: string) {
    const rejected = details.rejected ?? [];
    const why = rejected.length === 0 ? '' : `; rejected: ${rejected.map((r) => `client ${r.client} (${r.reason})`).join(', ')}`;
    super(`${details.party}: policy "${details.rule}" refuses: ${message}${why}`);
    this.name = 'PolicyError';
    this.rule = details.rule;
    this.party = details.party;
    this.count = details.count;
    this.minimum = details.minimum;
    this.rejected = rejected;
  }
}

/** Validate a `minContributors` option (integer >= 1; default DEFAULT_MIN_CONTRIBUTORS). */
export function minContributorsOption(fn: string, v: unknown): number {
  if (v === undefined) return DEFAULT_MIN_CONTRIBUTORS;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${fn}: "minContributors" expected integer >= 1, got ${typeof v === 'number' ? v : typeof v}`);
  if (v < 1) throw new RangeError(`${fn}: "minContributors" expected integer >= 1, got ${v}`);
  return v;
}

/** Refuse (PolicyError, rule 'minContributors') when `count` is below `minimum`. */
export function requireMinContributors(party: string, what: string, count: number, minimum: number, rejected: readonly RejectedContribution[] = []): void {
  if (count < minimum) {
    throw new PolicyError({ rule: 'minContributors', party, count, minimum, rejected }, `${count} ${what}, fewer than the minimum of ${minimum}`);
  }
}
