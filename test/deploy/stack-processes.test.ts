/**
 * `fedcrypt train --config --mode fedavg`: FedAvg on the execution stack
 * across 7 processes (3 data owners serving their own MNIST ranges, 3
 * compute servers, the model owner's driver), with ABY3 at AGGREGATORS. The
 * run folder is written as in process, and the model is the one the same
 * learning rounds give in one process, to the last bit of the validation
 * figures. The run checkpoints after every round; a driver killed after
 * round 1 and started again with --resume ends with the same model.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sameBits, startCli, startStackPlayers, stop, type Proc } from './helpers.js';
import { loadCheckpoint } from '../../src/deploy/checkpoint.js';
import { initTf } from '../../src/learning/tf.js';
import { loadDataset, slice, sliceDataset } from '../../src/learning/mnist.js';
import { ModelOwner } from '../../src/learning/roles.js';
import { sgd } from '../../src/learning/optimizers.js';
import { hostLearningClients, trainOnContext } from '../../src/learning/stack.js';
import { localContext } from '../../src/runtime/index.js';
import { mpcAggregation } from '../../src/aggregation/mpc.js';
import { paillierAggregation } from '../../src/aggregation/paillier.js';
import type { AggregationProtocol } from '../../src/aggregation/protocol.js';

const MODEL = 'logistic_regression';
const RANGES = [[0, 400], [400, 800], [800, 1200]] as const;
const HYPER = { seed: 3, batchSize: 32, localEpochs: 1, clientLr: 0.3, maxLocalSteps: 4 };
const ROUNDS = 2;

describe('FedAvg across processes on the execution stack', { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-stack-'));
  const procs: Proc[] = [];

  before(() => startStackPlayers(dir, RANGES, procs));

  after(async () => {
    for (const p of procs) await stop(p);
    rmSync(dir, { recursive: true, force: true });
  });

  const args = (protocol: string) => ['train', MODEL, 'mnist', '--config', 'config.json', '--mode', 'fedavg', '--protocol', protocol, '--epochs', String(ROUNDS),
    '--batch-size', String(HYPER.batchSize), '--max-steps', String(HYPER.maxLocalSteps), '--seed', String(HYPER.seed), '--client-lr', String(HYPER.clientLr), '--validation-limit', '100'];

  /** The same FedAvg rounds in one process, with the same protocol's roles simulated. */
  async function inProcess(aggregation: AggregationProtocol): Promise<{ accuracy: number; loss: number }[]> {
    await initTf();
    const data = loadDataset('mnist');
    const ids = hostLearningClients(RANGES.map(([a, b], i) => ({ name: `owner${i}`, data: sliceDataset(data.train, slice(a, b)), shuffleIndex: i })));
    const mo = new ModelOwner('model-owner', MODEL, data, { seed: HYPER.seed, optimizer: sgd({ lr: 1.0 }) });
    const local: { accuracy: number; loss: number }[] = [];
    await trainOnContext(localContext({ aggregation }), {
      mode: 'fedavg', model: MODEL, modelOwner: mo, clients: ids, rounds: ROUNDS, hyper: HYPER,
      afterRound: () => void local.push(mo.validateModel(100)),
    });
    await aggregation.close?.();
    return local;
  }

  for (const protocol of ['aby3', 'paillier'] as const) {
    test(`${protocol}: the driver trains, writes the run folder, and its model equals the in-process one`, async () => {
      const out = `run-${protocol}`;
      const driver = startCli('driver', [...args(protocol), '--out', out, '--checkpoint-dir', `ck-${protocol}`], dir);
      procs.push(driver);
      const code = await driver.exited;
      assert.equal(code, 0, driver.out.join("\n") + (process.env["DBG"] ? procs.map((p) => p.out.join("\n")).join("\n") : ""));
      assert.match(driver.out.join("\n"), new RegExp(`finished round ${ROUNDS}/${ROUNDS}`));
      assert.ok(existsSync(join(dir, out, 'report.html')), 'no report.html');
      const m = JSON.parse(readFileSync(join(dir, out, 'metrics.json'), 'utf8')) as { config: { mode: string; protocol: string }; epochs: { accuracy: number; loss: number }[] };
      assert.equal(m.config.mode, 'fedavg');
      assert.equal(m.config.protocol, protocol);
      assert.equal(m.epochs.length, ROUNDS);
      const local = await inProcess(protocol === 'aby3' ? mpcAggregation({ protocol: 'aby3' }) : paillierAggregation({ numClients: 3, keyBits: 2048 }));
      assert.deepEqual(m.epochs.map((e) => [e.accuracy, e.loss]), local.map((e) => [e.accuracy, e.loss]));
      // the data owners served their own data; their logs show the session
      for (const p of procs.filter((x) => /^owner/.test(x.name))) assert.match(p.out.join('\n'), /session [0-9a-f]{16} (opened|ended)/);
    });
  }

  test('aby3: the driver killed after round 1, --resume ends with the uninterrupted run\'s model bit for bit', async () => {
    const full = loadCheckpoint(join(dir, 'ck-aby3'));
    assert.equal(full.round, ROUNDS, 'needs the uninterrupted aby3 run');
    let killed = false;
    const first = startCli('driver-killed', [...args('aby3'), '--checkpoint-dir', 'ck-cut'], dir, (line) => {
      if (!killed && /round 1\/2/.test(line)) {
        killed = true;
        first.child.kill('SIGKILL'); // the driver this test started
      }
    });
    procs.push(first);
    await first.exited;
    assert.ok(killed, first.out.join('\n'));
    assert.equal(loadCheckpoint(join(dir, 'ck-cut')).round, 1);
    const resumed = startCli('driver-resumed', [...args('aby3'), '--checkpoint-dir', 'ck-cut', '--resume', '--out', 'run-cut'], dir);
    procs.push(resumed);
    assert.equal(await resumed.exited, 0, resumed.out.join('\n'));
    assert.match(resumed.out.join('\n'), /rounds 2\.\.2/);
    const fin = loadCheckpoint(join(dir, 'ck-cut'));
    assert.equal(fin.round, ROUNDS);
    assert.ok(sameBits(fin.weights, full.weights), 'the resumed FedAvg model differs from the uninterrupted one');
    // the run folder of the resumed run has both rounds' metrics (the first from the checkpoint)
    const m = JSON.parse(readFileSync(join(dir, 'run-cut', 'metrics.json'), 'utf8')) as { epochs: { round: number }[] };
    assert.deepEqual(m.epochs.map((e) => e.round), [1, 2]);
  });
});
