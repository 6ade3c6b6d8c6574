/**
 * Pond's sign bit and the nonlinear ops on it, from the gates of
 * pond-binary.ts (called by pond-boolean.ts; costs in docs/encrypted-ml.md,
 * "Pond comparison").
 *
 * msb(x0 + x1 mod 2^l): the two addends are the servers' own shares, so
 * their boolean sharings are free (server0 holds a = x0 as its XOR share,
 * server1 b = x1). msb(a + b) = a_(l−1) ^ b_(l−1) ^ c with c the carry into
 * bit l−1, the group generate of bits 0..l−2, in bit planes (32 elements per
 * word): the generate bits g_j = a_j & b_j (j < m = l − 1) in one known-AND
 * round, the propagate bits p_j = a_j ^ b_j free, then the tree of ABY3's
 * msbShares (aby3-binary.ts): (G, P)_hi ∘ (G, P)_lo = (G_hi ^ P_hi & G_lo,
 * P_hi & P_lo), one AND round per level, no P for the group holding bit 0;
 * here each combination opens P_hi once for both of its ANDs (andFan).
 * 1 + ceil(log2 m) rounds.
 *
 * Every op deals its correlated randomness in one message from the producer
 * to server1 (dealPlan), before its first round.
 */
import * as ring from '../../ring/index.js';
import { planeWords, toPlanes } from './aby3-binary.js';
import { andFan, type Bits2, b2a, cat, dealPlan, I2, injectFinish, injectOpen, type Item, knownAnd, type Mat, type Mats, nth, type PondNet, type Ring2, xorBits2 } from './pond-binary.js';


/** Pairs per level of the carry tree over m groups (an odd group passes up). */
export function treePairs(m: number): number[] {
  const out: number[] = [];
  for (let len = m; len > 1; len = Math.floor(len / 2) + (len % 2)) out.push(Math.floor(len / 2));
  return out;
}

/** The dealt items of msbShares for n elements of `bits`-bit words: the known AND, then one fan-out AND per tree level. */
export function msbPlan(bits: 64 | 128, n: number): Item[] {
  const W = planeWords(n);
  const m = bits - 1;
  return [
    { kind: 'known', words: m * W },
    ...treePairs(m).map((p): Item => ({ kind: 'and', xWords: p * W, ys: [{ off: 0, words: p * W }, ...(p > 1 ? [{ off: W, words: (p - 1) * W }] : [])] })),
  ];
}


/** NOT of a sharing: server0 complements its share (padding bits of a plane are never read). */
export const notBits = (b: Bits2): Bits2 => [b[0]?.map((w) => ~w >>> 0), b[1]];

/**
 * The msb of x = x0 + x1 (flat, n elements) as a boolean plane, with the
 * material of msbPlan's items (in order) from dealPlan.
 */
export async function msbShares(net: PondNet, x: Ring2, n: number, mats: Mats, key: string): Promise<Bits2> {
  const bits = net.bits;
  const W = planeWords(n);
  const m = bits - 1;
  const planes: Bits2 = [net.local(0) ? toPlanes(x[0]!, n, bits) : undefined, net.local(1) ? toPlanes(x[1]!, n, bits) : undefined];
  const plane = (s: Bits2, j: number): Bits2 => [s[0]?.subarray(j * W, (j + 1) * W), s[1]?.subarray(j * W, (j + 1) * W)];
  const G = await knownAnd(net, planes[0]?.subarray(0, m * W), planes[1]?.subarray(0, m * W), nth(mats, 0), `${key}/g`);
  type Group = { g: Bits2; p: Bits2 | undefined };
  let groups: Group[] = Array.from({ length: m }, (_, j) => ({ g: plane(G, j), p: j === 0 ? undefined : plane(planes, j) }));
  for (let level = 0; groups.length > 1; level++) {
    const pairs = Math.floor(groups.length / 2);
    const lo = (q: number): Group => groups[2 * q]!;
    const hi = (q: number): Group => groups[2 * q + 1]!;
    const qs = Array.from({ length: pairs }, (_, q) => q);
    const X = cat(qs.map((q) => hi(q).p!));
    const ys = [cat(qs.map((q) => lo(q).g)), ...(pairs > 1 ? [cat(qs.slice(1).map((q) => lo(q).p!))] : [])];
    const [Z1, Z2] = await andFan(net, X, ys, [0, W], nth(mats, 1 + level), `${key}/t${level}`);
    const next: Group[] = qs.map((q) => ({ g: xorBits2(hi(q).g, plane(Z1!, q)), p: q === 0 ? undefined : plane(Z2!, q - 1) }));
    if (groups.length % 2 === 1) next.push(groups[groups.length - 1]!);
    groups = next;
  }
  return xorBits2(plane(planes, m), groups[0]!.g);
}

const flat = (x: Ring2, n: number): Ring2 => [x[0] && ring.reshape(x[0], [n]), x[1] && ring.reshape(x[1], [n])];
const shaped = (x: Ring2, shape: readonly number[]): Ring2 => [x[0] && ring.reshape(x[0], shape), x[1] && ring.reshape(x[1], shape)];
const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The sign bit of x (any shape) as a boolean plane of its n elements: the dealing, then msbShares. */
export async function signBit(net: PondNet, x: Ring2, n: number, key: string): Promise<Bits2> {
  const plan = msbPlan(net.bits, n);
  const mats = await dealPlan(net, plan, `${key}/deal`);
  return msbShares(net, flat(x, n), n, mats, key);
}

/**
 * 'neg' = [x < 0], 'step' = [x >= 0] (0/1 ring integers), 'relu' = x [x >= 0]:
 * the msb, NOT for step and relu, then B2A or (relu) a bit injection into x
 * whose opening of x − A goes out with the first round.
 */
export async function nonlinear(net: PondNet, op: 'neg' | 'step' | 'relu', x: Ring2, shape: readonly number[], key: string): Promise<Ring2> {
  const n = size(shape);
  const xf = flat(x, n);
  const plan: Item[] = [...msbPlan(net.bits, n), op === 'relu' ? { kind: 'inject', n } : { kind: 'b2a', n }];
  const mats = await dealPlan(net, plan, `${key}/deal`);
  const last = nth(mats, plan.length - 1);
  const e = op === 'relu' ? injectOpen(net, xf, n, last, `${key}/inj`) : undefined;
  e?.catch(() => undefined); // (awaited below; a failure of the sign first must not leave it unhandled)
  const msb = await msbShares(net, xf, n, mats, key);
  const b = op === 'neg' ? msb : notBits(msb);
  const out = e === undefined ? await b2a(net, b, n, last, `${key}/b2a`) : await injectFinish(net, b, xf, e, n, last, `${key}/inj`);
  return shaped(out, shape);
}

/** y + b (x − y) for a boolean plane b: one bit injection, both openings in one round. */
export async function selectParts(net: PondNet, b: Bits2, x: Ring2, y: Ring2, shape: readonly number[], key: string): Promise<Ring2> {
  const n = size(shape);
  const [xf, yf] = [flat(x, n), flat(y, n)];
  const d: Ring2 = [xf[0] && ring.sub(xf[0], yf[0]!), xf[1] && ring.sub(xf[1], yf[1]!)];
  const mats = await dealPlan(net, [{ kind: 'inject', n }], `${key}/deal`);
  const mat = nth(mats, 0);
  const out = await injectFinish(net, b, d, injectOpen(net, d, n, mat, `${key}/inj`), n, mat, `${key}/inj`);
  return shaped([out[0] && ring.addInPlace(out[0], yf[0]!), out[1] && ring.addInPlace(out[1], yf[1]!)], shape);
}

/** x & y for two word sharings of `len` Uint32 words each: one dealt AND, one round. */
export async function andWords(net: PondNet, x: Bits2, y: Bits2, len: number, key: string): Promise<Bits2> {
  const mats = await dealPlan(net, [{ kind: 'and', xWords: len, ys: [{ off: 0, words: len }] }], `${key}/deal`);
  const [z] = await andFan(net, x, [y], [0], nth(mats, 0), key);
  return z!;
}

