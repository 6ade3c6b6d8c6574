import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixedSizeSample, poissonSample, sampleClients } from '../../src/dp/sampling.js';
import { TestCsprng, Z_BOUND, chiSquareBound } from './central-helpers.js';

const population = Array.from({ length: 100 }, (_, i) => `owner${i}`);

/**
 * Poisson inclusion at q = 0.1 over 2,000 rounds of 100 clients, fixed seed:
 * the total count is Binomial(200000, 0.1) (z test, |z| < 5: false failure 5.7e-7), and the per-client counts,
 * each Binomial(2000, 0.1), give a chi-square with 100 degrees of freedom below its 1 - 2.9e-7 quantile
 * (Wilson–Hilferty at z = 5).
 */
test('Poisson sampling: inclusion rate q (binomial z test and per-client chi-square)', () => {
  const rng = new TestCsprng('poisson').rng;
  const q = 0.1;
  const R = 2000;
  const counts = new Array<number>(population.length).fill(0);
  let sizes = 0;
  for (let r = 0; r < R; r++) {
    const s = poissonSample(population, q, rng);
    assert.equal(s.sampling, 'poisson');
    assert.equal(s.expected, 10);
    assert.deepEqual(s.clients, s.indices.map((i) => population[i]));
    for (let k = 1; k < s.indices.length; k++) assert.ok(s.indices[k]! > s.indices[k - 1]!, 'indices in order');
    for (const i of s.indices) counts[i]!++;
    sizes += s.indices.length;
  }
  const N = R * population.length;
  const z = (sizes - N * q) / Math.sqrt(N * q * (1 - q));
  assert.ok(Math.abs(z) < Z_BOUND, `total inclusions ${sizes} of ${N}: z = ${z}`);
  const e = R * q;
  const chi2 = counts.reduce((a, c) => a + (c - e) ** 2 / (e * (1 - q)), 0);
  assert.ok(chi2 < chiSquareBound(population.length), `chi2 = ${chi2} above ${chiSquareBound(population.length)}`);
  // and it is not trivially small either (a sampler returning exactly q R per client would pass the z test)
  assert.ok(chi2 > 30, `chi2 = ${chi2}: per-client counts too regular`);
});

test('Poisson sampling: the empty round is a result (not redrawn), q = 0 and q = 1', () => {
  const rng = new TestCsprng('empty').rng;
  const e = poissonSample(population, 0, rng);
  assert.equal(e.empty, true);
  assert.deepEqual(e.clients, []);
  assert.equal(poissonSample(population, 1, rng).clients.length, 100);
  // small q over a small population: empty rounds occur at their rate (1 - q)^N
  let empties = 0;
  const R = 4000;
  for (let r = 0; r < R; r++) if (poissonSample(['a', 'b', 'c'], 0.2, rng).empty) empties++;
  const p = 0.8 ** 3;
  const z = (empties - R * p) / Math.sqrt(R * p * (1 - p));
  assert.ok(Math.abs(z) < Z_BOUND, `empty rounds ${empties} of ${R}, expected ${R * p}: z = ${z}`);
});

test("fixed-size sampling: m distinct clients, each with rate m/N, flagged 'fixed-size'", () => {
  const rng = new TestCsprng('fixed').rng;
  const m = 10;
  const R = 2000;
  const counts = new Array<number>(population.length).fill(0);
  for (let r = 0; r < R; r++) {
    const s = fixedSizeSample(population, m, rng);
    assert.equal(s.sampling, 'fixed-size');
    assert.equal(s.clients.length, m);
    assert.equal(new Set(s.indices).size, m);
    assert.equal(s.expected, m);
    for (const i of s.indices) counts[i]!++;
  }
  // each client's count is Hypergeometric-like with mean R m/N, variance R (m/N)(1 - m/N): the same chi-square bound
  const q = m / population.length;
  const e = R * q;
  const chi2 = counts.reduce((a, c) => a + (c - e) ** 2 / (e * (1 - q)), 0);
  assert.ok(chi2 < chiSquareBound(population.length), `chi2 = ${chi2}`);
  assert.equal(sampleClients(population, { kind: 'fixed-size', m: 3, rng }).clients.length, 3);
});

test('sampling refuses a non-CSPRNG source and bad rates, naming the argument', () => {
  assert.throws(() => poissonSample(population, 0.1, Math.random as never), /"rng" expected a CryptoRandom .* got Math.random/);
  assert.throws(() => poissonSample(population, 0.1, { next: () => 0.5 } as never), /"rng" expected a CryptoRandom/);
  assert.throws(() => poissonSample(population, 1.5, new TestCsprng('x').rng), /"q" expected a probability in \[0, 1\], got 1.5/);
  assert.throws(() => fixedSizeSample(population, 101, new TestCsprng('x').rng), /"m" expected an integer in \[0, 100\]/);
  assert.throws(() => sampleClients(population, { kind: 'shuffle' } as never), /"sampling.kind"/);
});
