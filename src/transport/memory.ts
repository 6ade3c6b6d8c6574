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
import { TransportError } from './errors.js';
import { PlayerCounters } from './stats.js';

interface Mailbox {
  payload?: Uint8Array;
  waiter?: { resolve: (p: Uint8Array) => void; reject: (e: Error) => void; timer?: ReturnType<typeof setTimeout> };
}

function checkName(fn: string, arg: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) {
    throw new TypeError(`${fn}: argument '${arg}' must be a non-empty string, got ${v === null ? 'null' : typeof v}`);
  }
  return v;
}

/** The shared mailboxes and counters behind one or more MemoryTransports. */
export class MemoryHub {
  readonly #boxes = new Map<string, Mailbox>();
  readonly #counters = new PlayerCounters();
  #closed = false;

  deliver(from: string, to: string, key: string, payload: Uint8Array): void {
    if (this.#closed) throw new TransportError(`send: transport is closed (${from} -> ${to}, key '${key}')`);
    const id = `${from}\u0000${to}\u0000${key}`;
    this.#counters.sent(from, payload.byteLength);
    const box = this.#boxes.get(id);
    if (box === undefined) {
      this.#boxes.set(id, { payload });
      return;
    }
    if (box.payload !== undefined || box.waiter === undefined) {
      throw new TransportError(`send: duplicate message from '${from}' to '${to}' under key '${key}'`);
    }
    this.#boxes.delete(id);
    this.#counters.received(to, payload.byteLength);
    if (box.waiter.timer !== undefined) clearTimeout(box.waiter.timer);
    box.waiter.resolve(payload);
  }

  collect(to: string, from: string, key: string, options?: ReceiveOptions): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new TransportError(`receive: transport is closed (${from} -> ${to}, key '${key}')`));
    const id = `${from}\u0000${to}\u0000${key}`;
    const box = this.#boxes.get(id);
    if (box?.payload !== undefined) {
      this.#boxes.delete(id);
      this.#counters.received(to, box.payload.byteLength);
      return Promise.resolve(box.payload);
    }
    if (box?.waiter !== undefined) {
      return Promise.reject(new TransportError(`receive: '${to}' is already waiting for '${from}' under key '${key}'`));
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      const waiter: NonNullable<Mailbox['waiter']> = { resolve, reject };
      const timeoutMs = options?.timeoutMs;
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          this.#boxes.delete(id);
          reject(new TransportError(`receive: nothing from '${from}' to '${to}' under key '${key}' within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.#boxes.set(id, { waiter });
    });
  }

  stats(): Record<string, PlayerStats> {
    return this.#counters.snapshot();
  }

  resetStats(): void {
    this.#counters.reset();
  }

  /** Messages sent but not yet received (useful to check a protocol leaves nothing behind). */
  pending(): number {
    let n = 0;
    for (const b of this.#boxes.values()) if (b.payload !== undefined) n++;
    return n;
  }

  close(): void {
    this.#closed = true;
    for (const [id, b] of this.#boxes) {
      if (b.waiter !== undefined) {
        if (b.waiter.timer !== undefined) clearTimeout(b.waiter.timer);
        b.waiter.reject(new TransportError(`receive: transport closed while waiting (${id.split('\u0000').join(' -> ')})`));
      }
    }
    this.#boxes.clear();
  }
}

export interface MemoryTransportOptions {
  /** Share mailboxes with other transports (to simulate one process per player). Default: a private hub. */
  hub?: MemoryHub;
  /** Players executing in this "process". Default: every player. */
  local?: Iterable<string>;
}

export class MemoryTransport implements Transport {
  readonly kind = 'memory';
  readonly hub: MemoryHub;
  readonly #local: Set<string> | undefined;

  constructor(options: MemoryTransportOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`MemoryTransport: argument 'options' must be an object, got ${options === null ? 'null' : typeof options}`);
    }
    this.hub = options.hub ?? new MemoryHub();
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
