/**
 * A malicious model owner (driver) against honest players, as separate
 * parties on one MemoryHub: the players are the real `serveSessions` /
 * `servePlayerExecutor`; the driver is this test code, which sends crafted
 * commands (`frame(...)` under `exec/<session>/<seq>`) and runs the SERVER
 * role (or sybil client roles) itself. Every message delivered through the
 * hub is recorded (sending player, receiving player, key, payload), so a test
 * asserts what each honest party sent and what the driver received.
 *
 * A player ends its session at its first failed command (it replies, then
 * stops serving): an attack of several attempts opens one session per
 * attempt (`opened`), and a test asserts the end with `sessionEnded`, never
 * by waiting for a reply that does not come.
 */
import assert from 'node:assert/strict';
import { configHash } from '../../src/deploy/roster.js';
import { SESSION_KEY, serveSessions } from '../../src/deploy/session.js';
import type { PartyPolicy } from '../../src/deploy/policy.js';
import { checkPlan, planToBytes, type AggregationPlan } from '../../src/aggregation/plan.js';
import type { AggregationRoles, PartyContext } from '../../src/aggregation/roles.js';
import type { AggregationUri } from '../../src/aggregation/protocol.js';
import { TensorType, typeToJson, type DType, type Type } from '../../src/core/types.js';
import { abortKey, execKey, type DataSource } from '../../src/runtime/remote/player.js';
import { frame, unframe, type Framed } from '../../src/runtime/remote/wire.js';
import type { Transport } from '../../src/transport/channel.js';
import { parseConfig, type DeployConfig } from '../../src/transport/config.js';
import { HostingTransport } from '../../src/transport/hosting.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { partyTransport } from '../../src/transport/view.js';

/** Hang guard of every wait (never reached when the code under test behaves). */
export const GUARD_MS = 20_000;
export const DRIVER = 'model-owner';
export const SERVERS = ['server0', 'server1', 'server2'];

export interface Delivered {
  readonly from: string;
  readonly to: string;
  readonly key: string;
  readonly payload: Uint8Array;
}

/** A hub that records every message delivered through it. */
export function recordingHub(): { hub: MemoryHub; wire: Delivered[] } {
  const hub = new MemoryHub();
  const wire: Delivered[] = [];
  const deliver = hub.deliver.bind(hub);
  hub.deliver = (from, to, key, payload) => {
    wire.push({ from, to, key, payload });
    return deliver(from, to, key, payload);
  };
  return { hub, wire };
}

/** Whether `payload` contains the bytes of `needle` (a client's value as it would travel in the clear). */
export function carries(payload: Uint8Array, needle: ArrayBufferView): boolean {
  const n = new Uint8Array(needle.buffer, needle.byteOffset, needle.byteLength);
  outer: for (let i = 0; i + n.length <= payload.length; i++) {
    for (let j = 0; j < n.length; j++) if (payload[i + j] !== n[j]) continue outer;
    return true;
  }
  return false;
}

export const typeJson = (dtype: DType, shape: (number | null)[] = []): unknown => typeToJson(new TensorType(dtype, shape));
export const bytesOf = (v: ArrayBufferView): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

/** A config with one model owner, three compute servers and `owners` data owners. */
export function config(owners = 3): DeployConfig {
  const names: [string, string][] = [[DRIVER, 'model-owner'], ...SERVERS.map((s) => [s, 'compute-server'] as [string, string])];
  for (let i = 0; i < owners; i++) names.push([`owner${i}`, 'data-owner']);
  const players: Record<string, unknown> = {};
  names.forEach(([n, r], i) => (players[n] = { address: `127.0.0.1:${7000 + i}`, role: r }));
  return parseConfig(JSON.stringify({ version: 1, players }));
}

/** The driver's side: crafted commands to honest players. */
export class EvilDriver {
  readonly #seq = new Map<string, number>();
  constructor(
    /** The driver's transport (HostingTransport: it can also run parties `model-owner:<i>`). */
    readonly transport: Transport,
    readonly session: string,
  ) {}

  /** Send `header` to `player` under its next sequence number; resolves with the reply. */
  async command(player: string, header: Record<string, unknown>, blobs: Uint8Array[] = []): Promise<Framed> {
    const seq = this.#seq.get(player) ?? 0;
    this.#seq.set(player, seq + 1);
    const key = execKey(this.session, seq);
    await this.transport.send(DRIVER, player, key, frame(header, blobs));
    // longer than the players' own deadline: a player that waits in vain answers with its failure first
    return unframe(await this.transport.receive(DRIVER, player, `${key}/reply`, { timeoutMs: 2 * GUARD_MS }), `reply of ${player}`);
  }

  /** Tell `players` the session is over. */
  async abort(players: readonly string[]): Promise<void> {
    await Promise.allSettled(players.map((p) => this.transport.send(DRIVER, p, abortKey(this.session), new Uint8Array(0))));
  }

  /** A context for a party this driver runs (SERVER, or a sybil client 'model-owner:<i>'). */
  ctx(me: string): PartyContext {
    return { me, transport: partyTransport(this.transport, me), policy: { minContributors: 1, allowInsecure: true }, timeoutMs: GUARD_MS };
  }

  /**
   * One aggregation as the driver chooses it: each player gets its own
   * command (its own plan and value reference), the driver runs SERVER's
   * role with `serverPlan`. Resolves with every reply and, unless a player
   * refused, what SERVER received.
   */
  async aggregate(
    roles: AggregationRoles,
    serverPlan: AggregationPlan,
    commands: Readonly<Record<string, { plan: AggregationPlan; value?: number; weight?: number }>>,
    resultType: unknown,
  ): Promise<{ replies: Record<string, Framed>; result?: number[]; serverError?: unknown }> {
    const server = roles.server(this.ctx(DRIVER), serverPlan).then(
      (r) => ({ r }),
      (e: unknown) => ({ e }),
    );
    const entries = await Promise.all(
      Object.entries(commands).map(async ([p, c]) => {
        const header = { op: 'aggregate', out: 1000, resultType, ...(c.value === undefined ? {} : { value: c.value }), ...(c.weight === undefined ? {} : { weight: c.weight }) };
        return [p, await this.command(p, header, [planToBytes(c.plan)])] as const;
      }),
    );
    const replies = Object.fromEntries(entries);
    // a refusal: SERVER's role would only wait for its deadline
    if (entries.some(([, r]) => r.header['ok'] !== true)) return { replies };
    const s = await server;
    if ('e' in s) return { replies, serverError: s.e };
    return { replies, ...(s.r ? { result: Array.from(s.r.leaves[0] as ArrayLike<number | bigint>, Number) } : {}) };
  }
}

/** A plan as the driver chooses it. */
export function plan(o: { session: string; n: number; protocol: string; params: Readonly<Record<string, string | number | boolean>>; clients: string[]; aggregators?: string[]; uri?: AggregationUri; leaf?: Type; bound?: bigint; server?: string; target?: 'SERVER' | 'AGGREGATORS' }): AggregationPlan {
  const leaf = (o.leaf ?? new TensorType('int32', [2])) as TensorType;
  const uri = o.uri ?? 'federated_secure_sum';
  return checkPlan({
    protocol: o.protocol,
    invocationId: `${o.session}/agg/${o.n}`,
    uri,
    target: o.target ?? 'SERVER',
    leaves: [{ path: '', type: leaf, size: leaf.size! }],
    ...(uri.startsWith('federated_secure_sum') ? { bound: o.bound ?? 2n ** 32n } : {}),
    clients: o.clients,
    aggregators: o.aggregators ?? SERVERS,
    server: o.server ?? DRIVER,
    params: o.params,
  });
}

export interface Network {
  readonly hub: MemoryHub;
  readonly wire: Delivered[];
  readonly logs: string[];
  readonly serving: Promise<unknown>[];
  readonly players: string[];
  /** Open a session with every player as the config's model owner would; resolves with the driver and each player's hosted clients. */
  open(): Promise<{ d: EvilDriver; clients: Record<string, string[]>; refusals: Record<string, { error: string; rule?: string }> }>;
  /** Open a session with a given id (replays). */
  openWith(session: string): Promise<{ d: EvilDriver; clients: Record<string, string[]>; refusals: Record<string, { error: string; rule?: string }> }>;
  /** Every message the driver received that is not a command reply or a session answer. */
  atDriverBesidesReplies(): Delivered[];
  close(): Promise<void>;
}

/** The reply text of every failure that is not a policy refusal (the class and message stay in the player's log). */
export const failed = (player: string): string => `${player}: the command failed (details in ${player}'s log)`;

/** A fresh network of `c` and a session opened on it: one attempt of an attack. */
export async function opened(c: DeployConfig, policyOf: (p: string) => PartyPolicy, data: DataSource, o: { clientsOf?: (p: string) => number | undefined } = {}): Promise<{ net: Network; d: EvilDriver; clients: Record<string, string[]> }> {
  const net = network(c, policyOf, data, o);
  const { d, clients } = await net.open();
  return { net, d, clients };
}

/** End an attempt: the driver aborts the session at every player, and the network closes. */
export async function finish(a: { net: Network; d: EvilDriver }): Promise<void> {
  await a.d.abort(a.net.players);
  await a.net.close();
}

/**
 * `player` ended session `session` by itself (a network serves one session:
 * its `serveSessions` returned before any abort) and logged the end. The
 * guard only bounds a hang.
 */
export async function sessionEnded(net: Network, player: string, session: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<'hang'>((r) => (timer = setTimeout(() => r('hang'), GUARD_MS)));
  const done = await Promise.race([net.serving[net.players.indexOf(player)]!.then(() => 'ended' as const), guard]);
  clearTimeout(timer);
  assert.equal(done, 'ended', `${player} still serves session ${session}`);
  assert.ok(net.logs.some((l) => l.startsWith(`${player}: session ${session} ended`)), `${player} logged no end of session ${session}`);
}

const hubs: MemoryHub[] = [];
/** Close every hub made so far (receives left waiting by a refusal hold timers). */
export function closeHubs(): void {
  hubs.splice(0).forEach((h) => h.close());
}

/** Every non-driver player of `c` serving sessions (the real `serveSessions`), with the given policies and data. */
export function network(c: DeployConfig, policyOf: (p: string) => PartyPolicy, data: DataSource, o: { clientsOf?: (p: string) => number | undefined; maxSessions?: number; collectMs?: number } = {}): Network {
  const { hub, wire } = recordingHub();
  hubs.push(hub);
  const logs: string[] = [];
  const players = c.players.map((p) => p.name).filter((n) => n !== DRIVER);
  const serving = players.map((n) =>
    serveSessions(new MemoryTransport({ hub, local: [n] }), c, n, {
      policy: policyOf(n),
      data,
      ...(o.clientsOf?.(n) === undefined ? {} : { clients: o.clientsOf(n)! }),
      log: (l) => logs.push(l),
      maxSessions: o.maxSessions ?? 1,
      timeoutMs: GUARD_MS,
      ...(o.collectMs === undefined ? {} : { collectMs: o.collectMs }),
    }).catch((e: unknown) => e),
  );
  const driverTransport = new HostingTransport(new MemoryTransport({ hub, local: [DRIVER] }));
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const openWith = async (session: string) => {
    const msg = enc.encode(JSON.stringify({ v: 1, session, configHash: configHash(c) }));
    await Promise.all(players.map((p) => driverTransport.send(DRIVER, p, SESSION_KEY, msg)));
    const clients: Record<string, string[]> = {};
    const refusals: Record<string, { error: string; rule?: string }> = {};
    for (const p of players) {
      const r = JSON.parse(dec.decode(await driverTransport.receive(DRIVER, p, `exec/${session}/open`, { timeoutMs: GUARD_MS }))) as { ok: boolean; clients?: string[]; error?: string; rule?: string };
      if (r.ok) clients[p] = r.clients ?? [];
      else refusals[p] = { error: r.error ?? '', ...(r.rule ? { rule: r.rule } : {}) };
    }
    return { d: new EvilDriver(driverTransport, session), clients, refusals };
  };
  let opened = 0;
  return {
    hub,
    wire,
    logs,
    serving,
    players,
    open: () => openWith(`${(0xa11ce000 + opened++).toString(16).padStart(8, '0')}${Math.floor(Math.random() * 2 ** 32).toString(16).padStart(8, '0')}`),
    openWith,
    atDriverBesidesReplies: () => wire.filter((m) => m.to === DRIVER && !/^exec\/[0-9a-f]{16}\/(\d+\/reply|open)$/.test(m.key)),
    async close() {
      hub.close();
      await Promise.all(serving);
    },
  };
}
