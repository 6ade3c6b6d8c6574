// ABY3 conv2d and maxPool2x2 in process (all three servers in this one process, in-memory transport):
// network_b's first layer, x [128, 28, 28, 1] * w [5, 5, 1, 16] valid -> [128, 24, 24, 16], then
// maxPool2x2 -> [128, 12, 12, 16]; median ms per op at both precisions and bytes sent per server,
// against tfjs' plaintext conv2d and maxPool (wasm backend) in the same run; also the median CPU time of
// maxPool2x2 (all threads, and the event loop's own: bench/cpu-time.ts). Writes bench/results/aby3-conv.json.
//   node --import tsx bench/aby3-conv.bench.ts      (BENCH_REPS=5 by default)
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { ABY3, Player, type Precision } from '../src/encrypted/index.js';
import { initTf, tf } from '../src/learning/tf.js';
import { getRingBackend } from '../src/ring/index.js';
import { MemoryTransport } from '../src/transport/index.js';
import { fmt, median, timed } from './cpu-time.js';

const REPS = Number(process.env['BENCH_REPS'] ?? 5);
const [s0, s1, s2, alice] = ['server0', 'server1', 'server2', 'alice'].map((n) => new Player(n)) as [Player, Player, Player, Player];
const backend = await initTf();
const results: Record<string, unknown> = { ringBackend: getRingBackend(), tfBackend: backend, cpu: cpus()[0]?.model, reps: REPS, node: process.version, loadavg: loadavg() };
const med = (v: number[]) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)]!;
const now = () => Number(process.hrtime.bigint()) / 1e6;

const xs = Float32Array.from({ length: 128 * 28 * 28 }, () => Math.random()); // public bench data
const ws = Float32Array.from({ length: 5 * 5 * 16 }, () => (Math.random() * 2 - 1) * 0.2);
const tx = tf.tensor4d(xs, [128, 28, 28, 1]);
const tw = tf.tensor4d(ws, [5, 5, 1, 16]);
// (not tf.tidy: it walks a returned typed array element by element, seconds for 1.2M values)
const plainConv = () => { const y = tf.conv2d(tx, tw, 1, 'valid'); y.dataSync(); y.dispose(); };
const ty = tf.conv2d(tx, tw, 1, 'valid');
const plainPool = () => { const z = tf.maxPool(ty, 2, 2, 'valid'); z.dataSync(); z.dispose(); };
for (let k = 0; k < 3; k++) { const s = now(); plainConv(); plainPool(); if (process.env["BENCH_DEBUG"]) console.log("tf warm-up", (now() - s).toFixed(1)); }

for (const precision of ['low', 'high'] as Precision[]) {
  const t = new MemoryTransport();
  const p = new ABY3(s0, s1, s2, { precision, transport: t });
  const x = await p.encrypt(alice, xs, { shape: [128, 28, 28, 1] });
  const w = await p.encrypt(alice, ws, { shape: [5, 5, 1, 16] });
  const y = await p.conv2d(x, w); // warm-up
  await p.maxPool2x2(y);
  const sent = async (f: () => Promise<unknown>) => {
    t.resetStats();
    await f();
    return Object.fromEntries(Object.entries(t.stats()).map(([k, v]) => [k, v.bytesSent]));
  };
  const convBytes = await sent(() => p.conv2d(x, w));
  const poolBytes = await sent(() => p.maxPool2x2(y));
  const times = { conv: [] as number[], pool: [] as number[], tfConv: [] as number[], tfPool: [] as number[] };
  const poolCpu: number[] = [];
  const poolLoop: (number | null)[] = [];
  for (let r = 0; r < REPS; r++) {
    let s = now();
    await p.conv2d(x, w);
    times.conv.push(now() - s);
    const t = await timed(() => p.maxPool2x2(y));
    times.pool.push(t.wall);
    poolCpu.push(t.cpu);
    poolLoop.push(t.loop);
    s = now();
    plainConv();
    times.tfConv.push(now() - s);
    s = now();
    plainPool();
    times.tfPool.push(now() - s);
  }
  const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, med(v)])) as Record<keyof typeof times, number>;
  const [pc, pl] = [median(poolCpu)!, median(poolLoop)];
  results[precision] = { conv2dMs: m.conv, maxPool2x2Ms: m.pool, maxPool2x2CpuMs: pc, maxPool2x2EventLoopCpuMs: pl, tfConv2dMs: m.tfConv, tfMaxPoolMs: m.tfPool, conv2dBytesSent: convBytes, maxPool2x2BytesSent: poolBytes, samplesMs: times };
  console.log(`${precision}: conv2d ABY3 ${m.conv.toFixed(0)} ms (tfjs ${m.tfConv.toFixed(1)} ms, ratio ${(m.conv / m.tfConv).toFixed(0)}), sent ${JSON.stringify(convBytes)}`);
  console.log(`${precision}: maxPool2x2 ABY3 ${m.pool.toFixed(0)} ms (CPU ${pc.toFixed(0)} ms, event loop ${fmt(pl, 0)} ms; tfjs ${m.tfPool.toFixed(1)} ms, ratio ${(m.pool / m.tfPool).toFixed(0)}), sent ${JSON.stringify(poolBytes)}`);
}
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/aby3-conv.json', JSON.stringify(results, null, 2) + '\n');
