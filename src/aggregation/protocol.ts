/**
 * The secure-aggregation plug-in interface.
 *
 * A protocol carries out the intrinsics the registry marks `protocol: true`:
 *   federated_secure_sum, federated_secure_sum_at_aggregators,
 *   federated_sum_at_aggregators, federated_mean_at_aggregators,
 *   federated_weighted_mean_at_aggregators.
 * It is bound to an execution context (`localContext({ aggregation })`) and
 * plugs in without touching the core: ABY3/Pond MPC among compute servers,
 * Paillier through an aggregation service, pairwise masking, ...
 *
 * What the runtime guarantees before calling `aggregate`:
 * - the intrinsic is in `protocol.intrinsics` (else the call fails with a
 *   clear error naming both);
 * - every client value has the member type, flattened per tensor leaf into
 *   the dtype's typed array (Int32Array, Uint32Array, BigInt64Array,
 *   Float32Array, Float64Array), all clients with the same concrete shapes;
 * - secure sum: every element is an integer in [0, bound) (bound = 2^bitwidth
 *   or maxInput + 1); means: no NaN, weights finite, >= 0, not all zero;
 * - numClients >= 1.
 *
 * What the protocol must return: one entry per leaf, in `leaves` order, with
 * the leaf's number of elements:
 * - sums of integer leaves (secure or not): the EXACT sum as bigint[] (or a
 *   BigInt64Array when it fits); the runtime converts to the result dtype and
 *   raises FedValueError OVERFLOW when it does not fit;
 * - sums of float leaves and all means: a Float64Array; the runtime casts to
 *   the result dtype (float32 stays float32; integer leaves of a mean give
 *   float64). Float results are compared with a tolerance in the conformance
 *   suite (fixed-point protocols are not exact).
 * Only the returned aggregate is placed at `target`; what the protocol sends
 * between its parties is its own business (through its Transport).
 */
import type { IntrinsicDef, IntrinsicVariant } from '../core/intrinsics.js';
import type { Placement } from '../core/placements.js';
import type { TensorType, Type } from '../core/types.js';
import type { NumericArray } from '../core/values.js';

/** Variant uris a protocol may implement. */
export const AGGREGATION_URIS = Object.freeze([
  'federated_secure_sum',
  'federated_secure_sum_at_aggregators',
  'federated_sum_at_aggregators',
  'federated_mean_at_aggregators',
  'federated_weighted_mean_at_aggregators',
] as const);
export type AggregationUri = (typeof AGGREGATION_URIS)[number];

export interface AggregationLeaf {
  /** Path of the leaf in the member value, '' for a plain tensor, '.a[1]' for a field. */
  readonly path: string;
  /** Concrete type (dtype and known shape) of the leaf in every client's value. */
  readonly type: TensorType;
  /** Number of elements. */
  readonly size: number;
}

export interface AggregationRequest {
  /** Unique per aggregation within the context (e.g. 'agg/7'): use it to derive rendezvous keys. */
  readonly invocationId: string;
  /** The registry entry (name, TFF name, secure?) and the variant being run. */
  readonly intrinsic: IntrinsicDef;
  readonly variant: IntrinsicVariant;
  readonly uri: AggregationUri;
  /** Member type of the client values (a tensor or a struct of tensors). */
  readonly valueType: Type;
  /** Member type of the result (for means, integer leaves become float64). */
  readonly resultType: Type;
  readonly leaves: readonly AggregationLeaf[];
  /** clientValues[client][leaf]: flattened values in the leaf's dtype. Read-only. */
  readonly clientValues: readonly (readonly NumericArray[])[];
  /** Weighted means: one weight per client. */
  readonly weights?: Float64Array;
  /** Secure sum: each value lies in [0, 2^bitwidth) ... */
  readonly bitwidth?: number;
  /** ... or in [0, maxInput]. */
  readonly maxInput?: bigint;
  /** Secure sum: the exclusive upper bound of every value (2^bitwidth or maxInput + 1). */
  readonly bound?: bigint;
  /** Where the values come from (CLIENTS) and where the aggregate goes (SERVER or AGGREGATORS). */
  readonly source: Placement;
  readonly target: Placement;
  readonly numClients: number;
  /** Number of aggregator parties the context simulates (localContext option, default 1). */
  readonly numAggregators: number;
}

/** (Float32Array: a float32 leaf's values already rounded to float32, e.g. ABY3's fused path decodes into them.) */
export type AggregateLeafValue = readonly bigint[] | BigInt64Array | Float64Array | Float32Array;

export interface AggregationResult {
  /** One per leaf, in request.leaves order (see the module comment for the form). */
  readonly leaves: readonly AggregateLeafValue[];
  /**
   * The clients whose values the aggregate holds, in plan order, when a
   * client dropped out and the protocol completed without it (a role run
   * with `PartyContext.collectMs`); absent when every client contributed.
   * Means are over these clients.
   */
  readonly contributors?: readonly string[];
}

export interface AggregationProtocol {
  /** Short name for messages and reports, e.g. 'pond', 'paillier', 'insecure-reference'. */
  readonly name: string;
  /** Whether no single party other than the target learns anything beyond the aggregate (under the protocol's threat model). */
  readonly secure: boolean;
  /** The variant uris it implements. */
  readonly intrinsics: readonly AggregationUri[];
  aggregate(request: AggregationRequest): Promise<AggregationResult>;
  /** Release resources (transports, workers). */
  close?(): Promise<void>;
}

export function isAggregationProtocol(x: unknown): x is AggregationProtocol {
  return (
    x !== null &&
    typeof x === 'object' &&
    typeof (x as AggregationProtocol).name === 'string' &&
    typeof (x as AggregationProtocol).secure === 'boolean' &&
    Array.isArray((x as AggregationProtocol).intrinsics) &&
    typeof (x as AggregationProtocol).aggregate === 'function'
  );
}
