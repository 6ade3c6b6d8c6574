/**
 * The public parameters of central DP-FedAvg (McMahan, Ramage, Talwar, Zhang,
 * ICLR'18, Algorithm 1 with the fixed denominator; TFF's
 * DifferentiallyPrivateFactory.gaussian_fixed / gaussian_adaptive, which wrap
 * their sum query in NormalizedQuery(denominator = clients_per_round)):
 *
 *   Δ = Σ_{i ∈ round} clip_C(x_i) + N(0, (z C)² I)        (the noised sum)
 *   result = Δ / n                                         n = EXPECTED clients per round
 *
 * The denominator is the expected count n (q · N under Poisson sampling),
 * never the realised count |round|: the realised count depends on who was
 * sampled, and dividing by it would make the sensitivity of the mean depend
 * on the data (McMahan et al. §2, the "fixed-denominator estimator").
 * With adaptive clipping the values' noise multiplier is z_v (quantile.ts),
 * so σ_values = z_v C, and the clipped count gets σ_b. Pure.
 */
import { checkClipNorm } from './central-clip.js';
import { adaptiveNoiseParams, ADAPTIVE_DEFAULTS, checkTargetQuantile } from './quantile.js';

export type NoiseAt = 'server' | 'aggregators';

function checkNoiseAt(fn: string, x: unknown): NoiseAt {
  if (x === 'server' || x === 'aggregators') return x;
  throw new RangeError(`${fn}: "noiseAt" expected 'server' or 'aggregators', got ${JSON.stringify(x)}`);
}

function nonNegative(fn: string, name: string, x: unknown): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || !(x >= 0)) throw new RangeError(`${fn}: "${name}" expected a finite number >= 0, got ${String(x)}`);
  return x;
}

function positive(fn: string, name: string, x: unknown): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || !(x > 0)) throw new RangeError(`${fn}: "${name}" expected a finite number > 0, got ${String(x)}`);
  return x;
}

export interface GaussianFixedOptions {
  /** z: noise std on the sum is z · clip. */
  readonly noiseMultiplier: number;
  /** C: the L2 clip of each client's update. */
  readonly clip: number;
  /** n: the expected number of clients per round (the fixed denominator). */
  readonly clientsPerRound: number;
  readonly noiseAt: NoiseAt;
}

export interface GaussianAdaptiveOptions {
  /** z: the effective noise multiplier (the accountant's); the values get z_v ≥ z. */
  readonly noiseMultiplier: number;
  readonly clientsPerRound: number;
  /** Default 0.1 (TFF). */
  readonly initialClip?: number;
  /** γ, default 0.5. */
  readonly targetQuantile?: number;
  /** η, default 0.2. */
  readonly learningRate?: number;
  /** σ_b, default 0.05 · clientsPerRound (0 when z = 0). */
  readonly clippedCountStddev?: number;
  readonly noiseAt: NoiseAt;
}

/** Everything derived from the options, public, the same at every party. */
export interface CentralDpParams {
  readonly mechanism: 'gaussian-fixed' | 'gaussian-adaptive';
  readonly noiseMultiplier: number;
  /** z_v (= z for fixed clipping). */
  readonly valueNoiseMultiplier: number;
  /** σ_b (0 for fixed clipping). */
  readonly clippedCountStddev: number;
  readonly clientsPerRound: number;
  readonly noiseAt: NoiseAt;
  /** Fixed: the clip. Adaptive: the initial clip. */
  readonly clip: number;
  readonly targetQuantile?: number;
  readonly learningRate?: number;
}

export function gaussianFixedParams(o: GaussianFixedOptions): CentralDpParams {
  const fn = 'dpGaussianFixed';
  if (o === null || typeof o !== 'object') throw new TypeError(`${fn}: "options" expected an object, got ${o === null ? 'null' : typeof o}`);
  const z = nonNegative(fn, 'noiseMultiplier', o.noiseMultiplier);
  return Object.freeze({
    mechanism: 'gaussian-fixed',
    noiseMultiplier: z,
    valueNoiseMultiplier: z,
    clippedCountStddev: 0,
    clientsPerRound: positive(fn, 'clientsPerRound', o.clientsPerRound),
    noiseAt: checkNoiseAt(fn, o.noiseAt),
    clip: checkClipNorm(fn, 'clip', o.clip),
  });
}

export function gaussianAdaptiveParams(o: GaussianAdaptiveOptions): CentralDpParams {
  const fn = 'dpGaussianAdaptive';
  if (o === null || typeof o !== 'object') throw new TypeError(`${fn}: "options" expected an object, got ${o === null ? 'null' : typeof o}`);
  const z = nonNegative(fn, 'noiseMultiplier', o.noiseMultiplier);
  const n = positive(fn, 'clientsPerRound', o.clientsPerRound);
  const clip = checkClipNorm(fn, 'initialClip', o.initialClip ?? ADAPTIVE_DEFAULTS.initialClip);
  const g = checkTargetQuantile(fn, o.targetQuantile ?? ADAPTIVE_DEFAULTS.targetQuantile);
  const eta = nonNegative(fn, 'learningRate', o.learningRate ?? ADAPTIVE_DEFAULTS.learningRate);
  if (o.clippedCountStddev !== undefined) nonNegative(fn, 'clippedCountStddev', o.clippedCountStddev);
  const a = adaptiveNoiseParams(z, n, o.clippedCountStddev);
  return Object.freeze({
    mechanism: 'gaussian-adaptive',
    noiseMultiplier: z,
    valueNoiseMultiplier: a.valueNoiseMultiplier,
    clippedCountStddev: a.clippedCountStddev,
    clientsPerRound: n,
    noiseAt: checkNoiseAt(fn, o.noiseAt),
    clip,
    targetQuantile: g,
    learningRate: eta,
  });
}

/** σ of the Gaussian noise on the sum of the values at clip C: z_v · C. */
export function centralNoiseStd(p: Pick<CentralDpParams, 'valueNoiseMultiplier'>, clip: number): number {
  return p.valueNoiseMultiplier * checkClipNorm('centralNoiseStd', 'clip', clip);
}

/** The fixed denominator: the expected clients per round (never the realised count). */
export function dpDenominator(p: Pick<CentralDpParams, 'clientsPerRound'>): number {
  return p.clientsPerRound;
}

/** σ of each coordinate of the released mean: z_v C / n. */
export function meanNoiseStd(p: Pick<CentralDpParams, 'valueNoiseMultiplier' | 'clientsPerRound'>, clip: number): number {
  return centralNoiseStd(p, clip) / dpDenominator(p);
}
