/**
 * A FedAvg round on the execution stack across 7 processes (3 data owners
 * serving their own MNIST ranges, 3 compute servers, this process as the
 * model owner, mutual TLS on loopback) against the same rounds in one process
 * (localContext with the same protocol's roles), in the same run. Both must
 * end with the same validation figures (checked). Reported: the median round
 * time of each and the ratio networked / in-process (issue 13's target for
 * Paillier: <= 1.2).
 *
 *   node --import tsx bench/fedavg-networked.bench.ts   -> bench/results/fedavg-networked.json
 *   env: BENCH_PROTOCOL (paillier | aby3; default paillier), BENCH_ROUNDS (default 4),
 *        BENCH_MODEL (default network_a), BENCH_LOCAL_STEPS (default 10)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROLES7, startCli, stop, waitFor, writeTlsDeployment, type Proc } from '../test/deploy/helpers.js';
import { runStackTraining } from '../src/deploy/stack-training.js';
import { initTf } from '../src/learning/tf.js';
import { loadDataset, slice, sliceDataset } from '../src/learning/mnist.js';
import { ModelOwner } from '../src/learning/roles.js';
import { sgd } from '../src/learning/optimizers.js';
import { hostLearningClients, trainOnContext } from '../src/learning/stack.js';
import { localContext } from '../src/runtime/index.js';
import { mpcAggregation } from '../src/aggregation/mpc.js';
import { paillierAggregation } from '../src/aggregation/paillier.js';

const PROTOCOL = (process.env['BENCH_PROTOCOL'] ?? 'paillier') as 'paillier' | 'aby3';
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 4);
const MODEL = process.env['BENCH_MODEL'] ?? 'network_a';
const HYPER = { seed: 1, batchSize: 64, localEpochs: 1, clientLr: 0.3, maxLocalSteps: Number(process.env['BENCH_LOCAL_STEPS'] ?? 10) };
const RANGES = [[0, 20000], [20000, 40000], [40000, 60000]] as const;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-fedavg-bench-'));
const procs: Proc[] = [];
try {
  await writeTlsDeployment(dir, ROLES7, { policy: { protocols: ['aby3', 'pond', 'paillier'] } });
  await Promise.all(
    ROLES7.slice(1).map(async ([name, role]) => {
      const i = Number(/^owner(\d)$/.exec(name)?.[1] ?? -1);
      const p = startCli(name, ['player', '--config', 'config.json', '--name', name, ...(role === 'data-owner' ? ['--data', `mnist:${RANGES[i]![0]}-${RANGES[i]![1]}`] : [])], dir);
      procs.push(p);
      await waitFor(p, new RegExp(`${name}: serving on port`), 120_000);
    }),
  );
  // networked: this process is the model owner
  const netMs: number[] = [];
  const net = await runStackTraining({
    configPath: join(dir, 'config.json'), keyPath: join(dir, 'keys', 'model-owner.key'), model: MODEL, protocol: PROTOCOL, rounds: ROUNDS,
    batchSize: HYPER.batchSize, seed: HYPER.seed, localEpochs: HYPER.localEpochs, clientLr: HYPER.clientLr, maxLocalSteps: HYPER.maxLocalSteps, lr: 1.0, optimizer: 'sgd',
    validationLimit: 500, out: false, onRound: (r) => netMs.push(r.ms),
  });
  if (net.error) throw net.error;
  // in process: the same rounds, the same roles simulated
  await initTf();
  const data = loadDataset('mnist');
  const ids = hostLearningClients(RANGES.map(([a, b], i) => ({ name: `owner${i}`, data: sliceDataset(data.train, slice(a, b)), shuffleIndex: i })));
  const mo = new ModelOwner('model-owner', MODEL, data, { seed: HYPER.seed, optimizer: sgd({ lr: 1.0 }) });
  const aggregation = PROTOCOL === 'paillier' ? paillierAggregation({ numClients: 3, keyBits: 2048 }) : mpcAggregation({ protocol: 'aby3' });
  const localMs: number[] = [];
  await trainOnContext(localContext({ aggregation }), { mode: 'fedavg', model: MODEL, modelOwner: mo, clients: ids, rounds: ROUNDS, hyper: HYPER, onRound: (r) => localMs.push(r.ms) });
  await aggregation.close?.();
  const v = mo.validateModel(500);
  const same = v.accuracy === net.accuracy && v.loss === net.loss;
  if (!same) throw new Error(`networked and in-process models differ: ${net.accuracy}/${net.loss} vs ${v.accuracy}/${v.loss}`);
  // the first round includes key generation (Paillier) and warm-up on both sides: medians over all rounds, and over rounds 2..
  const out = {
    protocol: PROTOCOL, model: MODEL, rounds: ROUNDS, hyper: HYPER,
    machine: { cpus: cpus().length, loadavg: loadavg() },
    networkedRoundMs: { all: netMs, median: median(netMs), medianAfterFirst: median(netMs.slice(1)) },
    inProcessRoundMs: { all: localMs, median: median(localMs), medianAfterFirst: median(localMs.slice(1)) },
    ratio: median(netMs.slice(1)) / median(localMs.slice(1)),
    sameModel: same,
    target: 'networked FedAvg round with Paillier <= 1.2x the in-process round (issue 13)',
  };
  console.log(JSON.stringify(out, null, 2));
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/fedavg-networked.json', import.meta.url), JSON.stringify(out, null, 2) + '\n');
} finally {
  for (const p of procs) await stop(p);
  rmSync(dir, { recursive: true, force: true });
}
