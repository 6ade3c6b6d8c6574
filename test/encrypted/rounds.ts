// A transport that records every message with its causal depth (rounds on the critical path), for the op-cost tests.
import { MemoryTransport, type Transport } from '../../src/transport/index.js';

/** A message: `bytes` its length, `payload` a copy of it (for the view tests). */
export interface DepthMsg { from: string; to: string; key: string; bytes: number; payload: Uint8Array; depth: number }

/**
 * A message's depth is one more than the deepest message its sender had
 * received when it sent it; `reset` starts a new op at depth 0.
 */
export class RoundTransport implements Transport {
  readonly kind = 'recording';
  log: DepthMsg[] = [];
  #depth = new Map<string, number>();
  #sent = new Map<string, number>();
  constructor(readonly inner: MemoryTransport = new MemoryTransport()) {}
  isLocal(p: string) { return this.inner.isLocal(p); }
  send(from: string, to: string, key: string, payload: Uint8Array) {
    const depth = (this.#depth.get(from) ?? 0) + 1;
    this.#sent.set(`${from}>${to}>${key}`, depth);
    this.log.push({ from, to, key, bytes: payload.length, payload: payload.slice(), depth });
    return this.inner.send(from, to, key, payload);
  }
  async receive(to: string, from: string, key: string, o?: { timeoutMs?: number }) {
    const p = await this.inner.receive(to, from, key, o);
    const d = this.#sent.get(`${from}>${to}>${key}`) ?? 0;
    this.#depth.set(to, Math.max(this.#depth.get(to) ?? 0, d));
    return p;
  }
  stats() { return this.inner.stats(); }
  resetStats() { this.inner.resetStats(); }
  close() { return this.inner.close(); }
  reset() { this.log = []; this.#depth.clear(); this.#sent.clear(); }
  /** Critical path of the messages since the last reset. */
  rounds() { return Math.max(0, ...this.log.map((m) => m.depth)); }
  sentBy(p: string) { return this.log.filter((m) => m.from === p).reduce((a, m) => a + m.bytes, 0); }
  /** Bytes sent by server0, server1, server2. */
  bytes(): [number, number, number] { return [this.sentBy('server0'), this.sentBy('server1'), this.sentBy('server2')]; }
}
