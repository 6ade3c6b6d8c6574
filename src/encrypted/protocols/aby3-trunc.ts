/**
 * ABY3's deterministic (exact) truncation: X / 2^s rounded to the nearest
 * integer (ties up), round(X / 2^s) = floor((X + 2^(s-1)) / 2^s) over the
 * integers, of a value X shared as two addends, a known to server0 and b
 * known to servers 1 and 2 (X = a + b mod 2^l, X read as a signed l-bit
 * integer), for every X in the ring (the result, at most 2^(l-1-s) in
 * magnitude, always fits). The probabilistic truncation of aby3-core.ts is
 * within one unit but off by 2^(l-s) with probability about |X| 2^(1-l).
 * Costs, failure probability and measurements: docs/encrypted-ml.md
 * ("Deterministic truncation").
 *
 * Server0 adds the public 2^(l-1) to a, so that X' = a' + b - w 2^l =
 * X + 2^(l-1) is in [0, 2^l) (w in {0, 1} the carry out of bit l-1 of
 * a' + b as integers). With a' = aH 2^s + aL, b = bH 2^s + bL:
 *
 *   floor(X'/2^s) = aH + bH + c - w 2^(l-s),   round(X/2^s) = floor(X'/2^s) - 2^(l-1-s) + r,
 *
 * c the carry into bit s of a' + b (out of aL + bL) and r its bit s - 1
 * (that of X: s - 1 < l - 1), p_(s-1) ^ G[0, s-1). Exact as integers, so
 * mod 2^l too.
 *
 * 1. Input (one round): a' enters as the boolean sharing (a0, a1, 0), a1 =
 *    F(k0) (servers 0, 1), a0 = a' ^ a1 sent by server0 to server2; b is
 *    (0, 0, b) for free (as in the sign circuit, aby3-msb.ts). In a fused
 *    product (mul, matmul) the addends are a = z0 and b = z1 + z2, and
 *    servers 1 and 2 swap z1 and z2 in this same round.
 * 2. Carries (1 + ceil(log2 l) AND rounds, aby3-and.ts): generate g = a' & b
 *    over all l planes, propagate p = a' ^ b (free), then a parallel-prefix
 *    tree (G, P)_hi o (G, P)_lo = (G_hi ^ P_hi & G_lo, P_hi & P_lo) over
 *    [0, l) gives w = G[0, l); G[0, s) (c) and G[0, s - 1) are its nodes
 *    when s, s - 1 are powers of two, else trees over [0, s), [0, s - 1) run
 *    in the same rounds (their nodes equal to another tree's computed once).
 * 3. Bit to arithmetic (two rounds, ABY3's three-party OT as aby3-inject.ts,
 *    for c, w and r at once): server0 (sender, knows c0 ^ c1) sends server1
 *    m_t = (c0 ^ c1 ^ t) - rho + pad_t for t = 0, 1, rho and pads from k2
 *    (servers 2, 0); server2 (helper) sends server1 pad_(c2); server1 gets
 *    v = c - rho. The same for w and r. Then the result, re-randomised by
 *    tau, tau' = F(k0) (servers 0, 1):
 *      y0 = aH - 2^(l-1-s) + rho_c + rho_r - 2^(l-s) rho_w - tau   (server0, sent to server2 in round 1: it needs no circuit output)
 *      y1 = tau + tau'                                              (servers 0 and 1)
 *      y2 = bH + v_c + v_r - 2^(l-s) v_w - tau'                     (server1, sent to server2 in the last round)
 *
 * Rounds: 4 + ceil(log2 l) (10 at l = 64, 11 at l = 128). What a server
 * receives is masked by a PRF output it cannot compute: server2 gets a0
 * (F(k0)), the AND messages z0 (F(k0)), y0 (tau) and y2 (tau'); server1 the
 * AND messages z2 (F(k2)), the OT messages (rho from k2) and in a product z2
 * (the product's zero-sharing, F(k2)); server0 the AND messages z1 (F(k1)).
 */
import { Prg } from '../../crypto/prg.js';
import * as ring from '../../ring/index.js';
import { RingTensor } from '../../ring/index.js';
import { describe } from '../errors.js';
import { type Aby3Net, I3, planeWords, type RingParts } from './aby3-binary.js';
import { andMasks, andRound, moveBlock, opOf, type Slots, Streams, xorSlots } from './aby3-and.js';
import { BitSpace } from './bit-memory.js';

export type Truncation = 'probabilistic' | 'deterministic';

/** The option's value, checked (an error naming the option). */
export function checkTruncation(fn: string, v: unknown): Truncation {
  if (v === undefined) return 'probabilistic';
  if (v !== 'probabilistic' && v !== 'deterministic') throw new RangeError(`${fn}: option 'truncation' must be 'probabilistic' or 'deterministic', got ${describe(v)}`);
  return v;
}

/** A node of a carry tree merged in one level: [lo, mid) and [mid, hi); `p` whether its propagate is needed (lo > 0). */
interface Merge { lo: number; mid: number; hi: number; p: boolean }

const isPow2 = (s: number): boolean => (s & (s - 1)) === 0;

/**
 * The prefix lengths t whose carry G[0, t) needs a tree of its own: s (the
 * carry into bit s) and s − 1 (into the rounding bit s − 1) unless the tree
 * over [0, l) has that node (t a power of two) or there is no carry (t = 0).
 */
function ownTrees(s: number): number[] {
  return [...new Set([s, s - 1])].filter((t) => t >= 2 && !isPow2(t));
}

/**
 * The merges of each AND round after the generate round: a tree over [0, l)
 * and one over [0, t) for each of `ownTrees(s)`, in lockstep, a node merged
 * by several listed once. Pairs groups from the low end; an odd group
 * passes up; the group holding bit 0 needs no propagate.
 */
export function carryPlan(l: number, s: number): Merge[][] {
  type R = [number, number];
  const groups = (m: number): R[] => Array.from({ length: m }, (_, j) => [j, j + 1] as R);
  const trees: R[][] = [groups(l), ...ownTrees(s).map(groups)];
  const levels: Merge[][] = [];
  while (trees.some((t) => t.length > 1)) {
    const merges = new Map<string, Merge>();
    for (let q = 0; q < trees.length; q++) {
      const t = trees[q]!;
      if (t.length === 1) continue;
      const next: R[] = [];
      for (let k = 0; k + 1 < t.length; k += 2) {
        const [lo, mid] = t[k]!;
        const hi = t[k + 1]![1];
        merges.set(`${lo}:${mid}:${hi}`, { lo, mid, hi, p: lo > 0 });
        next.push([lo, hi]);
      }
      if (t.length % 2 === 1) next.push(t[t.length - 1]!);
      trees[q] = next;
    }
    levels.push([...merges.values()]);
  }
  return levels;
}

/** ANDed planes per AND round: the generate round (l), then each tree level. */
export function carryAnds(l: number, s: number): number[] {
  return [l, ...carryPlan(l, s).map((ms) => ms.reduce((a, m) => a + (m.p ? 2 : 1), 0))];
}

/**
 * Rounds and bytes each server sends in `exactTruncate` for n elements of
 * the l-bit ring, shifted by s; `fused`: the product's z1, z2 swap included.
 */
export function exactTruncCost(l: 64 | 128, s: number, n: number, fused: boolean): { rounds: number; bytes: [number, number, number] } {
  const ands = carryAnds(l, s);
  const planeBytes = 4 * planeWords(n);
  const E = (l / 8) * n;
  const and = ands.reduce((a, b) => a + b, 0) * planeBytes;
  const z = fused ? E : 0;
  return { rounds: 1 + ands.length + 2, bytes: [l * planeBytes + and + E + 6 * E, z + and + E, z + and + 3 * E] };
}

/**
 * round(X / 2^s) (ties up) exactly, X = a + b (see the header): `a` where server0
 * executes; `b` resolves with b where server1 and server2 execute (in that
 * order; it may await messages of the first round). Inputs are not
 * modified. Resolves with the replicated sharing (six slots, `shape`).
 */
export async function exactTruncate(net: Aby3Net, a: RingTensor | undefined, b: Promise<[RingTensor | undefined, RingTensor | undefined]>, shape: readonly number[], s: number, key: string): Promise<RingParts> {
  const l = net.bits;
  b.catch(() => undefined); // (awaited in the circuit; a failure there before it is awaited must not go unhandled)
  if (!Number.isInteger(s) || s < 1 || s >= l) throw new RangeError(`${net.id}: truncation shift must be an integer in [1, ${l}), got ${s}`);
  if (shape.some((d) => d === 0)) return I3.flatMap((i) => (net.local(i) ? [ring.emptyTensor(l, shape), ring.emptyTensor(l, shape)] : [undefined, undefined]));
  const sp = new BitSpace();
  const streams = new Streams();
  try {
    return await circuit(net, sp, streams, a, b, shape, s, key);
  } finally {
    streams.releaseAll();
    sp.release();
  }
}

/** The bit planes of t (n elements, l bits) in a new block. */
function planesOf(sp: BitSpace, t: RingTensor, n: number, W: number): number {
  const src = sp.put(t.data);
  const tmp = sp.alloc(1024);
  const out = sp.alloc(4 * t.bits * W);
  sp.k.toPlanes(src, n, t.bits / 64, t.bits, W, out, tmp);
  sp.free(src);
  sp.free(tmp);
  return out;
}

const ringIn = (bits: 64 | 128, bytes: Uint8Array, n: number, shape: readonly number[]): RingTensor =>
  ring.reshape(new RingTensor(bits, [n], new BigUint64Array(bytes.buffer, bytes.byteOffset, (bits / 64) * n)), shape);

async function circuit(net: Aby3Net, sp: BitSpace, streams: Streams, a: RingTensor | undefined, bIn: Promise<[RingTensor | undefined, RingTensor | undefined]>, shape: readonly number[], s: number, key: string): Promise<RingParts> {
  const l = net.bits;
  const n = shape.reduce((x, y) => x * y, 1);
  const W = planeWords(n);
  const plane = 4 * W;
  const E = (l / 8) * n;
  const [l0, l1, l2] = I3.map((i) => net.local(i));
  const k = sp.k;
  const K = 1n << BigInt(l - s);
  const plan = carryPlan(l, s);
  const ands = carryAnds(l, s);
  // the PRF streams of the AND rounds, computed by the PRF worker while the earlier rounds run
  const a1Stream = l0 || l1 ? streams.get(net.key(0), `${key}/a/in`, l * plane) : undefined;
  const masks = ands.map((q, r) => andMasks(net, `${key}/c${r}`, q * W, streams));
  // the OT's masks (k2: servers 2 and 0), c's then w's; the result's (k0: servers 0 and 1)
  const prf = (j: number, nonce: string, count: number): RingTensor => Prg.derive(net.key(j), `${key}/${nonce}`).ringTensor(l, [count]);
  const [rho, pad0, pad1] = l0 || l2 ? ['rho', 'pad0', 'pad1'].map((m) => prf(2, m, 3 * n)) : [];
  const [tau, tau2] = l0 || l1 ? ['tau', 'tau2'].map((m) => ring.reshape(prf(0, m, n), shape)) : [];

  // round 1: a' = a + 2^(l-1) input as (a0, a1, 0); y0 to server2
  let a0 = 0;
  let y0: RingTensor | undefined;
  const offset = 1n << BigInt(l - 1);
  if (l0) {
    const aOff = ring.addScalar(a!, offset);
    a0 = planesOf(sp, aOff, n, W);
    y0 = ring.addScalarInPlace(ring.shrLogicalInPlace(aOff, s), BigInt.asUintN(l, -(1n << BigInt(l - 1 - s))));
    // c, w and the rounding bit r: + rho_c + rho_r - 2^(l-s) rho_w
    const [rc, rw, rr] = [0, 1, 2].map((q) => ring.reshape(ring.slice(rho!, [q * n], [n]), shape));
    ring.subInPlace(ring.addInPlace(ring.addInPlace(y0, rc!), rr!), ring.mulScalarInPlace(rw!, K));
    ring.subInPlace(y0, tau!);
  }
  let a1 = 0;
  if (a1Stream !== undefined) {
    const st = await a1Stream.get();
    a1 = sp.put(st.bytes);
    st.release();
  }
  if (l0) k.xor2(a0, a0, a1, l * W);
  const sentA = moveBlock(net, sp, 0, 2, `${key}/a/in0`, a0, l * W);
  const gotY0 = net.moveRing(0, 2, `${key}/y0`, y0, shape);
  [sentA, gotY0].forEach((pr) => pr.catch(() => undefined)); // (awaited below)
  const [b1, b2] = await bIn;
  let bp = 0;
  if (l1) bp = planesOf(sp, b1!, n, W);
  if (l2 && !(l1 && b1 === b2)) bp = planesOf(sp, b2!, n, W);
  a0 = (await sentA) || a0;

  // round 2: generate over the l planes; propagate is free
  const A: Slots = [l0 ? a0 : 0, l0 ? a1 : 0, l1 ? a1 : 0, 0, 0, l2 ? a0 : 0];
  const B: Slots = [0, 0, 0, l1 ? bp : 0, l2 ? bp : 0, 0];
  const G = await andRound(net, sp, `${key}/c0`, 1, l * W, (i) => [opOf(A, B, i)], masks[0]!);
  const P: Slots = [l0 ? a0 : 0, l0 ? a1 : 0, l1 ? a1 : 0, l1 ? bp : 0, l2 ? bp : 0, l2 ? a0 : 0];
  const at = (x: Slots, j: number): Slots => x.map((p) => (p === 0 ? 0 : p + j * plane));
  const nodes = new Map<string, { g: Slots; p: Slots | undefined }>();
  for (let j = 0; j < l; j++) nodes.set(`${j}:${j + 1}`, { g: at(G, j), p: j === 0 ? undefined : at(P, j) });

  // the tree levels
  for (let r = 0; r < plan.length; r++) {
    const ms = plan[r]!;
    const ops: [Slots, Slots][] = [];
    for (const m of ms) {
      const lo = nodes.get(`${m.lo}:${m.mid}`)!;
      const hi = nodes.get(`${m.mid}:${m.hi}`)!;
      ops.push([hi.p!, lo.g]);
      if (m.p) ops.push([hi.p!, lo.p!]);
    }
    const Z = await andRound(net, sp, `${key}/c${r + 1}`, ops.length, W, (i) => ops.map(([u, v]) => opOf(u, v, i)), masks[r + 1]!);
    let z = 0;
    for (const m of ms) {
      const g = xorSlots(sp, nodes.get(`${m.mid}:${m.hi}`)!.g, at(Z, z++), W);
      nodes.set(`${m.lo}:${m.hi}`, { g, p: m.p ? at(Z, z++) : undefined });
    }
  }
  const c = nodes.get(`0:${s}`)!.g;
  const w = nodes.get(`0:${l}`)!.g;
  // the rounding bit: bit s - 1 of X' = p_(s-1) ^ G[0, s - 1)
  const r = s === 1 ? at(P, 0) : xorSlots(sp, at(P, s - 1), nodes.get(`0:${s - 1}`)!.g, W);
  const bits = [c, w, r];

  // the OT round: server0 sends server1 [m0, m1] for c, w, r; server2 sends server1 [pad_c, pad_w, pad_r]
  const L = l / 64;
  let msg = 0;
  let help = 0;
  let rp = 0;
  let p0p = 0;
  let p1p = 0;
  if (l0 || l2) [rp, p0p, p1p] = [rho!, pad0!, pad1!].map((t) => sp.put(t.data));
  if (l0) {
    msg = sp.alloc(6 * E);
    bits.forEach((b, q) => k.otSend(msg + 2 * q * E, msg + (2 * q + 1) * E, b[0]!, b[1]!, 0, 0, rp + q * E, p0p + q * E, p1p + q * E, n, L));
  }
  if (l2) {
    help = sp.alloc(3 * E);
    bits.forEach((b, q) => k.otHelp(help + q * E, b[4]!, p0p + q * E, p1p + q * E, n, L));
  }
  const [gm, gh] = await Promise.all([
    net.moveRing(0, 1, `${key}/ot`, l0 ? ringIn(l, sp.take(msg, 6 * E), 6 * n, [6 * n]) : undefined, [6 * n]),
    net.moveRing(2, 1, `${key}/oth`, l2 ? ringIn(l, sp.take(help, 3 * E), 3 * n, [3 * n]) : undefined, [3 * n]),
  ]);
  // the last round: server1 sends y2 to server2
  let y2: RingTensor | undefined;
  if (l1) {
    const [m, h, v] = [sp.put(gm!.data), sp.put(gh!.data), sp.alloc(3 * E)];
    bits.forEach((b, q) => k.otRecv(v + q * E, b[3]!, m + 2 * q * E, m + (2 * q + 1) * E, h + q * E, 0, 0, n, L));
    const [vc, vw, vr] = [0, 1, 2].map((q) => ringIn(l, sp.take(v + q * E, E), n, shape));
    y2 = ring.subInPlace(ring.addInPlace(ring.addInPlace(ring.shrLogical(b1!, s), vc!), vr!), ring.mulScalarInPlace(vw!, K));
    ring.subInPlace(y2, tau2!);
  }
  const gotY2 = await net.moveRing(1, 2, `${key}/y2`, y2, shape);
  const y1 = l0 || l1 ? ring.add(tau!, tau2!) : undefined;
  const parts: RingParts = new Array(6).fill(undefined);
  if (l0) [parts[0], parts[1]] = [y0, y1];
  if (l1) [parts[2], parts[3]] = [y1, y2];
  if (l2) [parts[4], parts[5]] = [gotY2, await gotY0];
  return parts.map((p) => (p === undefined ? undefined : ring.reshape(p, shape)));
}
