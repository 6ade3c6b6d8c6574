/**
 * What every client a process hosts derives alike from the same bytes of a round, computed once.
 *
 * At n = 10^4 a SecAgg+ client's own work is about 35 masks, but it also parses and checks the
 * 10^4 keys of U1, hashes them into the session id, derives the Harary graph from it and hashes
 * the plan (10^4 names): O(n) each, and the same result for every client of the round. A process
 * hosting many clients (`owner0:0`, `owner0:1`, …; the one-process simulation) computes these once:
 *
 * - `keysView(bytes, n, signed)`: the parsed keys of U1 and the checks that do not depend on the
 *   client (each index once, no public key twice), keyed by SHA-256 of the bytes received. The
 *   view is built from a private copy of the bytes, so later changes to a received buffer cannot
 *   reach it, and a server that sends different lists to different clients gets one view per list.
 *   Each client still checks what depends on it (its own keys, present and as it sent them; t).
 * - `cachedSessionId(view, digest)`, `cachedGraph(setup, session)`: pure functions of their inputs.
 * - `cachedPlanDigest(plan)`: the plan's digest, once per plan object whose roster and parameters
 *   are frozen (`checkPlan` freezes them); its few leaves are compared on every call.
 *
 * Nothing here is trusted from another party: every value is what this process would compute
 * for each client from the same bytes, and the caches are bounded (a few rounds).
 */
import { createHash } from 'node:crypto';
import { bytesEqual } from '../crypto/identity.js';
import type { AggregationPlan } from './plan.js';
import type { SecAggRule } from './secagg-errors.js';
import { planDigest, sessionId } from './secagg-crypto.js';
import { completeGraph, hararyGraph, type SecAggGraph } from './secagg-graph.js';
import type { SecAggSetup } from './secagg-setup.js';
import { keysFromBytes, type KeyEntry } from './secagg-wire.js';

/** The keys of U1 as every client of a round sees them (frozen; its key bytes must not be written). */
export interface KeysView {
  readonly entries: readonly KeyEntry[];
  readonly byIndex: ReadonlyMap<number, KeyEntry>;
  readonly U1: ReadonlySet<number>;
  /** the first violation of the client-independent checks, if any */
  readonly refusal: { readonly rule: SecAggRule; readonly message: string } | undefined;
}

/** A Set that cannot be changed through any reference (a ReadonlySet over a private Set). */
class FrozenSet<T> implements ReadonlySet<T> {
  readonly #s: Set<T>;
  constructor(s: Set<T>) {
    this.#s = s;
    Object.freeze(this);
  }
  get size(): number { return this.#s.size; }
  has(x: T): boolean { return this.#s.has(x); }
  forEach(f: (v: T, v2: T, s: ReadonlySet<T>) => void): void { for (const v of this.#s) f(v, v, this); }
  entries(): SetIterator<[T, T]> { return this.#s.entries(); }
  keys(): SetIterator<T> { return this.#s.keys(); }
  values(): SetIterator<T> { return this.#s.values(); }
  [Symbol.iterator](): SetIterator<T> { return this.#s.values(); }
}

/** A Map that cannot be changed through any reference (a ReadonlyMap over a private Map). */
class FrozenMap<K, V> implements ReadonlyMap<K, V> {
  readonly #m: Map<K, V>;
  constructor(m: Map<K, V>) {
    this.#m = m;
    Object.freeze(this);
  }
  get size(): number { return this.#m.size; }
  has(k: K): boolean { return this.#m.has(k); }
  get(k: K): V | undefined { return this.#m.get(k); }
  forEach(f: (v: V, k: K, m: ReadonlyMap<K, V>) => void): void { for (const [k, v] of this.#m) f(v, k, this); }
  entries(): MapIterator<[K, V]> { return this.#m.entries(); }
  keys(): MapIterator<K> { return this.#m.keys(); }
  values(): MapIterator<V> { return this.#m.values(); }
  [Symbol.iterator](): MapIterator<[K, V]> { return this.#m.entries(); }
}

const MAX_ROUNDS = 4;
const views = new Map<string, KeysView>();
const graphs = new Map<string, SecAggGraph>();
const digests = new WeakMap<AggregationPlan, { digest: Buffer; leaves: string }>();
const sessionsOf = new WeakMap<KeysView, Map<string, Uint8Array>>();

function remember<V>(m: Map<string, V>, key: string, v: V): V {
  if (m.size >= MAX_ROUNDS) m.delete(m.keys().next().value as string);
  m.set(key, v);
  return v;
}

/** The client-independent checks of the keys of U1: each index once, no public key twice. */
function sharedChecks(entries: readonly KeyEntry[]): { U1: Set<number>; refusal: KeysView['refusal'] } {
  const U1 = new Set<number>();
  // every key seen, by its first 6 bytes as a number (a string per key costs more at n = 10^4); equal prefixes compared in full
  const keys = new Map<number, Uint8Array | Uint8Array[]>();
  const prefix = (k: Uint8Array): number => k[0]! + 2 ** 8 * k[1]! + 2 ** 16 * k[2]! + 2 ** 24 * k[3]! + 2 ** 32 * k[4]! + 2 ** 40 * k[5]!;
  for (const e of entries) {
    if (U1.has(e.index)) return { U1, refusal: { rule: 'repeated-id', message: `the keys of U1 list client ${e.index} twice` } };
    U1.add(e.index);
    for (const k of [e.cpk, e.spk]) {
      const p = prefix(k);
      const seen = keys.get(p);
      if (seen === undefined) {
        keys.set(p, k);
        continue;
      }
      const list = Array.isArray(seen) ? seen : [seen];
      if (list.some((x) => bytesEqual(x, k))) return { U1, refusal: { rule: 'duplicate-key', message: `the keys of U1 list one public key twice (client ${e.index})` } };
      list.push(k);
      keys.set(p, list);
    }
  }
  return { U1, refusal: undefined };
}

/** The keys of U1 from the bytes received (throws as `keysFromBytes` on bytes that do not parse). */
export function keysView(bytes: Uint8Array, n: number, signed: boolean): KeysView {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`keysView: "bytes" expected a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
  const own = new Uint8Array(bytes); // a private copy, hashed and parsed (the entries are views into it)
  const key = `${n}:${signed ? 1 : 0}:${createHash('sha256').update(own).digest('hex')}`;
  const hit = views.get(key);
  if (hit !== undefined) return hit;
  const entries = Object.freeze(keysFromBytes(own, n, signed).map((e) => Object.freeze(e)));
  const { U1, refusal } = sharedChecks(entries);
  const view: KeysView = Object.freeze({
    entries,
    byIndex: new FrozenMap(new Map(entries.map((e) => [e.index, e]))),
    U1: new FrozenSet(U1),
    refusal: refusal === undefined ? undefined : Object.freeze(refusal),
  });
  sessionsOf.set(view, new Map());
  return remember(views, key, view);
}

/** `sessionId(digest, view.entries)`, once per view and digest (a copy each call). */
export function cachedSessionId(view: KeysView, digest: Uint8Array): Uint8Array {
  const key = Buffer.from(digest).toString('hex');
  const sessions = sessionsOf.get(view)!; // (every view is registered by keysView)
  let s = sessions.get(key);
  if (s === undefined) {
    s = sessionId(digest, view.entries);
    if (sessions.size >= MAX_ROUNDS) sessions.clear();
    sessions.set(key, s);
  }
  return new Uint8Array(s);
}

/** The graph of a session (the Harary graph's positions come from the session id), once per session (frozen: shared). */
export function cachedGraph(setup: SecAggSetup, session: Uint8Array): SecAggGraph {
  if (setup.graph === 'complete') return completeGraph(setup.n);
  const key = `${setup.n}:${setup.k}:${Buffer.from(session).toString('hex')}`;
  return graphs.get(key) ?? remember(graphs, key, Object.freeze(hararyGraph(setup.n, setup.k, session)));
}

/** The leaves as the digest covers them (a few entries: recomputed on every call, they may be unfrozen objects). */
function leavesPrint(plan: AggregationPlan): string {
  return JSON.stringify(plan.leaves.map((l) => [l.path, l.type.dtype, l.type.shape]));
}

/** `planDigest(plan)`, once per plan object whose roster and parameters are frozen (a copy each call). */
export function cachedPlanDigest(plan: AggregationPlan): Buffer {
  const frozen = Object.isFrozen(plan) && Object.isFrozen(plan.clients) && Object.isFrozen(plan.aggregators) && Object.isFrozen(plan.params) && Object.isFrozen(plan.leaves);
  if (!frozen) return planDigest(plan);
  const print = leavesPrint(plan);
  let d = digests.get(plan);
  if (d === undefined || d.leaves !== print) {
    d = { digest: planDigest(plan), leaves: print };
    digests.set(plan, d);
  }
  return Buffer.from(d.digest);
}
