/**
 * The secure-aggregation hot path: fused fixed-point kernels (encodeSubInto,
 * decodeSumInto) against a BigInt reference, the RingArena working set,
 * Prg.ringTensorInto, and ABY3.encryptSum / revealInto against the plaintext
 * reference and against the unfused encryptEncoded + addN + revealRing path,
 * with what each party receives, bytes per player, and SPMD runs with one
 * simulated process per player group.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Prg } from '../../src/crypto/prg.js';
import { RingArena } from '../../src/encrypted/arena.js';
import { decodeSumInto, encode, encodeSubInto, FIXED_HIGH, FIXED_LOW, type FixedPointConfig } from '../../src/encrypted/fixed.js';
import { ABY3, EncodingRangeError, Player, SensitivityError, ShapeMismatchError } from '../../src/encrypted/index.js';
import { RingTensor } from '../../src/ring/index.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/index.js';
import { RecordingTransport } from './recording.js';

const CFGS: FixedPointConfig[] = [FIXED_LOW, FIXED_HIGH];

/** BigInt reference of one element: the l-bit word of round(x * mult * 2^f) (the same double product as the kernels). */
function refWord(x: number, mult: number, cfg: FixedPointConfig): bigint {
  return BigInt.asUintN(cfg.bits, BigInt(Math.round(x * (2 ** cfg.frac * mult))));
}

const word = (t: RingTensor, i: number): bigint => t.get(i);

/** Floats that stay encodable at `mult`: mostly small, some near the range limits, negatives, zeros and ties. */
function floatsFor(cfg: FixedPointConfig, mult: number): fc.Arbitrary<number[]> {
  const lim = (cfg.bound / Math.abs(mult)) * (1 - 2 ** -40);
  return fc.array(
    fc.oneof(
      fc.double({ min: -1e3, max: 1e3, noNaN: true }),
      fc.double({ min: -lim, max: lim, noNaN: true }),
      fc.constantFrom(0, -0, lim, -lim, 0.5 * 2 ** -cfg.frac, -0.5 * 2 ** -cfg.frac, 1.5 * 2 ** -cfg.frac, -2.5 * 2 ** -cfg.frac),
      // where floor(v + 0.5) is not Math.round(v): v = 0.49999999999999994, odd |v| >= 2^52
      fc.constantFrom(0.49999999999999994, -0.49999999999999994, 2 ** 52 + 1, -(2 ** 52 + 1), 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 52 - 0.5, -(2 ** 52 - 0.5)).map((v) => v * 2 ** -cfg.frac / mult),
      fc.integer({ min: -(2 ** 30), max: 2 ** 30 }).map((k) => k * 2 ** -(cfg.frac + 1)),
    ),
    { minLength: 1, maxLength: 40 },
  );
}

describe('encodeSubInto (fused encode and mask, no BigInt)', () => {
  for (const cfg of CFGS) {
    it(`out + r0 + r1 is the BigInt reference encoding, at ${cfg.precision} precision (random values, range limits, negatives, ties, multipliers)`, () => {
      fc.assert(
        fc.property(fc.constantFrom(1, 1 / 3, 0.25, -2, 7.5e-4), fc.integer({ min: 0, max: 2 ** 31 }), (mult, salt) => {
          const xs = fc.sample(floatsFor(cfg, mult), { numRuns: 1, seed: salt })[0]!;
          const n = xs.length;
          const values = Float64Array.from(xs);
          const r0 = new Prg().ringTensor(cfg.bits, [n]);
          const r1 = new Prg().ringTensor(cfg.bits, [n]);
          const out = encodeSubInto(values, mult, cfg, r0, r1, new RingTensor(cfg.bits, [n]));
          const enc = encode(values, [n], cfg, 'encode', mult);
          for (let i = 0; i < n; i++) {
            const sum = BigInt.asUintN(cfg.bits, word(out, i) + word(r0, i) + word(r1, i));
            assert.equal(sum, refWord(values[i]!, mult, cfg), `element ${i} (${values[i]} x ${mult})`);
            assert.equal(word(enc, i), sum, 'same as encode');
          }
        }),
        { numRuns: 60 },
      );
    });

    it(`Float32Array input gives the same words as its Float64 copy (${cfg.precision})`, () => {
      const x32 = Float32Array.from({ length: 257 }, (_, i) => Math.sin(i * 1.7) * 10 ** ((i % 9) - 4));
      const n = x32.length;
      const r0 = new Prg().ringTensor(cfg.bits, [n]);
      const r1 = new Prg().ringTensor(cfg.bits, [n]);
      const a = encodeSubInto(x32, 1 / 3, cfg, r0, r1, new RingTensor(cfg.bits, [n]));
      const b = encodeSubInto(Float64Array.from(x32), 1 / 3, cfg, r0, r1, new RingTensor(cfg.bits, [n]));
      assert.deepEqual(a.data, b.data);
    });
  }

  it('rejects NaN, infinities and out-of-range values (EncodingRangeError naming the argument and element) and bad tensors', () => {
    const n = 3;
    const t = () => new RingTensor(64, [n]);
    for (const [bad, re] of [[NaN, /element 1 is NaN/], [Infinity, /element 1 is Infinity/], [2 ** 47, /element 1 is 140737488355328/], [-(2 ** 47), /element 1/]] as const) {
      assert.throws(() => encodeSubInto(Float64Array.of(0, bad, 1), 1, FIXED_LOW, t(), t(), t(), 'f', 'ups'), (e: unknown) => e instanceof EncodingRangeError && /f: argument 'ups'/.test((e as Error).message) && re.test((e as Error).message) && /2\^47/.test((e as Error).message));
    }
    // in range alone, out of range once scaled
    assert.throws(() => encodeSubInto(Float64Array.of(0, 2 ** 40, 1), 2 ** 8, FIXED_LOW, t(), t(), t()), (e: unknown) => e instanceof EncodingRangeError && /times the scale 256/.test((e as Error).message));
    assert.throws(() => encodeSubInto(Float64Array.of(1, 2, 3), NaN, FIXED_LOW, t(), t(), t()), EncodingRangeError);
    assert.throws(() => encodeSubInto(Float64Array.of(1, 2, 3), 1, FIXED_LOW, t(), t(), new RingTensor(64, [4])), (e: unknown) => e instanceof ShapeMismatchError && /'out'/.test((e as Error).message));
    assert.throws(() => encodeSubInto(Float64Array.of(1, 2, 3), 1, FIXED_LOW, new RingTensor(128, [3]), t(), t()), (e: unknown) => e instanceof ShapeMismatchError && /'r0'/.test((e as Error).message));
    assert.throws(() => encodeSubInto(Float64Array.of(1, 2, 3), 1, FIXED_LOW, t(), {} as never, t()), (e: unknown) => e instanceof TypeError && /'r1'/.test((e as Error).message));
  });
});

describe('decodeSumInto (decode of a ring sum, no BigInt, no intermediate sum)', () => {
  for (const cfg of CFGS) {
    it(`matches the BigInt reference for 1..5 random parts, ${cfg.precision} precision, into Float64Array and Float32Array`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 50 }), fc.boolean(), (m, n, small) => {
          const parts = Array.from({ length: m }, () => new Prg().ringTensor(cfg.bits, [n]));
          if (small) {
            // make the sum a small signed value (the mean's usual case): last part = target - others
            const target = Array.from({ length: n }, (_, i) => BigInt(Math.round(Math.sin(i + m) * 2 ** (cfg.frac + 10))));
            for (let i = 0; i < n; i++) {
              let rest = 0n;
              for (let k = 0; k < m - 1; k++) rest += parts[k]!.get(i);
              const w = BigInt.asUintN(cfg.bits, target[i]! - rest);
              if (cfg.bits === 64) parts[m - 1]!.data[i] = w;
              else { parts[m - 1]!.data[2 * i] = BigInt.asUintN(64, w); parts[m - 1]!.data[2 * i + 1] = w >> 64n; }
            }
          }
          const out64 = decodeSumInto(parts, cfg, cfg.frac, new Float64Array(n));
          const out32 = decodeSumInto(parts, cfg, cfg.frac, new Float32Array(n));
          for (let i = 0; i < n; i++) {
            let s = 0n;
            for (const p of parts) s += p.get(i);
            const signed = BigInt.asIntN(cfg.bits, s);
            const want = Number(signed) * 2 ** -cfg.frac;
            // exact when the sum fits a double's 53 bits; else within a few units in the last place
            const tol = signed >= -(2n ** 53n) && signed <= 2n ** 53n ? 0 : Math.abs(want) * 2 ** -50;
            assert.ok(Math.abs(out64[i]! - want) <= tol, `element ${i}: ${out64[i]} vs ${want}`);
            assert.equal(out32[i], Math.fround(out64[i]!));
          }
        }),
        { numRuns: 80 },
      );
    });
  }

  it('divisor: each value divided by it in the decoding (within an ulp of decoding, then dividing); bad divisors refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.double({ min: 1e-3, max: 1e4, noNaN: true }), fc.constantFrom(...CFGS), (n, d, cfg) => {
        const parts = Array.from({ length: 3 }, () => new Prg().ringTensor(cfg.bits, [n]));
        const plain = decodeSumInto(parts, cfg, cfg.frac, new Float64Array(n));
        const divided = decodeSumInto(parts, cfg, cfg.frac, new Float64Array(n), d);
        for (let i = 0; i < n; i++) assert.ok(Math.abs(divided[i]! - plain[i]! / d) <= Math.abs(plain[i]! / d) * 2 ** -50, `element ${i}: ${divided[i]} vs ${plain[i]! / d}`);
      }),
      { numRuns: 60 },
    );
    for (const bad of [0, -1, NaN, Infinity, '2' as never]) {
      assert.throws(() => decodeSumInto([new RingTensor(64, [1])], FIXED_LOW, 16, new Float64Array(1), bad), (e: unknown) => e instanceof RangeError && /argument 'divisor' must be a finite number > 0/.test((e as Error).message));
    }
  });

  it('rejects an empty parts list, non-tensors and size or ring mismatches', () => {
    assert.throws(() => decodeSumInto([], FIXED_LOW, 16, new Float64Array(1)), TypeError);
    assert.throws(() => decodeSumInto([{} as never], FIXED_LOW, 16, new Float64Array(1)), (e: unknown) => e instanceof TypeError && /'parts\[0\]'/.test((e as Error).message));
    assert.throws(() => decodeSumInto([new RingTensor(64, [2])], FIXED_LOW, 16, new Float64Array(3)), (e: unknown) => e instanceof ShapeMismatchError && /'parts\[0\]' has 2 elements/.test((e as Error).message));
    assert.throws(() => decodeSumInto([new RingTensor(128, [3])], FIXED_LOW, 16, new Float64Array(3)), ShapeMismatchError);
  });
});

describe('RingArena and Prg.ringTensorInto', () => {
  it('pooled: reuses a given-back buffer (best fit, views of the right size), dispose returns the rest; unpooled: fresh zeroed tensors', () => {
    RingArena.clearPool();
    const a = new RingArena();
    const t1 = a.take(64, [1000]);
    assert.equal(t1.size, 1000);
    const buf = t1.data.buffer;
    a.give(t1);
    assert.equal(RingArena.pooledBytes, 8000);
    const t2 = a.take(64, [900]);
    assert.equal(t2.data.buffer, buf, 'the same memory, reused');
    assert.equal(t2.data.length, 900);
    const t3 = a.take(128, [10]);
    assert.notEqual(t3.data.buffer, buf);
    assert.equal(t3.data.length, 20);
    a.dispose();
    assert.equal(RingArena.pooledBytes, 8000 + 160);
    // too large a buffer for a small request is not handed out
    const b = new RingArena();
    const small = b.take(64, [10]);
    assert.notEqual(small.data.buffer, buf);
    b.dispose();
    const u = new RingArena({ pooled: false });
    const f = u.take(64, [5]);
    assert.ok(f.data.every((w) => w === 0n));
    u.give(f);
    u.dispose();
    RingArena.clearPool();
    assert.equal(RingArena.pooledBytes, 0);
    assert.throws(() => new RingArena({ pooled: 'yes' as never }), (e: unknown) => e instanceof TypeError && /'pooled'/.test((e as Error).message));
    assert.throws(() => new RingArena(null as never), TypeError);
  });

  it('the pool keeps at most maxPooledBytes', () => {
    RingArena.clearPool();
    const old = RingArena.maxPooledBytes;
    RingArena.maxPooledBytes = 10_000;
    try {
      const a = new RingArena();
      a.take(64, [1000]);
      a.take(64, [1000]);
      a.dispose();
      assert.equal(RingArena.pooledBytes, 8000);
    } finally {
      RingArena.maxPooledBytes = old;
      RingArena.clearPool();
    }
  });

  it('Prg.ringTensorInto writes the same stream as ringTensor, into the given memory', () => {
    const seed = new Prg().seed;
    const want = new Prg(seed).ringTensor(128, [777]);
    const t = new RingTensor(128, [777]);
    assert.equal(new Prg(seed).ringTensorInto(t), t);
    assert.deepEqual(t.data, want.data);
    assert.throws(() => new Prg().ringTensorInto({} as never), (e: unknown) => e instanceof TypeError && /"t"/.test((e as Error).message));
  });
});

const servers = ['server0', 'server1', 'server2'].map((n) => new Player(n)) as [Player, Player, Player];
const owners = ['o0', 'o1', 'o2'].map((n) => new Player(n));
const target = new Player('mo');

/** out equals sum_k mult[k] * xs[k] within the fixed-point bound (3 owners' encodings, u/2 each) plus float32 output rounding. */
function checkWeightedSum(out: Float32Array, xs: Float32Array[], mult: number[], frac: number): void {
  const u = 2 ** -frac;
  for (let i = 0; i < out.length; i++) {
    const want = mult[0]! * xs[0]![i]! + mult[1]! * xs[1]![i]! + mult[2]! * xs[2]![i]!;
    assert.ok(Math.abs(out[i]! - want) <= 1.5 * u + Math.abs(want) * 2 ** -23, `element ${i}: ${out[i]} vs ${want}`);
  }
}

/**
 * Run `round` SPMD: each group of players in its own simulated process (one
 * MemoryTransport per group on one hub), for several groupings; only the group
 * with the target gets the weighted mean of the three owners' inputs.
 */
async function checkSpmd(id: string, round: (p: ABY3, local: string[], inputs: (Float32Array | undefined)[], mult: number[], n: number) => Promise<Float32Array | undefined>): Promise<void> {
  const n = 64;
  const xs = [0, 1, 2].map((k) => Float32Array.from({ length: n }, (_, i) => Math.cos(i + k) * 3));
  const mult = [0.2, 0.3, 0.5];
  const groupings: string[][][] = [
    [['o0'], ['o1'], ['o2'], ['server0'], ['server1'], ['server2'], ['mo']],
    [['o0', 'server0'], ['o1', 'server1', 'server2', 'mo'], ['o2']],
    [['o0', 'o1', 'server2'], ['server0', 'server1'], ['o2', 'mo']],
  ];
  for (const groups of groupings) {
    const hub = new MemoryHub();
    const results = await Promise.all(groups.map(async (local) => {
      const t = new MemoryTransport({ hub, local });
      const p = new ABY3(...servers, { precision: 'low', transport: t, players: [...owners, target], id, timeoutMs: 5000 });
      return round(p, local, owners.map((o, k) => (local.includes(o.name) ? xs[k] : undefined)), mult, n);
    }));
    groups.forEach((g, i) => {
      if (!g.includes('mo')) assert.equal(results[i], undefined, `${g.join('+')} gets nothing`);
      else {
        const out = results[i]!;
        for (let e = 0; e < n; e++) {
          const want = mult[0]! * xs[0]![e]! + mult[1]! * xs[1]![e]! + mult[2]! * xs[2]![e]!;
          assert.ok(Math.abs(out[e]! - want) <= 2 ** -15, `${groups.map((x) => x.join('+')).join(' | ')}: element ${e}`);
        }
      }
    });
  }
}

describe('ABY3.encryptSum + revealInto', () => {
  for (const precision of ['low', 'high'] as const) {
    it(`weighted sum of 3 owners equals the plaintext reference and the unfused path bit for bit (${precision}); bytes as in theory; servers get seeds and masked words only`, async () => {
      const cfg = precision === 'low' ? FIXED_LOW : FIXED_HIGH;
      const E = cfg.bits / 8;
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 300 }), fc.array(fc.double({ min: 0.01, max: 5, noNaN: true }), { minLength: 3, maxLength: 3 }), fc.boolean(), async (n, mult, pooled) => {
          const xs = [0, 1, 2].map((k) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * (k + 2) + n) * 100));
          const t = new RecordingTransport();
          const p = new ABY3(...servers, { precision, transport: t, players: [...owners, target] });
          const arena = new RingArena({ pooled });
          const sum = await p.encryptSum(owners, xs, mult, { arena });
          const st = t.stats();
          for (const o of owners) assert.equal(st[o.name]!.bytesSent, n * E + 64, 'each owner: one full masked component (to server1) and four seeds');
          assert.equal(st['server1']!.bytesSent, n * E + 16, 'server1: the sum of the components 2, to server2 (and its set-up key)');
          const fwd = t.log.filter((g) => g.from === 'server1' && g.to === 'server2' && g.key.endsWith('/x2sum') && g.bytes.length === n * E);
          assert.equal(fwd.length, 1, 'server2 receives the components 2 only as their sum');
          // what the servers receive from owners: 32 + 16 + 16 seed bytes, and x2 = x - r0 - r1 (not the encoding)
          for (const [k, o] of owners.entries()) {
            const m = t.log.filter((g) => g.from === o.name);
            assert.deepEqual(m.map((g) => `${g.to}:${g.key.split('/').pop()}:${g.bytes.length}`).sort(), [`server0:seeds01:32`, `server1:x2:${n * E}`, `server1:seed1:16`, `server2:seed0:16`].sort());
            const x2 = m.find((g) => g.to === 'server1' && g.key.endsWith('/x2'))!.bytes;
            const enc = encode(xs[k]!, [n], cfg, 'e', mult[k]);
            assert.notDeepEqual(x2, new Uint8Array(enc.data.buffer), 'masked');
            // the seeds sent reproduce the masks: x2 + PRG(seed0) + PRG(seed1) = encoding
            const seeds = m.find((g) => g.to === 'server0')!.bytes;
            const r0 = new Prg(seeds.slice(0, 16)).ringTensor(cfg.bits, [n]);
            const r1 = new Prg(seeds.slice(16, 32)).ringTensor(cfg.bits, [n]);
            const x2t = new RingTensor(cfg.bits, [n], new BigUint64Array(x2.slice().buffer));
            for (let i = 0; i < n; i++) assert.equal(BigInt.asUintN(cfg.bits, x2t.get(i) + r0.get(i) + r1.get(i)), enc.get(i));
          }
          t.log.length = 0;
          const out = new Float32Array(n);
          assert.equal(await p.revealInto(sum, target, out), out);
          // reveal: x0 + x1 from server0 and x2 from server2, to the target only
          assert.deepEqual(t.log.map((g) => `${g.from}>${g.to}:${g.bytes.length}`).sort(), [`server0>mo:${n * E}`, `server2>mo:${n * E}`]);
          // unfused path on the same protocol: identical ring value
          const ref = await p.revealRing(p.addN(await Promise.all(owners.map((o, k) => p.encryptEncoded(o, (c) => encode(xs[k]!, [n], c, 'e', mult[k]), [n])))), target);
          const dec = new Float32Array(n);
          decodeSumInto([ref!], cfg, cfg.frac, dec);
          assert.deepEqual(out, dec);
          checkWeightedSum(out, xs, mult, cfg.frac);
          arena.dispose();
          await t.close();
        }),
        { numRuns: 8 },
      );
      RingArena.clearPool();
    });
  }

  it('SPMD: each player (or group of players) in its own simulated process gives the same mean, only at the target', async () => {
    await checkSpmd('spmd', async (p, _local, inputs, mult, n) => p.revealInto(await p.encryptSum(owners, inputs, mult, { size: n, arena: new RingArena({ pooled: false }) }), target, new Float32Array(n)));
  });

  it('bad input: argument checks name the argument; a bad value at an owner is rejected before anything is sent', async () => {
    const t = new MemoryTransport();
    const p = new ABY3(...servers, { transport: t, players: [...owners, target] });
    const ok = owners.map(() => new Float32Array(4));
    const w = [1, 1, 1];
    await assert.rejects(p.encryptSum([], [], []), (e: unknown) => e instanceof TypeError && /'owners'/.test((e as Error).message));
    await assert.rejects(p.encryptSum(owners, ok.slice(0, 2), w), (e: unknown) => e instanceof TypeError && /'inputs'/.test((e as Error).message));
    await assert.rejects(p.encryptSum(owners, ok, [1, 1]), (e: unknown) => e instanceof TypeError && /'multipliers'/.test((e as Error).message));
    await assert.rejects(p.encryptSum(owners, ok, [1, NaN, 1]), (e: unknown) => e instanceof RangeError && /'multipliers\[1\]'/.test((e as Error).message));
    await assert.rejects(p.encryptSum(owners, ok, [1, '1' as never, 1]), (e: unknown) => e instanceof TypeError && /'multipliers\[1\]'/.test((e as Error).message));
    await assert.rejects(p.encryptSum(owners, [ok[0]!, [1, 2, 3, 4] as never, ok[2]!], w), (e: unknown) => e instanceof TypeError && /'inputs\[1\]' \(owner 'o1'\)/.test((e as Error).message));
    await assert.rejects(p.encryptSum(owners, [ok[0]!, new Float32Array(5), ok[2]!], w), (e: unknown) => e instanceof ShapeMismatchError && /'inputs\[1\]'.*5 values, expected 4/.test((e as Error).message));
    await assert.rejects(p.encryptSum(owners, ok, w, { size: -1 }), (e: unknown) => e instanceof RangeError && /'size'/.test((e as Error).message));
    await assert.rejects(p.encryptSum(owners, ok, w, { arena: {} as never }), (e: unknown) => e instanceof TypeError && /'arena'/.test((e as Error).message));
    await assert.rejects(p.encryptSum([owners[0]!, 'o1' as never], [ok[0]!, ok[1]!], [1, 1]), (e: unknown) => e instanceof TypeError && /owners\[1\]/.test((e as Error).message));
    await assert.rejects(p.encryptSum(owners, [ok[0]!, ok[1]!, Float32Array.of(0, 0, NaN, 0)], w), (e: unknown) => e instanceof EncodingRangeError && /owner 'o2'.*'inputs\[2\]' element 2 is NaN/.test((e as Error).message));
    assert.deepEqual(t.stats(), {}, 'nothing was sent');
    const remote = new ABY3(...servers, { transport: new MemoryTransport({ local: ['server0'] }), players: [...owners, target] });
    await assert.rejects(remote.encryptSum(owners, [undefined, undefined, undefined], w), (e: unknown) => e instanceof TypeError && /option 'size'/.test((e as Error).message));
    // revealInto
    const sum = await p.encryptSum(owners, ok, w, { sensitivity: [target] });
    assert.throws(() => p.revealInto(sum, target, [0, 0, 0, 0] as never), (e: unknown) => e instanceof TypeError && /'out'/.test((e as Error).message));
    assert.throws(() => p.revealInto(sum, target, new Float32Array(3)), (e: unknown) => e instanceof ShapeMismatchError && /'out' has 3 elements/.test((e as Error).message));
    assert.throws(() => p.revealInto(sum, servers[0], new Float32Array(4)), SensitivityError);
    assert.deepEqual(Array.from((await p.revealInto(sum, target, new Float64Array(4)))!), [0, 0, 0, 0]);
  });
});

describe('ABY3.aggregateInto (secure aggregation revealed to one outside player)', () => {
  for (const precision of ['low', 'high'] as const) {
    it(`equals encryptSum + revealInto bit for bit and the plaintext reference (${precision}); what each party receives`, async () => {
      const cfg = precision === 'low' ? FIXED_LOW : FIXED_HIGH;
      const E = cfg.bits / 8;
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 300 }), fc.array(fc.double({ min: 0.01, max: 5, noNaN: true }), { minLength: 3, maxLength: 3 }), fc.boolean(), fc.integer({ min: 0, max: 2 ** 30 }), async (n, mult, pooled, s) => {
          const xs = [0, 1, 2].map((k) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * (k + 2) + s) * 100));
          const t = new RecordingTransport();
          const p = new ABY3(...servers, { precision, transport: t, players: [...owners, target] });
          const arena = new RingArena({ pooled });
          await p.encryptSum(owners, [new Float32Array(1), new Float32Array(1), new Float32Array(1)], [1, 1, 1]); // set-up (pairwise keys) out of the way
          t.log.length = 0;
          const out = new Float32Array(n);
          assert.equal(await p.aggregateInto(owners, xs, mult, target, out, { arena }), out);
          // owners: 32 B of seeds to server0 and x2 = x - r0 - r1 to server1; nothing else, and nothing reaches server2
          for (const [k, o] of owners.entries()) {
            const m = t.log.filter((g) => g.from === o.name);
            assert.deepEqual(m.map((g) => `${g.to}:${g.bytes.length}`).sort(), [`server0:32`, `server1:${n * E}`]);
            const enc = encode(xs[k]!, [n], cfg, 'e', mult[k]);
            const seeds = m.find((g) => g.to === 'server0')!.bytes;
            const x2 = new RingTensor(cfg.bits, [n], new BigUint64Array(m.find((g) => g.to === 'server1')!.bytes.slice().buffer));
            const r0 = new Prg(seeds.slice(0, 16)).ringTensor(cfg.bits, [n]);
            const r1 = new Prg(seeds.slice(16, 32)).ringTensor(cfg.bits, [n]);
            for (let i = 0; i < n; i++) assert.equal(BigInt.asUintN(cfg.bits, x2.get(i) + r0.get(i) + r1.get(i)), enc.get(i));
          }
          assert.ok(!t.log.some((g) => g.to === 'server2' || g.from === 'server2'), 'server2 takes no part');
          assert.ok(!t.log.some((g) => owners.some((o) => o.name === g.to)), 'owners receive nothing');
          // the target: one sum from server0 and one from server1
          assert.deepEqual(t.log.filter((g) => g.to === 'mo').map((g) => `${g.from}:${g.bytes.length}`).sort(), [`server0:${n * E}`, `server1:${n * E}`]);
          assert.equal(t.log.length, 2 * owners.length + 2);
          // same value as the replicated path
          const ref = await p.revealInto(await p.encryptSum(owners, xs, mult), target, new Float32Array(n));
          assert.deepEqual(out, ref);
          checkWeightedSum(out, xs, mult, cfg.frac);
          arena.dispose();
          await t.close();
        }),
        { numRuns: 8 },
      );
      RingArena.clearPool();
    });
  }

  it('divideByLast: the weighted mean (the last element the total weight) equals the revealed sum divided by it; a non-positive total refused', async () => {
    for (const precision of ['low', 'high'] as const) {
      const n = 50;
      const xs = [0, 1, 2].map((k) => Float32Array.from({ length: n + 1 }, (_, i) => (i === n ? 1 : Math.cos(i * (k + 3)) * 10)));
      const w = [0.5, 2, 3.25];
      const p = new ABY3(...servers, { precision, transport: new MemoryTransport(), players: [...owners, target] });
      const sum = (await p.aggregateInto(owners, xs, w, target, new Float64Array(n + 1)))!;
      let seen: number | undefined;
      const out = (await p.aggregateInto(owners, xs, w, target, new Float32Array(n), { divideByLast: (W) => void (seen = W) }))!;
      assert.equal(seen, sum[n]);
      assert.ok(Math.abs(seen! - 5.75) < 1e-4);
      for (let i = 0; i < n; i++) assert.ok(Math.abs(out[i]! - sum[i]! / sum[n]!) <= Math.abs(sum[i]! / sum[n]!) * 2 ** -22, `element ${i}`);
      // the callback refuses: nothing is decoded
      await assert.rejects(p.aggregateInto(owners, xs, w, target, new Float32Array(n), { divideByLast: () => { throw new RangeError('no mean'); } }), /no mean/);
      // a zero total (every weight 0) is no divisor even if the callback lets it through
      await assert.rejects(p.aggregateInto(owners, xs, [0, 0, 0], target, new Float32Array(n), { divideByLast: () => undefined }), /'divisor' must be a finite number > 0/);
      await assert.rejects(p.aggregateInto(owners, xs, w, target, new Float32Array(n + 1), { divideByLast: () => undefined }), (e: unknown) => e instanceof ShapeMismatchError && /expected 50 \(the last of the 51 divides the others\)/.test((e as Error).message));
    }
  });

  it('aggregateRingInto: the exact ring sum (both rings, values past 2^53 and negatives), the same messages as aggregateInto, server2 taking no part; bad input refused before anything is sent', async () => {
    for (const bits of [64, 128] as const) {
      const t = new RecordingTransport();
      const p = new ABY3(...servers, { precision: bits === 64 ? 'low' : 'high', transport: t, players: [...owners, target] });
      const n = 37;
      const xs = [0, 1, 2].map((k) => RingTensor.fromBigInts(bits, [n], Array.from({ length: n }, (_, i) => (BigInt(i * 7919 + k) << 40n) * (i % 2 ? -1n : 1n) + BigInt(k))));
      const got = (await p.aggregateRingInto(owners, xs, target))!;
      for (let i = 0; i < n; i++) assert.equal(got.get(i), BigInt.asUintN(bits, xs[0]!.get(i) + xs[1]!.get(i) + xs[2]!.get(i)), `element ${i}`);
      const E = bits / 8;
      for (const o of owners) assert.deepEqual(t.log.filter((g) => g.from === o.name).map((g) => `${g.to}:${g.bytes.length}`).sort(), ['server0:32', `server1:${n * E}`]);
      assert.ok(!t.log.some((g) => g.to === 'server2' || g.from === 'server2'), 'server2 takes no part');
      assert.deepEqual(t.log.filter((g) => g.to === 'mo').map((g) => `${g.from}:${g.bytes.length}`).sort(), [`server0:${n * E}`, `server1:${n * E}`]);
      // server1's view of an owner's input is its x2 = x - r0 - r1: two sums of the same inputs give different x2's
      const x2s = (log: typeof t.log) => log.filter((g) => g.from === 'o0' && g.to === 'server1').map((g) => Buffer.from(g.bytes).toString('hex'));
      const first = x2s(t.log);
      t.log.length = 0;
      await p.aggregateRingInto(owners, xs, target);
      assert.notDeepEqual(x2s(t.log), first, 'fresh masks each time');
      await t.close();
    }
    const t = new MemoryTransport();
    const p = new ABY3(...servers, { transport: t, players: [...owners, target] });
    const ok = owners.map(() => new RingTensor(64, [4]));
    await assert.rejects(p.aggregateRingInto(owners, [ok[0]!, ok[1]!, new RingTensor(128, [4])], target), (e: unknown) => e instanceof RangeError && /argument 'inputs\[2\]' \(owner 'o2'\) is in Z_2\^128, this protocol computes in Z_2\^64/.test((e as Error).message));
    await assert.rejects(p.aggregateRingInto(owners, [ok[0]!, ok[1]!, new RingTensor(64, [3])], target), (e: unknown) => e instanceof ShapeMismatchError && /'inputs\[2\]' \(owner 'o2'\) has 3 values, expected 4/.test((e as Error).message));
    await assert.rejects(p.aggregateRingInto(owners, [ok[0]!, ok[1]!, [1, 2, 3, 4] as never], target), (e: unknown) => e instanceof TypeError && /'inputs\[2\]' \(owner 'o2'\) must be a RingTensor/.test((e as Error).message));
    await assert.rejects(p.aggregateRingInto(owners, ok, servers[0]), (e: unknown) => e instanceof TypeError && /argument 'player' must not be a compute server \(got 'server0'\)/.test((e as Error).message));
    await assert.rejects(p.aggregateRingInto(owners, ok.slice(0, 2), target), (e: unknown) => e instanceof TypeError && /argument 'inputs' must be an array with one entry per owner \(3\)/.test((e as Error).message));
    assert.deepEqual(t.stats(), {}, 'nothing was sent');
  });

  it('SPMD: each player (or group) in its own simulated process; only the target gets the value', async () => {
    await checkSpmd('spmd-agg', (p, local, inputs, mult, n) => p.aggregateInto(owners, inputs, mult, target, local.includes('mo') ? new Float32Array(n) : undefined, { size: n }));
  });

  it('bad input: a server as target, a wrong out, bad values before anything is sent', async () => {
    const t = new MemoryTransport();
    const p = new ABY3(...servers, { transport: t, players: [...owners, target] });
    const ok = owners.map(() => new Float32Array(4));
    await assert.rejects(p.aggregateInto(owners, ok, [1, 1, 1], servers[1], new Float32Array(4)), (e: unknown) => e instanceof TypeError && /argument 'player' must not be a compute server \(got 'server1'\)/.test((e as Error).message));
    await assert.rejects(p.aggregateInto(owners, ok, [1, 1, 1], new Player('eve'), new Float32Array(4)), /'player'/);
    await assert.rejects(p.aggregateInto(owners, ok, [1, 1, 1], target, [0, 0, 0, 0] as never), (e: unknown) => e instanceof TypeError && /'out'/.test((e as Error).message));
    await assert.rejects(p.aggregateInto(owners, ok, [1, 1, 1], target, new Float32Array(3)), (e: unknown) => e instanceof ShapeMismatchError && /'out' has 3 elements, expected 4/.test((e as Error).message));
    await assert.rejects(p.aggregateInto(owners, [ok[0]!, ok[1]!, Float32Array.of(0, Infinity, 0, 0)], [1, 1, 1], target, new Float32Array(4)), (e: unknown) => e instanceof EncodingRangeError && /ABY3.aggregateInto: owner 'o2'/.test((e as Error).message));
    await assert.rejects(p.aggregateInto(owners, ok, [1, 1], target, new Float32Array(4)), (e: unknown) => e instanceof TypeError && /'multipliers'/.test((e as Error).message));
    assert.deepEqual(t.stats(), {}, 'nothing was sent');
  });
});
