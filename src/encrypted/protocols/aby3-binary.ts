/**
 * ABY3's boolean (XOR) replicated sharing among the three servers, and the
 * sign (most significant bit) of an arithmetic sharing via a parallel-prefix
 * carry computation. Used by ABY3 (aby3.ts) and the nonlinear ops
 * (aby3-nonlinear.ts); see docs/encrypted-ml.md for the costs.
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
import * as ring from '../../ring/index.js';
import { RingTensor } from '../../ring/index.js';
import { TransportError } from '../../transport/errors.js';

export const I3 = [0, 1, 2] as const;

/** A boolean sharing's six slots (see above); undefined where the slot's server does not execute. */
export type BitParts = (Uint32Array | undefined)[];
/** An arithmetic sharing's six slots (ring tensors). */
export type RingParts = (RingTensor | undefined)[];

/** What the binary and nonlinear code needs of an ABY3 instance (servers by index 0..2). */
export interface Aby3Net {
  readonly id: string;
  readonly bits: 64 | 128;
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

const asBytes = (a: Uint32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Received bytes as Uint32 words (length checked). */
function toWords(net: Aby3Net, b: Uint8Array, len: number, key: string, from: number, to: number): Uint32Array {
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

/** The slots of a value known to servers i and i+1 as component i (the other components zero): no communication. */
export function fromComponent(net: Aby3Net, i: number, v: (s: number) => Uint32Array | undefined, len: number): BitParts {
  const parts: BitParts = new Array(6).fill(undefined);
  for (const j of I3) {
    if (!net.local(j)) continue;
    for (const s of [2 * j, 2 * j + 1]) {
      const comp = s === 5 ? 0 : s === 2 * j ? j : j + 1;
      parts[s] = comp === i ? v(s) : new Uint32Array(len);
    }
  }
  return parts;
}

/** out ^= m ^ (xi & yi) ^ (xi & yj) ^ (xj & yi), in place; returns out. */
function crossTerms(out: Uint32Array, m: Uint32Array, xi: Uint32Array, xj: Uint32Array, yi: Uint32Array, yj: Uint32Array): Uint32Array {
  const len = out.length;
  for (let k = 0; k < len; k++) out[k] = out[k]! ^ m[k]! ^ (xi[k]! & (yi[k]! ^ yj[k]!)) ^ (xj[k]! & yi[k]!);
  return out;
}

/**
 * x & y for two boolean sharings of `len` Uint32 words each, in one round:
 * each server sends `len` words to its predecessor (see the header).
 */
export async function andShares(net: Aby3Net, x: BitParts, y: BitParts, len: number, key: string): Promise<BitParts> {
  const z = I3.map((i) => {
    if (!net.local(i)) return undefined;
    const [xi, xj, yi, yj] = [x[2 * i], x[2 * i + 1], y[2 * i], y[2 * i + 1]].map((p) => {
      if (p === undefined || p.length !== len) throw new Error(`${net.id}: internal error: AND operand of server${i} missing or not ${len} words`);
      return p;
    }) as [Uint32Array, Uint32Array, Uint32Array, Uint32Array];
    return crossTerms(prfBits(net.key(i), `${key}/and`, len), prfBits(net.key(i - 1 + 3), `${key}/and`, len), xi, xj, yi, yj);
  });
  const got = await Promise.all(I3.map((i) => net.moveBytes(i, mod3(i - 1), `${key}/z${i}`, z[i] === undefined ? undefined : asBytes(z[i]!))));
  // got[i] is z_i where server i-1 executes
  const parts: BitParts = new Array(6).fill(undefined);
  for (const i of I3) {
    if (!net.local(i)) continue;
    const j = (i + 1) % 3;
    parts[2 * i] = z[i];
    parts[2 * i + 1] = toWords(net, got[j]!, len, `${key}/z${j}`, j, i);
  }
  return parts;
}

/**
 * A boolean sharing of a value `v` known to server i alone (present where it
 * executes), of `len` words, in one message: v_(i+1) = F(k_i) (known to
 * servers i and i+1), v_(i+2) = 0, v_i = v ^ F(k_i), sent by server i to
 * server i-1 (= i+2), which does not know k_i.
 */
export async function inputShares(net: Aby3Net, i: number, v: Uint32Array | undefined, len: number, key: string): Promise<BitParts> {
  const j = (i + 1) % 3;
  const h = (i + 2) % 3;
  let vi: Uint32Array | undefined;
  let vj: Uint32Array | undefined;
  if (net.local(i) || net.local(j)) vj = prfBits(net.key(i), `${key}/in`, len);
  if (net.local(i)) {
    if (v === undefined || v.length !== len) throw new Error(`${net.id}: internal error: input of server${i} missing or not ${len} words`);
    vi = xorBits(v, vj!);
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

/** In place: a[r] bit c <-> a[c] bit r for a 32x32 bit matrix at a[off .. off+32). */
function transpose32(a: Uint32Array, off: number): void {
  let m = 0x0000ffff;
  for (let j = 16; j !== 0; j >>>= 1, m = (m ^ (m << j)) >>> 0) {
    for (let k = 0; k < 32; k = ((k | j) + 1) & ~j) {
      const t = ((a[off + k]! >>> j) ^ a[off + k + j]!) & m;
      a[off + k + j] = a[off + k + j]! ^ t;
      a[off + k] = a[off + k]! ^ (t << j);
    }
  }
}

/**
 * Ring words (n elements of `bits` bits) to bit planes: plane j (words
 * [j*W, (j+1)*W), W = ceil(n/32)) holds bit j of every element, element e at
 * bit e%32 of word e/32. Only the planes below `planes` are written.
 */
export function toPlanes(t: RingTensor, n: number, bits: 64 | 128, planes = bits): Uint32Array {
  const src = u32(t);
  const L = bits / 32;
  const W = planeWords(n);
  const out = new Uint32Array(planes * W);
  const blk = new Uint32Array(32);
  for (let q = 0; q < L && q * 32 < planes; q++) {
    for (let w = 0; w < W; w++) {
      const e0 = w * 32;
      const rows = Math.min(32, n - e0);
      for (let r = 0; r < rows; r++) blk[r] = src[(e0 + r) * L + q]!;
      blk.fill(0, rows);
      transpose32(blk, 0);
      const top = Math.min(32, planes - q * 32);
      for (let c = 0; c < top; c++) out[(q * 32 + c) * W + w] = blk[c]!;
    }
  }
  return out;
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

// ------------------------------------------------------------ sign

/**
 * The number of ANDed planes of `msbShares` for l-bit words: m = l - 1 for the
 * generate bits, then a tree over m (G, P) groups of depth ceil(log2 m): each
 * of its m - 1 combinations costs two ANDs (G and P), except the one per level
 * that involves the lowest group (whose P is never needed): 3m - 2 - ceil(log2 m)
 * (181 for l = 64, 372 for l = 128).
 */
export function msbAndPlanes(bits: number): number {
  const m = bits - 1;
  return 3 * m - 2 - Math.ceil(Math.log2(m));
}

/** Rounds of `msbShares`: the input round, the generate round, ceil(log2(l - 1)) tree rounds. */
export const msbRounds = (bits: number): number => 2 + Math.ceil(Math.log2(bits - 1));

/**
 * The most significant bit of x = x0 + x1 + x2 mod 2^l (an arithmetic sharing),
 * as a boolean sharing of one plane (n elements). Two addends: a = x0 + x1,
 * known to server0, input as a fresh boolean sharing (one message, server0 to
 * server2); b = x2, held by servers 1 and 2 as their shared component (free).
 * msb(a + b) = a_(l-1) ^ b_(l-1) ^ c, where c, the carry into bit l-1, is the
 * group generate of bits 0..l-2: g_j = a_j & b_j (one AND round), p_j = a_j ^ b_j,
 * then a tree (Sklansky-style prefix restricted to the one output that is
 * needed): (G, P)_hi o (G, P)_lo = (G_hi ^ P_hi & G_lo, P_hi & P_lo), all
 * combinations of a level batched in one AND round.
 */
export async function msbShares(net: Aby3Net, x: RingParts, n: number, key: string): Promise<BitParts> {
  const bits = net.bits;
  const W = planeWords(n);
  const m = bits - 1;
  // a = x0 + x1 at server0, as planes
  const a0 = net.local(0) ? toPlanes(ring.add(x[0]!, x[1]!), n, bits) : undefined;
  const A = await inputShares(net, 0, a0, bits * W, `${key}/a`);
  // b = x2: component 2 (server1 slot 3, server2 slot 4)
  // (transposed once per process: where servers 1 and 2 both execute here they hold the same component)
  const planesOf = new Map<RingTensor, Uint32Array>();
  const b2 = (s: number): Uint32Array => {
    const t = x[s]!;
    let p = planesOf.get(t);
    if (p === undefined) planesOf.set(t, (p = toPlanes(t, n, bits)));
    return p;
  };
  const B = fromComponent(net, 2, (s) => b2(s), bits * W);
  const P = xorShares(A, B);
  const low = (s: BitParts): BitParts => s.map((p) => p?.subarray(0, m * W));
  const G = await andShares(net, low(A), low(B), m * W, `${key}/g`);
  const plane = (s: BitParts, j: number): BitParts => s.map((p) => p?.subarray(j * W, (j + 1) * W));
  type Group = { g: BitParts; p: BitParts | undefined };
  let groups: Group[] = Array.from({ length: m }, (_, j) => ({ g: plane(G, j), p: j === 0 ? undefined : plane(P, j) }));
  for (let level = 0; groups.length > 1; level++) {
    const xs: BitParts[] = [];
    const ys: BitParts[] = [];
    const pairs = Math.floor(groups.length / 2);
    for (let q = 0; q < pairs; q++) {
      const lo = groups[2 * q]!;
      const hi = groups[2 * q + 1]!;
      xs.push(hi.p!);
      ys.push(lo.g);
      if (lo.p !== undefined) {
        xs.push(hi.p!);
        ys.push(lo.p);
      }
    }
    const K = xs.length;
    const cat = (list: BitParts[]): BitParts => mapBits(list, (...ps) => {
      const out = new Uint32Array(K * W);
      ps.forEach((p, k) => out.set(p, k * W));
      return out;
    });
    const Z = await andShares(net, cat(xs), cat(ys), K * W, `${key}/t${level}`);
    const next: Group[] = [];
    let k = 0;
    for (let q = 0; q < pairs; q++) {
      const lo = groups[2 * q]!;
      const hi = groups[2 * q + 1]!;
      const g = xorShares(hi.g, plane(Z, k++));
      const p = lo.p === undefined ? undefined : plane(Z, k++);
      next.push({ g, p });
    }
    if (groups.length % 2 === 1) next.push(groups[groups.length - 1]!);
    groups = next;
  }
  return xorShares(plane(P, m), groups[0]!.g);
}
