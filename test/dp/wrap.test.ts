/**
 * The wrapper machinery (src/dp/wrap.ts) with a toy transform over the
 * insecure reference: integer offset encoding into a secure sum. What it
 * checks: the outer plan carries both parameter sets and a plan with other
 * values is refused; the inner plan is derived the same at every party; the
 * client's DP policy refuses before it sends a byte; decoding at either
 * target.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TensorType } from '../../src/core/types.js';
import { PolicyError } from '../../src/core/errors.js';
import { checkPlan, type AggregationPlan } from '../../src/aggregation/plan.js';
import { referenceRoles } from '../../src/aggregation/reference.js';
import { planDigest } from '../../src/aggregation/secagg-crypto.js';
import { simulateRoles } from '../../src/aggregation/simulate.js';
import type { Transport } from '../../src/transport/channel.js';
import { wrapRoles, type DpRolePolicy, type RoleTransform } from '../../src/dp/wrap.js';

const OFFSET = 1000;
const toy = (noiseMultiplier: number): RoleTransform => ({
  name: 'toy',
  params: { toyOffset: OFFSET, toyZ: noiseMultiplier },
  intrinsics: ['federated_sum_at_aggregators'],
  statement: () => ({ mechanism: 'toy', noiseMultiplier, clip: 1, noiseAt: 'clients', epsilon: (d) => Math.sqrt(2 * Math.log(1.25 / d)) / Math.max(noiseMultiplier, 1e-9) }),
  innerShape: (outer) => ({
    uri: outer.target === 'SERVER' ? 'federated_secure_sum' : 'federated_secure_sum_at_aggregators',
    leaves: [{ path: '', type: new TensorType('int32', [outer.leaves[0]!.size]), size: outer.leaves[0]!.size }],
    bound: 1n << 20n,
  }),
  encode: (_o, _i, input) => ({ input: { values: [Int32Array.from(Array.from(input.values[0]! as ArrayLike<number>, (x) => Math.round(Number(x)) + OFFSET))] }, report: { encoded: 1 } }),
  decode: (outer, _i, r) => ({ leaves: [Float64Array.from((r.leaves[0] as bigint[]).map((s) => Number(s) - OFFSET * outer.clients.length))] }),
});

const OPEN: DpRolePolicy = { minContributors: 1, allowInsecure: true };
const leaf = (n: number) => ({ path: '', type: new TensorType('float32', [n]), size: n });

function planOf(roles: { name: string; params: AggregationPlan['params'] }, target: 'SERVER' | 'AGGREGATORS', over: Partial<AggregationPlan> = {}): AggregationPlan {
  return checkPlan({ protocol: roles.name, invocationId: 'round/1', uri: 'federated_sum_at_aggregators', target, leaves: [leaf(5)], clients: ['c0', 'c1', 'c2'], aggregators: ['aggregator'], server: 'server', params: roles.params, ...over });
}
const inputs = [
  [1, 2, 3, 4, 5],
  [0, -1, 7, 2, 2],
  [10, 0, 0, -3, 1],
].map((v) => ({ values: [Float32Array.from(v)] }));

describe('wrapRoles', () => {
  it('runs the inner role set on the derived plan and decodes at the target', async () => {
    const reports: string[] = [];
    const roles = wrapRoles(referenceRoles(), toy(1), { onClientReport: (p) => reports.push(p) });
    assert.equal(roles.name, 'toy.insecure-reference');
    assert.deepEqual(roles.params, { toyOffset: OFFSET, toyZ: 1 });
    for (const target of ['SERVER', 'AGGREGATORS'] as const) {
      const plan = planOf(roles, target);
      const ip = roles.innerPlan(plan);
      assert.equal(ip, roles.innerPlan(plan), 'one inner plan per outer plan object');
      // (bound to the whole outer plan: 128 bits of its SHA-256 digest)
      assert.equal(ip.invocationId, `round/1/toy/${planDigest(plan).subarray(0, 16).toString('base64url')}`);
      assert.notEqual(roles.innerPlan(planOf(roles, target, { params: { ...roles.params, toyZ: 2 } })).invocationId, ip.invocationId);
      assert.equal(ip.protocol, 'insecure-reference');
      const r = await simulateRoles(roles, plan, inputs, { policy: OPEN });
      assert.deepEqual([...(r.result.leaves[0] as Float64Array)], [11, 1, 10, 3, 8]);
    }
    assert.equal(reports.length, 6);
  });

  it('refuses a plan whose transform parameters differ from the party’s own', async () => {
    const roles = wrapRoles(referenceRoles(), toy(1));
    const tampered = planOf(roles, 'SERVER', { params: { ...roles.params, toyZ: 0.5 } });
    await assert.rejects(simulateRoles(roles, tampered, inputs, { policy: OPEN }), (e: unknown) => e instanceof PolicyError && e.rule === 'protocol' && /toyZ/.test(e.message));
    const extra = planOf(roles, 'SERVER', { params: { ...roles.params, toyExtra: 1 } });
    await assert.rejects(simulateRoles(roles, extra, inputs, { policy: OPEN }), (e: unknown) => e instanceof PolicyError && /toyExtra/.test(e.message));
  });

  it('a client whose DP policy asks more noise refuses before it sends a byte', async () => {
    const roles = wrapRoles(referenceRoles(), toy(0.5));
    const plan = planOf(roles, 'SERVER');
    const sent: string[] = [];
    const spy = (party: string, t: Transport): Transport =>
      new Proxy(t, {
        get(target, prop, receiver) {
          if (prop === 'send') return async (from: string, to: string, key: string, p: Uint8Array) => (sent.push(`${party}:${key}`), target.send(from, to, key, p));
          const v = Reflect.get(target, prop, receiver) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    const policyOf = (p: string): DpRolePolicy => (p === 'c1' ? { ...OPEN, dp: { minNoiseMultiplier: 0.8 } } : OPEN);
    await assert.rejects(simulateRoles(roles, plan, inputs, { policyOf, transportOf: spy }), (e: unknown) => e instanceof PolicyError && e.rule === 'dp' && e.party === 'c1' && /noise multiplier/.test(e.message));
    assert.ok(!sent.some((s) => s.startsWith('c1:')), `c1 sent ${sent.filter((s) => s.startsWith('c1:')).join(', ')}`);
    // ε per round, mechanism and where the noise is added are policy rules too
    for (const dp of [{ maxEpsilonPerRound: 1, delta: 1e-5 }, { mechanisms: ['skellam'] }, { noiseAt: ['aggregators' as const] }, { maxEpsilonPerRound: 100 }]) {
      await assert.rejects(simulateRoles(roles, plan, inputs, { policyOf: (p) => (p === 'c0' ? { ...OPEN, dp } : OPEN) }), (e: unknown) => e instanceof PolicyError && e.rule === 'dp' && e.party === 'c0');
    }
    // the same policy accepts a plan with enough noise (and a process-wide local policy works the same)
    const enough = wrapRoles(referenceRoles(), toy(1), { localPolicy: { minNoiseMultiplier: 0.8, maxEpsilonPerRound: 6, delta: 1e-5 } });
    await simulateRoles(enough, planOf(enough, 'SERVER'), inputs, { policyOf });
  });

  it('checks its arguments', () => {
    assert.throws(() => wrapRoles(referenceRoles(), { ...toy(1), name: 'bad name' }), /transform.name/);
    assert.throws(() => wrapRoles(null as never, toy(1)), /"inner"/);
    const clash = { ...toy(1), params: { protocol: 'x' } };
    assert.throws(() => wrapRoles({ ...referenceRoles(), params: { protocol: 'aby3' } }, clash), /protocol/);
  });
});
