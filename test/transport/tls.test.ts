/**
 * 'tls' links: what the network sees, who is refused, and what a tampered or
 * replayed TLS record does. A TCP proxy stands between a and b where the
 * test needs to see or change the bytes on the wire.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { generateIdentity } from '../../src/crypto/identity.js';
import { generateTlsIdentity } from '../../src/crypto/tls-identity.js';
import { parseConfig } from '../../src/transport/config.js';
import { GrpcTransport, PeerError, type GrpcTransportOptions, type TransportEvent } from '../../src/transport/grpc.js';
import type { LinkFrame } from '../../src/transport/grpc-schema.js';
import { deployment, freePorts, HANG_GUARD_MS, waitFor, type Deployment } from './helpers.js';

const rand = (n: number) => new Uint8Array(randomBytes(n));

function transport(d: Deployment | { config: Deployment['config'] }, local: GrpcTransportOptions['local'], log: TransportEvent[], extra: Partial<GrpcTransportOptions> = {}): GrpcTransport {
  return new GrpcTransport({ config: d.config, local, runId: 'test', connectTimeoutMs: 3000, logger: (e) => log.push(e), ...extra });
}

/** The config text with `name`'s entry changed by `edit`. */
function editConfig(text: string, name: string, edit: (e: Record<string, unknown>) => void): string {
  const o = JSON.parse(text) as { players: Record<string, Record<string, unknown>> };
  edit(o.players[name]!);
  return JSON.stringify(o);
}

interface Proxy {
  port: number;
  /** Bytes client -> server and server -> client, as seen on the wire. */
  up: Buffer[];
  down: Buffer[];
  /** Rewrites each client -> server segment (default: as is). */
  onUp: (b: Buffer) => Buffer;
  close(): Promise<void>;
}

/** A TCP proxy on 127.0.0.1 forwarding to `target`. */
async function proxy(target: number): Promise<Proxy> {
  const socks = new Set<Socket>();
  const p: Proxy = { port: 0, up: [], down: [], onUp: (b) => b, close: async () => {} };
  const server: Server = createServer((c) => {
    const s = connect(target, '127.0.0.1');
    socks.add(c).add(s);
    c.on('data', (b: Buffer) => {
      p.up.push(Buffer.from(b));
      s.write(p.onUp(b));
    });
    s.on('data', (b: Buffer) => {
      p.down.push(Buffer.from(b));
      c.write(b);
    });
    const end = () => {
      c.destroy();
      s.destroy();
    };
    c.on('close', end).on('error', end);
    s.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  p.port = (server.address() as { port: number }).port;
  p.close = () => {
    for (const x of socks) x.destroy();
    return new Promise((r) => server.close(() => r()));
  };
  return p;
}

/** a and b on 'tls' links; a reaches b through a proxy. */
async function proxied() {
  const d = await deployment(['a', 'b'], 'tls');
  const bPort = d.config.players[1]!.port;
  const px = await proxy(bPort);
  const aConfig = parseConfig(editConfig(d.configText, 'b', (e) => (e['address'] = `127.0.0.1:${px.port}`)));
  const logA: TransportEvent[] = [];
  const logB: TransportEvent[] = [];
  const a = transport({ config: aConfig }, d.parties.get('a')!, logA);
  const b = transport(d, d.parties.get('b')!, logB);
  await a.start();
  await b.start();
  const close = async () => {
    await a.close();
    await b.close();
    await px.close();
  };
  return { d, px, a, b, logA, logB, close };
}

/** Warm up the link a -> b, then let `rewrite` change the next client -> server segment of at least `min` bytes (once). */
async function tamperOnce(ctx: Awaited<ReturnType<typeof proxied>>, min: number, rewrite: (b: Buffer) => Buffer): Promise<{ fired: () => boolean }> {
  await ctx.a.send('a', 'b', 'warmup', rand(10));
  await ctx.b.receive('b', 'a', 'warmup', { timeoutMs: HANG_GUARD_MS });
  let armed = true;
  ctx.px.onUp = (buf) => {
    if (!armed || buf.length < min) return buf;
    armed = false;
    return rewrite(buf);
  };
  return { fired: () => !armed };
}

/** An intruder (its own config, its own TLS identity) dialing b, whose config does not pin it: refused, logged by b, nothing delivered. */
async function assertIntruderRefused(d: Deployment, name: string, cfg: Deployment['config'], tls: ReturnType<typeof generateTlsIdentity>, reason: RegExp): Promise<void> {
  const logB: TransportEvent[] = [];
  const b = transport(d, d.parties.get('b')!, logB);
  await b.start();
  const mt = transport({ config: cfg }, { name, tls }, [], { connectTimeoutMs: 1500 });
  await mt.start();
  try {
    await assert.rejects(mt.send(name, 'b', 'k', rand(10)), (e: Error) => e instanceof PeerError && e.peer === 'b');
    await waitFor(() => logB.some((e) => e.type === 'refused' && reason.test(e.reason)), 'the refusal on b');
    assert.ok(!logB.some((e) => e.type === 'link-up'));
    assert.equal(b.stats()['b'], undefined);
  } finally {
    await mt.close();
    await b.close();
  }
}

test('tls: what crosses the wire is ciphertext only (no payload, no rendezvous key, no round id in clear)', async () => {
  const { px, a, b, close } = await proxied();
  try {
    assert.equal(a.links, 'tls');
    const secret = Buffer.from('gradient of data-owner-0, round 7: 0123456789abcdefghijklmnopqrstuvwxyz'.repeat(40));
    await a.send('a', 'b', 'secret-rendezvous-key/42', new Uint8Array(secret));
    assert.deepEqual(await b.receive('b', 'a', 'secret-rendezvous-key/42', { timeoutMs: HANG_GUARD_MS }), new Uint8Array(secret));
    assert.ok(Buffer.concat(px.up).length > secret.length);
    // up: a -> b (the payload); down: b's side of the same link (TLS handshake, Ready)
    for (const wire of [Buffer.concat(px.up), Buffer.concat(px.down)]) {
      for (let i = 0; i + 12 <= secret.length; i += 7) assert.equal(wire.indexOf(secret.subarray(i, i + 12)), -1);
      assert.equal(wire.indexOf(Buffer.from('rendezvous')), -1);
      assert.equal(wire.indexOf(Buffer.from('PlayerLink')), -1); // even the gRPC method path is inside TLS
    }
    // a TLS 1.3 handshake (record type 22, then version 0x0303 records), not plaintext HTTP/2
    assert.equal(px.up[0]![0], 22);
    assert.equal(Buffer.concat(px.up).indexOf(Buffer.from('PRI * HTTP/2.0')), -1);
  } finally {
    await close();
  }
});

test('tls: a flipped bit on the wire breaks the link (logged, receives fail naming the peer), never delivers altered data; the next send reconnects', async () => {
  const ctx = await proxied();
  const { a, b, logA, logB, close } = ctx;
  try {
    const t = await tamperOnce(ctx, 200, (buf) => {
      const c = Buffer.from(buf);
      c[c.length - 100]! ^= 0x04; // inside an application-data record
      return c;
    });
    const pending = b.receive('b', 'a', 'x', { timeoutMs: HANG_GUARD_MS });
    await a.send('a', 'b', 'x', rand(100_000)).catch(() => {}); // may fail if a learns of the broken link while sending
    await assert.rejects(pending, (e: Error) => e instanceof PeerError && e.peer === 'a' && /link from 'a' closed/.test(e.message));
    await waitFor(() => logB.some((e) => e.type === 'link-down' && e.peer === 'a'), 'the link-down on b');
    assert.equal(b.stats()['b']?.messagesReceived ?? 0, 1); // only the warm-up
    assert.ok(t.fired());
    // a learns the link is gone; its next send opens a new one
    await waitFor(() => logA.some((e) => e.type === 'link-down' && e.peer === 'b'), 'the link-down on a');
    const y = rand(1000);
    await a.send('a', 'b', 'y', y);
    assert.deepEqual(await b.receive('b', 'a', 'y', { timeoutMs: HANG_GUARD_MS }), y);
  } finally {
    await close();
  }
});

test('tls: a replayed TLS record breaks the link; the message is not delivered twice', async () => {
  const ctx = await proxied();
  const { a, b, logB, close } = ctx;
  try {
    await tamperOnce(ctx, 100, (buf) => Buffer.concat([buf, buf])); // the same records again
    const p = rand(50_000);
    await a.send('a', 'b', 'x', p);
    await waitFor(() => logB.some((e) => e.type === 'link-down' && e.peer === 'a'), 'the link-down on b');
    // the link is down: nothing more arrives from it
    const delivered = b.pending();
    assert.ok(delivered <= 1);
    if (delivered === 1) assert.deepEqual(await b.receive('b', 'a', 'x', { timeoutMs: 1 }), p); // delivered once if the replay came after its last record
    assert.equal(b.stats()['b']?.messagesReceived ?? 0, 1 + delivered);
    await assert.rejects(b.receive('b', 'a', 'x', { timeoutMs: 1 }), PeerError); // never a second time
  } finally {
    await close();
  }
});

test('tls: a client whose certificate is not pinned is refused by the TLS handshake, and the refusal is logged', async () => {
  const d = await deployment(['a', 'b'], 'tls');
  // mallory's own config pins b's real certificate and her own; b's config does not know her.
  const m = generateTlsIdentity('mallory');
  const [mPort] = await freePorts(1);
  const cfg = parseConfig(JSON.stringify({ version: 1, links: 'tls', players: {
    b: { address: d.config.players[1]!.address, role: 'compute-server', certificate: Buffer.from(d.config.players[1]!.certificate!).toString('base64') },
    mallory: { address: `127.0.0.1:${mPort}`, role: 'data-owner', certificate: Buffer.from(m.certificate.der).toString('base64') },
  } }));
  await assertIntruderRefused(d, 'mallory', cfg, m, /TLS handshake failed: the client's certificate is not pinned in the config/);
});

test("tls: a client claiming a configured name with another key (a certificate for 'a' it made itself) is refused", async () => {
  const d = await deployment(['a', 'b'], 'tls');
  const fake = generateTlsIdentity('a');
  const cfg = parseConfig(editConfig(d.configText, 'a', (e) => (e['certificate'] = Buffer.from(fake.certificate.der).toString('base64'))));
  await assertIntruderRefused(d, 'a', cfg, fake, /TLS handshake failed: the client's certificate is not pinned in the config/);
});

test('tls: a server that does not present the pinned certificate gets nothing; the error names the player', async () => {
  const d = await deployment(['a', 'b'], 'tls');
  // an impostor serves at b's address with a certificate for 'b' of its own key
  const fake = generateTlsIdentity('b');
  const impostorCfg = parseConfig(editConfig(d.configText, 'b', (e) => (e['certificate'] = Buffer.from(fake.certificate.der).toString('base64'))));
  const logI: TransportEvent[] = [];
  const impostor = transport({ config: impostorCfg }, { name: 'b', tls: fake }, logI);
  await impostor.start();
  const logA: TransportEvent[] = [];
  const a = transport(d, d.parties.get('a')!, logA, { connectTimeoutMs: 1500 });
  await a.start();
  try {
    await assert.rejects(a.send('a', 'b', 'k', rand(10)), (e: Error) => e instanceof PeerError && e.peer === 'b' && /not reachable within 1500 ms/.test(e.message));
    assert.ok(!logI.some((e) => e.type === 'link-up'), JSON.stringify(logI));
    assert.equal(impostor.stats()['b'], undefined);
  } finally {
    await a.close();
    await impostor.close();
  }
});

test("tls: the links modes do not mix: a 'noise' player cannot reach a 'tls' player, nor the reverse", async () => {
  const d = await deployment(['a', 'b'], 'tls');
  const noiseCfg = parseConfig(JSON.stringify({ ...JSON.parse(d.configText), links: 'noise' }));
  const logB: TransportEvent[] = [];
  const b = transport(d, d.parties.get('b')!, logB);
  await b.start();
  const a = transport({ config: noiseCfg }, d.parties.get('a')!, [], { connectTimeoutMs: 1000 });
  await a.start();
  try {
    await assert.rejects(a.send('a', 'b', 'k', rand(10)), (e: Error) => e instanceof PeerError && e.peer === 'b');
    assert.ok(!logB.some((e) => e.type === 'link-up'));
  } finally {
    await a.close();
    await b.close();
  }
  // and a noise server sent TLS-mode frames over plaintext gRPC refuses them
  const dn = await deployment(['a', 'b'], 'noise');
  const logN: TransportEvent[] = [];
  const bn = transport(dn, dn.parties.get('b')!, logN);
  await bn.start();
  const grpc = await import('@grpc/grpc-js');
  const { linkService } = await import('../../src/transport/grpc-schema.js');
  const Ctor = grpc.makeGenericClientConstructor(linkService(), 'PlayerLink');
  const client = new Ctor(dn.config.players[1]!.address, grpc.credentials.createInsecure());
  try {
    const call = (client as unknown as { Link(): import('@grpc/grpc-js').ClientDuplexStream<LinkFrame, LinkFrame> }).Link();
    const frames: LinkFrame[] = [];
    call.on('data', (f: LinkFrame) => frames.push(f));
    call.on('error', () => {});
    call.write({ open: { schema_version: 1, context: new Uint8Array(32) } });
    call.write({ chunk: { frame: rand(64), round: 0 } });
    await new Promise((r) => call.once('end', r));
    assert.equal(frames[0]?.body, 'refusal');
    assert.match(frames[0]!.refusal!.reason!, /expected a hello, got 'open'/);
    assert.equal(bn.stats()['b'], undefined);
  } finally {
    client.close();
    await bn.close();
  }
});

test("tls: a 'tls' player needs its TLS identity, matching the config; the config must pin every certificate", async () => {
  const d = await deployment(['a', 'b'], 'tls');
  const a = d.parties.get('a')!;
  const mk = (local: GrpcTransportOptions['local'], config = d.config) => () => new GrpcTransport({ config, local, logger: () => {} });
  assert.throws(mk({ name: 'a', identity: a.identity! }), (e: Error) => e instanceof RangeError && /"local\[0\]\.tls"/.test(e.message));
  assert.throws(mk({ name: 'a', tls: generateTlsIdentity('a') }), (e: Error) => e instanceof RangeError && /"local\[0\]\.tls" does not hold the certificate pinned for "a"/.test(e.message));
  const other = generateTlsIdentity('a');
  assert.throws(mk({ name: 'a', tls: { ...a.tls!, privateKey: other.privateKey } }), (e: Error) => e instanceof RangeError && /"local\[0\]\.tls\.privateKey"/.test(e.message));
  assert.doesNotThrow(mk({ name: 'a', tls: a.tls! }));
  const noCert = parseConfig(editConfig(d.configText, 'b', (e) => delete e['certificate']));
  assert.throws(mk({ name: 'a', tls: a.tls! }, noCert), (e: Error) => /players\.b\.certificate: missing/.test(e.message));
  void generateIdentity;
});

test('tls: a dialer insists on TLS 1.3: a server (even with the pinned certificate) that offers only TLS 1.2 gets no link', async () => {
  const d = await deployment(['a', 'b'], 'tls');
  const { createSecureServer } = await import('node:http2');
  const { exportTlsPrivateKeyPem } = await import('../../src/crypto/tls-identity.js');
  const bId = d.parties.get('b')!.tls!;
  const tlsErrors: string[] = [];
  const old = createSecureServer({ key: exportTlsPrivateKeyPem(bId), cert: bId.certificate.pem, ca: d.parties.get('a')!.tls!.certificate.pem, requestCert: true, maxVersion: 'TLSv1.2' });
  old.on('tlsClientError', (e: Error) => tlsErrors.push(e.message));
  old.on('stream', (st) => st.respond({ ':status': 200 }));
  await new Promise<void>((r) => old.listen(d.config.players[1]!.port, '127.0.0.1', r));
  const a = transport(d, d.parties.get('a')!, [], { connectTimeoutMs: 1000 });
  await a.start();
  try {
    await assert.rejects(a.send('a', 'b', 'k', rand(10)), (e: Error) => e instanceof PeerError && e.peer === 'b');
    assert.ok(tlsErrors.some((m) => /unsupported protocol/i.test(m)), JSON.stringify(tlsErrors));
  } finally {
    await a.close();
    await new Promise((r) => old.close(r));
  }
});
