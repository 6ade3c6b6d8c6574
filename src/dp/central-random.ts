/**
 * The randomness the central-DP wrappers and client sampling take, as small
 * interfaces: the CSPRNG and its exact samplers are another module's
 * (src/dp/random.ts, `CryptoRandom`, and `gaussian(rng, sigma, out)`); these
 * modules are written against the interfaces and refuse anything that is not
 * an object implementing them (a bare function such as Math.random, a
 * seeded non-crypto generator without the method) with a TypeError naming the
 * argument. Every mechanism here draws from one of these, never from
 * Math.random.
 */

/** Gaussian noise from a CSPRNG: fills `out` with i.i.d. N(0, sigma²) (sigma ≥ 0; 0 fills zeros). */
export interface GaussianNoise {
  gaussian(out: Float64Array | Float32Array, sigma: number): void;
}

/** Uniform draws from a CSPRNG: `uniform()` in [0, 1) with 53 random bits. */
export interface UniformRandom {
  uniform(): number;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x === 'function') return `a function (${(x as { name?: string }).name || 'anonymous'}): pass a CSPRNG object, not Math.random`;
  return typeof x;
}

/** Check a GaussianNoise argument; TypeError naming `name` otherwise. */
export function checkGaussianNoise(fn: string, name: string, x: unknown): GaussianNoise {
  if (x === null || typeof x !== 'object' || typeof (x as GaussianNoise).gaussian !== 'function') {
    throw new TypeError(`${fn}: "${name}" expected a CSPRNG Gaussian source { gaussian(out, sigma) }, got ${describe(x)}`);
  }
  return x as GaussianNoise;
}

/** Check a UniformRandom argument; TypeError naming `name` otherwise. */
export function checkUniformRandom(fn: string, name: string, x: unknown): UniformRandom {
  if (x === null || typeof x !== 'object' || typeof (x as UniformRandom).uniform !== 'function') {
    throw new TypeError(`${fn}: "${name}" expected a CSPRNG { uniform(): number in [0, 1) }, got ${describe(x)}`);
  }
  return x as UniformRandom;
}
