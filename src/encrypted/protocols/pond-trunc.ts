/**
 * Pond's deterministic (exact) truncation: round(X/2^s) (to nearest, ties
 * up: floor((X + 2^(s-1))/2^s) over the integers) of X = x0 + x1 mod 2^l
 * (server0's and server1's shares, X read as a signed l-bit integer) for
 * every X in the ring, the same formula as ABY3's (aby3-trunc.ts):
 *
 *   a' = x0 + 2^(l-1), b = x1:  round(X/2^s) = (a' >> s) + (b >> s) + c + r − 2^(l−s) w − 2^(l−1−s),
 *
 * c the carry into bit s, r the bit s − 1 and w the carry out of bit l−1 of a' + b. The
 * addends are the servers' own shares, so their boolean sharing (a', b) is
 * free; with the gates of pond-binary.ts and the producer's dealt material:
 * generate g = a' & b on all l planes by a known AND (one round), propagate
 * a' ^ b free, the carry trees of aby3-trunc.ts's `carryPlan` (one fan-out
 * AND per level, each merge opening P_hi once for both of its ANDs), c, w and r
 * to arithmetic by the dealt B2A (one round, the three bits), and the result
 * local: 2 + log2 l rounds (8 at l = 64, 9 at 128), the producer's one
 * message per op before them. Costs: docs/encrypted-ml.md ("Deterministic
 * truncation").
 */
import * as ring from '../../ring/index.js';
import { RingTensor } from '../../ring/index.js';
import { planeWords, toPlanes } from './aby3-binary.js';
import { carryAnds, carryPlan } from './aby3-trunc.js';
import { andFan, type Bits2, b2a, cat, dealPlan, I2, type Item, knownAnd, type Mat, type Mats, nth, type PondNet, type Ring2, xorBits2 } from './pond-binary.js';

/** carryPlan's merges of each level, those without a propagate (the groups holding bit 0) first. */
function levels(l: number, s: number) {
  return carryPlan(l, s).map((ms) => [...ms.filter((m) => !m.p), ...ms.filter((m) => m.p)]);
}

/** The dealt items for n elements: the known AND, one fan-out AND per tree level, the three B2As (c, w, the rounding bit). */
export function pondTruncPlan(bits: 64 | 128, n: number, s: number): Item[] {
  const W = planeWords(n);
  return [
    { kind: 'known', words: bits * W },
    ...levels(bits, s).map((ms): Item => {
      const noP = ms.filter((m) => !m.p).length;
      return { kind: 'and', xWords: ms.length * W, ys: [{ off: 0, words: ms.length * W }, ...(noP < ms.length ? [{ off: noP * W, words: (ms.length - noP) * W }] : [])] };
    }),
    { kind: 'b2a', n },
    { kind: 'b2a', n },
    { kind: 'b2a', n },
  ];
}

/** Rounds and bytes each server sends (the producer: its one message) for n elements; `beaver` adds a product's openings (the x, y elements opened). */
export function pondTruncCost(bits: 64 | 128, s: number, n: number): { rounds: number; server: number; producer: number } {
  const W = planeWords(n);
  const ands = carryAnds(bits, s);
  // known AND: each server sends its l planes masked; a tree level: x's words and each y's words; B2A: one plane per bit
  const tree = levels(bits, s).reduce((a, ms) => a + (2 * ms.length + ms.filter((m) => m.p).length) * W, 0);
  const server = 4 * (bits * W + tree + 3 * W);
  // producer: w of the known AND, C of each AND, R of each B2A
  const producer = 4 * (bits * W + (ands.slice(1).reduce((a, b) => a + b, 0)) * W) + 3 * n * (bits / 8);
  return { rounds: 1 + (ands.length - 1) + 1, server, producer };
}

/**
 * X/2^s rounded to nearest (ties up) of X = x[0] + x[1] (server0's and server1's shares, any shape),
 * exactly; the inputs are not modified. Deals its material, then 2 + log2 l
 * rounds (see the header).
 */
export async function pondExactTruncate(net: PondNet, x: Ring2, shape: readonly number[], s: number, key: string): Promise<Ring2> {
  const l = net.bits;
  if (!Number.isInteger(s) || s < 1 || s >= l) throw new RangeError(`${net.id}: truncation shift must be an integer in [1, ${l}), got ${s}`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (n === 0) return I2.map((i) => (net.local(i) ? new RingTensor(l, shape) : undefined)) as Ring2;
  const W = planeWords(n);
  const mats = await dealPlan(net, pondTruncPlan(l, n, s), `${key}/deal`);
  const flat = (t: RingTensor): RingTensor => ring.reshape(t, [n]);
  const aOff = net.local(0) ? ring.addScalar(flat(x[0]!), 1n << BigInt(l - 1)) : undefined;
  const planes: Bits2 = [aOff && toPlanes(aOff, n, l), net.local(1) ? toPlanes(flat(x[1]!), n, l) : undefined];
  const plane = (b: Bits2, j: number): Bits2 => [b[0]?.subarray(j * W, (j + 1) * W), b[1]?.subarray(j * W, (j + 1) * W)];
  const G = await knownAnd(net, planes[0], planes[1], nth(mats, 0), `${key}/g`);
  const nodes = new Map<string, { g: Bits2; p: Bits2 | undefined }>();
  for (let j = 0; j < l; j++) nodes.set(`${j}:${j + 1}`, { g: plane(G, j), p: j === 0 ? undefined : plane(planes, j) });
  const lv = levels(l, s);
  for (let r = 0; r < lv.length; r++) {
    const ms = lv[r]!;
    const lo = ms.map((m) => nodes.get(`${m.lo}:${m.mid}`)!);
    const hi = ms.map((m) => nodes.get(`${m.mid}:${m.hi}`)!);
    const withP = ms.map((m, q) => (m.p ? q : -1)).filter((q) => q >= 0);
    const noP = ms.length - withP.length;
    const ys = [cat(lo.map((g) => g.g)), ...(withP.length > 0 ? [cat(withP.map((q) => lo[q]!.p!))] : [])];
    const [Zg, Zp] = await andFan(net, cat(hi.map((h) => h.p!)), ys, [0, noP * W], nth(mats, 1 + r), `${key}/t${r}`);
    ms.forEach((m, q) => nodes.set(`${m.lo}:${m.hi}`, { g: xorBits2(hi[q]!.g, plane(Zg!, q)), p: m.p ? plane(Zp!, q - noP) : undefined }));
  }
  const k = 1 + lv.length;
  // the rounding bit: bit s - 1 of a' + b = p_(s-1) ^ G[0, s - 1)
  const rb = s === 1 ? plane(planes, 0) : xorBits2(plane(planes, s - 1), nodes.get(`0:${s - 1}`)!.g);
  const [c, w, r] = await Promise.all([
    b2a(net, nodes.get(`0:${s}`)!.g, n, nth(mats, k), `${key}/c`),
    b2a(net, nodes.get(`0:${l}`)!.g, n, nth(mats, k + 1), `${key}/w`),
    b2a(net, rb, n, nth(mats, k + 2), `${key}/r`),
  ]);
  const K = 1n << BigInt(l - s);
  const out: Ring2 = [undefined, undefined];
  for (const i of I2) {
    if (!net.local(i)) continue;
    const t = ring.shrLogical(i === 0 ? aOff! : flat(x[1]!), s);
    if (i === 0) ring.addScalarInPlace(t, BigInt.asUintN(l, -(1n << BigInt(l - 1 - s))));
    ring.subInPlace(ring.addInPlace(ring.addInPlace(t, c[i]!), r[i]!), ring.mulScalar(w[i]!, K));
    out[i] = ring.reshape(t, shape);
  }
  return out;
}
