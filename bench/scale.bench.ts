/**
 * Scale: n clients hosted by 4 data-owner processes (`fedcrypt player ...
 * --data bench/scale-data.mjs --clients n/4`, each hosted client its own
 * party of ABY3 with its own secrets), 3 compute-server processes, this
 * process the model owner; per round the clients' float32[10000] values are
 * summed with ABY3 at AGGREGATORS and moved to SERVER (scale-shared.ts). The
 * baseline: the same aggregation of the same values in one process
 * (localContext with mpcAggregation), in a child process of its own.
 *
 * Reported per n (BENCH_SCALE_CLIENTS, default 100,400,1000): seconds per
 * round (median of BENCH_ROUNDS, default 5, after one warm-up round), bytes
 * each player sent and received over the session (its log line at the
 * session's end) and per round, and each process's peak RSS (VmHWM from
 * /proc): since its start, and over the timed rounds only (the peak is reset
 * after the warm-up round). Every round's sum is checked against the exact
 * sum.
 *
 *   npm run bench -- scale        -> bench/results/scale.json
 *   BENCH_SCALE_CLIENTS=1000 BENCH_ROUNDS=3 node --import tsx bench/scale.bench.ts
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withContext } from '../src/core/index.js';
import { keygen, loadIdentity } from '../src/deploy/keys.js';
import { startPlayer } from '../src/deploy/player.js';
import { openSession } from '../src/deploy/session.js';
import { parseConfigPolicy, resolvePolicy } from '../src/deploy/policy.js';
import { clientData } from '../src/runtime/remote/context.js';
import { loadConfig } from '../src/transport/config.js';
import { freePorts, startCli, stop, TSX, waitFor, type Proc } from '../test/deploy/helpers.js';
import { exactSum, median, memoryOf, mismatches, OWNERS, resetPeak, scaleSum } from './scale-shared.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const SIZES = (process.env['BENCH_SCALE_CLIENTS'] ?? '100,400,1000').split(',').map(Number);
const DATA = fileURLToPath(new URL('./scale-data.mjs', import.meta.url));
const MiB = 2 ** 20;
const ROLES: [string, string][] = [
  ['model-owner', 'model-owner'],
  ['server0', 'compute-server'], ['server1', 'compute-server'], ['server2', 'compute-server'],
  ...Array.from({ length: OWNERS }, (_, i): [string, string] => [`owner${i}`, 'data-owner']),
];
for (const n of SIZES) if (!Number.isInteger(n / OWNERS) || n <= 0) throw new RangeError(`BENCH_SCALE_CLIENTS: ${n} is not a positive multiple of ${OWNERS}`);

interface Traffic { sentMiB: number; receivedMiB: number; messagesSent: number; messagesReceived: number }

/** The player's own count of its session's traffic (serveSessions logs it when the session ends). */
async function trafficOf(p: Proc): Promise<Traffic> {
  const line = await waitFor(p, /session [0-9a-f]{16} ended \(sent/, 60_000);
  const m = /sent (\d+) B in (\d+) messages, received (\d+) B in (\d+) messages/.exec(line)!;
  return { sentMiB: Number(m[1]) / MiB, messagesSent: Number(m[2]), receivedMiB: Number(m[3]) / MiB, messagesReceived: Number(m[4]) };
}

async function remoteRun(n: number) {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-scale-bench-'));
  const procs: Proc[] = [];
  try {
    const ports = await freePorts(ROLES.length);
    const players: Record<string, unknown> = {};
    ROLES.forEach(([name, role], i) => {
      const k = keygen(name, join(dir, 'keys'));
      players[name] = { address: `127.0.0.1:${ports[i]}`, role, certificate: k.certificate, publicKey: k.publicKey };
    });
    const configPath = join(dir, 'config.json');
    writeFileSync(configPath, JSON.stringify({ version: 1, links: 'tls', players }, null, 2));
    await Promise.all(
      ROLES.slice(1).map(async ([name, role]) => {
        const args = ['player', '--config', 'config.json', '--name', name, ...(role === 'data-owner' ? ['--data', DATA, '--clients', String(n / OWNERS)] : [])];
        const p = startCli(name, args, dir);
        procs.push(p);
        await waitFor(p, new RegExp(`${name}: serving on port`), 120_000);
      }),
    );
    const config = loadConfig(configPath, { requireKeys: true });
    const keyPath = join(dir, 'keys', 'model-owner.key');
    const transport = await startPlayer({ configPath, name: 'model-owner', keyPath, handleSignals: false, connectTimeoutMs: 10_000 });
    const policy = resolvePolicy(parseConfigPolicy(config.policy, 'config.json: '));
    const ctx = await openSession(transport, config, { protocol: 'aby3', policy, identity: loadIdentity(keyPath), timeoutMs: 300_000 });
    if (ctx.numClients !== n) throw new Error(`${ctx.numClients} clients joined, expected ${n}`);
    const want = exactSum(n);
    const rounds: number[] = [];
    const startPeak = Object.fromEntries(procs.map((p) => [p.name, memoryOf(p.child.pid!).peakMiB]));
    startPeak['model-owner'] = memoryOf('self').peakMiB;
    let withWarmup: Record<string, number> = {};
    for (let r = 0; r <= ROUNDS; r++) {
      const t0 = performance.now();
      const got = (await withContext(ctx, () => scaleSum(clientData('scale')))) as ArrayLike<number>;
      const ms = performance.now() - t0;
      const bad = mismatches(got, want);
      if (bad.count > 0) throw new Error(`${n} clients, round ${r}: ${bad.count} elements differ from the exact sum (${bad.first.join(', ')})`);
      if (r > 0) {
        rounds.push(ms);
        continue;
      }
      // after the warm-up round: the peak so far, then count the timed rounds' own peak
      withWarmup = Object.fromEntries(procs.map((p) => [p.name, memoryOf(p.child.pid!).peakMiB]));
      withWarmup['model-owner'] = memoryOf('self').peakMiB;
      for (const p of procs) resetPeak(p.child.pid!);
      resetPeak('self');
      transport.resetStats();
    }
    const peakRounds = Object.fromEntries(procs.map((p) => [p.name, memoryOf(p.child.pid!).peakMiB]));
    peakRounds['model-owner'] = memoryOf('self').peakMiB;
    const driver = transport.stats()['model-owner'];
    await ctx.close();
    const traffic: Record<string, Traffic> = {};
    for (const p of procs) traffic[p.name] = await trafficOf(p);
    await transport.close();
    const perRound = (t: Traffic) => ({ sentMiB: t.sentMiB / (ROUNDS + 1), receivedMiB: t.receivedMiB / (ROUNDS + 1) });
    return {
      clients: n,
      perOwner: n / OWNERS,
      roundSeconds: { median: median(rounds) / 1000, all: rounds.map((x) => x / 1000) },
      peakRssMiB: { atStart: startPeak, withWarmupRound: withWarmup, timedRoundsOnly: peakRounds },
      // each player's session (ROUNDS + 1 rounds, session set-up included) and its share per round; the driver's over the timed rounds
      trafficPerSession: traffic,
      trafficPerRound: {
        ...Object.fromEntries(Object.entries(traffic).map(([k, t]) => [k, perRound(t)])),
        'model-owner': { sentMiB: (driver?.bytesSent ?? 0) / MiB / ROUNDS, receivedMiB: (driver?.bytesReceived ?? 0) / MiB / ROUNDS },
      },
      exact: true,
    };
  } finally {
    for (const p of procs) await stop(p);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same aggregation in one process (bench/scale-local.ts in a child of its own). */
function localRun(n: number): Promise<{ rounds: number[]; startupPeakMiB: number; peakWithWarmupMiB: number; peakRoundsMiB: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, fileURLToPath(new URL('./scale-local.ts', import.meta.url))], {
      env: { ...process.env, FEDCRYPT_BENCH_SCALE: JSON.stringify({ n, rounds: ROUNDS }) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) reject(new Error(`in-process baseline of ${n} clients exited with ${code}`));
      else resolve(JSON.parse(last) as { rounds: number[]; startupPeakMiB: number; peakWithWarmupMiB: number; peakRoundsMiB: number });
    });
  });
}

const results = [];
for (const n of SIZES) {
  console.error(`scale: ${n} clients over ${OWNERS} data-owner processes`);
  const remote = await remoteRun(n);
  console.error(`scale: ${n} clients in one process`);
  const local = await localRun(n);
  results.push({
    ...remote,
    inProcess: { roundSeconds: { median: median(local.rounds) / 1000, all: local.rounds.map((x) => x / 1000) }, peakRssMiB: { atStart: local.startupPeakMiB, withWarmupRound: local.peakWithWarmupMiB, timedRoundsOnly: local.peakRoundsMiB } },
    ratioRemoteOverInProcess: remote.roundSeconds.median / (median(local.rounds) / 1000),
  });
}
const out = {
  rounds: ROUNDS,
  values: 10_000,
  protocol: 'aby3 (fixed point, 16 fractional bits), sum at AGGREGATORS moved to SERVER',
  machine: { cpus: cpus().length, loadavg: loadavg() },
  target: "1,000 clients over 4 data-owner processes: at most the in-process time of the same aggregation (issue 13: 2.05 s, 649 MiB); each compute server's memory O(m), not O(n m)",
  results,
};
console.log(JSON.stringify(out, null, 2));
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/scale.json', import.meta.url), JSON.stringify(out, null, 2) + '\n');
