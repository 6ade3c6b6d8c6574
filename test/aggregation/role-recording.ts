/**
 * What a process sent and received, message by message (the cross-process
 * role tests): every message on the process's transport
 * (`RecordingTransport`), and, per plan, what its roles sent and received
 * (`PlanLog`, fed by serveRoles' / RoleDriver's `observe`). A plan's messages
 * are its roles' messages plus its control messages (`fedcrypt/roles/<id>/...`);
 * anything else on the transport but the plans themselves is unattributed.
 */
import { createHash } from 'node:crypto';
import type { ReceiveOptions, Transport } from '../../src/transport/channel.js';
import { ROLES_KEY, type ObservedMessage } from '../../src/deploy/roles-player.js';

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
    return p;
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
export const isControl = (m: Message): boolean => m.key.startsWith(`${ROLES_KEY}/`);

export class PlanLog {
  readonly #plans = new Map<string, { received: Message[]; sent: Message[] }>();
  constructor(readonly transport: RecordingTransport) {}

  readonly observe = (m: ObservedMessage): void => {
    let e = this.#plans.get(m.invocationId);
    if (e === undefined) this.#plans.set(m.invocationId, (e = { received: [], sent: [] }));
    e[m.direction].push(record(m.from, m.to, m.key, m.payload));
  };

  /** What this process's roles and control sent and received for plan `inv`. */
  of(inv: string): { received: Message[]; sent: Message[] } {
    const e = this.#plans.get(inv) ?? { received: [], sent: [] };
    const control = (m: Message) => m.key.startsWith(`${ROLES_KEY}/${inv}/`);
    return { received: [...e.received, ...this.transport.received.filter(control)], sent: [...e.sent, ...this.transport.sent.filter(control)] };
  }

  /** Messages on the transport that are neither a plan, a plan's control message, nor observed in a plan's role. */
  unattributed(): Message[] {
    const seen = new Set([...this.#plans.values()].flatMap((e) => [...e.received, ...e.sent]).map(messageId));
    return [...this.transport.received, ...this.transport.sent].filter((m) => !isControl(m) && !seen.has(messageId(m)));
  }
}
