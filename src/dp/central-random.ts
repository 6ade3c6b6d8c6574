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

/**
 * Gaussian noise from a CSPRNG. `gaussian` fills `out` with i.i.d. noise of
 * standard deviation sigma > 0 (called only with sigma > 0). `addTo`, when
 * present, adds such noise to `values` in place in a way that keeps the
 * guarantee in floating point (src/dp/gaussian.ts' addGaussianNoise: the
 * values rounded to the noise's grid first, then exact lattice noise);
 * SERVER's noise goes through it where it exists. At merge:
 *   { gaussian: (out, s) => gaussian(rng, s, out), addTo: (v, s) => addGaussianNoise(rng, s, v) }
 * for a CryptoRandom `rng` (its brand checked there).
 */
export interface GaussianNoise {
  gaussian(out: Float64Array | Float32Array, sigma: number): void;
  addTo?(values: Float64Array, sigma: number): void;
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
