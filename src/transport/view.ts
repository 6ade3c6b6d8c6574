/**
 * A party's view of a transport: the same links, but only one party is
 * local. A process that hosts several parties (a data-owner player hosting
 * many clients, a driver that is also a target) gives each role its own view,
 * so a role can only send as, and receive for, the party it runs as; SPMD
 * protocol code gated on `isLocal` then runs that party's steps only.
 */
import type { PlayerStats, ReceiveOptions, Transport } from './channel.js';
import { TransportError } from './errors.js';

export class PartyTransport implements Transport {
  readonly kind: string;
  readonly party: string;
  readonly #inner: Transport;

  constructor(inner: Transport, party: string) {
    if (inner === null || typeof inner !== 'object' || typeof inner.send !== 'function') throw new TypeError(`partyTransport: argument 'inner' must be a Transport`);
    if (typeof party !== 'string' || party.length === 0) throw new TypeError(`partyTransport: argument 'party' must be a non-empty string`);
    if (!inner.isLocal(party)) throw new TransportError(`partyTransport: party '${party}' is not local to the ${inner.kind} transport`);
    this.#inner = inner;
    this.kind = inner.kind;
    this.party = party;
  }

  isLocal(player: string): boolean {
    return player === this.party;
  }

  copiesOnSend(to: string): boolean {
    return this.#inner.copiesOnSend?.(to) ?? false;
  }

  send(from: string, to: string, key: string, payload: Uint8Array): Promise<void> {
    if (from !== this.party) return Promise.reject(new TransportError(`send: '${from}' is not this party ('${this.party}')`));
    return this.#inner.send(from, to, key, payload);
  }

  receive(to: string, from: string, key: string, options?: ReceiveOptions): Promise<Uint8Array> {
    if (to !== this.party) return Promise.reject(new TransportError(`receive: '${to}' is not this party ('${this.party}')`));
    return this.#inner.receive(to, from, key, options);
  }

  stats(): Record<string, PlayerStats> {
    return this.#inner.stats();
  }

  resetStats(): void {
    this.#inner.resetStats();
  }

  /** A view does not own its transport: closing it does nothing. */
  async close(): Promise<void> {}
}

/** `party`'s view of `inner` (throws when the party is not local to it). */
export function partyTransport(inner: Transport, party: string): PartyTransport {
  return new PartyTransport(inner, party);
}
