// Ring kernel benchmark: Z_2^64 matmul 256^3 (G ops/s, 2*M*N*K ops) and
// elementwise add/mul on 1M elements (ns/element), wasm against baselines
// measured in the same run. Contenders that allocate little are interleaved
// round-robin (one call each per round) so that load changes on this shared
// machine hit all of them alike; contenders that make garbage (the allocating
// ops, the BigInt reference) run on their own afterwards so that their GC
// pauses do not land in the others' timings. Figures are medians.
// Writes bench/results/ring.json.
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

/** Median wall time (ms) per contender, `rounds` interleaved rounds after `warm` warm-up rounds. */
function race(contenders: Record<string, () => unknown>, rounds: number, warm = 2): Record<string, number> {
  const names = Object.keys(contenders);
  const t: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < warm + rounds; r++) {
    for (const n of names) {
      const s = process.hrtime.bigint();
      contenders[n]!();
      if (r >= warm) t[n]!.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
  }
  return Object.fromEntries(names.map((n) => [n, t[n]!.sort((x, y) => x - y)[Math.floor(rounds / 2)]!]));
}

function withTs<T>(f: () => T): T {
  R.setRingBackend('ts');
  try {
    return f();
  } finally {
    R.setRingBackend('wasm');
  }
}

const rnd = (bits: R.RingBits, shape: number[]): R.RingTensor =>
  R.RingTensor.fromRandomBytes(bits, shape, randomBytes(shape.reduce((a, b) => a * b, 1) * (bits / 8)));
const gops = (m: number, k: number, n: number, ms: number): number => (2 * m * k * n) / (ms * 1e6);
const r3 = (x: number): number => Math.round(x * 1000) / 1000;
const results: Record<string, unknown> = {};
const loadStart = loadavg()[0]!;
const log = (k: string, v: Record<string, number | string>): void => {
  results[k] = v;
  console.log(k.padEnd(14), Object.entries(v).map(([a, b]) => `${a}=${typeof b === 'number' ? r3(b) : b}`).join('  '));
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
  const mem = ensure(3 * n * n * 8 + n * 64);
  mem.set(a.data, base / 8);
  mem.set(b.data, base / 8 + n * n);
  // baseline 1: plain JS Float64 matmul of the same size (i-p-j loop, the cache-friendly order)
  const fa = new Float64Array(n * n).map(() => Math.random()), fb = new Float64Array(n * n).map(() => Math.random());
  const fo = new Float64Array(n * n);
  const f64 = (): void => {
    fo.fill(0);
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < n; p++) {
        const av = fa[i * n + p]!;
        const brow = p * n, orow = i * n;
        for (let j = 0; j < n; j++) fo[orow + j] += av * fb[brow + j]!;
      }
    }
  };
  // baseline 2: the TypeScript reference kernels (BigInt), at 48^3, scaled by op count
  const s = 48;
  const sa = rnd(64, [s, s]), sb = rnd(64, [s, s]);
  const t = race({
    api: () => R.matmul(a, b),
    resident: () => ex.matmul64(base, base + n * n * 8, base + 2 * n * n * 8, n, n, n, base + 3 * n * n * 8),
    f64,
  }, 11);
  t.tsRef = race({ tsRef: () => withTs(() => R.matmul(sa, sb)) }, 3, 1).tsRef!;
  log('matmul64_256', {
    gops_api: gops(n, n, n, t.api!),
    gops_resident: gops(n, n, n, t.resident!),
    ms_api: t.api!,
    baseline_js_float64_gops: gops(n, n, n, t.f64!),
    baseline_ts_reference_gops_48: gops(s, s, s, t.tsRef!),
    ratio_api_vs_js_float64: t.f64! / t.api!,
    ratio_api_vs_ts_reference: gops(n, n, n, t.api!) / gops(s, s, s, t.tsRef!),
  });
  const c = rnd(128, [n, n]), d = rnd(128, [n, n]);
  const c24 = rnd(128, [24, 24]), d24 = rnd(128, [24, 24]);
  const u = { ...race({ api: () => R.matmul(c, d) }, 5, 1), ...race({ tsRef: () => withTs(() => R.matmul(c24, d24)) }, 3, 1) };
  log('matmul128_256', {
    gops_api: gops(n, n, n, u.api!),
    ms_api: u.api!,
    baseline_ts_reference_gops_24: gops(24, 24, 24, u.tsRef!),
    ratio_api_vs_ts_reference: gops(n, n, n, u.api!) / gops(24, 24, 24, u.tsRef!),
  });
}

// ------------------------------------------------------------------ elementwise
{
  const N = 1 << 20;
  const M = 1 << 16; // TS reference size (scaled per element)
  for (const bits of [64, 128] as const) {
    const a = rnd(bits, [N]), b = rnd(bits, [N]);
    const dst = a.clone();
    const limbs = bits / 64;
    const mem = ensure(3 * N * 8 * limbs);
    mem.set(a.data, base / 8);
    mem.set(b.data, base / 8 + N * limbs);
    const sa = R.slice(a, [0], [M]), sb = R.slice(b, [0], [M]);
    const x = a.data, y = b.data, o = new BigUint64Array(N * limbs);
    for (const op of ['add', 'mul'] as const) {
      const kern = bits === 64 ? (op === 'add' ? ex.add64 : ex.mul64) : op === 'add' ? ex.add128 : ex.mul128;
      // the same public API on tensors resident in the ring heap (created in a ring scope, see src/ring/heap.ts):
      // a new result tensor per call (a reused heap block), and in place
      // (the tensors of the other contenders, created outside any scope, live in JS memory)
      const contenders: Record<string, () => unknown> = {
        inPlace: () => (op === 'add' ? R.addInPlace : R.mulInPlace)(dst, b),
        resident: () => kern(base, base + N * 8 * limbs, base + 2 * N * 8 * limbs, N),
      };
      let ra = a, rb = b, rdst = dst; // replaced by resident copies inside the scope below
      contenders.scoped = () => R.ringScope(() => { R[op](ra, rb); });
      contenders.scopedInPlace = () => (op === 'add' ? R.addInPlace : R.mulInPlace)(rdst, rb);
      // baseline: plain JS loop over BigUint64Array (V8 lowers the wrap-around store to int64 ops when warm)
      if (bits === 64) {
        contenders.jsLoop = op === 'add'
          ? () => { for (let i = 0; i < N; i++) o[i] = x[i]! + y[i]!; }
          : () => { for (let i = 0; i < N; i++) o[i] = x[i]! * y[i]!; };
      }
      const t = R.ringScope(() => {
        [ra, rb, rdst] = [a.clone(), b.clone(), dst.clone()];
        return race(contenders, 15);
      });
      t.allocating = race({ allocating: () => R[op](a, b) }, 15).allocating!;
      t.tsRef = race({ tsRef: () => withTs(() => R[op](sa, sb)) }, 3, 1).tsRef!;
      const ns = (ms: number, count = N): number => (ms * 1e6) / count;
      const row: Record<string, number> = {
        ns_per_el_api_resident_new_tensor: ns(t.scoped!),
        ns_per_el_api_resident_inplace: ns(t.scopedInPlace!),
        ns_per_el_inplace_with_copies: ns(t.inPlace!),
        ns_per_el_resident: ns(t.resident!),
        ns_per_el_allocating: ns(t.allocating!),
        baseline_ts_reference_ns_per_el: ns(t.tsRef!, M),
      };
      if (t.jsLoop !== undefined) {
        row.baseline_js_biguint64_loop_ns_per_el = ns(t.jsLoop);
        row.ratio_js_loop_vs_inplace = t.jsLoop / t.inPlace!;
      }
      log(`${op}${bits}_1M`, row);
    }
  }
  const a = rnd(64, [N]);
  const t = race({ sum: () => R.sum(a), shr: () => R.shrArithInPlace(a, 16) }, 15);
  log('sum64_1M', { ns_per_el_api: (t.sum! * 1e6) / N });
  log('shrArith64_1M', { ns_per_el_inplace_with_copies: (t.shr! * 1e6) / N });
}

const out = {
  bench: 'ring',
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  loadavg_1min: { start: loadStart, end: loadavg()[0]! }, // the machine is shared: figures vary with load
  note: 'medians over interleaved rounds; matmul ops = 2*M*N*K; "api_resident_*": the public ops (R.add/R.mul in a ring scope, R.addInPlace/R.mulInPlace) on tensors resident in the ring heap; "api" / "inplace_with_copies" (tensors in JS memory) include the copies into and out of wasm memory (and, for api/allocating, the output allocation); "resident" is the kernel alone on operands already in wasm memory',
  targets: { matmul64_256_gops: 3, elementwise_ns_per_el: 1 },
  results,
};
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/ring.json', import.meta.url), JSON.stringify(out, null, 2) + '\n');
console.log('wrote bench/results/ring.json');
