/**
 * The second process of bench/transport.bench.ts (and of the two-process
 * transport test): a receiving player that acknowledges every message.
 *
 *   node --import tsx test/transport/peer-process.ts grpc   (env FEDCRYPT_PEER: JSON { config, name, privateKey (base64), tlsKey (base64 PKCS#8), count, runId })
 *   node --import tsx test/transport/peer-process.ts tcp    (env FEDCRYPT_PEER: JSON { count }); prints the port
 *   node --import tsx test/transport/peer-process.ts rawgrpc (env as tcp): grpc-js alone, for the bench; prints the port
 *
 * grpc: for i in 0..count-1: receive 'x/i' from 'a', send 'y/i' to 'a' (1 byte, or the SHA-256 of the payload).
 * tcp: length-prefixed messages (u32 BE), answers each with 1 byte.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { identityFromPrivateKey } from '../../src/crypto/identity.js';
import { importTlsPrivateKey } from '../../src/crypto/tls-identity.js';
import { certificatePem } from '../../src/crypto/x509.js';
import { parseConfig } from '../../src/transport/config.js';
import { GrpcTransport, primeAllocator } from '../../src/transport/grpc.js';

const mode = process.argv[2];

/** A bytes-in/bytes-out bidi service for the grpc-js-only baseline. */
const RAW_SERVICE = (ident: (b: Buffer) => Buffer) => ({
  Link: {
    path: '/fedcrypt.bench.Raw/Link',
    requestStream: true,
    responseStream: true,
    requestSerialize: ident,
    requestDeserialize: ident,
    responseSerialize: ident,
    responseDeserialize: ident,
  },
});
const args = JSON.parse(process.env['FEDCRYPT_PEER'] ?? '{}') as { config?: string; name?: string; privateKey?: string; tlsKey?: string; count: number; warmup?: number; runId?: string; digest?: boolean; tune?: boolean };
// The baselines get the same allocator tuning as GrpcTransport (unless tune: false).
if (args.tune !== false && mode !== 'grpc') primeAllocator();

if (mode === 'grpc') {
  const config = parseConfig(args.config!);
  const identity = identityFromPrivateKey(new Uint8Array(Buffer.from(args.privateKey!, 'base64')));
  const cert = config.players.find((p) => p.name === args.name)?.certificate;
  const tls = args.tlsKey && cert ? { name: args.name!, privateKey: importTlsPrivateKey(new Uint8Array(Buffer.from(args.tlsKey, 'base64'))), certificate: { der: cert, pem: certificatePem(cert) } } : undefined;
  const t = new GrpcTransport({ config, local: { name: args.name!, identity, ...(tls ? { tls } : {}) }, runId: args.runId ?? 'fedcrypt', receiveTimeoutMs: 60_000, tuneAllocator: args.tune !== false });
  let stopping = false;
  const stop = () => {
    stopping = true;
    void t.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  await t.start();
  // GC after the warm-up, reported with the figures (what the receiver's CPU goes to)
  const gc = { count: 0, major: 0, ms: 0 };
  let counting = false;
  new PerformanceObserver((list) => {
    if (!counting) return;
    for (const e of list.getEntries()) {
      gc.count++;
      gc.ms += e.duration;
      if ((e.detail as { kind?: number } | undefined)?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.major++;
    }
  }).observe({ entryTypes: ['gc'] });
  process.stdout.write('ready\n');
  let cpu = process.cpuUsage();
  let faults = process.resourceUsage().minorPageFault;
  for (let i = 0; i < args.count; i++) {
    if (i === (args.warmup ?? 0)) {
      counting = true;
      cpu = process.cpuUsage();
      faults = process.resourceUsage().minorPageFault;
    }
    let p: Uint8Array;
    try {
      p = await t.receive(args.name!, 'a', `x/${i}`);
    } catch (e) {
      if (stopping) await new Promise(() => {}); // SIGTERM: close() is ending the process
      throw e;
    }
    const reply = args.digest ? new Uint8Array(createHash('sha256').update(p).digest()) : Uint8Array.of(1);
    await t.send(args.name!, 'a', `y/${i}`, reply);
  }
  const used = process.cpuUsage(cpu);
  // close() ends the link to 'a' once 'a' has the last ack
  process.stdout.write(`${JSON.stringify({ ...t.stats(), cpuMsPerMessage: (used.user + used.system) / 1000 / Math.max(1, args.count - (args.warmup ?? 0)), pageFaultsPerMessage: (process.resourceUsage().minorPageFault - faults) / Math.max(1, args.count - (args.warmup ?? 0)), gc })}\n`);
  await t.close();
} else if (mode === 'tcp') {
  const server = createServer((sock) => {
    sock.setNoDelay(true);
    // A lean receiver: one buffer per message, data copied into it once.
    const head = Buffer.alloc(4);
    let headGot = 0;
    let msg: Uint8Array | undefined;
    let got = 0;
    let count = 0;
    let cpu = process.cpuUsage();
  let faults = process.resourceUsage().minorPageFault;
    sock.on('data', (d: Buffer) => {
      let at = 0;
      while (at < d.length) {
        if (msg === undefined) {
          const n = Math.min(4 - headGot, d.length - at);
          d.copy(head, headGot, at, at + n);
          headGot += n;
          at += n;
          if (headGot === 4) {
            msg = Buffer.allocUnsafeSlow(head.readUInt32BE(0)); // as the gRPC transport does
            got = 0;
            headGot = 0;
          }
          continue;
        }
        const n = Math.min(msg.length - got, d.length - at);
        msg.set(d.subarray(at, at + n), got);
        got += n;
        at += n;
        if (got === msg.length) {
          msg = undefined;
          if (++count === (args.warmup ?? 0)) {
            cpu = process.cpuUsage();
            faults = process.resourceUsage().minorPageFault;
          }
          sock.write(Uint8Array.of(1));
          if (count === args.count) {
            const used = process.cpuUsage(cpu);
            process.stdout.write(`${JSON.stringify({ cpuMsPerMessage: (used.user + used.system) / 1000 / Math.max(1, args.count - (args.warmup ?? 0)), pageFaultsPerMessage: (process.resourceUsage().minorPageFault - faults) / Math.max(1, args.count - (args.warmup ?? 0)) })}\n`);
          }
        }
      }
    });
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${(server.address() as { port: number }).port}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
} else if (mode === 'rawgrpc') {
  // grpc-js alone (no handshake, no AEAD, no protobuf): a bidi stream of raw
  // byte messages, each a chunk of one payload prefixed by its total length.
  const grpc = await import('@grpc/grpc-js');
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 << 20 });
  // The same 16 MiB HTTP/2 windows as GrpcTransport's servers (see widenServerWindow there).
  const WINDOW = 16 << 20;
  const hooks = server as unknown as { commonServerOptions?: { settings?: Record<string, unknown> }; http2Servers?: Map<{ on(ev: 'session', f: (s: { setLocalWindowSize?(n: number): void }) => void): void }, unknown> };
  if (hooks.commonServerOptions) hooks.commonServerOptions.settings = { ...(hooks.commonServerOptions.settings ?? {}), initialWindowSize: WINDOW };
  const ident = (b: Buffer) => b;
  server.addService(RAW_SERVICE(ident), {
    Link: (call: import('@grpc/grpc-js').ServerDuplexStream<Buffer, Buffer>) => {
      let msg: Uint8Array | undefined;
      let got = 0;
      let count = 0;
      let cpu = process.cpuUsage();
  let faults = process.resourceUsage().minorPageFault;
      call.on('data', (d: Buffer) => {
        if (msg === undefined) {
          // a 4-byte message with the total length, then the chunks
          msg = Buffer.allocUnsafeSlow(d.readUInt32BE(0)); // as the gRPC transport does
          got = 0;
          return;
        }
        msg.set(d, got);
        got += d.length;
        if (got === msg.length) {
          msg = undefined;
          if (++count === (args.warmup ?? 0)) {
            cpu = process.cpuUsage();
            faults = process.resourceUsage().minorPageFault;
          }
          call.write(Buffer.from([1]));
          if (count === args.count) {
            const used = process.cpuUsage(cpu);
            process.stdout.write(`${JSON.stringify({ cpuMsPerMessage: (used.user + used.system) / 1000 / Math.max(1, args.count - (args.warmup ?? 0)), pageFaultsPerMessage: (process.resourceUsage().minorPageFault - faults) / Math.max(1, args.count - (args.warmup ?? 0)) })}\n`);
          }
        }
      });
      call.on('end', () => call.end());
      call.on('error', () => {});
    },
  });
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) throw err;
    if (hooks.http2Servers instanceof Map) for (const h of hooks.http2Servers.keys()) h.on('session', (sess) => sess.setLocalWindowSize?.(WINDOW));
    process.stdout.write(`${port}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
} else {
  console.error('usage: peer-process.ts grpc|tcp|rawgrpc');
  process.exit(2);
}
