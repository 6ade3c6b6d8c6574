/**
 * Paillier secure aggregation through an aggregation service, simulated in
 * one process: `PaillierAggregation` is the core's `AggregationProtocol` that
 * runs the roles of `paillier-roles.ts` (SERVER holds the key and routes,
 * AGGREGATORS = the aggregation service adds, CLIENTS encrypt) with
 * `simulateRoles`: every party on its own transport view of a fresh
 * MemoryHub, each client with only its own value. There is no other copy of
 * the protocol: deployed, the same roles run in separate processes
 * (`paillierRoles` with each process's own identity, the pinned keys of the
 * others, and the server's key pair only where the server runs).
 *
 * The simulated parties are 'server', 'aggregator' and 'client-<i>'; this
 * object holds every party's X25519 identity and the server's key pair (so it
 * can simulate them all); `identityOf`, `serverPrivateKey` and `pinnedKeys`
 * expose them for tests.
 */
import { generateIdentity, type CipherSuite, type Identity, type PinnedKeys } from '../crypto/secure-channel.js';
import type { PaillierKeyPair, PaillierPrivateKey, PaillierPublicKey } from '../paillier/keys.js';
import type { PaillierWorkerPool } from '../paillier/pool.js';
import { minContributorsOption } from './policy.js';
import { checkPlan, type AggregationPlan } from './plan.js';
import type { AggregationProtocol, AggregationRequest, AggregationResult } from './protocol.js';
import type { ClientInput, RolePolicy } from './roles.js';
import { planForRequest, simulateRoles, type SimulationResult } from './simulate.js';
import { createPaillierRoles, URIS, type PaillierRoles } from './paillier-roles.js';
import type { ObservedMessage, PaillierReport, RelayEvent } from './paillier-stages.js';

export {
  PAILLIER_CHANNEL_GRID,
  channelFor,
  MisroutedMessageError,
  STAGES,
  StageMachine,
  stagesOf,
  type ChannelGridEntry,
  type ChannelKind,
  type ObservedMessage,
  type PaillierReport,
  type RelayEvent,
  type Stage,
} from './paillier-stages.js';
export { paillierRoles, paillierBoxAd, type PaillierRoles, type PaillierRolesOptions, type PaillierParams } from './paillier-roles.js';

export interface PaillierAggregationOptions {
  /** Declared maximum number of clients (sets the packing headroom; the simulated clients are client-0 .. client-<numClients - 1>). */
  numClients: number;
  /** Paillier modulus bits (default 2048; 512/1024 only for tests). */
  keyBits?: number;
  /** Fixed-point fractional bits for floats (default 32). */
  fracBits?: number;
  /** Bits of a fixed-point slot value (default 96): |x| < 2^(floatBits - 1 - fracBits). */
  floatBits?: number;
  /** Bits of the DJN noise exponent in the server's key (default ceil(keyBits/2); at least 256 = 2λ, the generic-attack floor, see docs/paillier.md). */
  noiseBits?: number;
  /**
   * Minimum number of valid contributions an aggregate must have (default 3),
   * the policy of every simulated party. Every party refuses a run with fewer
   * clients before it sends anything; the aggregator refuses to release a sum
   * of fewer valid contributions whatever `onInvalid` says (PolicyError, rule
   * 'minContributors'): SERVER gets a refusal without ciphertexts and nothing
   * is decrypted.
   */
  minContributors?: number;
  /** SHA-256 fingerprint of the server's Paillier public key (publicKeyFingerprint): clients and the aggregator refuse any other key before encrypting or adding. */
  keyFingerprint?: string;
  /** The server's Paillier key pair (e.g. loaded from its key file; default: generated on first use). */
  serverKeys?: PaillierKeyPair;
  /** 'throw' (default): a bad client message fails the aggregation with its typed error; 'drop': aggregate the honest rest. */
  onInvalid?: 'throw' | 'drop';
  /** Worker threads: a pool, true (the shared pool), false (main thread), or 'auto' (default: pool for >= 16 ciphertexts). */
  workers?: PaillierWorkerPool | boolean | 'auto';
  /** X25519 identities by party name (default: fresh ones). */
  identities?: ReadonlyMap<string, Identity>;
  /** Pinned public keys by party name (default: from `identities`); never taken from the router. */
  pinnedKeys?: PinnedKeys;
  suite?: CipherSuite;
  /** The router's treatment of each relayed box (default: forward unchanged). Models a malicious server in tests. */
  relay?: (e: RelayEvent) => Uint8Array;
  /** Sees every message a simulated party sends (tests: what each party receives). */
  observe?: (m: ObservedMessage) => void;
  /** Receive deadline of every simulated party, ms (default: simulateRoles'). */
  timeoutMs?: number;
}

export const SERVER_NAME = 'server';
export const AGGREGATOR_NAME = 'aggregator';
export const clientName = (i: number) => `client-${i}`;

export class PaillierAggregation implements AggregationProtocol {
  readonly name = 'paillier';
  readonly secure = true;
  readonly intrinsics = URIS;
  readonly numClients: number;
  readonly keyBits: number;
  readonly fracBits: number;
  /** Minimum number of valid contributions an aggregate must have (every simulated party's policy). */
  readonly minContributors: number;
  /** The roles this object simulates. */
  readonly roles: PaillierRoles;
  /** Bytes each party sent in the last aggregation. */
  lastBytesSent: Readonly<Record<string, number>> | undefined;
  readonly #policy: RolePolicy;
  readonly #timeoutMs: number | undefined;
  #counter = 0;

  constructor(options: PaillierAggregationOptions) {
    const fn = 'paillierAggregation';
    if (typeof options !== 'object' || options === null) throw new TypeError(`${fn}: "options" expected object, got ${options === null ? 'null' : typeof options}`);
    const nc = options.numClients;
    if (typeof nc !== 'number' || !Number.isInteger(nc)) throw new TypeError(`${fn}: "numClients" expected integer in [1, 100000], got ${String(nc)}`);
    if (nc < 1 || nc > 100_000) throw new RangeError(`${fn}: "numClients" expected integer in [1, 100000], got ${nc}`);
    this.minContributors = minContributorsOption(fn, options.minContributors);
    if (options.timeoutMs !== undefined && (!Number.isInteger(options.timeoutMs) || options.timeoutMs < 1)) throw new RangeError(`${fn}: "timeoutMs" expected integer >= 1, got ${String(options.timeoutMs)}`);
    const names = [SERVER_NAME, AGGREGATOR_NAME, ...Array.from({ length: nc }, (_, i) => clientName(i))];
    const ids = new Map(options.identities ?? []);
    for (const n of names) if (!ids.has(n)) ids.set(n, generateIdentity());
    const { numClients: _n, minContributors: _m, timeoutMs: _t, ...rest } = options;
    this.roles = createPaillierRoles({ ...rest, maxClients: nc, identities: ids }, fn);
    this.numClients = nc;
    this.keyBits = this.roles.params.keyBits;
    this.fracBits = this.roles.params.fracBits;
    this.#policy = Object.freeze({ minContributors: this.minContributors, allowInsecure: false });
    this.#timeoutMs = options.timeoutMs;
  }

  /** Report of the last aggregation (rejected clients, refusal, sizes). */
  get lastReport(): PaillierReport | undefined {
    return this.roles.lastReport;
  }

  /** Public half of the identities (what a deployment would put in configuration). */
  get pinnedKeys(): PinnedKeys {
    return this.roles.pinnedKeys;
  }

  /** The server's Paillier public key (generating the key pair on first use). */
  get publicKey(): PaillierPublicKey {
    return this.roles.serverKeyPair().publicKey;
  }

  /** The SERVER party's Paillier private key (this object simulates every party; the aggregator role never reads it). */
  serverPrivateKey(): PaillierPrivateKey {
    return this.roles.serverKeyPair().privateKey;
  }

  /** Test/ops access to a party's identity (a deployment keeps each in its own process). */
  identityOf(name: string): Identity | undefined {
    return this.roles.identityOf(name);
  }

  /** The plan of a runtime request (simulated party names; the invocation id made unique per object). */
  planFor(req: AggregationRequest): AggregationPlan {
    const plan = planForRequest(this.roles, req, { server: SERVER_NAME, client: clientName });
    return checkPlan({ ...plan, invocationId: `${plan.invocationId}#${++this.#counter}` });
  }

  async aggregate(req: AggregationRequest): Promise<AggregationResult> {
    const inputs: ClientInput[] = req.clientValues.map((values, i) => (req.weights ? { values, weight: req.weights[i]! } : { values }));
    return (await this.simulate(this.planFor(req), inputs)).result;
  }

  /** Run every role of `plan` in this process (simulateRoles), each client with its own input. */
  async simulate(plan: AggregationPlan, inputs: readonly ClientInput[]): Promise<SimulationResult> {
    const r = await simulateRoles(this.roles, plan, inputs, { policy: this.#policy, ...(this.#timeoutMs === undefined ? {} : { timeoutMs: this.#timeoutMs }) });
    this.lastBytesSent = r.bytesSent;
    return r;
  }

  /** Nothing to release: every simulation uses its own hub; a worker pool given in the options stays its owner's. */
  async close(): Promise<void> {}
}

export function paillierAggregation(options: PaillierAggregationOptions): PaillierAggregation {
  return new PaillierAggregation(options);
}

// the learning layer's fast path (paillierSecureMean, secureMean) lives in paillier-mean.ts
export { paillierSecureMean, secureMean, type PaillierSecureMeanOptions, type PaillierSecureMeanResult } from './paillier-mean.js';
