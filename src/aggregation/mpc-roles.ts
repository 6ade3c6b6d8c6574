/**
 * Secure aggregation by MPC among three aggregator parties (ABY3: three
 * compute servers, replicated sharing; Pond: two servers and a dealer,
 * additive sharing), as per-party roles (`roles.ts`).
 *
 * Every party runs the same SPMD program (the ABY3 / Pond code of
 * `src/encrypted/protocols`) over its own transport view, on which only the
 * party itself is local: the program makes the same protocol calls in the same
 * order at every party (so op numbers and rendezvous keys agree), and each
 * step runs only where its player executes. A client passes its own values;
 * every other client's input is absent (undefined) everywhere but at that
 * client. The protocol instance ids derive from `plan.invocationId`.
 *
 *   client i    checks the plan and its own input, then secret-shares its
 *               leaves (ABY3: seeds to the three servers and one full
 *               component to server1 only, which forwards the sum of the
 *               clients' components to server2 once; Pond: a seed to server0
 *               and one masked component to server1); it receives nothing; at
 *               most CLIENT_SLOTS client roles of a process do so at once;
 *   aggregator  adds each client's share into one running sum per leaf as it
 *               arrives, in any order (`encryptAddN`: every leaf's sum, and
 *               the weight's, is started before any is awaited, so its memory
 *               is O(m) for m shared values, whatever the number of clients,
 *               and no share waits unclaimed for another; the ring sum is the
 *               same in every order); for unweighted means with meanScaling
 *               'servers' also `divPublic(n)`; then opens the sums, in program
 *               order, to the receiving parties; with target AGGREGATORS every
 *               aggregator party (Pond's dealer included) receives them;
 *   server      with target SERVER receives the openings (ABY3: x0 + x1 from
 *               server0 and x2 from server2; Pond: one share from each server).
 *
 * Arithmetic:
 * - integer sums (secure sums, integer leaves of federated_sum_at_aggregators)
 *   are exact: ring integers in Z_2^64 when n * bound < 2^63 provably, else in
 *   Z_2^128 (bound: the plan's secure-sum bound, 2^63 for int64, 2^32 else);
 * - float sums and means: fixed point at the plan's precision (u = 2^-16 at
 *   'low', 2^-32 at 'high'). Unweighted means: with meanScaling 'owners' each
 *   client folds the public 1/n (n = plan.clients.length) into its encoding,
 *   the servers only add (error <= n u/2); with 'servers' the servers
 *   `divPublic(n)` the sum (docs/encrypted.md);
 * - weighted means: the weight is the client's PRIVATE input. Client i shares
 *   w_i x_i (w_i folded into its fixed-point encoding, no scaled copy) and w_i
 *   (one element); the servers add; the receiving party opens N' = sum(w x)
 *   and W' = sum(w) and divides in float64. No party sees an individual
 *   weight; the receiving party learns the total weight W besides the mean.
 *   Each encoding rounds by at most u/2, so |N' - N| <= n u/2 and
 *   |W' - W| <= n u/2, and the mean m' = N'/W' satisfies
 *     |m' - m| <= (n u/2) (1 + |m|) / (W - n u/2)      (W > n u/2)
 *   plus float64 rounding. Weights are meant to be sample counts or similar
 *   (W >= 1); a total that opens as 0 (every weight below u/2) is refused
 *   with a RangeError at the receiving party.
 */
import { createHash } from 'node:crypto';
import type { NumericArray } from '../core/values.js';
import { ABY3 } from '../encrypted/protocols/aby3.js';
import type { ProtocolOptions } from '../encrypted/protocols/base.js';
import { Pond } from '../encrypted/protocols/pond.js';
import { checkEncodable, checkScaledEncodable, decode, encode, fixedConfig, type FixedPointConfig, type Precision } from '../encrypted/fixed.js';
import { Player } from '../encrypted/player.js';
import type { AdditiveTensor, ReplicatedTensor } from '../encrypted/tensor.js';
import { RingTensor } from '../ring/index.js';
import type { AggregationPlan } from './plan.js';
import { AGGREGATION_URIS, type AggregateLeafValue, type AggregationResult } from './protocol.js';
import { checkClientInput, clipScaledFloats, enforcePlan, noteNanFree, sanitizeClientInput, type AggregationRoles, type ClientInput, type PartyContext } from './roles.js';
import { fusedApplies, fusedExactToServer, fusedToServer } from './mpc-fused.js';
import type { AddNCollection } from '../encrypted/protocols/base.js';
import { mpcSurvivors } from './mpc-survivors.js';

export type MpcProtocolName = 'aby3' | 'pond';
export type MeanScaling = 'owners' | 'servers';

export interface MpcRolesOptions {
  /** 'aby3' (default): three servers, replicated sharing; 'pond': two servers and a dealer. */
  protocol?: MpcProtocolName;
  /** Fixed-point precision of float sums and means: 'low' (default) or 'high'. Integer sums are exact either way. */
  precision?: Precision;
  /** Where an UNWEIGHTED mean's public 1/n is applied: 'owners' (default, folded into each encoding) or 'servers' (divPublic(n)). */
  meanScaling?: MeanScaling;
  /**
   * Dropout tolerance (a public parameter: every party of a plan must run
   * with the same): the collecting aggregators stop waiting at their
   * `PartyContext.collectMs`, agree on the set of complete contributions and
   * complete over it (src/aggregation/dropout.ts). Default false.
   */
  dropout?: boolean;
  /**
   * Every aggregator party (ABY3's three servers; Pond's two servers and its
   * dealer) secret-shares its own private addend (`PartyContext.aggregatorAddend`)
   * into each float leaf's sum before the opening, as an input of its own:
   * the opened value holds every aggregator's addend and no party sees
   * another's (central DP noise at the aggregators, src/dp/central.ts). A
   * public parameter (`aggAddends`); the plans take the generic program (no
   * fused path); weighted means are refused. Default false.
   */
  aggregatorAddends?: boolean;
}

/** Validate a protocol name option. */
export function checkProtocolName(fn: string, protocol: unknown): MpcProtocolName {
  if (protocol === undefined) return 'aby3';
  if (protocol === 'aby3' || protocol === 'pond') return protocol;
  if (typeof protocol !== 'string') throw new TypeError(`${fn}: option 'protocol' must be 'aby3' or 'pond', got ${typeof protocol}`);
  throw new RangeError(`${fn}: option 'protocol' must be 'aby3' or 'pond', got ${JSON.stringify(protocol)}`);
}

/** Validate a meanScaling option. */
export function checkMeanScaling(fn: string, s: unknown): MeanScaling {
  if (s === undefined || s === 'owners' || s === 'servers') return s ?? 'owners';
  throw new RangeError(`${fn}: option 'meanScaling' must be 'owners' or 'servers', got ${JSON.stringify(s)}`);
}

function checkAddends(d: unknown): boolean {
  if (d === undefined) return false;
  if (typeof d !== 'boolean') throw new TypeError(`${FN}: option 'aggregatorAddends' must be a boolean, got ${typeof d}`);
  return d;
}

function checkDropout(d: unknown): boolean {
  if (d === undefined) return false;
  if (typeof d !== 'boolean') throw new TypeError(`${FN}: option 'dropout' must be a boolean, got ${typeof d}`);
  return d;
}

interface Setup {
  readonly kind: MpcProtocolName;
  readonly precision: Precision;
  readonly scaling: MeanScaling;
  readonly dropout: boolean;
  readonly addends: boolean;
}

type MpcProto = ABY3 | Pond;
type Shared = ReplicatedTensor | AdditiveTensor;
const FN = 'mpcRoles';
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** The MPC aggregation as per-party roles (see the module comment). */
export function mpcRoles(options: MpcRolesOptions = {}): AggregationRoles {
  if (options === null || typeof options !== 'object') throw new TypeError(`${FN}: argument 'options' must be an object, got ${options === null ? 'null' : typeof options}`);
  const setup: Setup = Object.freeze({
    kind: checkProtocolName(FN, options.protocol),
    precision: fixedConfig(options.precision ?? 'low', FN).precision,
    scaling: checkMeanScaling(FN, options.meanScaling),
    dropout: checkDropout(options.dropout),
    addends: checkAddends(options.aggregatorAddends),
  });
  const self: AggregationRoles = Object.freeze({
    name: `mpc-${setup.kind}`,
    secure: true,
    intrinsics: AGGREGATION_URIS,
    aggregatorCount: 3,
    aggregatorNames: Object.freeze(setup.kind === 'aby3' ? ['server0', 'server1', 'server2'] : ['server0', 'server1', 'crypto-producer']),
    params: Object.freeze({ protocol: setup.kind, precision: setup.precision, meanScaling: setup.scaling, ...(setup.dropout ? { dropout: true } : {}), ...(setup.addends ? { aggAddends: true } : {}) }),
    ...(setup.addends ? { aggregatorAddends: true } : {}),
    clamp: (plan: AggregationPlan, input: ClientInput) => clampMpcInput(setup, plan, input),
    // ABY3's fused path: server2 takes no part (no share, no key, no opening)
    participants: (plan: AggregationPlan) => (fusedPath(setup, plan) !== undefined ? plan.aggregators.slice(0, 2) : plan.aggregators),
    sanitizeAndClamp: (plan: AggregationPlan, input: ClientInput) => sanitizeAndClampMpcInput(setup, plan, input),
    async client(ctx: PartyContext, plan: AggregationPlan, input: ClientInput): Promise<void> {
      enforcePlan(self, ctx, plan, 'client');
      checkClientInput(ctx.me, plan, input);
      // every range check of this client's values, before it sends a byte
      const own = checkOwnInput(setup, ctx.me, plan, input);
      await inClientSlot(() => runProgram(setup, ctx, plan, own));
    },
    async aggregator(ctx: PartyContext, plan: AggregationPlan, index: number): Promise<AggregationResult | undefined> {
      enforcePlan(self, ctx, plan, 'aggregator', index);
      const r = await runProgram(setup, ctx, plan, undefined);
      return plan.target === 'AGGREGATORS' ? r : undefined;
    },
    async server(ctx: PartyContext, plan: AggregationPlan): Promise<AggregationResult | undefined> {
      enforcePlan(self, ctx, plan, 'server');
      // target AGGREGATORS: the server takes no part (no protocol step runs at it)
      if (plan.target !== 'SERVER') return undefined;
      return runProgram(setup, ctx, plan, undefined);
    },
  });
  return self;
}

// ------------------------------------------------------------------ clients hosted by one process

/**
 * How many client roles of one process encode, share and send at once. A
 * process may host many clients (a data owner's player, a simulation); each
 * runs its own role with its own secrets, but only CLIENT_SLOTS of them hold
 * their encodings and masked components (and messages in the transport's
 * send buffers) at a time, so a process's memory does not grow with the
 * clients it hosts. Safe because a client role of this protocol only sends:
 * it never waits for another party, so a role in a slot always finishes.
 */
export const CLIENT_SLOTS = 4;
let busySlots = 0;
const slotWaiters: (() => void)[] = [];

async function inClientSlot<T>(f: () => Promise<T>): Promise<T> {
  while (busySlots >= CLIENT_SLOTS) await new Promise<void>((r) => slotWaiters.push(r));
  busySlots++;
  try {
    return await f();
  } finally {
    busySlots--;
    slotWaiters.shift()?.();
  }
}

// ------------------------------------------------------------------ the public shape of the computation

type LeafPlan = { readonly exact: true; readonly precision: Precision } | { readonly exact: false };

const isSecureSum = (plan: AggregationPlan): boolean => plan.uri === 'federated_secure_sum' || plan.uri === 'federated_secure_sum_at_aggregators';
const isWeighted = (plan: AggregationPlan): boolean => plan.uri === 'federated_weighted_mean_at_aggregators';
const isMean = (plan: AggregationPlan): boolean => plan.uri === 'federated_mean_at_aggregators';

/** How leaf j is computed: exact ring integers (and in which ring), or fixed point. Public: every party derives the same. */
function leafPlans(plan: AggregationPlan): LeafPlan[] {
  const n = BigInt(plan.clients.length);
  return plan.leaves.map((leaf) => {
    const dt = leaf.type.dtype;
    const integer = dt === 'int32' || dt === 'int64' || dt === 'uint32' || dt === 'bool';
    if (!(isSecureSum(plan) || (plan.uri === 'federated_sum_at_aggregators' && integer))) return { exact: false };
    // the largest |sum| must fit the signed ring
    const maxAbs = plan.bound !== undefined ? plan.bound : dt === 'int64' ? 1n << 63n : 1n << 32n;
    const total = maxAbs * n;
    if (total >= 1n << 127n) throw new RangeError(`${FN}: a sum of ${n} values below ${maxAbs} may exceed 2^127`);
    return { exact: true, precision: total < 1n << 63n ? 'low' : 'high' };
  });
}

/**
 * Which fused path (mpc-fused.ts) a plan takes: ABY3 to SERVER with float
 * leaves ('float': sums and means), or with exact integer leaves all in one
 * ring ('exact': sums); else none (the generic program). Public: every
 * party derives the same.
 */
function fusedPath(setup: Setup, plan: AggregationPlan): 'float' | 'exact' | undefined {
  // (the aggregators' addends are inputs of the generic program)
  if (setup.addends) return undefined;
  if (fusedApplies(setup.kind, setup.scaling, plan)) return 'float';
  if (setup.kind !== 'aby3' || plan.target !== 'SERVER' || plan.leaves.length === 0) return undefined;
  const lp = leafPlans(plan);
  const first = lp[0]!;
  return first.exact && lp.every((l) => l.exact && l.precision === first.precision) ? 'exact' : undefined;
}

/** A client's integer leaves one after the other as ring integers (the exact fused path's vector). */
function concatRingInts(values: readonly NumericArray[], bits: 64 | 128): RingTensor {
  const parts = values.map((v) => toRingInts(v, bits));
  const out = new RingTensor(bits, [parts.reduce((a, t) => a + t.size, 0)]);
  let at = 0;
  for (const t of parts) {
    out.data.set(t.data, at);
    at += t.data.length;
  }
  return out;
}

/** The public multiplier of an unweighted float leaf at its owner (1, or 1/n for means scaled by the owners). */
function publicMultiplier(setup: Setup, plan: AggregationPlan): number {
  return isMean(plan) && setup.scaling === 'owners' ? 1 / plan.clients.length : 1;
}

// ------------------------------------------------------------------ a client's own input

interface OwnInput {
  readonly index: number;
  readonly values: readonly NumericArray[];
  /** The multiplier folded into this client's float encodings (1, 1/n, or its private weight). */
  readonly multiplier: number;
  readonly weight?: number;
}

const numbers = (v: NumericArray): ArrayLike<number> => (v instanceof BigInt64Array ? Float64Array.from(v, Number) : (v as ArrayLike<number>));

/** Range checks of a client's own values (EncodingRangeError / RangeError naming the client and leaf). */
/**
 * The input clipped into the fixed-point range (|w| and |x·multiplier| below
 * the precision's bound): what `checkOwnInput` would refuse becomes the
 * nearest encodable value (the remote executor uses it, so that no refusal
 * depends on a value).
 */
export function clampMpcInput(setup: Setup, plan: AggregationPlan, input: ClientInput): { input: ClientInput; clipped: number } {
  const cfg = fixedConfig(setup.precision);
  const lim = cfg.bound * (1 - 2 ** -20);
  let clipped = 0;
  const weighted = isWeighted(plan);
  let weight = input.weight;
  if (weighted && weight !== undefined && !(Math.abs(weight) < lim)) {
    weight = Math.sign(weight) * lim;
    clipped++;
  }
  const multiplier = weighted ? weight! : publicMultiplier(setup, plan);
  const lp = leafPlans(plan);
  const values = input.values.map((v, j) => {
    if (lp[j]!.exact) return v;
    const c = clipScaledFloats(v, multiplier, lim);
    clipped += c.clipped;
    return c.values;
  });
  return { input: { values, ...(weight === undefined ? {} : { weight }) }, clipped };
}

/**
 * `clampMpcInput(sanitizeClientInput(input))`, the same values and counts,
 * with one pass over each float leaf the clamp scans (its non-finite
 * elements become 0 in that pass, as sanitizing would have made them).
 */
export function sanitizeAndClampMpcInput(setup: Setup, plan: AggregationPlan, input: ClientInput): { input: ClientInput; sanitized: number; clipped: number } {
  const lp = leafPlans(plan);
  // the float leaves clampMpcInput scans (not those of a secure sum, which sanitizing clips to its bound)
  const fused = input.values.map((v, j) => !isSecureSum(plan) && !lp[j]!.exact && (v instanceof Float32Array || v instanceof Float64Array));
  const s = sanitizeClientInput(plan, input, fused);
  let sanitized = s.changed;
  const cfg = fixedConfig(setup.precision);
  const lim = cfg.bound * (1 - 2 ** -20);
  let clipped = 0;
  const weighted = isWeighted(plan);
  let weight = s.input.weight;
  if (weighted && weight !== undefined && !(Math.abs(weight) < lim)) {
    weight = Math.sign(weight) * lim;
    clipped++;
  }
  const multiplier = weighted ? weight! : publicMultiplier(setup, plan);
  const values = s.input.values.map((v, j) => {
    if (lp[j]!.exact) return v;
    const c = clipScaledFloats(v, multiplier, lim, fused[j]);
    sanitized += c.zeroed;
    clipped += c.clipped;
    return c.values;
  });
  // (every float leaf finite now: sanitized, or clipped in the same pass)
  return { input: noteNanFree({ values, ...(weight === undefined ? {} : { weight }) }), sanitized, clipped };
}

function checkOwnInput(setup: Setup, me: string, plan: AggregationPlan, input: ClientInput): OwnInput {
  const cfg = fixedConfig(setup.precision);
  const weighted = isWeighted(plan);
  const multiplier = weighted ? input.weight! : publicMultiplier(setup, plan);
  if (weighted) checkEncodable(`${me}`, 'weight', [input.weight!], cfg);
  const lp = leafPlans(plan);
  const fused = fusedPath(setup, plan) === 'float';
  plan.leaves.forEach((leaf, j) => {
    const v = input.values[j]!;
    const what = `leaf ${j} (${leaf.path || 'value'})`;
    if (lp[j]!.exact) {
      if (!isSecureSum(plan)) return;
      const bound = plan.bound!;
      for (let i = 0; i < v.length; i++) {
        const x = v[i]!;
        const ok = typeof x === 'bigint' ? x >= 0n && x < bound : Number.isInteger(x) && x >= 0 && BigInt(x) < bound;
        if (!ok) throw new RangeError(`${me}: ${what} element ${i} is ${String(x)}, outside the secure sum's range [0, ${bound})`);
      }
      return;
    }
    // the fused path (mpc-fused.ts): ABY3.aggregateInto range-checks these very values (copied exactly into
    // the client's vector) with this multiplier and configuration before it sends anything; one scan, not two
    if (fused) return;
    checkScaledEncodable(me, what, numbers(v), multiplier, cfg);
  });
  return { index: clientIndex(plan, me), values: input.values, multiplier, ...(weighted ? { weight: input.weight! } : {}) };
}

/** Ring integers from a client's integer leaf (exact for every dtype the runtime passes). */
function toRingInts(values: NumericArray, bits: 64 | 128): RingTensor {
  const n = values.length;
  if (values instanceof BigInt64Array) {
    const t = new RingTensor(bits, [n]);
    const limbs = bits / 64;
    for (let i = 0; i < n; i++) {
      const v = values[i]!;
      t.data[i * limbs] = BigInt.asUintN(64, v);
      if (limbs === 2) t.data[i * 2 + 1] = v < 0n ? 0xffffffffffffffffn : 0n;
    }
    return t;
  }
  const cfg: FixedPointConfig = { ...fixedConfig(bits === 64 ? 'low' : 'high'), frac: 0, bound: 2 ** 53, boundLog2: 53 };
  return encode(values as ArrayLike<number>, [n], cfg, FN);
}

// ------------------------------------------------------------------ the SPMD program

/** Aggregator k's own addend of leaf j (it runs only where aggregator k executes). */
function ownAddend(ctx: PartyContext, plan: AggregationPlan, k: number, j: number, size: number): Float64Array {
  if (plan.aggregators[k] !== ctx.me) throw new Error(`${FN}: internal error: the addend of aggregator '${plan.aggregators[k]}' asked at '${ctx.me}'`);
  const f = ctx.aggregatorAddend;
  if (typeof f !== 'function') throw new TypeError(`${ctx.me}: the plan runs ${FN} with aggregatorAddends, and this aggregator party has no addend (PartyContext.aggregatorAddend)`);
  const v = f(j, size);
  if (!(v instanceof Float64Array) || v.length !== size) throw new TypeError(`${ctx.me}: PartyContext.aggregatorAddend(${j}, ${size}) must return a Float64Array of ${size} elements`);
  return v;
}

/** A protocol instance id every party derives alike from the invocation (and the ring). */
export function mpcInstanceId(invocationId: string, precision: Precision): string {
  const hash = createHash('sha256').update(invocationId).digest('hex').slice(0, 16);
  return `mpc-${invocationId.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 24)}-${hash}-${precision}`;
}

/** Keep a promise's rejection for a later await without an unhandled-rejection report meanwhile. */
function later<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/**
 * The plan's clients as players, made once per plan in a process (a data
 * owner runs one client role per hosted client on the same plan object):
 * the name checks run once, and no party keeps a player per client.
 */
const planPlayers = new WeakMap<AggregationPlan, { players: readonly Player[]; index: ReadonlyMap<string, number> }>();
function planClients(plan: AggregationPlan): { players: readonly Player[]; index: ReadonlyMap<string, number> } {
  let ps = planPlayers.get(plan);
  if (ps === undefined) {
    ps = { players: Object.freeze(plan.clients.map((c) => new Player(c))), index: new Map(plan.clients.map((c, i) => [c, i])) };
    // (only a frozen plan: its clients cannot change under the cache)
    if (Object.isFrozen(plan) && Object.isFrozen(plan.clients)) planPlayers.set(plan, ps);
  }
  return ps;
}
const clientPlayers = (plan: AggregationPlan): readonly Player[] => planClients(plan).players;
const clientIndex = (plan: AggregationPlan, me: string): number => planClients(plan).index.get(me) ?? -1;

/**
 * The same program at every party of the plan. `own` is this party's input
 * when it is a client. Resolves with the aggregate where this party is a
 * receiving party (plan.server for target SERVER, each aggregator for target
 * AGGREGATORS), undefined elsewhere.
 */
async function runProgram(setup: Setup, ctx: PartyContext, plan: AggregationPlan, own: OwnInput | undefined): Promise<AggregationResult | undefined> {
  // names become players before anything moves (a name the encrypted layer refuses fails here)
  const clients = clientPlayers(plan);
  const server = new Player(plan.server);
  const [a, b, c] = plan.aggregators.map((s) => new Player(s)) as [Player, Player, Player];
  const receivers = plan.target === 'SERVER' ? [server] : [a, b, c];
  const receiving = receivers.some((r) => r.name === ctx.me);
  const lp = leafPlans(plan);
  if (setup.addends && isWeighted(plan)) throw new RangeError(`${ctx.me}: ${FN} with aggregatorAddends does not run weighted means (an addend to a weighted sum would be divided by the private total weight)`);
  const protos = new Map<Precision, MpcProto>();
  const proto = (p: Precision): MpcProto => {
    let x = protos.get(p);
    if (x === undefined) {
      const opts: ProtocolOptions = { precision: p, transport: ctx.transport, id: mpcInstanceId(plan.invocationId, p), players: [server], setup: 'on-demand', ...(ctx.timeoutMs === undefined ? {} : { timeoutMs: ctx.timeoutMs }) };
      x = setup.kind === 'aby3' ? new ABY3(a, b, c, opts) : new Pond(a, b, c, opts);
      protos.set(p, x);
    }
    return x;
  };
  // open `x` to every receiving party, one reveal each (the same calls everywhere); the ring value where this party receives
  const open = (pr: MpcProto, x: Shared): Promise<RingTensor | undefined> => {
    const opened = receivers.map((r) => (pr as ABY3).revealRing(x as ReplicatedTensor, r));
    return later(Promise.all(opened).then((rs) => rs.find((r) => r !== undefined)));
  };
  // dropout tolerance (mpc-survivors.ts): the parties that collect the clients' parts
  const fused = fusedPath(setup, plan);
  const collectors = !setup.dropout ? [] : setup.kind === 'pond' || fused ? plan.aggregators.slice(0, 2) : [...plan.aggregators];
  const sv = mpcSurvivors(ctx, plan, setup.dropout, collectors, fused ? plan.aggregators.slice(0, 2) : plan.aggregators);
  const { collect, survivors, gate } = sv;
  const finish = (r: AggregationResult | undefined) => sv.finish(r, isMean(plan) && setup.scaling === 'owners');
  // (the collection deadline's timer is cleared however the program ends)
  try {
    // ABY3, float sums and means to SERVER: the fused path (mpc-fused.ts), the same bits with one share component uploaded per client
    // (its aggregators send their sums to SERVER only once their release gate holds)
    if (fused === 'float') return await finish(await fusedToServer(proto(setup.precision) as ABY3, setup.precision, plan, clients, server, ctx.me, own, sv.gated ? gate : undefined, collect()));
    // ABY3, exact integer sums to SERVER in one ring: the same fused messages, the exact ring sum
    if (fused === 'exact') {
      const pr = proto((lp[0] as { precision: Precision }).precision) as ABY3;
      const mine = own === undefined ? undefined : { index: own.index, ring: concatRingInts(own.values, pr.bits) };
      return await finish(await fusedExactToServer(pr, plan, clients, server, ctx.me, mine, sv.gated ? gate : undefined, collect()));
    }
    const mine = (i: number): OwnInput | undefined => (own !== undefined && own.index === i ? own : undefined);
    const ownAt = (i: number): OwnInput => {
      const o = mine(i);
      if (o === undefined) throw new Error(`${FN}: internal error: client '${clients[i]!.name}' executes here without its input`);
      return o;
    };
    const withCollect = <O extends object>(o: O): O & { collect?: AddNCollection } => {
      const c = collect();
      return c === undefined ? o : { ...o, collect: c };
    };
    const track = <T>(p: Promise<T>): Promise<T> => sv.track(p);
    // the sum of every client's fixed-point sharing of its leaf (or weight), the multiplier folded into its encoding
    const floatSum = (pr: MpcProto, size: number, values: (o: OwnInput) => ArrayLike<number>, multiplier: (o: OwnInput) => number): Promise<Shared> =>
      track(later((pr as ABY3).encryptAddN(clients, (i, cfg) => encode(values(ownAt(i)), [size], cfg, FN, multiplier(ownAt(i))), [size], withCollect({})) as Promise<Shared>));

    // Every sum is started before any is awaited: each aggregator adds each client's share as it arrives (in any
    // order) into one running sum per leaf, so no party holds one client's share waiting for another's. The
    // openings then follow in program order, so that every party takes the same op numbers.
    const weightSum = isWeighted(plan) ? floatSum(proto(setup.precision), 1, (o) => [o.weight!], () => 1) : undefined;
    const sums: Promise<Shared>[] = plan.leaves.map((leaf, j) => {
      const how = lp[j]!;
      if (!how.exact) return floatSum(proto(setup.precision), leaf.size, (o) => numbers(o.values[j]!), (o) => o.multiplier);
      const pr = proto(how.precision);
      return track(later((pr as ABY3).encryptAddN(clients, (i) => toRingInts(ownAt(i).values[j]!, pr.bits), [leaf.size], withCollect({ encoding: 'int' as const })) as Promise<Shared>));
    });

    // aggregatorAddends: each aggregator party shares its own addend of every float leaf (where it executes:
    // its PartyContext.aggregatorAddend), started after the clients' sums, in program order at every party
    const aggregatorPlayers = [a, b, c];
    const addends: (Promise<Shared> | undefined)[] = plan.leaves.map((leaf, j) => {
      if (!setup.addends || lp[j]!.exact) return undefined;
      const pr = proto(setup.precision);
      return later((pr as ABY3).encryptAddN(aggregatorPlayers, (k, cfg) => encode(ownAddend(ctx, plan, k, j, leaf.size), [leaf.size], cfg, FN), [leaf.size]) as Promise<Shared>);
    });

    // weighted means: the sum of the private weights, opened like the values
    let totalWeight: Promise<RingTensor | undefined> | undefined;
    if (weightSum !== undefined) {
      const w = await weightSum;
      await gate();
      totalWeight = open(proto(setup.precision), w);
    }
    const leaves: Promise<AggregateLeafValue | undefined>[] = [];
    for (let j = 0; j < plan.leaves.length; j++) {
      const how = lp[j]!;
      if (how.exact) {
        const pr = proto(how.precision);
        const summed = await sums[j]!;
        await gate();
        leaves.push(later(open(pr, summed).then((r) => {
          if (r === undefined) return undefined;
          const ints = r.toSignedBigInts();
          return ints.every((v) => v >= INT64_MIN && v <= INT64_MAX) ? BigInt64Array.from(ints) : ints;
        })));
        continue;
      }
      const pr = proto(setup.precision);
      let sum = await sums[j]!;
      if (isMean(plan) && setup.scaling === 'servers') {
        // (with dropout tolerance the divisor is the number of survivors: agreed first)
        const got = setup.dropout ? await survivors() : undefined;
        sum = await (pr as ABY3).divPublic(sum as ReplicatedTensor, got?.length ?? plan.clients.length);
      }
      const addend = addends[j];
      if (addend !== undefined) sum = (pr as ABY3).add(sum as ReplicatedTensor, (await addend) as ReplicatedTensor);
      await gate();
      leaves.push(later(open(pr, sum).then((r): Float64Array | undefined => (r === undefined ? undefined : decode<Float64Array>(r, pr.fixed)))));
    }
    const values = await Promise.all(leaves);
    const weightRing = totalWeight === undefined ? undefined : await totalWeight;
    if (!receiving) return undefined;
    const out = values.map((v, j) => {
      if (v === undefined) throw new Error(`${FN}: internal error: leaf ${j} was not opened at receiving party '${ctx.me}'`);
      return v;
    });
    if (weightRing === undefined) return finish({ leaves: out });
    const W = decode<Float64Array>(weightRing, proto(setup.precision).fixed)[0]!;
    if (!(W > 0)) throw new RangeError(`${ctx.me}: the weights of the weighted mean sum to ${W} in fixed point (precision '${setup.precision}' resolves ${2 ** -fixedConfig(setup.precision).frac}); no mean`);
    return finish({
      leaves: out.map((v) => {
        const m = v as Float64Array;
        for (let i = 0; i < m.length; i++) m[i]! /= W;
        return m;
      }),
    });
  } finally {
    sv.close();
  }
}
