// DP samplers: samples/s of the exact discrete Gaussian (σ = 1, 10, 1e3, 1e5), of exact
// Poisson (Float64Array out) and Skellam (μ = σ²/2, the Skellam with the same variance), and of the lattice
// Gaussian for central DP (Float32 / Float64), against the INEXACT baseline in the same run:
// floating-point Box-Muller on the same CSPRNG (53-bit uniforms), which is neither an exact
// sampler nor safe against the floating-point attack. Also the raw rate of 32-bit draws.
// The wasm hot loops (src/dp/wasm-samplers.ts; bit-for-bit the TypeScript samplers) are raced too.
// Medians of interleaved rounds (process CPU time), N samples per call. Writes bench/results/dp-samplers.json.
//   npm run bench -- dp-samplers        (or: node --import tsx bench/dp-samplers.bench.ts)
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { CryptoRandom } from '../src/dp/random.js';
import { discreteGaussian } from '../src/dp/discrete-gaussian.js';
import { poisson, skellam } from '../src/dp/poisson.js';
import { gaussian } from '../src/dp/gaussian.js';
import { discreteGaussianWasm, skellamWasm } from '../src/dp/wasm-samplers.js';

const N = Number(process.env['N'] ?? 200_000);
const ROUNDS = Number(process.env['ROUNDS'] ?? 7);
const rng = CryptoRandom.fromKey(new Uint8Array(32).fill(7), 'bench');
const sys = CryptoRandom.system();

/**
 * Median process CPU time (ms, user + system) per contender over interleaved rounds, after one
 * warm-up round. CPU time rather than wall time: the bench machine is shared, and a
 * single-threaded sampler's CPU time is what it costs a client.
 */
function race(contenders: Record<string, () => unknown>, rounds: number, warm = 1): Record<string, number> {
  const names = Object.keys(contenders);
  const t: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < warm + rounds; r++) {
    for (const n of names) {
      const c = process.cpuUsage();
      contenders[n]!();
      const d = process.cpuUsage(c);
      if (r >= warm) t[n]!.push((d.user + d.system) / 1e3);
    }
  }
  return Object.fromEntries(names.map((n) => [n, t[n]!.sort((x, y) => x - y)[Math.floor(rounds / 2)]!]));
}

function cpuMs(f: () => unknown): number {
  const c = process.cpuUsage();
  f();
  const d = process.cpuUsage(c);
  return (d.user + d.system) / 1e3;
}

/** INEXACT baseline: Box-Muller in floating point from the same CSPRNG's 53-bit uniforms. */
function boxMullerInexact(r: CryptoRandom, sigma: number, out: Float64Array): void {
  for (let i = 0; i < out.length; i += 2) {
    const u1 = 1 - r.float53(), u2 = r.float53();
    const rad = sigma * Math.sqrt(-2 * Math.log(u1));
    out[i] = rad * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] = rad * Math.sin(2 * Math.PI * u2);
  }
}

let sink = 0;
const i32 = new Int32Array(N), f64 = new Float64Array(N), f32 = new Float32Array(N);
const results: Record<string, unknown> = { n: N, rounds: ROUNDS, cpu: cpus()[0]?.model, node: process.version, loadStart: loadavg()[0] };
const perS = (ms: number) => Math.round((N / ms) * 1e3);

results['uint32PerS'] = perS(race({ u: () => { for (let i = 0; i < N; i++) sink ^= rng.uint32(); } }, ROUNDS)['u']!);
results['uint32SystemPerS'] = perS(race({ u: () => { for (let i = 0; i < N; i++) sink ^= sys.uint32(); } }, ROUNDS)['u']!);

const rows: Record<string, unknown>[] = [];
for (const sigma of [1, 10, 1e3, 1e5]) {
  const mu = (sigma * sigma) / 2;
  const ms = race({
    dgauss: () => discreteGaussian(rng, sigma * sigma, i32),
    dgaussSystem: () => discreteGaussian(sys, sigma * sigma, i32),
    dgaussWasm: () => discreteGaussianWasm(rng, sigma * sigma, i32),
    skellamWasm: () => skellamWasm(rng, mu, i32),
    poisson: () => poisson(rng, mu, f64),
    skellam: () => skellam(rng, mu, i32),
    latticeGaussian64: () => gaussian(rng, sigma, f64),
    latticeGaussian32: () => gaussian(rng, sigma, f32),
    boxMullerInexact: () => boxMullerInexact(rng, sigma, f64),
  }, ROUNDS);
  sink ^= i32[0]! ^ (f64[0]! > 0 ? 1 : 0);
  const row = {
    sigma, mu,
    dgaussPerS: perS(ms['dgauss']!),
    dgaussSystemPerS: perS(ms['dgaussSystem']!),
    dgaussWasmPerS: perS(ms['dgaussWasm']!),
    skellamWasmPerS: perS(ms['skellamWasm']!),
    poissonPerS: perS(ms['poisson']!),
    skellamPerS: perS(ms['skellam']!),
    latticeGaussianF64PerS: perS(ms['latticeGaussian64']!),
    latticeGaussianF32PerS: perS(ms['latticeGaussian32']!),
    boxMullerInexactPerS: perS(ms['boxMullerInexact']!),
    dgaussOverBoxMuller: ms['dgauss']! / ms['boxMullerInexact']!,
  };
  rows.push(row);
  console.log(JSON.stringify(row));
}
results['rows'] = rows;
// one client update of 1M coordinates at σ = 1e3 (CPU ms), exact discrete Gaussian and Skellam of the same variance
const big = new Int32Array(1_000_000);
results['dgauss1M_sigma1e3_ms'] = cpuMs(() => discreteGaussian(rng, 1e6, big));
results['skellam1M_mu5e5_ms'] = cpuMs(() => skellam(rng, 5e5, big));
results['dgaussWasm1M_sigma1e3_ms'] = cpuMs(() => discreteGaussianWasm(rng, 1e6, big));
results['skellamWasm1M_mu5e5_ms'] = cpuMs(() => skellamWasm(rng, 5e5, big));
results['loadEnd'] = loadavg()[0];
results['sink'] = sink & 1;
console.log(`uint32/s keyed ${results['uint32PerS']}, system ${results['uint32SystemPerS']}; 1M dgauss σ=1e3: ${(results['dgauss1M_sigma1e3_ms'] as number).toFixed(0)} ms; 1M skellam μ=5e5: ${(results['skellam1M_mu5e5_ms'] as number).toFixed(0)} ms`);
mkdirSync(new URL('results/', import.meta.url), { recursive: true });
writeFileSync(new URL('results/dp-samplers.json', import.meta.url), JSON.stringify(results, null, 2) + '\n');
