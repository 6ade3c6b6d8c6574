/**
 * Attacks on the DP wrappers (src/dp/wrap.ts, central.ts, distributed.ts) by
 * a malicious SERVER / model owner driving honest parties. Each test runs
 * the honest code of every victim and asserts what the victim sends or what
 * the attacker receives.
 *
 *   1. plan split, central adaptive with noise at the aggregators: SERVER
 *      hands the clients a plan at clip 1 and the aggregators the same plan
 *      at clip 1e-3 (their noise σ = z_v · clip shrinks 1000-fold). Both outer
 *      plans derive the SAME inner plan, so before the fix the inner secure
 *      sum ran and SERVER received Σ clip_1(x_i) with noise of std ~1e-3.
 *   2. plan split, distributed DP: the victim sees a roster of 8 clients (its
 *      DP policy accepts the noise of 8 shares), the aggregators and SERVER a
 *      roster of 2 (the victim and one other): before the fix (MPC binds only
 *      the inner invocation id) SERVER received a sum holding 2 noise shares.
 *   Fix of 1-2: the inner plan's invocation id carries a digest of the whole
 *   outer plan (wrap.ts), so parties holding different outer plans run
 *   different inner instances and no aggregate is released.
 *   3. a malicious aggregator that adds no noise (central, noise at the
 *      aggregators, ABY3): the released sum still holds the two honest
 *      aggregators' noises (variance 2 (zC)²; one honest aggregator suffices).
 *      Holds before and after the fixes (no fix needed).
 *   4. the discrete Gaussian below σ = 1/2 (scaled units): a published config
 *      (bits 4, 8 clients, z 0.5) whose statement claimed noise multiplier
 *      0.075 while each client's N_Z(0, σ²), σ = 0.18, is 0 with probability
 *      1 − 2e-7: the aggregate held no noise. The statement now gives 0 there
 *      (as the accountant: no KLS21 bound below σ = 1/2).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TensorType } from '../../src/core/types.js';
import { PolicyError } from '../../src/core/errors.js';
import { checkPlan, type AggregationPlan } from '../../src/aggregation/plan.js';
import { mpcInstanceId, mpcRoles } from '../../src/aggregation/mpc-roles.js';
import { referenceRoles } from '../../src/aggregation/reference.js';
import { simulateRoles } from '../../src/aggregation/simulate.js';
import type { AggregationRoles, ClientInput, RolePolicy } from '../../src/aggregation/roles.js';
import type { Transport } from '../../src/transport/channel.js';
import { dpGaussianAdaptive, dpGaussianFixed } from '../../src/dp/central.js';
import { clipByGlobalNorm, type FloatLeaf } from '../../src/dp/central-clip.js';
import { distributedDp } from '../../src/dp/distributed.js';
import { observedNoiseSource } from '../../src/dp/noise.js';
import type { DpRolePolicy } from '../../src/dp/wrap.js';
import { chiSquareBound, TestCsprng, Z_BOUND } from './central-helpers.js';
import { testNoise } from './test-noise.js';

const SECURE: RolePolicy = { minContributors: 1, allowInsecure: false };
/** How long a victim waits for an inner protocol that another party runs under another plan (never reached by an honest run). */
const SPLIT_TIMEOUT_MS = 1500;

function planOf(roles: AggregationRoles, id: string, clients: readonly string[], sizes: readonly number[], params = roles.params): AggregationPlan {
  return checkPlan({
    protocol: roles.name, invocationId: id, uri: 'federated_sum_at_aggregators', target: 'SERVER',
    leaves: sizes.map((n, j) => ({ path: `.w${j}`, type: new TensorType('float64', [n]), size: n })),
    clients, aggregators: roles.aggregatorNames, server: 'model-owner', params,
  });
}

/** Records who sent what under which key (a spy on each party's transport). */
function sendSpy(log: { from: string; key: string }[]): (party: string, t: Transport) => Transport {
  return (_party, t) =>
    new Proxy(t, {
      get(target, prop) {
        if (prop === 'send') {
          return (from: string, to: string, key: string, payload: Uint8Array) => {
            log.push({ from, key });
            return target.send(from, to, key, payload);
          };
        }
        const v = Reflect.get(target, prop) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
}

/** The SERVER's split: clients run `clientPlan`, the aggregators and SERVER `otherPlan` (honest role code at every party). */
function splitRoles(roles: AggregationRoles, otherPlan: AggregationPlan): AggregationRoles {
  return {
    name: roles.name, secure: roles.secure, intrinsics: roles.intrinsics, aggregatorCount: roles.aggregatorCount, aggregatorNames: roles.aggregatorNames, params: roles.params,
    client: (ctx, plan, input) => roles.client(ctx, plan, input),
    aggregator: (ctx, _plan, i) => roles.aggregator(ctx, otherPlan, i),
    server: (ctx) => roles.server(ctx, otherPlan),
  };
}

describe('a malicious SERVER against the DP wrappers', () => {
  it('central adaptive, noise at the aggregators: clients at clip 1, aggregators at clip 1e-3 releases nothing', async () => {
    const rng = new TestCsprng('attack split clip');
    const roles = dpGaussianAdaptive(mpcRoles({ protocol: 'aby3', aggregatorAddends: true }), { noiseMultiplier: 1, clientsPerRound: 3, clippedCountStddev: 1, initialClip: 1, noiseAt: 'aggregators', rng: rng.rng });
    const clients = ['owner0', 'owner1', 'owner2'];
    const atClip = (c: number) => planOf(roles, 'attack/split-clip', clients, [6], { ...roles.params, dpClip: c });
    const victims = atClip(1), forAggregators = atClip(1e-3);
    // each victim accepts its plan (its policy: clip at most 1, z at least 1; the aggregators hold no DP policy of a data owner)
    const policy: DpRolePolicy = { ...SECURE, dp: { maxClip: 1, minNoiseMultiplier: 1 } };
    const inputs: ClientInput[] = clients.map(() => {
      const v = new Float64Array(6);
      rng.gaussian(v, 0.5);
      return { values: [v] };
    });
    const sent: { from: string; key: string }[] = [];
    const run = simulateRoles(splitRoles(roles, forAggregators), victims, inputs, { policyOf: (party) => (party.startsWith('owner') ? policy : SECURE), timeoutMs: SPLIT_TIMEOUT_MS, transportOf: sendSpy(sent) });
    const outcome = await run.then((r) => ({ ok: true as const, r }), (error: unknown) => ({ ok: false as const, error }));
    if (outcome.ok) {
      // what SERVER would hold: the clipped sum with noise std √3 · z_v · 1e-3
      const clipped = inputs.map((x) => clipByGlobalNorm(x.values as FloatLeaf[], 1).values[0]!);
      const err = Math.max(...Array.from({ length: 6 }, (_, i) => Math.abs((outcome.r.result.leaves[0] as Float64Array)[i]! - clipped.reduce((a, v) => a + v[i]!, 0))));
      assert.fail(`SERVER received the clients' clipped sum within ${err.toExponential(2)} (noise for clip 1e-3, clients clipped at 1)`);
    }
    assert.match(String(outcome.error), /nothing from 'owner\d'/);
    // no aggregate was released: the victims sent their shares to the inner instance of THEIR plan, which no aggregator runs
    const ids = [victims, forAggregators].map((p) => mpcInstanceId(roles.wrappedFor(p).innerPlan(p).invocationId, 'low'));
    assert.notEqual(ids[0], ids[1]);
    assert.ok(sent.some((m) => clients.includes(m.from)));
    assert.ok(sent.filter((m) => clients.includes(m.from)).every((m) => m.key.includes(ids[0]!) && !m.key.includes(ids[1]!)), JSON.stringify(sent.slice(0, 3)));
  });

  it('distributed DP over ABY3: the victim sees 8 clients, the aggregators 2: no aggregate with 2 noise shares', async () => {
    const ddp = distributedDp({ mechanism: 'dgauss', bits: 20, clip: 1, noiseMultiplier: 1, expectedClients: 8, noise: testNoise('attack split roster') });
    const roles = ddp.over(mpcRoles({ protocol: 'aby3' }));
    const eight = Array.from({ length: 8 }, (_, i) => `owner${i}`);
    const victims = planOf(roles, 'attack/split-roster', eight, [5]);
    const forAggregators = planOf(roles, 'attack/split-roster', eight.slice(0, 2), [5]);
    // the victim's own policy: noise multiplier at least 0.9 (8 shares give ~1, 2 shares ~0.5)
    const dp = { minNoiseMultiplier: 0.9 };
    assert.ok(roles.transform.statement(victims).noiseMultiplier >= 0.9);
    assert.ok(roles.transform.statement(forAggregators).noiseMultiplier < 0.9, 'the victim refuses the aggregators\' plan itself');
    // (the aggregators, not data owners, hold no DP policy)
    const policy: DpRolePolicy = { ...SECURE, dp };
    const inputs: ClientInput[] = eight.map((_, k) => ({ values: [Float64Array.from({ length: 5 }, (_, i) => 0.3 * Math.sin(i + k))] }));
    const sent: { from: string; key: string }[] = [];
    const run = simulateRoles(splitRoles(roles, forAggregators), victims, inputs, { policyOf: (party) => (party.startsWith('owner') ? policy : SECURE), timeoutMs: SPLIT_TIMEOUT_MS, absent: eight.slice(2), transportOf: sendSpy(sent) });
    const outcome = await run.then((r) => ({ ok: true as const, r }), (error: unknown) => ({ ok: false as const, error }));
    assert.ok(!outcome.ok, 'SERVER received a sum of 2 clients with 2 of the 8 noise shares the victim counted on');
    // the aggregators refuse the 2-client plan by the mechanism's own floor (⌈8/2⌉ = 4 clients), or wait for the victims in vain
    assert.match(String(outcome.error), /nothing from 'owner\d'|fewer than the 4 the mechanism needs/);
    const ids = [victims, forAggregators].map((p) => mpcInstanceId(roles.innerPlan(p).invocationId, 'low'));
    assert.ok(sent.some((m) => m.from === 'owner0') && sent.some((m) => m.from === 'owner1'), 'the victims sent (to their own instance)');
    assert.ok(sent.filter((m) => m.from.startsWith('owner')).every((m) => m.key.includes(ids[0]!) && !m.key.includes(ids[1]!)));
  });

  it('distributed DP: a party with no DP policy of its own still refuses a plan of fewer than half the expected clients, before sending', async () => {
    const ddp = distributedDp({ mechanism: 'skellam', bits: 16, clip: 1, noiseMultiplier: 1, expectedClients: 10, noise: testNoise('floor') });
    const roles = ddp.over(mpcRoles({ protocol: 'aby3' }));
    const four = ['owner0', 'owner1', 'owner2', 'owner3'];
    const plan = planOf(roles, 'attack/few-clients', four, [5]);
    assert.equal(roles.transform.statement(plan).minClients, 5);
    const sent: { from: string; key: string }[] = [];
    const inputs: ClientInput[] = four.map(() => ({ values: [new Float64Array(5)] }));
    await assert.rejects(simulateRoles(roles, plan, inputs, { policy: SECURE, transportOf: sendSpy(sent) }), (e: unknown) => e instanceof PolicyError && e.rule === 'dp' && /4 client\(s\), fewer than the 5 the mechanism needs/.test(e.message));
    assert.deepEqual(sent, [], 'nobody sent a byte');
    // five of ten expected is enough
    const five = planOf(roles, 'attack/five-clients', [...four, 'owner4'], [5]);
    assert.equal(roles.transform.statement(five).clients, 5);
  });

  it('central, noise at the aggregators: an aggregator that adds no noise leaves the honest ones\' in the released sum', async () => {
    const rng = new TestCsprng('attack zero addend');
    const z = 1, C = 1, d = 256;
    const roles = dpGaussianFixed(mpcRoles({ protocol: 'aby3', aggregatorAddends: true }), { noiseMultiplier: z, clip: C, clientsPerRound: 3, noiseAt: 'aggregators', rng: rng.rng });
    const clients = ['owner0', 'owner1', 'owner2'];
    const plan = planOf(roles, 'attack/zero-addend', clients, [d]);
    let asked = 0;
    // aggregator 0 runs the honest protocol with an addend of zeros (it skips its noise share)
    const malicious: AggregationRoles = {
      ...splitRoles(roles, plan),
      aggregator: (ctx, p, i) => (i === 0 ? roles.wrappedFor(p).aggregator({ ...ctx, aggregatorAddend: (_j: number, size: number) => (asked++, new Float64Array(size)) }, p, i) : roles.aggregator(ctx, p, i)),
    };
    const inputs: ClientInput[] = clients.map(() => {
      const v = new Float64Array(d);
      rng.gaussian(v, 0.1);
      return { values: [v] };
    });
    const r = await simulateRoles(malicious, plan, inputs, { policy: SECURE });
    const clipped = inputs.map((x) => clipByGlobalNorm(x.values as FloatLeaf[], C).values[0]!);
    const got = r.result.leaves[0] as Float64Array;
    let ss = 0;
    for (let i = 0; i < d; i++) ss += (got[i]! - clipped.reduce((a, v) => a + v[i]!, 0)) ** 2;
    // ss / (2 (zC)²) ~ chi-square(d): within the Z_BOUND quantiles (false failure ~1e-6 each side)
    const k = ss / (2 * (z * C) ** 2);
    assert.ok(k <= chiSquareBound(d) && k >= chiSquareBound(d, -Z_BOUND), `noise energy ${k.toFixed(1)} for chi-square(${d})`);
    assert.equal(asked, 1, 'the malicious aggregator was asked for its addend');
  });

  it('the discrete Gaussian below σ = 1/2: a client whose policy asks a noise multiplier refuses before it sends', async () => {
    // the model owner's published config (bits 4 for 8 clients): σ_local · s = 0.18
    const drawn: Int32Array[] = [];
    const noise = observedNoiseSource(testNoise('attack small sigma'), (_kind, z) => drawn.push(Int32Array.from(z)));
    const ddp = distributedDp({ mechanism: 'dgauss', bits: 4, clip: 1, noiseMultiplier: 0.5, expectedClients: 8, noise });
    const p = ddp.params(22);
    assert.ok(Math.sqrt(p.localVariance) < 0.5);
    // the harm: 8 clients' N_Z(0, 0.18²) shares over 32 coordinates are all 0 (P(x ≠ 0) ≤ 2 exp(-1/(2σ²)) = 4e-7 each; false failure ≤ 1e-4)
    const z = new Int32Array(8 * p.paddedDim);
    noise.dgauss(z, p.localVariance);
    assert.ok(z.every((v) => v === 0));
    const roles = ddp.over(referenceRoles());
    const clients = Array.from({ length: 8 }, (_, i) => `owner${i}`);
    const plan = planOf(roles, 'attack/small-sigma', clients, [15, 7]);
    const st = roles.transform.statement(plan);
    assert.equal(st.noiseMultiplier, 0, `stated noise multiplier ${st.noiseMultiplier} for an aggregate without noise`);
    const sentBy = new Set<string>();
    const policy: DpRolePolicy = { minContributors: 1, allowInsecure: true, dp: { minNoiseMultiplier: 0.05 } };
    const inputs = clients.map((_, k) => ({ values: [Float64Array.from({ length: 15 }, (_, i) => 0.1 * Math.sin(i + k)), Float64Array.from({ length: 7 }, (_, i) => 0.1 * Math.cos(i + k))] }));
    const before = drawn.length;
    await assert.rejects(simulateRoles(roles, plan, inputs, { policy, observe: (m) => sentBy.add(m.from) }), (e: unknown) => e instanceof PolicyError && e.rule === 'dp');
    assert.deepEqual([...sentBy].filter((s) => clients.includes(s)), []);
    assert.equal(drawn.length, before, 'no client drew noise');
  });
});
