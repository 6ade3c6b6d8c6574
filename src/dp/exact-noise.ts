/**
 * The distributed-DP pipeline's `NoiseSource` (noise.ts) over the EXACT samplers: a
 * `CryptoRandom` (system CSPRNG or keyed AES-CTR) drives the exact discrete Gaussian
 * (Canonne, Kamath, Steinke 2020) and the exact Skellam (Poisson(μ) − Poisson(μ); Agarwal,
 * Kairouz, Liu 2021), and the stochastic rounding's 32-bit coins are its words.
 *
 * backend 'wasm' (default when dist/wasm/dp-samplers.wasm is built): the samplers' hot loops
 * in WebAssembly (wasm-samplers.ts), bit-for-bit the TypeScript samplers' output for the
 * same stream; 'ts': the TypeScript samplers. 'auto' picks 'wasm' when available.
 */
import { assertCryptoRandom, type CryptoRandom } from './random.js';
import { discreteGaussian } from './discrete-gaussian.js';
import { skellam } from './poisson.js';
import { discreteGaussianWasm, dpSamplersWasmAvailable, skellamWasm } from './wasm-samplers.js';
import { registerNoiseSource, type NoiseSource } from './noise.js';

export type SamplerBackend = 'wasm' | 'ts' | 'auto';

export interface ExactNoiseSource extends NoiseSource {
  readonly backend: 'wasm' | 'ts';
  readonly rng: CryptoRandom;
}

/** A CSPRNG `NoiseSource` with the exact samplers (see the module comment). */
export function exactNoise(rng: CryptoRandom, options: { backend?: SamplerBackend } = {}): ExactNoiseSource {
  const fn = 'exactNoise';
  assertCryptoRandom(rng, 'rng', fn);
  const want = options.backend ?? 'auto';
  if (want !== 'wasm' && want !== 'ts' && want !== 'auto') throw new RangeError(`${fn}: "backend" expected 'wasm', 'ts' or 'auto', got ${JSON.stringify(want)}`);
  const backend = want === 'auto' ? (dpSamplersWasmAvailable() ? 'wasm' : 'ts') : want;
  if (backend === 'wasm' && !dpSamplersWasmAvailable()) throw new Error(`${fn}: backend 'wasm' needs dist/wasm/dp-samplers.wasm; run \`npm run build\``);
  const wasm = backend === 'wasm';
  return registerNoiseSource(Object.freeze({
    csprng: true as const,
    backend,
    rng,
    dgauss(out: Int32Array, sigma2: number): void {
      if (sigma2 === 0) out.fill(0);
      else if (wasm) discreteGaussianWasm(rng, sigma2, out);
      else discreteGaussian(rng, sigma2, out);
    },
    skellam(out: Int32Array, mu: number): void {
      if (mu === 0) out.fill(0);
      else if (wasm) skellamWasm(rng, mu, out);
      else skellam(rng, mu, out);
    },
    randomUint32(out: Uint32Array): void {
      rng.fillUint32(out);
    },
  }));
}
