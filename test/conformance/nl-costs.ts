/**
 * The round and byte formulas of docs/encrypted-ml.md's op tables (ABY3's at
 * the top, Pond's in "Op table (Pond)"), per protocol, for the nonlinear
 * conformance suite (nonlinear.test.ts). Each gives, for one op on its
 * inputs, the rounds the tables state and the bytes each party sends:
 * ABY3's (server0, server1, server2); Pond's (server0, server1, producer).
 *
 * Rounds: ABY3 `lockstep` (the tables' "rounds") and `path` (the critical
 * path, where the table gives it); Pond `online` (the producer's messages at
 * depth 0) and `path` = online + 1 when the op has messages (the producer's
 * one message first; docs: "the critical path ... is online + 1").
 */
import { msbAndPlanes, msbRounds, planeWords } from '../../src/encrypted/protocols/aby3-binary.js';
import { expSquarings, logIterations, logSoftmaxRange, reciprocalIterations, softmaxRange } from '../../src/encrypted/protocols/approx.js';

export type Bytes = [number, number, number];
export interface Cost { lockstep?: number; online?: number; path?: number; bytes: Bytes; /** Pond: the producer's messages (all to server1). */ dealerMessages?: number }

/** Bytes per bit plane of n elements (32 elements per 32-bit word). */
export const W = (n: number): number => 4 * planeWords(n);

// ---------- composing costs (smooth ops: lock-step rounds and bytes) ----------
interface Seq { rounds: number; bytes: Bytes }
const add = (...cs: Seq[]): Seq => ({ rounds: cs.reduce((a, c) => a + c.rounds, 0), bytes: [0, 1, 2].map((i) => cs.reduce((a, c) => a + c.bytes[i]!, 0)) as Bytes });
const times = (m: number, c: Seq): Seq => ({ rounds: m * c.rounds, bytes: c.bytes.map((b) => m * b) as Bytes });
/** In the same round: bytes add, rounds do not. */
const parallel = (...cs: Seq[]): Seq => ({ rounds: Math.max(...cs.map((c) => c.rounds)), bytes: add(...cs).bytes });
const NONE: Seq = { rounds: 0, bytes: [0, 0, 0] };

/** A protocol's primitive rows for n elements (rounds: ABY3 lock-step, Pond online). */
interface Prims { mul(n: number): Seq; mulInt(n: number): Seq; trunc(n: number): Seq; sign(n: number): Seq; isNegative(n: number): Seq; relu(n: number): Seq; selectBit(n: number): Seq }

function aby3Prims(l: 64 | 128, k: number = l): Prims {
  const E = l / 8;
  const P = msbAndPlanes(k);
  const sign = (n: number): Seq => ({ rounds: msbRounds(k), bytes: [(k + P) * W(n), P * W(n), P * W(n)] });
  const inject = (n: number, one: boolean): Seq => ({ rounds: 2, bytes: one ? [2 * n * E, n * E, n * E] : [3 * n * E, 2 * n * E, 3 * n * E] });
  return {
    mul: (n) => ({ rounds: 2, bytes: [n * E, n * E, n * E] }), // fixed × fixed, truncation fused
    mulInt: (n) => ({ rounds: 1, bytes: [n * E, n * E, n * E] }), // int × fixed
    trunc: (n) => ({ rounds: 1, bytes: [n * E, n * E, 0] }),
    sign,
    isNegative: (n) => add(sign(n), inject(n, true)),
    relu: (n) => add(sign(n), inject(n, false)),
    selectBit: (n) => inject(n, false),
  };
}

/** Pond's "m = l − 1 generate bits, L = ceil(log2 m) tree levels": per element the servers send 4m − 3 − L sign bits each, the producer 3m − 2 − L. */
export function pondSign(l: 64 | 128) {
  const m = l - 1;
  const L = Math.ceil(Math.log2(m));
  return { server: 4 * m - 3 - L, dealer: 3 * m - 2 - L, rounds: 1 + L };
}

function pondPrims(l: 64 | 128): Prims {
  const E = l / 8;
  const s = pondSign(l);
  const sign = (n: number): Seq => ({ rounds: s.rounds, bytes: [s.server * W(n), s.server * W(n), s.dealer * W(n)] });
  const mul = (n: number): Seq => ({ rounds: 1, bytes: [2 * n * E, 2 * n * E, n * E] });
  return {
    mul, mulInt: mul,
    trunc: () => NONE, // local
    sign,
    isNegative: (n) => add(sign(n), { rounds: 1, bytes: [W(n), W(n), n * E] }),
    relu: (n) => add(sign(n), { rounds: 1, bytes: [W(n) + n * E, W(n) + n * E, 2 * n * E] }),
    selectBit: (n) => ({ rounds: 1, bytes: [W(n) + n * E, W(n) + n * E, 2 * n * E] }),
  };
}

/** The smooth ops' rows, composed from a protocol's primitives (docs/encrypted-ml.md "ABY3 smooth ops"). */
function smooth(l: 64 | 128, P: Prims) {
  const { mul, mulInt, trunc, sign, isNegative, relu, selectBit } = P;
  const k = expSquarings(l);
  const f = l === 64 ? 16 : 32;
  const exp = (n: number, clip: boolean) => add(trunc(n), clip ? relu(n) : NONE, times(k + 1, mul(n)));
  const reciprocal = (n: number, lo: number, hi: number) => add(trunc(n), times(2 * reciprocalIterations(lo, hi, f), mul(n)));
  const sigmoid = (n: number) => add(isNegative(n), mulInt(n), exp(n, true), reciprocal(n, 1, 2), mulInt(n));
  const rowMax = (rows: number, c: number): Seq => {
    let cost = NONE;
    for (let w = c; w > 1; w = Math.ceil(w / 2)) cost = add(cost, sign(rows * Math.floor(w / 2)), selectBit(rows * Math.floor(w / 2)));
    return cost;
  };
  const log = (n: number, lo: number, hi: number) => add(trunc(n), times(logIterations(lo, hi, f), add(exp(n, false), mul(n), mul(n), parallel(mul(n), mul(n)), parallel(trunc(n), trunc(n), trunc(n)))));
  return {
    exp, reciprocal, sigmoid,
    div: (n: number, lo: number, hi: number) => add(reciprocal(n, lo, hi), mul(n)),
    softmax: (rows: number, c: number) => add(rowMax(rows, c), exp(rows * c, true), reciprocal(rows, ...softmaxRange(c)), mul(rows * c)),
    logSoftmax: (rows: number, c: number) => add(rowMax(rows, c), exp(rows * c, true), log(rows, ...logSoftmaxRange(c))),
  };
}

/** The tree (pool.ts) over k candidates of n elements: per level `greater` on P·n elements and one `mul` on the carried terms. */
function treeTerms(k: number, carry: 'none' | 'index' | 'mask'): { pairs: number; terms: number }[] {
  let cands = Array.from({ length: k }, () => ({ pubIdx: true, size: 1, shared: 0 }));
  const levels = [];
  while (cands.length > 1) {
    const P = Math.floor(cands.length / 2);
    const next = [];
    let terms = 0;
    for (let j = 0; j < P; j++) {
      const [A, B] = [cands[2 * j]!, cands[2 * j + 1]!];
      terms += 1;
      if (carry === 'index' && !(A.pubIdx && B.pubIdx)) terms += 1; // the index: public at level 1 (local)
      if (carry === 'mask') terms += A.shared + B.shared; // the one-hot's shared entries (not the public 1)
      next.push({ pubIdx: false, size: A.size + B.size, shared: A.size + B.size });
    }
    if (cands.length % 2 === 1) next.push(cands[cands.length - 1]!);
    levels.push({ pairs: P, terms });
    cands = next;
  }
  return levels;
}

export type Carry = 'none' | 'index' | 'mask';

/**
 * ABY3's rows, for precision l and comparisons on k bits (option comparisonBits, default l: the sign
 * circuit on k planes). The critical paths are stated for k = l only (undefined otherwise: not asserted).
 */
export function aby3Costs(l: 64 | 128, k: number = l) {
  const E = l / 8;
  const S = msbRounds(k);
  const P = msbAndPlanes(k);
  const sm = smooth(l, aby3Prims(l, k));
  const seq = (s: Seq): Cost => ({ lockstep: s.rounds, bytes: s.bytes });
  const signBytes = (n: number): Bytes => [(k + P) * W(n), P * W(n), P * W(n)];
  const at = (path: number): number | undefined => (k === l ? path : undefined);
  const plus = (b: Bytes, c: Bytes): Bytes => [b[0] + c[0], b[1] + c[1], b[2] + c[2]];
  const compare = (n: number): Cost => ({ lockstep: S + 2, path: at(l === 64 ? 9 : 11), bytes: plus(signBytes(n), [2 * n * E, n * E, n * E]) });
  const tree = (k: number, n: number, carry: Carry): Cost => {
    const lv = treeTerms(k, carry);
    const bytes: Bytes = [0, 0, 0];
    for (const { pairs, terms } of lv) {
      const g = compare(pairs * n).bytes;
      for (const i of [0, 1, 2]) bytes[i]! += g[i]! + terms * n * E;
    }
    const L = lv.length;
    // per level: greater (lock-step S + 2) and the mul (2), the mul's first round with greater's last (lock-step S + 3);
    // critical path: greater's (9 / 11) and the mul's 1 per level; at 'high' the next level's chain starts at server0,
    // which waits only for server1's mul message: one round overlaps
    return { lockstep: (S + 3) * L, path: at(l === 64 ? 10 * L : 11 * L + 1), bytes };
  };
  return {
    signBit: (n: number): Cost => ({ lockstep: S, path: S, bytes: signBytes(n) }),
    compare,
    relu: (n: number): Cost => ({ lockstep: S + 2, path: at(l === 64 ? 10 : 11), bytes: plus(signBytes(n), [3 * n * E, 2 * n * E, 3 * n * E]) }),
    selectBit: (n: number): Cost => ({ lockstep: 2, path: 2, bytes: [3 * n * E, 2 * n * E, 3 * n * E] }),
    selectInt: (n: number): Cost => ({ lockstep: 1, path: 1, bytes: [n * E, n * E, n * E] }),
    and: (n: number): Cost => ({ lockstep: 1, path: 1, bytes: [n * E, n * E, n * E] }),
    tree,
    /** conv2d, conv2dBackpropInput / Filter with an encrypted filter: one matmul, E per output element per server. */
    matmul: (out: number): Cost => ({ lockstep: 2, path: 2, bytes: [out * E, out * E, out * E] }),
    /** A public filter, avgPool: one truncation. */
    truncation: (out: number): Cost => ({ lockstep: 1, path: 1, bytes: [out * E, out * E, 0] }),
    /** maxPool2x2Backward: one int × fixed mul. */
    mulInt: (n: number): Cost => ({ lockstep: 1, path: 1, bytes: [n * E, n * E, n * E] }),
    exp: (n: number, clip: boolean) => seq(sm.exp(n, clip)),
    reciprocal: (n: number, lo: number, hi: number) => seq(sm.reciprocal(n, lo, hi)),
    div: (n: number, lo: number, hi: number) => seq(sm.div(n, lo, hi)),
    sigmoid: (n: number) => seq(sm.sigmoid(n)),
    softmax: (rows: number, c: number) => seq(sm.softmax(rows, c)),
    logSoftmax: (rows: number, c: number) => seq(sm.logSoftmax(rows, c)),
    /** invSqrt with t iterations: lock-step 1 + 7(t − 1); (1 + 4(t − 1))E, (1 + 4(t − 1))E, 3(t − 1)E per element. */
    invSqrt: (n: number, t: number): Cost => ({ lockstep: 1 + 7 * (t - 1), bytes: [(1 + 4 * (t - 1)) * n * E, (1 + 4 * (t - 1)) * n * E, 3 * (t - 1) * n * E] }),
  };
}

/** Pond's rows, for precision l. */
export function pondCosts(l: 64 | 128) {
  const E = l / 8;
  const s = pondSign(l);
  const sm = smooth(l, pondPrims(l));
  const on = (online: number, bytes: Bytes): Cost => ({ online, path: online === 0 ? 0 : online + 1, bytes });
  const seq = (q: Seq): Cost => on(q.rounds, q.bytes);
  const sign = (n: number): Bytes => [s.server * W(n), s.server * W(n), s.dealer * W(n)];
  const compare = (n: number): Cost => on(s.rounds + 1, [sign(n)[0] + W(n), sign(n)[1] + W(n), sign(n)[2] + n * E]);
  const tree = (k: number, n: number, carry: Carry): Cost => {
    const lv = treeTerms(k, carry);
    const bytes: Bytes = [0, 0, 0];
    for (const { pairs, terms } of lv) {
      const g = compare(pairs * n).bytes;
      bytes[0] += g[0] + 2 * terms * n * E;
      bytes[1] += g[1] + 2 * terms * n * E;
      bytes[2] += g[2] + terms * n * E;
    }
    // per level greater (1 + L + 1 online) and one mul (1)
    return on((s.rounds + 2) * lv.length, bytes);
  };
  return {
    signBit: (n: number) => on(s.rounds, sign(n)),
    compare,
    relu: (n: number) => on(s.rounds + 1, [sign(n)[0] + W(n) + n * E, sign(n)[1] + W(n) + n * E, sign(n)[2] + 2 * n * E]),
    selectBit: (n: number) => on(1, [W(n) + n * E, W(n) + n * E, 2 * n * E]),
    selectInt: (n: number) => on(1, [2 * n * E, 2 * n * E, n * E]),
    and: (n: number) => on(1, [2 * n * E, 2 * n * E, n * E]),
    tree,
    /** A Beaver matmul: opens its two operands (a and b elements), the producer deals the product (c elements). */
    matmul: (a: number, b: number, c: number) => on(1, [(a + b) * E, (a + b) * E, c * E]),
    /** Local (public filter, avgPool: Pond truncates locally). */
    local: () => on(0, [0, 0, 0]),
    mulInt: (n: number) => on(1, [2 * n * E, 2 * n * E, n * E]),
    exp: (n: number, clip: boolean) => seq(sm.exp(n, clip)),
    reciprocal: (n: number, lo: number, hi: number) => seq(sm.reciprocal(n, lo, hi)),
    div: (n: number, lo: number, hi: number) => seq(sm.div(n, lo, hi)),
    sigmoid: (n: number) => seq(sm.sigmoid(n)),
    softmax: (rows: number, c: number) => seq(sm.softmax(rows, c)),
    logSoftmax: (rows: number, c: number) => seq(sm.logSoftmax(rows, c)),
  };
}
