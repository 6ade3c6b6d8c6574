// ABY3's sigmoid and softmax in process (all three servers in this one
// process, in-memory transport): median ms per op on 128x10 and 128x128 at
// both precisions, bytes sent per server, against the plaintext op over a
// Float64Array (Math.exp) in the same run; repetitions interleaved.
// Writes bench/results/aby3-approx.json.
//   node --import tsx bench/aby3-approx.bench.ts      (BENCH_REPS=7 by default)
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { ABY3, Player, type Precision, type ReplicatedTensor } from '../src/encrypted/index.js';
import { getRingBackend } from '../src/ring/index.js';
import { MemoryTransport } from '../src/transport/index.js';

const REPS = Number(process.env['BENCH_REPS'] ?? 7);
const [s0, s1, s2, alice] = ['server0', 'server1', 'server2', 'alice'].map((n) => new Player(n)) as [Player, Player, Player, Player];
const results: Record<string, unknown> = { backend: getRingBackend(), cpu: cpus()[0]?.model, reps: REPS, node: process.version, loadavg: loadavg()[0] };
const med = (v: number[]) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)]!;
const now = () => Number(process.hrtime.bigint()) / 1e6;

function plainSigmoid(x: Float64Array, out: Float64Array): void {
  for (let i = 0; i < x.length; i++) out[i] = 1 / (1 + Math.exp(-x[i]!));
}
function plainSoftmax(x: Float64Array, out: Float64Array, c: number): void {
  for (let r = 0; r < x.length; r += c) {
    let m = -Infinity;
    for (let j = 0; j < c; j++) m = Math.max(m, x[r + j]!);
    let s = 0;
    for (let j = 0; j < c; j++) s += out[r + j] = Math.exp(x[r + j]! - m);
    for (let j = 0; j < c; j++) out[r + j]! /= s;
  }
}

for (const precision of ['low', 'high'] as Precision[]) {
  for (const [rows, cols] of [[128, 10], [128, 128]] as const) {
    const n = rows * cols;
    const xs = Float64Array.from({ length: n }, () => (Math.random() * 2 - 1) * 8); // public bench data
    const out = new Float64Array(n);
    const t = new MemoryTransport();
    const p = new ABY3(s0, s1, s2, { precision, transport: t });
    const x = await p.encrypt(alice, xs, { shape: [rows, cols] });
    const ops: [string, (x: ReplicatedTensor) => Promise<unknown>, () => void][] = [
      ['sigmoid', (v) => p.sigmoid(v), () => plainSigmoid(xs, out)],
      ['softmax', (v) => p.softmax(v), () => plainSoftmax(xs, out, cols)],
    ];
    for (const [name, op, plain] of ops) {
      await op(x); // warm-up
      t.resetStats();
      await op(x);
      const sent = Object.fromEntries(Object.entries(t.stats()).map(([k, v]) => [k, v.bytesSent]));
      for (let k = 0; k < 200; k++) plain(); // JIT warm-up
      const a: number[] = [];
      const b: number[] = [];
      for (let r = 0; r < REPS; r++) {
        let s = now();
        await op(x);
        a.push(now() - s);
        s = now();
        for (let k = 0; k < 50; k++) plain();
        b.push((now() - s) / 50);
      }
      const key = `${precision}/${name}/${rows}x${cols}`;
      const [am, bm] = [med(a), med(b)];
      results[key] = { elements: n, aby3Ms: am, plaintextMs: bm, ratio: am / bm, nsPerElement: (am * 1e6) / n, bytesSentPerServer: sent, samplesMs: a };
      console.log(`${key.padEnd(22)} ABY3 ${am.toFixed(1)} ms, plaintext ${bm.toFixed(3)} ms, ratio ${(am / bm).toFixed(0)}, sent ${JSON.stringify(sent)}`);
    }
  }
}
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/aby3-approx.json', JSON.stringify(results, null, 2) + '\n');
