/**
 * `fedcrypt train --config --mode fedsgd`: FedSGD on the
 * execution stack across 7 processes on 127.0.0.1 (3 data owners serving
 * their own MNIST ranges, 3 compute servers, the model owner's driver), ABY3.
 *
 *  1. the run ends with the model of the same learning rounds in one process
 *     (localContext, the MPC roles simulated), bit for bit, and writes its
 *     run folder and checkpoint;
 *  2. killing server1 mid-run fails the round in progress naming server1,
 *     from the lost link (not a deadline running out); the checkpoint holds
 *     the last completed round; after restarting server1, --resume ends with
 *     the uninterrupted run's model, bit for bit;
 *  3. --resume refuses the checkpoint of another run, naming what differs.
 * No timing is asserted: the waits are hang guards only.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keygen } from '../../src/deploy/keys.js';
import { loadCheckpoint } from '../../src/deploy/checkpoint.js';
import { freePorts, ROLES7, sameBits, startCli, stop, waitFor, type Proc, exitedOrHang } from './helpers.js';
import { initTf } from '../../src/learning/tf.js';
import { loadDataset, slice, sliceDataset } from '../../src/learning/mnist.js';
import { ModelOwner } from '../../src/learning/roles.js';
import { serverOptimizer } from '../../src/learning/train.js';
import { hostLearningClients, trainOnContext } from '../../src/learning/stack.js';
import { localContext } from '../../src/runtime/index.js';
import { mpcAggregation } from '../../src/aggregation/mpc.js';

const MODEL = 'network_a';
const RANGES = [[0, 1024], [1024, 2048], [2048, 3072]] as const;
const BATCH = 32;
const SEED = 5;
const STEPS = 6;
const common = ['train', MODEL, 'mnist', '--config', 'config.json', '--mode', 'fedsgd', '--epochs', '1', '--max-steps', String(STEPS),
  '--batch-size', String(BATCH), '--seed', String(SEED), '--validation-limit', '20', '--round-timeout', '20'];

/** The same FedSGD rounds in one process: the learning round under localContext, ABY3's roles simulated. */
async function inProcess(): Promise<Float32Array> {
  await initTf();
  const data = loadDataset('mnist');
  const ids = hostLearningClients(RANGES.map(([a, b], i) => ({ name: `owner${i}`, data: sliceDataset(data.train, slice(a, b)), shuffleIndex: i })));
  // as the driver builds it: AMSGrad, lr 0.008, cosine decay over the run's rounds
  const mo = new ModelOwner('model-owner', MODEL, data, { seed: SEED, optimizer: serverOptimizer('amsgrad', 0.008, STEPS) });
  const aggregation = mpcAggregation({ protocol: 'aby3' });
  await trainOnContext(localContext({ aggregation }), {
    mode: 'fedsgd', model: MODEL, modelOwner: mo, clients: ids, rounds: STEPS, hyper: { seed: SEED, batchSize: BATCH, localEpochs: 1, clientLr: 0, maxLocalSteps: 0 },
  });
  await aggregation.close?.();
  const w = mo.shareWeights();
  mo.dispose();
  return w;
}

describe('FedSGD across processes on the execution stack', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-stack-sgd-'));
  const procs: Proc[] = [];
  const players = new Map<string, Proc>();
  let uninterrupted: Float32Array | undefined;

  const startPlayer = async (name: string, role: string): Promise<Proc> => {
    const i = Number(/^owner(\d)$/.exec(name)?.[1] ?? -1);
    const extra = role === 'data-owner' ? ['--data', `mnist:${RANGES[i]![0]}-${RANGES[i]![1]}`] : [];
    const p = startCli(name, ['player', '--config', 'config.json', '--name', name, ...extra], dir);
    procs.push(p);
    players.set(name, p);
    await waitFor(p, new RegExp(`${name}: serving on port`), 60_000);
    return p;
  };

  before(async () => {
    const ports = await freePorts(ROLES7.length);
    const entries: Record<string, unknown> = {};
    ROLES7.forEach(([name, role], i) => {
      const k = keygen(name, join(dir, 'keys'));
      entries[name] = { address: `127.0.0.1:${ports[i]}`, role, certificate: k.certificate, publicKey: k.publicKey };
    });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ version: 1, links: 'tls', players: entries }, null, 2));
    await Promise.all(ROLES7.slice(1).map(([name, role]) => startPlayer(name, role)));
  });

  after(async () => {
    for (const p of procs) await stop(p);
    rmSync(dir, { recursive: true, force: true });
  });

  test('ABY3 FedSGD across 7 processes equals the in-process learning rounds bit for bit; run folder and checkpoint written', async () => {
    const driver = startCli('driver', [...common, '--checkpoint-dir', 'ck-a', '--out', 'run-a'], dir);
    procs.push(driver);
    const [code, ref] = await Promise.all([exitedOrHang(driver, 240_000, 'the uninterrupted run'), inProcess()]);
    const out = driver.out.join('\n');
    assert.equal(code, 0, out);
    assert.match(out, new RegExp(`finished round ${STEPS}/${STEPS}`));
    // 1024 examples per client, batch 32: 32 rounds an epoch (from the secure sum of the counts), capped by --max-steps
    assert.match(out, /rounds 1\.\.6 \(32 per epoch, 3 clients\)/);
    const ck = loadCheckpoint(join(dir, 'ck-a'));
    assert.equal(ck.round, STEPS);
    assert.ok(sameBits(ck.weights, ref), 'the networked model differs from the in-process one');
    uninterrupted = ck.weights;
    const m = JSON.parse(readFileSync(join(dir, 'run-a', 'metrics.json'), 'utf8')) as { config: { mode: string; engine: string; stepsPerEpoch: number }; unit: string; epochs: { round: number }[] };
    assert.equal(m.config.mode, 'fedsgd');
    assert.equal(m.config.engine, 'stack');
    assert.equal(m.unit, 'epoch');
    // one validation: the end of the (capped) epoch
    assert.deepEqual(m.epochs.map((e) => e.round), [STEPS]);
    assert.ok(existsSync(join(dir, 'run-a', 'report.html')));
  });

  test('killing server1 mid-run fails the round naming server1; restart + --resume ends with the same model', async (t) => {
    assert.ok(uninterrupted, 'needs the uninterrupted run');
    let killed = false;
    const s1 = players.get('server1')!;
    const driver = startCli('driver-crash', [...common, '--checkpoint-dir', 'ck-b'], dir, (line) => {
      if (!killed && /round 2\/\d+/.test(line)) {
        killed = true;
        s1.child.kill('SIGKILL'); // a player this test started
      }
    });
    procs.push(driver);
    // a generous hang guard, not a bound: the driver must notice the kill and exit on its own
    const code = await exitedOrHang(driver, 120_000, 'server1 was killed and the driver did not fail');
    const out = driver.out.join('\n');
    assert.ok(killed, `server1 was never killed:\n${out}`);
    assert.equal(code, 1, out);
    const failure = /round ([3-6]) failed: player '([^']+)': (.*)/.exec(out);
    assert.ok(failure, `no round failure in:\n${out}`);
    assert.equal(failure[2], 'server1', failure[0]);
    // from an event (the lost link), not from a deadline running out
    assert.match(failure[3]!, /^link lost/, failure[0]);
    t.diagnostic(failure[0]);
    const ck = loadCheckpoint(join(dir, 'ck-b'));
    assert.ok(ck.round >= 2 && ck.round < STEPS, `checkpoint round ${ck.round}`);
    assert.equal(ck.round, Number(failure[1]) - 1, 'the checkpoint is the last completed round');
    assert.match(out, new RegExp(`stopped after round ${ck.round}/${STEPS}; checkpoint of round ${ck.round} in ck-b`));
    // restart server1 alone, and resume
    await s1.exited;
    await startPlayer('server1', 'compute-server');
    const resumed = startCli('driver-resume', [...common, '--checkpoint-dir', 'ck-b', '--resume'], dir);
    procs.push(resumed);
    const code2 = await exitedOrHang(resumed, 240_000, 'the resumed run');
    assert.equal(code2, 0, resumed.out.join('\n'));
    assert.match(resumed.out.join('\n'), new RegExp(`rounds ${ck.round + 1}\\.\\.${STEPS}`));
    const fin = loadCheckpoint(join(dir, 'ck-b'));
    assert.equal(fin.round, STEPS);
    assert.ok(sameBits(fin.weights, uninterrupted), 'the resumed model differs from the uninterrupted run');
  });

  test('--resume refuses the checkpoint of another run, naming what differs', async () => {
    const args = [...common, '--checkpoint-dir', 'ck-a', '--resume'];
    args[args.indexOf('--seed') + 1] = String(SEED + 1);
    const driver = startCli('driver-other', args, dir);
    procs.push(driver);
    const code = await exitedOrHang(driver, 120_000, 'a refused resume');
    const out = driver.out.join('\n');
    assert.equal(code, 1, out);
    assert.match(out, /ck-a: the checkpoint belongs to another run \(seed: checkpoint 5, this run 6\)/);
    // the checkpoint is left as it was
    assert.equal(loadCheckpoint(join(dir, 'ck-a')).round, STEPS);
  });
});
