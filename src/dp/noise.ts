/**
 * The randomness the distributed-DP pipeline draws at a client: the local
 * share of discrete noise and the uniforms of stochastic rounding. Every draw
 * of a DP mechanism must come from a CSPRNG (node:crypto): a source states it
 * with `csprng: true`, and the pipeline refuses anything else with a
 * TypeError naming the argument. (The exact samplers, src/dp/random.ts'
 * CryptoRandom with `discreteGaussian` and `skellam`, plug in here; this
 * interface is what the pipeline needs of them.)
 */
import { exactNoise } from './exact-noise.js';
import { assertCryptoRandom, type CryptoRandom } from './random.js';

export interface NoiseSource {
  /** The source draws from a CSPRNG (node:crypto, or a keyed AES-CTR stream in tests). */
  readonly csprng: true;
  /** Fill `out` with independent discrete Gaussians N_Z(0, sigma2): P(x) ∝ exp(-x²/(2·sigma2)) (Canonne, Kamath, Steinke 2020). */
  dgauss(out: Int32Array, sigma2: number): void;
  /**
   * Fill `out` with independent symmetric Skellam samples X1 - X2, X1, X2 ~
   * Poisson(mu) independent: variance 2·mu (Agarwal, Kairouz, Liu NeurIPS'21
   * use Sk(μ, μ) with variance 2μ; TFF/TF Privacy draw Poisson(σ²/2) twice for
   * a local standard deviation σ).
   */
  skellam(out: Int32Array, mu: number): void;
  /** Fill `out` with independent uniform 32-bit words (random bytes; stochastic rounding's coins). */
  randomUint32(out: Uint32Array): void;
}

/** The sources `noiseSourceFrom` made: the only ones the pipeline accepts (a brand, not duck typing). */
const made = new WeakSet<object>();

/**
 * The pipeline's NoiseSource over a `CryptoRandom` (refused otherwise, with
 * `NotCryptoRandomError` naming `what`): the exact discrete Gaussian and
 * Skellam samplers (exact-noise.ts: their wasm kernels where built, else the
 * TypeScript ones, bit for bit the same) and the CSPRNG's words.
 */
export function noiseSourceFrom(rng: CryptoRandom, fn = 'noiseSourceFrom', what = 'rng'): NoiseSource {
  assertCryptoRandom(rng, what, fn);
  return exactNoise(rng);
}

/** Mark `src` as a source the pipeline accepts (exact-noise.ts only: its randomness is a CryptoRandom's). */
export function registerNoiseSource<T extends NoiseSource>(src: T): T {
  made.add(src);
  return src;
}

/**
 * `src` with every noise vector it draws handed to `observe` (a copy) after
 * the draw: the same CSPRNG draws, so the result is a source the pipeline
 * accepts. For tests and audits of what a client adds.
 */
export function observedNoiseSource(src: NoiseSource, observe: (kind: 'dgauss' | 'skellam', noise: Int32Array) => void): NoiseSource {
  const inner = checkNoiseSource('observedNoiseSource', 'src', src);
  if (typeof observe !== 'function') throw new TypeError('observedNoiseSource: "observe" expected a function');
  const out: NoiseSource = Object.freeze({
    csprng: true as const,
    dgauss(o: Int32Array, s2: number): void {
      inner.dgauss(o, s2);
      observe('dgauss', o.slice());
    },
    skellam(o: Int32Array, mu: number): void {
      inner.skellam(o, mu);
      observe('skellam', o.slice());
    },
    randomUint32: (o: Uint32Array) => inner.randomUint32(o),
  });
  made.add(out);
  return out;
}

/** Refuse anything but a source made by `noiseSourceFrom` (a CryptoRandom's): TypeError naming `what`. */
export function checkNoiseSource(fn: string, what: string, s: unknown): NoiseSource {
  if (s === null || typeof s !== 'object' || !made.has(s)) {
    throw new TypeError(`${fn}: "${what}" expected a NoiseSource made by noiseSourceFrom(CryptoRandom), got ${s === null ? 'null' : typeof s === 'function' ? 'a function' : typeof s}: DP noise and rounding must come from node:crypto`);
  }
  return s as NoiseSource;
}
