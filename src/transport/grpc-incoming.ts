/**
 * The serving side of GrpcTransport: one gRPC server per local player, the
 * authentication of every incoming stream ('tls': the client certificate,
 * then Open; 'noise': the pinned-key handshake, then AEAD frames), and the
 * hand-over of each authenticated chunk to the stream's Reassembler
 * (reassembly.ts), then of each message to the mailboxes (mailboxes.ts).
 *
 * Limits (limits.ts) hold per link: one (peer -> local player) pair, across
 * every stream the peer opens to that player. A link over a limit is closed:
 * the reason is logged ('refused') and sent to the peer (a Refusal frame),
 * every stream of the link ends, its incomplete and unclaimed messages are
 * dropped, and the receives waiting on it fail with a PeerError naming the peer.
 */
import * as grpc from '@grpc/grpc-js';
import { isIP } from 'node:net';
import { HandshakeResponder, SecureChannelError, type LocalParty, type SecureSession } from '../crypto/secure-channel.js';
import { bytesEqual } from '../crypto/identity.js';
import { exportTlsPrivateKeyPem } from '../crypto/tls-identity.js';
import { certificatePem as pem } from '../crypto/x509.js';
import { PeerError } from './errors.js';
import { SCHEMA_VERSION, type LinkFrame } from './grpc-schema.js';
import { WINDOW, type LinkContext } from './grpc-context.js';
import type { ReceiveLimits } from './limits.js';
import type { Mailboxes } from './mailboxes.js';
import { Reassembler, type LinkBudget } from './reassembly.js';

type Call = grpc.ServerDuplexStream<LinkFrame, LinkFrame>;

/** What the serving side needs from its transport. */
export interface AcceptorHooks {
  readonly limits: ReceiveLimits;
  readonly mailboxes: Mailboxes;
  /** Frames of an older round than this are dropped. */
  round(): number;
  /** Count and log a discarded frame or message. */
  dropped(peer: string | undefined, local: string | undefined, reason: string): void;
  /** A complete message from `peer` to `local`. */
  deliver(peer: string, local: string, key: string, payload: Uint8Array): void;
}

/** One authenticated incoming stream. */
interface Stream {
  reassembler: Reassembler;
  /** End the stream now (over a limit): `reason` is logged by the caller and sent to the peer. */
  shut(reason: string): void;
}

const linkId = (peer: string, local: string) => `${peer}\u0000${local}`;

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

export class Acceptor {
  readonly #ctx: LinkContext;
  readonly #hooks: AcceptorHooks;
  #servers: grpc.Server[] = [];
  #incoming = new Set<Call>();
  /** Authenticated streams and reassembly budgets, by link. */
  #streams = new Map<string, Set<Stream>>();
  #budgets = new Map<string, LinkBudget>();

  constructor(ctx: LinkContext, hooks: AcceptorHooks) {
    this.#ctx = ctx;
    this.#hooks = hooks;
  }

  /** Serve local player `name` at its configured port (on `bindHost` if given); resolves with the port. */
  async listen(name: string, bindHost: string | undefined): Promise<number> {
    const ctx = this.#ctx;
    const e = ctx.entries.get(name)!;
    const server = new grpc.Server(ctx.grpcOptions);
    widenServerWindow(server);
    server.addService(ctx.ctor.service, { Link: (call: Call) => this.#onLink(call, name) });
    const host = bindHost ?? (isIP(e.host) ? e.host : '0.0.0.0');
    const target = isIP(host) === 6 ? `[${host}]:${e.port}` : `${host}:${e.port}`;
    this.#servers.push(server);
    const own = ctx.mode === 'tls' ? ctx.locals.get(name)!.tls : undefined;
    const creds = own
      ? grpc.ServerCredentials.createSsl(
          Buffer.from([...ctx.certs.values()].map(pem).join('')),
          [{ private_key: Buffer.from(exportTlsPrivateKeyPem(own)), cert_chain: Buffer.from(pem(own.certificate.der)) }],
          true, // client certificates required and verified against the config's
        )
      : grpc.ServerCredentials.createInsecure();
    const port = await new Promise<number>((resolve, reject) => server.bindAsync(target, creds, (err, p) => (err ? reject(err) : resolve(p)))).catch((err: Error) => {
      throw new PeerError(`GrpcTransport.start: cannot listen for "${name}" on ${target}: ${err.message}`, name);
    });
    widenSessionWindows(
      server,
      ctx.mode === 'tls'
        ? (err, socket) => {
            // authorizationError: OpenSSL's verdict on the client certificate (e.g. DEPTH_ZERO_SELF_SIGNED_CERT: not one of ours)
            const verdict = socket?.authorizationError;
            const reason = verdict ? `TLS handshake failed: the client's certificate is not pinned in the config (${String(verdict)})` : `TLS handshake failed: ${err.message}`;
            ctx.log({ type: 'refused', peer: undefined, local: name, reason });
          }
        : undefined,
    );
    return port;
  }

  /** What the link `peer` -> `local` holds now. */
  usage(peer: string, local: string): { incompleteMessages: number; incompleteBytes: number; unclaimedBytes: number; streams: number } {
    const b = this.#budgets.get(linkId(peer, local));
    return { incompleteMessages: b?.incomplete ?? 0, incompleteBytes: b?.bytes ?? 0, unclaimedBytes: this.#hooks.mailboxes.held(peer, local), streams: this.#streams.get(linkId(peer, local))?.size ?? 0 };
  }

  /** End every incoming stream and shut the servers down. */
  async close(): Promise<void> {
    for (const call of this.#incoming) {
      try {
        call.end();
      } catch {
        /* gone */
      }
    }
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

  /** A Reassembler for a new authenticated stream of `peer` -> `local`, registered with its link. */
  #open(peer: string, local: string, shut: (reason: string) => void): Stream {
    const id = linkId(peer, local);
    let budget = this.#budgets.get(id);
    if (!budget) this.#budgets.set(id, (budget = { bytes: 0, incomplete: 0 }));
    const h = this.#hooks;
    const reassembler = new Reassembler(h.limits, budget, {
      waiting: (key) => h.mailboxes.waiting(peer, local, key),
      held: () => h.mailboxes.held(peer, local),
      deliver: (key, payload) => h.deliver(peer, local, key, payload),
      drop: (reason) => h.dropped(peer, local, reason),
      overLimit: (reason) => this.#overLimit(peer, local, reason),
    });
    const stream: Stream = { reassembler, shut };
    let set = this.#streams.get(id);
    if (!set) this.#streams.set(id, (set = new Set()));
    set.add(stream);
    return stream;
  }

  /** The stream ended: release what it held. */
  #forget(peer: string, local: string, stream: Stream): void {
    stream.reassembler.clear();
    const id = linkId(peer, local);
    const set = this.#streams.get(id);
    set?.delete(stream);
    if (set?.size === 0) {
      this.#streams.delete(id);
      this.#budgets.delete(id);
    }
  }

  /** Close the link `peer` -> `local`: see the file comment. */
  #overLimit(peer: string, local: string, reason: string): void {
    const why = `link from '${peer}' closed by '${local}': ${reason}`;
    const streams = [...(this.#streams.get(linkId(peer, local)) ?? [])];
    const dropped = this.#hooks.mailboxes.dropLink(peer, local, why);
    this.#ctx.log({ type: 'refused', peer, local, reason: `${why}${dropped ? `; ${dropped} unclaimed message(s) of the link dropped` : ''}` });
    for (const s of streams) s.shut(why);
    this.#hooks.mailboxes.failWaiters(peer, local, why);
  }

  #onLink(call: Call, local: string): void {
    if (this.#ctx.closed()) {
      call.end();
      return;
    }
    if (this.#ctx.mode === 'tls') this.#onTlsLink(call, local);
    else this.#onNoiseLink(call);
  }

  /** Refuse an incoming stream (logged unless `logged`, a Refusal frame, then the end). */
  #refuseCall(call: Call, reason: string, peer: string | undefined, local: string | undefined, logged = false): void {
    if (!logged) this.#ctx.log({ type: 'refused', peer, local, reason });
    try {
      call.write({ refusal: { reason } });
    } catch {
      /* stream already gone */
    }
    call.end();
  }

  /** Common end of an incoming stream: forget it; `finish` decides what else. */
  #onIncomingEnd(call: Call, finish: (why: string) => void): void {
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

  /** A chunk of an established link: a stale round is dropped, the rest reassembled. */
  #onChunk(stream: Stream, peer: string, local: string, what: string, round: number, pieces: readonly Uint8Array[]): void {
    const current = this.#hooks.round();
    if (round < current) return this.#hooks.dropped(peer, local, `${what} belongs to round ${round}, current round is ${current}`);
    stream.reassembler.chunk(what, pieces);
  }

  #onTlsLink(call: Call, local: string): void {
    const ctx = this.#ctx;
    // TLS has verified the client's certificate against the config's; name the
    // sender by it (byte for byte), never by anything it says.
    const raw = (call.getAuthContext?.() as { sslPeerCertificate?: { raw?: Buffer } } | undefined)?.sslPeerCertificate?.raw;
    const peer = raw ? ctx.certOwner.get(raw.toString('base64')) : undefined;
    if (peer === undefined) {
      this.#refuseCall(call, raw ? 'client certificate is not pinned in the config' : 'no client certificate', undefined, local);
      return;
    }
    this.#incoming.add(call);
    let stream: Stream | undefined;
    let done = false;
    let frames = 0;
    const refuse = (reason: string, logged = false) => {
      if (done) return;
      done = true;
      if (stream) this.#forget(peer, local, stream);
      this.#refuseCall(call, reason, peer, local, logged);
    };
    const openTimer = setTimeout(() => {
      if (!stream) refuse(`link not opened within ${ctx.connectTimeout} ms`);
    }, ctx.connectTimeout);
    openTimer.unref();
    call.on('data', (f: LinkFrame) => {
      if (done) return;
      if (stream) {
        frames++;
        if (f.body !== 'chunk' || !(f.chunk?.frame instanceof Uint8Array)) return this.#hooks.dropped(peer, local, `unexpected '${f.body}' frame on an established TLS link`);
        return this.#onChunk(stream, peer, local, `frame ${frames}`, f.chunk.round ?? 0, [f.chunk.frame]);
      }
      if (f.body !== 'open' || !f.open) return refuse(`expected 'open' on a TLS link, got '${f.body}'`);
      if (f.open.schema_version !== SCHEMA_VERSION) return refuse(`schema version ${f.open.schema_version ?? 0} not supported (this player speaks ${SCHEMA_VERSION})`);
      if (!(f.open.context instanceof Uint8Array) || !bytesEqual(f.open.context, ctx.context)) return refuse('deployment context differs (another run id, or another config)');
      stream = this.#open(peer, local, (reason) => refuse(reason, true));
      clearTimeout(openTimer);
      call.write({ ready: {} });
      ctx.log({ type: 'link-up', peer, local, reason: 'incoming TLS link authenticated' });
    });
    this.#onIncomingEnd(call, (why) => {
      clearTimeout(openTimer);
      this.#incoming.delete(call);
      if (done) return;
      done = true;
      if (!stream) return ctx.log({ type: 'refused', peer, local, reason: `link closed before it was opened (${why})` });
      this.#forget(peer, local, stream);
      ctx.log({ type: 'link-down', peer, local, reason: why });
      this.#hooks.mailboxes.failWaiters(peer, local, `link from '${peer}' closed (${why})`);
    });
  }

  #onNoiseLink(call: Call): void {
    const ctx = this.#ctx;
    this.#incoming.add(call);
    const responder = new HandshakeResponder({
      self: [...ctx.locals.values()] as LocalParty[],
      peers: ctx.pinned,
      context: ctx.context,
      suite: ctx.suite,
      ...(ctx.window !== undefined ? { window: ctx.window } : {}),
    });
    let session: SecureSession | undefined;
    let stream: Stream | undefined;
    let done = false;
    const refuse = (reason: string, peer = responder.peerName, logged = false) => {
      if (done) return;
      done = true;
      if (session && stream) this.#forget(session.peerName, session.localName, stream);
      session?.close();
      this.#refuseCall(call, reason, peer, session?.localName, logged);
    };
    // A dialer that does not complete the handshake in time is refused (no half-open streams piling up).
    const handshakeTimer = setTimeout(() => {
      if (!session) refuse(`handshake not completed within ${ctx.connectTimeout} ms`);
    }, ctx.connectTimeout);
    handshakeTimer.unref();
    call.on('data', (f: LinkFrame) => {
      if (done) return;
      if (session && stream) {
        if (f.body !== 'sealed' || !(f.sealed?.frame instanceof Uint8Array)) {
          return this.#hooks.dropped(session.peerName, session.localName, `unexpected '${f.body}' frame on an established link`);
        }
        return this.#onSealed(stream, session, f.sealed.frame);
      }
      try {
        if (responder.stage === 'new') {
          if (f.body !== 'hello' || !f.hello) return refuse(`expected a hello, got '${f.body}'`);
          if (f.hello.schema_version !== SCHEMA_VERSION) return refuse(`schema version ${f.hello.schema_version ?? 0} not supported (this player speaks ${SCHEMA_VERSION})`);
          call.write({ reply: { handshake: responder.respond(f.hello.handshake ?? new Uint8Array(0)) } });
        } else {
          if (f.body !== 'finish' || !f.finish) return refuse(`expected handshake finish, got '${f.body}'`);
          const s = responder.finish(f.finish.handshake ?? new Uint8Array(0));
          session = s;
          stream = this.#open(s.peerName, s.localName, (reason) => refuse(reason, s.peerName, true));
          clearTimeout(handshakeTimer);
          call.write({ ready: {} });
          ctx.log({ type: 'link-up', peer: s.peerName, local: s.localName, reason: 'incoming link authenticated' });
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
      if (done) return;
      done = true;
      if (!session || !stream) return ctx.log({ type: 'refused', peer: responder.peerName, local: undefined, reason: `link closed before the handshake completed (${why})` });
      const s = session;
      this.#forget(s.peerName, s.localName, stream);
      s.close();
      ctx.log({ type: 'link-down', peer: s.peerName, local: s.localName, reason: why });
      this.#hooks.mailboxes.failWaiters(s.peerName, s.localName, `link from '${s.peerName}' closed (${why})`);
    });
  }

  #onSealed(stream: Stream, session: SecureSession, frame: Uint8Array): void {
    let m;
    try {
      m = session.openPieces(frame);
    } catch (e) {
      return this.#hooks.dropped(session.peerName, session.localName, (e as Error).message);
    }
    if (m.ad.length !== 4) return this.#hooks.dropped(session.peerName, session.localName, `frame ${m.seq} carries no round id`);
    const round = new DataView(m.ad.buffer, m.ad.byteOffset, 4).getUint32(0);
    this.#onChunk(stream, session.peerName, session.localName, `frame ${m.seq}`, round, m.pieces);
  }
}
