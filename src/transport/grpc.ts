/**
 * The networked transport: players in separate processes (or hosts) talking
 * over gRPC (@grpc/grpc-js), every link mutually authenticated against the
 * credentials pinned in the deployment config.
 *
 * - One GrpcTransport per process, owning one or several local players; it
 *   serves each local player's `host:port` from the config (`start()`), and
 *   dials a peer lazily on the first `send` to it.
 * - One bidirectional stream per (sending player -> receiving player). How it
 *   is secured is the config's "links" mode:
 *   - 'tls': mutual TLS. Every player serves and dials with its own
 *     self-signed Ed25519 certificate; a server trusts exactly the config's
 *     certificates as client roots, a client exactly the one certificate the
 *     config pins for the player it dials (and checks it byte for byte). The
 *     receiver names the sender by the certificate it presented. The stream
 *     opens with Open (schema version, deployment context), then carries
 *     Chunk frames; TLS's record layer gives confidentiality, integrity and
 *     replay protection (a tampered or replayed record ends the connection).
 *   - 'noise': plaintext gRPC; the sender runs the initiator of the
 *     pinned-key handshake (crypto/secure-channel.ts), waits for Ready, then
 *     streams AEAD frames (sequence number, round id as associated data). A
 *     frame with a bad tag, or a replayed or out-of-window sequence number,
 *     is dropped and logged.
 *   A peer with no pinned credential, or who cannot prove it, is refused.
 *   On top of grpc-js, TLS adds about a quarter of the sender CPU that the
 *   AEAD frames add (docs/DEPLOY.md): node:crypto has no encrypt-into-buffer
 *   API, TLS encrypts into buffers it reuses.
 * - A message is cut into chunks of `chunkBytes` (default 1 MiB), each its own
 *   gRPC message (and, on 'noise' links, its own AEAD frame); the receiver
 *   reassembles by (message id, offset) (reassembly.ts).
 * - A chunk whose round id is older than the receiver's current round is
 *   dropped and logged; like any dropped frame it never reaches a mailbox, so
 *   it cannot corrupt the round (the message it carried is missing and the
 *   receive fails at its deadline, naming the peer).
 * - Receive limits (limits.ts; config.json's "limits", then the options):
 *   a message above `maxMessageBytes` is refused by the sender (RangeError)
 *   and by the receiver (dropped, logged); a link holding more than
 *   `maxBufferedBytes` or `maxIncompleteMessages` is closed (grpc-incoming.ts);
 *   a message nobody claims is dropped after `unclaimedMessageTtlMs`
 *   (mailboxes.ts).
 *
 * The dialing side is grpc-outgoing.ts, the serving side grpc-incoming.ts.
 * Lifecycle: `await t.start()` ... `await t.close()` (idempotent; ends every
 * stream, rejects pending receives, shuts the servers down; call it from a
 * SIGTERM handler).
 */
import * as grpc from '@grpc/grpc-js';
import type { PlayerStats, ReceiveOptions, Transport } from './channel.js';
import { PeerError, TransportError } from './errors.js';
import { PlayerCounters } from './stats.js';
import { linkService, WirePool, type LinkFrame } from './grpc-schema.js';
import type { CipherSuite } from '../crypto/secure-channel.js';
import { bytesEqual } from '../crypto/identity.js';
import { certificateMatchesKey } from '../crypto/tls-identity.js';
import { pinnedCertificates, pinnedKeys, type DeployConfig, type LinkMode, type PlayerEntry } from './config.js';
import { primeAllocator } from './allocator.js';
import { deploymentContext, FRAME_MARGIN, MAX_CHUNK, WINDOW, type LinkContext, type LocalPlayer, type TransportEvent } from './grpc-context.js';
import { Dialer } from './grpc-outgoing.js';
import { Acceptor } from './grpc-incoming.js';
import { resolveLimits, type ReceiveLimits } from './limits.js';
import { Mailboxes } from './mailboxes.js';

export { PeerError } from './errors.js';
export { primeAllocator } from './allocator.js';
export { deploymentContext, type LocalPlayer, type TransportEvent } from './grpc-context.js';

export interface GrpcTransportOptions {
  /** Every player of the deployment, each with the pinned credential its links mode needs. */
  config: DeployConfig;
  /** The players hosted by this process, with their private identities. */
  local: LocalPlayer | readonly LocalPlayer[];
  /** Bound into every handshake: processes of another run cannot connect. Default 'fedcrypt'. */
  runId?: string;
  /** Interface to listen on. Default: the configured host if it is an IP address, else all interfaces. */
  bindHost?: string;
  /**
   * Chunk size: one gRPC message and one AEAD frame each (default 1 MiB;
   * 16 KiB to 16 MiB). Measured on loopback (bench/transport, with the
   * allocator primed and reused wire buffers): 1 MiB chunks cost the sender
   * ~half the CPU of 256 KiB ones (grpc-js's per-message cost) and gave
   * ~1.7x the throughput; without priming, large chunks pay page faults.
   */
  chunkBytes?: number;
  /** Largest message sent or accepted (same as `limits.maxMessageBytes`, which wins if both are given). */
  maxMessageBytes?: number;
  /** Receive limits (limits.ts), over the config's "limits" and the defaults. */
  limits?: Partial<ReceiveLimits>;
  /** Call `primeAllocator()` on start (default true): fewer page faults on large messages; see there. */
  tuneAllocator?: boolean;
  /** How long `send` waits for a peer to come up and complete the handshake (default 10 s). */
  connectTimeoutMs?: number;
  /** Default deadline of `receive` when the call gives none (default: none). */
  receiveTimeoutMs?: number;
  /** AEAD of 'noise' links (default aes-256-gcm); 'tls' links use what TLS 1.3 negotiates. */
  suite?: CipherSuite;
  /** Replay window per 'noise' link (reordering tolerated). Default 1024. */
  window?: number;
  /** Receives security and link events. Default: refusals and drops go to stderr. */
  logger?: (event: TransportEvent) => void;
  /**
   * TESTING ONLY (fault injection): sees every outgoing frame after sealing
   * and returns the frames actually written (e.g. tampered, duplicated, none).
   */
  tapOutgoing?: (peer: string, frame: LinkFrame) => LinkFrame[];
}

const MiB = 1 << 20;
const DEFAULT_CHUNK = MiB;
const fnName = 'GrpcTransport';

function checkName(fn: string, arg: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) {
    throw new TypeError(`${fn}: argument '${arg}' must be a non-empty string, got ${v === null ? 'null' : typeof v}`);
  }
  return v;
}

function checkInt(fn: string, arg: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${fn}: "${arg}" expected integer, got ${typeof v}`);
  if (v < lo || v > hi) throw new RangeError(`${fn}: "${arg}" expected integer in [${lo}, ${hi}], got ${v}`);
  return v;
}

const enc = new TextEncoder();

export class GrpcTransport implements Transport {
  readonly kind = 'grpc';
  readonly #config: DeployConfig;
  readonly #ctx: LinkContext;
  readonly #limits: ReceiveLimits;
  readonly #receiveTimeout: number | undefined;
  readonly #bindHost: string | undefined;
  readonly #tuneAllocator: boolean;
  readonly #dialer: Dialer;
  readonly #acceptor: Acceptor;
  readonly #mailboxes: Mailboxes;
  readonly #counters = new PlayerCounters();
  #round = 0;
  #state: 'new' | 'starting' | 'running' | 'closed' = 'new';
  #ports = new Map<string, number>();
  /** Frames and messages dropped (bad tag, replay, stale round, oversized, duplicate, unclaimed past the deadline). */
  dropped = 0;

  constructor(options: GrpcTransportOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError(`${fnName}: "options" expected object, got ${options === null ? 'null' : typeof options}`);
    const cfg = options.config;
    if (typeof cfg !== 'object' || cfg === null || !Array.isArray(cfg.players)) throw new TypeError(`${fnName}: "config" expected a DeployConfig (see transport/config.ts parseConfig)`);
    this.#config = cfg;
    const entries = new Map<string, PlayerEntry>(cfg.players.map((p) => [p.name, p]));
    const mode: LinkMode = cfg.links ?? 'noise';
    if (mode !== 'tls' && mode !== 'noise') throw new RangeError(`${fnName}: "config.links" expected 'tls' or 'noise', got ${JSON.stringify(mode)}`);
    const tls = mode === 'tls';
    const pinned = tls ? new Map<string, Uint8Array>() : pinnedKeys(cfg);
    const certs = tls ? pinnedCertificates(cfg) : new Map<string, Uint8Array>();
    const locals = new Map<string, LocalPlayer>();
    const given = Array.isArray(options.local) ? options.local : [options.local as LocalPlayer];
    if (given.length === 0) throw new RangeError(`${fnName}: "local" expected at least one local player`);
    given.forEach((l: LocalPlayer, i: number) => {
      if (typeof l !== 'object' || l === null) throw new TypeError(`${fnName}: "local[${i}]" expected { name, identity } or { name, tls }`);
      checkName(fnName, `local[${i}].name`, l.name);
      if (!entries.has(l.name)) throw new RangeError(`${fnName}: "local[${i}].name" ${JSON.stringify(l.name)} is not a player of the config`);
      if (tls) {
        const cert = certs.get(l.name)!;
        if (!l.tls || !(l.tls.certificate?.der instanceof Uint8Array) || !bytesEqual(l.tls.certificate.der, cert)) {
          throw new RangeError(`${fnName}: "local[${i}].tls" does not hold the certificate pinned for ${JSON.stringify(l.name)} in the config`);
        }
        if (!certificateMatchesKey(cert, l.tls.privateKey)) throw new RangeError(`${fnName}: "local[${i}].tls.privateKey" does not match the certificate of ${JSON.stringify(l.name)}`);
      } else {
        const key = pinned.get(l.name)!;
        if (!l.identity || !(l.identity.publicKey instanceof Uint8Array) || !bytesEqual(l.identity.publicKey, key)) {
          throw new RangeError(`${fnName}: "local[${i}].identity" does not match the public key pinned for ${JSON.stringify(l.name)} in the config`);
        }
      }
      locals.set(l.name, l);
    });
    const runId = options.runId ?? 'fedcrypt';
    checkName(fnName, 'runId', runId);
    const chunk = checkInt(fnName, 'chunkBytes', options.chunkBytes ?? DEFAULT_CHUNK, 16 * 1024, MAX_CHUNK);
    const maxMessage = options.maxMessageBytes === undefined ? undefined : checkInt(fnName, 'maxMessageBytes', options.maxMessageBytes, 0, 2 ** 40);
    this.#limits = resolveLimits(fnName, cfg.limits, maxMessage === undefined ? undefined : { maxMessageBytes: maxMessage }, options.limits);
    const connectTimeout = checkInt(fnName, 'connectTimeoutMs', options.connectTimeoutMs ?? 10_000, 1, 2 ** 31 - 1);
    this.#receiveTimeout = options.receiveTimeoutMs === undefined ? undefined : checkInt(fnName, 'receiveTimeoutMs', options.receiveTimeoutMs, 1, 2 ** 31 - 1);
    this.#bindHost = options.bindHost;
    if (options.tuneAllocator !== undefined && typeof options.tuneAllocator !== 'boolean') throw new TypeError(`${fnName}: "tuneAllocator" expected boolean, got ${typeof options.tuneAllocator}`);
    this.#tuneAllocator = options.tuneAllocator ?? true;
    const logger =
      options.logger ??
      ((e: TransportEvent) => {
        if (e.type === 'refused' || e.type === 'dropped') console.warn(`[fedcrypt grpc] ${e.type} (local ${e.local ?? '?'}, peer ${e.peer ?? '?'}): ${e.reason}`);
      });
    this.#ctx = {
      mode,
      entries,
      pinned,
      certs,
      certOwner: new Map([...certs].map(([name, der]) => [Buffer.from(der).toString('base64'), name])),
      locals,
      context: deploymentContext(cfg, runId),
      connectTimeout,
      suite: options.suite ?? 'aes-256-gcm',
      window: options.window,
      log: logger,
      ctor: grpc.makeGenericClientConstructor(linkService(), 'PlayerLink'),
      grpcOptions: {
        // A frame is one chunk plus < 64 KiB of headers; peers may use chunks up to MAX_CHUNK.
        'grpc.max_send_message_length': chunk + FRAME_MARGIN,
        'grpc.max_receive_message_length': MAX_CHUNK + FRAME_MARGIN,
        'grpc-node.flow_control_window': WINDOW,
        'grpc.enable_retries': 0,
        // A restarted peer is found again quickly (the default backoff grows to 2 minutes).
        'grpc.initial_reconnect_backoff_ms': 200,
        'grpc.max_reconnect_backoff_ms': 2000,
        'grpc.keepalive_time_ms': 60_000,
        'grpc.keepalive_timeout_ms': 20_000,
      },
      closed: () => this.#state === 'closed',
    };
    this.#mailboxes = new Mailboxes({
      unclaimedTtlMs: this.#limits.unclaimedMessageTtlMs,
      onDrop: (from, to, key, reason) => this.#dropped(from, to, `message under key '${key}' dropped: ${reason}`),
      onReceived: (to, bytes) => this.#counters.received(to, bytes),
    });
    this.#dialer = new Dialer(this.#ctx, { chunkBytes: chunk, tap: options.tapOutgoing }, new WirePool(chunk + FRAME_MARGIN));
    this.#acceptor = new Acceptor(this.#ctx, {
      limits: this.#limits,
      mailboxes: this.#mailboxes,
      round: () => this.#round,
      dropped: (peer, local, reason) => this.#dropped(peer, local, reason),
      deliver: (peer, local, key, payload) => this.#deliver(peer, local, key, payload),
    });
  }

  /** The deployment this transport serves. */
  get config(): DeployConfig {
    return this.#config;
  }

  /** How links are secured ('tls' or 'noise', from the config). */
  get links(): LinkMode {
    return this.#ctx.mode;
  }

  /** The receive limits in force (defaults, then the config's "limits", then the options). */
  get limits(): Readonly<ReceiveLimits> {
    return { ...this.#limits };
  }

  /** Round id carried by every frame sent; frames of an older round are dropped on receipt. */
  get round(): number {
    return this.#round;
  }

  setRound(round: number): void {
    checkInt('GrpcTransport.setRound', 'round', round, 0, 2 ** 32 - 1);
    this.#round = round;
  }

  /** The port each local player listens on (after start). */
  ports(): Record<string, number> {
    return Object.fromEntries(this.#ports);
  }

  /** What the link from `peer` to local player `local` holds now (see limits.ts). */
  linkUsage(peer: string, local: string): { incompleteMessages: number; incompleteBytes: number; unclaimedBytes: number; streams: number } {
    return this.#acceptor.usage(peer, local);
  }

  /** Messages received but not yet claimed by a receive. */
  pending(): number {
    return this.#mailboxes.pending();
  }

  /** Serve every local player's address. Resolves once listening. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new TransportError(`GrpcTransport.start: called in state '${this.#state}', expected 'new'`);
    this.#state = 'starting';
    if (this.#tuneAllocator) primeAllocator();
    try {
      for (const name of this.#ctx.locals.keys()) this.#ports.set(name, await this.#acceptor.listen(name, this.#bindHost));
    } catch (e) {
      await this.close();
      throw e;
    }
    this.#state = 'running';
  }

  /** A send to a remote player encrypts (copies) its payload before it resolves; a local one hands it over as is. */
  copiesOnSend(to: string): boolean {
    return !this.isLocal(to);
  }

  isLocal(player: string): boolean {
    return this.#ctx.locals.has(player);
  }

  /** A player of the config (the only names this transport can send to or receive from). */
  reaches(player: string): boolean {
    return this.#config.players.some((p) => p.name === player);
  }

  stats(): Record<string, PlayerStats> {
    return this.#counters.snapshot();
  }

  resetStats(): void {
    this.#counters.reset();
  }

  #dropped(peer: string | undefined, local: string | undefined, reason: string): void {
    this.dropped++;
    this.#ctx.log({ type: 'dropped', peer, local, reason });
  }

  #deliver(from: string, to: string, key: string, payload: Uint8Array): void {
    if (this.#mailboxes.deliver(from, to, key, payload) === 'duplicate') this.#dropped(from, to, `duplicate message under key '${key}' (first one kept)`);
  }

  receive(to: string, from: string, key: string, options?: ReceiveOptions): Promise<Uint8Array> {
    checkName('receive', 'to', to);
    checkName('receive', 'from', from);
    checkName('receive', 'key', key);
    if (this.#state === 'closed') return Promise.reject(new PeerError(`receive: transport is closed (${from} -> ${to}, key '${key}')`, from));
    if (!this.isLocal(to)) return Promise.reject(new TransportError(`receive: player '${to}' is not local to this transport`));
    if (!this.#ctx.entries.has(from)) return Promise.reject(new PeerError(`receive: player '${from}' is not in the config`, from));
    return this.#mailboxes.collect(to, from, key, options?.timeoutMs ?? this.#receiveTimeout);
  }

  /**
   * Send `payload` from local player `from` to `to`. To a remote player, the
   * payload is encrypted chunk by chunk (a copy) before the returned promise
   * resolves: from then on the caller may overwrite or reuse it (deploy pools
   * its working memory on this). To a local player it is handed over as is,
   * like the in-memory transport.
   */
  async send(from: string, to: string, key: string, payload: Uint8Array): Promise<void> {
    checkName('send', 'from', from);
    checkName('send', 'to', to);
    checkName('send', 'key', key);
    if (!(payload instanceof Uint8Array)) throw new TypeError(`send: argument 'payload' must be a Uint8Array`);
    const max = this.#limits.maxMessageBytes;
    if (payload.length > max) throw new RangeError(`send: argument 'payload' has ${payload.length} bytes, above the limit of ${max} bytes (maxMessageBytes) for '${from}' -> '${to}'`);
    const keyBytes = enc.encode(key);
    if (keyBytes.length > 0xffff) throw new RangeError(`send: argument 'key' has ${keyBytes.length} bytes, at most 65535 allowed`);
    if (this.#state === 'closed') throw new PeerError(`send: transport is closed (${from} -> ${to}, key '${key}')`, to);
    if (!this.isLocal(from)) throw new TransportError(`send: player '${from}' is not local to this transport`);
    if (!this.#ctx.entries.has(to)) throw new PeerError(`send: player '${to}' is not in the config`, to);
    const remote = !this.isLocal(to);
    if (remote && this.#state !== 'running') throw new TransportError(`send: call start() first (state '${this.#state}')`);
    this.#counters.sent(from, payload.byteLength);
    if (!remote) {
      this.#deliver(from, to, key, payload);
      return;
    }
    await this.#dialer.send(from, to, keyBytes, payload, this.#round);
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#mailboxes.close();
    await Promise.all([this.#dialer.close(), this.#acceptor.close()]);
  }
}
