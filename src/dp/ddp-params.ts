/**
 * The parameters of distributed DP, computed as TFF's
 * aggregators/distributed_dp.py does (DistributedDpSumFactory; Kairouz, Liu,
 * Steinke ICML'21 §4; Agarwal, Kairouz, Liu NeurIPS'21 §4):
 *
 *   k          = sqrt(2) · erfcinv(modclipProb)        stddevs of the aggregate kept inside
 *                                                       the bit range (Gaussian tail: P(|Z| > kσ) = modclipProb)
 *   σ_central  = z · c                                  (z noise multiplier, c L2 clip)
 *   σ_local    = σ_central / sqrt(n)                    (n expected clients: n shares sum to σ_central²)
 *   D          = padded dimension of the rotation (2^ceil(log2 d) for Hadamard, d rounded up to even for DFT)
 *   scale s    = sqrt(2^(2b) - n k²) / (2k · sqrt(ρ/D · c² n² + n σ_local²)),  ρ = 1, capped at 1e6
 *                (TFF `_heuristic_scale_factor`: solves 2^b = 2k · sqrt(ρ/D (cn)² + (γ²/4 + σ²) n) / γ
 *                for γ = 1/s, the aggregate's coordinates taken as sub-Gaussian with that variance)
 *   Δ2         = (inflatedL2NormBound(c, 1/s, β, D) + 1e-5) · s     scaled, inflated L2 sensitivity
 *   Δ1         = ceil(Δ2 · min(sqrt(D), Δ2))                          scaled L1 sensitivity (Skellam)
 *                (||v||_1 <= sqrt(D) ||v||_2, and ||v||_1 <= ||v||_2² for an integer vector)
 *   local noise (scaled units): variance (σ_local · s)² per coordinate:
 *                dgauss N_Z(0, (σ_local s)²); Skellam X1 - X2, X_i ~ Poisson((σ_local s)²/2)
 *
 * Preconditions (TFF's checks): bits >= log2(n) and 2^(2b) >= n k².
 * Difference from TFF: TF Privacy's distributed discrete Gaussian query draws
 * with scale ceil(σ_local s) (variance slightly above the configured one);
 * here the variance is exactly (σ_local s)².
 */
import erfcinv from '@stdlib/math-base-special-erfcinv';
import { inflatedL2NormBound } from './discretize.js';
import { paddedDim, type RotationKind } from './rotation.js';

export const MAX_SCALE = 1e6;
export type DdpMechanism = 'dgauss' | 'skellam';

export interface DdpInputs {
  readonly mechanism: DdpMechanism;
  readonly bits: number;
  /** Expected clients per round n (each adds 1/n of the noise variance). */
  readonly expectedClients: number;
  /** L2 clip c. */
  readonly clip: number;
  /** Noise multiplier z (σ_central / c) ... */
  readonly noiseMultiplier?: number;
  /** ... or the local standard deviation σ_local (unscaled) directly. */
  readonly localStddev?: number;
  /** Target probability of a modular wrap per coordinate (default 1e-4). */
  readonly modclipProb?: number;
  /** Conditional rounding β in [0, 1) (default 0). */
  readonly beta?: number;
  /** Dimension d of one client's update (all leaves). */
  readonly dim: number;
  readonly rotation: RotationKind;
}

export interface DdpParams {
  readonly mechanism: DdpMechanism;
  readonly bits: number;
  readonly expectedClients: number;
  readonly clip: number;
  readonly noiseMultiplier: number;
  readonly modclipProb: number;
  readonly beta: number;
  readonly dim: number;
  readonly rotation: RotationKind;
  readonly paddedDim: number;
  /** k = sqrt(2) erfcinv(modclipProb). */
  readonly kStddevs: number;
  readonly centralStddev: number;
  readonly localStddev: number;
  /** s. */
  readonly scale: number;
  /** Inflated L2 bound after rounding, unscaled. */
  readonly inflatedL2: number;
  /** Δ2 (scaled). */
  readonly scaledInflatedL2: number;
  /** Δ1 (scaled). */
  readonly scaledL1: number;
  /** Per-client noise variance in scaled units, (σ_local s)². */
  readonly localVariance: number;
  /** Skellam: mean of each Poisson, (σ_local s)²/2. */
  readonly skellamMu: number;
}

/** k = sqrt(2) · erfcinv(p): the Gaussian two-sided tail P(|Z| > kσ) = p. */
export function kStddevs(modclipProb: number): number {
  if (!(modclipProb > 0 && modclipProb < 1)) throw new RangeError(`kStddevs: "modclipProb" expected a number in (0, 1), got ${String(modclipProb)}`);
  return Math.SQRT2 * erfcinv(modclipProb);
}

/** TFF's heuristic scale factor (see the module comment), not capped. */
export function heuristicScale(localStddev: number, clip: number, bits: number, n: number, dim: number, k: number, rho = 1): number {
  const numer = Math.sqrt(2 ** (2 * bits) - n * k * k);
  const denom = 2 * k * Math.sqrt((rho / dim) * clip * clip * n * n + n * localStddev * localStddev);
  return numer / denom;
}

const num = (fn: string, what: string, v: unknown, ok: (x: number) => boolean, want: string): number => {
  if (typeof v !== 'number' || !ok(v)) throw new RangeError(`${fn}: "${what}" expected ${want}, got ${String(v)}`);
  return v;
};

/** All parameters of one configuration (see the module comment); errors name the argument. */
export function ddpParams(o: DdpInputs): DdpParams {
  const fn = 'ddpParams';
  if (o === null || typeof o !== 'object') throw new TypeError(`${fn}: "options" expected an object`);
  if (o.mechanism !== 'dgauss' && o.mechanism !== 'skellam') throw new RangeError(`${fn}: "mechanism" expected 'skellam' or 'dgauss', got ${JSON.stringify(o.mechanism)}`);
  if (o.rotation !== 'hadamard' && o.rotation !== 'dft') throw new RangeError(`${fn}: "rotation" expected 'hadamard' or 'dft', got ${JSON.stringify(o.rotation)}`);
  const bits = num(fn, 'bits', o.bits, (x) => Number.isInteger(x) && x >= 1 && x <= 31, 'an integer in [1, 31]');
  const n = num(fn, 'expectedClients', o.expectedClients, (x) => Number.isInteger(x) && x >= 1 && x <= 1e6, 'an integer in [1, 1e6]');
  const clip = num(fn, 'clip', o.clip, (x) => x > 0 && Number.isFinite(x), 'a finite number > 0');
  const modclipProb = num(fn, 'modclipProb', o.modclipProb ?? 1e-4, (x) => x > 0 && x < 1, 'a number in (0, 1)');
  const beta = num(fn, 'beta', o.beta ?? 0, (x) => x >= 0 && x < 1, 'a number in [0, 1)');
  const dim = num(fn, 'dim', o.dim, (x) => Number.isInteger(x) && x >= 1 && x <= 2 ** 30, 'an integer in [1, 2^30]');
  if ((o.noiseMultiplier === undefined) === (o.localStddev === undefined)) throw new RangeError(`${fn}: give exactly one of "noiseMultiplier" and "localStddev"`);
  let z: number, local: number;
  if (o.noiseMultiplier !== undefined) {
    z = num(fn, 'noiseMultiplier', o.noiseMultiplier, (x) => x >= 0 && Number.isFinite(x), 'a finite number >= 0');
    local = (z * clip) / Math.sqrt(n);
  } else {
    local = num(fn, 'localStddev', o.localStddev, (x) => x >= 0 && Number.isFinite(x), 'a finite number >= 0');
    z = (local * Math.sqrt(n)) / clip;
  }
  const k = kStddevs(modclipProb);
  if (bits < Math.log2(n)) throw new RangeError(`${fn}: "bits" = ${bits} is below log2(expectedClients) = ${Math.log2(n).toFixed(2)}`);
  if (2 ** (2 * bits) < n * k * k) throw new RangeError(`${fn}: "bits" = ${bits} is too small for ${n} clients at modclipProb ${modclipProb} (2^(2b) < n k²): raise bits or modclipProb, or lower expectedClients`);
  const D = paddedDim(o.rotation, dim);
  const scale = Math.min(heuristicScale(local, clip, bits, n, D, k), MAX_SCALE);
  if (!(scale > 0 && Number.isFinite(scale))) throw new RangeError(`${fn}: no usable scale (got ${scale})`);
  const inflatedL2 = inflatedL2NormBound(clip, 1 / scale, beta, D);
  const scaledInflatedL2 = (inflatedL2 + 1e-5) * scale;
  const scaledL1 = Math.ceil(scaledInflatedL2 * Math.min(Math.sqrt(D), scaledInflatedL2));
  const ls = local * scale;
  return Object.freeze({
    mechanism: o.mechanism, bits, expectedClients: n, clip, noiseMultiplier: z, modclipProb, beta, dim, rotation: o.rotation, paddedDim: D,
    kStddevs: k, centralStddev: z * clip, localStddev: local, scale, inflatedL2, scaledInflatedL2, scaledL1, localVariance: ls * ls, skellamMu: (ls * ls) / 2,
  });
}
