/** What a process sent and received, message by message (the cross-process role tests). */
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

const record = (from: string, to: string, key: string, p: Uint8Array): Message => ({
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
