// Ring laws at both bit widths, under every available backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as R from '../../src/ring/index.js';
import { backends, bitsArb, shapeArb, tensorArb, withBackend } from './helpers.js';

const tripleArb = fc
  .tuple(bitsArb, shapeArb(2, 7))
  .chain(([bits, s]) => fc.tuple(tensorArb(bits, s), tensorArb(bits, s), tensorArb(bits, s)));

const eq = (x: R.RingTensor, y: R.RingTensor): void => assert.deepEqual(x.data, y.data);

for (const be of backends) {
  test(`[${be}] add/mul associative and commutative, mul distributes over add`, () => {
    withBackend(be, () => {
      fc.assert(
        fc.property(tripleArb, ([a, b, c]) => {
          eq(R.add(R.add(a, b), c), R.add(a, R.add(b, c)));
          eq(R.mul(R.mul(a, b), c), R.mul(a, R.mul(b, c)));
          eq(R.add(a, b), R.add(b, a));
          eq(R.mul(a, b), R.mul(b, a));
          eq(R.mul(a, R.add(b, c)), R.add(R.mul(a, b), R.mul(a, c)));
          eq(R.mul(R.sub(a, b), c), R.sub(R.mul(a, c), R.mul(b, c)));
        }),
        { numRuns: 50 },
      );
    });
  });

  test(`[${be}] additive inverse, identities, sub = add neg`, () => {
    withBackend(be, () => {
      fc.assert(
        fc.property(tripleArb, ([a, b]) => {
          const zero = R.RingTensor.zeros(a.bits, a.shape);
          eq(R.add(a, R.neg(a)), zero);
          eq(R.sub(a, a), zero);
          eq(R.sub(a, b), R.add(a, R.neg(b)));
          eq(R.neg(R.neg(a)), a);
          eq(R.addScalar(a, 0n), a);
          eq(R.mulScalar(a, 1n), a);
          eq(R.mulScalar(a, -1n), R.neg(a));
          eq(R.mulScalar(a, 0n), zero);
          eq(R.shl(a, 1), R.add(a, a));
        }),
        { numRuns: 50 },
      );
    });
  });

  test(`[${be}] matmul is bilinear and associative; sum is linear`, () => {
    withBackend(be, () => {
      const dims = fc.integer({ min: 1, max: 6 });
      fc.assert(
        fc.property(
          bitsArb.chain((bits) =>
            fc.tuple(dims, dims, dims, dims).chain(([m, k, n, p]) =>
              fc.tuple(tensorArb(bits, [m, k]), tensorArb(bits, [m, k]), tensorArb(bits, [k, n]), tensorArb(bits, [n, p])),
            ),
          ),
          ([a, a2, b, c]) => {
            eq(R.matmul(R.add(a, a2), b), R.add(R.matmul(a, b), R.matmul(a2, b)));
            eq(R.matmul(R.matmul(a, b), c), R.matmul(a, R.matmul(b, c)));
            eq(R.transpose(R.matmul(a, b)), R.matmul(R.transpose(b), R.transpose(a)));
            eq(R.sum(R.add(a, a2), 0), R.add(R.sum(a, 0), R.sum(a2, 0)));
            eq(R.sum(R.sum(a, 1)), R.sum(a));
          },
        ),
        { numRuns: 40 },
      );
    });
  });
}
