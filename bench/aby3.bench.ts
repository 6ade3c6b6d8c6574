// ABY3 in process: secure mul of two 1M-element tensors and secure matmul
// 256x256x256, median wall time, bytes sent per player beside the theoretical
// communication, with the Plaintext protocol doing the same ops in the same
// run as the baseline (ratio = ABY3 / Plaintext); the protocols' repetitions
// are interleaved so that all see the same load. Writes bench/results/aby3.json.
//   node --import tsx bench/aby3.bench.ts            (BENCH_REPS=5 by default)
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { ABY3, Plaintext, Player, Pond, type Precision, type ReplicatedTensor } from '../src/encrypted/index.js';
import { secureMean } from '../src/aggregation/mpc.js';
import { decode, encode, FIXED_LOW } from '../src/encrypted/fixed.js';
import { getRingBackend } from '../src/ring/index.js';
import { MemoryTransport } from '../src/transport/index.js';

const REPS = Number(process.env['BENCH_REPS'] ?? 5);
const [s0, s1, s2, alice, bob] = ['server0', 'server1', 'server2', 'alice', 'bob'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player];

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
  // set up every protocol, then time the ops interleaved (plaintext, aby3, pond in each repetition)
  // so that all see the same machine load (the VM is shared)
  const setups: { name: string; p: ABY3; x: ReplicatedTensor; y: ReplicatedTensor; A: ReplicatedTensor; B: ReplicatedTensor; mulStats: Record<string, number>; mmStats: Record<string, number> }[] = [];
  const sentBy = (st: Record<string, { bytesSent: number }>) => Object.fromEntries(Object.entries(st).map(([k, v]) => [k, v.bytesSent]));
  for (const [name, make] of Object.entries(protos)) {
    if (name === 'pond' && process.env['BENCH_POND'] === '0') continue;
    const t = new MemoryTransport();
    const p = make(t) as unknown as ABY3; // same API
    const x = await p.encrypt(alice, xs);
    const y = await p.encrypt(bob, ys);
    const A = await p.encrypt(alice, a, { shape: [M, M] });
    const B = await p.encrypt(bob, b, { shape: [M, M] });
    await p.mul(x, y); // warm-up (and dealer keys for Pond)
    await p.matmul(A, B);
    t.resetStats();
    await p.mul(x, y);
    const mulStats = sentBy(t.stats());
    t.resetStats();
    await p.matmul(A, B);
    const mmStats = sentBy(t.stats());
    setups.push({ name, p, x, y, A, B, mulStats, mmStats });
  }
  const times: Record<string, { mul: number[]; mm: number[] }> = {};
  for (const su of setups) times[su.name] = { mul: [], mm: [] };
  const time = async (f: () => Promise<unknown>) => { const s = process.hrtime.bigint(); await f(); return Number(process.hrtime.bigint() - s) / 1e6; };
  for (let rep = 0; rep < REPS; rep++) {
    for (const su of [...setups].reverse()) {
      times[su.name]!.mul.push(await time(() => su.p.mul(su.x, su.y)));
      times[su.name]!.mm.push(await time(() => su.p.matmul(su.A, su.B)));
    }
  }
  const med = (v: number[]) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)]!;
  for (const su of setups) {
    const mulMs = med(times[su.name]!.mul);
    const mmMs = med(times[su.name]!.mm);
    out[su.name] = {
      mul1M: { medianMs: mulMs, nsPerElement: (mulMs * 1e6) / N, bytesSentPerPlayer: su.mulStats, samplesMs: times[su.name]!.mul },
      matmul256: { medianMs: mmMs, gopsPerSec: (2 * M ** 3) / (mmMs * 1e6), bytesSentPerPlayer: su.mmStats, samplesMs: times[su.name]!.mm },
    };
    console.log(`${precision.padEnd(4)} ${su.name.padEnd(9)} mul 1M: ${mulMs.toFixed(1)} ms  sent ${JSON.stringify(su.mulStats)}`);
    console.log(`${precision.padEnd(4)} ${su.name.padEnd(9)} matmul 256^3: ${mmMs.toFixed(1)} ms  sent ${JSON.stringify(su.mmStats)}`);
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
// secureMean (the FedSGD path): 3 owners, network_a-sized (118,282) and 1M-parameter float32
// updates, ABY3 low, against a plaintext weighted mean and against the unfused ABY3 path
// (encryptEncoded per owner + addN + revealRing + decode: what secureMean did before
// ABY3.encryptSum/revealInto), interleaved in the same run.
for (const n of [118_282, 1 << 20]) {
  const updates = [0, 1, 2].map((k) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * (k + 1))));
  const weights = [1, 2, 3];
  const plainMean = () => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (updates[0]![i]! + 2 * updates[1]![i]! + 3 * updates[2]![i]!) / 6;
    return out;
  };
  const owners = ['data-owner-0', 'data-owner-1', 'data-owner-2'].map((x) => new Player(x));
  const mo = new Player('model-owner');
  const unfused = async () => {
    const t = new MemoryTransport();
    const p = new ABY3(s0, s1, s2, { precision: 'low', transport: t, players: [...owners, mo] });
    const shares = await Promise.all(owners.map((o, k) => p.encryptEncoded(o, (cfg) => encode(updates[k]!, [n], cfg, 'bench', weights[k]! / 6), [n])));
    const r = await p.revealRing(p.addN(shares), mo);
    const out = decode(r!, FIXED_LOW, 16, new Float32Array(n));
    await t.close();
    return out;
  };
  const reps = n < 200_000 ? 4 * REPS : REPS;
  const sm: number[] = [];
  const um: number[] = [];
  const pm: number[] = [];
  let bytes: Record<string, number> = {};
  await secureMean(updates, weights, { protocol: 'aby3' });
  await unfused();
  for (let rep = 0; rep < reps; rep++) {
    let s = process.hrtime.bigint();
    plainMean();
    pm.push(Number(process.hrtime.bigint() - s) / 1e6);
    s = process.hrtime.bigint();
    bytes = (await secureMean(updates, weights, { protocol: 'aby3' })).bytesPerPlayer;
    sm.push(Number(process.hrtime.bigint() - s) / 1e6);
    s = process.hrtime.bigint();
    await unfused();
    um.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  const med = (v: number[]) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)]!;
  results[n === 1 << 20 ? 'secureMean1M' : 'secureMeanNetworkA'] = { owners: 3, params: n, reps, aby3MedianMs: med(sm), unfusedAby3MedianMs: med(um), plaintextMedianMs: med(pm), ratio: med(sm) / med(pm), speedupVsUnfused: med(um) / med(sm), bytesSentPerPlayer: bytes,
    theory: `each owner n elements (to server1) + 4 seeds = ${n * 8 + 64} B; server0 and server2 n elements (reveal) + 16 B key = ${n * 8 + 16} B; server1 2n (forwarded sum, reveal) + 16 B = ${2 * n * 8 + 16} B` };
  console.log(`secureMean ${n} x 3 owners (aby3 low): ${med(sm).toFixed(1)} ms (unfused path ${med(um).toFixed(1)} ms: ${(med(um) / med(sm)).toFixed(2)}x) vs plaintext ${med(pm).toFixed(2)} ms; sent ${JSON.stringify(bytes)}`);
}
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/aby3.json', JSON.stringify(results, null, 2) + '\n');
console.log('wrote bench/results/aby3.json');
