// DP events a user composes, as plain data (in the style of Google's
// dp_accounting `DpEvent`s): each says which mechanism ran, how its input was
// sampled, and how often. The RDP accountant turns a tree of them into RDP.

/** The Gaussian mechanism with noise multiplier z = σ / (L2 sensitivity). */
export interface GaussianEvent {
  readonly kind: 'gaussian';
  readonly noiseMultiplier: number;
}

/** `event` run on a Poisson subsample: each record independently with probability q. */
export interface PoissonSampledEvent {
  readonly kind: 'poisson-sampled';
  readonly samplingProbability: number;
  readonly event: DpEvent;
}

/**
 * `event` run on a uniformly random subset of exactly `sampleSize` of
 * `sourceSize` records (fixed-size batches). Accounted under the replace-one
 * relation ([WBK19]); reports must say "fixed size".
 */
export interface SampledWithoutReplacementEvent {
  readonly kind: 'sampled-without-replacement';
  readonly sourceSize: number;
  readonly sampleSize: number;
  readonly event: DpEvent;
  /** Always 'fixed-size': the flag a report shows. */
  readonly sampling: 'fixed-size';
}

/** `event` repeated `count` times. */
export interface SelfComposedEvent {
  readonly kind: 'self-composed';
  readonly event: DpEvent;
  readonly count: number;
}

/** Each of `events` in turn (adaptive sequential composition). */
export interface ComposedEvent {
  readonly kind: 'composed';
  readonly events: readonly DpEvent[];
}

/**
 * Distributed DP: each of `clients` clients adds N_Z(0, sigma²)^dimension to
 * its integer vector and only the sum is revealed ([KLS21]). All parameters
 * are in the integer (scaled) domain.
 */
export interface DistributedDiscreteGaussianEvent {
  readonly kind: 'distributed-discrete-gaussian';
  readonly sigma: number;
  readonly clients: number;
  readonly l2Sensitivity: number;
  readonly l1Sensitivity: number;
  readonly dimension: number;
}

/**
 * Distributed DP with Skellam noise ([AKL21]): the aggregate noise is
 * Skellam with variance `mu` per coordinate (each of n clients adds
 * variance mu/n). Integer domain.
 */
export interface SkellamEvent {
  readonly kind: 'skellam';
  readonly mu: number;
  readonly l2Sensitivity: number;
  readonly l1Sensitivity: number;
}

export type DpEvent =
  | GaussianEvent
  | PoissonSampledEvent
  | SampledWithoutReplacementEvent
  | SelfComposedEvent
  | ComposedEvent
  | DistributedDiscreteGaussianEvent
  | SkellamEvent;

function finiteAtLeast(who: string, name: string, x: number, min: number, strict = false): void {
  if (typeof x !== 'number' || !Number.isFinite(x) || (strict ? x <= min : x < min)) {
    throw new RangeError(`${who}: "${name}" expected a finite number ${strict ? '>' : '≥'} ${min}, got ${String(x)}`);
  }
}

function integerAtLeast(who: string, name: string, x: number, min: number): void {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min) {
    throw new RangeError(`${who}: "${name}" expected an integer ≥ ${min}, got ${String(x)}`);
  }
}

/** Gaussian mechanism, z ≥ 0 (z = 0: no noise, ε = ∞). */
export function gaussianEvent(noiseMultiplier: number): GaussianEvent {
  finiteAtLeast('gaussianEvent', 'noiseMultiplier', noiseMultiplier, 0);
  return { kind: 'gaussian', noiseMultiplier };
}

export function poissonSampled(samplingProbability: number, event: DpEvent): PoissonSampledEvent {
  finiteAtLeast('poissonSampled', 'samplingProbability', samplingProbability, 0);
  if (samplingProbability > 1) throw new RangeError(`poissonSampled: "samplingProbability" expected in [0, 1], got ${samplingProbability}`);
  return { kind: 'poisson-sampled', samplingProbability, event };
}

export function sampledWithoutReplacement(sourceSize: number, sampleSize: number, event: DpEvent): SampledWithoutReplacementEvent {
  integerAtLeast('sampledWithoutReplacement', 'sourceSize', sourceSize, 1);
  integerAtLeast('sampledWithoutReplacement', 'sampleSize', sampleSize, 0);
  if (sampleSize > sourceSize) {
    throw new RangeError(`sampledWithoutReplacement: "sampleSize" expected ≤ sourceSize (${sourceSize}), got ${sampleSize}`);
  }
  return { kind: 'sampled-without-replacement', sourceSize, sampleSize, event, sampling: 'fixed-size' };
}

export function selfComposed(event: DpEvent, count: number): SelfComposedEvent {
  integerAtLeast('selfComposed', 'count', count, 0);
  return { kind: 'self-composed', event, count };
}

export function composed(events: readonly DpEvent[]): ComposedEvent {
  if (!Array.isArray(events)) throw new TypeError('composed: "events" expected an array of events');
  return { kind: 'composed', events: [...events] };
}

/**
 * Sum of `clients` discrete Gaussians N_Z(0, sigma²) ([KLS21]). `l1Sensitivity`
 * defaults to l2·min(√d, l2), a valid bound for integer vectors (‖x‖₁ ≤ √d‖x‖₂,
 * and ‖x‖₁ ≤ ‖x‖₂² when every coordinate is an integer).
 */
export function distributedDiscreteGaussian(p: {
  sigma: number;
  clients: number;
  l2Sensitivity: number;
  l1Sensitivity?: number;
  dimension: number;
}): DistributedDiscreteGaussianEvent {
  const who = 'distributedDiscreteGaussian';
  finiteAtLeast(who, 'sigma', p.sigma, 0.5);
  integerAtLeast(who, 'clients', p.clients, 1);
  finiteAtLeast(who, 'l2Sensitivity', p.l2Sensitivity, 0);
  integerAtLeast(who, 'dimension', p.dimension, 1);
  const l1 = p.l1Sensitivity ?? p.l2Sensitivity * Math.min(Math.sqrt(p.dimension), p.l2Sensitivity);
  finiteAtLeast(who, 'l1Sensitivity', l1, 0);
  return {
    kind: 'distributed-discrete-gaussian',
    sigma: p.sigma,
    clients: p.clients,
    l2Sensitivity: p.l2Sensitivity,
    l1Sensitivity: l1,
    dimension: p.dimension,
  };
}

/**
 * Skellam mechanism with aggregate variance `mu` ([AKL21]). Give
 * `l1Sensitivity`, or `dimension` to default it to l2·min(√d, l2) as above.
 */
export function skellamEvent(p: { mu: number; l2Sensitivity: number; l1Sensitivity?: number; dimension?: number }): SkellamEvent {
  const who = 'skellamEvent';
  finiteAtLeast(who, 'mu', p.mu, 0, true);
  finiteAtLeast(who, 'l2Sensitivity', p.l2Sensitivity, 0);
  let l1 = p.l1Sensitivity;
  if (l1 === undefined) {
    if (p.dimension === undefined) throw new RangeError(`${who}: give "l1Sensitivity" or "dimension"`);
    integerAtLeast(who, 'dimension', p.dimension, 1);
    l1 = p.l2Sensitivity * Math.min(Math.sqrt(p.dimension), p.l2Sensitivity);
  }
  finiteAtLeast(who, 'l1Sensitivity', l1, 0);
  return { kind: 'skellam', mu: p.mu, l2Sensitivity: p.l2Sensitivity, l1Sensitivity: l1 };
}

/** A short human-readable name of an event, for errors and reports. */
export function describeEvent(e: DpEvent): string {
  if (e === null || typeof e !== 'object') return `not an event (${String(e)})`;
  switch (e.kind) {
    case 'gaussian':
      return `Gaussian(z=${e.noiseMultiplier})`;
    case 'poisson-sampled':
      return `PoissonSampled(q=${e.samplingProbability}, ${describeEvent(e.event)})`;
    case 'sampled-without-replacement':
      return `SampledWithoutReplacement(fixed size ${e.sampleSize} of ${e.sourceSize}, ${describeEvent(e.event)})`;
    case 'self-composed':
      return `SelfComposed(${describeEvent(e.event)}, ×${e.count})`;
    case 'composed':
      return `Composed([${e.events.map(describeEvent).join(', ')}])`;
    case 'distributed-discrete-gaussian':
      return `DistributedDiscreteGaussian(σ=${e.sigma}, n=${e.clients}, Δ2=${e.l2Sensitivity}, Δ1=${e.l1Sensitivity}, d=${e.dimension})`;
    case 'skellam':
      return `Skellam(μ=${e.mu}, Δ2=${e.l2Sensitivity}, Δ1=${e.l1Sensitivity})`;
    default:
      return `unknown event ${JSON.stringify((e as { kind?: unknown }).kind)}`;
  }
}

/** The accountant cannot account for this event (or this event in this place / under this relation). */
export class UnsupportedDpEventError extends Error {
  override readonly name = 'UnsupportedDpEventError';
  constructor(
    /** The offending (sub)event. */
    readonly event: DpEvent,
    /** Why. */
    readonly reason: string,
  ) {
    super(`RdpAccountant: unsupported event ${describeEvent(event)}: ${reason}`);
  }
}
