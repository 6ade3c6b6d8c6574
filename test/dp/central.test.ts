/**
 * Central DP (src/dp/central.ts) over the reference, ABY3 and Pond role sets:
 * with noise 0 the result is the sum of the clipped updates over the EXPECTED
 * count; with noise the empirical variance matches (z C / n)² (k z² C² / n²
 * with k aggregators adding noise); noise at the aggregators lands in the
 * aggregate and SERVER receives only the noised one; a client's own DP
 * policy refuses before it sends a byte; adaptive clipping follows TFF's
 * update on the released count.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TensorType } from '../../src/core/types.js';
import { PolicyError } from '../../src/core/errors.js';
import { checkPlan, type AggregationPlan } from '../../src/aggregation/plan.js';
import { referenceRoles } from '../../src/aggregation/reference.js';
import { mpcRoles } from '../../src/aggregation/mpc-roles.js';
import { simulateRoles, type ReceivedMessage } from '../../src/aggregation/simulate.js';
import type { AggregationRoles, ClientInput, RolePolicy } from '../../src/aggregation/roles.js';
import type { Transport } from '../../src/transport/channel.js';
import { clipByGlobalNorm, type FloatLeaf } from '../../src/dp/central-clip.js';
import { dpGaussianAdaptive, dpGaussianFixed, encodingStepOf, BELOW_LEAF_PATH, type CentralDpRoles } from '../../src/dp/central.js';
import { globalL2Norm } from '../../src/dp/central-clip.js';
import type { DpRolePolicy } from '../../src/dp/wrap.js';
import { TestCsprng, Z_BOUND } from './central-helpers.js';
import { gaussianGrid } from '../../src/dp/gaussian.js';

const SECURE: RolePolicy = { minContributors: 1, allowInsecure: false };
const INSECURE: RolePolicy = { minContributors: 1, allowInsecure: true };
let invocation = 0;

function planOf(roles: AggregationRoles, target: 'SERVER' | 'AGGREGATORS', sizes: readonly number[], clients: number, uri: 'federated_mean_at_aggregators' | 'federated_sum_at_aggregators' = 'federated_mean_at_aggregators', over: Partial<AggregationPlan> = {}): AggregationPlan {
  return checkPlan({
    protocol: roles.name,
    invocationId: `dp-central/${++invocation}`,
    uri,
    target,
    leaves: sizes.map((n, j) => ({ path: `[${j}]`, type: new TensorType(j === 0 ? 'float32' : 'float64', [n]), size: n })),
    clients: Array.from({ length: clients }, (_, i) => `owner${i}`),
    aggregators: roles.aggregatorNames,
    server: 'model-owner',
    params: roles.params,
    ...over,
  });
}

/** Client updates with norms around 1 (some clipped at C = 1, some not). */
function inputsOf(rng: TestCsprng, sizes: readonly number[], clients: number): ClientInput[] {
  return Array.from({ length: clients }, (_, c) => {
    const values = sizes.map((n, j) => {
      const v = j === 0 ? new Float32Array(n) : new Float64Array(n);
      rng.gaussian(v, (0.4 + 0.3 * c) / Math.sqrt(sizes.reduce((a, b) => a + b, 0)));
      return v;
    });
    return { values };
  });
}

/** Σ_i clip_C(x_i), in float64, leaf by leaf. */
function clippedSum(inputs: readonly ClientInput[], C: number): Float64Array[] {
  const out = inputs[0]!.values.map((v) => new Float64Array(v.length));
  for (const x of inputs) clipByGlobalNorm(x.values as FloatLeaf[], C).values.forEach((v, j) => v.forEach((e, i) => (out[j]![i]! += e)));
  return out;
}

const inners = (addends: boolean): [string, () => AggregationRoles, RolePolicy, number][] => [
  ...(addends ? [] : ([['reference', () => referenceRoles(), INSECURE, 1e-12]] as [string, () => AggregationRoles, RolePolicy, number][])),
  ['aby3', () => mpcRoles({ protocol: 'aby3', ...(addends ? { aggregatorAddends: true } : {}) }), SECURE, (5 * 2 ** -17) / 7 + 1e-12],
  ['pond', () => mpcRoles({ protocol: 'pond', ...(addends ? { aggregatorAddends: true } : {}) }), SECURE, (5 * 2 ** -17) / 7 + 1e-12],
];

describe('dpGaussianFixed with noise 0: the sum of clipped updates over the expected count', () => {
  for (const noiseAt of ['server', 'aggregators'] as const) {
    for (const [name, make, policy, tol] of inners(noiseAt === 'aggregators')) {
      for (const target of noiseAt === 'server' ? (['SERVER'] as const) : (['SERVER', 'AGGREGATORS'] as const)) {
        it(`${name}, noise at ${noiseAt}, target ${target}`, async () => {
          const rng = new TestCsprng(`fixed-zero/${name}/${noiseAt}/${target}`);
          const roles = dpGaussianFixed(make(), { noiseMultiplier: 0, clip: 1, clientsPerRound: 7, noiseAt });
          const sizes = [40, 3];
          const inputs = inputsOf(rng, sizes, 5);
          const plan = planOf(roles, target, sizes, 5);
          const r = await simulateRoles(roles, plan, inputs, { policy });
          // the clients clip to C - sqrt(d) u/2 (the fixed-point margin: u = 2^-16 for MPC at 'low', 0 for the reference)
          const cc = roles.clipState().history.at(-1)!.clientClip;
          assert.equal(cc, name === 'reference' ? 1 : 1 - Math.sqrt(43) * 2 ** -17);
          const want = clippedSum(inputs, cc);
          // some clients were clipped, some not
          const clipped = inputs.map((x) => clipByGlobalNorm(x.values as FloatLeaf[], cc).clipped);
          assert.ok(clipped.includes(true) && clipped.includes(false), `clipped: ${clipped.join(',')}`);
          for (const res of r.atAggregators ?? [r.result]) {
            assert.equal(res.leaves.length, 2);
            res.leaves.forEach((l, j) => {
              const got = l as Float64Array;
              assert.equal(got.length, sizes[j]);
              // fixed point: each of the 5 encodings rounds by at most u/2 = 2^-17, then / 7
              for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - want[j]![i]! / 7) <= tol, `leaf ${j}[${i}]: ${got[i]} vs ${want[j]![i]! / 7}`);
            });
          }
          assert.equal(roles.clipState().history.at(-1)!.denominator, 7);
        });
      }
    }
  }

  it('an outer sum is the noised sum itself (no denominator)', async () => {
    const rng = new TestCsprng('fixed-sum');
    const roles = dpGaussianFixed(referenceRoles(), { noiseMultiplier: 0, clip: 0.5, clientsPerRound: 3, noiseAt: 'server' });
    const inputs = inputsOf(rng, [10], 4);
    const r = await simulateRoles(roles, planOf(roles, 'SERVER', [10], 4, 'federated_sum_at_aggregators'), inputs, { policy: INSECURE });
    const want = clippedSum(inputs, 0.5)[0]!;
    (r.result.leaves[0] as Float64Array).forEach((g, i) => assert.ok(Math.abs(g - want[i]!) < 1e-12, `element ${i}: ${g} vs ${want[i]}`));
  });
});

/**
 * Variance of the released mean: every coordinate's error e = result − Σclip/n is N(0, s²) with
 * s = √k z_v C / n (k = 1 at SERVER, the number of aggregator parties otherwise). Over M = rounds · d samples
 * the ratio mean(e²)/s² has sd √(2/M); the check |ratio − 1| < 5 √(2/M) fails falsely with probability ≈ 5.7e-7
 * (normal approximation of χ²_M / M; the noise is the test CSPRNG's Box–Muller, seeds fixed).
 */
describe('with noise: the empirical variance of the aggregate matches (z C / n)²', () => {
  const cases: [string, () => AggregationRoles, RolePolicy, 'server' | 'aggregators', number][] = [
    ['reference', () => referenceRoles(), INSECURE, 'server', 1],
    ['aby3', () => mpcRoles({ protocol: 'aby3', aggregatorAddends: true }), SECURE, 'aggregators', 3],
    ['pond', () => mpcRoles({ protocol: 'pond', aggregatorAddends: true }), SECURE, 'aggregators', 3],
  ];
  for (const [name, make, policy, noiseAt, k] of cases) {
    it(`${name}, noise at ${noiseAt} (k = ${k})`, async () => {
      const rng = new TestCsprng(`variance/${name}`);
      const z = 1.3;
      const C = 0.8;
      const n = 7;
      const roles = dpGaussianFixed(make(), { noiseMultiplier: z, clip: C, clientsPerRound: n, noiseAt, rng: new TestCsprng(`variance-noise/${name}`).rng });
      const sizes = [300, 100];
      const rounds = 50;
      let sq = 0;
      let M = 0;
      for (let r = 0; r < rounds; r++) {
        const inputs = inputsOf(rng, sizes, 4);
        const res = await simulateRoles(roles, planOf(roles, 'SERVER', sizes, 4), inputs, { policy });
        const want = clippedSum(inputs, roles.clipState().history.at(-1)!.clientClip);
        res.result.leaves.forEach((l, j) => (l as Float64Array).forEach((g, i) => {
          sq += (g - want[j]![i]! / n) ** 2;
          M++;
        }));
      }
      const s2 = (k * (z * C) ** 2) / n ** 2;
      const ratio = sq / M / s2;
      if (process.env.DP_VERBOSE) console.log(`${name} noise at ${noiseAt}: variance ratio ${ratio.toFixed(4)} over ${M} samples (bound ±${(Z_BOUND * Math.sqrt(2 / M)).toFixed(4)})`);
      assert.ok(Math.abs(ratio - 1) < Z_BOUND * Math.sqrt(2 / M), `variance ratio ${ratio} over ${M} samples (bound ±${Z_BOUND * Math.sqrt(2 / M)})`);
      assert.equal(roles.clipState().history.at(-1)!.sumNoiseStd, Math.sqrt(k) * z * C);
    });
  }

  it('adaptive: values at z_v C_r / n each round, the count at sigma_b', async () => {
    const rng = new TestCsprng('variance/adaptive');
    const n = 100;
    const roles = dpGaussianAdaptive(referenceRoles(), { noiseMultiplier: 1, clientsPerRound: n, noiseAt: 'server', rng: new TestCsprng('variance-noise/adaptive').rng });
    assert.ok(Math.abs(roles.dp.valueNoiseMultiplier - 1.005037815259212) < 1e-15, `z_v ${roles.dp.valueNoiseMultiplier}`);
    const rounds = 300;
    let sqV = 0;
    let M = 0;
    let sqB = 0;
    for (let r = 0; r < rounds; r++) {
      const inputs = inputsOf(rng, [8], 4);
      const C = roles.clipState().clip;
      const plan = planOf(roles, 'SERVER', [8], 4);
      assert.equal(plan.params['dpClip'], C, 'the plan carries the current clip');
      const res = await simulateRoles(roles, plan, inputs, { policy: INSECURE });
      const want = clippedSum(inputs, C)[0]!;
      const s = (roles.dp.valueNoiseMultiplier * C) / n;
      (res.result.leaves[0] as Float64Array).forEach((g, i) => {
        sqV += ((g - want[i]! / n) / s) ** 2;
        M++;
      });
      // the released count: S = (b - 1/2) n (no clamping at these values), the true one from the clients' norms
      const h = roles.clipState().history.at(-1)!;
      const trueS = inputs.reduce((a, x) => a + (clipByGlobalNorm(x.values as FloatLeaf[], C).norm <= C ? 0.5 : -0.5), 0);
      sqB += ((h.belowFraction! - 0.5) * n - trueS) ** 2;
      // TFF's update on the released fraction
      assert.ok(Math.abs(h.nextClip! - C * Math.exp(-0.2 * (h.belowFraction! - 0.5))) < 1e-15 * C, `round ${r}: next clip ${h.nextClip} from C ${C}, b ${h.belowFraction}`);
      assert.equal(roles.clipState().clip, h.nextClip);
    }
    const rv = sqV / M;
    assert.ok(Math.abs(rv - 1) < Z_BOUND * Math.sqrt(2 / M), `value variance ratio ${rv} over ${M}`);
    const rb = sqB / rounds / 25;
    if (process.env.DP_VERBOSE) console.log(`adaptive: value variance ratio ${rv.toFixed(4)} over ${M}, count variance ratio ${rb.toFixed(4)} over ${rounds} rounds`);
    assert.ok(Math.abs(rb - 1) < Z_BOUND * Math.sqrt(2 / rounds), `count variance ratio ${rb} over ${rounds} rounds (sigma_b = 5)`);
  });
});

/** The opened ring values SERVER reconstructs: the sum mod 2^64 of the payloads it received per opening, decoded at 2^-16. */
function openedAtServer(log: readonly ReceivedMessage[], server: string, size: number): Float64Array[] {
  const byKey = new Map<string, Uint8Array[]>();
  for (const m of log.filter((x) => x.to === server)) {
    // (the openings' keys differ per sender only in their last part: group by op number)
    const op = m.key.split('/').slice(0, -1).join('/');
    if (m.payload.length !== size * 8) continue;
    byKey.set(op, [...(byKey.get(op) ?? []), m.payload]);
  }
  return [...byKey.values()].map((parts) => {
    const out = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      let s = 0n;
      for (const p of parts) s += new DataView(p.buffer, p.byteOffset, p.byteLength).getBigUint64(i * 8, true);
      out[i] = Number(BigInt.asIntN(64, s)) / 2 ** 16;
    }
    return out;
  });
}

describe('noise at the aggregators', () => {
  for (const protocol of ['aby3', 'pond'] as const) {
    it(`${protocol}: each aggregator party's own noise lands in the aggregate; SERVER receives only openings from aggregators that add up to the noised sum`, async () => {
      const mpc = mpcRoles({ protocol, aggregatorAddends: true });
      const drawn: { party: string; leaf: number; v: Float64Array }[] = [];
      // the inner role set as each aggregator runs it, recording the addend its own party drew
      const spy: AggregationRoles = {
        ...mpc,
        aggregator: (ctx, plan, i) => mpc.aggregator({ ...ctx, aggregatorAddend: (j, n) => { const v = ctx.aggregatorAddend!(j, n); drawn.push({ party: ctx.me, leaf: j, v }); return v; } }, plan, i),
      };
      const z = 2;
      const C = 1;
      const n = 5;
      const roles = dpGaussianFixed(spy, { noiseMultiplier: z, clip: C, clientsPerRound: n, noiseAt: 'aggregators', rng: new TestCsprng(`spy-noise/${protocol}`).rng });
      const sizes = [24];
      const inputs = inputsOf(new TestCsprng(`spy/${protocol}`), sizes, 4);
      const plan = planOf(roles, 'SERVER', sizes, 4, 'federated_sum_at_aggregators');
      const log: ReceivedMessage[] = [];
      const r = await simulateRoles(roles, plan, inputs, { policy: SECURE, observe: (m) => log.push(m) });
      // every aggregator party drew once for the leaf, each with its full sigma
      assert.deepEqual(drawn.map((d) => d.party).sort(), [...plan.aggregators].sort());
      for (const d of drawn) assert.ok(d.v.some((x) => Math.abs(x) > 0.1), `${d.party}'s noise is not zero`);
      const clean = clippedSum(inputs, roles.clipState().history.at(-1)!.clientClip)[0]!;
      const got = r.result.leaves[0] as Float64Array;
      for (let i = 0; i < sizes[0]!; i++) {
        const noise = drawn.reduce((a, d) => a + d.v[i]!, 0);
        // fixed point: 4 client encodings and 3 addends, each within 2^-17
        assert.ok(Math.abs(got[i]! - (clean[i]! + noise)) <= 7 * 2 ** -17, `element ${i}: ${got[i]} vs ${clean[i]! + noise}`);
      }
      // SERVER: nothing from a client, only openings from aggregator parties, and what it can add up is the noised sum
      const atServer = log.filter((m) => m.to === plan.server);
      assert.ok(atServer.length > 0 && atServer.every((m) => plan.aggregators.includes(m.from)), `SERVER hears from ${[...new Set(atServer.map((m) => m.from))].join(', ')}`);
      const opened = openedAtServer(log, plan.server, sizes[0]!);
      assert.equal(opened.length, 1, 'one opening of the leaf');
      opened[0]!.forEach((x, i) => assert.ok(Math.abs(x - got[i]!) < 1e-9, `opening element ${i}: ${x} vs the result ${got[i]}`));
      // the un-noised sum is nowhere in it: the noise moves every element by far more than the fixed-point error
      assert.ok(opened[0]!.every((x, i) => Math.abs(x - clean[i]!) > 1e-3 || Math.abs(drawn.reduce((a, d) => a + d.v[i]!, 0)) < 2e-3), 'the opening is not the un-noised sum');
    });
  }
});

describe('refusals', () => {
  const spyOn = (sent: string[]) => (party: string, t: Transport): Transport =>
    new Proxy(t, {
      get(target, prop, receiver) {
        if (prop === 'send') return async (from: string, to: string, key: string, p: Uint8Array) => (sent.push(`${party}:${key}`), target.send(from, to, key, p));
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });

  const refusing: [string, DpRolePolicy['dp'], RegExp][] = [
    ['a larger noise multiplier', { minNoiseMultiplier: 1.5 }, /noise multiplier 1\.00000 is below this party's minimum 1\.5/],
    ['a smaller clip', { maxClip: 0.5 }, /clip 1 is above this party's maximum 0\.5/],
  ];
  for (const adaptive of [false, true]) {
    for (const [what, dp, message] of refusing) {
      it(`${adaptive ? 'adaptive' : 'fixed'}: a client whose local policy demands ${what} refuses before it sends a byte`, async () => {
        const inner = mpcRoles({ protocol: 'aby3' });
        const rng = new TestCsprng('refuse').rng;
        const roles: CentralDpRoles = adaptive
          ? dpGaussianAdaptive(inner, { noiseMultiplier: 1, clientsPerRound: 100, initialClip: 1, noiseAt: 'server', rng })
          : dpGaussianFixed(inner, { noiseMultiplier: 1, clip: 1, clientsPerRound: 4, noiseAt: 'server', rng });
        const plan = planOf(roles, 'SERVER', [6], 3);
        const sent: string[] = [];
        const policyOf = (p: string): DpRolePolicy => (p === 'owner1' ? { ...SECURE, dp } : SECURE);
        const inputs = inputsOf(new TestCsprng('refuse-in'), [6], 3);
        await assert.rejects(simulateRoles(roles, plan, inputs, { policyOf, transportOf: spyOn(sent) }), (e: unknown) => e instanceof PolicyError && e.rule === 'dp' && e.party === 'owner1' && message.test(e.message));
        assert.ok(!sent.some((s) => s.startsWith('owner1:')), `owner1 sent ${sent.filter((s) => s.startsWith('owner1:')).join(', ')}`);
      });
    }
  }

  it('a plan with other DP parameters is refused by every party (enforcePlan); an adaptive plan with another clip is taken within the policy', async () => {
    const roles = dpGaussianFixed(referenceRoles(), { noiseMultiplier: 1, clip: 1, clientsPerRound: 4, noiseAt: 'server', rng: new TestCsprng('x').rng });
    const inputs = inputsOf(new TestCsprng('tamper'), [6], 3);
    for (const [k, v] of [['dpZ', 0.5], ['dpClip', 2], ['dpN', 40], ['dpNoiseAt', 'aggregators']] as const) {
      const plan = planOf(roles, 'SERVER', [6], 3, undefined, { params: { ...roles.params, [k]: v } });
      await assert.rejects(simulateRoles(roles, plan, inputs, { policy: INSECURE }), (e: unknown) => e instanceof PolicyError && e.rule === 'protocol' && e.message.includes(k));
    }
    const ad = dpGaussianAdaptive(referenceRoles(), { noiseMultiplier: 0, clientsPerRound: 3, noiseAt: 'server' });
    const plan = planOf(ad, 'SERVER', [6], 3, undefined, { params: { ...ad.params, dpClip: 0.3 } });
    const r = await simulateRoles(ad, plan, inputs, { policyOf: () => ({ ...INSECURE, dp: { maxClip: 0.5 } }) });
    const want = clippedSum(inputs, 0.3)[0]!;
    (r.result.leaves[0] as Float64Array).forEach((g, i) => assert.ok(Math.abs(g - want[i]! / 3) < 1e-12, `element ${i}: ${g} vs ${want[i]! / 3}`));
    // noise 0: the update from the exact count of clients below 0.3
    const below = inputs.filter((x) => clipByGlobalNorm(x.values as FloatLeaf[], 0.3).norm <= 0.3).length;
    const b = Math.min(1, Math.max(0, (below - 1.5) / 3 + 0.5));
    assert.ok(Math.abs(ad.clipState().clip - 0.3 * Math.exp(-0.2 * (b - 0.5))) < 1e-16, `next clip ${ad.clipState().clip}, b ${b}`);
    await assert.rejects(simulateRoles(ad, planOf(ad, 'SERVER', [6], 3, undefined, { params: { ...ad.params, dpClip: -1 } }), inputs, { policy: INSECURE }), /dpClip -1 is not a clip/);
    // the clip a party checks is the plan's (the state of the rounds so far), not the initial one
    const grown = planOf(ad, 'SERVER', [6], 3, undefined, { params: { ...ad.params, dpClip: 2 } });
    await assert.rejects(simulateRoles(ad, grown, inputs, { policyOf: () => ({ ...INSECURE, dp: { maxClip: 0.5 } }) }), (e: unknown) => e instanceof PolicyError && e.rule === 'dp' && /clip 2 is above this party's maximum 0\.5/.test(e.message));
  });

  it('arguments and plans the mechanism cannot run, refused by name', async () => {
    assert.throws(() => dpGaussianFixed(referenceRoles(), { noiseMultiplier: 1, clip: 1, clientsPerRound: 4, noiseAt: 'aggregators', rng: new TestCsprng('x').rng }), /noiseAt 'aggregators' needs an inner role set .*mpcRoles\(\{ aggregatorAddends: true \}\)/);
    assert.throws(() => dpGaussianFixed(mpcRoles(), { noiseMultiplier: 1, clip: 1, clientsPerRound: 4, noiseAt: 'aggregators', rng: new TestCsprng('x').rng }), /noiseAt 'aggregators' needs/);
    assert.throws(() => dpGaussianFixed(referenceRoles(), { noiseMultiplier: 1, clip: 1, clientsPerRound: 4, noiseAt: 'server', rng: Math.random as never }), /"rng" expected a CryptoRandom .* got Math.random/);
    assert.throws(() => dpGaussianFixed(referenceRoles(), { noiseMultiplier: 1, clip: 1, clientsPerRound: 4, noiseAt: 'server', rng: { float53: () => 0.5, uint32: () => 7 } as never }), /"rng" expected a CryptoRandom/);
    assert.throws(() => dpGaussianFixed(referenceRoles(), { noiseMultiplier: 1, clip: 1, clientsPerRound: 4, noiseAt: 'server' }), /"rng" expected a CryptoRandom/);
    assert.throws(() => dpGaussianAdaptive(referenceRoles(), { noiseMultiplier: 1, clientsPerRound: 10, noiseAt: 'server', rng: new TestCsprng('x').rng }), /rule 'noiseMultiplier < 2 \* clippedCountStddev' fails/);
    const roles = dpGaussianFixed(mpcRoles(), { noiseMultiplier: 1, clip: 1, clientsPerRound: 4, noiseAt: 'server', rng: new TestCsprng('x').rng });
    const inputs = inputsOf(new TestCsprng('y'), [6], 3);
    await assert.rejects(simulateRoles(roles, planOf(roles, 'AGGREGATORS', [6], 3), inputs, { policy: SECURE }), /noiseAt 'server' needs the aggregate to go to SERVER/);
    const ints = checkPlan({ ...planOf(roles, 'SERVER', [6], 3), leaves: [{ path: '', type: new TensorType('int32', [6]), size: 6 }] });
    await assert.rejects(simulateRoles(roles, ints, [0, 1, 2].map(() => ({ values: [new Int32Array(6)] })), { policy: SECURE }), /leaf 0 \(value\) is int32; DP-FedAvg clips and noises float leaves only/);
    const ad = dpGaussianAdaptive(referenceRoles(), { noiseMultiplier: 0, clientsPerRound: 3, noiseAt: 'server' });
    const adPlan = planOf(ad, 'SERVER', [2], 3);
    assert.deepEqual(ad.wrappedFor(adPlan).innerPlan(adPlan).leaves.map((l) => `${l.path}:${l.type.dtype}:${l.size}`), ['[0]:float32:2', `${BELOW_LEAF_PATH}:float64:1`]);
  });
});

describe('the fixed-point margin', () => {
  it("the inner role set's step: MPC 'low' / 'high', Paillier's fracBits, the reference 0; other role sets must say", () => {
    assert.equal(encodingStepOf('t', mpcRoles()), 2 ** -16);
    assert.equal(encodingStepOf('t', mpcRoles({ precision: 'high' })), 2 ** -32);
    assert.equal(encodingStepOf('t', referenceRoles()), 0);
    // (Paillier's and SecAgg's params name their fracBits)
    assert.equal(encodingStepOf('t', { ...referenceRoles(), name: 'paillier', params: { fracBits: 20 } }), 2 ** -20);
    assert.throws(() => encodingStepOf('t', { ...referenceRoles(), name: 'other', params: {} }), /the fixed-point step of 'other' is not known; pass "encodingStep"/);
    assert.equal(encodingStepOf('t', referenceRoles(), 2 ** -10), 2 ** -10);
  });

  it('a clipped update, rounded to the encoding step, has norm <= C (random updates far above C)', () => {
    const rng = new TestCsprng('margin');
    const u = 2 ** -16;
    for (const [d, C] of [[10, 0.01], [1000, 0.1], [50_000, 1]] as const) {
      for (let t = 0; t < 5; t++) {
        const x = new Float64Array(d);
        rng.gaussian(x, 1);
        const cc = C - (Math.sqrt(d) * u) / 2;
        const y = clipByGlobalNorm([x], cc).values[0]!;
        const enc = y.map((v) => Math.round(v / u) * u);
        assert.ok(globalL2Norm([enc]) <= C, `d ${d}: encoded norm ${globalL2Norm([enc])} > C ${C}`);
      }
    }
  });

  it('a clip at or below the margin is refused before anything moves', async () => {
    const roles = dpGaussianFixed(mpcRoles(), { noiseMultiplier: 0, clip: 1e-4, clientsPerRound: 3, noiseAt: 'server' });
    const inputs = inputsOf(new TestCsprng('m'), [10_000], 3);
    await assert.rejects(simulateRoles(roles, planOf(roles, 'SERVER', [10_000], 3), inputs, { policy: SECURE }), /the clip 0.0001 is not above the fixed-point margin/);
  });
});

it("SERVER's noise is the grid-safe addition (gaussian.ts addGaussianNoise): every released sum lies on the noise's grid Δℤ", async () => {
  const z = 1, C = 0.5, n = 4;
  const roles = dpGaussianFixed(referenceRoles(), { noiseMultiplier: z, clip: C, clientsPerRound: n, noiseAt: 'server', rng: new TestCsprng('grid').rng });
  const r = await simulateRoles(roles, planOf(roles, 'SERVER', [5, 2], 3), inputsOf(new TestCsprng('grid-in'), [5, 2], 3), { policy: INSECURE });
  const { delta } = gaussianGrid(z * C, 'float64');
  for (const leaf of r.result!.leaves) {
    for (const v of leaf as Float64Array) {
      const k = (v * n) / delta; // the mean is the noised sum over the expected count
      assert.ok(Math.abs(k - Math.round(k)) < 1e-6, `sum ${v * n} is not on the grid ${delta}`);
    }
  }
});

describe('adaptive clipping over ABY3 and Pond with noise at the aggregators', () => {
  for (const protocol of ['aby3', 'pond'] as const) {
    for (const target of ['SERVER', 'AGGREGATORS'] as const) {
      it(`${protocol}, target ${target}: noise 0 gives the clipped mean and TFF's update from the exact count; the next plan carries the new clip`, async () => {
        const roles = dpGaussianAdaptive(mpcRoles({ protocol, aggregatorAddends: true }), { noiseMultiplier: 0, clientsPerRound: 6, initialClip: 1, noiseAt: 'aggregators' });
        const sizes = [30, 2];
        for (let round = 0; round < 3; round++) {
          const inputs = inputsOf(new TestCsprng(`adaptive-mpc/${protocol}/${target}/${round}`), sizes, 5);
          const C = roles.clipState().clip;
          const plan = planOf(roles, target, sizes, 5);
          assert.equal(plan.params['dpClip'], C);
          const r = await simulateRoles(roles, plan, inputs, { policy: SECURE });
          const h = roles.clipState().history.at(-1)!;
          assert.equal(h.clip, C);
          const want = clippedSum(inputs, h.clientClip);
          for (const res of r.atAggregators ?? [r.result]) {
            assert.equal(res.leaves.length, 2, 'the indicator leaf is not released as a leaf');
            res.leaves.forEach((l, j) => (l as Float64Array).forEach((g, i) => assert.ok(Math.abs(g - want[j]![i]! / 6) <= (5 * 2 ** -17) / 6 + 1e-12, `round ${round} leaf ${j}[${i}]: ${g} vs ${want[j]![i]! / 6}`)));
          }
          const below = inputs.filter((x) => clipByGlobalNorm(x.values as FloatLeaf[], h.clientClip).norm <= C).length;
          const b = Math.min(1, Math.max(0, (below - 2.5) / 6 + 0.5));
          assert.ok(Math.abs(h.belowFraction! - b) < 1e-12, `round ${round}: b ${h.belowFraction} vs ${b}`);
          assert.ok(Math.abs(roles.clipState().clip - C * Math.exp(-0.2 * (b - 0.5))) < 1e-12 * C, `round ${round}: next clip ${roles.clipState().clip}`);
        }
        assert.equal(roles.clipState().history.length, 3, 'one record per round, however many aggregators decode it');
      });
    }
  }
});
