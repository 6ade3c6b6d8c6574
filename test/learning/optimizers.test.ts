import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { adam, sgd, cosineDecay, exponentialDecay } from '../../src/learning/optimizers.js';

function refAdam(w: number[], grads: number[][], lr: number, b1: number, b2: number, eps: number, ams: boolean): number[] {
  const m = w.map(() => 0), v = w.map(() => 0), vm = w.map(() => 0);
  grads.forEach((g, t0) => {
    const t = t0 + 1;
    for (let i = 0; i < w.length; i++) {
      m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
      v[i] = b2 * v[i]! + (1 - b2) * g[i]! ** 2;
      vm[i] = Math.max(vm[i]!, v[i]!);
      const mh = m[i]! / (1 - b1 ** t), vh = (ams ? vm[i]! : v[i]!) / (1 - b2 ** t);
      w[i] = w[i]! - (lr * mh) / (Math.sqrt(vh) + eps);
    }
  });
  return w;
}

test('adam and amsgrad match the textbook update on random gradients', () => {
  fc.assert(fc.property(fc.boolean(), fc.array(fc.array(fc.float({ min: -10, max: 10, noNaN: true }), { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 8 }), (ams, gs) => {
    const opt = adam({ lr: 0.01, amsgrad: ams });
    const w = Float32Array.of(0.5, -0.25, 1);
    for (const g of gs) opt.step(w, Float32Array.from(g));
    const ref = refAdam([0.5, -0.25, 1], gs.map((g) => g.map((x) => Math.fround(x))), 0.01, 0.9, 0.999, 1e-8, ams);
    ref.forEach((r, i) => assert.ok(Math.abs(w[i]! - r) < 1e-4, `${w[i]} vs ${r}`));
  }));
});

test('sgd with and without momentum; snapshot/restore replays exactly', () => {
  const o = sgd({ lr: 0.5 });
  const w = Float32Array.of(1, 2);
  o.step(w, Float32Array.of(2, -2));
  assert.deepEqual([...w], [0, 3]);
  const a = adam({ lr: 0.1, amsgrad: true });
  const x = Float32Array.of(1, 1);
  a.step(x, Float32Array.of(1, 2));
  const snap = a.snapshot();
  const x2 = x.slice();
  a.step(x, Float32Array.of(3, -1));
  a.restore(snap);
  a.step(x2, Float32Array.of(3, -1));
  assert.deepEqual(x, x2);
  const mo = sgd({ lr: 1, momentum: 0.5 });
  const y = Float32Array.of(0);
  mo.step(y, Float32Array.of(1)); mo.step(y, Float32Array.of(1));
  assert.deepEqual([...y], [-2.5]);
});

test('schedules and argument checks', () => {
  const c = cosineDecay(100, 0.1);
  assert.equal(c(0), 1);
  assert.ok(Math.abs(c(100) - 0.1) < 1e-12);
  assert.ok(c(50) < c(10));
  assert.equal(exponentialDecay(0.5, 10)(20), 0.25);
  assert.throws(() => adam({ lr: 0 }), /"lr" expected finite number > 0/);
  assert.throws(() => adam({ beta1: 1 }), /"beta1" expected number in \[0, 1\)/);
  assert.throws(() => sgd({ momentum: -1 }), /"momentum"/);
  assert.throws(() => adam().step(new Float32Array(2), new Float32Array(3)), /"grad" expected length 2/);
  const d = adam({ lr: 1, decay: c });
  assert.equal(d.lr, 1);
});
