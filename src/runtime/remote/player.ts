/**
 * The executor on a player: values stay where they are computed and are
 * referred to by number; the driver sends commands, the player runs them on
 * what it holds and answers with an acknowledgement (and, for a value placed
 * at AGGREGATORS that the driver moves to SERVER, that value).
 *
 * What a player does and refuses, whoever the driver is:
 * - CLIENTS values come from the player's own data source (`data`), named
 *   at player start; the driver only names a source. No command returns a
 *   CLIENTS value: the only way out of a client is its role in an aggregation
 *   protocol this player's policy accepts (`enforcePlan`).
 * - Only local computations registered in this process (by name) run here;
 *   source text is never taken from the network.
 * - Every hosted client runs its own client role with its own secrets (no
 *   pre-aggregation across the clients it hosts).
 * - Failures are answered, for a policy refusal, with its rule and message,
 *   otherwise with neither class nor message (they stay in this player's
 *   log: an error may depend on a value), a lost link or a deadline with the
 *   peer it concerns (a name: the driver names the player at fault); a failed
 *   command ends the session.
 * - An aggregator releases nothing before every client player of the plan
 *   sent it the digests of its commands (all equal) and of its plan (equal
 *   to the aggregator's own), and, when some clients dropped out, before the
 *   survivors' distinct players meet every survivor player's own minimum of
 *   contributors (stated with its digests: it checked the plan's roster,
 *   not the survivors): `agreement` below. The commands a driver sends
 *   in one message (a batch, `frameBatch`) count one by one
 *   (`commandDigest`): how the driver groups them does not matter.
 */
import { PolicyError } from '../../core/errors.js';
import { registeredLocal } from '../../core/local.js';
import { typeFromJson } from '../../core/serialize.js';
import { getIntrinsicImpl, intrinsicByUri } from '../../core/intrinsics.js';
import { SequenceType, StructType, TensorType, typeToJson, type FederatedType, type FunctionType, type Type } from '../../core/types.js';
import { FederatedValue, fromJs, fromLeaves, leavesOf, SequenceValue, StructValue, type RtValue } from '../../core/values.js';
import { createHash } from 'node:crypto';
import { checkPlan as checkPlanShape, planFromBytes, type AggregationPlan } from '../../aggregation/plan.js';
import { prepareRole } from '../../aggregation/party.js';
import { checkContributors, participantsOf, type AggregationRoles, type ClientInput, type RolePolicy } from '../../aggregation/roles.js';
import { hostOf } from '../../transport/hosting.js';
import type { ReceiveOptions, Transport } from '../../transport/channel.js';
import { PeerError, TransportError } from '../../transport/errors.js';
import { BACKEND, runLocal, type LocalEnv } from '../executor.js';
import { toResultLeaf } from '../intrinsics.js';
import { concreteType, frame, frameBatch, unframe, unframeBatch, valueFromParts, valueToParts, type Framed } from './wire.js';
import { flushMarks, mark, TRACE, tracedTransport } from './trace.js';
import { sanitize, sanitizeForRole } from './sanitize.js';

export { sanitize };

export type DataSource = (source: string, client: { readonly name: string; readonly index: number }) => unknown;

export interface PlayerExecutorOptions {
  /** This player's name (as in the config). */
  readonly me: string;
  /** The driver (SERVER party) it takes commands from. */
  readonly driver: string;
  /** Session id shared with the driver (rendezvous keys `exec/<session>/...`). */
  readonly session: string;
  /** CLIENTS members this player hosts (party names: itself, or `<me>:<i>`). Default none. */
  readonly clients?: readonly string[];
  /** Where the hosted clients' values come from. */
  readonly data?: DataSource;
  /**
   * The aggregation protocols this player takes part in (its own
   * configuration): a list, or a function that makes (or refuses, with a
   * PolicyError) the role set a plan asks for.
   */
  readonly roles: readonly AggregationRoles[] | ((plan: AggregationPlan) => AggregationRoles);
  /** This player's own checks of every plan (e.g. the roster against its config), before any role runs. */
  readonly checkPlan?: (plan: AggregationPlan) => void;
  /** This player's own rules. */
  readonly policy: RolePolicy;
  /** Deadline of each protocol receive, ms. */
  readonly timeoutMs?: number;
  /**
   * Dropout tolerance of this player's aggregator roles (roles.ts
   * `PartyContext.collectMs`): how long it waits for the clients'
   * contributions to a plan whose protocol tolerates dropouts.
   */
  readonly collectMs?: number;
  /** Where details of failures go (default: nowhere). */
  readonly log?: (line: string) => void;
}

type Placed = 'CLIENTS' | 'AGGREGATORS';
interface Held {
  readonly placement: Placed;
  readonly values: Map<string, RtValue>;
}

export const execKey = (session: string, seq: number): string => `exec/${session}/${seq}`;

/** Intrinsics a player runs on the members it holds (no function argument, no other party involved). */
export const LIFTABLE: readonly string[] = ['sequence_sum'];
const LIFT_ENV: LocalEnv = {
  clients: () => {
    throw new RangeError('a lifted intrinsic does not count clients');
  },
  numAggregators: 1,
  aggregation: { name: 'none', secure: true, intrinsics: [], aggregate: () => Promise.reject(new Error('no aggregation at a player')) },
  nextId: () => 'lift',
};
/** The driver sends this once per session: when it ends the session, or at its first failure (every player stops waiting). */
export const abortKey = (session: string): string => `exec/${session}/abort`;

const ABORTED = Symbol('aborted');
/** A value from a command, quoted for a message (a driver's strings never reach a log line raw). */
const q = (x: unknown): string => (JSON.stringify(x) ?? String(x)).slice(0, 80);
/** A log line's text with its control characters escaped (a message may quote what the driver sent, e.g. JSON.parse's). */
const printable = (s: string): string => s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
/** The rendezvous key of the client players' agreement on an aggregation (see `agreement` below). */
export const agreeKey = (session: string, invocationId: string): string => `exec/${session}/agree/${invocationId}`;
/** A client player's agreement message: the digest of its commands (32 B), of its plan (32 B), its own minContributors (u32). */
const AGREE_BYTES = 68;

/**
 * `t`, with every receive failing (`receive from '<from>': <why>`) once `aborted` resolves. Each pending
 * receive is registered until it settles, and only then: nothing that has
 * arrived stays reachable from the (long-lived) abort signal, so a session of
 * many rounds holds no payload it has already handed on (a Promise.race
 * against the abort promise would keep every received payload until the
 * session ends).
 */
export function abortable(t: Transport, aborted: Promise<unknown>, why = 'the driver aborted the session'): Transport {
  const pending = new Set<() => void>();
  let isAborted = false;
  aborted.then(() => {
    isAborted = true;
    for (const fail of pending) fail();
    pending.clear();
  }, () => undefined);
  const abortedError = (from: string) => new TransportError(`receive from '${from}': ${why}`);
  const receive = (to: string, from: string, key: string, o?: ReceiveOptions): Promise<Uint8Array> => {
    if (isAborted) return Promise.reject(abortedError(from));
    return new Promise<Uint8Array>((resolve, reject) => {
      const fail = () => reject(abortedError(from));
      pending.add(fail);
      t.receive(to, from, key, o).then(
        (v) => {
          pending.delete(fail);
          resolve(v);
        },
        (e: unknown) => {
          pending.delete(fail);
          reject(e);
        },
      );
    });
  };
  return new Proxy(t, {
    get(target, prop, receiver) {
      if (prop === 'receive') return receive;
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** Answer the driver's commands until it ends the session. */
export async function servePlayerExecutor(transport: Transport, o: PlayerExecutorOptions): Promise<void> {
  const me = o.me;
  const aborted: Promise<typeof ABORTED> = transport.receive(me, o.driver, abortKey(o.session)).then(() => ABORTED as typeof ABORTED);
  let wasAborted = false;
  aborted.then(() => (wasAborted = true), () => undefined);
  const roleTransport = abortable(transport, aborted);
  // what the roles send and receive (marked under FEDCRYPT_TRACE=1)
  const protoTransport = tracedTransport(roleTransport, 1);
  const clients = [...(o.clients ?? [])];
  const hosted = new Set(clients);
  const store = new Map<number, Held>();
  // everything the driver sent this player in the session, in order (client players compare it before any release)
  const transcript = createHash('sha256').update(`fedcrypt/exec/${o.session}`);
  /**
   * An aggregator's release gate: every client player of the plan sent the
   * digest of the commands it was sent and of the plan it runs, the former
   * all equal, the latter this aggregator's own (a driver that sends the
   * victim's player its data and the others a value of its own choice, or
   * the clients one plan and the aggregators another, is refused before
   * anything is revealed).
   */
  const agreement = async (plan: AggregationPlan, planDigest: Buffer, contributors?: readonly string[]): Promise<void> => {
    // with dropouts: the players of the clients whose contributions the aggregate holds (a player that dropped out says nothing)
    const hosts = [...new Set((contributors ?? plan.clients).map(hostOf))];
    const opts = o.timeoutMs ? { timeoutMs: o.timeoutMs } : {};
    const digests = await Promise.all(hosts.map((p) => roleTransport.receive(me, p, agreeKey(o.session, plan.invocationId), opts)));
    const first = Buffer.from(digests[0]!);
    const odd = digests.findIndex((d) => d.length !== AGREE_BYTES || !first.subarray(0, 64).equals(Buffer.from(d).subarray(0, 64)));
    if (first.length !== AGREE_BYTES || odd >= 0) {
      throw new PolicyError('agreement', `the client players were not sent the same commands (${hosts[0]} and ${hosts[Math.max(odd, 0)]} differ); nothing is released`, { party: me });
    }
    if (!first.subarray(32, 64).equals(planDigest)) {
      throw new PolicyError('agreement', `the client players were sent another plan than this aggregator under the same invocation id; nothing is released`, { party: me });
    }
    // each survivor player checked the plan's roster against its own minimum; the survivors must meet it too
    // (a driver that makes the other players look dead would otherwise get a sum below it)
    const mins = digests.map((d) => new DataView(d.buffer, d.byteOffset, d.byteLength).getUint32(64));
    const strictest = mins.indexOf(Math.max(...mins));
    if (hosts.length < mins[strictest]!) {
      throw new PolicyError('minContributors', `the aggregate holds ${hosts.length} distinct contributors after dropouts, '${hosts[strictest]!}' requires at least ${mins[strictest]!}; nothing is released`, { party: me, count: hosts.length, minimum: mins[strictest]! });
    }
  };
  /**
   * The release gate of a protocol without aggregators (SecAgg): the client
   * players check one another. Each client player sent every other client
   * player of the plan its agreement directly (their authenticated link, not
   * through the driver); before a client it hosts sends anything computed
   * from its input (SecAgg: the masked input, round 2), the player holds the
   * agreement of every player hosting a client of `peers` (SecAgg: U1, the
   * clients whose keys it was given: every one of them sent its agreement
   * before it advertised), each equal to its own (commands and plan), and
   * the distinct players among them meet the strictest minimum of
   * contributors stated. Two honest players sent different commands both
   * refuse, so no honest client's input goes out in an aggregation where the
   * honest players were not all sent the same.
   */
  /** Each peer's agreement, received once per aggregation (`got`: that aggregate command's, dropped when it ends) for every hosted client asking. */
  const peerAgreement = (plan: AggregationPlan, got: Map<string, Promise<Uint8Array>>, p: string): Promise<Uint8Array> => {
    let r = got.get(p);
    if (r === undefined) {
      r = roleTransport.receive(me, p, agreeKey(o.session, plan.invocationId), o.timeoutMs ? { timeoutMs: o.timeoutMs } : {});
      // (a refusal elsewhere must not leave an unhandled rejection behind)
      r.catch(() => undefined);
      got.set(p, r);
    }
    return r;
  };
  const clientAgreement = async (plan: AggregationPlan, got: Map<string, Promise<Uint8Array>>, own: Buffer, peers: readonly string[]): Promise<void> => {
    for (const c of peers) if (!plan.clients.includes(c)) throw new PolicyError('agreement', `the release gate was asked about '${c}', not a client of the plan`, { party: me });
    const hosts = [...new Set(peers.map(hostOf))].filter((p) => p !== me);
    const digests = await Promise.all(hosts.map((p) => peerAgreement(plan, got, p)));
    const odd = digests.findIndex((d) => d.length !== AGREE_BYTES || !own.subarray(0, 64).equals(Buffer.from(d).subarray(0, 64)));
    if (odd >= 0) {
      throw new PolicyError('agreement', `'${hosts[odd]}' was not sent the same commands or plan as ${me}; nothing computed from this player's clients' inputs is sent`, { party: me });
    }
    const mins = [own, ...digests].map((d) => new DataView(d.buffer, d.byteOffset, d.byteLength).getUint32(64));
    const strictest = Math.max(...mins);
    const distinct = new Set([me, ...hosts]).size;
    if (distinct < strictest) {
      throw new PolicyError('minContributors', `the aggregation's clients are hosted by ${distinct} distinct data owners, a client player requires at least ${strictest}; nothing is sent`, { party: me, count: distinct, minimum: strictest });
    }
  };
  const rolesFor = (plan: AggregationPlan): AggregationRoles => {
    if (typeof o.roles === 'function') return o.roles(plan);
    const r = o.roles.find((x) => x.name === plan.protocol);
    if (r === undefined) throw new PolicyError('protocol', `protocol '${plan.protocol}' is not one this player takes part in (${o.roles.map((x) => x.name).join(', ') || 'none'})`, { party: me });
    return r;
  };
  const held = (ref: unknown, placement: Placed): Held => {
    const h = typeof ref === 'number' ? store.get(ref) : undefined;
    if (h === undefined || h.placement !== placement) throw new RangeError(`${me}: no value #${q(ref)} at ${placement} here`);
    return h;
  };
  const partiesAt = (p: Placed): string[] => (p === 'CLIENTS' ? clients : [me]);
  const put = (out: unknown, placement: Placed, values: Map<string, RtValue>): void => {
    if (typeof out !== 'number' || !Number.isInteger(out) || out < 0) throw new RangeError(`${me}: bad value number ${q(out)}`);
    if (store.has(out)) throw new RangeError(`${me}: value #${out} exists`);
    const types = [...values.values()].map((v) => JSON.stringify(typeToJson(concreteType(v))));
    if (types.some((t) => t !== types[0])) throw new RangeError(`${me}: the hosted clients' values differ in type`);
    store.set(out, { placement, values });
  };
  const placementOf = (x: unknown): Placed => {
    if (x !== 'CLIENTS' && x !== 'AGGREGATORS') throw new RangeError(`${me}: bad placement ${q(x)}`);
    return x;
  };

  async function run(h: Record<string, unknown>, blobs: readonly Uint8Array[]): Promise<{ header: Record<string, unknown>; blobs?: Uint8Array[] }> {
    switch (h['op']) {
      case 'data': {
        // (no secret in it: the operator's own set-up, told to the driver in full)
        if (o.data === undefined) throw new PolicyError('data', `${me} serves no data: its operator starts it with --data (a dataset range such as mnist:0-20000, or a module serving its clients' values)`, { party: me });
        if (typeof h['source'] !== 'string' || h['source'].length > 256) throw new RangeError(`${me}: bad data source name`);
        const type = typeFromJson(h['type']);
        // the driver names the type in full: no reply ever describes a client's value (its shape included)
        if (!isConcrete(type)) throw new RangeError(`${me}: data of a type with unknown dimensions (${String(type)}); remote data needs known ones`);
        const values = new Map<string, RtValue>();
        for (const [i, c] of clients.entries()) values.set(c, fromJs(await o.data(h['source'], { name: c, index: i }), type, `data of ${c}`));
        put(h['out'], 'CLIENTS', values);
        return { header: { ok: true } };
      }
      case 'broadcast': {
        const p = placementOf(h['placement']);
        const v = valueFromParts(h['type'], blobs[0] ?? new Uint8Array(0), `${me}: broadcast value`);
        put(h['out'], p, new Map(partiesAt(p).map((c) => [c, v])));
        return { header: { ok: true } };
      }
      case 'map': {
        const p = placementOf(h['placement']);
        const def = typeof h['fn'] === 'string' ? registeredLocal(h['fn']) : undefined;
        if (def === undefined) throw new PolicyError('computation', `${q(h['fn'])} is not a local computation registered at this player`, { party: me });
        // no reply describes a value: a result type must be known before the values exist
        if (!isConcrete(def.resultType)) throw new RangeError(`${me}: ${q(h['fn'])} has a result type with unknown dimensions (${String(def.resultType)}); remote values need known ones`);
        const src = held(h['arg'], p);
        const values = new Map<string, RtValue>();
        for (const [c, v] of src.values) values.set(c, await runLocal(def, v));
        put(h['out'], p, values);
        return { header: { ok: true } };
      }
      case 'zip': {
        const p = placementOf(h['placement']);
        const args = Array.isArray(h['args']) ? h['args'].map((r) => held(r, p)) : [];
        if (args.length === 0) throw new RangeError(`${me}: zip of nothing`);
        const names = Array.isArray(h['names']) ? (h['names'] as (string | null)[]) : [];
        const values = new Map<string, RtValue>();
        for (const c of partiesAt(p)) {
          const els = args.map((a) => a.values.get(c)!);
          values.set(c, new StructValue(new StructType(els.map((e, i) => [names[i] ?? undefined, concreteType(e)] as const)), els));
        }
        put(h['out'], p, values);
        return { header: { ok: true } };
      }
      case 'aggregate': {
        const plan = planFromBytes(blobs[0] ?? new Uint8Array(0));
        const planDigest = createHash('sha256').update(blobs[0]!).digest();
        o.checkPlan?.(plan);
        const r = rolesFor(plan);
        // this player's place in the plan: under its session's driver, every party it is named as one it runs
        if (plan.server !== o.driver) throw new PolicyError('roster', `the plan names '${plan.server}' as SERVER, this session's driver is '${o.driver}'`, { party: me });
        const unhosted = plan.clients.find((c) => roleTransport.isLocal(c) && !hosted.has(c));
        if (unhosted !== undefined) throw new PolicyError('roster', `the plan names client '${unhosted}', which this player does not host`, { party: me });
        const mine = plan.clients.filter((c) => hosted.has(c));
        // (an aggregator of the plan that takes no part in it, e.g. server2 on ABY3's fused path, runs no role)
        const participants = participantsOf(r, plan);
        const index = participants.includes(me) ? plan.aggregators.indexOf(me) : -1;
        if (mine.length === 0 && index < 0) throw new PolicyError('roster', 'the plan gives this player no part (none of its clients, not an aggregator taking part)', { party: me });
        const value = mine.length > 0 ? held(h['value'], 'CLIENTS') : undefined;
        const weight = mine.length > 0 && h['weight'] !== undefined ? held(h['weight'], 'CLIENTS') : undefined;
        const common = { roles: r, plan, policy: o.policy, ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}) };
        // this player's agreement (the digest of every command it was sent, this one included; of its plan; its own minimum of contributors)
        const min = Buffer.alloc(4);
        min.writeUInt32BE(Math.min(o.policy.minContributors, 0xffffffff));
        const agreed = Buffer.concat([transcript.copy().digest(), planDigest, min]);
        // no aggregator to hold the gate (SecAgg): the client players check one another before their clients send their inputs
        const peerGate = r.aggregatorCount === 0 && mine.length > 0;
        const got = new Map<string, Promise<Uint8Array>>();
        const clientGate = peerGate ? { releaseGate: (peers?: readonly string[]) => clientAgreement(plan, got, agreed, peers ?? plan.clients) } : {};
        // every party this player runs is checked (its own policy, its place, a client's input) before any of them sends
        const parties = mine.map((c) => {
          const v = value!.values.get(c);
          if (v === undefined) throw new RangeError(`${me}: no value of ${q(c)}`);
          const note = (n: number) => o.log?.(`${c}: ${n} value(s) outside the plan's range or not finite were clipped (not sent to anyone)`);
          // sanitized, and clamped into what the protocol can encode (a refusal there would tell the driver about the value)
          const input = sanitizeForRole(r, plan, { values: leavesOf(v).map((t) => t.data), ...(weight ? { weight: Number(leavesOf(weight.values.get(c)!)[0]!.data[0]!) } : {}) }, note);
          return prepareRole(protoTransport, { ...common, role: 'client', index: plan.clients.indexOf(c), input, ...clientGate });
        });
        if (index >= 0) parties.push(prepareRole(protoTransport, { ...common, role: 'aggregator', index, releaseGate: (contributors) => agreement(plan, planDigest, contributors), ...(o.collectMs === undefined ? {} : { collectMs: o.collectMs }) }));
        if (mine.length > 0) {
          // every client player states, to every aggregator, which commands it was sent in this session
          // (a digest of all of them, this one included) and which plan it runs (the plan's own digest, for
          // an aggregator to compare with its own); the aggregators release nothing unless all agree
          // (and its own minimum of contributors, for the survivors when some drop out)
          if (peerGate) {
            // (SecAgg: to every other client player of the plan, which check it before their clients send their inputs; queued
            // before this player's clients advertise. Not awaited: a peer that is gone (a dropout) must not fail this player's
            // part, and one that needs it and does not get it refuses at its own gate: fail closed)
            for (const a of new Set(plan.clients.map(hostOf))) {
              if (a === me) continue;
              roleTransport.send(me, a, agreeKey(o.session, plan.invocationId), new Uint8Array(agreed)).catch((e: unknown) => o.log?.(`${me}: agreement to ${a} not sent: ${printable((e as Error).message ?? String(e))}`));
            }
          } else await Promise.all([...new Set(participants.map(hostOf))].map((a) => roleTransport.send(me, a, agreeKey(o.session, plan.invocationId), new Uint8Array(agreed))));
        }
        const results = await Promise.all(parties.map((p) => p.run()));
        if (index >= 0 && plan.target === 'AGGREGATORS') {
          const result = results[results.length - 1];
          if (result === undefined) throw new Error(`${me}: the aggregator role returned no aggregate`);
          const type = typeFromJson(h['resultType']);
          const leafTypes = leavesTypes(type);
          const value = fromLeaves(type, leafTypes.map((t, j) => toResultLeaf(result.leaves[j], t, plan.leaves[j]!.path, `aggregate of ${plan.invocationId}`)));
          put(h['out'], 'AGGREGATORS', new Map([[me, value]]));
          // (which clients the aggregate holds, when some dropped out: names of the plan's roster, nothing of a value)
          if (result.contributors !== undefined) return { header: { ok: true, contributors: [...result.contributors] } };
        }
        return { header: { ok: true } };
      }
      case 'collect': {
        // federatedCollect: each client's value, IN THE CLEAR, to every aggregator party (only with this party's opt-in)
        const parties = Array.isArray(h['clients']) ? (h['clients'] as unknown[]).filter((c): c is string => typeof c === 'string') : [];
        const aggs = Array.isArray(h['aggregators']) ? (h['aggregators'] as unknown[]).filter((c): c is string => typeof c === 'string') : [];
        if (typeof h['out'] !== 'number' || !Number.isInteger(h['out'])) throw new RangeError(`${me}: bad value number ${q(h['out'])}`);
        const key = `exec/${o.session}/collect/${h['out']}`;
        // the roster of a collect is checked like a plan's: config compute servers as aggregators, no sybil
        // clients, at least this party's minimum of distinct contributors (hosted clients count once)
        const asPlan = checkPlanShape({
          protocol: 'insecure-reference', invocationId: `${o.session}/collect/${h['out']}`, uri: 'federated_sum_at_aggregators', target: 'AGGREGATORS',
          leaves: [{ path: '', type: new TensorType('float32', [1]), size: 1 }], clients: parties, aggregators: aggs, server: o.driver, params: {},
        });
        o.checkPlan?.(asPlan);
        checkContributors(asPlan, o.policy, me);
        const mine = parties.filter((c) => hosted.has(c));
        if (mine.length > 0) {
          if (!o.policy.allowInsecure) {
            throw new PolicyError('protocol', "federatedCollect hands each client's value to the aggregators in the clear; this party did not opt in (--insecure-allow-plaintext)", { party: me });
          }
          const src = held(h['value'], 'CLIENTS');
          for (const c of mine) {
            const { type, blob } = valueToParts(src.values.get(c)!);
            const bytes = frame({ type }, [blob]);
            for (const a of aggs) await roleTransport.send(c, a, key, bytes);
          }
        }
        if (aggs.includes(me)) {
          const opts = o.timeoutMs ? { timeoutMs: o.timeoutMs } : {};
          const items = await Promise.all(
            parties.map(async (c) => {
              const f = unframe(await roleTransport.receive(me, c, key, opts), `${me}: value collected from ${c}`);
              return valueFromParts(f.header['type'], f.blobs[0] ?? new Uint8Array(0), `${me}: value collected from ${c}`);
            }),
          );
          const element = typeFromJson(h['element']);
          put(h['out'], 'AGGREGATORS', new Map([[me, new SequenceValue(new SequenceType(element), items)]]));
        }
        return { header: { ok: true } };
      }
      case 'lift': {
        // an intrinsic that runs on each member where it is held, with no function argument (sequence_sum)
        if (!LIFTABLE.includes(String(h['uri']))) throw new RangeError(`${me}: intrinsic ${q(h['uri'])} does not run on held values`);
        const found = intrinsicByUri(String(h['uri']))!;
        const impl = getIntrinsicImpl<LocalEnv, RtValue>(BACKEND, found.variant.uri)!;
        const p = placementOf(h['placement']);
        const src = held(h['arg'], p);
        const type = typeFromJson(h['type']) as FunctionType;
        const parties = [...src.values.keys()];
        const argType = type.parameter as FederatedType;
        const fv = new FederatedValue(argType, parties.map((c) => src.values.get(c)!));
        const r = (await impl({ def: found.def, variant: found.variant, type, params: {}, args: [fv], ctx: LIFT_ENV })) as FederatedValue;
        put(h['out'], p, new Map(parties.map((c, i) => [c, r.members[i]!])));
        return { header: { ok: true } };
      }
      case 'transfer': {
        // a value at AGGREGATORS (an aggregate) moves to SERVER; CLIENTS values never do
        const v = held(h['ref'], 'AGGREGATORS').values.get(me)!;
        const { type, blob } = valueToParts(v);
        return { header: { ok: true, type }, blobs: [blob] };
      }
      case 'dispose': {
        for (const r of Array.isArray(h['refs']) ? h['refs'] : []) store.delete(r as number);
        return { header: { ok: true } };
      }
      default:
        throw new RangeError(`${me}: unknown command ${JSON.stringify(h['op'])?.slice(0, 40)}`);
    }
  }

  let invocation = 0;
  /** One command (already in the transcript): its reply, and whether the session ends with it (its end, or its failure). */
  const handle = async (seq: number, f: Framed): Promise<{ reply: Framed; end: boolean }> => {
    const op = f.header['op'];
    const end = op === 'end';
    try {
      if (TRACE) mark(`${String(op)}>`);
      const r = end ? { header: { ok: true } } : await run(f.header, f.blobs);
      if (TRACE) mark(`<${String(op)}`);
      // one trace line per invocation (the driver disposes of its values when it ends)
      if (TRACE && (op === 'dispose' || end)) flushMarks(me, `${o.session}#${invocation++}`);
      return { reply: { header: r.header, blobs: r.blobs ?? [] }, end };
    } catch (e) {
      o.log?.(`${me}: command ${seq} failed: ${printable(e instanceof Error ? `${e.name}: ${e.message}` : String(e))}`);
      // a failed command ends the session here: a driver cannot probe this player's values one failure at a time
      return { reply: { header: { ok: false, ...describeFailure(e, me) }, blobs: [] }, end: true };
    }
  };
  for (let seq = 0; ; ) {
    // (through the abortable view: a Promise.race against `aborted` would keep every command until the session ends)
    let bytes: Uint8Array;
    const key = execKey(o.session, seq);
    try {
      bytes = await roleTransport.receive(me, o.driver, key);
    } catch (e) {
      if (wasAborted) return;
      throw e;
    }
    // one message: a command, or a batch of them (run in order, answered by one batch of replies up to the first failure)
    let items: Framed[];
    let batch = false;
    try {
      const f = unframe(bytes, `${me}: command`);
      batch = f.header['op'] === 'batch';
      items = batch ? unframeBatch(f, `${me}: command ${seq}`) : [f];
    } catch (e) {
      transcript.update(createHash('sha256').update(bytes).digest());
      o.log?.(`${me}: command ${seq} failed: ${printable(e instanceof Error ? `${e.name}: ${e.message}` : String(e))}`);
      await transport.send(me, o.driver, `${key}/reply`, frame({ ok: false, ...describeFailure(e, me) }));
      return;
    }
    const replies: Framed[] = [];
    let end = false;
    for (const [i, it] of items.entries()) {
      // each command as it runs (the aggregate's own included), whatever message it came in
      transcript.update(commandDigest(it));
      const r = await handle(seq + i, it);
      replies.push(r.reply);
      if (r.end) {
        end = true;
        break;
      }
    }
    await transport.send(me, o.driver, `${key}/reply`, batch ? frameBatch(replies) : frame(replies[0]!.header, replies[0]!.blobs));
    if (end) return;
    seq += items.length;
  }
}

/**
 * The digest of one command as the transcript takes it: its header (without
 * the frame's blob lengths) and its blobs, the same whether the command came
 * alone or in a batch.
 */
export function commandDigest(f: Framed): Buffer {
  const { blobs: _lengths, ...header } = f.header;
  const h = createHash('sha256').update(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeUInt32LE(f.blobs.length, 0);
  h.update(len);
  for (const b of f.blobs) {
    len.writeBigUInt64LE(BigInt(b.length), 0);
    h.update(len).update(b);
  }
  return h.digest();
}

/**
 * What a player tells the driver about a failure: a policy refusal in full
 * (its text is built from the plan and this player's own rules), a lost
 * link or a deadline by the peer it concerns (so that the driver can name
 * the player at fault, faults.ts), anything else without its class or
 * message (both may depend on a client's value).
 */
export function describeFailure(e: unknown, me: string): { error: string; rule?: string; party: string; peer?: string; peerFailure?: 'lost' | 'deadline' } {
  if (e instanceof PolicyError) return { error: e.message, rule: e.rule, party: e.party ?? me };
  const error = `${me}: the command failed (details in ${me}'s log)`;
  // a lost link or a deadline: the peer's name and which of the two, nothing else of the message
  if (e instanceof PeerError) return { error, party: me, peer: e.peer, peerFailure: /within \d+ ?ms/.test(e.message) ? 'deadline' : 'lost' };
  return { error, party: me };
}

/** A type with every dimension known. */
function isConcrete(t: Type): boolean {
  if (t.kind === 'tensor') return t.size !== null;
  if (t.kind === 'struct') return t.elements.every(([, e]) => isConcrete(e));
  if (t.kind === 'sequence') return isConcrete(t.element);
  return false;
}

function leavesTypes(t: Type): import('../../core/types.js').TensorType[] {
  if (t.kind === 'tensor') return [t];
  if (t.kind === 'struct') return t.elements.flatMap(([, e]) => leavesTypes(e));
  throw new RangeError(`expected a tensor or struct type, got ${String(t)}`);
}
