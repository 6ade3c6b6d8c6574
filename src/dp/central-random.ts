/**
 * The randomness of the central-DP wrappers and client sampling, from a
 * `CryptoRandom` only (src/dp/random.ts: node:crypto's CSPRNG, or AES-CTR
 * under a chosen key for reproducible runs), brand-checked: Math.random, a
 * seeded non-crypto generator or a look-alike object is refused with
 * `NotCryptoRandomError` naming the argument.
 *
 * SERVER's noise goes through `addGaussianNoise` (gaussian.ts): the values
 * rounded to the noise's grid first, then exact lattice noise Δ·N_Z, so the
 * floating-point attacks on Gaussian noise do not apply; an aggregator's
 * secret-shared noise share is drawn with `gaussian` (the share is added on
 * the fixed-point ring, not to floats).
 */
import { addGaussianNoise, gaussian } from './gaussian.js';
import { assertCryptoRandom, type CryptoRandom } from './random.js';

/** Gaussian noise of one party, from its CryptoRandom. */
export interface GaussianNoise {
  /** Fill `out` with i.i.d. noise of standard deviation sigma > 0. */
  gaussian(out: Float64Array | Float32Array, sigma: number): void;
  /** Add such noise to `values` in place, the values rounded to the noise's grid first. */
  addTo(values: Float64Array, sigma: number): void;
}

/** The GaussianNoise of `rng` (refused unless a CryptoRandom). */
export function gaussianNoiseFrom(rng: CryptoRandom, fn: string, name = 'rng'): GaussianNoise {
  assertCryptoRandom(rng, name, fn);
  return Object.freeze({
    gaussian: (out: Float64Array | Float32Array, sigma: number) => void gaussian(rng, sigma, out),
    addTo: (values: Float64Array, sigma: number) => void addGaussianNoise(rng, sigma, values),
  });
}

/** A uniform double in [0, 1) with 53 random bits from `rng` (refused unless a CryptoRandom). */
export function uniformFrom(rng: CryptoRandom, fn: string, name = 'rng'): () => number {
  assertCryptoRandom(rng, name, fn);
  return () => rng.float53();
}
