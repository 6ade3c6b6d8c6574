/**
 * CryptoRandom: the keyed stream is reproducible and label-separated, the integer,
 * BigInt and Bernoulli draws are uniform / exact (χ² and binomial tests at fixed keys),
 * and the exact Bernoulli(exp(-γ)) of Canonne-Kamath-Steinke Algorithm 1 has mean e^{-γ}.
 * Each distribution test states its false-failure probability (for a fresh key; the keys
 * are fixed, so the outcome is deterministic).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CryptoRandom } from '../../src/dp/random.js';
import { bernoulliExp, bernExp1 } from '../../src/dp/bernoulli-exp.js';
import { chi2Critical, zUpper } from './stats.js';

const KEY = new Uint8Array(32).map((_, i) => i * 7 + 1);
const rngFor = (label: string) => CryptoRandom.fromKey(KEY, label);

/** Pearson χ² of counts against equal cells. */
function chiUniform(counts: number[]): number {
  const n = counts.reduce((a, b) => a + b, 0);
  const e = n / counts.length;
  return counts.reduce((s, o) => s + (o - e) ** 2 / e, 0);
}

/** |z| of a binomial count against n·p; the test uses |z| < zUpper(α/2). */
function binomZ(successes: number, n: number, p: number): number {
  return (successes - n * p) / Math.sqrt(n * p * (1 - p));
}

test('fromKey: same key and label give the same stream, another label or key another stream; system() differs run to run', () => {
  const a = rngFor('s'), b = rngFor('s'), c = rngFor('t');
  const key2 = KEY.slice();
  key2[0]! ^= 1;
  const d = CryptoRandom.fromKey(key2, 's');
  const xa = Array.from({ length: 20000 }, () => a.uint32()); // crosses a 64 KiB refill
  const xb = Array.from({ length: 20000 }, () => b.uint32());
  const xc = Array.from({ length: 8 }, () => c.uint32());
  const xd = Array.from({ length: 8 }, () => d.uint32());
  assert.deepEqual(xa, xb);
  assert.notDeepEqual(xa.slice(0, 8), xc);
  assert.notDeepEqual(xa.slice(0, 8), xd);
  const s1 = CryptoRandom.system(), s2 = CryptoRandom.system();
  assert.notDeepEqual(Array.from({ length: 4 }, () => s1.uint32()), Array.from({ length: 4 }, () => s2.uint32()));
  assert.equal(s1.kind, 'system');
  assert.equal(a.kind, 'keyed');
});

test('fromKey checks its arguments', () => {
  assert.throws(() => CryptoRandom.fromKey(new Uint8Array(16), 'x'), /"key" expected 32 bytes, got 16/);
  assert.throws(() => CryptoRandom.fromKey('k' as unknown as Uint8Array, 'x'), /"key" expected Uint8Array/);
  assert.throws(() => CryptoRandom.fromKey(KEY, 3 as unknown as string), /"label" expected string/);
});

test('int(n) is uniform for small, non-power-of-two and > 2^32 bounds (χ², false failure 1e-6 each)', () => {
  const rng = rngFor('int');
  for (const n of [1, 2, 7, 1000, 3 * 2 ** 30]) {
    const cells = Math.min(n, 50);
    const counts = new Array<number>(cells).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const x = rng.int(n);
      assert.ok(Number.isInteger(x) && x >= 0 && x < n);
      counts[Math.floor((x * cells) / n)]!++;
    }
    if (cells > 1) assert.ok(chiUniform(counts) < chi2Critical(cells - 1, 1e-6), `n = ${n}`);
  }
  // n > 2^32: bucket by the value's position in [0, n); also the low bits (a modulo bias would show there)
  for (const n of [2 ** 40 + 3, 3 * 2 ** 51 + 1, 2 ** 53]) {
    const hi = new Array<number>(40).fill(0), lo = new Array<number>(16).fill(0);
    for (let i = 0; i < 80_000; i++) {
      const x = rng.int(n);
      assert.ok(Number.isInteger(x) && x >= 0 && x < n);
      hi[Math.floor((x / n) * 40)]!++;
      lo[x % 16]!++;
    }
    assert.ok(chiUniform(hi) < chi2Critical(39, 1e-6), `n = ${n} (high)`);
    assert.ok(chiUniform(lo) < chi2Critical(15, 1e-6), `n = ${n} (low)`);
  }
  assert.throws(() => rng.int(2 ** 53 + 2), /"n" expected integer in \[1, 2\^53\]/);
  assert.throws(() => rng.int(2 ** 33 + 0.5), /"n" expected integer/);
});

test('int(n): a bound just above a power of two has no modulo bias (the mass of the first cells, binomial, false failure 1e-6)', () => {
  // n = 3·2^30: with x % n of a uint32 (no rejection) the residues below 2^32 − n = 2^30 occur twice
  const rng = rngFor('bias');
  const n = 2 ** 31 + 2 ** 30;
  let low = 0;
  const N = 200_000;
  for (let i = 0; i < N; i++) if (rng.int(n) < 2 ** 30) low++;
  // with x % n from a uint32 (no rejection), P(x < 2^30) would be 2/4 instead of 1/3
  assert.ok(Math.abs(binomZ(low, N, 1 / 3)) < zUpper(0.5e-6));
});

test('bigBelow(n) is uniform for bounds beyond 2^53 (χ², false failure 1e-6) and bernoulli(num, den) is exact (binomial, 1e-6)', () => {
  const rng = rngFor('big');
  for (const n of [3n * 2n ** 70n + 5n, 2n ** 64n, 10n ** 30n + 7n, 5n]) {
    const cells = 30;
    const counts = new Array<number>(cells).fill(0);
    for (let i = 0; i < 30_000; i++) {
      const x = rng.bigBelow(n);
      assert.ok(x >= 0n && x < n);
      counts[Number((x * BigInt(cells)) / n)]!++;
    }
    if (n > 30n) assert.ok(chiUniform(counts) < chi2Critical(cells - 1, 1e-6), `n = ${n}`);
  }
  assert.throws(() => rng.bigBelow(0n), /"n" expected ≥ 1/);
  assert.throws(() => rng.int(2.5), /"n" expected integer in \[1, 2\^53\], got 2.5/);
  assert.throws(() => rng.int(0), /"n" expected integer/);
  assert.throws(() => rng.bernoulli(0.5, 1), /expected safe integers or BigInts, got 0.5\/1/);
  assert.throws(() => rng.bernoulli(3, 2), /expected 0 ≤ num ≤ den and den ≥ 1, got 3\/2/);
  assert.throws(() => rng.bernoulli(1n, 0n), /expected 0 ≤ num ≤ den/);
  const N = 100_000;
  for (const [num, den] of [[1, 3], [2, 7], [5n, 12n], [2n ** 80n, 3n * 2n ** 80n], [0, 5], [5, 5]] as const) {
    let s = 0;
    for (let i = 0; i < N; i++) s += rng.bernoulli(num, den);
    const p = Number(num) / Number(den);
    if (p === 0 || p === 1) assert.equal(s, p * N);
    else assert.ok(Math.abs(binomZ(s, N, p)) < zUpper(0.5e-6), `${num}/${den}: ${s}`);
  }
});

test('bit() is a fair coin (binomial, false failure 1e-6)', () => {
  const rng = rngFor('bit');
  let s = 0;
  for (let i = 0; i < 100_000; i++) s += rng.bit();
  assert.ok(Math.abs(binomZ(s, 100_000, 0.5)) < zUpper(0.5e-6));
});

test('Bernoulli(exp(-γ)) (CKS Algorithm 1) has mean e^{-γ} for γ in [0, 1], > 1, as numbers and BigInts (binomial, false failure 1e-6 each)', () => {
  const rng = rngFor('bexp');
  const N = 60_000;
  let s = 0;
  for (let i = 0; i < N; i++) s += bernExp1(rng);
  assert.ok(Math.abs(binomZ(s, N, Math.exp(-1))) < zUpper(0.5e-6), 'e^-1');
  for (const [num, den] of [[0, 1], [1, 3], [7, 8], [5, 2], [23, 10], [3n, 4n], [2n ** 70n * 3n, 2n ** 70n * 2n], [9, 4]] as const) {
    let c = 0;
    for (let i = 0; i < N; i++) c += bernoulliExp(rng, num, den);
    const p = Math.exp(-Number(num) / Number(den));
    if (p === 1) assert.equal(c, N);
    else assert.ok(Math.abs(binomZ(c, N, p)) < zUpper(0.5e-6), `γ = ${num}/${den}: ${c / N} vs ${p}`);
  }
  assert.throws(() => bernoulliExp(rng, -1, 2), /expected num ≥ 0 and den ≥ 1/);
  assert.throws(() => bernoulliExp(rng, 1n, 0n), /expected num ≥ 0 and den ≥ 1/);
});
