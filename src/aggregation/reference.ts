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
import type { AggregationPlan } from './plan.js';
import { checkClientInput, enforcePlan, type AggregationRoles, type ClientInput, type PartyContext } from './roles.js';
import { rolesAsProtocol } from './simulate.js';
import { checkSurvivors, collectContributions, contributorBits, contributorsField, contributorsFromBits } from './dropout.js';
import { leavesFromBytes, leavesToBytes, resultFromBytes, resultToBytes } from './wire.js';

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

/** What the reference arithmetic reads of a request. */
export type ReferenceRequest = Pick<AggregationRequest, 'uri' | 'leaves' | 'clientValues' | 'numClients'> & { readonly weights?: Float64Array };

/** Reference semantics of every aggregation uri. */
export function referenceAggregate(req: ReferenceRequest): AggregationResult {
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

/**
 * The insecure reference as roles: every client sends its values IN THE CLEAR
 * to the one aggregator party, which computes `referenceAggregate` and keeps
 * it (target AGGREGATORS) or sends it to SERVER. A party runs it only with its
 * operator's opt-in (`RolePolicy.allowInsecure`).
 */
export function referenceRoles(): AggregationRoles {
  const name = 'insecure-reference';
  const self: AggregationRoles = Object.freeze({
    name,
    secure: false,
    intrinsics: AGGREGATION_URIS,
    aggregatorCount: 1,
    aggregatorNames: Object.freeze(['aggregator']),
    params: Object.freeze({}),
    async client(ctx: PartyContext, plan: AggregationPlan, input: ClientInput): Promise<void> {
      enforcePlan(self, ctx, plan, 'client');
      checkClientInput(ctx.me, plan, input);
      const body = leavesToBytes(plan, input.values);
      const msg = new Uint8Array(8 + body.length);
      new DataView(msg.buffer).setFloat64(0, input.weight ?? 1, true);
      msg.set(body, 8);
      await ctx.transport.send(ctx.me, plan.aggregators[0]!, `${plan.invocationId}/ref/value`, msg);
    },
    async aggregator(ctx: PartyContext, plan: AggregationPlan, index: number): Promise<AggregationResult | undefined> {
      enforcePlan(self, ctx, plan, 'aggregator', index);
      const opts = ctx.timeoutMs === undefined ? {} : { timeoutMs: ctx.timeoutMs };
      const values: NumericArray[][] = [];
      const weightOf: number[] = [];
      const survivors = await collectContributions(ctx, plan, async (i, c) => {
        const m = await ctx.transport.receive(ctx.me, plan.clients[i]!, `${plan.invocationId}/ref/value`, opts);
        // (parsed on arrival: a malformed value is that client's failure)
        const v = leavesFromBytes(plan, m.subarray(8), `value of ${plan.clients[i]!}`);
        if (!c.open) return;
        values[i] = v;
        weightOf[i] = new DataView(m.buffer, m.byteOffset, 8).getFloat64(0, true);
        c.applied(i);
      });
      checkSurvivors(ctx, plan, survivors);
      const clientValues = survivors.map((i) => values[i]!);
      const weights = Float64Array.from(survivors, (i) => weightOf[i]!);
      await ctx.releaseGate?.(contributorsField(plan, survivors).contributors);
      const result = { ...referenceAggregate({ uri: plan.uri, leaves: plan.leaves, clientValues, weights, numClients: survivors.length }), ...contributorsField(plan, survivors) };
      if (plan.target === 'AGGREGATORS') return result;
      const body = resultToBytes(plan, result);
      const set = contributorBits(plan.clients.length, survivors);
      const msg = new Uint8Array(body.length + set.length);
      msg.set(set, 0);
      msg.set(body, set.length);
      await ctx.transport.send(ctx.me, plan.server, `${plan.invocationId}/ref/result`, msg);
      return undefined;
    },
    async server(ctx: PartyContext, plan: AggregationPlan): Promise<AggregationResult | undefined> {
      enforcePlan(self, ctx, plan, 'server');
      if (plan.target !== 'SERVER') return undefined;
      const opts = ctx.timeoutMs === undefined ? {} : { timeoutMs: ctx.timeoutMs };
      const bytes = await ctx.transport.receive(ctx.me, plan.aggregators[0]!, `${plan.invocationId}/ref/result`, opts);
      const setBytes = Math.ceil(plan.clients.length / 8);
      const survivors = contributorsFromBits(plan, bytes.subarray(0, setBytes), plan.aggregators[0]!);
      return { ...resultFromBytes(plan, bytes.subarray(setBytes), `aggregate from ${plan.aggregators[0]!}`), ...contributorsField(plan, survivors) };
    },
  });
  return self;
}

let warnedProcess = false;
const MESSAGE =
  'fedcrypt: insecureReferenceAggregation computes aggregates IN THE CLEAR (no secure protocol is bound); ' +
  'bind one with localContext({ aggregation: ... }) for real secure aggregation';

export interface InsecureReferenceOptions {
  /** Called once (per protocol object) instead of the once-per-process process.emitWarning. */
  warn?: (message: string) => void;
}

/** The insecure reference protocol (its roles, simulated in this process): the default of localContext. */
export function insecureReferenceAggregation(options: InsecureReferenceOptions = {}): AggregationProtocol {
  if (options === null || typeof options !== 'object') throw new TypeError(`insecureReferenceAggregation: "options" expected an object, got ${typeof options}`);
  if (options.warn !== undefined && typeof options.warn !== 'function') {
    throw new TypeError(`insecureReferenceAggregation: "warn" expected a function, got ${typeof options.warn}`);
  }
  let warned = false;
  const inner = rolesAsProtocol(referenceRoles(), { allowInsecure: true });
  return Object.freeze({
    name: inner.name,
    secure: false,
    intrinsics: inner.intrinsics,
    async aggregate(req: AggregationRequest): Promise<AggregationResult> {
      if (options.warn) {
        if (!warned) options.warn(MESSAGE);
        warned = true;
      } else if (!warnedProcess) {
        warnedProcess = true;
        process.emitWarning(MESSAGE, { code: 'FEDCRYPT_INSECURE_AGGREGATION' });
      }
      return inner.aggregate(req);
    },
  });
}
