/**
 * Paillier secure aggregation through an aggregation service (the
 * federated-aggregations seed, with packing and authenticated channels).
 *
 * Parties: SERVER ('server', holds the Paillier key pair and routes all
 * traffic, as the TFF driver does), AGGREGATORS ('aggregator', adds
 * ciphertexts, never holds a decryption key), CLIENTS ('client-0', ...).
 *
 * Stages of one aggregation (invocation id `inv`):
 *   0 KEYS      SERVER generates the key pair (once per protocol instance)
 *   1 PUBLISH   SERVER -> each client and the aggregator: the public key, in a
 *               sealed box authenticated by the server's pinned X25519 key
 *   2 SUBMIT    each client encodes (offset / fixed point), packs, encrypts,
 *               seals the encrypted vector to the aggregator's pinned key
 *               (associated data = inv) and hands the box to SERVER
 *   3 RELAY     SERVER forwards every box to the aggregator unchanged (it can
 *               neither read nor forge them; the `relay` hook models a
 *               malicious router in tests)
 *   4 AGGREGATE the aggregator opens each box against the pinned client keys
 *               (UnknownPeerError, ChannelAuthError, ReplayError,
 *               WrongContextError, a box in another client's slot:
 *               MisroutedMessageError), checks every ciphertext and the
 *               contribution count, adds in a balanced tree, re-randomizes
 *               once, and seals the aggregate to SERVER, or, when it
 *               refuses, a refusal that carries no ciphertext
 *   5 DECRYPT   SERVER opens it, decrypts (CRT, worker threads), unpacks and
 *               removes offsets / fixed-point scaling.
 * A bad message is rejected before any of its ciphertexts is multiplied in:
 * with onInvalid 'throw' (default) the aggregation fails with the typed
 * error; with 'drop' the aggregate of the honest rest is returned and the
 * rejected clients are listed in `lastReport`. Whatever `onInvalid` says, the
 * aggregator never releases an aggregate of fewer than `minContributors`
 * (default 3) valid contributions (PolicyError, rule 'minContributors'), and
 * every party refuses a run with fewer clients than that before it sends a
 * byte. Clients and the aggregator accept only a public key whose noise base
 * is the one derived from n and whose noiseBits is at least 256, and, when
 * `keyFingerprint` is set, only the pinned key (UntrustedKeyError).
 *
 * Encodings: secure sums pack the values as they are (unsigned, bitwidth of
 * the declared bound). Integer sums/means use signed offset encoding (33 bits
 * for int32/uint32, 64 for int64). Floats use fixed point with scale
 * 2^fracBits (default 32) in 96-bit signed slots (|x| < 2^(94 - fracBits));
 * weighted means encode (w_i / W)·x_i with the total weight W treated as
 * public, as the MPC secureMean does.
 */
import { MemoryTransport } from '../transport/memory.js';
import type { Transport } from '../transport/channel.js';
import {
  generateIdentity,
  SealedBoxReceiver,
  SealedBoxSender,
  SecureChannelError,
  type CipherSuite,
  type Identity,
  type PinnedKeys,
} from '../crypto/secure-channel.js';
import {
  checkKeyFingerprint,
  expectFingerprint,
  generateKeyPair,
  MIN_NOISE_BITS,
  PaillierPrivateKey,
  publicKeyFromBytes,
  publicKeyToBytes,
  type PaillierKeyPair,
  type PaillierPublicKey,
} from '../paillier/keys.js';
import { PaillierPacking, type IntegerVector } from '../paillier/packing.js';
import {
  addVectors,
  decryptVector,
  encryptedVectorFromBytes,
  encryptedVectorToBytes,
  encryptVector,
  rerandomizeVector,
  type EncryptedVector,
} from '../paillier/vector.js';
import { PaillierWorkerPool, sharedPaillierPool } from '../paillier/pool.js';
import { TooManyClientsError, UntrustedKeyError } from '../paillier/errors.js';
import { minContributorsOption, PolicyError, requireMinContributors, type RejectedContribution } from './policy.js';
import { aggregatorMessageFromBytes, aggregatorMessageToBytes } from './paillier-wire.js';
import type { AggregationProtocol, AggregationRequest, AggregationResult, AggregationUri } from './protocol.js';
import { planFor } from './paillier-plan.js';

// ---------------------------------------------------------------- channel grid

export type ChannelKind = 'sealed-box' | 'sealed-box-relayed' | 'none';

export interface ChannelGridEntry {
  readonly from: 'SERVER' | 'CLIENTS' | 'AGGREGATORS';
  readonly to: 'SERVER' | 'CLIENTS' | 'AGGREGATORS';
  readonly kind: ChannelKind;
  /** The party that carries the bytes when they are relayed. */
  readonly via?: 'SERVER';
  readonly carries: string;
}

/** Which pair of placements talks over which kind of channel (as data). */
export const PAILLIER_CHANNEL_GRID: readonly ChannelGridEntry[] = Object.freeze([
  { from: 'SERVER', to: 'CLIENTS', kind: 'sealed-box', carries: 'Paillier public key (authenticated by the server key)' },
  { from: 'SERVER', to: 'AGGREGATORS', kind: 'sealed-box', carries: 'Paillier public key (authenticated by the server key)' },
  { from: 'CLIENTS', to: 'AGGREGATORS', kind: 'sealed-box-relayed', via: 'SERVER', carries: 'packed Paillier ciphertexts, end-to-end encrypted and authenticated' },
  { from: 'AGGREGATORS', to: 'SERVER', kind: 'sealed-box', carries: 'aggregate ciphertexts (re-randomized) and the rejected clients, or a refusal without ciphertexts' },
  { from: 'CLIENTS', to: 'CLIENTS', kind: 'none', carries: 'nothing' },
  { from: 'AGGREGATORS', to: 'CLIENTS', kind: 'none', carries: 'nothing' },
  { from: 'CLIENTS', to: 'SERVER', kind: 'none', carries: 'nothing of its own (only relays boxes for AGGREGATORS)' },
].map((e) => Object.freeze(e)) as ChannelGridEntry[]);

export function channelFor(from: ChannelGridEntry['from'], to: ChannelGridEntry['to']): ChannelGridEntry {
  const e = PAILLIER_CHANNEL_GRID.find((x) => x.from === from && x.to === to);
  if (!e) throw new RangeError(`channelFor: no channel from ${from} to ${to}`);
  return e;
}

// ---------------------------------------------------------------- errors, stages

/** An authentic box that arrived in another client's slot (a router swapping or duplicating messages). */
export class MisroutedMessageError extends SecureChannelError {}

export const STAGES = ['KEYS', 'PUBLISH', 'SUBMIT', 'RELAY', 'AGGREGATE', 'DECRYPT', 'DONE'] as const;
export type Stage = (typeof STAGES)[number];

/** Stage machine of one aggregation; advancing out of order throws. */
export class StageMachine {
  #i = 0;
  get stage(): Stage {
    return STAGES[this.#i]!;
  }
  advance(to: Stage): void {
    const j = STAGES.indexOf(to);
    if (j !== this.#i + 1) throw new Error(`paillier protocol: invalid stage transition ${this.stage} -> ${to}`);
    this.#i = j;
  }
}

// ---------------------------------------------------------------- options

export interface RelayEvent {
  readonly invocationId: string;
  /** Slot (client index) the box is relayed for. */
  readonly client: number;
  readonly box: Uint8Array;
}

export interface ObservedMessage {
  readonly from: string;
  readonly to: string;
  readonly key: string;
  readonly payload: Uint8Array;
}

export interface PaillierAggregationOptions {
  /** Declared maximum number of clients (sets the packing headroom). */
  numClients: number;
  /** Paillier modulus bits (default 2048; 512/1024 only for tests). */
  keyBits?: number;
  /** Fixed-point fractional bits for floats (default 32). */
  fracBits?: number;
  /** Bits of the DJN noise exponent in the server's key (default ceil(keyBits/2); at least 256 = 2λ, the generic-attack floor, see docs/paillier.md). */
  noiseBits?: number;
  /**
   * Minimum number of valid contributions an aggregate must have (default 3).
   * Every party refuses a run with fewer clients before it sends anything; the
   * aggregator refuses to release a sum of fewer valid contributions whatever
   * `onInvalid` says (PolicyError, rule 'minContributors'): SERVER gets a
   * refusal without ciphertexts and nothing is decrypted.
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
  /** Transport for all messages (default: a private in-memory transport). */
  transport?: Transport;
  /** X25519 identities by party name (default: fresh ones). */
  identities?: ReadonlyMap<string, Identity>;
  /** Pinned public keys by party name (default: from `identities`); never taken from the router. */
  pinnedKeys?: PinnedKeys;
  suite?: CipherSuite;
  /** The router's treatment of each relayed box (default: forward unchanged). Models a malicious server in tests. */
  relay?: (e: RelayEvent) => Uint8Array;
  /** Sees every message put on the transport (tests: what each party receives). */
  observe?: (m: ObservedMessage) => void;
}

export interface PaillierReport {
  invocationId: string;
  /** Contributions in the decrypted aggregate (0 when refused: nothing was decrypted). */
  contributions: number;
  /** Clients left out and why; `error` is the typed error where the aggregator ran in this process. */
  rejected: { client: number; reason: string; error?: Error }[];
  /** Set when the aggregator refused to release the aggregate. */
  refused?: { rule: string; count: number; minimum: number };
  ciphertextsPerClient: number;
  bytesPerClient: number;
}

const reasonOf = (e: unknown): string => {
  const s = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return s.length > 300 ? s.slice(0, 300) + '…' : s;
};

export const SERVER_NAME = 'server';
export const AGGREGATOR_NAME = 'aggregator';
export const clientName = (i: number) => `client-${i}`;
const CONTEXT = 'fedcrypt/aggregation/paillier/v1';

const URIS: readonly AggregationUri[] = Object.freeze([
  'federated_secure_sum',
  'federated_secure_sum_at_aggregators',
  'federated_sum_at_aggregators',
  'federated_mean_at_aggregators',
  'federated_weighted_mean_at_aggregators',
]);

// ---------------------------------------------------------------- the protocol

export class PaillierAggregation implements AggregationProtocol {
  readonly name = 'paillier';
  readonly secure = true;
  readonly intrinsics = URIS;
  readonly numClients: number;
  readonly keyBits: number;
  readonly fracBits: number;
  readonly transport: Transport;
  /** Minimum number of valid contributions an aggregate must have. */
  readonly minContributors: number;
  /** Report of the last aggregation (rejected clients, refusal, sizes). */
  lastReport: PaillierReport | undefined;

  readonly #opts: PaillierAggregationOptions;
  readonly #identities: ReadonlyMap<string, Identity>;
  readonly #pinned: PinnedKeys;
  #keys: PaillierKeyPair | undefined;
  // long-lived channel endpoints (sequence numbers and replay windows persist across aggregations)
  readonly #clientSenders: SealedBoxSender[] = [];
  readonly #clientReceivers: SealedBoxReceiver[] = [];
  readonly #serverSender: SealedBoxSender;
  readonly #serverReceiver: SealedBoxReceiver;
  readonly #aggSender: SealedBoxSender;
  readonly #aggReceiver: SealedBoxReceiver;
  #counter = 0;

  constructor(options: PaillierAggregationOptions) {
    const fn = 'paillierAggregation';
    if (typeof options !== 'object' || options === null) throw new TypeError(`${fn}: "options" expected object, got ${options === null ? 'null' : typeof options}`);
    const nc = options.numClients;
    if (typeof nc !== 'number' || !Number.isInteger(nc)) throw new TypeError(`${fn}: "numClients" expected integer in [1, 100000], got ${String(nc)}`);
    if (nc < 1 || nc > 100_000) throw new RangeError(`${fn}: "numClients" expected integer in [1, 100000], got ${nc}`);
    const kb = options.keyBits ?? 2048;
    if (typeof kb !== 'number' || !Number.isInteger(kb)) throw new TypeError(`${fn}: "keyBits" expected even integer in [256, 8192], got ${String(kb)}`);
    if (kb < 256 || kb > 8192 || kb % 2 !== 0) throw new RangeError(`${fn}: "keyBits" expected even integer in [256, 8192], got ${kb}`);
    const fb = options.fracBits ?? 32;
    if (!Number.isInteger(fb) || fb < 0 || fb > 60) throw new RangeError(`${fn}: "fracBits" expected integer in [0, 60], got ${String(fb)}`);
    if (options.onInvalid !== undefined && options.onInvalid !== 'throw' && options.onInvalid !== 'drop') {
      throw new RangeError(`${fn}: "onInvalid" expected 'throw' or 'drop', got ${String(options.onInvalid)}`);
    }
    if (options.noiseBits !== undefined && (!Number.isInteger(options.noiseBits) || options.noiseBits < MIN_NOISE_BITS || options.noiseBits > 2 * kb)) {
      throw new RangeError(`${fn}: "noiseBits" expected integer in [${MIN_NOISE_BITS}, ${2 * kb}], got ${String(options.noiseBits)}`);
    }
    this.minContributors = minContributorsOption(fn, options.minContributors);
    if (options.keyFingerprint !== undefined) expectFingerprint(fn, 'keyFingerprint', options.keyFingerprint);
    if (options.serverKeys !== undefined) {
      const sk = options.serverKeys as Partial<PaillierKeyPair> | null;
      if (typeof sk !== 'object' || sk === null || !(sk.privateKey instanceof PaillierPrivateKey) || sk.publicKey !== sk.privateKey.publicKey) {
        throw new TypeError(`${fn}: "serverKeys" expected a PaillierKeyPair`);
      }
      if (sk.publicKey.bits !== kb) throw new RangeError(`${fn}: "serverKeys" is a ${sk.publicKey.bits}-bit key, "keyBits" says ${kb}`);
    }
    this.numClients = nc;
    this.keyBits = kb;
    this.fracBits = fb;
    this.#opts = options;
    this.transport = options.transport ?? new MemoryTransport();
    const names = [SERVER_NAME, AGGREGATOR_NAME, ...Array.from({ length: nc }, (_, i) => clientName(i))];
    const ids = new Map(options.identities ?? []);
    for (const n of names) if (!ids.has(n)) ids.set(n, generateIdentity());
    this.#identities = ids;
    this.#pinned = options.pinnedKeys ?? new Map(names.map((n) => [n, ids.get(n)!.publicKey]));
    const pin = (ns: string[]) => new Map(ns.filter((n) => this.#pinned.has(n)).map((n) => [n, this.#pinned.get(n)!]));
    const self = (n: string) => ({ name: n, identity: ids.get(n)! });
    const suite = options.suite;
    const clientNames = names.slice(2);
    for (const c of clientNames) {
      this.#clientSenders.push(new SealedBoxSender({ self: self(c), recipients: pin([AGGREGATOR_NAME]), context: CONTEXT, suite }));
      this.#clientReceivers.push(new SealedBoxReceiver({ self: self(c), senders: pin([SERVER_NAME]), context: CONTEXT, suite }));
    }
    this.#serverSender = new SealedBoxSender({ self: self(SERVER_NAME), recipients: pin([AGGREGATOR_NAME, ...clientNames]), context: CONTEXT, suite });
    this.#serverReceiver = new SealedBoxReceiver({ self: self(SERVER_NAME), senders: pin([AGGREGATOR_NAME]), context: CONTEXT, suite });
    this.#aggSender = new SealedBoxSender({ self: self(AGGREGATOR_NAME), recipients: pin([SERVER_NAME]), context: CONTEXT, suite });
    this.#aggReceiver = new SealedBoxReceiver({ self: self(AGGREGATOR_NAME), senders: pin([SERVER_NAME, ...clientNames]), context: CONTEXT, suite });
  }

  /** Public half of the identities (what a deployment would put in configuration). */
  get pinnedKeys(): PinnedKeys {
    return this.#pinned;
  }

  /** The server's Paillier public key (generating the key pair on first use). */
  get publicKey(): PaillierPublicKey {
    return this.#serverKeys().publicKey;
  }

  #serverKeys(): PaillierKeyPair {
    return (this.#keys ??= this.#opts.serverKeys ?? generateKeyPair(this.keyBits, this.#opts.noiseBits === undefined ? {} : { noiseBits: this.#opts.noiseBits }));
  }

  /**
   * What a client or the aggregator checks on the key SERVER published, before
   * it encrypts or adds anything: the key parses under the checks of
   * PaillierPublicKey (noise base derived from n, noiseBits >= 256, no
   * trivially weak n: UntrustedKeyError), has the configured size, and is the
   * pinned one when `keyFingerprint` is set.
   */
  #acceptKey(party: string, bytes: Uint8Array): PaillierPublicKey {
    let pk: PaillierPublicKey;
    try {
      pk = publicKeyFromBytes(bytes);
    } catch (e) {
      if (e instanceof UntrustedKeyError) throw new UntrustedKeyError(e.field, `${party}: ${e.message}`);
      throw e;
    }
    if (pk.bits !== this.keyBits) throw new RangeError(`${party}: server published a ${pk.bits}-bit key, configuration says ${this.keyBits}`);
    if (this.#opts.keyFingerprint !== undefined) checkKeyFingerprint(party, pk, this.#opts.keyFingerprint);
    return pk;
  }

  #pool(ciphertexts: number): PaillierWorkerPool | null {
    const w = this.#opts.workers ?? 'auto';
    if (w instanceof PaillierWorkerPool) return w;
    if (w === true || (w === 'auto' && ciphertexts >= 16)) return sharedPaillierPool();
    return null;
  }

  async #send(from: string, to: string, key: string, payload: Uint8Array): Promise<void> {
    this.#opts.observe?.({ from, to, key, payload });
    await this.transport.send(from, to, key, payload);
  }

  async aggregate(req: AggregationRequest): Promise<AggregationResult> {
    if (!URIS.includes(req.uri)) throw new RangeError(`paillier aggregation: intrinsic ${req.uri} is not implemented`);
    if (req.numClients > this.numClients) {
      throw new TooManyClientsError(`paillier aggregation: ${req.numClients} clients exceed the declared numClients = ${this.numClients} (packing headroom)`);
    }
    const plan = planFor(req, this.keyBits, this.numClients, this.fracBits);
    const clients = Array.from({ length: req.numClients }, (_, c) => () => plan.encode(c));
    const { sums, contributions } = await this.run(req.invocationId, plan.packing, plan.length, clients);
    return { leaves: plan.decode(sums, contributions) };
  }

  /**
   * One run of the protocol over already-encoded client vectors (each a
   * function so encoding happens "at the client"). Resolves with the exact
   * packed sums and the number of contributions that made it in.
   */
  async run(invocationId: string, packing: PaillierPacking, length: number, clients: readonly (() => IntegerVector)[]): Promise<{ sums: bigint[]; contributions: number }> {
    const inv = `${invocationId}#${++this.#counter}`;
    const k = clients.length;
    if (k > this.numClients) throw new TooManyClientsError(`paillier aggregation: ${k} clients exceed the declared numClients = ${this.numClients}`);
    packing.checkContributions('paillier aggregation', k);
    // every party refuses a run below the minimum before it sends a byte
    requireMinContributors('paillier aggregation', 'clients', k, this.minContributors);
    const sm = new StageMachine();
    const t = this.transport;
    // SPMD: each role's steps run where the transport says the role is local
    // (all of them in the in-memory simulation; one per process over a network).
    const serverLocal = t.isLocal(SERVER_NAME);
    const aggLocal = t.isLocal(AGGREGATOR_NAME);
    const pool = this.#pool(packing.ciphertextsFor(length) * k);
    const onInvalid = this.#opts.onInvalid ?? 'throw';
    const rejected: PaillierReport['rejected'] = [];
    let bytesPerClient = 0;
    const report = (contributions: number, refused?: PaillierReport['refused']): void => {
      this.lastReport = { invocationId: inv, contributions, rejected, ...(refused ? { refused } : {}), ciphertextsPerClient: packing.ciphertextsFor(length), bytesPerClient };
    };

    // 0 KEYS, 1 PUBLISH (SERVER)
    sm.advance('PUBLISH');
    if (serverLocal) {
      const pkBytes = publicKeyToBytes(this.#serverKeys().publicKey);
      await Promise.all([
        ...clients.map((_, i) => this.#send(SERVER_NAME, clientName(i), `${inv}/pk`, this.#serverSender.seal(clientName(i), pkBytes, inv))),
        this.#send(SERVER_NAME, AGGREGATOR_NAME, `${inv}/pk`, this.#serverSender.seal(AGGREGATOR_NAME, pkBytes, inv)),
      ]);
    }

    // 2 SUBMIT (each client)
    sm.advance('SUBMIT');
    const submit = async (i: number): Promise<void> => {
      const name = clientName(i);
      if (!t.isLocal(name)) return;
      const box = await t.receive(name, SERVER_NAME, `${inv}/pk`);
      const pk = this.#acceptKey(name, this.#clientReceivers[i]!.open(box, inv).plaintext);
      const values = clients[i]!();
      if (values.length !== length) throw new RangeError(`${name}: encoded ${values.length} values, expected ${length}`);
      const enc: EncryptedVector = pool ? await pool.encryptVector(pk, packing, values) : encryptVector(pk, packing, values);
      const bytes = encryptedVectorToBytes(pk, enc);
      bytesPerClient = bytes.length;
      await this.#send(name, SERVER_NAME, `${inv}/up/${i}`, this.#clientSenders[i]!.seal(AGGREGATOR_NAME, bytes, inv));
    };
    // clients encrypt one after another when a pool is used (the pool already uses every core)
    if (pool) for (let i = 0; i < k; i++) await submit(i);
    else await Promise.all(clients.map((_, i) => submit(i)));

    // 3 RELAY (SERVER, the router)
    sm.advance('RELAY');
    if (serverLocal) {
      await Promise.all(
        clients.map(async (_, i) => {
          const box = await t.receive(SERVER_NAME, clientName(i), `${inv}/up/${i}`);
          const out = this.#opts.relay ? this.#opts.relay({ invocationId: inv, client: i, box }) : box;
          await this.#send(SERVER_NAME, AGGREGATOR_NAME, `${inv}/relay/${i}`, out);
        }),
      );
    }

    // 4 AGGREGATE (aggregator; it only ever holds the public key)
    sm.advance('AGGREGATE');
    if (aggLocal) {
      const pkBox = await t.receive(AGGREGATOR_NAME, SERVER_NAME, `${inv}/pk`);
      const pk = this.#acceptKey(AGGREGATOR_NAME, this.#aggReceiver.open(pkBox, inv).plaintext);
      const accepted: EncryptedVector[] = [];
      for (let i = 0; i < k; i++) {
        const box = await t.receive(AGGREGATOR_NAME, SERVER_NAME, `${inv}/relay/${i}`);
        try {
          const opened = this.#aggReceiver.open(box, inv);
          if (opened.sender !== clientName(i)) {
            throw new MisroutedMessageError(`aggregator: slot of ${clientName(i)} holds a box from "${opened.sender}"`, opened.sender);
          }
          const v = encryptedVectorFromBytes(pk, packing, opened.plaintext);
          if (v.length !== length || v.contributions !== 1) throw new RangeError(`aggregator: ${clientName(i)} sent ${v.length} values / ${v.contributions} contributions, expected ${length} / 1`);
          // full unit check of this client's ciphertexts before it is mixed in
          addVectors(pk, packing, [v]);
          accepted.push(v);
        } catch (e) {
          rejected.push({ client: i, reason: reasonOf(e), error: e as Error });
        }
      }
      const wire = (): RejectedContribution[] => rejected.map(({ client, reason }) => ({ client, reason }));
      // the aggregator protects the clients: it releases no aggregate below the
      // minimum (whatever onInvalid says), and none at all with onInvalid 'throw'
      // and a rejected client. SERVER then gets a refusal without ciphertexts.
      const refusal =
        onInvalid === 'throw' && rejected.length > 0
          ? { rule: 'onInvalid', count: accepted.length, minimum: k }
          : accepted.length < this.minContributors
            ? { rule: 'minContributors', count: accepted.length, minimum: this.minContributors }
            : undefined;
      if (refusal) {
        const msg = aggregatorMessageToBytes({ kind: 'refused', ...refusal, rejected: wire() });
        await this.#send(AGGREGATOR_NAME, SERVER_NAME, `${inv}/agg`, this.#aggSender.seal(SERVER_NAME, msg, inv));
        report(0, refusal);
        if (refusal.rule === 'onInvalid') throw rejected[0]!.error;
        throw new PolicyError(refusal.rule, `${refusal.count} valid contributions, fewer than the minimum of ${refusal.minimum}; no aggregate was released`, { ...refusal, party: AGGREGATOR_NAME, rejected: wire() });
      }
      const sum = addVectors(pk, packing, accepted);
      const fresh = pool ? await pool.rerandomizeVector(pk, sum) : rerandomizeVector(pk, sum);
      const msg = aggregatorMessageToBytes({ kind: 'aggregate', rejected: wire(), vector: encryptedVectorToBytes(pk, fresh) });
      await this.#send(AGGREGATOR_NAME, SERVER_NAME, `${inv}/agg`, this.#aggSender.seal(SERVER_NAME, msg, inv));
    }

    // 5 DECRYPT (SERVER)
    sm.advance('DECRYPT');
    if (!serverLocal) {
      sm.advance('DONE');
      return { sums: [], contributions: 0 };
    }
    const { publicKey, privateKey } = this.#serverKeys();
    const box = await t.receive(SERVER_NAME, AGGREGATOR_NAME, `${inv}/agg`);
    const m = aggregatorMessageFromBytes(this.#serverReceiver.open(box, inv).plaintext);
    // where the aggregator ran elsewhere, its list of rejected clients is the report's
    if (!aggLocal) rejected.push(...m.rejected.map((r) => ({ ...r })));
    if (m.kind === 'refused') {
      const refused = { rule: m.rule, count: m.count, minimum: m.minimum };
      report(0, refused);
      throw new PolicyError(refused.rule, `${m.count} valid contributions, minimum ${m.minimum}; no aggregate was released`, { ...refused, party: AGGREGATOR_NAME, rejected: m.rejected });
    }
    const agg = encryptedVectorFromBytes(publicKey, packing, m.vector);
    if (agg.length !== length) throw new RangeError(`server: aggregate has ${agg.length} values, expected ${length}`);
    requireMinContributors(SERVER_NAME, 'contributions in the aggregate', agg.contributions, this.minContributors, m.rejected);
    const sums = pool ? await pool.decryptVector(privateKey, packing, agg) : decryptVector(privateKey, packing, agg);
    sm.advance('DONE');
    report(agg.contributions);
    return { sums, contributions: agg.contributions };
  }

  /** The SERVER party's Paillier private key (this object simulates every party in one process; the aggregator role never reads it). */
  serverPrivateKey(): PaillierPrivateKey {
    return this.#serverKeys().privateKey;
  }

  /** Test/ops access to a party's identity (a deployment keeps each in its own process). */
  identityOf(name: string): Identity | undefined {
    return this.#identities.get(name);
  }

  async close(): Promise<void> {
    if (!this.#opts.transport) await this.transport.close();
  }
}

export function paillierAggregation(options: PaillierAggregationOptions): PaillierAggregation {
  return new PaillierAggregation(options);
}

// the learning layer's fast path (paillierSecureMean, secureMean) lives in paillier-mean.ts
export { paillierSecureMean, secureMean, type PaillierSecureMeanOptions, type PaillierSecureMeanResult } from './paillier-mean.js';
