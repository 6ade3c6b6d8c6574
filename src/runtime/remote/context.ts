/**
 * The driver's side of the remote executor: an ExecutionContext that runs a
 * federated computation with SERVER in this process and CLIENTS and
 * AGGREGATORS at the players (`servePlayerExecutor`), over any Transport (a
 * MemoryHub in simulation, gRPC across processes).
 *
 * The driver interprets the computation as `localContext` does; values placed
 * at CLIENTS or AGGREGATORS are references to values the players hold
 * (`RemoteRef`), and the intrinsics that touch them become commands:
 * broadcast, map and zip (registered local computations only), aggregations
 * (every party runs its role of the bound protocol; SERVER's runs here), and
 * moving an AGGREGATORS value to SERVER. Client data is never an argument:
 * a {T}@CLIENTS parameter takes `clientData('<source>')`, which each
 * data-owner player resolves from its own data source.
 */
import { FedArgumentError, FedValueError } from '../../core/errors.js';
import type { ExecutionContext } from '../../core/context.js';
import { getIntrinsicImpl, INTRINSICS, registerIntrinsicImpl, secureSumBound } from '../../core/intrinsics.js';
import { registeredName } from '../../core/local.js';
import { typeFromJson } from '../../core/serialize.js';
import type { Computation } from '../../core/tracing.js';
import { FederatedType, isIntegerDType, mapTensorLeaves, packParameters, SequenceType, StructType, tensorLeaves, TensorType, typeToJson, type Type } from '../../core/types.js';
import { FederatedValue, fromJs, fromLeaves, StructValue, TensorValue, toJs, toJsTyped, type RtValue } from '../../core/values.js';
import { checkPlan, planToBytes, type AggregationPlan } from '../../aggregation/plan.js';
import type { AggregationUri } from '../../aggregation/protocol.js';
import { participantsOf, type AggregationRoles, type RolePolicy } from '../../aggregation/roles.js';
import { prepareRole } from '../../aggregation/party.js';
import type { Transport } from '../../transport/channel.js';
import { BACKEND, EMPTY_SCOPE, evaluate, localDefOf, type LocalEnv } from '../executor.js';
import { CLEAR_EQUIVALENT, toResultLeaf, type IntrinsicCall } from '../intrinsics.js';
import { abortable, abortKey } from './player.js';
import { valueFromParts, valueToParts } from './wire.js';
import { RemoteSession, type Dropout } from './driver-session.js';
import { PeerError } from '../../transport/errors.js';

export type { Dropout };
import { flushMarks, mark, tracedTransport } from './trace.js';

export { RemoteCommandError, RemotePlayerError } from './faults.js';

export const REMOTE_BACKEND = 'remote';

/** A {T}@CLIENTS argument: the name of a data source every data-owner player resolves locally. */
export class ClientData {
  constructor(readonly source: string) {
    if (typeof source !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,255}$/.test(source)) throw new TypeError(`clientData: "source" expected a data source name, got ${JSON.stringify(source)}`);
  }
}
export const clientData = (source: string): ClientData => new ClientData(source);

/** A value placed at CLIENTS or AGGREGATORS, held by the players under number `ref`. */
export class RemoteRef extends FederatedValue {
  constructor(
    type: FederatedType,
    readonly ref: number,
    /** The concrete member type (known dimensions). */
    readonly memberType: Type,
  ) {
    super(type, []);
    Object.defineProperty(this, 'members', {
      get(): never {
        throw new FedArgumentError('VALUE_FORM', '', `a value placed at ${type.placement.name} lives at the players; this intrinsic cannot read it in a remote context`);
      },
    });
  }
}

export interface RemotePlayer {
  readonly name: string;
  /** The CLIENTS members it hosts (party names), in order. */
  readonly clients: readonly string[];
}

export interface RemoteExecutionOptions {
  /** The driver's transport (the SERVER party is local to it). */
  readonly transport: Transport;
  /** The SERVER party: this process. */
  readonly server: string;
  /** Session id shared with the players. */
  readonly session: string;
  /** Every player taking commands: data owners (with their hosted clients) and aggregator players. */
  readonly players: readonly RemotePlayer[];
  /** The protocol every aggregation runs. */
  readonly roles: AggregationRoles;
  /** The aggregator parties (players), in the protocol's order (default roles.aggregatorNames). */
  readonly aggregators?: readonly string[];
  /** The driver's own rules as the SERVER party. */
  readonly policy: RolePolicy;
  /** Deadline of each reply and protocol receive, ms (default 10 minutes). */
  readonly timeoutMs?: number;
  /**
   * Go on without a client player whose link is lost in an aggregation, when
   * the protocol completes without it (a dropout-tolerant role set, e.g.
   * `mpcRoles({ dropout: true })`, whose aggregators decide who contributed):
   * the dropout is recorded (`RemoteContext.dropouts`, `onDropout`) and the
   * player left out of the rest of the session. Default false: the
   * invocation fails, naming the player.
   */
  readonly dropout?: boolean;
  /** Called at each dropout (e.g. to log it). */
  readonly onDropout?: (d: Dropout) => void;
  /**
   * SERVER's own collection deadline (roles.ts `PartyContext.collectMs`),
   * for protocols in which SERVER collects the clients' contributions
   * (Paillier: SERVER routes their sealed boxes, and marks a client whose
   * box is not in by then absent). Default: none (every client's box).
   */
  readonly collectMs?: number;
}

export interface RemoteContext extends ExecutionContext {
  /** Number of CLIENTS members across the players still in the session. */
  readonly numClients: number;
  /** The dropouts so far, in order. */
  readonly dropouts: readonly Dropout[];
  /**
   * `invoke`, with the result's tensors of rank >= 1 as typed arrays
   * (`toJsTyped`: the same numbers, no number[] of a model's size).
   */
  invokeTyped(comp: Computation, args: readonly unknown[]): Promise<unknown>;
  /** End the session at every player (they stop serving it). */
  close(): Promise<void>;
}

interface RemoteEnv extends LocalEnv {
  readonly session: RemoteSession;
}

/** A type with every dimension known (a value of it can be described without asking the players). */
function isConcrete(t: Type): boolean {
  if (t.kind === 'tensor') return t.size !== null;
  if (t.kind === 'struct') return t.elements.every(([, e]) => isConcrete(e));
  return false;
}


type Call = IntrinsicCall;
const session = (c: Call): RemoteSession => (c.ctx as RemoteEnv).session;
const resultType = (c: Call): FederatedType => c.type.result as FederatedType;
/** A value held by the players, for a command that reads it (a deferred aggregate is run first, to AGGREGATORS). */
const ref = async (c: Call, v: RtValue, what: string): Promise<RemoteRef> => {
  if (!(v instanceof RemoteRef)) throw new FedArgumentError('VALUE_FORM', what, `expected a value held by the players, got a ${v.kind} value`);
  await session(c).atAggregators(v);
  return v;
};
const isRef = (v: RtValue | undefined): boolean => v instanceof RemoteRef || (v?.kind === 'struct' && v.elements.some(isRef));
const playersAt = (s: RemoteSession, p: string): string[] => (p === 'CLIENTS' ? s.clientPlayers : [...s.aggregators]);

async function broadcast(c: Call, value: RtValue, placement: 'CLIENTS' | 'AGGREGATORS'): Promise<RtValue> {
  const s = session(c);
  const out = s.newRef();
  const { type, blob } = valueToParts(value);
  s.pipeline(playersAt(s, placement), { op: 'broadcast', out, placement, type }, [blob]);
  return new RemoteRef(resultType(c), out, typeFromJson(type));
}

async function map(c: Call): Promise<RtValue> {
  const s = session(c);
  const def = localDefOf(c.args[0]!);
  const name = def === undefined ? undefined : registeredName(def);
  if (name === undefined) {
    throw new FedArgumentError('VALUE_FORM', 'fn', `${c.variant.uri} in a remote context takes a local computation registered by name (registerLocalComputation) at every player; source text never travels`);
  }
  const arg = await ref(c, c.args[1]!, 'value');
  const placement = arg.type.placement.name as 'CLIENTS' | 'AGGREGATORS';
  const out = s.newRef();
  const players = playersAt(s, placement);
  // the players never describe the values they hold: the result type is the computation's own
  if (!isConcrete(def!.resultType)) {
    throw new FedArgumentError('VALUE_FORM', 'fn', `${name} has a result type with unknown dimensions (${String(def!.resultType)}); in a remote context pass { result } with known ones to localComputation`);
  }
  s.pipeline(players, { op: 'map', out, placement, fn: name, arg: arg.ref });
  return new RemoteRef(resultType(c), out, def!.resultType);
}

async function zip(c: Call): Promise<RtValue> {
  const s = session(c);
  const st = c.args[0] as StructValue;
  const rt = resultType(c);
  const refs: RemoteRef[] = [];
  for (const [i, e] of st.elements.entries()) refs.push(await ref(c, e, `value[${i}]`));
  const placement = rt.placement.name as 'CLIENTS' | 'AGGREGATORS';
  const out = s.newRef();
  const players = playersAt(s, placement);
  const names = st.type.elements.map(([n]) => n ?? null);
  s.pipeline(players, { op: 'zip', out, placement, args: refs.map((r) => r.ref), names });
  return new RemoteRef(rt, out, new StructType(refs.map((r, i) => [names[i] ?? undefined, r.memberType] as const)));
}

/**
 * An aggregation: every party runs its role of the bound protocol (SERVER's
 * here). An aggregate placed at AGGREGATORS is deferred to its first use: if
 * that use is its transfer to SERVER, the protocol reveals it to SERVER only
 * (no aggregator holds it, and ABY3 takes its fused path, mpc-fused.ts);
 * any other use (or the end of the invocation) runs it to AGGREGATORS as
 * written. The value is the same either way (the same ring sums and
 * decoding; the result leaf's rounding at SERVER instead of at an aggregator).
 */
async function aggregation(c: Call): Promise<RtValue> {
  const s = session(c);
  const o = s.o;
  const value = await ref(c, c.args[0]!, 'value');
  const weight = c.args.length === 2 ? await ref(c, c.args[1]!, 'weights') : undefined;
  const rt = resultType(c);
  const isMean = c.def.name === 'federatedMean';
  const member = value.memberType;
  const leaves = tensorLeaves(member).map((l) => ({ path: l.path, type: l.type, size: l.type.size! }));
  const resultLeafTypes = leaves.map((l) => (isMean && isIntegerDType(l.type.dtype) ? new TensorType('float64', l.type.shape) : l.type));
  let k = 0;
  const concrete = mapTensorLeaves(rt.member, () => resultLeafTypes[k++]!);
  const uri = (c.variant.protocol ? c.variant.uri : CLEAR_EQUIVALENT[c.variant.uri]) as AggregationUri;
  const invocationId = s.newAggregation();
  const out = s.newRef();
  const what = `${c.def.name} (${c.variant.uri} via '${o.roles.name}')`;
  const run = async (target: 'AGGREGATORS' | 'SERVER'): Promise<RtValue | undefined> => {
    const plan: AggregationPlan = checkPlan({
      protocol: o.roles.name,
      invocationId,
      uri,
      target,
      leaves,
      ...(c.def.name === 'federatedSecureSum' ? { bound: secureSumBound(c.params) } : {}),
      clients: s.clients,
      aggregators: s.aggregators,
      server: o.server,
      params: o.roles.params,
    });
    // (an aggregator that takes no part in this plan, e.g. server2 on ABY3's fused path, is not asked)
    const players = [...new Set([...s.clientPlayers, ...participantsOf(o.roles, plan)])];
    const header = { op: 'aggregate', value: value.ref, ...(weight ? { weight: weight.ref } : {}), out, resultType: typeToJson(concrete) };
    // SERVER's own checks, before the plan leaves this process; its role stops waiting when a player fails
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const own = prepareRole(tracedTransport(abortable(o.transport, stopped, 'the aggregation failed at a player'), 1), { roles: o.roles, plan, role: 'server', policy: o.policy, timeoutMs: o.timeoutMs ?? 600_000, ...(o.collectMs === undefined ? {} : { collectMs: o.collectMs }) });
    let atServer;
    let replies;
    // dropout tolerance: a client player (not an aggregator) whose link is lost, by a deadline or otherwise, may be left out
    const lost: string[] = [];
    const tolerable = (p: string, e: unknown): boolean => o.dropout === true && !s.aggregators.includes(p) && e instanceof PeerError && e.peer === p;
    try {
      mark(`aggregate>${target}`);
      const blobs = [planToBytes(plan)];
      [atServer, replies] = await Promise.all([
        s.track(o.server, own.run()).then((r) => (mark('server<'), r)),
        Promise.all(players.map((p) => s.command(p, header, blobs).catch((e: unknown) => {
          if (!tolerable(p, e)) throw e;
          lost.push(p);
          return undefined;
        }))).then((r) => (mark('replies<'), r)),
      ]);
    } catch (e) {
      stop();
      // a failed pipelined command (a broadcast, a map) is the cause of what failed here; its reply is in by now,
      // while the players still in the aggregation may wait for this process's stopped role (SecAgg's clients wait
      // for SERVER): they are not waited for past a moment (the session's failure tells them to stop)
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([s.settle(), new Promise<void>((r) => (timer = setTimeout(r, Math.min(1000, o.timeoutMs ?? 600_000))))]);
      } finally {
        clearTimeout(timer);
      }
      throw e;
    }
    // who contributed: SERVER's own role says, or (target AGGREGATORS) the aggregators, who must agree
    const named = target === 'SERVER' ? [atServer?.contributors] : players.flatMap((p, k) => (s.aggregators.includes(p) ? [replies[k]!.header['contributors'] as readonly string[] | undefined] : []));
    const contributors = named[0];
    if (named.some((c) => JSON.stringify(c) !== JSON.stringify(contributors))) throw new FedValueError('PROTOCOL_RESULT', '', `the aggregators of ${invocationId} name different contributors`);
    if (contributors !== undefined && !(Array.isArray(contributors) && contributors.every((c) => plan.clients.includes(c)))) throw new FedValueError('PROTOCOL_RESULT', '', `the contributors named for ${invocationId} are not clients of its plan`);
    if (lost.length > 0 || contributors !== undefined) {
      const d: Dropout = Object.freeze({ invocationId, clients: Object.freeze(plan.clients.filter((c) => !(contributors ?? plan.clients).includes(c))), players: Object.freeze([...lost]) });
      s.lose(d);
      o.onDropout?.(d);
    }
    await s.settle();
    if (target === 'AGGREGATORS') return undefined;
    if (atServer === undefined) throw new FedValueError('PROTOCOL_RESULT', '', `protocol '${o.roles.name}' gave SERVER no aggregate`);
    return fromLeaves(concrete, resultLeafTypes.map((t, j) => toResultLeaf(atServer.leaves[j], t, `result${leaves[j]!.path}`, what)));
  };
  if (rt.placement.name === 'AGGREGATORS') {
    const r = new RemoteRef(rt, out, concrete);
    s.defer(r, run);
    return r;
  }
  return new FederatedValue(rt, [(await run('SERVER'))!]);
}

async function transferToServer(c: Call): Promise<RtValue> {
  const s = session(c);
  const v = c.args[0]!;
  // a deferred aggregate: revealed to SERVER only
  const direct = v instanceof RemoteRef ? await s.toServer(v) : undefined;
  if (direct !== undefined) return new FederatedValue(resultType(c), [direct]);
  const held = await ref(c, v, 'value');
  await s.settle();
  const r = await s.command(s.aggregators[0]!, { op: 'transfer', ref: held.ref });
  return new FederatedValue(resultType(c), [valueFromParts(r.header['type'], r.blobs[0] ?? new Uint8Array(0), 'value moved to SERVER')]);
}

/** federatedCollect to AGGREGATORS: every client's value in the clear to every aggregator party (each client's policy decides). */
async function collect(c: Call): Promise<RtValue> {
  const s = session(c);
  const v = await ref(c, c.args[0]!, 'value');
  const out = s.newRef();
  const players = [...new Set([...s.clientPlayers, ...s.aggregators])];
  s.pipeline(players, { op: 'collect', value: v.ref, out, clients: s.clients, aggregators: s.aggregators, element: typeToJson(v.memberType) });
  return new RemoteRef(resultType(c), out, new SequenceType(v.memberType));
}

/** An intrinsic without function arguments that each player runs on the members it holds (sequence_sum). */
async function lift(c: Call): Promise<RtValue> {
  const s = session(c);
  const v = await ref(c, c.args[0]!, 'value');
  const rt = resultType(c);
  const placement = v.type.placement.name as 'CLIENTS' | 'AGGREGATORS';
  const out = s.newRef();
  const players = playersAt(s, placement);
  await s.settle();
  const replies = await s.all(players, { op: 'lift', uri: c.variant.uri, out, placement, arg: v.ref, type: typeToJson(c.type) });
  void replies;
  // the member type of a sum of a sequence of T is T (concrete: the held sequence's element type)
  const element = v.memberType.kind === 'sequence' ? v.memberType.element : rt.member;
  return new RemoteRef(rt, out, element);
}

const HANDLED: Record<string, (c: Call) => Promise<RtValue>> = {
  federated_collect_at_aggregators: collect,
  sequence_sum: async (c) => (c.args[0] instanceof RemoteRef ? lift(c) : getIntrinsicImpl<LocalEnv, RtValue>(BACKEND, 'sequence_sum')!(c)),
  federated_value_at_clients: (c) => broadcast(c, c.args[0]!, 'CLIENTS'),
  federated_value_at_aggregators: (c) => broadcast(c, c.args[0]!, 'AGGREGATORS'),
  federated_broadcast: (c) => broadcast(c, (c.args[0] as FederatedValue).members[0]!, 'CLIENTS'),
  federated_broadcast_to_aggregators: (c) => broadcast(c, (c.args[0] as FederatedValue).members[0]!, 'AGGREGATORS'),
  federated_map: map,
  federated_map_at_aggregators: map,
  federated_apply_at_aggregators: map,
  federated_zip_at_clients: zip,
  federated_zip_at_aggregators: zip,
  federated_transfer_to_server: transferToServer,
};
for (const uri of ['federated_sum', 'federated_sum_at_aggregators', 'federated_mean', 'federated_weighted_mean', 'federated_mean_at_aggregators', 'federated_weighted_mean_at_aggregators', 'federated_secure_sum', 'federated_secure_sum_at_aggregators']) {
  HANDLED[uri] = aggregation;
}

// every other intrinsic runs as in the local runtime, on values at SERVER only
for (const d of INTRINSICS) {
  for (const v of d.variants) {
    const own = HANDLED[v.uri];
    registerIntrinsicImpl<LocalEnv, RtValue>(REMOTE_BACKEND, v.uri, async (c) => {
      if (own) return own(c as Call);
      if (c.args.some(isRef)) {
        throw new FedArgumentError('VALUE_FORM', v.uri, `${v.uri} on values placed at the players is not supported by the remote context (yet); it runs broadcast, map, zip, the aggregations and moving an AGGREGATORS value to SERVER`);
      }
      const local = getIntrinsicImpl<LocalEnv, RtValue>(BACKEND, v.uri);
      if (!local) throw new TypeError(`intrinsic '${v.uri}' has no implementation`);
      return local(c);
    });
  }
}

/**
 * A float tensor at SERVER passed as a typed array of its dtype and size
 * (the model's weights each round): read in place, not copied (the value
 * fromJs would make, element for element; a runtime value is never written,
 * and the caller's array is read before the invocation settles). Else
 * undefined (fromJs, with its checks).
 */
function inPlace(a: unknown, t: Type): RtValue | undefined {
  if (t.kind !== 'federated' || t.placement.name !== 'SERVER' || !t.allEqual || t.member.kind !== 'tensor' || t.member.size === null) return undefined;
  const m = t.member;
  const ok = (m.dtype === 'float32' && a instanceof Float32Array) || (m.dtype === 'float64' && a instanceof Float64Array);
  return ok && a.length === m.size ? new FederatedValue(t, [new TensorValue(m, a)]) : undefined;
}

/** An execution context whose CLIENTS and AGGREGATORS are the players of `options`. */
export function remoteExecutionContext(options: RemoteExecutionOptions): RemoteContext {
  const s = new RemoteSession(options);
  let ended = false;
  let failed: unknown;
  let invocations = 0;
  /** Tell every player the session is over (they stop waiting on each other and on us). */
  const abortAll = async (): Promise<void> => {
    await Promise.allSettled(options.players.map((p) => options.transport.send(options.server, p.name, abortKey(options.session), new Uint8Array(0))));
  };
  async function invoke(comp: Computation, args: readonly unknown[], typed = false): Promise<unknown> {
    if (ended) throw new FedArgumentError('NO_CONTEXT', comp.computationName, 'this remote context was closed');
    if (failed !== undefined) throw new FedArgumentError('NO_CONTEXT', comp.computationName, `this remote session failed earlier (${failed instanceof Error ? failed.message : String(failed)}); start a new one`);
    s.failures.length = 0;
    s.clearDeferred();
    const label = `${comp.computationName}#${invocations++}`;
    mark('start');
    try {
      const r = await run(comp, args);
      mark('done');
      return typed ? toJsTyped(r) : toJs(r);
    } catch (e) {
      // the first failure ends the session: every player is told, so none waits for a party that will not answer;
      // first, a moment for the other failures, to name the player at the root of it (faults.ts)
      failed = e;
      const reported = await s.diagnose(e, Math.min(1000, options.timeoutMs ?? 600_000));
      failed = reported;
      mark('failed');
      await abortAll();
      throw reported;
    } finally {
      flushMarks(options.server, label);
    }
  }
  async function run(comp: Computation, args: readonly unknown[]): Promise<RtValue> {
    const params = comp.parameterTypes;
    if (args.length !== params.length) {
      throw new FedArgumentError('ARG_COUNT', comp.computationName, `expected ${params.length} argument(s) (${params.map(String).join(', ')}), got ${args.length}`);
    }
    const values: RtValue[] = [];
    for (const [i, t] of params.entries()) {
      if (t.kind === 'federated' && t.placement.name === 'CLIENTS' && !t.allEqual) {
        const a = args[i];
        if (!(a instanceof ClientData)) {
          throw new FedArgumentError('VALUE_FORM', `arg[${i}]`, `in a remote context a ${String(t)} argument is clientData('<source>'): client data never comes from the driver`);
        }
        if (!isConcrete(t.member)) {
          throw new FedArgumentError('VALUE_FORM', `arg[${i}]`, `in a remote context a CLIENTS parameter needs a type with known dimensions (got ${String(t)}): the players never describe the data they hold`);
        }
        const out = s.newRef();
        // every dimension declared: each player checks its clients' values against it; no round trip
        s.pipeline(s.clientPlayers, { op: 'data', out, source: a.source, type: typeToJson(t.member) });
        values.push(new RemoteRef(t, out, t.member));
      } else if (t.kind === 'federated' && t.placement.name !== 'SERVER') {
        throw new FedArgumentError('VALUE_FORM', `arg[${i}]`, `a remote context takes arguments at SERVER or clientData(...) at CLIENTS, not ${String(t)}`);
      } else values.push(inPlace(args[i], t) ?? fromJs(args[i], t, `arg[${i}]`, { clients: s.clients.length, aggregators: s.aggregators.length }));
    }
    const packed = packParameters(params);
    const arg: RtValue | null = packed === null ? null : params.length === 1 ? values[0]! : new StructValue(packed as never, values);
    let ids = 0;
    const env: RemoteEnv = {
      clients: () => s.clients.length,
      numAggregators: s.aggregators.length,
      aggregation: { name: 'remote', secure: true, intrinsics: [], aggregate: () => Promise.reject(new Error('remote context: aggregations run through the players')) },
      nextId: () => `${options.session}/${ids++}`,
      backend: REMOTE_BACKEND,
      session: s,
    };
    const fn = await evaluate(comp.ir, EMPTY_SCOPE, env);
    if (fn.kind !== 'function') throw new TypeError('computation IR is not a function');
    const result = await fn.apply(arg);
    await s.flushDeferred();
    await s.settle();
    if (isRef(result)) throw new FedArgumentError('VALUE_FORM', comp.computationName, 'the result is placed at the players; a remote computation returns values at SERVER');
    // the players forget this invocation's values (its result is at SERVER): a driver that iterates does not grow their memory
    const refs = s.takeLive();
    if (refs.length > 0) s.pipeline(s.livePlayers, { op: 'dispose', refs });
    return result;
  }
  return Object.freeze({
    name: 'remote',
    get numClients() {
      return s.clients.length;
    },
    get dropouts() {
      return [...s.dropouts];
    },
    invoke: (comp: Computation, args: readonly unknown[]) => invoke(comp, args),
    invokeTyped: (comp: Computation, args: readonly unknown[]) => invoke(comp, args, true),
    async close() {
      if (ended) return;
      ended = true;
      try {
        if (failed === undefined) {
          await s.settle();
          await s.all(s.livePlayers, { op: 'end' });
        }
      } finally {
        await abortAll();
      }
    },
  });
}
