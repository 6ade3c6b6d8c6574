/**
 * What a process sent and received, message by message (the cross-process
 * role tests): `RecordingTransport` logs every message on the transport a
 * process gives its executor (the driver's remote context, a player's
 * `servePlayerExecutor`). Every key of a session names it: the executor's
 * commands and replies (`exec/<session>/...`) and the protocols' messages
 * (their keys derive from the plan's invocation id, `<session>/agg/<n>`), so
 * a session's messages are those whose key contains the session id.
 */
import { createHash } from 'node:crypto';
import type { ReceiveOptions, Transport } from '../../src/transport/channel.js';

export interface Message {
  readonly from: string;
  readonly to: string;
  readonly key: string;
  readonly bytes: number;
  readonly sha256: string;
  /** The payload, when at most 64 KiB. */
  readonly b64?: string;
}

export const record = (from: string, to: string, key: string, p: Uint8Array): Message => ({
  from,
  to,
  key,
  bytes: p.byteLength,
  sha256: createHash('sha256').update(p).digest('hex'),
  ...(p.byteLength <= 65536 ? { b64: Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('base64') } : {}),
});

/** A transport that logs every message its process sends and receives. */
export class RecordingTransport implements Transport {
  readonly received: Message[] = [];
  readonly sent: Message[] = [];
  readonly #listeners = new Set<() => void>();
  constructor(readonly inner: Transport) {}
  get kind(): string {
    return this.inner.kind;
  }
  isLocal(p: string): boolean {
    return this.inner.isLocal(p);
  }
  async send(from: string, to: string, key: string, payload: Uint8Array): Promise<void> {
    this.sent.push(record(from, to, key, payload));
    return this.inner.send(from, to, key, payload);
  }
  async receive(to: string, from: string, key: string, options?: ReceiveOptions): Promise<Uint8Array> {
    const p = await this.inner.receive(to, from, key, options);
    this.received.push(record(from, to, key, p));
    for (const l of this.#listeners) l();
    return p;
  }
  /** Resolves once a received message satisfies `pick`. */
  receivedOne(pick: (m: Message) => boolean): Promise<Message> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        const m = this.received.find(pick);
        if (m === undefined) return false;
        this.#listeners.delete(listener);
        resolve(m);
        return true;
      };
      const listener = (): void => void check();
      if (!check()) this.#listeners.add(listener);
    });
  }
  stats() {
    return this.inner.stats();
  }
  resetStats(): void {
    this.inner.resetStats();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Identity of a message (sender, receiver, key, payload hash). */
export const messageId = (m: Message): string => `${m.from}>${m.to}:${m.key}:${m.sha256}`;
/** A command of the executor, a player's reply, or the session's abort (not a protocol's message). */
export const isExec = (m: Message): boolean => m.key.startsWith('exec/');
/** The messages of `session` in a log. */
export const ofSession = (log: readonly Message[], session: string): Message[] => log.filter((m) => m.key.includes(session));
