/**
 * Parties hosted by players. A data-owner player may host many clients, each
 * its own party of a protocol with its own secrets: `owner0:0`, `owner0:1`,
 * ... A `HostingTransport` carries a hosted party's messages over its host
 * player's links (the part of the name before the first ':'), with the two
 * party names in the rendezvous key, so that protocol code addresses parties
 * and the network addresses players. Every process wraps its transport the
 * same way; a party name without ':' is its own player.
 */
import type { PlayerStats, ReceiveOptions, Transport } from './channel.js';

/** The player that hosts `party` ('owner0:3' -> 'owner0'). */
export function hostOf(party: string): string {
  const i = party.indexOf(':');
  return i < 0 ? party : party.slice(0, i);
}

/** The name of the `index`-th client hosted by `player`. */
export function hostedName(player: string, index: number): string {
  if (player.includes(':')) throw new RangeError(`hostedName: player name '${player}' must not contain ':'`);
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`hostedName: index expected an integer >= 0, got ${index}`);
  return `${player}:${index}`;
}

export class HostingTransport implements Transport {
  readonly kind: string;
  readonly #inner: Transport;

  constructor(inner: Transport) {
    if (inner === null || typeof inner !== 'object' || typeof inner.send !== 'function') throw new TypeError(`HostingTransport: argument 'inner' must be a Transport`);
    this.#inner = inner;
    this.kind = inner.kind;
  }

  /** Messages between two parties of the same player pairs are keyed by both names; between players as they are. */
  static #key(from: string, to: string, key: string): string {
    return from.includes(':') || to.includes(':') ? `@${from}>${to}/${key}` : key;
  }

  copiesOnSend(to: string): boolean {
    return this.#inner.copiesOnSend?.(hostOf(to)) ?? false;
  }

  /** A hosted party is reached through its host. */
  reaches(player: string): boolean {
    return this.#inner.reaches?.(hostOf(player)) ?? true;
  }

  isLocal(party: string): boolean {
    return this.#inner.isLocal(hostOf(party));
  }

  send(from: string, to: string, key: string, payload: Uint8Array): Promise<void> {
    return this.#inner.send(hostOf(from), hostOf(to), HostingTransport.#key(from, to, key), payload);
  }

  receive(to: string, from: string, key: string, options?: ReceiveOptions): Promise<Uint8Array> {
    return this.#inner.receive(hostOf(to), hostOf(from), HostingTransport.#key(from, to, key), options);
  }

  stats(): Record<string, PlayerStats> {
    return this.#inner.stats();
  }

  resetStats(): void {
    this.#inner.resetStats();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
