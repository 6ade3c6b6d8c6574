// Helpers for callers of DP-FedAvg (pure math): ε of a run, and the noise
// multiplier for a target ε.
//
// A DP-FedAvg round samples clients (Poisson with probability q, or a fixed
// number q·population without replacement), clips each client's update to
// L2 norm C, sums, and adds N(0, (z·C)²) (McMahan, Ramage, Talwar, Zhang,
// "Learning Differentially Private Recurrent Language Models", ICLR 2018).
// One round is PoissonSampled(q, Gaussian(z)) under add/remove-one-client,
// or SampledWithoutReplacement(N, qN, Gaussian(z)) under replace-one-client
// (z then relative to the replace-one sensitivity, 2C for a sum).
// ε comes from PrivacyAccountant: exact (μ-GDP, μ = √T/z) when nothing is
// subsampled (q = 1), the RDP bound otherwise.

import { gaussianEvent, poissonSampled, sampledWithoutReplacement, selfComposed, type DpEvent } from './events.js';
import { PrivacyAccountant, type AccountantKind } from './accountant.js';
import type { NeighboringRelation } from './rdp-accountant.js';

export interface DpFedAvgAccountingInput {
  /** Client sampling rate per round, in [0, 1]. */
  readonly q: number;
  /** Rounds run so far. */
  readonly rounds: number;
  /** Target δ, in (0, 1). */
  readonly delta: number;
  /** 'poisson' (default; add/remove relation) or 'fixed-size' (sampling without replacement; replace-one relation). */
  readonly sampling?: 'poisson' | 'fixed-size';
  /** Number of clients N (required for 'fixed-size'; q·N must be an integer). */
  readonly population?: number;
  /** RDP orders (default: dp_accounting's defaults). */
  readonly orders?: readonly number[];
  /**
   * 'best' (default): without subsampling (q = 1, or a fixed-size sample of
   * everyone) the exact Gaussian composition (μ-GDP, gdp.ts), else RDP;
   * 'rdp': the RDP bound only.
   */
  readonly accountant?: 'best' | 'rdp';
}

export interface DpFedAvgEpsilon {
  readonly epsilon: number;
  /** The RDP order achieving ε (NaN when the exact Gaussian composition gave it). */
  readonly order: number;
  /** Which bound gave ε. */
  readonly accountant: AccountantKind;
  /** μ of the run when it is an exact Gaussian composition (q = 1). */
  readonly mu?: number;
  readonly delta: number;
  readonly sampling: 'poisson' | 'fixed-size';
  readonly neighboringRelation: NeighboringRelation;
}

function roundEvent(who: string, input: DpFedAvgAccountingInput, z: number): { event: DpEvent; relation: NeighboringRelation } {
  const sampling = input.sampling ?? 'poisson';
  if (sampling === 'poisson') return { event: poissonSampled(input.q, gaussianEvent(z)), relation: 'add-remove' };
  if (sampling !== 'fixed-size') throw new RangeError(`${who}: "sampling" expected 'poisson' or 'fixed-size', got ${JSON.stringify(sampling)}`);
  const n = input.population;
  if (n === undefined || !Number.isSafeInteger(n) || n < 1) {
    throw new RangeError(`${who}: "population" expected an integer ≥ 1 with sampling 'fixed-size', got ${String(n)}`);
  }
  const m = Math.round(input.q * n);
  if (Math.abs(input.q * n - m) > 1e-9 * Math.max(1, m)) {
    throw new RangeError(`${who}: "q" expected q·population to be an integer (the fixed sample size) with sampling 'fixed-size', got q·population = ${input.q * n}`);
  }
  return { event: sampledWithoutReplacement(n, m, gaussianEvent(z)), relation: 'replace-one' };
}

function checkCommon(who: string, input: DpFedAvgAccountingInput): void {
  if (typeof input.q !== 'number' || !(input.q >= 0 && input.q <= 1)) throw new RangeError(`${who}: "q" expected in [0, 1], got ${String(input.q)}`);
  if (!Number.isSafeInteger(input.rounds) || input.rounds < 0) throw new RangeError(`${who}: "rounds" expected an integer ≥ 0, got ${String(input.rounds)}`);
  if (typeof input.delta !== 'number' || !(input.delta > 0 && input.delta < 1)) throw new RangeError(`${who}: "delta" expected in (0, 1), got ${String(input.delta)}`);
}

/** ε (with its order) after `rounds` DP-FedAvg rounds with noise multiplier z. */
export function dpFedAvgEpsilon(input: DpFedAvgAccountingInput & { readonly noiseMultiplier: number }): DpFedAvgEpsilon {
  const who = 'dpFedAvgEpsilon';
  checkCommon(who, input);
  if (typeof input.noiseMultiplier !== 'number' || !(input.noiseMultiplier >= 0) || !Number.isFinite(input.noiseMultiplier)) {
    throw new RangeError(`${who}: "noiseMultiplier" expected a finite number ≥ 0, got ${String(input.noiseMultiplier)}`);
  }
  const { event, relation } = roundEvent(who, input, input.noiseMultiplier);
  const acc = new PrivacyAccountant({ orders: input.orders, neighboringRelation: relation, accountant: input.accountant ?? 'best' });
  acc.compose(selfComposed(event, input.rounds));
  const r = acc.getEpsilon(input.delta);
  return { ...r, delta: input.delta, sampling: input.sampling ?? 'poisson', neighboringRelation: relation };
}

export interface NoiseMultiplierResult {
  readonly noiseMultiplier: number;
  /** ε at the returned noise multiplier (≤ targetEpsilon). */
  readonly epsilon: number;
  readonly order: number;
  /** Which bound gave ε (see dpFedAvgEpsilon). */
  readonly accountant: AccountantKind;
}

const Z_MAX = 1e6;
const Z_MIN = 1e-6;

/**
 * The smallest noise multiplier z (up to the tolerance) with
 * dpFedAvgEpsilon(z) ≤ targetEpsilon, by bisection on z (ε is non-increasing
 * in z). Tolerance: the returned z satisfies ε(z) ≤ targetEpsilon, and
 * ε(z − t·z) > targetEpsilon, where t = `relativeTolerance` (default 1e-6);
 * i.e. z is at most a factor (1 + t) above the exact smallest one, on the
 * accountant's orders. Throws when no z ≤ 1e6 reaches the target.
 */
export function noiseMultiplierFor(input: DpFedAvgAccountingInput & { readonly targetEpsilon: number; readonly relativeTolerance?: number }): NoiseMultiplierResult {
  const who = 'noiseMultiplierFor';
  checkCommon(who, input);
  const target = input.targetEpsilon;
  if (typeof target !== 'number' || !(target > 0)) throw new RangeError(`${who}: "targetEpsilon" expected > 0, got ${String(target)}`);
  const tol = input.relativeTolerance ?? 1e-6;
  if (!(tol > 0 && tol < 1)) throw new RangeError(`${who}: "relativeTolerance" expected in (0, 1), got ${String(tol)}`);
  const eps = (z: number): DpFedAvgEpsilon => dpFedAvgEpsilon({ ...input, noiseMultiplier: z });
  if (input.q === 0 || input.rounds === 0) {
    const at0 = eps(0);
    return { noiseMultiplier: 0, epsilon: 0, order: at0.order, accountant: at0.accountant };
  }
  // Bracket: ε(lo) > target ≥ ε(hi).
  let hi = 1;
  let atHi = eps(hi);
  let lo: number;
  if (atHi.epsilon <= target) {
    lo = hi / 2;
    while (eps(lo).epsilon <= target) {
      hi = lo;
      atHi = eps(hi);
      lo /= 2;
      if (lo < Z_MIN) return { noiseMultiplier: hi, epsilon: atHi.epsilon, order: atHi.order, accountant: atHi.accountant };
    }
  } else {
    lo = hi;
    do {
      lo = hi;
      hi *= 2;
      if (hi > Z_MAX) throw new RangeError(`${who}: "targetEpsilon" ${target} is not reached with a noise multiplier ≤ ${Z_MAX}`);
      atHi = eps(hi);
    } while (atHi.epsilon > target);
  }
  while (hi - lo > tol * hi) {
    const mid = (lo + hi) / 2;
    const at = eps(mid);
    if (at.epsilon <= target) {
      hi = mid;
      atHi = at;
    } else lo = mid;
  }
  return { noiseMultiplier: hi, epsilon: atHi.epsilon, order: atHi.order, accountant: atHi.accountant };
}
