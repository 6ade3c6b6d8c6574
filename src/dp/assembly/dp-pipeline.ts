// The distributed-DP client pipeline's passes (src/dp/distributed.ts `encodeUpdate`, Hadamard
// rotation), compiled with AssemblyScript to dist/wasm/dp-pipeline.wasm; src/dp/pipeline-wasm.ts
// lays out the memory. Every pass performs the TypeScript code's IEEE-754 operations in the same
// order per value (SIMD only across independent values; the sums stay sequential), so the
// results are bit-for-bit those of rotation.ts, clip.ts, discretize.ts and encodeUpdate.

export function heapBase(): usize {
  return (__heap_base + 63) & ~(<usize>63);
}

let bad: i32 = -1;
let l1: f64 = 0;
let sq: f64 = 0;
export function badIndex(): i32 { return bad; }
export function l1Norm(): f64 { return l1; }
export function sqNorm(): f64 { return sq; }

// a[i] *= 1 - 2·bit_i (bit i of the sign words), then the unnormalized Walsh-Hadamard transform
// in rotation.ts' order (radix-4 passes, then a radix-2 pass when log2 n is odd), then a[i] *= s.
export function hadamard(a: usize, n: i32, signs: usize, s: f64): void {
  for (let i = 0; i < n; i++) {
    const w = load<u32>(signs + ((<usize>(i >>> 5)) << 2));
    const p = a + ((<usize>i) << 3);
    store<f64>(p, load<f64>(p) * <f64>(1 - 2 * <i32>((w >>> (i & 31)) & 1)));
  }
  let h = 1;
  for (; 4 * h <= n; h *= 4) {
    const h2 = 2 * h, h4 = 4 * h;
    if (h == 1) {
      for (let j = 0; j < n; j += 4) {
        const p = a + ((<usize>j) << 3);
        const x0 = load<f64>(p), x1 = load<f64>(p, 8), x2 = load<f64>(p, 16), x3 = load<f64>(p, 24);
        const s01 = x0 + x1, d01 = x0 - x1, s23 = x2 + x3, d23 = x2 - x3;
        store<f64>(p, s01 + s23);
        store<f64>(p, d01 + d23, 8);
        store<f64>(p, s01 - s23, 16);
        store<f64>(p, d01 - d23, 24);
      }
      continue;
    }
    const bh = (<usize>h) << 3;
    for (let i = 0; i < n; i += h4) {
      for (let j = i; j < i + h; j += 2) {
        const p0 = a + ((<usize>j) << 3);
        const p1 = p0 + bh, p2 = p1 + bh, p3 = p2 + bh;
        const x0 = v128.load(p0), x1 = v128.load(p1), x2 = v128.load(p2), x3 = v128.load(p3);
        const s01 = f64x2.add(x0, x1), d01 = f64x2.sub(x0, x1), s23 = f64x2.add(x2, x3), d23 = f64x2.sub(x2, x3);
        v128.store(p0, f64x2.add(s01, s23));
        v128.store(p1, f64x2.add(d01, d23));
        v128.store(p2, f64x2.sub(s01, s23));
        v128.store(p3, f64x2.sub(d01, d23));
      }
    }
    void h2;
  }
  if (h < n) {
    const bh = (<usize>h) << 3;
    if (h == 1) {
      const x = load<f64>(a), y = load<f64>(a, 8);
      store<f64>(a, x + y);
      store<f64>(a, x - y, 8);
    } else {
      for (let j = 0; j < h; j += 2) {
        const p = a + ((<usize>j) << 3);
        const x = v128.load(p), y = v128.load(p + bh);
        v128.store(p, f64x2.add(x, y));
        v128.store(p + bh, f64x2.sub(x, y));
      }
    }
  }
  const sv = f64x2.splat(s);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const p = a + ((<usize>i) << 3);
    v128.store(p, f64x2.mul(v128.load(p), sv));
  }
  for (; i < n; i++) {
    const p = a + ((<usize>i) << 3);
    store<f64>(p, load<f64>(p) * s);
  }
}

// clip.ts l2Norm: max |a_i| (NaN propagates), then max·sqrt(Σ (a_i/max)²), sequential.
export function l2Norm(a: usize, n: i32): f64 {
  let max: f64 = 0;
  for (let i = 0; i < n; i++) {
    const v = Math.abs(load<f64>(a + ((<usize>i) << 3)));
    if (!(v <= max)) max = v;
  }
  if (max == 0 || !isFinite(max)) return max;
  let s: f64 = 0;
  for (let i = 0; i < n; i++) {
    const v = load<f64>(a + ((<usize>i) << 3)) / max;
    s += v * v;
  }
  return max * Math.sqrt(s);
}

// encodeUpdate's scale pass and discretize.ts stochasticRound (one try): v = a_i·f,
// q_i = ⌊v⌋ + [u_i < (v − ⌊v⌋)·2^32]; returns Σ q_i² (sequential, as the TypeScript n2);
// `badIndex()`: the last i with v outside (−2^31+1, 2^31−1) or NaN, else −1.
export function scaleRound(a: usize, n: i32, f: f64, coins: usize, q: usize): f64 {
  const LIMIT: f64 = 2147483647;
  let n2: f64 = 0;
  bad = -1;
  for (let i = 0; i < n; i++) {
    const v = load<f64>(a + ((<usize>i) << 3)) * f;
    if (!(v > -LIMIT && v < LIMIT)) {
      bad = i; // (the TypeScript throws after its loop: no value to keep)
      store<i32>(q + ((<usize>i) << 2), 0);
      continue;
    }
    const fl = Math.floor(v);
    const r = <f64>load<u32>(coins + ((<usize>i) << 2)) < (v - fl) * 4294967296 ? fl + 1 : fl;
    store<i32>(q + ((<usize>i) << 2), <i32>(<i64>r));
    n2 += r * r;
  }
  return n2;
}

// encodeUpdate's intNorms: Σ|q_i| and Σ q_i² (sequential), read back with l1Norm() / sqNorm().
export function intNorms(q: usize, n: i32): void {
  let a: f64 = 0, b: f64 = 0;
  for (let i = 0; i < n; i++) {
    const v = <f64>load<i32>(q + ((<usize>i) << 2));
    a += Math.abs(v);
    b += v * v;
  }
  l1 = a;
  sq = b;
}

// encodeUpdate's last pass: v = q_i (+ z_i), int32 check (badIndex), q_i = v, wraps counted
// outside [lo, hi), residues v & mask. Returns the wraps.
export function finish(q: usize, z: usize, n: i32, noise: i32, mask: i32, lo: i32, hi: i32, res: usize): i32 {
  let wraps = 0;
  bad = -1;
  for (let i = 0; i < n; i++) {
    const o = (<usize>i) << 2;
    const v = noise != 0 ? <i64>load<i32>(q + o) + <i64>load<i32>(z + o) : <i64>load<i32>(q + o);
    if (!(v > -2147483648 && v < 2147483648)) {
      bad = i;
      return 0;
    }
    const w = <i32>v;
    store<i32>(q + o, w);
    if (w < lo || w >= hi) wraps++;
    store<i32>(res + o, w & mask);
  }
  return wraps;
}
