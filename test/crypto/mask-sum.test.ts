/**
 * MaskSum (wasm SIMD) against addMask (the TypeScript reference) on random
 * keys, signs, widths and lengths (chunk boundaries included), plus its
 * checks by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { addMask, maskAccumulator, reduceMasked } from '../../src/crypto/mask-prg.js';
import { MaskSum } from '../../src/crypto/mask-sum.js';

const is = (cls: new (...a: never[]) => Error, re: RegExp) => (e: unknown) => e instanceof cls && re.test((e as Error).message);

test('MaskSum: equals the TypeScript reference for random sequences of masks and values', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 64 }),
      fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constantFrom(8191, 8192, 8193, 16383, 16384, 16385, 40000)),
      fc.array(fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.constantFrom<1 | -1>(1, -1), fc.boolean()), { minLength: 1, maxLength: 5 }),
      (bits, m, ops) => {
        const ref = maskAccumulator(bits, m);
        const sum = new MaskSum(bits, m);
        for (const [key, sign, asValues] of ops) {
          if (asValues) {
            const v = maskAccumulator(bits, m);
            addMask(v, key, 1, bits); // some values
            sum.addValues(v, sign);
            addMask(ref, key, sign, bits);
          } else {
            sum.addMask(key, sign);
            addMask(ref, key, sign, bits);
          }
        }
        assert.deepEqual(sum.result(), reduceMasked(ref, bits));
      },
    ),
    { numRuns: 60 },
  );
});

test('MaskSum: checks by name', () => {
  assert.throws(() => new MaskSum(0, 4), is(RangeError, /^MaskSum: "bits" expected an integer in \[1, 64\], got 0$/));
  assert.throws(() => new MaskSum(32, -1), is(RangeError, /^MaskSum: "length" expected an integer in \[0, \d+\], got -1$/));
  assert.throws(() => new MaskSum('32' as never, 1), is(TypeError, /^MaskSum: "bits" expected an integer, got string$/));
  const s = new MaskSum(40, 3);
  assert.throws(() => s.addMask(new Uint8Array(15), 1), is(RangeError, /^MaskSum\.addMask: "key" expected 16 bytes, got 15$/));
  assert.throws(() => s.addMask(new Uint8Array(16), 2 as never), is(RangeError, /^MaskSum\.addMask: "sign" expected 1 or -1, got 2$/));
  assert.throws(() => s.addValues(new Uint32Array(3)), is(TypeError, /^MaskSum\.addValues: "values" expected BigUint64Array for bits 40, got Uint32Array$/));
  assert.throws(() => s.addValues(new BigUint64Array(4)), is(RangeError, /^MaskSum\.addValues: "values" expected 3 entries, got 4$/));
});
