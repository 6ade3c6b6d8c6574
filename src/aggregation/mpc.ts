/**
 * Secure aggregation by MPC among compute servers (ABY3 by default, or Pond),
 * bound to the Federated Core through the `AggregationProtocol` plug-in
 * interface, plus `secureMean`, the direct path the learning layer uses.
 *
 * Each client secret-shares its values to the servers (`encrypt` /
 * `encryptInts`: seeds for two components, one full component per server at
 * most); the servers add the shares (`addN`), and for means scale by the
 * public 1/n or 1/sum(w) (`divPublic`, one truncation); only the player of the
 * output placement receives the reveal. No server ever sees an individual
 * client's value or the aggregate.
 *
 * - Integer sums (federated_secure_sum*, integer leaves of
 *   federated_sum_at_aggregators) are exact: values are ring integers
 *   (encoding 'int', no fixed point), in Z_2^64 when the sum provably fits in
 *   63 bits, else in Z_2^128.
 * - Float sums and means use fixed point at the chosen precision (error bounds
 *   in docs/encrypted.md). Means: the public scale (1/n or w_i / sum(w); the
 *   weights reach the runtime in the clear) is folded by each owner into its
 *   own encoding (no copy) and the servers only add, or, with
 *   `meanScaling: 'servers'`, owners share w_i * x_i and the servers divide
 *   the sum by the public total.
 *
 * Players: clients `client0..`, servers `server0..2` (Pond: `server0`,
 * `server1`, dealer `crypto-producer`), the output player named after the
 * target placement (`server` or `aggregators`). All run in this process on a
 * MemoryTransport unless a transport is given (SPMD code, see docs/encrypted.md).
 */
import type { NumericArray } from '../core/values.js';
import { ABY3 } from '../encrypted/protocols/aby3.js';
import type { ProtocolOptions } from '../encrypted/protocols/base.js';
import { Pond } from '../encrypted/protocols/pond.js';
import { decode, encode, fixedConfig, type Precision } from '../encrypted/fixed.js';
import { RingArena } from '../encrypted/arena.js';
import { Player } from '../encrypted/player.js';
import type { AdditiveTensor, ReplicatedTensor } from '../encrypted/tensor.js';
import { RingTensor } from '../ring/index.js';
import type { PlayerStats, Transport } from '../transport/channel.js';
import { MemoryTransport } from '../transport/memory.js';
import { minContributorsOption, requireMinContributors } from './policy.js';
import { AGGREGATION_URIS, type AggregateLeafValue, type AggregationProtocol, type AggregationRequest, type AggregationResult } from './protocol.js';

export type MpcProtocolName = 'aby3' | 'pond';

export interface MpcAggregationOptions {
  /** 'aby3' (default): three servers, replicated sharing; 'pond': two servers and a dealer. */
  protocol?: MpcProtocolName;
  /** Fixed-point precision of float sums and means: 'low' (default) or 'high'. Integer sums are exact either way. */
  precision?: Precision;
  /** Transport carrying every message; default: a fresh MemoryTransport per aggregation protocol object. */
  transport?: Transport;
  /** Compute servers (ABY3: 3; Pond: 2 servers then the crypto producer). Default server0..2 / server0, server1, crypto-producer. */
  servers?: readonly Player[];
  /**
   * The servers reveal no aggregate of fewer contributors (default 3): an
   * aggregation of fewer clients (for a weighted mean, fewer clients of weight
   * at least 1/100 of the largest) is refused with a PolicyError before anything is shared.
   */
  minContributors?: number;
  /**
   * Where a mean's public scale (1/n, or w_i / sum(w)) is applied:
   * 'owners' (default): each owner folds its own factor into its encoding, the
   * servers only add (error <= n * 2^-(f+1), no truncation, no extra messages);
   * 'servers': owners share w_i * x_i, the servers add and divide by the public
   * total (one truncation: relative error 2^-(f+1) plus 1.5 units, and
   * n * 2^-(f+1) / sum(w) from the encodings; see docs/encrypted.md).
   */
  meanScaling?: 'owners' | 'servers';
}

type MpcProto = ABY3 | Pond;
let mpcObjects = 0;
type Shared = ReplicatedTensor | AdditiveTensor;

function checkName(fn: string, protocol: unknown): MpcProtocolName {
  if (protocol === undefined) return 'aby3';
  if (protocol === 'aby3' || protocol === 'pond') return protocol;
  if (typeof protocol !== 'string') throw new TypeError(`${fn}: option 'protocol' must be 'aby3' or 'pond', got ${typeof protocol}`);
  throw new RangeError(`${fn}: option 'protocol' must be 'aby3' or 'pond', got ${JSON.stringify(protocol)}`);
}

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

/** Ring integers from a numeric array (exact for every dtype the runtime passes). */
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
  const cfg = { ...fixedConfig(bits === 64 ? 'low' : 'high'), frac: 0, bound: 2 ** 53, boundLog2: 53 };
  return encode(values as ArrayLike<number>, [n], cfg, 'mpcAggregation');
}

/**
 * Contributors of a weighted mean that hide one another: clients whose weight
 * is at least 1/100 of the largest (a client of weight 1e-12 beside one of
 * weight 1 leaves the mean equal to that one's value).
 */
function significant(weights: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < weights.length; i++) max = Math.max(max, weights[i]!);
  let n = 0;
  for (let i = 0; i < weights.length; i++) if (weights[i]! > 0 && weights[i]! >= max / 100) n++;
  return n;
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

function statsDelta(before: Record<string, PlayerStats>, after: Record<string, PlayerStats>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [p, s] of Object.entries(after)) {
    const d = s.bytesSent - (before[p]?.bytesSent ?? 0);
    if (d > 0) out[p] = d;
  }
  return out;
}

/**
 * The MPC aggregation protocol for the Federated Core: implements every
 * aggregation uri (secure sums, sums and (weighted) means at aggregators).
 */
export function mpcAggregation(options: MpcAggregationOptions = {}): AggregationProtocol & { readonly transport: Transport; lastBytesSent?: Record<string, number> } {
  const fn = 'mpcAggregation';
  if (options === null || typeof options !== 'object') throw new TypeError(`${fn}: argument 'options' must be an object, got ${options === null ? 'null' : typeof options}`);
  const kind = checkName(fn, options.protocol);
  const precision = fixedConfig(options.precision ?? 'low', fn).precision;
  const servers = checkServers(fn, kind, options.servers);
  const scaling = checkScaling(fn, options.meanScaling);
  const minContributors = minContributorsOption(fn, options.minContributors);
  const transport = options.transport ?? new MemoryTransport();
  // distinguishes rendezvous keys of several aggregation objects on one transport (same order in every process)
  const objectId = mpcObjects++;
  const self = {
    name: `mpc-${kind}`,
    secure: true,
    intrinsics: AGGREGATION_URIS,
    transport,
    lastBytesSent: undefined as Record<string, number> | undefined,
    async aggregate(req: AggregationRequest): Promise<AggregationResult> {
      // the servers' rule, checked before any client shares a value
      const contributors = req.weights ? significant(req.weights) : req.numClients;
      requireMinContributors('aggregators', req.weights ? 'clients of significant weight (at least 1/100 of the largest)' : 'clients', contributors, minContributors);
      const before = transport.stats();
      const clients = Array.from({ length: req.numClients }, (_, i) => new Player(`client${i}`));
      const target = new Player(req.target.uri);
      const baseId = `mpc${objectId}-${req.invocationId}`.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 56);
      const protos = new Map<string, MpcProto>();
      const proto = (p: Precision): MpcProto => {
        let x = protos.get(p);
        if (x === undefined) {
          x = makeProtocol(kind, servers, { precision: p, transport, id: `${baseId}-${p}`, players: [...clients, target] });
          protos.set(p, x);
        }
        return x;
      };
      const leaves: AggregateLeafValue[] = [];
      for (let j = 0; j < req.leaves.length; j++) {
        const leaf = req.leaves[j]!;
        const dt = leaf.type.dtype;
        const integer = dt === 'int32' || dt === 'int64' || dt === 'uint32' || dt === 'bool';
        const values = req.clientValues.map((c) => c[j]!);
        if (req.uri === 'federated_secure_sum' || req.uri === 'federated_secure_sum_at_aggregators' || (req.uri === 'federated_sum_at_aggregators' && integer)) {
          // exact: the largest |sum| must fit the signed ring
          const maxAbs = req.bound !== undefined ? req.bound : dt === 'int64' ? 1n << 63n : 1n << 32n;
          const total = maxAbs * BigInt(req.numClients);
          const p: Precision = total < 1n << 63n ? 'low' : 'high';
          if (total >= 1n << 127n) throw new RangeError(`${fn}: a sum of ${req.numClients} values below ${maxAbs} may exceed 2^127`);
          const pr = proto(p);
          const shares = await Promise.all(values.map((v, i) => pr.encryptInts(clients[i]!, toRingInts(v, pr.bits))));
          const sum = (pr as ABY3).addN(shares as ReplicatedTensor[]);
          const r = await (pr as ABY3).reveal(sum as ReplicatedTensor, target);
          const ints = r.readRing().toSignedBigInts();
          leaves.push(ints.every((v) => v >= INT64_MIN && v <= INT64_MAX) ? BigInt64Array.from(ints) : ints);
          continue;
        }
        const pr = proto(precision);
        const asFloats = (v: NumericArray): Float32Array | Float64Array => (v instanceof Float32Array || v instanceof Float64Array ? v : Float64Array.from(v as ArrayLike<number | bigint>, Number));
        let sum: Shared;
        if (req.uri === 'federated_sum_at_aggregators') {
          const shares = await Promise.all(values.map((v, i) => pr.encrypt(clients[i]!, asFloats(v)) as Promise<Shared>));
          sum = (pr as ABY3).addN(shares as ReplicatedTensor[]);
        } else {
          const w = req.uri === 'federated_weighted_mean_at_aggregators' ? Array.from(req.weights!) : values.map(() => 1);
          sum = await weightedMeanShared(pr, clients, values.map(asFloats), w, scaling);
        }
        const r = await (pr as ABY3).reveal(sum as ReplicatedTensor, target);
        leaves.push(r.read());
      }
      self.lastBytesSent = statsDelta(before, transport.stats());
      return { leaves };
    },
    async close(): Promise<void> {
      if (options.transport === undefined) await transport.close();
    },
  };
  return self;
}

function checkScaling(fn: string, s: unknown): 'owners' | 'servers' {
  if (s === undefined || s === 'owners' || s === 'servers') return s ?? 'owners';
  throw new RangeError(`${fn}: option 'meanScaling' must be 'owners' or 'servers', got ${JSON.stringify(s)}`);
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

export interface SecureMeanOptions extends MpcAggregationOptions {
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
  const kind = checkName(fn, options.protocol);
  const precision = fixedConfig(options.precision ?? 'low', fn).precision;
  const servers = checkServers(fn, kind, options.servers);
  const scaling = checkScaling(fn, options.meanScaling);
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
