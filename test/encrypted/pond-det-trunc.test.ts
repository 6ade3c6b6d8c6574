/**
 * Pond's deterministic truncation (option truncation: 'deterministic',
 * pond-trunc.ts): truncate, mul, matmul and divPublic equal the plaintext
 * reference bit for bit (rounded to nearest, ties up) on random and edge
 * inputs at both precisions,
 * also where the probabilistic truncation fails (shown to fail there); online
 * rounds and bytes per party equal docs/encrypted-ml.md's formula; what each
 * party receives is uniformly masked; the option is checked.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Player, Pond, type AdditiveTensor } from '../../src/encrypted/index.js';
import { encodeScalar, FIXED_HIGH, FIXED_LOW } from '../../src/encrypted/fixed.js';
import { TrustedDealer } from '../../src/encrypted/triples.js';
import { planeWords } from '../../src/encrypted/protocols/aby3-binary.js';
import { pondTruncCost, pondTruncPlan } from '../../src/encrypted/protocols/pond-trunc.js';
import { RingTensor } from '../../src/ring/index.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/index.js';
import { RoundTransport } from './rounds.js';
import { assertSameFrequencies, assertUniformBits } from './uniform.js';

const [s0, s1, dealer, alice] = ['server0', 'server1', 'dealer', 'alice'].map((n) => new Player(n)) as [Player, Player, Player, Player];
const PARTIES = ['server0', 'server1', 'dealer'];
const ringOf = (l: 64 | 128, vs: bigint[]) => RingTensor.fromBigInts(l, [vs.length], vs.map((v) => BigInt.asUintN(l, v)));
const readInts = async (p: Pond, x: AdditiveTensor) => (await p.revealRing(x, alice))!.toSignedBigInts();
/** X / 2^s rounded to nearest, ties up, over the integers (the reference). */
const rnd = (X: bigint, s: bigint | number) => (X + (1n << (BigInt(s) - 1n))) >> BigInt(s);
const det = (precision: 'low' | 'high', transport: MemoryTransport = new MemoryTransport()) => new Pond(s0, s1, dealer, { precision, transport, players: [alice], truncation: 'deterministic' });

for (const precision of ['low', 'high'] as const) {
  const cfg = precision === 'low' ? FIXED_LOW : FIXED_HIGH;
  const l = cfg.bits;
  const f = BigInt(cfg.frac);
  const E = l / 8;
  const half = 1n << BigInt(l - 1);
  describe(`Pond deterministic truncation (precision ${precision})`, () => {
    it('truncate of every ring value (edges, random), mul, matmul, divPublic: rounded to nearest exactly', async () => {
      const p = det(precision);
      await fc.assert(fc.asyncProperty(fc.array(fc.bigInt({ min: -half, max: half - 1n }), { minLength: 1, maxLength: 40 }), fc.array(fc.double({ min: -3e4, max: 3e4, noNaN: true }), { minLength: 12, maxLength: 12 }), async (rand, fs) => {
        const vs = [0n, 1n, -1n, half - 1n, -half, 1n << f, -(1n << f), ...rand];
        assert.deepEqual(await readInts(p, await p.truncate(await p.encryptInts(alice, ringOf(l, vs)))), vs.map((v) => rnd(v, f)));
        const x = await p.encrypt(alice, fs, { shape: [3, 4] });
        const X = await readInts(p, x);
        assert.deepEqual(await readInts(p, await p.mul(x, x)), X.map((v) => rnd(BigInt.asIntN(l, v * v), f)));
        const xt = await p.encrypt(alice, fs, { shape: [4, 3] });
        const want: bigint[] = [];
        for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
          let acc = 0n;
          for (let k = 0; k < 4; k++) acc += X[i * 4 + k]! * X[k * 3 + j]!;
          want.push(rnd(BigInt.asIntN(l, acc), f));
        }
        assert.deepEqual(await readInts(p, await p.matmul(x, xt)), want);
        // 1/c with f + 3 fractional bits (k = ceil(log2 7.5)), the product shifted by f + 3
        const inv = encodeScalar(1 / -7.5, { ...cfg, frac: cfg.frac + 3, bound: cfg.bound / 8 });
        assert.deepEqual(await readInts(p, await p.divPublic(p.reshape(x, [12]), -7.5)), X.map((v) => rnd(BigInt.asIntN(l, v * inv), cfg.frac + 3)));
      }), { numRuns: 4 });
    });

    it('near the failure threshold (|X| = 3 2^(l-4)): probabilistic fails, deterministic never', async () => {
      const base = Math.sqrt(3 * 2 ** (l - 4 - 2 * cfg.frac));
      const xs = Array.from({ length: 64 }, (_, i) => (i % 2 === 0 ? base : -base) * (1 + i / 1000));
      const prob = new Pond(s0, s1, dealer, { precision, transport: new MemoryTransport(), players: [alice] });
      const p = det(precision);
      let failures = 0;
      for (let trial = 0; trial < 4; trial++) {
        for (const [proto, isDet] of [[prob, false], [p, true]] as const) {
          const x = await proto.encrypt(alice, xs);
          const X = await readInts(proto, x);
          const want = X.map((v) => rnd(v * v, f));
          const got = await readInts(proto, await proto.mul(x, x));
          if (isDet) assert.deepEqual(got, want);
          else failures += got.filter((v, i) => v - want[i]! > 1n || v - want[i]! < -1n).length;
        }
      }
      assert.ok(failures > 0, 'the probabilistic truncation fails at least once here');
    });

    it('online rounds 2 + log2 l (truncate) and 3 + log2 l (mul); bytes per party equal the formula', async () => {
      const t = new RoundTransport(new MemoryTransport(), { offline: ['dealer'] });
      const p = det(precision, t as unknown as MemoryTransport);
      const log2l = Math.log2(l);
      // per element: each server 4l - log2 l + e planes (the known AND's l, the x and y openings of the tree over [0, l), 3(l - 1) - log2 l,
      // the three B2As, and e for the merges of the tree over [0, f - 1) that it lacks: f = 16: 3 x + 5 y = 8, f = 32: 4 + 7 = 11);
      // the dealer 3l - 2 - log2 l + a planes (the known AND's w, the trees' C: a = 5 / 7 ANDs of the tree over [0, f - 1)) + 3E
      const [serverPlanes, dealerPlanes] = [4 * l - log2l + (l === 64 ? 8 : 11), 3 * l - 2 - log2l + (l === 64 ? 5 : 7)];
      for (const n of [1, 45, 320]) {
        const P = 4 * planeWords(n);
        const c = pondTruncCost(l, cfg.frac, n);
        assert.deepEqual([c.rounds, c.server, c.producer], [2 + log2l, serverPlanes * P, dealerPlanes * P + 3 * n * E]);
        assert.equal(pondTruncPlan(l, n, cfg.frac).length, c.rounds + 2, 'the dealt items: the known AND, one per tree level, three B2As in one round');
        const x = await p.encrypt(alice, Float64Array.from({ length: n }, (_, i) => Math.sin(i) * 50));
        await p.mul(x, x);
        const check = async (label: string, f: () => Promise<unknown>, online: number, bytes: number[]) => {
          t.reset();
          await f();
          assert.equal(t.onlineRounds(), online, `${label} (n = ${n}): online rounds`);
          assert.deepEqual(PARTIES.map((s) => t.sentBy(s)), bytes, `${label} (n = ${n}): bytes sent by server0, server1, dealer`);
          assert.ok(t.log.every((m) => m.to !== 'dealer'), `${label}: the dealer receives nothing`);
        };
        await check('truncate', () => p.truncate(x), 2 + log2l, [c.server, c.server, c.producer]);
        // a product: the Beaver openings (2n each) and the triple's c (n) first
        await check('mul', () => p.mul(x, x), 3 + log2l, [c.server + 2 * n * E, c.server + 2 * n * E, c.producer + n * E]);
      }
    });

    it('what each party receives is uniform, for zeros and large values alike', async () => {
      const views = async (value: number) => {
        const t = new RoundTransport();
        const p = det(precision, t as unknown as MemoryTransport);
        const x = await p.encrypt(alice, new Float64Array(4096).fill(value));
        await p.mul(x, x);
        t.reset();
        await p.truncate(x);
        const out = new Map<string, Uint8Array[]>();
        for (const m of t.log) {
          const k = `${m.to}<${m.from}`;
          out.set(k, [...(out.get(k) ?? []), m.payload]);
        }
        return out;
      };
      const [zero, big] = [await views(0), await views(precision === 'low' ? 12345.678 : 1.2e9)];
      assert.deepEqual([...zero.keys()].sort(), ['server0<server1', 'server1<dealer', 'server1<server0']);
      for (const [k, ps] of zero) {
        assertUniformBits(ps, `${k} (zeros)`);
        assertUniformBits(big.get(k)!, `${k} (large)`);
        assertSameFrequencies(ps, big.get(k)!, k);
      }
    });
  });
}

describe('Pond deterministic truncation: SPMD', () => {
  it('one process per group of players (the producer in its own) gives the same exact results', async () => {
    const xs = Array.from({ length: 40 }, (_, i) => Math.sin(i) * 300);
    let ref: bigint[] | undefined;
    for (const groups of [[['server0'], ['server1'], ['dealer'], ['alice']], [['server0', 'alice'], ['server1', 'dealer']], [['server0', 'server1', 'dealer', 'alice']]]) {
      const hub = new MemoryHub();
      const results = await Promise.all(groups.map(async (local) => {
        const p = new Pond(s0, s1, dealer, { transport: new MemoryTransport({ hub, local }), players: [alice], id: 'spmd-pdt', timeoutMs: 10000, truncation: 'deterministic' });
        const here = local.includes('alice');
        const x = await p.encrypt(alice, here ? xs : undefined, { shape: [40] });
        const outs = [await p.mul(x, x), await p.truncate(x), await p.divPublic(x, 5)];
        const vals = await Promise.all(outs.map((o) => p.revealRing(o, alice)));
        return here ? vals.flatMap((v) => v!.toSignedBigInts()) : undefined;
      }));
      const got = results.find((r) => r !== undefined)!;
      ref ??= got;
      assert.deepEqual(got, ref, groups.map((g) => g.join('+')).join(' | '));
    }
    const X = (await (async () => { const p = det('low'); return readInts(p, await p.encrypt(alice, xs)); })());
    assert.deepEqual(ref!.slice(0, 40), X.map((v) => rnd(v * v, 16)));
  });
});

describe('Pond option truncation', () => {
  it('is checked, naming it; deterministic needs a dealing producer', () => {
    assert.throws(() => new Pond(s0, s1, dealer, { truncation: 'exact' as never }), (e: Error) => e instanceof RangeError && /Pond: option 'truncation' must be 'probabilistic' or 'deterministic'/.test(e.message));
    const td = new TrustedDealer(dealer);
    assert.throws(() => new Pond(s0, s1, { player: dealer, triple: (req) => td.triple(req) }, { truncation: 'deterministic' }), (e: Error) => e instanceof TypeError && /option truncation: 'deterministic'/.test(e.message) && /argument 'cryptoProducer'/.test(e.message));
    assert.equal(new Pond(s0, s1, dealer).truncation, 'probabilistic');
  });
});
