/**
 * Scaling and (conditional) stochastic rounding to the integer grid
 * (Kairouz, Liu, Steinke ICML'21 "The distributed discrete Gaussian
 * mechanism", §4.1 and Theorem 1/Lemma 4.1; TFF aggregators/discretization.py).
 *
 * A value x (already multiplied by the scale s, i.e. rounding granularity
 * γ = 1/s in the unscaled domain) becomes floor(x) + Bernoulli(x - floor(x)):
 * unbiased, E[round(x)] = x, each coordinate moved by less than 1. (The coin
 * is a uniform 32-bit word u < (x - floor(x)) 2^32: its probability exceeds
 * x - floor(x) by less than 2^-32, a bias far below the noise; TFF flips
 * float32 coins. The norm bounds below hold for any coin.) For a
 * vector of L2 norm <= c (scaled units) in dimension D:
 *
 *   always                  ||round(x)||_2 <= c + sqrt(D)                        (bound 1)
 *   with probability >= 1 - β,
 *   ||round(x)||_2^2 <= c^2 + D/4 + sqrt(2 ln(1/β)) · (c + sqrt(D)/2)            (bound 2)
 *
 * (in unscaled units: c → c, sqrt(D) → γ sqrt(D), the last term times γ).
 * Conditional rounding (β > 0) resamples until the rounded norm is within
 * min(bound 1, bound 2): the L2 sensitivity after rounding is that bound,
 * at the cost of a small bias. β = 0: plain unbiased stochastic rounding,
 * bound 1.
 */
import { checkNoiseSource, type NoiseSource } from './noise.js';

/**
 * The inflated L2 norm bound after stochastic rounding at granularity
 * `gamma` of a vector of L2 norm <= `l2NormBound` in dimension `dim`
 * (KLS21 §4.1; TFF `inflated_l2_norm_bound`): min(bound 1, bound 2) for
 * β > 0, bound 1 for β = 0 (see the module comment).
 */
export function inflatedL2NormBound(l2NormBound: number, gamma: number, beta: number, dim: number): number {
  if (!(l2NormBound >= 0 && Number.isFinite(l2NormBound))) throw new RangeError(`inflatedL2NormBound: "l2NormBound" expected a finite number >= 0, got ${String(l2NormBound)}`);
  if (!(gamma > 0 && Number.isFinite(gamma))) throw new RangeError(`inflatedL2NormBound: "gamma" expected a finite number > 0, got ${String(gamma)}`);
  if (!(beta >= 0 && beta < 1)) throw new RangeError(`inflatedL2NormBound: "beta" expected a number in [0, 1), got ${String(beta)}`);
  if (!(Number.isInteger(dim) && dim >= 1)) throw new RangeError(`inflatedL2NormBound: "dim" expected an integer >= 1, got ${String(dim)}`);
  const gs = gamma * Math.sqrt(dim);
  const bound1 = l2NormBound + gs;
  if (beta === 0) return bound1;
  const sq = l2NormBound * l2NormBound + 0.25 * gs * gs + Math.sqrt(2 * Math.log(1 / beta)) * gamma * (l2NormBound + 0.5 * gs);
  return Math.min(bound1, Math.sqrt(sq));
}

export interface RoundingOptions {
  /** β in [0, 1): 0 (default) unconditional rounding; > 0 resample while the norm exceeds the inflated bound. */
  beta?: number;
  /** A prior L2 bound of `x` (scaled units), e.g. clip·scale; default ||x||_2. */
  normBound?: number;
  /** Tries before giving up (β > 0). Default 1000. */
  maxTries?: number;
}

/**
 * Stochastic rounding of scaled values `x` to integers (Int32Array),
 * conditional when β > 0 (see the module comment). The uniforms come from
 * `random` (a CSPRNG source). `tries`: rounding attempts made; `bound`: the
 * norm bound the result satisfies.
 */
export function stochasticRound(x: Float64Array, random: NoiseSource, options: RoundingOptions = {}): { values: Int32Array; tries: number; bound: number } {
  if (!(x instanceof Float64Array)) throw new TypeError('stochasticRound: "x" expected a Float64Array');
  checkNoiseSource('stochasticRound', 'random', random);
  const beta = options.beta ?? 0;
  if (!(beta >= 0 && beta < 1)) throw new RangeError(`stochasticRound: "beta" expected a number in [0, 1), got ${String(beta)}`);
  const maxTries = options.maxTries ?? 1000;
  if (!(Number.isInteger(maxTries) && maxTries >= 1)) throw new RangeError(`stochasticRound: "maxTries" expected an integer >= 1, got ${String(maxTries)}`);
  let normBound = options.normBound;
  if (normBound === undefined) {
    let sq = 0;
    for (let i = 0; i < x.length; i++) sq += x[i]! * x[i]!;
    normBound = Math.sqrt(sq);
  }
  if (!(normBound >= 0)) throw new RangeError(`stochasticRound: "normBound" expected a finite number >= 0, got ${String(normBound)}`);
  // (an infinite norm bound: x has a non-finite value, refused below)
  const bound = Number.isFinite(normBound) ? inflatedL2NormBound(normBound, 1, beta, Math.max(1, x.length)) : Infinity;
  const u = new Uint32Array(x.length);
  const out = new Int32Array(x.length);
  const LIMIT = 2 ** 31 - 1;
  for (let tries = 1; ; tries++) {
    random.randomUint32(u);
    let n2 = 0;
    let bad = -1;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (!(v > -LIMIT && v < LIMIT)) bad = i;
      const f = Math.floor(v);
      // up with probability ceil((v - f) 2^32) / 2^32: E[r] = v up to < 2^-32
      const r = u[i]! < (v - f) * 4294967296 ? f + 1 : f;
      out[i] = r;
      n2 += r * r;
    }
    if (bad >= 0) throw new RangeError(`stochasticRound: "x[${bad}]" = ${x[bad]} is not finite or does not fit an int32`);
    if (beta === 0 || Math.sqrt(n2) <= bound) return { values: out, tries, bound };
    if (tries >= maxTries) throw new RangeError(`stochasticRound: conditional rounding (beta ${beta}) found no rounding within norm ${bound} in ${maxTries} tries`);
  }
}
