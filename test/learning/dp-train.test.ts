/**
 * train({ dp }): ε per round against direct accountant computations of the
 * same events, noise 0 against the clipped non-DP run, the twin without DP,
 * the report's DP fields, and the option checks. Small runs: logistic
 * regression, one local step, 100 validation images.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train, type TrainOptions } from '../../src/learning/train.js';
import type { Aggregator } from '../../src/learning/aggregator.js';
import { dpFedAvgEpsilon } from '../../src/dp/dpfedavg-accounting.js';
import { RdpAccountant } from '../../src/dp/rdp-accountant.js';
import { gaussianEvent, poissonSampled } from '../../src/dp/events.js';
import { gaussianEpsilon } from '../../src/dp/gdp.js';
import { ddpEvent } from '../../src/dp/distributed.js';
import { ddpParams } from '../../src/dp/ddp-params.js';

const base: TrainOptions = {
  model: 'logistic_regression', mode: 'fedavg', owners: 6, epochs: 3, batchSize: 32, maxSteps: 1, validationLimit: 100, seed: 3,
  protocol: 'plaintext', insecureAllowPlaintext: true, out: false, clientLr: 0.5,
};
const DELTA = 1e-5;
const close = (a: number, b: number, tol = 1e-9) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

test('gaussian, Poisson: ε each round equals dpFedAvgEpsilon after that many rounds; the twin without DP draws the same clients', async () => {
  const z = 1.1, q = 0.5;
  const r = await train({ ...base, dp: { mechanism: 'gaussian', noiseMultiplier: z, clip: 0.3, samplingRate: q, seed: 'eps-test' }, compareNoDp: true });
  assert.equal(r.error, undefined);
  const d = r.metrics.dp!;
  assert.equal(d.perRound.length, 3);
  d.perRound.forEach((rec, i) => {
    const want = dpFedAvgEpsilon({ q, rounds: i + 1, delta: DELTA, noiseMultiplier: z });
    assert.ok(close(rec.epsilon, want.epsilon), `round ${i + 1}: ${rec.epsilon} vs ${want.epsilon}`);
    assert.equal(rec.order, want.order);
    assert.deepEqual(r.metrics.epochs[i]!.dp, rec, 'the round line carries the same record');
  });
  assert.equal(d.epsilon, d.perRound[2]!.epsilon);
  assert.equal(d.neighboringRelation, 'add-remove');
  assert.equal(d.clientsPerRound, 3);
  // the twin: same sampled clients each round, its own accuracy
  const sizes = r.metrics.epochs.map((e) => e.sample!.size);
  assert.deepEqual(d.noDp!.clients, sizes);
  assert.equal(d.noDp!.perRound.length, 3);
  assert.ok(close(d.accuracyGap!, d.noDp!.accuracy - r.metrics.final.accuracy, 1e-12));
});

test('adaptive: the values at z_v and the count at 2σ_b compose to exactly z each round; the clip follows clipState', async () => {
  const z = 0.4, q = 1;
  const r = await train({ ...base, epochs: 2, dp: { mechanism: 'adaptive', noiseMultiplier: z, samplingRate: q, initialClip: 0.05, seed: 'adaptive' } });
  assert.equal(r.error, undefined);
  const d = r.metrics.dp!;
  const sigmaB = 0.05 * 6;
  assert.ok(close(d.valueNoiseMultiplier!, (z ** -2 - (2 * sigmaB) ** -2) ** -0.5, 1e-12), `z_v ${d.valueNoiseMultiplier}`);
  // q = 1: no subsampling, so ε is the exact Gaussian composition's, μ = √rounds / z (not the RDP bound)
  const acc = new RdpAccountant();
  d.perRound.forEach((rec, i) => {
    acc.compose(poissonSampled(q, gaussianEvent(z)));
    assert.equal(rec.accountant, 'gdp');
    assert.ok(close(rec.epsilon, gaussianEpsilon(Math.sqrt(i + 1) / z, DELTA)), `round ${i + 1}`);
    assert.ok(rec.epsilon < acc.getEpsilon(DELTA).epsilon, `round ${i + 1}: below the RDP bound`);
  });
  assert.equal(d.accountant, 'gdp');
  assert.ok(close(d.mu!, Math.sqrt(2) / z, 1e-12));
  assert.equal(d.perRound[0]!.clip, 0.05);
  assert.equal(d.perRound[1]!.clip, d.perRound[0]!.nextClip, 'round 2 runs at the clip round 1 computed');
  assert.ok(d.perRound[0]!.nextClip! !== 0.05);
});

test('dgauss: ε each round equals the accountant on PoissonSampled(q, ddpEvent(params, clients of the round))', async () => {
  const q = 0.5, z = 0.8, clip = 1;
  const r = await train({ ...base, dp: { mechanism: 'dgauss', noiseMultiplier: z, clip, samplingRate: q, bits: 18, seed: 'ddp' } });
  assert.equal(r.error, undefined);
  const d = r.metrics.dp!;
  const p = ddpParams({ mechanism: 'dgauss', bits: 18, expectedClients: 3, clip, noiseMultiplier: z, modclipProb: 1e-4, dim: r.metrics.numParams, rotation: 'hadamard' });
  assert.equal(d.scale, p.scale);
  assert.equal(d.paddedDim, 8192);
  const acc = new RdpAccountant();
  r.metrics.epochs.forEach((e, i) => {
    const n = e.sample!.size > 0 ? e.sample!.size : 3;
    acc.compose(poissonSampled(q, ddpEvent(p, n)!));
    assert.ok(close(d.perRound[i]!.epsilon, acc.getEpsilon(DELTA).epsilon), `round ${i + 1}`);
  });
  assert.ok(Number.isFinite(d.epsilon) && d.epsilon > 0);
  assert.equal(d.accountant, 'rdp', 'discrete noise: the RDP bound');
});

test('dgauss with conditional rounding (β = e^-1/2): the clients re-round to the smaller Δ2 the accountant is given', async () => {
  const q = 1, z = 0.8, clip = 1, beta = Math.exp(-0.5);
  const r = await train({ ...base, epochs: 1, dp: { mechanism: 'dgauss', noiseMultiplier: z, clip, samplingRate: q, bits: 18, beta, seed: 'ddp-beta' } });
  assert.equal(r.error, undefined);
  const d = r.metrics.dp!;
  const withBeta = ddpParams({ mechanism: 'dgauss', bits: 18, expectedClients: 6, clip, noiseMultiplier: z, beta, dim: r.metrics.numParams, rotation: 'hadamard' });
  const without = ddpParams({ mechanism: 'dgauss', bits: 18, expectedClients: 6, clip, noiseMultiplier: z, dim: r.metrics.numParams, rotation: 'hadamard' });
  assert.ok(withBeta.scaledInflatedL2 / withBeta.scale < without.scaledInflatedL2 / without.scale, 'β > 0: a smaller inflated sensitivity');
  const e = new RdpAccountant().compose(poissonSampled(q, ddpEvent(withBeta, 6)!)).getEpsilon(DELTA).epsilon;
  assert.ok(close(d.epsilon, e), `${d.epsilon} against ${e}`);
  assert.ok(d.epsilon < new RdpAccountant().compose(poissonSampled(q, ddpEvent(without, 6)!)).getEpsilon(DELTA).epsilon);
  await assert.rejects(train({ ...base, dp: { mechanism: 'dgauss', noiseMultiplier: z, clip, samplingRate: q, beta: 1 } }), /dp: "beta" expected a number in \[0, 1\)/);
  await assert.rejects(train({ ...base, dp: { mechanism: 'gaussian', noiseMultiplier: z, clip, samplingRate: q, beta } }), /dp: "beta" is for the distributed mechanisms/);
  await assert.rejects(train({ ...base, dp: { mechanism: 'gaussian', noiseMultiplier: z, clip, samplingRate: q, accountant: 'pld' as never } }), /dp: "accountant" expected 'best' or 'rdp'/);
});

test('noise 0: the DP run equals the clipped non-DP run (exact sums: float rounding; ABY3: within the fixed-point bound)', async () => {
  const clip = 0.05, N = 6;
  for (const [protocol, tol] of [['plaintext', 1e-6], ['aby3', 2 ** -17 + 1e-6]] as const) {
    const common = { ...base, protocol, epochs: 1, insecureAllowPlaintext: protocol === 'plaintext' };
    const dpRun = await train({ ...common, dp: { mechanism: 'gaussian', noiseMultiplier: 0, clip, samplingRate: 1 }, ...(protocol === 'aby3' ? { minContributors: 1 } : {}) });
    assert.equal(dpRun.error, undefined);
    const rec = dpRun.metrics.dp!.perRound[0]!;
    assert.equal(rec.epsilon, Infinity);
    assert.equal(rec.clipped, N, 'every update is above the clip');
    // the clients clip to C minus the fixed-point margin; the comparator clips to the same and divides by N
    const cc = rec.clientClip!;
    if (protocol === 'plaintext') assert.equal(cc, clip);
    else assert.ok(cc < clip && clip - cc < 1e-3);
    const clipped: Aggregator = {
      name: 'clipped-mean', secure: false,
      async mean(updates) {
        const out = new Float64Array(updates[0]!.length);
        for (const u of updates) {
          let s = 0;
          for (const v of u) s += v * v;
          const f = Math.min(1, cc / Math.sqrt(s));
          for (let i = 0; i < u.length; i++) out[i]! += u[i]! * f;
        }
        return { mean: Float32Array.from(out, (v) => v / N), bytesByRole: {} };
      },
    };
    const ref = await train({ ...common, aggregator: clipped, insecureAllowPlaintext: true });
    let worst = 0;
    for (let i = 0; i < ref.weights!.length; i++) worst = Math.max(worst, Math.abs(ref.weights![i]! - dpRun.weights![i]!));
    assert.ok(worst <= tol, `${protocol}: max |Δw| ${worst} > ${tol}`);
    assert.ok(worst > 0 || protocol === 'plaintext');
  }
});

test('the report: every DP field, the honesty statement, the fixed-size flag and its replace-one accounting', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-dp-report-'));
  try {
    const z = 1.5;
    const r = await train({ ...base, epochs: 2, out: join(dir, 'run'), dp: { mechanism: 'gaussian', noiseMultiplier: z, clip: 0.2, clientsPerRound: 3, seed: 'fixed' } });
    const d = r.metrics.dp!;
    assert.equal(d.sampling, 'fixed-size');
    assert.equal(d.neighboringRelation, 'replace-one');
    const want = dpFedAvgEpsilon({ q: 0.5, rounds: 2, delta: DELTA, noiseMultiplier: z / 2, sampling: 'fixed-size', population: 6 });
    assert.ok(close(d.epsilon, want.epsilon), `${d.epsilon} vs ${want.epsilon}`);
    const html = readFileSync(r.paths!.report, 'utf8');
    const json = JSON.parse(readFileSync(r.paths!.metrics, 'utf8')) as { dp: Record<string, unknown> };
    for (const k of ['mechanism', 'adjacency', 'sampling', 'q', 'rounds', 'delta', 'epsilon', 'order', 'noiseMultiplier', 'clip', 'localStddev', 'centralStddev', 'honest', 'perRound', 'totals', 'clientsPerRound', 'seeded']) assert.ok(k in json.dp, `metrics.json dp.${k}`);
    for (const s of ['id="dp-guarantee"', 'id="dp-fixed-size"', 'FIXED SIZE', 'replace-one', 'id="dp-seeded"', 'q (sampling rate)', 'RDP order of ε', 'noise multiplier z', 'clip C', 'local σ', 'central σ', 'clipped updates', 'clients per round', 'id="dp-honest"', 'SERVER (the model owner)', 'NONE for the updates', 'plot-dp-accuracy', 'DP per round']) {
      assert.ok(html.includes(s), `report.html has ${s}`);
    }
    // distributed: bits, scale, wrapped counts, the clients' noise as the honesty assumption
    const r2 = await train({ ...base, epochs: 1, out: join(dir, 'run2'), protocol: 'aby3', insecureAllowPlaintext: false, minContributors: 1, dp: { mechanism: 'skellam', noiseMultiplier: 1, clip: 0.5, samplingRate: 1, bits: 20 } });
    assert.equal(r2.error, undefined);
    const html2 = readFileSync(r2.paths!.report, 'utf8');
    for (const s of ['bits (secure sum mod 2^bits)', 'scale', 'wrapped coordinates', 'the clients: each sampled client adds its own share', 'no two of the three compute servers collude']) assert.ok(html2.includes(s), `report.html (skellam) has ${s}`);
    assert.ok(!html2.includes('id="dp-seeded"'), 'not seeded: no flag');
    assert.equal(r2.metrics.dp!.bits, 20);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dp option checks name the option', async () => {
  const dp = { mechanism: 'gaussian' as const, noiseMultiplier: 1, clip: 1, samplingRate: 0.5 };
  await assert.rejects(train({ ...base, mode: 'fedsgd', dp }), /"dp" applies to mode 'fedavg' only/);
  await assert.rejects(train({ ...base, dp: { ...dp, mechanism: 'adaptive' } }), /dp: "clip" is not for mechanism 'adaptive'/);
  await assert.rejects(train({ ...base, dp: { ...dp, clip: undefined } }), /dp: "clip" expected a finite number > 0/);
  await assert.rejects(train({ ...base, dp: { ...dp, clientsPerRound: 3 } }), /exactly one of "samplingRate"/);
  await assert.rejects(train({ ...base, dp: { ...dp, mechanism: 'dgauss', samplingRate: undefined, clientsPerRound: 3 } }), /"clientsPerRound" \(fixed-size sampling\) is accounted for the Gaussian mechanisms only/);
  await assert.rejects(train({ ...base, protocol: 'paillier', dp: { ...dp, noiseAt: 'aggregators' } }), /"noiseAt" 'aggregators' needs protocol aby3 or pond/);
  await assert.rejects(train({ ...base, dp: { ...dp, bits: 12 } }), /dp: "bits" is for the distributed mechanisms/);
  await assert.rejects(train({ ...base, dp: { ...dp, mechanism: 'skellam', noiseAt: 'server' } }), /dp: "noiseAt" is for the central mechanisms/);
  await assert.rejects(train({ ...base, dp: { ...dp, samplingRate: 1.5 } }), /dp: "samplingRate" expected a probability/);
  await assert.rejects(train({ ...base, compareNoDp: true }), /"compareNoDp" applies to a run with "dp" only/);
});
