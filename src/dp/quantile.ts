/**
 * The geometric quantile estimator of adaptive clipping (Andrew, Thakkar,
 * McMahan, Ramaswamy, NeurIPS'21 "Differentially private learning with
 * adaptive clipping", arXiv:1905.03871, Algorithm 1 and §3.1; TF Privacy's
 * QuantileEstimatorQuery with geometric_update, used by TFF's
 * DifferentiallyPrivateFactory.gaussian_adaptive). Facts reproduced, not code.
 *
 * One round, with C the clip of the round (public), γ the target quantile,
 * η the learning rate, n the EXPECTED number of clients per round:
 *
 *   each client i:   b_i = 1 if ‖x_i‖ ≤ C else 0; it contributes b_i − 1/2
 *                    (centered: the count query's sensitivity is 1/2, not 1);
 *   the sum, noised: S = Σ_i (b_i − 1/2) + N(0, σ_b²);
 *   fraction below:  b̄ = clamp(S / n + 1/2, 0, 1);
 *   next clip:       C' = C · exp(−η (b̄ − γ)).
 *
 * The privacy of the clip estimate is paid by raising the noise multiplier
 * of the values (the two Gaussian queries compose as one with
 * 1/z² = 1/z_v² + 1/z_b², z_b = σ_b / (1/2) = 2σ_b; the paper's §3.2 and TFF's
 * `adaptive_clip_noise_params`):
 *
 *   z_v = (z^−2 − (2σ_b)^−2)^(−1/2),      defined only when z < 2σ_b;
 *
 * with σ_b = 0.05 · n by default (TFF). z = 0: no noise anywhere (z_v = 0,
 * σ_b = 0 unless given). Pure: no import from another layer.
 */

/** TFF's defaults of gaussian_adaptive. */
export const ADAPTIVE_DEFAULTS = Object.freeze({ initialClip: 0.1, targetQuantile: 0.5, learningRate: 0.2, clippedCountStddevPerClient: 0.05 });

/** The rule named by a refusal of adaptive parameters (z ≥ 2σ_b). */
export const ADAPTIVE_NOISE_RULE = 'noiseMultiplier < 2 * clippedCountStddev';

export class AdaptiveNoiseError extends RangeError {
  override name = 'AdaptiveNoiseError';
  readonly rule = ADAPTIVE_NOISE_RULE;
  constructor(readonly noiseMultiplier: number, readonly clippedCountStddev: number) {
    super(
      `adaptive clipping: rule '${ADAPTIVE_NOISE_RULE}' fails (noiseMultiplier ${noiseMultiplier}, clippedCountStddev ${clippedCountStddev}): ` +
        `the value noise multiplier z_v = (z^-2 - (2 sigma_b)^-2)^(-1/2) is undefined; raise clippedCountStddev (default 0.05 * clientsPerRound) or lower noiseMultiplier`,
    );
  }
}

function finite(fn: string, name: string, x: unknown, min: number, strict: boolean): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || (strict ? !(x > min) : !(x >= min))) {
    throw new RangeError(`${fn}: "${name}" expected a finite number ${strict ? '>' : '>='} ${min}, got ${String(x)}`);
  }
  return x;
}

export interface AdaptiveNoiseParams {
  /** z: the effective (total) noise multiplier the accountant uses. */
  readonly noiseMultiplier: number;
  /** z_v: the multiplier of the noise on the values (std z_v · C on the sum). */
  readonly valueNoiseMultiplier: number;
  /** σ_b: the std of the noise on the sum of the centered clipped indicators. */
  readonly clippedCountStddev: number;
}

/**
 * z_v and σ_b from z, the expected clients per round n and an optional σ_b
 * (default 0.05 n when z > 0, else 0). AdaptiveNoiseError (rule
 * ADAPTIVE_NOISE_RULE) when z ≥ 2σ_b > 0 or σ_b = 0 < z.
 */
export function adaptiveNoiseParams(noiseMultiplier: number, clientsPerRound: number, clippedCountStddev?: number): AdaptiveNoiseParams {
  const fn = 'adaptiveNoiseParams';
  const z = finite(fn, 'noiseMultiplier', noiseMultiplier, 0, false);
  const n = finite(fn, 'clientsPerRound', clientsPerRound, 0, true);
  if (clippedCountStddev !== undefined) finite(fn, 'clippedCountStddev', clippedCountStddev, 0, false);
  if (z === 0) return { noiseMultiplier: 0, valueNoiseMultiplier: 0, clippedCountStddev: clippedCountStddev ?? 0 };
  const sb = clippedCountStddev ?? ADAPTIVE_DEFAULTS.clippedCountStddevPerClient * n;
  if (!(z < 2 * sb)) throw new AdaptiveNoiseError(z, sb);
  const zv = (z ** -2 - (2 * sb) ** -2) ** -0.5;
  return { noiseMultiplier: z, valueNoiseMultiplier: zv, clippedCountStddev: sb };
}

/** A client's contribution to the clipped count: b − 1/2 with b = [‖x‖ ≤ C]. */
export function belowIndicator(norm: number, clip: number): 0.5 | -0.5 {
  if (typeof norm !== 'number' || !(norm >= 0)) throw new RangeError(`belowIndicator: "norm" expected a number >= 0, got ${String(norm)}`);
  return norm <= clip ? 0.5 : -0.5;
}

export interface QuantileStepInput {
  /** C: the clip of the round. */
  readonly clip: number;
  /** S: the (noised) sum over the round's clients of b_i − 1/2. */
  readonly noisedBelowSum: number;
  /** n: the expected number of clients per round (not the realised count). */
  readonly expectedClients: number;
  /** γ. */
  readonly targetQuantile: number;
  /** η. */
  readonly learningRate: number;
}

export interface QuantileStep {
  /** b̄ = clamp(S/n + 1/2, 0, 1). */
  readonly belowFraction: number;
  /** C' = C · exp(−η (b̄ − γ)). */
  readonly nextClip: number;
}

/** One geometric update of the clip (see the module comment). */
export function quantileStep(s: QuantileStepInput): QuantileStep {
  const fn = 'quantileStep';
  if (s === null || typeof s !== 'object') throw new TypeError(`${fn}: argument expected an object`);
  const c = finite(fn, 'clip', s.clip, 0, true);
  if (typeof s.noisedBelowSum !== 'number' || Number.isNaN(s.noisedBelowSum)) throw new RangeError(`${fn}: "noisedBelowSum" expected a number, got ${String(s.noisedBelowSum)}`);
  const n = finite(fn, 'expectedClients', s.expectedClients, 0, true);
  const g = checkTargetQuantile(fn, s.targetQuantile);
  const eta = finite(fn, 'learningRate', s.learningRate, 0, false);
  const belowFraction = Math.min(1, Math.max(0, s.noisedBelowSum / n + 0.5));
  return { belowFraction, nextClip: c * Math.exp(-eta * (belowFraction - g)) };
}

export function checkTargetQuantile(fn: string, g: unknown): number {
  if (typeof g !== 'number' || !(g >= 0 && g <= 1)) throw new RangeError(`${fn}: "targetQuantile" expected a number in [0, 1], got ${String(g)}`);
  return g;
}
