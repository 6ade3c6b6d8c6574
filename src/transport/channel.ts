/**
 * The channel interface every protocol talks through.
 *
 * Protocols are written SPMD-style: every process runs the same protocol code,
 * and each step that belongs to a player is executed only where
 * `transport.isLocal(player)` holds. Values move between players only through
 * `send`/`receive`, matched by a rendezvous key that both sides derive in the
 * same order (e.g. `${protocolId}/${opCounter}/${what}`). In one process every
 * player is local and the in-memory transport hands payloads over directly;
 * over the network (gRPC) each process owns one player. Protocol code must not
 * change between the two.
 */
export interface PlayerStats {
  bytesSent: number;
  bytesReceived: number;
  messagesSent: number;
  messagesReceived: number;
  /** Communication rounds: a new round starts when a player sends after having received since its last send. */
  rounds: number;
}

export interface ReceiveOptions {
  /** Reject with a TransportError naming the peer when nothing arrives in time. */
  timeoutMs?: number;
}

export interface Transport {
  /** 'memory', 'grpc', ... */
  readonly kind: string;
  /** Whether `player` executes in this process. */
  isLocal(player: string): boolean;
  /**
   * Hand `payload` from `from` to `to` under rendezvous key `key`. The caller
   * must not mutate `payload` afterwards (the in-memory transport does not copy).
   */
  send(from: string, to: string, key: string, payload: Uint8Array): Promise<void>;
  /**
   * Optional: whether a send to `to` has copied its payload once it resolves
   * (so that the sender may reuse the memory then). Absent or false: assume
   * the payload is handed over as is.
   */
  copiesOnSend?(to: string): boolean;
  /**
   * Optional: whether a message to `player` can reach it (a player of this
   * transport's config, or a local one). Absent: the transport cannot tell
   * (an in-memory hub routes any name), and every name counts as reachable.
   */
  reaches?(player: string): boolean;
  /** Resolve with the payload `from` sent to `to` under `key` (in whatever order they arrive). */
  receive(to: string, from: string, key: string, options?: ReceiveOptions): Promise<Uint8Array>;
  /** Counters per player name. */
  stats(): Record<string, PlayerStats>;
  resetStats(): void;
  close(): Promise<void>;
}
