/**
 * A transport wrapper that measures what an op costs in latency: each
 * message's depth is one more than the deepest message its sender had
 * received when it sent it, so the deepest message since `reset()` is the
 * critical path in communication rounds (what a network's round-trip time
 * multiplies). Bytes are counted per sender -> receiver pair. Payloads pass
 * through untouched (no copy).
 */
import type { PlayerStats, ReceiveOptions, Transport } from './channel.js';

export class CriticalPathTransport implements Transport {
  readonly #inner: Transport;
  readonly #depth = new Map<string, number>();
  readonly #sent = new Map<string, number>();
  readonly #pairs = new Map<string, { bytes: number; messages: number }>();
  #max = 0;

  constructor(inner: Transport) {
    if (inner === null || typeof inner !== 'object' || typeof inner.send !== 'function') throw new TypeError("CriticalPathTransport: argument 'inner' must be a Transport");
    this.#inner = inner;
  }

  get kind(): string { return this.#inner.kind; }
  isLocal(p: string): boolean { return this.#inner.isLocal(p); }
  copiesOnSend(to: string): boolean { return this.#inner.copiesOnSend?.(to) ?? false; }

  send(from: string, to: string, key: string, payload: Uint8Array): Promise<void> {
    const depth = (this.#depth.get(from) ?? 0) + 1;
    this.#sent.set(`${from}>${to}>${key}`, depth);
    this.#max = Math.max(this.#max, depth);
    const k = `${from}->${to}`;
    const e = this.#pairs.get(k) ?? { bytes: 0, messages: 0 };
    e.bytes += payload.byteLength;
    e.messages++;
    this.#pairs.set(k, e);
    return this.#inner.send(from, to, key, payload);
  }

  async receive(to: string, from: string, key: string, options?: ReceiveOptions): Promise<Uint8Array> {
    const p = await this.#inner.receive(to, from, key, options);
    const k = `${from}>${to}>${key}`;
    const d = this.#sent.get(k) ?? 0;
    this.#sent.delete(k);
    this.#depth.set(to, Math.max(this.#depth.get(to) ?? 0, d));
    return p;
  }

  /** The critical path (rounds) of the messages since the last reset. */
  rounds(): number { return this.#max; }
  /** Bytes and messages per 'from->to' pair since the last reset. */
  pairs(): ReadonlyMap<string, { bytes: number; messages: number }> { return this.#pairs; }
  /** Bytes sent by `player` since the last reset. */
  bytesSentBy(player: string): number {
    let b = 0;
    for (const [k, v] of this.#pairs) if (k.startsWith(`${player}->`)) b += v.bytes;
    return b;
  }
  /** Start counting afresh (depths, pairs). */
  reset(): void {
    this.#depth.clear();
    this.#sent.clear();
    this.#pairs.clear();
    this.#max = 0;
  }

  stats(): Record<string, PlayerStats> { return this.#inner.stats(); }
  resetStats(): void { this.#inner.resetStats(); }
  close(): Promise<void> { return this.#inner.close(); }
}
