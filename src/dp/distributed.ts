/**
 * Distributed DP (TFF's DistributedDpSumFactory; Kairouz, Liu, Steinke
 * ICML'21; Agarwal, Kairouz, Liu NeurIPS'21) as a wrapper (wrap.ts) around
 * any role set with an exact secure sum: ABY3/Pond (mpcRoles), Paillier
 * (paillierRoles), SecAgg (secAggRoles), the insecure reference (tests).
 *
 * At each client, on ITS OWN update x (all float leaves, d values):
 *   1. rotate: y = U x, U public, seeded from the plan's invocation id
 *      (rotation.ts), padded dimension D;
 *   2. clip: y · min(1, c / ||y||_2) (clip.ts; ||Ux|| = ||x||);
 *   3. scale by s and round stochastically (conditionally when β > 0) to
 *      integers of norm <= Δ2 (discretize.ts, ddp-params.ts);
 *   4. add this client's share of the noise: N_Z(0, (σ_local s)²) or
 *      Skellam with variance (σ_local s)² per coordinate, from a CSPRNG
 *      (noise.ts) — BEFORE anything leaves the client, so no party ever sees
 *      an un-noised value or sum;
 *   5. reduce mod 2^bits into [-2^(b-1), 2^(b-1)) (modclip.ts; local wraps
 *      counted) and pass the residues in [0, 2^bits) to the inner secure sum
 *      (uri federated_secure_sum, or _at_aggregators for target AGGREGATORS;
 *      one int32 leaf of D values; bound 2^bits).
 * At the target (SERVER, or each aggregator for target AGGREGATORS): the
 * exact sum reduced mod 2^bits into the signed range, divided by s,
 * unrotated, cut to d and split into the plan's leaves (a mean divides by
 * the number of contributions).
 *
 * Every parameter is public and in the plan (dp* keys); every party checks
 * them (enforcePlan) and its own DP policy against the plan's statement.
 * The aggregate's noise: n_plan · (σ_local s)² per coordinate in scaled
 * units, i.e. σ_central² · n_plan / n_expected after unscaling (plus the
 * rounding variance, at most n_plan / (4 s²)). Clients that drop out add no
 * noise: the aggregate then has less.
 */
import { TensorType } from '../core/types.js';
import type { AggregationPlan } from '../aggregation/plan.js';
import type { AggregationLeaf, AggregationResult, AggregationUri } from '../aggregation/protocol.js';
import type { AggregationRoles, ClientInput } from '../aggregation/roles.js';
import { l2Norm } from './clip.js';
import { ddpParams, type DdpMechanism, type DdpParams } from './ddp-params.js';
import { stochasticRound } from './discretize.js';
import { signedSum } from './modclip.js';
import { checkNoiseSource, noiseSourceFrom, type NoiseSource } from './noise.js';
import { dpPipelineWasmAvailable, encodeUpdateWasm } from './pipeline-wasm.js';
import type { CryptoRandom } from './random.js';
import { ROTATION_SEED_DERIVATION, rotate, rotationSeed, unrotate, type RotationKind } from './rotation.js';
import { distributedDiscreteGaussian, skellamEvent, type DpEvent } from './events.js';
import { RdpAccountant } from './rdp-accountant.js';
import { wrapRoles, type DpStatement, type InnerShape, type RoleTransform, type WrapOptions, type WrappedRoles } from './wrap.js';

export interface DistributedDpOptions {
  mechanism: DdpMechanism;
  /** Bits of the secure sum's modulus (2^bits), in [1, 31]. */
  bits: number;
  /** Target wrap probability per coordinate of the aggregate (default 1e-4). */
  modclipProb?: number;
  /** Default 'hadamard' (TFF's default is 'dft'). */
  rotation?: RotationKind;
  /** L2 clip c of one client's update. */
  clip: number;
  /** z = σ_central / c (>= 0; 0: no noise). */
  noiseMultiplier: number;
  /** Expected clients per round n: each adds 1/n of the noise variance. */
  expectedClients: number;
  /** Conditional rounding β in [0, 1) (default 0, TFF's default). */
  beta?: number;
  /**
   * Every party refuses a plan of fewer than ⌈minClientsFraction · expectedClients⌉
   * clients (default 0.5): the aggregate's noise is the sum of the clients'
   * shares, so a SERVER that plans a few clients would otherwise shrink it
   * (with half the clients, the noise multiplier is z/√2).
   */
  minClientsFraction?: number;
  /** The clients' randomness (noise shares and rounding coins): a CSPRNG (`CryptoRandom`). Needed where client roles run. */
  rng?: CryptoRandom;
  /** Instead of `rng`: a NoiseSource made by `noiseSourceFrom` (or `observedNoiseSource`); anything else is refused. */
  noise?: NoiseSource;
  /**
   * ε of one aggregation at δ, for parties' `maxEpsilonPerRound`. Default:
   * the RDP accountant (rdp-accountant.ts) on `ddpEvent(params, clients)`,
   * dp_accounting's default orders, add/remove adjacency.
   */
  epsilon?: (params: DdpParams, clients: number, delta: number) => number;
}

export interface DistributedDp {
  readonly transform: RoleTransform;
  /** The parameters for an update of `dim` values (scale, sensitivities, local variance). */
  params(dim: number): DdpParams;
  /** The wrapper over `inner` (its roles and aggregator parties). */
  over(inner: AggregationRoles, options?: WrapOptions): WrappedRoles;
}

const URIS: readonly AggregationUri[] = Object.freeze(['federated_sum_at_aggregators', 'federated_mean_at_aggregators'] as const);
const FN = 'distributedDp';

export function distributedDp(options: DistributedDpOptions): DistributedDp {
  if (options === null || typeof options !== 'object') throw new TypeError(`${FN}: "options" expected an object, got ${options === null ? 'null' : typeof options}`);
  const rotation = options.rotation ?? 'hadamard';
  const fraction = options.minClientsFraction ?? 0.5;
  if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) throw new RangeError(`${FN}: "minClientsFraction" expected a number in [0, 1], got ${String(fraction)}`);
  if (options.rng !== undefined && options.noise !== undefined) throw new TypeError(`${FN}: give "rng" or "noise", not both`);
  const noise = options.rng !== undefined ? noiseSourceFrom(options.rng, FN, 'rng') : options.noise !== undefined ? checkNoiseSource(FN, 'noise', options.noise) : undefined;
  if (options.epsilon !== undefined && typeof options.epsilon !== 'function') throw new TypeError(`${FN}: "epsilon" expected a function`);
  const base = { mechanism: options.mechanism, bits: options.bits, expectedClients: options.expectedClients, clip: options.clip, noiseMultiplier: options.noiseMultiplier, modclipProb: options.modclipProb ?? 1e-4, beta: options.beta ?? 0, rotation };
  // every argument checked now (dimension 1 stands in for the plan's)
  const checked = ddpParams({ ...base, dim: 1 });
  const minClients = Math.ceil(fraction * checked.expectedClients);
  const cache = new Map<number, DdpParams>();
  const params = (dim: number): DdpParams => {
    let p = cache.get(dim);
    if (p === undefined) {
      p = ddpParams({ ...base, dim });
      if (cache.size > 64) cache.clear();
      cache.set(dim, p);
    }
    return p;
  };

  const dimOf = (plan: AggregationPlan): number => {
    let d = 0;
    plan.leaves.forEach((l, j) => {
      if (l.type.dtype !== 'float32' && l.type.dtype !== 'float64') throw new RangeError(`${FN}: leaf ${j} (${l.path || 'value'}) is ${l.type.dtype}; distributed DP takes float leaves only`);
      d += l.size;
    });
    return d;
  };

  const transform: RoleTransform = Object.freeze({
    name: `ddp-${checked.mechanism}`,
    params: Object.freeze({
      dpMechanism: checked.mechanism,
      dpBits: checked.bits,
      dpModclipProb: checked.modclipProb,
      dpRotation: rotation,
      dpRotationSeed: ROTATION_SEED_DERIVATION,
      dpClip: checked.clip,
      dpNoiseMultiplier: checked.noiseMultiplier,
      dpExpectedClients: checked.expectedClients,
      dpBeta: checked.beta,
      dpMinClients: minClients,
    }),
    intrinsics: URIS,
    statement(plan: AggregationPlan): DpStatement {
      const p = params(dimOf(plan));
      const n = plan.clients.length;
      // noise stddev of the aggregate over the (inflated) sensitivity, both scaled; 0 for the discrete Gaussian
      // below σ_local s = 1/2, where N_Z(0, σ²) is 0 with probability >= 1 - 2 exp(-1/(2σ²)) (its variance far below σ²)
      // and KLS21's bound does not apply (ddpEvent: no event): a minNoiseMultiplier policy refuses such a plan
      const z = p.mechanism === 'dgauss' && p.localVariance < 0.25 ? 0 : Math.sqrt(n * p.localVariance) / p.scaledInflatedL2;
      const eps = options.epsilon ?? roundEpsilon;
      return { mechanism: p.mechanism, noiseMultiplier: z, clip: p.clip, noiseAt: 'clients', epsilon: (delta: number) => eps(p, n, delta), clients: n, minClients };
    },
    innerShape(plan: AggregationPlan): InnerShape {
      if (!URIS.includes(plan.uri)) throw new RangeError(`${FN}: runs ${URIS.join(' and ')}, not ${plan.uri}`);
      const p = params(dimOf(plan));
      const leaf: AggregationLeaf = { path: '', type: new TensorType('int32', [p.paddedDim]), size: p.paddedDim };
      return { uri: plan.target === 'AGGREGATORS' ? 'federated_secure_sum_at_aggregators' : 'federated_secure_sum', leaves: [leaf], bound: 1n << BigInt(p.bits) };
    },
    encode(plan: AggregationPlan, _inner: AggregationPlan, input: ClientInput, me: string) {
      if (noise === undefined) throw new TypeError(`${FN}: ${me}: a client role needs the option "rng" (a CryptoRandom)`);
      const r = encodeUpdate(params(dimOf(plan)), flatten(input), rotationSeed(plan.invocationId), noise);
      return { input: { values: [r.residues] }, report: { clipped: r.clipped ? 1 : 0, wraps: r.wraps, roundingTries: r.tries } };
    },
    decode(plan: AggregationPlan, _inner: AggregationPlan, result: AggregationResult): AggregationResult {
      const p = params(dimOf(plan));
      const sums = result.leaves[0];
      if (sums === undefined || sums instanceof Float64Array || sums instanceof Float32Array || sums.length !== p.paddedDim) throw new RangeError(`${FN}: the inner aggregate is not ${p.paddedDim} exact integer sums`);
      const x = decodeSum(p, sums, rotationSeed(plan.invocationId));
      // DP-FedAvg's fixed denominator: the expected clients per round, never the realised count (as central DP)
      if (plan.uri === 'federated_mean_at_aggregators') for (let i = 0; i < x.length; i++) x[i]! /= p.expectedClients;
      let at = 0;
      const leaves = plan.leaves.map((l) => x.slice(at, (at += l.size)));
      return { leaves, ...(result.contributors === undefined ? {} : { contributors: result.contributors }) };
    },
  });

  return Object.freeze({ transform, params, over: (inner: AggregationRoles, o?: WrapOptions) => wrapRoles(inner, transform, o) });
}

/**
 * The DP event of one aggregation of `clients` clients (integer domain: the
 * scaled, inflated sensitivities Δ2, Δ1 and the clients' noise):
 * dgauss: the sum of n N_Z(0, (σ_local s)²) (KLS21; the accountant's
 * `distributedDiscreteGaussian`); Skellam: aggregate variance n (σ_local s)²
 * (AKL21; `skellamEvent`). Undefined without noise (no DP). The dgauss bound
 * needs σ_local s >= 1/2 (KLS21): below it, undefined too.
 */
export function ddpEvent(p: DdpParams, clients: number): DpEvent | undefined {
  if (!(p.localVariance > 0)) return undefined;
  if (p.mechanism === 'dgauss') {
    const sigma = Math.sqrt(p.localVariance);
    if (sigma < 0.5) return undefined;
    return distributedDiscreteGaussian({ sigma, clients, l2Sensitivity: p.scaledInflatedL2, l1Sensitivity: p.scaledL1, dimension: p.paddedDim });
  }
  return skellamEvent({ mu: clients * p.localVariance, l2Sensitivity: p.scaledInflatedL2, l1Sensitivity: p.scaledL1 });
}

/** ε at δ of one aggregation (`ddpEvent` through the RDP accountant); Infinity without a DP event. */
export function roundEpsilon(p: DdpParams, clients: number, delta: number): number {
  const e = ddpEvent(p, clients);
  return e === undefined ? Infinity : new RdpAccountant().compose(e).getEpsilon(delta).epsilon;
}

function flatten(input: ClientInput): Float64Array {
  let d = 0;
  for (const v of input.values) d += v.length;
  const x = new Float64Array(d);
  let at = 0;
  for (const v of input.values) {
    for (let i = 0; i < v.length; i++) x[at + i] = Number(v[i]!);
    at += v.length;
  }
  return x;
}

export interface EncodedUpdate {
  /** What the inner secure sum receives: residues in [0, 2^bits). */
  readonly residues: Int32Array;
  /** The noised, quantized values before the modular reduction (signed). */
  readonly noised: Int32Array;
  readonly clipped: boolean;
  readonly wraps: number;
  readonly tries: number;
}

/**
 * One client's steps 1-5 (see the module comment) on its flattened update `x` (d = p.dim values).
 * With the Hadamard rotation and dist/wasm/dp-pipeline.wasm built, the passes run in wasm over
 * reused buffers (pipeline-wasm.ts), bit-for-bit `encodeUpdateTs`; otherwise `encodeUpdateTs`.
 */
export function encodeUpdate(p: DdpParams, x: Float64Array, seed: Uint8Array, noise: NoiseSource): EncodedUpdate {
  checkNoiseSource('encodeUpdate', 'noise', noise);
  if (x.length !== p.dim) throw new RangeError(`encodeUpdate: "x" has ${x.length} values, the parameters are for ${p.dim}`);
  if (p.rotation === 'hadamard' && dpPipelineWasmAvailable()) return encodeUpdateWasm(p, x, seed, noise);
  return encodeUpdateTs(p, x, seed, noise);
}

/** `encodeUpdate` in TypeScript (the reference of the wasm passes; the DFT rotation). */
export function encodeUpdateTs(p: DdpParams, x: Float64Array, seed: Uint8Array, noise: NoiseSource): EncodedUpdate {
  if (x.length !== p.dim) throw new RangeError(`encodeUpdate: "x" has ${x.length} values, the parameters are for ${p.dim}`);
  // (one fresh array from the rotation on: clipped and scaled in place)
  const y = rotate(p.rotation, x, seed);
  const norm = l2Norm(y);
  if (!Number.isFinite(norm)) throw new RangeError('encodeUpdate: "x" has a non-finite value');
  const clipped = norm > p.clip;
  // clip (rounded down a hair, as clipL2) and scale in one pass
  const f = (clipped ? (p.clip / norm) * (1 - 2 ** -50) : 1) * p.scale;
  const len = y.length;
  for (let i = 0; i < len; i++) y[i] = y[i]! * f;
  const r = stochasticRound(y, noise, { beta: p.beta, normBound: p.clip * p.scale });
  const q = r.values;
  // the sensitivities the noise is calibrated to (TF Privacy's queries assert the same)
  const { l1, l2 } = intNorms(q);
  if (!(l2 <= p.scaledInflatedL2)) throw new RangeError(`encodeUpdate: rounded norm ${l2} above Δ2 = ${p.scaledInflatedL2}`);
  if (p.mechanism === 'skellam' && !(l1 <= p.scaledL1)) throw new RangeError(`encodeUpdate: rounded L1 norm ${l1} above Δ1 = ${p.scaledL1}`);
  let z: Int32Array | undefined;
  if (p.localVariance > 0) {
    z = new Int32Array(q.length);
    if (p.mechanism === 'dgauss') noise.dgauss(z, p.localVariance);
    else noise.skellam(z, p.skellamMu);
  }
  // noise, modular clipping (wraps counted) and residues in one pass (modclip.ts's modResidues, fused)
  const mask = 2 ** p.bits - 1, lo = -(2 ** (p.bits - 1)), hi = 2 ** (p.bits - 1);
  const residues = new Int32Array(q.length);
  let wraps = 0;
  for (let i = 0; i < q.length; i++) {
    const v = z === undefined ? q[i]! : q[i]! + z[i]!;
    if (!(v > -2147483648 && v < 2147483648)) throw new RangeError(`encodeUpdate: a noised value ${v} does not fit an int32`);
    q[i] = v;
    if (v < lo || v >= hi) wraps++;
    residues[i] = v & mask;
  }
  return { residues, noised: q, clipped, wraps, tries: r.tries };
}

/** ||q||_1 and ||q||_2 of an integer vector (exact: |q_i| < 2^31, sums below 2^53 for D < 2^22). */
function intNorms(q: Int32Array): { l1: number; l2: number } {
  let l1 = 0, sq = 0;
  for (let i = 0; i < q.length; i++) {
    const v = q[i]!;
    l1 += Math.abs(v);
    sq += v * v;
  }
  return { l1, l2: Math.sqrt(sq) };
}

/** The target's decoding: the exact sums mod 2^bits, signed, / s, unrotated, cut to d. */
export function decodeSum(p: DdpParams, sums: readonly bigint[] | BigInt64Array, seed: Uint8Array): Float64Array {
  const v = signedSum(sums, p.bits);
  for (let i = 0; i < v.length; i++) v[i]! /= p.scale;
  return unrotate(p.rotation, v, seed, p.dim);
}
