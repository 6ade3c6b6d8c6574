/**
 * ABY3's deterministic truncation (option truncation: 'deterministic',
 * aby3-trunc.ts): truncate, mul, matmul, mulPublic and divPublic equal the
 * plaintext reference bit for bit (X / 2^s rounded to nearest, ties up:
 * floor((X + 2^(s-1)) / 2^s) over the integers) on random and edge inputs at
 * both precisions, including values where the
 * probabilistic truncation fails with probability >= 1/4 (shown to fail
 * there); rounds and bytes equal docs/encrypted-ml.md's formula; what each
 * server receives is uniformly masked; SPMD runs; the option is checked.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ABY3, Player, type ReplicatedTensor } from '../../src/encrypted/index.js';
import { encodeScalar, FIXED_HIGH, FIXED_LOW } from '../../src/encrypted/fixed.js';
import { carryAnds, exactTruncCost } from '../../src/encrypted/protocols/aby3-trunc.js';
import { planeWords } from '../../src/encrypted/protocols/aby3-binary.js';
import { RingTensor } from '../../src/ring/index.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/index.js';
import { RoundTransport } from './rounds.js';
import { assertSameFrequencies, assertUniformBits } from './uniform.js';

const [s0, s1, s2, alice] = ['server0', 'server1', 'server2', 'alice'].map((n) => new Player(n)) as [Player, Player, Player, Player];
const cfgOf = (precision: 'low' | 'high') => (precision === 'low' ? FIXED_LOW : FIXED_HIGH);
const ringOf = (l: 64 | 128, vs: bigint[], shape = [vs.length]) => RingTensor.fromBigInts(l, shape, vs.map((v) => BigInt.asUintN(l, v)));
const readInts = async (p: ABY3, x: ReplicatedTensor) => (await p.revealRing(x, alice))!.toSignedBigInts();
/** X / 2^s rounded to nearest, ties up, over the integers (the reference). */
const rnd = (X: bigint, s: bigint | number) => (X + (1n << (BigInt(s) - 1n))) >> BigInt(s);
const det = (precision: 'low' | 'high', transport = new MemoryTransport()) => new ABY3(s0, s1, s2, { precision, transport, players: [alice], truncation: 'deterministic' });

/** The edges of the l-bit ring: 0, +-1, +-2^f, the ring's extremes and their neighbours. */
function edges(l: number, f: number): bigint[] {
  const half = 1n << BigInt(l - 1);
  return [0n, 1n, -1n, 2n, -2n, 1n << BigInt(f), -(1n << BigInt(f)), (1n << BigInt(f)) - 1n, -(1n << BigInt(f)) + 1n, half - 1n, -half, half - 2n, -half + 1n, half >> 1n, -(half >> 1n)];
}
const ringArb = (l: number) => fc.array(fc.bigInt({ min: -(1n << BigInt(l - 1)), max: (1n << BigInt(l - 1)) - 1n }), { minLength: 1, maxLength: 60 });
/** Fixed-point values up to `mag` in magnitude, zero and negatives included. */
const floatsArb = (n: number, mag: number) => fc.array(fc.oneof(fc.double({ min: -mag, max: mag, noNaN: true }), fc.constantFrom(0, -0, 1, -1, mag, -mag)), { minLength: n, maxLength: n });

for (const precision of ['low', 'high'] as const) {
  const cfg = cfgOf(precision);
  const l = cfg.bits;
  const f = BigInt(cfg.frac);
  const asInt = (v: bigint) => BigInt.asIntN(l, v);
  describe(`ABY3 deterministic truncation equals the plaintext reference bit for bit (precision ${precision})`, () => {
    it('truncate: every ring value, edges and random, gives X / 2^f rounded to nearest (ties up), the ring extremes included', async () => {
      const p = det(precision);
      await fc.assert(fc.asyncProperty(ringArb(l), async (rand) => {
        const vs = [...edges(l, cfg.frac), ...rand];
        const t = await p.truncate(await p.encryptInts(alice, ringOf(l, vs)));
        assert.deepEqual(await readInts(p, t), vs.map((v) => rnd(v, f)));
      }), { numRuns: 8 });
    });

    it('mul and matmul of random fixed-point values: the ring product rounded to nearest, decoded within (-2^-(f+1), 2^-(f+1)] of the exact product', async () => {
      const p = det(precision);
      const mag = precision === 'low' ? 3e4 : 1e9;
      await fc.assert(fc.asyncProperty(floatsArb(24, mag), floatsArb(24, mag), async (xs, ys) => {
        const [x, y] = [await p.encrypt(alice, xs, { shape: [4, 6] }), await p.encrypt(alice, ys, { shape: [4, 6] })];
        const [X, Y] = [await readInts(p, x), await readInts(p, y)];
        const m = await p.mul(x, y);
        const got = await readInts(p, m);
        assert.deepEqual(got, X.map((v, i) => rnd(asInt(v * Y[i]!), f)));
        got.forEach((v, i) => {
          const err = v * (1n << f) - X[i]! * Y[i]!; // (result - exact) scaled by 2^(2f)
          assert.ok(err <= 1n << (f - 1n) && err > -(1n << (f - 1n)), `mul element ${i}: rounding error within half a unit`);
        });
        const yT = await p.encrypt(alice, ys, { shape: [6, 4] });
        const mm = await p.matmul(x, yT);
        const want: bigint[] = [];
        for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) {
          let acc = 0n;
          for (let k = 0; k < 6; k++) acc += X[i * 6 + k]! * Y[k * 4 + j]!;
          want.push(rnd(asInt(acc), f));
        }
        assert.deepEqual(await readInts(p, mm), want);
      }), { numRuns: 4 });
    });

    it('divPublic (shift f + k, not a power of two) and mulPublic: the encoded constant times x, rounded to nearest, exactly', async () => {
      const p = det(precision);
      await fc.assert(fc.asyncProperty(floatsArb(30, 1e4), fc.double({ min: 1.5, max: 700, noNaN: true }), fc.boolean(), async (xs, c, negate) => {
        const d = negate ? -c : c;
        const x = await p.encrypt(alice, xs);
        const X = await readInts(p, x);
        // divPublic: 1/d encoded with f + k fractional bits, k = ceil(log2 |d|) (capped at l - 2 - 3f), the product shifted by f + k
        const k = Math.max(0, Math.min(Math.ceil(Math.log2(Math.abs(d))), l - 2 - 3 * cfg.frac));
        const inv = encodeScalar(1 / d, { ...cfg, frac: cfg.frac + k, bound: cfg.bound / 2 ** k });
        assert.deepEqual(await readInts(p, await p.divPublic(x, d)), X.map((v) => rnd(asInt(v * inv), cfg.frac + k)));
        const m = encodeScalar(d / 7, cfg);
        assert.deepEqual(await readInts(p, await p.mulPublic(x, d / 7)), X.map((v) => rnd(asInt(v * m), f)));
        const got = await p.reveal(await p.divPublic(x, d), alice);
        xs.forEach((v, i) => assert.ok(Math.abs(got.read()[i]! - v / d) <= 2 ** -cfg.frac + Math.abs(v / d) * 2 ** -cfg.frac, `divPublic element ${i}`));
      }), { numRuns: 4 });
    });

    it('near the failure threshold: products with |X| = 3 2^(l-4) (probabilistic fails with probability 3/8) fail under probabilistic, never under deterministic', async () => {
      // |x y| 2^(2f) about 3 2^(l-4): x = y = sqrt(3 2^(l-4-2f)), signs mixed
      const base = Math.sqrt(3 * 2 ** (l - 4 - 2 * cfg.frac));
      const n = 64;
      const xs = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? base : -base) * (1 + i / 1000));
      const ys = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? -base : base));
      const prob = new ABY3(s0, s1, s2, { precision, transport: new MemoryTransport(), players: [alice] });
      const p = det(precision);
      let probFailures = 0;
      for (let trial = 0; trial < 4; trial++) {
        for (const [proto, isDet] of [[prob, false], [p, true]] as const) {
          const [x, y] = [await proto.encrypt(alice, xs), await proto.encrypt(alice, ys)];
          const [X, Y] = [await readInts(proto, x), await readInts(proto, y)];
          X.forEach((v, i) => {
            const prod = v * Y[i]!;
            const mag = prod < 0n ? -prod : prod;
            assert.ok(mag >= 1n << BigInt(l - 3) && mag < 1n << BigInt(l - 2), `element ${i}: |X| in [2^(l-3), 2^(l-2)): failure probability >= 1/4`);
          });
          const got = await readInts(proto, await proto.mul(x, y));
          const want = X.map((v, i) => rnd(v * Y[i]!, f));
          if (isDet) assert.deepEqual(got, want, 'deterministic: exact');
          else probFailures += got.filter((v, i) => v - want[i]! > 1n || v - want[i]! < -1n).length;
        }
      }
      // 256 elements failing independently with probability >= 1/4: none fails with probability < 1e-31
      assert.ok(probFailures > 0, 'the probabilistic truncation fails at least once here');
    });

    it('an all-zero input, shapes [0], [1] and [2, 3, 5] (fused mul and truncate)', async () => {
      const p = det(precision);
      for (const shape of [[0], [1], [2, 3, 5]]) {
        const n = shape.reduce((a, b) => a * b, 1);
        const z = await p.encrypt(alice, new Float64Array(n), { shape });
        const m = await p.mul(z, z);
        assert.deepEqual(m.shape, shape);
        assert.deepEqual(await readInts(p, m), new Array(n).fill(0n));
        assert.deepEqual(await readInts(p, await p.truncate(z)), new Array(n).fill(0n));
      }
    });
  });

  describe(`ABY3 deterministic truncation: rounds, bytes and views (precision ${precision})`, () => {
    const E = l / 8;
    const log2l = Math.log2(l);
    it('rounds = 4 + log2 l and bytes per server equal the formula (truncate, mul, matmul, divPublic)', async () => {
      // ANDed planes for s = f: generate l, the tree over [0, l) 2(l - 1) - log2 l, and the nodes of the tree over
      // [0, f - 1) that it lacks (by hand: f = 16: [12,15), [8,15) with propagate, [0,15): 5; f = 32: [28,31), [24,31), [16,31), [0,31): 7)
      const P = 3 * l - 2 - log2l + (l === 64 ? 5 : 7);
      assert.equal(carryAnds(l, cfg.frac).reduce((a, b) => a + b, 0), P);
      const t = new RoundTransport();
      const p = det(precision, t as unknown as MemoryTransport);
      for (const n of [1, 45, 320]) {
        const B = 4 * planeWords(n); // bytes per bit plane
        const x = await p.encrypt(alice, Float64Array.from({ length: n }, (_, i) => Math.sin(i) * 50));
        const y = await p.encrypt(alice, Float64Array.from({ length: n }, (_, i) => Math.cos(i) * 50));
        await p.mul(x, y); // set-up done
        // server0: a0, the ANDs, y0, the OT pairs for c, w, r; server1: the ANDs, y2; server2: the ANDs, the three pads
        const trunc: [number, number, number] = [B * (l + P) + 7 * n * E, B * P + n * E, B * P + 3 * n * E];
        const fused: [number, number, number] = [trunc[0], trunc[1] + n * E, trunc[2] + n * E];
        assert.deepEqual(exactTruncCost(l, cfg.frac, n, false).bytes, trunc);
        assert.deepEqual(exactTruncCost(l, cfg.frac, n, true).bytes, fused);
        // lock-step rounds: input (and the product's z1, z2 swap), generate, log2 l tree levels, OT, last message;
        // the critical path (each message one deeper than the deepest its sender received) is shorter where the
        // input's lag (server2 waits for a0; in a product servers 1 and 2 wait for z) travels round the ring of
        // AND messages (one server per level) to a server that does not feed the OT: docs/encrypted-ml.md
        const path = l === 64 ? { trunc: 9, fused: 10 } : { trunc: 11, fused: 11 };
        const stageOf = (key: string): string => {
          const m = /\/(?:(z1|z2|in0|y0)|c(\d+)\/z\d|(ot|oth)|(y2))$/.exec(key);
          assert.ok(m !== null, `unexpected message ${key}`);
          return m[1] !== undefined ? 'input' : m[2] !== undefined ? `and${m[2]}` : m[3] !== undefined ? 'ot' : 'last';
        };
        const check = async (label: string, op: () => Promise<unknown>, bytes: [number, number, number], critical: number) => {
          t.reset();
          await op();
          assert.equal(new Set(t.log.map((m) => stageOf(m.key))).size, 4 + log2l, `${label} (n = ${n}): lock-step rounds`);
          assert.equal(t.rounds(), critical, `${label} (n = ${n}): critical path`);
          assert.deepEqual(t.bytes(), bytes, `${label} (n = ${n}): bytes sent by server0, server1, server2`);
        };
        await check('truncate', () => p.truncate(x), trunc, path.trunc);
        await check('mul', () => p.mul(x, y), fused, path.fused);
        const [xm, c] = [p.reshape(x, [n, 1]), p.reshape(await p.encrypt(alice, [0.5]), [1, 1])];
        await check('matmul [n, 1] x [1, 1]', () => p.matmul(xm, c), fused, path.fused);
        // divPublic by 3: shift f + 2, a second carry tree over [0, f + 2) in the same rounds
        const s = cfg.frac + 2;
        const cost = exactTruncCost(l, s, n, false);
        assert.equal(cost.rounds, 4 + log2l);
        // trees over [0, f + 2) and [0, f + 1): each shares all but its last merge with the tree over [0, l) (no propagate there)
        assert.equal(carryAnds(l, s).reduce((a, b) => a + b, 0), 3 * l - 2 - log2l + 2, 'the trees over [0, s), [0, s - 1) add one AND each');
        await check('divPublic', () => p.divPublic(x, 3), cost.bytes, path.trunc);
      }
    });

    it('the probabilistic default is unchanged: mul 2 rounds, truncate 1', async () => {
      const t = new RoundTransport();
      const p = new ABY3(s0, s1, s2, { precision, transport: t as unknown as MemoryTransport, players: [alice] });
      assert.equal(p.truncation, 'probabilistic');
      const x = await p.encrypt(alice, [1, 2, 3]);
      await p.mul(x, x);
      t.reset();
      await p.mul(x, x);
      assert.equal(t.rounds(), 2);
      assert.deepEqual(t.bytes(), [3 * E, 3 * E, 3 * E]);
      t.reset();
      await p.truncate(x);
      assert.equal(t.rounds(), 1);
    });

    it('what each server receives is uniform, for zeros and for large values alike', async () => {
      const n = 4096;
      const views = async (value: number): Promise<Map<string, Uint8Array[]>> => {
        const t = new RoundTransport();
        const p = det(precision, t as unknown as MemoryTransport);
        const x = await p.encrypt(alice, new Float64Array(n).fill(value));
        await p.mul(x, x);
        t.reset();
        await p.mul(x, x);
        await p.truncate(x);
        const out = new Map<string, Uint8Array[]>();
        for (const m of t.log) {
          // by receiver and message kind (AND rounds pooled per receiver)
          const last = m.key.split('/').pop()!;
          const kind = /^z\d$/.test(last) && /\/c\d+\//.test(m.key) ? 'and' : last;
          const k = `${m.to}<${kind}`;
          out.set(k, [...(out.get(k) ?? []), m.payload]);
        }
        return out;
      };
      const [zero, big] = [await views(0), await views(precision === 'low' ? 12345.678 : 1.2e9)];
      assert.deepEqual([...zero.keys()].sort(), ['server0<and', 'server1<and', 'server1<ot', 'server1<oth', 'server1<z2', 'server2<and', 'server2<in0', 'server2<y0', 'server2<y2', 'server2<z1'].sort());
      for (const [k, ps] of zero) {
        assertUniformBits(ps, `${k} (zeros)`);
        assertUniformBits(big.get(k)!, `${k} (large)`);
        assertSameFrequencies(ps, big.get(k)!, k);
      }
    });
  });
}

describe('ABY3 deterministic truncation: SPMD and the option', () => {
  it('one process per group of players gives the same exact results', async () => {
    const xs = Array.from({ length: 40 }, (_, i) => Math.sin(i) * 300);
    const ys = Array.from({ length: 40 }, (_, i) => Math.cos(i) * 300);
    let ref: bigint[] | undefined;
    for (const groups of [[['server0'], ['server1'], ['server2'], ['alice']], [['server0', 'alice'], ['server1', 'server2']], [['server1', 'alice'], ['server0', 'server2']]]) {
      const hub = new MemoryHub();
      const results = await Promise.all(groups.map(async (local) => {
        const p = new ABY3(s0, s1, s2, { transport: new MemoryTransport({ hub, local }), players: [alice], id: 'spmd-dt', timeoutMs: 10000, truncation: 'deterministic' });
        const here = local.includes('alice');
        const x = await p.encrypt(alice, here ? xs : undefined, { shape: [40] });
        const y = await p.encrypt(alice, here ? ys : undefined, { shape: [40] });
        const outs = [await p.mul(x, y), await p.truncate(x), await p.divPublic(y, 5)];
        const vals = await Promise.all(outs.map((o) => p.revealRing(o, alice)));
        return here ? vals.flatMap((v) => v!.toSignedBigInts()) : undefined;
      }));
      const got = results.find((r) => r !== undefined)!;
      ref ??= got;
      assert.deepEqual(got, ref, groups.map((g) => g.join('+')).join(' | '));
    }
    const p = det('low');
    const [x, y] = [await p.encrypt(alice, xs), await p.encrypt(alice, ys)];
    const local = (await Promise.all([p.mul(x, y), p.truncate(x), p.divPublic(y, 5)].map(async (o) => (await p.revealRing(await o, alice))!.toSignedBigInts()))).flat();
    assert.deepEqual(ref, local);
  });

  it("option 'truncation' is checked, naming it", () => {
    for (const bad of ['exact', 1, null, true]) {
      assert.throws(() => new ABY3(s0, s1, s2, { truncation: bad as never }), (e: Error) => e instanceof RangeError && /option 'truncation'/.test(e.message) && /'probabilistic' or 'deterministic'/.test(e.message), String(bad));
    }
    assert.equal(new ABY3(s0, s1, s2, { truncation: 'deterministic' }).truncation, 'deterministic');
  });
});
