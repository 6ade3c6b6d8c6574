/**
 * Gaussian noise for central DP, from the CSPRNG, without the floating-point attack.
 *
 * The attack. Noise computed in floating point (Box-Muller, inverse cdf, ziggurat) has a
 * support that is an irregular subset of the doubles, which depends on the computation;
 * x + noise then reveals x through which doubles can occur (Mironov 2012, "On significance
 * of the least significant bits for differential privacy", for Laplace; Holohan & Braghin
 * 2021, "Secure random sampling in differential privacy", arXiv:2107.10138, for Gaussian).
 * Opacus' secure mode mitigates it by using a CSPRNG and summing 2n = 4 Gaussian draws
 * scaled by 1/2 (after Holohan & Braghin): this shrinks the attacker's advantage but is not
 * a proof.
 *
 * What is done here (discretise, then sample exactly, in the spirit of Mironov's snapping and
 * of Canonne-Kamath-Steinke 2020): the noise is Δ·Z with Z an *exact* discrete Gaussian
 * N_Z(0, σ_Z²) (./discrete-gaussian.ts), Δ = 2^e the grid with σ/Δ ∈ [2^b, 2^(b+1))
 * (b = 16 for Float32Array output, 20 for Float64Array) and σ_Z = ⌈σ/Δ⌉. Every value Δ·Z is
 * exactly representable, so the noise law is exactly Δ·N_Z(0, σ_Z²), standard deviation
 * parameter σ' = Δ·σ_Z ∈ [σ, σ·(1 + 2^-b)) (never less noise than asked).
 *
 * The guarantee that remains, stated honestly:
 * - `addGaussianNoise` rounds each value to the grid Δℤ first and then adds Δ·Z: the exact sum
 *   is a lattice point whose law is the discrete Gaussian mechanism on Δℤ^d, which satisfies
 *   ρ-zCDP with ρ = S'²/(2σ'²) (CKS 2020, Theorem 4: Rényi divergence αΔ²/(2σ²) for an integer
 *   shift Δ, added over independent coordinates), where
 *   S' ≤ S + Δ·√d is the L2 sensitivity after rounding (each coordinate moves by ≤ Δ/2). The
 *   floating-point result is a deterministic rounding of that lattice point (post-processing);
 *   for |values| < 2^24·Δ (Float32) or 2^53·Δ (Float64) it is the lattice point itself.
 * - `gaussian` alone returns the noise Δ·Z; adding it to values that are not on the grid Δℤ
 *   gives no guarantee (the supports of x + ΔZ and x' + ΔZ differ). Use `addGaussianNoise`,
 *   or round to `gaussianGrid(σ, kind)` first.
 * - As for every mechanism here: the CSPRNG is assumed indistinguishable from random.
 */
import { assertCryptoRandom, type CryptoRandom } from './random.js';
import { dgaussPlan, dgaussSample } from './discrete-gaussian.js';

function gridBits(out: Float32Array | Float64Array): number {
  return out instanceof Float32Array ? 16 : 20;
}

function checkSigma(sigma: unknown, fn: string): number {
  if (typeof sigma !== 'number' || !Number.isFinite(sigma) || !(sigma > 0)) {
    throw new RangeError(`${fn}: "sigma" expected a finite number > 0, got ${String(sigma)}`);
  }
  if (sigma < 2 ** -900 || sigma > 2 ** 900) throw new RangeError(`${fn}: "sigma" out of range [2^-900, 2^900], got ${sigma}`);
  return sigma;
}

function checkOut(out: unknown, fn: string, arg: string): asserts out is Float32Array | Float64Array {
  if (!(out instanceof Float32Array) && !(out instanceof Float64Array)) {
    throw new TypeError(`${fn}: "${arg}" expected Float32Array or Float64Array, got ${out === null ? 'null' : typeof out === 'object' ? (out as object).constructor?.name : typeof out}`);
  }
}

/** The grid Δ = 2^e (σ/Δ ∈ [2^b, 2^(b+1)), b = 16 for 'float32', 20 for 'float64') and σ_Z = ⌈σ/Δ⌉. */
export function gaussianGrid(sigma: number, kind: 'float32' | 'float64'): { delta: number; sigmaZ: number; sigmaEffective: number } {
  checkSigma(sigma, 'gaussianGrid');
  const b = kind === 'float32' ? 16 : 20;
  const e = Math.floor(Math.log2(sigma)) - b;
  let delta = 2 ** e;
  // fix a possible off-by-one of log2 so that σ/Δ ∈ [2^b, 2^(b+1))
  while (sigma / delta >= 2 ** (b + 1)) delta *= 2;
  while (sigma / delta < 2 ** b) delta /= 2;
  const sigmaZ = Math.ceil(sigma / delta); // σ/Δ is exact (power-of-two scaling)
  return { delta, sigmaZ, sigmaEffective: sigmaZ * delta };
}

/** The arguments checked, and the grid Δ and discrete-Gaussian plan of σ for `arr`'s dtype (both samplers below). */
function latticePlan(rng: CryptoRandom, sigma: number, arr: Float32Array | Float64Array, fn: string, arg: string): { delta: number; plan: ReturnType<typeof dgaussPlan> } {
  assertCryptoRandom(rng, 'rng', fn);
  checkSigma(sigma, fn);
  checkOut(arr, fn, arg);
  const { delta, sigmaZ } = gaussianGrid(sigma, gridBits(arr) === 16 ? 'float32' : 'float64');
  return { delta, plan: dgaussPlan(sigmaZ * sigmaZ, fn) };
}

/** Fill `out` with Gaussian noise of standard deviation σ' ∈ [σ, σ(1 + 2^-b)), exactly Δ·N_Z(0, σ_Z²) (see above). */
export function gaussian(rng: CryptoRandom, sigma: number, out: Float32Array | Float64Array): Float32Array | Float64Array {
  const { delta, plan } = latticePlan(rng, sigma, out, 'gaussian', 'out');
  for (let i = 0; i < out.length; i++) out[i] = dgaussSample(rng, plan) * delta;
  return out;
}

/**
 * values[i] ← round(values[i]/Δ)·Δ + Δ·Z_i in place (Z_i exact discrete Gaussians): the
 * Gaussian mechanism on the grid Δℤ, with the guarantee stated above.
 */
export function addGaussianNoise(rng: CryptoRandom, sigma: number, values: Float32Array | Float64Array): Float32Array | Float64Array {
  const { delta, plan } = latticePlan(rng, sigma, values, 'addGaussianNoise', 'values');
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) throw new RangeError(`addGaussianNoise: "values[${i}]" expected finite, got ${v}`);
    values[i] = (Math.round(v / delta) + dgaussSample(rng, plan)) * delta;
  }
  return values;
}
