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
 * - Failures are answered with the error's class and, for a policy refusal,
 *   its rule and message; other detail stays in this player's log (an error
 *   message may quote a value).
 * - Agreement before any aggregate is revealed: a player hosting clients
 *   hashes what the driver told them since the previous aggregation (every
 *   command at CLIENTS, with its values: the weights and hyperparameters a
 *   learning round broadcasts) and sends that digest, with the plan's, to
 *   every aggregator; an aggregator takes part only if every client player
 *   reports the same digests as each other and its own plan's (PolicyError
 *   'agreement' otherwise, before its role sends a byte). A driver that
 *   sends a victim other weights than the rest (so that the aggregate
 *   isolates the victim's update), or another plan, gets nothing revealed.
 */
import { createHash, type Hash } from 'node:crypto';
import { PolicyError } from '../../core/errors.js';
import { registeredLocal } from '../../core/local.js';
import { typeFromJson } from '../../core/serialize.js';
import { getIntrinsicImpl, intrinsicByUri } from '../../core/intrinsics.js';
import { SequenceType, StructType, typeToJson, type FederatedType, type FunctionType, type Type } from '../../core/types.js';
import { FederatedValue, fromJs, fromLeaves, leavesOf, SequenceValue, StructValue, type RtValue } from '../../core/values.js';
import { planFromBytes, type AggregationPlan } from '../../aggregation/plan.js';
import { enforcePlan, type AggregationRoles, type ClientInput, type PartyContext, type RolePolicy } from '../../aggregation/roles.js';
import type { Transport } from '../../transport/channel.js';
import { PeerError, TransportError } from '../../transport/errors.js';
import { partyTransport } from '../../transport/view.js';
import { hostOf } from '../../transport/hosting.js';
import { BACKEND, runLocal, type LocalEnv } from '../executor.js';
import { toResultLeaf } from '../intrinsics.js';
import { concreteType, frame, frameBatch, unframe, unframeBatch, valueFromParts, valueToParts, type Framed } from './wire.js';
import { flushMarks, mark, TRACE, tracedTransport } from './trace.js';

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
  /** Where details of failures go (default: nowhere). */
  readonly log?: (line: string) => void;
  /**
   * Whether the clients and aggregators of a plan run the agreement before
   * it (see the module comment; default: every plan). A protocol whose
   * clients reach its aggregators only through SERVER (Paillier's sealed
   * boxes) cannot: the deploy layer says which.
   */
  readonly agreement?: (plan: AggregationPlan) => boolean;
}

type Placed = 'CLIENTS' | 'AGGREGATORS';
interface Held {
  readonly placement: Placed;
  readonly values: Map<string, RtValue>;
}

export const execKey = (session: string, seq: number): string => `exec/${session}/${seq}`;
/** Where a client player's agreement digest for an aggregation goes (to each aggregator). */
export const agreeKey = (session: string, invocationId: string): string => `exec/${session}/agree/${invocationId}`;
/** Commands the agreement covers: what the driver tells the clients (their values and what runs on them). */
const TOLD_CLIENTS = new Set(['data', 'broadcast', 'map', 'zip', 'lift']);

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

/** `t`, with every receive failing once the session is aborted. */
function abortable(t: Transport, aborted: Promise<typeof ABORTED>): Transport {
  return new Proxy(t, {
    get(target, prop, receiver) {
      if (prop === 'receive') {
        return (to: string, from: string, key: string, o?: object) =>
          Promise.race([target.receive(to, from, key, o), aborted.then(() => Promise.reject(new TransportError(`receive from '${from}': the driver aborted the session`)))]);
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** Answer the driver's commands until it ends the session. */
export async function servePlayerExecutor(transport: Transport, o: PlayerExecutorOptions): Promise<void> {
  const me = o.me;
  const aborted: Promise<typeof ABORTED> = transport.receive(me, o.driver, abortKey(o.session)).then(() => ABORTED as typeof ABORTED);
  aborted.catch(() => {});
  const roleTransport = abortable(transport, aborted);
  const clients = [...(o.clients ?? [])];
  const store = new Map<number, Held>();
  const rolesFor = (plan: AggregationPlan): AggregationRoles => {
    if (typeof o.roles === 'function') return o.roles(plan);
    const r = o.roles.find((x) => x.name === plan.protocol);
    if (r === undefined) throw new PolicyError('protocol', `protocol '${plan.protocol}' is not one this player takes part in (${o.roles.map((x) => x.name).join(', ') || 'none'})`, { party: me });
    return r;
  };
  const ctx = (party: string): PartyContext => ({ me: party, transport: tracedTransport(partyTransport(roleTransport, party), 1), policy: o.policy, ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}) });
  const held = (ref: unknown, placement: Placed): Held => {
    const h = typeof ref === 'number' ? store.get(ref) : undefined;
    if (h === undefined || h.placement !== placement) throw new RangeError(`${me}: no value #${String(ref)} at ${placement} here`);
    return h;
  };
  const partiesAt = (p: Placed): string[] => (p === 'CLIENTS' ? clients : [me]);
  const put = (out: unknown, placement: Placed, values: Map<string, RtValue>): Type | undefined => {
    if (typeof out !== 'number' || !Number.isInteger(out) || out < 0) throw new RangeError(`${me}: bad value number ${String(out)}`);
    if (store.has(out)) throw new RangeError(`${me}: value #${out} exists`);
    store.set(out, { placement, values });
    const types = [...values.values()].map((v) => JSON.stringify(typeToJson(concreteType(v))));
    if (types.some((t) => t !== types[0])) throw new RangeError(`${me}: the hosted clients' values differ in type`);
    return values.size === 0 ? undefined : concreteType(values.values().next().value!);
  };
  /** The commands to CLIENTS since the previous aggregation, hashed (with their values). */
  let transcript: Hash = createHash('sha256');
  /** Add a command as this player's clients receive it to the transcript (the same header and values at every client player in an honest session; framing aside). */
  const hear = (header: Record<string, unknown>, blobs: readonly Uint8Array[]): void => {
    if (!TOLD_CLIENTS.has(String(header['op'])) || (header['op'] !== 'data' && header['placement'] !== 'CLIENTS')) return;
    const { blobs: _lengths, ...h } = header;
    transcript.update(JSON.stringify(h));
    for (const b of blobs) transcript.update(createHash('sha256').update(b).digest());
  };
  interface Agreement {
    /** The plan and what the agreement is about (throws what the plan's checks throw). */
    parsed(): { plan: AggregationPlan; planDigest: Uint8Array; key: string; agree: boolean };
    /** This player's digest sent to every aggregator (a client player whose clients accept the plan), else resolved. */
    sent: Promise<void>;
  }
  /** Agreements of aggregate commands received but not run yet (by their header). */
  const agreements = new Map<Record<string, unknown>, Agreement>();
  /**
   * At an aggregate command's arrival (before the commands ahead of it in
   * its batch run, e.g. a training step): close the transcript and, where
   * this player hosts clients of the plan and they accept it, send the
   * digest to the aggregators at once, so that they can agree while the
   * clients compute. Checks failing here fail the command when it runs.
   */
  const agreeEarly = (h: Record<string, unknown>, blobs: readonly Uint8Array[]): Agreement => {
    const told = transcript.digest();
    transcript = createHash('sha256');
    let parsed: ReturnType<Agreement['parsed']> | undefined;
    let error: unknown;
    try {
      const planBytes = blobs[0] ?? new Uint8Array(0);
      const plan = planFromBytes(planBytes);
      o.checkPlan?.(plan);
      parsed = { plan, planDigest: createHash('sha256').update(planBytes).digest(), key: agreeKey(o.session, plan.invocationId), agree: o.agreement?.(plan) ?? true };
    } catch (e) {
      error = e;
    }
    let sent: Promise<void> = Promise.resolve();
    if (parsed !== undefined && parsed.agree) {
      const { plan, planDigest, key } = parsed;
      const mine = plan.clients.filter((c) => clients.includes(c));
      try {
        // each hosted client's own checks of the plan first: a client that refuses sends nothing, not even the digest
        const r = mine.length > 0 ? rolesFor(plan) : undefined;
        for (const c of mine) enforcePlan(r!, ctx(c), plan, 'client');
        if (mine.length > 0) {
          const digest = new Uint8Array(64);
          digest.set(planDigest, 0);
          digest.set(told, 32);
          sent = Promise.all(plan.aggregators.map((a) => roleTransport.send(me, a, key, digest))).then(() => undefined);
          sent.catch(() => undefined);
        }
      } catch (e) {
        error = e;
      }
    }
    return {
      parsed: () => {
        if (error !== undefined) throw error;
        return parsed!;
      },
      sent,
    };
  };
  /** At an aggregator: every client player of the plan reports this plan and the same transcript, or this player takes no part. */
  const checkAgreement = async (plan: AggregationPlan, planDigest: Uint8Array, key: string): Promise<void> => {
    const hosts = [...new Set(plan.clients.map(hostOf))];
    const opts = o.timeoutMs ? { timeoutMs: o.timeoutMs } : {};
    const got = await Promise.all(hosts.map((p) => roleTransport.receive(me, p, key, opts)));
    got.forEach((d, i) => {
      if (d.byteLength !== 64) throw new PolicyError('agreement', `'${hosts[i]}' sent a ${d.byteLength}-byte agreement for ${plan.invocationId}, expected 64`, { party: me });
      if (!Buffer.from(d.subarray(0, 32)).equals(planDigest)) throw new PolicyError('agreement', `the driver sent '${hosts[i]}' another plan for ${plan.invocationId} than this player's: ${me} takes no part`, { party: me });
    });
    const first = Buffer.from(got[0]!.subarray(32, 64));
    const other = got.findIndex((d) => !first.equals(Buffer.from(d.subarray(32, 64))));
    if (other >= 0) {
      throw new PolicyError('agreement', `the driver told the clients of '${hosts[0]}' and '${hosts[other]}' different things before ${plan.invocationId} (other values, e.g. weights, or other computations): ${me} takes no part`, { party: me });
    }
  };
  const placementOf = (x: unknown): Placed => {
    if (x !== 'CLIENTS' && x !== 'AGGREGATORS') throw new RangeError(`${me}: bad placement ${String(x)}`);
    return x;
  };

  async function run(h: Record<string, unknown>, blobs: readonly Uint8Array[]): Promise<{ header: Record<string, unknown>; blobs?: Uint8Array[] }> {
    switch (h['op']) {
      case 'data': {
        if (o.data === undefined) throw new RangeError(`${me}: this player serves no data`);
        if (typeof h['source'] !== 'string' || h['source'].length > 256) throw new RangeError(`${me}: bad data source name`);
        const type = typeFromJson(h['type']);
        const values = new Map<string, RtValue>();
        for (const [i, c] of clients.entries()) values.set(c, fromJs(await o.data(h['source'], { name: c, index: i }), type, `data of ${c}`));
        const t = put(h['out'], 'CLIENTS', values);
        return { header: { ok: true, ...(t ? { type: typeToJson(t) } : {}) } };
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
        if (def === undefined) throw new PolicyError('computation', `'${String(h['fn']).slice(0, 80)}' is not a local computation registered at this player`, { party: me });
        const src = held(h['arg'], p);
        const values = new Map<string, RtValue>();
        for (const [c, v] of src.values) values.set(c, await runLocal(def, v));
        const t = put(h['out'], p, values);
        return { header: { ok: true, ...(t ? { type: typeToJson(t) } : {}) } };
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
        const t = put(h['out'], p, values);
        return { header: { ok: true, ...(t ? { type: typeToJson(t) } : {}) } };
      }
      case 'aggregate': {
        // the agreement (told and, at a client player, sent) when the command arrived: see `agreeEarly`
        const early = agreements.get(h) ?? agreeEarly(h, blobs);
        agreements.delete(h);
        const { plan, planDigest, key, agree } = early.parsed();
        await early.sent;
        const r = rolesFor(plan);
        const mine = plan.clients.filter((c) => clients.includes(c));
        if (agree && plan.aggregators.includes(me)) await checkAgreement(plan, planDigest, key);
        const value = mine.length > 0 ? held(h['value'], 'CLIENTS') : undefined;
        const weight = mine.length > 0 && h['weight'] !== undefined ? held(h['weight'], 'CLIENTS') : undefined;
        const tasks: Promise<unknown>[] = mine.map((c) => {
          const v = value!.values.get(c);
          if (v === undefined) throw new RangeError(`${me}: no value of ${c}`);
          const input: ClientInput = { values: leavesOf(v).map((t) => t.data), ...(weight ? { weight: Number(leavesOf(weight.values.get(c)!)[0]!.data[0]!) } : {}) };
          return r.client(ctx(c), plan, input);
        });
        const index = plan.aggregators.indexOf(me);
        const atAggregator = index >= 0 ? r.aggregator(ctx(me), plan, index) : undefined;
        const [agg] = await Promise.all([atAggregator, ...tasks]);
        if (index >= 0 && plan.target === 'AGGREGATORS') {
          const result = agg as Awaited<ReturnType<AggregationRoles['aggregator']>>;
          if (result === undefined) throw new Error(`${me}: the aggregator role returned no aggregate`);
          const type = typeFromJson(h['resultType']);
          const leafTypes = leavesTypes(type);
          const value = fromLeaves(type, leafTypes.map((t, j) => toResultLeaf(result.leaves[j], t, plan.leaves[j]!.path, `aggregate of ${plan.invocationId}`)));
          put(h['out'], 'AGGREGATORS', new Map([[me, value]]));
        }
        return { header: { ok: true } };
      }
      case 'collect': {
        // federatedCollect: each client's value, IN THE CLEAR, to every aggregator party (only with this party's opt-in)
        const parties = Array.isArray(h['clients']) ? (h['clients'] as unknown[]).filter((c): c is string => typeof c === 'string') : [];
        const aggs = Array.isArray(h['aggregators']) ? (h['aggregators'] as unknown[]).filter((c): c is string => typeof c === 'string') : [];
        const key = `exec/${o.session}/collect/${String(h['out'])}`;
        const mine = parties.filter((c) => clients.includes(c));
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
        if (!LIFTABLE.includes(String(h['uri']))) throw new RangeError(`${me}: intrinsic ${String(h['uri']).slice(0, 60)} does not run on held values`);
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
  /** One command: its reply (a failure's, if it fails), and whether it ends the session. */
  const handle = async (seq: number, header: Record<string, unknown>, blobs: readonly Uint8Array[]): Promise<{ reply: Framed; end: boolean }> => {
    const end = header['op'] === 'end';
    try {
      if (TRACE) mark(`${String(header['op'])}>`);
      const r = end ? { header: { ok: true } } : await run(header, blobs);
      if (TRACE) mark(`<${String(header['op'])}`);
      // one line per invocation (the driver disposes of its values when it ends)
      if (TRACE && (header['op'] === 'dispose' || end)) flushMarks(me, `${o.session}#${invocation++}`);
      return { reply: { header: r.header, blobs: r.blobs ?? [] }, end };
    } catch (e) {
      o.log?.(`${me}: command ${seq} failed: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      return { reply: { header: { ok: false, ...describeFailure(e, me) }, blobs: [] }, end };
    }
  };
  /**
   * As the commands arrive, in order: the transcript, and each aggregation's
   * agreement; resolves once the agreements are on their way (a training
   * step ahead of the aggregation keeps this process busy: the messages
   * must leave before it starts).
   */
  const prepare = async (items: readonly Framed[]): Promise<void> => {
    const sent: Promise<void>[] = [];
    for (const it of items) {
      if (it.header['op'] === 'aggregate') {
        const a = agreeEarly(it.header, it.blobs);
        agreements.set(it.header, a);
        sent.push(a.sent);
      } else hear(it.header, it.blobs);
    }
    if (sent.length === 0) return;
    await Promise.all(sent).catch(() => undefined);
    await new Promise((r) => setImmediate(r));
  };
  for (let seq = 0; ; ) {
    const key = execKey(o.session, seq);
    const bytes = await Promise.race([transport.receive(me, o.driver, key), aborted]);
    if (typeof bytes === 'symbol') return;
    let out: Uint8Array;
    let end = false;
    let f: Framed | undefined;
    try {
      f = unframe(bytes, `${me}: command`);
    } catch (e) {
      o.log?.(`${me}: command ${seq} failed: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      f = undefined;
      out = frame({ ok: false, ...describeFailure(e, me) });
    }
    if (f !== undefined && f.header['op'] === 'batch') {
      // commands in order, one batch of replies
      let items: Framed[];
      try {
        items = unframeBatch(f, `${me}: command ${seq}`);
      } catch (e) {
        o.log?.(`${me}: command ${seq} failed: ${(e as Error).message}`);
        await transport.send(me, o.driver, `${key}/reply`, frame({ ok: false, ...describeFailure(e, me) }));
        seq++;
        continue;
      }
      await prepare(items);
      const replies: Framed[] = [];
      for (const [i, it] of items.entries()) {
        const r = await handle(seq + i, it.header, it.blobs);
        replies.push(r.reply);
        if (r.end) {
          end = true;
          break;
        }
      }
      out = replies.length === 1 && items.length === 1 ? frame(replies[0]!.header, replies[0]!.blobs) : frameBatch(replies);
      seq += items.length;
    } else if (f !== undefined) {
      await prepare([f]);
      const r = await handle(seq, f.header, f.blobs);
      out = frame(r.reply.header, r.reply.blobs);
      end = r.end;
      seq++;
    } else seq++;
    await transport.send(me, o.driver, `${key}/reply`, out!);
    if (end) return;
  }
}

/**
 * What a player tells the driver about a failure: a policy refusal in full;
 * a lost link or a deadline with the peer it concerns (names and keys only,
 * nothing of a value), so that the driver can name the player at fault;
 * anything else by class only.
 */
export function describeFailure(e: unknown, me: string): { error: string; rule?: string; party: string; peer?: string; peerFailure?: 'lost' | 'deadline' } {
  if (e instanceof PolicyError) return { error: e.message, rule: e.rule, party: e.party ?? me };
  if (e instanceof PeerError) return { error: `${me}: ${e.message.slice(0, 500)}`, party: me, peer: e.peer, peerFailure: /within \d+ ?ms/.test(e.message) ? 'deadline' : 'lost' };
  const name = e instanceof Error ? e.name : typeof e;
  return { error: `${me}: ${name} (details in ${me}'s log)`, party: me };
}

function leavesTypes(t: Type): import('../../core/types.js').TensorType[] {
  if (t.kind === 'tensor') return [t];
  if (t.kind === 'struct') return t.elements.flatMap(([, e]) => leavesTypes(e));
  throw new RangeError(`expected a tensor or struct type, got ${String(t)}`);
}
