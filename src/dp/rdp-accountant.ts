// The RDP accountant (pure math; imports no other fedcrypt layer).
//
// It keeps, for each order α of a fixed list, the RDP ε(α) of everything
// composed so far (RDP composes additively, Mironov 2017 Prop. 1) and converts
// to (ε, δ) on demand (rdp-conversion.ts). Events are data (events.ts).

import * as events from './events.js';
import { describeEvent, UnsupportedDpEventError, type DpEvent } from './events.js';
import { epsilonFromRdp, deltaFromRdp } from './rdp-conversion.js';
import { rdpDistributedDiscreteGaussian, rdpSkellam } from './rdp-distributed.js';
import { rdpPoissonGaussian, rdpPoissonSubsampledGeneric, rdpSampledWorGaussian } from './rdp-subsampled.js';

/**
 * Google dp_accounting's default orders (`DEFAULT_RDP_ORDERS`):
 * 1.1, 1.2, …, 10.9 (step 0.1), 11, …, 63, 128, 256, 512, 1024.
 */
export const DP_ACCOUNTING_DEFAULT_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, i) => 1 + (i + 1) / 10),
  ...Array.from({ length: 53 }, (_, i) => 11 + i),
  128,
  256,
  512,
  1024,
]);

/**
 * TF Privacy's orders (`compute_dp_sgd_privacy`): 1.25, 1.5, 1.75, 2, 2.25, 2.5,
 * 3, 3.5, 4, 4.5, 5, …, 63, 128, 256, 512.
 */
export const TF_PRIVACY_ORDERS: readonly number[] = Object.freeze([
  1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5,
  ...Array.from({ length: 59 }, (_, i) => 5 + i),
  128,
  256,
  512,
]);

/**
 * Which neighbouring datasets the guarantee is about:
 * - 'add-remove': one record (for DP-FedAvg: one client's whole data) added or
 *   removed. Poisson sampling is accounted under it.
 * - 'replace-one': one record replaced by another (the dataset size is public).
 *   Fixed-size sampling without replacement is accounted under it ([WBK19]);
 *   a Gaussian's noise multiplier is then relative to the replace-one
 *   sensitivity (2·clip for a sum of clipped updates).
 */
export type NeighboringRelation = 'add-remove' | 'replace-one';

export type SamplingScheme = 'poisson' | 'fixed-size';

export interface RdpAccountantOptions {
  /** RDP orders, each ≥ 1 (default: dp_accounting's defaults). */
  readonly orders?: readonly number[];
  /** Default 'add-remove'. */
  readonly neighboringRelation?: NeighboringRelation;
}

type Leaf = { rdp: (alpha: number) => number; count: number };

/** A JSON-safe snapshot of an accountant (for checkpoints); ∞ (an order or an RDP value) is stored as null. */
export interface RdpAccountantState {
  readonly version: 1;
  readonly orders: readonly (number | null)[];
  readonly neighboringRelation: NeighboringRelation;
  readonly rdp: readonly (number | null)[];
  readonly samplingSchemes: readonly SamplingScheme[];
  readonly ledger: readonly { event: DpEvent; count: number }[];
}

export class RdpAccountant {
  readonly orders: readonly number[];
  readonly neighboringRelation: NeighboringRelation;
  private readonly _rdp: Float64Array;
  private readonly _sampling = new Set<SamplingScheme>();
  private readonly _ledger: { event: DpEvent; count: number }[] = [];

  constructor(options: RdpAccountantOptions = {}) {
    const orders = options.orders ?? DP_ACCOUNTING_DEFAULT_ORDERS;
    if (!Array.isArray(orders) || orders.length === 0) {
      throw new RangeError('RdpAccountant: "orders" expected a non-empty array of numbers ≥ 1');
    }
    for (const a of orders) {
      if (typeof a !== 'number' || !(a >= 1)) throw new RangeError(`RdpAccountant: "orders" expected every order ≥ 1, got ${String(a)}`);
    }
    const rel = options.neighboringRelation ?? 'add-remove';
    if (rel !== 'add-remove' && rel !== 'replace-one') {
      throw new RangeError(`RdpAccountant: "neighboringRelation" expected 'add-remove' or 'replace-one', got ${JSON.stringify(rel)}`);
    }
    this.orders = Object.freeze([...orders]);
    this.neighboringRelation = rel;
    this._rdp = new Float64Array(orders.length);
  }

  /** RDP at each order (a copy). */
  get rdp(): Float64Array {
    return Float64Array.from(this._rdp);
  }

  /** Sampling schemes seen so far ('fixed-size' must be flagged in reports). */
  get samplingSchemes(): ReadonlySet<SamplingScheme> {
    return new Set(this._sampling);
  }

  /** Events composed so far, with their counts. */
  get ledger(): readonly { event: DpEvent; count: number }[] {
    return this._ledger.map((x) => ({ ...x }));
  }

  /** Whether `compose(event)` would succeed. */
  supports(event: DpEvent): boolean {
    return this.check(event, 1) === null;
  }

  /**
   * Adds `count` runs of `event`. Throws UnsupportedDpEventError (naming the
   * offending subevent) and leaves the state unchanged when the event cannot
   * be accounted for.
   */
  compose(event: DpEvent, count = 1): this {
    if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`RdpAccountant.compose: "count" expected an integer ≥ 0, got ${count}`);
    const err = this.check(event, count);
    if (err) throw err;
    const add = new Float64Array(this.orders.length);
    this.accumulate(event, count, add);
    for (let i = 0; i < add.length; i++) this._rdp[i]! += add[i]!;
    this._ledger.push({ event, count });
    return this;
  }

  /** Smallest ε with (ε, δ)-DP over the orders, and the order achieving it. */
  getEpsilon(delta: number): { epsilon: number; order: number } {
    if (typeof delta !== 'number' || !(delta >= 0 && delta <= 1)) {
      throw new RangeError(`RdpAccountant.getEpsilon: "delta" expected in [0, 1], got ${String(delta)}`);
    }
    return epsilonFromRdp(this.orders, this._rdp, delta);
  }

  /** Smallest δ with (ε, δ)-DP over the orders, and the order achieving it. */
  getDelta(epsilon: number): { delta: number; order: number } {
    if (typeof epsilon !== 'number' || !(epsilon >= 0)) {
      throw new RangeError(`RdpAccountant.getDelta: "epsilon" expected ≥ 0, got ${String(epsilon)}`);
    }
    return deltaFromRdp(this.orders, this._rdp, epsilon);
  }

  /** State to store with a checkpoint; `RdpAccountant.restore` reads it back. */
  snapshot(): RdpAccountantState {
    return {
      version: 1,
      orders: this.orders.map((a) => (a === Infinity ? null : a)),
      neighboringRelation: this.neighboringRelation,
      rdp: Array.from(this._rdp, (r) => (Number.isFinite(r) ? r : null)),
      samplingSchemes: [...this._sampling],
      ledger: this.ledger,
    };
  }

  /** An accountant in the state `snapshot()` returned (checked). */
  static restore(state: RdpAccountantState): RdpAccountant {
    if (state === null || typeof state !== 'object' || state.version !== 1) {
      throw new RangeError('RdpAccountant.restore: "state" expected a snapshot with version 1');
    }
    const orders: number[] = Array.isArray(state.orders) ? state.orders.map((a) => (a === null ? Infinity : a)) : [];
    const acc = new RdpAccountant({ orders, neighboringRelation: state.neighboringRelation });
    if (!Array.isArray(state.rdp) || state.rdp.length !== acc.orders.length) {
      throw new RangeError(`RdpAccountant.restore: "state.rdp" expected ${acc.orders.length} values, got ${String(state.rdp?.length)}`);
    }
    state.rdp.forEach((r, i) => {
      if (r === null) acc._rdp[i] = Infinity;
      else if (typeof r === 'number' && r >= 0) acc._rdp[i] = r;
      else throw new RangeError(`RdpAccountant.restore: "state.rdp[${i}]" expected a number ≥ 0 or null, got ${String(r)}`);
    });
    for (const s of state.samplingSchemes ?? []) {
      if (s !== 'poisson' && s !== 'fixed-size') throw new RangeError(`RdpAccountant.restore: "state.samplingSchemes" has an unknown scheme ${JSON.stringify(s)}`);
      acc._sampling.add(s);
    }
    for (const l of state.ledger ?? []) acc._ledger.push({ event: l.event, count: l.count });
    return acc;
  }

  // ---- traversal ----

  /** null when supported, else the error for the first offending subevent. */
  private check(event: DpEvent, count: number): UnsupportedDpEventError | null {
    // an event built by hand or read from JSON is checked as its constructor checks it (a negative
    // count or multiplier would lower ε)
    const bad = malformed(event);
    if (bad !== null) return new UnsupportedDpEventError(event, `malformed: ${bad}`);
    switch (event?.kind) {
      case 'gaussian':
      case 'distributed-discrete-gaussian':
      case 'skellam':
        return null;
      case 'self-composed':
        return this.check(event.event, count * event.count);
      case 'composed':
        for (const e of event.events) {
          const r = this.check(e, count);
          if (r) return r;
        }
        return null;
      case 'poisson-sampled': {
        if (this.neighboringRelation !== 'add-remove') {
          return new UnsupportedDpEventError(event, `Poisson sampling is accounted under the 'add-remove' relation, this accountant uses '${this.neighboringRelation}'`);
        }
        const bad = firstNonBaseLeaf(event.event);
        return bad ? new UnsupportedDpEventError(event, `the sampled event must be Gaussian, DistributedDiscreteGaussian or Skellam events (composed or self-composed), found ${describeEvent(bad)}`) : null;
      }
      case 'sampled-without-replacement': {
        if (this.neighboringRelation !== 'replace-one') {
          return new UnsupportedDpEventError(event, `fixed-size sampling without replacement is accounted under the 'replace-one' relation ([WBK19]), this accountant uses '${this.neighboringRelation}'; create it with { neighboringRelation: 'replace-one' }`);
        }
        const z = effectiveNoiseMultiplier(event.event);
        return typeof z === 'number' ? null : new UnsupportedDpEventError(event, `the sampled event must be Gaussian events (composed or self-composed), found ${describeEvent(z)}`);
      }
      default:
        return new UnsupportedDpEventError(event, 'not a known event kind');
    }
  }

  private accumulate(event: DpEvent, count: number, out: Float64Array): void {
    if (count === 0) return;
    const orders = this.orders;
    switch (event.kind) {
      case 'gaussian':
        for (let i = 0; i < orders.length; i++) out[i]! += count * rdpPoissonGaussian(1, event.noiseMultiplier, orders[i]!);
        return;
      case 'distributed-discrete-gaussian':
        for (let i = 0; i < orders.length; i++) out[i]! += count * rdpDistributedDiscreteGaussian(event, orders[i]!);
        return;
      case 'skellam':
        for (let i = 0; i < orders.length; i++) out[i]! += count * rdpSkellam(event, orders[i]!);
        return;
      case 'self-composed':
        this.accumulate(event.event, count * event.count, out);
        return;
      case 'composed':
        for (const e of event.events) this.accumulate(e, count, out);
        return;
      case 'poisson-sampled': {
        this._sampling.add('poisson');
        const q = event.samplingProbability;
        const z = effectiveNoiseMultiplier(event.event);
        if (typeof z === 'number') {
          for (let i = 0; i < orders.length; i++) out[i]! += count * rdpPoissonGaussian(q, z, orders[i]!);
        } else {
          const leaves: Leaf[] = [];
          collectLeaves(event.event, 1, leaves);
          const base = (a: number): number => leaves.reduce((s, l) => s + l.count * l.rdp(a), 0);
          for (let i = 0; i < orders.length; i++) out[i]! += count * rdpPoissonSubsampledGeneric(q, orders[i]!, base);
        }
        return;
      }
      case 'sampled-without-replacement': {
        this._sampling.add('fixed-size');
        const z = effectiveNoiseMultiplier(event.event) as number;
        const q = event.sampleSize / event.sourceSize;
        for (let i = 0; i < orders.length; i++) out[i]! += count * rdpSampledWorGaussian(q, z, orders[i]!);
        return;
      }
    }
  }
}

/** Why `event`'s own fields would not pass its constructor (the subevents are checked on their own), or null. */
function malformed(event: DpEvent): string | null {
  if (event === null || typeof event !== 'object') return null; // reported as an unknown kind
  try {
    switch (event.kind) {
      case 'gaussian':
        events.gaussianEvent(event.noiseMultiplier);
        break;
      case 'poisson-sampled':
        events.poissonSampled(event.samplingProbability, event.event);
        break;
      case 'sampled-without-replacement':
        events.sampledWithoutReplacement(event.sourceSize, event.sampleSize, event.event);
        break;
      case 'self-composed':
        events.selfComposed(event.event, event.count);
        break;
      case 'composed':
        events.composed(event.events);
        break;
      case 'distributed-discrete-gaussian':
        events.distributedDiscreteGaussian(event);
        break;
      case 'skellam':
        events.skellamEvent(event);
        break;
    }
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}

/**
 * A tree of Composed / SelfComposed events over Gaussians is one Gaussian
 * query with z_eff = (Σ_i k_i / z_i²)^(−1/2) (Mironov, Talwar, Zhang
 * arXiv:1812.06210 Sec. 3; dp_accounting `_effective_gaussian_noise_multiplier`).
 * Returns the offending subevent otherwise.
 */
export function effectiveNoiseMultiplier(event: DpEvent): number | DpEvent {
  const inv = sumInverseSquares(event);
  if (typeof inv !== 'number') return inv;
  return inv === 0 ? Infinity : 1 / Math.sqrt(inv);
}

function sumInverseSquares(event: DpEvent): number | DpEvent {
  switch (event.kind) {
    case 'gaussian':
      return event.noiseMultiplier === 0 ? Infinity : 1 / (event.noiseMultiplier * event.noiseMultiplier);
    case 'self-composed': {
      const s = sumInverseSquares(event.event);
      return typeof s === 'number' ? (event.count === 0 ? 0 : s * event.count) : s;
    }
    case 'composed': {
      let total = 0;
      for (const e of event.events) {
        const s = sumInverseSquares(e);
        if (typeof s !== 'number') return s;
        total += s;
      }
      return total;
    }
    default:
      return event;
  }
}

/** The first subevent that is not a base mechanism (or a composition of them). */
function firstNonBaseLeaf(event: DpEvent): DpEvent | null {
  switch (event?.kind) {
    case 'gaussian':
    case 'distributed-discrete-gaussian':
    case 'skellam':
      return null;
    case 'self-composed':
      return firstNonBaseLeaf(event.event);
    case 'composed':
      for (const e of event.events) {
        const b = firstNonBaseLeaf(e);
        if (b) return b;
      }
      return null;
    default:
      return event;
  }
}

function collectLeaves(event: DpEvent, count: number, out: Leaf[]): void {
  switch (event.kind) {
    case 'gaussian':
      out.push({ rdp: (a) => rdpPoissonGaussian(1, event.noiseMultiplier, a), count });
      return;
    case 'distributed-discrete-gaussian':
      out.push({ rdp: (a) => rdpDistributedDiscreteGaussian(event, a), count });
      return;
    case 'skellam':
      out.push({ rdp: (a) => rdpSkellam(event, a), count });
      return;
    case 'self-composed':
      collectLeaves(event.event, count * event.count, out);
      return;
    case 'composed':
      for (const e of event.events) collectLeaves(e, count, out);
      return;
    default:
      throw new UnsupportedDpEventError(event, 'not a base mechanism');
  }
}
