/**
 * The most significant bit of an arithmetic sharing as a boolean sharing
 * (ABY3's A2B restricted to the msb), by a parallel-prefix carry circuit over
 * bit planes. Messages, rounds and bytes: docs/encrypted-ml.md ("The sign
 * bit"); the AND round: aby3-and.ts.
 *
 * x = x0 + x1 + x2 mod 2^l is the sum of two addends: a = x0 + x1, known to
 * server0, input as a fresh boolean sharing (a0, a1, 0) with a1 = F(k0)
 * (servers 0 and 1) and a0 = a ^ a1 sent by server0 to server2; and b = x2,
 * held by servers 1 and 2, shared for free as (0, 0, x2). Server i holds
 * components i and i+1, so:
 *
 *   server0: a (a0, a1), b (0, 0);  server1: a (a1, 0), b (0, b2);  server2: a (0, a0), b (b2, 0).
 *
 * With option comparisonBits k < l the circuit runs on the low k bits of a
 * and b (l below stands for k): msb(x mod 2^k), the sign of x for |x| <
 * 2^(k-1) (aby3-binary.ts checkComparisonBits).
 *
 * msb(a + b) = a_(l-1) ^ b_(l-1) ^ c, c the carry into bit l-1 = the group
 * generate of bits 0..l-2. Generate g_j = a_j & b_j (j < l-1, one AND round);
 * with the zero components the cross terms are: server0 none (its message
 * is its two PRF streams), server1 a1 & b2, server2 a0 & b2. Propagate
 * p = a ^ b is free: server0 (a0, a1), server1 (a1, b2), server2 (b2, a0).
 * Then a tree (Sklansky-style prefix restricted to the one output needed):
 * (G, P)_hi o (G, P)_lo = (G_hi ^ P_hi & G_lo, P_hi & P_lo), all combinations
 * of a level in one AND round; the P of the group holding bit 0 is never
 * needed; an odd group passes up.
 *
 * The planes live in one bit workspace (bit-memory.ts) for the whole circuit
 * and every step is a kernel on them (bit-kernels.ts / bitplanes.wasm): the
 * transposes, the AND messages, the XORs. Where servers 1 and 2 execute here
 * and hold the same words for x2, it is transposed once.
 */
import type { RingTensor } from '../../ring/index.js';
import { type Aby3Net, type BitParts, I3, planeWords, type RingParts } from './aby3-binary.js';
import { andMasks, andRound, moveBlock, opOf, type Slots, Streams, xorSlots } from './aby3-and.js';
import { BitSpace } from './bit-memory.js';

/**
 * msb(x) of an arithmetic sharing (flat parts, n elements) as a boolean
 * sharing of one plane (W = ceil(n/32) words per slot); msb(x - y) when `y`
 * (flat parts of the same size) is given, the difference taken inside the
 * workspace (the same messages as for the sharing x - y). See the header.
 */
export async function msbShares(net: Aby3Net, x: RingParts, n: number, key: string, y?: RingParts): Promise<BitParts> {
  const sp = new BitSpace();
  const streams = new Streams();
  try {
    return await circuit(net, sp, streams, x, y, n, key);
  } finally {
    streams.releaseAll();
    sp.release();
  }
}

/** The low `planes` bit planes of a ring tensor t (n elements), or of t - u, in a new block of the workspace. */
function planesOf(sp: BitSpace, t: RingTensor, u: RingTensor | undefined, n: number, W: number, planes: number): number {
  const L = t.bits / 64;
  const src = sp.put(t.data);
  if (u !== undefined) {
    const q = sp.put(u.data);
    sp.k.subRing(src, src, q, n, L);
    sp.free(q);
  }
  const tmp = sp.alloc(1024);
  const out = sp.alloc(4 * planes * W);
  sp.k.toPlanes(src, n, L, planes, W, out, tmp);
  sp.free(src);
  sp.free(tmp);
  return out;
}

async function circuit(net: Aby3Net, sp: BitSpace, streams: Streams, x: RingParts, y: RingParts | undefined, n: number, key: string): Promise<BitParts> {
  // the circuit's bit length: k = comparisonBits planes of the shares (their low k bits: x mod 2^k), msb at plane k - 1
  const l = net.cmpBits;
  const W = planeWords(n);
  const m = l - 1;
  const plane = 4 * W; // bytes per plane
  const [l0, l1, l2] = I3.map((i) => net.local(i));
  const k = sp.k;
  // every PRF stream of the circuit depends only on keys and nonces: requested now, computed by the
  // PRF worker while the transposes and the earlier rounds run
  const a1Stream = l0 || l1 ? streams.get(net.key(0), `${key}/a/in`, l * plane) : undefined;
  const genMasks = andMasks(net, `${key}/g`, m * W, streams);
  const treeMasks = treeLevels(m).map((K, level) => andMasks(net, `${key}/t${level}`, K * W, streams));

  // a = x0 + x1 (- y0 - y1) at server0, as planes, input as (a0, a1, 0): one message, server0 to server2 (PRF nonce `${key}/a/in`)
  let a0 = 0;
  if (l0) {
    const L = net.bits / 64;
    const [p0, p1] = [sp.put(x[0]!.data), sp.put(x[1]!.data)];
    k.addRing(p0, p0, p1, n, L);
    if (y !== undefined) {
      const [q0, q1] = [sp.put(y[0]!.data), sp.put(y[1]!.data)];
      k.subRing(p0, p0, q0, n, L);
      k.subRing(p0, p0, q1, n, L);
      [q0, q1].forEach((q) => sp.free(q));
    }
    const tmp = sp.alloc(1024);
    a0 = sp.alloc(l * plane);
    k.toPlanes(p0, n, L, l, W, a0, tmp);
    [p0, p1, tmp].forEach((p) => sp.free(p));
  }
  // b = x2 (- y2) at servers 1 (slot 3) and 2 (slot 4)
  let b2 = 0;
  if (l1) b2 = planesOf(sp, x[3]!, y?.[3], n, W, l);
  if (l2 && !(l1 && sameWords(x[3]!, x[4]!) && (y === undefined || sameWords(y[3]!, y[4]!)))) b2 = planesOf(sp, x[4]!, y?.[4], n, W, l);

  let a1 = 0;
  if (a1Stream !== undefined) {
    const s = await a1Stream.get();
    a1 = sp.put(s.bytes);
    s.release();
  }
  if (l0) k.xor2(a0, a0, a1, l * W);
  a0 = (await moveBlock(net, sp, 0, 2, `${key}/a/in0`, a0, l * W)) || a0;

  // generate: g = a & b over planes 0..m-1 (one block of m W words); zero components are 0
  const A: Slots = [l0 ? a0 : 0, l0 ? a1 : 0, l1 ? a1 : 0, 0, 0, l2 ? a0 : 0];
  const B: Slots = [0, 0, 0, l1 ? b2 : 0, l2 ? b2 : 0, 0];
  const G = await andRound(net, sp, `${key}/g`, 1, m * W, (i) => [opOf(A, B, i)], genMasks);
  const P: Slots = [l0 ? a0 : 0, l0 ? a1 : 0, l1 ? a1 : 0, l1 ? b2 : 0, l2 ? b2 : 0, l2 ? a0 : 0];
  const at = (s: Slots, j: number): Slots => s.map((p) => (p === 0 ? 0 : p + j * plane));

  // the tree
  type Group = { g: Slots; p: Slots | undefined };
  let groups: Group[] = Array.from({ length: m }, (_, j) => ({ g: at(G, j), p: j === 0 ? undefined : at(P, j) }));
  for (let level = 0; groups.length > 1; level++) {
    const pairs = Math.floor(groups.length / 2);
    // the ANDs of the level, in message order: per pair P_hi & G_lo, then P_hi & P_lo where P_lo exists
    const ands: [Slots, Slots][] = [];
    for (let q = 0; q < pairs; q++) {
      const lo = groups[2 * q]!;
      const hi = groups[2 * q + 1]!;
      ands.push([hi.p!, lo.g]);
      if (lo.p !== undefined) ands.push([hi.p!, lo.p]);
    }
    if (ands.length !== treeLevels(m)[level]) throw new Error(`${net.id}: internal error: tree level ${level} has ${ands.length} ANDs`);
    const Z = await andRound(net, sp, `${key}/t${level}`, ands.length, W, (i) => ands.map(([u, v]) => opOf(u, v, i)), treeMasks[level]!);
    const next: Group[] = [];
    let z = 0;
    for (let q = 0; q < pairs; q++) {
      const lo = groups[2 * q]!;
      const hi = groups[2 * q + 1]!;
      const g = xorSlots(sp, hi.g, at(Z, z++), W);
      const p = lo.p === undefined ? undefined : at(Z, z++);
      next.push({ g, p });
    }
    if (groups.length % 2 === 1) next.push(groups[groups.length - 1]!);
    groups = next;
  }
  const msb = xorSlots(sp, at(P, m), groups[0]!.g, W);
  // out of the workspace: one array per distinct block
  const taken = new Map<number, Uint32Array>();
  return msb.map((p) => {
    if (p === 0) return undefined;
    let a = taken.get(p);
    if (a === undefined) taken.set(p, (a = new Uint32Array(sp.take(p, plane).buffer)));
    return a;
  });
}

/**
 * The number of ANDed planes of each tree level over m groups: a level pairs
 * its groups, two ANDs per pair except one for the pair holding bit 0.
 */
export function treeLevels(m: number): number[] {
  const out: number[] = [];
  for (let g = m; g > 1; g = Math.floor(g / 2) + (g % 2)) out.push(2 * Math.floor(g / 2) - 1);
  return out;
}

/** Whether two ring tensors are views of the same words (one component received once and held by two servers here). */
function sameWords(a: RingTensor, b: RingTensor): boolean {
  return a === b || (a.data.buffer === b.data.buffer && a.data.byteOffset === b.data.byteOffset && a.data.length === b.data.length);
}
