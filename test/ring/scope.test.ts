// Ring scopes and the resident tensor heap (src/ring/heap.ts): results equal
// those on ordinary tensors, on random inputs under every backend; lifetime
// rules (freed unless returned, moved to the parent, copied out at the top);
// reused blocks never show a freed tensor's contents; growth keeps views valid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import * as R from '../../src/ring/index.js';
import { backends, bitsArb, tensorArb, withBackend } from './helpers.js';

const heap = R.ringHeapStats().available;
const resident = (t: R.RingTensor): boolean => t.data.buffer instanceof SharedArrayBuffer;
const rnd = (bits: R.RingBits, shape: number[]): R.RingTensor =>
  R.RingTensor.fromRandomBytes(bits, shape, randomBytes(shape.reduce((a, b) => a * b, 1) * (bits / 8)));

/** Every op of the ring API that makes a new tensor, on (a, b) of shape [r, c] and m of shape [c, k]. */
function allOps(a: R.RingTensor, b: R.RingTensor, m: R.RingTensor, s: bigint, k: number): R.RingTensor[] {
  const d = R.add(a, b);
  R.mulInPlace(d, b);
  R.addScalarInPlace(d, s);
  return [
    R.add(a, b), R.sub(a, b), R.mul(a, b), R.neg(a), R.addScalar(a, s), R.mulScalar(a, s),
    R.shl(a, k), R.shrLogical(a, k), R.shrArith(a, k), R.sum(a), R.sum(a, 0), R.sum(a, 1, true),
    R.matmul(a, m), R.transpose(a), R.reshape(a, [-1]), R.slice(a, [1, 0], [-1, -1]), R.concat([a, b], 1),
    R.broadcastTo(R.slice(a, [0, 0], [1, -1]), a.shape), R.expandDims(a, 0), R.squeeze(R.expandDims(a, 0)), a.clone(), d,
    R.add(a, R.slice(b, [0, 0], [1, -1])),
  ];
}

const caseArb = fc
  .tuple(bitsArb, fc.integer({ min: 2, max: 40 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 9 }), fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }), fc.integer({ min: 0, max: 63 }))
  .chain(([bits, r, c, k, s, sh]) => fc.tuple(tensorArb(bits, [r, c]), tensorArb(bits, [r, c]), tensorArb(bits, [c, k]), fc.constant(s), fc.constant(sh)));

for (const be of backends) {
  test(`[${be}] every op gives the same result in a ring scope as on ordinary tensors (random shapes and values)`, () => {
    withBackend(be, () => {
      fc.assert(
        fc.property(caseArb, ([a, b, m, s, k]) => {
          const want = allOps(a, b, m, s, k);
          const got = R.ringScope(() => allOps(a.clone(), b.clone(), m.clone(), s, k));
          assert.equal(got.length, want.length);
          got.forEach((g, i) => {
            assert.ok(R.equals(g, want[i]!), `op ${i}`);
            assert.ok(!resident(g), 'returned at the top level: copied into JS memory');
          });
        }),
        { numRuns: 40 },
      );
      assert.equal(R.ringHeapStats().liveBytes, 0);
    });
  });
}

test('tensors outside any scope live in JS memory', () => {
  const t = R.add(rnd(64, [4096]), rnd(64, [4096]));
  assert.ok(!resident(t));
  assert.ok(t.data.buffer instanceof ArrayBuffer);
});

test('in a scope, large tensors are resident and small ones are not; the heap is back to empty after', { skip: !heap }, () => {
  const before = R.ringHeapStats();
  R.ringScope(() => {
    const big = rnd(64, [4096]), small = rnd(64, [8]);
    assert.ok(resident(big));
    assert.ok(!resident(small));
    assert.ok(resident(R.mul(big, big)));
    assert.ok(R.ringHeapStats().liveBlocks >= 2);
  });
  assert.equal(R.ringHeapStats().liveBytes, before.liveBytes);
  assert.equal(R.ringHeapStats().liveBlocks, before.liveBlocks);
});

test('a tensor not returned from its scope is freed: every op refuses it, naming the argument', { skip: !heap }, () => {
  let leaked: R.RingTensor | undefined;
  const kept = R.ringScope(() => {
    leaked = rnd(64, [1024]);
    return { nested: [R.neg(leaked)] };
  });
  assert.ok(leaked!.disposed);
  assert.equal(kept.nested[0]!.disposed, false);
  const other = rnd(64, [1024]);
  assert.throws(() => R.add(other, leaked!), (e: Error) => e instanceof R.RingDisposedError && /add: argument 'b'/.test(e.message));
  assert.throws(() => R.matmul(R.reshape(leaked!, [32, 32]), other), (e: Error) => e instanceof R.RingDisposedError && /reshape: argument 'a'/.test(e.message));
  assert.throws(() => R.sum(leaked!), R.RingDisposedError);
  assert.throws(() => leaked!.clone(), (e: Error) => e instanceof R.RingDisposedError && /^clone:/.test(e.message));
  assert.throws(() => leaked!.get(0), (e: Error) => e instanceof R.RingDisposedError && /^get:/.test(e.message));
  assert.throws(() => leaked!.toBytes(), R.RingDisposedError);
  assert.throws(() => leaked!.toBigInts(), R.RingDisposedError);
});

test('nested scopes: what the inner scope returns stays resident in the outer one, and is freed with it', { skip: !heap }, () => {
  let inner: R.RingTensor | undefined;
  const x = rnd(128, [512]);
  const out = R.ringScope(() => {
    inner = R.ringScope(() => R.mul(x, x));
    assert.ok(resident(inner) && !inner.disposed);
    const y = R.add(inner, x);
    return R.sum(y);
  });
  assert.ok(inner!.disposed, 'freed when the outer scope ended');
  assert.ok(R.equals(out, R.sum(R.add(R.mul(x, x), x))));
});

test('a scope that throws frees everything and rethrows; an async fn is refused and frees everything', { skip: !heap }, () => {
  const live = R.ringHeapStats().liveBytes;
  let t: R.RingTensor | undefined;
  assert.throws(() => R.ringScope(() => {
    t = rnd(64, [2048]);
    throw new Error('boom');
  }), /boom/);
  assert.ok(t!.disposed);
  assert.throws(() => R.ringScope(async () => rnd(64, [2048])), /ringScope: argument 'fn' must be synchronous/);
  assert.equal(R.ringHeapStats().liveBytes, live);
  assert.throws(() => R.ringScope(42 as unknown as () => void), /ringScope: argument 'fn' must be a function, got number/);
});

test('a reused block never shows the previous tensor: new tensors are zeros', { skip: !heap }, () => {
  for (let i = 0; i < 3; i++) {
    R.ringScope(() => {
      const secret = rnd(64, [3000]);
      assert.ok(secret.data.some((v) => v !== 0n));
    });
    R.ringScope(() => {
      const z = new R.RingTensor(64, [3000]);
      assert.ok(resident(z));
      assert.ok(z.data.every((v) => v === 0n));
      const zz = R.RingTensor.zeros(128, [1500]);
      assert.ok(zz.data.every((v) => v === 0n));
    });
  }
});

test('blocks are reused: repeating a scope does not grow the heap', { skip: !heap }, () => {
  const a = rnd(64, [1 << 14]);
  const step = () => R.ringScope(() => { R.sum(R.mul(R.add(a.clone(), a), a)); });
  step();
  const reserved = R.ringHeapStats().reservedBytes;
  for (let i = 0; i < 20; i++) step();
  assert.equal(R.ringHeapStats().reservedBytes, reserved);
});

test('growing the heap keeps earlier resident tensors valid', { skip: !heap }, () => {
  R.ringScope(() => {
    const x = rnd(64, [2048]);
    const copy = x.data.slice();
    const before = R.ringHeapStats().reservedBytes;
    // larger than everything reserved so far: the memory must grow
    const big = new R.RingTensor(64, [Math.max(1 << 20, before / 4)]);
    assert.ok(R.ringHeapStats().reservedBytes > before);
    assert.equal(x.data.length, 2048);
    assert.deepEqual(x.data, copy);
    assert.ok(R.equals(R.add(x, x), R.mulScalar(x, 2n)));
    assert.equal(big.data[big.data.length - 1], 0n);
  });
});
