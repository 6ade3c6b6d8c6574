/**
 * The DP tests' noise: the exact samplers (src/dp/noise.ts noiseSourceFrom
 * over a CryptoRandom) keyed by a fixed test key per seed string, so runs are
 * reproducible; `varianceOf` is the variance they draw per coordinate.
 */
import { createHash } from 'node:crypto';
import { noiseSourceFrom, type NoiseSource } from '../../src/dp/noise.js';
import { CryptoRandom } from '../../src/dp/random.js';

/** A CryptoRandom keyed by the seed string (a CSPRNG with a chosen key: tests only). */
export function testRng(seed = 'fedcrypt test noise'): CryptoRandom {
  return CryptoRandom.fromKey(createHash('sha256').update(seed).digest(), 'fedcrypt/test');
}

/** The exact samplers' NoiseSource over `testRng(seed)`. */
export function testNoise(seed = 'fedcrypt test noise'): NoiseSource {
  return noiseSourceFrom(testRng(seed));
}

/**
 * Variance per coordinate of what the exact samplers draw: Skellam(μ) 2μ;
 * the discrete Gaussian N_Z(0, σ²) slightly less than σ² (the sum of
 * x² exp(-x²/2σ²) over the normalising sum, to double precision).
 */
export function varianceOf(kind: 'dgauss' | 'skellam', p: number): number {
  if (p === 0) return 0;
  if (kind === 'skellam') return 2 * p;
  if (p > 50) return p; // the gap is below 1e-300 relative
  let num = 0;
  let den = 1;
  for (let x = 1; x < 40 * Math.sqrt(p) + 40; x++) {
    const w = Math.exp((-x * x) / (2 * p));
    num += 2 * x * x * w;
    den += 2 * w;
  }
  return num / den;
}
