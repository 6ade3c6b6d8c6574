// An encrypted computation across player processes (deploy/compute-*.ts) against the same computation in
// one process: private prediction of a dense 784-128-10 network (relu, argmax) on a batch of owner0's
// images, the model owner's weights, the prediction revealed to owner0 only. Three compute servers and
// owner0 are `fedcrypt player` processes (mutual TLS on 127.0.0.1); this process is the model owner with
// its transport started once. Median ms per run (a session: request, checks, agreement, run, reports) at
// 'low' precision, and the bytes each party sends in one run in process. Writes bench/results/compute-remote.json.
//   node --import tsx bench/compute-remote.bench.ts      (BENCH_REPS=5, BENCH_BATCH=8 by default)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ABY3, computation, ops, Player, PrivateTensor, TensorSpec } from '../src/encrypted/index.js';
import { runComputationOn } from '../src/deploy/compute-driver.js';
import { startPlayer } from '../src/deploy/player.js';
import { loadConfig } from '../src/transport/config.js';
import { MemoryTransport } from '../src/transport/index.js';
import { startCli, stop, waitFor, writeTlsDeployment, type Proc } from '../test/deploy/helpers.js';

const REPS = Number(process.env['BENCH_REPS'] ?? 5);
const B = Number(process.env['BENCH_BATCH'] ?? 8);
const med = (v: number[]) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)]!;
const now = () => Number(process.hrtime.bigint()) / 1e6;
const [mo, owner0] = [new Player('model-owner'), new Player('owner0')];
const rand = (n: number, s: number) => Float64Array.from({ length: n }, () => (Math.random() * 2 - 1) * s); // public bench data
const [X, W1, W2] = [rand(B * 784, 1), rand(784 * 128, 0.05), rand(128 * 10, 0.1)];

const predict = computation(function predict(x, w1, w2) {
  const h = ops.relu(ops.matmul(ops.encrypt(x), ops.encrypt(w1, { sensitivity: [mo, owner0] })));
  return ops.reveal(ops.argmax(ops.matmul(h, ops.encrypt(w2, { sensitivity: [mo, owner0] })), 1), owner0);
});
const sig = [TensorSpec.private(owner0, { shape: [B, 784] }), TensorSpec.private(mo, { shape: [784, 128] }), TensorSpec.private(mo, { shape: [128, 10] })];
const [s0, s1, s2] = ['server0', 'server1', 'server2'].map((n) => new Player(n)) as [Player, Player, Player];

// in process (every party local)
const inProc: number[] = [];
let bytes: Record<string, number> = {};
for (let r = 0; r <= REPS; r++) {
  const t = new MemoryTransport();
  const c = predict.concrete(new ABY3(s0, s1, s2, { transport: t, id: `bench-${r}`, players: [mo, owner0] }), sig);
  const start = now();
  await c.run(new PrivateTensor(owner0, [B, 784], X), new PrivateTensor(mo, [784, 128], W1), new PrivateTensor(mo, [128, 10], W2));
  if (r > 0) inProc.push(now() - start);
  bytes = Object.fromEntries(Object.entries(t.stats()).map(([k, v]) => [k, v.bytesSent]));
}

// across processes
const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-compute-bench-'));
const roles: [string, string][] = [['model-owner', 'model-owner'], ['server0', 'compute-server'], ['server1', 'compute-server'], ['server2', 'compute-server'], ['owner0', 'data-owner']];
await writeTlsDeployment(dir, roles);
writeFileSync(join(dir, 'data.mjs'), `const X = ${JSON.stringify(Array.from(X))};\nexport function data(source) { return source === 'images' ? X : undefined; }\n`);
const procs: Proc[] = [];
const remote: number[] = [];
try {
  await Promise.all(roles.slice(1).map(async ([name]) => {
    const p = startCli(name, ['player', '--config', 'config.json', '--name', name, ...(name === 'owner0' ? ['--data', 'data.mjs'] : [])], dir);
    procs.push(p);
    await waitFor(p, new RegExp(`${name}: serving on port`), 60_000);
  }));
  const config = loadConfig(join(dir, 'config.json'), { requireKeys: true });
  const transport = await startPlayer({ configPath: join(dir, 'config.json'), name: 'model-owner', keyPath: join(dir, 'keys', 'model-owner.key'), handleSignals: false });
  try {
    for (let r = 0; r <= REPS; r++) {
      const start = now();
      await runComputationOn(transport, config, predict, { inputs: { x: { player: 'owner0', source: 'images', shape: [B, 784] }, w1: { value: W1, shape: [784, 128] }, w2: { value: W2, shape: [128, 10] } }, timeoutMs: 120_000 });
      if (r > 0) remote.push(now() - start);
    }
  } finally {
    await transport.close();
  }
} finally {
  for (const p of procs) await stop(p);
  rmSync(dir, { recursive: true, force: true });
}

const results = {
  cpu: cpus()[0]?.model, node: process.version, loadavg: loadavg(), reps: REPS, batch: B, precision: 'low',
  inProcessMs: med(inProc), remoteMs: med(remote), ratio: med(remote) / med(inProc), bytesSentPerRunInProcess: bytes,
};
console.log(JSON.stringify(results, null, 2));
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/compute-remote.json', `${JSON.stringify(results, null, 2)}\n`);
