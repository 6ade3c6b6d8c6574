/**
 * One FedSGD step and one FedAvg round of the learning layer, run by this
 * process as the model owner in a `remoteContext` over six players that are
 * separate OS processes on 127.0.0.1 (3 data owners serving their own MNIST
 * ranges with --data, 3 compute servers), for the insecure reference (its
 * operators opted in), ABY3, Pond and Paillier: the model owner's weights
 * after the round equal, bit for bit, those of the same round under
 * `localContext` with the same protocol's roles simulated in one process.
 * The players are started once for every case.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sameBits, startStackPlayers, stop, type Proc } from './helpers.js';
import { remoteContext } from '../../src/deploy/remote.js';
import { LEARNING_SOURCE } from '../../src/deploy/stack-training.js';
import { clientData } from '../../src/runtime/remote/context.js';
import { initTf } from '../../src/learning/tf.js';
import { loadDataset, slice, sliceDataset } from '../../src/learning/mnist.js';
import { ModelOwner } from '../../src/learning/roles.js';
import { sgd } from '../../src/learning/optimizers.js';
import { hostLearningClients, trainOnContext, type StackMode } from '../../src/learning/stack.js';
import { insecureReferenceAggregation, localContext } from '../../src/runtime/index.js';
import { mpcAggregation } from '../../src/aggregation/mpc.js';
import { paillierAggregation } from '../../src/aggregation/paillier.js';
import type { AggregationProtocol } from '../../src/aggregation/protocol.js';
import type { ExecutionContext } from '../../src/core/index.js';

const MODEL = 'logistic_regression';
const RANGES = [[0, 300], [300, 600], [600, 900]] as const;
const SEED = 7;
const HYPER: Record<StackMode, { seed: number; batchSize: number; localEpochs: number; clientLr: number; maxLocalSteps: number }> = {
  fedsgd: { seed: SEED, batchSize: 32, localEpochs: 1, clientLr: 0, maxLocalSteps: 0 },
  fedavg: { seed: SEED, batchSize: 32, localEpochs: 1, clientLr: 0.3, maxLocalSteps: 3 },
};
type Protocol = 'plaintext' | 'aby3' | 'pond' | 'paillier';

describe('one learning round per protocol across processes equals the in-process round', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-stack-protocols-'));
  const procs: Proc[] = [];

  // (every operator opted in to the insecure reference, for the plaintext case)
  before(() => startStackPlayers(dir, RANGES, procs, ['--insecure-allow-plaintext']));

  after(async () => {
    for (const p of procs) await stop(p);
    rmSync(dir, { recursive: true, force: true });
  });

  /** The model owner's weights after one round of `mode` on `ctx`. */
  async function oneRound(ctx: ExecutionContext & { close?: () => Promise<void> }, mode: StackMode, clients: unknown): Promise<Float32Array> {
    await initTf();
    const data = loadDataset('mnist');
    const mo = new ModelOwner('model-owner', MODEL, data, { seed: SEED, optimizer: sgd({ lr: 1.0 }) });
    try {
      await trainOnContext(ctx, { mode, model: MODEL, modelOwner: mo, clients, rounds: 1, hyper: HYPER[mode] });
      return mo.shareWeights();
    } finally {
      mo.dispose();
    }
  }

  const localAggregation = (p: Protocol): AggregationProtocol =>
    p === 'plaintext' ? insecureReferenceAggregation({ warn: () => {} }) : p === 'paillier' ? paillierAggregation({ numClients: 3, keyBits: 2048 }) : mpcAggregation({ protocol: p });

  for (const protocol of ['plaintext', 'aby3', 'pond', 'paillier'] as const) {
    for (const mode of ['fedsgd', 'fedavg'] as const) {
      test(`${protocol}, ${mode}: the same weights as in one process, bit for bit`, async () => {
        const data = (await initTf(), loadDataset('mnist'));
        const ids = hostLearningClients(RANGES.map(([a, b], i) => ({ name: `owner${i}`, data: sliceDataset(data.train, slice(a, b)), shuffleIndex: i })));
        const aggregation = localAggregation(protocol);
        const local = await oneRound(localContext({ aggregation }), mode, ids);
        await aggregation.close?.();
        const ctx = remoteContext({ config: join(dir, 'config.json'), key: join(dir, 'keys', 'model-owner.key'), protocol, insecureAllowPlaintext: protocol === 'plaintext', timeoutMs: 60_000 });
        let remote: Float32Array;
        try {
          remote = await oneRound(ctx, mode, clientData(LEARNING_SOURCE));
        } finally {
          await ctx.close();
        }
        // the round moved the model (the comparison is not of two initial models)
        const init = await (async () => {
          const mo = new ModelOwner('model-owner', MODEL, data, { seed: SEED, optimizer: sgd({ lr: 1.0 }) });
          const w = mo.shareWeights();
          mo.dispose();
          return w;
        })();
        assert.ok(!sameBits(local, init), 'the round changed the weights');
        assert.ok(sameBits(remote, local), `${protocol} ${mode}: max |difference| ${remote.reduce((m, x, i) => Math.max(m, Math.abs(x - local[i]!)), 0)}`);
      });
    }
  }
});
