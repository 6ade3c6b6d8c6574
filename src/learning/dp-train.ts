/**
 * Differentially private FedAvg in `train()` (issue 16, "CLI and report"):
 * the `dp` option's checks, the DP role set over the run's secure protocol
 * run in process by `rolesAggregator(..., { weighted: false })`, client
 * sampling from a CSPRNG, and the RDP accountant composed round by round.
 *
 *   central ('gaussian', 'adaptive'): dpGaussianFixed / dpGaussianAdaptive
 *     (src/dp/central.ts) around the inner secure SUM; each round is
 *       Poisson:    PoissonSampled(q, Gaussian(z))             add/remove one client
 *       fixed-size: SampledWithoutReplacement(N, m, Gaussian(z/2))   replace-one client
 *     (replace-one: the sensitivity of the sum is 2C, so the multiplier
 *     relative to it is z/2; dp-accounting.md). Adaptive clipping releases
 *     two Gaussian queries, the values at z_v ≥ z and the clipped count at
 *     z_b = σ_b / (1/2); they compose to exactly z (1/z² = 1/z_v² + 1/z_b²,
 *     Andrew et al. NeurIPS'21 §3; the accountant's effective multiplier).
 *   distributed ('skellam', 'dgauss'): distributedDp (src/dp/distributed.ts)
 *     around the inner secure sum mod 2^bits; each round is
 *     PoissonSampled(q, ddpEvent(params, n_r)) with n_r the clients whose
 *     noise the aggregate holds (the expected count for an empty round).
 *     Fixed-size sampling is not accounted for these events (refused).
 *
 * The denominator of a central-DP mean is the expected count (qN, or m);
 * distributed DP divides the sum by the realised count (TFF's
 * DistributedDpSumFactory inside a mean).
 */
import { createHash, randomBytes } from 'node:crypto';
import { CryptoRandom } from '../dp/random.js';
import type { NeighboringRelation } from '../dp/rdp-accountant.js';
import { PrivacyAccountant, type AccountantKind, type EpsilonReading } from '../dp/accountant.js';
import { composed, gaussianEvent, poissonSampled, sampledWithoutReplacement, type DpEvent } from '../dp/events.js';
import { dpGaussianAdaptive, dpGaussianFixed, type CentralDpRoles } from '../dp/central.js';
import { distributedDp, ddpEvent } from '../dp/distributed.js';
import type { DdpParams } from '../dp/ddp-params.js';
import type { ClientSampling } from '../dp/sampling.js';
import type { AggregationRoles } from '../aggregation/roles.js';
import type { ClientReport } from '../dp/wrap.js';
import type { Aggregator } from './aggregator.js';
import type { SecAggChoices } from './secure-aggregators.js';
import { rolesAggregator } from './roles-aggregator.js';
import type { EpochMetrics } from './fedsgd.js';

export const DP_MECHANISMS = ['gaussian', 'adaptive', 'skellam', 'dgauss'] as const;
export type DpMechanismName = (typeof DP_MECHANISMS)[number];

/** `train({ dp })`: FedAvg only. */
export interface DpTrainOptions {
  mechanism: DpMechanismName;
  /** z: σ of the noise on the sum is z · C (adaptive: the effective z; the values get z_v ≥ z). */
  noiseMultiplier: number;
  /** C, the L2 clip of each client's update (not for 'adaptive', which starts at `initialClip`). */
  clip?: number;
  /** Adaptive only: the initial clip (default 0.1, TFF) and the target quantile (default 0.5). */
  initialClip?: number;
  targetQuantile?: number;
  /** δ of the reported (ε, δ); default 1e-5. */
  targetDelta?: number;
  /** Poisson sampling with probability q per client per round (the accountant's assumption) ... */
  samplingRate?: number;
  /** ... or a fixed number m of clients per round, without replacement (flagged 'fixed-size'; central DP only). */
  clientsPerRound?: number;
  /** Distributed: bits of the secure sum's modulus (default 16), wrap probability (default 1e-4), rotation (default 'hadamard'). */
  bits?: number;
  modclipProb?: number;
  rotation?: 'hadamard' | 'dft';
  /**
   * Distributed: conditional stochastic rounding β in [0, 1) (default 0, TFF's
   * default: unconditional rounding). β > 0 re-rounds until the norm is within
   * the tighter bound of KLS21 §4.1; Kairouz et al. use β = e^{-1/2}.
   */
  beta?: number;
  /**
   * Which bound ε is read from: 'best' (default: the smallest that applies of
   * exact μ-GDP when no client is subsampled, the PLD of Poisson-subsampled
   * Gaussians, and RDP) or 'rdp'.
   */
  accountant?: 'best' | 'rdp';
  /** Central: who adds the noise (default 'server'); 'aggregators' needs ABY3 or Pond. */
  noiseAt?: 'server' | 'aggregators';
  /**
   * Reproducible experiments: every DP draw (sampling, noise, rounding) from
   * AES-CTR keyed by SHA-256 of this seed. A known seed gives NO privacy;
   * the report flags the run. Default: the system CSPRNG.
   */
  seed?: string | number;
}

/** One round's accounting, in the round's EpochMetrics (`dp`) and the run's metrics. */
export interface DpRoundRecord {
  round: number;
  /** ε after this round at the run's δ (Infinity without noise), the bound that gave it and its RDP order (NaN for 'gdp' and 'pld'). */
  epsilon: number;
  order: number;
  accountant?: AccountantKind;
  /** The clip C of this round (adaptive: the state before the round's update) and the clients' own clip (fixed-point margin). */
  clip: number;
  clientClip?: number;
  /** Adaptive: the next round's clip and the noised fraction below the clip. */
  nextClip?: number;
  belowFraction?: number;
  /** Clients in the round, clipped updates among them, and coordinates wrapped by the modular reduction (distributed). */
  clients: number;
  clipped: number;
  wrapped?: number;
  empty: boolean;
  /** σ of the noise on each coordinate of the released sum (central: √k z_v C; distributed: √n_r σ_local). */
  sumNoiseStd: number;
}

export interface DpRunMetrics {
  mechanism: DpMechanismName;
  kind: 'central' | 'distributed';
  adjacency: string;
  neighboringRelation: NeighboringRelation;
  sampling: 'poisson' | 'fixed-size';
  /** Set when the sampling is fixed size (its RDP bound is another one: replace-one relation). */
  samplingFlag?: string;
  q: number;
  population: number;
  /** Expected clients per round (qN or m): the central-DP denominator. */
  clientsPerRound: number;
  rounds: number;
  delta: number;
  epsilon: number;
  order: number;
  /** 'gdp': ε is the exact Gaussian composition's (μ = `mu`); 'pld': the privacy loss distribution's; 'rdp': the RDP bound at `order`. */
  accountant: AccountantKind;
  mu?: number;
  noiseMultiplier: number;
  /** Adaptive: z_v of the values and σ_b of the clipped count. */
  valueNoiseMultiplier?: number;
  clippedCountStddev?: number;
  clip?: number;
  initialClip?: number;
  targetQuantile?: number;
  noiseAt?: 'server' | 'aggregators';
  /** Parties that add the noise with their own draw (central at the aggregators: k; distributed: each client). */
  noiseParties: number;
  /** σ of the noise each noising party adds (per coordinate, unscaled) and of the released sum's total noise (expected clients). */
  localStddev: number;
  centralStddev: number;
  bits?: number;
  scale?: number;
  modclipProb?: number;
  rotation?: string;
  paddedDim?: number;
  /** Which parties must be honest for the guarantee, and what the secure sum itself assumes. */
  honest: string[];
  amplification: string;
  /** Set when --dp-seed made the DP draws reproducible (no privacy against whoever knows the seed). */
  seeded?: string;
  totals: { clipped: number; wrapped: number; clientUpdates: number; emptyRounds: number };
  perRound: DpRoundRecord[];
  /** The twin run without DP (same seed and sampling), when given. */
  noDp?: { accuracy: number; loss: number; perRound: number[]; clients?: number[] };
  accuracyGap?: number;
}

export const DP_DEFAULTS = Object.freeze({ targetDelta: 1e-5, bits: 16, modclipProb: 1e-4, rotation: 'hadamard' as const, noiseAt: 'server' as const });

const central = (m: DpMechanismName): boolean => m === 'gaussian' || m === 'adaptive';

function num(name: string, v: unknown, ok: (x: number) => boolean, want: string): number {
  if (typeof v !== 'number' || !ok(v)) throw new RangeError(`dp: "${name}" expected ${want}, got ${String(v)}`);
  return v;
}

/** Check `dp` against the run (errors name the option); returns it with its defaults. */
export function checkDpOptions(dp: DpTrainOptions, run: { mode: string; protocol: string; owners: number }): Required<Pick<DpTrainOptions, 'targetDelta' | 'noiseAt' | 'bits' | 'modclipProb' | 'rotation'>> & DpTrainOptions {
  if (dp === null || typeof dp !== 'object') throw new TypeError(`"dp" expected an object { mechanism, noiseMultiplier, ... }, got ${dp === null ? 'null' : typeof dp}`);
  if (run.mode !== 'fedavg') throw new RangeError(`"dp" applies to mode 'fedavg' only (DP-FedAvg), not '${run.mode}'`);
  if (!(DP_MECHANISMS as readonly string[]).includes(dp.mechanism)) throw new RangeError(`dp: "mechanism" expected one of ${DP_MECHANISMS.join(', ')}, got ${JSON.stringify(dp.mechanism)}`);
  num('noiseMultiplier', dp.noiseMultiplier, (x) => Number.isFinite(x) && x >= 0, 'a finite number >= 0');
  const isCentral = central(dp.mechanism);
  if (dp.mechanism === 'adaptive') {
    if (dp.clip !== undefined) throw new RangeError(`dp: "clip" is not for mechanism 'adaptive' (its clip starts at "initialClip", default 0.1, and follows the quantile estimate)`);
  } else {
    num('clip', dp.clip, (x) => Number.isFinite(x) && x > 0, 'a finite number > 0');
    if (dp.initialClip !== undefined) throw new RangeError(`dp: "initialClip" is for mechanism 'adaptive' only`);
    if (dp.targetQuantile !== undefined) throw new RangeError(`dp: "targetQuantile" is for mechanism 'adaptive' only`);
  }
  const targetDelta = num('targetDelta', dp.targetDelta ?? DP_DEFAULTS.targetDelta, (x) => x > 0 && x < 1, 'a number in (0, 1)');
  if (dp.accountant !== undefined && dp.accountant !== 'best' && dp.accountant !== 'rdp') throw new RangeError(`dp: "accountant" expected 'best' or 'rdp', got ${JSON.stringify(dp.accountant)}`);
  if ((dp.samplingRate === undefined) === (dp.clientsPerRound === undefined)) throw new RangeError('dp: give exactly one of "samplingRate" (Poisson, q) and "clientsPerRound" (fixed size, m)');
  if (dp.samplingRate !== undefined) num('samplingRate', dp.samplingRate, (x) => x > 0 && x <= 1, 'a probability in (0, 1]');
  if (dp.clientsPerRound !== undefined) {
    num('clientsPerRound', dp.clientsPerRound, (x) => Number.isInteger(x) && x >= 1 && x <= run.owners, `an integer in [1, ${run.owners}] (the data owners)`);
    if (!isCentral) throw new RangeError(`dp: "clientsPerRound" (fixed-size sampling) is accounted for the Gaussian mechanisms only; ${dp.mechanism} needs Poisson sampling ("samplingRate")`);
  }
  const protocol = run.protocol.toLowerCase();
  if (isCentral) {
    for (const k of ['bits', 'modclipProb', 'rotation', 'beta'] as const) if (dp[k] !== undefined) throw new RangeError(`dp: "${k}" is for the distributed mechanisms (skellam, dgauss), not '${dp.mechanism}'`);
    const noiseAt = dp.noiseAt ?? DP_DEFAULTS.noiseAt;
    if (noiseAt !== 'server' && noiseAt !== 'aggregators') throw new RangeError(`dp: "noiseAt" expected 'server' or 'aggregators', got ${JSON.stringify(noiseAt)}`);
    if (noiseAt === 'aggregators' && protocol !== 'aby3' && protocol !== 'pond') throw new RangeError(`dp: "noiseAt" 'aggregators' needs protocol aby3 or pond (each of the 3 aggregator parties secret-shares its own noise into the sum), not ${protocol}`);
    return { ...dp, targetDelta, noiseAt, bits: DP_DEFAULTS.bits, modclipProb: DP_DEFAULTS.modclipProb, rotation: DP_DEFAULTS.rotation };
  }
  if (dp.noiseAt !== undefined) throw new RangeError(`dp: "noiseAt" is for the central mechanisms (gaussian, adaptive); with ${dp.mechanism} every client adds its share of the noise`);
  const bits = num('bits', dp.bits ?? DP_DEFAULTS.bits, (x) => Number.isInteger(x) && x >= 1 && x <= 31, 'an integer in [1, 31]');
  const modclipProb = num('modclipProb', dp.modclipProb ?? DP_DEFAULTS.modclipProb, (x) => x > 0 && x < 1, 'a number in (0, 1)');
  const rotation = dp.rotation ?? DP_DEFAULTS.rotation;
  if (rotation !== 'hadamard' && rotation !== 'dft') throw new RangeError(`dp: "rotation" expected 'hadamard' or 'dft', got ${JSON.stringify(rotation)}`);
  if (dp.beta !== undefined) num('beta', dp.beta, (x) => x >= 0 && x < 1, 'a number in [0, 1)');
  return { ...dp, targetDelta, noiseAt: DP_DEFAULTS.noiseAt, bits, modclipProb, rotation };
}

/** The 32-byte key of `--dp-seed` (SHA-256 of a domain-separated string). */
export function dpSeedKey(seed: string | number): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`fedcrypt/dp-seed/v1/${String(seed)}`).digest());
}

/** What the inner secure sum assumes (docs/THREAT-MODEL.md), per protocol. */
const SECURE_SUM_ASSUMPTIONS: Record<string, string> = {
  aby3: 'the secure sum (ABY3): no two of the three compute servers collude',
  pond: 'the secure sum (Pond): no two of its three parties (two servers, the dealer) collude',
  paillier: "the secure sum (Paillier): the key holder (SERVER) and the aggregator do not collude",
  secagg: 'the secure sum (SecAgg): the server and fewer than the Shamir threshold of clients collude at most (its adversary mode as configured)',
  plaintext: 'NONE for the updates: plaintext aggregation hands every clipped update to the aggregator in the clear (insecure baseline)',
};

export interface DpSetupInput {
  dp: DpTrainOptions;
  protocol: string;
  precision: 'low' | 'high';
  /** Data owners N and the model's parameter count d. */
  population: number;
  dim: number;
  minContributors?: number;
  insecureAllowPlaintext?: boolean;
  /** Protocol 'secagg': the graph and threshold (semi-honest server). */
  secagg?: SecAggChoices;
  /** Sampling key for a run whose twin must draw the same clients (default: the seed's, or the system CSPRNG). */
  samplingKey?: Uint8Array;
}

export interface DpSetup {
  readonly aggregator: Aggregator;
  readonly sampling: ClientSampling;
  readonly options: ReturnType<typeof checkDpOptions>;
  /** After each round (empty ones too): compose the round's event, ε so far. */
  afterRound(m: EpochMetrics): DpRoundRecord;
  summary(): DpRunMetrics;
  /** The DP event of one round with `clients` clients in it (what `afterRound` composes). */
  roundEvent(clients: number): DpEvent | undefined;
}

async function innerRoles(protocol: string, precision: 'low' | 'high', population: number, addends: boolean, secagg?: SecAggChoices): Promise<AggregationRoles> {
  switch (protocol) {
    case 'aby3':
    case 'pond': {
      const { mpcRoles } = await import('../aggregation/mpc-roles.js');
      return mpcRoles({ protocol, precision, ...(addends ? { aggregatorAddends: true } : {}) });
    }
    case 'paillier': {
      const { paillierRoles } = await import('../aggregation/paillier-roles.js');
      const { generateIdentity } = await import('../crypto/secure-channel.js');
      const names = [...Array.from({ length: population }, (_, i) => `client-${i}`), 'server', 'aggregator'];
      return paillierRoles({ maxClients: population, fracBits: precision === 'high' ? 32 : 16, identities: new Map(names.map((n) => [n, generateIdentity()])) });
    }
    case 'secagg': {
      const { secAggRoles } = await import('../aggregation/secagg-roles.js');
      if (secagg?.adversary === 'malicious') throw new RangeError('dp: SecAgg\'s malicious-server mode is not wired into DP runs yet (its clients need signing keys); use the semi-honest server');
      return secAggRoles({ dropoutRate: 0, ...(secagg?.graph ? { graph: secagg.graph } : {}), ...(secagg?.threshold !== undefined ? { threshold: secagg.threshold } : {}) });
    }
    case 'plaintext': {
      const { referenceRoles } = await import('../aggregation/reference.js');
      return referenceRoles();
    }
    default:
      throw new RangeError(`unknown protocol "${protocol}"`);
  }
}

/** Build the DP role set, its in-process aggregator, the sampler and the accountant for one run. */
export async function dpSetup(input: DpSetupInput): Promise<DpSetup> {
  const protocol = input.protocol.toLowerCase();
  const N = input.population;
  const o = checkDpOptions(input.dp, { mode: 'fedavg', protocol, owners: N });
  const isCentral = central(o.mechanism);
  const poisson = o.samplingRate !== undefined;
  const q = poisson ? o.samplingRate! : o.clientsPerRound! / N;
  const expected = poisson ? q * N : o.clientsPerRound!;
  const seeded = o.seed !== undefined;
  const key = seeded ? dpSeedKey(o.seed!) : undefined;
  const samplingRng = input.samplingKey !== undefined ? CryptoRandom.fromKey(input.samplingKey, 'fedcrypt/dp/sampling') : key ? CryptoRandom.fromKey(key, 'fedcrypt/dp/sampling') : CryptoRandom.system();
  const rng = key ? CryptoRandom.fromKey(key, 'fedcrypt/dp/noise') : CryptoRandom.system();
  const sampling: ClientSampling = poisson ? { kind: 'poisson', q, rng: samplingRng } : { kind: 'fixed-size', m: o.clientsPerRound!, rng: samplingRng };
  const relation: NeighboringRelation = poisson ? 'add-remove' : 'replace-one';
  const accountant = new PrivacyAccountant({ neighboringRelation: relation, accountant: o.accountant ?? 'best' });
  const z = o.noiseMultiplier;

  // per-round client reports (clipped, wraps), reset by afterRound
  let clipped = 0, wrapped = 0, reports = 0;
  const onClientReport = (_party: string, _plan: unknown, r: ClientReport): void => {
    reports++;
    clipped += r['clipped'] ?? 0;
    wrapped += r['wraps'] ?? 0;
  };
  const inner = await innerRoles(protocol, input.precision, N, isCentral && o.noiseAt === 'aggregators', input.secagg);
  let roles: AggregationRoles;
  let centralRoles: CentralDpRoles | undefined;
  let ddp: ReturnType<typeof distributedDp> | undefined;
  let ddpParams: DdpParams | undefined;
  if (isCentral) {
    const common = { noiseMultiplier: z, clientsPerRound: expected, noiseAt: o.noiseAt, rng, onClientReport };
    centralRoles = o.mechanism === 'gaussian'
      ? dpGaussianFixed(inner, { ...common, clip: o.clip! })
      : dpGaussianAdaptive(inner, { ...common, ...(o.initialClip === undefined ? {} : { initialClip: o.initialClip }), ...(o.targetQuantile === undefined ? {} : { targetQuantile: o.targetQuantile }) });
    roles = centralRoles;
  } else {
    const n = Math.max(1, Math.round(expected));
    ddp = distributedDp({ mechanism: o.mechanism as 'skellam' | 'dgauss', bits: o.bits, modclipProb: o.modclipProb, rotation: o.rotation, beta: o.beta ?? 0, clip: o.clip!, noiseMultiplier: z, expectedClients: n, rng });
    ddpParams = ddp.params(input.dim);
    roles = ddp.over(inner, { onClientReport });
  }
  const p = centralRoles?.dp;
  const k = isCentral && o.noiseAt === 'aggregators' ? inner.aggregatorCount : 1;
  const what = isCentral
    ? `DP-FedAvg (${o.mechanism === 'gaussian' ? `Gaussian, clip ${o.clip}` : `Gaussian, adaptive clip from ${p!.clip}`}, z = ${z}, noise at ${o.noiseAt === 'server' ? 'SERVER' : `each of the ${k} aggregators`})`
    : `distributed DP (${o.mechanism}, ${o.bits} bits, clip ${o.clip}, z = ${z}, noise added by each client)`;
  const aggregator = rolesAggregator(roles, {
    name: `${roles.name}`,
    description: `${what} over ${inner.name}${inner.secure ? '' : ' (INSECURE reference: updates in the clear)'}, ${poisson ? `Poisson sampling q = ${q}` : `FIXED-SIZE sampling m = ${o.clientsPerRound}`}, simulated in this process`,
    weighted: false,
    ...(input.minContributors === undefined ? {} : { minContributors: input.minContributors }),
    ...(protocol === 'plaintext' && input.insecureAllowPlaintext === true ? { allowInsecure: true } : {}),
  });

  const baseEvent = (clients: number): DpEvent | undefined => {
    if (isCentral) {
      // fixed size (replace-one): multipliers relative to the sensitivity 2C
      const f = poisson ? 1 : 0.5;
      if (o.mechanism === 'adaptive' && p!.clippedCountStddev > 0) return composed([gaussianEvent(p!.valueNoiseMultiplier * f), gaussianEvent(2 * p!.clippedCountStddev * f)]);
      return gaussianEvent(p!.valueNoiseMultiplier * f);
    }
    return ddpEvent(ddpParams!, clients);
  };
  const roundEvent = (clients: number): DpEvent | undefined => {
    const e = baseEvent(clients > 0 ? clients : Math.max(1, Math.round(expected)));
    if (e === undefined) return undefined;
    return poisson ? poissonSampled(q, e) : sampledWithoutReplacement(N, o.clientsPerRound!, e);
  };

  const perRound: DpRoundRecord[] = [];
  let unaccountable = false;
  let last: EpsilonReading = { epsilon: 0, order: NaN, accountant: o.accountant === 'rdp' ? 'rdp' : 'gdp', mu: 0 };
  const totals = { clipped: 0, wrapped: 0, clientUpdates: 0, emptyRounds: 0 };
  let historySeen = 0;

  const afterRound = (m: EpochMetrics): DpRoundRecord => {
    const empty = m.sample?.empty === true;
    const clients = empty ? 0 : m.sample?.size ?? 0;
    const e = roundEvent(clients);
    if (e === undefined) unaccountable = true;
    else accountant.compose(e);
    last = unaccountable ? { epsilon: Infinity, order: NaN, accountant: 'rdp' } : accountant.getEpsilon(o.targetDelta);
    let clip = o.clip ?? p?.clip ?? NaN;
    let extra: Partial<DpRoundRecord> = {};
    let sumNoiseStd: number;
    if (centralRoles) {
      const st = centralRoles.clipState();
      const h = st.history.length > historySeen && !empty ? st.history[st.history.length - 1] : undefined;
      historySeen = st.history.length;
      clip = h?.clip ?? st.clip;
      sumNoiseStd = h?.sumNoiseStd ?? Math.sqrt(k) * p!.valueNoiseMultiplier * clip;
      if (h) extra = { clientClip: h.clientClip, ...(h.nextClip === undefined ? {} : { nextClip: h.nextClip, belowFraction: h.belowFraction }) };
    } else {
      sumNoiseStd = Math.sqrt(Math.max(clients, 0)) * ddpParams!.localStddev;
      extra = { wrapped };
    }
    const rec: DpRoundRecord = { round: m.round, epsilon: last.epsilon, order: last.order, accountant: last.accountant, clip, ...extra, clients, clipped, empty, sumNoiseStd };
    totals.clipped += clipped;
    totals.wrapped += wrapped;
    totals.clientUpdates += reports;
    if (empty) totals.emptyRounds++;
    clipped = 0; wrapped = 0; reports = 0;
    perRound.push(rec);
    return rec;
  };

  const summary = (): DpRunMetrics => {
    const honest = isCentral
      ? o.noiseAt === 'server'
        ? ['SERVER (the model owner): it adds the noise after the secure sum and sees the un-noised sum, so DP holds only against those who see the released model, not against SERVER', SECURE_SUM_ASSUMPTIONS[protocol]!]
        : [`one of the ${k} aggregator parties (${inner.aggregatorNames.join(', ')}): each secret-shares its own full noise into the sum; nobody sees an un-noised sum`, SECURE_SUM_ASSUMPTIONS[protocol]!]
      : ['the clients: each sampled client adds its own share of the noise before anything leaves it (a client that skips its share lowers the aggregate noise); nobody sees an un-noised sum', SECURE_SUM_ASSUMPTIONS[protocol]!];
    return {
      mechanism: o.mechanism,
      kind: isCentral ? 'central' : 'distributed',
      adjacency: poisson ? 'user-level add/remove (one data owner\'s whole data, one update per round)' : 'user-level replace-one (fixed-size sampling: one data owner\'s data replaced by another\'s)',
      neighboringRelation: relation,
      sampling: poisson ? 'poisson' : 'fixed-size',
      ...(poisson ? {} : { samplingFlag: 'FIXED-SIZE sampling without replacement: accounted under replace-one adjacency (Wang, Balle, Kasiviswanathan AISTATS\'19), not the Poisson add/remove bound' }),
      q, population: N, clientsPerRound: expected, rounds: perRound.length, delta: o.targetDelta, epsilon: last.epsilon, order: last.order,
      accountant: last.accountant, ...(last.mu === undefined ? {} : { mu: last.mu }),
      noiseMultiplier: z,
      ...(o.mechanism === 'adaptive' ? { valueNoiseMultiplier: p!.valueNoiseMultiplier, clippedCountStddev: p!.clippedCountStddev, initialClip: p!.clip, targetQuantile: p!.targetQuantile! } : {}),
      ...(o.clip !== undefined ? { clip: o.clip } : {}),
      ...(isCentral ? { noiseAt: o.noiseAt } : {}),
      noiseParties: isCentral ? k : Math.max(1, Math.round(expected)),
      localStddev: isCentral ? p!.valueNoiseMultiplier * p!.clip : ddpParams!.localStddev,
      centralStddev: isCentral ? Math.sqrt(k) * p!.valueNoiseMultiplier * p!.clip : ddpParams!.centralStddev,
      ...(ddpParams ? { bits: ddpParams.bits, scale: ddpParams.scale, modclipProb: ddpParams.modclipProb, rotation: ddpParams.rotation, paddedDim: ddpParams.paddedDim } : {}),
      honest,
      amplification: 'The amplified ε assumes the sample is secret: it holds towards whoever sees only the released model. SERVER and the aggregation parties see who was sampled; towards them each round a client took part in costs the unsampled mechanism\'s ε.',
      ...(seeded ? { seeded: `--dp-seed given: every DP draw (sampling, noise) is reproducible from the seed; whoever knows it can remove the noise (experiments only)` } : {}),
      totals: { ...totals },
      perRound: perRound.map((r) => ({ ...r })),
    };
  };

  return { aggregator, sampling, options: o, afterRound, summary, roundEvent };
}

/** A fresh sampling key for a run and its twin (the system CSPRNG: as secret as `CryptoRandom.system()`). */
export function freshSamplingKey(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}
