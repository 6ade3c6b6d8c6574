/**
 * Messages of the remote executor: the driver's commands to a player and the
 * player's replies. A message is a JSON header (u32 little-endian length,
 * then UTF-8) followed by binary blobs whose lengths the header lists;
 * tensor values travel as blobs (their leaves' bytes), never as JSON numbers.
 * Every decoder checks sizes before it reads.
 */
import { typeFromJson } from '../../core/serialize.js';
import { SequenceType, StructType, typeToJson, type Type, type TypeJson } from '../../core/types.js';
import { allocate, fromLeaves, leavesOf, TensorValue, type NumericArray, type RtValue } from '../../core/values.js';

export const MAX_HEADER_BYTES = 1 << 20;

export interface Framed {
  readonly header: Record<string, unknown>;
  readonly blobs: readonly Uint8Array[];
}

export function frame(header: Record<string, unknown>, blobs: readonly Uint8Array[] = []): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify({ ...header, blobs: blobs.map((b) => b.length) }));
  // the header padded with spaces (JSON allows them) so that the first blob starts 8-byte aligned: a receiver
  // can then read a tensor's elements in place (valueFromParts) instead of copying them
  const hl = json.length + ((8 - ((4 + json.length) % 8)) % 8);
  if (hl > MAX_HEADER_BYTES) throw new RangeError(`frame: header of ${hl} bytes, above ${MAX_HEADER_BYTES}`);
  const out = new Uint8Array(4 + hl + blobs.reduce((a, b) => a + b.length, 0));
  new DataView(out.buffer).setUint32(0, hl, true);
  out.set(json, 4);
  out.fill(0x20, 4 + json.length, 4 + hl);
  let at = 4 + hl;
  for (const b of blobs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

export function unframe(bytes: Uint8Array, what: string): Framed {
  if (!(bytes instanceof Uint8Array) || bytes.length < 4) throw new RangeError(`${what}: message too short`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  if (n > MAX_HEADER_BYTES || 4 + n > bytes.length) throw new RangeError(`${what}: header length ${n} does not fit the message of ${bytes.length} bytes`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(4, 4 + n)));
  } catch {
    throw new RangeError(`${what}: header is not JSON`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new RangeError(`${what}: header is not an object`);
  const lens = (header as { blobs?: unknown }).blobs;
  if (!Array.isArray(lens) || lens.length > 4096 || !lens.every((l) => Number.isInteger(l) && l >= 0)) throw new RangeError(`${what}: bad blob list`);
  const total = (lens as number[]).reduce((a, b) => a + b, 0);
  if (4 + n + total !== bytes.length) throw new RangeError(`${what}: blobs take ${total} bytes, the message has ${bytes.length - 4 - n}`);
  const blobs: Uint8Array[] = [];
  let at = 4 + n;
  for (const l of lens as number[]) {
    blobs.push(bytes.subarray(at, at + l));
    at += l;
  }
  return { header: header as Record<string, unknown>, blobs };
}

/** At most this many commands (or replies) in one batch message. */
export const MAX_BATCH = 256;

/**
 * Several commands (or their replies) in one message, in order: the header
 * `{ op: 'batch', items: [header...], counts: [blobs of each...] }`, then
 * every item's blobs one after the other. The driver sends what it has for a
 * player in one go; the player answers a batch with one batch of replies.
 */
export function frameBatch(items: readonly Framed[]): Uint8Array {
  return frame({ op: 'batch', items: items.map((i) => i.header), counts: items.map((i) => i.blobs.length) }, items.flatMap((i) => [...i.blobs]));
}

/** The items of a batch message (`f.header.op === 'batch'`); RangeError if its lists do not fit. */
export function unframeBatch(f: Framed, what: string): Framed[] {
  const items = f.header['items'];
  const counts = f.header['counts'];
  if (!Array.isArray(items) || !Array.isArray(counts) || items.length !== counts.length || items.length === 0 || items.length > MAX_BATCH) throw new RangeError(`${what}: bad batch`);
  if (!items.every((h) => h !== null && typeof h === 'object' && !Array.isArray(h))) throw new RangeError(`${what}: a batch item is not an object`);
  if (!counts.every((c) => Number.isInteger(c) && c >= 0) || (counts as number[]).reduce((a, b) => a + b, 0) !== f.blobs.length) throw new RangeError(`${what}: batch blob counts do not fit`);
  let at = 0;
  return items.map((h, i) => {
    const n = counts[i] as number;
    const blobs = f.blobs.slice(at, at + n);
    at += n;
    return { header: h as Record<string, unknown>, blobs };
  });
}

/** A tensor or struct value: its concrete type (JSON) and its leaves as one blob. */
export function valueToParts(v: RtValue): { type: TypeJson; blob: Uint8Array } {
  const leaves = leavesOf(v);
  // one leaf: its bytes as they are (a view; every use frames or copies the blob before the value could change)
  if (leaves.length === 1) {
    const d = leaves[0]!.data;
    return { type: typeToJson(concreteType(v)), blob: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) };
  }
  const blob = new Uint8Array(leaves.reduce((a, t) => a + t.data.byteLength, 0));
  let at = 0;
  for (const t of leaves) {
    blob.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return { type: typeToJson(concreteType(v)), blob };
}

/** The concrete type of a tensor/struct value (leaf types carry the run-time shapes). */
export function concreteType(v: RtValue): Type {
  if (v.kind === 'tensor') return v.type;
  if (v.kind === 'struct') {
    // StructValue.type may hold unknown dims; rebuild from the leaves
    let k = 0;
    const leaves = leavesOf(v);
    const build = (t: Type): Type => (t.kind === 'tensor' ? leaves[k++]!.type : t.kind === 'struct' ? new StructType(t.elements.map(([n, e]) => [n, build(e)] as const)) : t);
    return build(v.type);
  }
  if (v.kind === 'sequence') return new SequenceType(v.items.length > 0 ? concreteType(v.items[0]!) : v.type.element);
  throw new TypeError(`remote values must be tensors, structs or sequences of them, got a ${v.kind} value`);
}

export function valueFromParts(typeJson: unknown, blob: Uint8Array, what: string): RtValue {
  const type = typeFromJson(typeJson);
  const leafTypes: { dtype: string; size: number; t: Type }[] = [];
  const walk = (t: Type): void => {
    if (t.kind === 'tensor') {
      if (t.size === null) throw new RangeError(`${what}: a value's type must have known dimensions, got ${String(t)}`);
      leafTypes.push({ dtype: t.dtype, size: t.size, t });
    } else if (t.kind === 'struct') t.elements.forEach(([, e]) => walk(e));
    else throw new RangeError(`${what}: expected a tensor or struct type, got ${String(t)}`);
  };
  walk(type);
  const leaves: TensorValue[] = [];
  let at = 0;
  for (const l of leafTypes) {
    const dtype = l.t.kind === 'tensor' ? l.t.dtype : 'float32';
    const bytes = l.size * (BYTES[dtype] ?? 0);
    if (at + bytes > blob.length) throw new RangeError(`${what}: value bytes are short (${blob.length})`);
    leaves.push(new TensorValue(l.t as never, leafFrom(dtype, l.size, blob, at)));
    at += bytes;
  }
  if (at !== blob.length) throw new RangeError(`${what}: ${blob.length - at} bytes past the value`);
  return fromLeaves(type, leaves);
}

const BYTES: Record<string, number> = { int32: 4, uint32: 4, float32: 4, int64: 8, float64: 8, bool: 1 };
const VIEWS: Record<string, new (b: ArrayBufferLike, offset: number, length: number) => NumericArray> = {
  int32: Int32Array, uint32: Uint32Array, float32: Float32Array, int64: BigInt64Array, float64: Float64Array,
};

/**
 * A leaf's `n` elements from `blob` at byte `at`: a view of the message
 * where they are aligned (a received message is the receiver's own buffer,
 * and a value is never written: every value from the wire is read-only),
 * else a copy. Booleans are always copied (checked by the value's type).
 */
function leafFrom(dtype: string, n: number, blob: Uint8Array, at: number): NumericArray {
  const View = VIEWS[dtype];
  const size = BYTES[dtype]!;
  if (View !== undefined && (blob.byteOffset + at) % size === 0) return new View(blob.buffer, blob.byteOffset + at, n);
  const a = allocate(dtype as never, n);
  new Uint8Array(a.buffer).set(blob.subarray(at, at + n * size));
  return a;
}
