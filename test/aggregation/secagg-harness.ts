/**
 * Test harness of the SecAgg roles: every role in one process
 * (simulateRoles on a MemoryHub) with
 *   - a dropout schedule: client -> the round whose message of it never
 *     arrives (it dies at its first send of that round or later; the server's
 *     receives of that round or later from it fail at once, as a lost link
 *     would); given as a map, or as a function of the graph, evaluated when
 *     the server sends the keys of U1 (rounds >= 1 then);
 *   - a tampering SERVER: `tamper` rewrites what the honest server role sends
 *     (the malicious server of the refusal tests);
 *   - a record of what the server received and of each client's sends.
 * A client that fails (refuses) dies after its last send, so the server's
 * waits end without deadlines, and a client still waiting when the server's
 * role ends fails: no timing in these tests.
 */
import { checkPlan, type AggregationPlan } from '../../src/aggregation/plan.js';
import { referenceAggregate } from '../../src/aggregation/reference.js';
import type { ClientInput } from '../../src/aggregation/roles.js';
import { simulateRoles, type ReceivedMessage } from '../../src/aggregation/simulate.js';
import { graphOf } from '../../src/aggregation/secagg-client.js';
import { planDigest, sessionId } from '../../src/aggregation/secagg-crypto.js';
import type { SecAggGraph } from '../../src/aggregation/secagg-graph.js';
import { secAggRoles, type SecAggRoles } from '../../src/aggregation/secagg-roles.js';
import type { SecAggResult } from '../../src/aggregation/secagg-server.js';
import { secAggSetup, type SecAggOptions } from '../../src/aggregation/secagg-setup.js';
import { keysFromBytes, revealFromBytes, roundOfKey } from '../../src/aggregation/secagg-wire.js';
import assert from 'node:assert/strict';
import type { Transport } from '../../src/transport/channel.js';
import { PeerError } from '../../src/transport/errors.js';
import { TensorType } from '../../src/core/types.js';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';

export { rng } from '../encrypted/computation-data.js';

export const SERVER = 'server';
export const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `c${i}`);

/** A secure-sum plan of n clients over an int32 leaf of `size` elements, bound 2^16. */
export function sumPlan(roles: SecAggRoles, n: number, inv = 'agg/1', size = 3): AggregationPlan {
  const type = new TensorType('int32', [size]);
  return checkPlan({ protocol: roles.name, invocationId: inv, uri: 'federated_secure_sum', target: 'SERVER', leaves: [{ path: '', type, size }], bound: 1n << 16n, clients: names(n), aggregators: [], server: SERVER, params: roles.params });
}

export function sumInputs(plan: AggregationPlan, random: () => number): ClientInput[] {
  return plan.clients.map(() => ({ values: [Int32Array.from({ length: plan.leaves[0]!.size }, () => Math.floor(random() * 65536))] }));
}

/** The plaintext reference over the clients at `survivors`. */
export function referenceOver(plan: AggregationPlan, inputs: readonly ClientInput[], survivors: readonly string[]) {
  const idx = survivors.map((s) => plan.clients.indexOf(s));
  return referenceAggregate({ uri: plan.uri, leaves: plan.leaves, clientValues: idx.map((i) => inputs[i]!.values), numClients: idx.length }).leaves;
}

export interface ServerMessage {
  readonly to: string;
  readonly key: string;
  readonly round: number;
  readonly what: string;
  readonly payload: Uint8Array;
}

export interface RunOptions {
  readonly roles: SecAggRoles;
  readonly plan: AggregationPlan;
  readonly inputs: readonly ClientInput[];
  readonly dropAt?: ReadonlyMap<string, number> | ((graph: SecAggGraph) => ReadonlyMap<string, number>);
  /** The server's sends, rewritten (a malicious server); `graph` is known from round 1 on. */
  readonly tamper?: (m: ServerMessage, graph: SecAggGraph | undefined) => Uint8Array;
  /** Messages the (malicious) server sends besides each of its own: (to, key, payload). */
  readonly inject?: (m: ServerMessage) => readonly { to: string; key: string; payload: Uint8Array }[];
}

export interface RunOutcome {
  readonly result?: SecAggResult;
  readonly error?: unknown;
  readonly clientErrors: ReadonlyMap<string, unknown>;
  /** Every message the server received. */
  readonly serverView: readonly ReceivedMessage[];
  /** Each client's sends (rendezvous keys, in order). */
  readonly sent: ReadonlyMap<string, readonly string[]>;
  /** The session's graph (from the keys the server sent). */
  readonly graph: SecAggGraph | undefined;
  /** The schedule as applied (client -> round). */
  readonly dropAt: ReadonlyMap<string, number>;
}

/** Run one aggregation (see the module comment). */
export async function runSecAgg(o: RunOptions): Promise<RunOutcome> {
  const { roles, plan } = o;
  const death = new Map<string, number>(o.dropAt instanceof Map ? o.dropAt : []);
  const lazy = typeof o.dropAt === 'function' ? o.dropAt : undefined;
  const killed = new Map<string, { round: number; resolve: (r: number) => void; promise: Promise<number> }>();
  const killSlot = (c: string) => {
    let k = killed.get(c);
    if (k === undefined) {
      let resolve!: (r: number) => void;
      const promise = new Promise<number>((r) => (resolve = r));
      k = { round: Infinity, resolve, promise };
      killed.set(c, k);
    }
    return k;
  };
  const kill = (c: string, round: number) => {
    const k = killSlot(c);
    if (round < k.round) {
      k.round = round;
      k.resolve(round);
    }
  };
  const sent = new Map<string, string[]>(plan.clients.map((c) => [c, []]));
  const lastRound = new Map<string, number>();
  const serverView: ReceivedMessage[] = [];
  const clientErrors = new Map<string, unknown>();
  let graph: SecAggGraph | undefined;
  let endServer!: () => void;
  const serverDone = new Promise<void>((r) => (endServer = r));

  const transportOf = (party: string, t: Transport): Transport => {
    const wrap = (over: Partial<Transport>): Transport =>
      new Proxy(t, {
        get(target, prop, receiver) {
          if (prop in over) return (over as Record<string | symbol, unknown>)[prop];
          const v = Reflect.get(target, prop, receiver) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    if (party === plan.server) {
      return wrap({
        async send(from: string, to: string, key: string, payload: Uint8Array) {
          const round = roundOfKey(key)!;
          const what = key.slice(key.lastIndexOf('/') + 1);
          if (graph === undefined && what === 'keys') {
            const entries = keysFromBytes(payload, plan.clients.length, roles.params.adversary === 'malicious');
            graph = graphOf(secAggSetup(roles.params, plan, 'harness'), sessionId(planDigest(plan), entries));
            if (lazy) for (const [c, r] of lazy(graph)) death.set(c, Math.min(r, death.get(c) ?? Infinity));
          }
          const out = o.tamper ? o.tamper({ to, key, round, what, payload }, graph) : payload;
          await t.send(from, to, key, out);
          for (const x of o.inject?.({ to, key, round, what, payload }) ?? []) await t.send(from, x.to, x.key, x.payload);
        },
        receive(to: string, from: string, key: string, opts?: { timeoutMs?: number }) {
          const round = roundOfKey(key)!;
          const gone = killSlot(from).promise.then((r) => {
            if (round >= r) throw new PeerError(`${from} dropped out (round ${r})`, from);
            return new Promise<Uint8Array>(() => undefined);
          });
          return Promise.race([t.receive(to, from, key, opts), gone]);
        },
      });
    }
    return wrap({
      // a client still waiting when the server's role has ended waits for nothing
      receive(to: string, from: string, key: string, opts?: { timeoutMs?: number }) {
        return Promise.race([t.receive(to, from, key, opts), serverDone.then(() => new Promise<Uint8Array>((_, reject) => setImmediate(() => reject(new Error(`${to}: the server's role ended`)))))]);
      },
      async send(from: string, to: string, key: string, payload: Uint8Array) {
        const round = roundOfKey(key)!;
        if (round >= (death.get(from) ?? Infinity)) throw new Error(`${from} drops out at round ${death.get(from)}`);
        sent.get(from)!.push(key);
        lastRound.set(from, round);
        return t.send(from, to, key, payload);
      },
    });
  };
  const wrapped: SecAggRoles = {
    ...roles,
    server: (ctx, p) => roles.server(ctx, p).finally(() => endServer()),
    client: (ctx, p, input) =>
      roles.client(ctx, p, input).catch((e: unknown) => {
        clientErrors.set(ctx.me, e);
        kill(ctx.me, (lastRound.get(ctx.me) ?? -1) + 1);
        throw e;
      }),
  };
  let result: SecAggResult | undefined;
  let error: unknown;
  try {
    const r = await simulateRoles(wrapped, plan, o.inputs, { collectMs: 600_000, timeoutMs: 60_000, transportOf, observe: (m) => m.to === plan.server && serverView.push(m) });
    result = r.result as SecAggResult;
  } catch (e) {
    error = e;
  }
  return { ...(result ? { result } : {}), ...(error !== undefined ? { error } : {}), clientErrors, serverView, sent, graph, dropAt: death };
}

export function makeRoles(graph: SecAggOptions['graph'], extra: SecAggOptions = {}): SecAggRoles {
  return secAggRoles({ graph, corruptionRate: 0, dropoutRate: 0, ...extra });
}

/** Ed25519 keys for clients c0..c(n-1): the pinned public keys and the private ones. */
export function signingKeysFor(n: number): { signingKeys: Map<string, KeyObject>; signers: Map<string, KeyObject> } {
  const signingKeys = new Map<string, KeyObject>();
  const signers = new Map<string, KeyObject>();
  for (const c of names(n)) {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    signingKeys.set(c, publicKey);
    signers.set(c, privateKey);
  }
  return { signingKeys, signers };
}

/** The malicious-server variant, every client's key pinned and held (all run in this process). */
export function maliciousRoles(n: number, graph: SecAggOptions['graph'], extra: SecAggOptions = {}): SecAggRoles {
  return makeRoles(graph, { adversary: 'malicious', ...signingKeysFor(n), ...extra });
}

/** Shares of each kind per owner that the server received in the clear (the unmasking round). */
export function revealedShares(o: RunOutcome, n: number): { seed: Map<number, Set<string>>; key: Map<number, Set<string>> } {
  const seed = new Map<number, Set<string>>();
  const key = new Map<number, Set<string>>();
  for (const m of o.serverView) {
    if (!m.key.endsWith('/r4/reveal')) continue;
    const shares = revealFromBytes(m.payload, n);
    const kinds = new Map<number, string>();
    for (const s of shares) {
      assert.ok(kinds.get(s.owner) === undefined, `${m.from} revealed two shares of client ${s.owner} in one message`);
      kinds.set(s.owner, s.kind);
      const into = s.kind === 'seed' ? seed : key;
      if (!into.has(s.owner)) into.set(s.owner, new Set());
      into.get(s.owner)!.add(m.from);
    }
  }
  return { seed, key };
}

/** A graph setting of the dropout tests: n clients, threshold t, and how many dropouts it stands in any pattern. */
export interface Setting {
  readonly label: string;
  readonly graph: 'complete' | { harary: { k: number; t: number } };
  readonly n: number;
  readonly t: number;
  /** Dropouts stood in any pattern. */
  readonly tolerance: number;
}
