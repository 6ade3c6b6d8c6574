/**
 * The conformance table's smooth ops (see nl-ops.ts): exp, reciprocal, div,
 * sigmoid, softmax, logSoftmax (approx.ts, Pond and ABY3), invSqrt
 * (aby3-invsqrt.ts, ABY3 only), against Math.exp etc. of the encoded inputs
 * on each stated range, with the bounds of docs/encrypted-ml.md's op table
 * (the same for both protocols).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ops } from '../../src/encrypted/index.js';
import { expSquarings, softmaxRange } from '../../src/encrypted/protocols/approx.js';
import { invSqrt, invSqrtPlan } from '../../src/encrypted/protocols/aby3-invsqrt.js';
import { abyCost, alice, costs, doubles, encoded, readFloats, type Ctx, type NlOp } from './nl-ops.js';

/**
 * The error bounds of the op table (absolute unless named rel; u = 2^-f), the
 * same for ABY3 and Pond. Each is about 1.25-3x the measured maximum over many
 * runs (docs/encrypted-ml.md "ABY3 smooth ops", Measured; the tightest: exp's
 * relative bound at 'high', 2e-4 against 1.6e-4 measured).
 */
export const BOUNDS = {
  low: { expNeg: 2e-3, expPosRel: 1.6e-2, recipUlps: 8, sigmoid: 6e-4, softmax: 3e-3, softmaxRowSum: 4e-4, logSoftmax: 6e-3 },
  high: { expNeg: 4e-6, expPosRel: 2e-4, recipUlps: 8, sigmoid: 4e-6, softmax: 3e-5, softmaxRowSum: 2e-8, logSoftmax: 8e-5 },
} as const;
/** exp's and sigmoid's largest |x| tested: truncation failure probability at most |x| 2^(2f+1-l) / (2^k √2) per element there (2^-20 'low', 2^-31 'high'). */
const LIMIT = { low: 2 ** 16, high: 2 ** 40 } as const;
const k = (c: Ctx) => expSquarings(c.l);
const N = () => [1, 45, 320];
const neg = (n: number) => Float64Array.from({ length: n }, (_, i) => -Math.abs(Math.sin(i)) * 5);
const oneTwo = (n: number) => Float64Array.from({ length: n }, (_, i) => 1 + Math.abs(Math.cos(i)));
const sigmoidRef = (v: number) => 1 / (1 + Math.exp(-v));

// ---------- exp ----------
function expOp(clip: boolean): NlOp<number[], number> {
  return {
    name: clip ? 'exp' : 'exp (clip: false)', method: 'exp', protocols: ['Pond', 'ABY3'],
    range: clip ? 'x ≤ 0 (abs; below −2^k: 0) and [0, 4] (rel)' : '(−2^k, 4]: as exp; below −2^k a wrong value (documented)',
    inputs: (c) => fc.tuple(doubles(clip ? -80 : -(2 ** k(c)) + 1, 0, 60), doubles(0, 4, 30)).map(([a, b]) => [...a, ...b].map(encoded(c.f))),
    numRuns: clip ? 20 : 6,
    edges: (c) => [(clip
      ? [0, -c.u, c.u, -1, -3, -(2 ** k(c)), -(2 ** k(c)) + c.u, -(2 ** k(c)) - c.u, -(2 ** k(c)) * 1.5, -1000, -1e6, 4, 4 - c.u]
      : [0, -c.u, c.u, -1, -3, -(2 ** k(c)) + 2 ** -4, 4, 4 - c.u]).map(encoded(c.f))],
    async apply(c, xs) { return readFloats(c, await c.p.exp(await c.p.encrypt(alice, xs), { clip })); },
    reference: (_, xs) => xs.map(Math.exp),
    bound: (c, xs, want) => xs.map((x, i) => (x <= 0 ? BOUNDS[c.precision].expNeg : BOUNDS[c.precision].expPosRel * (want[i] as number))),
    properties: clip ? undefined : [{
      name: 'unclipped, below −2^k the base is negative before it is squared: a wrong value',
      async check(c) {
        const far = await readFloats(c, await c.p.exp(await c.p.encrypt(alice, [-3 * 2 ** k(c)]), { clip: false }));
        assert.ok(Math.abs(far[0]!) > 1, `unclipped exp(-3·2^k) = ${far[0]}`);
      },
    }],
    ir: { args: [{ shape: [4] }], build: (x) => ops.exp(x, { clip }) },
    cost: {
      cases: N, label: (n) => `n = ${n}`,
      async prepare(c, n) { const x = await c.p.encrypt(alice, neg(n)); return () => c.p.exp(x, { clip }); },
      formula: { ABY3: (c, n) => costs(c).exp(n, clip), Pond: (c, n) => costs(c).exp(n, clip) },
    },
  };
}

// ---------- reciprocal, div ----------
/** Sigmoid's [1, 2], softmax's for rows of 10 and 128, a user range. */
const RECIP_RANGES: [number, number][] = [[1, 2], softmaxRange(10), softmaxRange(128), [0.25, 4]];
const COST_RANGES: [number, number][] = [[1, 2], [0.5, 130]];
interface Recip { range: [number, number]; xs: number[] }
const clamp = (lo: number, hi: number) => (v: number) => Math.min(Math.max(v, lo), hi);
const reciprocal: NlOp<Recip, [number, [number, number]]> = {
  name: 'reciprocal', method: 'reciprocal', protocols: ['Pond', 'ABY3'], range: 'x in the given range [lo, hi] (ratio ≤ 2^20)',
  inputs: (c) => fc.integer({ min: 0, max: RECIP_RANGES.length - 1 }).chain((r) => doubles(...RECIP_RANGES[r]!, 60).map((xs) => ({ range: RECIP_RANGES[r]!, xs: xs.map(encoded(c.f)).map(clamp(...RECIP_RANGES[r]!)) }))),
  numRuns: 32,
  // the range's ends, its midpoint, an ulp inside each end
  edges: (c) => RECIP_RANGES.map(([lo, hi]) => ({ range: [lo, hi] as [number, number], xs: [lo, hi, (lo + hi) / 2, lo + c.u, hi - c.u].map(encoded(c.f)).map(clamp(lo, hi)) })),
  async apply(c, { range, xs }) { return readFloats(c, await c.p.reciprocal(await c.p.encrypt(alice, xs), { range })); },
  reference: (_, { xs }) => xs.map((v) => 1 / v),
  bound: (c) => BOUNDS[c.precision].recipUlps * c.u,
  ir: { args: [{ shape: [4] }], build: (x) => ops.reciprocal(x, { range: [1, 2] }) },
  cost: {
    cases: () => N().flatMap((n) => COST_RANGES.map((r) => [n, r] as [number, [number, number]])), label: ([n, r]) => `[${r}] n = ${n}`,
    async prepare(c, [n, range]) { const y = await c.p.encrypt(alice, oneTwo(n)); return () => c.p.reciprocal(y, { range }); },
    formula: { ABY3: (c, [n, r]) => costs(c).reciprocal(n, ...r), Pond: (c, [n, r]) => costs(c).reciprocal(n, ...r) },
  },
};

interface Div { xs: number[]; ys: number[] }
const div: NlOp<Div, number> = {
  name: 'div', method: 'div', protocols: ['Pond', 'ABY3'], range: 'y in the range [0.25, 4]; |x| ≤ 7',
  inputs: (c) => fc.array(fc.tuple(fc.double({ min: -5, max: 5, noNaN: true }), fc.double({ min: 0.25, max: 4, noNaN: true })), { minLength: 1, maxLength: 40 })
    .map((ps) => ({ xs: ps.map((t) => encoded(c.f)(t[0])), ys: ps.map((t) => clamp(0.25, 4)(encoded(c.f)(t[1]))) })),
  numRuns: 6,
  edges: (c) => [{ xs: [-5, 2.5, 7, 0].map(encoded(c.f)), ys: [0.25, 1, 3.5, 4].map(encoded(c.f)) }],
  async apply(c, { xs, ys }) { return readFloats(c, await c.p.div(await c.p.encrypt(alice, xs), await c.p.encrypt(alice, ys), { range: [0.25, 4] })); },
  reference: (_, { xs, ys }) => xs.map((x, i) => x / ys[i]!),
  // the reciprocal's error times |x|, plus the product's (at most the (5·8 + 4)u asserted before for |x| ≤ 7)
  bound: (c, { xs }) => xs.map((x) => Math.min(Math.abs(x) * BOUNDS[c.precision].recipUlps + 4, 5 * BOUNDS[c.precision].recipUlps + 4) * c.u),
  ir: { args: [{ shape: [4] }, { shape: [4] }], build: (x, y) => ops.div(x, y, { range: [1, 2] }) },
  cost: {
    cases: N, label: (n) => `n = ${n}`,
    async prepare(c, n) { const [x, y] = [await c.p.encrypt(alice, neg(n)), await c.p.encrypt(alice, oneTwo(n))]; return () => c.p.div(x, y, { range: [1, 2] }); },
    formula: { ABY3: (c, n) => costs(c).div(n, 1, 2), Pond: (c, n) => costs(c).div(n, 1, 2) },
  },
};

// ---------- sigmoid ----------
const sigmoid: NlOp<number[], number> = {
  name: 'sigmoid', method: 'sigmoid', protocols: ['Pond', 'ABY3'], range: 'any |x| ≤ 2^16 / 2^40 (tested up to there)',
  inputs: (c) => fc.tuple(doubles(-12, 12, 60), doubles(-200, 200, 20)).map(([a, b]) => [...a, ...b].map(encoded(c.f))),
  numRuns: 20,
  edges: (c) => [[0, c.u, -c.u, 1, -1, 2 ** k(c), -(2 ** k(c)), 2 ** k(c) + c.u, -(2 ** k(c)) - c.u, 1000, -1000, LIMIT[c.precision], -LIMIT[c.precision]].map(encoded(c.f))],
  async apply(c, xs) { return readFloats(c, await c.p.sigmoid(await c.p.encrypt(alice, xs))); },
  reference: (_, xs) => xs.map(sigmoidRef),
  bound: (c) => BOUNDS[c.precision].sigmoid,
  ir: { args: [{ shape: [4] }], build: (x) => ops.sigmoid(x) },
  cost: {
    cases: N, label: (n) => `n = ${n}`,
    async prepare(c, n) { const x = await c.p.encrypt(alice, neg(n)); return () => c.p.sigmoid(x); },
    formula: { ABY3: (c, n) => costs(c).sigmoid(n), Pond: (c, n) => costs(c).sigmoid(n) },
  },
};

// ---------- softmax, logSoftmax ----------
/** Softmax and log-softmax of `rows` rows of c entries in float64 (the max subtracted first). */
export function softmaxRef(xs: readonly number[], rows: number, c: number): { sm: number[]; lsm: number[] } {
  const sm: number[] = [];
  const lsm: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = xs.slice(r * c, (r + 1) * c);
    const m = Math.max(...row);
    const s = row.reduce((a, v) => a + Math.exp(v - m), 0);
    for (const v of row) {
      sm.push(Math.exp(v - m) / s);
      lsm.push(v - m - Math.log(s));
    }
  }
  return { sm, lsm };
}
/** Rows of c entries in [-20, 20]; the last row all equal (log-softmax's worst case). */
interface Rows { rows: number; c: number; xs: number[] }
const rowsIn = (cx: Ctx): fc.Arbitrary<Rows> => fc.constantFrom(10, 128).chain((c) => fc.tuple(
  fc.array(fc.double({ min: -20, max: 20, noNaN: true }), { minLength: 3 * c, maxLength: 3 * c }), fc.double({ min: -20, max: 20, noNaN: true }),
).map(([rand, same]) => ({ rows: 4, c, xs: [...rand, ...new Array<number>(c).fill(same)].map(encoded(cx.f)) })));
/** A row, the same shifted by 37.5, a dominant entry, equal entries, a spread beyond 2^k (clipped). */
const rowsEdges = (cx: Ctx): Rows[] => {
  const c = 10;
  const base = Array.from({ length: c }, (_, i) => encoded(cx.f)(Math.sin(i * 1.7) * 3));
  const rows = [base, base.map((v) => v + 37.5), base.map((v, i) => (i === 4 ? 30 : v)), new Array<number>(c).fill(-2.5), base.map((v, i) => (i === 0 ? 3 * 2 ** k(cx) : v))];
  return [{ rows: rows.length, c, xs: rows.flat() }, { rows: 1, c: 1, xs: [3.25] }];
};
const rowCost = () => [[3, 10], [4, 45]] as [number, number][];
function softmaxOp(method: 'softmax' | 'logSoftmax'): NlOp<Rows, [number, number]> {
  return {
    name: method, method, protocols: ['Pond', 'ABY3'], range: 'rows of 10 and 128 in [−20, 20], equal entries, spreads beyond 2^k',
    inputs: rowsIn, numRuns: 10, edges: rowsEdges,
    async apply(cx, { rows, c, xs }) {
      const got = await readFloats(cx, await cx.p[method](await cx.p.encrypt(alice, xs, { shape: [rows, c] })));
      if (method === 'softmax') {
        // rows sum to 1 within the bound + c times the reciprocal's error (every entry carries the row's)
        const sumBound = BOUNDS[cx.precision].softmaxRowSum + c * BOUNDS[cx.precision].recipUlps * cx.u;
        for (let r = 0; r < rows; r++) {
          const sum = got.slice(r * c, (r + 1) * c).reduce((a, v) => a + v, 0);
          assert.ok(Math.abs(sum - 1) <= sumBound, `softmax: row ${r} sums to ${sum}`);
        }
      }
      return got;
    },
    reference: (_, { rows, c, xs }) => softmaxRef(xs, rows, c)[method === 'softmax' ? 'sm' : 'lsm'],
    // log-softmax: log s is computed through exp(−y), y ≈ log s: exp's relative error there, about (log s)³/(6·4^k), is its own
    bound: (cx, { c }) => (method === 'softmax' ? BOUNDS[cx.precision].softmax : BOUNDS[cx.precision].logSoftmax + (2 * Math.log(1.01 * c) ** 3) / (6 * 4 ** k(cx))),
    properties: method === 'softmax' ? [{
      name: 'axis 0 of a [c, 3] tensor equals axis −1 of its transpose',
      async check(cx) {
        const c = 10;
        const xs = Array.from({ length: 3 * c }, (_, i) => encoded(cx.f)(Math.cos(i * 0.7) * 4));
        const a0 = await readFloats(cx, await cx.p.softmax(await cx.p.encrypt(alice, xs, { shape: [c, 3] }), 0));
        const want = softmaxRef(Array.from({ length: 3 * c }, (_, j) => xs[(j % c) * 3 + Math.floor(j / c)]!), 3, c).sm;
        const got = Array.from({ length: 3 * c }, (_, j) => a0[(j % c) * 3 + Math.floor(j / c)]!);
        got.forEach((g, i) => assert.ok(Math.abs(g - want[i]!) <= BOUNDS[cx.precision].softmax, `axis 0: ${g} vs ${want[i]}`));
      },
    }] : undefined,
    ir: { args: [{ shape: [2, 4] }], build: (x) => ops[method](x) },
    cost: {
      cases: rowCost, label: ([r, c]) => `[${r}, ${c}]`,
      async prepare(cx, [rows, c]) { const x = await cx.p.encrypt(alice, Float64Array.from({ length: rows * c }, (_, i) => Math.sin(i) * 4), { shape: [rows, c] }); return () => cx.p[method](x); },
      formula: { ABY3: (cx, [r, c]) => costs(cx)[method](r, c), Pond: (cx, [r, c]) => costs(cx)[method](r, c) },
    },
  };
}

// ---------- invSqrt (ABY3) ----------
/** Log-uniform points in [lo, hi] from a fixed LCG, with lo, hi and √(lo·hi) first. */
function points(lo: number, hi: number, n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, (_, i) => {
    if (i < 3) return [lo, hi, Math.sqrt(lo * hi)][i]!;
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo * Math.exp((s / 2 ** 32) * Math.log(hi / lo));
  });
}
/** [lo, hi, scale c]. */
const ISQ_RANGES: [number, number, number][] = [[1, 2, 1], [0.25, 4, 3], [2 ** -12, 2 ** 10, 1], [1e-3, 1e3, 0.01]];
interface Isq { range: [number, number, number]; xs: number[] }
const invSqrtOp: NlOp<Isq, [number, [number, number]]> = {
  name: 'invSqrt', method: 'invSqrt', protocols: ['ABY3'], range: 'x in [lo, hi] (0 < lo, hi/lo ≤ 2^40), log-uniform',
  inputs: () => fc.tuple(fc.integer({ min: 0, max: ISQ_RANGES.length - 1 }), fc.integer({ min: 1, max: 2 ** 30 })).map(([r, seed]) => ({ range: ISQ_RANGES[r]!, xs: points(ISQ_RANGES[r]![0], ISQ_RANGES[r]![1], 100, seed) })),
  numRuns: 4,
  edges: () => ISQ_RANGES.map((r, i) => ({ range: r, xs: points(r[0], r[1], 600, 17 + i) })),
  async apply(c, { range: [lo, hi, scale], xs }) { return readFloats(c, await invSqrt(c.p, await c.p.encrypt(alice, xs), { range: [lo, hi], scale })); },
  reference: (c, { range: [, , scale], xs }) => xs.map((x) => scale / Math.sqrt(encoded(c.f)(x))),
  // e = (x·y)·y carries y·ulp from the truncation of x·y: y's relative error y·ulp/2, i.e. ulp/(2x) absolute (times c)
  bound: (c, { range: [, , scale], xs }) => xs.map((v) => { const x = encoded(c.f)(v); return (Math.abs(scale) * (2 / x + 4) + 4 / Math.sqrt(x) + 2) * c.u; }),
  refuse: (p) => invSqrt(p as never, undefined as never, { range: [1, 2] }),
  cost: {
    cases: () => [1, 45].flatMap((n) => [[1, 2], [2 ** -12, 2 ** 10]].map((r) => [n, r] as [number, [number, number]])), label: ([n, r]) => `[${r}] n = ${n}`,
    async prepare(c, [n, [lo, hi]]) { const x = await c.p.encrypt(alice, points(lo, hi, n, 3)); return () => invSqrt(c.p, x, { range: [lo, hi] }); },
    formula: { ABY3: (c, [n, [lo, hi]]) => abyCost(c).invSqrt(n, invSqrtPlan(lo, hi, c.f).length) },
  },
};

export const SMOOTH_OPS: NlOp[] = [expOp(true), expOp(false), reciprocal, div, sigmoid, softmaxOp('softmax'), softmaxOp('logSoftmax'), invSqrtOp];
