/**
 * The smooth ops (approx.ts) under ABY3 and Pond, and ABY3's inverse square
 * root (aby3-invsqrt.ts), what is not in the conformance suite
 * (test/conformance/nonlinear.test.ts, which checks their values against
 * Math.exp etc. on each stated range with the op table's bounds and their
 * rounds and bytes per party, both protocols and precisions): the iteration
 * counts, the reciprocal's linear guess, invSqrt's minimax steps
 * (equioscillation) and plan; SPMD runs; argument checks before any message.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ABY3, Player, PrecisionMismatchError } from '../../src/encrypted/index.js';
import { invSqrt, invSqrtPlan, invSqrtStep } from '../../src/encrypted/protocols/aby3-invsqrt.js';
import { reciprocalGuess, reciprocalIterations, softmaxRange } from '../../src/encrypted/protocols/approx.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/index.js';
import { BOUNDS, softmaxRef } from '../conformance/nl-ops-smooth.js';
import { RecordingTransport } from './recording.js';

const [s0, s1, s2, alice] = ['server0', 'server1', 'server2', 'alice'].map((n) => new Player(n)) as [Player, Player, Player, Player];

/** The reciprocal ranges (softmax's for rows of 10 and 128, sigmoid's [1, 2], a user range). */
const RECIP_RANGES: [number, number][] = [[1, 2], softmaxRange(10), softmaxRange(128), [0.25, 4]];

const maxAbs = (got: ArrayLike<number>, want: readonly number[]): number => want.reduce((m, w, i) => Math.max(m, Math.abs(got[i]! - w)), 0);
const sigmoidRef = (v: number) => 1 / (1 + Math.exp(-v));


/** Values exactly representable in the encoding. */
const enc = (f: number) => (v: number) => Math.round(v * 2 ** f) / 2 ** f;

describe('smooth ops: iteration counts', () => {
  it('iteration counts: reciprocal on [1, 2] takes 2 (low) / 3 (high) Newton steps; the guess error on the range is as derived', () => {
    assert.equal(reciprocalIterations(1, 2, 16), 2);
    assert.equal(reciprocalIterations(1, 2, 32), 3);
    assert.equal(reciprocalGuess(1, 2).err, 1 / 17);
    for (const [lo, hi] of RECIP_RANGES) {
      const { alpha, beta, err } = reciprocalGuess(lo, hi);
      let worst = 0;
      for (let i = 0; i <= 1000; i++) {
        const x = lo + ((hi - lo) * i) / 1000;
        worst = Math.max(worst, Math.abs(1 - x * (alpha - beta * x)));
      }
      assert.ok(Math.abs(worst - err) < 1e-9, `[${lo}, ${hi}]: ${worst} vs ${err}`);
    }
  });
});

describe('ABY3 smooth ops, SPMD (one simulated process per group of players)', () => {
  it('sigmoid, softmax and reciprocal give the same values whatever the grouping', async () => {
    const n = 20;
    const xs = Float64Array.from({ length: n }, (_, i) => enc(16)((i - 10) * 1.3));
    const ys = Float64Array.from({ length: n }, (_, i) => enc(16)(1 + i / 20));
    const groupings = [[['server0'], ['server1'], ['server2'], ['alice']], [['server0', 'alice'], ['server1', 'server2']], [['server0', 'server1', 'server2', 'alice']]];
    const out: number[][] = [];
    for (const groups of groupings) {
      const hub = new MemoryHub();
      const results = await Promise.all(groups.map(async (local) => {
        const p = new ABY3(s0, s1, s2, { transport: new MemoryTransport({ hub, local }), players: [alice], id: 'spmd-approx', timeoutMs: 20000 });
        const here = local.includes('alice');
        const x = await p.encrypt(alice, here ? xs : undefined, { shape: [2, 10] });
        const y = await p.encrypt(alice, here ? ys : undefined, { shape: [2, 10] });
        const outs = [await p.sigmoid(x), await p.softmax(x), await p.reciprocal(y, { range: [1, 2] })];
        const vals = await Promise.all(outs.map((o) => p.reveal(o, alice)));
        return here ? vals.flatMap((v) => Array.from(v.read())) : undefined;
      }));
      groups.forEach((g, i) => assert.equal(results[i] === undefined, !g.includes('alice')));
      out.push(results.find((r) => r !== undefined)!);
    }
    // the values depend on the PRF streams (truncation), which differ per run only through the keys: compare to the reference
    const want = [Array.from(xs, sigmoidRef), softmaxRef(Array.from(xs), 2, 10).sm, Array.from(ys, (v) => 1 / v)];
    const bound = [BOUNDS.low.sigmoid, BOUNDS.low.softmax, BOUNDS.low.recipUlps * 2 ** -16];
    for (const o of out) want.forEach((w, j) => assert.ok(maxAbs(o.slice(j * n, (j + 1) * n), w) <= bound[j]!, `${['sigmoid', 'softmax', 'reciprocal'][j]}: ${maxAbs(o.slice(j * n, (j + 1) * n), w)}`));
  });
});

describe('ABY3 smooth ops: argument checks name the argument, before anything is sent', () => {
  it('types, encodings, precisions, ranges, axes, options', async () => {
    const t = new MemoryTransport();
    const p = new ABY3(s0, s1, s2, { transport: t, players: [alice] });
    const q = new ABY3(s0, s1, s2, { transport: t, precision: 'high', players: [alice] });
    const x = await p.encrypt(alice, [1, 2, 3]);
    const xh = await q.encrypt(alice, [1, 2, 3]);
    const xi = await p.encryptInts(alice, [1, 2, 3]);
    const b = await p.boolean.signBit(x);
    t.resetStats();
    const err = (cls: new (...a: never[]) => Error, re: RegExp) => (e: unknown) => e instanceof cls && re.test((e as Error).message);
    assert.throws(() => p.exp(3 as never), err(TypeError, /ABY3\.exp: argument 'x'/));
    assert.throws(() => p.exp(xi), err(TypeError, /ABY3\.exp: argument 'x' must be a fixed-point tensor/));
    assert.throws(() => p.exp(x, { clip: 1 as never }), err(TypeError, /option 'clip'/));
    assert.throws(() => p.sigmoid(xh), err(PrecisionMismatchError, /ABY3\.sigmoid: argument 'x'/));
    assert.throws(() => p.sigmoid(b as never), err(TypeError, /boolean-shared/));
    assert.throws(() => p.reciprocal(x, {} as never), err(TypeError, /option 'range'/));
    assert.throws(() => p.reciprocal(x, { range: [0, 2] }), err(RangeError, /0 < lo < hi/));
    assert.throws(() => p.reciprocal(x, { range: [2, 1] }), err(RangeError, /0 < lo < hi/));
    assert.throws(() => p.reciprocal(x, { range: [1e-9, 1e9] }), err(RangeError, /too wide/));
    assert.throws(() => p.div(x, xh, { range: [1, 2] }), err(PrecisionMismatchError, /ABY3\.div: argument 'y'/));
    assert.throws(() => p.softmax(x, 1), err(RangeError, /argument 'axis'/));
    assert.throws(() => p.logSoftmax(x, 0.5), err(TypeError, /argument 'axis'/));
    assert.deepEqual(t.stats(), {}, 'nothing was sent');
  });
});

describe('invSqrt plan: the minimax linear step and the iteration counts', () => {
  it('each step equioscillates: max |1 − e·p(e)²| on [a, b] is err, reached at a, K/3 and b', () => {
    for (const [a, b] of [[2 ** -12, 2 ** 10], [1e-6, 1], [0.5, 1.5], [0.9, 1.1]] as [number, number][]) {
      const { beta, K, err } = invSqrtStep(a, b);
      const g = (e: number) => 1 - e * (beta * (K - e)) ** 2;
      let worst = 0;
      for (let i = 0; i <= 20000; i++) worst = Math.max(worst, Math.abs(g(a + ((b - a) * i) / 20000)));
      assert.ok(Math.abs(worst - err) <= 1e-9 + 1e-6 * err, `[${a}, ${b}]: grid max ${worst}, err ${err}`);
      for (const e of [a, K / 3, b]) assert.ok(Math.abs(Math.abs(g(e)) - err) <= 1e-9, `[${a}, ${b}]: |1 − e p²| at ${e} is ${Math.abs(g(e))}, err ${err}`);
      assert.ok(K > b, 'p stays positive on the interval');
    }
  });

  it('iterations: as docs/encrypted-ml.md\'s table (the error ends at or below 2^-f)', () => {
    const want: [number, number, number, number][] = [[1, 2, 3, 4], [0.25, 4, 5, 5], [2 ** -12, 2 ** 10, 11, 12], [1e-3, 1e3, 10, 11], [1.64e-4, 1024, 11, 12]];
    for (const [lo, hi, low, high] of want) {
      const pl = invSqrtPlan(lo, hi, 16);
      const ph = invSqrtPlan(lo, hi, 32);
      assert.deepEqual([pl.length, ph.length], [low, high], `[${lo}, ${hi}]`);
      assert.ok(pl[pl.length - 1]!.err <= 2 ** -16 && pl[pl.length - 2]!.err > 2 ** -16);
    }
  });
});

for (const precision of ['low', 'high'] as const) {
  describe(`ABY3 invSqrt (precision ${precision})`, () => {
    const t = new RecordingTransport();
    const p = new ABY3(s0, s1, s2, { precision, transport: t, players: [alice] });
    const f = p.fixed.frac;

    it('argument checks name the option, before any message', async () => {
      const x = await p.encrypt(alice, [1, 2, 3]);
      const xi = await p.encryptInts(alice, [1, 2, 3]);
      t.take();
      await assert.rejects(invSqrt(p, x, { range: [0, 2] }), /ABY3\.invSqrt: option 'range' must have 0 < lo < hi, got \[0, 2\]/);
      await assert.rejects(invSqrt(p, x, { range: [2, 1] }), /option 'range' must have 0 < lo < hi/);
      await assert.rejects(invSqrt(p, x, { range: [1e-6, 1e9] }), /option 'range' spans a ratio hi\/lo = .* above 2\^40/);
      await assert.rejects(invSqrt(p, x, { range: [2 ** -(f + 2), 1] }), new RegExp(`option 'range' has lo = .* below the encoding's resolution 2\\^-${f}`));
      await assert.rejects(invSqrt(p, x, { range: 'wide' as unknown as [number, number] }), /option 'range' must be \[lo, hi\]/);
      await assert.rejects(invSqrt(p, x, { range: [1, 4], scale: 0 }), /option 'scale' must be a finite non-zero number/);
      await assert.rejects(invSqrt(p, xi, { range: [1, 4] }), /argument 'x' must be fixed point, got encoding 'int'/);
      await assert.rejects(invSqrt(p, [1, 2] as unknown as typeof x, { range: [1, 4] }), /argument 'x' must be a ReplicatedTensor of this protocol/);
      assert.equal(t.take().length, 0, 'nothing sent');
    });
  });
}
