/**
 * Overhead of the remote executor: one federated round trip across 7
 * processes on loopback (3 data owners, 3 compute servers, this process as
 * the model owner), against the same computation in one process.
 *
 *   empty:  (x@SERVER) -> x                                   driver only, no player
 *   round:  (x@SERVER) -> secureSum(broadcast(x)) with ABY3    a command to every player,
 *                                                              each client's role, the servers' reveal
 *   fedavg: not here (bench/fl.bench.ts measures learning)
 *
 * Reported: median and p90 ms per call of each over BENCH_CALLS calls (default
 * 200, after 20 warm-up calls), and the ratio remote / in-process of the
 * round (the in-process run: localContext with the same ABY3 roles).
 *
 *   node --import tsx bench/executor.bench.ts   -> bench/results/executor.json
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { remoteContext } from '../src/deploy/remote.js';
import { CLIENTS, SERVER, federated, federatedBroadcast, federatedComputation, federatedSecureSum, tensor, withContext, type ExecutionContext } from '../src/core/index.js';
import { localContext } from '../src/runtime/index.js';
import { mpcAggregation } from '../src/aggregation/mpc.js';
import { ROLES7, startCli, stop, waitFor, writeTlsDeployment, type Proc } from '../test/deploy/helpers.js';

const CALLS = Number(process.env['BENCH_CALLS'] ?? 200);
const WARMUP = 20;
const I32 = tensor('int32');

const empty = federatedComputation([federated(I32, SERVER)], (x) => x, { name: 'empty' });
const round = federatedComputation([federated(I32, SERVER)], (x) => federatedSecureSum(federatedBroadcast(x), { bitwidth: 8 }), { name: 'round' });
void CLIENTS;

function stats(ms: number[]): { median: number; p90: number; mean: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, p90: s[Math.floor(s.length * 0.9)]!, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

async function time(ctx: ExecutionContext, comp: typeof empty, expect: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < WARMUP + CALLS; i++) {
    const t0 = performance.now();
    const r = await withContext(ctx, () => comp(7));
    const dt = performance.now() - t0;
    if (r !== expect) throw new Error(`${comp.computationName}: got ${String(r)}, expected ${expect}`);
    if (i >= WARMUP) out.push(dt);
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-executor-bench-'));
const procs: Proc[] = [];
try {
  await writeTlsDeployment(dir, ROLES7);
  await Promise.all(
    ROLES7.slice(1).map(async ([name]) => {
      const p = startCli(name, ['player', '--config', 'config.json', '--name', name], dir);
      procs.push(p);
      await waitFor(p, new RegExp(`${name}: serving on port`), 60_000);
    }),
  );
  const remote = remoteContext({ config: join(dir, 'config.json'), key: join(dir, 'keys', 'model-owner.key'), protocol: 'aby3', timeoutMs: 60_000 });
  const local = localContext({ aggregation: mpcAggregation({ protocol: 'aby3' }), numClients: 3 });
  // interleaved, so that load on the shared machine hits both alike
  const r = { remoteEmpty: [] as number[], remoteRound: [] as number[], localRound: [] as number[] };
  for (let k = 0; k < 2; k++) {
    r.remoteEmpty.push(...(await time(remote, empty, 7)));
    r.remoteRound.push(...(await time(remote, round, 21)));
    r.localRound.push(...(await time(local, round, 21)));
  }
  await remote.close();
  const out = {
    calls: CALLS * 2,
    machine: { cpus: cpus().length, loadavg: loadavg() },
    emptyMs: stats(r.remoteEmpty),
    remoteRoundMs: stats(r.remoteRound),
    inProcessRoundMs: stats(r.localRound),
    ratioRemoteOverInProcess: stats(r.remoteRound).median / stats(r.localRound).median,
    target: 'remote round (a command to each of 6 players, ABY3 secure sum of one int32): report; aim < 5 ms on loopback',
  };
  console.log(JSON.stringify(out, null, 2));
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/executor.json', import.meta.url), JSON.stringify(out, null, 2) + '\n');
  // FEDCRYPT_TRACE=1: every player's phase lines (and this process's, on stderr) into one file, for a timeline
  if (process.env['FEDCRYPT_TRACE'] === '1') writeFileSync(new URL('./results/executor-trace.txt', import.meta.url), procs.flatMap((p) => p.out.filter((l) => l.startsWith('trace '))).join('\n') + '\n');
} finally {
  for (const p of procs) await stop(p);
  rmSync(dir, { recursive: true, force: true });
}
