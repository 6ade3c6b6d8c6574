/**
 * Run an encrypted computation (src/encrypted/computation) across the
 * players of config.json, from the model owner (the driver):
 *
 *   const run = await runComputation(forward, {
 *     config: 'config.json',
 *     inputs: { x: { player: 'owner0', source: 'features', shape: [4, 5] }, w: { value: weights, shape: [5, 3] } },
 *   });
 *   run.outputs[0]   // { shape, values } where the result is revealed to the model owner
 *
 * The computation is abstract (made concrete here under `protocol`, default
 * aby3, over the config's three compute servers, the argument types from
 * the bindings), concrete (its protocol's description must name the config's
 * servers), or either one's JSON. Each argument is bound to a data owner's
 * source (its player reads it from its own `--data` module; the driver sends
 * only the name), to a value of the driver (private to the model owner,
 * never sent), or to a public value (sent in the request).
 *
 * The driver asks every participant (compute-request.ts); each checks the
 * request against its own policy and answers; one refusal ends the session
 * (every participant told) with a PolicyError naming the player and the rule.
 * Then the driver runs its own part, the same ConcreteComputation.run as in
 * one process, and waits for every participant's report.
 */
import { PolicyError } from '../core/errors.js';
import { flattenFloats, type FloatInput } from '../encrypted/fixed.js';
import { Player } from '../encrypted/player.js';
import { PrivateTensor, PublicTensor } from '../encrypted/tensor.js';
import { Computation, ConcreteComputation, type Arg } from '../encrypted/computation/computation.js';
import { computationFromJSON, type ComputationJSON } from '../encrypted/computation/serialize.js';
import { TensorSpec } from '../encrypted/computation/types.js';
import { abortKey } from '../runtime/remote/player.js';
import type { Transport } from '../transport/channel.js';
import { loadConfig, type DeployConfig } from '../transport/config.js';
import {
  agreeComputeKey, checkComputePolicy, sessionTransport, COMPUTE_KINDS, computeParticipants, computeProtocol, doneComputeKey, requestDigest, type ComputeInput, type ComputeKind, type ComputeRequest,
} from './compute-request.js';
import { parseConfigPolicy, resolvePolicy } from './policy.js';
import { checkServersFor, configHash, configRoles } from './roster.js';
import { SESSION_KEY } from './session.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Where an argument's value comes from (see the module comment). */
export type ComputeBinding =
  | { readonly player: string; readonly source: string; readonly shape?: readonly number[] }
  | { readonly value: FloatInput; readonly shape?: readonly number[]; readonly public?: boolean };

export interface ComputeOptions {
  /** One binding per argument: by position, or by the computation's argument names. */
  readonly inputs: readonly ComputeBinding[] | Readonly<Record<string, ComputeBinding>>;
  /** An abstract computation's protocol (default 'aby3'); a concrete one has its own. */
  readonly protocol?: ComputeKind;
  /** An abstract computation's precision (default 'low'). */
  readonly precision?: 'low' | 'high';
  /** Deadline of each answer and protocol receive, ms (default 10 minutes). */
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface ComputeRun {
  readonly session: string;
  readonly computation: string;
  readonly participants: readonly string[];
  /** Each result: its values where it is revealed to the model owner, else undefined (another player's, or encrypted). */
  readonly outputs: readonly ({ readonly shape: readonly number[]; readonly values: Float64Array } | undefined)[];
  /** The program the players were sent (a concrete computation's JSON). */
  readonly program: ComputationJSON;
}

export type ComputationSource = Computation | ConcreteComputation | ComputationJSON | string;

/** The binding of each argument, by position. */
function bindingsFor(names: readonly string[], inputs: ComputeOptions['inputs']): ComputeBinding[] {
  if (Array.isArray(inputs)) {
    if (inputs.length !== names.length) throw new TypeError(`runComputation: option 'inputs' binds ${inputs.length} argument(s), the computation takes ${names.length} (${names.join(', ')})`);
    return [...inputs];
  }
  if (inputs === null || typeof inputs !== 'object') throw new TypeError("runComputation: option 'inputs' must be an array or an object of bindings by argument name");
  const byName = inputs as Readonly<Record<string, ComputeBinding>>;
  const extra = Object.keys(byName).find((k) => !names.includes(k));
  if (extra !== undefined) throw new TypeError(`runComputation: option 'inputs' names '${extra}', not an argument of the computation (${names.join(', ')})`);
  return names.map((n) => {
    const b = byName[n];
    if (b === undefined) throw new TypeError(`runComputation: option 'inputs' has no binding for argument '${n}'`);
    return b;
  });
}

const valueOf = (b: ComputeBinding, name: string): { values: Float64Array; shape: number[] } | undefined => {
  if (!('value' in b)) return undefined;
  const f = flattenFloats('runComputation', `inputs.${name}`, b.value, b.shape);
  return { values: Float64Array.from(f.values), shape: [...f.shape] };
};

/** The argument types an abstract computation is made concrete with (a private argument is seen by its owner only: the program widens it with ops.encrypt's sensitivity, which each owner checks). */
function signatureOf(names: readonly string[], bs: readonly ComputeBinding[], modelOwner: string): TensorSpec[] {
  return bs.map((b, i) => {
    if ('player' in b) {
      if (b.shape === undefined) throw new TypeError(`runComputation: inputs.${names[i]}: a source binding of an abstract computation needs 'shape'`);
      return TensorSpec.private(new Player(b.player), { shape: b.shape });
    }
    const v = valueOf(b, names[i]!)!;
    return b.public ? TensorSpec.public({ shape: v.shape }) : TensorSpec.private(new Player(modelOwner), { shape: v.shape });
  });
}

/** Run `computation` across the config's players over `transport`, on which the model owner is local. */
export async function runComputationOn(transport: Transport, config: DeployConfig, computation: ComputationSource, o: ComputeOptions): Promise<ComputeRun> {
  const roles = configRoles(config);
  const me = roles.modelOwner;
  checkServersFor('aby3', roles.servers);
  const log = o.log ?? (() => {});
  const timeoutMs = o.timeoutMs ?? 600_000;
  const session = [...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, '0')).join('');
  // the protocol's receives stop when a participant reports a failure; every receive of the session when it ends
  const { transport: t, end: endProtocol } = sessionTransport(transport);
  const { transport: timed, end: endReports } = sessionTransport(transport);
  const fail = () => endProtocol('a participant failed (the session is aborted)');

  // the program, concrete on this driver's protocol instance (the same construction as every player's)
  let json: ComputationJSON | undefined;
  let abstract: Computation | undefined;
  if (computation instanceof ConcreteComputation) json = JSON.parse(JSON.stringify(computation)) as ComputationJSON;
  else if (computation instanceof Computation) abstract = computation;
  else {
    const j = (typeof computation === 'string' ? JSON.parse(computation) : computation) as ComputationJSON;
    if (j?.concrete !== undefined) json = j;
    else abstract = computationFromJSON(j) as Computation;
  }
  const d = json?.concrete?.protocol;
  const kind = d?.kind ?? o.protocol ?? 'aby3';
  if (!(COMPUTE_KINDS as readonly string[]).includes(kind)) throw new RangeError(`runComputation: a computation across the players runs under ${COMPUTE_KINDS.join(' or ')}, got '${kind}'`);
  const protocol = computeProtocol(kind, d?.precision ?? o.precision ?? 'low', config, session, t, timeoutMs);
  const names = abstract?.graph.inputNames ?? json!.inputs;
  const bs = bindingsFor(names, o.inputs);
  const c = abstract !== undefined ? abstract.concrete(protocol, signatureOf(names, bs, me)) : (computationFromJSON(json!, { protocol }) as ConcreteComputation);
  const program = JSON.parse(JSON.stringify(c)) as ComputationJSON;

  // the request and this driver's own arguments
  const args: Arg[] = [];
  const inputs: ComputeInput[] = c.inputTypes.map((ty, i) => {
    const b = bs[i]!;
    const what = `runComputation: inputs.${names[i]}`;
    const v = valueOf(b, names[i]!);
    if (v !== undefined && v.values.length !== ty.shape.reduce((x, y) => x * y, 1)) throw new RangeError(`${what}: ${v.values.length} values, the argument's type needs ${JSON.stringify(ty.shape)}`);
    if (ty.kind === 'public') {
      if (v === undefined) throw new TypeError(`${what}: the argument is public; bind it to { value, public: true }`);
      args.push(new PublicTensor(v.values, [...ty.shape]));
      return { kind: 'public', values: Array.from(v.values) };
    }
    if (ty.kind !== 'private') throw new TypeError(`${what}: the argument is ${ty.kind}; a computation across the players takes private and public arguments`);
    const owner = ty.placement[0]!.name;
    if (owner === me) {
      if (v === undefined) throw new TypeError(`${what}: the argument is private to the model owner '${me}'; bind it to { value }`);
      args.push(new PrivateTensor(new Player(me), [...ty.shape], v.values));
      return { kind: 'driver' };
    }
    if (!('player' in b) || b.player !== owner) throw new TypeError(`${what}: the argument is private to '${owner}'; bind it to { player: '${owner}', source }`);
    args.push(new PrivateTensor(new Player(owner), [...ty.shape]));
    return { kind: 'source', player: owner, source: b.source };
  });
  const request: ComputeRequest = { v: 1, program, inputs };
  // what every player refuses whatever its own options (the config's policy), before anything is sent
  checkComputePolicy(c, request, resolvePolicy(parseConfigPolicy(config.policy, 'config.json: ')), "the config's policy", config);

  const participants = computeParticipants(c, config);
  const others = participants.filter((p) => p !== me);
  const opts = { timeoutMs };
  const endAll = () => Promise.all(others.map((p) => transport.send(me, p, abortKey(session), new Uint8Array(0)).catch(() => {})));
  log(`compute: session ${session}, '${c.computation.name}' under ${kind}, participants ${participants.join(', ')}`);
  const open = enc.encode(JSON.stringify({ v: 1, session, configHash: configHash(config), computation: request }));
  const delivered = await Promise.allSettled(others.map((p) => transport.send(me, p, SESSION_KEY, open)));
  const lost = delivered.findIndex((d) => d.status === 'rejected');
  if (lost >= 0) {
    await endAll();
    endReports('the session is over');
    endProtocol('the session is over');
    throw new Error(`player '${others[lost]}' could not be reached: ${((delivered[lost] as PromiseRejectedResult).reason as Error).message}`);
  }
  const replies = await Promise.allSettled(others.map(async (p) => JSON.parse(dec.decode(await timed.receive(me, p, `exec/${session}/open`, opts))) as { ok?: unknown; rule?: unknown; error?: unknown }));
  for (const [i, r] of replies.entries()) {
    const p = others[i]!;
    if (r.status === 'fulfilled' && r.value.ok === true) continue;
    await endAll();
    endReports('the session is over');
    endProtocol('the session is over');
    if (r.status === 'rejected') throw new Error(`player '${p}' did not answer the computation request: ${(r.reason as Error).message}`);
    const why = typeof r.value.error === 'string' ? r.value.error.slice(0, 500) : 'refused';
    if (typeof r.value.rule === 'string') throw new PolicyError(r.value.rule, why, { party: p });
    throw new Error(`player '${p}' refused the computation: ${why}`);
  }

  let failure: Error | undefined;
  const watch = Promise.all(others.map(async (p) => {
    const r = JSON.parse(dec.decode(await timed.receive(me, p, doneComputeKey(session), opts))) as { ok?: unknown; rule?: unknown; error?: unknown };
    if (r.ok === true) return;
    const why = typeof r.error === 'string' ? r.error.slice(0, 500) : 'failed';
    throw typeof r.rule === 'string' ? new PolicyError(r.rule, why, { party: p }) : new Error(`player '${p}' failed: ${why}`);
  }));
  watch.catch((e: unknown) => {
    failure ??= e as Error;
    fail();
  });
  let result: unknown;
  try {
    const digest = requestDigest(session, request);
    await Promise.all(roles.servers.map((s) => t.send(me, s, agreeComputeKey(session), digest)));
    result = await c.run(...args);
    await watch;
  } catch (e) {
    throw failure ?? e;
  } finally {
    endProtocol('the session is over');
    endReports('the session is over');
    await endAll();
  }
  const outs = result === undefined ? [] : Array.isArray(result) ? result : [result];
  log(`compute: session ${session} done`);
  return {
    session,
    computation: c.computation.name,
    participants,
    outputs: outs.map((v) => (v instanceof PrivateTensor && v.isLocal && v.owner.name === me ? { shape: [...v.shape], values: v.read() } : undefined)),
    program,
  };
}

export interface RunComputationOptions extends ComputeOptions {
  /** Path of config.json; this process is its model owner. */
  readonly config: string;
  /** The model owner's key file (default keys/<model owner>.key). */
  readonly key?: string;
}

/** Start the model owner's transport (mutual TLS or pinned keys, as the config says), run, close. */
export async function runComputation(computation: ComputationSource, o: RunComputationOptions): Promise<ComputeRun> {
  if (o === null || typeof o !== 'object' || typeof o.config !== 'string') throw new TypeError("runComputation: argument 'options' must be { config: <path of config.json>, inputs, ... }");
  const config = loadConfig(o.config, { requireKeys: true });
  const { modelOwner } = configRoles(config);
  const { startPlayer } = await import('./player.js');
  const transport = await startPlayer({ configPath: o.config, name: modelOwner, keyPath: o.key ?? `keys/${modelOwner}.key`, handleSignals: false, connectTimeoutMs: 10_000 });
  try {
    return await runComputationOn(transport, config, computation, o);
  } finally {
    await transport.close();
  }
}
