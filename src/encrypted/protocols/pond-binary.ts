/**
 * Pond's boolean (XOR) sharing between its two servers and the gates its
 * comparisons are made of, with the correlated randomness dealt by the crypto
 * producer (triples.ts `deal`). Costs and the security argument:
 * docs/encrypted-ml.md, "Pond comparison".
 *
 * A boolean sharing of a bit string v is v = v0 ^ v1, server i holding vi
 * (slot i of a `Bits2`, present where server i executes). XOR and NOT are
 * local. The gates, each one round (each server sends one message to the other):
 *
 * - known AND (`knownAnd`): a & b for a known to server0 and b to server1
 *   (the generate bits of x0 + x1): dealt u (server0), v (server1),
 *   w0 ^ w1 = u & v. Server0 sends d = a ^ u, server1 sends e = b ^ v;
 *   z0 = u & e ^ w0, z1 = d & b ^ w1. One bit per ANDed bit per server.
 * - AND (`andFan`): Beaver's with bit triples, one left operand x for several
 *   right operands y_k (the carry tree ANDs each P_hi with G_lo and P_lo), so
 *   x's opening is shared: dealt A, B_k, C_k = A & B_k (y_k's triple uses the
 *   words [off_k, off_k + |y_k|) of A). Server i sends x_i ^ A_i and
 *   y_k,i ^ B_k,i; with D = x ^ A, E_k = y_k ^ B_k opened,
 *   z_k,i = C_k,i ^ D & B_k,i ^ E_k & A_i (^ D & E_k at server0).
 * - B2A (`b2a`): a bit b to an arithmetic 0/1: dealt a random bit r shared
 *   both ways (r0 ^ r1 = r = R0 + R1 mod 2^l). Each server sends b_i ^ r_i;
 *   with c = b ^ r opened, b = c + r − 2cr: shares c ? 1 − R0 : R0 and
 *   c ? −R1 : R1.
 * - bit injection (`injectOpen` + `injectFinish`): b · w for an arithmetic w:
 *   dealt r as above, a ring mask A and shares of C = r A. Each server sends
 *   e_i = w_i − A_i (which does not depend on b: it goes out in the first
 *   round of a relu) and b_i ^ r_i; with e = w − A and c = b ^ r opened,
 *   b w = c w + (1 − 2c)(e r + r A): shares t_i = e R_i + C_i, and
 *   c ? w_i − t_i : t_i.
 *
 * Dealing: every item of an op's `Plan` is drawn from each server's stream
 * for the op (server0: its masks and its shares of the products; server1:
 * its masks), and the producer, which runs both streams, sends server1 one
 * message: its shares of the products (w1, C_k,1, R1, C1). `draw` is the one
 * definition of the draw order, run by the servers and by the producer.
 */
import type { Prg } from '../../crypto/prg.js';
import * as ring from '../../ring/index.js';
import { RingTensor } from '../../ring/index.js';
import { TransportError } from '../../transport/errors.js';
import type { Dealt } from '../triples.js';
import { planeWords, u32 } from './aby3-binary.js';

/** A 2-party sharing's slots: slot i present where server i executes. */
export type Bits2 = [Uint32Array | undefined, Uint32Array | undefined];
export type Ring2 = [RingTensor | undefined, RingTensor | undefined];

/** What the gates need of a Pond instance (servers by index 0, 1). */
export interface PondNet {
  readonly id: string;
  readonly bits: 64 | 128;
  local(i: 0 | 1): boolean;
  moveBytes(from: 0 | 1, to: 0 | 1, key: string, bytes: Uint8Array | undefined): Promise<Uint8Array | undefined>;
  /** The crypto producer's dealing for one op: `bytes` of correction to server1. */
  deal(key: string, bytes: number, correction: (s0: Prg, s1: Prg) => Uint8Array): Promise<Dealt>;
}

export type Item =
  | { kind: 'known'; words: number }
  | { kind: 'and'; xWords: number; ys: readonly { off: number; words: number }[] }
  | { kind: 'b2a'; n: number }
  | { kind: 'inject'; n: number };

/** One server's material for one item (server1's product shares filled in from the correction). */
export interface Mat {
  /** known: u or v; b2a / inject: r_i (one plane); and: A_i. */
  m: Uint32Array;
  /** known: w_i; and: C_k,i. */
  w?: Uint32Array[];
  /** and: B_k,i. */
  b?: Uint32Array[];
  /** inject: A_i. */
  a?: RingTensor;
  /** b2a / inject: R_i, and (inject) C_i. */
  r?: RingTensor;
  c?: RingTensor;
}

export const I2 = [0, 1] as const;
const words = (g: Prg, n: number): Uint32Array => g.fill(new Uint32Array(n));
const asBytes = (a: Uint32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Bytes of server1's correction for an item. */
export function correctionBytes(it: Item, bits: 64 | 128): number {
  const E = bits / 8;
  switch (it.kind) {
    case 'known': return 4 * it.words;
    case 'and': return 4 * it.ys.reduce((a, y) => a + y.words, 0);
    case 'b2a': return it.n * E;
    case 'inject': return 2 * it.n * E;
  }
}

/** Server i's material for `it` from its stream (the one draw order, used by the servers and the producer). */
export function draw(i: 0 | 1, g: Prg, it: Item, bits: 64 | 128): Mat {
  switch (it.kind) {
    case 'known': return i === 0 ? { m: words(g, it.words), w: [words(g, it.words)] } : { m: words(g, it.words) };
    case 'and': {
      const m = words(g, it.xWords);
      const b = it.ys.map((y) => words(g, y.words));
      return i === 0 ? { m, b, w: it.ys.map((y) => words(g, y.words)) } : { m, b };
    }
    case 'b2a': {
      const m = words(g, planeWords(it.n));
      return i === 0 ? { m, r: g.ringTensor(bits, [it.n]) } : { m };
    }
    case 'inject': {
      const m = words(g, planeWords(it.n));
      const a = g.ringTensor(bits, [it.n]);
      return i === 0 ? { m, a, r: g.ringTensor(bits, [it.n]), c: g.ringTensor(bits, [it.n]) } : { m, a };
    }
  }
}

const bit = (p: Uint32Array, e: number): number => (p[e >>> 5]! >>> (e & 31)) & 1;

/** Per element: bit(e) ? p1 : p0 (a fresh tensor). */
export function pick(b: Uint32Array, p0: RingTensor, p1: RingTensor, n: number): RingTensor {
  const out = new RingTensor(p0.bits, [n]);
  const [d, s0, s1] = [u32(out), u32(p0), u32(p1)];
  const L = p0.bits / 32;
  for (let e = 0; e < n; e++) {
    const s = bit(b, e) === 1 ? s1 : s0;
    for (let q = 0; q < L; q++) d[e * L + q] = s[e * L + q]!;
  }
  return out;
}

/** r = r0 ^ r1 (plane) as 0/1 ring integers times `w` (undefined: times 1). */
function bitTimes(r: Uint32Array, w: RingTensor | undefined, n: number, bits: 64 | 128): RingTensor {
  const zero = new RingTensor(bits, [n]);
  return pick(r, zero, w ?? ring.addScalar(zero, 1n), n);
}

const xorInto = (out: Uint32Array, a: Uint32Array): Uint32Array => {
  for (let k = 0; k < out.length; k++) out[k] = out[k]! ^ a[k]!;
  return out;
};
const xor = (a: Uint32Array, b: Uint32Array): Uint32Array => xorInto(a.slice(), b);

/** The producer's correction for one item, from both servers' draws. */
function correct(it: Item, d0: Mat, d1: Mat, bits: 64 | 128): Uint8Array[] {
  switch (it.kind) {
    case 'known': {
      const w = d0.w![0]!.slice();
      for (let k = 0; k < w.length; k++) w[k] = w[k]! ^ (d0.m[k]! & d1.m[k]!);
      return [asBytes(w)];
    }
    case 'and': {
      const A = xor(d0.m, d1.m);
      return it.ys.map((y, j) => {
        const c = d0.w![j]!.slice();
        const [b0, b1] = [d0.b![j]!, d1.b![j]!];
        for (let k = 0; k < c.length; k++) c[k] = c[k]! ^ (A[y.off + k]! & (b0[k]! ^ b1[k]!));
        return asBytes(c);
      });
    }
    case 'b2a': {
      const r = xor(d0.m, d1.m);
      return [ring.subInPlace(bitTimes(r, undefined, it.n, bits), d0.r!).toBytes()];
    }
    case 'inject': {
      const r = xor(d0.m, d1.m);
      const A = ring.add(d0.a!, d1.a!);
      return [ring.subInPlace(bitTimes(r, undefined, it.n, bits), d0.r!).toBytes(), ring.subInPlace(bitTimes(r, A, it.n, bits), d0.c!).toBytes()];
    }
  }
}

function concatBytes(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.byteLength, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/** Words / ring elements at `off` of a received buffer (copied when not aligned for the view). */
function wordsAt(buf: Uint8Array, off: number, n: number): Uint32Array {
  const o = buf.byteOffset + off;
  return o % 4 === 0 ? new Uint32Array(buf.buffer, o, n) : new Uint32Array(buf.slice(off, off + 4 * n).buffer);
}
function ringAt(buf: Uint8Array, off: number, n: number, bits: 64 | 128): RingTensor {
  const limbs = n * (bits / 64);
  const o = buf.byteOffset + off;
  const data = o % 8 === 0 ? new BigUint64Array(buf.buffer, o, limbs) : new BigUint64Array(buf.slice(off, off + 8 * limbs).buffer);
  return new RingTensor(bits, [n], data);
}

/**
 * The material of every item of one op, per local server: each server draws
 * its own from its stream; server1 reads its product shares from the
 * producer's one message (`key`), which the producer makes from both streams.
 */
export async function dealPlan(net: PondNet, plan: readonly Item[], key: string): Promise<[Mat[] | undefined, Mat[] | undefined]> {
  const bits = net.bits;
  const bytes = plan.reduce((a, it) => a + correctionBytes(it, bits), 0);
  const dealt = await net.deal(key, bytes, (g0, g1) => concatBytes(plan.flatMap((it) => correct(it, draw(0, g0, it, bits), draw(1, g1, it, bits), bits))));
  const out: [Mat[] | undefined, Mat[] | undefined] = [undefined, undefined];
  for (const i of I2) {
    if (!net.local(i)) continue;
    const g = dealt.streams[i];
    if (g === undefined) throw new Error(`${net.id}: internal error: no dealt stream for server${i}`);
    out[i] = plan.map((it) => draw(i, g, it, bits));
  }
  if (out[1] !== undefined) {
    const buf = dealt.correction;
    if (buf === undefined) throw new Error(`${net.id}: internal error: no correction at server1`);
    let off = 0;
    plan.forEach((it, j) => {
      const m = out[1]![j]!;
      if (it.kind === 'known') m.w = [wordsAt(buf, off, it.words)];
      else if (it.kind === 'and') m.w = it.ys.map((y) => wordsAt(buf, off + 4 * it.ys.slice(0, it.ys.indexOf(y)).reduce((a, z) => a + z.words, 0), y.words));
      else {
        m.r = ringAt(buf, off, it.n, bits);
        if (it.kind === 'inject') m.c = ringAt(buf, off + it.n * (bits / 8), it.n, bits);
      }
      off += correctionBytes(it, bits);
    });
  }
  return out;
}

/**
 * One message each way: server i sends out[i] (where it executes) to the
 * other. Resolves with what each server received (slot i: from server 1 − i).
 */
export async function exchange(net: PondNet, key: string, out: [Uint8Array | undefined, Uint8Array | undefined], bytes: number): Promise<[Uint8Array | undefined, Uint8Array | undefined]> {
  const [at1, at0] = await Promise.all([net.moveBytes(0, 1, `${key}/0`, out[0]), net.moveBytes(1, 0, `${key}/1`, out[1])]);
  for (const [got, i] of [[at0, 0], [at1, 1]] as const) {
    if (got !== undefined && got.byteLength !== bytes) throw new TransportError(`${net.id}: message '${key}/${1 - i}' from server${1 - i} to server${i} has ${got.byteLength} bytes, expected ${bytes}`);
  }
  return [at0, at1];
}

/** a & b for a known to server0 and b to server1 (`words` each), one round (see the header). */
export async function knownAnd(net: PondNet, a: Uint32Array | undefined, b: Uint32Array | undefined, mat: [Mat | undefined, Mat | undefined], key: string): Promise<Bits2> {
  if (!net.local(0) && !net.local(1)) return [undefined, undefined]; // (the dealer's or an owner's process: nothing to do)
  const mine: [Uint32Array | undefined, Uint32Array | undefined] = [net.local(0) ? xor(a!, mat[0]!.m) : undefined, net.local(1) ? xor(b!, mat[1]!.m) : undefined];
  const len = (mine[0] ?? mine[1])!.length;
  const got = await exchange(net, key, [mine[0] && asBytes(mine[0]), mine[1] && asBytes(mine[1])], 4 * len);
  const z: Bits2 = [undefined, undefined];
  if (net.local(0)) {
    const [u, e, w] = [mat[0]!.m, wordsAt(got[0]!, 0, len), mat[0]!.w![0]!];
    const out = new Uint32Array(len);
    for (let k = 0; k < len; k++) out[k] = (u[k]! & e[k]!) ^ w[k]!;
    z[0] = out;
  }
  if (net.local(1)) {
    const [d, w] = [wordsAt(got[1]!, 0, len), mat[1]!.w![0]!];
    const out = new Uint32Array(len);
    for (let k = 0; k < len; k++) out[k] = (d[k]! & b![k]!) ^ w[k]!;
    z[1] = out;
  }
  return z;
}

/** x & y_k for each k, y_k against x's words [off_k, off_k + |y_k|), one round (see the header). */
export async function andFan(net: PondNet, x: Bits2, ys: readonly Bits2[], offs: readonly number[], mat: [Mat | undefined, Mat | undefined], key: string): Promise<Bits2[]> {
  if (!net.local(0) && !net.local(1)) return ys.map(() => [undefined, undefined]);
  const opens: [Uint32Array | undefined, Uint32Array | undefined] = [undefined, undefined];
  let len = 0;
  for (const i of I2) {
    if (!net.local(i)) continue;
    const m = mat[i]!;
    // the message [x_i ^ A_i | y_0,i ^ B_0,i | ...], written in place
    const pairs: [Uint32Array, Uint32Array][] = [[x[i]!, m.m], ...ys.map((y, k): [Uint32Array, Uint32Array] => [y[i]!, m.b![k]!])];
    len = pairs.reduce((a, [p]) => a + p.length, 0);
    const all = new Uint32Array(len);
    let o = 0;
    for (const [p, q] of pairs) {
      for (let k = 0; k < p.length; k++) all[o + k] = p[k]! ^ q[k]!;
      o += p.length;
    }
    opens[i] = all;
  }
  const got = await exchange(net, key, [opens[0] && asBytes(opens[0]), opens[1] && asBytes(opens[1])], 4 * len);
  const z: Bits2[] = ys.map(() => [undefined, undefined]);
  for (const i of I2) {
    if (!net.local(i)) continue;
    const m = mat[i]!;
    const D = xor(opens[i]!, wordsAt(got[i]!, 0, len)); // [x ^ A | y_0 ^ B_0 | ...] opened
    const A = m.m;
    let o = x[i]!.length;
    ys.forEach((y, k) => {
      const n = y[i]!.length;
      const [B, C, off] = [m.b![k]!, m.w![k]!, offs[k]!];
      const out = new Uint32Array(n);
      for (let q = 0; q < n; q++) {
        const d = D[off + q]!;
        const e = D[o + q]!;
        out[q] = C[q]! ^ (d & B[q]!) ^ (e & A[off + q]!) ^ (i === 0 ? d & e : 0);
      }
      z[k]![i] = out;
      o += n;
    });
  }
  return z;
}

/** A bit plane b (n elements) to arithmetic 0/1 shares, one round (see the header). */
export async function b2a(net: PondNet, b: Bits2, n: number, mat: [Mat | undefined, Mat | undefined], key: string): Promise<Ring2> {
  const c = await openBits(net, b, mat, key);
  const out: Ring2 = [undefined, undefined];
  if (net.local(0)) out[0] = pick(c[0]!, mat[0]!.r!, ring.addScalar(ring.neg(mat[0]!.r!), 1n), n);
  if (net.local(1)) out[1] = pick(c[1]!, mat[1]!.r!, ring.neg(mat[1]!.r!), n);
  return out;
}

/** c = b ^ r opened at both servers (slot i: at server i). */
async function openBits(net: PondNet, b: Bits2, mat: [Mat | undefined, Mat | undefined], key: string): Promise<Bits2> {
  if (!net.local(0) && !net.local(1)) return [undefined, undefined];
  const mine: Bits2 = [net.local(0) ? xor(b[0]!, mat[0]!.m) : undefined, net.local(1) ? xor(b[1]!, mat[1]!.m) : undefined];
  const len = (mine[0] ?? mine[1])!.length;
  const got = await exchange(net, `${key}/c`, [mine[0] && asBytes(mine[0]), mine[1] && asBytes(mine[1])], 4 * len);
  // (fresh: a sent buffer may be the very one the other server reads, in one process)
  return [mine[0] && xor(mine[0], wordsAt(got[0]!, 0, len)), mine[1] && xor(mine[1], wordsAt(got[1]!, 0, len))];
}

/** Bit injection, first half: e = w − A opened (independent of the bit). Slot i: e at server i. */
export async function injectOpen(net: PondNet, w: Ring2, n: number, mat: [Mat | undefined, Mat | undefined], key: string): Promise<Ring2> {
  const mine: Ring2 = [net.local(0) ? ring.sub(w[0]!, mat[0]!.a!) : undefined, net.local(1) ? ring.sub(w[1]!, mat[1]!.a!) : undefined];
  const got = await exchange(net, `${key}/e`, [mine[0]?.toBytes(), mine[1]?.toBytes()], n * (net.bits / 8));
  return [mine[0] && ring.add(mine[0], ringAt(got[0]!, 0, n, net.bits)), mine[1] && ring.add(mine[1], ringAt(got[1]!, 0, n, net.bits))];
}

/**
 * Bit injection, second half: b · w from the opened e (injectOpen's, possibly
 * still under way: its round and this one's opening of c = b ^ r overlap).
 */
export async function injectFinish(net: PondNet, b: Bits2, w: Ring2, opened: Ring2 | Promise<Ring2>, n: number, mat: [Mat | undefined, Mat | undefined], key: string): Promise<Ring2> {
  const [c, e] = await Promise.all([openBits(net, b, mat, key), opened]);
  const out: Ring2 = [undefined, undefined];
  for (const i of I2) {
    if (!net.local(i)) continue;
    const m = mat[i]!;
    const t = ring.addInPlace(ring.mul(e[i]!, m.r!), m.c!);
    out[i] = pick(c[i]!, t, ring.sub(w[i]!, t), n);
  }
  return out;
}

/** A list of matrices per server (undefined where the server is not local), and its j-th entry per server. */
export type Mats = [Mat[] | undefined, Mat[] | undefined];
export const nth = (mats: Mats, j: number): [Mat | undefined, Mat | undefined] => [mats[0]?.[j], mats[1]?.[j]];

/** Slot-wise concatenation of 2-party bit sharings. */
export function cat(list: readonly Bits2[]): Bits2 {
  return I2.map((i) => {
    if (list[0]![i] === undefined) return undefined;
    const out = new Uint32Array(list.reduce((a, s) => a + s[i]!.length, 0));
    let o = 0;
    for (const s of list) {
      out.set(s[i]!, o);
      o += s[i]!.length;
    }
    return out;
  }) as Bits2;
}

export const xorBits2 = (a: Bits2, b: Bits2): Bits2 => I2.map((i) => {
  const [p, q] = [a[i], b[i]];
  if (p === undefined || q === undefined) return undefined;
  const out = new Uint32Array(p.length);
  for (let k = 0; k < p.length; k++) out[k] = p[k]! ^ q[k]!;
  return out;
}) as Bits2;
