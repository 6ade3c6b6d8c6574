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
import { Prg } from '../../crypto/prg.js';
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
 * Move `words` Uint32 words at `ptr` (where `from` executes) to `to`, under
 * message `key`. Resolves with the block at `to` (0 elsewhere): the sender's
 * block itself when the transport delivered the very bytes sent.
 */
export async function moveBlock(net: Aby3Net, sp: BitSpace, from: number, to: number, key: string, ptr: number, words: number): Promise<number> {
  const out = net.local(from) ? sp.take(ptr, 4 * words) : undefined;
  const got = await net.moveBytes(from, to, key, out);
  if (!net.local(to)) return 0;
  if (got === out) return ptr;
  return sp.put(toWords(net, got!, words, key, mod3(from), mod3(to)));
}

/**
 * One AND round over K blocks of W words: server i computes
 * z_i = F(k_i) ^ F(k_(i-1)) ^ xi yi ^ xi yj ^ xj yi (block t's operands
 * ops(i)[t]), sends it to server i-1 (message `${key}/z${i}`, PRF nonce
 * `${key}/and`) and holds (z_i, z_(i+1)). Resolves with the result's slots.
 */
export async function andRound(net: Aby3Net, sp: BitSpace, key: string, K: number, W: number, ops: (i: number) => readonly AndOp[]): Promise<Slots> {
  const bytes = 4 * K * W;
  const k = sp.k;
  // stream j (key of servers j and j+1) serves servers j and j+1
  const stream = I3.map((j) => {
    if (!net.local(j) && !net.local(j + 1)) return 0;
    const p = sp.alloc(bytes);
    Prg.derive(net.key(j), `${key}/and`).fill(new Uint8Array(sp.heap.bytes().buffer, p, bytes));
    return p;
  });
  let zero = 0;
  const z = I3.map((i) => {
    if (!net.local(i)) return 0;
    const list = ops(i);
    if (list.length !== K) throw new Error(`${net.id}: internal error: server${i} has ${list.length} AND operands, expected ${K}`);
    const out = sp.alloc(bytes);
    const [m1, m2] = [stream[i]!, stream[mod3(i - 1)]!];
    list.forEach((o, t) => {
      const at = t * 4 * W;
      const products = (o.xi && o.yi ? 1 : 0) + (o.xi && o.yj ? 1 : 0) + (o.xj && o.yi ? 1 : 0);
      if (products <= 1) {
        // at most one cross term (the sign circuit's generate round): the product present, if any
        const [u, v] = o.xi && o.yi ? [o.xi, o.yi] : o.xi && o.yj ? [o.xi, o.yj] : o.xj && o.yi ? [o.xj, o.yi] : [0, 0];
        k.and1(out + at, m1 + at, m2 + at, u, v, W);
      } else {
        if (zero === 0) zero = zeroBlock(sp, 4 * W);
        k.and4(out + at, m1 + at, m2 + at, o.xi || zero, o.xj || zero, o.yi || zero, o.yj || zero, W);
      }
    });
    return out;
  });
  for (const p of stream) if (p !== 0) sp.free(p);
  if (zero !== 0) sp.free(zero);
  const got = await Promise.all(I3.map((i) => moveBlock(net, sp, i, mod3(i - 1), `${key}/z${i}`, z[i]!, K * W)));
  // got[i] is z_i where server i-1 executes
  const slots: Slots = [0, 0, 0, 0, 0, 0];
  for (const i of I3) {
    if (!net.local(i)) continue;
    slots[2 * i] = z[i]!;
    slots[2 * i + 1] = got[(i + 1) % 3]!;
  }
  return slots;
}

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
  try {
    const put = (s: BitParts, i: number): number[] => [s[2 * i], s[2 * i + 1]].map((p) => {
      if (p === undefined || p.length !== len) throw new Error(`${net.id}: internal error: AND operand of server${i} missing or not ${len} words`);
      return sp.put(p);
    });
    const X: number[] = [0, 0, 0, 0, 0, 0];
    const Y: number[] = [0, 0, 0, 0, 0, 0];
    for (const i of I3) if (net.local(i)) [[X[2 * i], X[2 * i + 1]], [Y[2 * i], Y[2 * i + 1]]] = [put(x, i), put(y, i)];
    const z = await andRound(net, sp, key, 1, len, (i) => [opOf(X, Y, i)]);
    return z.map((p) => (p === 0 ? undefined : new Uint32Array(sp.take(p, 4 * len).buffer)));
  } finally {
    sp.release();
  }
}
