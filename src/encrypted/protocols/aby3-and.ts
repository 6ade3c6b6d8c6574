/**
 * ABY3's boolean AND round (aby3-binary.ts's header has the protocol) on
 * operands resident in a bit workspace (bit-memory.ts): what the sign circuit
 * (aby3-msb.ts) and the public `boolean.and` run. A sharing is six slot
 * pointers [v0, v1 | v1, v2 | v2, v0] into the workspace, 0 where the slot's
 * server does not execute (or, for an operand, where the component is zero).
 *
 * Where several servers execute in this process, work on what they share is
 * done once: each PRF stream F(k_i) is generated once for servers i and i+1,
 * and a message the transport hands over as the very bytes sent is not
 * copied back in (its block is reused).
 */
import { type PrfRequest, type PrfStream, prfStream } from '../../crypto/prf-worker.js';
import { type Aby3Net, type BitParts, I3, mod3, toWords } from './aby3-binary.js';
import { BitSpace } from './bit-memory.js';

/** Six slot pointers (see the header). */
export type Slots = number[];

/** One server's operands of one ANDed block (pointers; 0 = a zero component). */
export interface AndOp { xi: number; xj: number; yi: number; yj: number }

/** Server i's operands from two sharings' slots, offset by `off` bytes. */
export const opOf = (x: Slots, y: Slots, i: number, off = 0): AndOp => {
  const at = (p: number | undefined): number => (p === undefined || p === 0 ? 0 : p + off);
  return { xi: at(x[2 * i]), xj: at(x[2 * i + 1]), yi: at(y[2 * i]), yj: at(y[2 * i + 1]) };
};

/**
 * Move `words` Uint32 words at `ptr` (where `from` executes; `msg`, when
 * given, is a copy already taken) to `to`, under message `key`. Resolves
 * with the block at `to` (0 elsewhere): the sender's block itself when the
 * transport delivered the very bytes sent.
 */
export async function moveBlock(net: Aby3Net, sp: BitSpace, from: number, to: number, key: string, ptr: number, words: number, msg?: Uint8Array): Promise<number> {
  const out = net.local(from) ? msg ?? sp.take(ptr, 4 * words) : undefined;
  const got = await net.moveBytes(from, to, key, out);
  if (!net.local(to)) return 0;
  if (got === out) return ptr;
  return sp.put(toWords(net, got!, words, key, mod3(from), mod3(to)));
}

/** The three PRF streams of an AND round (see andMasks): undefined where neither server j nor j+1 executes. */
export type Masks = () => Promise<(PrfStream | undefined)[]>;

/**
 * The three PRF streams of an AND round under `key`: F(k_j, `${key}/and`) of
 * `words` Uint32 words for j = 0, 1, 2, requested now from the PRF worker
 * (prf-worker.ts) and taken when the round calls the result; the round
 * releases them. Tracked by `streams` (cancelled there if the op fails first).
 */
export function andMasks(net: Aby3Net, key: string, words: number, streams: Streams): Masks {
  const req = I3.map((j) => (net.local(j) || net.local(j + 1) ? streams.get(net.key(j), `${key}/and`, 4 * words) : undefined));
  return () => Promise.all(req.map((r) => r?.get()));
}

/**
 * The PRF streams an op requested: each is released once, by its consumer
 * or, for those an early failure left unconsumed, by `releaseAll()` (in the
 * op's finally).
 */
export class Streams {
  readonly #all: PrfRequest[] = [];

  /** Request PRF(key, nonce) of `bytes` bytes (see prf-worker.ts); `get()` it when needed. */
  get(key: Uint8Array, nonce: string, bytes: number): PrfRequest {
    const r = prfStream(key, nonce, bytes);
    this.#all.push(r);
    return r;
  }

  releaseAll(): void {
    for (const r of this.#all) r.cancel();
  }
}

/** Words per block of an AND round: the PRF streams are produced and consumed 64 KiB at a time, in cache. */
const BLOCK = 16384;

/**
 * One AND round over K blocks of W words: server i computes
 * z_i = F(k_i) ^ F(k_(i-1)) ^ xi yi ^ xi yj ^ xj yi (block t's operands
 * ops(i)[t]), sends it to server i-1 (message `${key}/z${i}`) and holds
 * (z_i, z_(i+1)). `masks` are the round's PRF streams (andMasks(net, key,
 * K W)). Resolves with the result's slots.
 *
 * The words are computed BLOCK at a time: the three PRF streams' next words
 * copied into a small scratch, then every executing server's message words there
 * (the servers share streams and operand components, so they are read while
 * in cache), then copied into the messages.
 */
export async function andRound(net: Aby3Net, sp: BitSpace, key: string, K: number, W: number, ops: (i: number) => readonly AndOp[], masks: Masks): Promise<Slots> {
  const total = K * W;
  const k = sp.k;
  const servers = I3.filter((i) => net.local(i));
  const lists: (readonly AndOp[])[] = [];
  for (const i of servers) {
    lists[i] = ops(i);
    if (lists[i]!.length !== K) throw new Error(`${net.id}: internal error: server${i} has ${lists[i]!.length} AND operands, expected ${K}`);
  }
  let zero = 0;
  if (servers.some((i) => lists[i]!.some((o) => products(o) > 1 && !(o.xi && o.xj && o.yi && o.yj)))) zero = zeroBlock(sp, 4 * W);
  const scratch = sp.alloc(12 * Math.min(BLOCK, total));
  const S = I3.map((j) => scratch + 4 * j * Math.min(BLOCK, total));
  const z = I3.map((i) => (net.local(i) ? sp.alloc(4 * total) : 0));
  const msg = I3.map((i) => (net.local(i) ? new Uint8Array(4 * total) : undefined));
  // stream j (key of servers j and j+1) serves servers j and j+1
  const prf = await masks();
  const mem = sp.heap.bytes(); // no allocation below: the view stays valid
  for (let b0 = 0; b0 < total; b0 += BLOCK) {
    const b1 = Math.min(total, b0 + BLOCK);
    for (const j of I3) if (prf[j] !== undefined) mem.set(prf[j]!.bytes.subarray(4 * b0, 4 * b1), S[j]!);
    for (let t = Math.floor(b0 / W); t * W < b1; t++) {
      const lo = Math.max(b0, t * W);
      const len = Math.min(b1, (t + 1) * W) - lo;
      const at = (p: number): number => (p === 0 ? 0 : p + 4 * (lo - t * W));
      for (const i of servers) {
        const o = lists[i]![t]!;
        const [out, m1, m2] = [z[i]! + 4 * lo, S[i]! + 4 * (lo - b0), S[mod3(i - 1)]! + 4 * (lo - b0)];
        if (products(o) <= 1) {
          // at most one cross term (the sign circuit's generate round): the product present, if any
          const [u, v] = o.xi && o.yi ? [o.xi, o.yi] : o.xi && o.yj ? [o.xi, o.yj] : o.xj && o.yi ? [o.xj, o.yi] : [0, 0];
          k.and1(out, m1, m2, at(u), at(v), len);
        } else {
          const zz = zero + 4 * (lo - t * W);
          k.and4(out, m1, m2, at(o.xi) || zz, at(o.xj) || zz, at(o.yi) || zz, at(o.yj) || zz, len);
        }
      }
    }
    for (const i of servers) msg[i]!.set(mem.subarray(z[i]! + 4 * b0, z[i]! + 4 * b1), 4 * b0);
  }
  for (const m of prf) m?.release();
  sp.free(scratch);
  if (zero !== 0) sp.free(zero);
  const got = await Promise.all(I3.map((i) => moveBlock(net, sp, i, mod3(i - 1), `${key}/z${i}`, z[i]!, total, msg[i])));
  // got[i] is z_i where server i-1 executes
  const slots: Slots = [0, 0, 0, 0, 0, 0];
  for (const i of servers) {
    slots[2 * i] = z[i]!;
    slots[2 * i + 1] = got[(i + 1) % 3]!;
  }
  return slots;
}

/** The number of cross terms of an AND operand (products of present components). */
const products = (o: AndOp): number => (o.xi && o.yi ? 1 : 0) + (o.xi && o.yj ? 1 : 0) + (o.xj && o.yi ? 1 : 0);

function zeroBlock(sp: BitSpace, bytes: number): number {
  const p = sp.alloc(bytes);
  sp.heap.bytes().fill(0, p, p + bytes);
  return p;
}

/**
 * a ^ b slot by slot over `words` words into new blocks (0 where either is
 * 0); a slot whose operands are an earlier slot's reuses its result (one
 * component held by two servers executing here).
 */
export function xorSlots(sp: BitSpace, a: Slots, b: Slots, words: number): Slots {
  const out: Slots = [0, 0, 0, 0, 0, 0];
  for (let s = 0; s < 6; s++) {
    if (!a[s] || !b[s]) continue;
    for (let t = 0; t < s && out[s] === 0; t++) if (a[t] === a[s] && b[t] === b[s]) out[s] = out[t]!;
    if (out[s] === 0) {
      out[s] = sp.alloc(4 * words);
      sp.k.xor2(out[s]!, a[s]!, b[s]!, words);
    }
  }
  return out;
}

/**
 * x & y for two boolean sharings of `len` Uint32 words each, in one round:
 * each server sends `len` words to its predecessor (copied into a workspace and
 * out again; the sign circuit keeps its planes there instead).
 */
export async function andShares(net: Aby3Net, x: BitParts, y: BitParts, len: number, key: string): Promise<BitParts> {
  const sp = new BitSpace();
  const streams = new Streams();
  try {
    const put = (s: BitParts, i: number): number[] => [s[2 * i], s[2 * i + 1]].map((p) => {
      if (p === undefined || p.length !== len) throw new Error(`${net.id}: internal error: AND operand of server${i} missing or not ${len} words`);
      return sp.put(p);
    });
    const X: number[] = [0, 0, 0, 0, 0, 0];
    const Y: number[] = [0, 0, 0, 0, 0, 0];
    for (const i of I3) if (net.local(i)) [[X[2 * i], X[2 * i + 1]], [Y[2 * i], Y[2 * i + 1]]] = [put(x, i), put(y, i)];
    const z = await andRound(net, sp, key, 1, len, (i) => [opOf(X, Y, i)], andMasks(net, key, len, streams));
    return z.map((p) => (p === 0 ? undefined : new Uint32Array(sp.take(p, 4 * len).buffer)));
  } finally {
    streams.releaseAll();
    sp.release();
  }
}
