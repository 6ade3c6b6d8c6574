/**
 * INSECURE reference aggregation: computes every aggregate in the clear, in
 * one process. It defines the semantics every secure protocol is tested
 * against (see test/aggregation/conformance.ts). It warns once when used.
 *
 * Arithmetic: integer sums exactly with BigInt; float sums and means in
 * float64 in client order; weighted mean = sum(w_i x_i) / sum(w_i).
 */
import type { NumericArray } from '../core/values.js';
import { AGGREGATION_URIS, type AggregateLeafValue, type AggregationProtocol, type AggregationRequest, type AggregationResult } from './protocol.js';

/** Exact sum of one leaf over clients. */
export function exactSum(clientValues: readonly (readonly NumericArray[])[], leaf: number, size: number): bigint[] {
  // 32-bit integers: float64 sums are exact while |sum| < 2^53, i.e. for fewer than 2^21 clients.
  const small = clientValues.length < 2 ** 21 && clientValues.every((c) => !(c[leaf] instanceof BigInt64Array));
  if (small) {
    const acc = new Float64Array(size);
    for (const c of clientValues) {
      const a = c[leaf] as Int32Array;
      for (let i = 0; i < size; i++) acc[i]! += a[i]!;
    }
    const out = new Array<bigint>(size);
    for (let i = 0; i < size; i++) out[i] = BigInt(acc[i]!);
    return out;
  }
  const out = new Array<bigint>(size).fill(0n);
  for (const c of clientValues) {
    const a = c[leaf]!;
    if (a instanceof BigInt64Array) for (let i = 0; i < size; i++) out[i]! += a[i]!;
    else for (let i = 0; i < size; i++) out[i]! += BigInt(a[i] as number);
  }
  return out;
}

/** Float64 sum of one leaf over clients, optionally weighted. */
export function floatSum(clientValues: readonly (readonly NumericArray[])[], leaf: number, size: number, weights?: Float64Array): Float64Array {
  const out = new Float64Array(size);
  clientValues.forEach((c, k) => {
    const a = c[leaf]!;
    const w = weights ? weights[k]! : 1;
    for (let i = 0; i < size; i++) out[i]! += w * Number(a[i]!);
  });
  return out;
}

/** Reference semantics of every aggregation uri. */
export function referenceAggregate(req: AggregationRequest): AggregationResult {
  const leaves: AggregateLeafValue[] = req.leaves.map((leaf, j) => {
    const integer = leaf.type.dtype === 'int32' || leaf.type.dtype === 'int64' || leaf.type.dtype === 'uint32';
    switch (req.uri) {
      case 'federated_secure_sum':
      case 'federated_secure_sum_at_aggregators':
        return exactSum(req.clientValues, j, leaf.size);
      case 'federated_sum_at_aggregators':
        return integer ? exactSum(req.clientValues, j, leaf.size) : floatSum(req.clientValues, j, leaf.size);
      case 'federated_mean_at_aggregators': {
        const s = floatSum(req.clientValues, j, leaf.size);
        for (let i = 0; i < s.length; i++) s[i]! /= req.numClients;
        return s;
      }
      case 'federated_weighted_mean_at_aggregators': {
        const w = req.weights!;
        let total = 0;
        for (let k = 0; k < w.length; k++) total += w[k]!;
        const s = floatSum(req.clientValues, j, leaf.size, w);
        for (let i = 0; i < s.length; i++) s[i]! /= total;
        return s;
      }
    }
  });
  return { leaves };
}

let warnedProcess = false;
const MESSAGE =
  'fedcrypt: insecureReferenceAggregation computes aggregates IN THE CLEAR (no secure protocol is bound); ' +
  'bind one with localContext({ aggregation: ... }) for real secure aggregation';

export interface InsecureReferenceOptions {
  /** Called once (per protocol object) instead of the once-per-process process.emitWarning. */
  warn?: (message: string) => void;
}

/** The insecure reference protocol: the default of localContext, and the oracle of the conformance suite. */
export function insecureReferenceAggregation(options: InsecureReferenceOptions = {}): AggregationProtocol {
  if (options === null || typeof options !== 'object') throw new TypeError(`insecureReferenceAggregation: "options" expected an object, got ${typeof options}`);
  if (options.warn !== undefined && typeof options.warn !== 'function') {
    throw new TypeError(`insecureReferenceAggregation: "warn" expected a function, got ${typeof options.warn}`);
  }
  let warned = false;
  return Object.freeze({
    name: 'insecure-reference',
    secure: false,
    intrinsics: AGGREGATION_URIS,
    async aggregate(req: AggregationRequest): Promise<AggregationResult> {
      if (options.warn) {
        if (!warned) options.warn(MESSAGE);
        warned = true;
      } else if (!warnedProcess) {
        warnedProcess = true;
        process.emitWarning(MESSAGE, { code: 'FEDCRYPT_INSECURE_AGGREGATION' });
      }
      return referenceAggregate(req);
    },
  });
}
