// dpFedAvgEpsilon and noiseMultiplierFor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dpFedAvgEpsilon, noiseMultiplierFor } from '../../src/dp/dpfedavg-accounting.js';
import { RdpAccountant, TF_PRIVACY_ORDERS } from '../../src/dp/rdp-accountant.js';
import { gaussianEvent, sampledWithoutReplacement } from '../../src/dp/events.js';

const ROW1 = { q: 0.0025, rounds: 6000, delta: 1e-5, orders: TF_PRIVACY_ORDERS } as const;

test('dpFedAvgEpsilon, Poisson: the issue 16 table row 1 (z = 1.3)', () => {
  const r = dpFedAvgEpsilon({ ...ROW1, noiseMultiplier: 1.3, sampling: 'poisson' });
  assert.ok(Math.abs(r.epsilon - 0.7242234026109595) <= 1e-9);
  assert.equal(r.order, 19);
  assert.equal(r.delta, 1e-5);
  assert.equal(r.sampling, 'poisson');
  assert.equal(r.neighboringRelation, 'add-remove');
  // default sampling is Poisson
  assert.equal(dpFedAvgEpsilon({ ...ROW1, noiseMultiplier: 1.3 }).epsilon, r.epsilon);
});

test('dpFedAvgEpsilon, fixed size: the replace-one accountant with SampledWithoutReplacement(N, qN)', () => {
  const r = dpFedAvgEpsilon({ q: 0.01, noiseMultiplier: 1.1, rounds: 500, delta: 1e-5, sampling: 'fixed-size', population: 1000 });
  const acc = new RdpAccountant({ neighboringRelation: 'replace-one' });
  acc.compose(sampledWithoutReplacement(1000, 10, gaussianEvent(1.1)), 500);
  assert.deepEqual({ epsilon: r.epsilon, order: r.order }, acc.getEpsilon(1e-5));
  assert.equal(r.sampling, 'fixed-size');
  assert.equal(r.neighboringRelation, 'replace-one');
  assert.throws(() => dpFedAvgEpsilon({ q: 0.01, noiseMultiplier: 1, rounds: 1, delta: 1e-5, sampling: 'fixed-size' }), /"population"/);
  assert.throws(() => dpFedAvgEpsilon({ q: 0.0105, noiseMultiplier: 1, rounds: 1, delta: 1e-5, sampling: 'fixed-size', population: 1000 }), /"q" expected q·population to be an integer/);
});

test('dpFedAvgEpsilon argument checks name the argument', () => {
  const ok = { q: 0.1, noiseMultiplier: 1, rounds: 10, delta: 1e-5 };
  assert.throws(() => dpFedAvgEpsilon({ ...ok, q: 2 }), /dpFedAvgEpsilon: "q"/);
  assert.throws(() => dpFedAvgEpsilon({ ...ok, rounds: 1.5 }), /dpFedAvgEpsilon: "rounds"/);
  assert.throws(() => dpFedAvgEpsilon({ ...ok, delta: 0 }), /dpFedAvgEpsilon: "delta"/);
  assert.throws(() => dpFedAvgEpsilon({ ...ok, noiseMultiplier: -1 }), /dpFedAvgEpsilon: "noiseMultiplier"/);
  assert.throws(() => dpFedAvgEpsilon({ ...ok, sampling: 'shuffle' as never }), /dpFedAvgEpsilon: "sampling"/);
});

test('noiseMultiplierFor inverts row 1: target ε = 0.7242234026109595 gives z = 1.3 within the tolerance', () => {
  const tol = 1e-7;
  const r = noiseMultiplierFor({ ...ROW1, targetEpsilon: 0.7242234026109595, relativeTolerance: tol });
  // The exact z is 1.3; the search returns the upper end of a bracket of relative width ≤ tol.
  assert.ok(r.noiseMultiplier >= 1.3 * (1 - 1e-12) && r.noiseMultiplier <= 1.3 * (1 + 2 * tol), String(r.noiseMultiplier));
  assert.ok(r.epsilon <= 0.7242234026109595);
  assert.equal(r.order, 19);
});

test('noiseMultiplierFor: ε(z) ≤ target < ε(z·(1 − tol)) for Poisson and fixed-size sampling, several targets', () => {
  const tol = 1e-6;
  for (const [sampling, targetEpsilon] of [['poisson', 1], ['poisson', 8], ['fixed-size', 2], ['poisson', 0.05]] as const) {
    const base = { q: 0.02, rounds: 300, delta: 1e-5, sampling, population: 5000, relativeTolerance: tol };
    const { noiseMultiplier: z, epsilon } = noiseMultiplierFor({ ...base, targetEpsilon });
    assert.ok(epsilon <= targetEpsilon);
    assert.equal(dpFedAvgEpsilon({ ...base, noiseMultiplier: z }).epsilon, epsilon);
    assert.ok(dpFedAvgEpsilon({ ...base, noiseMultiplier: z * (1 - tol) }).epsilon > targetEpsilon, `${sampling} ${targetEpsilon}: z=${z}`);
  }
  assert.equal(noiseMultiplierFor({ q: 0, rounds: 10, delta: 1e-5, targetEpsilon: 1 }).noiseMultiplier, 0);
  assert.throws(() => noiseMultiplierFor({ q: 0.1, rounds: 10, delta: 1e-5, targetEpsilon: 0 }), /noiseMultiplierFor: "targetEpsilon"/);
  assert.throws(() => noiseMultiplierFor({ q: 0.1, rounds: 10, delta: 1e-5, targetEpsilon: 1, relativeTolerance: 2 }), /"relativeTolerance"/);
});
