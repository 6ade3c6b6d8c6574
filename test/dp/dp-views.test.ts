/**
 * What each party of a distributed-DP aggregation receives, spied on the
 * transport (`simulateRoles`' `observe`: every message each party receives):
 *
 * - every message the SERVER and the aggregators receive is one of the inner
 *   protocol's (its keys derive from the inner plan's invocation id), i.e. of
 *   the noised, rotated, quantized residues: none carries a client's raw
 *   input nor its quantized values before the noise (searched byte for byte);
 * - over the insecure reference (values in the clear) the aggregator receives
 *   from each client exactly that client's noised residues, and the SERVER
 *   the sum of them: the noise was added before anything left the client;
 * - a plan with tampered DP parameters is refused by every party; a client
 *   whose DP policy asks more noise than the plan gives refuses before it
 *   sends a byte.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyError } from '../../src/core/errors.js';
import { checkPlan } from '../../src/aggregation/plan.js';
import { referenceRoles } from '../../src/aggregation/reference.js';
import { simulateRoles, type ReceivedMessage } from '../../src/aggregation/simulate.js';
import type { Transport } from '../../src/transport/channel.js';
import { mpcInstanceId } from '../../src/aggregation/mpc-roles.js';
import { distributedDp } from '../../src/dp/distributed.js';
import { observedNoiseSource, type NoiseSource } from '../../src/dp/noise.js';
import { RdpAccountant } from '../../src/dp/rdp-accountant.js';
import { skellamEvent } from '../../src/dp/events.js';
import { wrapRoles, type DpRolePolicy } from '../../src/dp/wrap.js';
import { innerRoleSets, planFor } from './ddp-harness.js';
import { testNoise, testRng } from './test-noise.js';

const CLIENTS = ['c0', 'c1', 'c2', 'c3'];
const policy: DpRolePolicy = { minContributors: 1, allowInsecure: true };
const inputOf = (k: number) => ({ values: [Float32Array.from({ length: 15 }, (_, i) => Math.sin(i + 10 * k) * 0.05), Float32Array.from({ length: 7 }, (_, i) => Math.cos(i * k) * 0.05)] });

/** Whether `hay` contains 16 consecutive bytes of `needle` (at a 4-byte step). */
function containsRun(hay: Uint8Array, needle: Uint8Array): boolean {
  const h = Buffer.from(hay);
  for (let at = 0; at + 16 <= needle.length; at += 4) if (h.indexOf(Buffer.from(needle.subarray(at, at + 16))) >= 0) return true;
  return false;
}
const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** A `transportOf` for simulateRoles that adds to `sentBy` every party that sends anything. */
function recordSenders(sentBy: Set<string>) {
  return (party: string, t: Transport): Transport =>
    new Proxy(t, {
      get(target, prop, receiver) {
        if (prop === 'send') return async (...a: Parameters<Transport['send']>) => (sentBy.add(party), target.send(...a));
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
      },
    });
}

/** A noise source that remembers every noise vector it hands out (the test's spy on the client's own randomness). */
function spyNoise(inner: NoiseSource, drawn: Int32Array[]): NoiseSource {
  return observedNoiseSource(inner, (_kind, noise) => drawn.push(noise));
}

describe('what each party receives', () => {
  for (const [name, make] of innerRoleSets()) {
    it(`over ${name}: the SERVER and aggregators get only the inner protocol's messages of noised residues`, async () => {
      const inner = make();
      const drawn: Int32Array[] = [];
      const ddp = distributedDp({ mechanism: 'dgauss', bits: 16, clip: 1, noiseMultiplier: 1, expectedClients: 4, noise: spyNoise(testNoise(`views ${name}`), drawn) });
      // each client's residues and its values before the noise, as its own encode made them
      const sent = new Map<string, { residues: Int32Array; unnoised: Int32Array }>();
      const t = ddp.transform;
      const roles = wrapRoles(inner, {
        ...t,
        encode(outer, ip, input, me) {
          const before = drawn.length;
          // (synchronous: no other client's encode runs in between)
          const r = t.encode(outer, ip, input, me) as Exclude<ReturnType<typeof t.encode>, Promise<unknown>>;
          const residues = r.input.values[0] as Int32Array;
          assert.equal(drawn.length, before + 1, 'one noise vector per client');
          const noise = drawn[before]!;
          sent.set(me, { residues, unnoised: residues.map((v, i) => (((v - noise[i]!) % 65536) + 65536) % 65536) });
          return r;
        },
      });
      const plan = planFor(roles, `views/${name}`, 'federated_mean_at_aggregators');
      const seen: ReceivedMessage[] = [];
      const inputs = CLIENTS.map((_, k) => inputOf(k));
      const r = await simulateRoles(roles, plan, inputs, { policy, observe: (m) => seen.push(m) });
      assert.equal(sent.size, CLIENTS.length);
      const innerId = roles.innerPlan(plan).invocationId;
      const ids = [innerId, mpcInstanceId(innerId, 'low')];
      const atServerOrAggs = seen.filter((m) => m.to === plan.server || plan.aggregators.includes(m.to));
      assert.ok(atServerOrAggs.length > 0);
      for (const m of atServerOrAggs) {
        assert.ok(ids.some((id) => m.key.includes(id)), `${m.to} received '${m.key}' from ${m.from}, not a message of the inner protocol`);
        for (const [k, x] of inputs.entries()) for (const leaf of x.values) assert.ok(!containsRun(m.payload, bytesOf(leaf)), `${m.to} received client ${k}'s raw input in '${m.key}'`);
        for (const [c, s] of sent) assert.ok(!containsRun(m.payload, bytesOf(s.unnoised)), `${m.to} received ${c}'s un-noised quantized values in '${m.key}'`);
      }
      if (name === 'insecure-reference') {
        // values in the clear: exactly the noised residues, and their sum at SERVER
        for (const c of CLIENTS) {
          const m = seen.find((x) => x.from === c && x.to === plan.aggregators[0])!;
          assert.deepEqual(new Int32Array(m.payload.slice(8).buffer), sent.get(c)!.residues);
        }
      }
      assert.equal(r.result.leaves.length, 2);
      await inner.close?.();
    });
  }
});

describe('refusals before any value moves', () => {
  const ddp = distributedDp({ mechanism: 'skellam', bits: 16, clip: 1, noiseMultiplier: 0.8, expectedClients: 4, rng: testRng('refusals') });
  const roles = ddp.over(referenceRoles());
  const inputs = CLIENTS.map((_, k) => inputOf(k));

  it('a plan with tampered DP parameters is refused by every party', async () => {
    for (const [k, v] of [['dpNoiseMultiplier', 0.1], ['dpClip', 10], ['dpBits', 20], ['dpMechanism', 'dgauss'], ['dpExpectedClients', 1], ['dpRotationSeed', 'fixed']] as const) {
      const plan = checkPlan({ ...planFor(roles, 'tamper/1', 'federated_mean_at_aggregators'), params: { ...roles.params, [k]: v } });
      const refusals: string[] = [];
      const transportOf = (party: string, t: Transport): Transport => t;
      const run = simulateRoles(roles, plan, inputs, { policy, transportOf });
      await assert.rejects(run, (e: unknown) => e instanceof PolicyError && e.rule === 'protocol' && e.message.includes(k));
      // each party on its own refuses it too
      for (const c of CLIENTS) {
        await roles.client({ me: c, transport: null as never, policy }, plan, inputs[0]!).catch((e: unknown) => e instanceof PolicyError && e.rule === 'protocol' && refusals.push(c));
      }
      await roles.server({ me: 'server', transport: null as never, policy }, plan).catch((e: unknown) => e instanceof PolicyError && refusals.push('server'));
      await roles.aggregator({ me: 'aggregator', transport: null as never, policy }, plan, 0).catch((e: unknown) => e instanceof PolicyError && refusals.push('aggregator'));
      assert.deepEqual(refusals, [...CLIENTS, 'server', 'aggregator'], k);
    }
  });

  it('a client whose DP policy asks more noise than the plan gives refuses before it sends a byte', async () => {
    const plan = planFor(roles, 'policy/1', 'federated_mean_at_aggregators');
    const z = ddp.transform.statement(plan).noiseMultiplier;
    const sentBy = new Set<string>();
    const transportOf = recordSenders(sentBy);
    const strict = (p: string): DpRolePolicy => (p === 'c2' ? { ...policy, dp: { minNoiseMultiplier: z * 1.01 } } : policy);
    await assert.rejects(simulateRoles(roles, plan, inputs, { policyOf: strict, transportOf }), (e: unknown) => e instanceof PolicyError && e.rule === 'dp' && e.party === 'c2');
    assert.ok(!sentBy.has('c2'));
    // the same client accepts a plan that meets its minimum
    sentBy.clear();
    const lenient = (p: string): DpRolePolicy => (p === 'c2' ? { ...policy, dp: { minNoiseMultiplier: z * 0.99, maxClip: 1, mechanisms: ['skellam'], noiseAt: ['clients'] } } : policy);
    await simulateRoles(roles, plan, inputs, { policyOf: lenient, transportOf });
    assert.ok(sentBy.has('c2'));
  });

  it('ε per round from the RDP accountant: a client with a lower maximum refuses before it sends', async () => {
    const plan = planFor(roles, 'policy/eps', 'federated_mean_at_aggregators');
    const p = ddp.params(22);
    const eps = ddp.transform.statement(plan).epsilon!(1e-5);
    // the accountant on the Skellam event: aggregate variance n (σ_local s)², the scaled inflated sensitivities
    assert.equal(eps, new RdpAccountant().compose(skellamEvent({ mu: 4 * p.localVariance, l2Sensitivity: p.scaledInflatedL2, l1Sensitivity: p.scaledL1 })).getEpsilon(1e-5).epsilon);
    assert.ok(eps > 1 && eps < 20, `ε ${eps}`);
    const sentBy = new Set<string>();
    const transportOf = recordSenders(sentBy);
    const withMax = (m: number) => (q: string): DpRolePolicy => (q === 'c1' ? { ...policy, dp: { maxEpsilonPerRound: m, delta: 1e-5 } } : policy);
    await assert.rejects(simulateRoles(roles, plan, inputs, { policyOf: withMax(eps * 0.99), transportOf }), (e: unknown) => e instanceof PolicyError && e.rule === 'dp' && e.party === 'c1' && /ε =/.test(e.message));
    assert.ok(!sentBy.has('c1'));
    await simulateRoles(roles, plan, inputs, { policyOf: withMax(eps * 1.01), transportOf });
    assert.ok(sentBy.has('c1'));
    // no noise, no ε: any maximum refuses
    const none = distributedDp({ mechanism: 'skellam', bits: 16, clip: 1, noiseMultiplier: 0, expectedClients: 4 });
    assert.equal(none.transform.statement(plan).epsilon!(1e-5), Infinity);
  });
});
