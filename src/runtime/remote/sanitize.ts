/** What a player does to a client's input before its role gets it (player.ts). */
import type { AggregationPlan } from '../../aggregation/plan.js';
import type { ClientInput } from '../../aggregation/roles.js';

/**
 * A client's input as its role gets it: a secure-sum value outside [0, bound)
 * is clipped into it, a non-finite float (and a negative or non-finite
 * weight) becomes 0, so that whether an aggregation fails never depends on a
 * client's value (the driver would otherwise learn a bit of it from the
 * reply). `clipped` is told how many values changed (logged locally only).
 */
export function sanitize(plan: AggregationPlan, input: ClientInput, clipped: (n: number) => void): ClientInput {
  let n = 0;
  const secureSum = plan.uri === 'federated_secure_sum' || plan.uri === 'federated_secure_sum_at_aggregators';
  const values = input.values.map((v) => {
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
    } else if (v instanceof Float32Array || v instanceof Float64Array) {
      for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) set(i, 0);
    }
    return out ?? v;
  });
  let weight = input.weight;
  if (weight !== undefined && !(Number.isFinite(weight) && weight >= 0)) {
    weight = 0;
    n++;
  }
  if (n > 0) clipped(n);
  return { values, ...(weight === undefined ? {} : { weight }) };
}
