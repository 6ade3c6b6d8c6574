// Exact DP samplers' hot loops, compiled with AssemblyScript to dist/wasm/dp-samplers.wasm
// (src/dp/wasm-samplers.ts lays out the memory and drives them). They are line-for-line
// the TypeScript samplers (src/dp/discrete-gaussian.ts, bernoulli-exp.ts, poisson.ts) over a
// window of CSPRNG words that JS copies into this memory: the same words give the same draws.
//
// Every draw is a comparison of uniform words: with exact integers (u64 here), or with
// e^{-γ} through a float filter that decides only what its error bounds prove. The filters
// are the same IEEE-754 operations as in TypeScript. The Poisson filter calls the host's
// Math.log / log1p / exp (imported), so its doubles are bit-for-bit the TypeScript ones; the
// discrete Gaussian's use AssemblyScript's own log / exp (< 1 ulp, within the filters' bounds:
// where both filters decide they decide alike, see docs/dp-samplers.md). Whenever the
// TypeScript sampler would leave the fast path (BigInt arithmetic, the filter's undecided band, an exhausted word window, a
// sample beyond int32), the kernel abandons the current sample, restores the window position
// (and bit buffer) of its start and returns: JS replays that one sample with the TypeScript
// sampler from the same position of the same CSPRNG stream.

@external("env", "log") declare function hostLog(x: f64): f64;
@external("env", "log1p") declare function hostLog1p(x: f64): f64;
@external("env", "exp") declare function hostExp(x: f64): f64;

const TWO32: u64 = 0x100000000;
const TWO53: u64 = 0x20000000000000;
const TWO53F: f64 = 9007199254740992.0;
const REL: f64 = 1e-13;
const LN2: f64 = 0.6931471805599453;
const INV32: f64 = 1.0 / 4294967296.0;
const INV53: f64 = 1.0 / 9007199254740992.0;
const GEO_MAX: f64 = 4503599627370496.0; // 2^52

let W: usize = 0;       // the word window (u32)
let pos: i32 = 0;
let end: i32 = 0;
let fail: bool = false;
let bitWord: u32 = 0;
let bitsLeft: i32 = 0;

export function heapBase(): usize {
  return (__heap_base + 63) & ~(<usize>63);
}
export function consumed(): i32 { return pos; }
export function bitState(): u32 { return bitWord; }
export function bitCount(): i32 { return bitsLeft; }

@inline function next(): u32 {
  if (pos >= end) {
    fail = true;
    return 0;
  }
  const w = load<u32>(W + ((<usize>pos) << 2));
  pos++;
  return w;
}

// CryptoRandom.bit
@inline function bit(): u32 {
  if (bitsLeft == 0) {
    bitWord = next();
    bitsLeft = 32;
  }
  bitsLeft--;
  const b = bitWord & 1;
  bitWord >>>= 1;
  return b;
}

// CryptoRandom.uint53: the first word gives the high 21 bits
@inline function uint53(): u64 {
  const hi = <u64>(next() & 0x1fffff);
  const lo = <u64>next();
  return (hi << 32) | lo;
}

// CryptoRandom.int(n) for 1 ≤ n ≤ 2^53
function intN(n: u64): u64 {
  if (n < TWO32) {
    // CryptoRandom.int rejects x ≥ limit = 2^32 − (2^32 mod n) and returns x mod n. With
    // r = x mod n (32-bit), x − r is a multiple of n, and it is ≥ limit iff x − r + n > 2^32:
    // the same test with one division instead of two.
    const n32 = <u32>n;
    for (;;) {
      const x = next();
      if (fail) return 0;
      const r = x % n32;
      if (<u64>(x - r) + n <= TWO32) return <u64>r;
    }
  }
  if (n == TWO32) return <u64>next();
  if (n == TWO53) return uint53();
  const limit = TWO53 - (TWO53 % n);
  let x = uint53();
  while (x >= limit) {
    if (fail) return 0;
    x = uint53();
  }
  return x % n;
}

// bernoulli-exp.ts expNegSide: U ∈ [u, u + 1)·scale against e^{-γ}, |g − γ| ≤ err:
// 1 wholly below, 0 wholly at or above, -1 undecided (TypeScript decides it exactly)
function expNegSide(u: f64, scale: f64, g: f64, err: f64): i32 {
  if (!(g >= 0 && err >= 0 && err < 1e-3)) return -1;
  if (g - err > 690) return u >= 1 ? 0 : -1;
  const below = (u + 1) * scale, above = u * scale;
  // squeeze, no exp: (1 − γ/4)^4 ≤ e^{-γ} ≤ (1 + γ/4)^{-4}; both sides move by at most |Δγ|
  // (slopes within [−1, 0]), so err is an additive margin; 1e-14 covers their roundings
  if (g < 3.99) {
    const s = 1 - g / 4, s2 = s * s;
    if (below <= s2 * s2 * (1 - 1e-14) - err * 1.01) return 1;
  }
  const r = 1 + g / 4, r2 = r * r;
  if (above >= (1 / (r2 * r2)) * (1 + 1e-14) + err * 1.01) return 0;
  const p = NativeMath.exp(-g);
  // e^{-γ} ∈ p·[1 − η, 1 + η]: e^{±err} (err < 1e-3: expm1(err) < 1.0006·err), the exp's
  // < 1 ulp, the two products' roundings
  const eta = err * 1.01 + 1e-14;
  if (below <= p * (1 - eta)) return 1;
  if (above >= p * (1 + eta)) return 0;
  return -1;
}

// discrete-gaussian.ts geometricFloat (NativeMath.log: its own < 1 ulp, within the same bound)
function geometricFloat(u: f64, t: f64): f64 {
  if (u == 0) return -1;
  const z = -t * NativeMath.log((u + 0.5) * INV53);
  const x = Math.floor(z);
  const d = (1.01 * t) / u + z * 1e-15;
  if (!(x >= 0 && x < GEO_MAX && z - d > x && z + d < x + 1)) return -1;
  return x;
}

// discrete-gaussian.ts discreteLaplaceT (fail where TypeScript goes exact)
function dlap(t: f64, widen: f64): f64 {
  for (;;) {
    const neg = bit();
    const u = <f64>uint53();
    if (fail) return 0;
    const x = widen != 0 ? -1 : geometricFloat(u, t);
    if (x < 0) {
      fail = true;
      return 0;
    }
    if (neg == 1 && x == 0) continue;
    return neg == 1 ? -x : x;
  }
}

// discrete-gaussian.ts dgaussSample with gammaFloat's first two cases (the third is BigInt: TypeScript)
function dgaussSample(t: f64, tq: f64, p: f64, Df: f64, widen: f64): f64 {
  for (;;) {
    const y = dlap(t, widen);
    if (fail) return 0;
    const ay = Math.abs(y);
    const prod = ay * tq;
    let g: f64, err: f64;
    if (prod < TWO53F) {
      const a = prod - p;
      g = (a * a) / Df;
      err = g * REL;
    } else if (prod < 1.2676506002282294e30) {
      const a = prod - p, absErr = prod * 8.881784197001252e-16;
      g = (a * a) / Df;
      err = g * REL + ((2 * Math.abs(a) + absErr) * absErr / Df) * 1.001;
    } else {
      fail = true;
      return 0;
    }
    const w = <f64>next();
    if (fail) return 0;
    const side = widen != 0 ? -1 : expNegSide(w, INV32, g, err);
    if (side == -1) {
      fail = true;
      return 0;
    }
    if (side == 1) return y;
  }
  return 0; // (unreachable)
}

/**
 * Discrete Gaussian samples out[i0..n) (i32) from the nWords words at `words`, for a plan with
 * `fast` set (dgaussPlan), the bit buffer (bw, bl) carried in and out (`bitState`, `bitCount`).
 * Returns the index of the first sample not produced; `consumed()` is the window position
 * after the last produced sample.
 */
export function dgaussRun(out: usize, i0: i32, n: i32, words: usize, nWords: i32, bw: u32, bl: i32, t: f64, tq: f64, p: f64, Df: f64, widen: f64): i32 {
  W = words;
  pos = 0;
  end = nWords;
  bitWord = bw;
  bitsLeft = bl;
  let i = i0;
  for (; i < n; i++) {
    const start = pos, sw = bitWord, sl = bitsLeft;
    fail = false;
    const y = dgaussSample(t, tq, p, Df, widen);
    if (fail || y > 2147483647 || y < -2147483648) {
      pos = start;
      bitWord = sw;
      bitsLeft = sl;
      break;
    }
    store<i32>(out + ((<usize>i) << 2), <i32>y);
  }
  return i;
}

// ---- Poisson (poisson.ts) ----

let pm: f64 = 0;        // m = ⌊μ⌋
let pmu: i64 = 0;
let pw: u64 = 1;        // w
let pLnMu: f64 = 0;
let pLnMuX: f64 = 0;
let pLnX: f64 = 0;
let pLnK: f64 = 0;
let pKNum: u64 = 0;
let pHalfLn2Pi: f64 = 0;
let pLnFact: usize = 0; // ln((z-1)!) for z = 1..18, f64

export function poissonSetup(m: f64, w: f64, lnMu: f64, lnMuX: f64, lnX: f64, lnK: f64, kNum: f64, halfLn2Pi: f64, lnFact: usize): void {
  pm = m;
  pmu = <i64>m;
  pw = <u64>w;
  pLnMu = lnMu;
  pLnMuX = lnMuX;
  pLnX = lnX;
  pLnK = lnK;
  pKNum = <u64>kNum;
  pHalfLn2Pi = halfLn2Pi;
  pLnFact = lnFact;
}

@inline function stirlingTail(z: f64): f64 {
  const r = 1 / z, r2 = r * r;
  return r * (1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 / 1680)));
}

function lnGammaInt(z: f64): f64 {
  if (z <= 18) return load<f64>(pLnFact + ((<usize>(<i32>z - 1)) << 3));
  return (z - 0.5) * hostLog(z) - z + pHalfLn2Pi + stirlingTail(z);
}

let tolOut: f64 = 0;
function lnRatio(k: f64): f64 {
  const d = k - pm;
  const x = pm + 1, y = k + 1;
  let v: f64, lnMax: f64;
  if (x > 18 && y > 18) {
    const L = hostLog1p(d / x);
    const s = stirlingTail(y) - stirlingTail(x);
    v = d * pLnMuX + d - (y - 0.5) * L - s;
    lnMax = pLnX + Math.max(0, L);
  } else {
    v = d * pLnMu - (lnGammaInt(y) - lnGammaInt(x));
    lnMax = pLnX + Math.max(0, d) / x;
  }
  tolOut = 1e-10 + 1e-14 * (Math.abs(d) + 1) * (Math.abs(pLnMu) + lnMax + 4);
  return v;
}

function accept(k: f64, J: f64): bool {
  const u = <f64>uint53();
  if (fail) return false;
  const lr = lnRatio(k);
  const tol = tolOut;
  const e = lr + J * LN2 - pLnK;
  // poisson.ts' squeeze (no exp), the same operations
  if (e >= -50 && e <= 0) {
    const s = 1 + e / 4, s2 = s * s, t = 1 - e / 4, t2 = t * t;
    if (s >= 0 && (u + 1) / TWO53F <= s2 * s2 * (1 - 2e-15) * (1 - 2 * tol - 1e-14)) return true;
    if (u / TWO53F >= (1 / (t2 * t2)) * (1 + 2e-15) * (1 + 2 * tol + 1e-14)) return false;
  }
  const a = hostExp(e);
  const small = a < 1e-290;
  const lo = small ? 0 : a * (1 - 2 * tol - 1e-14);
  const hi = small ? 1e-290 : a * (1 + 2 * tol + 1e-14);
  if ((u + 1) / TWO53F <= lo) return true;
  if (u / TWO53F >= hi) return false;
  fail = true; // the exact rational acceptance: TypeScript
  return false;
}

function poissonSample(): i64 {
  for (;;) {
    let J: u64 = 0;
    for (;;) {
      const b = bit();
      if (fail) return 0;
      if (b != 1) break;
      J++;
    }
    const neg = bit();
    if (fail) return 0;
    const v: u64 = pw == 1 ? 0 : intN(pw);
    if (fail) return 0;
    const a = J * pw + v;
    if (a == 0) {
      // rng.bernoulli(2^19, kNum): int(kNum) < 2^19
      const r = intN(pKNum);
      if (fail) return 0;
      if (r < (1 << 19)) return pmu;
      continue;
    }
    if (a > (TWO53 >> 2)) {
      fail = true;
      return 0;
    }
    const k = neg == 1 ? pmu - <i64>a : pmu + <i64>a;
    if (k < 0) continue;
    const ok = accept(<f64>k, <f64>J);
    if (fail) return 0;
    if (ok) return k;
  }
  return 0; // (unreachable)
}

/**
 * Poisson (skellam = 0) or Skellam (skellam = 1: two Poissons, first minus second) samples
 * out[i0..n) (i32), after `poissonSetup`, with the bit buffer (word, count) carried in and out
 * (`bitState`, `bitCount`). Returns as `dgaussRun`.
 */
export function poissonRun(out: usize, i0: i32, n: i32, words: usize, nWords: i32, skellam: i32, bw: u32, bl: i32): i32 {
  W = words;
  pos = 0;
  end = nWords;
  bitWord = bw;
  bitsLeft = bl;
  let i = i0;
  for (; i < n; i++) {
    const start = pos, sw = bitWord, sl = bitsLeft;
    fail = false;
    let x = poissonSample();
    if (!fail && skellam != 0) x -= poissonSample();
    if (fail || x > 2147483647 || x < -2147483648) {
      pos = start;
      bitWord = sw;
      bitsLeft = sl;
      break;
    }
    store<i32>(out + ((<usize>i) << 2), <i32>x);
  }
  return i;
}
