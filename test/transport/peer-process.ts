/**
 * The second process of bench/transport.bench.ts (and of the two-process
 * transport test): a receiving player that acknowledges every message.
 *
 *   node --import tsx test/transport/peer-process.ts grpc   (env FEDCRYPT_PEER: JSON { config, name, privateKey (base64), count, runId })
 *   node --import tsx test/transport/peer-process.ts tcp    (env FEDCRYPT_PEER: JSON { count }); prints the port
 *
 * grpc: for i in 0..count-1: receive 'x/i' from 'a', send 'y/i' to 'a' (1 byte, or the SHA-256 of the payload).
 * tcp: length-prefixed messages (u32 BE), answers each with 1 byte.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { identityFromPrivateKey } from '../../src/crypto/identity.js';
import { parseConfig } from '../../src/deploy/config.js';
import { GrpcTransport } from '../../src/transport/grpc.js';

const mode = process.argv[2];
const args = JSON.parse(process.env['FEDCRYPT_PEER'] ?? '{}') as { config?: string; name?: string; privateKey?: string; count: number; runId?: string; digest?: boolean };

if (mode === 'grpc') {
  const config = parseConfig(args.config!);
  const identity = identityFromPrivateKey(new Uint8Array(Buffer.from(args.privateKey!, 'base64')));
  const t = new GrpcTransport({ config, local: { name: args.name!, identity }, runId: args.runId ?? 'fedcrypt', receiveTimeoutMs: 60_000 });
  const stop = () => void t.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  await t.start();
  process.stdout.write('ready\n');
  for (let i = 0; i < args.count; i++) {
    const p = await t.receive(args.name!, 'a', `x/${i}`);
    const reply = args.digest ? new Uint8Array(createHash('sha256').update(p).digest()) : Uint8Array.of(1);
    await t.send(args.name!, 'a', `y/${i}`, reply);
  }
  // Let the last ack leave before closing.
  await new Promise((r) => setTimeout(r, 200));
  process.stdout.write(`${JSON.stringify(t.stats())}\n`);
  await t.close();
} else if (mode === 'tcp') {
  const server = createServer((sock) => {
    sock.setNoDelay(true);
    let need = -1;
    let got = 0;
    let pending: Buffer[] = [];
    let buffered = 0;
    sock.on('data', (d: Buffer) => {
      pending.push(d);
      buffered += d.length;
      for (;;) {
        if (need < 0) {
          if (buffered < 4) return;
          const all = Buffer.concat(pending);
          need = all.readUInt32BE(0);
          pending = [all.subarray(4)];
          buffered = all.length - 4;
          got = 0;
        }
        if (buffered < need) return;
        // Assemble the message (as a receiver must), then acknowledge.
        const all = Buffer.concat(pending);
        const msg = Buffer.from(all.subarray(0, need));
        got += msg.length;
        pending = [all.subarray(need)];
        buffered = all.length - need;
        need = -1;
        sock.write(Uint8Array.of(1));
      }
    });
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${(server.address() as { port: number }).port}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
} else {
  console.error('usage: transport-peer.ts grpc|tcp');
  process.exit(2);
}
