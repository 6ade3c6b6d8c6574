/**
 * SecAgg across processes: three data owners as `fedcrypt player` processes
 * (mutual TLS, each serving its MNIST range split among `--clients 2`
 * hosted clients, each its own SecAgg party), no compute server in the
 * config; this process is the model owner and runs SERVER's role.
 *
 *  - one FedSGD round through `remoteContext({ protocol: 'secagg' })` equals
 *    the same round with the plaintext reference in one process, within
 *    SecAgg's fixed-point error (24 fractional bits: |Δmean| ≲ 2^-24 · (1 +
 *    |mean|), times the learning rate);
 *  - `fedcrypt train --config ... --protocol secagg --mode fedavg
 *    --secagg-graph auto` (the driver as its own process) completes a round
 *    and writes its run folder; so does FedSGD with `--secagg-adversary
 *    malicious` (each hosted client signs with its player's key, pinned in
 *    the config as its certificate).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitedOrHang, startCli, stop, waitFor, writeTlsDeployment, type Proc } from './helpers.js';
import { remoteContext } from '../../src/deploy/remote.js';
import { LEARNING_SOURCE, secAggPlanParams } from '../../src/deploy/stack-training.js';
import { clientData } from '../../src/runtime/remote/context.js';
import { initTf } from '../../src/learning/tf.js';
import { equalSlices, loadDataset, slice, sliceDataset } from '../../src/learning/mnist.js';
import { ModelOwner } from '../../src/learning/roles.js';
import { sgd } from '../../src/learning/optimizers.js';
import { hostLearningClients, trainOnContext } from '../../src/learning/stack.js';
import { insecureReferenceAggregation, localContext } from '../../src/runtime/index.js';
import type { ExecutionContext } from '../../src/core/index.js';

const MODEL = 'logistic_regression';
const RANGES = [[0, 200], [200, 400], [400, 600]] as const;
const PER = 2;
const SEED = 7;
const HYPER = { seed: SEED, batchSize: 32, localEpochs: 1, clientLr: 0, maxLocalSteps: 0 };
const ROLES: [string, string][] = [['model-owner', 'model-owner'], ['owner0', 'data-owner'], ['owner1', 'data-owner'], ['owner2', 'data-owner']];

describe('secagg across processes: data owners hosting clients, SERVER at the model owner', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-secagg-processes-'));
  const procs: Proc[] = [];

  before(async () => {
    await writeTlsDeployment(dir, ROLES, { policy: { protocols: ['aby3', 'secagg'] } });
    await Promise.all(
      ROLES.slice(1).map(async ([name], i) => {
        const p = startCli(name, ['player', '--config', 'config.json', '--name', name, '--data', `mnist:${RANGES[i]![0]}-${RANGES[i]![1]}`, '--clients', String(PER)], dir);
        procs.push(p);
        await waitFor(p, new RegExp(`${name}: serving on port`), 90_000);
      }),
    );
  });

  after(async () => {
    for (const p of procs) await stop(p);
    rmSync(dir, { recursive: true, force: true });
  });

  async function oneRound(ctx: ExecutionContext, clients: unknown): Promise<Float32Array> {
    await initTf();
    const mo = new ModelOwner('model-owner', MODEL, loadDataset('mnist'), { seed: SEED, optimizer: sgd({ lr: 1.0 }) });
    try {
      await trainOnContext(ctx, { mode: 'fedsgd', model: MODEL, modelOwner: mo, clients, rounds: 1, hyper: HYPER });
      return mo.shareWeights();
    } finally {
      mo.dispose();
    }
  }

  test('one FedSGD round equals the plaintext reference within the fixed point error', async () => {
    await initTf();
    const data = loadDataset('mnist');
    // the players' clients: data owner i's range in PER equal slices, data order seed * 7919 + i * 100000 + j (learningDataSource)
    const ids = hostLearningClients(RANGES.flatMap(([a, b], i) => {
      const part = sliceDataset(data.train, slice(a, b));
      return equalSlices(part.count, PER).map((s, j) => ({ name: `ref-owner${i}:${j}`, data: sliceDataset(part, s), shuffleIndex: i * 100_000 + j }));
    }));
    const ref = await oneRound(localContext({ aggregation: insecureReferenceAggregation({ warn: () => {} }) }), ids);
    const ctx = remoteContext({
      config: join(dir, 'config.json'), key: join(dir, 'keys', 'model-owner.key'), protocol: 'secagg',
      params: secAggPlanParams({ graph: 'complete', threshold: null, adversary: 'semi-honest' }), timeoutMs: 90_000,
    });
    let remote: Float32Array;
    try {
      remote = await oneRound(ctx, clientData(LEARNING_SOURCE));
      assert.equal(ctx.numClients, RANGES.length * PER);
    } finally {
      await ctx.close();
    }
    const init = new ModelOwner('model-owner', MODEL, data, { seed: SEED, optimizer: sgd({ lr: 1.0 }) });
    const w0 = init.shareWeights();
    init.dispose();
    const moved = ref.reduce((m, x, i) => Math.max(m, Math.abs(x - w0[i]!)), 0);
    const diff = remote.reduce((m, x, i) => Math.max(m, Math.abs(x - ref[i]!)), 0);
    assert.ok(moved > 1e-3, `the round moved the model (${moved})`);
    assert.ok(diff < 1e-5, `max |secagg - reference| = ${diff}`);
  });

  test('fedcrypt train --config --protocol secagg --mode fedavg --secagg-graph auto: the driver as its own process', async () => {
    const out = join(dir, 'run-fedavg');
    const driver = startCli('driver', [
      'train', MODEL, 'mnist', '--config', 'config.json', '--key', join('keys', 'model-owner.key'), '--mode', 'fedavg', '--protocol', 'secagg', '--secagg-graph', 'auto',
      '--epochs', '1', '--max-steps', '2', '--batch-size', '32', '--validation-limit', '200', '--round-timeout', '90', '--out', out,
    ], dir);
    const code = await exitedOrHang(driver, 240_000, 'the secagg FedAvg run');
    assert.equal(code, 0, driver.out.join('\n'));
    assert.ok(driver.out.some((l) => /fedavg over secagg on the execution stack/.test(l)), driver.out.join('\n'));
    assert.ok(existsSync(join(out, 'metrics.json')));
    const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as { config: { protocol: string } };
    assert.equal(m.config.protocol, 'secagg');
  });

  test("fedcrypt train --config --protocol secagg --secagg-adversary malicious (FedSGD): the clients sign with their players' pinned certificate keys", async () => {
    const out = join(dir, 'run-fedsgd-malicious');
    const driver = startCli('driver', [
      'train', MODEL, 'mnist', '--config', 'config.json', '--key', join('keys', 'model-owner.key'), '--protocol', 'secagg', '--secagg-adversary', 'malicious',
      '--epochs', '1', '--max-steps', '2', '--batch-size', '32', '--validation-limit', '200', '--round-timeout', '90', '--out', out,
    ], dir);
    const code = await exitedOrHang(driver, 240_000, 'the malicious-variant FedSGD run');
    assert.equal(code, 0, [...driver.out, ...procs.flatMap((p) => p.out.slice(-8))].join('\n'));
    assert.ok(driver.out.some((l) => /round 2\/2/.test(l)), driver.out.join('\n'));
    assert.ok(existsSync(join(out, 'metrics.json')));
  });
});
