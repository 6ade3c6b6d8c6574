// ABY3's and Pond's deterministic truncation (option truncation: 'deterministic',
// src/encrypted/protocols/aby3-trunc.ts, pond-trunc.ts) against the probabilistic default:
// mul of two 128x128 tensors and matmul 128x784 . 784x128, at 'low' and
// 'high', two instances in this process (all three servers each, in-memory
// transport), their runs paired and interleaved (the order alternating), so
// that both see the same load on a shared machine: median wall time of each,
// median of the per-pair ratios (deterministic / probabilistic), bytes sent
// per server and critical-path rounds of one op. Writes bench/results/aby3-trunc.json.
//   node --import tsx bench/aby3-trunc.bench.ts          (BENCH_REPS=15 by default)
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { ABY3, Player, Pond, type Precision, type ReplicatedTensor } from '../src/encrypted/index.js';
import { getRingBackend } from '../src/ring/index.js';
import { MemoryTransport } from '../src/transport/index.js';
import { RoundTransport } from '../test/encrypted/rounds.js';

const REPS = Number(process.env['BENCH_REPS'] ?? 15);
const [s0, s1, s2, alice] = ['server0', 'server1', 'server2', 'alice'].map((n) => new Player(n)) as [Player, Player, Player, Player];
const KINDS = (process.env['BENCH_KINDS'] ?? 'aby3,pond').split(',');
const rand = (n: number, r: number) => Float64Array.from({ length: n }, () => (Math.random() * 2 - 1) * r); // public bench data
const median = (v: number[]) => [...v].sort((p, q) => p - q)[v.length >> 1]!;
const time = async (f: () => Promise<unknown>) => { const s = process.hrtime.bigint(); await f(); return Number(process.hrtime.bigint() - s) / 1e6; };
const results: Record<string, unknown> = { reps: REPS, machine: { cpu: cpus()[0]?.model, cores: cpus().length, loadAverageAtStart: loadavg(), node: process.version, ringBackend: getRingBackend() } };

for (const kind of KINDS) for (const precision of ['low', 'high'] as Precision[]) {
  const make = (truncation: 'probabilistic' | 'deterministic') => {
    const t = new RoundTransport(new MemoryTransport(), { offline: kind === 'pond' ? ['server2'] : [] }); // Pond: server2 is the producer (its messages offline)
    const transport = t as unknown as MemoryTransport;
    // (same API; Pond's server2 plays the crypto producer)
    return { t, p: (kind === 'aby3' ? new ABY3(s0, s1, s2, { precision, transport, players: [alice], truncation }) : new Pond(s0, s1, s2, { precision, transport, players: [alice], truncation })) as unknown as ABY3 };
  };
  const runs = { probabilistic: make('probabilistic'), deterministic: make('deterministic') };
  type Ops = { x: ReplicatedTensor; y: ReplicatedTensor; A: ReplicatedTensor; B: ReplicatedTensor };
  const data: Record<string, Ops> = {};
  const [xs, ys, as, bs] = [rand(128 * 128, 10), rand(128 * 128, 10), rand(128 * 784, 1), rand(784 * 128, 1)];
  const cost: Record<string, Record<string, unknown>> = {};
  for (const [name, { t, p }] of Object.entries(runs)) {
    const d = { x: await p.encrypt(alice, xs, { shape: [128, 128] }), y: await p.encrypt(alice, ys, { shape: [128, 128] }), A: await p.encrypt(alice, as, { shape: [128, 784] }), B: await p.encrypt(alice, bs, { shape: [784, 128] }) };
    data[name] = d;
    await p.mul(d.x, d.y); // warm-up, set-up
    await p.matmul(d.A, d.B);
    cost[name] = {};
    for (const [op, f] of [['mul', () => p.mul(d.x, d.y)], ['matmul', () => p.matmul(d.A, d.B)]] as const) {
      t.reset();
      await f();
      cost[name]![op] = { bytesSent: t.bytes(), rounds: t.rounds(), onlineRounds: t.onlineRounds() };
      t.log = []; // the payload copies are not kept during the timed runs
    }
  }
  // the RoundTransport records every payload: timed runs go through it as well, its log cleared after each op
  const ms: Record<string, Record<string, number[]>> = { probabilistic: { mul: [], matmul: [] }, deterministic: { mul: [], matmul: [] } };
  const ratios: Record<string, number[]> = { mul: [], matmul: [] };
  for (let rep = 0; rep < REPS; rep++) {
    for (const op of ['mul', 'matmul'] as const) {
      const order = rep % 2 === 0 ? (['probabilistic', 'deterministic'] as const) : (['deterministic', 'probabilistic'] as const);
      const got: Record<string, number> = {};
      for (const name of order) {
        const { t, p } = runs[name];
        const d = data[name]!;
        got[name] = await time(() => (op === 'mul' ? p.mul(d.x, d.y) : p.matmul(d.A, d.B)));
        t.log = [];
        ms[name]![op]!.push(got[name]!);
      }
      ratios[op]!.push(got['deterministic']! / got['probabilistic']!);
    }
  }
  const out: Record<string, unknown> = {};
  for (const op of ['mul', 'matmul'] as const) {
    const [mp, md, r] = [median(ms['probabilistic']![op]!), median(ms['deterministic']![op]!), median(ratios[op]!)];
    out[op] = { what: op === 'mul' ? 'mul of two 128x128 tensors (16384 products)' : 'matmul 128x784 . 784x128', probabilisticMs: mp, deterministicMs: md, medianPairedRatio: r, samplesMs: ms, cost: { probabilistic: cost['probabilistic']![op], deterministic: cost['deterministic']![op] } };
    console.log(`${kind} ${precision.padEnd(4)} ${op.padEnd(6)} probabilistic ${mp.toFixed(1)} ms, deterministic ${md.toFixed(1)} ms, paired ratio ${r.toFixed(2)}; bytes sent per server ${JSON.stringify(cost['probabilistic']![op])} vs ${JSON.stringify(cost['deterministic']![op])}`);
  }
  results[`${kind}-${precision}`] = out;
}
results['loadAverageAtEnd'] = loadavg();
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/aby3-trunc.json', JSON.stringify(results, null, 2) + '\n');
