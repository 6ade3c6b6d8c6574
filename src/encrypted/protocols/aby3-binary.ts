/**
 * ABY3's boolean (XOR) replicated sharing among the three servers: its
 * layout, input, local ops and bit-plane helpers; the AND round is in
 * aby3-and.ts, the sign bit circuit in aby3-msb.ts. Used by ABY3 (aby3.ts)
 * and the nonlinear ops (aby3-nonlinear.ts); see docs/encrypted-ml.md for
 * the costs.
 *
 * A boolean sharing of a bit string v is v = v0 ^ v1 ^ v2, server i holding
 * (v_i, v_(i+1)), stored like the arithmetic parts: six slots
 * [v0, v1 | v1, v2 | v2, v0], a slot present only where its server executes.
 * The bit strings are Uint32Arrays of any layout: ring words (an l-bit word
 * per element: the ring tensor's limbs, little-endian) for the public API, or
 * bit planes (plane j = bit j of every element, 32 elements per Uint32) inside
 * the adder, where a shift by one bit position is a plane index and an AND
 * touches only the planes it needs.
 *
 * AND (one round): server i computes its cross terms
 *   z_i = v_i w_i ^ v_i w_(i+1) ^ v_(i+1) w_i ^ F(k_i, nonce) ^ F(k_(i-1), nonce)
 * (k_i the PRF key of servers i and i+1, set up by ABY3; the F terms XOR to
 * zero over i) and sends z_i to server i-1: one bit per ANDed bit per server.
 * What server i-1 receives is masked by F(k_i), which it does not know.
 */
import { Prg } from '../../crypto/prg.js';
import { RingTensor } from '../../ring/index.js';
import { TransportError } from '../../transport/errors.js';
import { BitSpace } from './bit-memory.js';

export const I3 = [0, 1, 2] as const;

/** A boolean sharing's six slots (see above); undefined where the slot's server does not execute. */
export type BitParts = (Uint32Array | undefined)[];
/** An arithmetic sharing's six slots (ring tensors). */
export type RingParts = (RingTensor | undefined)[];

/** What the binary and nonlinear code needs of an ABY3 instance (servers by index 0..2). */
export interface Aby3Net {
  readonly id: string;
  readonly bits: 64 | 128;
  /** The sign circuit's bit length k (ABY3's option comparisonBits; l by default): the msb of x mod 2^k. */
  readonly cmpBits: number;
  /** Whether server i executes in this process. */
  local(i: number): boolean;
  /** The PRF key shared by servers i and i+1 (indices mod 3), where one of them executes. */
  key(i: number): Uint8Array;
  /** Move bytes from server `from` to server `to`: resolves with them where `to` executes. */
  moveBytes(from: number, to: number, key: string, bytes: Uint8Array | undefined): Promise<Uint8Array | undefined>;
  /** Move a ring tensor likewise. */
  moveRing(from: number, to: number, key: string, t: RingTensor | undefined, shape: readonly number[]): Promise<RingTensor | undefined>;
}

export const mod3 = (i: number): number => ((i % 3) + 3) % 3;

/** Uint32 words of `n` bits in plane layout (32 elements per word). */
export const planeWords = (n: number): number => Math.ceil(n / 32);

/** The Uint32 view of a ring tensor's limbs (little-endian hosts: bit j of an element is bit j%32 of its word j/32). */
export function u32(t: RingTensor): Uint32Array {
  return new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length * 2);
}

/** PRF(key, nonce) as `len` Uint32 words. */
export function prfBits(key: Uint8Array, nonce: string, len: number): Uint32Array {
  return Prg.derive(key, nonce).fill(new Uint32Array(len));
}

export const asBytes = (a: Uint32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Received bytes as Uint32 words (length checked). */
export function toWords(net: Aby3Net, b: Uint8Array, len: number, key: string, from: number, to: number): Uint32Array {
  if (b.byteLength !== len * 4) throw new TransportError(`${net.id}: message '${key}' from server${from} to server${to} has ${b.byteLength} bytes, expected ${len * 4}`);
  return b.byteOffset % 4 === 0 ? new Uint32Array(b.buffer, b.byteOffset, len) : new Uint32Array(b.slice().buffer);
}

/** Apply `f` to the slots present in all of `xs` (a local op). */
export function mapBits(xs: readonly BitParts[], f: (...ps: Uint32Array[]) => Uint32Array): BitParts {
  const out: BitParts = new Array(6);
  for (let s = 0; s < 6; s++) {
    const ps = xs.map((x) => x[s]);
    out[s] = ps.every((p) => p !== undefined) ? f(...(ps as Uint32Array[])) : undefined;
  }
  return out;
}

export function xorBits(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = new Uint32Array(a.length);
  for (let k = 0; k < a.length; k++) out[k] = a[k]! ^ b[k]!;
  return out;
}

/** x ^ y (local). */
export const xorShares = (x: BitParts, y: BitParts): BitParts => mapBits([x, y], xorBits);

/** NOT x (local): component 0 complemented (slots 0 and 5), within the low `validBits` of each 32-bit word's span (all bits by default). */
export function notShares(x: BitParts, mask?: Uint32Array): BitParts {
  return x.map((p, s) => {
    if (p === undefined || (s !== 0 && s !== 5)) return p;
    const out = new Uint32Array(p.length);
    for (let k = 0; k < p.length; k++) out[k] = ~p[k]! & (mask === undefined ? 0xffffffff : mask[k % mask.length]!);
    return out;
  });
}

/**
 * A boolean sharing of a value `v` known to server i alone (present where it
 * executes), of `len` words, in one message: v_(i+1) = F(k_i) (known to
 * servers i and i+1), v_(i+2) = 0, v_i = v ^ F(k_i), sent by server i to
 * server i-1 (= i+2), which does not know k_i. `v` is overwritten (it
 * becomes the message).
 */
export async function inputShares(net: Aby3Net, i: number, v: Uint32Array | undefined, len: number, key: string): Promise<BitParts> {
  const j = (i + 1) % 3;
  const h = (i + 2) % 3;
  let vi: Uint32Array | undefined;
  let vj: Uint32Array | undefined;
  if (net.local(i) || net.local(j)) vj = prfBits(net.key(i), `${key}/in`, len);
  if (net.local(i)) {
    if (v === undefined || v.length !== len) throw new Error(`${net.id}: internal error: input of server${i} missing or not ${len} words`);
    vi = v;
    for (let k = 0; k < len; k++) vi[k] = vi[k]! ^ vj![k]!;
  }
  const got = await net.moveBytes(i, h, `${key}/in${i}`, vi === undefined ? undefined : asBytes(vi));
  if (net.local(h)) vi = toWords(net, got!, len, `${key}/in${i}`, i, h);
  const comp = [vi, vj, undefined] as (Uint32Array | undefined)[];
  const at = (c: number): Uint32Array => comp[mod3(c - i)] ?? new Uint32Array(len);
  const parts: BitParts = new Array(6).fill(undefined);
  for (const s of I3) {
    if (!net.local(s)) continue;
    parts[2 * s] = at(s);
    parts[2 * s + 1] = at(s + 1);
  }
  return parts;
}

// ------------------------------------------------------------ bit planes

/**
 * Ring words (n elements of `bits` bits) to bit planes: plane j (words
 * [j*W, (j+1)*W), W = ceil(n/32)) holds bit j of every element, element e at
 * bit e%32 of word e/32. Only the planes below `planes` are written.
 */
export function toPlanes(t: RingTensor, n: number, bits: 64 | 128, planes = bits): Uint32Array {
  const W = planeWords(n);
  const sp = new BitSpace();
  try {
    const src = sp.put(t.data);
    const tmp = sp.alloc(1024);
    const out = sp.alloc(4 * planes * W);
    sp.k.toPlanes(src, n, bits / 64, planes, W, out, tmp);
    return new Uint32Array(sp.take(out, 4 * planes * W).buffer);
  } finally {
    sp.release();
  }
}

/** Plane-layout bits (one plane of n elements) as 0/1 ring integers in bit 0 of each word (the other bits zero). */
export function planeToWords(p: Uint32Array, n: number, bits: 64 | 128): RingTensor {
  const t = new RingTensor(bits, [n]);
  const d = u32(t);
  const L = bits / 32;
  for (let e = 0; e < n; e++) d[e * L] = (p[e >>> 5]! >>> (e & 31)) & 1;
  return t;
}

/** Bit 0 of each ring word as one plane. */
export function wordsToPlane(t: RingTensor, n: number, bits: 64 | 128): Uint32Array {
  const d = u32(t);
  const L = bits / 32;
  const out = new Uint32Array(planeWords(n));
  for (let e = 0; e < n; e++) out[e >>> 5]! |= (d[e * L]! & 1) << (e & 31);
  return out;
}

// ------------------------------------------------------------ sign (the circuit: aby3-msb.ts)

/**
 * The number of ANDed planes of `msbShares` (aby3-msb.ts) for l-bit words: m = l - 1 for the
 * generate bits, then a tree over m (G, P) groups of depth ceil(log2 m): each
 * of its m - 1 combinations costs two ANDs (G and P), except the one per level
 * that involves the lowest group (whose P is never needed): 3m - 2 - ceil(log2 m)
 * (181 for l = 64, 372 for l = 128).
 */
export function msbAndPlanes(bits: number): number {
  const m = bits - 1;
  return 3 * m - 2 - Math.ceil(Math.log2(m));
}

/**
 * ABY3's option comparisonBits k (default l, the ring's bits): the sign
 * circuit (every comparison: sign, relu, max, pooling, select's condition)
 * takes the msb of x mod 2^k, that is of the low k bits of the shares
 * (reduction mod 2^k is a ring map, so the shares reduce locally). It equals
 * the sign of x for every x with |x| < 2^(k-1) in ring units (|value| <
 * 2^(k-1-f)); outside, the result is wrong, as a probabilistic truncation of
 * too large a value is (MP-SPDZ's comparisons take the same bit length k,
 * sfix's k = 31 by default). Cost: k planes instead of l, ceil(log2(k - 1))
 * tree rounds. An integer in [f + 2, l].
 */
export function checkComparisonBits(fn: string, v: unknown, bits: 64 | 128, frac: number): number {
  if (v === undefined) return bits;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < frac + 2 || v > bits) {
    throw new RangeError(`${fn}: option 'comparisonBits' must be an integer in [${frac + 2}, ${bits}] (f + 2 to the ring's ${bits} bits at this precision), got ${typeof v === 'number' ? v : typeof v}`);
  }
  return v;
}

/** Rounds of `msbShares`: the input round, the generate round, ceil(log2(l - 1)) tree rounds. */
export const msbRounds = (bits: number): number => 2 + Math.ceil(Math.log2(bits - 1));
