/**
 * Every mechanism takes its randomness only from a CryptoRandom: Math.random, a function, a
 * plain object with the same methods (even bound to a real CryptoRandom's), a seeded
 * non-crypto generator and an object made with CryptoRandom's prototype are refused with a
 * NotCryptoRandomError naming the argument. And the argument checks name their argument.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CryptoRandom, NotCryptoRandomError, assertCryptoRandom } from '../../src/dp/random.js';
import { discreteGaussian, discreteGaussianOne } from '../../src/dp/discrete-gaussian.js';
import { poisson, poissonOne, skellam, skellamOne } from '../../src/dp/poisson.js';
import { addGaussianNoise, gaussian } from '../../src/dp/gaussian.js';

/** A seeded non-crypto generator (mulberry32) exposing CryptoRandom's method names. */
class Mulberry32 {
  #s: number;
  kind = 'keyed';
  constructor(seed: number) { this.#s = seed >>> 0; }
  uint32(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  int(n: number): number { return this.uint32() % n; }
  bit(): number { return this.uint32() & 1; }
  uint53(): number { return this.uint32() * 2 ** 21 + (this.uint32() >>> 11); }
  bigBelow(n: bigint): bigint { return BigInt(this.uint32()) % n; }
  bernoulli(a: number, b: number): number { return this.int(b) < a ? 1 : 0; }
}

const real = CryptoRandom.fromKey(new Uint8Array(32), 'guards');
const lookAlike = Object.fromEntries(
  ['uint32', 'uint53', 'int', 'bit', 'bigBelow', 'bernoulli', 'float53'].map((m) => [m, (real as unknown as Record<string, (...a: unknown[]) => unknown>)[m]!.bind(real)]),
);
const fakes: Array<[string, unknown, RegExp]> = [
  ['Math.random', Math.random, /got Math\.random/],
  ['a function', () => 4, /got function/],
  ['a look-alike object with bound methods', lookAlike, /got object Object/],
  ['a seeded non-crypto generator', new Mulberry32(42), /got object Mulberry32/],
  ['an object with CryptoRandom\'s prototype', Object.create(CryptoRandom.prototype), /got object CryptoRandom/],
  ['undefined', undefined, /got undefined/],
];

const mechanisms: Array<[string, (rng: never) => unknown]> = [
  ['discreteGaussian', (r) => discreteGaussian(r, 4, new Int32Array(3))],
  ['discreteGaussianOne', (r) => discreteGaussianOne(r, 4)],
  ['poisson', (r) => poisson(r, 4, new Int32Array(3))],
  ['poissonOne', (r) => poissonOne(r, 4)],
  ['skellam', (r) => skellam(r, 4, new Int32Array(3))],
  ['skellamOne', (r) => skellamOne(r, 4)],
  ['gaussian', (r) => gaussian(r, 1, new Float64Array(3))],
  ['addGaussianNoise', (r) => addGaussianNoise(r, 1, new Float64Array(3))],
];

test('every mechanism refuses a random source that is not a CryptoRandom, naming the argument', () => {
  for (const [name, call] of mechanisms) {
    for (const [what, fake, re] of fakes) {
      assert.throws(() => call(fake as never), (e: unknown) => {
        assert.ok(e instanceof NotCryptoRandomError, `${name} with ${what}: ${String(e)}`);
        assert.ok(e instanceof TypeError);
        assert.equal(e.argument, 'rng');
        assert.match(e.message, new RegExp(`^${name}: "rng" expected a CryptoRandom`));
        assert.match(e.message, re);
        return true;
      }, `${name} with ${what}`);
    }
    assert.doesNotThrow(() => call(real as never), name);
    assert.doesNotThrow(() => call(CryptoRandom.system() as never), name);
  }
});

test('assertCryptoRandom names the argument and function it is given; the constructor is closed', () => {
  assert.throws(() => assertCryptoRandom(Math.random, 'noiseRng', 'myMechanism'), /^NotCryptoRandomError: myMechanism: "noiseRng" expected a CryptoRandom/);
  assert.equal(CryptoRandom.is(real), true);
  assert.equal(CryptoRandom.is(lookAlike), false);
  assert.throws(() => new (CryptoRandom as unknown as new (t: symbol, k: string, f: () => void) => unknown)(Symbol('CryptoRandom'), 'system', () => {}), /use CryptoRandom\.system\(\) or CryptoRandom\.fromKey\(\)/);
});

test('argument checks name their argument: σ² ≤ 0, NaN, ±Infinity, μ < 0, bad rationals, wrong output types', () => {
  const r = real;
  for (const bad of [0, -1, NaN, Infinity, -Infinity]) {
    assert.throws(() => discreteGaussian(r, bad, new Int32Array(1)), new RegExp(`^RangeError: discreteGaussian: "sigma2" expected a finite number > 0, got ${bad}`));
    assert.throws(() => discreteGaussianOne(r, bad), /discreteGaussianOne: "sigma2" expected a finite number > 0/);
    assert.throws(() => gaussian(r, bad, new Float32Array(1)), /gaussian: "sigma" expected a finite number > 0/);
    assert.throws(() => addGaussianNoise(r, bad, new Float32Array(1)), /addGaussianNoise: "sigma" expected a finite number > 0/);
  }
  for (const bad of [-1, -1e-9, NaN, Infinity]) {
    assert.throws(() => poisson(r, bad, new Int32Array(1)), new RegExp(`^RangeError: poisson: "mu" expected a finite number ≥ 0, got ${bad}`));
    assert.throws(() => skellam(r, bad, new Int32Array(1)), /skellam: "mu" expected a finite number ≥ 0/);
    assert.throws(() => skellamOne(r, bad), /skellamOne: "mu" expected/);
  }
  assert.throws(() => discreteGaussian(r, { num: 0n, den: 1n }, new Int32Array(1)), /"sigma2" expected > 0, got 0\/1/);
  assert.throws(() => discreteGaussian(r, { num: 1n, den: 0n }, new Int32Array(1)), /"sigma2.den" expected > 0/);
  assert.throws(() => discreteGaussian(r, { num: 1, den: 2 } as never, new Int32Array(1)), /"sigma2" expected \{ num: bigint, den: bigint \}/);
  assert.throws(() => discreteGaussian(r, '4' as never, new Int32Array(1)), /"sigma2" expected a number or \{ num: bigint, den: bigint \}/);
  assert.throws(() => poisson(r, { num: -3n, den: 2n }, new Int32Array(1)), /poisson: "mu" expected ≥ 0/);
  assert.throws(() => poisson(r, 2 ** 41, new Float64Array(1)), /"mu" expected ≤ 2\^40/);
  assert.throws(() => discreteGaussian(r, 2 ** 104, new Float64Array(1)), /"sigma2" too large/);
  assert.throws(() => discreteGaussian(r, 1.7e308, new Float64Array(1)), /"sigma2" too large/);
  assert.throws(() => discreteGaussianOne(r, { num: 10n ** 400n + 1n, den: 3n }), /"sigma2" too large/);
  for (const [name, call] of [
    ['discreteGaussian', (o: unknown) => discreteGaussian(r, 1, o as never)],
    ['poisson', (o: unknown) => poisson(r, 1, o as never)],
    ['skellam', (o: unknown) => skellam(r, 1, o as never)],
  ] as const) {
    assert.throws(() => call(new Float32Array(2)), new RegExp(`^TypeError: ${name}: "out" expected Int32Array or Float64Array, got Float32Array`));
    assert.throws(() => call([0, 0]), new RegExp(`${name}: "out" expected Int32Array or Float64Array, got Array`));
    assert.throws(() => call(null), /got null/);
  }
  assert.throws(() => gaussian(r, 1, new Int32Array(2) as never), /^TypeError: gaussian: "out" expected Float32Array or Float64Array, got Int32Array/);
  assert.throws(() => addGaussianNoise(r, 1, [1, 2] as never), /addGaussianNoise: "values" expected Float32Array or Float64Array, got Array/);
});
