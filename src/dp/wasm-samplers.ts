/**
 * The exact samplers' hot loops in WebAssembly (src/dp/assembly/dp-samplers.ts →
 * dist/wasm/dp-samplers.wasm): `discreteGaussianWasm`, `poissonWasm`, `skellamWasm` give
 * BIT-FOR-BIT the output of `discreteGaussian`, `poisson`, `skellam` (the TypeScript
 * samplers) for the same `CryptoRandom` stream, and leave the stream at the same position.
 *
 * How: the kernel runs the same algorithms (Canonne-Kamath-Steinke 2020 Algorithm 3 over a geometric drawn by inversion;
 * poisson.ts' mode-centred rejection) over the CryptoRandom's own buffer of words, copied
 * into wasm memory (`cryptoRandomWindow`), and the CryptoRandom's position is then moved
 * forward over the words the completed samples used (`cryptoRandomAdvance`). Where the
 * TypeScript sampler would leave its fast path (BigInt arithmetic, a float filter's
 * undecided band, more words than the buffer holds, a value beyond int32), the kernel stops
 * BEFORE that sample, with the position of its start, and the sample is drawn by the
 * TypeScript sampler from there: same words, same decisions. The exactness argument is
 * therefore the TypeScript samplers' (docs/dp-samplers.md): integer comparisons of uniform
 * words decide every draw, the float filters only choose which exact comparison settles it
 * (the Poisson filter calls the host's Math.log / log1p / exp, so its doubles are the
 * TypeScript ones), and the exact BigInt branch is the TypeScript code itself.
 *
 * The backend is explicit: these functions throw when dist/wasm/dp-samplers.wasm is missing
 * (`dpSamplersWasmAvailable()` tells); the TypeScript samplers are always there.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../ring/wasm.js';
import { assertCryptoRandom, cryptoRandomAdvance, cryptoRandomWindow, type CryptoRandom } from './random.js';
import { dgaussPlan, dgaussSample, type DGaussPlan, type Sigma2 } from './discrete-gaussian.js';
import { poissonPlan, poissonSample, type PoissonPlan } from './poisson.js';
import type { Rational } from './rational.js';

const PAGE = 65536;
const WINDOW = 16384; // words: CryptoRandom's buffer
const INT32_MAX = 2147483647;
const BLOCK = 1 << 16; // samples per pass through the output buffer

interface Exports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  heapBase(): number;
  consumed(): number;
  bitState(): number;
  bitCount(): number;
  dgaussRun(out: number, i0: number, n: number, words: number, nWords: number, bw: number, bl: number, t: number, tq: number, p: number, Df: number, widen: number): number;
  poissonSetup(m: number, w: number, lnMu: number, lnMuX: number, lnX: number, lnK: number, kNum: number, halfLn2Pi: number, lnFact: number): void;
  poissonRun(out: number, i0: number, n: number, words: number, nWords: number, skellam: number, bw: number, bl: number): number;
}

interface WasmApi {
  WebAssembly: {
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  };
}

/** dist/wasm/dp-samplers.wasm under the package root (null when the root is not found). */
export function dpSamplersWasmPath(): string | null {
  const root = packageRoot();
  return root === null ? null : join(root, 'dist', 'wasm', 'dp-samplers.wasm');
}

/** Whether the wasm samplers can run (the built kernel is present). */
export function dpSamplersWasmAvailable(): boolean {
  const f = dpSamplersWasmPath();
  return f !== null && existsSync(f);
}

interface Kernel {
  ex: Exports;
  words: number;
  lnFact: number;
  out: number;
}
let kernel: Kernel | undefined;

function load(fn: string): Kernel {
  if (kernel !== undefined) return kernel;
  const file = dpSamplersWasmPath();
  if (file === null || !existsSync(file)) throw new Error(`${fn}: ${file ?? 'dist/wasm/dp-samplers.wasm'} is missing; run \`npm run build\` (or use the TypeScript samplers)`);
  const WA = (globalThis as unknown as WasmApi).WebAssembly;
  const mod = new WA.Module(readFileSync(file));
  const ex = new WA.Instance(mod, {
    env: {
      log: Math.log, log1p: Math.log1p, exp: Math.exp,
      abort: () => { throw new Error('dp-samplers.wasm: abort'); },
    },
  }).exports as unknown as Exports;
  const base = ex.heapBase();
  const words = base;
  const lnFact = words + WINDOW * 4;
  const out = lnFact + 18 * 8;
  const need = out + BLOCK * 4;
  const have = ex.memory.buffer.byteLength;
  if (need > have) ex.memory.grow(Math.ceil((need - have) / PAGE));
  // ln((z-1)!) for z = 1..18, as poisson.ts computes them
  const lf = new Float64Array(ex.memory.buffer, lnFact, 18);
  for (let z = 1, f = 1; z <= 18; z++) {
    lf[z - 1] = Math.log(f);
    f *= z;
  }
  kernel = { ex, words, lnFact, out };
  return kernel;
}

type Out = Int32Array | Float64Array;

function checkOut(fn: string, out: unknown): boolean {
  if (out instanceof Int32Array) return true;
  if (out instanceof Float64Array) return false;
  throw new TypeError(`${fn}: "out" expected Int32Array or Float64Array, got ${out === null ? 'null' : typeof out === 'object' ? (out as object).constructor?.name : typeof out}`);
}

function store(fn: string, out: Out, isInt: boolean, i: number, x: number, what: string): void {
  if (isInt && (x > INT32_MAX || x < -INT32_MAX - 1)) throw new RangeError(`${fn}: sample ${x} at index ${i} does not fit the Int32Array "out"${what}; use a Float64Array`);
  out[i] = x;
}

/**
 * The driver: `run(i0, n, nWords, bitWord, bitsLeft)` fills samples i0.. of the current block
 * from the window, `slow()` draws one sample with the TypeScript sampler.
 */
function drive(
  fn: string, rng: CryptoRandom, out: Out, what: string,
  run: (k: Kernel, i0: number, n: number, nWords: number, bw: number, bl: number) => number,
  slow: () => number,
): void {
  const k = load(fn);
  const isInt = out instanceof Int32Array;
  for (let b0 = 0; b0 < out.length; b0 += BLOCK) {
    const n = Math.min(BLOCK, out.length - b0);
    let i = 0;
    while (i < n) {
      const w = cryptoRandomWindow(rng);
      const nWords = WINDOW - w.pos;
      new Uint32Array(k.ex.memory.buffer, k.words, nWords).set(w.words.subarray(w.pos));
      const stop = run(k, i, n, nWords, w.bitWord, w.bitsLeft);
      cryptoRandomAdvance(rng, w.pos + k.ex.consumed(), k.ex.bitState(), k.ex.bitCount());
      const got = new Int32Array(k.ex.memory.buffer, k.out + 4 * i, stop - i);
      if (isInt) (out as Int32Array).set(got, b0 + i);
      else for (let j = 0; j < got.length; j++) out[b0 + i + j] = got[j]!;
      i = stop;
      if (i < n) {
        // the TypeScript sampler from the stopped sample's first word
        store(fn, out, isInt, b0 + i, slow(), what);
        i++;
      }
    }
  }
}

/** `discreteGaussian` (the same output and stream use), its hot loop in wasm. */
export function discreteGaussianWasm(rng: CryptoRandom, sigma2: Sigma2, out: Out, mode: 'filtered' | 'widened' = 'filtered'): Out {
  const fn = 'discreteGaussianWasm';
  assertCryptoRandom(rng, 'rng', fn);
  checkOut(fn, out);
  const plan: DGaussPlan = dgaussPlan(sigma2, fn, mode);
  const what = ` (σ² = ${plan.sigma2.num}/${plan.sigma2.den})`;
  if (!plan.fast) {
    const isInt = out instanceof Int32Array;
    for (let i = 0; i < out.length; i++) store(fn, out, isInt, i, dgaussSample(rng, plan), what);
    return out;
  }
  drive(fn, rng, out, what,
    (k, i0, n, nWords, bw, bl) => k.ex.dgaussRun(k.out, i0, n, k.words, nWords, bw, bl, plan.t, plan.tq, plan.p, plan.Df, plan.widen),
    () => dgaussSample(rng, plan));
  return out;
}

function poissonLike(fn: string, rng: CryptoRandom, mu: number | Rational, out: Out, skellam: boolean): Out {
  assertCryptoRandom(rng, 'rng', fn);
  const isInt = checkOut(fn, out);
  const plan: PoissonPlan = poissonPlan(mu, fn);
  if (plan.mu.num === 0n) {
    out.fill(0);
    return out;
  }
  const k0 = load(fn);
  const setup = (): void => k0.ex.poissonSetup(plan.m, plan.w, plan.lnMu, plan.lnMuX, plan.lnX, plan.lnK, Number(plan.kNum), 0.5 * Math.log(2 * Math.PI), k0.lnFact);
  if (!(Number(plan.kNum) < 2 ** 53)) {
    for (let i = 0; i < out.length; i++) store(fn, out, isInt, i, skellam ? poissonSample(rng, plan) - poissonSample(rng, plan) : poissonSample(rng, plan), '');
    return out;
  }
  drive(fn, rng, out, '',
    (k, i0, n, nWords, bw, bl) => {
      setup();
      return k.ex.poissonRun(k.out, i0, n, k.words, nWords, skellam ? 1 : 0, bw, bl);
    },
    () => (skellam ? poissonSample(rng, plan) - poissonSample(rng, plan) : poissonSample(rng, plan)));
  return out;
}

/** `poisson` (the same output and stream use), its hot loop in wasm. */
export function poissonWasm(rng: CryptoRandom, mu: number | Rational, out: Out): Out {
  return poissonLike('poissonWasm', rng, mu, out, false);
}

/** `skellam` (the same output and stream use), its hot loop in wasm. */
export function skellamWasm(rng: CryptoRandom, mu: number | Rational, out: Out): Out {
  return poissonLike('skellamWasm', rng, mu, out, true);
}
