/**
 * The randomness the distributed-DP pipeline draws at a client: the local
 * share of discrete noise and the uniforms of stochastic rounding. Every draw
 * of a DP mechanism must come from a CSPRNG (node:crypto): a source states it
 * with `csprng: true`, and the pipeline refuses anything else with a
 * TypeError naming the argument. (The exact samplers, src/dp/random.ts'
 * CryptoRandom with `discreteGaussian` and `skellam`, plug in here; this
 * interface is what the pipeline needs of them.)
 */

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

/** Refuse anything that is not a CSPRNG-backed NoiseSource (TypeError naming `what`). */
export function checkNoiseSource(fn: string, what: string, s: unknown): NoiseSource {
  const o = s as Partial<NoiseSource> | null;
  if (o === null || typeof o !== 'object' || typeof o.dgauss !== 'function' || typeof o.skellam !== 'function' || typeof o.randomUint32 !== 'function') {
    throw new TypeError(`${fn}: "${what}" expected a NoiseSource (dgauss, skellam, randomUint32), got ${o === null ? 'null' : typeof o}`);
  }
  if (o.csprng !== true) throw new TypeError(`${fn}: "${what}" is not a CSPRNG source (csprng !== true): DP noise and rounding must come from node:crypto`);
  return o as NoiseSource;
}
