/**
 * Moving a 4 MB tensor between two player processes on loopback:
 * GrpcTransport (authenticated handshake, AES-256-GCM per chunk, protobuf,
 * HTTP/2) against a raw TCP socket between two Node processes (baseline),
 * in the same run. Each sample: send 4 MB, wait for the receiver's 1-byte
 * acknowledgement; throughput = 4 MB / time. Reports medians and the ratio.
 *
 *   node --import tsx bench/transport.bench.ts   -> bench/results/transport.json
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { exportPrivateKey } from '../src/crypto/identity.js';
import { GrpcTransport } from '../src/transport/grpc.js';
import { deployment } from '../test/transport/helpers.js';

const root = new URL('..', import.meta.url).pathname;
const SIZE = 4 * 1024 * 1024;
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 3);
const SAMPLES = Number(process.env['BENCH_SAMPLES'] ?? 15);
const COUNT = WARMUP + SAMPLES;
const CHUNK = process.env['BENCH_CHUNK'] ? Number(process.env['BENCH_CHUNK']) : undefined;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mbps = (ms: number) => SIZE / 1e6 / (ms / 1e3);

function peer(mode: string, env: object): { child: ChildProcess; firstLine: Promise<string> } {
  const child = spawn(process.execPath, [...(process.env['BENCH_CHILD_ARGS'] ?? '').split(' ').filter(Boolean), '--import', 'tsx', join(root, 'test/transport/peer-process.ts'), mode], {
    cwd: root,
    env: { ...process.env, FEDCRYPT_PEER: JSON.stringify(env) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const rl = createInterface({ input: child.stdout! });
  const firstLine = new Promise<string>((resolve, reject) => {
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`peer exited with ${code}`)));
  });
  return { child, firstLine };
}

let senderCpuMs = 0;
let tcpSenderCpuMs = 0;

async function benchTcp(payload: Uint8Array): Promise<number[]> {
  const { child, firstLine } = peer('tcp', { count: COUNT });
  const port = Number(await firstLine);
  const sock = connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  await new Promise((r) => sock.once('connect', r));
  let ack: (() => void) | undefined;
  sock.on('data', () => ack?.());
  const times: number[] = [];
  let cpu = process.cpuUsage();
  for (let i = 0; i < COUNT; i++) {
    if (i === WARMUP) cpu = process.cpuUsage();
    const t0 = performance.now();
    const done = new Promise<void>((r) => (ack = r));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(payload.length);
    sock.write(len);
    sock.write(payload);
    await done;
    if (i >= WARMUP) times.push(performance.now() - t0);
  }
  const u = process.cpuUsage(cpu);
  tcpSenderCpuMs = (u.user + u.system) / 1000 / SAMPLES;
  sock.destroy();
  child.kill('SIGTERM');
  return times;
}

async function benchGrpc(payload: Uint8Array): Promise<number[]> {
  const d = await deployment(['a', 'b']);
  const b = d.parties.get('b')!;
  const { child, firstLine } = peer('grpc', {
    config: d.configText, name: 'b', privateKey: Buffer.from(exportPrivateKey(b.identity.privateKey)).toString('base64'), count: COUNT, runId: 'bench',
  });
  const t = new GrpcTransport({ config: d.config, local: d.parties.get('a')!, runId: 'bench', receiveTimeoutMs: 60_000, ...(CHUNK ? { chunkBytes: CHUNK } : {}) });
  await t.start();
  await firstLine;
  const times: number[] = [];
  let cpu = process.cpuUsage();
  for (let i = 0; i < COUNT; i++) {
    if (i === WARMUP) cpu = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all([t.send('a', 'b', `x/${i}`, payload), t.receive('a', 'b', `y/${i}`)]);
    if (i >= WARMUP) times.push(performance.now() - t0);
  }
  const u = process.cpuUsage(cpu);
  senderCpuMs = (u.user + u.system) / 1000 / SAMPLES;
  await new Promise((r) => child.once('exit', r));
  await t.close();
  return times;
}

const payload = new Uint8Array(SIZE);
for (let i = 0; i < SIZE; i++) payload[i] = (i * 2654435761) >>> 24;
const tcp = await benchTcp(payload);
const grpcTimes = await benchGrpc(payload);
const tcpMs = median(tcp);
const grpcMs = median(grpcTimes);
const result = {
  bench: 'transport',
  what: 'one 4 MiB message between two Node processes on loopback, until a 1-byte ack returns',
  size_bytes: SIZE,
  samples: SAMPLES,
  warmup: WARMUP,
  chunk_bytes: CHUNK ?? 1024 * 1024,
  baseline_tcp: { median_ms: tcpMs, median_MBps: mbps(tcpMs), sender_cpu_ms_per_message: tcpSenderCpuMs },
  grpc: { median_ms: grpcMs, median_MBps: mbps(grpcMs), suite: 'aes-256-gcm', sender_cpu_ms_per_message: senderCpuMs },
  load_average: loadavg(),
  ratio_grpc_over_tcp_throughput: mbps(grpcMs) / mbps(tcpMs),
  target_MBps: 300,
  meets_target: mbps(grpcMs) >= 300,
  node: process.version,
  date: new Date().toISOString(),
};
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/transport.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(`raw TCP : ${tcpMs.toFixed(2)} ms median, ${mbps(tcpMs).toFixed(0)} MB/s (sender cpu ${tcpSenderCpuMs.toFixed(1)} ms/msg)`);
console.log(`gRPC sender cpu ${senderCpuMs.toFixed(1)} ms/msg; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log(`gRPC    : ${grpcMs.toFixed(2)} ms median, ${mbps(grpcMs).toFixed(0)} MB/s  (ratio ${(result.ratio_grpc_over_tcp_throughput).toFixed(2)}, target >= 300 MB/s: ${result.meets_target ? 'met' : 'NOT met'})`);
