/**
 * Shamir t-of-n over F_p, p = 2^26 - 5: round trips on random secrets,
 * thresholds and survivor sets; fewer than t shares reveal nothing usable;
 * the Lagrange cache; every refusal by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  LagrangeCache,
  SHAMIR_PRIME,
  SHAMIR_SHARE_BYTES,
  shamirReconstruct,
  shamirSplit,
} from '../../src/crypto/shamir.js';

const is = (cls: new (...a: never[]) => Error, re: RegExp) => (e: unknown) => e instanceof cls && re.test((e as Error).message);
const secret = () => new Uint8Array(randomBytes(32));

test('shamir: any t of n shares reconstruct the secret exactly (random secrets, t, n, subsets)', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.integer({ min: 2, max: 40 }),
      fc.integer({ min: 0, max: 30 }),
      fc.integer({ min: 0, max: 2 ** 31 }),
      (s, t, extra, seed) => {
        const n = t + extra;
        const shares = shamirSplit(s, t, n);
        assert.equal(shares.length, n);
        for (const sh of shares) assert.equal(sh.length, SHAMIR_SHARE_BYTES);
        // a seeded choice of at least t holders
        const order = Array.from({ length: n }, (_, i) => i + 1);
        let r = seed;
        for (let i = n - 1; i > 0; i--) { r = (r * 1103515245 + 12345) % 2 ** 31; const j = r % (i + 1); [order[i], order[j]] = [order[j]!, order[i]!]; }
        const k = t + (seed % (n - t + 1));
        const picked = order.slice(0, k).map((x) => ({ index: x, share: shares[x - 1]! }));
        assert.deepEqual(shamirReconstruct(picked, t), s);
      },
    ),
    { numRuns: 200 },
  );
});

test('shamir: edge secrets (all zero, all 0xff) and arbitrary evaluation points round-trip', () => {
  for (const s of [new Uint8Array(32), new Uint8Array(32).fill(0xff)]) {
    const pts = [SHAMIR_PRIME - 1, 1, 77, 1_000_000, 12];
    const sh = shamirSplit(s, 3, pts);
    assert.deepEqual(shamirReconstruct([0, 2, 4].map((i) => ({ index: pts[i]!, share: sh[i]! })), 3), s);
    assert.deepEqual(shamirReconstruct(pts.map((x, i) => ({ index: x, share: sh[i]! })), 3), s);
  }
});

test('shamir: shares from different polynomials are refused as inconsistent (in most cases) and never give the secret', () => {
  let refused = 0;
  for (let i = 0; i < 50; i++) {
    const a = secret();
    const sa = shamirSplit(a, 3, 5);
    const sb = shamirSplit(a, 3, 5); // same secret, other polynomials
    const mixed = [{ index: 1, share: sa[0]! }, { index: 2, share: sa[1]! }, { index: 3, share: sb[2]! }];
    try {
      const r = shamirReconstruct(mixed, 3);
      assert.ok(!Buffer.from(r).equals(Buffer.from(a)));
    } catch (e) {
      assert.ok(is(RangeError, /^shamirReconstruct: the shares do not encode a 32-byte secret/)(e));
      refused++;
    }
  }
  assert.ok(refused > 30, `only ${refused} of 50 mixed sets refused`);
});

test('shamir: reconstruction uses the t smallest indices, and caches their Lagrange coefficients', () => {
  const s = secret();
  const sh = shamirSplit(s, 4, 10);
  const cache = new LagrangeCache(2);
  const all = sh.map((share, i) => ({ index: i + 1, share }));
  assert.deepEqual(shamirReconstruct(all.slice(3), 4, cache), s);
  assert.deepEqual(shamirReconstruct([...all.slice(3)].reverse(), 4, cache), s);
  assert.equal(cache.misses, 1);
  assert.equal(cache.hits, 1);
  // a share beyond the t smallest may be garbage: it is not used
  const tail = all.slice(0, 5).concat([{ index: 9, share: new Uint8Array(SHAMIR_SHARE_BYTES) }]);
  assert.deepEqual(shamirReconstruct(tail, 4, cache), s);
  // LRU of capacity 2: a third set evicts the oldest
  shamirReconstruct(all.slice(5), 4, cache);
  assert.equal(cache.size, 2);
  // the coefficients themselves: λ for {1, 2} at 0 are 2 and -1
  assert.deepEqual([...new LagrangeCache().coefficients([1, 2])], [2, SHAMIR_PRIME - 1]);
});

test('shamir: refusals name the function and the argument', () => {
  const s = secret();
  assert.throws(() => shamirSplit('x' as never, 2, 3), is(TypeError, /^shamirSplit: "secret" expected Uint8Array, got string$/));
  assert.throws(() => shamirSplit(new Uint8Array(31), 2, 3), is(RangeError, /^shamirSplit: "secret" expected 32 bytes, got 31$/));
  assert.throws(() => shamirSplit(s, 1, 3), is(RangeError, /^shamirSplit: "threshold" expected an integer >= 2, got 1$/));
  assert.throws(() => shamirSplit(s, 2.5, 3), is(RangeError, /"threshold" expected an integer >= 2, got 2.5$/));
  assert.throws(() => shamirSplit(s, '2' as never, 3), is(TypeError, /^shamirSplit: "threshold" expected an integer, got string$/));
  assert.throws(() => shamirSplit(s, 4, 3), is(RangeError, /^shamirSplit: "threshold" 4 exceeds the number of shares 3$/));
  assert.throws(() => shamirSplit(s, 2, [1, 0, 2]), is(RangeError, /^shamirSplit: "points\[1\]" expected an integer in \[1, 67108858\] \(index 0 is the secret\), got 0$/));
  assert.throws(() => shamirSplit(s, 2, [1, SHAMIR_PRIME]), is(RangeError, /"points\[1\]" expected an integer in/));
  assert.throws(() => shamirSplit(s, 2, [1, 2, 1]), is(RangeError, /^shamirSplit: "points\[2\]" duplicates index 1$/));
  assert.throws(() => shamirSplit(s, 2, 0), is(RangeError, /^shamirSplit: "points" expected a count in/));
  assert.throws(() => shamirSplit(s, 2, 'abc' as never), is(TypeError, /^shamirSplit: "points" expected a count or an array of indices, got string$/));
  const sh = shamirSplit(s, 3, 4).map((share, i) => ({ index: i + 1, share }));
  assert.throws(() => shamirReconstruct(sh.slice(0, 2), 3), is(RangeError, /^shamirReconstruct: "shares" expected at least threshold 3 shares, got 2$/));
  assert.throws(() => shamirReconstruct([sh[0]!, sh[1]!, { ...sh[2]!, index: 1 }], 3), is(RangeError, /^shamirReconstruct: "shares\[2\]\.index" duplicates index 1$/));
  assert.throws(() => shamirReconstruct([sh[0]!, sh[1]!, { ...sh[2]!, index: 0 }], 3), is(RangeError, /"shares\[2\]\.index" expected an integer in \[1, 67108858\]/));
  assert.throws(() => shamirReconstruct([sh[0]!, sh[1]!, { index: 3, share: new Uint8Array(40) }], 3), is(RangeError, /^shamirReconstruct: "shares\[2\]\.share" expected 44 bytes, got 40$/));
  assert.throws(() => shamirReconstruct([sh[0]!, sh[1]!, null as never], 3), is(TypeError, /^shamirReconstruct: "shares\[2\]" expected \{ index, share \}, got null$/));
  assert.throws(() => shamirReconstruct('x' as never, 3), is(TypeError, /"shares" expected an array/));
  const big = new Uint8Array(SHAMIR_SHARE_BYTES);
  new DataView(big.buffer).setUint32(8, SHAMIR_PRIME, true);
  assert.throws(() => shamirReconstruct([sh[0]!, sh[1]!, { index: 3, share: big }], 3), is(RangeError, /element 2 is 67108859, not below the prime/));
  assert.throws(() => new LagrangeCache(0), is(RangeError, /^LagrangeCache: "capacity" expected an integer >= 1, got 0$/));
});
