/**
 * Encrypted computations across the players of config.json (`fedcrypt
 * compute`): what the model owner (driver) asks, and what each player checks
 * before it sends a byte.
 *
 * The request names a concrete computation (its JSON: ops by name, the
 * protocol's description, the input types; no code) and, per argument, where
 * its value comes from: a data owner's own data source (the driver names a
 * source, never sends data), the driver itself (a value private to the model
 * owner, which it passes to its own run), or a public value (in the request).
 * Every participant (the config's three compute servers, the players the
 * computation's private values are placed at, the model owner) reads the
 * JSON with `computationFromJSON` on its own protocol instance (the config's
 * servers as holders: re-typed, nothing of the JSON's types trusted), and
 * then checks it against its own policy (`checkComputePolicy`):
 *
 *   protocol   aby3 or pond, one its policy takes part in;
 *   roster     the holders are the config's compute servers, in order;
 *   ops        every op among those its policy runs (`--ops`);
 *   inputs     each argument bound as its type says (a private argument of
 *              player P from P's source, or from the driver when P is the
 *              model owner; public values given; no encrypted or Variable
 *              argument: nothing is held across sessions);
 *   revealTo   every reveal of a value computed from one of ITS inputs (data
 *              flow through the graph, whatever the declared sensitivities)
 *              goes to itself or to a player its operator allows
 *              (`--reveal-to`).
 *
 * Then every participant sends each compute server the digest of the request
 * it accepted, and a server runs nothing before every participant's digest
 * equals its own (a driver that shows the data owners one computation and the
 * servers another is refused before anything is opened).
 */
import { createHash } from 'node:crypto';
import { PolicyError } from '../core/errors.js';
import { ABY3 } from '../encrypted/protocols/aby3.js';
import { Pond } from '../encrypted/protocols/pond.js';
import { Player } from '../encrypted/player.js';
import { ConcreteComputation } from '../encrypted/computation/computation.js';
import { computationFromJSON, type ComputationJSON } from '../encrypted/computation/serialize.js';
import type { AnyProtocol } from '../encrypted/computation/rules.js';
import type { ReceiveOptions, Transport } from '../transport/channel.js';
import { PeerError, TransportError } from '../transport/errors.js';
import type { DeployConfig } from '../transport/config.js';
import { configRoles } from './roster.js';
import type { PartyPolicy } from './policy.js';

/** Where an argument's value comes from. */
export type ComputeInput =
  | { readonly kind: 'source'; readonly player: string; readonly source: string }
  | { readonly kind: 'driver' }
  | { readonly kind: 'public'; readonly values: readonly number[] };

export interface ComputeRequest {
  readonly v: 1;
  /** A concrete computation's JSON (aby3 or pond over the config's compute servers). */
  readonly program: ComputationJSON;
  /** One per argument of the computation. */
  readonly inputs: readonly ComputeInput[];
}

export const COMPUTE_KINDS = ['aby3', 'pond'] as const;
export type ComputeKind = (typeof COMPUTE_KINDS)[number];
const SOURCE = /^[A-Za-z0-9_.:/-]{1,128}$/;

/** The agreement message of a participant to each compute server: the digest of the request it accepted. */
export const agreeComputeKey = (session: string): string => `exec/${session}/compute-agree`;
/** A participant's report to the driver once its part ran (or failed). */
export const doneComputeKey = (session: string): string => `exec/${session}/compute-done`;

/**
 * `t` for one session: each receive's deadline is kept here (the inner
 * receive waits without one), and `end(why)` fails every receive still
 * pending, and any later one, clearing their timers: an aborted session
 * leaves no timer behind (a deadline of minutes would otherwise keep a
 * process alive), and nothing of it keeps waiting.
 */
export function sessionTransport(t: Transport): { transport: Transport; end(why: string): void } {
  const pending = new Map<(e: Error) => void, string>();
  let ended: string | undefined;
  const receive = (to: string, from: string, key: string, o?: ReceiveOptions): Promise<Uint8Array> => {
    if (ended !== undefined) return Promise.reject(new TransportError(`receive from '${from}': ${ended}`));
    return new Promise<Uint8Array>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const settle = (f: () => void) => {
        pending.delete(fail);
        clearTimeout(timer);
        f();
      };
      const fail = (e: Error) => settle(() => reject(e));
      pending.set(fail, from);
      if (o?.timeoutMs !== undefined) timer = setTimeout(() => fail(new PeerError(`receive: nothing from '${from}' to '${to}' under key '${key}' within ${o.timeoutMs} ms`, from)), o.timeoutMs);
      t.receive(to, from, key).then((v) => settle(() => resolve(v)), (e: unknown) => settle(() => reject(e as Error)));
    });
  };
  const transport = new Proxy(t, {
    get(target, prop, receiver) {
      if (prop === 'receive') return receive;
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return {
    transport,
    end(why: string): void {
      ended ??= why;
      for (const [fail, from] of [...pending]) fail(new TransportError(`receive from '${from}': ${why}`));
    },
  };
}

/** Check the request's shape (not its meaning: see checkComputePolicy); RangeError naming the field. */
export function parseComputeRequest(raw: unknown): ComputeRequest {
  const bad = (what: string): never => {
    throw new RangeError(`malformed computation request: ${what}`);
  };
  if (raw === null || typeof raw !== 'object') bad('not an object');
  const r = raw as Record<string, unknown>;
  if (r['v'] !== 1) bad(`'v' must be 1`);
  const program = r['program'] as ComputationJSON | undefined;
  if (program === null || typeof program !== 'object') bad(`'program' must be a computation's JSON`);
  if (!Array.isArray(r['inputs'])) bad(`'inputs' must be an array`);
  const inputs = (r['inputs'] as unknown[]).map((x, i): ComputeInput => {
    const o = (x ?? {}) as Record<string, unknown>;
    if (o['kind'] === 'source') {
      if (typeof o['player'] !== 'string' || typeof o['source'] !== 'string' || !SOURCE.test(o['source'])) bad(`inputs[${i}]: a source needs 'player' and 'source' (${SOURCE})`);
      return { kind: 'source', player: o['player'] as string, source: o['source'] as string };
    }
    if (o['kind'] === 'driver') return { kind: 'driver' };
    if (o['kind'] === 'public') {
      const v = o['values'];
      if (!Array.isArray(v) || !v.every((e) => typeof e === 'number' && Number.isFinite(e))) bad(`inputs[${i}]: public 'values' must be finite numbers`);
      return { kind: 'public', values: v as number[] };
    }
    return bad(`inputs[${i}]: 'kind' must be source, driver or public`);
  });
  return { v: 1, program: program!, inputs };
}

/** The digest every participant sends the compute servers: of the session and the request as read. */
export function requestDigest(session: string, request: ComputeRequest): Buffer {
  return createHash('sha256').update(`fedcrypt/compute/${session}\n`).update(JSON.stringify(request)).digest();
}

/**
 * The protocol instance of a computation session at one participant: the
 * config's compute servers as holders, every config player known (a reveal
 * target outside the config is refused when the JSON is typed), the
 * instance id from the session.
 */
export function computeProtocol(kind: string, precision: string, config: DeployConfig, session: string, transport: Transport, timeoutMs?: number): AnyProtocol {
  const { servers } = configRoles(config);
  if (!(COMPUTE_KINDS as readonly string[]).includes(kind)) throw new PolicyError('protocol', `a computation runs under ${COMPUTE_KINDS.join(' or ')}, not '${kind}'`);
  if (precision !== 'low' && precision !== 'high') throw new RangeError(`a computation's precision is 'low' or 'high', got ${JSON.stringify(precision)}`);
  if (servers.length !== 3) throw new PolicyError('roster', `${kind} needs the config's 3 compute servers, it has ${servers.length}`);
  const [a, b, c] = servers.map((n) => new Player(n)) as [Player, Player, Player];
  const options = { precision: precision as 'low' | 'high', transport, id: `compute-${session}`, players: config.players.map((p) => new Player(p.name)), setup: 'on-demand' as const, ...(timeoutMs ? { timeoutMs } : {}) };
  return kind === 'aby3' ? new ABY3(a, b, c, options) : new Pond(a, b, c, options);
}

/** Read the request's program on this participant's own protocol instance (re-typed; a program that is not concrete is refused). */
export function concreteProgram(request: ComputeRequest, protocol: AnyProtocol, config: DeployConfig, me: string): ConcreteComputation {
  const d = request.program.concrete?.protocol;
  if (d === undefined) throw new RangeError('malformed computation request: the program must be a concrete computation (made concrete for aby3 or pond)');
  const { servers } = configRoles(config);
  if (d.holders?.join(',') !== servers.join(',')) {
    throw new PolicyError('roster', `the computation's share holders are ${JSON.stringify(d.holders)}, the config's compute servers are ${servers.join(', ')}`, { party: me });
  }
  const c = computationFromJSON(request.program, { protocol });
  if (!(c instanceof ConcreteComputation)) throw new RangeError('malformed computation request: the program must be a concrete computation');
  return c;
}

/** The players that run a part of the computation: the compute servers, the players of its private values, the model owner. */
export function computeParticipants(c: ConcreteComputation, config: DeployConfig): string[] {
  const roles = configRoles(config);
  const out = new Set<string>([roles.modelOwner, ...roles.servers]);
  for (const t of c.types) if (t?.kind === 'private') out.add(t.placement[0]!.name);
  return [...out];
}

/**
 * This participant's checks of a read program against its own policy and the
 * config (see the module comment); PolicyError naming the rule, the party and
 * what was asked.
 */
export function checkComputePolicy(c: ConcreteComputation, request: ComputeRequest, policy: PartyPolicy, me: string, config: DeployConfig): void {
  const roles = configRoles(config);
  const kind = c.protocol?.kind;
  if (kind === undefined || !(policy.protocols as readonly string[]).includes(kind)) {
    throw new PolicyError('protocol', `the computation runs under ${kind ?? 'no protocol'}; this player takes part in ${policy.protocols.join(', ')}`, { party: me });
  }
  const { graph, name } = c.computation;
  if (policy.ops !== null) {
    const k = graph.nodes.findIndex((nd) => nd.op !== 'constant' && !policy.ops!.includes(nd.op));
    if (k >= 0) throw new PolicyError('ops', `computation '${name}' node ${k} is op '${graph.nodes[k]!.op}'; this player runs ${policy.ops.join(', ')}`, { party: me });
  }
  const n = graph.inputNames.length;
  if (request.inputs.length !== n) throw new PolicyError('inputs', `computation '${name}' has ${n} argument(s), the request binds ${request.inputs.length}`, { party: me });
  const mine = new Set<number>();
  c.inputTypes.forEach((t, i) => {
    const b = request.inputs[i]!;
    const what = `computation '${name}': argument '${graph.inputNames[i]}'`;
    if (t.kind === 'encrypted' || t.variable) throw new PolicyError('inputs', `${what} is ${t.variable ? 'a Variable' : 'encrypted'}: a computation across the players takes private and public arguments only (nothing is held between sessions)`, { party: me });
    if (t.kind === 'public' && b.kind !== 'public') throw new PolicyError('inputs', `${what} is public; the request binds it to ${b.kind}`, { party: me });
    if (t.kind === 'public' && b.kind === 'public' && b.values.length !== t.shape.reduce((x, y) => x * y, 1)) throw new PolicyError('inputs', `${what} ${JSON.stringify(t.shape)} is bound to ${b.values.length} public values`, { party: me });
    if (t.kind !== 'private') return;
    const owner = t.placement[0]!.name;
    if (owner === roles.modelOwner ? b.kind !== 'driver' : !(b.kind === 'source' && b.player === owner)) {
      throw new PolicyError('inputs', `${what} is private to '${owner}'; the request binds it to ${b.kind === 'source' ? `a source of '${b.player}'` : b.kind}`, { party: me });
    }
    if (owner === me) mine.add(i);
  });
  if (mine.size === 0) return;
  // data flow from this player's inputs: every value computed from one of them
  const tainted = new Set(mine);
  let id = n;
  graph.nodes.forEach((nd, k) => {
    const from = nd.args.some((a) => tainted.has(a));
    for (let r = 0; r < (nd.results ?? 1); r++, id++) if (from) tainted.add(id);
    if (!from || nd.op !== 'reveal') return;
    const to = nd.attrs['player'] as string;
    if (to !== me && !policy.revealTo.includes(to)) {
      const inputs = [...mine].map((i) => `'${graph.inputNames[i]}'`).join(', ');
      throw new PolicyError('revealTo', `computation '${name}' node ${k} reveals a value computed from this player's input ${inputs} to '${to}'; this player reveals such values to ${policy.revealTo.length ? `itself and ${policy.revealTo.join(', ')}` : 'itself only'} (--reveal-to)`, { party: me });
    }
  });
}
