/**
 * Dropout tolerance of the role sets (src/aggregation/dropout.ts): with
 * `collectMs`, a client that never contributes is left out, the aggregate is
 * the plaintext reference over the survivors (random inputs), and the result
 * names them; too few survivors, or aggregators that saw different sets,
 * fail the round with nothing revealed (what the receiving party gets is
 * recorded and checked). Run over every role set that collects.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TensorType } from '../../src/core/types.js';
import { PolicyError } from '../../src/core/errors.js';
import { checkPlan, type AggregationPlan } from '../../src/aggregation/plan.js';
import { referenceAggregate, referenceRoles } from '../../src/aggregation/reference.js';
import { mpcRoles } from '../../src/aggregation/mpc-roles.js';
import type { AggregationRoles, ClientInput, RolePolicy } from '../../src/aggregation/roles.js';
import { simulateRoles, type ReceivedMessage } from '../../src/aggregation/simulate.js';
import type { AggregationUri } from '../../src/aggregation/protocol.js';
import type { Transport } from '../../src/transport/channel.js';

const leaf = (path: string, dtype: 'float32' | 'int32' | 'int64' | 'float64', shape: number[]) => {
  const type = new TensorType(dtype, shape);
  return { path, type, size: type.size! };
};

const N = 5;
const CLIENTS = Array.from({ length: N }, (_, i) => `owner${i}`);
// (the honest clients of one process finish within milliseconds: the deadline only has to pass for the absent ones)
const COLLECT_MS = 1000;

function planFor(roles: AggregationRoles, uri: AggregationUri, target: 'SERVER' | 'AGGREGATORS', inv: string, clients = CLIENTS): AggregationPlan {
  const secure = uri === 'federated_secure_sum' || uri === 'federated_secure_sum_at_aggregators';
  return checkPlan({
    protocol: roles.name,
    invocationId: inv,
    uri,
    target,
    leaves: secure ? [leaf('.n', 'int32', [5])] : [leaf('.a', 'float32', [2, 3]), leaf('.b', 'float64', [4])],
    ...(secure ? { bound: 1n << 20n } : {}),
    clients,
    aggregators: roles.aggregatorNames,
    server: 'model-owner',
    params: roles.params,
  });
}

function inputsFor(plan: AggregationPlan): ClientInput[] {
  const weighted = plan.uri === 'federated_weighted_mean_at_aggregators';
  return plan.clients.map(() => ({
    values: plan.leaves.map((l) =>
      l.type.dtype === 'int32' ? Int32Array.from({ length: l.size }, () => Math.floor(Math.random() * (1 << 20))) : l.type.dtype === 'float32' ? Float32Array.from({ length: l.size }, () => Math.fround(Math.random() * 20 - 10)) : Float64Array.from({ length: l.size }, () => Math.random() * 20 - 10),
    ),
    ...(weighted ? { weight: 1 + Math.floor(Math.random() * 100) } : {}),
  }));
}

/** The reference aggregate over the survivors. */
function expected(plan: AggregationPlan, inputs: readonly ClientInput[], survivors: readonly number[]) {
  const weighted = plan.uri === 'federated_weighted_mean_at_aggregators';
  return referenceAggregate({
    uri: plan.uri,
    leaves: plan.leaves,
    clientValues: survivors.map((i) => inputs[i]!.values),
    numClients: survivors.length,
    ...(weighted ? { weights: Float64Array.from(survivors, (i) => inputs[i]!.weight!) } : {}),
  });
}

function close(actual: readonly unknown[], want: readonly unknown[], tol: number, what: string): void {
  assert.equal(actual.length, want.length, what);
  actual.forEach((a, j) => {
    const x = Array.from(a as ArrayLike<number | bigint>, Number);
    const y = Array.from(want[j] as ArrayLike<number | bigint>, Number);
    assert.equal(x.length, y.length);
    x.forEach((v, i) => assert.ok(Math.abs(v - y[i]!) <= tol * Math.max(1, Math.abs(y[i]!)), `${what} leaf ${j}[${i}]: ${v} vs ${y[i]}`));
  });
}

const SETS: [string, () => AggregationRoles, RolePolicy, number][] = [
  ['insecure-reference', () => referenceRoles(), { minContributors: 3, allowInsecure: true }, 1e-12],
  ['mpc-aby3', () => mpcRoles({ protocol: 'aby3', dropout: true }), { minContributors: 3, allowInsecure: false }, 1e-3],
  ['mpc-pond', () => mpcRoles({ protocol: 'pond', dropout: true }), { minContributors: 3, allowInsecure: false }, 1e-3],
  ['mpc-aby3 (means scaled by the servers)', () => mpcRoles({ protocol: 'aby3', dropout: true, meanScaling: 'servers' }), { minContributors: 3, allowInsecure: false }, 1e-3],
  ['mpc-pond (means scaled by the servers)', () => mpcRoles({ protocol: 'pond', dropout: true, meanScaling: 'servers' }), { minContributors: 3, allowInsecure: false }, 1e-3],
];

const CASES: [AggregationUri, 'SERVER' | 'AGGREGATORS'][] = [
  ['federated_weighted_mean_at_aggregators', 'SERVER'],
  ['federated_mean_at_aggregators', 'SERVER'],
  ['federated_sum_at_aggregators', 'SERVER'],
  ['federated_secure_sum', 'SERVER'],
  ['federated_mean_at_aggregators', 'AGGREGATORS'],
  ['federated_secure_sum_at_aggregators', 'AGGREGATORS'],
];

for (const [name, make, policy, tol] of SETS) {
  describe(`dropout: ${name}`, () => {
    for (const [uri, target] of CASES) {
      it(`${uri} to ${target}: completes over the survivors and names them`, async () => {
        const roles = make();
        const plan = planFor(roles, uri, target, `drop/${name.replace(/[^A-Za-z0-9-]/g, "_")}/${uri}/${target}`);
        const inputs = inputsFor(plan);
        const gone = [1, 3];
        const survivors = [0, 2, 4];
        const r = await simulateRoles(roles, plan, inputs, { policy, collectMs: COLLECT_MS, absent: gone.map((i) => CLIENTS[i]!) });
        assert.deepEqual(r.result.contributors, survivors.map((i) => CLIENTS[i]!));
        close(r.result.leaves, expected(plan, inputs, survivors).leaves, tol, `${name} ${uri}`);
        for (const at of r.atAggregators ?? []) assert.deepEqual(at.contributors, r.result.contributors);
        await roles.close?.();
      });
    }

    it('with collectMs and nobody missing: the full aggregate, no contributors field', async () => {
      const roles = make();
      const plan = planFor(roles, 'federated_weighted_mean_at_aggregators', 'SERVER', `drop/${name.replace(/[^A-Za-z0-9-]/g, "_")}/none`);
      const inputs = inputsFor(plan);
      const r = await simulateRoles(roles, plan, inputs, { policy, collectMs: 60_000 });
      assert.equal(r.result.contributors, undefined);
      close(r.result.leaves, expected(plan, inputs, [0, 1, 2, 3, 4]).leaves, tol, name);
    });

    it('too few survivors for the policy: refused, and SERVER receives nothing from an aggregator', async () => {
      const roles = make();
      const plan = planFor(roles, 'federated_mean_at_aggregators', 'SERVER', `drop/${name.replace(/[^A-Za-z0-9-]/g, "_")}/few`);
      const atServer: ReceivedMessage[] = [];
      await assert.rejects(
        simulateRoles(roles, plan, inputsFor(plan), { policy, collectMs: COLLECT_MS, absent: ['owner0', 'owner2', 'owner4'], observe: (m) => void (m.to === 'model-owner' && atServer.push(m)) }),
        (e: unknown) => e instanceof PolicyError && e.rule === 'minContributors',
      );
      assert.deepEqual(atServer.filter((m) => plan.aggregators.includes(m.from)), []);
    });

  });
}

describe('dropout: MPC aggregators that saw different sets reveal nothing', () => {
  for (const kind of ['aby3', 'pond'] as const) {
    it(`${kind}: a client that reached only one aggregator`, async () => {
      const roles = mpcRoles({ protocol: kind, dropout: true });
      const plan = planFor(roles, 'federated_mean_at_aggregators', 'SERVER', `drop/split/${kind}`);
      // owner2 dies after its messages to the first aggregator: the others never get its share
      const dying = (party: string, t: Transport): Transport =>
        party !== 'owner2'
          ? t
          : new Proxy(t, {
              get(target, prop, receiver) {
                if (prop === 'send') return (from: string, to: string, key: string, payload: Uint8Array) => (to === plan.aggregators[0] ? target.send(from, to, key, payload) : Promise.reject(new Error('owner2 died')));
                const v = Reflect.get(target, prop, receiver) as unknown;
                return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
              },
            });
      const atServer: ReceivedMessage[] = [];
      await assert.rejects(
        simulateRoles(roles, plan, inputsFor(plan), {
          policy: { minContributors: 3, allowInsecure: false },
          collectMs: COLLECT_MS,
          transportOf: dying,
          observe: (m) => void (m.to === 'model-owner' && atServer.push(m)),
        }),
        (e: unknown) => e instanceof PolicyError && e.rule === 'dropout',
      );
      assert.deepEqual(atServer, []);
    });
  }
});
