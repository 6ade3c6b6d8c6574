/**
 * Pond's comparisons (pond-binary.ts, pond-nonlinear.ts, pond-boolean.ts)
 * and its conv, pool and smooth ops (the shared conv.ts, pool.ts, approx.ts
 * over Pond's matmul, truncation and comparisons), what is Pond's own: the
 * boolean words API; the dealt items against the sign circuit's formulas;
 * what each party receives (the dealer nothing; each server only openings
 * masked by dealt randomness: uniform, the same for two inputs, and exactly
 * value XOR the mask drawn from the dealer's key with the receiver lacks);
 * SPMD runs; the IR's ops under Pond; argument checks naming Pond. The ops'
 * values and their rounds and bytes per party (both protocols, both
 * precisions) are in the conformance suite, test/conformance/nonlinear.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Prg } from '../../src/crypto/prg.js';
import { BinaryAdditiveTensor, computation, ops, Player, Pond, PrecisionMismatchError, PrivateTensor, SensitivityError, ShapeMismatchError, TensorSpec, TrustedDealer, type Symbolic } from '../../src/encrypted/index.js';
import { FIXED_HIGH, FIXED_LOW } from '../../src/encrypted/fixed.js';
import { planeWords, toPlanes, u32 } from '../../src/encrypted/protocols/aby3-binary.js';
import { geometry } from '../../src/encrypted/protocols/im2col.js';
import { draw } from '../../src/encrypted/protocols/pond-binary.js';
import { msbPlan } from '../../src/encrypted/protocols/pond-nonlinear.js';
import * as ring from '../../src/ring/index.js';
import { RingTensor } from '../../src/ring/index.js';
import { MemoryTransport } from '../../src/transport/index.js';
import { pondSign } from '../conformance/nl-costs.js';
import { backFilterRef, backInputRef, convRef, data, poolRef, reduceRef, tied } from './conv-ref.js';
import { RoundTransport } from './rounds.js';
import { assertSameFrequencies, assertUniformBits } from './uniform.js';

const [s0, s1, dealer, alice, bob, carol] = ['server0', 'server1', 'dealer', 'alice', 'bob', 'carol'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player, Player];
const geo = (shape: number[], KH: number, KW: number, s: unknown, pad: unknown) => geometry('t', shape, KH, KW, s, pad);

const cfgOf = (precision: 'low' | 'high') => (precision === 'low' ? FIXED_LOW : FIXED_HIGH);

for (const precision of ['low', 'high'] as const) {
  const l = cfgOf(precision).bits;
  describe(`Pond boolean sharing (precision ${precision})`, () => {
    const p = new Pond(s0, s1, dealer, { precision, transport: new MemoryTransport(), players: [alice] });

    it('boolean words: input, xor, not, and of a sharing with two random shares; reveal to a server and to an outside player (and: test/conformance/nonlinear.test.ts)', async () => {
      const M = (1n << BigInt(l)) - 1n;
      await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.bigInt({ min: 0n, max: M }), fc.bigInt({ min: 0n, max: M })), { minLength: 1, maxLength: 40 }), async (pairs) => {
        const X = pairs.map((t) => t[0]);
        const Y = pairs.map((t) => t[1]);
        const x = await p.boolean.input(s0, RingTensor.fromBigInts(l, [X.length], X));
        const y = await p.boolean.input(s1, RingTensor.fromBigInts(l, [Y.length], Y));
        const open = async (t: BinaryAdditiveTensor, to: Player = alice) => (await p.boolean.reveal(t, to))!.toBigInts();
        assert.deepEqual(await open(x), X);
        assert.deepEqual(await open(y, s0), Y, 'reveal to a server');
        assert.deepEqual(await open(await p.boolean.and(p.boolean.xor(x, y), x)), X.map((v, i) => (v ^ Y[i]!) & v), 'and of a sharing with two random shares');
        assert.deepEqual(await open(p.boolean.not(x)), X.map((v) => ~v & M));
      }), { numRuns: 6 });
    });

    it('the sign circuit\'s size: the dealt items agree with the op table\'s formulas (planes per server and from the producer, rounds)', () => {
      const c = pondSign(l);
      assert.deepEqual([c.server, c.dealer], l === 64 ? [243, 181] : [498, 372], 'the formulas, evaluated');
      const items = msbPlan(l, 32);
      assert.equal(items.length, c.rounds);
      assert.equal(items.reduce((a, it) => a + (it.kind === 'known' ? it.words : it.kind === 'and' ? it.ys.reduce((s, y) => s + y.words, 0) : 0), 0), c.dealer);
    });
  });
}

/** The masks server i draws for one op, recomputed from its dealer key (as the dealer does). */
function serverDraws(key: Uint8Array, i: 0 | 1, dealKey: string, items: ReturnType<typeof msbPlan>, l: 64 | 128) {
  const g = Prg.derive(key, `${dealKey}/deal`);
  return items.map((it) => draw(i, g, it, l));
}

describe('Pond comparisons: what each party receives', () => {
  it('relu: every message between the servers has uniform bits, identically for two different inputs; the dealer receives nothing', async () => {
    const n = 16384; // the smallest message (one bit plane) has 256 64-bit words
    const views: Record<string, Uint8Array[]>[] = [];
    for (const v of [0, 1000.5]) {
      const t = new RoundTransport();
      const p = new Pond(s0, s1, dealer, { transport: t, players: [alice] });
      const x = await p.encrypt(alice, new Float64Array(n).fill(v));
      await p.mul(x, x);
      t.reset();
      await p.relu(x);
      assert.ok(t.log.every((m) => m.to !== 'dealer'), 'the dealer receives nothing');
      const byStage: Record<string, Uint8Array[]> = {};
      for (const m of t.log) {
        const stage = `${m.from}->${m.to} ${m.key.split('/').slice(2).join('/')}`;
        (byStage[stage] ??= []).push(m.payload);
        assertUniformBits([m.payload], `relu of ${v}: ${stage}`);
      }
      views.push(byStage);
    }
    assert.deepEqual(Object.keys(views[0]!).sort(), Object.keys(views[1]!).sort());
    for (const k of Object.keys(views[0]!)) assertSameFrequencies(views[0]![k]!, views[1]![k]!, k);
  });

  it('the openings are exactly the sender\'s value XOR (minus) its dealt mask, drawn from a key only the sender and the dealer hold', async () => {
    for (const l of [64, 128] as const) {
      const n = 100;
      const W = planeWords(n);
      const m = l - 1;
      const t = new RoundTransport();
      const p = new Pond(s0, s1, dealer, { precision: l === 64 ? 'low' : 'high', transport: t, players: [alice] });
      const x = await p.encrypt(alice, Float64Array.from({ length: n }, (_, i) => (i - 50) * 3.5));
      await p.mul(x, x);
      // each server got its own key only
      const keysTo = (s: string) => t.log.filter((q) => q.from === 'dealer' && q.to === s && q.key.includes('/dealer/key')).map((q) => q.key.split('/').pop());
      assert.deepEqual([keysTo('server0'), keysTo('server1')], [['key0'], ['key1']]);
      const keys = [0, 1].map((i) => t.log.find((q) => q.from === 'dealer' && q.key.endsWith(`/dealer/key${i}`))!.payload);
      assert.notDeepEqual(keys[0], keys[1], 'independent keys: neither server can run the other\'s stream');
      t.reset();
      await p.relu(x);
      const dealKey = t.log.find((q) => q.from === 'dealer')!.key.replace(/\/correction$/, '');
      const items = [...msbPlan(l, n), { kind: 'inject' as const, n }];
      for (const i of [0, 1] as const) {
        const mats = serverDraws(keys[i]!, i, dealKey, items, l);
        const planes = toPlanes(x.parts[i]!, n, l);
        const sent = (suffix: string) => t.log.find((q) => q.from === `server${i}` && q.key.endsWith(suffix))!.payload;
        // generate round: a ^ u (server0) or b ^ v (server1), the plain planes of the share XOR the dealt mask
        const gen = new Uint32Array(sent(`/g/${i}`).slice().buffer);
        assert.deepEqual(gen, planes.subarray(0, m * W).map((w, k) => w ^ mats[0]!.m[k]!), `server${i}'s generate message`);
        assert.notDeepEqual(gen, planes.subarray(0, m * W), 'not the plain planes');
        // the injection's ring opening: x_i - A_i
        const e = RingTensor.fromBytes(l, [n], sent(`/inj/e/${i}`));
        assert.ok(ring.equals(e, ring.sub(x.parts[i]!, mats[items.length - 1]!.a!)), `server${i}'s opening of x - A`);
        // the first tree level: P_hi ^ A_i, the first pair's P_hi is plane 1 of the share
        const t0 = new Uint32Array(sent(`/t0/${i}`).slice().buffer);
        assert.deepEqual(t0.subarray(0, W), planes.subarray(W, 2 * W).map((w, k) => w ^ mats[1]!.m[k]!), `server${i}'s first tree opening`);
      }
    }
  });
});

describe('Pond comparisons: argument checks name the argument, before anything is sent', () => {
  it('types, protocols, precisions, shapes, servers, sensitivity, and a triple source that deals no boolean correlations', async () => {
    const t = new MemoryTransport();
    const p = new Pond(s0, s1, dealer, { transport: t, players: [alice, bob] });
    const q = new Pond(s0, s1, dealer, { transport: t, precision: 'high', players: [alice] });
    const x = await p.encrypt(alice, [1, -2, 3]);
    const y = await p.encrypt(alice, [1, 2], { sensitivity: [alice] });
    const xh = await q.encrypt(alice, [1, -2, 3]);
    const b = await p.boolean.signBit(x);
    t.resetStats();
    const err = (cls: new (...a: never[]) => Error, re: RegExp) => (e: unknown) => e instanceof cls && re.test((e as Error).message);
    assert.throws(() => p.relu(3 as never), err(TypeError, /Pond\.relu: argument 'x'/));
    assert.throws(() => p.isNegative(xh), err(PrecisionMismatchError, /Pond\.isNegative: argument 'x'/));
    assert.throws(() => p.reluDerivative(b as never), err(TypeError, /argument 'x' is a boolean-shared tensor/));
    assert.throws(() => p.greater(x, 'y' as never), err(TypeError, /Pond\.greater: argument 'y'/));
    assert.throws(() => p.less(x, y), err(ShapeMismatchError, /'x' \[3\] and 'y' \[2\]/));
    assert.throws(() => p.select(x, x, x), err(TypeError, /argument 'b' must hold 0\/1 integers/));
    assert.throws(() => p.select(b, x, y), err(ShapeMismatchError, /'x' \[3\] and 'y' \[2\]/));
    assert.throws(() => p.select(b, x, 1 as never), err(TypeError, /Pond\.select: argument 'y'/));
    assert.throws(() => p.boolean.and(b, x as never), err(TypeError, /Pond\.boolean\.and: argument 'y' must be a boolean-shared tensor/));
    assert.throws(() => p.boolean.input(alice, new RingTensor(64, [1])), err(TypeError, /argument 'server' must be one of the servers/));
    assert.throws(() => p.boolean.input(s0, new RingTensor(128, [1])), err(TypeError, /argument 'value'/));
    assert.throws(() => q.boolean.signBit(x), err(PrecisionMismatchError, /argument 'x'/));
    assert.throws(() => q.boolean.xor(b, b), err(TypeError, /belongs to protocol/));
    assert.deepEqual(t.stats(), {}, 'nothing was sent');
    // a TripleSource without `deal`: multiplications work, comparisons are refused by name
    const td = new TrustedDealer(dealer);
    const r = new Pond(s0, s1, { player: dealer, triple: (req) => td.triple(req) }, { transport: t, players: [alice] });
    const z = await r.encrypt(alice, [1, -1]);
    assert.deepEqual(Array.from((await r.reveal(await r.mul(z, z), alice)).read()), [1, 1]);
    t.resetStats();
    assert.throws(() => r.relu(z), err(TypeError, /Pond\.relu: the crypto producer \(argument 'cryptoProducer' of Pond\) is a TripleSource without 'deal'/));
    assert.throws(() => r.boolean.signBit(z), err(TypeError, /argument 'cryptoProducer'/));
    await assert.rejects(r.maxPool2x2(r.reshape(await r.encrypt(alice, [1, 2, 3, 4]), [1, 2, 2, 1])), err(TypeError, /Pond\.greater: .*argument 'cryptoProducer'/));
    // sensitivity: an op keeps its operands' (intersection); reveal outside it is refused
    const rl = await p.relu(await p.encrypt(alice, [1, 2], { sensitivity: [alice] }));
    assert.deepEqual(rl.sensitivity?.map((s) => s.name), ['alice']);
    assert.throws(() => p.reveal(rl, bob), SensitivityError);
    const bs = await p.boolean.signBit(y);
    assert.throws(() => p.boolean.reveal(bs, bob), SensitivityError);
    assert.ok(u32(bs.parts[0]!).length > 0);
  });
});

const maxErr = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

describe('Pond conv and pool ops in the computation IR (SPMD: test/conformance/spmd-nonlinear.test.ts)', () => {
  it('a computation with conv2d, relu, maxPool2x2, avgPool, greater and argmax, concrete under Pond: the plaintext result', async () => {
    const [B, H, W, C, F] = [2, 6, 6, 1, 2];
    const xs = data(21, B * H * W * C);
    const ws = data(22, 3 * 3 * C * F);
    const comp = computation(function net(x, w) {
      const h = ops.relu(ops.conv2d(ops.encrypt(x, { sensitivity: null }), ops.encrypt(w, { sensitivity: null }), { padding: 'same' }));
      const pooled = ops.maxPool2x2(h);
      const avg = ops.avgPool(h, { size: 2 });
      return [ops.reveal(pooled, carol), ops.reveal(ops.argmax(pooled, 3), carol), ops.reveal(ops.greater(pooled, avg), carol)];
    } as (...a: Symbolic[]) => Symbolic[]);
    const pond = new Pond(s0, s1, dealer, { transport: new MemoryTransport(), players: [alice, carol] });
    const c = comp.concrete(pond, [TensorSpec.private(alice, { shape: [B, H, W, C] }), TensorSpec.private(alice, { shape: [3, 3, C, F] })]);
    const out = (await c.run(new PrivateTensor(alice, [B, H, W, C], xs), new PrivateTensor(alice, [3, 3, C, F], ws))) as PrivateTensor[];
    const g = geo([B, H, W, C], 3, 3, 1, 'same');
    const h = convRef(xs, ws, g, F).map((v) => Math.max(v, 0));
    const want = poolRef(h, [B, H, W, F]).y;
    assert.ok(maxErr(out[0]!.read(), want) <= 2 ** -16, 'maxPool2x2(relu(conv2d))');
    // argmax and greater compare the encrypted values (within an ulp of the references): check against the revealed pooled values
    const got = Array.from(out[0]!.read());
    assert.deepEqual(Array.from(out[1]!.read()), reduceRef(Float64Array.from(got), [B, 3, 3, F], 3).arg, 'argmax of the pooled values over the channels');
    // maxPool ≥ avgPool of the same window: greater is 1 unless the window is constant (up to an ulp or two)
    const avg = convRef(h, Float64Array.from({ length: 4 * F * F }, (_, i) => (i % F === Math.floor(i / F) % F ? 0.25 : 0)), geo([B, H, W, F], 2, 2, 2, 'valid'), F);
    Array.from(out[2]!.read()).forEach((v, i) => assert.equal(v, want[i]! - avg[i]! > 3 * 2 ** -16 ? 1 : want[i]! - avg[i]! < -(2 ** -16) ? 0 : v, `greater [${i}]`));
  });
});

describe('Pond smooth ops in the computation IR', () => {
  it('softmax(x) and sigmoid(x) concrete under Pond: within the op table\'s bounds', async () => {
    const xs = Float64Array.from({ length: 3 * 10 }, (_, i) => Math.round(Math.sin(i * 1.3) * 5 * 256) / 256);
    const comp = computation(function smooth(x) {
      const e = ops.encrypt(x, { sensitivity: null });
      return [ops.reveal(ops.softmax(e), carol), ops.reveal(ops.sigmoid(e), carol)];
    } as (...a: Symbolic[]) => Symbolic[]);
    const pond = new Pond(s0, s1, dealer, { transport: new MemoryTransport(), players: [alice, carol] });
    const c = comp.concrete(pond, [TensorSpec.private(alice, { shape: [3, 10] })]);
    const [sm, sg] = (await c.run(new PrivateTensor(alice, [3, 10], xs))) as PrivateTensor[];
    const want = Array.from(xs, (_, i) => {
      const row = Array.from(xs.subarray(Math.floor(i / 10) * 10, Math.floor(i / 10) * 10 + 10));
      const mx = Math.max(...row);
      return Math.exp(xs[i]! - mx) / row.reduce((a, v) => a + Math.exp(v - mx), 0);
    });
    assert.ok(maxErr(sm!.read(), want) <= 3e-3, 'softmax');
    assert.ok(maxErr(sg!.read(), Array.from(xs, (v) => 1 / (1 + Math.exp(-v)))) <= 6e-4, 'sigmoid');
  });
});

describe('Pond conv and pool: argument checks name Pond and the argument', () => {
  it('shapes, channels, strides, padding, axis, the mask\'s encoding', async () => {
    const p = new Pond(s0, s1, dealer, { transport: new MemoryTransport(), players: [alice] });
    const x = await p.encrypt(alice, data(1, 2 * 5 * 5 * 2), { shape: [2, 5, 5, 2] });
    const w3 = await p.encrypt(alice, data(2, 3 * 3 * 3 * 4), { shape: [3, 3, 3, 4] });
    const flat = await p.encrypt(alice, data(3, 10), { shape: [10] });
    await assert.rejects(p.conv2d(flat, w3), (e: Error) => e instanceof ShapeMismatchError && /^Pond\.conv2d: argument 'x'.*NHWC/.test(e.message));
    await assert.rejects(p.conv2d(x, w3), (e: Error) => e instanceof ShapeMismatchError && /^Pond\.conv2d: argument 'w' has 3 input channels/.test(e.message));
    await assert.rejects(p.conv2d(x, x, { strides: 0 }), (e: Error) => e instanceof RangeError && /^Pond\.conv2d: option 'strides'/.test(e.message));
    await assert.rejects(p.avgPool(x, { size: 6 }), (e: Error) => e instanceof ShapeMismatchError && /^Pond\.avgPool: .*larger than the input/.test(e.message));
    await assert.rejects(p.max(x, 4), (e: Error) => e instanceof RangeError && /^Pond\.max: argument 'axis'/.test(e.message));
    const x4 = await p.encrypt(alice, data(2, 32), { shape: [1, 4, 4, 2] });
    const dy = await p.encrypt(alice, data(3, 8), { shape: [1, 2, 2, 2] });
    assert.throws(() => p.maxPool2x2Backward(x4, dy), (e: Error) => e instanceof TypeError && /^Pond\.maxPool2x2Backward: argument 'mask' must hold 0\/1 integers/.test(e.message));
  });
});
