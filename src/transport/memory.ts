/**
 * In-memory transport: every player (or a chosen subset) runs in this process.
 *
 * Payloads are handed over without copying (the sender must not mutate them
 * afterwards). Several `MemoryTransport`s built on one `MemoryHub`, each local
 * for a different subset of players, simulate separate processes: the same
 * SPMD protocol code then runs once per "process", exactly as it will over a
 * network transport.
 */
import type { PlayerStats, ReceiveOptions, Transport } from './channel.js';
import { PeerError, TransportError } from './errors.js';
import { messageCharge, resolveLimits, type ReceiveLimits } from './limits.js';
import { Mailboxes } from './mailboxes.js';
import { PlayerCounters } from './stats.js';

function checkName(fn: string, arg: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) {
    throw new TypeError(`${fn}: argument '${arg}' must be a non-empty string, got ${v === null ? 'null' : typeof v}`);
  }
  return v;
}

export interface MemoryHubOptions {
  /**
   * Receive limits, as a deployment's (limits.ts): a message above
   * maxMessageBytes is refused (RangeError); a link (sender -> receiver)
   * holding more than maxBufferedBytes of unclaimed messages is closed (the
   * send fails, the receiver's waiting receives fail naming the sender, its
   * unclaimed messages are dropped); an unclaimed message is dropped after
   * unclaimedMessageTtlMs. maxIncompleteMessages does not apply (messages
   * arrive whole). Default: the deployment defaults.
   */
  limits?: Partial<ReceiveLimits>;
  /** Told of every message dropped and every link closed. Default: nothing. */
  logger?: (event: { type: 'dropped' | 'refused'; peer: string; local: string; reason: string }) => void;
}

/** The shared mailboxes and counters behind one or more MemoryTransports. */
export class MemoryHub {
  readonly #counters = new PlayerCounters();
  readonly #limits: ReceiveLimits;
  readonly #log: NonNullable<MemoryHubOptions['logger']>;
  readonly #boxes: Mailboxes;
  #closed = false;

  constructor(options: MemoryHubOptions = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError(`MemoryHub: argument 'options' must be an object, got ${options === null ? 'null' : typeof options}`);
    this.#limits = resolveLimits('MemoryHub', options.limits);
    this.#log = options.logger ?? (() => {});
    this.#boxes = new Mailboxes({
      unclaimedTtlMs: this.#limits.unclaimedMessageTtlMs,
      onDrop: (from, to, key, reason) => this.#log({ type: 'dropped', peer: from, local: to, reason: `message under key '${key}' dropped: ${reason}` }),
      onReceived: (to, bytes) => this.#counters.received(to, bytes),
    });
  }

  /** The receive limits in force. */
  get limits(): Readonly<ReceiveLimits> {
    return { ...this.#limits };
  }

  deliver(from: string, to: string, key: string, payload: Uint8Array): void {
    if (this.#closed) throw new TransportError(`send: transport is closed (${from} -> ${to}, key '${key}')`);
    const max = this.#limits.maxMessageBytes;
    if (payload.byteLength > max) throw new RangeError(`send: argument 'payload' has ${payload.byteLength} bytes, above the limit of ${max} bytes (maxMessageBytes) for '${from}' -> '${to}'`);
    const held = this.#boxes.held(from, to);
    if (!this.#boxes.waiting(from, to, key) && held + messageCharge(payload.byteLength, key) > this.#limits.maxBufferedBytes) {
      const why = `link from '${from}' closed by '${to}': holding the message under key '${key}' would bring the link to ${held + messageCharge(payload.byteLength, key)} bytes, above ${this.#limits.maxBufferedBytes} (limits.maxBufferedBytes)`;
      const dropped = this.#boxes.dropLink(from, to, why);
      this.#log({ type: 'refused', peer: from, local: to, reason: `${why}${dropped ? `; ${dropped} unclaimed message(s) of the link dropped` : ''}` });
      this.#boxes.failWaiters(from, to, why);
      throw new PeerError(`send: link from '${from}' to '${to}' lost (refused: ${why})`, to);
    }
    this.#counters.sent(from, payload.byteLength);
    if (this.#boxes.deliver(from, to, key, payload) === 'duplicate') {
      throw new TransportError(`send: duplicate message from '${from}' to '${to}' under key '${key}'`);
    }
  }

  collect(to: string, from: string, key: string, options?: ReceiveOptions): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new TransportError(`receive: transport is closed (${from} -> ${to}, key '${key}')`));
    return this.#boxes.collect(to, from, key, options?.timeoutMs);
  }

  stats(): Record<string, PlayerStats> {
    return this.#counters.snapshot();
  }

  resetStats(): void {
    this.#counters.reset();
  }

  /** Messages sent but not yet received (useful to check a protocol leaves nothing behind). */
  pending(): number {
    return this.#boxes.pending();
  }

  close(): void {
    this.#closed = true;
    this.#boxes.close();
  }
}

export interface MemoryTransportOptions {
  /** Share mailboxes with other transports (to simulate one process per player). Default: a private hub. */
  hub?: MemoryHub;
  /** Players executing in this "process". Default: every player. */
  local?: Iterable<string>;
  /** Receive limits of the private hub (see MemoryHubOptions); give them to the hub when sharing one. */
  limits?: Partial<ReceiveLimits>;
}

export class MemoryTransport implements Transport {
  readonly kind = 'memory';
  readonly hub: MemoryHub;
  readonly #local: Set<string> | undefined;

  constructor(options: MemoryTransportOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`MemoryTransport: argument 'options' must be an object, got ${options === null ? 'null' : typeof options}`);
    }
    if (options.hub && options.limits) throw new TypeError(`MemoryTransport: give 'limits' to the shared hub (new MemoryHub({ limits })), not with option 'hub'`);
    this.hub = options.hub ?? new MemoryHub(options.limits ? { limits: options.limits } : {});
    this.#local = options.local === undefined ? undefined : new Set([...options.local].map((p, i) => checkName('MemoryTransport', `local[${i}]`, p)));
  }

  isLocal(player: string): boolean {
    return this.#local === undefined || this.#local.has(player);
  }

  async send(from: string, to: string, key: string, payload: Uint8Array): Promise<void> {
    checkName('send', 'from', from);
    checkName('send', 'to', to);
    checkName('send', 'key', key);
    if (!(payload instanceof Uint8Array)) throw new TypeError(`send: argument 'payload' must be a Uint8Array`);
    if (!this.isLocal(from)) throw new TransportError(`send: player '${from}' is not local to this transport`);
    this.hub.deliver(from, to, key, payload);
  }

  receive(to: string, from: string, key: string, options?: ReceiveOptions): Promise<Uint8Array> {
    checkName('receive', 'to', to);
    checkName('receive', 'from', from);
    checkName('receive', 'key', key);
    if (!this.isLocal(to)) return Promise.reject(new TransportError(`receive: player '${to}' is not local to this transport`));
    return this.hub.collect(to, from, key, options);
  }

  stats(): Record<string, PlayerStats> {
    return this.hub.stats();
  }

  resetStats(): void {
    this.hub.resetStats();
  }

  async close(): Promise<void> {
    this.hub.close();
  }
}

let defaultTransport: MemoryTransport | undefined;

/** The process-wide in-memory transport protocols use when none is given. */
export function getDefaultTransport(): MemoryTransport {
  return (defaultTransport ??= new MemoryTransport());
}
