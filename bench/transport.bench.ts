/**
 * Moving a 4 MiB tensor between two player processes on loopback:
 * GrpcTransport with 'tls' links (mutual TLS 1.3 with pinned certificates,
 * protobuf, HTTP/2: what the README's deployment uses; the target applies to
 * it) and with 'noise' links (pinned-key handshake, AES-256-GCM per chunk),
 * against a raw TCP socket between two Node processes (baseline: a lean
 * length-prefixed receiver, one buffer per message) and grpc-js alone
 * (plaintext, no framework), in the same run.
 * One sample: send 4 MiB, wait for the receiver's 1-byte acknowledgement;
 * throughput = 4 MiB / time. The two are measured in alternating rounds
 * (the machine is shared; alternating spreads load changes over both), and
 * the report gives medians over all samples, CPU per message on each side,
 * and the ratio.
 *
 *   node --import tsx bench/transport.bench.ts   -> bench/results/transport.json
 *   env: BENCH_ROUNDS (3), BENCH_SAMPLES per round (8), BENCH_WARMUP (16), BENCH_CHUNK (transport default), BENCH_SIZE (bytes, 4 MiB),
 *        BENCH_TUNE=0 (no allocator priming anywhere), BENCH_ONLY=grpc (GrpcTransport alone, for profiling; no JSON),
 *        BENCH_LINKS (with BENCH_ONLY: tls or noise; default tls)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { GrpcTransport, primeAllocator } from '../src/transport/grpc.js';
import type { LinkMode } from '../src/transport/config.js';
import { deployment, peerSecrets } from '../test/transport/helpers.js';

const root = new URL('..', import.meta.url).pathname;
const SIZE = Number(process.env['BENCH_SIZE'] ?? 4 * 1024 * 1024);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
/**
 * Messages not measured at the start of each round. A fresh process grows its
 * malloc heap page by page until V8's external-memory GC starts returning
 * buffers (~64 MiB of garbage): on this VM every fresh page costs a fault of
 * ~15-20 us, so the first ~16 messages of 4 MiB measure heap growth, not the
 * steady state of a long-running player. Same warm-up for all three.
 */
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 16);
const SAMPLES = Number(process.env['BENCH_SAMPLES'] ?? 8);
const COUNT = WARMUP + SAMPLES;
const CHUNK = process.env['BENCH_CHUNK'] ? Number(process.env['BENCH_CHUNK']) : undefined;
/** BENCH_TUNE=0: no allocator priming anywhere (GrpcTransport's tuneAllocator: false, baselines unprimed). */
const TUNE = process.env['BENCH_TUNE'] !== '0';
if (TUNE) primeAllocator();

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mbps = (ms: number) => SIZE / 1e6 / (ms / 1e3);

function peer(mode: string, env: object): { child: ChildProcess; line: () => Promise<string> } {
  const child = spawn(process.execPath, [...(process.env['BENCH_CHILD_ARGS'] ?? '').split(' ').filter(Boolean), '--import', 'tsx', join(root, 'test/transport/peer-process.ts'), mode], {
    cwd: root,
    env: { ...process.env, FEDCRYPT_PEER: JSON.stringify({ ...env, count: COUNT, warmup: WARMUP, tune: TUNE }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const it = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const line = async () => {
    const r = await it.next();
    if (r.done) throw new Error(`${mode} peer ended early`);
    return String(r.value);
  };
  return { child, line };
}

interface Run {
  times: number[];
  senderCpuMs: number;
  receiverCpuMs: number;
  senderFaults: number;
  receiverFaults: number;
  /** GrpcTransport's receiver: garbage collections after the warm-up (count, of them major, total ms). */
  receiverGc?: { count: number; major: number; ms: number };
}

async function benchTcp(payload: Uint8Array): Promise<Run> {
  const { child, line } = peer('tcp', {});
  const port = Number(await line());
  const sock = connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  await new Promise((r) => sock.once('connect', r));
  let ack: (() => void) | undefined;
  sock.on('data', () => ack?.());
  const times: number[] = [];
  let cpu = process.cpuUsage();
  let faults = process.resourceUsage().minorPageFault;
  for (let i = 0; i < COUNT; i++) {
    if (i === WARMUP) {
      cpu = process.cpuUsage();
      faults = process.resourceUsage().minorPageFault;
    }
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
  const senderFaults = (process.resourceUsage().minorPageFault - faults) / SAMPLES;
  const receiver = JSON.parse(await line()) as { cpuMsPerMessage: number; pageFaultsPerMessage: number };
  sock.destroy();
  child.kill('SIGTERM');
  return { times, senderCpuMs: (u.user + u.system) / 1000 / SAMPLES, receiverCpuMs: receiver.cpuMsPerMessage, senderFaults, receiverFaults: receiver.pageFaultsPerMessage };
}

/**
 * grpc-js alone, with the best options found: bidi stream of raw byte chunks
 * (identity serializers, no handshake, AEAD or protobuf), same chunk size,
 * 16 MiB HTTP/2 windows on both ends (as GrpcTransport), allocator primed.
 */
async function benchRawGrpc(payload: Uint8Array): Promise<Run> {
  const grpc = await import('@grpc/grpc-js');
  const ident = (b: Buffer) => b;
  const service = { Link: { path: '/fedcrypt.bench.Raw/Link', requestStream: true, responseStream: true, requestSerialize: ident, requestDeserialize: ident, responseSerialize: ident, responseDeserialize: ident } };
  const { child, line } = peer('rawgrpc', {});
  const port = Number(await line());
  const Ctor = grpc.makeGenericClientConstructor(service, 'Raw');
  const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 << 20, 'grpc-node.flow_control_window': 16 << 20 });
  const call = (client as unknown as { Link(): import('@grpc/grpc-js').ClientDuplexStream<Buffer, Buffer> }).Link();
  let ack: (() => void) | undefined;
  call.on('data', () => ack?.());
  call.on('error', () => {});
  const chunk = CHUNK ?? 1024 * 1024; // GrpcTransport's default chunk
  const times: number[] = [];
  let cpu = process.cpuUsage();
  let faults = process.resourceUsage().minorPageFault;
  for (let i = 0; i < COUNT; i++) {
    if (i === WARMUP) {
      cpu = process.cpuUsage();
      faults = process.resourceUsage().minorPageFault;
    }
    const t0 = performance.now();
    const done = new Promise<void>((r) => (ack = r));
    // A 4-byte message with the total length, then the payload's chunks as
    // they are (views: grpc-js's own framing copy is the only one).
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(payload.length, 0);
    call.write(len);
    for (let off = 0; off < payload.length; off += chunk) {
      const part = payload.subarray(off, off + chunk);
      if (!call.write(Buffer.from(part.buffer, part.byteOffset, part.length))) await new Promise((r) => call.once('drain', r));
    }
    await done;
    if (i >= WARMUP) times.push(performance.now() - t0);
  }
  const u = process.cpuUsage(cpu);
  const senderFaults = (process.resourceUsage().minorPageFault - faults) / SAMPLES;
  const receiver = JSON.parse(await line()) as { cpuMsPerMessage: number; pageFaultsPerMessage: number };
  call.end();
  client.close();
  child.kill('SIGTERM');
  return { times, senderCpuMs: (u.user + u.system) / 1000 / SAMPLES, receiverCpuMs: receiver.cpuMsPerMessage, senderFaults, receiverFaults: receiver.pageFaultsPerMessage };
}

async function benchGrpc(payload: Uint8Array, links: LinkMode): Promise<Run> {
  const d = await deployment(['a', 'b'], links);
  const { child, line } = peer('grpc', { config: d.configText, name: 'b', ...peerSecrets(d, 'b'), runId: 'bench' });
  const t = new GrpcTransport({ config: d.config, local: d.parties.get('a')!, runId: 'bench', receiveTimeoutMs: 60_000, tuneAllocator: TUNE, ...(CHUNK ? { chunkBytes: CHUNK } : {}) });
  await t.start();
  if ((await line()) !== 'ready') throw new Error('grpc peer did not start');
  const times: number[] = [];
  let cpu = process.cpuUsage();
  let faults = process.resourceUsage().minorPageFault;
  for (let i = 0; i < COUNT; i++) {
    if (i === WARMUP) {
      cpu = process.cpuUsage();
      faults = process.resourceUsage().minorPageFault;
    }
    const t0 = performance.now();
    await Promise.all([t.send('a', 'b', `x/${i}`, payload), t.receive('a', 'b', `y/${i}`)]);
    if (i >= WARMUP) times.push(performance.now() - t0);
  }
  const u = process.cpuUsage(cpu);
  const senderFaults = (process.resourceUsage().minorPageFault - faults) / SAMPLES;
  const receiver = JSON.parse(await line()) as { cpuMsPerMessage: number; pageFaultsPerMessage: number; gc: Run['receiverGc'] };
  await new Promise((r) => child.once('exit', r));
  await t.close();
  return { times, senderCpuMs: (u.user + u.system) / 1000 / SAMPLES, receiverCpuMs: receiver.cpuMsPerMessage, senderFaults, receiverFaults: receiver.pageFaultsPerMessage, ...(receiver.gc ? { receiverGc: receiver.gc } : {}) };
}

const payload = new Uint8Array(SIZE);
for (let i = 0; i < SIZE; i++) payload[i] = (i * 2654435761) >>> 24;
const tcpRuns: Run[] = [];
const rawRuns: Run[] = [];
const grpcRuns: Run[] = [];
const noiseRuns: Run[] = [];
const load0 = loadavg();
// BENCH_ONLY=grpc: GrpcTransport alone (for profiling; no baseline, no JSON written).
const ONLY = process.env['BENCH_ONLY'];
if (ONLY === 'grpc') {
  for (let r = 0; r < ROUNDS; r++) {
    const g = await benchGrpc(payload, (process.env['BENCH_LINKS'] ?? 'tls') as LinkMode);
    console.log(`GrpcTransport ${median(g.times).toFixed(1)} ms = ${mbps(median(g.times)).toFixed(0)} MB/s; cpu sender ${g.senderCpuMs.toFixed(1)} ms, receiver ${g.receiverCpuMs.toFixed(1)} ms; faults ${g.senderFaults.toFixed(0)} / ${g.receiverFaults.toFixed(0)}; receiver GC ${JSON.stringify(g.receiverGc)}`);
  }
  process.exit(0);
}
for (let r = 0; r < ROUNDS; r++) {
  tcpRuns.push(await benchTcp(payload));
  rawRuns.push(await benchRawGrpc(payload));
  grpcRuns.push(await benchGrpc(payload, 'tls'));
  noiseRuns.push(await benchGrpc(payload, 'noise'));
  const [a, c, b, n] = [tcpRuns[r]!, rawRuns[r]!, grpcRuns[r]!, noiseRuns[r]!];
  console.log(
    `round ${r + 1}: tcp ${median(a.times).toFixed(1)} ms, grpc-js alone ${median(c.times).toFixed(1)} ms, GrpcTransport tls ${median(b.times).toFixed(1)} ms, noise ${median(n.times).toFixed(1)} ms` +
      ` (tls/TCP ${(median(a.times) / median(b.times)).toFixed(2)}, tls/grpc-js ${(median(c.times) / median(b.times)).toFixed(2)})`,
  );
}
const summarize = (runs: Run[]) => {
  const ms = median(runs.flatMap((x) => x.times));
  return {
    median_ms: ms,
    median_MBps: mbps(ms),
    best_round_MBps: Math.max(...runs.map((x) => mbps(median(x.times)))),
    sender_cpu_ms_per_message: median(runs.map((x) => x.senderCpuMs)),
    receiver_cpu_ms_per_message: median(runs.map((x) => x.receiverCpuMs)),
    sender_page_faults_per_message: median(runs.map((x) => x.senderFaults)),
    receiver_page_faults_per_message: median(runs.map((x) => x.receiverFaults)),
  };
};
const tcp = summarize(tcpRuns);
const raw = summarize(rawRuns);
const grpcR = summarize(grpcRuns);
const noiseR = summarize(noiseRuns);
const result = {
  bench: 'transport',
  what: `one ${SIZE === 4 * 1024 * 1024 ? '4 MiB' : `${SIZE}-byte`} message between two Node processes on loopback, until a 1-byte ack returns (MB = 1e6 bytes)`,
  size_bytes: SIZE,
  rounds: ROUNDS,
  samples_per_round: SAMPLES,
  warmup: WARMUP,
  chunk_bytes: CHUNK ?? 'default',
  baseline_tcp: tcp,
  grpc_js_alone: { ...raw, note: 'grpc-js bidi stream of raw chunks: no handshake, AEAD or protobuf (where the framework cost ends)' },
  grpc: { ...grpcR, links: 'tls', note: 'mutual TLS (Node/OpenSSL negotiates TLS 1.3), Ed25519 certificates pinned; the deployment default' },
  grpc_noise: { ...noiseR, links: 'noise', suite: 'aes-256-gcm' },
  per_round: tcpRuns.map((t, r) => {
    const [x, y, z, w] = [mbps(median(t.times)), mbps(median(rawRuns[r]!.times)), mbps(median(grpcRuns[r]!.times)), mbps(median(noiseRuns[r]!.times))];
    return { tcp_MBps: x, grpc_js_alone_MBps: y, grpc_MBps: z, grpc_noise_MBps: w, grpc_over_tcp: z / x, grpc_over_grpc_js_alone: z / y };
  }),
  ratio_grpc_over_tcp_throughput: grpcR.median_MBps / tcp.median_MBps,
  ratio_grpc_over_grpc_js_alone: grpcR.median_MBps / raw.median_MBps,
  target_MBps: 300,
  meets_target: grpcR.median_MBps >= 300,
  load_average_before: load0,
  load_average_after: loadavg(),
  cpus: 2,
  node: process.version,
  date: new Date().toISOString(),
};
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/transport.json'), `${JSON.stringify(result, null, 2)}\n`);
const fmt = (n: string, x: typeof tcp) =>
  `${n}: ${x.median_ms.toFixed(2)} ms median, ${x.median_MBps.toFixed(0)} MB/s (best round ${x.best_round_MBps.toFixed(0)}); cpu per message: sender ${x.sender_cpu_ms_per_message.toFixed(1)} ms, receiver ${x.receiver_cpu_ms_per_message.toFixed(1)} ms; page faults per message: ${x.sender_page_faults_per_message.toFixed(0)} / ${x.receiver_page_faults_per_message.toFixed(0)}`;
console.log(fmt('raw TCP', tcp));
console.log(fmt('grpc-js', raw));
console.log(fmt('gRPC tls  ', grpcR));
console.log(fmt('gRPC noise', noiseR));
console.log(`ratio tls/TCP ${result.ratio_grpc_over_tcp_throughput.toFixed(2)}; target >= 300 MB/s ${result.meets_target ? 'met' : 'NOT met'}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
