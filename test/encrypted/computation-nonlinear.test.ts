/**
 * ABY3's nonlinear ops in computations (src/encrypted/computation/rules-nonlinear.ts):
 * a traced dense + relu + softmax under ABY3 against the plaintext reference
 * within the op table's bounds (docs/encrypted-ml.md); each op once against
 * plaintext with its result type; the refusal under Plaintext before
 * any message; JSON round trips (attributes included, a second simulated
 * process set) and bad attributes refused by name.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ABY3, computation, computationFromJSON, ConcreteComputation, ops, Player, Plaintext, Pond, PrivateTensor, ProtocolMismatchError, ShapeMismatchError, TensorSpec,
  type AnyProtocol, type ComputationJSON, type Result, type Symbolic,
} from '../../src/encrypted/index.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/index.js';
import { randn, rng } from './computation-data.js';
import { RecordingTransport } from './recording.js';

const [s0, s1, s2, client, owner, carol] = ['server0', 'server1', 'server2', 'client', 'owner', 'carol'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player, Player];
const everyone = [s0, s1, s2, client, owner, carol].map((p) => p.name);
const [m, k, n] = [4, 5, 3];

const close = (got: ArrayLike<number>, want: ArrayLike<number>, bound: number | ((i: number) => number), what: string): void => {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const b = typeof bound === 'number' ? bound : bound(i);
    assert.ok(Math.abs(got[i]! - want[i]!) <= b, `${what}: element ${i}: ${got[i]} vs ${want[i]} (bound ${b})`);
  }
};

/** h = x @ w + b; softmax(relu(h)) revealed to carol. */
const dense = computation(function dense(x, w, b) {
  const h = ops.add(ops.matmul(ops.encrypt(x, { sensitivity: null }), ops.encrypt(w, { sensitivity: null })), ops.encrypt(b, { sensitivity: null }));
  return ops.reveal(ops.softmax(ops.relu(h)), carol);
}, { inputNames: ['x', 'w', 'b'] });
const signature = [TensorSpec.private(client, { shape: [m, k] }), TensorSpec.private(owner, { shape: [k, n] }), TensorSpec.private(owner, { shape: [n] })];

function denseRef(x: Float64Array, w: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const h = Array.from({ length: n }, (_, j) => {
      let acc = b[j]!;
      for (let l = 0; l < k; l++) acc += x[i * k + l]! * w[l * n + j]!;
      return Math.max(acc, 0);
    });
    const mx = Math.max(...h);
    const e = h.map((v) => Math.exp(v - mx));
    const s = e.reduce((a, c) => a + c, 0);
    e.forEach((v, j) => (out[i * n + j] = v / s));
  }
  return out;
}

function argsAt(me: string | undefined, x: Float64Array, w: Float64Array, b: Float64Array): PrivateTensor[] {
  const at = (p: Player, shape: number[], v: Float64Array): PrivateTensor => new PrivateTensor(p, shape, me === undefined || me === p.name ? v : undefined);
  return [at(client, [m, k], x), at(owner, [k, n], w), at(owner, [n], b)];
}

async function spmd(program: (me: string, hub: MemoryHub) => Promise<Result>): Promise<PrivateTensor> {
  const hub = new MemoryHub();
  const results = await Promise.all(everyone.map((me) => program(me, hub)));
  assert.equal(hub.pending(), 0, 'no message left unclaimed');
  everyone.forEach((who, i) => { if (who !== 'carol') assert.equal((results[i] as PrivateTensor).isLocal, false, `${who} does not get the result`); });
  return results[everyone.indexOf('carol')] as PrivateTensor;
}

/** One op on encrypted copies of `xs` (carol sees the result), its plaintext reference and bound. */
interface Case { name: string; shapes: number[][]; gen: (r: () => number, i: number, size: number) => Float64Array; op: (...a: Symbolic[]) => Symbolic; ref: (...a: Float64Array[]) => Float64Array; dtype: 'fixed' | 'int'; outShape: number[]; bound: (u: number, low: boolean, want: Float64Array) => number | ((i: number) => number) }

const uni = (lo: number, hi: number) => (r: () => number, _i: number, size: number): Float64Array => Float64Array.from({ length: size }, () => lo + (hi - lo) * r());
const map = (f: (v: number) => number) => (x: Float64Array): Float64Array => x.map(f);
function rows(x: Float64Array, c: number, f: (row: number[]) => number[]): Float64Array {
  const out: number[] = [];
  for (let i = 0; i < x.length; i += c) out.push(...f(Array.from(x.subarray(i, i + c))));
  return Float64Array.from(out);
}
const softmaxRow = (r: number[]): number[] => { const mx = Math.max(...r); const e = r.map((v) => Math.exp(v - mx)); const s = e.reduce((a, c) => a + c, 0); return e.map((v) => v / s); };
/** NHWC conv2d, valid padding, stride s; x [B,H,W,C], w [KH,KW,C,F]. */
function convRef(x: Float64Array, w: Float64Array, [B, H, W, C]: number[], [KH, KW, , F]: number[], s: number): Float64Array {
  const OH = Math.floor((H! - KH!) / s) + 1, OW = Math.floor((W! - KW!) / s) + 1;
  const out = new Float64Array(B! * OH * OW * F!);
  for (let b = 0; b < B!; b++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let f = 0; f < F!; f++) {
    let acc = 0;
    for (let ky = 0; ky < KH!; ky++) for (let kx = 0; kx < KW!; kx++) for (let c = 0; c < C!; c++) acc += x[((b * H! + oy * s + ky) * W! + ox * s + kx) * C! + c]! * w[((ky * KW! + kx) * C! + c) * F! + f]!;
    out[((b * OH + oy) * OW + ox) * F! + f] = acc;
  }
  return out;
}
function poolRef(x: Float64Array, [B, H, W, C]: number[], agg: (v: number[]) => number): Float64Array {
  const out: number[] = [];
  for (let b = 0; b < B!; b++) for (let oy = 0; oy < H! / 2; oy++) for (let ox = 0; ox < W! / 2; ox++) for (let c = 0; c < C!; c++) {
    const at = (y: number, xx: number): number => x[((b * H! + y) * W! + xx) * C! + c]!;
    out.push(agg([at(2 * oy, 2 * ox), at(2 * oy, 2 * ox + 1), at(2 * oy + 1, 2 * ox), at(2 * oy + 1, 2 * ox + 1)]));
  }
  return Float64Array.from(out);
}

const X = [3, 4];
const NHWC = [1, 4, 4, 2];
const cases: Case[] = [
  { name: 'relu', shapes: [X], gen: uni(-4, 4), op: (x) => ops.relu(x), ref: map((v) => Math.max(v, 0)), dtype: 'fixed', outShape: X, bound: (u) => u },
  { name: 'reluDerivative', shapes: [X], gen: uni(-4, 4), op: (x) => ops.reluDerivative(x), ref: map((v) => (v >= 0 ? 1 : 0)), dtype: 'int', outShape: X, bound: () => 0 },
  { name: 'isNegative', shapes: [X], gen: uni(-4, 4), op: (x) => ops.isNegative(x), ref: map((v) => (v < 0 ? 1 : 0)), dtype: 'int', outShape: X, bound: () => 0 },
  { name: 'greater', shapes: [X, X], gen: uni(-4, 4), op: (x, y) => ops.greater(x, y), ref: (x, y) => x.map((v, i) => (v > y![i]! ? 1 : 0)), dtype: 'int', outShape: X, bound: () => 0 },
  { name: 'less', shapes: [X, X], gen: uni(-4, 4), op: (x, y) => ops.less(x, y), ref: (x, y) => x.map((v, i) => (v < y![i]! ? 1 : 0)), dtype: 'int', outShape: X, bound: () => 0 },
  // table: x ≤ 0 abs ≤ 2e-3 / 4e-6; x in [0, 4] rel ≤ 1.6e-2 / 2e-4
  { name: 'exp', shapes: [X], gen: uni(-4, 2), op: (x) => ops.exp(x), ref: map(Math.exp), dtype: 'fixed', outShape: X, bound: (_u, low, want) => (i) => (low ? 2e-3 + 1.6e-2 * want[i]! : 4e-6 + 2e-4 * want[i]!) },
  { name: 'sigmoid', shapes: [X], gen: uni(-8, 8), op: (x) => ops.sigmoid(x), ref: map((v) => 1 / (1 + Math.exp(-v))), dtype: 'fixed', outShape: X, bound: (_u, low) => (low ? 6e-4 : 4e-6) },
  { name: 'reciprocal', shapes: [X], gen: uni(0.25, 4), op: (x) => ops.reciprocal(x, { range: [0.25, 4] }), ref: map((v) => 1 / v), dtype: 'fixed', outShape: X, bound: (u) => 8 * u + u },
  { name: 'softmax', shapes: [X], gen: uni(-3, 3), op: (x) => ops.softmax(x, 1), ref: (x) => rows(x, 4, softmaxRow), dtype: 'fixed', outShape: X, bound: (_u, low) => (low ? 3e-3 : 3e-5) },
  { name: 'logSoftmax', shapes: [X], gen: uni(-3, 3), op: (x) => ops.logSoftmax(x), ref: (x) => rows(x, 4, (r) => softmaxRow(r).map(Math.log)), dtype: 'fixed', outShape: X, bound: (_u, low) => (low ? 1.0e-2 : 1.3e-4) },
  { name: 'max', shapes: [X], gen: uni(-4, 4), op: (x) => ops.max(x, 1), ref: (x) => rows(x, 4, (r) => [Math.max(...r)]), dtype: 'fixed', outShape: [3], bound: (u) => u },
  { name: 'argmax', shapes: [X], gen: uni(-4, 4), op: (x) => ops.argmax(x, -1), ref: (x) => rows(x, 4, (r) => [r.indexOf(Math.max(...r))]), dtype: 'int', outShape: [3], bound: () => 0 },
  // ≤ 1 ulp with inputs exact in the encoding; plus the inputs' encoding (u/2 each, |x|, |w| ≤ 1) over K = 2·2·2 products
  { name: 'conv2d', shapes: [NHWC, [2, 2, 2, 3]], gen: uni(-1, 1), op: (x, w) => ops.conv2d(x, w, { strides: 2, padding: 'valid' }), ref: (x, w) => convRef(x, w!, NHWC, [2, 2, 2, 3], 2), dtype: 'fixed', outShape: [1, 2, 2, 3], bound: (u) => 8 * u + 2 * u },
  { name: 'avgPool', shapes: [NHWC], gen: uni(-4, 4), op: (x) => ops.avgPool(x, { size: 2 }), ref: (x) => poolRef(x, NHWC, (v) => v.reduce((a, c) => a + c, 0) / 4), dtype: 'fixed', outShape: [1, 2, 2, 2], bound: (u) => 3 * u },
  { name: 'maxPool2x2', shapes: [NHWC], gen: uni(-4, 4), op: (x) => ops.maxPool2x2(x), ref: (x) => poolRef(x, NHWC, (v) => Math.max(...v)), dtype: 'fixed', outShape: [1, 2, 2, 2], bound: (u) => u },
];

const size = (s: number[]): number => s.reduce((a, c) => a * c, 1);

for (const precision of ['low', 'high'] as const) {
  const u = precision === 'low' ? 2 ** -16 : 2 ** -32;
  const aby3 = (id: string, extra: object = {}): ABY3 => new ABY3(s0, s1, s2, { precision, id: `${id}-${precision}`, players: [carol], ...extra });

  describe(`nonlinear ops in computations (precision ${precision})`, () => {
    it('dense + relu + softmax, traced and concrete under ABY3: the plaintext result within the bounds', async () => {
      const r = rng(precision === 'low' ? 31 : 32);
      // softmax abs bound, plus h's error (matmul, encodings, add: ≤ (k + 3)·u) carried through relu and softmax (Lipschitz 1 in each row's max-norm, twice)
      const bound = (precision === 'low' ? 3e-3 : 3e-5) + 2 * (k + 3) * u;
      for (let trial = 0; trial < 3; trial++) {
        const [x, w, b] = [randn(r, m * k), randn(r, k * n), randn(r, n)];
        const c = dense.concrete(aby3(`dense${trial}`), signature);
        assert.deepEqual(c.outputTypes.map((t) => [t.kind, t.dtype, [...t.shape]]), [['private', 'fixed', [m, n]]]);
        const y = (await c.run(...argsAt(undefined, x, w, b))) as PrivateTensor;
        close(y.read(), denseRef(x, w, b), bound, `trial ${trial}`);
      }
    });

    for (const cs of cases) {
      it(`${cs.name}: against plaintext, typed ${cs.dtype} ${JSON.stringify(cs.outShape)} encrypted with the operands' joined sensitivity`, async () => {
        const r = rng(cs.name.length * 7 + (precision === 'low' ? 1 : 2));
        const xs = cs.shapes.map((s, i) => cs.gen(r, i, size(s)));
        const players = [client, owner];
        const comp = computation((...a: Symbolic[]) => ops.reveal(cs.op(...a.map((v, i) => ops.encrypt(v, { sensitivity: [players[i]!, carol] }))), carol), { name: cs.name, inputNames: cs.shapes.map((_, i) => `a${i}`) });
        const c = comp.concrete(aby3(`op-${cs.name}`), cs.shapes.map((s, i) => TensorSpec.private(players[i]!, { shape: s })));
        // the op's node: encrypted, its dtype and shape, sensitivity {carol} (the operands' join)
        const g = c.computation.graph;
        const node = c.types[g.inputNames.length + g.nodes.findIndex((nd) => nd.op === cs.name)]!;
        assert.equal(node.kind, 'encrypted');
        assert.equal(node.dtype, cs.dtype);
        assert.deepEqual([...node.shape], cs.outShape);
        // unary: {client, carol}, the operand's; binary: {carol}, the join of {client, carol} and {owner, carol}
        assert.deepEqual(node.sensitivity?.map((p) => p.name), cs.shapes.length === 1 ? ['client', 'carol'] : ['carol']);
        const y = (await c.run(...xs.map((v, i) => new PrivateTensor(players[i]!, cs.shapes[i]!, v)))) as PrivateTensor;
        const want = cs.ref(...xs);
        close(y.read(), want, cs.bound(u, precision === 'low', want), cs.name);
      });
    }
  });
}

describe('nonlinear ops: protocols without them, JSON', () => {
  it('under Plaintext: ProtocolMismatchError naming the op and the protocol, before any message (Pond has them)', async () => {
    for (const [name, op] of [['relu', (x: ops.Operand) => ops.relu(x)], ['softmax', (x: ops.Operand) => ops.softmax(x)], ['conv2d', (x: ops.Operand) => ops.conv2d(x, [[[[1]]]])]] as const) {
      const comp = computation((x) => op(x));
      const rec = new RecordingTransport();
      const pond = new Pond(s0, s1, s2, { transport: rec, id: `pond-${name}` });
      const x = await pond.encrypt(client, new Float64Array(16), { shape: name === 'conv2d' ? [1, 4, 4, 1] : [4, 4] });
      rec.take();
      // (Pond has every op of the IR since pond-nonlinear: test/encrypted/pond-nonlinear.test.ts and the conformance suite run them; here it only types)
      assert.doesNotThrow(() => comp.concrete(pond, [TensorSpec.encrypted({ shape: [...x.shape] })]));
      assert.equal(rec.take().length, 0, 'no message');
      const plain = new Plaintext({ transport: rec });
      assert.throws(() => comp.concrete(plain as AnyProtocol, [TensorSpec.encrypted({ shape: [...x.shape] })]), (e: Error) => e instanceof ProtocolMismatchError && e.message.includes(`op '${name}'`) && e.message.includes('Plaintext'));
      assert.equal(rec.take().length, 0, 'no message');
    }
  });

  it('every added op round-trips through JSON with its attributes; bad attributes are refused by name', () => {
    const all = computation(function all(x, w, img) {
      return [
        ops.relu(x), ops.reluDerivative(x), ops.isNegative(x), ops.greater(x, w), ops.less(x, w), ops.exp(x, { clip: false }), ops.sigmoid(x),
        ops.reciprocal(x, { range: [0.5, 2] }), ops.softmax(x, 0), ops.logSoftmax(x, -1), ops.max(x, 1), ops.argmax(x, 0),
        ops.conv2d(img, [[[[1, 2]]]], { strides: [1, 2], padding: 'same' }), ops.avgPool(img, { size: 2, strides: [1, 1] }), ops.maxPool2x2(img),
      ];
    });
    const json = JSON.parse(JSON.stringify(all)) as ComputationJSON;
    const attrsOf = (op: string): unknown => json.nodes.find((nd) => nd.op === op)!.attrs;
    assert.deepEqual(attrsOf('exp'), { clip: false });
    assert.deepEqual(attrsOf('reciprocal'), { range: [0.5, 2] });
    assert.deepEqual(attrsOf('softmax'), { axis: 0 });
    assert.deepEqual(attrsOf('logSoftmax'), { axis: -1 });
    assert.deepEqual(attrsOf('max'), { axis: 1 });
    assert.deepEqual(attrsOf('conv2d'), { strides: [1, 2], padding: 'same' });
    assert.deepEqual(attrsOf('avgPool'), { size: 2, strides: [1, 1] });
    const back = computationFromJSON(JSON.stringify(json));
    assert.deepEqual(JSON.parse(JSON.stringify(back)), json);
    // concrete types survive too: the read-back computation types the same under ABY3
    const sig = [TensorSpec.encrypted({ shape: [4, 4] }), TensorSpec.encrypted({ shape: [4, 4] }), TensorSpec.encrypted({ shape: [1, 4, 4, 1] })];
    const p = new ABY3(s0, s1, s2, { id: 'json-types' });
    assert.deepEqual(JSON.stringify((back as typeof all).concrete(p, sig).outputTypes), JSON.stringify(all.concrete(p, sig).outputTypes));
    const tamper = (op: string, attrs: Record<string, unknown>): string => JSON.stringify({ ...json, nodes: json.nodes.map((nd) => (nd.op === op ? { ...nd, attrs } : nd)) });
    assert.throws(() => computationFromJSON(tamper('relu', { bogus: 1 })), /unknown attribute 'bogus'/);
    assert.throws(() => computationFromJSON(tamper('softmax', { axis: 0, temperature: 2 })), /unknown attribute 'temperature'/);
    assert.throws(() => computationFromJSON(tamper('reciprocal', { range: [2, 1] })), (e: Error) => e instanceof RangeError && /attribute 'range'/.test(e.message));
    assert.throws(() => computationFromJSON(tamper('reciprocal', {})), (e: Error) => e instanceof TypeError && /attribute 'range'/.test(e.message));
    assert.throws(() => computationFromJSON(tamper('conv2d', { padding: 'full' })), (e: Error) => e instanceof RangeError && /attribute 'padding'/.test(e.message));
    assert.throws(() => computationFromJSON(tamper('conv2d', { strides: 0 })), /attribute 'strides'/);
    assert.throws(() => computationFromJSON(tamper('max', { axis: 1.5 })), /attribute 'axis'/);
    assert.throws(() => computationFromJSON(tamper('exp', { clip: 'yes' })), /attribute 'clip'/);
    // and at trace time: an axis outside the shape when made concrete, a bad option when traced
    assert.throws(() => computation((x) => ops.avgPool(x, { size: 0 })), /attribute 'size'/);
    assert.throws(() => computation((x) => ops.max(x, 2)).concrete(p, [TensorSpec.encrypted({ shape: [4, 4] })]), (e: Error) => e instanceof RangeError && /attribute 'axis'/.test(e.message));
    // geometry against the shapes, named after the node: a window larger than the input, a non-NHWC input, a filter of other channels
    const img = [TensorSpec.encrypted({ shape: [1, 4, 4, 2] }), TensorSpec.encrypted({ shape: [5, 5, 2, 1] })];
    assert.throws(() => computation(function big(x, w) { return ops.conv2d(x, w); }).concrete(p, img), (e: Error) => e instanceof ShapeMismatchError && /^big: node 0 \(conv2d\): window 5x5 is larger/.test(e.message));
    assert.throws(() => computation((x) => ops.maxPool2x2(x)).concrete(p, [TensorSpec.encrypted({ shape: [4, 4] })]), (e: Error) => e instanceof ShapeMismatchError && /argument 'x' must have shape \[batch, height, width, channels\]/.test(e.message));
    assert.throws(() => computation((x, w) => ops.conv2d(x, w)).concrete(p, [img[0]!, TensorSpec.encrypted({ shape: [2, 2, 3, 1] })]), (e: Error) => e instanceof ShapeMismatchError && /argument 'w'/.test(e.message));
  });

  for (const precision of ['low', 'high'] as const) {
    it(`dense + relu + softmax: the concrete JSON runs in a second simulated process set with the same result (precision ${precision})`, async () => {
      const u = precision === 'low' ? 2 ** -16 : 2 ** -32;
      const r = rng(precision === 'low' ? 41 : 42);
      const [x, w, b] = [randn(r, m * k), randn(r, k * n), randn(r, n)];
      const make = (me: string, hub: MemoryHub): ABY3 => new ABY3(s0, s1, s2, { precision, id: `ser-dense-${precision}`, players: [carol], transport: new MemoryTransport({ hub, local: [me] }) });
      let json = '';
      const first = await spmd(async (me, hub) => {
        const c = dense.concrete(make(me, hub), signature);
        json = JSON.stringify(c);
        return c.run(...argsAt(me, x, w, b));
      });
      assert.ok(json.includes('"op":"softmax"') && json.includes('"op":"relu"'));
      const second = await spmd(async (me, hub) => {
        const c = computationFromJSON(json, { protocol: make(me, hub) });
        assert.ok(c instanceof ConcreteComputation);
        return c.run(...argsAt(me, x, w, b));
      });
      const bound = (precision === 'low' ? 3e-3 : 3e-5) + 2 * (k + 3) * u;
      close(first.read(), denseRef(x, w, b), bound, 'first set');
      close(second.read(), denseRef(x, w, b), bound, 'second set');
    });
  }
});
