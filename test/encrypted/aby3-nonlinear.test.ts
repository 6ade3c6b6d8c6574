/**
 * ABY3's boolean sharing and first nonlinear ops (aby3-binary.ts,
 * aby3-nonlinear.ts, aby3-boolean.ts), what is ABY3's own: the boolean
 * words API, the sign circuit's size, what each server receives (masked
 * words only), SPMD runs with one simulated process per group of players,
 * and argument checks. The ops' values against the plaintext reference and
 * their rounds and bytes (both protocols, both precisions) are in the
 * conformance suite, test/conformance/nonlinear.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ABY3, BinaryReplicatedTensor, Player, PrecisionMismatchError, SensitivityError, ShapeMismatchError } from '../../src/encrypted/index.js';
import { FIXED_HIGH, FIXED_LOW } from '../../src/encrypted/fixed.js';
import { msbAndPlanes, msbRounds, planeWords, toPlanes, u32 } from '../../src/encrypted/protocols/aby3-binary.js';
import * as ring from '../../src/ring/index.js';
import { RingTensor } from '../../src/ring/index.js';
import { MemoryTransport } from '../../src/transport/index.js';
import { assertSameFrequencies, assertUniformBits } from './uniform.js';
import { RoundTransport } from './rounds.js';

const [s0, s1, s2, alice, bob] = ['server0', 'server1', 'server2', 'alice', 'bob'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player];
const SERVERS = ['server0', 'server1', 'server2'];
const cfgOf = (precision: 'low' | 'high') => (precision === 'low' ? FIXED_LOW : FIXED_HIGH);

for (const precision of ['low', 'high'] as const) {
  const l = cfgOf(precision).bits;
  describe(`ABY3 boolean sharing (precision ${precision})`, () => {
    it('boolean words: xor, not, andPublic and shifts equal the plaintext bit ops; reveal to a server and to an outside player (and: test/conformance/nonlinear.test.ts)', async () => {
      const p = new ABY3(s0, s1, s2, { precision, transport: new MemoryTransport(), players: [alice] });
      await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.bigInt({ min: 0n, max: (1n << BigInt(l)) - 1n }), fc.bigInt({ min: 0n, max: (1n << BigInt(l)) - 1n })), { minLength: 1, maxLength: 40 }), fc.integer({ min: 0, max: l - 1 }), fc.bigInt({ min: 0n, max: (1n << BigInt(l)) - 1n }), async (pairs, k, mask) => {
        const X = pairs.map((t) => t[0]);
        const Y = pairs.map((t) => t[1]);
        const M = (1n << BigInt(l)) - 1n;
        const x = await p.boolean.input(s0, RingTensor.fromBigInts(l, [X.length], X));
        const y = await p.boolean.input(s1, RingTensor.fromBigInts(l, [Y.length], Y));
        const open = async (t: BinaryReplicatedTensor, to: Player = alice) => (await p.boolean.reveal(t, to))!.toBigInts();
        assert.deepEqual(await open(x), X);
        assert.deepEqual(await open(y, s2), Y, 'reveal to a server');
        assert.deepEqual(await open(p.boolean.xor(x, y)), X.map((v, i) => v ^ Y[i]!));
        assert.deepEqual(await open(p.boolean.not(x)), X.map((v) => ~v & M));
        assert.deepEqual(await open(p.boolean.andPublic(x, mask)), X.map((v) => v & mask));
        assert.deepEqual(await open(p.boolean.shl(x, k)), X.map((v) => (v << BigInt(k)) & M));
        assert.deepEqual(await open(p.boolean.shr(x, k)), X.map((v) => v >> BigInt(k)));
      }), { numRuns: 10 });
    });

    it('the sign circuit\'s size: msbAndPlanes and msbRounds are the op table\'s (181 / 372 ANDed planes, 8 / 9 rounds)', () => {
      assert.equal(msbAndPlanes(l), l === 64 ? 181 : 372);
      assert.equal(msbRounds(l), l === 64 ? 8 : 9);
    });
  });
}

describe('ABY3 boolean sharing: what each server receives', () => {
  it('AND: each received word is the sender\'s cross terms XOR a PRF mask (uniform, never the unmasked terms)', async () => {
    const t = new RoundTransport();
    const p = new ABY3(s0, s1, s2, { transport: t, players: [alice] });
    const n = 1024;
    const X = Array.from({ length: n }, (_, i) => BigInt(i) * 0x9e3779b97f4a7c15n % (1n << 64n));
    const x = await p.boolean.input(s0, RingTensor.fromBigInts(64, [n], X));
    const y = await p.boolean.input(s1, RingTensor.fromBigInts(64, [n], X.map((v) => v ^ 0xffn)));
    t.reset();
    await p.boolean.and(x, y);
    assert.equal(t.log.length, 3);
    for (const m of t.log) {
      const i = SERVERS.indexOf(m.from);
      assert.equal(SERVERS.indexOf(m.to), (i + 2) % 3, 'to the predecessor');
      const [xi, xj, yi, yj] = [x.parts[2 * i], x.parts[2 * i + 1], y.parts[2 * i], y.parts[2 * i + 1]].map((r) => u32(r!));
      const got = new Uint32Array(m.payload.slice().buffer);
      const mask = got.map((z, k) => z ^ (xi![k]! & (yi![k]! ^ yj![k]!)) ^ (xj![k]! & yi![k]!));
      assertUniformBits([new Uint8Array(mask.buffer)], `AND mask in what ${m.to} receives`);
      assertUniformBits([m.payload], `AND: what ${m.to} receives`);
    }
  });

  for (const k of [64, 32]) it(`sign (A2B) and bit injection, comparisons on ${k} bits: every message is uniform, identically for different inputs; server2 never gets x0 + x1 unmasked`, async () => {
    const n = 16384; // the smallest message (one bit plane) has 256 64-bit words
    const views: Record<string, Uint8Array[]>[] = [];
    for (const v of [0, 1000.5]) {
      const t = new RoundTransport();
      const p = new ABY3(s0, s1, s2, { transport: t, players: [alice], comparisonBits: k });
      const x = await p.encrypt(alice, new Float64Array(n).fill(v));
      t.reset();
      await p.relu(x);
      const byStage: Record<string, Uint8Array[]> = {};
      for (const m of t.log) {
        const stage = `${m.from}->${m.to} ${m.key.split('/').slice(2).join('/')}`;
        (byStage[stage] ??= []).push(m.payload);
        assertUniformBits([m.payload], `relu of ${v}: ${stage}`);
      }
      views.push(byStage);
      const a = toPlanes(ring.add(x.parts[0]!, x.parts[1]!), n, 64, k); // the low k bits of x0 + x1, held by server0 only
      const input = t.log.find((m) => m.to === 'server2' && m.key.endsWith('/a/in0'))!;
      assert.equal(input.payload.byteLength, k * n / 8, 'k planes of n bits');
      const diff = new Uint32Array(input.payload.slice().buffer).map((w, k) => w ^ a[k]!);
      assertUniformBits([new Uint8Array(diff.buffer)], 'server2\'s input message XOR x0 + x1 (the PRF mask)');
    }
    assert.deepEqual(Object.keys(views[0]!).sort(), Object.keys(views[1]!).sort());
    for (const k of Object.keys(views[0]!)) assertSameFrequencies(views[0]![k]!, views[1]![k]!, k);
  });

  it('toPlanes transposes ring words into bit planes (against bit-by-bit extraction)', () => {
    for (const l of [64, 128] as const) {
      for (const n of [1, 31, 32, 45, 100]) {
        const vs = Array.from({ length: n }, (_, i) => (BigInt(i + 1) * 0x9e3779b97f4a7c15f39cc0605cedc835n) % (1n << BigInt(l)));
        const planes = toPlanes(RingTensor.fromBigInts(l, [n], vs), n, l);
        const W = planeWords(n);
        for (let j = 0; j < l; j++) for (let e = 0; e < n; e++) {
          assert.equal((planes[j * W + (e >>> 5)]! >>> (e & 31)) & 1, Number((vs[e]! >> BigInt(j)) & 1n), `l ${l}, n ${n}, bit ${j} of element ${e}`);
        }
      }
    }
  });
});

describe('ABY3 nonlinear ops: argument checks name the argument, before anything is sent', () => {
  it('types, protocols, precisions, shapes, servers and sensitivity', async () => {
    const t = new MemoryTransport();
    const p = new ABY3(s0, s1, s2, { transport: t, players: [alice, bob] });
    const q = new ABY3(s0, s1, s2, { transport: t, precision: 'high', players: [alice] });
    const x = await p.encrypt(alice, [1, -2, 3]);
    const y = await p.encrypt(alice, [1, 2], { sensitivity: [alice] });
    const xh = await q.encrypt(alice, [1, -2, 3]);
    const b = await p.boolean.signBit(x);
    t.resetStats();
    const err = (cls: new (...a: never[]) => Error, re: RegExp) => (e: unknown) => e instanceof cls && re.test((e as Error).message);
    assert.throws(() => p.relu(3 as never), err(TypeError, /ABY3\.relu: argument 'x'/));
    assert.throws(() => p.isNegative(xh), err(PrecisionMismatchError, /ABY3\.isNegative: argument 'x'/));
    assert.throws(() => p.reluDerivative(b as never), err(TypeError, /argument 'x' is a boolean-shared tensor/));
    assert.throws(() => p.greater(x, 'y' as never), err(TypeError, /ABY3\.greater: argument 'y'/));
    assert.throws(() => p.less(x, y), err(ShapeMismatchError, /'x'.*'y'/));
    assert.throws(() => p.select(x, x, x), err(TypeError, /argument 'b' must hold 0\/1 integers/));
    assert.throws(() => p.select(b, x, y), err(ShapeMismatchError, /'x' \[3\] and 'y' \[2\]/));
    assert.throws(() => p.select(b, x, 1 as never), err(TypeError, /ABY3\.select: argument 'y'/));
    assert.throws(() => p.boolean.and(b, x as never), err(TypeError, /ABY3\.boolean\.and: argument 'y' must be a boolean-shared tensor/));
    assert.throws(() => p.boolean.shl(b, 64), err(RangeError, /argument 'k'/));
    assert.throws(() => p.boolean.andPublic(b, 1n << 64n), err(RangeError, /argument 'mask'/));
    assert.throws(() => p.boolean.andPublic(b, 1 as never), err(TypeError, /argument 'mask'/));
    assert.throws(() => p.boolean.input(alice, new RingTensor(64, [1])), err(TypeError, /argument 'server' must be one of the servers/));
    assert.throws(() => p.boolean.input(s0, new RingTensor(128, [1])), err(TypeError, /argument 'value'/));
    assert.throws(() => q.boolean.signBit(x), err(PrecisionMismatchError, /argument 'x'/));
    assert.throws(() => q.boolean.xor(b, b), err(TypeError, /belongs to protocol/));
    const twin = new ABY3(s0, s1, s2, { transport: t, id: p.id, players: [alice] });
    assert.throws(() => twin.boolean.not(b), err(TypeError, /argument 'x' belongs to protocol/), 'another instance with the same id');
    assert.deepEqual(t.stats(), {}, 'nothing was sent');
    // sensitivity: an op keeps its operands' (intersection); reveal outside it is refused
    const r = await p.relu(await p.encrypt(alice, [1, 2], { sensitivity: [alice] }));
    assert.deepEqual(r.sensitivity?.map((s) => s.name), ['alice']);
    assert.throws(() => p.reveal(r, bob), SensitivityError);
    const g = await p.greater(y, await p.encrypt(alice, [0, 0]));
    assert.deepEqual(g.sensitivity?.map((s) => s.name), ['alice']);
    const bs = await p.boolean.signBit(y);
    assert.throws(() => p.boolean.reveal(bs, bob), SensitivityError);
  });
});
