/**
 * A networked secure FedSGD epoch (network_a, 3 data owners, ABY3, batch 128)
 * with every player a separate OS process on loopback (3 compute servers and
 * 3 data owners started by launchPlayers, each data owner serving its third
 * of MNIST (--data), the model owner a seventh process,
 * bench/networked-driver.ts): FedSGD on the execution stack
 * (runStackTraining: the learning round as a federated computation in a
 * remoteContext), against the in-process epoch (the learning layer's
 * fedSgdRound with the ABY3 secure aggregator, one process) in the same run.
 * The stack's weighted mean (private weights) rounds differently from the
 * in-process mean, so its weights are reported against them (max and mean
 * |difference|). Reported: total and median round time, the ratio to the
 * in-process epoch (target <= 1.5). Start-up (process launch, data loading,
 * session set-up) is reported separately and not part of the epoch time.
 *
 * (Until it was retired, the hand-written SPMD FedSGD job ran here too, in
 * ABBA order with the stack; its last comparison, stack / SPMD 1.05 to 1.07
 * over three runs, is kept in bench/results/networked-spmd-retired.json.)
 *
 *   node --import tsx bench/networked.bench.ts     -> bench/results/networked.json
 *   env: BENCH_STEPS (rounds; default a full epoch = 156), BENCH_PROTOCOL (aby3),
 *        BENCH_REPEAT (default 1: the networked run this many times; medians over all),
 *        BENCH_LINKS (tls | noise: how the links are secured; default tls, as the README's deployment),
 *        FEDCRYPT_TRACE=1 (every process's per-round phase lines on stderr; see docs/DEPLOY.md),
 *        BENCH_PROFILE_DIR=<dir> (the seven player processes write --cpu-prof profiles there),
 *        BENCH_MO_FLAGS='<node flags>' (for the model owner's process, e.g. --trace-gc),
 *        BENCH_NODE_FLAGS='<node flags>' (for all seven, e.g. --heap-growing-percent=0 to compare without tuneHeapForRounds)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { keygen } from '../src/deploy/keys.js';
import { launchPlayers } from '../src/deploy/launch.js';
import { spawn } from 'node:child_process';
import { freePorts, ROLES7 } from '../test/deploy/helpers.js';

const root = new URL('..', import.meta.url).pathname;
const PROTOCOL = process.env['BENCH_PROTOCOL'] ?? 'aby3';
const LINKS = process.env['BENCH_LINKS'] ?? 'tls';
const BATCH = 128;
const SEED = 1;
const FULL_EPOCH = Math.floor(20000 / BATCH);
const STEPS = Number(process.env['BENCH_STEPS'] ?? FULL_EPOCH);
const TRACE = process.env['FEDCRYPT_TRACE'] === '1';
/** BENCH_MO_FLAGS: Node flags for the model owner's process (e.g. --trace-gc; its stdout then goes to stderr). */
const MO_FLAGS = (process.env['BENCH_MO_FLAGS'] ?? '').split(' ').filter(Boolean);
/** BENCH_NODE_FLAGS: Node flags for all seven processes (e.g. --heap-growing-percent=0: V8's own heap sizing, without tuneHeapForRounds). */
const NODE_FLAGS = (process.env['BENCH_NODE_FLAGS'] ?? '').split(' ').filter(Boolean);
const PROFILE = process.env['BENCH_PROFILE_DIR'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['BENCH_PROFILE_DIR']}`] : [];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function inProcess(): Promise<{ rounds: number[]; weights: Float32Array }> {
  const L = await import('../src/learning/index.js');
  await L.initTf();
  const data = L.loadDataset('mnist');
  const parts = L.splitForOwners(data.train, 3, false);
  const names = parts.map((_, i) => `data-owner-${i}`);
  const agg = await L.makeAggregator(PROTOCOL, 'low', names);
  const owners = parts.map((p, i) => new L.DataOwner(names[i]!, 'network_a', data, p, { batchSize: BATCH, seed: SEED, shuffleSeed: SEED * 7919 + i }));
  const total = Math.min(owners[0]!.iterations, STEPS);
  const mo = new L.ModelOwner('model-owner', 'network_a', data, { seed: SEED, optimizer: L.adam({ lr: 0.008, amsgrad: true, decay: L.cosineDecay(Math.max(1, total), 0.02) }) });
  const rounds: number[] = [];
  for (let r = 0; r < total; r++) {
    const t0 = performance.now();
    await L.fedSgdRound(mo, owners, agg);
    rounds.push(performance.now() - t0);
  }
  const weights = mo.shareWeights();
  mo.dispose();
  owners.forEach((o) => o.dispose());
  await agg.close?.();
  return { rounds, weights };
}

interface NetRun { rounds: number[]; weights: Float32Array; jobMs: number }

/** The seven processes on loopback: the six players (launched once), then each model-owner run in its own process. */
async function networked(repeat: number): Promise<{ runs: NetRun[]; startupMs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-netbench-'));
  const ports = await freePorts(ROLES7.length);
  const players: Record<string, unknown> = {};
  ROLES7.forEach(([name, role], i) => {
    const k = keygen(name, join(dir, 'keys'));
    players[name] = { address: `127.0.0.1:${ports[i]}`, role, certificate: k.certificate, publicKey: k.publicKey };
  });
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ version: 1, links: LINKS, players }, null, 2));
  const t0 = performance.now();
  let serving = 0;
  let ready!: () => void;
  const allUp = new Promise<void>((r) => (ready = r));
  // each data owner serves its third of the training set (splitForOwners' equal thirds, as in process)
  const third = 60000 / 3;
  const l = launchPlayers({
    configPath, keysDir: join(dir, 'keys'), cliPath: join(root, 'test/deploy/cli-entry.ts'), execArgv: [...NODE_FLAGS, '--import', import.meta.resolve('tsx'), ...PROFILE],
    playerArgs: (name) => {
      const i = Number(/^owner(\d)$/.exec(name)?.[1] ?? -1);
      return i >= 0 ? ['--data', `mnist:${i * third}-${(i + 1) * third}`] : [];
    },
    log: (line) => {
      if (/serving on port/.test(line) && ++serving === 6) ready();
      if (TRACE && (/ r\d+[: ]/.test(line) || / trace /.test(line))) console.error(line);
      else if (/failed|error/i.test(line)) console.error(line);
    },
  });
  const runs: NetRun[] = [];
  try {
    await allUp;
    const startupMs = performance.now() - t0;
    for (let k = 0; k < repeat; k++) {
      {
        // the model owner in its own process, as `fedcrypt train --config` runs in a deployment
        const driver = spawn(process.execPath, [...NODE_FLAGS, ...MO_FLAGS, '--import', import.meta.resolve('tsx'), ...PROFILE, join(root, 'bench/networked-driver.ts')], {
          env: { ...process.env, FEDCRYPT_BENCH_DRIVER: JSON.stringify({ configPath, keyPath: join(dir, 'keys', 'model-owner.key'), protocol: PROTOCOL, steps: STEPS, batchSize: BATCH, seed: SEED, trace: TRACE }) },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        driver.stdout!.on('data', (b: Buffer) => (out += b.toString()));
        if (MO_FLAGS.length > 0) driver.stdout!.on('data', (b: Buffer) => process.stderr.write(b.toString().replace(/^\{"rounds.*$/m, '')));
        const code = await new Promise<number | null>((r) => driver.on('exit', r));
        if (code !== 0) throw new Error(`model owner process exited with code ${code}`);
        const res = JSON.parse(out.trim().split('\n').pop()!) as { rounds: number[]; jobMs: number; weights: string };
        const b = Buffer.from(res.weights, 'base64');
        runs.push({ rounds: res.rounds, weights: new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), jobMs: res.jobMs });
        console.error(`stack run ${k + 1}/${repeat}: ${(res.rounds.reduce((a, x) => a + x, 0) / 1000).toFixed(2)} s, median round ${median(res.rounds).toFixed(1)} ms`);
      }
    }
    return { runs, startupMs };
  } finally {
    await l.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const REPEAT = Math.max(1, Number(process.env['BENCH_REPEAT'] ?? 1));
const load0 = loadavg()[0]!;
const inp = await inProcess();
const net = await networked(REPEAT);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
const meanAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => m + Math.abs(x - b[i]!), 0) / a.length;
const inTotal = sum(inp.rounds);
const rs = net.runs;
const medianTotalMs = median(rs.map((r) => sum(r.rounds)));
const medianRoundMs = median(rs.flatMap((r) => r.rounds));
const result = {
  bench: 'networked',
  what: `secure FedSGD epoch on the execution stack: network_a, 3 data owners, ${PROTOCOL}, batch ${BATCH}, ${STEPS} rounds${STEPS === FULL_EPOCH ? ' (one full epoch)' : ` (of ${FULL_EPOCH} in an epoch)`}`,
  machine: { cpus: cpus().length, loadavg1Before: load0, loadavg1After: loadavg()[0] },
  inProcess: { totalMs: inTotal, medianRoundMs: median(inp.rounds) },
  networked: {
    links: LINKS, processes: 7, startupMs: net.startupMs, repeat: REPEAT, nodeFlags: NODE_FLAGS, modelOwnerNodeFlags: MO_FLAGS,
    totalMs: rs.map((r) => sum(r.rounds)),
    medianTotalMs,
    medianRoundMs,
    firstRoundMs: rs.map((r) => r.rounds[0]),
    jobIncludingSetupMs: rs.map((r) => r.jobMs),
    // mean round time in each quarter of a run (medians over the runs): a cost that grows with the rounds shows here
    quarterMeansMs: [0, 1, 2, 3].map((q) => median(rs.map((r) => {
      const part = r.rounds.slice(Math.floor((q * r.rounds.length) / 4), Math.floor(((q + 1) * r.rounds.length) / 4));
      return part.length > 0 ? sum(part) / part.length : NaN;
    }))),
    maxAbsDiffToInProcess: Math.max(...rs.map((r) => maxAbsDiff(r.weights, inp.weights))),
    meanAbsDiffToInProcess: Math.max(...rs.map((r) => meanAbsDiff(r.weights, inp.weights))),
  },
  ratioToInProcess: { total: medianTotalMs / inTotal, medianRound: medianRoundMs / median(inp.rounds), target: 1.5 },
};
console.log(JSON.stringify(result, null, 2));
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/networked.json'), `${JSON.stringify(result, null, 2)}\n`);
