/**
 * The checkpoint of a run on the execution stack (deploy/checkpoint.ts,
 * deploy/stack-params.ts), without processes: an atomic save and an exact
 * round trip of weights and optimizer state; a corrupted file refused; a
 * resume refuses the checkpoint of another run (naming each differing
 * parameter), of another config, of another model size, of a round outside
 * the run. Moved from job.test.ts (which checkpointed SPMD job specs);
 * --resume across processes is tested in stack-fedsgd / stack-processes.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseConfig } from '../../src/transport/config.js';
import { CheckpointError, checkpointPath, flattenOptimizerState, hasCheckpoint, loadCheckpoint, paramDifferences, saveCheckpoint } from '../../src/deploy/checkpoint.js';
import { resolveStackParams, restoreStack, saveStack, type StackParams } from '../../src/deploy/stack-params.js';
import { initTf } from '../../src/learning/tf.js';
import { loadDataset, type MnistData } from '../../src/learning/mnist.js';
import { ModelOwner } from '../../src/learning/roles.js';
import { adam } from '../../src/learning/optimizers.js';
import { ROLES7 } from './helpers.js';

function config(policy?: unknown) {
  const players: Record<string, unknown> = {};
  ROLES7.forEach(([n, r], i) => (players[n] = { address: `127.0.0.1:${6000 + i}`, role: r }));
  return parseConfig(JSON.stringify({ version: 1, ...(policy ? { policy } : {}), players }));
}
const params = (over: Partial<StackParams> = {}): StackParams => ({ ...resolveStackParams(config(), { mode: 'fedavg', epochs: 4, seed: 2 }), ...over });
const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

let data: MnistData;
before(async () => {
  await initTf();
  data = loadDataset('mnist');
});

test('checkpoint: atomic save, exact round trip of weights and optimizer state (property), corruption refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-stack-ckpt-'));
  try {
    assert.equal(hasCheckpoint(dir), false);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.float32Array({ minLength: 1, maxLength: 64 }), fc.float32Array({ maxLength: 64 }), (round, w, m) => {
        const opt = flattenOptimizerState({ t: round, m: m.length ? m : undefined });
        saveCheckpoint(dir, { round, params: params(), configHash: 'h', weights: w, optimizer: opt, epochs: [{ round }] });
        const c = loadCheckpoint(dir);
        assert.equal(c.round, round);
        assert.deepEqual(c.params, params());
        assert.ok(bits(c.weights).equals(bits(w)));
        assert.equal(c.optimizer['t'], round);
        if (m.length) assert.ok(bits(c.optimizer['m'] as Float32Array).equals(bits(m)));
        else assert.equal(c.optimizer['m'], undefined);
        assert.deepEqual(c.epochs, [{ round }]);
      }),
      { numRuns: 30 },
    );
    assert.deepEqual(readdirSync(dir), ['checkpoint.bin'], 'no temp file left behind');
    const buf = readFileSync(checkpointPath(dir));
    buf[buf.length - 40]! ^= 1;
    writeFileSync(checkpointPath(dir), buf);
    assert.throws(() => loadCheckpoint(dir), (e: Error) => e instanceof CheckpointError && /checksum mismatch/.test(e.message));
    writeFileSync(checkpointPath(dir), 'hello world, not a checkpoint at all, really not');
    assert.throws(() => loadCheckpoint(dir), /not a fedcrypt checkpoint/);
    assert.throws(() => loadCheckpoint(join(dir, 'none')), /no checkpoint to resume from/);
    assert.throws(() => flattenOptimizerState({ t: 1, m: [1, 2] }), /field "m"/);
    assert.throws(() => saveCheckpoint('', { round: 0, params: params(), configHash: '', weights: new Float32Array(1), optimizer: {} }), TypeError);
    assert.equal(existsSync(join(dir, 'none')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('resume refuses a checkpoint of another run, naming each differing parameter', () => {
  assert.deepEqual(paramDifferences(params(), params()), []);
  const d = paramDifferences(params(), params({ seed: 9, protocol: 'pond', dataOwners: ['owner0', 'owner1'] }));
  assert.deepEqual(d, ['protocol: checkpoint "aby3", this run "pond"', 'seed: checkpoint 2, this run 9', 'dataOwners: checkpoint ["owner0","owner1","owner2"], this run ["owner0","owner1"]']);
  // FedSGD: the clients and the epoch's length (from the players' secure sum) are part of the run
  const sgd = params({ mode: 'fedsgd', clients: 3, stepsPerEpoch: 10, localEpochs: null, clientLr: null });
  assert.deepEqual(paramDifferences(sgd, { ...sgd, clients: 6, stepsPerEpoch: 5 }).map((x) => x.split(':')[0]), ['clients', 'stepsPerEpoch']);

  // a checkpoint of the retired SPMD job path (its parameters have no engine): refused by name, whatever else matches
  const { engine: _e, ...spmd } = params();
  assert.deepEqual(paramDifferences(spmd as never, params()), ['engine: the checkpoint was written by the retired SPMD job path (a fedcrypt before the execution stack ran FedSGD), this run trains on the execution stack (the two aggregate differently)']);
});

test('saveStack / restoreStack: the model owner comes back exactly; a checkpoint of another run, config, model size or round is refused by name', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-stack-ckpt-'));
  const mk = () => new ModelOwner('model-owner', 'logistic_regression', data, { seed: 2, optimizer: adam({ lr: 0.01 }) });
  const a = mk();
  const b = mk();
  try {
    const c = config();
    assert.equal(restoreStack(dir, params(), c, b), undefined, 'no checkpoint: round 0');
    // two optimizer steps, so that the state (moments, step count) is not the initial one
    for (let i = 0; i < 2; i++) a.updateModel(Float32Array.from({ length: a.numParams }, (_, j) => Math.sin(j + i)));
    saveStack(dir, params(), c, a, { round: 2, epochs: [{ epoch: 1 }, { epoch: 2 }] });
    assert.deepEqual(restoreStack(dir, params(), c, b), { round: 2, epochs: [{ epoch: 1 }, { epoch: 2 }] });
    assert.ok(bits(b.shareWeights()).equals(bits(a.shareWeights())), 'weights');
    // the optimizer state came back too: the next step is the same at both
    const g = Float32Array.from({ length: a.numParams }, (_, j) => Math.cos(j));
    a.updateModel(g);
    b.updateModel(g);
    assert.ok(bits(b.shareWeights()).equals(bits(a.shareWeights())), 'the step after the restore');
    const refused = (p: StackParams, cfg: ReturnType<typeof config>, re: RegExp, mo = b) => assert.throws(() => restoreStack(dir, p, cfg, mo), (e: unknown) => e instanceof CheckpointError && re.test(e.message));
    refused(params({ seed: 3 }), c, /the checkpoint belongs to another run \(seed: checkpoint 2, this run 3\)/);
    refused(params(), config({ minContributors: 4 }), /the checkpoint was written with another config/);
    refused(params({ epochs: 1 }), c, /epochs: checkpoint 4, this run 1/);
    saveStack(dir, params({ epochs: 1 }), c, a, { round: 2, epochs: [] });
    refused(params({ epochs: 1 }), c, /the checkpoint is at round 2, outside 0\.\.1/);
    saveCheckpoint(dir, { round: 1, params: params(), configHash: (loadCheckpoint(dir)).configHash, weights: new Float32Array(3), optimizer: {} });
    refused(params(), c, /3 weights, the model has \d+/);
  } finally {
    a.dispose();
    b.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
