/**
 * The conformance table's trees, pooling and convolution ops (see nl-ops.ts):
 * max, argmax, maxPool2x2 (with its mask and backward) exact on the encoding
 * with frequent ties (the lowest index wins); conv2d, its gradients and
 * avgPool within the op table's bounds, valid / same padding, strides 1, 2,
 * (1, 2), (2, 1). References: test/encrypted/conv-ref.ts (float64 loops,
 * checked against tfjs in test/encrypted/aby3-conv.test.ts).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ops, PublicTensor } from '../../src/encrypted/index.js';
import { geometry, type Geometry } from '../../src/encrypted/protocols/im2col.js';
import { backFilterRef, backInputRef, convRef, data, poolRef, reduceRef, tied } from '../encrypted/conv-ref.js';
import type { Carry } from './nl-costs.js';
import { abyCost, alice, op, pondCost, readFloats, type Ctx, type NlOp, type T } from './nl-ops.js';

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

// ---------- max, argmax: the comparison tree ----------
interface Reduce { shape: number[]; axis: number; xs: Float64Array }
const reduceIn = (): fc.Arbitrary<Reduce> => fc.record({ shape: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }), axis: fc.nat(), distinct: fc.constantFrom(0, 2, 3), seed: fc.integer({ min: 1, max: 2 ** 30 }) })
  .map(({ shape, axis, distinct, seed }) => ({ shape, axis: axis % shape.length, xs: tied(seed, prod(shape), distinct) }));
/** Ties (the first index wins; all-equal rows give 0) and entries at ±(half the encoding bound): differences just inside the range. */
const reduceEdges = (c: Ctx): Reduce[] => {
  const h = c.cfg.bound / 2 - 2 ** (c.cfg.boundLog2 - 1 - 52);
  const ties = Float64Array.from([1, 3, 3, 0, 3, 2, 2, 2, 2, 2, -1, 5, 5, 5, 5, 4, 4, 4, 4, 4]);
  const limits = Float64Array.from([h, -h, 0, -h, h, -h, c.u, -c.u, 0, 0, h, h]);
  return [{ shape: [4, 5], axis: 1, xs: ties }, { shape: [4, 5], axis: 0, xs: ties }, { shape: [4, 3], axis: 1, xs: limits }, { shape: [4, 3], axis: 0, xs: limits }];
};
const treeCase = (c: Ctx, k: number, n: number, carry: Carry) => (c.proto === 'ABY3' ? abyCost(c).tree(k, n, carry) : pondCost(c).tree(k, n, carry));

function reduceOp(method: 'max' | 'argmax'): NlOp<Reduce, [number, number]> {
  return {
    name: method, method, protocols: ['Pond', 'ABY3'], range: '|x_i − x_j| < 2^(l−1−f) (exact on the encoding); ties: the lowest index',
    inputs: reduceIn, numRuns: { ABY3: 14, Pond: 8 }, edges: reduceEdges,
    async apply(c, { shape, axis, xs }) {
      const x = await c.p.encrypt(alice, xs, { shape });
      // argmax: a negative axis counts from the end
      const y = method === 'max' ? await c.p.max(x, axis) : await c.p.argmax(x, axis - shape.length);
      assert.deepEqual(y.shape, shape.filter((_, i) => i !== axis));
      assert.equal(y.encoding, method === 'max' ? 'fixed' : 'int');
      return readFloats(c, y);
    },
    reference: (_, { shape, axis, xs }) => reduceRef(xs, shape, axis)[method === 'max' ? 'max' : 'arg'],
    bound: () => 0,
    properties: [{
      name: 'ties, spelled out: equal candidates give the first index, all-equal rows 0 (the reference checked too)',
      async check(c) {
        const x = await c.p.encrypt(alice, reduceEdges(c)[0]!.xs, { shape: [4, 5] });
        const [rows, cols] = method === 'max' ? [[3, 2, 5, 4], [4, 5, 5, 5, 5]] : [[1, 0, 1, 0], [3, 2, 2, 2, 2]];
        assert.deepEqual(await readFloats(c, await c.p[method](x, 1)), rows);
        // columns: 5 is in rows 2 and 3 for columns 1-4; row 2 wins
        assert.deepEqual(await readFloats(c, await c.p[method](x, 0)), cols);
      },
    }],
    ir: { args: [{ shape: [2, 3] }], build: (x) => ops[method](x, 1) },
    cost: {
      cases: () => [[5, 2], [7, 3], [3, 4], [40, 5], [33, 8]], label: ([r, k]) => `[${r}, ${k}]`,
      async prepare(c, [rows, k]) { const x = await c.p.encrypt(alice, data(rows * k, rows * k), { shape: [rows, k] }); return () => c.p[method](x, 1); },
      formula: { ABY3: (c, [r, k]) => treeCase(c, k, r, method === 'max' ? 'none' : 'index'), Pond: (c, [r, k]) => treeCase(c, k, r, method === 'max' ? 'none' : 'index') },
    },
  };
}

// ---------- maxPool2x2, with its mask, backward ----------
interface Pool { shape: number[]; xs: Float64Array; dys: Float64Array }
const poolIn = (): fc.Arbitrary<Pool> => fc.record({ B: fc.integer({ min: 1, max: 2 }), H: fc.integer({ min: 2, max: 7 }), W: fc.integer({ min: 2, max: 7 }), C: fc.integer({ min: 1, max: 3 }), distinct: fc.constantFrom(0, 2), seed: fc.integer({ min: 1, max: 2 ** 30 }) })
  .map(({ B, H, W, C, distinct, seed }) => ({ shape: [B, H, W, C], xs: tied(seed, B * H * W * C, distinct), dys: data(seed + 5, B * Math.floor(H / 2) * Math.floor(W / 2) * C) }));
/** Odd sizes (the last row / column in no window), all-equal windows (the first entry wins). */
const poolEdges = (): Pool[] => [
  { shape: [1, 3, 5, 1], xs: tied(3, 15, 2), dys: data(4, 2) },
  { shape: [1, 2, 2, 2], xs: new Float64Array(8).fill(1.5), dys: Float64Array.from([1, -2]) },
];
const pooledShape = ([B, H, W, C]: number[]) => [B!, Math.floor(H! / 2), Math.floor(W! / 2), C!];
const POOL_SHAPES = [[2, 4, 4, 3], [1, 6, 5, 2], [4, 8, 8, 4]];
const poolLabel = (s: number[]) => JSON.stringify(s);
const pooledSize = (s: number[]) => prod(pooledShape(s));

function poolOp(variant: 'maxPool2x2' | 'maxPool2x2WithMask' | 'maxPool2x2Backward'): NlOp<Pool, number[]> {
  return {
    name: variant, method: variant, protocols: ['Pond', 'ABY3'], range: 'NHWC, stride 2, valid; |x_i − x_j| < 2^(l−1−f); exact',
    // (the backward's runs check the mask too: maxPool2x2WithMask is checked 16 / 8 times)
    inputs: poolIn, numRuns: variant === 'maxPool2x2WithMask' ? { ABY3: 4, Pond: 2 } : { ABY3: 12, Pond: 6 }, edges: poolEdges,
    async apply(c, { shape, xs, dys }) {
      const x = await c.p.encrypt(alice, xs, { shape });
      if (variant === 'maxPool2x2') {
        const y = await c.p.maxPool2x2(x);
        assert.deepEqual(y.shape, pooledShape(shape));
        return readFloats(c, y);
      }
      const r = await c.p.maxPool2x2WithMask(x);
      assert.deepEqual(r.mask.shape, shape);
      assert.equal(r.mask.encoding, 'int');
      if (variant === 'maxPool2x2WithMask') return [...(await readFloats(c, r.y)), ...(await readFloats(c, r.mask))];
      const dy = await c.p.encrypt(alice, dys, { shape: pooledShape(shape) });
      // with the mask and y of the same run (the backward's input)
      assert.deepEqual([...(await readFloats(c, r.y)), ...(await readFloats(c, r.mask))], [...poolRef(xs, shape).y, ...poolRef(xs, shape).mask], 'maxPool2x2WithMask');
      return readFloats(c, await c.p.maxPool2x2Backward(r.mask, dy));
    },
    reference: (_, { shape, xs, dys }) => {
      const r = poolRef(xs, shape, dys);
      return variant === 'maxPool2x2' ? r.y : variant === 'maxPool2x2WithMask' ? [...r.y, ...r.mask] : r.dx;
    },
    bound: () => 0,
    ir: variant === 'maxPool2x2Backward'
      ? { args: [{ shape: [1, 4, 4, 2], dtype: 'int' }, { shape: [1, 2, 2, 2] }], build: (m, dy) => ops.maxPool2x2Backward(m, dy) }
      : { args: [{ shape: [1, 4, 4, 2] }], build: (x) => (variant === 'maxPool2x2' ? ops.maxPool2x2(x) : ops.maxPool2x2WithMask(x).y) },
    cost: {
      cases: () => POOL_SHAPES, label: poolLabel,
      async prepare(c, shape) {
        const x = await c.p.encrypt(alice, data(3, prod(shape)), { shape });
        if (variant === 'maxPool2x2') return () => c.p.maxPool2x2(x);
        if (variant === 'maxPool2x2WithMask') return () => c.p.maxPool2x2WithMask(x);
        const r = await c.p.maxPool2x2WithMask(x);
        const dy = await c.p.encrypt(alice, data(4, pooledSize(shape)), { shape: pooledShape(shape) });
        return () => c.p.maxPool2x2Backward(r.mask, dy);
      },
      formula: variant === 'maxPool2x2Backward'
        ? { ABY3: (c, s) => abyCost(c).mulInt(prod(s)), Pond: (c, s) => pondCost(c).mulInt(prod(s)) }
        : { ABY3: (c, s) => treeCase(c, 4, pooledSize(s), variant === 'maxPool2x2' ? 'none' : 'mask'), Pond: (c, s) => treeCase(c, 4, pooledSize(s), variant === 'maxPool2x2' ? 'none' : 'mask') },
    },
  };
}

// ---------- conv2d, its gradients, avgPool ----------
interface Conv { B: number; H: number; W: number; C: number; KH: number; KW: number; F: number; s: number | [number, number]; pad: 'valid' | 'same'; seed: number }
const convIn = (): fc.Arbitrary<Conv> => fc.record({
  B: fc.integer({ min: 1, max: 2 }), H: fc.integer({ min: 3, max: 7 }), W: fc.integer({ min: 3, max: 7 }), C: fc.integer({ min: 1, max: 3 }),
  KH: fc.integer({ min: 1, max: 3 }), KW: fc.integer({ min: 1, max: 3 }), F: fc.integer({ min: 1, max: 3 }),
  s: fc.constantFrom<number | [number, number]>(1, 2, [1, 2], [2, 1]), pad: fc.constantFrom('valid' as const, 'same' as const), seed: fc.integer({ min: 1, max: 2 ** 30 }),
});
/** Valid / same, strides 1, 2, (1, 2) (odd total padding: the extra row at the bottom), (2, 1). */
const CONV_CASES: Conv[] = [
  { B: 2, H: 6, W: 5, C: 2, KH: 3, KW: 3, F: 3, s: 1, pad: 'valid', seed: 1 },
  { B: 2, H: 6, W: 5, C: 2, KH: 3, KW: 3, F: 3, s: 2, pad: 'valid', seed: 2 },
  { B: 1, H: 7, W: 6, C: 3, KH: 3, KW: 2, F: 2, s: 1, pad: 'same', seed: 3 },
  { B: 2, H: 7, W: 6, C: 1, KH: 3, KW: 3, F: 2, s: 2, pad: 'same', seed: 4 },
  { B: 1, H: 6, W: 7, C: 2, KH: 2, KW: 3, F: 2, s: [1, 2], pad: 'same', seed: 5 },
  { B: 2, H: 7, W: 5, C: 1, KH: 3, KW: 2, F: 3, s: [2, 1], pad: 'valid', seed: 6 },
];
const geo = (k: Conv): Geometry => geometry('t', [k.B, k.H, k.W, k.C], k.KH, k.KW, k.s, k.pad);
const sizes = (k: Conv) => { const g = geo(k); return { g, nx: k.B * k.H * k.W * k.C, nw: k.KH * k.KW * k.C * k.F, ny: k.B * g.OH * g.OW * k.F }; };
/** Test data: multiples of 2^-8 in [-4, 4), exact in the encoding and in float64 products and sums. */
const convData = (k: Conv) => { const { g, nx, nw, ny } = sizes(k); return { g, xs: data(k.seed, nx), ws: data(k.seed + 7, nw), dys: data(k.seed + 11, ny) }; };
const xShape = (k: Conv) => [k.B, k.H, k.W, k.C];
const wShape = (k: Conv) => [k.KH, k.KW, k.C, k.F];

type ConvVariant = 'conv2d' | 'conv2d (public filter)' | 'conv2dBackpropInput' | 'conv2dBackpropInput (public filter)' | 'conv2dBackpropFilter';
async function runConv(c: Ctx, v: ConvVariant, k: Conv, d: { g: Geometry; xs: Float64Array; ws: Float64Array; dys: Float64Array }): Promise<() => Promise<T>> {
  const o = { strides: k.s, padding: k.pad };
  const pub = v.endsWith('(public filter)');
  const w = pub ? new PublicTensor(d.ws, wShape(k)) : await c.p.encrypt(alice, d.ws, { shape: wShape(k) });
  if (v.startsWith('conv2dBackpropInput')) {
    const dy = await c.p.encrypt(alice, d.dys, { shape: [k.B, d.g.OH, d.g.OW, k.F] });
    return () => c.p.conv2dBackpropInput(xShape(k), dy, w as T, o);
  }
  const x = await c.p.encrypt(alice, d.xs, { shape: xShape(k) });
  if (v === 'conv2dBackpropFilter') {
    const dy = await c.p.encrypt(alice, d.dys, { shape: [k.B, d.g.OH, d.g.OW, k.F] });
    return () => c.p.conv2dBackpropFilter(x, dy, wShape(k), o);
  }
  return () => c.p.conv2d(x, w as T, o);
}

function convOp(v: ConvVariant): NlOp<Conv, Conv> {
  const method = v.split(' ')[0]!;
  const outShape = (k: Conv) => (method === 'conv2d' ? [k.B, geo(k).OH, geo(k).OW, k.F] : method === 'conv2dBackpropInput' ? xShape(k) : wShape(k));
  return {
    name: v, method, protocols: ['Pond', 'ABY3'], range: 'inputs exact in the encoding (multiples of 2^-8 in [-4, 4))',
    inputs: convIn, numRuns: { ABY3: 10, Pond: 6 }, edges: () => CONV_CASES,
    async apply(c, k) {
      const y = await (await runConv(c, v, k, convData(k)))();
      assert.deepEqual(y.shape, outShape(k));
      return readFloats(c, y);
    },
    reference: (_, k) => {
      const { g, xs, ws, dys } = convData(k);
      return Array.from(method === 'conv2d' ? convRef(xs, ws, g, k.F) : method === 'conv2dBackpropInput' ? backInputRef(dys, ws, g, k.F) : backFilterRef(xs, dys, g, k.F));
    },
    // one truncation per output element (for the input gradient: after col2im, also under Pond with a public filter)
    bound: (c) => c.u,
    ir: method === 'conv2d' ? { args: [{ shape: [1, 4, 4, 1] }, { shape: [1, 1, 1, 1] }], build: (x, w) => ops.conv2d(x, w) }
      : method === 'conv2dBackpropInput' ? { args: [{ shape: [1, 2, 2, 1] }, { shape: [1, 1, 1, 1] }], build: (dy, w) => ops.conv2dBackpropInput(dy, w, { inputShape: [1, 4, 4, 1], strides: 2 }) }
        : { args: [{ shape: [1, 4, 4, 1] }, { shape: [1, 2, 2, 1] }], build: (x, dy) => ops.conv2dBackpropFilter(x, dy, { filterShape: [1, 1, 1, 1], strides: 2 }) },
    cost: {
      cases: () => CONV_CASES, label: (k) => JSON.stringify(k),
      prepare: (c, k) => runConv(c, v, k, convData(k)),
      formula: {
        ABY3: (c, k) => {
          const { nx, nw, ny } = sizes(k);
          const out = method === 'conv2d' ? ny : method === 'conv2dBackpropInput' ? nx : nw;
          return v.endsWith('(public filter)') ? abyCost(c).truncation(out) : abyCost(c).matmul(out);
        },
        Pond: (c, k) => {
          const { nx, nw, ny } = sizes(k);
          if (v.endsWith('(public filter)')) return pondCost(c).local();
          // the two opened operands, the dealt product's size
          return method === 'conv2d' ? pondCost(c).matmul(nx, nw, ny) : method === 'conv2dBackpropInput' ? pondCost(c).matmul(ny, nw, nx) : pondCost(c).matmul(nx, ny, nw);
        },
      },
    },
  };
}

interface Avg { B: number; H: number; W: number; C: number; kh: number; kw: number; s: number; seed: number }
const avgShape = (a: Avg) => [a.B, a.H, a.W, a.C];
const avgGeo = (a: Avg) => geometry('t', avgShape(a), Math.min(a.kh, a.H), Math.min(a.kw, a.W), a.s, 'valid');
const avgPool = op<Avg, Conv>({
  name: 'avgPool', method: 'avgPool', protocols: ['Pond', 'ABY3'], range: 'valid windows; inputs in [-4, 4)',
  inputs: () => fc.record({ B: fc.integer({ min: 1, max: 2 }), H: fc.integer({ min: 2, max: 7 }), W: fc.integer({ min: 2, max: 7 }), C: fc.integer({ min: 1, max: 3 }), kh: fc.integer({ min: 1, max: 3 }), kw: fc.integer({ min: 1, max: 3 }), s: fc.integer({ min: 1, max: 3 }), seed: fc.integer({ min: 1, max: 2 ** 30 }) }),
  numRuns: { ABY3: 12, Pond: 6 },
  edges: () => [{ B: 1, H: 2, W: 2, C: 1, kh: 2, kw: 2, s: 2, seed: 1 }, { B: 2, H: 7, W: 6, C: 2, kh: 3, kw: 3, s: 3, seed: 2 }, { B: 1, H: 4, W: 4, C: 2, kh: 1, kw: 1, s: 1, seed: 3 }],
  async apply(c, a) {
    const x = await c.p.encrypt(alice, data(a.seed, prod(avgShape(a))), { shape: avgShape(a) });
    const y = await c.p.avgPool(x, { size: [Math.min(a.kh, a.H), Math.min(a.kw, a.W)], strides: a.s });
    const g = avgGeo(a);
    assert.deepEqual(y.shape, [a.B, g.OH, g.OW, a.C]);
    return readFloats(c, y);
  },
  reference: (_, a) => {
    const [kh, kw] = [Math.min(a.kh, a.H), Math.min(a.kw, a.W)];
    return Array.from(convRef(data(a.seed, prod(avgShape(a))), new Float64Array(kh * kw * a.C * a.C).map((_, i) => (i % a.C === Math.floor(i / a.C) % a.C ? 1 / (kh * kw) : 0)), avgGeo(a), a.C));
  },
  // one ulp of truncation + |mean|·2^-(f+1): 1/area is encoded with f + ceil(log2 area) bits
  bound: (c, _a, want) => want.map((m) => c.u + Math.abs(m as number) * 2 ** -(c.f + 1) + 1e-12),
  ir: { args: [{ shape: [1, 4, 4, 1] }], build: (x) => ops.avgPool(x, { size: 2 }) },
  cost: {
    cases: () => CONV_CASES, label: (k) => JSON.stringify(xShape(k)),
    async prepare(c, k) { const x = await c.p.encrypt(alice, data(k.seed, prod(xShape(k))), { shape: xShape(k) }); return () => c.p.avgPool(x, { size: 2 }); },
    formula: {
      ABY3: (c, k) => { const g = geometry('t', xShape(k), 2, 2, 2, 'valid'); return abyCost(c).truncation(k.B * g.OH * g.OW * k.C); },
      Pond: (c) => pondCost(c).local(),
    },
  },
});

export const POOL_OPS: NlOp[] = [
  reduceOp('max'), reduceOp('argmax'), poolOp('maxPool2x2'), poolOp('maxPool2x2WithMask'), poolOp('maxPool2x2Backward'),
  convOp('conv2d'), convOp('conv2d (public filter)'), convOp('conv2dBackpropInput'), convOp('conv2dBackpropInput (public filter)'), convOp('conv2dBackpropFilter'), avgPool,
];
