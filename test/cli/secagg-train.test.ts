/**
 * `fedcrypt train ... --protocol secagg` in process: the learning layer's
 * aggregator is a weighted federatedMean under localContext over secAgg
 * (every party's role simulated), for FedSGD and FedAvg, both graphs and
 * the malicious-server variant.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTrain, type TrainCliOptions } from '../../src/cli/main.js';
import { secAggAggregator } from '../../src/learning/secure-aggregators.js';
import { secAggOptionsFromParams, secAggSetup } from '../../src/aggregation/secagg-setup.js';
import { secAggPlanParams } from '../../src/deploy/stack-training.js';
import { checkPlan } from '../../src/aggregation/plan.js';
import { TensorType } from '../../src/core/types.js';

const base: TrainCliOptions = { epochs: 1, protocol: 'secagg', precision: 'low', owners: 3, mode: 'fedsgd', batchSize: 32, seed: 1, onBadUpdate: 'abort', maxSteps: 2, progress: false, validationLimit: 200 };

test('train --protocol secagg in process: FedSGD (complete graph) and FedAvg (graph auto, malicious variant) run and write their run folders', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-cli-secagg-'));
  try {
    const l1: string[] = [];
    assert.equal(await runTrain('logistic_regression', 'mnist', { ...base, out: join(dir, 'a') }, (s) => l1.push(s)), 0, l1.join('\n'));
    assert.ok(l1.some((l) => /aggregation: secure aggregation with SecAgg \(complete graph\), semi-honest server/.test(l)), l1.join('\n'));
    const m = JSON.parse(readFileSync(join(dir, 'a', 'metrics.json'), 'utf8')) as { config: { protocol: string } };
    assert.equal(m.config.protocol, 'secagg');
    const l2: string[] = [];
    assert.equal(await runTrain('logistic_regression', 'mnist', { ...base, mode: 'fedavg', secaggGraph: 'auto', secaggAdversary: 'malicious', out: join(dir, 'b') }, (s) => l2.push(s)), 0, l2.join('\n'));
    assert.ok(existsSync(join(dir, 'b', 'metrics.json')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the in-process secagg aggregator: the weighted mean within the fixed point error', async () => {
  const agg = secAggAggregator({ threshold: 3 });
  const updates = [Float32Array.from([1.5, -2, 0.25]), Float32Array.from([0.5, 4, -1]), Float32Array.from([-3, 0, 8])];
  const weights = [10, 30, 60];
  const { mean } = await agg.mean(updates, weights);
  const want = [0, 1, 2].map((j) => updates.reduce((s, u, i) => s + u[j]! * weights[i]!, 0) / 100);
  for (let j = 0; j < 3; j++) assert.ok(Math.abs(mean[j]! - want[j]!) < 1e-6, `${mean[j]} vs ${want[j]}`);
});

test("the complete graph's default threshold is the smallest its variant's privacy rule allows (malicious: 2t > n + n_C)", () => {
  const plan = (params: Record<string, unknown>) => checkPlan({
    protocol: 'secagg', invocationId: 'x', uri: 'federated_secure_sum', target: 'SERVER', bound: 256n, leaves: [{ path: '', type: new TensorType('int32', [1]), size: 1 }],
    clients: ['a:0', 'a:1', 'b:0', 'b:1', 'c:0', 'c:1'], aggregators: [], server: 'mo', params: params as Record<string, string | number | boolean>,
  });
  for (const [adversary, t] of [['semi-honest', 2], ['malicious', 4]] as const) {
    const params = secAggPlanParams({ graph: 'complete', threshold: null, adversary });
    assert.equal(secAggOptionsFromParams(params).adversary, adversary);
    assert.equal(secAggSetup(params as never, plan(params), 'a:0').t, t, adversary);
  }
});
