/**
 * Central DP (DP-FedAvg) as role sets around any secure aggregation
 * (`wrapRoles`, wrap.ts): TFF's DifferentiallyPrivateFactory.gaussian_fixed
 * and gaussian_adaptive (facts from TFF's differential_privacy.py and TF
 * Privacy's quantile estimator; McMahan et al. ICLR'18 Algorithm 1; Andrew
 * et al. NeurIPS'21 for adaptive clipping).
 *
 *   client      clips ITS OWN update by global L2 norm to the round's clip C
 *               (central-clip.ts) before the inner client role encodes it;
 *               adaptive: appends one more leaf, b − 1/2 with b = [‖x‖ ≤ C]
 *               (quantile.ts), summed securely with the values;
 *   inner       a secure SUM (federated_sum_at_aggregators) of the clipped
 *               values (and the indicators) by the inner role set;
 *   noise       N(0, (z_v C)²) on every value coordinate and N(0, σ_b²) on the
 *               indicator sum, where `noiseAt` says:
 *                 'server'       SERVER adds it after the secure sum: SERVER
 *                                sees the un-noised sum, so it must be TRUSTED
 *                                for DP (the secure sum still hides each
 *                                client's update from it). Plans with target
 *                                AGGREGATORS are refused (k parties would
 *                                receive the un-noised sum);
 *                 'aggregators'  each of the k aggregator parties secret-shares
 *                                a full-σ Gaussian of its own into the sum
 *                                before anything is opened (the inner role set
 *                                must take aggregator addends:
 *                                mpcRoles({ aggregatorAddends: true })): the
 *                                opened aggregate holds k independent noises,
 *                                variance k σ², and DP holds against SERVER
 *                                and any coalition that leaves ONE aggregator
 *                                honest (it does not know that one's noise);
 *   result      outer mean: (noised sum) / n with n the EXPECTED clients per
 *               round (never the realised count; central-params.ts); outer
 *               sum: the noised sum. Adaptive: the target also computes
 *               b̄ = clamp(S/n + 1/2, 0, 1) and the next clip
 *               C' = C exp(−η (b̄ − γ)), kept as public state for the next
 *               plan (`clipState()`).
 *
 * The plan's params carry the DP parameters (dpMech, dpZ, dpN, dpNoiseAt,
 * dpClip, adaptive: dpQuantile, dpLr, dpSigmaB) with the inner role set's;
 * every party compares them with its own (enforcePlan), except the adaptive
 * clip, which each party reads from the plan (it is the public state of the
 * previous rounds) and checks against its own DP policy (`maxClip`), as it
 * checks the noise multiplier (`minNoiseMultiplier`), before it sends a
 * byte (wrap.ts' checkDpPolicy). The privacy of a round does not depend on C
 * (the noise scales with it); a policy bounds C for the utility it costs.
 *
 * Noise comes from the noising party's `CryptoRandom` (central-random.ts:
 * exact lattice Gaussian noise, gaussian.ts). Fixed point: inner protocols round each
 * encoded element by at most u/2 (u = 2^-16 at MPC precision 'low',
 * 2^-32 at 'high'), which can raise a clipped update's norm by up to
 * √d u/2; docs/dp-central.md has the figure and the advice ('high').
 */
import { PolicyError } from '../core/errors.js';
import { TensorType } from '../core/types.js';
import type { AggregationPlan } from '../aggregation/plan.js';
import type { AggregateLeafValue, AggregationResult, AggregationUri } from '../aggregation/protocol.js';
import type { AggregationRoles, ClientInput, PartyContext } from '../aggregation/roles.js';
import { clipByGlobalNorm, type FloatLeaf } from './central-clip.js';
import { gaussianAdaptiveParams, gaussianFixedParams, type CentralDpParams, type GaussianAdaptiveOptions, type GaussianFixedOptions } from './central-params.js';
import { gaussianNoiseFrom } from './central-random.js';
import type { CryptoRandom } from './random.js';
import { belowIndicator, quantileStep } from './quantile.js';
import { wrapRoles, type DpStatement, type PlanParams, type RoleTransform, type WrapOptions, type WrappedRoles } from './wrap.js';

/** The path of the adaptive indicator leaf in the inner plan. */
export const BELOW_LEAF_PATH = '#dp-below';

const OUTER_URIS: readonly AggregationUri[] = Object.freeze(['federated_mean_at_aggregators', 'federated_sum_at_aggregators']);

export interface CentralDpWrapOptions extends WrapOptions {
  /** The CSPRNG of the party (SERVER or each aggregator) that adds noise; required when noiseMultiplier > 0. */
  readonly rng?: CryptoRandom;
  /**
   * The inner protocol's fixed-point step u (its encoding rounds each
   * element to a multiple of u): clients clip to C − √d u/2 so that the
   * ENCODED update's norm stays within C (d: elements of the value leaves).
   * Default from the inner role set: 2^-fracBits (Paillier, SecAgg),
   * 2^-16 / 2^-32 (mpcRoles precision 'low' / 'high'), 0 for the insecure
   * reference (float64 sums of the values as given); any other: required.
   */
  readonly encodingStep?: number;
}

/** The fixed-point step of an inner role set's encoding (see CentralDpWrapOptions.encodingStep). */
export function encodingStepOf(fn: string, inner: AggregationRoles, given?: number): number {
  if (given !== undefined) {
    if (typeof given !== 'number' || !(given >= 0 && given < 1)) throw new RangeError(`${fn}: "encodingStep" expected a number in [0, 1), got ${String(given)}`);
    return given;
  }
  const fb = inner.params['fracBits'];
  if (typeof fb === 'number' && Number.isInteger(fb) && fb >= 0) return 2 ** -fb;
  const precision = inner.params['precision'];
  if (precision === 'low') return 2 ** -16;
  if (precision === 'high') return 2 ** -32;
  if (inner.name === 'insecure-reference') return 0;
  throw new RangeError(`${fn}: the fixed-point step of '${inner.name}' is not known; pass "encodingStep" (0 when its sums are exact floats)`);
}

/** One round as the decoding party saw it (public: derived from the released aggregate). */
export interface CentralDpRound {
  readonly invocationId: string;
  /** The clip C of the round (the sensitivity the noise is set for). */
  readonly clip: number;
  /** What the clients clipped to: C − √d u/2 (the fixed-point margin; = C for exact inner sums). */
  readonly clientClip: number;
  /** σ of the noise on each coordinate of the released sum (k aggregators: √k z_v C). */
  readonly sumNoiseStd: number;
  /** The fixed denominator n of a mean. */
  readonly denominator: number;
  /** The clients the plan named, and those whose values the aggregate holds. */
  readonly planClients: number;
  readonly contributors: number;
  /** Adaptive: the noised fraction of clients not clipped, and the next clip. */
  readonly belowFraction?: number;
  readonly nextClip?: number;
}

export interface ClipState {
  /** The clip the next plan carries. */
  readonly clip: number;
  /** The rounds decoded by this process, oldest first. */
  readonly history: readonly CentralDpRound[];
}

export interface CentralDpRoles extends AggregationRoles {
  readonly dp: CentralDpParams;
  readonly inner: AggregationRoles;
  /** The public clip state (adaptive: updated by each round decoded in this process). */
  clipState(): ClipState;
  /** The wrapped role set of a plan (its clip), e.g. for `innerPlan`. */
  wrappedFor(plan: AggregationPlan, me?: string): WrappedRoles;
}

/** DP-FedAvg with a fixed clip (TFF gaussian_fixed): noise std z C on the sum, mean over the expected n. */
export function dpGaussianFixed(inner: AggregationRoles, options: GaussianFixedOptions & CentralDpWrapOptions): CentralDpRoles {
  return centralDp('dpGaussianFixed', inner, gaussianFixedParams(options), options);
}

/**
 * DP-FedAvg with adaptive clipping (TFF gaussian_adaptive): clip from
 * `initialClip` (0.1), geometric quantile updates toward `targetQuantile`
 * (0.5) at `learningRate` (0.2), noise z_v C on the values and σ_b
 * (0.05 n) on the clipped count, with z_v raised so the whole costs z.
 */
export function dpGaussianAdaptive(inner: AggregationRoles, options: GaussianAdaptiveOptions & CentralDpWrapOptions): CentralDpRoles {
  return centralDp('dpGaussianAdaptive', inner, gaussianAdaptiveParams(options), options);
}

function fixedParams(p: CentralDpParams): PlanParams {
  return {
    dpMech: p.mechanism,
    dpZ: p.noiseMultiplier,
    dpN: p.clientsPerRound,
    dpNoiseAt: p.noiseAt,
    ...(p.mechanism === 'gaussian-adaptive' ? { dpQuantile: p.targetQuantile!, dpLr: p.learningRate!, dpSigmaB: p.clippedCountStddev } : {}),
  };
}

function centralDp(fn: string, inner: AggregationRoles, p: CentralDpParams, options: CentralDpWrapOptions): CentralDpRoles {
  if (inner === null || typeof inner !== 'object' || typeof inner.client !== 'function') throw new TypeError(`${fn}: "inner" expected an AggregationRoles`);
  const noise = options.rng === undefined && p.noiseMultiplier === 0 ? undefined : gaussianNoiseFrom(options.rng!, fn, 'rng');
  if (p.noiseAt === 'aggregators' && inner.aggregatorAddends !== true) {
    throw new RangeError(
      `${fn}: noiseAt 'aggregators' needs an inner role set whose aggregator parties add their own secret-shared noise before the opening ` +
        `(mpcRoles({ aggregatorAddends: true }) for ABY3/Pond); '${inner.name}' does not. Use noiseAt 'server' (a trusted SERVER) or such an inner role set`,
    );
  }
  const adaptive = p.mechanism === 'gaussian-adaptive';
  const wrapOptions: WrapOptions = { ...(options.localPolicy === undefined ? {} : { localPolicy: options.localPolicy }), ...(options.onClientReport === undefined ? {} : { onClientReport: options.onClientReport }) };
  const fixed = fixedParams(p);
  const k = p.noiseAt === 'aggregators' ? inner.aggregatorCount : 1;
  const u = encodingStepOf(fn, inner, options.encodingStep);
  /** The clip a client applies for a plan at clip c: c − √d u/2, d the elements of its value leaves. */
  const clientClip = (outer: AggregationPlan, c: number): number => c - (Math.sqrt(outer.leaves.reduce((a, l) => a + l.size, 0)) * u) / 2;
  let clip = p.clip;
  const history: CentralDpRound[] = [];
  const decoded = new Set<string>();

  /** σ of the noise ONE noising party adds to inner leaf j of a plan with `outerLeaves` value leaves at clip c. */
  const sigmaOf = (j: number, outerLeaves: number, c: number): number => (j < outerLeaves ? p.valueNoiseMultiplier * c : p.clippedCountStddev);

  const addNoise = (sum: Float64Array, sigma: number): void => {
    if (sigma === 0) return;
    noise!.addTo(sum, sigma);
  };

  const transformAt = (c: number): RoleTransform => ({
    name: `dp-${p.mechanism}`,
    params: { ...fixed, dpClip: c },
    intrinsics: OUTER_URIS,
    statement: (): DpStatement => ({ mechanism: p.mechanism, noiseMultiplier: p.noiseMultiplier, clip: c, noiseAt: p.noiseAt }),
    innerShape(outer) {
      if (p.noiseAt === 'server' && outer.target !== 'SERVER') {
        throw new RangeError(`${fn}: noiseAt 'server' needs the aggregate to go to SERVER (plan target ${outer.target}: ${outer.aggregators.length} aggregator(s) would receive the un-noised sum); use noiseAt 'aggregators'`);
      }
      outer.leaves.forEach((l, j) => {
        if (l.type.dtype !== 'float32' && l.type.dtype !== 'float64') throw new RangeError(`${fn}: leaf ${j} (${l.path || 'value'}) is ${l.type.dtype}; DP-FedAvg clips and noises float leaves only`);
      });
      const cc = clientClip(outer, c);
      if (!(cc > 0)) throw new RangeError(`${fn}: the clip ${c} is not above the fixed-point margin sqrt(d) u/2 = ${c - cc} of ${outer.leaves.reduce((a, l) => a + l.size, 0)} elements at step u = ${u}; raise the clip or the inner precision`);
      const leaves = adaptive ? [...outer.leaves, { path: BELOW_LEAF_PATH, type: new TensorType('float64', [1]), size: 1 }] : outer.leaves;
      return { uri: 'federated_sum_at_aggregators', leaves };
    },
    encode(outer, _inner, input: ClientInput) {
      // (clipped to C − √d u/2: the encoding's rounding, at most u/2 per element, keeps the encoded norm within C;
      // the adaptive indicator compares the norm with C itself)
      const r = clipByGlobalNorm(input.values as readonly FloatLeaf[], clientClip(outer, c));
      const values = adaptive ? [...r.values, Float64Array.of(belowIndicator(r.norm, c))] : r.values;
      return { input: { values }, report: { clipped: r.clipped ? 1 : 0, norm: r.norm } };
    },
    decode(outer, _inner, result: AggregationResult): AggregationResult {
      // (fresh float64 copies: the noise is added in place)
      const sums = result.leaves.map((v: AggregateLeafValue) => (v instanceof Float64Array || v instanceof Float32Array ? new Float64Array(v) : Float64Array.from(v as ArrayLike<bigint>, Number)));
      if (p.noiseAt === 'server') sums.forEach((s, j) => addNoise(s, sigmaOf(j, outer.leaves.length, c)));
      const contributors = result.contributors?.length ?? outer.clients.length;
      let round: CentralDpRound = { invocationId: outer.invocationId, clip: c, clientClip: clientClip(outer, c), sumNoiseStd: Math.sqrt(k) * p.valueNoiseMultiplier * c, denominator: p.clientsPerRound, planClients: outer.clients.length, contributors };
      if (adaptive) {
        const below = sums.pop()!;
        const step = quantileStep({ clip: c, noisedBelowSum: below[0]!, expectedClients: p.clientsPerRound, targetQuantile: p.targetQuantile!, learningRate: p.learningRate! });
        round = { ...round, belowFraction: step.belowFraction, nextClip: step.nextClip };
        // (several aggregators of one process decode the same round: the state moves once per invocation)
        if (!decoded.has(outer.invocationId)) clip = step.nextClip;
      }
      if (!decoded.has(outer.invocationId)) {
        decoded.add(outer.invocationId);
        history.push(Object.freeze(round));
      }
      if (outer.uri === 'federated_mean_at_aggregators') for (const s of sums) for (let i = 0; i < s.length; i++) s[i]! /= p.clientsPerRound;
      return { leaves: sums, ...(result.contributors === undefined ? {} : { contributors: result.contributors }) };
    },
  });

  const own = wrapRoles(inner, transformAt(p.clip), wrapOptions);
  const perPlan = new WeakMap<AggregationPlan, WrappedRoles>();
  /** The wrapped role set of a plan: fixed clipping, this party's own; adaptive, at the plan's clip (checked by the DP policy). */
  const wrappedFor = (plan: AggregationPlan, me?: string): WrappedRoles => {
    if (!adaptive) return own;
    let w = perPlan.get(plan);
    if (w === undefined) {
      const c = plan?.params?.['dpClip'];
      if (typeof c !== 'number' || !Number.isFinite(c) || !(c > 0)) throw new PolicyError('protocol', `the plan's dpClip ${JSON.stringify(c)} is not a clip (a finite number > 0)`, me === undefined ? {} : { party: me });
      w = wrapRoles(inner, transformAt(c), wrapOptions);
      perPlan.set(plan, w);
    }
    return w;
  };

  const addendCtx = (ctx: PartyContext, plan: AggregationPlan): PartyContext => {
    if (p.noiseAt !== 'aggregators') return ctx;
    const c = adaptive ? (plan.params['dpClip'] as number) : p.clip;
    return {
      ...ctx,
      aggregatorAddend: (j: number, size: number): Float64Array => {
        const out = new Float64Array(size);
        const sigma = sigmaOf(j, plan.leaves.length, c);
        if (sigma > 0) noise!.gaussian(out, sigma);
        return out;
      },
    };
  };

  const self: CentralDpRoles = Object.freeze({
    name: own.name,
    secure: own.secure,
    intrinsics: own.intrinsics,
    aggregatorCount: own.aggregatorCount,
    aggregatorNames: own.aggregatorNames,
    get params(): PlanParams {
      return adaptive ? Object.freeze({ ...fixed, dpClip: clip, ...inner.params }) : own.params;
    },
    dp: p,
    inner,
    clipState: (): ClipState => Object.freeze({ clip, history: Object.freeze([...history]) }),
    wrappedFor,
    participants: (plan: AggregationPlan) => wrappedFor(plan).participants!(plan),
    clamp: (plan: AggregationPlan, input: ClientInput) => wrappedFor(plan).clamp!(plan, input),
    client: async (ctx: PartyContext, plan: AggregationPlan, input: ClientInput) => wrappedFor(plan, ctx.me).client(ctx, plan, input),
    aggregator: async (ctx: PartyContext, plan: AggregationPlan, index: number) => wrappedFor(plan, ctx.me).aggregator(addendCtx(ctx, plan), plan, index),
    server: async (ctx: PartyContext, plan: AggregationPlan) => wrappedFor(plan, ctx.me).server(ctx, plan),
    close: async () => {
      await inner.close?.();
    },
  });
  return self;
}
