// ABY3's ReLU in process (all three servers in this one process, in-memory
// transport): median ms per relu on 128x128 and 128x784 elements at both
// precisions, bytes sent per server, against a plaintext ReLU over a
// Float32Array in the same run (ratio = ABY3 / plaintext); repetitions of the
// two are interleaved; also the median CPU time of the ABY3 op (all threads, and
// the event loop's own: bench/cpu-time.ts). Writes bench/results/aby3-nonlinear.json.
//   node --import tsx bench/aby3-nonlinear.bench.ts      (BENCH_REPS=7 by default)
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { ABY3, Player, type Precision } from '../src/encrypted/index.js';
import { getRingBackend } from '../src/ring/index.js';
import { MemoryTransport } from '../src/transport/index.js';
import { fmt, median, timed } from './cpu-time.js';

const REPS = Number(process.env['BENCH_REPS'] ?? 7);
const [s0, s1, s2, alice] = ['server0', 'server1', 'server2', 'alice'].map((n) => new Player(n)) as [Player, Player, Player, Player];
const results: Record<string, unknown> = { backend: getRingBackend(), cpu: cpus()[0]?.model, reps: REPS, node: process.version };
const med = (v: number[]) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)]!;
const now = () => Number(process.hrtime.bigint()) / 1e6;

for (const precision of ['low', 'high'] as Precision[]) {
  for (const [rows, cols] of [[128, 128], [128, 784]] as const) {
    const n = rows * cols;
    const xs = Float32Array.from({ length: n }, () => (Math.random() * 2 - 1) * 10); // public bench data
    const t = new MemoryTransport();
    const p = new ABY3(s0, s1, s2, { precision, transport: t });
    const x = await p.encrypt(alice, xs, { shape: [rows, cols] });
    await p.relu(x); // warm-up
    t.resetStats();
    await p.relu(x);
    const sent = Object.fromEntries(Object.entries(t.stats()).map(([k, v]) => [k, v.bytesSent]));
    const out = new Float32Array(n);
    const plainRelu = () => { for (let i = 0; i < n; i++) out[i] = xs[i]! > 0 ? xs[i]! : 0; };
    for (let k = 0; k < 200; k++) plainRelu(); // JIT warm-up
    const aby3: number[] = [];
    const cpu: number[] = [];
    const loop: (number | null)[] = [];
    const plain: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const t = await timed(() => p.relu(x));
      aby3.push(t.wall);
      cpu.push(t.cpu);
      loop.push(t.loop);
      const s = now();
      for (let k = 0; k < 50; k++) plainRelu();
      plain.push((now() - s) / 50);
    }
    const a = med(aby3);
    const b = med(plain);
    const key = `${precision}/${rows}x${cols}`;
    const [c, lp] = [median(cpu)!, median(loop)];
    results[key] = { elements: n, aby3Ms: a, plaintextMs: b, ratio: a / b, nsPerElement: (a * 1e6) / n, cpuMs: c, eventLoopCpuMs: lp, bytesSentPerServer: sent, samplesMs: aby3 };
    console.log(`${key.padEnd(12)} relu: ABY3 ${a.toFixed(1)} ms (${((a * 1e6) / n).toFixed(0)} ns/element; CPU ${c.toFixed(1)} ms, event loop ${fmt(lp)} ms), plaintext ${b.toFixed(3)} ms, ratio ${(a / b).toFixed(0)}, sent ${JSON.stringify(sent)}`);
  }
}
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/aby3-nonlinear.json', JSON.stringify(results, null, 2) + '\n');
