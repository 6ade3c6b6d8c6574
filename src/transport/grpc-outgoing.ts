/**
 * The dialing side of GrpcTransport: one client channel per peer address
 * (per local player on 'tls' links), one bidirectional stream per (local
 * sender -> peer) opened on the first send and authenticated ('tls': the
 * pinned certificate, then Open; 'noise': the pinned-key handshake), and the
 * chunking of each message into frames (reassembly.ts has the format).
 */
import * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { HandshakeInitiator, type LocalParty, type SecureSession } from '../crypto/secure-channel.js';
import { bytesEqual } from '../crypto/identity.js';
import { exportTlsPrivateKeyPem } from '../crypto/tls-identity.js';
import { certificatePem as pem } from '../crypto/x509.js';
import type { PlayerEntry } from './config.js';
import { PeerError } from './errors.js';
import { encodeSealedPieces, releaseWire, SCHEMA_VERSION, WirePool, type LinkFrame } from './grpc-schema.js';
import { roundAd, type LinkContext } from './grpc-context.js';
import { chunkHeader } from './reassembly.js';

interface OutLink {
  from: string;
  to: string;
  call: grpc.ClientDuplexStream<LinkFrame, LinkFrame>;
  /** The AEAD session of a 'noise' link; none on a 'tls' link. */
  session: SecureSession | undefined;
  nextMessageId: number;
  broken: Error | undefined;
}

/** Pause before opening again a stream that failed unheard (see #connect). */
const RETRY_MS = 20;
/** How long `close` waits for a link's peer to acknowledge its end. */
const FLUSH_MS = 1000;

export interface DialerOptions {
  chunkBytes: number;
  /** TESTING ONLY (fault injection): see GrpcTransportOptions.tapOutgoing. */
  tap: ((peer: string, frame: LinkFrame) => LinkFrame[]) | undefined;
}

export class Dialer {
  readonly #ctx: LinkContext;
  readonly #chunk: number;
  readonly #tap: DialerOptions['tap'];
  /** Reused wire buffers of outgoing chunks (see WirePool). */
  readonly #wirePool: WirePool;
  #clients = new Map<string, grpc.Client>();
  #links = new Map<string, Promise<OutLink>>();

  constructor(ctx: LinkContext, options: DialerOptions, wirePool: WirePool) {
    this.#ctx = ctx;
    this.#chunk = options.chunkBytes;
    this.#tap = options.tap;
    this.#wirePool = wirePool;
  }

  /** Send one message from local `from` to remote `to` (the payload is copied into frames before this resolves). */
  async send(from: string, to: string, keyBytes: Uint8Array, payload: Uint8Array, round: number): Promise<void> {
    const link = await this.#link(from, to);
    if (link.broken) throw link.broken;
    const id = link.nextMessageId++;
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

  /**
   * End every link and close every channel (links still connecting fail).
   * Resolves once each established link has been ended cleanly by its peer
   * (everything written before has reached it), or after FLUSH_MS.
   */
  async close(): Promise<void> {
    const links = [...this.#links.values()];
    this.#links.clear();
    const ended = links.map(
      (p) =>
        new Promise<void>((resolve) => {
          // Do not wait for links still connecting: closing the clients below makes them fail.
          p.then(
            (l) => {
              if (l.broken) return resolve();
              l.broken = new PeerError(`send: transport closed`, l.to);
              const t = setTimeout(resolve, FLUSH_MS);
              const done = () => {
                clearTimeout(t);
                resolve();
              };
              for (const ev of ['status', 'error', 'close']) l.call.once(ev, done);
              l.call.end();
            },
            () => resolve(),
          );
        }),
    );
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
    await Promise.all(ended);
  }

  /** The channel from local player `from` to `e` ('tls': one per pair, each presents its own certificate; 'noise': one per address). */
  #client(from: string, e: PlayerEntry): grpc.Client {
    const ctx = this.#ctx;
    const id = ctx.mode === 'tls' ? `${from}\u0000${e.address}` : e.address;
    let c = this.#clients.get(id);
    if (!c) {
      if (ctx.mode === 'tls') {
        const own = ctx.locals.get(from)!.tls!;
        const pinned = ctx.certs.get(e.name)!;
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
        c = new ctx.ctor(e.address, creds, { ...ctx.grpcOptions, 'grpc.ssl_target_name_override': e.name, 'grpc.default_authority': e.name });
      } else {
        c = new ctx.ctor(e.address, grpc.credentials.createInsecure(), ctx.grpcOptions);
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

  /**
   * A new authenticated link. A stream that fails before the peer has said a
   * word (the channel was still on a connection that had just died, e.g.
   * right after a link loss) is opened again, until the connect deadline.
   */
  async #connect(from: string, to: string): Promise<OutLink> {
    const ctx = this.#ctx;
    const entry = ctx.entries.get(to)!;
    const deadline = Date.now() + ctx.connectTimeout;
    const client = this.#client(from, entry);
    for (;;) {
      await new Promise<void>((resolve, reject) =>
        client.waitForReady(deadline, (err) => {
          if (!err) return resolve();
          const tls = ctx.mode === 'tls' ? ' or no TLS session: it may not present the pinned certificate, or may not accept ours' : '';
          reject(new PeerError(`send: player '${to}' at ${entry.address} is not reachable within ${ctx.connectTimeout} ms (${err.message}${tls})`, to));
        }),
      );
      if (ctx.closed()) throw new PeerError(`send: transport closed while connecting to '${to}'`, to);
      const r = await this.#open(client, from, to, deadline);
      if (!('unheard' in r)) return r;
      if (Date.now() + RETRY_MS >= deadline) {
        ctx.log({ type: 'refused', peer: to, local: from, reason: r.unheard.message });
        throw r.unheard;
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }

  /** One attempt: the link, or `unheard` when the stream failed before any answer from the peer. */
  async #open(client: grpc.Client, from: string, to: string, deadline: number): Promise<OutLink | { unheard: PeerError }> {
    const ctx = this.#ctx;
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
    let heard = false;
    const next = async (): Promise<LinkFrame> => {
      for (;;) {
        const f = queue.shift();
        if (f) return ((heard = true), f);
        if (ended) throw new PeerError(`send: link to '${to}' closed during the handshake (${ended.message})`, to);
        const left = deadline - Date.now();
        if (left <= 0) throw new PeerError(`send: handshake with '${to}' did not complete within ${ctx.connectTimeout} ms`, to);
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
      if (ctx.mode === 'tls') {
        // TLS has authenticated both ends; bind the stream to this deployment and run.
        call.write({ open: { schema_version: SCHEMA_VERSION, context: ctx.context } });
      } else {
        const init = new HandshakeInitiator({
          self: ctx.locals.get(from)! as LocalParty,
          peer: { name: to, publicKey: ctx.pinned.get(to)! },
          context: ctx.context,
          suite: ctx.suite,
          ...(ctx.window !== undefined ? { window: ctx.window } : {}),
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
        if (!ctx.closed()) ctx.log({ type: 'link-down', peer: to, local: from, reason: why });
        call.emit('fedcrypt-broken');
      };
      call.on('data', (f: LinkFrame) => {
        if (f.body === 'refusal') breakLink(`refused: ${f.refusal?.reason ?? ''}`);
      });
      call.on('end', () => breakLink('peer ended the stream'));
      call.on('error', (e: Error) => breakLink(e.message));
      call.on('close', () => breakLink('stream closed'));
      ctx.log({ type: 'link-up', peer: to, local: from, reason: `outgoing ${ctx.mode === 'tls' ? 'TLS ' : ''}link authenticated` });
      return link;
    } catch (e) {
      call.cancel();
      if (e instanceof PeerError && !heard && ended !== undefined && Date.now() < deadline) return { unheard: e };
      if (e instanceof PeerError) ctx.log({ type: 'refused', peer: to, local: from, reason: e.message });
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
}
