/**
 * The training-side and shape ops of the IR (src/encrypted/computation/
 * rules-nonlinear.ts, rules-shape.ts): ABY3's select, div,
 * conv2dBackpropInput / conv2dBackpropFilter, maxPool2x2WithMask (one node,
 * two results) and maxPool2x2Backward; reshape, transpose and divPublic, which
 * every protocol has. Each against the plaintext reference at both
 * precisions with its result type and sensitivity; the ABY3-only ones refused
 * under Pond and Plaintext before any message; reshape / transpose /
 * divPublic under Pond and in the clear; JSON round trips with attributes
 * and the two-result node, bad attributes and shapes refused by name.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ABY3, computation, computationFromJSON, ops, Player, Plaintext, Pond, PrivateTensor, ProtocolMismatchError, SerializationError, ShapeMismatchError, SignatureError, TensorSpec,
  type AnyProtocol, type ComputationJSON, type Symbolic,
} from '../../src/encrypted/index.js';
import { geometry } from '../../src/encrypted/protocols/aby3-conv.js';
import { backFilterRef, backInputRef } from './conv-ref.js';
import { rng } from './computation-data.js';
import { RecordingTransport } from './recording.js';

const [s0, s1, s2, client, owner, dave, carol] = ['server0', 'server1', 'server2', 'client', 'owner', 'dave', 'carol'].map((n) => new Player(n)) as Player[] as [Player, Player, Player, Player, Player, Player, Player];
const inputOwners = [client, owner, dave];

const close = (got: ArrayLike<number>, want: ArrayLike<number>, bound: number, what: string): void => {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= bound, `${what}: element ${i}: ${got[i]} vs ${want[i]} (bound ${bound})`);
};
const uni = (lo: number, hi: number) => (r: () => number, size: number): Float64Array => Float64Array.from({ length: size }, () => lo + (hi - lo) * r());
const size = (s: readonly number[]): number => s.reduce((a, c) => a * c, 1);

/** 2x2 windows of an NHWC tensor: for each output (b, oy, ox, c), the 4 flat input indices in window order. */
function windows([B, H, W, C]: number[]): number[][] {
  const out: number[][] = [];
  for (let b = 0; b < B!; b++) for (let oy = 0; oy < Math.floor(H! / 2); oy++) for (let ox = 0; ox < Math.floor(W! / 2); ox++) for (let c = 0; c < C!; c++) {
    out.push([[0, 0], [0, 1], [1, 0], [1, 1]].map(([dy, dx]) => ((b * H! + 2 * oy + dy!) * W! + 2 * ox + dx!) * C! + c));
  }
  return out;
}
/** The 0/1 mask of each window's maximum (the first among ties). */
function maskRef(x: Float64Array, shape: number[]): Float64Array {
  const m = new Float64Array(x.length);
  for (const w of windows(shape)) m[w.reduce((best, i) => (x[i]! > x[best]! ? i : best), w[0]!)] = 1;
  return m;
}
function transposeRef(x: Float64Array, shape: number[], perm: number[]): Float64Array {
  const out = new Float64Array(x.length);
  const st = shape.map((_, i) => size(shape.slice(i + 1)));
  const oshape = perm.map((a) => shape[a]!);
  const ost = oshape.map((_, i) => size(oshape.slice(i + 1)));
  for (let k = 0; k < x.length; k++) {
    let from = 0;
    for (let i = 0; i < oshape.length; i++) from += (Math.floor(k / ost[i]!) % oshape[i]!) * st[perm[i]!]!;
    out[k] = x[from]!;
  }
  return out;
}

const NHWC = [1, 4, 4, 2];
const DY = [1, 2, 2, 3];
const FILTER = [2, 2, 2, 3];
const G = geometry('test', NHWC, 2, 2, 2, 'valid');
const DIVISORS = [1.5, -3, 0.75, 8];

interface Case {
  name: string;
  shapes: number[][];
  gens: ((r: () => number, size: number) => Float64Array)[];
  op: (...a: Symbolic[]) => Symbolic;
  ref: (...a: Float64Array[]) => Float64Array;
  dtype: 'fixed' | 'int';
  outShape: number[];
  /** in units of u */
  ulps: number;
}

const cases: Case[] = [
  { name: 'select', shapes: [[3, 4], [3, 4], [3, 4]], gens: [uni(-1, 1), uni(-4, 4), uni(-4, 4)], op: (b, x, y) => ops.select(ops.isNegative(b), x, y), ref: (b, x, y) => b!.map((v, i) => (v < 0 ? x![i]! : y![i]!)), dtype: 'fixed', outShape: [3, 4], ulps: 1 },
  // reciprocal's 8 ulps on [0.5, 4] times |x| <= 4, the product's truncation and the encodings
  { name: 'div', shapes: [[3, 4], [3, 4]], gens: [uni(-4, 4), uni(0.5, 4)], op: (x, y) => ops.div(x, y, { range: [0.5, 4] }), ref: (x, y) => x!.map((v, i) => v / y![i]!), dtype: 'fixed', outShape: [3, 4], ulps: 40 },
  { name: 'reshape', shapes: [[3, 4]], gens: [uni(-4, 4)], op: (x) => ops.reshape(x, [2, -1]), ref: (x) => x!, dtype: 'fixed', outShape: [2, 6], ulps: 1 },
  { name: 'transpose', shapes: [[2, 3, 4]], gens: [uni(-4, 4)], op: (x) => ops.transpose(x, [2, 0, 1]), ref: (x) => transposeRef(x!, [2, 3, 4], [2, 0, 1]), dtype: 'fixed', outShape: [4, 2, 3], ulps: 1 },
  // 1/c with f + k fractional bits (relative 2^-(f+1)), |x/c| <= 5.4, one truncation, x's encoding over |c| >= 0.75
  { name: 'divPublic', shapes: [[3, 4]], gens: [uni(-4, 4)], op: (x) => ops.divPublic(x, DIVISORS), ref: (x) => x!.map((v, i) => v / DIVISORS[i % 4]!), dtype: 'fixed', outShape: [3, 4], ulps: 6 },
  // no overlapping windows (2x2, stride 2): each element sums F = 3 products, |dy|, |w| <= 1, one truncation
  { name: 'conv2dBackpropInput', shapes: [DY, FILTER], gens: [uni(-1, 1), uni(-1, 1)], op: (dy, w) => ops.conv2dBackpropInput(dy, w, { inputShape: NHWC, strides: 2 }), ref: (dy, w) => backInputRef(dy!, w!, G, 3), dtype: 'fixed', outShape: NHWC, ulps: 8 },
  // B·OH·OW = 4 products per element
  { name: 'conv2dBackpropFilter', shapes: [NHWC, DY], gens: [uni(-1, 1), uni(-1, 1)], op: (x, dy) => ops.conv2dBackpropFilter(x, dy, { filterShape: FILTER, strides: 2 }), ref: (x, dy) => backFilterRef(x!, dy!, G, 3), dtype: 'fixed', outShape: FILTER, ulps: 10 },
  // int mask × fixed dy: exact on the encoding (dy's own encoding error only)
  {
    name: 'maxPool2x2Backward', shapes: [NHWC, [1, 2, 2, 2]], gens: [uni(-4, 4), uni(-4, 4)], op: (x, dy) => ops.maxPool2x2Backward(ops.maxPool2x2WithMask(x).mask, dy),
    ref: (x, dy) => { const m = maskRef(x!, NHWC); const out = new Float64Array(x!.length); windows(NHWC).forEach((w, j) => w.forEach((i) => (out[i] = m[i]! * dy![j]!))); return out; }, dtype: 'fixed', outShape: NHWC, ulps: 1,
  },
];

for (const precision of ['low', 'high'] as const) {
  const u = precision === 'low' ? 2 ** -16 : 2 ** -32;
  const aby3 = (id: string): ABY3 => new ABY3(s0, s1, s2, { precision, id: `${id}-${precision}`, players: [carol] });

  describe(`training-side and shape ops in computations (precision ${precision})`, () => {
    for (const cs of cases) {
      it(`${cs.name}: against plaintext, typed ${cs.dtype} ${JSON.stringify(cs.outShape)} encrypted with the operands' joined sensitivity`, async () => {
        const r = rng(cs.name.length * 13 + (precision === 'low' ? 1 : 2));
        const xs = cs.shapes.map((s, i) => cs.gens[i]!(r, size(s)));
        const comp = computation((...a: Symbolic[]) => ops.reveal(cs.op(...a.map((v, i) => ops.encrypt(v, { sensitivity: [inputOwners[i]!, carol] }))), carol), { name: cs.name, inputNames: cs.shapes.map((_, i) => `a${i}`) });
        const c = comp.concrete(aby3(`train-${cs.name}`), cs.shapes.map((s, i) => TensorSpec.private(inputOwners[i]!, { shape: s })));
        const g = c.computation.graph;
        const k = g.nodes.findIndex((nd) => nd.op === cs.name);
        // (value ids: the inputs, then every node's results; maxPool2x2WithMask before it has two)
        const id = g.inputNames.length + g.nodes.slice(0, k).reduce((acc, nd) => acc + (nd.results ?? 1), 0);
        const t = c.types[id]!;
        assert.deepEqual([t.kind, t.dtype, [...t.shape]], ['encrypted', cs.dtype, cs.outShape]);
        assert.deepEqual(t.sensitivity?.map((p) => p.name), cs.shapes.length === 1 ? ['client', 'carol'] : ['carol']);
        const y = (await c.run(...xs.map((v, i) => new PrivateTensor(inputOwners[i]!, cs.shapes[i]!, v)))) as PrivateTensor;
        close(y.read(), cs.ref(...xs), cs.ulps * u, cs.name);
      });
    }

    it('maxPool2x2WithMask: one node, two results [y, mask]: y the window maxima (x\'s dtype), mask 0/1 integers of x\'s shape (dtype int)', async () => {
      const r = rng(precision === 'low' ? 71 : 72);
      const x = uni(-4, 4)(r, size(NHWC));
      const comp = computation(function pool(a) {
        const { y, mask } = ops.maxPool2x2WithMask(ops.encrypt(a, { sensitivity: [client, carol] }));
        return [ops.reveal(y, carol), ops.reveal(mask, carol), ops.reveal(ops.reshape(mask, [2, -1]), carol)];
      });
      const c = comp.concrete(aby3('with-mask'), [TensorSpec.private(client, { shape: NHWC })]);
      const node = c.computation.graph.nodes[1]!;
      assert.equal(node.op, 'maxPool2x2WithMask');
      assert.equal(node.results, 2);
      // ids: input 0, encrypt 1, [y, mask] 2 and 3, then the reveals and the reshape
      assert.deepEqual([c.types[2]!.dtype, [...c.types[2]!.shape], c.types[3]!.dtype, [...c.types[3]!.shape]], ['fixed', [1, 2, 2, 2], 'int', NHWC]);
      assert.deepEqual(c.computation.graph.nodes.slice(2).map((nd) => nd.args), [[2], [3], [3], [6]]);
      const [y, mask, flat] = (await c.run(new PrivateTensor(client, NHWC, x))) as PrivateTensor[];
      assert.deepEqual([...flat!.shape], [2, 16]);
      assert.deepEqual([...flat!.read()], [...mask!.read()]);
      close(y!.read(), windows(NHWC).map((w) => Math.max(...w.map((i) => x[i]!))), u, 'y');
      assert.deepEqual([...mask!.read()], [...maskRef(x, NHWC)]);
    });

    it('reshape, transpose and divPublic under Pond, and in the clear on a private value (float64 at its owner)', async () => {
      const r = rng(precision === 'low' ? 81 : 82);
      const x = uni(-4, 4)(r, 12);
      const shapeOps = (v: Symbolic): Symbolic => ops.divPublic(ops.transpose(ops.reshape(v, [4, 3])), [[2], [-4], [0.5]]);
      const want = transposeRef(x, [4, 3], [1, 0]).map((v, i) => v / [2, -4, 0.5][Math.floor(i / 4)]!);
      const pond = new Pond(s0, s1, s2, { precision, id: `shape-pond-${precision}`, players: [carol] });
      const enc = computation((a) => ops.reveal(shapeOps(ops.encrypt(a, { sensitivity: [client, carol] })), carol));
      const y = (await enc.concrete(pond, [TensorSpec.private(client, { shape: [3, 4] })]).run(new PrivateTensor(client, [3, 4], x))) as PrivateTensor;
      assert.deepEqual([...y.shape], [3, 4]);
      close(y.read(), want, 6 * u, 'pond');
      const clear = computation((a) => shapeOps(a));
      const c = clear.concrete(undefined, [TensorSpec.private(client, { shape: [3, 4] })]);
      assert.deepEqual(c.outputTypes.map((t) => [t.kind, t.placement[0]!.name, [...t.shape]]), [['private', 'client', [3, 4]]]);
      const p = (await c.run(new PrivateTensor(client, [3, 4], x))) as PrivateTensor;
      assert.deepEqual([...p.read()], [...want]);
    });
  });
}

describe('training-side ops: protocols without them, typing, JSON', () => {
  const abyOnly: [string, number[][], (...a: Symbolic[]) => Symbolic][] = [
    ['select', [[2, 2], [2, 2], [2, 2]], (b, x, y) => ops.select(ops.isNegative(b), x, y)],
    ['div', [[2, 2], [2, 2]], (x, y) => ops.div(x, y, { range: [1, 2] })],
    ['conv2dBackpropInput', [DY, FILTER], (dy, w) => ops.conv2dBackpropInput(dy, w, { inputShape: NHWC, strides: 2 })],
    ['conv2dBackpropFilter', [NHWC, DY], (x, dy) => ops.conv2dBackpropFilter(x, dy, { filterShape: FILTER, strides: 2 })],
    ['maxPool2x2WithMask', [NHWC], (x) => ops.maxPool2x2WithMask(x).y],
    ['maxPool2x2Backward', [NHWC, [1, 2, 2, 2]], (x, dy) => ops.maxPool2x2Backward(x, dy)],
  ];

  it('the ABY3-only ops under Pond and Plaintext: ProtocolMismatchError naming the op and the protocol, before any message', () => {
    for (const [name, shapes, op] of abyOnly) {
      const comp = computation((...a: Symbolic[]) => op(...a), { inputNames: shapes.map((_, i) => `a${i}`) });
      const rec = new RecordingTransport();
      const sig = shapes.map((s) => TensorSpec.encrypted({ shape: s, ...(name === 'maxPool2x2Backward' && s.length === 4 && s[1] === 4 ? { dtype: 'int' as const } : {}) }));
      const pond = new Pond(s0, s1, s2, { transport: rec, id: `pond-train-${name}` });
      assert.throws(() => comp.concrete(pond, sig), (e: Error) => e instanceof ProtocolMismatchError && e.message.includes(`op '${name === 'select' ? 'isNegative' : name}'`) && e.message.includes('Pond'), name);
      const plain = new Plaintext({ transport: rec });
      assert.throws(() => comp.concrete(plain as AnyProtocol, sig), (e: Error) => e instanceof ProtocolMismatchError && e.message.includes('Plaintext'), name);
      assert.equal(rec.take().length, 0, 'no message');
    }
    // select itself (its mask an encrypted int argument)
    const sel = computation((b, x, y) => ops.select(b, x, y));
    assert.throws(() => sel.concrete(new Pond(s0, s1, s2, { id: 'pond-select' }), [TensorSpec.encrypted({ shape: [2], dtype: 'int' }), TensorSpec.encrypted({ shape: [2] }), TensorSpec.encrypted({ shape: [2] })]),
      (e: Error) => e instanceof ProtocolMismatchError && e.message.includes("op 'select'"));
  });

  it('types are checked when made concrete, errors named after the node and argument', () => {
    const p = new ABY3(s0, s1, s2, { id: 'train-typing' });
    const enc = (shape: number[], dtype: 'fixed' | 'int' = 'fixed') => TensorSpec.encrypted({ shape, dtype });
    const sel = computation(function sel(b, x, y) { return ops.select(b, x, y); });
    assert.throws(() => sel.concrete(p, [enc([2]), enc([2]), enc([2])]), (e: Error) => e instanceof SignatureError && /^sel: node 0 \(select\): argument 'b' must have dtype 'int'/.test(e.message));
    assert.throws(() => sel.concrete(p, [enc([2], 'int'), enc([2]), enc([3])]), (e: Error) => e instanceof ShapeMismatchError && /argument/.test(e.message));
    assert.throws(() => sel.concrete(p, [enc([2], 'int'), enc([2]), TensorSpec.private(client, { shape: [2] })]), (e: Error) => e instanceof SignatureError && /argument 'y' must be encrypted/.test(e.message));
    const back = computation(function back(dy, w) { return ops.conv2dBackpropInput(dy, w, { inputShape: NHWC, strides: 2 }); });
    assert.throws(() => back.concrete(p, [enc([1, 3, 3, 3]), enc(FILTER)]), (e: Error) => e instanceof ShapeMismatchError && /^back: node 0 \(conv2dBackpropInput\): argument 'dy' has shape \[1, 3, 3, 3\], expected \[1, 2, 2, 3\]/.test(e.message));
    assert.throws(() => back.concrete(p, [enc(DY), enc([2, 2, 5, 3])]), (e: Error) => e instanceof ShapeMismatchError && /argument 'w'/.test(e.message));
    // a public filter is accepted
    assert.deepEqual([...back.concrete(p, [enc(DY), TensorSpec.public({ shape: FILTER })]).outputTypes[0]!.shape], NHWC);
    const filt = computation(function filt(x, dy) { return ops.conv2dBackpropFilter(x, dy, { filterShape: [2, 2, 3, 3], strides: 2 }); });
    assert.throws(() => filt.concrete(p, [enc(NHWC), enc(DY)]), (e: Error) => e instanceof ShapeMismatchError && /attribute 'filterShape' has 3 input channels/.test(e.message));
    const bw = computation(function bw(m, dy) { return ops.maxPool2x2Backward(m, dy); });
    assert.throws(() => bw.concrete(p, [enc(NHWC), enc([1, 2, 2, 2])]), (e: Error) => e instanceof SignatureError && /argument 'mask' must have dtype 'int'/.test(e.message));
    assert.throws(() => bw.concrete(p, [enc(NHWC, 'int'), enc([1, 2, 2, 3])]), (e: Error) => e instanceof ShapeMismatchError && /argument 'dy'/.test(e.message));
    assert.equal(bw.concrete(p, [enc(NHWC, 'int'), enc([1, 2, 2, 2], 'int')]).outputTypes[0]!.dtype, 'int');
    const rs = computation(function rs(x) { return ops.reshape(x, [5, -1]); });
    assert.throws(() => rs.concrete(p, [enc([3, 4])]), (e: Error) => e instanceof ShapeMismatchError && /^rs: node 0 \(reshape\): cannot reshape argument 'x' \[3, 4\]/.test(e.message));
    assert.throws(() => computation((x) => ops.transpose(x, [0, 0])).concrete(p, [enc([3, 4])]), (e: Error) => e instanceof RangeError && /attribute 'perm' must be a permutation of 0..1/.test(e.message));
    assert.throws(() => computation((x) => ops.divPublic(x, [1, 0])).concrete(p, [enc([2])]), (e: Error) => e instanceof RangeError && /argument 'c' element 1 is 0/.test(e.message));
    assert.throws(() => computation((x, c) => ops.divPublic(x, c)).concrete(p, [enc([2]), enc([2])]), (e: Error) => e instanceof SignatureError && /argument 'c' must be public/.test(e.message));
  });

  it('every added op round-trips through JSON with its attributes and the two-result node; bad attributes and result counts are refused by name', () => {
    const all = computation(function all(b, x, y, img, dy, filt, pooled) {
      const { y: py, mask } = ops.maxPool2x2WithMask(img);
      return [
        ops.select(b, x, y), ops.div(x, y, { range: [0.5, 2] }), ops.reshape(x, [-1]), ops.transpose(img, [0, 2, 1, 3]), ops.transpose(x), ops.divPublic(x, 3),
        ops.conv2dBackpropInput(dy, filt, { inputShape: NHWC, strides: [2, 2], padding: 'same' }), ops.conv2dBackpropFilter(img, dy, { filterShape: FILTER, strides: 2 }),
        py, mask, ops.maxPool2x2Backward(mask, pooled),
      ];
    });
    const json = JSON.parse(JSON.stringify(all)) as ComputationJSON;
    const nodeOf = (op: string) => json.nodes.find((nd) => nd.op === op)!;
    assert.deepEqual(nodeOf('div').attrs, { range: [0.5, 2] });
    assert.deepEqual(nodeOf('reshape').attrs, { shape: [-1] });
    assert.deepEqual(json.nodes.filter((nd) => nd.op === 'transpose').map((nd) => nd.attrs), [{ perm: [0, 2, 1, 3] }, {}]);
    assert.deepEqual(nodeOf('conv2dBackpropInput').attrs, { strides: [2, 2], padding: 'same', inputShape: NHWC });
    assert.deepEqual(nodeOf('conv2dBackpropFilter').attrs, { strides: 2, padding: 'valid', filterShape: FILTER });
    assert.equal(nodeOf('maxPool2x2WithMask').results, 2);
    assert.equal(nodeOf('select').results, undefined);
    // the results of the two-result node are ids 7 and 8 (7 inputs): y and mask
    assert.deepEqual(json.outputs.slice(-3, -1), [7, 8]);
    assert.deepEqual(nodeOf('maxPool2x2Backward').args, [8, 6]);
    const back = computationFromJSON(JSON.stringify(json));
    assert.deepEqual(JSON.parse(JSON.stringify(back)), json);
    const p = new ABY3(s0, s1, s2, { id: 'json-train' });
    const enc = (shape: number[], dtype: 'fixed' | 'int' = 'fixed') => TensorSpec.encrypted({ shape, dtype });
    const sig = [enc([4, 4], 'int'), enc([4, 4]), enc([4, 4]), enc(NHWC), enc(DY), enc(FILTER), enc([1, 2, 2, 2])];
    assert.deepEqual(JSON.stringify((back as typeof all).concrete(p, sig).outputTypes), JSON.stringify(all.concrete(p, sig).outputTypes));
    const tamper = (op: string, f: (nd: ComputationJSON['nodes'][number]) => object): string => JSON.stringify({ ...json, nodes: json.nodes.map((nd) => (nd.op === op ? f(nd) : nd)) });
    assert.throws(() => computationFromJSON(tamper('maxPool2x2WithMask', ({ results: _r, ...nd }) => nd)), (e: Error) => e instanceof SerializationError && /node 0 \(maxPool2x2WithMask\): 'results' must be 2/.test(e.message));
    assert.throws(() => computationFromJSON(tamper('select', (nd) => ({ ...nd, results: 2 }))), (e: Error) => e instanceof SerializationError && /\(select\): 'results' must be absent/.test(e.message));
    assert.throws(() => computationFromJSON(tamper('div', (nd) => ({ ...nd, attrs: { range: [2, 1] } }))), (e: Error) => e instanceof RangeError && /attribute 'range'/.test(e.message));
    assert.throws(() => computationFromJSON(tamper('div', (nd) => ({ ...nd, attrs: {} }))), /attribute 'range'/);
    assert.throws(() => computationFromJSON(tamper('reshape', (nd) => ({ ...nd, attrs: { shape: [-1, -1] } }))), /attribute 'shape'/);
    assert.throws(() => computationFromJSON(tamper('transpose', (nd) => ({ ...nd, attrs: { perm: 'reverse' } }))), /attribute 'perm'/);
    assert.throws(() => computationFromJSON(tamper('conv2dBackpropInput', (nd) => ({ ...nd, attrs: { strides: 2 } }))), /attribute 'inputShape'/);
    assert.throws(() => computationFromJSON(tamper('conv2dBackpropFilter', (nd) => ({ ...nd, attrs: { filterShape: FILTER, dilation: 2 } }))), /unknown attribute 'dilation'/);
    assert.throws(() => computationFromJSON(tamper('maxPool2x2Backward', (nd) => ({ ...nd, attrs: { size: 2 } }))), /unknown attribute 'size'/);
    assert.throws(() => computationFromJSON(tamper('divPublic', (nd) => ({ ...nd, attrs: { c: 0 } }))), /unknown attribute 'c'/);
    // a reference past the last result (the two-result node counts two ids)
    const last = json.nodes.length + 7 + 1;
    assert.throws(() => computationFromJSON({ ...json, outputs: [last] }), (e: Error) => e instanceof SerializationError && /'outputs'/.test(e.message));
  });
});
