// Ring kernel benchmark: Z_2^64 matmul 256^3 (G ops/s, 2*M*N*K ops) and
// elementwise add/mul on 1M elements (ns/element), wasm against baselines
// measured in the same run. Writes bench/results/ring.json.
//   node --import tsx bench/ring.bench.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import * as R from '../src/ring/index.js';
import { defaultWasmPath, instantiateRingWasm } from '../src/ring/wasm.js';

if (!R.wasmAvailable().available) {
  console.error(`ring.bench: ${R.wasmAvailable().error}; run \`npm run build\``);
  process.exit(1);
}

/** Median wall time (ms) of `runs` calls after `warm` warm-up calls. */
function median(f: () => unknown, runs: number, warm = 2): number {
  for (let i = 0; i < warm; i++) f();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = process.hrtime.bigint();
    f();
    t.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  t.sort((x, y) => x - y);
  return t[Math.floor(t.length / 2)]!;
}

const rnd = (bits: R.RingBits, shape: number[]): R.RingTensor =>
  R.RingTensor.fromRandomBytes(bits, shape, randomBytes(shape.reduce((a, b) => a * b, 1) * (bits / 8)));
const gops = (m: number, k: number, n: number, ms: number): number => (2 * m * k * n) / (ms * 1e6);
const r3 = (x: number): number => Math.round(x * 1000) / 1000;
const results: Record<string, unknown> = {};
const loadStart = loadavg()[0]!;
const log = (k: string, v: Record<string, number | string>): void => {
  results[k] = v;
  console.log(k.padEnd(34), Object.entries(v).map(([a, b]) => `${a}=${typeof b === 'number' ? r3(b) : b}`).join('  '));
};

// Raw module instance for the "resident" figures (operands already in wasm memory, no copies).
const ex = instantiateRingWasm(defaultWasmPath()!);
const base = ex.heapBase();
const ensure = (bytes: number): BigUint64Array => {
  const need = base + bytes - ex.memory.buffer.byteLength;
  if (need > 0) ex.memory.grow(Math.ceil(need / 65536));
  return new BigUint64Array(ex.memory.buffer);
};

// ------------------------------------------------------------------ matmul
{
  const n = 256;
  const a = rnd(64, [n, n]), b = rnd(64, [n, n]);
  const api = median(() => R.matmul(a, b), 15);
  const mem = ensure(3 * n * n * 8 + n * 64);
  mem.set(a.data, base / 8);
  mem.set(b.data, base / 8 + n * n);
  const resident = median(() => ex.matmul64(base, base + n * n * 8, base + 2 * n * n * 8, n, n, n, base + 3 * n * n * 8), 15);
  // baseline 1: plain JS Float64 matmul of the same size (i-p-j loop, the cache-friendly order)
  const fa = new Float64Array(n * n).map(() => Math.random()), fb = new Float64Array(n * n).map(() => Math.random());
  const fo = new Float64Array(n * n);
  const f64 = median(() => {
    fo.fill(0);
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < n; p++) {
        const av = fa[i * n + p]!;
        const brow = p * n, orow = i * n;
        for (let j = 0; j < n; j++) fo[orow + j] += av * fb[brow + j]!;
      }
    }
  }, 7);
  // baseline 2: the TypeScript reference kernels (BigInt), at 48^3, scaled by op count
  const s = 48;
  const sa = rnd(64, [s, s]), sb = rnd(64, [s, s]);
  R.setRingBackend('ts');
  const tsRef = median(() => R.matmul(sa, sb), 3, 1);
  R.setRingBackend('wasm');
  log('matmul64_256', {
    gops_api: gops(n, n, n, api),
    gops_resident: gops(n, n, n, resident),
    ms_api: api,
    baseline_js_float64_gops: gops(n, n, n, f64),
    baseline_ts_reference_gops_48: gops(s, s, s, tsRef),
    ratio_vs_js_float64: f64 / api,
    ratio_vs_ts_reference: gops(n, n, n, api) / gops(s, s, s, tsRef),
  });
  const c = rnd(128, [n, n]), d = rnd(128, [n, n]);
  const api128 = median(() => R.matmul(c, d), 5, 1);
  R.setRingBackend('ts');
  const ts128 = median(() => R.matmul(rnd(128, [24, 24]), rnd(128, [24, 24])), 3, 1);
  R.setRingBackend('wasm');
  log('matmul128_256', { gops_api: gops(n, n, n, api128), ms_api: api128, baseline_ts_reference_gops_24: gops(24, 24, 24, ts128), ratio_vs_ts_reference: gops(n, n, n, api128) / gops(24, 24, 24, ts128) });
}

// ------------------------------------------------------------------ elementwise
{
  const N = 1 << 20;
  for (const bits of [64, 128] as const) {
    const a = rnd(bits, [N]), b = rnd(bits, [N]);
    const dst = a.clone();
    const limbs = bits / 64;
    const mem = ensure(3 * N * 8 * limbs);
    mem.set(a.data, base / 8);
    mem.set(b.data, base / 8 + N * limbs);
    for (const op of ['add', 'mul'] as const) {
      const alloc = median(() => R[op](a, b), 15);
      const inPlace = median(() => (op === 'add' ? R.addInPlace : R.mulInPlace)(dst, b), 21);
      const kern = bits === 64 ? (op === 'add' ? ex.add64 : ex.mul64) : op === 'add' ? ex.add128 : ex.mul128;
      const resident = median(() => kern(base, base + N * 8 * limbs, base + 2 * N * 8 * limbs, N), 21);
      const row: Record<string, number> = {
        ns_per_el_inplace_with_copies: (inPlace * 1e6) / N,
        ns_per_el_resident: (resident * 1e6) / N,
        ns_per_el_allocating: (alloc * 1e6) / N,
      };
      if (bits === 64) {
        // baseline: plain JS loop over BigUint64Array (V8 optimizes the wrap-around store)
        const x = a.data, y = b.data, o = new BigUint64Array(N);
        const js = median(op === 'add' ? () => { for (let i = 0; i < N; i++) o[i] = x[i]! + y[i]!; } : () => { for (let i = 0; i < N; i++) o[i] = x[i]! * y[i]!; }, 9);
        row.baseline_js_biguint64_loop_ns_per_el = (js * 1e6) / N;
        row.ratio_js_loop_vs_inplace = js / inPlace;
      }
      // baseline: TS reference kernels on 64K elements
      const M = 1 << 16;
      const sa = R.slice(a, [0], [M]), sb = R.slice(b, [0], [M]);
      R.setRingBackend('ts');
      const ref = median(() => R[op](sa, sb), 3, 1);
      R.setRingBackend('wasm');
      row.baseline_ts_reference_ns_per_el = (ref * 1e6) / M;
      log(`${op}${bits}_1M`, row);
    }
  }
  const a = rnd(64, [N]);
  log('sum64_1M', { ns_per_el_api: (median(() => R.sum(a), 15) * 1e6) / N });
  log('shrArith64_1M', { ns_per_el_inplace_with_copies: (median(() => R.shrArithInPlace(a, 16), 15) * 1e6) / N });
}

const out = {
  bench: 'ring',
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  loadavg_1min: { start: loadStart, end: loadavg()[0]! }, // the machine is shared: figures vary with load
  note: 'medians; matmul ops = 2*M*N*K; "api" includes copy in/out of wasm memory and the output allocation; "resident" is the kernel on operands already in wasm memory',
  targets: { matmul64_256_gops: 3, elementwise_ns_per_el: 1 },
  results,
};
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/ring.json', import.meta.url), JSON.stringify(out, null, 2) + '\n');
console.log('wrote bench/results/ring.json');
