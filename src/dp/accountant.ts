// The accountant DP-FedAvg reads ε from (pure math). Every event goes into
// the RDP accountant; besides it, two tighter bounds are kept while they apply:
//
// - 'gdp': while everything composed is an exact Gaussian composition (no
//   subsampling: q = 1, or a fixed-size sample of the whole population), the
//   exact μ-GDP profile of that composition (gdp.ts);
// - 'pld': while everything composed is a Poisson-subsampled Gaussian (or an
//   unsampled one) under add/remove, its privacy loss distribution,
//   pessimistically discretized (pld.ts).
//
// Each is an upper bound of the true ε, so the smallest is reported, and the
// reading names the bound that gave it.

import { effectiveNoiseMultiplier } from './rdp-accountant.js';
import type { DpEvent } from './events.js';
import { gaussianEpsilon, gdpMuSquared } from './gdp.js';
import { composePld, identityPld, pldEpsilon, selfComposePld, subsampledGaussianPld, type Pld } from './pld.js';
import { RdpAccountant, type NeighboringRelation, type RdpAccountantOptions } from './rdp-accountant.js';

/** 'gdp': the exact Gaussian composition (μ-GDP); 'pld': the privacy loss distribution; 'rdp': the RDP bound at `order`. */
export type AccountantKind = 'gdp' | 'pld' | 'rdp';

export interface EpsilonReading {
  readonly epsilon: number;
  /** The RDP order achieving ε; NaN when another bound gave it. */
  readonly order: number;
  readonly accountant: AccountantKind;
  /** μ of the composition when it is an exact Gaussian composition. */
  readonly mu?: number;
}

export interface PrivacyAccountantOptions extends RdpAccountantOptions {
  /** 'best' (default): the smallest of the bounds that apply; 'rdp': RDP only. */
  readonly accountant?: 'best' | 'rdp';
  /** The PLD's grid width (default 1e-4): ε is over-estimated by at most (runs composed)·h. */
  readonly pldGrid?: number;
}

type Step = { q: number; z: number; count: number };

/** The Poisson-sampled Gaussian runs an event is made of (add/remove), or null. */
function pldSteps(event: DpEvent, count: number, out: Step[]): boolean {
  switch (event?.kind) {
    case 'gaussian':
      if (event.noiseMultiplier === 0) return false;
      out.push({ q: 1, z: event.noiseMultiplier, count });
      return true;
    case 'poisson-sampled': {
      if (event.samplingProbability === 0) return true;
      const z = effectiveNoiseMultiplier(event.event);
      if (typeof z !== 'number' || !(z > 0 && Number.isFinite(z))) return z === Infinity;
      out.push({ q: event.samplingProbability, z, count });
      return true;
    }
    case 'self-composed':
      return event.count === 0 || pldSteps(event.event, count * event.count, out);
    case 'composed':
      return event.events.every((e) => pldSteps(e, count, out));
    default:
      return false;
  }
}

export class PrivacyAccountant {
  readonly rdp: RdpAccountant;
  readonly mode: 'best' | 'rdp';
  readonly pldGrid: number;
  #muSquared = 0;
  #exact = true;
  #pldOk: boolean;
  #pending: Step[] = [];
  #pld: { remove: Pld; add: Pld } | undefined;
  readonly #steps = new Map<string, { remove: Pld; add: Pld }>();

  constructor(options: PrivacyAccountantOptions = {}) {
    const mode = options.accountant ?? 'best';
    if (mode !== 'best' && mode !== 'rdp') throw new RangeError(`PrivacyAccountant: "accountant" expected 'best' or 'rdp', got ${JSON.stringify(mode)}`);
    const h = options.pldGrid ?? 1e-4;
    if (typeof h !== 'number' || !(h > 0 && h <= 0.1)) throw new RangeError(`PrivacyAccountant: "pldGrid" expected a number in (0, 0.1], got ${String(h)}`);
    this.mode = mode;
    this.pldGrid = h;
    this.rdp = new RdpAccountant(options);
    this.#pldOk = mode === 'best' && this.rdp.neighboringRelation === 'add-remove';
  }

  get neighboringRelation(): NeighboringRelation {
    return this.rdp.neighboringRelation;
  }

  /** μ of everything composed so far when it is an exact Gaussian composition, else null. */
  get mu(): number | null {
    return this.#exact ? Math.sqrt(this.#muSquared) : null;
  }

  /** Adds `count` runs of `event` (throws as RdpAccountant.compose does, state unchanged). */
  compose(event: DpEvent, count = 1): this {
    this.rdp.compose(event, count);
    if (count === 0) return this;
    if (this.#exact) {
      const s = gdpMuSquared(event, this.rdp.neighboringRelation);
      if (s === null) this.#exact = false;
      else if (s > 0) this.#muSquared += s * count;
    }
    if (this.#pldOk) {
      const steps: Step[] = [];
      if (pldSteps(event, count, steps)) this.#pending.push(...steps);
      else this.#dropPld();
    }
    return this;
  }

  #dropPld(): void {
    this.#pldOk = false;
    this.#pending = [];
    this.#pld = undefined;
    this.#steps.clear();
  }

  /** One run's PLDs, kept per (q, z): a training run composes the same round every round. */
  #stepPld(q: number, z: number): { remove: Pld; add: Pld } {
    const key = `${q}/${z}`;
    let p = this.#steps.get(key);
    if (p === undefined) {
      if (this.#steps.size >= 8) this.#steps.clear();
      const o = { h: this.pldGrid };
      this.#steps.set(key, (p = { remove: subsampledGaussianPld(q, z, 'remove', o), add: subsampledGaussianPld(q, z, 'add', o) }));
    }
    return p;
  }

  /** The composed PLDs (both directions), or undefined when they do not apply. */
  #pldNow(): { remove: Pld; add: Pld } | undefined {
    if (!this.#pldOk) return undefined;
    try {
      let cur = this.#pld ?? { remove: identityPld(this.pldGrid), add: identityPld(this.pldGrid) };
      const o = { h: this.pldGrid };
      for (const s of this.#pending) {
        const step = this.#stepPld(s.q, s.z);
        cur = {
          remove: composePld(cur.remove, selfComposePld(step.remove, s.count, o), o),
          add: composePld(cur.add, selfComposePld(step.add, s.count, o), o),
        };
      }
      this.#pending = [];
      this.#pld = cur;
      return cur;
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      this.#dropPld(); // too fine a grid for this noise: the other bounds stand
      return undefined;
    }
  }

  /** The smallest ε this accountant proves at δ, and which bound gave it. */
  getEpsilon(delta: number): EpsilonReading {
    const r = this.rdp.getEpsilon(delta);
    const mu = this.mu;
    let best: EpsilonReading = { epsilon: r.epsilon, order: r.order, accountant: 'rdp', ...(mu === null ? {} : { mu }) };
    if (this.mode !== 'best' || !(delta > 0)) return best;
    if (mu !== null) {
      const g = gaussianEpsilon(mu, delta);
      if (g <= best.epsilon) best = { epsilon: g, order: NaN, accountant: 'gdp', mu };
    }
    if (best.accountant !== 'gdp') {
      const p = this.#pldNow();
      if (p !== undefined) {
        const e = Math.max(pldEpsilon(p.remove, delta), pldEpsilon(p.add, delta));
        if (e < best.epsilon) best = { epsilon: e, order: NaN, accountant: 'pld' };
      }
    }
    return best;
  }
}
