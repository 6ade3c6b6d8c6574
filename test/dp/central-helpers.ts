/**
 * Test-only randomness for the central-DP tests: a deterministic CSPRNG
 * (AES-128-CTR keyed by a fixed test key, node:crypto) with `uniform()` and
 * a Box–Muller `gaussian(out, sigma)`. The real Gaussian sampler is
 * src/dp/random.ts's (the lead plugs it in at merge); this one is only for
 * reproducible tests.
 */
import { createCipheriv, createHash } from 'node:crypto';
import type { GaussianNoise, UniformRandom } from '../../src/dp/central-random.js';

export class TestCsprng implements GaussianNoise, UniformRandom {
  readonly #cipher;
  #buf = Buffer.alloc(0);
  #at = 0;
  /** Gaussian draws so far (tests: who drew noise). */
  gaussianCalls = 0;
  constructor(seed: string) {
    const key = createHash('sha256').update(`fedcrypt-dp-central-test/${seed}`).digest().subarray(0, 16);
    this.#cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  }
  #bytes(n: number): Buffer {
    if (this.#at + n > this.#buf.length) {
      this.#buf = Buffer.concat([this.#buf.subarray(this.#at), this.#cipher.update(Buffer.alloc(Math.max(4096, n)))]);
      this.#at = 0;
    }
    const b = this.#buf.subarray(this.#at, this.#at + n);
    this.#at += n;
    return b;
  }
  uniform(): number {
    const b = this.#bytes(8);
    const hi = b.readUInt32LE(0) >>> 5; // 27 bits
    const lo = b.readUInt32LE(4) >>> 6; // 26 bits
    return (hi * 2 ** 26 + lo) / 2 ** 53;
  }
  gaussian(out: Float64Array | Float32Array, sigma: number): void {
    if (!(sigma >= 0)) throw new RangeError(`TestCsprng.gaussian: "sigma" expected >= 0, got ${sigma}`);
    this.gaussianCalls++;
    for (let i = 0; i < out.length; i += 2) {
      const u1 = 1 - this.uniform();
      const u2 = this.uniform();
      const r = Math.sqrt(-2 * Math.log(u1)) * sigma;
      out[i] = r * Math.cos(2 * Math.PI * u2);
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
    }
  }
}

/** A noise source that must never be asked (noise multiplier 0 paths assert it stays unused when sigma > 0). */
export const zeroNoise: GaussianNoise = { gaussian: (out, sigma) => { if (sigma !== 0) throw new Error(`zeroNoise asked for sigma ${sigma}`); out.fill(0); } };

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
