/**
 * The malicious-server variant of SecAgg (Bonawitz et al., CCS'17, §4;
 * Bell et al.'s semi-malicious server): the server may lie about who
 * dropped and show different clients different survivor sets, so
 *
 *   - every client signs its advertised keys with its Ed25519 key, pinned at
 *     every client in the configuration (never taken from SERVER): the server
 *     cannot put keys of its own in an honest client's name;
 *       advertise signature = Sign(d_u, "fedcrypt/secagg/advertise/v1" || plan digest || u32 u || c_pk || s_pk)
 *   - round 3 (consistency check): SERVER sends U3 to every client of U3;
 *     each client checks it (itself in it, at least t, its neighbours in it
 *     all in its own U2) and signs it:
 *       consistency signature = Sign(d_v, "fedcrypt/secagg/consistency/v1" || session id || u32 |U3| || u32 ids ascending || u32 v)
 *     (the signer's own index v is bound in: deployed, the clients a player
 *     hosts sign with their host's one pinned key, and a signature of one of
 *     them must not count as another's)
 *     SERVER collects at least t signatures (U4) and sends them to every
 *     client of U4, which reveals nothing unless at least t distinct clients
 *     of U3 signed exactly the U3 it signed, and the unmasking request names
 *     exactly its neighbours in U3 alive and its neighbours in U2 \ U3 dead.
 *
 * With 2t > n + n_C (complete graph; the Harary rule P(X >= 2t - k) tiny),
 * two different survivor sets cannot both gather t signatures: honest
 * clients sign once per round, so all honest clients reveal by one U3, and
 * no client's self-mask seed and masking key are both revealed.
 */
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { SecAggRule } from './secagg-errors.js';
import type { IndexedSignature } from './secagg-wire.js';

export const ADVERTISE_LABEL = 'fedcrypt/secagg/advertise/v1';
export const CONSISTENCY_LABEL = 'fedcrypt/secagg/consistency/v1';
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');

/** The pinned Ed25519 keys of the malicious-server variant. */
export interface SecAggSigning {
  /** Each client's public key, by party name. */
  readonly pinned: ReadonlyMap<string, KeyObject>;
  /** The private keys of the clients this process runs. */
  readonly signers: ReadonlyMap<string, KeyObject>;
}

/** Validate `signingKeys` (raw 32 bytes or public KeyObjects) and `signers` (private KeyObjects), all Ed25519. */
export function secAggSigning(signingKeys: unknown, signers: unknown, fn: string): SecAggSigning {
  if (!(signingKeys instanceof Map)) throw new TypeError(`${fn}: "signingKeys" expected a Map of party name -> Ed25519 public key (the malicious-server variant needs every client's key pinned)`);
  if (signers !== undefined && !(signers instanceof Map)) throw new TypeError(`${fn}: "signers" expected a Map of party name -> Ed25519 private KeyObject`);
  const pinned = new Map<string, KeyObject>();
  for (const [name, k] of signingKeys as Map<unknown, unknown>) {
    if (typeof name !== 'string') throw new TypeError(`${fn}: "signingKeys" expected party names as keys`);
    let key: KeyObject;
    if (k instanceof Uint8Array) {
      if (k.length !== 32) throw new RangeError(`${fn}: "signingKeys" of '${name}': expected 32 bytes, got ${k.length}`);
      key = createPublicKey({ key: Buffer.concat([ED25519_SPKI, k]), format: 'der', type: 'spki' });
    } else if (k !== null && typeof k === 'object' && (k as KeyObject).type === 'public') key = k as KeyObject;
    else throw new TypeError(`${fn}: "signingKeys" of '${name}': expected 32 raw bytes or a public KeyObject`);
    if (key.asymmetricKeyType !== 'ed25519') throw new RangeError(`${fn}: "signingKeys" of '${name}': expected an Ed25519 key, got ${String(key.asymmetricKeyType)}`);
    pinned.set(name, key);
  }
  const own = new Map<string, KeyObject>();
  for (const [name, k] of (signers as Map<unknown, unknown> | undefined) ?? []) {
    if (typeof name !== 'string' || k === null || typeof k !== 'object' || (k as KeyObject).type !== 'private' || (k as KeyObject).asymmetricKeyType !== 'ed25519') {
      throw new TypeError(`${fn}: "signers" of '${String(name)}': expected an Ed25519 private KeyObject`);
    }
    const pub = pinned.get(name);
    if (pub === undefined) throw new RangeError(`${fn}: "signers" has a key for '${name}', which "signingKeys" does not pin`);
    const derived = createPublicKey(k as KeyObject).export({ format: 'der', type: 'spki' });
    if (!derived.equals(pub.export({ format: 'der', type: 'spki' }))) throw new RangeError(`${fn}: "signers" of '${name}' does not match its pinned key in "signingKeys"`);
    own.set(name, k as KeyObject);
  }
  return { pinned, signers: own };
}

function u32(x: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(x, 0);
  return b;
}

export function advertisePayload(digest: Uint8Array, index: number, cpk: Uint8Array, spk: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(ADVERTISE_LABEL), Buffer.from([0]), digest, u32(index), cpk, spk]);
}

export function survivorsPayload(session: Uint8Array, ids: readonly number[], signer: number): Buffer {
  const sorted = [...ids].sort((a, b) => a - b);
  return Buffer.concat([Buffer.from(CONSISTENCY_LABEL), Buffer.from([0]), session, u32(sorted.length), ...sorted.map(u32), u32(signer)]);
}

export function signBytes(key: KeyObject, data: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, data, key));
}

export function verifyBytes(key: KeyObject, data: Uint8Array, sig: Uint8Array): boolean {
  try {
    return verify(null, data, key, sig);
  } catch {
    return false;
  }
}

/** What the client checks need of its run. */
export interface ConsistencyRun {
  readonly i: number;
  readonly t: number;
  refuse(rule: SecAggRule, message: string): never;
}

/**
 * A client's check of U3 before it signs it: distinct ids, itself in it, at
 * least t, and every neighbour in it is one whose shares it received (U2).
 */
export function checkSurvivorSet(run: ConsistencyRun, U3: readonly number[], isNeighbour: (u: number) => boolean, U2: ReadonlySet<number>): Set<number> {
  const set = new Set<number>();
  for (const u of U3) {
    if (set.has(u)) run.refuse('repeated-id', `U3 lists client ${u} twice`);
    set.add(u);
  }
  if (!set.has(run.i)) run.refuse('self-dead', 'U3 leaves this client out');
  if (set.size < run.t) run.refuse('too-few-alive', `${set.size} client(s) in U3, fewer than t = ${run.t}`);
  for (const u of set) if (u !== run.i && isNeighbour(u) && !U2.has(u)) run.refuse('not-nested', `U3 names neighbour ${u}, whose shares this client never received (U3 must be a subset of U2)`);
  return set;
}

/** At least t distinct clients of U3 signed exactly this U3; any signature that does not verify is refused too. */
export function checkSignatures(run: ConsistencyRun, sigs: readonly IndexedSignature[], U3: ReadonlySet<number>, payload: (signer: number) => Uint8Array, keyOf: (u: number) => KeyObject): void {
  const seen = new Set<number>();
  for (const s of sigs) {
    if (seen.has(s.index)) run.refuse('repeated-id', `two signatures of client ${s.index}`);
    seen.add(s.index);
    if (!U3.has(s.index)) run.refuse('inconsistent-survivors', `a signature of client ${s.index}, not in U3`);
    if (!verifyBytes(keyOf(s.index), payload(s.index), s.sig)) run.refuse('inconsistent-survivors', `client ${s.index}'s signature is not of the U3 this client signed`);
  }
  if (seen.size < run.t) run.refuse('inconsistent-survivors', `${seen.size} signature(s) of U3, fewer than t = ${run.t}`);
}
