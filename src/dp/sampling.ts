/**
 * Client sampling per round, from a CSPRNG.
 *
 * - 'poisson' (the accountant's assumption, Abadi et al. CCS'16 §3.1;
 *   McMahan et al. ICLR'18 Algorithm 1): each of the N clients is included
 *   independently with probability q. The round's size is Binomial(N, q),
 *   expected n = qN: DP-FedAvg divides by that n, not by the realised size.
 *   Inclusion: u < q for u uniform in [0, 1) with 53 bits, so
 *   P(in) = ⌈q 2^53⌉ / 2^53 (within 2^-53 of q).
 * - 'fixed-size': m clients uniformly without replacement (a partial
 *   Fisher–Yates shuffle). Its RDP bound is a different one (sampling
 *   without replacement, Wang, Balle, Kasiviswanathan AISTATS'19): reports
 *   and the accountant must say so, hence the `sampling` tag on every draw.
 *
 * An EMPTY round (Poisson, probability (1 − q)^N) is a real outcome and is
 * returned as such (`clients: []`, `empty: true`): the caller must still
 * spend the round in the accountant (the mechanism ran: it released pure
 * noise), and a learning loop either releases the noise alone or skips the
 * update; it never redraws (redrawing until non-empty changes the sampling
 * distribution the accountant assumes).
 */
import { uniformFrom } from './central-random.js';
import { assertCryptoRandom, type CryptoRandom } from './random.js';

export type SamplingKind = 'poisson' | 'fixed-size';

export interface ClientSample<T> {
  readonly sampling: SamplingKind;
  /** The participating clients, in their original order. */
  readonly clients: readonly T[];
  /** Their indices into the population. */
  readonly indices: readonly number[];
  /** Poisson: q; fixed-size: m / N. */
  readonly rate: number;
  /** The expected number of clients (qN, or m): the DP-FedAvg denominator. */
  readonly expected: number;
  readonly population: number;
  readonly empty: boolean;
}

function checkPopulation<T>(fn: string, population: readonly T[]): void {
  if (!Array.isArray(population)) throw new TypeError(`${fn}: "population" expected an array, got ${typeof population}`);
}

/** Poisson sampling: each client independently with probability q. */
export function poissonSample<T>(population: readonly T[], q: number, rng: CryptoRandom): ClientSample<T> {
  const fn = 'poissonSample';
  checkPopulation(fn, population);
  if (typeof q !== 'number' || !(q >= 0 && q <= 1)) throw new RangeError(`${fn}: "q" expected a probability in [0, 1], got ${String(q)}`);
  const uniform = uniformFrom(rng, fn, 'rng');
  const indices: number[] = [];
  for (let i = 0; i < population.length; i++) {
    const u = uniform();
    if (u < q) indices.push(i);
  }
  return freeze('poisson', population, indices, q, q * population.length);
}

/** Fixed-size sampling: m clients uniformly without replacement (flagged 'fixed-size'). */
export function fixedSizeSample<T>(population: readonly T[], m: number, rng: CryptoRandom): ClientSample<T> {
  const fn = 'fixedSizeSample';
  checkPopulation(fn, population);
  const N = population.length;
  if (!Number.isInteger(m) || m < 0 || m > N) throw new RangeError(`${fn}: "m" expected an integer in [0, ${N}], got ${String(m)}`);
  assertCryptoRandom(rng, 'rng', fn);
  const idx = Array.from({ length: N }, (_, i) => i);
  for (let k = 0; k < m; k++) {
    // j uniform in [k, N), exactly (rejection sampling, no modulo bias)
    const j = k + rng.int(N - k);
    [idx[k], idx[j]] = [idx[j]!, idx[k]!];
  }
  const indices = idx.slice(0, m).sort((a, b) => a - b);
  return freeze('fixed-size', population, indices, N === 0 ? 0 : m / N, m);
}

function freeze<T>(sampling: SamplingKind, population: readonly T[], indices: number[], rate: number, expected: number): ClientSample<T> {
  return Object.freeze({
    sampling,
    clients: Object.freeze(indices.map((i) => population[i]!)),
    indices: Object.freeze(indices),
    rate,
    expected,
    population: population.length,
    empty: indices.length === 0,
  });
}

/** A per-round sampler, as a learning loop takes it. */
export type ClientSampling = { readonly kind: 'poisson'; readonly q: number; readonly rng: CryptoRandom } | { readonly kind: 'fixed-size'; readonly m: number; readonly rng: CryptoRandom };

/** Draw one round's clients with `s`. */
export function sampleClients<T>(population: readonly T[], s: ClientSampling): ClientSample<T> {
  if (s === null || typeof s !== 'object') throw new TypeError(`sampleClients: "sampling" expected { kind: 'poisson', q, rng } or { kind: 'fixed-size', m, rng }`);
  if (s.kind === 'poisson') return poissonSample(population, s.q, s.rng);
  if (s.kind === 'fixed-size') return fixedSizeSample(population, s.m, s.rng);
  throw new RangeError(`sampleClients: "sampling.kind" expected 'poisson' or 'fixed-size', got ${JSON.stringify((s as { kind?: unknown }).kind)}`);
}
