/**
 * Encoding plans of the Paillier aggregation: how a request's leaves become
 * one integer vector per client, and how the decrypted sums become results.
 * Secure sums pack the values as they are (unsigned, bitwidth of the declared
 * bound); integer sums/means use signed offset encoding (33 bits for
 * int32/uint32, 64 for int64); floats use fixed point with scale 2^fracBits in
 * 96-bit signed slots (|x| < 2^(94 - fracBits)); weighted means encode
 * (w_i / W)·x_i with the total weight W treated as public.
 */
import { PaillierPacking, type IntegerVector } from '../paillier/packing.js';
import { ValueOutOfRangeError } from '../paillier/errors.js';
import type { AggregateLeafValue, AggregationRequest } from './protocol.js';

/** How a request's leaves become one integer vector per client, and back. */
export interface Plan {
  packing: PaillierPacking;
  length: number;
  encode(client: number): IntegerVector;
  decode(sums: bigint[], contributions: number): AggregateLeafValue[];
}

const isIntDType = (d: string) => d === 'int32' || d === 'uint32' || d === 'int64';

export function planFor(req: AggregationRequest, keyBits: number, maxClients: number, fracBits: number): Plan {
  const sizes = req.leaves.map((l) => l.size);
  const total = sizes.reduce((a, b) => a + b, 0);
  const scale = 2 ** fracBits;
  const bigScale = 1n << BigInt(fracBits);
  if (req.uri === 'federated_secure_sum' || req.uri === 'federated_secure_sum_at_aggregators') {
    const bound = req.bound ?? (1n << BigInt(req.bitwidth ?? 32));
    const bitwidth = Math.max(1, (bound - 1n).toString(2).length);
    const packing = new PaillierPacking({ keyBits, bitwidth, maxClients, signed: false });
    return {
      packing,
      length: total,
      encode: (c) => concatLeaves(req.clientValues[c]!, total, (x) => x),
      decode: (sums) => splitLeaves(sums, sizes).map((s) => s),
    };
  }
  const weighted = req.uri === 'federated_weighted_mean_at_aggregators';
  const intLeaf = req.leaves.map((l) => isIntDType(l.type.dtype));
  const anyFloat = intLeaf.some((x) => !x);
  const anyInt64 = req.leaves.some((l) => l.type.dtype === 'int64');
  const bitwidth = weighted || anyFloat ? 96 : anyInt64 ? 64 : 33;
  const packing = new PaillierPacking({ keyBits, bitwidth, maxClients, signed: true });
  const fixed = (x: number, what: string): bigint => {
    const v = x * scale;
    if (!Number.isFinite(v) || Math.abs(v) >= 2 ** 94) throw new ValueOutOfRangeError(`paillier aggregation: ${what} = ${x} does not fit the fixed-point range (|x| < 2^${94 - fracBits})`);
    return BigInt(Math.round(v));
  };
  // weighted means: clients encode (w_i / W)·x_i with the total weight W public (as in the MPC secureMean)
  const W = weighted ? req.weights!.reduce((a, b) => a + b, 0) : 1;
  return {
    packing,
    length: total,
    encode(c) {
      const f = weighted ? req.weights![c]! / W : 1;
      const out: bigint[] = new Array(total);
      let k = 0;
      req.clientValues[c]!.forEach((a, j) => {
        for (let i = 0; i < a.length; i++) {
          const x = a[i]!;
          if (weighted) out[k++] = fixed(f * Number(x), `weighted value of client ${c}`);
          else if (intLeaf[j]) out[k++] = typeof x === 'bigint' ? x : BigInt(x);
          else out[k++] = fixed(x as number, `value of client ${c}`);
        }
      });
      return out;
    },
    decode(sums, contributions) {
      const parts = splitLeaves(sums, sizes);
      const divisor = req.uri === 'federated_mean_at_aggregators' ? contributions : 1;
      return parts.map((s, j) => {
        if (req.uri === 'federated_sum_at_aggregators' && intLeaf[j]) return s;
        const f = new Float64Array(s.length);
        const unscale = weighted || !intLeaf[j] ? bigScale : 1n;
        for (let i = 0; i < s.length; i++) f[i] = toNumber(s[i]!, unscale) / divisor;
        return f;
      });
    },
  };
}

/** x / d as a float64, accurate for large x (integer and fractional parts separately). */
function toNumber(x: bigint, d: bigint): number {
  if (d === 1n) return Number(x);
  const q = x / d;
  const r = x - q * d;
  return Number(q) + Number(r) / Number(d);
}

function concatLeaves(leaves: readonly ArrayLike<number | bigint>[], total: number, f: (x: number | bigint) => number | bigint): (number | bigint)[] {
  const out: (number | bigint)[] = new Array(total);
  let k = 0;
  for (const a of leaves) for (let i = 0; i < a.length; i++) out[k++] = f(a[i]!);
  return out;
}

function splitLeaves(sums: bigint[], sizes: number[]): bigint[][] {
  const out: bigint[][] = [];
  let k = 0;
  for (const s of sizes) {
    out.push(sums.slice(k, k + s));
    k += s;
  }
  return out;
}
