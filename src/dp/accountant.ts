// The accountant DP-FedAvg reads ε from (pure math): the RDP accountant for
// every event it supports, and, while everything composed so far is an exact
// Gaussian composition (no subsampling: q = 1, or a fixed-size sample of the
// whole population), the exact μ-GDP profile of that composition (gdp.ts),
// which is never above the RDP bound. Each reading says which one gave ε.

import type { DpEvent } from './events.js';
import { gaussianEpsilon, gdpMuSquared } from './gdp.js';
import { RdpAccountant, type NeighboringRelation, type RdpAccountantOptions } from './rdp-accountant.js';

/** 'gdp': the exact Gaussian composition (μ-GDP); 'rdp': the RDP bound at `order`. */
export type AccountantKind = 'gdp' | 'rdp';

export interface EpsilonReading {
  readonly epsilon: number;
  /** The RDP order achieving ε; NaN when the exact Gaussian composition gave it. */
  readonly order: number;
  readonly accountant: AccountantKind;
  /** μ of the composition when it is an exact Gaussian composition. */
  readonly mu?: number;
}

export interface PrivacyAccountantOptions extends RdpAccountantOptions {
  /** 'best' (default): the exact Gaussian composition where it applies, else RDP; 'rdp': RDP only. */
  readonly accountant?: 'best' | 'rdp';
}

export class PrivacyAccountant {
  readonly rdp: RdpAccountant;
  readonly mode: 'best' | 'rdp';
  #muSquared = 0;
  #exact = true;

  constructor(options: PrivacyAccountantOptions = {}) {
    const mode = options.accountant ?? 'best';
    if (mode !== 'best' && mode !== 'rdp') throw new RangeError(`PrivacyAccountant: "accountant" expected 'best' or 'rdp', got ${JSON.stringify(mode)}`);
    this.mode = mode;
    this.rdp = new RdpAccountant(options);
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
    if (this.#exact && count > 0) {
      const s = gdpMuSquared(event, this.rdp.neighboringRelation);
      if (s === null) this.#exact = false;
      else if (s > 0) this.#muSquared += s * count;
    }
    return this;
  }

  /** The smallest ε this accountant proves at δ, and which bound gave it. */
  getEpsilon(delta: number): EpsilonReading {
    const r = this.rdp.getEpsilon(delta);
    const mu = this.mu;
    if (this.mode === 'best' && mu !== null && delta > 0) {
      const g = gaussianEpsilon(mu, delta);
      if (g <= r.epsilon) return { epsilon: g, order: NaN, accountant: 'gdp', mu };
    }
    return { epsilon: r.epsilon, order: r.order, accountant: 'rdp', ...(mu === null ? {} : { mu }) };
  }
}
