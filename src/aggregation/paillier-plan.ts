/**
 * Encodings of the Paillier aggregation: how ONE client's input becomes its
 * integer vector (at that client), and how the decrypted sums become the
 * aggregate (at SERVER). Everything here is a function of the public plan and
 * the public parameters; `encode` only ever sees the one input it is given.
 *
 * Secure sums pack the values as they are (unsigned, bitwidth of the declared
 * bound); integer sums/means use signed offset encoding (33 bits for
 * int32/uint32, 64 for int64); floats use fixed point with scale 2^fracBits in
 * signed slots of `floatBits` bits (|x| < 2^(floatBits - 1 - fracBits)).
 * Weighted means: the weight is the client's private input; the client
 * encodes w·x in fixed point and appends w as one more slot, and SERVER
 * divides the decrypted sums Σ w·x by Σ w (no party sees an individual w).
 * Unweighted means divide by the number of contributions in the aggregate.
 */
import { PaillierPacking, type IntegerVector } from '../paillier/packing.js';
import { ValueOutOfRangeError } from '../paillier/errors.js';
import type { AggregationPlan } from './plan.js';
import type { AggregateLeafValue } from './protocol.js';
import { clipScaledFloats, type ClientInput } from './roles.js';

/** The public parameters an encoding depends on. */
export interface EncodingParams {
  readonly keyBits: number;
  readonly maxClients: number;
  readonly fracBits: number;
  readonly floatBits: number;
}

/** How a plan's leaves become one integer vector per client, and back. */
export interface Encoding {
  readonly packing: PaillierPacking;
  /** Integers per client: the plan's elements, plus the weight for weighted means. */
  readonly length: number;
  /** One client's own input as integers (ValueOutOfRangeError for a value the slots cannot hold). */
  encode(me: string, input: ClientInput): IntegerVector;
  /** The aggregate from the exact sums of `contributions` clients. */
  decode(sums: readonly bigint[], contributions: number): AggregateLeafValue[];
}

const isIntDType = (d: string) => d === 'int32' || d === 'uint32' || d === 'int64';

export function encodingFor(plan: AggregationPlan, p: EncodingParams): Encoding {
  const sizes = plan.leaves.map((l) => l.size);
  const total = sizes.reduce((a, b) => a + b, 0);
  const { keyBits, maxClients, fracBits, floatBits } = p;
  if (plan.uri === 'federated_secure_sum' || plan.uri === 'federated_secure_sum_at_aggregators') {
    const bound = plan.bound!;
    const bitwidth = Math.max(1, (bound - 1n).toString(2).length);
    const packing = new PaillierPacking({ keyBits, bitwidth, maxClients, signed: false });
    return {
      packing,
      length: total,
      encode: (_me, input) => concat(input.values, total),
      decode: (sums) => split(sums, sizes),
    };
  }
  const weighted = plan.uri === 'federated_weighted_mean_at_aggregators';
  const intLeaf = plan.leaves.map((l) => isIntDType(l.type.dtype));
  const anyFloat = intLeaf.some((x) => !x);
  const intBits = plan.leaves.some((l) => l.type.dtype === 'int64') ? 64 : 33;
  const bitwidth = weighted ? floatBits : anyFloat ? Math.max(floatBits, intBits) : intBits;
  const packing = new PaillierPacking({ keyBits, bitwidth, maxClients, signed: true });
  const scale = 2 ** fracBits;
  const limit = 2 ** (floatBits - 1);
  const fixed = (x: number, what: () => string): number | bigint => {
    const v = Math.round(x * scale);
    if (!(Math.abs(v) < limit)) throw new ValueOutOfRangeError(`${what()} = ${x} does not fit the fixed-point range (|x| < 2^${floatBits - 1 - fracBits}; fracBits ${fracBits}, floatBits ${floatBits})`);
    return Number.isSafeInteger(v) ? v : BigInt(v);
  };
  const length = total + (weighted ? 1 : 0);
  return {
    packing,
    length,
    encode(me, input) {
      const w = weighted ? input.weight! : 1;
      const out = new Array<number | bigint>(length);
      let k = 0;
      input.values.forEach((a, j) => {
        for (let i = 0; i < a.length; i++) {
          const x = a[i]!;
          if (weighted) out[k] = fixed(w * Number(x), () => `${me}: weight × value ${k}`);
          else if (intLeaf[j]) out[k] = x;
          else out[k] = fixed(x as number, () => `${me}: value ${k}`);
          k++;
        }
      });
      if (weighted) out[k] = fixed(w, () => `${me}: weight`);
      return out;
    },
    decode(sums, contributions) {
      let divisor = 1;
      if (plan.uri === 'federated_mean_at_aggregators') divisor = contributions;
      if (weighted) {
        divisor = toNumber(sums[total]!, scale);
        if (!(divisor > 0)) throw new RangeError(`paillier aggregation: the weights of the ${contributions} contributions sum to ${divisor} at 2^-${fracBits} precision; no weighted mean`);
      }
      return split(sums.slice(0, total), sizes).map((s, j) => {
        if (plan.uri === 'federated_sum_at_aggregators' && intLeaf[j]) return s;
        const f = new Float64Array(s.length);
        const unscale = weighted || !intLeaf[j] ? scale : 1;
        for (let i = 0; i < s.length; i++) f[i] = toNumber(s[i]!, unscale) / divisor;
        return f;
      });
    },
  };
}

/** x / d as a float64 (d a power of two), accurate for large x (integer and fractional parts separately). */
function toNumber(x: bigint, d: number): number {
  if (x >= -(2n ** 53n) && x <= 2n ** 53n) return Number(x) / d;
  const bd = BigInt(d);
  const q = x / bd;
  return Number(q) + Number(x - q * bd) / d;
}

function concat(leaves: ClientInput['values'], total: number): (number | bigint)[] {
  const out = new Array<number | bigint>(total);
  let k = 0;
  for (const a of leaves) for (let i = 0; i < a.length; i++) out[k++] = a[i]!;
  return out;
}

function split(sums: readonly bigint[], sizes: readonly number[]): bigint[][] {
  const out: bigint[][] = [];
  let k = 0;
  for (const s of sizes) {
    out.push(sums.slice(k, k + s));
    k += s;
  }
  return out;
}

/**
 * A client's input brought into the fixed-point range of the plan's slots
 * (|x|, |w| and |w·x| below 2^(floatBits - 1 - fracBits)): what `encode`
 * would refuse becomes the nearest value it holds. The remote executor uses
 * it, so that no refusal depends on a value (roles.ts `clamp`).
 */
export function clampPaillierInput(plan: AggregationPlan, p: EncodingParams, input: ClientInput): { input: ClientInput; clipped: number } {
  if (plan.uri === 'federated_secure_sum' || plan.uri === 'federated_secure_sum_at_aggregators') return { input, clipped: 0 };
  const lim = 2 ** (p.floatBits - 1 - p.fracBits) * (1 - 2 ** -20);
  const weighted = plan.uri === 'federated_weighted_mean_at_aggregators';
  let clipped = 0;
  let weight = input.weight;
  if (weighted && weight !== undefined && !(Math.abs(weight) < lim)) {
    weight = Math.sign(weight) * lim;
    clipped++;
  }
  const m = weighted ? Math.abs(weight ?? 0) : 1;
  const values = input.values.map((v, j) => {
    if (isIntDType(plan.leaves[j]!.type.dtype) && !weighted) return v;
    const c = clipScaledFloats(v, m, lim);
    clipped += c.clipped;
    return c.values;
  });
  return { input: { values, ...(weight === undefined ? {} : { weight }) }, clipped };
}
