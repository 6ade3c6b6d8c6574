/**
 * A player's part of an encrypted computation session (`serveSessions` hands
 * it a request whose open message carries `computation`; the driver's side is
 * compute-driver.ts, the request and the checks compute-request.ts).
 *
 * In order, before this player sends anything but its answer to the driver:
 * read the program on its own protocol instance, check it against its
 * policy, load its own inputs from its data source (`--data` module:
 * `data(source, { name, index: 0 })`) and check their shapes and range. A
 * refusal is answered to the driver (its rule and message) and nothing else
 * is sent. Then it sends each compute server the digest of the request; a
 * compute server waits for every participant's digest, all equal to its own,
 * before it runs anything. Then the same ConcreteComputation.run as in one
 * process, over this player's transport (SPMD: every participant makes the
 * same engine calls in the same order; each step runs where its player is).
 * A value revealed to this player goes to `onOutput` (and its log: shape
 * only). At the end it reports to the driver: done, or failed (a policy
 * refusal with its rule; any other error without its message, which stays
 * in this log: an error may depend on a value; a lost peer by name).
 */
import { PolicyError } from '../core/errors.js';
import { checkEncodable, flattenFloats } from '../encrypted/fixed.js';
import { Player } from '../encrypted/player.js';
import { PrivateTensor, PublicTensor } from '../encrypted/tensor.js';
import type { Arg } from '../encrypted/computation/computation.js';
import { abortKey, type DataSource } from '../runtime/remote/player.js';
import type { Transport } from '../transport/channel.js';
import type { DeployConfig } from '../transport/config.js';
import { TransportError } from '../transport/errors.js';
import {
  agreeComputeKey, checkComputePolicy, sessionTransport, computeParticipants, computeProtocol, concreteProgram, doneComputeKey, parseComputeRequest, requestDigest, type ComputeRequest,
} from './compute-request.js';
import type { PartyPolicy } from './policy.js';
import { configRoles } from './roster.js';

const enc = new TextEncoder();
/** A driver's string in a log line: quoted, control characters escaped (it cannot forge lines). */
const q = (x: string): string => JSON.stringify(x).slice(0, 120);

/** A value revealed to this player by a computation. */
export interface ComputeOutput {
  readonly session: string;
  readonly computation: string;
  /** Its index among the computation's results. */
  readonly index: number;
  readonly shape: readonly number[];
  readonly values: Float64Array;
}

export interface ComputeServeOptions {
  readonly policy: PartyPolicy;
  readonly data?: DataSource;
  readonly timeoutMs?: number;
  readonly log: (line: string) => void;
  readonly onOutput?: (o: ComputeOutput) => void;
}

/** What a refusal or failure tells the driver: a policy refusal's rule and reason; otherwise no message (see the module comment). */
export function failureReport(e: unknown): { ok: false; rule?: string; error: string } {
  if (e instanceof PolicyError) return { ok: false, rule: e.rule, error: e.message.replace(/^(?:[^:"]*: )?policy "[^"]+" refuses: /, '') };
  if (e instanceof TransportError) return { ok: false, error: e.message.slice(0, 300) };
  if (e instanceof RangeError && /^malformed computation request/.test(e.message)) return { ok: false, error: e.message.slice(0, 300) };
  return { ok: false, error: `failed (${e instanceof Error ? e.name : 'error'}; see its log)` };
}

/** This player's value of argument `i` from its data source, as the request binds it; RangeError / TypeError naming the argument. */
async function ownInput(o: ComputeServeOptions, me: string, source: string, name: string, shape: readonly number[]): Promise<Float64Array> {
  const what = `argument '${name}' (source '${source}')`;
  if (o.data === undefined) throw new PolicyError('inputs', `${what}: this player serves no data (start it with --data <module>)`, { party: me });
  const raw = (await o.data(source, { name: me, index: 0 })) as unknown;
  // a number array or typed array, or { values, shape? }
  const v = raw !== null && typeof raw === 'object' && !Array.isArray(raw) && !ArrayBuffer.isView(raw) ? (raw as { values?: unknown }).values : raw;
  const flat = flattenFloats(`${me}: data source '${source}'`, name, v);
  const want = shape.reduce((a, b) => a * b, 1);
  if (flat.values.length !== want) throw new PolicyError('inputs', `${what}: the data source gives ${flat.values.length} values, the computation's type needs ${JSON.stringify(shape)} (${want})`, { party: me });
  return Float64Array.from(flat.values);
}

/** Serve one computation session (the open message was checked by serveSessions: config hash, fresh session id). */
export async function serveComputation(transport: Transport, config: DeployConfig, me: string, session: string, raw: unknown, o: ComputeServeOptions): Promise<void> {
  const { modelOwner: driver, servers } = configRoles(config);
  const reply = (msg: object) => transport.send(me, driver, `exec/${session}/open`, enc.encode(JSON.stringify(msg)));
  // every receive of this session fails once the driver ends or aborts it (or this part is over)
  const { transport: t, end } = sessionTransport(transport);
  let wasAborted = false;
  void transport.receive(me, driver, abortKey(session)).then(() => {
    wasAborted = true;
    end('the driver ended or aborted the session');
  }, () => undefined);
  let request: ComputeRequest;
  let args: Arg[];
  let participants: string[];
  let run: () => Promise<unknown>;
  let label: string;
  let name: string;
  try {
    request = parseComputeRequest(raw);
    const d = request.program.concrete?.protocol;
    const protocol = computeProtocol(d?.kind ?? 'none', d?.precision ?? 'low', config, session, t, o.timeoutMs);
    const c = concreteProgram(request, protocol, config, me);
    name = c.computation.name;
    label = q(name);
    checkComputePolicy(c, request, o.policy, me, config);
    participants = computeParticipants(c, config);
    if (!participants.includes(me)) throw new PolicyError('roster', `this player has no part in computation ${label}`, { party: me });
    args = [];
    for (const [i, ty] of c.inputTypes.entries()) {
      const b = request.inputs[i]!;
      if (ty.kind === 'public') args.push(new PublicTensor(Float64Array.from((b as { readonly values: readonly number[] }).values), [...ty.shape]));
      else {
        const owner = ty.placement[0]!;
        const values = owner.name === me && b.kind === 'source' ? await ownInput(o, me, b.source, c.computation.graph.inputNames[i]!, ty.shape) : undefined;
        args.push(new PrivateTensor(new Player(owner.name), [...ty.shape], values));
      }
    }
    // the engine's own checks of this player's values (the fixed-point range) before anything is sent
    for (const [i, a] of args.entries()) if (a instanceof PrivateTensor && a.isLocal) checkEncodable(`${me}: computation ${label}`, c.computation.graph.inputNames[i]!, a.read(), protocol.fixed);
    run = () => c.run(...args);
  } catch (e) {
    o.log(`${me}: refused computation session ${session}: ${JSON.stringify((e as Error).message).slice(1, -1).slice(0, 400)}`);
    await reply(failureReport(e)).catch(() => {});
    end('refused');
    return;
  }
  try {
    await reply({ ok: true });
  } catch (e) {
    end('the driver is gone');
    throw e;
  }
  o.log(`${me}: computation session ${session} (${label}) accepted: participants ${participants.join(', ')}`);
  try {
    const digest = requestDigest(session, request);
    const others = participants.filter((p) => p !== me);
    await Promise.all(servers.filter((s) => s !== me).map((s) => t.send(me, s, agreeComputeKey(session), digest)));
    if (servers.includes(me)) {
      // a compute server runs nothing before every participant accepted this same request
      const opts = o.timeoutMs ? { timeoutMs: o.timeoutMs } : {};
      const got = await Promise.all(others.map(async (p) => [p, Buffer.from(await t.receive(me, p, agreeComputeKey(session), opts))] as const));
      const odd = got.find(([, d]) => !d.equals(digest));
      if (odd !== undefined) throw new PolicyError('agreement', `'${odd[0]}' accepted another request than this server under session ${session}; nothing is run`, { party: me });
    }
    const result = await run();
    const outs = result === undefined ? [] : Array.isArray(result) ? result : [result];
    outs.forEach((v, index) => {
      if (!(v instanceof PrivateTensor) || !v.isLocal || v.owner.name !== me) return;
      o.log(`${me}: computation ${label} result ${index} received (shape ${JSON.stringify(v.shape)})`);
      o.onOutput?.({ session, computation: name, index, shape: [...v.shape], values: v.read() });
    });
    await transport.send(me, driver, doneComputeKey(session), enc.encode(JSON.stringify({ ok: true })));
    o.log(`${me}: computation session ${session} done`);
  } catch (e) {
    o.log(`${me}: computation session ${session} failed: ${JSON.stringify((e as Error).message).slice(1, -1).slice(0, 400)}`);
    // (the driver ended or aborted the session: it waits for no report)
    if (!wasAborted) await transport.send(me, driver, doneComputeKey(session), enc.encode(JSON.stringify(failureReport(e)))).catch(() => {});
  } finally {
    end('this part of the session is over');
  }
}
