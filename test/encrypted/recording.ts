// A transport that records a copy of every payload (what each party receives), for the protocol tests.
import { MemoryTransport, type Transport } from '../../src/transport/index.js';

export interface Msg { from: string; to: string; key: string; bytes: Uint8Array }

/** Records a copy of every payload sent through the wrapped in-memory transport. */
export class RecordingTransport implements Transport {
  readonly kind = 'recording';
  readonly log: Msg[] = [];
  constructor(readonly inner: MemoryTransport = new MemoryTransport()) {}
  isLocal(p: string) { return this.inner.isLocal(p); }
  send(from: string, to: string, key: string, payload: Uint8Array) {
    this.log.push({ from, to, key, bytes: payload.slice() });
    return this.inner.send(from, to, key, payload);
  }
  receive(to: string, from: string, key: string) { return this.inner.receive(to, from, key); }
  stats() { return this.inner.stats(); }
  resetStats() { this.inner.resetStats(); }
  close() { return this.inner.close(); }
  /** The messages recorded since the last take, removed from the log. */
  take(): Msg[] { return this.log.splice(0); }
}
