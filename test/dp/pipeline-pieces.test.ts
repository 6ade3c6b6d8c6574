/**
 * The pieces of the distributed-DP pipeline, each against an independent
 * reference: rotations (round trip, orthogonality, the DFT against the
 * naive sum, the public per-round seed), L2 clipping, (conditional)
 * stochastic rounding (unbiased; the norm bound respected), modular
 * clipping (exact whenever the true sum is in range), and the parameters
 * against TFF's formulas evaluated independently in Python/scipy.
 *
 * Distribution tests state their false-failure probability; the
 * randomness is the test-only deterministic CSPRNG (test-noise.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dft, fwht, paddedDim, rotate, rotationSeed, unrotate } from '../../src/dp/rotation.js';
import { clipL2, l2Norm } from '../../src/dp/clip.js';
import { inflatedL2NormBound, stochasticRound } from '../../src/dp/discretize.js';
import { countWraps, modClip, signedSum, toResidues } from '../../src/dp/modclip.js';
import { ddpParams, heuristicScale, kStddevs } from '../../src/dp/ddp-params.js';
import { roundedL2NormBound } from '../../src/dp/rdp-distributed.js';
import { testNoise } from './test-noise.js';

const floats = (d: number) => fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: d, maxLength: d });
const close = (a: number, b: number, rel: number, what: string) => assert.ok(Math.abs(a - b) <= rel * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

describe('rotation', () => {
  it('U^T U x = x and ||U x|| = ||x|| for both kinds, any dimension (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }).chain((d) => floats(d)), fc.constantFrom('hadamard' as const, 'dft' as const), fc.string({ minLength: 1, maxLength: 20 }), (x, kind, id) => {
        const v = Float64Array.from(x);
        const seed = rotationSeed(id);
        const y = rotate(kind, v, seed);
        assert.equal(y.length, paddedDim(kind, v.length));
        close(l2Norm(y), l2Norm(v), 1e-12, 'norm');
        const z = unrotate(kind, y, seed, v.length);
        const scale = Math.max(1, l2Norm(v));
        for (let i = 0; i < v.length; i++) assert.ok(Math.abs(z[i]! - v[i]!) <= 1e-12 * scale, `${kind} d=${v.length} i=${i}: ${z[i]} vs ${v[i]}`);
      }),
      { seed: 7, numRuns: 150 },
    );
  });

  it('padding: Hadamard to the next power of 2, DFT to even', () => {
    assert.deepEqual([1, 2, 3, 5, 8, 9, 118282].map((d) => paddedDim('hadamard', d)), [1, 2, 4, 8, 8, 16, 131072]);
    assert.deepEqual([1, 2, 3, 5, 8, 9, 118282].map((d) => paddedDim('dft', d)), [2, 2, 4, 6, 8, 10, 118282]);
  });

  it('the DFT (radix 2 and Bluestein) matches the naive sum', () => {
    for (const m of [1, 2, 3, 8, 12, 17, 100]) {
      const re = Float64Array.from({ length: m }, (_, j) => Math.sin(3 * j + 1)), im = Float64Array.from({ length: m }, (_, j) => Math.cos(5 * j));
      for (const inverse of [false, true]) {
        const r = re.slice(), i2 = im.slice();
        dft(r, i2, inverse);
        const sg = inverse ? 1 : -1;
        for (let k = 0; k < m; k++) {
          let sr = 0, si = 0;
          for (let j = 0; j < m; j++) {
            const t = (sg * 2 * Math.PI * ((j * k) % m)) / m;
            sr += re[j]! * Math.cos(t) - im[j]! * Math.sin(t);
            si += re[j]! * Math.sin(t) + im[j]! * Math.cos(t);
          }
          assert.ok(Math.abs(sr - r[k]!) < 1e-9 && Math.abs(si - i2[k]!) < 1e-9, `m=${m} k=${k}`);
        }
      }
    }
    const a = Float64Array.of(1, 2, 3, 4);
    fwht(a);
    assert.deepEqual([...a], [10, -2, -4, 0]);
  });

  it('the seed is public and per round: same invocation id, same rotation; another id, another', () => {
    const x = Float64Array.from({ length: 64 }, (_, i) => Math.cos(i * i));
    for (const kind of ['hadamard', 'dft'] as const) {
      const a = rotate(kind, x, rotationSeed('round/1'));
      assert.deepEqual(a, rotate(kind, x, rotationSeed('round/1')));
      assert.notDeepEqual(a, rotate(kind, x, rotationSeed('round/2')));
    }
    // Hadamard flattens a one-hot vector completely: every coordinate ±1/sqrt(D)
    const e3 = Float64Array.from({ length: 64 }, (_, i) => (i === 3 ? 1 : 0));
    for (const v of rotate('hadamard', e3, rotationSeed('r'))) assert.equal(Math.abs(v), 1 / 8);
  });

  it('checks its inputs', () => {
    assert.throws(() => rotate('haar' as never, new Float64Array(2), rotationSeed('x')), /"kind"/);
    assert.throws(() => rotate('dft', new Float64Array(2), new Uint8Array(3)), /"seed"/);
    assert.throws(() => unrotate('hadamard', new Float64Array(3), rotationSeed('x'), 3), /"y" has 3 values/);
    assert.throws(() => rotationSeed(''), /"invocationId"/);
  });
});

describe('L2 clipping', () => {
  it('scales onto the ball, leaves shorter vectors alone (property)', () => {
    fc.assert(
      fc.property(floats(17), fc.double({ min: 1e-3, max: 1e4, noNaN: true }), (x, c) => {
        const v = Float64Array.from(x);
        const r = clipL2(v, c);
        const n = l2Norm(v);
        assert.equal(r.clipped, n > c);
        assert.ok(l2Norm(r.values) <= c || !r.clipped);
        if (r.clipped) close(l2Norm(r.values), c, 1e-12, 'clipped norm');
        else assert.deepEqual(r.values, v);
        // direction kept
        if (n > 0) for (let i = 0; i < v.length; i++) close(r.values[i]! * n, v[i]! * Math.min(n, c), 1e-9, 'direction');
      }),
      { seed: 3, numRuns: 200 },
    );
    assert.throws(() => clipL2(Float64Array.of(1, Number.NaN), 1), /non-finite/);
    assert.throws(() => clipL2(Float64Array.of(1), 0), /"clip"/);
  });
});

describe('stochastic rounding', () => {
  it('is unbiased (false-failure probability < 1e-8)', () => {
    const rng = testNoise('rounding');
    // one value, 20000 roundings: ups ~ Binomial(20000, 0.3), sd 64.8; accept within 6 sd (two-sided ~2e-9)
    const x = new Float64Array(20000).fill(-4.7);
    const ups = stochasticRound(x, rng).values.reduce((a, v) => a + (v === -4 ? 1 : 0), 0);
    for (const v of stochasticRound(x, rng).values) assert.ok(v === -5 || v === -4);
    assert.ok(Math.abs(ups - 6000) <= 6 * Math.sqrt(20000 * 0.3 * 0.7), `ups ${ups}`);
    // many values: mean error over N = 2e5 draws has sd <= 1/(2 sqrt(N)); accept within 5.5 sd (< 4e-8)
    const y = Float64Array.from({ length: 2000 }, (_, i) => Math.sin(i) * 50);
    let err = 0;
    for (let t = 0; t < 100; t++) {
      const r = stochasticRound(y, rng).values;
      for (let i = 0; i < y.length; i++) {
        assert.ok(Math.abs(r[i]! - y[i]!) < 1);
        err += r[i]! - y[i]!;
      }
    }
    assert.ok(Math.abs(err / 2e5) <= 5.5 / (2 * Math.sqrt(2e5)), `mean error ${err / 2e5}`);
  });

  it('conditional rounding (β > 0) never exceeds its norm bound, and retries to meet it', () => {
    const rng = testNoise('conditional');
    // every coordinate 1/2: E||r||² = D/2 = c² + D/4 sits on the bound's first terms, so some tries exceed it
    const D = 1000;
    const x = new Float64Array(D).fill(0.5);
    const c = l2Norm(x);
    const beta = 0.99;
    const bound = inflatedL2NormBound(c, 1, beta, D);
    assert.ok(bound < c + Math.sqrt(D), 'the conditional bound is the binding one here');
    let retried = 0;
    for (let t = 0; t < 30; t++) {
      const r = stochasticRound(x, rng, { beta, normBound: c });
      assert.equal(r.bound, bound);
      assert.ok(l2Norm(r.values) <= bound, `norm ${l2Norm(r.values)} > ${bound}`);
      if (r.tries > 1) retried++;
    }
    // P(a try exceeds) ≈ 0.4: no retry in 30 runs has probability < 1e-6
    assert.ok(retried > 0);
    assert.throws(() => stochasticRound(x, rng, { beta, normBound: 0, maxTries: 3 }), /no rounding within norm/);
  });

  it('the inflated bound follows KLS21 §4.1', () => {
    // bound 1 = c + γ sqrt(D); bound 2² = c² + γ²D/4 + sqrt(2 ln(1/β)) γ (c + γ sqrt(D)/2)
    assert.equal(inflatedL2NormBound(2, 0.5, 0, 16), 4);
    const b2 = Math.sqrt(4 + (0.25 * 16) / 4 + Math.sqrt(2 * Math.log(1 / 0.5)) * 0.5 * (2 + 1));
    close(inflatedL2NormBound(2, 0.5, 0.5, 16), Math.min(4, b2), 1e-15, 'β = 0.5');
    // the accountant's integer-domain bound (rdp-distributed.ts) is the same at γ = 1
    for (const [c, beta, dim] of [[3, 0, 10], [40.5, Math.exp(-0.5), 4096], [1e4, 0.99, 131072]] as const) assert.equal(inflatedL2NormBound(c, 1, beta, dim), roundedL2NormBound(c, beta, dim));
    assert.throws(() => inflatedL2NormBound(1, 0, 0, 4), /"gamma"/);
    assert.throws(() => inflatedL2NormBound(1, 1, 1, 4), /"beta"/);
    assert.throws(() => stochasticRound(Float64Array.of(2 ** 40), testNoise()), /"x\[0\]"/);
  });
});

describe('modular clipping', () => {
  it('residue sums decode to the true sum whenever it lies in the signed range (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 20 }), fc.integer({ min: 1, max: 12 }), fc.integer(), (bits, n, s) => {
        const half = 2 ** (bits - 1);
        const per = Math.max(1, Math.floor(half / n));
        const xs = fc.sample(fc.array(fc.integer({ min: -per + 1, max: per - 1 }), { minLength: 9, maxLength: 9 }), { seed: s, numRuns: n }).map((a) => Int32Array.from(a));
        const sums = new Array<bigint>(9).fill(0n);
        const truth = new Float64Array(9);
        for (const x of xs) {
          const m = modClip(x, bits);
          assert.equal(m.wraps, 0);
          toResidues(m.values, bits).forEach((r, i) => {
            assert.ok(r >= 0 && r < 2 ** bits);
            sums[i]! += BigInt(r);
          });
          x.forEach((v, i) => (truth[i]! += v));
        }
        assert.deepEqual(signedSum(sums, bits), truth);
        assert.equal(countWraps(truth, bits), 0);
      }),
      { seed: 11, numRuns: 100 },
    );
  });

  it('values outside the range wrap and are counted', () => {
    const m = modClip(Int32Array.of(127, 128, -128, -129, 300, -300), 8);
    assert.deepEqual([...m.values], [127, -128, -128, 127, 44, -44]);
    assert.equal(m.wraps, 4);
    assert.equal(countWraps([127, 128, -128, -129], 8), 2);
    assert.deepEqual([...signedSum([255n, 256n, 383n, -1n], 8)], [-1, 0, 127, -1]);
    assert.throws(() => modClip(new Int32Array(1), 32), /"bits"/);
  });
});

describe('parameters (TFF distributed_dp.py)', () => {
  it('reproduce TFF’s formulas evaluated independently (Python 3 + scipy.special.erfcinv)', () => {
    // (bits, n, clip, z, modclipProb, β, D) -> k, scale, inflated L2, Δ2, Δ1, (σ_local s)²
    const cases: [number, number, number, number, number, number, number, number, number, number, number, number, number][] = [
      [16, 100, 1, 1, 1e-4, 0, 131072, 3.8905918864130946, 8118.367988641988, 1.0445950063453668, 8480.487844289388, 3070265, 659078.9879900697],
      [16, 100, 1, 1, 1e-4, Math.exp(-0.5), 131072, 3.8905918864130946, 8118.367988641988, 1.000311502815031, 8120.978066803794, 2940109, 659078.9879900697],
      [20, 1000, 0.1, 0.7, 1e-3, 0, 1024, 3.290526731491895, 50973.62763302205, 0.10062777560644458, 5129.872499578535, 164156, 12731.722498942943],
      [12, 10, 2, 0, 1e-4, 0, 8, 3.8905918864130946, 74.44359096912332, 2.0379942327865312, 151.71635349890252, 430, 0],
    ];
    for (const [bits, n, clip, z, modclipProb, beta, D, k, scale, infl, d2, d1, lv] of cases) {
      const p = ddpParams({ mechanism: 'skellam', bits, expectedClients: n, clip, noiseMultiplier: z, modclipProb, beta, dim: D, rotation: 'hadamard' });
      const what = `bits ${bits} n ${n}`;
      close(p.kStddevs, k, 1e-13, `${what} k`);
      close(p.scale, scale, 1e-12, `${what} scale`);
      close(p.inflatedL2, infl, 1e-12, `${what} inflated`);
      close(p.scaledInflatedL2, d2, 1e-12, `${what} Δ2`);
      assert.equal(p.scaledL1, d1, `${what} Δ1`);
      close(p.localVariance, lv, 1e-12, `${what} local variance`);
      close(p.skellamMu, lv / 2, 1e-12, `${what} μ`);
      assert.equal(p.paddedDim, D);
    }
  });

  it('the scale solves 2^b = 2k sqrt(ρ/D (cn)² + (γ²/4 + σ²) n) / γ (γ = 1/s)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 10, max: 24 }), fc.integer({ min: 1, max: 500 }), fc.double({ min: 0.01, max: 10, noNaN: true }), fc.double({ min: 0, max: 5, noNaN: true }), fc.integer({ min: 1, max: 1 << 18 }), (bits, n, c, sigma, D) => {
        const k = kStddevs(1e-4);
        fc.pre(2 ** (2 * bits) > n * k * k);
        const s = heuristicScale(sigma, c, bits, n, D, k);
        const g = 1 / s;
        close((2 * k * Math.sqrt((c * n) ** 2 / D + (g * g / 4 + sigma * sigma) * n)) / g, 2 ** bits, 1e-10, 'identity');
      }),
      { seed: 5, numRuns: 200 },
    );
  });

  it('TFF’s preconditions refuse, naming the argument', () => {
    const o = { mechanism: 'dgauss' as const, bits: 16, expectedClients: 10, clip: 1, noiseMultiplier: 1, dim: 10, rotation: 'dft' as const };
    assert.throws(() => ddpParams({ ...o, bits: 3 }), /"bits" = 3 is below log2/);
    assert.throws(() => ddpParams({ ...o, bits: 4, expectedClients: 16, modclipProb: 1e-6 }), /too small/);
    assert.throws(() => ddpParams({ ...o, localStddev: 1 }), /exactly one/);
    assert.throws(() => ddpParams({ ...o, dim: 0 }), /"dim"/);
    const viaLocal = ddpParams({ ...o, noiseMultiplier: undefined, localStddev: 1 / Math.sqrt(10) });
    close(viaLocal.noiseMultiplier, 1, 1e-15, 'z from the local stddev');
  });
});
