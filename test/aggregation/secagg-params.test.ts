/**
 * SecAgg parameters: the finder reproduces the triples and Google's
 * published graph-parameter-finder outputs (degree and threshold); the
 * hypergeometric tails against exact rational arithmetic; the rules for
 * explicit Harary and complete-graph parameters, each refusal by its rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Hypergeometric,
  SecAggParameterError,
  autoSecAggParameters,
  checkCompleteParameters,
  checkHararyParameters,
  findHararyParameters,
  lnFactorial,
  type SecAggAdversary,
} from '../../src/aggregation/secagg-params.js';

const req = (corruptionRate: number, dropoutRate: number, adversary: SecAggAdversary = 'semi-honest') => ({ corruptionRate, dropoutRate, adversary });
const rule = (r: string) => (e: unknown) => e instanceof SecAggParameterError && e instanceof RangeError && e.rule === r && e.message.includes(`rule "${r}"`);
const is = (cls: new (...a: never[]) => Error, re: RegExp) => (e: unknown) => e instanceof cls && re.test((e as Error).message);

test('finder: the issue\'s triples, exactly', () => {
  assert.deepEqual(findHararyParameters(1000, req(0.05, 0.05)), { k: 30, t: 17 });
  assert.deepEqual(findHararyParameters(10_000, req(0.05, 0.05)), { k: 34, t: 20 });
  assert.deepEqual(findHararyParameters(10_000, req(0.05, 0.05, 'malicious')), { k: 62, t: 44 });
});

// Published outputs of Google's graph parameter finder (federated-compute,
// fcp/secagg/server/graph_parameter_finder_test.cc: degree exact, threshold
// an upper bound there); ours equal both. Rows that take over 100 ms to find are left out.
const GOOGLE: [number, number, number, SecAggAdversary, number, number][] = [
  [100, 0.45, 0.45, 'semi-honest', 92, 46], [1000, 0.45, 0.45, 'semi-honest', 822, 417],
  [10, 0.33, 0.33, 'semi-honest', 8, 4], [100, 0.33, 0.33, 'semi-honest', 68, 34], [1000, 0.33, 0.33, 'semi-honest', 286, 150], [10_000, 0.33, 0.33, 'semi-honest', 422, 221], [100_000, 0.33, 0.33, 'semi-honest', 480, 251],
  [100, 0.3, 0.3, 'malicious', 92, 62], [1000, 0.3, 0.3, 'malicious', 872, 584],
  [100, 0.05, 0.33, 'semi-honest', 28, 6], [1000, 0.05, 0.33, 'semi-honest', 72, 24], [10_000, 0.05, 0.33, 'semi-honest', 86, 29], [1_000_000, 0.05, 0.33, 'semi-honest', 102, 34],
  [10, 0.05, 0.33, 'malicious', 8, 5], [100, 0.05, 0.33, 'malicious', 72, 39], [1000, 0.05, 0.33, 'malicious', 398, 223], [10_000, 0.05, 0.33, 'malicious', 746, 420],
  [10, 0.33, 0.05, 'semi-honest', 4, 4], [100, 0.33, 0.05, 'semi-honest', 34, 29], [1000, 0.33, 0.05, 'semi-honest', 78, 60], [10_000, 0.33, 0.05, 'semi-honest', 92, 70], [1_000_000, 0.33, 0.05, 'semi-honest', 110, 83],
  [10, 0.33, 0.05, 'malicious', 4, 4], [100, 0.33, 0.05, 'malicious', 42, 37], [1000, 0.33, 0.05, 'malicious', 132, 109], [10_000, 0.33, 0.05, 'malicious', 178, 146], [1_000_000, 0.33, 0.05, 'malicious', 212, 173],
  [10, 0.05, 0.05, 'semi-honest', 2, 2], [100, 0.05, 0.05, 'semi-honest', 12, 6], [100_000, 0.05, 0.05, 'semi-honest', 36, 21], [1_000_000, 0.05, 0.05, 'semi-honest', 38, 22],
  [10, 0.05, 0.05, 'malicious', 2, 2], [100, 0.05, 0.05, 'malicious', 16, 11], [1000, 0.05, 0.05, 'malicious', 52, 37], [100_000, 0.05, 0.05, 'malicious', 68, 48], [1_000_000, 0.05, 0.05, 'malicious', 74, 52],
  [10, 0.33, 0, 'semi-honest', 4, 4], [100, 0.33, 0, 'semi-honest', 26, 25], [1000, 0.33, 0, 'semi-honest', 38, 36], [1_000_000, 0.33, 0, 'semi-honest', 50, 47],
  [10, 0.33, 0, 'malicious', 4, 4], [100, 0.33, 0, 'malicious', 26, 26], [10_000, 0.33, 0, 'malicious', 42, 41],
  [100, 0, 0.33, 'semi-honest', 26, 2], [1_000_000, 0, 0.33, 'semi-honest', 50, 2],
  [10, 0, 0.33, 'malicious', 8, 5], [1000, 0, 0.33, 'malicious', 228, 115], [10_000, 0, 0.33, 'malicious', 326, 164],
  [10, 0, 0, 'semi-honest', 2, 2], [1_000_000, 0, 0, 'malicious', 2, 2],
];

test('finder: Google\'s published table, degree and threshold exactly', () => {
  for (const [n, g, d, adv, k, t] of GOOGLE) {
    assert.deepEqual(findHararyParameters(n, req(g, d, adv)), { k, t }, `n=${n} γ=${g} δ=${d} ${adv}`);
  }
});

test('finder: where Google answers k = 4, t = 2 at n = 10, δ = 0.33, that pair breaks its own correctness rule and ours picks k = 6', () => {
  // Google's finder checks t1 < t2 before raising t to the minimum of 2; with 7 survivors of 10
  // a client has a single surviving neighbour among 4 with probability 7/210, far above 2^-20/10.
  assert.deepEqual(findHararyParameters(10, req(0.05, 0.33)), { k: 6, t: 2 });
  assert.deepEqual(findHararyParameters(10, req(0, 0.33)), { k: 6, t: 2 });
  assert.throws(() => checkHararyParameters(10, 4, 2, req(0.05, 0.33)), rule('correctness-threshold'));
  assert.ok(Math.abs(new Hypergeometric(10, 7, 4).pmf(1) - 7 / 210) < 1e-15);
});

test('finder: its output meets the rules it states, and t - 1 does not (random n, γ, δ)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 20, max: 3000 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 }), fc.boolean(), (n, g, d, mal) => {
      const r = req(g / 100, d / 100, mal ? 'malicious' : 'semi-honest');
      const { k, t } = findHararyParameters(n, r);
      checkHararyParameters(n, k, t, r);
      if (t > 2) assert.throws(() => checkHararyParameters(n, k, t - 1, r), rule(mal ? 'malicious-threshold' : 'privacy-threshold'));
      if (k > 2) assert.throws(() => { for (let t2 = 2; t2 <= k - 2; t2++) checkHararyParameters(n, k - 2, t2, r); }, SecAggParameterError);
    }),
    { numRuns: 40 },
  );
});

/** Exact P(X >= a) and P(X <= x) as rationals (BigInt binomials). */
function exactTails(N: number, K: number, k: number) {
  const C = (a: number, b: number): bigint => { if (b < 0 || b > a) return 0n; let r = 1n; for (let i = 0; i < b; i++) r = (r * BigInt(a - i)) / BigInt(i + 1); return r; };
  const den = C(N, k);
  const pmf = Array.from({ length: k + 1 }, (_, x) => C(K, x) * C(N - K, k - x));
  return { den, upper: (a: number) => pmf.slice(Math.max(a, 0)).reduce((s, v) => s + v, 0n), lower: (x: number) => pmf.slice(0, x + 1).reduce((s, v) => s + v, 0n) };
}

test('hypergeometric: tails and the quantile searches agree with exact rational arithmetic', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 400 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 60 }), (N, fk, fd, e) => {
      const K = Math.floor(fk * N), k = Math.max(1, Math.floor(fd * N));
      const h = new Hypergeometric(N, K, k);
      const ex = exactTails(N, K, k);
      const q = 2 ** -e;
      // smallest a with P(X >= a) < q, by exact comparison upper(a)/den < q  <=>  upper(a) * 2^e < den
      let a = h.lo;
      while (ex.upper(a) * 2n ** BigInt(e) >= ex.den) a++;
      assert.equal(h.minUpperBelow(q), a);
      let x = h.lo;
      while (ex.lower(x) * 2n ** BigInt(e) < ex.den) x++;
      assert.equal(h.minLowerAtLeast(q), x);
    }),
    { numRuns: 150 },
  );
  for (const x of [0, 1, 10, 1023, 1024, 5000, 1e6]) {
    let s = 0;
    if (x <= 5000) { for (let i = 2; i <= x; i++) s += Math.log(i); assert.ok(Math.abs(lnFactorial(x) - s) <= 1e-12 * Math.max(1, s), `ln ${x}!`); }
  }
  assert.ok(Math.abs(lnFactorial(1e6) - 12815518.384658169) < 1e-6);
  assert.throws(() => new Hypergeometric(10, 11, 2), is(RangeError, /^Hypergeometric: expected integers/));
});

test('explicit Harary parameters: each rule refuses by name', () => {
  const r = req(0.05, 0.05);
  checkHararyParameters(1000, 30, 17, r);
  checkHararyParameters(1000, 30, 18, r); // the window at k = 30 is [17, 18]
  assert.throws(() => checkHararyParameters(1000, 30, 16, r), rule('privacy-threshold'));
  assert.throws(() => checkHararyParameters(1000, 30, 19, r), rule('correctness-threshold'));
  assert.throws(() => checkHararyParameters(1000, 28, 17, r), rule('correctness-threshold')); // k = 28: window [17, 16] is empty
  assert.throws(() => checkHararyParameters(1000, 4, 2, r), rule('connectivity'));
  assert.throws(() => checkHararyParameters(1000, 31, 17, r), rule('even-degree'));
  checkHararyParameters(10_000, 62, 44, req(0.05, 0.05, 'malicious'));
  assert.throws(() => checkHararyParameters(10_000, 62, 43, req(0.05, 0.05, 'malicious')), rule('malicious-threshold'));
  assert.throws(() => checkHararyParameters(1000, 30, 17, req(0.5, 0.45)), rule('corruption-plus-dropout'));
  assert.throws(() => checkHararyParameters(1000, 30, 17, req(0.3, 0.31, 'malicious')), rule('corruption-plus-twice-dropout'));
  assert.throws(() => checkHararyParameters(1000, 30, 31, r), is(RangeError, /^checkHararyParameters: "t" expected an integer in \[2, 30\], got 31$/));
  assert.throws(() => checkHararyParameters(1000, 1000, 3, r), is(RangeError, /^checkHararyParameters: "k" expected an integer in \[2, 999\], got 1000$/));
  assert.throws(() => checkHararyParameters(1000, 30, '17' as never, r), is(TypeError, /^checkHararyParameters: "t" expected an integer, got string$/));
  assert.throws(() => checkHararyParameters(1000, 30, 17, req(1, 0)), is(RangeError, /"requirements\.corruptionRate" expected a fraction in \[0, 1\), got 1$/));
  assert.throws(() => checkHararyParameters(1000, 30, 17, req(0, -0.1)), is(RangeError, /"requirements\.dropoutRate" expected a fraction in \[0, 1\), got -0\.1$/));
  assert.throws(() => checkHararyParameters(1000, 30, 17, { ...r, adversary: 'evil' as never }), is(RangeError, /"requirements\.adversary" expected 'semi-honest' or 'malicious', got "evil"$/));
  assert.throws(() => checkHararyParameters(1000, 30, 17, null as never), is(TypeError, /"requirements" expected \{ corruptionRate, dropoutRate, adversary \}, got null$/));
  assert.throws(() => findHararyParameters(1000, req(0.5, 0.5)), rule('corruption-plus-dropout'));
  assert.throws(() => findHararyParameters(1000, req(0.33, 0.33, 'malicious')), rule('corruption-plus-twice-dropout'));
  assert.throws(() => findHararyParameters(0, r), is(RangeError, /^findHararyParameters: "n" expected an integer in \[1, 1000000\], got 0$/));
  assert.throws(() => findHararyParameters(4, req(0.4, 0.4)), rule('no-harary-parameters'));
});

test('complete graph: t > n_C (semi-honest), 2t > n + n_C (malicious), t <= n - n_D; auto falls back to it', () => {
  checkCompleteParameters(500, 251, req(0.2, 0.3));
  assert.throws(() => checkCompleteParameters(500, 100, req(0.2, 0.3)), rule('privacy-threshold'));
  checkCompleteParameters(500, 101, req(0.2, 0.3));
  assert.throws(() => checkCompleteParameters(500, 351, req(0.2, 0.3)), rule('correctness-threshold'));
  checkCompleteParameters(500, 350, req(0.2, 0.3));
  assert.throws(() => checkCompleteParameters(500, 300, req(0.2, 0.3, 'malicious')), rule('malicious-threshold'));
  checkCompleteParameters(500, 301, req(0.2, 0.3, 'malicious'));
  assert.throws(() => checkCompleteParameters(500, 501, req(0.2, 0.3)), is(RangeError, /^checkCompleteParameters: "t" expected an integer in \[2, 500\], got 501$/));
  assert.deepEqual(autoSecAggParameters(1000, req(0.05, 0.05)), { graph: 'harary', k: 30, t: 17 });
  assert.deepEqual(autoSecAggParameters(5, req(0.2, 0.2)), { graph: 'complete', t: 2 });
  assert.deepEqual(autoSecAggParameters(5, req(0.2, 0.2, 'malicious')), { graph: 'complete', t: 4 });
  assert.deepEqual(autoSecAggParameters(5, req(0.4, 0.4)), { graph: 'complete', t: 3 });
  assert.throws(() => autoSecAggParameters(5, req(0.4, 0.45)), rule('no-parameters'));
});
