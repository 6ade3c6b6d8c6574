/**
 * Refusals by policy in the aggregation layer: a party that protects the
 * clients refuses to take part in (or to release) an aggregate that breaks a
 * rule it holds locally. The first rule is `minContributors`: an aggregate of
 * fewer than the minimum number of valid contributions is never released
 * (a sum of one client is that client's data).
 */

import { PolicyError, type PolicyErrorDetails, type RejectedContribution } from '../core/errors.js';

/** Default minimum number of contributions an aggregate must have. */
export const DEFAULT_MIN_CONTRIBUTORS = 3;

export { PolicyError, type PolicyErrorDetails, type RejectedContribution };

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
    throw new PolicyError('minContributors', `${count} ${what}, fewer than the minimum of ${minimum}`, { party, count, minimum, rejected });
  }
}
