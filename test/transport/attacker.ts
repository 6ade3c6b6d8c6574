/**
 * A malicious player for the transport tests: a configured player (its own
 * pinned credentials, so the victim accepts its link) that drives the link
 * by hand with grpc-js instead of GrpcTransport, and writes whatever chunks
 * it likes (declared sizes, offsets, ids, keys) as a real attacker would.
 * 'tls': mutual TLS with its own certificate, Open, then Chunk frames.
 * 'noise': the pinned-key handshake (HandshakeInitiator), then AEAD frames.
 */
import * as grpc from '@grpc/grpc-js';
import { HandshakeInitiator, type SecureSession } from '../../src/crypto/secure-channel.js';
import { exportTlsPrivateKeyPem } from '../../src/crypto/tls-identity.js';
import { certificatePem } from '../../src/crypto/x509.js';
import { deploymentContext, roundAd } from '../../src/transport/grpc-context.js';
import { linkService, SCHEMA_VERSION, type LinkFrame } from '../../src/transport/grpc-schema.js';
import { chunkHeader } from '../../src/transport/reassembly.js';
import type { Deployment } from './helpers.js';

export interface Attacker {
  /** Frames the victim sent on the stream (Ready, then perhaps a Refusal). */
  readonly frames: LinkFrame[];
  /** Resolves when the victim ends the stream (or it fails). */
  readonly ended: Promise<void>;
  /** Write one chunk of message `id` (declaring `total` bytes) at `offset` under `key`; resolves once grpc-js took it. */
  chunk(id: number, total: number, offset: number, key: string, data: Uint8Array, round?: number): Promise<void>;
  close(): void;
}

/** `from` (a player of `d`, with its real credentials) opens a link to `to` by hand. */
export async function dialAs(d: Deployment, from: string, to: string, runId: string): Promise<Attacker> {
  const entry = d.config.players.find((p) => p.name === to)!;
  const me = d.parties.get(from)!;
  const Ctor = grpc.makeGenericClientConstructor(linkService(), 'PlayerLink');
  const options = { 'grpc.max_send_message_length': 32 << 20 };
  const tls = d.config.links === 'tls';
  const client = tls
    ? new Ctor(
        entry.address,
        grpc.credentials.createSsl(Buffer.from(certificatePem(entry.certificate!)), Buffer.from(exportTlsPrivateKeyPem(me.tls!)), Buffer.from(me.tls!.certificate.pem), { checkServerIdentity: () => undefined }),
        { ...options, 'grpc.ssl_target_name_override': to, 'grpc.default_authority': to },
      )
    : new Ctor(entry.address, grpc.credentials.createInsecure(), options);
  const call = (client as unknown as { Link(): grpc.ClientDuplexStream<LinkFrame, LinkFrame> }).Link();
  const frames: LinkFrame[] = [];
  let wake: (() => void) | undefined;
  call.on('data', (f: LinkFrame) => {
    frames.push(f);
    wake?.();
  });
  const ended = new Promise<void>((resolve) => {
    call.on('end', resolve);
    call.on('error', () => resolve());
    call.on('close', resolve);
  });
  void ended.then(() => wake?.());
  let seen = 0;
  /** The victim's next frame (the tests' hang guard bounds the wait). */
  const next = async (): Promise<LinkFrame> => {
    while (frames.length <= seen) await new Promise<void>((r) => (wake = r));
    return frames[seen++]!;
  };
  const context = deploymentContext(d.config, runId);
  let session: SecureSession | undefined;
  if (tls) {
    call.write({ open: { schema_version: SCHEMA_VERSION, context } });
  } else {
    const init = new HandshakeInitiator({ self: { name: from, identity: me.identity! }, peer: { name: to, publicKey: entry.publicKey! }, context });
    call.write({ hello: { schema_version: SCHEMA_VERSION, handshake: init.start() } });
    const reply = await next();
    if (reply.body !== 'reply') throw new Error(`attacker: expected a reply, got ${reply.body}: ${reply.refusal?.reason ?? ''}`);
    const fin = init.finish(reply.reply!.handshake!);
    call.write({ finish: { handshake: fin.message } });
    session = fin.session;
  }
  const ready = await next();
  if (ready.body !== 'ready') throw new Error(`attacker: expected ready, got ${ready.body}: ${ready.refusal?.reason ?? ''}`);
  return {
    frames,
    ended,
    chunk: async (id, total, offset, key, data, round = 0) => {
      const plain = Buffer.concat([chunkHeader(id, total, offset, key), data]);
      const frame: LinkFrame = session ? { sealed: { frame: session.seal(plain, roundAd(round)) } } : { chunk: { frame: plain, round } };
      // once the victim has ended the stream a write may never complete: stop waiting then
      await Promise.race([new Promise<void>((resolve, reject) => call.write(frame, (e: Error | null | undefined) => (e ? reject(e) : resolve()))), ended]);
    },
    close: () => {
      call.cancel();
      client.close();
    },
  };
}
