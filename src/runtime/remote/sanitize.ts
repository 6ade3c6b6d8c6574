/** What a player does to a client's input before its role gets it (player.ts). */
import type { AggregationPlan } from '../../aggregation/plan.js';
import { sanitizeClientInput, type AggregationRoles, type ClientInput } from '../../aggregation/roles.js';

/**
 * A client's input as its role gets it (`sanitizeClientInput`): a secure-sum
 * value outside [0, bound) is clipped into it, a non-finite float (and a
 * negative or non-finite weight) becomes 0, so that whether an aggregation
 * fails never depends on a client's value (the driver would otherwise learn
 * a bit of it from the reply). `clipped` is told how many values changed
 * (logged locally only).
 */
export function sanitize(plan: AggregationPlan, input: ClientInput, clipped: (n: number) => void): ClientInput {
  const r = sanitizeClientInput(plan, input);
  if (r.changed > 0) clipped(r.changed);
  return r.input;
}

/**
 * `sanitize`, then the role set's `clamp` into what the protocol can encode
 * (a refusal there would tell the driver about the value), in one pass over
 * the values where the role set can (`sanitizeAndClamp`). `clipped` is told
 * each step's count, as the two steps would tell it.
 */
export function sanitizeForRole(roles: AggregationRoles, plan: AggregationPlan, input: ClientInput, clipped: (n: number) => void): ClientInput {
  if (roles.sanitizeAndClamp !== undefined) {
    const k = roles.sanitizeAndClamp(plan, input);
    if (k.sanitized > 0) clipped(k.sanitized);
    if (k.clipped > 0) clipped(k.clipped);
    return k.input;
  }
  const s = sanitize(plan, input, clipped);
  if (roles.clamp === undefined) return s;
  const k = roles.clamp(plan, s);
  if (k.clipped > 0) clipped(k.clipped);
  return k.input;
}
