/**
 * Pond's comparisons (pond-binary.ts, pond-nonlinear.ts, pond-boolean.ts):
 * exact on the ring encoding against the plaintext reference (random and
 * edge inputs, both precisions); rounds and bytes per party against
 * docs/encrypted-ml.md's formulas; what each party receives (the dealer
 * nothing; each server only openings masked by dealt randomness: uniform,
 * the same for two inputs, and exactly value XOR the mask drawn from the
 * dealer's key with the receiver lacks); SPMD runs; argument checks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Prg } from '../../src/crypto/prg.js';
import { BinaryAdditiveTensor, EncodingRangeError, Player, Pond, PrecisionMismatchError, SensitivityError, ShapeMismatchError, TrustedDealer, type AdditiveTensor } from '../../src/encrypted/index.js';
import { FIXED_HIGH, FIXED_LOW } from '../../src/encrypted/fixed.js';
import { planeWords, toPlanes, u32 } from '../../src/encrypted/protocols/aby3-binary.js';
import { draw } from '../../src/encrypted/protocols/pond-binary.js';
import { msbPlan } from '../../src/encrypted/protocols/pond-nonlinear.js';
import * as ring from '../../src/ring/index.js';
import { RingTensor } from '../../src/ring/index.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/index.js';
import { RoundTransport } from './rounds.js';
import { assertSameFrequencies, assertUniformBits } from './uniform.js';

const [s0, s1, dealer, alice, bob] = ['server0', 'server1', 'dealer', 'alice', 'bob'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player];
const PARTIES = ['server0', 'server1', 'dealer'];

const cfgOf = (precision: 'low' | 'high') => (precision === 'low' ? FIXED_LOW : FIXED_HIGH);
const ringOf = (l: 64 | 128, vs: bigint[]) => RingTensor.fromBigInts(l, [vs.length], vs.map((v) => BigInt.asUintN(l, v)));
const readInts = async (p: Pond, x: AdditiveTensor) => (await p.revealRing(x, alice))!.toSignedBigInts();

/** 0, one ulp either side, the fixed-point limits, the ring's extremes. */
function edges(l: number, f: number): bigint[] {
  const half = 1n << BigInt(l - 1);
  const lim = half - 1n;
  return [0n, 1n, -1n, 2n, -2n, 1n << BigInt(f), -(1n << BigInt(f)), lim, -lim, -half, half - 2n, -half + 1n];
}
const bigintsArb = (l: number) => fc.array(fc.bigInt({ min: -(1n << BigInt(l - 1)), max: (1n << BigInt(l - 1)) - 1n }), { minLength: 1, maxLength: 70 });

/**
 * The formulas of docs/encrypted-ml.md (derived by hand): m = l − 1 generate
 * bits, L = ceil(log2 m) tree levels. Each server opens m planes (generate)
 * and 3(m − 1) − L in the tree (per combination P_hi once, G_lo, and P_lo but
 * for the lowest group); the dealer sends m + 2(m − 1) − L planes of AND
 * shares. Online rounds 1 + L for the sign, + 1 for B2A or the injection.
 */
function signCost(l: 64 | 128) {
  const m = l - 1;
  const L = Math.ceil(Math.log2(m));
  return { server: 4 * m - 3 - L, dealer: 3 * m - 2 - L, rounds: 1 + L };
}

for (const precision of ['low', 'high'] as const) {
  const cfg = cfgOf(precision);
  const l = cfg.bits;
  const E = l / 8;
  describe(`Pond comparisons, exact on the encoding (precision ${precision})`, () => {
    const p = new Pond(s0, s1, dealer, { precision, transport: new MemoryTransport(), players: [alice] });

    it('isNegative, reluDerivative, relu on random and edge ring values equal the plaintext reference exactly', async () => {
      await fc.assert(fc.asyncProperty(bigintsArb(l), async (rand) => {
        const vs = [...edges(l, cfg.frac), ...rand];
        const x = await p.encryptInts(alice, ringOf(l, vs));
        const [neg, step, relu] = await Promise.all([p.isNegative(x), p.reluDerivative(x), p.relu(x)]);
        assert.equal(neg.encoding, 'int');
        assert.equal(relu.encoding, 'int');
        assert.deepEqual(await readInts(p, neg), vs.map((v) => (v < 0n ? 1n : 0n)));
        assert.deepEqual(await readInts(p, step), vs.map((v) => (v >= 0n ? 1n : 0n)));
        assert.deepEqual(await readInts(p, relu), vs.map((v) => (v > 0n ? v : 0n)));
      }), { numRuns: 8 });
    });

    it('fixed point: relu and isNegative of encrypted floats, with -0, +-ulp, sub-ulp values and the range limits', async () => {
      const ulp = 2 ** -cfg.frac;
      const lim = cfg.bound - 2 ** (cfg.boundLog2 - 52);
      await fc.assert(fc.asyncProperty(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 50 }), async (rand) => {
        const vs = [0, -0, ulp, -ulp, ulp / 4, -ulp / 4, lim, -lim, ...rand];
        const x = await p.encrypt(alice, vs);
        const enc = vs.map((v) => Math.round(v * 2 ** cfg.frac) / 2 ** cfg.frac);
        assert.deepEqual(Array.from((await p.reveal(await p.relu(x), alice)).read()), enc.map((v) => (v > 0 ? v : 0)));
        assert.deepEqual(Array.from((await p.reveal(await p.isNegative(x), alice)).read()), enc.map((v) => (v < 0 ? 1 : 0)), '-ulp/4 encodes to 0: not negative');
      }), { numRuns: 6 });
      assert.throws(() => p.encrypt(alice, [cfg.bound]), EncodingRangeError);
    });

    it('greater and less exact while |x - y| < 2^(l-1); select by a boolean bit and by a 0/1 integer', async () => {
      const q = 1n << BigInt(l - 2);
      const arb = fc.array(fc.tuple(fc.bigInt({ min: -q + 1n, max: q - 1n }), fc.bigInt({ min: -q + 1n, max: q - 1n })), { minLength: 1, maxLength: 60 });
      await fc.assert(fc.asyncProperty(arb, async (pairs) => {
        const xs = [0n, 1n, -1n, 5n, ...pairs.map((t) => t[0])];
        const ys = [0n, 0n, 0n, 5n, ...pairs.map((t) => t[1])];
        const x = await p.encryptInts(alice, ringOf(l, xs));
        const y = await p.encryptInts(alice, ringOf(l, ys));
        assert.deepEqual(await readInts(p, await p.greater(x, y)), xs.map((v, i) => (v > ys[i]! ? 1n : 0n)));
        assert.deepEqual(await readInts(p, await p.less(x, y)), xs.map((v, i) => (v < ys[i]! ? 1n : 0n)));
        const want = xs.map((v, i) => (v < 0n ? v : ys[i]!));
        assert.deepEqual(await readInts(p, await p.select(await p.boolean.signBit(x), x, y)), want, 'select by a boolean bit');
        assert.deepEqual(await readInts(p, await p.select(await p.isNegative(x), x, y)), want, 'select by a 0/1 integer');
      }), { numRuns: 8 });
      const top = (1n << BigInt(l - 1)) - 1n;
      const x = await p.encryptInts(alice, ringOf(l, [top, -top]));
      const y = await p.encryptInts(alice, ringOf(l, [-top, top]));
      assert.deepEqual(await readInts(p, await p.greater(x, y)), [0n, 1n], 'x - y wraps past 2^(l-1): the sign of the ring difference');
    });

    it('boolean words: input, xor, not, and; reveal to a server and to an outside player', async () => {
      const M = (1n << BigInt(l)) - 1n;
      await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.bigInt({ min: 0n, max: M }), fc.bigInt({ min: 0n, max: M })), { minLength: 1, maxLength: 40 }), async (pairs) => {
        const X = pairs.map((t) => t[0]);
        const Y = pairs.map((t) => t[1]);
        const x = await p.boolean.input(s0, RingTensor.fromBigInts(l, [X.length], X));
        const y = await p.boolean.input(s1, RingTensor.fromBigInts(l, [Y.length], Y));
        const open = async (t: BinaryAdditiveTensor, to: Player = alice) => (await p.boolean.reveal(t, to))!.toBigInts();
        assert.deepEqual(await open(x), X);
        assert.deepEqual(await open(y, s0), Y, 'reveal to a server');
        assert.deepEqual(await open(await p.boolean.and(x, y)), X.map((v, i) => v & Y[i]!));
        assert.deepEqual(await open(await p.boolean.and(p.boolean.xor(x, y), x)), X.map((v, i) => (v ^ Y[i]!) & v), 'and of a sharing with two random shares');
        assert.deepEqual(await open(p.boolean.not(x)), X.map((v) => ~v & M));
      }), { numRuns: 6 });
    });
  });

  describe(`Pond comparisons: rounds and bytes per party (precision ${precision})`, () => {
    it(`sign ${signCost(l).rounds} online rounds; isNegative/relu ${signCost(l).rounds + 1}, + the dealer's one message; select 1`, async () => {
      const t = new RoundTransport(new MemoryTransport(), { offline: ['dealer'] });
      const p = new Pond(s0, s1, dealer, { precision, transport: t, players: [alice] });
      const c = signCost(l);
      assert.deepEqual([c.server, c.dealer], l === 64 ? [243, 181] : [498, 372], 'the formulas, evaluated');
      // the dealt items agree with the formulas: the dealer's planes and the tree's shape
      const items = msbPlan(l, 32);
      assert.equal(items.length, c.rounds);
      assert.equal(items.reduce((a, it) => a + (it.kind === 'known' ? it.words : it.kind === 'and' ? it.ys.reduce((s, y) => s + y.words, 0) : 0), 0), c.dealer);
      for (const n of [1, 45, 320]) {
        const P = planeWords(n) * 4; // bytes per bit plane
        const x = await p.encrypt(alice, Float64Array.from({ length: n }, (_, i) => Math.sin(i) * 50));
        const y = await p.encrypt(alice, Float64Array.from({ length: n }, (_, i) => Math.cos(i) * 50));
        await p.mul(x, y); // the dealer's keys are set up
        const bx = await p.boolean.input(s1, new RingTensor(l, [n]));
        const by = await p.boolean.input(s0, new RingTensor(l, [n]));
        const sb = await p.boolean.signBit(x);
        const b01 = await p.isNegative(x);
        const check = async (label: string, f: () => Promise<unknown>, online: number, bytes: [number, number, number]) => {
          t.reset();
          await f();
          assert.equal(t.onlineRounds(), online, `${label} (n = ${n}): online rounds`);
          assert.equal(t.rounds(), online + 1, `${label} (n = ${n}): critical path (the dealer's message first)`);
          assert.deepEqual(PARTIES.map((s) => t.sentBy(s)), bytes, `${label} (n = ${n}): bytes sent by server0, server1, dealer`);
          assert.ok(t.log.every((m) => PARTIES.includes(m.from) && PARTIES.includes(m.to)), `${label}: only the parties talk`);
          assert.ok(t.log.every((m) => m.to !== 'dealer'), `${label}: the dealer receives nothing`);
          assert.deepEqual(t.log.filter((m) => m.from === 'dealer').map((m) => m.to), ['server1'], `${label}: one dealer message, to server1`);
        };
        const sign = c.server * P;
        const B2A = P;
        await check('signBit', () => p.boolean.signBit(x), c.rounds, [sign, sign, c.dealer * P]);
        await check('isNegative', () => p.isNegative(x), c.rounds + 1, [sign + B2A, sign + B2A, c.dealer * P + n * E]);
        await check('reluDerivative', () => p.reluDerivative(x), c.rounds + 1, [sign + B2A, sign + B2A, c.dealer * P + n * E]);
        await check('greater', () => p.greater(x, y), c.rounds + 1, [sign + B2A, sign + B2A, c.dealer * P + n * E]);
        await check('less', () => p.less(x, y), c.rounds + 1, [sign + B2A, sign + B2A, c.dealer * P + n * E]);
        await check('relu', () => p.relu(x), c.rounds + 1, [sign + B2A + n * E, sign + B2A + n * E, c.dealer * P + 2 * n * E]);
        await check('select (boolean bit)', () => p.select(sb, x, y), 1, [P + n * E, P + n * E, 2 * n * E]);
        await check('select (0/1 integer)', () => p.select(b01, x, y), 1, [2 * n * E, 2 * n * E, n * E]);
        await check('boolean.and', () => p.boolean.and(bx, by), 1, [2 * n * E, 2 * n * E, n * E]);
      }
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

describe('Pond comparisons, SPMD (one simulated process per group of players)', () => {
  it('relu, isNegative, greater, select and boolean and give the same results whatever the grouping', async () => {
    const n = 50;
    const xs = Float64Array.from({ length: n }, (_, i) => (i - 25) * 1.25);
    const ys = Float64Array.from({ length: n }, (_, i) => Math.round(Math.cos(i) * 20 * 2 ** 16) / 2 ** 16);
    const groupings = [[['server0'], ['server1'], ['dealer'], ['alice']], [['server0', 'alice'], ['server1', 'dealer']], [['server0', 'dealer'], ['server1', 'alice']], [['server0', 'server1', 'dealer', 'alice']]];
    const want = [...xs.map((v) => Math.max(v, 0)), ...xs.map((v) => (v < 0 ? 1 : 0)), ...xs.map((v, i) => (v > ys[i]! ? 1 : 0)), ...xs.map((v, i) => (v < 0 ? v : ys[i]!))];
    for (const groups of groupings) {
      const hub = new MemoryHub();
      const results = await Promise.all(groups.map(async (local) => {
        const p = new Pond(s0, s1, dealer, { transport: new MemoryTransport({ hub, local }), players: [alice], id: 'spmd-pond-nl', timeoutMs: 10000 });
        const here = local.includes('alice');
        const x = await p.encrypt(alice, here ? xs : undefined, { shape: [n] });
        const y = await p.encrypt(alice, here ? ys : undefined, { shape: [n] });
        const outs = [await p.relu(x), await p.isNegative(x), await p.greater(x, y), await p.select(await p.boolean.signBit(x), x, y)];
        const vals = await Promise.all(outs.map((o) => p.reveal(o, alice)));
        const b = await p.boolean.and(await p.boolean.input(s0, local.includes('server0') ? RingTensor.fromBigInts(64, [2], [0xf0n, 7n]) : undefined, { shape: [2] }), await p.boolean.input(s1, local.includes('server1') ? RingTensor.fromBigInts(64, [2], [0x3cn, 5n]) : undefined, { shape: [2] }));
        const bv = await p.boolean.reveal(b, alice);
        return here ? [vals.flatMap((v) => Array.from(v.read())), bv!.toBigInts()] as const : undefined;
      }));
      groups.forEach((g, i) => {
        if (!g.includes('alice')) assert.equal(results[i], undefined);
        else {
          assert.deepEqual(results[i]![0], want, groups.map((q) => q.join('+')).join(' | '));
          assert.deepEqual(results[i]![1], [0x30n, 5n]);
        }
      });
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
