/**
 * Bytes of the values roles exchange in the clear: a client's leaves (the
 * insecure reference only) and an aggregate (from the party that computed or
 * decrypted it to a target that is another party). Every decoder checks the
 * length against the plan before it reads.
 */
import { allocate, type NumericArray } from '../core/values.js';
import type { AggregationPlan } from './plan.js';
import type { AggregateLeafValue, AggregationResult } from './protocol.js';

const BYTES: Record<string, number> = { int32: 4, uint32: 4, int64: 8, float32: 4, float64: 8, bool: 1 };

/** A client's leaves in the plan's dtypes, concatenated (little-endian). */
export function leavesToBytes(plan: AggregationPlan, values: readonly NumericArray[]): Uint8Array {
  let n = 0;
  for (const l of plan.leaves) n += l.size * BYTES[l.type.dtype]!;
  const out = new Uint8Array(n);
  let at = 0;
  plan.leaves.forEach((l, j) => {
    const v = values[j]!;
    const want = allocate(l.type.dtype, 0).constructor;
    if (v.constructor !== want || v.length !== l.size) throw new RangeError(`leavesToBytes: leaf ${j} expected ${l.size} ${l.type.dtype} values`);
    const b = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    out.set(b, at);
    at += b.length;
  });
  return out;
}

/** The inverse of leavesToBytes (fresh, aligned arrays). */
export function leavesFromBytes(plan: AggregationPlan, bytes: Uint8Array, what: string): NumericArray[] {
  let n = 0;
  for (const l of plan.leaves) n += l.size * BYTES[l.type.dtype]!;
  if (bytes.length !== n) throw new RangeError(`${what}: ${bytes.length} bytes, the plan's leaves take ${n}`);
  let at = 0;
  return plan.leaves.map((l) => {
    const a = allocate(l.type.dtype, l.size);
    const len = l.size * BYTES[l.type.dtype]!;
    new Uint8Array(a.buffer).set(bytes.subarray(at, at + len));
    at += len;
    return a;
  });
}

const F64 = 0;
const I64 = 1;
const BIG = 2;

/** An aggregate as bytes: per leaf a tag (float64, int64, or int128 for exact sums past 64 bits) and its elements. */
export function resultToBytes(plan: AggregationPlan, r: AggregationResult): Uint8Array {
  if (r.leaves.length !== plan.leaves.length) throw new RangeError(`resultToBytes: ${r.leaves.length} leaves, the plan has ${plan.leaves.length}`);
  const parts: Uint8Array[] = [];
  r.leaves.forEach((v, j) => {
    const size = plan.leaves[j]!.size;
    if (v.length !== size) throw new RangeError(`resultToBytes: leaf ${j} has ${v.length} elements, expected ${size}`);
    if (v instanceof Float32Array) {
      // (exactly, as float64)
      const p = new Uint8Array(1 + v.length * 8);
      p[0] = F64;
      p.set(new Uint8Array(Float64Array.from(v).buffer), 1);
      parts.push(p);
    } else if (v instanceof Float64Array || v instanceof BigInt64Array) {
      const p = new Uint8Array(1 + v.byteLength);
      p[0] = v instanceof Float64Array ? F64 : I64;
      p.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), 1);
      parts.push(p);
    } else {
      const p = new Uint8Array(1 + 16 * size);
      p[0] = BIG;
      const dv = new DataView(p.buffer);
      for (let i = 0; i < size; i++) {
        const x = BigInt.asUintN(128, v[i]!);
        dv.setBigUint64(1 + 16 * i, BigInt.asUintN(64, x), true);
        dv.setBigUint64(9 + 16 * i, x >> 64n, true);
      }
      parts.push(p);
    }
  });
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function resultFromBytes(plan: AggregationPlan, bytes: Uint8Array, what: string): AggregationResult {
  const leaves: AggregateLeafValue[] = [];
  let at = 0;
  for (const l of plan.leaves) {
    const tag = bytes[at];
    const width = tag === F64 || tag === I64 ? 8 : tag === BIG ? 16 : 0;
    if (width === 0) throw new RangeError(`${what}: unknown leaf tag ${String(tag)}`);
    const len = l.size * width;
    if (bytes.length < at + 1 + len) throw new RangeError(`${what}: truncated (${bytes.length} bytes)`);
    const body = bytes.slice(at + 1, at + 1 + len);
    if (tag === F64) leaves.push(new Float64Array(body.buffer));
    else if (tag === I64) leaves.push(new BigInt64Array(body.buffer));
    else {
      const dv = new DataView(body.buffer);
      const out = new Array<bigint>(l.size);
      for (let i = 0; i < l.size; i++) out[i] = BigInt.asIntN(128, dv.getBigUint64(16 * i, true) | (dv.getBigUint64(16 * i + 8, true) << 64n));
      leaves.push(out);
    }
    at += 1 + len;
  }
  if (at !== bytes.length) throw new RangeError(`${what}: ${bytes.length - at} trailing bytes`);
  return { leaves };
}
