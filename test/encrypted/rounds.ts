// A transport that records every message with its causal depth (rounds on the critical path), for the op-cost tests.
import { MemoryTransport, type Transport } from '../../src/transport/index.js';

/**
 * A message: `bytes` its length, `payload` a copy of it (for the view tests);
 * `online` its depth when the `offline` senders' messages count as depth 0;
 * `lockstep` its lock-step round: one more than the deepest lock-step round
 * of any message received anywhere before it was sent (all players in one
 * process advance together, every await of a message a barrier for all).
 */
export interface DepthMsg { from: string; to: string; key: string; bytes: number; payload: Uint8Array; depth: number; online: number; lockstep: number }

/**
 * A message's depth is one more than the deepest message its sender had
 * received when it sent it; `reset` starts a new op at depth 0. Its online
 * depth is the same with the messages of the `offline` senders (Pond's crypto
 * producer: input-independent preprocessing) at depth 0.
 */
export class RoundTransport implements Transport {
  readonly kind = 'recording';
  log: DepthMsg[] = [];
  #depth = new Map<string, [number, number]>();
  #sent = new Map<string, [number, number, number]>();
  #deepest = 0;
  readonly #offline: ReadonlySet<string>;
  constructor(readonly inner: MemoryTransport = new MemoryTransport(), options: { offline?: readonly string[] } = {}) {
    this.#offline = new Set(options.offline ?? []);
  }
  isLocal(p: string) { return this.inner.isLocal(p); }
  send(from: string, to: string, key: string, payload: Uint8Array) {
    const [d, o] = this.#depth.get(from) ?? [0, 0];
    const depth: [number, number, number] = [d + 1, this.#offline.has(from) ? 0 : o + 1, this.#deepest + 1];
    this.#sent.set(`${from}>${to}>${key}`, depth);
    this.log.push({ from, to, key, bytes: payload.length, payload: payload.slice(), depth: depth[0], online: depth[1], lockstep: depth[2] });
    return this.inner.send(from, to, key, payload);
  }
  async receive(to: string, from: string, key: string, o?: { timeoutMs?: number }) {
    const p = await this.inner.receive(to, from, key, o);
    const [d, on, lock] = this.#sent.get(`${from}>${to}>${key}`) ?? [0, 0, 0];
    const [had, hadOn] = this.#depth.get(to) ?? [0, 0];
    this.#depth.set(to, [Math.max(had, d), Math.max(hadOn, on)]);
    this.#deepest = Math.max(this.#deepest, lock);
    return p;
  }
  stats() { return this.inner.stats(); }
  resetStats() { this.inner.resetStats(); }
  close() { return this.inner.close(); }
  reset() { this.log = []; this.#depth.clear(); this.#sent.clear(); this.#deepest = 0; }
  /** Critical path of the messages since the last reset. */
  rounds() { return Math.max(0, ...this.log.map((m) => m.depth)); }
  /** The same, the offline senders' messages at depth 0 (the online rounds). */
  onlineRounds() { return Math.max(0, ...this.log.map((m) => m.online)); }
  /** Lock-step rounds since the last reset (see DepthMsg). */
  lockstepRounds() { return Math.max(0, ...this.log.map((m) => m.lockstep)); }
  sentBy(p: string) { return this.log.filter((m) => m.from === p).reduce((a, m) => a + m.bytes, 0); }
  /** Bytes sent by server0, server1, server2. */
  bytes(): [number, number, number] { return [this.sentBy('server0'), this.sentBy('server1'), this.sentBy('server2')]; }
}
