/**
 * The nonlinear conformance suite's op table (run by nonlinear.test.ts): per
 * op, the protocols that implement it, the input generator and the input
 * range docs/encrypted-ml.md states, the float64 (or, on ring integers,
 * bigint) reference, the error bound of the docs' op table, further
 * properties the docs state, and the round and byte formulas per protocol
 * (nl-costs.ts). This file: the types, shared helpers, and the comparison
 * ops (sign, ReLU, greater, select, boolean AND); nl-ops-pool.ts (trees,
 * pooling, convolution) and nl-ops-smooth.ts (exp ... invSqrt) the rest.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ABY3, EncodingRangeError, ops, Player, type Precision, type ReplicatedTensor, type Symbolic } from '../../src/encrypted/index.js';
import { FIXED_HIGH, FIXED_LOW, type FixedPointConfig } from '../../src/encrypted/fixed.js';
import { RingTensor } from '../../src/ring/index.js';
import { aby3Costs, pondCosts, type Cost } from './nl-costs.js';

export type ProtoName = 'Plaintext' | 'Pond' | 'ABY3';
export const PROTOCOL_NAMES: readonly ProtoName[] = ['Plaintext', 'Pond', 'ABY3'];
export const [server0, server1, server2, dealer, alice] = ['server0', 'server1', 'server2', 'dealer', 'alice'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player];

/** ABY3 or Pond through the methods the table calls (the same names and signatures). */
export type AnyP = ABY3;
export type T = ReplicatedTensor;

/** One protocol instance at one precision. */
export interface Ctx { proto: ProtoName; p: AnyP; precision: Precision; cfg: FixedPointConfig; l: 64 | 128; f: number; u: number; E: number }
export const cfgOf = (precision: Precision): FixedPointConfig => (precision === 'low' ? FIXED_LOW : FIXED_HIGH);

/** Revealed values: floats, or ring integers (signed) where the op is checked on the ring encoding. */
export type Out = (number | bigint)[];

/** A cost case: the op's formula per protocol, and a closure that runs it once (inputs prepared outside the count). */
export interface CostSpec<S> {
  cases(c: Ctx): S[];
  label(s: S): string;
  prepare(c: Ctx, s: S): Promise<() => Promise<unknown>>;
  formula: Partial<Record<ProtoName, (c: Ctx, s: S) => Cost>>;
}

export interface NlOp<C = any, S = any> {
  /** The label (the method name, with a variant in parentheses). */
  name: string;
  /** The protocol method (or 'boolean.x'; 'invSqrt' the function). */
  method: string;
  protocols: readonly ProtoName[];
  /** The input range docs/encrypted-ml.md states for the bound. */
  range: string;
  inputs(c: Ctx): fc.Arbitrary<C>;
  /** Random runs: one count, or per protocol (Pond's fewer where its per-protocol tests had fewer). */
  numRuns: number | Partial<Record<ProtoName, number>>;
  /** Edge inputs: zero, ±ulp, the stated range limits, ties. */
  edges(c: Ctx): C[];
  /** Encrypt the input, run the op, reveal the result (asserting the result's shape and encoding on the way). */
  apply(c: Ctx, input: C): Promise<Out>;
  reference(c: Ctx, input: C): Out;
  /** Absolute bound per element (0: exact), a number for all elements. */
  bound(c: Ctx, input: C, want: Out): number | number[];
  /** Further documented behaviour, checked once per protocol and precision. */
  properties?: { name: string; check(c: Ctx): Promise<void> }[];
  /** The IR form, for the refusal of a protocol without the op (shapes and dtypes of the arguments). */
  ir?: { args: { shape: number[]; dtype?: 'int' }[]; build(...xs: Symbolic[]): Symbolic };
  /** Without an IR form: the call that must fail clearly under a protocol without the op. */
  refuse?(p: unknown): unknown;
  cost: CostSpec<S>;
}

/** An op entry (typed through its input and cost-case types). */
export const op = <C, S>(o: NlOp<C, S>): NlOp<C, S> => o;

// ---------- helpers ----------
export const ringOf = (l: 64 | 128, vs: readonly bigint[]) => RingTensor.fromBigInts(l, [vs.length], vs.map((v) => BigInt.asUintN(l, v)));
export const readInts = async (c: Ctx, x: T): Promise<bigint[]> => (await c.p.revealRing(x, alice))!.toSignedBigInts();
export const readFloats = async (c: Ctx, x: T): Promise<number[]> => Array.from((await c.p.reveal(x, alice)).read());
/** The encoding of v, as a double (exact for the values used). */
export const encoded = (f: number) => (v: number): number => Math.round(v * 2 ** f) / 2 ** f;
export const doubles = (lo: number, hi: number, n: number) => fc.array(fc.double({ min: lo, max: hi, noNaN: true }), { minLength: 1, maxLength: n });
export const costs = (c: Ctx) => (c.proto === 'ABY3' ? aby3Costs(c.l) : pondCosts(c.l));
export const abyCost = (c: Ctx) => aby3Costs(c.l);
export const pondCost = (c: Ctx) => pondCosts(c.l);

/** 0, ±1, ±2, ±1.0 (2^f), the largest encodings ±(2^(l−1) − 1), the ring's extremes. */
export function ringEdges(l: number, f: number): bigint[] {
  const half = 1n << BigInt(l - 1);
  const lim = half - 1n;
  return [0n, 1n, -1n, 2n, -2n, 1n << BigInt(f), -(1n << BigInt(f)), lim, -lim, half - 1n, -half, half - 2n, -half + 1n];
}
const bigints = (l: number, max = 70) => fc.array(fc.bigInt({ min: -(1n << BigInt(l - 1)), max: (1n << BigInt(l - 1)) - 1n }), { minLength: 1, maxLength: max });
/** 0, −0, ±ulp, ±ulp/4 (encodes to 0), the largest doubles below the encoding bound. */
const floatEdges = (cfg: FixedPointConfig): number[] => {
  const u = 2 ** -cfg.frac;
  const lim = cfg.bound - 2 ** (cfg.boundLog2 - 52);
  return [0, -0, u, -u, u / 4, -u / 4, lim, -lim];
};

// ---------- comparison ops ----------
interface Unary { ints: bigint[]; floats: number[] }
const unaryIn = (c: Ctx): fc.Arbitrary<Unary> => fc.record({ ints: bigints(c.l), floats: doubles(-1e6, 1e6, 50) });
const unaryEdges = (c: Ctx): Unary[] => [{ ints: ringEdges(c.l, c.f), floats: floatEdges(c.cfg) }];
const elementCases = () => [1, 45, 320];
const sinCos = async (c: Ctx, n: number) => [
  await c.p.encrypt(alice, Float64Array.from({ length: n }, (_, i) => Math.sin(i) * 50)),
  await c.p.encrypt(alice, Float64Array.from({ length: n }, (_, i) => Math.cos(i) * 50)),
] as const;

/** isNegative / reluDerivative / relu: on ring integers (exact on the encoding) and on encrypted floats (the encoding's sign). */
function unaryOp(method: 'isNegative' | 'reluDerivative' | 'relu', f: (v: bigint) => bigint, g: (v: number) => number, cost: (c: Ctx, n: number) => Cost): NlOp<Unary, number> {
  return {
    name: method, method, protocols: ['Pond', 'ABY3'], range: 'any ring value (exact on the encoding)',
    inputs: unaryIn, numRuns: { ABY3: 12, Pond: 8 }, edges: unaryEdges,
    async apply(c, { ints, floats }) {
      const x = await c.p.encryptInts(alice, ringOf(c.l, ints));
      const xf = await c.p.encrypt(alice, floats);
      const [a, b] = await Promise.all([c.p[method](x), c.p[method](xf)]);
      assert.equal(a.encoding, 'int');
      assert.equal(b.encoding, method === 'relu' ? 'fixed' : 'int');
      return [...(await readInts(c, a)), ...(await readFloats(c, b))];
    },
    reference: (c, { ints, floats }) => [...ints.map(f), ...floats.map(encoded(c.f)).map(g)],
    bound: () => 0,
    ir: { args: [{ shape: [4] }], build: (x) => (ops as any)[method](x) },
    cost: {
      cases: elementCases, label: (n) => `n = ${n}`,
      async prepare(c, n) { const [x] = await sinCos(c, n); return () => c.p[method](x); },
      formula: { ABY3: cost, Pond: cost },
    },
  };
}

interface Pairs { ints: [bigint, bigint][]; floats: [number, number][] }
/** |x − y| < 2^(l−1) on the encoding: operands within ±(2^(l−2) − 1). */
const pairIn = (c: Ctx): fc.Arbitrary<Pairs> => {
  const q = 1n << BigInt(c.l - 2);
  const b = fc.bigInt({ min: -q + 1n, max: q - 1n });
  const h = c.cfg.bound / 2 - 2 ** (c.cfg.boundLog2 - 1 - 52); // the largest double below bound/2
  const d = fc.double({ min: -h, max: h, noNaN: true });
  return fc.record({ ints: fc.array(fc.tuple(b, b), { minLength: 1, maxLength: 60 }), floats: fc.array(fc.tuple(d, d), { minLength: 1, maxLength: 30 }) });
};
const pairEdges = (c: Ctx): Pairs[] => {
  const q = (1n << BigInt(c.l - 2)) - 1n;
  const h = c.cfg.bound / 2 - 2 ** (c.cfg.boundLog2 - 1 - 52);
  return [{ ints: [[0n, 0n], [1n, 0n], [-1n, 0n], [5n, 5n], [q, -q], [-q, q], [q, q]], floats: [[0, 0], [c.u, 0], [-c.u, 0], [0, -c.u], [h, -h], [-h, h], [c.u / 4, 0]] }];
};
function compareOp(method: 'greater' | 'less', cmp: (a: number | bigint, b: number | bigint) => boolean): NlOp<Pairs, number> {
  return {
    name: method, method, protocols: ['Pond', 'ABY3'], range: '|x − y| < 2^(l−1) on the encoding (2^(l−1−f) in value)',
    inputs: pairIn, numRuns: { ABY3: 10, Pond: 8 }, edges: pairEdges,
    async apply(c, { ints, floats }) {
      const [x, y] = [await c.p.encryptInts(alice, ringOf(c.l, ints.map((t) => t[0]))), await c.p.encryptInts(alice, ringOf(c.l, ints.map((t) => t[1])))];
      const [xf, yf] = [await c.p.encrypt(alice, floats.map((t) => t[0])), await c.p.encrypt(alice, floats.map((t) => t[1]))];
      const [a, b] = await Promise.all([c.p[method](x, y), c.p[method](xf, yf)]);
      assert.equal(a.encoding, 'int');
      return [...(await readInts(c, a)), ...(await readFloats(c, b))];
    },
    reference: (c, { ints, floats }) => [...ints.map(([a, b]) => (cmp(a, b) ? 1n : 0n)), ...floats.map(([a, b]) => (cmp(encoded(c.f)(a), encoded(c.f)(b)) ? 1 : 0))],
    bound: () => 0,
    ir: { args: [{ shape: [4] }, { shape: [4] }], build: (x, y) => (ops as any)[method](x, y) },
    properties: method === 'greater' ? [{
      name: 'beyond the range the ring difference wraps: the sign of the wrapped difference (documented)',
      async check(c) {
        const top = (1n << BigInt(c.l - 1)) - 1n;
        const x = await c.p.encryptInts(alice, ringOf(c.l, [top, -top]));
        const y = await c.p.encryptInts(alice, ringOf(c.l, [-top, top]));
        assert.deepEqual(await readInts(c, await c.p.greater(x, y)), [0n, 1n]);
      },
    }] : undefined,
    cost: {
      cases: elementCases, label: (n) => `n = ${n}`,
      async prepare(c, n) { const [x, y] = await sinCos(c, n); return () => c.p[method](x, y); },
      formula: { ABY3: (c, n) => abyCost(c).compare(n), Pond: (c, n) => ({ ...pondCost(c).compare(n), dealerMessages: 1 }) },
    },
  };
}

interface Sel { xs: bigint[]; ys: bigint[] }
const selIn = (c: Ctx): fc.Arbitrary<Sel> => fc.array(fc.tuple(fc.bigInt({ min: -(1n << BigInt(c.l - 1)), max: (1n << BigInt(c.l - 1)) - 1n }), fc.bigInt({ min: -(1n << BigInt(c.l - 1)), max: (1n << BigInt(c.l - 1)) - 1n })), { minLength: 1, maxLength: 60 })
  .map((ps) => ({ xs: ps.map((t) => t[0]), ys: ps.map((t) => t[1]) }));
function selectOp(by: 'bit' | 'int'): NlOp<Sel, number> {
  const bit = (c: Ctx, x: T) => (by === 'bit' ? c.p.boolean.signBit(x) : c.p.isNegative(x));
  return {
    name: by === 'bit' ? 'select (b a boolean bit)' : 'select (b a 0/1 integer)', method: 'select', protocols: ['Pond', 'ABY3'], range: 'any ring values (b = [x < 0])',
    inputs: selIn, numRuns: { ABY3: 10, Pond: 8 },
    edges: (c) => { const e = ringEdges(c.l, c.f); return [{ xs: e, ys: [...e].reverse() }]; },
    async apply(c, { xs, ys }) {
      const [x, y] = [await c.p.encryptInts(alice, ringOf(c.l, xs)), await c.p.encryptInts(alice, ringOf(c.l, ys))];
      return readInts(c, await c.p.select(await bit(c, x), x, y));
    },
    reference: (_, { xs, ys }) => xs.map((v, i) => (v < 0n ? v : ys[i]!)),
    bound: () => 0,
    // (the IR's select takes a 0/1 integer b; a boolean bit is an ABY3 / Pond value, not an IR one)
    ir: { args: [{ shape: [4], dtype: 'int' }, { shape: [4] }, { shape: [4] }], build: (b, x, y) => ops.select(b, x, y) },
    cost: {
      cases: elementCases, label: (n) => `n = ${n}`,
      async prepare(c, n) { const [x, y] = await sinCos(c, n); const b = await bit(c, x); return () => c.p.select(b as never, x, y); },
      formula: by === 'bit'
        ? { ABY3: (c, n) => abyCost(c).selectBit(n), Pond: (c, n) => ({ ...pondCost(c).selectBit(n), dealerMessages: 1 }) }
        : { ABY3: (c, n) => abyCost(c).selectInt(n), Pond: (c, n) => ({ ...pondCost(c).selectInt(n), dealerMessages: 1 }) },
    },
  };
}

const signBit: NlOp<bigint[], number> = {
  name: 'boolean.signBit', method: 'boolean.signBit', protocols: ['Pond', 'ABY3'], range: 'any ring value: [x < 0] of the encoding in bit 0',
  inputs: (c) => bigints(c.l), numRuns: { ABY3: 10, Pond: 6 }, edges: (c) => [ringEdges(c.l, c.f)],
  async apply(c, xs) { return (await c.p.boolean.reveal(await c.p.boolean.signBit(await c.p.encryptInts(alice, ringOf(c.l, xs))), alice))!.toBigInts(); },
  reference: (_, xs) => xs.map((v) => (v < 0n ? 1n : 0n)),
  bound: () => 0,
  refuse: (p) => (p as AnyP).boolean.signBit,
  cost: {
    cases: elementCases, label: (n) => `n = ${n}`,
    async prepare(c, n) { const [x] = await sinCos(c, n); return () => c.p.boolean.signBit(x); },
    formula: { ABY3: (c, n) => abyCost(c).signBit(n), Pond: (c, n) => ({ ...pondCost(c).signBit(n), dealerMessages: 1 }) },
  },
};

const words = (l: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(l)) - 1n });
const and: NlOp<[bigint, bigint][], number> = {
  name: 'boolean.and', method: 'boolean.and', protocols: ['Pond', 'ABY3'], range: 'any l-bit words',
  inputs: (c) => fc.array(fc.tuple(words(c.l), words(c.l)), { minLength: 1, maxLength: 40 }), numRuns: { ABY3: 10, Pond: 6 },
  edges: (c) => { const M = (1n << BigInt(c.l)) - 1n; return [[[0n, M], [M, M], [M, 0n], [0n, 0n], [1n << BigInt(c.l - 1), M]]]; },
  async apply(c, ps) {
    const x = await c.p.boolean.input(server0, RingTensor.fromBigInts(c.l, [ps.length], ps.map((t) => t[0])));
    const y = await c.p.boolean.input(server1, RingTensor.fromBigInts(c.l, [ps.length], ps.map((t) => t[1])));
    return (await c.p.boolean.reveal(await c.p.boolean.and(x, y), alice))!.toBigInts();
  },
  reference: (_, ps) => ps.map(([a, b]) => a & b),
  bound: () => 0,
  refuse: (p) => (p as AnyP).boolean.and,
  cost: {
    cases: elementCases, label: (n) => `n = ${n}`,
    async prepare(c, n) {
      const x = await c.p.boolean.input(server0, new RingTensor(c.l, [n]));
      const y = await c.p.boolean.input(server1, new RingTensor(c.l, [n]));
      return () => c.p.boolean.and(x, y);
    },
    formula: { ABY3: (c, n) => abyCost(c).and(n), Pond: (c, n) => ({ ...pondCost(c).and(n), dealerMessages: 1 }) },
  },
};

export const COMPARISON_OPS: NlOp[] = [
  signBit,
  unaryOp('isNegative', (v) => (v < 0n ? 1n : 0n), (v) => (v < 0 ? 1 : 0), (c, n) => (c.proto === 'ABY3' ? abyCost(c).compare(n) : { ...pondCost(c).compare(n), dealerMessages: 1 })),
  unaryOp('reluDerivative', (v) => (v >= 0n ? 1n : 0n), (v) => (v >= 0 ? 1 : 0), (c, n) => (c.proto === 'ABY3' ? abyCost(c).compare(n) : { ...pondCost(c).compare(n), dealerMessages: 1 })),
  {
    ...unaryOp('relu', (v) => (v > 0n ? v : 0n), (v) => (v > 0 ? v : 0), (c, n) => (c.proto === 'ABY3' ? abyCost(c).relu(n) : { ...pondCost(c).relu(n), dealerMessages: 1 })),
    properties: [{
      name: 'the encoding bound itself does not encode (EncodingRangeError)',
      async check(c) { assert.throws(() => c.p.encrypt(alice, [c.cfg.bound]), EncodingRangeError); },
    }],
  },
  compareOp('greater', (a, b) => a > b),
  compareOp('less', (a, b) => a < b),
  selectOp('bit'),
  selectOp('int'),
  and,
];
