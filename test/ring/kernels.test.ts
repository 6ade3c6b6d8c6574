// Every kernel: the TS reference against an independent BigInt oracle, and the
// wasm kernels against the TS reference, on random inputs (odd sizes, broadcasting).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import * as R from '../../src/ring/index.js';
import {
  backends, bcastGet, bcastShape, bitsArb, broadcastPairArb, elemArb, hasWasm, mod, randomTensor, samePairArb,
  shapeArb, sizeOf, tensorArb, underBackends, unravel, withBackend,
} from './helpers.js';

const RUNS = 60;

function sameResult(r: { ts: R.RingTensor; wasm?: R.RingTensor }): void {
  if (r.wasm === undefined) return;
  assert.deepEqual(r.wasm.shape, r.ts.shape);
  assert.equal(r.wasm.bits, r.ts.bits);
  assert.deepEqual(r.wasm.data, r.ts.data);
}

test('the wasm backend is the default when dist/wasm/ring.wasm exists', () => {
  assert.equal(R.getRingBackend(), hasWasm ? 'wasm' : 'ts');
  if (!hasWasm) console.log('# dist/wasm/ring.wasm missing: wasm-vs-reference checks skipped (run `npm run build`)');
});

const binOps = [
  ['add', R.add, (x: bigint, y: bigint) => x + y],
  ['sub', R.sub, (x: bigint, y: bigint) => x - y],
  ['mul', R.mul, (x: bigint, y: bigint) => x * y],
] as const;

for (const [name, op, f] of binOps) {
  test(`${name}: broadcasting, both backends agree with the BigInt oracle`, () => {
    fc.assert(
      fc.property(broadcastPairArb, ([a, b]) => {
        const r = underBackends(() => op(a, b));
        sameResult(r);
        const shape = bcastShape(a.shape, b.shape);
        assert.deepEqual(r.ts.shape, shape);
        const as = a.toBigInts(), bs = b.toBigInts(), m = mod(a.bits);
        const want = Array.from({ length: sizeOf(shape) }, (_, i) => {
          const idx = unravel(i, shape);
          return (((f(bcastGet(a, as, idx), bcastGet(b, bs, idx)) % m) + m) % m);
        });
        assert.deepEqual(r.ts.toBigInts(), want);
      }),
      { numRuns: RUNS },
    );
  });

  test(`${name}InPlace equals ${name} and writes into dst`, () => {
    const inPlace = name === 'add' ? R.addInPlace : name === 'sub' ? R.subInPlace : R.mulInPlace;
    fc.assert(
      fc.property(samePairArb, fc.boolean(), ([a, b0], scalarB) => {
        // scalarB: a [1]-shaped b broadcast over dst (needs rank >= 1 and at least one element)
        const b = scalarB && a.shape.length > 0 && b0.size > 0 ? R.slice(R.reshape(b0, [-1]), [0], [1]) : b0;
        for (const be of backends) {
          withBackend(be, () => {
            const want = op(a, b);
            const dst = a.clone();
            const ret = inPlace(dst, b);
            assert.equal(ret, dst);
            assert.deepEqual(dst.data, want.data);
          });
        }
      }),
      { numRuns: RUNS },
    );
  });
}

test('neg, addScalar, mulScalar: both backends agree with the oracle (scalars reduced, negatives too)', () => {
  fc.assert(
    fc.property(
      bitsArb.chain((bits) => fc.tuple(shapeArb(3, 9).chain((s) => tensorArb(bits, s)), fc.bigInt({ min: -(1n << 130n), max: 1n << 130n }))),
      ([a, s]) => {
        const m = mod(a.bits);
        const xs = a.toBigInts();
        const cases = [
          [underBackends(() => R.neg(a)), (x: bigint) => -x],
          [underBackends(() => R.addScalar(a, s)), (x: bigint) => x + s],
          [underBackends(() => R.mulScalar(a, s)), (x: bigint) => x * s],
        ] as const;
        for (const [r, f] of cases) {
          sameResult(r);
          assert.deepEqual(r.ts.toBigInts(), xs.map((x) => ((f(x) % m) + m) % m));
        }
        for (const be of backends) {
          withBackend(be, () => {
            assert.deepEqual(R.negInPlace(a.clone()).data, R.neg(a).data);
            assert.deepEqual(R.addScalarInPlace(a.clone(), s).data, R.addScalar(a, s).data);
            assert.deepEqual(R.mulScalarInPlace(a.clone(), s).data, R.mulScalar(a, s).data);
          });
        }
      },
    ),
    { numRuns: RUNS },
  );
});

test('shifts: both backends agree with the oracle (arith vs logical)', () => {
  fc.assert(
    fc.property(
      bitsArb.chain((bits) => fc.tuple(shapeArb(2, 9).chain((s) => tensorArb(bits, s)), fc.integer({ min: 0, max: bits - 1 }))),
      ([a, k]) => {
        const bits = a.bits, K = BigInt(k), m = mod(bits);
        const shl = underBackends(() => R.shl(a, k));
        const shrL = underBackends(() => R.shrLogical(a, k));
        const shrA = underBackends(() => R.shrArith(a, k));
        sameResult(shl);
        sameResult(shrL);
        sameResult(shrA);
        assert.deepEqual(shl.ts.toBigInts(), a.toBigInts().map((x) => (x * (1n << K)) % m));
        assert.deepEqual(shrL.ts.toBigInts(), a.toBigInts().map((x) => x / (1n << K)));
        // arithmetic shift = floor division of the signed value
        const floorDiv = (x: bigint, d: bigint): bigint => (x >= 0n ? x / d : -((-x + d - 1n) / d));
        assert.deepEqual(shrA.ts.toSignedBigInts(), a.toSignedBigInts().map((x) => floorDiv(x, 1n << K)));
        for (const be of backends) {
          withBackend(be, () => {
            assert.deepEqual(R.shlInPlace(a.clone(), k).data, shl.ts.data);
            assert.deepEqual(R.shrLogicalInPlace(a.clone(), k).data, shrL.ts.data);
            assert.deepEqual(R.shrArithInPlace(a.clone(), k).data, shrA.ts.data);
          });
        }
      },
    ),
    { numRuns: RUNS },
  );
});

test('sum: all elements and along each axis (keepDims), both backends agree with the oracle', () => {
  fc.assert(
    fc.property(
      bitsArb.chain((bits) => shapeArb(4, 5).chain((s) => tensorArb(bits, s))),
      fc.boolean(),
      (a, keep) => {
        const m = mod(a.bits);
        const xs = a.toBigInts();
        const all = underBackends(() => R.sum(a, undefined, keep));
        sameResult(all);
        assert.deepEqual(all.ts.shape, keep ? a.shape.map(() => 1) : []);
        assert.deepEqual(all.ts.toBigInts(), [xs.reduce((p, q) => p + q, 0n) % m]);
        for (let ax = -a.shape.length; ax < a.shape.length; ax++) {
          const r = underBackends(() => R.sum(a, ax, keep));
          sameResult(r);
          const axis = ax < 0 ? ax + a.shape.length : ax;
          const outShape = a.shape.map((d, i) => (i === axis ? 1 : d));
          const want = new Array<bigint>(sizeOf(outShape)).fill(0n);
          xs.forEach((x, i) => {
            const idx = unravel(i, a.shape);
            idx[axis] = 0;
            const j = idx.reduce((acc, v, d) => acc * outShape[d]! + v, 0);
            want[j] = (want[j]! + x) % m;
          });
          assert.deepEqual(r.ts.shape, keep ? outShape : a.shape.filter((_, i) => i !== axis));
          assert.deepEqual(r.ts.toBigInts(), want);
        }
      },
    ),
    { numRuns: RUNS },
  );
});

test('matmul: odd shapes, both backends agree with the oracle', () => {
  fc.assert(
    fc.property(
      bitsArb,
      fc.integer({ min: 0, max: 11 }),
      fc.integer({ min: 0, max: 13 }),
      fc.integer({ min: 0, max: 19 }),
      (bits, m, k, n) => {
        const a = randomTensor(bits, [m, k], randomBytes);
        const b = randomTensor(bits, [k, n], randomBytes);
        const r = underBackends(() => R.matmul(a, b));
        sameResult(r);
        const as = a.toBigInts(), bs = b.toBigInts(), M = mod(bits);
        const want: bigint[] = [];
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let acc = 0n;
            for (let p = 0; p < k; p++) acc += as[i * k + p]! * bs[p * n + j]!;
            want.push(acc % M);
          }
        }
        assert.deepEqual(r.ts.shape, [m, n]);
        assert.deepEqual(r.ts.toBigInts(), want);
      },
    ),
    { numRuns: RUNS },
  );
});

test('extreme values: 0, 1, 2^(bits-1), 2^bits - 1 in every kernel', () => {
  for (const bits of [64, 128] as const) {
    const M = mod(bits);
    const vals = [0n, 1n, 2n, M / 2n - 1n, M / 2n, M / 2n + 1n, M - 2n, M - 1n, (1n << 32n) - 1n, 1n << 32n, 1n << 64n];
    const xs = vals.flatMap((x) => vals.map(() => x % M));
    const ys = vals.flatMap(() => vals.map((y) => y % M));
    const a = R.RingTensor.fromBigInts(bits, [xs.length], xs);
    const b = R.RingTensor.fromBigInts(bits, [ys.length], ys);
    for (const [, op, f] of binOps) {
      const r = underBackends(() => op(a, b));
      sameResult(r);
      assert.deepEqual(r.ts.toBigInts(), xs.map((x, i) => ((f(x, ys[i]!) % M) + M) % M));
    }
    const side = vals.length;
    const A = R.reshape(a, [side, side]), B = R.reshape(b, [side, side]);
    sameResult(underBackends(() => R.matmul(A, B)));
    sameResult(underBackends(() => R.sum(A, 0)));
  }
});

test('large tensors cross the wasm chunk boundary (64 and 128 bit, odd length)', { skip: !hasWasm }, () => {
  for (const bits of [64, 128] as const) {
    const n = 40_005; // 7 * 5 * 1143, odd
    const a = randomTensor(bits, [n], randomBytes);
    const b = randomTensor(bits, [n], randomBytes);
    for (const op of [R.add, R.sub, R.mul]) sameResult(underBackends(() => op(a, b)));
    sameResult(underBackends(() => R.neg(a)));
    sameResult(underBackends(() => R.mulScalar(a, 0xdead_beef_1234_5678_9abc_def0n)));
    sameResult(underBackends(() => R.shrArith(a, 13)));
    sameResult(underBackends(() => R.sum(a)));
    sameResult(underBackends(() => R.sum(R.reshape(a, [7, 5, -1]), 1)));
    const dst = a.clone();
    withBackend('wasm', () => R.addInPlace(dst, b));
    assert.deepEqual(dst.data, withBackend('ts', () => R.add(a, b)).data);
  }
});

test('matmul at a size that exercises full 8-column panels and grows wasm memory', { skip: !hasWasm }, () => {
  for (const [bits, m, k, n] of [[64, 70, 300, 45], [128, 20, 40, 17]] as const) {
    const a = randomTensor(bits, [m, k], randomBytes);
    const b = randomTensor(bits, [k, n], randomBytes);
    sameResult(underBackends(() => R.matmul(a, b)));
  }
  // all-ones limbs maximise every partial sum and carry in the 128-bit kernel
  for (const bits of [64, 128] as const) {
    const max = (1n << BigInt(bits)) - 1n;
    const a = R.RingTensor.fromBigInts(bits, [9, 300], new Array<bigint>(9 * 300).fill(max));
    const b = R.RingTensor.fromBigInts(bits, [300, 7], new Array<bigint>(300 * 7).fill(max));
    const r = underBackends(() => R.matmul(a, b));
    sameResult(r);
    assert.deepEqual(r.ts.toBigInts(), new Array<bigint>(63).fill(300n % (max + 1n)));
  }
});

test('elemArb covers the whole ring (sanity of the generators)', () => {
  fc.assert(fc.property(bitsArb.chain((bits) => fc.tuple(fc.constant(bits), elemArb(bits))), ([bits, x]) => x >= 0n && x < mod(bits)));
});

test('blocked wasm sum/matmul (tiny scratch bound) equal the reference kernels', { skip: !hasWasm }, async () => {
  const { loadWasmKernels, defaultWasmPath } = await import('../../src/ring/wasm.js');
  const small = loadWasmKernels(defaultWasmPath(), { maxScratchBytes: 2048 }).kernels!;
  assert.ok(small);
  fc.assert(
    fc.property(
      bitsArb,
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 70 }),
      fc.integer({ min: 1, max: 40 }),
      (bits, outer, len, inner) => {
        const L = bits / 64;
        const a = new BigUint64Array(randomBytes(outer * len * inner * L * 8).buffer);
        const want = new BigUint64Array(outer * inner * L);
        const got = new BigUint64Array(outer * inner * L);
        R.referenceKernels.sumAxis(bits, a, outer, len, inner, want);
        small.sumAxis(bits, a, outer, len, inner, got);
        assert.deepEqual(got, want);
      },
    ),
    { numRuns: 30 },
  );
  for (const [bits, m, k, n] of [[64, 37, 9, 13], [128, 23, 5, 11], [64, 3, 40, 40]] as const) {
    const L = bits / 64;
    const a = new BigUint64Array(randomBytes(m * k * L * 8).buffer);
    const b = new BigUint64Array(randomBytes(k * n * L * 8).buffer);
    const want = new BigUint64Array(m * n * L), got = new BigUint64Array(m * n * L);
    R.referenceKernels.matmul(bits, a, b, want, m, k, n);
    small.matmul(bits, a, b, got, m, k, n);
    assert.deepEqual(got, want);
  }
});
