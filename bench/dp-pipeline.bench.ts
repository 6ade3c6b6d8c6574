/**
 * Distributed DP (issue 16): the client-side pipeline's cost per update of
 * network_a's size (rotation, L2 clip, scale + stochastic rounding, EXACT
 * noise, modular clipping; `encodeUpdate`) against, in the same run,
 * (a) one local training step of network_a at batch 128 and (b) the client's
 * whole local training of one FedAvg round in the issue's setting (MNIST over
 * 100 clients: 600 examples, 1 local epoch) at batch 32 and at batch 128
 * (tfjs wasm backend, `DataOwner.localUpdate`). The issue's target: the
 * pipeline <= 10% of the client's local training step.
 *
 * Noise: the exact samplers (`exactNoise`, src/dp/exact-noise.ts) on a
 * `CryptoRandom`: the system CSPRNG and the keyed AES-256-CTR one, with the
 * samplers' hot loops in wasm (bit-for-bit the TypeScript samplers) and, for
 * reference, the TypeScript samplers. Noise levels from `ddpParams` (n = 100
 * clients, z = 1, Hadamard, D = 131,072): bits 16 (c = 0.1; σ_local·s = 811.8,
 * the same for any c) and bits 20 (c = 1; σ_local·s = 12,989).
 *
 * Timing: medians over DP_BENCH_REPS (default 9) runs of process CPU time
 * (user + system, all threads) and of wall time; the machine is shared, so the
 * ratios use CPU time (the training's CPU time includes any tfjs threads).
 * The training is measured before and after the pipelines, medians over both.
 * Also: the target's decoding (mod 2^bits, unscale, unrotate), and the wrap
 * rate of the modular clipping at the computed scale (n = 16 clients,
 * D = 4096, bits 12, modclipProb 1e-4) over DP_BENCH_WRAP_ROUNDS rounds
 * (default 150): aligned updates (the heuristic's worst case) and independent.
 *
 * Writes bench/results/dp-pipeline.json.   npm run bench -- dp-pipeline
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { ddpParams, type DdpMechanism, type DdpParams } from '../src/dp/ddp-params.js';
import { decodeSum, encodeUpdate } from '../src/dp/distributed.js';
import { countWraps } from '../src/dp/modclip.js';
import { distributedDp } from '../src/dp/distributed.js';
import { rotationSeed, type RotationKind } from '../src/dp/rotation.js';
import { CryptoRandom } from '../src/dp/random.js';
import { exactNoise } from '../src/dp/exact-noise.js';
import type { NoiseSource } from '../src/dp/noise.js';

const root = new URL('..', import.meta.url).pathname;
const REPS = Number(process.env.DP_BENCH_REPS ?? 9);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
interface Timing { cpuMs: number; wallMs: number; cpuRuns: number[] }
/** Medians of CPU and wall time over `reps` runs after one warm-up run. */
function time(f: () => unknown, reps = REPS): Timing {
  f();
  const cpu: number[] = [], wall: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c = process.cpuUsage();
    const t0 = performance.now();
    f();
    wall.push(performance.now() - t0);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1e3);
  }
  return { cpuMs: median(cpu), wallMs: median(wall), cpuRuns: cpu };
}
const r1 = (x: number) => Math.round(x * 10) / 10;
const KEY = new Uint8Array(32).fill(7);

async function main(): Promise<void> {
  const { initTf, loadMnist, DataOwner, buildModel, getFlatWeights, weightLayout } = await import('../src/learning/index.js');
  const backend = await initTf();
  const model = buildModel('network_a');
  const dim = weightLayout(model).total;
  const w0 = getFlatWeights(model);
  model.dispose();
  // the setting: MNIST's 60,000 training examples over 100 clients
  const owner = new DataOwner('owner0', 'network_a', loadMnist(), { start: 0, end: 600 }, { batchSize: 128 });
  owner.updateModel(w0);
  let delta = owner.localUpdate({ maxSteps: 1 }).delta;
  const training = () => ({
    step128: time(() => (delta = owner.localUpdate({ maxSteps: 1 }).delta)),
    epoch32: time(() => owner.localUpdate({ epochs: 1, batchSize: 32 }), Math.max(3, REPS >> 1)),
    epoch128: time(() => owner.localUpdate({ epochs: 1, batchSize: 128 }), Math.max(3, REPS >> 1)),
  });
  const before = training();
  console.log(`dp-pipeline bench: backend ${backend}; network_a ${dim} parameters; load ${loadavg()[0]!.toFixed(1)}; training before: step(128) ${before.step128.cpuMs.toFixed(1)} ms CPU, epoch of 600 at 32 ${before.epoch32.cpuMs.toFixed(0)} ms, at 128 ${before.epoch128.cpuMs.toFixed(0)} ms`);

  const x = Float64Array.from(delta);
  const seed = rotationSeed('bench/round/1');
  const rotation: RotationKind = 'hadamard';
  const sources: [string, () => NoiseSource][] = [
    ['system/wasm', () => exactNoise(CryptoRandom.system(), { backend: 'wasm' })],
    ['keyed/wasm', () => exactNoise(CryptoRandom.fromKey(KEY, 'bench'), { backend: 'wasm' })],
    ['system/ts', () => exactNoise(CryptoRandom.system(), { backend: 'ts' })],
  ];
  const rows: Record<string, unknown>[] = [];
  const noiseOnly: Record<string, unknown>[] = [];
  const pipe: Record<string, Timing> = {};
  for (const [bits, clip] of [[16, 0.1], [20, 1]] as const) {
    const base = { rotation, bits, expectedClients: 100, clip, dim };
    const p0 = ddpParams({ ...base, mechanism: 'dgauss', noiseMultiplier: 0 });
    const noNoise = time(() => encodeUpdate(p0, x, seed, sources[0]![1]()));
    pipe[`bits${bits}/no noise`] = noNoise;
    rows.push({ bits, clip, mechanism: 'none', source: 'system', scale: p0.scale, pipelineCpuMs: noNoise.cpuMs, pipelineWallMs: noNoise.wallMs });
    for (const mechanism of ['dgauss', 'skellam'] as DdpMechanism[]) {
      const p: DdpParams = ddpParams({ ...base, mechanism, noiseMultiplier: 1 });
      for (const [name, make] of sources) {
        const noise = make();
        const t = time(() => encodeUpdate(p, x, seed, noise), name.endsWith('/ts') ? Math.max(3, REPS >> 1) : REPS);
        const z = new Int32Array(p.paddedDim);
        const n = time(() => (mechanism === 'dgauss' ? noise.dgauss(z, p.localVariance) : noise.skellam(z, p.skellamMu)), name.endsWith('/ts') ? Math.max(3, REPS >> 1) : REPS);
        pipe[`bits${bits}/${mechanism}/${name}`] = t;
        rows.push({ bits, clip, mechanism, source: name, scale: p.scale, localStddevScaled: Math.sqrt(p.localVariance), localVariance: p.localVariance, skellamMu: p.skellamMu, pipelineCpuMs: t.cpuMs, pipelineWallMs: t.wallMs, noiseCpuMs: n.cpuMs, noiseWallMs: n.wallMs });
        noiseOnly.push({ bits, mechanism, source: name, samples: p.paddedDim, cpuMs: n.cpuMs, samplesPerS: Math.round(p.paddedDim / n.cpuMs * 1e3) });
        console.log(`bits ${bits} ${mechanism} ${name} (σ_local·s = ${Math.sqrt(p.localVariance).toFixed(1)}): pipeline ${t.cpuMs.toFixed(1)} ms CPU (${t.wallMs.toFixed(1)} wall), noise alone ${n.cpuMs.toFixed(1)} ms CPU`);
      }
    }
    const sums = Array.from(encodeUpdate(p0, x, seed, sources[0]![1]()).noised, (v) => BigInt(v) * 100n);
    rows.push({ bits, clip, targetDecodeCpuMs: time(() => decodeSum(p0, sums, seed), 5).cpuMs });
  }
  const after = training();
  const med = (k: 'step128' | 'epoch32' | 'epoch128') => median([...before[k].cpuRuns, ...after[k].cpuRuns]);
  const train = { step128CpuMs: med('step128'), epoch32CpuMs: med('epoch32'), epoch128CpuMs: med('epoch128'), before, after };
  console.log(`training (CPU, medians before+after): step(128) ${train.step128CpuMs.toFixed(1)} ms, local epoch of 600 at batch 32 ${train.epoch32CpuMs.toFixed(0)} ms, at batch 128 ${train.epoch128CpuMs.toFixed(0)} ms`);
  const ratios: Record<string, unknown>[] = [];
  for (const [k, t] of Object.entries(pipe)) {
    const r = { pipeline: k, cpuMs: r1(t.cpuMs), ofStep128: t.cpuMs / train.step128CpuMs, ofRoundBatch32: t.cpuMs / train.epoch32CpuMs, ofRoundBatch128: t.cpuMs / train.epoch128CpuMs };
    ratios.push({ ...r, meetsA: r.ofStep128 <= 0.1, meetsB32: r.ofRoundBatch32 <= 0.1, meetsB128: r.ofRoundBatch128 <= 0.1 });
    console.log(`${k}: ${t.cpuMs.toFixed(1)} ms = ${(100 * r.ofStep128).toFixed(1)}% of a step (batch 128), ${(100 * r.ofRoundBatch32).toFixed(1)}% / ${(100 * r.ofRoundBatch128).toFixed(1)}% of a round's local training (batch 32 / 128)`);
  }
  const wrapRounds = Number(process.env.DP_BENCH_WRAP_ROUNDS ?? 150);
  const wrapRates: Record<string, unknown>[] = [];
  for (const [mechanism, rotation] of [['skellam', 'hadamard'], ['dgauss', 'dft']] as [DdpMechanism, RotationKind][]) {
    for (const aligned of [true, false]) {
      const n = 16, D = 4096, modclipProb = 1e-4;
      const p = distributedDp({ mechanism, rotation, bits: 12, clip: 1, noiseMultiplier: 0.5, expectedClients: n, modclipProb }).params(D);
      const noise = exactNoise(CryptoRandom.fromKey(KEY, `wrap rate ${mechanism} ${rotation} ${aligned}`));
      let wraps = 0;
      for (let t = 0; t < wrapRounds; t++) {
        const seed = rotationSeed(`bench/wraps/${t}`);
        const sum = new Float64Array(p.paddedDim);
        for (let c = 0; c < n; c++) {
          const u = Float64Array.from({ length: D }, (_, i) => Math.cos(i * 0.37 + (aligned ? 1 : 7.1 * c + t)) + 0.3);
          encodeUpdate(p, u, seed, noise).noised.forEach((v, i) => (sum[i]! += v));
        }
        wraps += countWraps(sum, p.bits);
      }
      const N = wrapRounds * p.paddedDim;
      wrapRates.push({ mechanism, rotation, updates: aligned ? 'aligned (worst case)' : 'independent', clients: n, paddedDim: p.paddedDim, bits: p.bits, modclipProb, wraps, coordinates: N, rate: wraps / N, expectedAtModclipProb: N * modclipProb, sdAtModclipProb: Math.sqrt(N * modclipProb) });
      console.log(`wrap rate ${mechanism}/${rotation}, ${aligned ? 'aligned' : 'independent'} updates: ${wraps}/${N} = ${(wraps / N).toExponential(2)} (modclipProb ${modclipProb}: ${(N * modclipProb).toFixed(0)} ± ${Math.sqrt(N * modclipProb).toFixed(0)})`);
    }
  }
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  const out = {
    date: new Date().toISOString(),
    command: 'npm run bench -- dp-pipeline',
    backend,
    node: process.version,
    loadAverage: loadavg(),
    model: 'network_a',
    parameters: dim,
    paddedDim: 131072,
    target: 'pipeline <= 10% of the client\'s local training (a) per step at batch 128, (b) per FedAvg round: 600 examples, 1 epoch',
    noiseSource: 'exact samplers (exactNoise over CryptoRandom: system or keyed AES-256-CTR; wasm hot loops, or TypeScript)',
    reps: REPS,
    timing: 'medians of process CPU time (and wall time) over reps; ratios on CPU time',
    training: train,
    rows,
    noiseOnly,
    ratios,
    wrapRateNoise: 'exact samplers, keyed CryptoRandom',
    wrapRates,
  };
  writeFileSync(join(root, 'bench/results/dp-pipeline.json'), JSON.stringify(out, null, 2) + '\n');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
