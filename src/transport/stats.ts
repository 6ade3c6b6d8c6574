/**
 * Per-player traffic counters shared by every Transport implementation, so
 * that the definition of a communication round lives in one place: a player
 * starts a new round when it sends after having received since its last send
 * (its first send opens round 1).
 */
import type { PlayerStats } from './channel.js';

interface Counter extends PlayerStats {
  receivedSinceSend: boolean;
}

export class PlayerCounters {
  readonly #byPlayer = new Map<string, Counter>();

  #counter(player: string): Counter {
    let c = this.#byPlayer.get(player);
    if (c === undefined) {
      c = { bytesSent: 0, bytesReceived: 0, messagesSent: 0, messagesReceived: 0, rounds: 0, receivedSinceSend: true };
      this.#byPlayer.set(player, c);
    }
    return c;
  }

  /** `from` sent a message of `bytes` bytes. */
  sent(from: string, bytes: number): void {
    const c = this.#counter(from);
    if (c.receivedSinceSend) {
      c.rounds++;
      c.receivedSinceSend = false;
    }
    c.bytesSent += bytes;
    c.messagesSent++;
  }

  /** `to` received a message of `bytes` bytes. */
  received(to: string, bytes: number): void {
    const c = this.#counter(to);
    c.bytesReceived += bytes;
    c.messagesReceived++;
    c.receivedSinceSend = true;
  }

  snapshot(): Record<string, PlayerStats> {
    const out: Record<string, PlayerStats> = {};
    for (const [p, c] of this.#byPlayer) {
      out[p] = { bytesSent: c.bytesSent, bytesReceived: c.bytesReceived, messagesSent: c.messagesSent, messagesReceived: c.messagesReceived, rounds: c.rounds };
    }
    return out;
  }

  reset(): void {
    this.#byPlayer.clear();
  }
}
