/**
 * Ready-made execution contexts: a local simulation context with a secure
 * aggregation protocol bound to the core's secure intrinsics.
 */
import { localContext, type LocalContext } from './local.js';
import { paillierAggregation, type PaillierAggregationOptions } from '../aggregation/paillier.js';
import { mpcAggregation, type MpcAggregationOptions } from '../aggregation/mpc.js';

export interface PaillierContextOptions extends PaillierAggregationOptions {
  /** Aggregator parties simulated by the context (the protocol uses one aggregation service). */
  numAggregators?: number;
}

/** A local execution context with the Paillier aggregation service bound to its secure intrinsics. */
export function paillierContext(options: PaillierContextOptions): LocalContext {
  const { numAggregators, ...rest } = options ?? ({} as PaillierContextOptions);
  return localContext({ aggregation: paillierAggregation(rest), ...(numAggregators === undefined ? {} : { numAggregators }) });
}

/** A local execution context with MPC (ABY3 by default, or Pond) among compute servers bound to its secure intrinsics. */
export function mpcContext(options: MpcAggregationOptions = {}): LocalContext {
  return localContext({ aggregation: mpcAggregation(options) });
}
