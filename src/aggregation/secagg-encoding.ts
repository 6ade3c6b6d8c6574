/**
 * How a client's input becomes the vector SecAgg masks, and how the server's
 * unmasked sum becomes the aggregate (docs/secagg.md, "Encoding").
 *
 * Every element becomes an unsigned integer v in [0, 2^b):
 *   secure sum          v = x, b = bit length of (bound - 1): exact;
 *   sum / mean, integer leaves (int32, uint32, int64, bool)
 *                       v = x + 2^(b-1) for signed dtypes (b = 32 or 64), v = x (uint32 b = 32, bool b = 1): exact;
 *   sum / mean, float leaves, and every leaf of a weighted mean
 *                       q = round(w · x · 2^f) saturated to |q| <= 2^(F-1) - 1
 *                       (f = fracBits, F = floatBits, w = 1 unless weighted),
 *                       v = q + 2^(F-1);
 *   weighted mean       one more element: q(w), the same fixed point.
 * With c = ceil(log2 n), each v is split into L = ceil(b / l) limbs of
 * l = min(b, modulusBits - c) bits (low limb first), so a sum of n limbs is
 * below 2^(l + c): the masks live modulo R = 2^B, B = c + the widest limb,
 * and no sum of at most n clients wraps. The server recombines the limb sums
 * with BigInt and removes count · 2^(b-1).
 *
 * Error (fixed point): each q is within 2^-(f+1) of w · x · 2^f ... / 2^f,
 * so a sum is within n · 2^-(f+1) of the exact one, a mean within
 * 2^-(f+1); a weighted mean sum(q(wx)) / sum(q(w)) is within
 * (n u/2)(1 + |m|) / (W - n u/2), u = 2^-f, W = sum(w), m the exact mean.
 * Values outside the range are saturated (`clamp` counts them).
 */
import type { NumericArray } from '../core/values.js';
import { clipScaledFloats, type ClientInput } from './roles.js';
import type { AggregationPlan } from './plan.js';
import type { AggregateLeafValue } from './protocol.js';
import type { SecAggParams } from './secagg-setup.js';
import type { MaskAccumulator } from '../crypto/mask-prg.js';

type Kind = 'unsigned' | 'int' | 'fixed';

interface LeafLayout {
  readonly kind: Kind;
  /** Bits of v. */
  readonly b: number;
  /** Offset added to the value (0 or 2^(b-1)). */
  readonly offset: bigint;
  readonly limbBits: number;
  readonly limbs: number;
  readonly size: number;
}

export interface SecAggEncoding {
  /** Mask modulus bits B (R = 2^B). */
  readonly bits: number;
  /** Entries of the masked vector. */
  readonly entries: number;
  /** A client's input as the vector to mask (Uint32Array for B <= 32, BigUint64Array above). */
  encode(input: ClientInput): MaskAccumulator;
  /** The aggregate of `count` clients from their unmasked sum (modulo 2^B). */
  decode(sum: MaskAccumulator, count: number): AggregateLeafValue[];
}

/** ceil(log2 n): the bits a sum of n values needs above one value's. */
export function log2ceil(n: number): number {
  let c = 0;
  while (2 ** c < n) c++;
  return c;
}

function bitLength(x: bigint): number {
  return x <= 0n ? 0 : x.toString(2).length;
}

/** The encoding of `plan` for its n clients (the same at every party). */
export function secAggEncoding(plan: AggregationPlan, params: SecAggParams): SecAggEncoding {
  const n = plan.clients.length;
  const c = log2ceil(n);
  if (params.modulusBits - c < 1) throw new RangeError(`secagg: modulusBits = ${params.modulusBits} leaves no room for a sum of ${n} clients (needs more than ${c} bits)`);
  const room = params.modulusBits - c;
  const weighted = plan.uri === 'federated_weighted_mean_at_aggregators';
  const secure = plan.uri === 'federated_secure_sum';
  const mean = plan.uri === 'federated_mean_at_aggregators';
  const F = params.floatBits;
  const f = params.fracBits;
  const layout = (kind: Kind, b: number, size: number): LeafLayout => {
    const limbBits = Math.min(b, room);
    return { kind, b, offset: kind === 'unsigned' ? 0n : 1n << BigInt(b - 1), limbBits, limbs: Math.ceil(b / limbBits), size };
  };
  const leaves: LeafLayout[] = plan.leaves.map((l) => {
    const dt = l.type.dtype;
    if (secure) return layout('unsigned', Math.max(1, bitLength(plan.bound! - 1n)), l.size);
    if (!weighted && (dt === 'int32' || dt === 'int64')) return layout('int', dt === 'int32' ? 32 : 64, l.size);
    if (!weighted && dt === 'uint32') return layout('unsigned', 32, l.size);
    if (!weighted && dt === 'bool') return layout('unsigned', 1, l.size);
    return layout('fixed', F, l.size);
  });
  if (weighted) leaves.push(layout('fixed', F, 1));
  const bits = c + Math.max(...leaves.map((l) => l.limbBits));
  const entries = leaves.reduce((a, l) => a + l.size * l.limbs, 0);
  const scale = 2 ** f;
  const qMax = 2n ** BigInt(F - 1) - 1n;
  const fixed = (y: number): bigint => {
    if (!Number.isFinite(y)) return y > 0 ? qMax : y < 0 ? -qMax : 0n;
    const q = BigInt(Math.round(y * scale));
    return q > qMax ? qMax : q < -qMax ? -qMax : q;
  };
  const put = (acc: MaskAccumulator, at: number, v: bigint, l: LeafLayout): void => {
    if (l.limbs === 1) {
      if (acc instanceof Uint32Array) acc[at] = Number(v);
      else acc[at] = v;
      return;
    }
    const mask = (1n << BigInt(l.limbBits)) - 1n;
    for (let j = 0; j < l.limbs; j++) {
      const limb = (v >> BigInt(j * l.limbBits)) & mask;
      if (acc instanceof Uint32Array) acc[at + j] = Number(limb);
      else acc[at + j] = limb;
    }
  };
  return {
    bits,
    entries,
    encode(input: ClientInput): MaskAccumulator {
      const acc: MaskAccumulator = bits <= 32 ? new Uint32Array(entries) : new BigUint64Array(entries);
      const w = weighted ? input.weight ?? 0 : 1;
      let at = 0;
      leaves.forEach((l, j) => {
        if (j === plan.leaves.length) {
          put(acc, at, fixed(w) + l.offset, l);
          at += l.limbs;
          return;
        }
        const x = input.values[j]! as NumericArray;
        if (l.limbs === 1 && l.b <= 52 && !(x instanceof BigInt64Array)) {
          at = encodeNumbers(acc, at, x as Exclude<NumericArray, BigInt64Array>, l, l.kind === 'fixed' ? w * scale : 0, F);
          return;
        }
        for (let i = 0; i < l.size; i++) {
          const e = x[i]!;
          let v: bigint;
          if (l.kind === 'fixed') v = fixed(w * Number(e)) + l.offset;
          else v = (typeof e === 'bigint' ? e : BigInt(e)) + l.offset;
          put(acc, at, v, l);
          at += l.limbs;
        }
      });
      return acc;
    },
    decode(sum: MaskAccumulator, count: number): AggregateLeafValue[] {
      let at = 0;
      const totals = leaves.map((l) => {
        if (l.limbs === 1 && bits <= 53) {
          const out = decodeNumbers(sum, at, l, count);
          at += l.size;
          return out;
        }
        const out = new Array<bigint>(l.size);
        const off = BigInt(count) * l.offset;
        for (let i = 0; i < l.size; i++) {
          let s = 0n;
          for (let j = 0; j < l.limbs; j++) s += BigInt(sum[at + j]!) << BigInt(j * l.limbBits);
          out[i] = s - off;
          at += l.limbs;
        }
        return out;
      });
      const weight = weighted ? Number(totals[plan.leaves.length]![0]!) : 0;
      return plan.leaves.map((_, j) => {
        const l = leaves[j]!;
        const s = totals[j]!;
        if (l.kind !== 'fixed' && !mean) return s instanceof Float64Array ? Array.from(s, (x) => BigInt(x)) : s;
        const out = new Float64Array(l.size);
        const div = l.kind === 'fixed' ? (weighted ? weight : scale * (mean ? count : 1)) : count;
        for (let i = 0; i < l.size; i++) out[i] = Number(s[i]!) / div;
        return out;
      });
    },
  };
}

/**
 * One-limb leaves of at most 52 bits, in doubles (exact below 2^53): v =
 * round(x · mul) saturated, + offset, for fixed point (mul > 0: w · 2^f), or
 * x + offset for integers (mul = 0); written as 32-bit words (two per entry
 * in a 64-bit accumulator). The same values as the BigInt path.
 */
function encodeNumbers(acc: MaskAccumulator, at: number, x: Exclude<NumericArray, BigInt64Array>, l: LeafLayout, mul: number, F: number): number {
  const words = acc instanceof Uint32Array ? acc : new Uint32Array(acc.buffer, acc.byteOffset, acc.length * 2);
  const wide = !(acc instanceof Uint32Array);
  const off = Number(l.offset);
  const qMax = 2 ** (F - 1) - 1;
  const fixed = l.kind === 'fixed';
  for (let i = 0; i < l.size; i++, at++) {
    let v: number;
    if (fixed) {
      const q = Math.round(Number(x[i]!) * mul);
      v = (q !== q ? 0 : q > qMax ? qMax : q < -qMax ? -qMax : q) + off;
    } else v = Number(x[i]!) + off;
    if (wide) {
      const lo = v % 4294967296;
      words[2 * at] = lo;
      words[2 * at + 1] = (v - lo) / 4294967296;
    } else words[at] = v;
  }
  return at;
}

/** The signed sums of a one-limb leaf as doubles (the sum is below 2^53: exact). */
function decodeNumbers(sum: MaskAccumulator, at: number, l: LeafLayout, count: number): Float64Array {
  const out = new Float64Array(l.size);
  const off = count * Number(l.offset);
  if (sum instanceof Uint32Array) for (let i = 0; i < l.size; i++) out[i] = sum[at + i]! - off;
  else {
    const words = new Uint32Array(sum.buffer, sum.byteOffset, sum.length * 2);
    for (let i = 0; i < l.size; i++) out[i] = words[2 * (at + i)]! + words[2 * (at + i) + 1]! * 4294967296 - off;
  }
  return out;
}

/**
 * A client's input saturated into the encodable range (the remote executor
 * applies it before the role runs; `clipped` counts the changed values):
 * float values (and weighted values) with |w · x · 2^f| >= 2^(F-1).
 */
export function clampSecAggInput(plan: AggregationPlan, params: SecAggParams, input: ClientInput): { input: ClientInput; clipped: number } {
  const weighted = plan.uri === 'federated_weighted_mean_at_aggregators';
  if (plan.uri === 'federated_secure_sum') return { input, clipped: 0 };
  const limit = 2 ** (params.floatBits - 1);
  const w = weighted ? input.weight ?? 0 : 1;
  let clipped = 0;
  const values = input.values.map((v) => {
    const r = clipScaledFloats(v, w * 2 ** params.fracBits, limit);
    clipped += r.clipped;
    return r.values;
  });
  let weight = input.weight;
  if (weighted && weight !== undefined && weight * 2 ** params.fracBits >= limit) {
    weight = (limit / 2 ** params.fracBits) * (1 - 2 ** -20);
    clipped++;
  }
  return { input: { values, ...(weight === undefined ? {} : { weight }) }, clipped };
}
