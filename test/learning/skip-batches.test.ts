/**
 * DataOwner.skipBatches: advancing the data order without computing (what a
 * resumed networked run does at start) puts the owner exactly where n real
 * gradient steps would have.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { initTf } from '../../src/learning/tf.js';
import { loadMnist, subset } from '../../src/learning/mnist.js';
import { DataOwner, ModelOwner } from '../../src/learning/roles.js';

before(async () => { await initTf(); });

const BS = 8;

/** A small owner: `count` examples (not a multiple of the batch size when count % 8 != 0), so reshuffles come every few batches. */
function owner(count: number, shuffleSeed: number): DataOwner {
  const data = loadMnist();
  const idx = Array.from({ length: count }, (_, i) => (i * 37) % data.train.count);
  return new DataOwner('data-owner-0', 'logistic_regression', data, subset(data.train, idx), { batchSize: BS, shuffleSeed });
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

test('skipBatches(n) then a gradient equals the gradient after n real steps (across reshuffles)', () => {
  const mo = new ModelOwner('model-owner', 'logistic_regression', loadMnist(), { seed: 3 });
  const w = mo.shareWeights();
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 13 }), fc.constantFrom(24, 43), fc.integer({ min: 0, max: 1000 }), (n, count, seed) => {
      const stepped = owner(count, seed);
      const skipped = owner(count, seed);
      try {
        stepped.updateModel(w);
        for (let i = 0; i < n; i++) stepped.computeGradient();
        const ref = stepped.computeGradient();
        skipped.skipBatches(n);
        skipped.updateModel(w);
        const got = skipped.computeGradient();
        assert.ok(sameBits(got.grad, ref.grad), `gradient after skipBatches(${n}) differs from after ${n} steps`);
        assert.equal(got.loss, ref.loss);
        // and the two stay in step afterwards
        assert.ok(sameBits(skipped.computeGradient().grad, stepped.computeGradient().grad));
      } finally {
        stepped.dispose();
        skipped.dispose();
      }
    }),
    { numRuns: 12 },
  );
  mo.dispose();
});

test('skipBatches moves the data order: skipping one batch more or less gives another batch', () => {
  const mo = new ModelOwner('model-owner', 'logistic_regression', loadMnist(), { seed: 3 });
  const w = mo.shareWeights();
  const grads = [0, 1, 2, 3, 4].map((n) => {
    const o = owner(43, 7);
    o.skipBatches(n);
    o.updateModel(w);
    const g = o.computeGradient().grad;
    o.dispose();
    return g;
  });
  for (let i = 1; i < grads.length; i++) assert.ok(!sameBits(grads[i - 1]!, grads[i]!), `skipBatches(${i - 1}) and skipBatches(${i}) gave the same batch`);
  // skipping 0 batches changes nothing
  const o = owner(43, 7);
  o.skipBatches(0);
  o.updateModel(w);
  assert.ok(sameBits(o.computeGradient().grad, grads[0]!));
  o.dispose();
  mo.dispose();
});

test('skipBatches rejects a bad count, naming it, and leaves the order unchanged', () => {
  const o = owner(24, 1);
  assert.throws(() => o.skipBatches('3' as unknown as number), (e: unknown) => e instanceof TypeError && /"n" expected a number/.test(e.message));
  assert.throws(() => o.skipBatches(undefined as unknown as number), TypeError);
  for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
    assert.throws(() => o.skipBatches(bad), (e: unknown) => e instanceof RangeError && /"n" expected integer >= 0/.test(e.message), `skipBatches(${bad})`);
  }
  // nothing moved: the next batch is still the first one
  const ref = owner(24, 1);
  const mo = new ModelOwner('model-owner', 'logistic_regression', loadMnist(), { seed: 3 });
  const w = mo.shareWeights();
  o.updateModel(w);
  ref.updateModel(w);
  assert.ok(sameBits(o.computeGradient().grad, ref.computeGradient().grad));
  o.dispose();
  ref.dispose();
  mo.dispose();
});
