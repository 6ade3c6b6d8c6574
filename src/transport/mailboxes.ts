/**
 * The rendezvous of received messages and the receives waiting for them,
 * shared by every Transport (MemoryHub, GrpcTransport), so that what happens
 * to a message nobody claims is decided in one place.
 *
 * A message is filed under (from, to, key). A receive takes it, or waits for
 * it (at most its deadline). A message nobody has asked for (unclaimed) is
 * charged to its link (transport/limits.ts, `messageCharge`) and dropped
 * after `unclaimedMessageTtlMs`; a later receive for it fails at once,
 * saying so (the last TOMBSTONES dropped keys are remembered). One timer
 * (unref'd) serves every unclaimed message: they expire in arrival order.
 */
import { PeerError, TransportError } from './errors.js';
import { messageCharge } from './limits.js';

interface Waiter {
  resolve: (p: Uint8Array) => void;
  reject: (e: Error) => void;
  timer?: ReturnType<typeof setTimeout>;
}

interface Box {
  payload?: Uint8Array;
  waiter?: Waiter;
}

/** Dropped keys remembered so that a late receive fails at once instead of at its deadline. */
const TOMBSTONES = 4096;

const boxId = (from: string, to: string, key: string) => `${from}\u0000${to}\u0000${key}`;
const linkId = (from: string, to: string) => `${from}\u0000${to}`;
/** [from, to, key] of a box id (names never contain NUL; a key may). */
function parseId(id: string): [string, string, string] {
  const a = id.indexOf('\u0000');
  const b = id.indexOf('\u0000', a + 1);
  return [id.slice(0, a), id.slice(a + 1, b), id.slice(b + 1)];
}

export interface MailboxesOptions {
  /** Unclaimed messages are dropped after this long (ms). */
  unclaimedTtlMs: number;
  /** A message was dropped unclaimed (for the transport's log). */
  onDrop: (from: string, to: string, key: string, reason: string) => void;
  /** A receive of `to` took a message of `bytes` bytes (for the traffic counters). */
  onReceived: (to: string, bytes: number) => void;
}

export type DeliverResult = 'taken' | 'stored' | 'duplicate' | 'closed';

export class Mailboxes {
  readonly #boxes = new Map<string, Box>();
  /** Unclaimed messages by box id: when each expires (insertion order is expiry order), and its link and charge. */
  readonly #unclaimed = new Map<string, { expires: number; link: string; charge: number }>();
  /** Charged bytes of unclaimed messages per link. */
  readonly #held = new Map<string, number>();
  readonly #tombs = new Map<string, string>();
  readonly #o: MailboxesOptions;
  #sweep: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(options: MailboxesOptions) {
    this.#o = options;
  }

  /** File `payload`: handed to a waiting receive ('taken'), kept for a later one ('stored'), refused as a second message under the key ('duplicate'), or dropped after close ('closed'). */
  deliver(from: string, to: string, key: string, payload: Uint8Array): DeliverResult {
    if (this.#closed) return 'closed';
    const id = boxId(from, to, key);
    const box = this.#boxes.get(id);
    if (box === undefined) {
      this.#boxes.set(id, { payload });
      this.#tombs.delete(id);
      const link = linkId(from, to);
      const charge = messageCharge(payload.byteLength, key);
      this.#unclaimed.set(id, { expires: Date.now() + this.#o.unclaimedTtlMs, link, charge });
      this.#held.set(link, (this.#held.get(link) ?? 0) + charge);
      this.#sweep ??= this.#schedule(this.#o.unclaimedTtlMs);
      return 'stored';
    }
    if (box.waiter === undefined) return 'duplicate';
    this.#boxes.delete(id);
    this.#o.onReceived(to, payload.byteLength);
    if (box.waiter.timer !== undefined) clearTimeout(box.waiter.timer);
    box.waiter.resolve(payload);
    return 'taken';
  }

  /** The message `from` sent `to` under `key`: at once if it is here, else when it arrives (or a rejection: deadline, link lost, dropped, closed). */
  collect(to: string, from: string, key: string, timeoutMs?: number): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new PeerError(`receive: transport is closed (${from} -> ${to}, key '${key}')`, from));
    const id = boxId(from, to, key);
    const box = this.#boxes.get(id);
    if (box?.payload !== undefined) {
      const payload = box.payload;
      this.#boxes.delete(id);
      this.#release(id);
      this.#o.onReceived(to, payload.byteLength);
      return Promise.resolve(payload);
    }
    if (box?.waiter !== undefined) return Promise.reject(new TransportError(`receive: '${to}' is already waiting for '${from}' under key '${key}'`));
    const dropped = this.#tombs.get(id);
    if (dropped !== undefined) {
      this.#tombs.delete(id);
      return Promise.reject(new PeerError(`receive: the message from '${from}' to '${to}' under key '${key}' arrived but was dropped (${dropped})`, from));
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          this.#boxes.delete(id);
          reject(new PeerError(`receive: nothing from '${from}' to '${to}' under key '${key}' within ${timeoutMs} ms`, from));
        }, timeoutMs);
      }
      this.#boxes.set(id, { waiter });
    });
  }

  /** Whether a receive of `to` waits for `key` from `from`. */
  waiting(from: string, to: string, key: string): boolean {
    return this.#boxes.get(boxId(from, to, key))?.waiter !== undefined;
  }

  /** Charged bytes of the messages `from` sent `to` that nobody has claimed yet. */
  held(from: string, to: string): number {
    return this.#held.get(linkId(from, to)) ?? 0;
  }

  /** Messages received but not yet claimed. */
  pending(): number {
    return this.#unclaimed.size;
  }

  /** Reject every receive of `to` waiting on `from`: `why` (e.g. "link from 'a' closed (...)"). */
  failWaiters(from: string, to: string, why: string): void {
    const prefix = `${linkId(from, to)}\u0000`;
    for (const [id, b] of this.#boxes) {
      if (b.waiter === undefined || !id.startsWith(prefix)) continue;
      this.#boxes.delete(id);
      if (b.waiter.timer !== undefined) clearTimeout(b.waiter.timer);
      b.waiter.reject(new PeerError(`receive: ${why} while '${to}' waited for '${from}' under key '${id.slice(prefix.length)}'`, from));
    }
  }

  /** Drop every unclaimed message of the link `from` -> `to` (a later receive for one fails at once, giving `why`); returns how many. */
  dropLink(from: string, to: string, why: string): number {
    const link = linkId(from, to);
    let n = 0;
    for (const [id, u] of this.#unclaimed) {
      if (u.link !== link) continue;
      this.#drop(id, why);
      n++;
    }
    return n;
  }

  /** Reject every waiting receive; forget every message. */
  close(): void {
    this.#closed = true;
    if (this.#sweep !== undefined) clearTimeout(this.#sweep);
    this.#sweep = undefined;
    for (const [id, b] of this.#boxes) {
      if (b.waiter === undefined) continue;
      if (b.waiter.timer !== undefined) clearTimeout(b.waiter.timer);
      const [from, to, key] = parseId(id);
      b.waiter.reject(new PeerError(`receive: transport closed while '${to}' waited for '${from}' under key '${key}'`, from));
    }
    this.#boxes.clear();
    this.#unclaimed.clear();
    this.#held.clear();
    this.#tombs.clear();
  }

  #release(id: string): void {
    const u = this.#unclaimed.get(id);
    if (u === undefined) return;
    this.#unclaimed.delete(id);
    const left = (this.#held.get(u.link) ?? 0) - u.charge;
    if (left > 0) this.#held.set(u.link, left);
    else this.#held.delete(u.link);
  }

  #drop(id: string, why: string): void {
    this.#boxes.delete(id);
    this.#release(id);
    this.#tombs.set(id, why);
    if (this.#tombs.size > TOMBSTONES) this.#tombs.delete(this.#tombs.keys().next().value!);
  }

  #schedule(ms: number): ReturnType<typeof setTimeout> {
    const t = setTimeout(() => this.#expire(), Math.max(1, ms));
    t.unref();
    return t;
  }

  #expire(): void {
    this.#sweep = undefined;
    const now = Date.now();
    const ttl = this.#o.unclaimedTtlMs;
    for (const [id, u] of this.#unclaimed) {
      if (u.expires > now) {
        this.#sweep = this.#schedule(u.expires - now);
        return;
      }
      const [from, to, key] = parseId(id);
      const why = `unclaimed for ${ttl} ms (limits.unclaimedMessageTtlMs)`;
      this.#drop(id, why);
      this.#o.onDrop(from, to, key, why);
    }
  }
}
