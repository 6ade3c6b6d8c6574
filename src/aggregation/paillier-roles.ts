/**
 * Paillier secure aggregation through an aggregation service, as per-party
 * roles (the federated-aggregations seed, with packing and authenticated
 * channels). Parties:
 *   SERVER       plan.server: holds the Paillier key pair, publishes the public
 *                key (sealed, authenticated by its pinned X25519 key), ROUTES
 *                the clients' sealed boxes to the aggregation service, and
 *                decrypts;
 *   AGGREGATORS  plan.aggregators[0], the aggregation service: opens the boxes
 *                against the pinned client keys, checks every ciphertext,
 *                adds, re-randomizes and seals the aggregate (or a refusal
 *                without ciphertexts) to SERVER; it never holds the private key;
 *   CLIENTS      each encrypts and seals ITS OWN vector to the aggregation
 *                service and hands the box to SERVER.
 *
 * Stages of one aggregation (invocation id `inv`; `stagesOf` lists each
 * role's): KEYS (SERVER holds or generates its key pair) → PUBLISH (the public
 * key to every client and the aggregator) → SUBMIT (each client encodes,
 * packs, encrypts, seals to the aggregator and hands the box to SERVER) →
 * RELAY (SERVER forwards each box unchanged; the `relay` hook models a
 * malicious router) → AGGREGATE (the aggregator opens and checks each box:
 * UnknownPeerError, ChannelAuthError, ReplayError, WrongContextError, a box in
 * another client's slot MisroutedMessageError, a bad ciphertext; then adds in
 * a balanced tree, re-randomizes once and seals the aggregate to SERVER, or a
 * refusal) → DECRYPT (SERVER decrypts, unpacks, removes offsets / scaling;
 * target AGGREGATORS: seals the plaintext aggregate to the aggregator, so the
 * key holder learns it too) → DONE.
 *
 * Every role first checks the plan against its party's policy (`enforcePlan`:
 * protocol, parameters, roster, minContributors), the packing headroom
 * (TooManyClientsError), its own identity and the pinned keys of the peers it
 * talks to, before it sends a byte. A bad box is rejected before any of its
 * ciphertexts is multiplied in: with onInvalid 'throw' the aggregator refuses
 * and the run fails with the typed error; with 'drop' the honest rest is
 * aggregated. Whatever onInvalid says, the aggregator releases no aggregate of
 * fewer valid contributions than ITS policy's minContributors. Clients and
 * the aggregator accept only a key whose noise base is derived from n, with
 * the plan's size and noiseBits, and, with `keyFingerprint`, the pinned key
 * (UntrustedKeyError). Every sealed box is bound to the plan (associated data
 * = invocation id and plan digest, `paillierBoxAd`).
 */
import { hostOf } from '../transport/hosting.js';
import { createHash } from 'node:crypto';
import { SealedBoxReceiver, SealedBoxSender, UnknownPeerError, type CipherSuite, type Identity, type PinnedKeys } from '../crypto/secure-channel.js';
import { checkKeyFingerprint, defaultNoiseBits, expectFingerprint, generateKeyPair, MIN_NOISE_BITS, PaillierPrivateKey, publicKeyFromBytes, type PaillierKeyPair, type PaillierPublicKey } from '../paillier/keys.js';
import { TooManyClientsError, UntrustedKeyError } from '../paillier/errors.js';
import { PaillierWorkerPool, sharedPaillierPool } from '../paillier/pool.js';
import { AGGREGATION_URIS } from './protocol.js';
import { planToBytes, type AggregationPlan } from './plan.js';
import type { AggregationRoles, RoleName } from './roles.js';
import { clampPaillierInput, encodingFor, type Encoding } from './paillier-plan.js';
import { MisroutedMessageError, type ObservedMessage, type PaillierReport, type RelayEvent } from './paillier-stages.js';
import { aggregatorRole, clientRole, serverRole, type RoleHost } from './paillier-parties.js';

export interface PaillierRolesOptions {
  /** Declared maximum number of clients of a plan (sets the packing headroom; a public parameter). */
  maxClients: number;
  /** Paillier modulus bits (default 2048; 512/1024 only for tests). */
  keyBits?: number;
  /** Fixed-point fractional bits for floats (default 32). */
  fracBits?: number;
  /** Bits of a fixed-point slot value (default 96): |x| < 2^(floatBits - 1 - fracBits). */
  floatBits?: number;
  /** Bits of the DJN noise exponent of the server's key (default: the held key's, else ceil(keyBits/2)); clients refuse any other. */
  noiseBits?: number;
  /** 'throw' (default): a bad client box fails the aggregation with its typed error; 'drop': aggregate the honest rest. */
  onInvalid?: 'throw' | 'drop';
  /** SHA-256 fingerprint of the server's Paillier public key: clients and the aggregator refuse any other key. */
  keyFingerprint?: string;
  /** The server's Paillier key pair, where the server runs (default: generated there on first use). */
  serverKeys?: PaillierKeyPair;
  /** X25519 identities of the parties this process runs (simulation: all; deployed: its own). */
  identities?: ReadonlyMap<string, Identity>;
  /** Pinned public keys of the other parties (default: the public halves of `identities`); never taken from the router. */
  pinnedKeys?: PinnedKeys;
  /**
   * Clients hosted by a player (`owner0:3`, transport/hosting.ts) seal and
   * open with their host's X25519 key: a hosted client without a key of its
   * own is pinned to its host's pinned key, and runs with its host's
   * identity where that is in `identities`. Each hosted client is still its
   * own party (its own slot, sequence numbers and replay window; the sender
   * name is bound into every box's key), and only its host can seal for it.
   * Default false.
   */
  pinHosted?: boolean;
  suite?: CipherSuite;
  /** Worker threads: a pool, true (the shared pool), false (main thread), or 'auto' (default: pool for >= 16 ciphertexts). */
  workers?: PaillierWorkerPool | boolean | 'auto';
  /** The server's treatment of each box it relays (default: forward unchanged). Models a malicious router in tests. */
  relay?: (e: RelayEvent) => Uint8Array;
  /** Sees every message a role of this object sends. */
  observe?: (m: ObservedMessage) => void;
}

export interface PaillierParams {
  readonly keyBits: number;
  readonly fracBits: number;
  readonly floatBits: number;
  readonly maxClients: number;
  readonly noiseBits: number;
  readonly onInvalid: 'throw' | 'drop';
  readonly [k: string]: string | number | boolean;
}

export interface PaillierRoles extends AggregationRoles {
  readonly params: PaillierParams;
  /** Every public key this object pins (its own parties' included). */
  readonly pinnedKeys: PinnedKeys;
  /** Report of the last aggregation a role of this object took part in. */
  readonly lastReport: PaillierReport | undefined;
  /** Whether this object holds the server's key pair (given, or generated by a server role). */
  readonly holdsServerKeys: boolean;
  /** The server's key pair where the server runs (stage KEYS: generated on first use when not given). */
  serverKeyPair(): PaillierKeyPair;
  /** This object's identity of `party`, if it runs that party. */
  identityOf(party: string): Identity | undefined;
}

export const URIS = AGGREGATION_URIS;
const CONTEXT = 'fedcrypt/aggregation/paillier/v1';

/** Associated data of every sealed box of a plan: the invocation id and a digest of the plan (a box made under another plan does not open). */
export function paillierBoxAd(plan: AggregationPlan): string {
  const params = Object.fromEntries(Object.entries(plan.params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const digest = createHash('sha256').update(planToBytes({ ...plan, params })).digest('hex');
  return `${plan.invocationId}/${digest}`;
}

const reasonOf = (e: unknown): string => {
  const s = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return s.length > 300 ? s.slice(0, 300) + '…' : s;
};

/** The Paillier aggregation as per-party roles (see the module comment). */
/** `pinHosted`: each hosted name among `names` without a key of its own gets its host's (and its identity, where the host's is held). */
function pinHostedParties(pinned: Map<string, Uint8Array>, identities: Map<string, Identity>, names: readonly string[]): void {
  for (const n of names) {
    const host = hostOf(n);
    if (host === n) continue;
    const key = pinned.get(host);
    if (!pinned.has(n) && key !== undefined) pinned.set(n, key);
    const id = identities.get(host);
    if (!identities.has(n) && id !== undefined) identities.set(n, id);
  }
}

export function paillierRoles(options: PaillierRolesOptions): PaillierRoles {
  return createPaillierRoles(options, 'paillierRoles');
}

/** Validate the options (errors name `fn` and the option) and build the roles. */
export function createPaillierRoles(options: PaillierRolesOptions, fn: string): PaillierRoles {
  if (typeof options !== 'object' || options === null) throw new TypeError(`${fn}: "options" expected object, got ${options === null ? 'null' : typeof options}`);
  const mc = options.maxClients;
  if (typeof mc !== 'number' || !Number.isInteger(mc)) throw new TypeError(`${fn}: "maxClients" expected integer in [1, 100000], got ${String(mc)}`);
  if (mc < 1 || mc > 100_000) throw new RangeError(`${fn}: "maxClients" expected integer in [1, 100000], got ${mc}`);
  const kb = options.keyBits ?? 2048;
  if (typeof kb !== 'number' || !Number.isInteger(kb)) throw new TypeError(`${fn}: "keyBits" expected even integer in [256, 8192], got ${String(kb)}`);
  if (kb < 256 || kb > 8192 || kb % 2 !== 0) throw new RangeError(`${fn}: "keyBits" expected even integer in [256, 8192], got ${kb}`);
  const fb = options.fracBits ?? 32;
  if (!Number.isInteger(fb) || fb < 0 || fb > 60) throw new RangeError(`${fn}: "fracBits" expected integer in [0, 60], got ${String(fb)}`);
  const flb = options.floatBits ?? 96;
  if (!Number.isInteger(flb) || flb < fb + 2 || flb > 128) throw new RangeError(`${fn}: "floatBits" expected integer in [fracBits + 2, 128], got ${String(flb)}`);
  const onInvalid = options.onInvalid ?? 'throw';
  if (onInvalid !== 'throw' && onInvalid !== 'drop') throw new RangeError(`${fn}: "onInvalid" expected 'throw' or 'drop', got ${String(onInvalid)}`);
  if (options.noiseBits !== undefined && (!Number.isInteger(options.noiseBits) || options.noiseBits < MIN_NOISE_BITS || options.noiseBits > 2 * kb)) {
    throw new RangeError(`${fn}: "noiseBits" expected integer in [${MIN_NOISE_BITS}, ${2 * kb}], got ${String(options.noiseBits)}`);
  }
  if (options.keyFingerprint !== undefined) expectFingerprint(fn, 'keyFingerprint', options.keyFingerprint);
  let keys = options.serverKeys;
  if (keys !== undefined) {
    const sk = keys as Partial<PaillierKeyPair> | null;
    if (typeof sk !== 'object' || sk === null || !(sk.privateKey instanceof PaillierPrivateKey) || sk.publicKey !== sk.privateKey.publicKey) {
      throw new TypeError(`${fn}: "serverKeys" expected a PaillierKeyPair`);
    }
    if (sk.publicKey.bits !== kb) throw new RangeError(`${fn}: "serverKeys" is a ${sk.publicKey.bits}-bit key, "keyBits" says ${kb}`);
    if (options.noiseBits !== undefined && sk.publicKey.noiseBits !== options.noiseBits) {
      throw new RangeError(`${fn}: "serverKeys" has noiseBits ${sk.publicKey.noiseBits}, "noiseBits" says ${options.noiseBits}`);
    }
  }
  const noiseBits = options.noiseBits ?? keys?.publicKey.noiseBits ?? defaultNoiseBits(kb);
  for (const k of ['identities', 'pinnedKeys'] as const) {
    if (options[k] !== undefined && !(options[k] instanceof Map)) throw new TypeError(`${fn}: "${k}" expected a Map of party names`);
  }
  for (const k of ['relay', 'observe'] as const) {
    if (options[k] !== undefined && typeof options[k] !== 'function') throw new TypeError(`${fn}: "${k}" expected a function`);
  }
  const w = options.workers ?? 'auto';
  if (!(w instanceof PaillierWorkerPool) && typeof w !== 'boolean' && w !== 'auto') throw new TypeError(`${fn}: "workers" expected a PaillierWorkerPool, a boolean or 'auto'`);
  const identities = new Map(options.identities ?? []);
  const pinned = new Map(options.pinnedKeys ?? []);
  for (const [name, id] of identities) {
    const p = pinned.get(name);
    if (p === undefined) pinned.set(name, id.publicKey);
    else if (Buffer.compare(Buffer.from(p), Buffer.from(id.publicKey)) !== 0) throw new RangeError(`${fn}: "pinnedKeys" pins another key for '${name}' than its identity in "identities"`);
  }

  const params: PaillierParams = Object.freeze({ keyBits: kb, fracBits: fb, floatBits: flb, maxClients: mc, noiseBits, onInvalid });
  const suite = options.suite;
  // long-lived sealed-box endpoints per party: sequence numbers and replay windows persist across aggregations
  const endpoints = new Map<string, { sender: SealedBoxSender; receiver: SealedBoxReceiver }>();
  // per-invocation reports (bounded), shared by the roles this object runs
  const records = new Map<string, InvocationRecord>();
  let lastReport: PaillierReport | undefined;

  const host: RoleHost = {
    params,
    relay: options.relay,
    observe: options.observe,
    begin(me: string, plan: AggregationPlan, role: RoleName) {
      const k = plan.clients.length;
      if (k > mc) throw new TooManyClientsError(`${me}: ${k} clients exceed the declared maxClients = ${mc} (packing headroom)`);
      const peers = role === 'client' ? [plan.server, plan.aggregators[0]!] : role === 'aggregator' ? [plan.server, ...plan.clients] : [plan.aggregators[0]!, ...plan.clients];
      if (options.pinHosted === true) pinHostedParties(pinned, identities, [me, ...peers]);
      const identity = identities.get(me);
      if (!identity) throw new RangeError(`${me}: this party's X25519 identity is not configured ("identities")`);
      for (const p of peers) if (!pinned.has(p)) throw new UnknownPeerError(`${me}: no pinned public key for '${p}' ("pinnedKeys")`, p);
      let ep = endpoints.get(me);
      if (!ep) {
        const self = { name: me, identity };
        ep = { sender: new SealedBoxSender({ self, recipients: pinned, context: CONTEXT, suite }), receiver: new SealedBoxReceiver({ self, senders: pinned, context: CONTEXT, suite }) };
        endpoints.set(me, ep);
      }
      const enc = encodingFor(plan, params);
      const ad = paillierBoxAd(plan);
      let rec = records.get(ad);
      if (!rec) {
        rec = { report: { invocationId: plan.invocationId, contributions: 0, rejected: [], ciphertextsPerClient: enc.packing.ciphertextsFor(enc.length), bytesPerClient: 0 }, aggregatedHere: false };
        records.set(ad, rec);
        if (records.size > 64) records.delete(records.keys().next().value!);
      }
      lastReport = rec.report;
      return { ...ep, enc, ad, rec, pool: pool(enc, k) };
    },
    acceptKey(party: string, bytes: Uint8Array): PaillierPublicKey {
      let pk: PaillierPublicKey;
      try {
        pk = publicKeyFromBytes(bytes);
      } catch (e) {
        if (e instanceof UntrustedKeyError) throw new UntrustedKeyError(e.field, `${party}: ${e.message}`);
        throw e;
      }
      if (pk.bits !== kb) throw new RangeError(`${party}: server published a ${pk.bits}-bit key, configuration says ${kb}`);
      if (pk.noiseBits !== noiseBits) throw new UntrustedKeyError('noiseBits', `${party}: server published a key with noiseBits ${pk.noiseBits}, the plan says ${noiseBits}`);
      if (options.keyFingerprint !== undefined) checkKeyFingerprint(party, pk, options.keyFingerprint);
      return pk;
    },
    reasonOf,
  };
  function pool(enc: Encoding, k: number): PaillierWorkerPool | null {
    if (w instanceof PaillierWorkerPool) return w;
    if (w === true || (w === 'auto' && enc.packing.ciphertextsFor(enc.length) * k >= 16)) return sharedPaillierPool();
    return null;
  }
  function serverKeyPair(): PaillierKeyPair {
    return (keys ??= generateKeyPair(kb, { noiseBits }));
  }

  const self: PaillierRoles = {
    name: 'paillier',
    secure: true,
    intrinsics: URIS,
    aggregatorCount: 1,
    aggregatorNames: Object.freeze(['aggregator']),
    params,
    pinnedKeys: pinned,
    get lastReport() {
      return lastReport;
    },
    get holdsServerKeys() {
      return keys !== undefined;
    },
    serverKeyPair,
    identityOf: (party: string) => identities.get(party),
    clamp: (plan, input) => clampPaillierInput(plan, params, input),
    client: (ctx, plan, input) => clientRole(self, host, ctx, plan, input),
    aggregator: (ctx, plan, index) => aggregatorRole(self, host, ctx, plan, index),
    server: (ctx, plan) => serverRole(self, host, ctx, plan, serverKeyPair),
  };
  return Object.freeze(self);
}

/** What the roles of one object share about one invocation (the report; the aggregator's error where it ran here). */
export interface InvocationRecord {
  report: PaillierReport;
  aggregatedHere: boolean;
  aggregatorError?: unknown;
}

export { MisroutedMessageError };
