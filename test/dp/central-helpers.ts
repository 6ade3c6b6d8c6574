/**
 * The central-DP tests' randomness: a CryptoRandom under a fixed test key
 * per seed string (reproducible), `rng` for the mechanisms, and
 * `uniform()` / `gaussian()` for making test inputs.
 */
import { createHash } from 'node:crypto';
import { CryptoRandom } from '../../src/dp/random.js';
import { gaussian } from '../../src/dp/gaussian.js';

export class TestCsprng {
  readonly rng: CryptoRandom;
  constructor(seed: string) {
    this.rng = CryptoRandom.fromKey(createHash('sha256').update(`fedcrypt-dp-central-test/${seed}`).digest(), 'test');
  }
  uniform(): number {
    return this.rng.float53();
  }
  gaussian(out: Float64Array | Float32Array, sigma: number): void {
    if (sigma === 0) out.fill(0);
    else gaussian(this.rng, sigma, out);
  }
}

/**
 * Two-sided z bound of the distribution tests: P(|N(0,1)| > 5) = 5.7e-7, the
 * stated false-failure probability of each such check (normal approximation).
 */
export const Z_BOUND = 5;

/** Upper quantile of chi-square with k degrees of freedom at the z of Z_BOUND (Wilson–Hilferty). */
export function chiSquareBound(k: number, z = Z_BOUND): number {
  const a = 2 / (9 * k);
  return k * (1 - a + z * Math.sqrt(a)) ** 3;
}
