// ABY3 in process: secure mul of two 1M-element tensors and secure matmul
// 256x256x256, median wall time, bytes sent per player beside the theoretical
// communication, with the Plaintext protocol doing the same ops in the same
// run as the baseline (ratio = ABY3 / Plaintext). Writes bench/results/aby3.json.
//   node --import tsx bench/aby3.bench.ts            (BENCH_REPS=5 by default)
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { ABY3, Plaintext, Player, Pond, type Precision } from '../src/encrypted/index.js';
import { getRingBackend } from '../src/ring/index.js';
import { MemoryTransport } from '../src/transport/index.js';

const REPS = Number(process.env['BENCH_REPS'] ?? 5);
const [s0, s1, s2, alice, bob] = ['server0', 'server1', 'server2', 'alice', 'bob'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player];

async function median(f: () => Promise<unknown>, runs = REPS, warm = 1): Promise<number> {
  for (let i = 0; i < warm; i++) await f();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = process.hrtime.bigint();
    await f();
    t.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)]!;
}

const rand = (n: number, r: number) => Float64Array.from({ length: n }, () => (Math.random() * 2 - 1) * r); // public bench data, not secrets
const results: Record<string, unknown> = { backend: getRingBackend(), cpu: cpus()[0]?.model, reps: REPS, node: process.version };

for (const precision of ['low', 'high'] as Precision[]) {
  const E = precision === 'low' ? 8 : 16;
  const N = 1 << 20;
  const M = 256;
  const xs = rand(N, 10);
  const ys = rand(N, 10);
  const a = rand(M * M, 1);
  const b = rand(M * M, 1);
  const out: Record<string, unknown> = {};
  const protos = {
    aby3: (t: MemoryTransport) => new ABY3(s0, s1, s2, { precision, transport: t }),
    pond: (t: MemoryTransport) => new Pond(s0, s1, s2, { precision, transport: t }),
    plaintext: (t: MemoryTransport) => new Plaintext({ precision, transport: t }),
  };
  for (const [name, make] of Object.entries(protos)) {
    if (name === 'pond' && process.env['BENCH_POND'] === '0') continue;
    const t = new MemoryTransport();
    const p = make(t) as unknown as ABY3; // same API
    const x = await p.encrypt(alice, xs);
    const y = await p.encrypt(bob, ys);
    const A = await p.encrypt(alice, a, { shape: [M, M] });
    const B = await p.encrypt(bob, b, { shape: [M, M] });
    await p.mul(x, y); // warm-up (and dealer keys for Pond)
    t.resetStats();
    await p.mul(x, y);
    const mulStats = t.stats();
    t.resetStats();
    await p.matmul(A, B);
    const mmStats = t.stats();
    const mulMs = await median(() => p.mul(x, y));
    const mmMs = await median(() => p.matmul(A, B));
    const sentBy = (st: typeof mulStats) => Object.fromEntries(Object.entries(st).map(([k, v]) => [k, v.bytesSent]));
    out[name] = {
      mul1M: { medianMs: mulMs, nsPerElement: (mulMs * 1e6) / N, bytesSentPerPlayer: sentBy(mulStats) },
      matmul256: { medianMs: mmMs, gopsPerSec: (2 * M ** 3) / (mmMs * 1e6), bytesSentPerPlayer: sentBy(mmStats) },
    };
    console.log(`${precision.padEnd(4)} ${name.padEnd(9)} mul 1M: ${mulMs.toFixed(1)} ms  sent ${JSON.stringify(sentBy(mulStats))}`);
    console.log(`${precision.padEnd(4)} ${name.padEnd(9)} matmul 256^3: ${mmMs.toFixed(1)} ms  sent ${JSON.stringify(sentBy(mmStats))}`);
  }
  const g = (k: string) => out[k] as { mul1M: { medianMs: number }; matmul256: { medianMs: number } };
  out['theory'] = {
    aby3: { mul1M: `each server sends N elements = ${N * E} B`, matmul256: `each server sends M*M elements = ${M * M * E} B` },
    pond: out['pond'] ? { mul1M: `each server 2N = ${2 * N * E} B, dealer N = ${N * E} B`, matmul256: `each server 2*M*M = ${2 * M * M * E} B, dealer M*M = ${M * M * E} B` } : undefined,
  };
  out['ratioVsPlaintext'] = {
    aby3: { mul1M: g('aby3').mul1M.medianMs / g('plaintext').mul1M.medianMs, matmul256: g('aby3').matmul256.medianMs / g('plaintext').matmul256.medianMs },
    pond: out['pond'] ? { mul1M: g('pond').mul1M.medianMs / g('plaintext').mul1M.medianMs, matmul256: g('pond').matmul256.medianMs / g('plaintext').matmul256.medianMs } : undefined,
  };
  console.log(`${precision} ratio vs plaintext:`, JSON.stringify(out['ratioVsPlaintext']));
  results[precision] = out;
}
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/aby3.json', JSON.stringify(results, null, 2) + '\n');
console.log('wrote bench/results/aby3.json');
