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
 *   reassembles by (message id, offset).
 * - A chunk whose round id is older than the receiver's current round is
 *   dropped and logged; like any dropped frame it never reaches a mailbox, so
 *   it cannot corrupt the round (the message it carried is missing and the
 *   receive fails at its deadline, naming the peer). A message above
 *   `maxMessageBytes` is refused by the sender (RangeError) and by the
 *   receiver (dropped, logged).
 *
 * Lifecycle: `await t.start()` ... `await t.close()` (idempotent; ends every
 * stream, rejects pending receives, shuts the servers down; call it from a
 * SIGTERM handler).
 */
import * as grpc from '@grpc/grpc-js';
import { createHash, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { isIP } from 'node:net';
import type { PlayerStats, ReceiveOptions, Transport } from './channel.js';
import { TransportError } from './errors.js';
import { PlayerCounters } from './stats.js';
import { encodeSealedPieces, linkService, releaseWire, SCHEMA_VERSION, WirePool, type LinkFrame } from './grpc-schema.js';
import {
  HandshakeInitiator,
  HandshakeResponder,
  SecureChannelError,
  type CipherSuite,
  type LocalParty,
  type SecureSession,
} from '../crypto/secure-channel.js';
import { bytesEqual, type Identity } from '../crypto/identity.js';
import { certificateMatchesKey, exportTlsPrivateKeyPem, type TlsIdentity } from '../crypto/tls-identity.js';
import { certificatePem as pem } from '../crypto/x509.js';
import { pinnedCertificates, pinnedKeys, type DeployConfig, type LinkMode, type PlayerEntry } from './config.js';

/** A TransportError that names the peer concerned. */
export class PeerError extends TransportError {
  override name = 'PeerError';
  constructor(message: string, readonly peer: string) {
    super(message);
  }
}

export interface TransportEvent {
  /** link-up / link-down: a link was established or lost; refused: a link was refused; dropped: a frame or message was discarded. */
  type: 'link-up' | 'link-down' | 'refused' | 'dropped';
  /** The remote player (claimed name if not authenticated). */
  peer: string | undefined;
  /** The local player concerned. */
  local: string | undefined;
  reason: string;
}

/** A player hosted by this process: its X25519 identity ('noise' links) and/or its TLS identity ('tls' links). */
export interface LocalPlayer {
  name: string;
  identity?: Identity;
  tls?: TlsIdentity;
}

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
  /** Largest message sent or accepted (default 1 GiB). */
  maxMessageBytes?: number;
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


interface Waiter {
  resolve: (p: Uint8Array) => void;
  reject: (e: Error) => void;
  timer?: ReturnType<typeof setTimeout>;
}
interface Mailbox {
  payload?: Uint8Array;
  waiter?: Waiter;
}

interface OutLink {
  from: string;
  to: string;
  call: grpc.ClientDuplexStream<LinkFrame, LinkFrame>;
  /** The AEAD session of a 'noise' link; none on a 'tls' link. */
  session: SecureSession | undefined;
  nextMessageId: number;
  broken: Error | undefined;
}

interface Partial {
  key: string;
  buf: Uint8Array;
  got: number;
}

const KIND_CHUNK = 1;
const HEADER_FIXED = 32;
const MiB = 1 << 20;
const MAX_CHUNK = 16 * MiB;
const DEFAULT_CHUNK = MiB;
/** Incomplete (or refused) messages remembered per link; beyond this, new messages are dropped. */
const MAX_PARTIAL = 1024;
const FRAME_MARGIN = 64 * 1024;
/** HTTP/2 flow-control window (per stream and per connection) on both ends. */
const WINDOW = 16 * MiB;
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
const dec = new TextDecoder('utf-8', { fatal: true });

/** Chunk header, padded to a multiple of 8 so chunk data stays 8-byte aligned. */
function chunkHeader(messageId: number, total: number, offset: number, key: Uint8Array): Uint8Array {
  const len = (HEADER_FIXED + key.length + 7) & ~7;
  const h = new Uint8Array(len);
  const v = new DataView(h.buffer);
  v.setUint8(0, KIND_CHUNK);
  v.setUint16(2, key.length);
  v.setUint32(4, len);
  v.setBigUint64(8, BigInt(messageId));
  v.setBigUint64(16, BigInt(total));
  v.setBigUint64(24, BigInt(offset));
  h.set(key, HEADER_FIXED);
  return h;
}

/** Bytes [start, start + len) of the concatenation of `pieces` (a copy). */
function gather(pieces: readonly Uint8Array[], start: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let pos = 0;
  for (const q of pieces) {
    if (pos + q.length > start && pos < start + len) {
      const a = Math.max(start, pos);
      const b = Math.min(start + len, pos + q.length);
      out.set(q.subarray(a - pos, b - pos), a - start);
    }
    pos += q.length;
  }
  return out;
}

/** Copy the concatenation of `pieces` from byte `start` to its end into `dst` at `at`. */
function copyFrom(pieces: readonly Uint8Array[], start: number, dst: Uint8Array, at: number): void {
  let pos = 0;
  for (const q of pieces) {
    const end = pos + q.length;
    if (end > start) {
      const a = Math.max(start, pos);
      dst.set(q.subarray(a - pos), at + a - start);
    }
    pos = end;
  }
}

function roundAd(round: number): Uint8Array {
  const a = new Uint8Array(4);
  new DataView(a.buffer).setUint32(0, round);
  return a;
}

/** The context bound into every link: links mode, run id, and the players' names, roles and pinned credentials. */
export function deploymentContext(config: DeployConfig, runId: string): Uint8Array {
  const mode = config.links ?? 'noise';
  const h = createHash('sha256').update(`fedcrypt-grpc/v${SCHEMA_VERSION}\0${mode === 'tls' ? 'tls\0' : ''}${runId}\0`);
  for (const p of [...config.players].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    h.update(`${p.name}\0${p.role ?? ''}\0`).update(p.publicKey ?? new Uint8Array(0));
    if (mode === 'tls') h.update(`\0${p.certificate?.length ?? 0}\0`).update(p.certificate ?? new Uint8Array(0));
  }
  return new Uint8Array(h.digest());
}


/**
 * grpc-js lets clients raise the HTTP/2 flow-control window
 * ('grpc-node.flow_control_window') but not servers, whose streams then
 * receive through 64 KiB windows, a round trip each: large messages crawl.
 * We set the SETTINGS of the server's HTTP/2 sessions ourselves (through
 * grpc-js's `commonServerOptions`, which it hands to http2.createServer at
 * bind time) and widen each session's connection window. If a grpc-js
 * upgrade renames the field, this silently does nothing (slower, still correct).
 */
function widenServerWindow(server: grpc.Server): void {
  const s = server as unknown as { commonServerOptions?: { settings?: Record<string, unknown> } };
  if (s.commonServerOptions && typeof s.commonServerOptions === 'object') {
    s.commonServerOptions.settings = { ...(s.commonServerOptions.settings ?? {}), initialWindowSize: WINDOW };
  }
}

type TlsSocketLike = { authorizationError?: Error | string };

function widenSessionWindows(server: grpc.Server, onTlsError?: (e: Error, socket: TlsSocketLike | undefined) => void): void {
  type H2 = { on(ev: 'session', f: (sess: { setLocalWindowSize?(n: number): void }) => void): void; on(ev: 'tlsClientError', f: (e: Error, socket?: TlsSocketLike) => void): void };
  const s = server as unknown as { http2Servers?: Map<H2, unknown> };
  if (!(s.http2Servers instanceof Map)) return;
  for (const h of s.http2Servers.keys()) {
    h.on('session', (sess) => {
      try {
        sess.setLocalWindowSize?.(WINDOW);
      } catch {
        /* older node */
      }
    });
    // A client whose certificate is not pinned fails the TLS handshake before
    // grpc-js sees a call: this is the only place the refusal can be logged.
    if (onTlsError) h.on('tlsClientError', onTlsError);
  }
}

/** Just under glibc's ceiling for its dynamic mmap threshold (DEFAULT_MMAP_THRESHOLD_MAX, 32 MiB on 64-bit). */
const PRIME_BYTES = 31 * MiB;
let allocatorPrimed = false;

/**
 * Make glibc's malloc keep freed buffers of up to 31 MiB for reuse instead of
 * handing them back to the kernel (once per process; what the environment
 * variables MALLOC_MMAP_THRESHOLD_=32505856 MALLOC_TRIM_THRESHOLD_=65011712
 * would do, which this call cannot override if set).
 *
 * Why: a 4 MiB message crosses several buffers of chunk size on each side
 * (node:crypto's outputs, grpc-js's framing copy and reassembly, the message
 * itself), all garbage after use. By default glibc serves allocations above
 * 128 KiB with fresh mmap()ed pages and trims its heap eagerly, so every
 * message faults its buffers in again, page by page; on the project's VM a
 * page fault costs ~15-20 us, i.e. up to ~20 ms per 4 MiB, more than the
 * cryptography. glibc raises both thresholds by itself after freeing a large
 * mmap()ed chunk (up to 32 MiB / 64 MiB): this allocates one such chunk (31
 * MiB of address space, one page touched) and drops it, so that the next
 * garbage collection frees it and sets the thresholds. Cost: the process may
 * keep up to ~64 MiB of freed memory mapped. No effect on other allocators
 * (musl, jemalloc) beyond one short-lived allocation.
 */
export function primeAllocator(): void {
  if (allocatorPrimed) return;
  allocatorPrimed = true;
  const b = Buffer.allocUnsafeSlow(PRIME_BYTES);
  b[0] = 0;
}

export class GrpcTransport implements Transport {
  readonly kind = 'grpc';
  readonly #config: DeployConfig;
  readonly #entries: Map<string, PlayerEntry>;
  readonly #mode: LinkMode;
  /** 'noise': pinned X25519 keys by player. */
  readonly #pinned: Map<string, Uint8Array>;
  /** 'tls': pinned certificates (DER) by player, and the player of each certificate (base64 DER). */
  readonly #certs: Map<string, Uint8Array>;
  readonly #certOwner: Map<string, string>;
  readonly #locals: Map<string, LocalPlayer>;
  readonly #context: Uint8Array;
  readonly #chunk: number;
  readonly #max: number;
  readonly #connectTimeout: number;
  readonly #receiveTimeout: number | undefined;
  readonly #suite: CipherSuite;
  readonly #window: number | undefined;
  readonly #log: (e: TransportEvent) => void;
  readonly #tap: GrpcTransportOptions['tapOutgoing'];
  readonly #bindHost: string | undefined;
  readonly #tuneAllocator: boolean;
  readonly #ctor: grpc.ServiceClientConstructor;
  /** Reused wire buffers of outgoing chunks (see WirePool). */
  readonly #wirePool: WirePool;

  #servers: grpc.Server[] = [];
  #clients = new Map<string, grpc.Client>();
  #links = new Map<string, Promise<OutLink>>();
  #incoming = new Set<grpc.ServerDuplexStream<LinkFrame, LinkFrame>>();
  #boxes = new Map<string, Mailbox>();
  readonly #counters = new PlayerCounters();
  #round = 0;
  #state: 'new' | 'starting' | 'running' | 'closed' = 'new';
  #ports = new Map<string, number>();
  /** Frames and messages dropped (bad tag, replay, stale round, oversized, duplicate). */
  dropped = 0;

  constructor(options: GrpcTransportOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError(`${fnName}: "options" expected object, got ${options === null ? 'null' : typeof options}`);
    const cfg = options.config;
    if (typeof cfg !== 'object' || cfg === null || !Array.isArray(cfg.players)) throw new TypeError(`${fnName}: "config" expected a DeployConfig (see transport/config.ts parseConfig)`);
    this.#config = cfg;
    this.#entries = new Map(cfg.players.map((p) => [p.name, p]));
    this.#mode = cfg.links ?? 'noise';
    if (this.#mode !== 'tls' && this.#mode !== 'noise') throw new RangeError(`${fnName}: "config.links" expected 'tls' or 'noise', got ${JSON.stringify(this.#mode)}`);
    const tls = this.#mode === 'tls';
    this.#pinned = tls ? new Map() : pinnedKeys(cfg);
    this.#certs = tls ? pinnedCertificates(cfg) : new Map();
    this.#certOwner = new Map([...this.#certs].map(([name, der]) => [Buffer.from(der).toString('base64'), name]));
    const locals = Array.isArray(options.local) ? options.local : [options.local as LocalPlayer];
    if (locals.length === 0) throw new RangeError(`${fnName}: "local" expected at least one local player`);
    this.#locals = new Map();
    locals.forEach((l: LocalPlayer, i: number) => {
      if (typeof l !== 'object' || l === null) throw new TypeError(`${fnName}: "local[${i}]" expected { name, identity } or { name, tls }`);
      checkName(fnName, `local[${i}].name`, l.name);
      if (!this.#entries.has(l.name)) throw new RangeError(`${fnName}: "local[${i}].name" ${JSON.stringify(l.name)} is not a player of the config`);
      if (tls) {
        const cert = this.#certs.get(l.name)!;
        if (!l.tls || !(l.tls.certificate?.der instanceof Uint8Array) || !bytesEqual(l.tls.certificate.der, cert)) {
          throw new RangeError(`${fnName}: "local[${i}].tls" does not hold the certificate pinned for ${JSON.stringify(l.name)} in the config`);
        }
        if (!certificateMatchesKey(cert, l.tls.privateKey)) throw new RangeError(`${fnName}: "local[${i}].tls.privateKey" does not match the certificate of ${JSON.stringify(l.name)}`);
      } else {
        const pinned = this.#pinned.get(l.name)!;
        if (!l.identity || !(l.identity.publicKey instanceof Uint8Array) || !bytesEqual(l.identity.publicKey, pinned)) {
          throw new RangeError(`${fnName}: "local[${i}].identity" does not match the public key pinned for ${JSON.stringify(l.name)} in the config`);
        }
      }
      this.#locals.set(l.name, l);
    });
    const runId = options.runId ?? 'fedcrypt';
    checkName(fnName, 'runId', runId);
    this.#context = deploymentContext(cfg, runId);
    this.#chunk = checkInt(fnName, 'chunkBytes', options.chunkBytes ?? DEFAULT_CHUNK, 16 * 1024, MAX_CHUNK);
    this.#max = checkInt(fnName, 'maxMessageBytes', options.maxMessageBytes ?? 1024 * MiB, 0, 2 ** 40);
    this.#connectTimeout = checkInt(fnName, 'connectTimeoutMs', options.connectTimeoutMs ?? 10_000, 1, 2 ** 31 - 1);
    this.#receiveTimeout = options.receiveTimeoutMs === undefined ? undefined : checkInt(fnName, 'receiveTimeoutMs', options.receiveTimeoutMs, 1, 2 ** 31 - 1);
    this.#suite = options.suite ?? 'aes-256-gcm';
    this.#window = options.window;
    this.#tap = options.tapOutgoing;
    this.#bindHost = options.bindHost;
    if (options.tuneAllocator !== undefined && typeof options.tuneAllocator !== 'boolean') throw new TypeError(`${fnName}: "tuneAllocator" expected boolean, got ${typeof options.tuneAllocator}`);
    this.#tuneAllocator = options.tuneAllocator ?? true;
    this.#log = options.logger ?? ((e) => {
      if (e.type === 'refused' || e.type === 'dropped') console.warn(`[fedcrypt grpc] ${e.type} (local ${e.local ?? '?'}, peer ${e.peer ?? '?'}): ${e.reason}`);
    });
    this.#ctor = grpc.makeGenericClientConstructor(linkService(), 'PlayerLink');
    this.#wirePool = new WirePool(this.#chunk + FRAME_MARGIN);
  }

  /** The deployment this transport serves. */
  get config(): DeployConfig {
    return this.#config;
  }

  /** How links are secured ('tls' or 'noise', from the config). */
  get links(): LinkMode {
    return this.#mode;
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

  get #grpcOptions(): grpc.ChannelOptions {
    return {
      // A frame is one chunk plus < 64 KiB of headers; peers may use chunks up to MAX_CHUNK.
      'grpc.max_send_message_length': this.#chunk + FRAME_MARGIN,
      'grpc.max_receive_message_length': MAX_CHUNK + FRAME_MARGIN,
      'grpc-node.flow_control_window': WINDOW,
      'grpc.enable_retries': 0,
      // A restarted peer is found again quickly (the default backoff grows to 2 minutes).
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2000,
      'grpc.keepalive_time_ms': 60_000,
      'grpc.keepalive_timeout_ms': 20_000,
    };
  }

  /** Serve every local player's address. Resolves once listening. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new TransportError(`GrpcTransport.start: called in state '${this.#state}', expected 'new'`);
    this.#state = 'starting';
    if (this.#tuneAllocator) primeAllocator();
    try {
      for (const name of this.#locals.keys()) {
        const e = this.#entries.get(name)!;
        const server = new grpc.Server(this.#grpcOptions);
        widenServerWindow(server);
        server.addService(this.#ctor.service, { Link: (call: grpc.ServerDuplexStream<LinkFrame, LinkFrame>) => this.#onLink(call, name) });
        const host = this.#bindHost ?? (isIP(e.host) ? e.host : '0.0.0.0');
        const target = isIP(host) === 6 ? `[${host}]:${e.port}` : `${host}:${e.port}`;
        this.#servers.push(server);
        const own = this.#mode === 'tls' ? this.#locals.get(name)!.tls : undefined;
        const creds = own
          ? grpc.ServerCredentials.createSsl(
              Buffer.from([...this.#certs.values()].map(pem).join('')),
              [{ private_key: Buffer.from(exportTlsPrivateKeyPem(own)), cert_chain: Buffer.from(pem(own.certificate.der)) }],
              true, // client certificates required and verified against the config's
            )
          : grpc.ServerCredentials.createInsecure();
        const port = await new Promise<number>((resolve, reject) =>
          server.bindAsync(target, creds, (err, p) => (err ? reject(err) : resolve(p))),
        ).catch((err: Error) => {
          throw new PeerError(`GrpcTransport.start: cannot listen for "${name}" on ${target}: ${err.message}`, name);
        });
        widenSessionWindows(
          server,
          this.#mode === 'tls'
            ? (err, socket) => {
                // authorizationError: OpenSSL's verdict on the client certificate (e.g. DEPTH_ZERO_SELF_SIGNED_CERT: not one of ours)
                const verdict = socket?.authorizationError;
                const reason = verdict
                  ? `TLS handshake failed: the client's certificate is not pinned in the config (${String(verdict)})`
                  : `TLS handshake failed: ${err.message}`;
                this.#log({ type: 'refused', peer: undefined, local: name, reason });
              }
            : undefined,
        );
        this.#ports.set(name, port);
      }
    } catch (e) {
      await this.close();
      throw e;
    }
    this.#state = 'running';
  }

  isLocal(player: string): boolean {
    return this.#locals.has(player);
  }

  stats(): Record<string, PlayerStats> {
    return this.#counters.snapshot();
  }

  resetStats(): void {
    this.#counters.reset();
  }

  // ------------------------------------------------------------------ receiving side

  #deliver(from: string, to: string, key: string, payload: Uint8Array): void {
    const id = `${from}\u0000${to}\u0000${key}`;
    const box = this.#boxes.get(id);
    if (box === undefined) {
      this.#boxes.set(id, { payload });
      return;
    }
    if (box.payload !== undefined || box.waiter === undefined) {
      this.dropped++;
      this.#log({ type: 'dropped', peer: from, local: to, reason: `duplicate message under key '${key}' (first one kept)` });
      return;
    }
    this.#boxes.delete(id);
    this.#received(to, payload);
    if (box.waiter.timer !== undefined) clearTimeout(box.waiter.timer);
    box.waiter.resolve(payload);
  }

  #received(to: string, payload: Uint8Array): void {
    this.#counters.received(to, payload.byteLength);
  }

  receive(to: string, from: string, key: string, options?: ReceiveOptions): Promise<Uint8Array> {
    checkName('receive', 'to', to);
    checkName('receive', 'from', from);
    checkName('receive', 'key', key);
    if (this.#state === 'closed') return Promise.reject(new PeerError(`receive: transport is closed (${from} -> ${to}, key '${key}')`, from));
    if (!this.isLocal(to)) return Promise.reject(new TransportError(`receive: player '${to}' is not local to this transport`));
    if (!this.#entries.has(from)) return Promise.reject(new PeerError(`receive: player '${from}' is not in the config`, from));
    const id = `${from}\u0000${to}\u0000${key}`;
    const box = this.#boxes.get(id);
    if (box?.payload !== undefined) {
      this.#boxes.delete(id);
      this.#received(to, box.payload);
      return Promise.resolve(box.payload);
    }
    if (box?.waiter !== undefined) return Promise.reject(new TransportError(`receive: '${to}' is already waiting for '${from}' under key '${key}'`));
    const timeoutMs = options?.timeoutMs ?? this.#receiveTimeout;
    return new Promise<Uint8Array>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          this.#boxes.delete(id);
          reject(new PeerError(`receive: nothing from '${from}' to '${to}' under key '${key}' within ${timeoutMs} ms`, from));
        }, timeoutMs);
      }
      this.#boxes.set(id, { waiter });
    });
  }

  /** Reject every receive of `to` waiting on `from` (the link from `from` is gone). */
  #failWaiters(from: string, to: string, why: string): void {
    const prefix = `${from}\u0000${to}\u0000`;
    for (const [id, b] of this.#boxes) {
      if (!id.startsWith(prefix) || b.waiter === undefined) continue;
      this.#boxes.delete(id);
      if (b.waiter.timer !== undefined) clearTimeout(b.waiter.timer);
      b.waiter.reject(new PeerError(`receive: ${why} while '${to}' waited for '${from}' under key '${id.slice(prefix.length)}'`, from));
    }
  }

  #onLink(call: grpc.ServerDuplexStream<LinkFrame, LinkFrame>, local: string): void {
    if (this.#state === 'closed') {
      call.end();
      return;
    }
    if (this.#mode === 'tls') this.#onTlsLink(call, local);
    else this.#onNoiseLink(call);
  }

  /** Refuse an incoming stream (logged, a Refusal frame, then the end). */
  #refuseCall(call: grpc.ServerDuplexStream<LinkFrame, LinkFrame>, reason: string, peer: string | undefined, local: string | undefined): void {
    this.#log({ type: 'refused', peer, local, reason });
    try {
      call.write({ refusal: { reason } });
    } catch {
      /* stream already gone */
    }
    call.end();
  }

  /** Common end of an incoming stream: forget it; if it was up, fail the receives waiting on it. */
  #onIncomingEnd(call: grpc.ServerDuplexStream<LinkFrame, LinkFrame>, finish: (why: string) => void): void {
    call.on('end', () => {
      finish('peer ended the stream');
      try {
        call.end();
      } catch {
        /* already ended */
      }
    });
    call.on('error', (e: Error) => finish(`stream error: ${e.message}`));
    call.on('close', () => finish('stream closed'));
  }

  #onTlsLink(call: grpc.ServerDuplexStream<LinkFrame, LinkFrame>, local: string): void {
    // TLS has verified the client's certificate against the config's; name the
    // sender by it (byte for byte), never by anything it says.
    const raw = (call.getAuthContext?.() as { sslPeerCertificate?: { raw?: Buffer } } | undefined)?.sslPeerCertificate?.raw;
    const peer = raw ? this.#certOwner.get(raw.toString('base64')) : undefined;
    if (peer === undefined) {
      this.#refuseCall(call, raw ? 'client certificate is not pinned in the config' : 'no client certificate', undefined, local);
      return;
    }
    this.#incoming.add(call);
    let up = false;
    let done = false;
    let frames = 0;
    const partial = new Map<number, Partial | null>();
    const refuse = (reason: string) => {
      if (done) return;
      done = true;
      this.#refuseCall(call, reason, peer, local);
    };
    const openTimer = setTimeout(() => {
      if (!up) refuse(`link not opened within ${this.#connectTimeout} ms`);
    }, this.#connectTimeout);
    openTimer.unref();
    call.on('data', (f: LinkFrame) => {
      if (done) return;
      if (up) {
        frames++;
        if (f.body !== 'chunk' || !(f.chunk?.frame instanceof Uint8Array)) {
          this.dropped++;
          this.#log({ type: 'dropped', peer, local, reason: `unexpected '${f.body}' frame on an established TLS link` });
          return;
        }
        this.#onChunk(peer, local, `frame ${frames}`, f.chunk.round ?? 0, [f.chunk.frame], partial);
        return;
      }
      if (f.body !== 'open' || !f.open) return refuse(`expected 'open' on a TLS link, got '${f.body}'`);
      if (f.open.schema_version !== SCHEMA_VERSION) return refuse(`schema version ${f.open.schema_version ?? 0} not supported (this player speaks ${SCHEMA_VERSION})`);
      if (!(f.open.context instanceof Uint8Array) || !bytesEqual(f.open.context, this.#context)) {
        return refuse('deployment context differs (another run id, or another config)');
      }
      up = true;
      clearTimeout(openTimer);
      call.write({ ready: {} });
      this.#log({ type: 'link-up', peer, local, reason: 'incoming TLS link authenticated' });
    });
    this.#onIncomingEnd(call, (why) => {
      clearTimeout(openTimer);
      this.#incoming.delete(call);
      const wasUp = up && !done;
      if (!up && !done) this.#log({ type: 'refused', peer, local, reason: `link closed before it was opened (${why})` });
      done = true;
      if (!wasUp) return;
      up = false;
      partial.clear();
      this.#log({ type: 'link-down', peer, local, reason: why });
      this.#failWaiters(peer, local, `link from '${peer}' closed (${why})`);
    });
  }

  #onNoiseLink(call: grpc.ServerDuplexStream<LinkFrame, LinkFrame>): void {
    this.#incoming.add(call);
    const responder = new HandshakeResponder({
      self: [...this.#locals.values()] as LocalParty[],
      peers: this.#pinned,
      context: this.#context,
      suite: this.#suite,
      ...(this.#window !== undefined ? { window: this.#window } : {}),
    });
    let session: SecureSession | undefined;
    let done = false;
    const partial = new Map<number, Partial | null>();
    const refuse = (reason: string, peer = responder.peerName) => {
      if (done) return;
      done = true;
      this.#refuseCall(call, reason, peer, undefined);
    };
    // A dialer that does not complete the handshake in time is refused (no half-open streams piling up).
    const handshakeTimer = setTimeout(() => {
      if (!session) refuse(`handshake not completed within ${this.#connectTimeout} ms`);
    }, this.#connectTimeout);
    handshakeTimer.unref();
    call.on('data', (f: LinkFrame) => {
      if (done) return;
      if (session) {
        if (f.body !== 'sealed' || !(f.sealed?.frame instanceof Uint8Array)) {
          this.dropped++;
          this.#log({ type: 'dropped', peer: session.peerName, local: session.localName, reason: `unexpected '${f.body}' frame on an established link` });
          return;
        }
        this.#onSealed(session, f.sealed.frame, partial);
        return;
      }
      try {
        if (responder.stage === 'new') {
          if (f.body !== 'hello' || !f.hello) return refuse(`expected a hello, got '${f.body}'`);
          if (f.hello.schema_version !== SCHEMA_VERSION) return refuse(`schema version ${f.hello.schema_version ?? 0} not supported (this player speaks ${SCHEMA_VERSION})`);
          call.write({ reply: { handshake: responder.respond(f.hello.handshake ?? new Uint8Array(0)) } });
        } else {
          if (f.body !== 'finish' || !f.finish) return refuse(`expected handshake finish, got '${f.body}'`);
          session = responder.finish(f.finish.handshake ?? new Uint8Array(0));
          clearTimeout(handshakeTimer);
          call.write({ ready: {} });
          this.#log({ type: 'link-up', peer: session.peerName, local: session.localName, reason: 'incoming link authenticated' });
        }
      } catch (e) {
        refuse(
          e instanceof SecureChannelError || e instanceof RangeError || e instanceof TypeError ? e.message : `handshake failed: ${(e as Error).message}`,
          e instanceof SecureChannelError ? e.peer ?? responder.peerName : responder.peerName,
        );
      }
    });
    this.#onIncomingEnd(call, (why) => {
      clearTimeout(handshakeTimer);
      this.#incoming.delete(call);
      if (!session) {
        if (!done) {
          done = true;
          this.#log({ type: 'refused', peer: responder.peerName, local: undefined, reason: `link closed before the handshake completed (${why})` });
        }
        return;
      }
      const s = session;
      session = undefined;
      done = true;
      partial.clear();
      s.close();
      this.#log({ type: 'link-down', peer: s.peerName, local: s.localName, reason: why });
      this.#failWaiters(s.peerName, s.localName, `link from '${s.peerName}' closed (${why})`);
    });
  }

  #onSealed(session: SecureSession, frame: Uint8Array, partial: Map<number, Partial | null>): void {
    let m;
    try {
      m = session.openPieces(frame);
    } catch (e) {
      this.dropped++;
      this.#log({ type: 'dropped', peer: session.peerName, local: session.localName, reason: (e as Error).message });
      return;
    }
    if (m.ad.length !== 4) {
      this.dropped++;
      this.#log({ type: 'dropped', peer: session.peerName, local: session.localName, reason: `frame ${m.seq} carries no round id` });
      return;
    }
    const round = new DataView(m.ad.buffer, m.ad.byteOffset, 4).getUint32(0);
    this.#onChunk(session.peerName, session.localName, `frame ${m.seq}`, round, m.pieces, partial);
  }

  /** One authenticated chunk (its bytes: the concatenation of `pieces`) from `peer` to `local`. */
  #onChunk(peer: string, local: string, what: string, round: number, pieces: readonly Uint8Array[], partial: Map<number, Partial | null>): void {
    const drop = (reason: string) => {
      this.dropped++;
      this.#log({ type: 'dropped', peer, local, reason });
    };
    let ptLen = 0;
    for (const q of pieces) ptLen += q.length;
    if (round < this.#round) return drop(`${what} belongs to round ${round}, current round is ${this.#round}`);
    if (ptLen < HEADER_FIXED) return drop(`${what} is not a chunk`);
    const head = gather(pieces, 0, HEADER_FIXED);
    if (head[0] !== KIND_CHUNK) return drop(`${what} is not a chunk`);
    const v = new DataView(head.buffer, head.byteOffset, HEADER_FIXED);
    const keyLen = v.getUint16(2);
    const hLen = v.getUint32(4);
    const id = Number(v.getBigUint64(8));
    const total = v.getBigUint64(16);
    const offset = v.getBigUint64(24);
    if (hLen < HEADER_FIXED + keyLen || hLen > ptLen) return drop(`${what}: bad chunk header`);
    const dataLen = ptLen - hLen;
    if (total > BigInt(this.#max)) {
      if (!partial.has(id)) drop(`message ${id} of ${total} bytes exceeds the limit of ${this.#max} bytes`);
      partial.set(id, null);
      return;
    }
    const n = Number(total);
    if (offset + BigInt(dataLen) > total) return drop(`${what}: chunk at ${offset} (+${dataLen}) outside message of ${n} bytes`);
    const off = Number(offset);
    let p = partial.get(id);
    if (p === null) return; // refused message
    if (p === undefined) {
      if (partial.size >= MAX_PARTIAL) return drop(`${what}: more than ${MAX_PARTIAL} incomplete messages on this link`);
      if (off !== 0) {
        partial.set(id, null);
        return drop(`message ${id}: first chunk at offset ${off}, expected 0 (message abandoned)`);
      }
      let key: string;
      try {
        key = dec.decode(gather(pieces, HEADER_FIXED, keyLen));
      } catch {
        return drop(`${what}: key is not UTF-8`);
      }
      // Uninitialised memory (malloc: ~10x cheaper than zeroed fresh pages on large
      // messages); safe because chunks must arrive contiguous and in order, so the
      // message is delivered only once every byte of it has been written.
      const raw = Buffer.allocUnsafeSlow(n);
      p = { key, buf: new Uint8Array(raw.buffer, raw.byteOffset, n), got: 0 };
      if (dataLen < n) partial.set(id, p);
    } else if (off !== p.got) {
      partial.set(id, null);
      return drop(`message ${id}: chunk at offset ${off}, expected ${p.got} (a chunk is missing; message abandoned)`);
    }
    copyFrom(pieces, hLen, p.buf, off);
    p.got += dataLen;
    if (p.got >= n) {
      partial.delete(id);
      this.#deliver(peer, local, p.key, p.buf);
    }
  }

  // ------------------------------------------------------------------ sending side

  /** The channel from local player `from` to `e` ('tls': one per pair, each presents its own certificate; 'noise': one per address). */
  #client(from: string, e: PlayerEntry): grpc.Client {
    const id = this.#mode === 'tls' ? `${from}\u0000${e.address}` : e.address;
    let c = this.#clients.get(id);
    if (!c) {
      if (this.#mode === 'tls') {
        const own = this.#locals.get(from)!.tls!;
        const pinned = this.#certs.get(e.name)!;
        // TLS 1.3 at least: every link is dialed by a fedcrypt player, so every link runs TLS 1.3
        // (grpc-js's createSsl has no such option; createFromSecureContext takes Node's own context).
        const context = createSecureContext({ ca: pem(pinned), key: exportTlsPrivateKeyPem(own), cert: pem(own.certificate.der), minVersion: 'TLSv1.3' });
        const creds = grpc.credentials.createFromSecureContext(context, {
          // OpenSSL has verified the chain against the one pinned certificate; this checks it is that very certificate.
          checkServerIdentity: (_host, cert) => {
            if (cert?.raw instanceof Uint8Array && bytesEqual(cert.raw, pinned)) return undefined;
            const got = cert?.raw ? new X509Certificate(cert.raw).subject.replace(/\n/g, ', ') : 'none';
            return new Error(`'${e.name}' at ${e.address} presented a certificate (${got}) that is not the one pinned for it`);
          },
        });
        // SNI and the expected name: the player's name (never an IP address).
        c = new this.#ctor(e.address, creds, { ...this.#grpcOptions, 'grpc.ssl_target_name_override': e.name, 'grpc.default_authority': e.name });
      } else {
        c = new this.#ctor(e.address, grpc.credentials.createInsecure(), this.#grpcOptions);
      }
      this.#clients.set(id, c);
    }
    return c;
  }

  #link(from: string, to: string): Promise<OutLink> {
    const id = `${from}\u0000${to}`;
    let p = this.#links.get(id);
    if (!p) {
      p = this.#connect(from, to);
      this.#links.set(id, p);
      p.catch(() => {
        if (this.#links.get(id) === p) this.#links.delete(id);
      });
    }
    return p;
  }

  async #connect(from: string, to: string): Promise<OutLink> {
    const entry = this.#entries.get(to)!;
    const deadline = Date.now() + this.#connectTimeout;
    const client = this.#client(from, entry);
    await new Promise<void>((resolve, reject) =>
      client.waitForReady(deadline, (err) => {
        if (!err) return resolve();
        const tls = this.#mode === 'tls' ? ' or no TLS session: it may not present the pinned certificate, or may not accept ours' : '';
        reject(new PeerError(`send: player '${to}' at ${entry.address} is not reachable within ${this.#connectTimeout} ms (${err.message}${tls})`, to));
      }),
    );
    if (this.#state === 'closed') throw new PeerError(`send: transport closed while connecting to '${to}'`, to);
    const call = (client as unknown as { Link(): grpc.ClientDuplexStream<LinkFrame, LinkFrame> }).Link();
    // A small queue of incoming frames for the handshake.
    const queue: LinkFrame[] = [];
    let wake: (() => void) | undefined;
    let ended: Error | undefined;
    const onData = (f: LinkFrame) => {
      queue.push(f);
      wake?.();
    };
    const onEnd = (e?: Error) => {
      ended ??= e ?? new Error('stream ended');
      wake?.();
    };
    call.on('data', onData);
    call.on('end', () => onEnd());
    call.on('error', (e: Error) => onEnd(e));
    const next = async (): Promise<LinkFrame> => {
      for (;;) {
        const f = queue.shift();
        if (f) return f;
        if (ended) throw new PeerError(`send: link to '${to}' closed during the handshake (${ended.message})`, to);
        const left = deadline - Date.now();
        if (left <= 0) throw new PeerError(`send: handshake with '${to}' did not complete within ${this.#connectTimeout} ms`, to);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = undefined;
      }
    };
    const refused = (f: LinkFrame, expected: string) =>
      new PeerError(
        f.body === 'refusal' ? `send: '${to}' refused the link from '${from}': ${f.refusal?.reason ?? ''}` : `send: '${to}' answered '${f.body}', expected '${expected}'`,
        to,
      );
    try {
      let session: SecureSession | undefined;
      if (this.#mode === 'tls') {
        // TLS has authenticated both ends; bind the stream to this deployment and run.
        call.write({ open: { schema_version: SCHEMA_VERSION, context: this.#context } });
      } else {
        const init = new HandshakeInitiator({
          self: this.#locals.get(from)! as LocalParty,
          peer: { name: to, publicKey: this.#pinned.get(to)! },
          context: this.#context,
          suite: this.#suite,
          ...(this.#window !== undefined ? { window: this.#window } : {}),
        });
        call.write({ hello: { schema_version: SCHEMA_VERSION, handshake: init.start() } });
        const reply = await next();
        if (reply.body !== 'reply' || !reply.reply) throw refused(reply, 'reply');
        let fin;
        try {
          fin = init.finish(reply.reply.handshake ?? new Uint8Array(0));
        } catch (e) {
          throw new PeerError(`send: '${to}' failed authentication: ${(e as Error).message}`, to);
        }
        call.write({ finish: { handshake: fin.message } });
        session = fin.session;
      }
      const ready = await next();
      if (ready.body !== 'ready') throw refused(ready, 'ready');
      const link: OutLink = { from, to, call, session, nextMessageId: 0, broken: undefined };
      call.removeListener('data', onData);
      const breakLink = (why: string) => {
        if (link.broken) return;
        link.broken = new PeerError(`send: link from '${from}' to '${to}' lost (${why})`, to);
        const id = `${from}\u0000${to}`;
        if (this.#links.get(id) !== undefined) this.#links.delete(id);
        link.session?.close();
        if (this.#state !== 'closed') this.#log({ type: 'link-down', peer: to, local: from, reason: why });
        call.emit('fedcrypt-broken');
      };
      call.on('data', (f: LinkFrame) => {
        if (f.body === 'refusal') breakLink(`refused: ${f.refusal?.reason ?? ''}`);
      });
      call.on('end', () => breakLink('peer ended the stream'));
      call.on('error', (e: Error) => breakLink(e.message));
      call.on('close', () => breakLink('stream closed'));
      this.#log({ type: 'link-up', peer: to, local: from, reason: `outgoing ${this.#mode === 'tls' ? 'TLS ' : ''}link authenticated` });
      return link;
    } catch (e) {
      if (e instanceof PeerError) this.#log({ type: 'refused', peer: to, local: from, reason: e.message });
      call.cancel();
      throw e;
    }
  }

  /**
   * The frame of one chunk. Either way the chunk's bytes are copied before
   * this returns (grpc-js may queue the frame object and serialize it later).
   * 'noise': sealed into fresh ciphertext, serialized later into a pooled
   * wire buffer. 'tls': serialized now into a pooled wire buffer (TLS
   * encrypts it); with a fault-injection tap, as a plain frame the tap can edit.
   */
  #frame(link: OutLink, plain: Uint8Array[], round: number, ad: Uint8Array): LinkFrame {
    if (link.session) return { sealed: { pieces: link.session.sealPieces(plain, ad), pool: this.#wirePool } };
    if (this.#tap) return { chunk: { frame: Buffer.concat(plain), round } };
    const wire = encodeSealedPieces(plain, this.#wirePool, round);
    return { chunk: { encoded: wire, wire, pool: this.#wirePool } };
  }

  async #write(link: OutLink, frame: LinkFrame): Promise<void> {
    const frames = this.#tap ? this.#tap(link.to, frame) : [frame];
    for (const f of frames) {
      if (link.broken) throw link.broken;
      if (!link.call.write(f, () => releaseWire(f))) {
        await new Promise<void>((resolve) => {
          const done = () => {
            link.call.removeListener('drain', done);
            link.call.removeListener('fedcrypt-broken', done);
            resolve();
          };
          link.call.on('drain', done);
          link.call.on('fedcrypt-broken', done);
        });
      }
    }
    if (link.broken) throw link.broken;
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
    if (payload.length > this.#max) throw new RangeError(`send: argument 'payload' has ${payload.length} bytes, above the limit of ${this.#max} bytes (maxMessageBytes) for '${from}' -> '${to}'`);
    const keyBytes = enc.encode(key);
    if (keyBytes.length > 0xffff) throw new RangeError(`send: argument 'key' has ${keyBytes.length} bytes, at most 65535 allowed`);
    if (this.#state === 'closed') throw new PeerError(`send: transport is closed (${from} -> ${to}, key '${key}')`, to);
    if (!this.isLocal(from)) throw new TransportError(`send: player '${from}' is not local to this transport`);
    if (!this.#entries.has(to)) throw new PeerError(`send: player '${to}' is not in the config`, to);
    const remote = !this.isLocal(to);
    if (remote && this.#state !== 'running') throw new TransportError(`send: call start() first (state '${this.#state}')`);
    this.#counters.sent(from, payload.byteLength);
    if (!remote) {
      this.#deliver(from, to, key, payload);
      return;
    }
    const link = await this.#link(from, to);
    if (link.broken) throw link.broken;
    const id = link.nextMessageId++;
    const round = this.#round;
    const ad = roundAd(round);
    const n = payload.length;
    let off = 0;
    do {
      const part = payload.subarray(off, Math.min(n, off + this.#chunk));
      const plain = [chunkHeader(id, n, off, keyBytes), part];
      await this.#write(link, this.#frame(link, plain, round, ad));
      off += part.length;
      // Let the event loop run between chunks: Node's HTTP/2 session flushes
      // to the socket from a setImmediate, so without this the whole message
      // would be encrypted before its first byte leaves and the receiver could
      // not decrypt chunk k while we encrypt chunk k + 1.
      if (off < n) await new Promise<void>((resolve) => setImmediate(resolve));
    } while (off < n);
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    for (const [id, b] of this.#boxes) {
      if (b.waiter === undefined) continue;
      if (b.waiter.timer !== undefined) clearTimeout(b.waiter.timer);
      const [from, to, key] = id.split('\u0000');
      b.waiter.reject(new PeerError(`receive: transport closed while '${to}' waited for '${from}' under key '${key}'`, from!));
    }
    this.#boxes.clear();
    const links = [...this.#links.values()];
    this.#links.clear();
    for (const p of links) {
      // Do not wait for links still connecting: closing the clients below makes them fail.
      p.then(
        (l) => {
          if (!l.broken) {
            l.broken = new PeerError(`send: transport closed`, l.to);
            l.call.end();
          }
        },
        () => {},
      );
    }
    for (const call of this.#incoming) {
      try {
        call.end();
      } catch {
        /* gone */
      }
    }
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
    await Promise.all(
      this.#servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            const t = setTimeout(() => {
              s.forceShutdown();
              resolve();
            }, 500);
            s.tryShutdown(() => {
              clearTimeout(t);
              resolve();
            });
          }),
      ),
    );
    this.#servers = [];
  }
}
