// TEMPORARY (removed when main's rng API lands): the duck-typed random sources of the pre-merge DP modules, from a CryptoRandom.
import type { CryptoRandom } from '../dp/random.js';
import { gaussian, addGaussianNoise } from '../dp/gaussian.js';
import { discreteGaussian } from '../dp/discrete-gaussian.js';
import { skellam } from '../dp/poisson.js';

export function legacy(rng: CryptoRandom) {
  return {
    uniform: { uniform: () => rng.uint53() / 2 ** 53 },
    gaussianNoise: { gaussian: (o: Float32Array | Float64Array, s: number) => { gaussian(rng, s, o); }, addTo: (v: Float64Array, s: number) => { addGaussianNoise(rng, s, v); } },
    noiseSource: {
      csprng: true as const,
      dgauss: (o: Int32Array, s2: number) => { discreteGaussian(rng, s2, o); },
      skellam: (o: Int32Array, mu: number) => { skellam(rng, mu, o); },
      randomUint32: (o: Uint32Array) => { for (let i = 0; i < o.length; i++) o[i] = rng.uint32(); },
    },
  };
}
