/**
 * Distributed DP end to end (src/dp/distributed.ts), every party's role run
 * by `simulateRoles` over an inner role set with an exact secure sum:
 * the insecure reference, ABY3, Pond, Paillier (512-bit test keys) and
 * SecAgg. Inputs are random at fixed seeds (fast-check).
 *
 * - noise zero: the aggregate is the mean (and sum) of the CLIPPED updates
 *   within the quantization bound: each client's rounding moves its scaled
 *   vector by less than 1 per coordinate, so ||error||_2 <= n sqrt(D) / s for
 *   the sum (D the padded dimension, s the scale), / n for the mean
 *   (rotation is orthogonal; no wrap: the scale keeps the noiseless sums far
 *   inside the bit range);
 * - noise: see dp-variance.test.ts;
 * - what the SERVER and aggregators receive: see dp-views.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TensorType } from '../../src/core/types.js';
import { checkPlan } from '../../src/aggregation/plan.js';
import { referenceRoles } from '../../src/aggregation/reference.js';
import { rolesAsProtocol, simulateRoles } from '../../src/aggregation/simulate.js';
import { mpcRoles } from '../../src/aggregation/mpc-roles.js';
import { AGGREGATORS, CLIENTS as CLIENTS_PLACEMENT, federated, federatedComputation, federatedMean, tensor } from '../../src/core/index.js';
import { localContext } from '../../src/runtime/index.js';
import { distributedDp, type DistributedDpOptions } from '../../src/dp/distributed.js';
import { CLIENTS, D_RAW, innerRoleSets, planFor } from './ddp-harness.js';
import { testNoise, testRng } from './test-noise.js';


const base: DistributedDpOptions = { mechanism: 'skellam', bits: 16, clip: 1, noiseMultiplier: 0, expectedClients: 4, rotation: 'hadamard' };
const updates = (seed: number, n: number) => fc.sample(fc.array(fc.float({ min: -2, max: 2, noNaN: true, noDefaultInfinity: true }), { minLength: D_RAW, maxLength: D_RAW }), { seed, numRuns: n });

function clippedSum(xs: number[][], clip: number): Float64Array {
  const out = new Float64Array(D_RAW);
  for (const x of xs) {
    const norm = Math.sqrt(x.reduce((a, v) => a + v * v, 0));
    const f = norm > clip ? clip / norm : 1;
    x.forEach((v, i) => (out[i]! += v * f));
  }
  return out;
}

const asInput = (x: number[]) => ({ values: [Float32Array.from(x.slice(0, 15)), Float32Array.from(x.slice(15))] });
const policy = { minContributors: 1, allowInsecure: true };

describe('distributedDp with noise zero: the clipped sum / mean within the quantization bound', () => {
  for (const [name, make] of innerRoleSets()) {
    it(`over ${name}`, async () => {
      const roles0 = make();
      for (const [k, [mechanism, rotation, uri, target]] of ([
        ['skellam', 'hadamard', 'federated_mean_at_aggregators', 'SERVER'],
        ['dgauss', 'dft', 'federated_sum_at_aggregators', name === 'secagg' ? 'SERVER' : 'AGGREGATORS'],
      ] as const).entries()) {
        const ddp = distributedDp({ ...base, mechanism, rotation, rng: testRng(`e2e ${name} ${k}`) });
        const roles = ddp.over(roles0);
        const plan = planFor(roles, `ddp-e2e/${name}/${k}`, uri, target);
        // raw values are float32: the reference uses what the clients hold
        const xs = updates(100 + k, CLIENTS.length).map((x) => x.map(Math.fround));
        // half the clients above the clip, half below
        xs[0] = xs[0]!.map((v) => v * 0.01);
        xs[1] = xs[1]!.map((v) => v * 0.02);
        const r = await simulateRoles(roles, plan, xs.map(asInput), { policy });
        const got = Float64Array.from([...(r.result.leaves[0] as Float64Array), ...(r.result.leaves[1] as Float64Array)]);
        const want = clippedSum(xs, base.clip);
        const p = ddp.params(D_RAW);
        const n = CLIENTS.length;
        const div = uri === 'federated_mean_at_aggregators' ? n : 1;
        let err = 0;
        for (let i = 0; i < D_RAW; i++) err += (got[i]! - want[i]! / div) ** 2;
        const bound = (n * Math.sqrt(p.paddedDim)) / p.scale / div;
        assert.ok(Math.sqrt(err) <= bound, `${mechanism}/${rotation}: error ${Math.sqrt(err)} above the quantization bound ${bound}`);
        // and not trivially: the result is far from zero
        assert.ok(Math.hypot(...want) / div > 10 * bound);
        if (target === 'AGGREGATORS') for (const a of r.atAggregators!) assert.deepEqual(a.leaves, r.result.leaves);
      }
      await roles0.close?.();
    });
  }
});

describe('distributedDp arguments', () => {
  it('refuses bad options, naming them', () => {
    const bad: [Partial<DistributedDpOptions>, RegExp][] = [
      [{ mechanism: 'laplace' as never }, /"mechanism"/],
      [{ bits: 0 }, /"bits"/],
      [{ bits: 2, expectedClients: 100 }, /"bits"/],
      [{ clip: -1 }, /"clip"/],
      [{ noiseMultiplier: Number.NaN }, /"noiseMultiplier"/],
      [{ modclipProb: 0 }, /"modclipProb"/],
      [{ rotation: 'random' as never }, /"rotation"/],
      [{ beta: 1 }, /"beta"/],
      [{ noise: { csprng: true, dgauss() {}, skellam() {}, randomUint32() {} } as never }, /"noise" expected a NoiseSource made by noiseSourceFrom\(CryptoRandom\)/],
      [{ noise: Math.random as never }, /"noise" expected a NoiseSource made by noiseSourceFrom/],
      [{ rng: Math.random as never }, /"rng" expected a CryptoRandom .* got Math.random/],
      [{ rng: { uint32: () => 4 } as never }, /"rng" expected a CryptoRandom/],
    ];
    for (const [o, re] of bad) assert.throws(() => distributedDp({ ...base, ...o }), re, JSON.stringify(o));
  });

  it('refuses integer leaves and other uris at every party', async () => {
    const roles = distributedDp({ ...base, rng: testRng() }).over(referenceRoles());
    const plan = checkPlan({ ...planFor(roles, 'ddp-int', 'federated_sum_at_aggregators'), leaves: [{ path: '', type: new TensorType('int32', [4]), size: 4 }] });
    await assert.rejects(simulateRoles(roles, plan, CLIENTS.map(() => ({ values: [new Int32Array(4)] })), { policy }), /float leaves only/);
  });
});

describe('distributedDp bound to the runtime (rolesAsProtocol, localContext)', () => {
  it('a federatedMean at AGGREGATORS over ABY3 returns the clipped sum over the EXPECTED clients (fixed denominator) within the quantization bound', async () => {
    const ddp = distributedDp({ ...base, rng: testRng('runtime') });
    const roles = ddp.over(mpcRoles({ protocol: 'aby3' }));
    const X = federated(tensor('float32', [6]), CLIENTS_PLACEMENT);
    const comp = federatedComputation([X], (x) => federatedMean(x, { placement: AGGREGATORS }));
    const values = [[3, 0, 0, 4, 0, 0], [0.1, 0.2, 0.3, 0, 0, 0], [0, 0, 0, 0, 0, -0.5]];
    const out = (await localContext({ aggregation: rolesAsProtocol(roles) }).invoke(comp, [values])) as number[];
    // 3 clients took part, 4 were expected: DP-FedAvg divides by the expected count (the realised one is data-dependent)
    const want = [0.6 + 0.1, 0.2, 0.3, 0.8, 0, -0.5].map((v) => v / base.expectedClients);
    const p = ddp.params(6);
    const err = Math.hypot(...out.map((v, i) => v - want[i]!));
    assert.ok(err <= Math.sqrt(p.paddedDim) / p.scale, `error ${err}`);
  });
});
