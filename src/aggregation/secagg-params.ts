/**
 * SecAgg / SecAgg+ parameters: the checks of a threshold t for the complete
 * graph (Bonawitz et al., CCS'17) and of a degree k and threshold t for the
 * Harary graph H(n, k) with randomly permuted positions (Bell et al.,
 * CCS'20), and the finder behind `graph: 'auto'`.
 *
 * SecAgg+ is secure and correct when three bad events are unlikely (Bell et
 * al.; the same conditions as Google's open-source graph parameter finder,
 * whose published outputs the tests reproduce). With N_C = floor(γn)
 * corrupt clients, N_S = ceil((1-δ)n) survivors, and the k neighbours of a
 * client a uniformly random k-subset of the others' positions:
 *   1. connectivity: removing the N_C + N_D bad clients (N_D = floor(δn))
 *      disconnects H(n, k) only if they cover k/2 consecutive positions in two
 *      places; union bound over the n(n-k-1)/2 such pairs of gaps:
 *        n(n-k-1)/2 · (B)_k / (n)_k < 2^-41,   B = N_C + N_D, (x)_k falling factorial;
 *   2. privacy: X = a client's corrupt neighbours ~ Hypergeometric(n, N_C, k);
 *        semi-honest: P(X >= t) < 2^-41 / n;
 *        malicious (the server may send different survivor sets, so honest
 *        clients may reveal up to k - t shares of each kind more):
 *                     P(X >= 2t - k) < 2^-41 / n;
 *   3. correctness: Z = a client's surviving neighbours ~ Hypergeometric(n, N_S, k);
 *        P(Z <= t - 1) < 2^-20 / n.
 * (2^-41 per privacy event: 2^-40 split over the two. Rates get 1e-14 added
 * before rounding, as Google's finder does, so that 0.05 · 1000 counts 50.)
 * The finder takes the smallest even k (from 2, below n - 1) for which some t
 * satisfies 1-3, and the smallest such t (at least 2): cheapest reconstruction.
 *
 * Complete graph, N_C = ceil(γn), N_D = ceil(δn) (rounded toward danger):
 *   privacy t > N_C (semi-honest), 2t > n + N_C (malicious); correctness t <= n - N_D.
 * Feasibility: γ + δ <= 0.9 (semi-honest), γ + 2δ <= 0.9 (malicious), Google's bounds.
 *
 * Tail probabilities are exact sums of hypergeometric terms in double
 * precision (log-factorials: a table below 1024, Stirling's series above,
 * relative error ~1e-13), not bounds.
 */

export type SecAggAdversary = 'semi-honest' | 'malicious';

export interface SecAggRequirements {
  /** Fraction of clients the adversary corrupts (colluding with the server), γ in [0, 1). */
  readonly corruptionRate: number;
  /** Fraction of clients that may drop out, δ in [0, 1). */
  readonly dropoutRate: number;
  readonly adversary: SecAggAdversary;
}

/** A parameter choice that breaks a rule; `rule` names it. */
export class SecAggParameterError extends RangeError {
  override name = 'SecAggParameterError';
  readonly rule: string;
  constructor(rule: string, message: string) {
    super(`secagg parameters: rule "${rule}" refuses: ${message}`);
    this.rule = rule;
  }
}

export const PRIVACY_BITS = 40;
export const CORRECTNESS_BITS = 20;
const LN2 = Math.LN2;
const SMALL = 1e-14;
const MAX_CLIENTS = 1_000_000;
const MAX_RATE_SUM = 0.9;

// ---------------------------------------------------------------- log-factorials and hypergeometric tails

const TABLE = 1024;
const lnFactTable = new Float64Array(TABLE);
for (let i = 2; i < TABLE; i++) lnFactTable[i] = lnFactTable[i - 1]! + Math.log(i);

/** ln(x!) for an integer x >= 0. */
export function lnFactorial(x: number): number {
  if (x < TABLE) return lnFactTable[x]!;
  const inv = 1 / x, inv2 = inv * inv;
  // Stirling's series: x ln x - x + ln(2πx)/2 + 1/(12x) - 1/(360x^3) + 1/(1260x^5)
  return x * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI * x) + inv * (1 / 12 - inv2 * (1 / 360 - inv2 / 1260));
}

const lnChoose = (a: number, b: number): number => lnFactorial(a) - lnFactorial(b) - lnFactorial(a - b);

/** X ~ Hypergeometric(total, marked, draws): the number of marked items among `draws` drawn without replacement. */
export class Hypergeometric {
  readonly lo: number;
  readonly hi: number;
  readonly #lnDen: number;
  constructor(readonly total: number, readonly marked: number, readonly draws: number) {
    if (!(Number.isInteger(total) && Number.isInteger(marked) && Number.isInteger(draws)) || total < 0 || marked < 0 || draws < 0 || marked > total || draws > total) {
      throw new RangeError(`Hypergeometric: expected integers 0 <= marked, draws <= total, got total ${total}, marked ${marked}, draws ${draws}`);
    }
    this.lo = Math.max(0, draws - (total - marked));
    this.hi = Math.min(draws, marked);
    this.#lnDen = lnChoose(total, draws);
  }

  pmf(x: number): number {
    if (x < this.lo || x > this.hi) return 0;
    return Math.exp(lnChoose(this.marked, x) + lnChoose(this.total - this.marked, this.draws - x) - this.#lnDen);
  }

  /**
   * The smallest a with P(X >= a) < q. The scan starts at Hoeffding's bound
   * a0 = ceil(mean + k·sqrt(ln(1/q) / 2k)), where P(X >= a0) <= q: the tail
   * beyond a0 is summed upward until its terms vanish against the sum
   * (below 1e-20 of it: past the mode they decrease geometrically), then
   * terms below a0 are added until the sum reaches q. Falls back to summing
   * the whole tail from the top should rounding put P(X >= a0) at q or above.
   */
  minUpperBelow(q: number): number {
    const mean = (this.draws * this.marked) / this.total;
    const a0 = Math.min(this.hi + 1, Math.max(this.lo, Math.ceil(mean + Math.sqrt((this.draws * Math.log(1 / q)) / 2))));
    let s = 0;
    for (let x = a0; x <= this.hi; x++) {
      const p = this.pmf(x);
      s += p;
      if (x > mean && p <= s * 1e-20) break;
    }
    let from = a0 - 1;
    if (s >= q) { s = 0; from = this.hi; }
    for (let a = from; a >= this.lo; a--) {
      s += this.pmf(a);
      if (s >= q) return a + 1;
    }
    return this.lo; // P(X >= lo) = 1 < q only for q > 1
  }

  /** The smallest x with P(X <= x) >= q: the mirror image of `minUpperBelow` (Hoeffding's lower bound, then upward). */
  minLowerAtLeast(q: number): number {
    const mean = (this.draws * this.marked) / this.total;
    const x0 = Math.max(this.lo - 1, Math.min(this.hi, Math.floor(mean - Math.sqrt((this.draws * Math.log(1 / q)) / 2))));
    let s = 0;
    for (let x = x0; x >= this.lo; x--) {
      const p = this.pmf(x);
      s += p;
      if (x < mean && p <= s * 1e-20) break;
    }
    let from = x0 + 1;
    if (s >= q) { s = 0; from = this.lo; }
    for (let x = from; x <= this.hi; x++) {
      s += this.pmf(x);
      if (s >= q) return x;
    }
    return this.hi;
  }
}

// ---------------------------------------------------------------- checks

function checkInt(v: unknown, name: string, fn: string, min: number, max: number): number {
  if (typeof v !== 'number') throw new TypeError(`${fn}: "${name}" expected an integer, got ${v === null ? 'null' : typeof v}`);
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${fn}: "${name}" expected an integer in [${min}, ${max}], got ${v}`);
  return v;
}

function checkRequirements(req: unknown, fn: string): SecAggRequirements {
  if (typeof req !== 'object' || req === null) throw new TypeError(`${fn}: "requirements" expected { corruptionRate, dropoutRate, adversary }, got ${req === null ? 'null' : typeof req}`);
  const r = req as SecAggRequirements;
  for (const k of ['corruptionRate', 'dropoutRate'] as const) {
    const v = r[k] as unknown;
    if (typeof v !== 'number') throw new TypeError(`${fn}: "requirements.${k}" expected a number, got ${typeof v}`);
    if (!(v >= 0 && v < 1)) throw new RangeError(`${fn}: "requirements.${k}" expected a fraction in [0, 1), got ${v}`);
  }
  if (r.adversary !== 'semi-honest' && r.adversary !== 'malicious') {
    throw new RangeError(`${fn}: "requirements.adversary" expected 'semi-honest' or 'malicious', got ${JSON.stringify(r.adversary)}`);
  }
  if (r.adversary === 'semi-honest' && r.corruptionRate + r.dropoutRate > MAX_RATE_SUM) {
    throw new SecAggParameterError('corruption-plus-dropout', `semi-honest SecAgg needs corruptionRate + dropoutRate <= ${MAX_RATE_SUM}, got ${r.corruptionRate} + ${r.dropoutRate}`);
  }
  if (r.adversary === 'malicious' && r.corruptionRate + 2 * r.dropoutRate > MAX_RATE_SUM) {
    throw new SecAggParameterError('corruption-plus-twice-dropout', `malicious-server SecAgg needs corruptionRate + 2 * dropoutRate <= ${MAX_RATE_SUM}, got ${r.corruptionRate} + 2 * ${r.dropoutRate}`);
  }
  return r;
}

/** The client counts the rules use: corrupt floor(γn), survivors ceil((1-δ)n), dropped floor(δn). */
function counts(n: number, req: SecAggRequirements): { corrupt: number; survivors: number; dropped: number } {
  return {
    corrupt: Math.floor((req.corruptionRate + SMALL) * n),
    survivors: Math.ceil((1 - req.dropoutRate - SMALL) * n),
    dropped: Math.floor((req.dropoutRate + SMALL) * n),
  };
}

/** ln of the union bound on H(n, k) losing connectivity when `bad` random clients are removed (-Infinity when bad < k). */
export function lnDisconnectionBound(n: number, k: number, bad: number): number {
  if (k > bad) return -Infinity;
  return Math.log(n) + Math.log(n - k - 1) - LN2 + lnFactorial(bad) + lnFactorial(n - k) - lnFactorial(n) - lnFactorial(bad - k);
}

interface HararyWindow {
  connected: boolean;
  /** Smallest threshold meeting the privacy rule. */
  tMin: number;
  /** Largest threshold meeting the correctness rule. */
  tMax: number;
}

function hararyWindow(n: number, k: number, req: SecAggRequirements, full = true): HararyWindow {
  const { corrupt, survivors, dropped } = counts(n, req);
  const connected = lnDisconnectionBound(n, k, corrupt + dropped) < -(PRIVACY_BITS + 1) * LN2;
  if (!connected && !full) return { connected, tMin: Infinity, tMax: -Infinity };
  const qPrivacy = 2 ** -(PRIVACY_BITS + 1) / n;
  const qCorrect = 2 ** -CORRECTNESS_BITS / n;
  const a = new Hypergeometric(n, corrupt, k).minUpperBelow(qPrivacy); // P(X >= a) < q: a or more corrupt neighbours is unlikely
  // semi-honest: t >= a; malicious: 2t - k >= a
  const tMin = Math.max(2, req.adversary === 'malicious' ? Math.ceil((a + k) / 2) : a);
  // correctness: P(Z <= t - 1) < q  <=>  t - 1 < min{x : P(Z <= x) >= q}
  const tMax = new Hypergeometric(n, survivors, k).minLowerAtLeast(qCorrect);
  return { connected, tMin, tMax };
}

/**
 * Refuse (SecAggParameterError naming the rule) a Harary degree k and
 * threshold t that do not meet the rules for n clients and `requirements`.
 */
export function checkHararyParameters(n: number, k: number, t: number, requirements: SecAggRequirements): void {
  const fn = 'checkHararyParameters';
  checkInt(n, 'n', fn, 3, MAX_CLIENTS);
  checkInt(k, 'k', fn, 2, n - 1);
  checkInt(t, 't', fn, 2, k);
  const req = checkRequirements(requirements, fn);
  if (k % 2 !== 0) throw new SecAggParameterError('even-degree', `the Harary graph H(n, k) needs an even k, got ${k}`);
  const w = hararyWindow(n, k, req);
  if (!w.connected) throw new SecAggParameterError('connectivity', `H(${n}, ${k}) loses connectivity among honest survivors with probability >= 2^-${PRIVACY_BITS + 1} at corruptionRate ${req.corruptionRate}, dropoutRate ${req.dropoutRate}`);
  if (t < w.tMin) {
    const rule = req.adversary === 'malicious' ? 'malicious-threshold' : 'privacy-threshold';
    throw new SecAggParameterError(rule, `t = ${t} is too low for corruptionRate ${req.corruptionRate} (${req.adversary}): at least ${w.tMin} for k = ${k}, n = ${n}`);
  }
  if (t > w.tMax) throw new SecAggParameterError('correctness-threshold', `t = ${t} is too high for dropoutRate ${req.dropoutRate}: at most ${w.tMax} for k = ${k}, n = ${n} (failure probability 2^-${CORRECTNESS_BITS})`);
}

/** The smallest even degree k < n - 1 with a valid threshold, and the smallest such threshold (Google's graph parameter finder's rules). */
export function findHararyParameters(n: number, requirements: SecAggRequirements): { k: number; t: number } {
  const fn = 'findHararyParameters';
  checkInt(n, 'n', fn, 1, MAX_CLIENTS);
  const req = checkRequirements(requirements, fn);
  for (let k = 2; k < n - 1; k += 2) {
    const w = hararyWindow(n, k, req, false);
    if (w.connected && w.tMin <= w.tMax) return { k, t: w.tMin };
  }
  throw new SecAggParameterError('no-harary-parameters', `no even degree k < n - 1 = ${n - 1} meets the rules for n = ${n}, corruptionRate ${req.corruptionRate}, dropoutRate ${req.dropoutRate} (${req.adversary})`);
}

/** The complete graph's bounds on t: [tMin, tMax]. */
function completeWindow(n: number, req: SecAggRequirements): { tMin: number; tMax: number; corrupt: number; dropped: number } {
  const corrupt = Math.ceil(req.corruptionRate * n - SMALL);
  const dropped = Math.ceil(req.dropoutRate * n - SMALL);
  const tMin = Math.max(2, req.adversary === 'malicious' ? Math.floor((n + corrupt) / 2) + 1 : corrupt + 1);
  return { tMin, tMax: n - dropped, corrupt, dropped };
}

/** Refuse (SecAggParameterError naming the rule) a complete-graph threshold t for n clients. */
export function checkCompleteParameters(n: number, t: number, requirements: SecAggRequirements): void {
  const fn = 'checkCompleteParameters';
  checkInt(n, 'n', fn, 2, MAX_CLIENTS);
  checkInt(t, 't', fn, 2, n);
  const req = checkRequirements(requirements, fn);
  const w = completeWindow(n, req);
  if (req.adversary === 'semi-honest' && t <= w.corrupt) {
    throw new SecAggParameterError('privacy-threshold', `t = ${t} must exceed the ${w.corrupt} corrupt clients (corruptionRate ${req.corruptionRate}, n = ${n})`);
  }
  if (req.adversary === 'malicious' && 2 * t <= n + w.corrupt) {
    throw new SecAggParameterError('malicious-threshold', `t = ${t} must exceed (n + n_C) / 2 = (${n} + ${w.corrupt}) / 2 against a malicious server`);
  }
  if (t > w.tMax) throw new SecAggParameterError('correctness-threshold', `t = ${t} exceeds the ${w.tMax} clients left after ${w.dropped} dropouts (dropoutRate ${req.dropoutRate})`);
}

export type SecAggGraphChoice = { graph: 'harary'; k: number; t: number } | { graph: 'complete'; t: number };

/**
 * `graph: 'auto'`: the Harary graph from `findHararyParameters` when one
 * exists below the complete graph, else the complete graph with its smallest
 * valid threshold; refuses what neither can meet.
 */
export function autoSecAggParameters(n: number, requirements: SecAggRequirements): SecAggGraphChoice {
  const fn = 'autoSecAggParameters';
  checkInt(n, 'n', fn, 2, MAX_CLIENTS);
  const req = checkRequirements(requirements, fn);
  try {
    return { graph: 'harary', ...findHararyParameters(n, req) };
  } catch (e) {
    if (!(e instanceof SecAggParameterError) || e.rule !== 'no-harary-parameters') throw e;
  }
  const w = completeWindow(n, req);
  if (w.tMin > w.tMax) throw new SecAggParameterError('no-parameters', `neither a Harary graph nor the complete graph meets the rules for n = ${n}, corruptionRate ${req.corruptionRate}, dropoutRate ${req.dropoutRate} (${req.adversary})`);
  return { graph: 'complete', t: w.tMin };
}
