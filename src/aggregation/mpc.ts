/**
 * Secure aggregation by MPC among compute servers (ABY3 by default, or Pond),
 * bound to the Federated Core through the `AggregationProtocol` plug-in
 * interface, plus `secureMean`, the direct path the learning layer uses.
 *
 * `mpcAggregation` is the per-party roles of `mpc-roles.ts` (`mpcRoles`) run
 * in this process by `rolesAsProtocol`: each client, each compute server and
 * the SERVER party runs its own role on its own transport view of one
 * in-memory hub, exactly as deployed parties do; there is no other code path.
 * Arithmetic, error bounds and what each party receives: `mpc-roles.ts` and
 * docs/encrypted.md.
 *
 * `secureMean` (public weights, one flat Float32Array per owner) keeps its
 * fused single-process path: owners `data-owner-i`, servers `server0..2`
 * (Pond: `server0`, `server1`, dealer `crypto-producer`), result to
 * `model-owner`, all on one MemoryTransport unless a transport is given
 * (SPMD code, see docs/encrypted.md).
 */
import { ABY3 } from '../encrypted/protocols/aby3.js';
import type { ProtocolOptions } from '../encrypted/protocols/base.js';
import { Pond } from '../encrypted/protocols/pond.js';
import { decode, encode, fixedConfig, type Precision } from '../encrypted/fixed.js';
import { RingArena } from '../encrypted/arena.js';
import { Player } from '../encrypted/player.js';
import type { AdditiveTensor, ReplicatedTensor } from '../encrypted/tensor.js';
import type { PlayerStats, Transport } from '../transport/channel.js';
import { MemoryTransport } from '../transport/memory.js';
import { checkMeanScaling, checkProtocolName, mpcRoles, type MpcProtocolName } from './mpc-roles.js';
import { minContributorsOption, requireMinContributors } from './policy.js';
import type { AggregationProtocol } from './protocol.js';
import { rolesAsProtocol, type ReceivedMessage } from './simulate.js';

export type { MpcProtocolName } from './mpc-roles.js';

export interface MpcAggregationOptions {
  /** 'aby3' (default): three servers, replicated sharing; 'pond': two servers and a dealer. */
  protocol?: MpcProtocolName;
  /** Fixed-point precision of float sums and means: 'low' (default) or 'high'. Integer sums are exact either way. */
  precision?: Precision;
  /**
   * Every party refuses an aggregation of fewer clients (default 3), before
   * it sends anything (PolicyError, rule 'minContributors'). For a weighted
   * mean this counts the plan's clients: weights are private, no party can
   * tell a negligible one.
   */
  minContributors?: number;
  /**
   * Where an UNWEIGHTED mean's public 1/n is applied: 'owners' (default): each
   * owner folds it into its encoding, the servers only add (error <= n u/2, no
   * truncation, no extra messages); 'servers': the servers divPublic(n) the
   * sum (one truncation; docs/encrypted.md). Weighted means always open
   * sum(w x) and sum(w) to the receiving party, which divides.
   */
  meanScaling?: 'owners' | 'servers';
  /** Sees every message each simulated party receives (tests: what each party holds). */
  observe?: (m: ReceivedMessage) => void;
}

type MpcProto = ABY3 | Pond;
type Shared = ReplicatedTensor | AdditiveTensor;

function defaultServers(kind: MpcProtocolName): Player[] {
  return kind === 'aby3' ? ['server0', 'server1', 'server2'].map((n) => new Player(n)) : ['server0', 'server1', 'crypto-producer'].map((n) => new Player(n));
}

function checkServers(fn: string, kind: MpcProtocolName, servers: unknown): Player[] {
  if (servers === undefined) return defaultServers(kind);
  if (!Array.isArray(servers) || servers.length !== 3 || !servers.every((s) => s instanceof Player)) {
    throw new TypeError(`${fn}: option 'servers' must be an array of 3 Players (${kind === 'aby3' ? 'the three servers' : 'server0, server1, crypto producer'})`);
  }
  return servers as Player[];
}

function makeProtocol(kind: MpcProtocolName, servers: readonly Player[], opts: ProtocolOptions): MpcProto {
  const [a, b, c] = servers as [Player, Player, Player];
  return kind === 'aby3' ? new ABY3(a, b, c, opts) : new Pond(a, b, c, opts);
}

/**
 * Contributors of a weighted mean with PUBLIC weights (secureMean) that hide
 * one another: owners whose weight is at least 1/100 of the largest (an owner
 * of weight 1e-12 beside one of weight 1 leaves the mean equal to that one's value).
 */
function significant(weights: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < weights.length; i++) max = Math.max(max, weights[i]!);
  let n = 0;
  for (let i = 0; i < weights.length; i++) if (weights[i]! > 0 && weights[i]! >= max / 100) n++;
  return n;
}

function statsDelta(before: Record<string, PlayerStats>, after: Record<string, PlayerStats>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [p, s] of Object.entries(after)) {
    const d = s.bytesSent - (before[p]?.bytesSent ?? 0);
    if (d > 0) out[p] = d;
  }
  return out;
}

/**
 * The MPC aggregation protocol for the Federated Core (every aggregation uri):
 * `rolesAsProtocol(mpcRoles(...), { minContributors })`. Parties: clients
 * `client-<i>`, the SERVER party `server`, aggregators `server0..2` (Pond:
 * `server0`, `server1`, `crypto-producer`). `lastBytesSent`: bytes each party
 * sent in the last aggregation.
 *
 * The former options `transport` and `servers` are refused (TypeError): each
 * simulated party now runs on its own view of a fresh in-memory hub; to run
 * the parties elsewhere, run `mpcRoles()`' roles over the deployment's transport.
 */
export function mpcAggregation(options: MpcAggregationOptions = {}): AggregationProtocol & { lastBytesSent?: Readonly<Record<string, number>> } {
  const fn = 'mpcAggregation';
  if (options === null || typeof options !== 'object') throw new TypeError(`${fn}: argument 'options' must be an object, got ${options === null ? 'null' : typeof options}`);
  for (const gone of ['transport', 'servers']) {
    if ((options as Record<string, unknown>)[gone] !== undefined) {
      throw new TypeError(`${fn}: option '${gone}' is not taken: each party runs its own role on its own transport view (run mpcRoles() over a deployment's transport to place the parties)`);
    }
  }
  const protocol = checkProtocolName(fn, options.protocol);
  const precision = fixedConfig(options.precision ?? 'low', fn).precision;
  const meanScaling = checkMeanScaling(fn, options.meanScaling);
  const minContributors = minContributorsOption(fn, options.minContributors);
  if (options.observe !== undefined && typeof options.observe !== 'function') throw new TypeError(`${fn}: option 'observe' must be a function, got ${typeof options.observe}`);
  return rolesAsProtocol(mpcRoles({ protocol, precision, meanScaling }), { minContributors, ...(options.observe ? { observe: options.observe } : {}) });
}

/** Shared weighted mean: sum(w_i x_i) / sum(w_i), the scale applied per `scaling`. */
async function weightedMeanShared(pr: MpcProto, owners: readonly Player[], xs: readonly (Float32Array | Float64Array)[], w: readonly number[], scaling: 'owners' | 'servers'): Promise<Shared> {
  let total = 0;
  for (const v of w) total += v;
  if (scaling === 'owners') {
    const shares = await Promise.all(xs.map((x, i) => encryptScaled(pr, owners[i]!, x, w[i]! / total)));
    return (pr as ABY3).addN(shares as ReplicatedTensor[]);
  }
  const shares = await Promise.all(xs.map((x, i) => encryptScaled(pr, owners[i]!, x, w[i]!)));
  return (pr as ABY3).divPublic((pr as ABY3).addN(shares as ReplicatedTensor[]), total);
}

/** Encrypt w * x at the owner without materialising w * x (encode multiplies). */
function encryptScaled(pr: MpcProto, owner: Player, x: Float32Array | Float64Array, w: number): Promise<Shared> {
  if (w === 1) return pr.encrypt(owner, x) as Promise<Shared>;
  return (pr as ABY3).encryptEncoded(owner, (cfg) => encode(x, [x.length], cfg, 'secureMean', w), [x.length]);
}

export interface SecureMeanOptions extends Omit<MpcAggregationOptions, 'observe' | 'minContributors' | 'meanScaling'> {
  /**
   * The servers reveal no mean of fewer owners (default 3); the weights are
   * public here, so a weighted mean counts only owners whose weight is at
   * least 1/100 of the largest. PolicyError before anything is shared.
   */
  minContributors?: number;
  /** Where the public scale (w_i / sum(w)) is applied: 'owners' (default, folded into each encoding) or 'servers' (owners share w_i x_i, the servers divPublic(sum(w))). */
  meanScaling?: 'owners' | 'servers';
  /** Transport carrying every message; default: a fresh MemoryTransport per call. */
  transport?: Transport;
  /** Compute servers (ABY3: 3; Pond: 2 servers then the crypto producer). Default server0..2 / server0, server1, crypto-producer. */
  servers?: readonly Player[];
  /** Names of the data owners (default data-owner-0..). */
  ownerNames?: readonly string[];
  /** The player receiving the mean (default 'model-owner'). */
  modelOwner?: Player;
  /** Decode the mean into this Float32Array (of the updates' length) instead of a fresh one. */
  out?: Float32Array;
}

export interface SecureMeanResult {
  mean: Float32Array;
  /** Bytes sent by each player during this aggregation. */
  bytesPerPlayer: Record<string, number>;
  /** Same figures, for the learning layer's reports. */
  bytesByRole: Record<string, number>;
}

/**
 * Weighted mean of per-owner flat updates (same length), computed on secret
 * shares by the compute servers and revealed to the model owner only.
 * Copies of the model-sized plaintext: none at the owners (encoding reads the
 * Float32Array directly, weights folded into the encoding); one Float32Array
 * result decoded in place at the model owner.
 */
export async function secureMean(updates: readonly Float32Array[], weights?: readonly number[], options: SecureMeanOptions = {}): Promise<SecureMeanResult> {
  const fn = 'secureMean';
  if (!Array.isArray(updates) || updates.length === 0) throw new TypeError(`${fn}: argument 'updates' must be a non-empty array of Float32Array`);
  updates.forEach((u, i) => {
    if (!(u instanceof Float32Array)) throw new TypeError(`${fn}: argument 'updates[${i}]' must be a Float32Array`);
    if (u.length !== updates[0]!.length) throw new RangeError(`${fn}: argument 'updates[${i}]' has ${u.length} values, 'updates[0]' has ${updates[0]!.length}`);
  });
  if (weights !== undefined) {
    if (!Array.isArray(weights) || weights.length !== updates.length) throw new RangeError(`${fn}: argument 'weights' must hold one number per update (${updates.length})`);
    weights.forEach((w, i) => {
      if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) throw new RangeError(`${fn}: argument 'weights[${i}]' must be a finite number >= 0, got ${w}`);
    });
    if (weights.every((w) => w === 0)) throw new RangeError(`${fn}: argument 'weights' must not be all zero`);
  }
  if (options === null || typeof options !== 'object') throw new TypeError(`${fn}: argument 'options' must be an object`);
  const kind = checkProtocolName(fn, options.protocol);
  const precision = fixedConfig(options.precision ?? 'low', fn).precision;
  const servers = checkServers(fn, kind, options.servers);
  const scaling = checkMeanScaling(fn, options.meanScaling);
  // the servers' rule, before any owner shares a value
  requireMinContributors('compute servers', weights ? 'data owners of significant weight (at least 1/100 of the largest)' : 'data owners', weights ? significant(weights) : updates.length, minContributorsOption(fn, options.minContributors));
  const owners = updates.map((_, i) => new Player(options.ownerNames?.[i] ?? `data-owner-${i}`));
  const modelOwner = options.modelOwner ?? new Player('model-owner');
  const transport = options.transport ?? new MemoryTransport();
  const before = transport.stats();
  const pr = makeProtocol(kind, servers, { precision, transport, players: [...owners, modelOwner] });
  const n = updates[0]!.length;
  if (options.out !== undefined && (!(options.out instanceof Float32Array) || options.out.length !== n)) {
    throw new TypeError(`${fn}: option 'out' must be a Float32Array of ${n} values`);
  }
  const out = options.out ?? new Float32Array(n);
  const w = weights ?? updates.map(() => 1);
  if (pr instanceof ABY3) {
    // fused input step (encode, mask, add in place through a fixed working set); the
    // working memory is pooled across calls only when no other process can still read it
    // (an in-memory transport with every player local: payloads are handed over, not kept)
    const arena = new RingArena({ pooled: transport.kind === 'memory' && [...owners, modelOwner, ...servers].every((p) => transport.isLocal(p.name)) });
    let total = 0;
    for (const v of w) total += v;
    if (scaling === 'owners') {
      // the sum is only revealed: no replicated sum at the servers (ABY3.aggregateInto)
      await pr.aggregateInto(owners, updates, w.map((v) => v / total), modelOwner, out, { size: n, arena });
    } else {
      const sum = await pr.encryptSum(owners, updates, w, { size: n, arena });
      await pr.revealInto(await pr.divPublic(sum, total), modelOwner, out);
    }
    arena.dispose();
  } else {
    const mean = await weightedMeanShared(pr, owners, updates, w, scaling);
    const revealed = await (pr as unknown as ABY3).revealRing(mean as ReplicatedTensor, modelOwner);
    if (revealed !== undefined) decode(revealed, pr.fixed, pr.fixed.frac, out);
  }
  const bytes = statsDelta(before, transport.stats());
  if (options.transport === undefined) await transport.close();
  return { mean: out, bytesPerPlayer: bytes, bytesByRole: { ...bytes } };
}
