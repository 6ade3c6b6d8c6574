// transpose, reshape, slice, concat, broadcastTo, expandDims, squeeze against index oracles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as R from '../../src/ring/index.js';
import { anyTensorArb, bcastGet, bitsArb, ravel, shapeArb, sizeOf, tensorArb, unravel } from './helpers.js';

test('transpose permutes indices (default reverses axes)', () => {
  fc.assert(
    fc.property(
      anyTensorArb(4, 4).chain((a) => fc.tuple(fc.constant(a), fc.shuffledSubarray([...a.shape.keys()], { minLength: a.shape.length }), fc.boolean())),
      ([a, perm, useDefault]) => {
        const p = useDefault ? [...a.shape.keys()].reverse() : perm;
        const t = useDefault ? R.transpose(a) : R.transpose(a, perm);
        assert.deepEqual(t.shape, p.map((ax) => a.shape[ax]));
        const xs = a.toBigInts(), ts = t.toBigInts();
        ts.forEach((v, i) => {
          const oi = unravel(i, t.shape);
          const src = new Array<number>(a.shape.length);
          p.forEach((ax, d) => (src[ax] = oi[d]!));
          assert.equal(v, xs[ravel(src, a.shape)]);
        });
      },
    ),
    { numRuns: 60 },
  );
});

test('reshape keeps row-major order, infers -1, and copies', () => {
  fc.assert(
    fc.property(anyTensorArb(3, 5), fc.boolean(), (a, infer) => {
      const target = a.size === 0 ? [0, 3] : infer ? [-1, 1] : [1, a.size];
      const r = R.reshape(a, target);
      assert.deepEqual(r.shape, a.size === 0 ? [0, 3] : infer ? [a.size, 1] : [1, a.size]);
      assert.deepEqual(r.toBigInts(), a.toBigInts());
      if (a.size > 0) {
        r.data[0] = r.data[0]! + 1n;
        assert.notEqual(r.data[0], a.data[0]);
      }
    }),
    { numRuns: 60 },
  );
});

test('slice takes the box [begin, begin+size), size -1 meaning the rest', () => {
  fc.assert(
    fc.property(
      anyTensorArb(3, 6).chain((a) =>
        fc.tuple(
          fc.constant(a),
          fc.tuple(...a.shape.map((d) => fc.integer({ min: 0, max: d }).chain((b) => fc.tuple(fc.constant(b), fc.integer({ min: -1, max: d - b }))))),
        ),
      ),
      ([a, bs]) => {
        const begin = bs.map(([b]) => b);
        const size = bs.map(([, s]) => s);
        const r = R.slice(a, begin, size);
        const sz = size.map((s, d) => (s === -1 ? a.shape[d]! - begin[d]! : s));
        assert.deepEqual(r.shape, sz);
        const xs = a.toBigInts();
        r.toBigInts().forEach((v, i) => {
          const idx = unravel(i, sz).map((x, d) => x + begin[d]!);
          assert.equal(v, xs[ravel(idx, a.shape)]);
        });
      },
    ),
    { numRuns: 60 },
  );
});

test('concat along any axis equals the piecewise oracle; slice inverts it', () => {
  fc.assert(
    fc.property(
      fc.tuple(bitsArb, shapeArb(3, 4).filter((s) => s.length > 0)).chain(([bits, shape]) =>
        fc.integer({ min: 0, max: shape.length - 1 }).chain((ax) =>
          fc.tuple(
            fc.constant(ax),
            fc.array(fc.integer({ min: 0, max: 4 }).chain((d) => tensorArb(bits, shape.map((x, i) => (i === ax ? d : x)))), { minLength: 1, maxLength: 4 }),
            fc.boolean(),
          ),
        ),
      ),
      ([ax, parts, negAxis]) => {
        const r = R.concat(parts, negAxis ? ax - parts[0]!.shape.length : ax);
        let off = 0;
        for (const p of parts) {
          const begin = p.shape.map((_, i) => (i === ax ? off : 0));
          assert.deepEqual(R.slice(r, begin, [...p.shape]).data, p.data);
          off += p.shape[ax]!;
        }
        assert.equal(r.shape[ax], off);
      },
    ),
    { numRuns: 60 },
  );
});

test('broadcastTo follows numpy rules (and copies)', () => {
  fc.assert(
    fc.property(
      fc.tuple(bitsArb, shapeArb(3, 4, 1), fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), fc.integer({ min: 0, max: 3 })).chain(
        ([bits, shape, ones, drop]) => tensorArb(bits, shape.slice(Math.min(drop, shape.length)).map((d, i) => (ones[i] ? 1 : d))).map((x) => [x, shape] as const),
      ),
      ([x, shape]) => {
        const r = R.broadcastTo(x, shape);
        assert.deepEqual(r.shape, shape);
        const xs = x.toBigInts();
        r.toBigInts().forEach((v, i) => assert.equal(v, bcastGet(x, xs, unravel(i, shape))));
        assert.notEqual(r.data, x.data);
      },
    ),
    { numRuns: 60 },
  );
});

test('expandDims and squeeze', () => {
  fc.assert(
    fc.property(anyTensorArb(3, 3), fc.integer({ min: 0, max: 100 }), (a, r) => {
      const rank = a.shape.length;
      const ax = (r % (2 * rank + 2)) - (rank + 1); // in [-rank-1, rank]
      const e = R.expandDims(a, ax);
      const pos = ax < 0 ? ax + rank + 1 : ax;
      const want = [...a.shape];
      want.splice(pos, 0, 1);
      assert.deepEqual(e.shape, want);
      assert.deepEqual(e.data, a.data);
      assert.deepEqual(R.squeeze(e, [pos]).shape, a.shape);
      assert.deepEqual(R.squeeze(e).shape, a.shape.filter((d) => d !== 1));
    }),
    { numRuns: 60 },
  );
});

test('equals compares ring, shape and elements', () => {
  const a = R.RingTensor.fromBigInts(64, [2], [1n, 2n]);
  assert.equal(R.equals(a, a.clone()), true);
  assert.equal(R.equals(a, R.RingTensor.fromBigInts(64, [2], [1n, 3n])), false);
  assert.equal(R.equals(a, R.RingTensor.fromBigInts(64, [2, 1], [1n, 2n])), false);
  assert.equal(R.equals(a, R.RingTensor.fromBigInts(128, [2], [1n, 2n])), false);
  assert.equal(sizeOf([]), 1);
});
