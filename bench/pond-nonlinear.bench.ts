// Pond against ABY3 in the same run (every party in this one process, in-memory transport):
// relu on 128x128 and 128x784 elements, sigmoid on 128x128, softmax on 128x10, and network_b's first layer,
// conv2d x [128, 28, 28, 1] * w [5, 5, 1, 16] valid -> [128, 24, 24, 16], then maxPool2x2 -> [128, 12, 12, 16];
// median ms per op at both precisions
// (the two protocols' repetitions interleaved) and bytes sent per party. Writes bench/results/pond-nonlinear.json.
//   node --import tsx bench/pond-nonlinear.bench.ts      (BENCH_REPS=5 by default)
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { ABY3, Player, Pond, type AdditiveTensor, type Precision, type ReplicatedTensor } from '../src/encrypted/index.js';
import { getRingBackend } from '../src/ring/index.js';
import { MemoryTransport } from '../src/transport/index.js';

const REPS = Number(process.env['BENCH_REPS'] ?? 5);
const [s0, s1, s2, dealer, alice] = ['server0', 'server1', 'server2', 'dealer', 'alice'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player];
const results: Record<string, unknown> = { ringBackend: getRingBackend(), cpu: cpus()[0]?.model, reps: REPS, node: process.version, loadavgBefore: loadavg() };
const med = (v: number[]) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)]!;
const now = () => Number(process.hrtime.bigint()) / 1e6;

type Op = { name: string; aby3: () => Promise<unknown>; pond: () => Promise<unknown> };

async function measure(precision: Precision, ops: Op[], ta: MemoryTransport, tp: MemoryTransport): Promise<void> {
  const sent = async (t: MemoryTransport, f: () => Promise<unknown>) => {
    t.resetStats();
    await f();
    return Object.fromEntries(Object.entries(t.stats()).map(([k, v]) => [k, v.bytesSent]));
  };
  for (const op of ops) {
    await op.aby3(); // warm-up
    await op.pond();
    const bytes = { aby3: await sent(ta, op.aby3), pond: await sent(tp, op.pond) };
    const times = { aby3: [] as number[], pond: [] as number[] };
    for (let r = 0; r < REPS; r++) {
      for (const k of (r % 2 === 0 ? ['aby3', 'pond'] : ['pond', 'aby3']) as ('aby3' | 'pond')[]) {
        const s = now();
        await op[k]();
        times[k].push(now() - s);
      }
    }
    const [a, p] = [med(times.aby3), med(times.pond)];
    results[`${precision}/${op.name}`] = { aby3Ms: a, pondMs: p, pondOverAby3: p / a, bytesSent: bytes, samplesMs: times };
    console.log(`${precision.padEnd(4)} ${op.name.padEnd(22)} ABY3 ${a.toFixed(1).padStart(7)} ms  Pond ${p.toFixed(1).padStart(7)} ms  (Pond/ABY3 ${(p / a).toFixed(2)})  ABY3 sent ${JSON.stringify(bytes.aby3)}  Pond sent ${JSON.stringify(bytes.pond)}`);
  }
}

const xsConv = Float32Array.from({ length: 128 * 28 * 28 }, () => Math.random()); // public bench data
const ws = Float32Array.from({ length: 5 * 5 * 16 }, () => (Math.random() * 2 - 1) * 0.2);
for (const precision of ['low', 'high'] as Precision[]) {
  const [ta, tp] = [new MemoryTransport(), new MemoryTransport()];
  const aby3 = new ABY3(s0, s1, s2, { precision, transport: ta });
  const pond = new Pond(s0, s1, dealer, { precision, transport: tp });
  const ops: Op[] = [];
  for (const [rows, cols] of [[128, 128], [128, 784]] as const) {
    const xs = Float32Array.from({ length: rows * cols }, () => (Math.random() * 2 - 1) * 10);
    const xa = await aby3.encrypt(alice, xs, { shape: [rows, cols] });
    const xp = await pond.encrypt(alice, xs, { shape: [rows, cols] });
    ops.push({ name: `relu ${rows}x${cols}`, aby3: () => aby3.relu(xa), pond: () => pond.relu(xp) });
  }
  const xs = Float32Array.from({ length: 128 * 128 }, () => (Math.random() * 2 - 1) * 6);
  const [sa, sp] = [await aby3.encrypt(alice, xs, { shape: [128, 128] }), await pond.encrypt(alice, xs, { shape: [128, 128] })];
  ops.push({ name: 'sigmoid 128x128', aby3: () => aby3.sigmoid(sa), pond: () => pond.sigmoid(sp) });
  const logits = xs.subarray(0, 1280);
  const [la, lp] = [await aby3.encrypt(alice, logits, { shape: [128, 10] }), await pond.encrypt(alice, logits, { shape: [128, 10] })];
  ops.push({ name: 'softmax 128x10', aby3: () => aby3.softmax(la), pond: () => pond.softmax(lp) });
  const [xa, wa] = [await aby3.encrypt(alice, xsConv, { shape: [128, 28, 28, 1] }), await aby3.encrypt(alice, ws, { shape: [5, 5, 1, 16] })];
  const [xp, wp] = [await pond.encrypt(alice, xsConv, { shape: [128, 28, 28, 1] }), await pond.encrypt(alice, ws, { shape: [5, 5, 1, 16] })];
  const [ya, yp]: [ReplicatedTensor, AdditiveTensor] = [await aby3.conv2d(xa, wa), await pond.conv2d(xp, wp)];
  ops.push({ name: 'conv2d network_b L1', aby3: () => aby3.conv2d(xa, wa), pond: () => pond.conv2d(xp, wp) });
  ops.push({ name: 'maxPool2x2 of it', aby3: () => aby3.maxPool2x2(ya), pond: () => pond.maxPool2x2(yp) });
  await measure(precision, ops, ta, tp);
}
results['loadavgAfter'] = loadavg();
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/pond-nonlinear.json', JSON.stringify(results, null, 2) + '\n');
