/**
 * The driver's session with the players of a remote execution context
 * (context.ts): sending commands (queued, and sent per turn of the event
 * loop as one batch message per player), pipelined replies, the aggregates
 * deferred to their first use, the values of an invocation (disposed when it
 * ends), and the failures of an invocation (faults.ts names the player).
 */
import { PolicyError } from '../../core/errors.js';
import type { RtValue } from '../../core/values.js';
import type { RemoteExecutionOptions, RemoteRef } from './context.js';
import { decisive, diagnose, RemoteCommandError, type NotedFailure } from './faults.js';
import { hostOf } from '../../transport/hosting.js';
import { execKey } from './player.js';
import { frame, frameBatch, MAX_BATCH, unframe, unframeBatch, type Framed } from './wire.js';

/** A command waiting to be sent (and its reply's waiter). */
interface Outgoing {
  readonly seq: number;
  readonly header: Record<string, unknown>;
  readonly blobs: readonly Uint8Array[];
  readonly done: (r: Framed) => void;
  readonly fail: (e: unknown) => void;
}

export interface Deferred {
  readonly run: (target: 'AGGREGATORS' | 'SERVER') => Promise<RtValue | undefined>;
  aggregators?: Promise<void>;
  server?: Promise<RtValue>;
}

/** Clients that dropped out of an aggregation the protocol completed without them (`RemoteContext.dropouts`). */
export interface Dropout {
  /** The aggregation (its invocation id). */
  readonly invocationId: string;
  /** The plan's clients whose values the aggregate does not hold. */
  readonly clients: readonly string[];
  /** The client players the driver lost in it (left out of the rest of the session). */
  readonly players: readonly string[];
}

/** The driver's session with the players. */
export class RemoteSession {
  readonly aggregators: readonly string[];
  /** Client players lost to a dropout: no command goes to them any more. */
  readonly #lost = new Set<string>();
  readonly dropouts: Dropout[] = [];
  readonly #seq = new Map<string, number>();
  #refs = 0;
  #aggs = 0;
  /** Values the players hold for the invocation under way (disposed at its end). */
  #live: number[] = [];
  /** Commands and roles under way, and the failures seen in this invocation (see faults.ts). */
  readonly #inflight = new Set<Promise<unknown>>();
  readonly failures: NotedFailure[] = [];
  constructor(readonly o: RemoteExecutionOptions) {
    this.aggregators = o.aggregators ?? o.roles.aggregatorNames;
    const names = new Set(o.players.map((p) => p.name));
    for (const a of this.aggregators) if (!names.has(a)) throw new RangeError(`remoteExecutionContext: aggregator '${a}' is not among the players`);
  }
  newRef(): number {
    this.#live.push(this.#refs);
    return this.#refs++;
  }
  readonly #deferred = new Map<RemoteRef, Deferred>();
  /** An aggregate at AGGREGATORS, run at its first use (see `aggregation`). */
  defer(r: RemoteRef, run: Deferred['run']): void {
    this.#deferred.set(r, { run });
  }
  /** Make sure `r` is held at the AGGREGATORS (a deferred aggregate runs now, to them). */
  async atAggregators(r: RemoteRef): Promise<void> {
    const d = this.#deferred.get(r);
    if (d === undefined) return;
    d.aggregators ??= d.run('AGGREGATORS').then(() => undefined);
    await d.aggregators;
  }
  /** A deferred aggregate not yet at the AGGREGATORS: revealed to SERVER only (its member value); else undefined. */
  async toServer(r: RemoteRef): Promise<RtValue | undefined> {
    const d = this.#deferred.get(r);
    if (d === undefined || d.aggregators !== undefined) return undefined;
    d.server ??= d.run('SERVER').then((v) => v!);
    return d.server;
  }
  clearDeferred(): void {
    this.#deferred.clear();
  }
  /** Run every deferred aggregate nothing has used (to AGGREGATORS, as written), then forget them. */
  async flushDeferred(): Promise<void> {
    for (const [r, d] of this.#deferred) if (d.server === undefined) await this.atAggregators(r);
    this.#deferred.clear();
  }
  /** The values made since the last call (the invocation's), forgotten here. */
  takeLive(): number[] {
    return this.#live.splice(0);
  }
  /** Follow `p` (a command or a role of this process): its failure is noted for the diagnosis. */
  track<T>(at: string, p: Promise<T>): Promise<T> {
    const t = p.catch((e: unknown) => {
      this.failures.push({ at, error: e });
      throw e;
    });
    const done = t.then(() => undefined, () => undefined);
    this.#inflight.add(done);
    void done.then(() => this.#inflight.delete(done));
    return t;
  }
  /**
   * The error to report for a failed invocation (faults.ts): after `first`,
   * wait up to `graceMs` for what is still under way (unless `first` is
   * decisive), then name the player the evidence points to.
   */
  async diagnose(first: unknown, graceMs: number): Promise<unknown> {
    if (!decisive(first) && this.#inflight.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([Promise.all([...this.#inflight]), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
    }
    return diagnose(first, this.failures);
  }
  newAggregation(): string {
    return `${this.o.session}/agg/${this.#aggs++}`;
  }
  /** The CLIENTS members of the players still in the session. */
  get clients(): string[] {
    return this.o.players.filter((p) => !this.#lost.has(p.name)).flatMap((p) => p.clients);
  }
  get clientPlayers(): string[] {
    return this.o.players.filter((p) => p.clients.length > 0 && !this.#lost.has(p.name)).map((p) => p.name);
  }
  /** Every player still in the session. */
  get livePlayers(): string[] {
    return this.o.players.filter((p) => !this.#lost.has(p.name)).map((p) => p.name);
  }
  /** Record a dropout: `players` are left out of every later command (a client player only). */
  lose(d: Dropout): void {
    for (const p of d.players) {
      if (this.aggregators.includes(p)) throw new Error(`internal error: aggregator '${p}' cannot drop out`);
      this.#lost.add(p);
    }
    this.dropouts.push(d);
  }
  isLost(player: string): boolean {
    return this.#lost.has(player);
  }
  /**
   * Send one command to `player` and wait for its reply; a refusal is a
   * PolicyError naming the party and rule. Commands are queued and sent
   * once this turn of the event loop is over: what the driver has for a
   * player by then goes as one batch message (answered by one batch of
   * replies), and a batch with the same commands as the previous player's
   * (the same broadcast to every client player) is framed once.
   */
  async command(player: string, header: Record<string, unknown>, blobs: Uint8Array[] = []): Promise<{ header: Record<string, unknown>; blobs: readonly Uint8Array[] }> {
    const seq = this.#seq.get(player) ?? 0;
    this.#seq.set(player, seq + 1);
    const reply = new Promise<Framed>((done, fail) => {
      let q = this.#outbox.get(player);
      if (q === undefined) this.#outbox.set(player, (q = []));
      q.push({ seq, header, blobs, done, fail });
      this.#schedule();
    });
    return this.track(this.o.server, reply.then((r) => {
      const h = r.header;
      if (h['ok'] !== true) {
        // a player speaks for itself and the clients it hosts, never for another party
        const party = typeof h['party'] === 'string' && hostOf(h['party']) === player ? h['party'] : player;
        const error = typeof h['error'] === 'string' ? h['error'].slice(0, 1000) : 'failed';
        if (typeof h['rule'] === 'string') throw new PolicyError(h['rule'], error.replace(/^.*?policy "[^"]*" refuses: /, ''), { party });
        const peer = typeof h['peer'] === 'string' && this.o.players.some((p) => p.name === h['peer'] || p.clients.includes(h['peer'] as string)) ? h['peer'] : undefined;
        const how = h['peerFailure'] === 'lost' || h['peerFailure'] === 'deadline' ? h['peerFailure'] : undefined;
        throw new RemoteCommandError(player, String(header['op']), error, peer, peer === undefined ? undefined : how);
      }
      return r;
    }));
  }
  readonly #outbox = new Map<string, Outgoing[]>();
  #scheduled = false;
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      let last: { items: Outgoing[]; bytes: Uint8Array } | undefined;
      for (const [player, items] of [...this.#outbox]) {
        this.#outbox.delete(player);
        for (let i = 0; i < items.length; i += MAX_BATCH) {
          const part = items.slice(i, i + MAX_BATCH);
          const same = last !== undefined && last.items.length === part.length && part.every((x, k) => x.header === last!.items[k]!.header && x.blobs === last!.items[k]!.blobs);
          const bytes = same ? last!.bytes : part.length === 1 ? frame(part[0]!.header, part[0]!.blobs) : frameBatch(part);
          last = { items: part, bytes };
          void this.#send(player, part, bytes);
        }
      }
    });
  }
  async #send(player: string, items: readonly Outgoing[], bytes: Uint8Array): Promise<void> {
    const t = this.o.transport;
    const key = execKey(this.o.session, items[0]!.seq);
    try {
      await t.send(this.o.server, player, key, bytes);
      const reply = unframe(await t.receive(this.o.server, player, `${key}/reply`, { timeoutMs: this.o.timeoutMs ?? 600_000 }), `reply of ${player}`);
      if (items.length === 1) {
        items[0]!.done(reply);
        return;
      }
      // (a player that fails the first command of a batch may answer with that one reply alone)
      const replies = reply.header['op'] === 'batch' ? unframeBatch(reply, `reply of ${player}`) : [reply];
      // a player stops at a failed command (it ends the session): fewer replies, the last a failure
      const stopped = replies.length > 0 && replies.length < items.length && replies[replies.length - 1]!.header['ok'] !== true;
      if (replies.length !== items.length && !stopped) throw new RangeError(`reply of ${player}: ${replies.length} replies to a batch of ${items.length} commands`);
      items.forEach((x, i) => {
        if (i < replies.length) x.done(replies[i]!);
        else x.fail(new RemoteCommandError(player, String(x.header['op']), 'not run (the player ended the session at a failed command before it)'));
      });
    } catch (e) {
      for (const x of items) x.fail(e);
    }
  }
  all(players: readonly string[], header: Record<string, unknown>, blobs: Uint8Array[] = []): Promise<{ header: Record<string, unknown>; blobs: readonly Uint8Array[] }[]> {
    return Promise.all(players.map((p) => this.command(p, header, blobs)));
  }
  /**
   * Send without waiting for the replies (a player runs its commands in
   * order, so a later command sees this one's value): the replies are checked
   * at the next `settle()`, which every command whose result is read calls
   * first. A round trip per intrinsic becomes one per aggregation.
   */
  pipeline(players: readonly string[], header: Record<string, unknown>, blobs: Uint8Array[] = []): void {
    for (const p of players) {
      const r = this.command(p, header, blobs).then(
        () => undefined,
        (e: unknown) => ({ error: e, player: p }),
      );
      this.#pending.push({ player: p, reply: r });
    }
  }
  /** Wait for the pipelined replies; throw the first failure among them (the cause of what follows). */
  async settle(): Promise<void> {
    while (this.#pending.length > 0) {
      // (a player lost to a dropout: its earlier commands are not waited for)
      const batch = this.#pending.splice(0).filter((x) => !this.#lost.has(x.player)).map((x) => x.reply);
      if (batch.length === 0) continue;
      // the first failure settles it at once: the other players may be waiting on the one that failed
      await new Promise<void>((resolve, reject) => {
        let left = batch.length;
        // (a player lost to a dropout failed its earlier commands too: that is no failure of the invocation)
        for (const p of batch) void p.then((r) => (r !== undefined && !this.#lost.has(r.player) ? reject(r.error) : --left === 0 ? resolve() : undefined));
      });
    }
  }
  readonly #pending: { player: string; reply: Promise<{ error: unknown; player: string } | undefined> }[] = [];
}

