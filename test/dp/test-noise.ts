/**
 * TEST-ONLY noise source. NOT a DP mechanism: the discrete samplers here are
 * simple approximations (a rounded continuous Gaussian; Poisson by Knuth's
 * product method below 30, a rounded normal above), used where the pipeline
 * needs a `NoiseSource` before the exact samplers (src/dp/random.ts) are
 * merged. Its randomness is a deterministic CSPRNG: AES-256-CTR keyed by a
 * fixed test key, so runs are reproducible at a fixed seed.
 *
 * `extraVariance` states how far each approximation's variance is from the
 * configured one (rounding a continuous variate adds about 1/12), so the
 * variance tests can compare with what this source really draws.
 */
import { createCipheriv, createHash } from 'node:crypto';
import type { NoiseSource } from '../../src/dp/noise.js';

export interface TestNoiseSource extends NoiseSource {
  /** Variance actually drawn per coordinate: dgauss(σ²) → σ² + extra, skellam(μ) → 2μ + extra. */
  varianceOf(kind: 'dgauss' | 'skellam', param: number): number;
}

/** A test-only NoiseSource (see the module comment) from a fixed seed string. */
export function testNoise(seed = 'fedcrypt test noise'): TestNoiseSource {
  const key = createHash('sha256').update(seed).digest();
  const aes = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  let pool = new Uint32Array(0);
  let at = 0;
  const word = (): number => {
    if (at >= pool.length) {
      const b = aes.update(Buffer.alloc(1 << 16));
      pool = new Uint32Array(b.length >>> 2);
      new Uint8Array(pool.buffer).set(b);
      at = 0;
    }
    return pool[at++]!;
  };
  const u53 = (): number => ((word() >>> 5) * 67108864 + (word() >>> 6)) / 9007199254740992;
  let spare: number | undefined;
  const normal = (): number => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(1 - u53()));
    const t = 2 * Math.PI * u53();
    spare = r * Math.sin(t);
    return r * Math.cos(t);
  };
  const poisson = (mu: number): number => {
    if (mu >= 30) return Math.max(0, Math.round(mu + Math.sqrt(mu) * normal()));
    const l = Math.exp(-mu);
    let k = 0;
    for (let p = u53(); p > l; p *= u53()) k++;
    return k;
  };
  return {
    csprng: true,
    dgauss(out: Int32Array, sigma2: number): void {
      const s = Math.sqrt(sigma2);
      for (let i = 0; i < out.length; i++) out[i] = Math.round(s * normal());
    },
    skellam(out: Int32Array, mu: number): void {
      for (let i = 0; i < out.length; i++) out[i] = poisson(mu) - poisson(mu);
    },
    randomUint32(out: Uint32Array): void {
      const b = aes.update(Buffer.alloc(4 * out.length));
      new Uint8Array(out.buffer, out.byteOffset, 4 * out.length).set(b.subarray(0, 4 * out.length));
    },
    varianceOf(kind, p) {
      if (kind === 'dgauss') return p === 0 ? 0 : p + 1 / 12;
      return 2 * p + (p >= 30 ? 2 / 12 : 0);
    },
  };
}
