// Ring kernels over Z_2^64 and Z_2^128, compiled with AssemblyScript to dist/wasm/ring.wasm.
// All pointers are byte offsets into this module's memory, laid out by the JS
// side (src/ring/wasm.ts) above heapBase(). Counts are in elements. 64-bit
// tensors hold one u64 per element; 128-bit tensors two, little-endian
// (lo, hi). Elementwise kernels allow the output to alias an input.

export function heapBase(): usize {
  return (__heap_base + 63) & ~(<usize>63);
}

// ------------------------------------------------------------------ Z_2^64 elementwise (SIMD)

export function add64(a: usize, b: usize, o: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = (<usize>i) << 3;
    const x0 = v128.load(a + off), x1 = v128.load(a + off, 16);
    const y0 = v128.load(b + off), y1 = v128.load(b + off, 16);
    v128.store(o + off, i64x2.add(x0, y0));
    v128.store(o + off, i64x2.add(x1, y1), 16);
  }
  for (; i < n; i++) {
    const off = (<usize>i) << 3;
    store<u64>(o + off, load<u64>(a + off) + load<u64>(b + off));
  }
}

export function sub64(a: usize, b: usize, o: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = (<usize>i) << 3;
    const x0 = v128.load(a + off), x1 = v128.load(a + off, 16);
    const y0 = v128.load(b + off), y1 = v128.load(b + off, 16);
    v128.store(o + off, i64x2.sub(x0, y0));
    v128.store(o + off, i64x2.sub(x1, y1), 16);
  }
  for (; i < n; i++) {
    const off = (<usize>i) << 3;
    store<u64>(o + off, load<u64>(a + off) - load<u64>(b + off));
  }
}

export function mul64(a: usize, b: usize, o: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = (<usize>i) << 3;
    const x0 = v128.load(a + off), x1 = v128.load(a + off, 16);
    const y0 = v128.load(b + off), y1 = v128.load(b + off, 16);
    v128.store(o + off, i64x2.mul(x0, y0));
    v128.store(o + off, i64x2.mul(x1, y1), 16);
  }
  for (; i < n; i++) {
    const off = (<usize>i) << 3;
    store<u64>(o + off, load<u64>(a + off) * load<u64>(b + off));
  }
}

export function neg64(a: usize, o: usize, n: i32): void {
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const off = (<usize>i) << 3;
    v128.store(o + off, i64x2.neg(v128.load(a + off)));
  }
  for (; i < n; i++) {
    const off = (<usize>i) << 3;
    store<u64>(o + off, 0 - load<u64>(a + off));
  }
}

export function addScalar64(a: usize, s: u64, o: usize, n: i32): void {
  const sv = i64x2.splat(s);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const off = (<usize>i) << 3;
    v128.store(o + off, i64x2.add(v128.load(a + off), sv));
  }
  for (; i < n; i++) {
    const off = (<usize>i) << 3;
    store<u64>(o + off, load<u64>(a + off) + s);
  }
}

export function mulScalar64(a: usize, s: u64, o: usize, n: i32): void {
  const sv = i64x2.splat(s);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const off = (<usize>i) << 3;
    v128.store(o + off, i64x2.mul(v128.load(a + off), sv));
  }
  for (; i < n; i++) {
    const off = (<usize>i) << 3;
    store<u64>(o + off, load<u64>(a + off) * s);
  }
}

/** kind 0: shl, 1: logical right, 2: arithmetic right; 0 <= k < 64. */
export function shift64(a: usize, k: i32, kind: i32, o: usize, n: i32): void {
  let i = 0;
  if (kind == 0) {
    for (; i + 2 <= n; i += 2) {
      const off = (<usize>i) << 3;
      v128.store(o + off, i64x2.shl(v128.load(a + off), k));
    }
    for (; i < n; i++) store<u64>(o + ((<usize>i) << 3), load<u64>(a + ((<usize>i) << 3)) << k);
  } else if (kind == 1) {
    for (; i + 2 <= n; i += 2) {
      const off = (<usize>i) << 3;
      v128.store(o + off, i64x2.shr_u(v128.load(a + off), k));
    }
    for (; i < n; i++) store<u64>(o + ((<usize>i) << 3), load<u64>(a + ((<usize>i) << 3)) >> k);
  } else {
    for (; i + 2 <= n; i += 2) {
      const off = (<usize>i) << 3;
      v128.store(o + off, i64x2.shr_s(v128.load(a + off), k));
    }
    for (; i < n; i++) store<i64>(o + ((<usize>i) << 3), load<i64>(a + ((<usize>i) << 3)) >> k);
  }
}

/** a viewed as [outer, len, inner]; o[outer, inner] = sum over len. o must not alias a. */
export function sum64(a: usize, outer: i32, len: i32, inner: i32, o: usize): void {
  if (inner == 1) {
    for (let r = 0; r < outer; r++) {
      const base = a + (((<usize>r) * (<usize>len)) << 3);
      let v0 = i64x2.splat(0), v1 = i64x2.splat(0), v2 = i64x2.splat(0), v3 = i64x2.splat(0);
      let l = 0;
      for (; l + 8 <= len; l += 8) {
        const p = base + ((<usize>l) << 3);
        v0 = i64x2.add(v0, v128.load(p));
        v1 = i64x2.add(v1, v128.load(p, 16));
        v2 = i64x2.add(v2, v128.load(p, 32));
        v3 = i64x2.add(v3, v128.load(p, 48));
      }
      const v = i64x2.add(i64x2.add(v0, v1), i64x2.add(v2, v3));
      let s: u64 = i64x2.extract_lane(v, 0) + i64x2.extract_lane(v, 1);
      for (; l < len; l++) s += load<u64>(base + ((<usize>l) << 3));
      store<u64>(o + ((<usize>r) << 3), s);
    }
    return;
  }
  const rowBytes = (<usize>inner) << 3;
  for (let r = 0; r < outer; r++) {
    const dst = o + (<usize>r) * rowBytes;
    memory.fill(dst, 0, rowBytes);
    for (let l = 0; l < len; l++) add64(dst, a + ((<usize>r) * (<usize>len) + (<usize>l)) * rowBytes, dst, inner);
  }
}

// ------------------------------------------------------------------ Z_2^64 matmul

/**
 * out[m,n] = a[m,k] x b[k,n] mod 2^64. `panel` is scratch of k*64 bytes.
 * (One row of A per micro-kernel: two rows spill registers on x64 and measured slower.)
 *
 * B is packed 8 columns at a time as 32-bit halves: per row p of the panel,
 * lo(b[p, j..j+8]) then hi(b[p, j..j+8]). For each a[i,p] (lo a0, hi a1) and
 * b (lo b0, hi b1): a*b mod 2^64 = a0*b0 + ((a1*b0 + a0*b1) mod 2^32) << 32,
 * so the full 32x32->64 products a0*b0 go to i64 accumulators (extmul) and
 * the cross terms to i32 accumulators (i32x4.mul), combined once per output.
 */
export function matmul64(a: usize, b: usize, o: usize, m: i32, k: i32, n: i32, panel: usize): void {
  const K = <usize>k, N = <usize>n;
  for (let jb = 0; jb < n; jb += 8) {
    const w = min(8, n - jb);
    // pack the panel
    for (let p: usize = 0; p < K; p++) {
      const src = b + ((p * N + <usize>jb) << 3);
      const dst = panel + (p << 6);
      for (let c = 0; c < 8; c++) {
        const v: u64 = c < w ? load<u64>(src + ((<usize>c) << 3)) : 0;
        store<u32>(dst + ((<usize>c) << 2), <u32>v);
        store<u32>(dst + 32 + ((<usize>c) << 2), <u32>(v >> 32));
      }
    }
    for (let i = 0; i < m; i++) {
      const arow = a + (((<usize>i) * K) << 3);
      let p0 = i64x2.splat(0), p1 = i64x2.splat(0), p2 = i64x2.splat(0), p3 = i64x2.splat(0);
      let c0 = i64x2.splat(0), c1 = i64x2.splat(0);
      for (let p: usize = 0; p < K; p++) {
        const pp = panel + (p << 6);
        const bl0 = v128.load(pp), bl1 = v128.load(pp, 16), bh0 = v128.load(pp, 32), bh1 = v128.load(pp, 48);
        const av = load<u64>(arow + (p << 3));
        const alo = i32x4.splat(<i32>av), ahi = i32x4.splat(<i32>(av >> 32));
        p0 = i64x2.add(p0, i64x2.extmul_low_i32x4_u(alo, bl0));
        p1 = i64x2.add(p1, i64x2.extmul_high_i32x4_u(alo, bl0));
        p2 = i64x2.add(p2, i64x2.extmul_low_i32x4_u(alo, bl1));
        p3 = i64x2.add(p3, i64x2.extmul_high_i32x4_u(alo, bl1));
        c0 = i32x4.add(c0, i32x4.add(i32x4.mul(ahi, bl0), i32x4.mul(alo, bh0)));
        c1 = i32x4.add(c1, i32x4.add(i32x4.mul(ahi, bl1), i32x4.mul(alo, bh1)));
      }
      storeRow(o + (((<usize>i) * N + <usize>jb) << 3), w, p0, p1, p2, p3, c0, c1);
    }
  }
}

// @ts-ignore: decorator
@inline
function storeRow(dst: usize, w: i32, p0: v128, p1: v128, p2: v128, p3: v128, c0: v128, c1: v128): void {
  const r0 = i64x2.add(p0, i64x2.shl(i64x2.extend_low_i32x4_u(c0), 32));
  const r1 = i64x2.add(p1, i64x2.shl(i64x2.extend_high_i32x4_u(c0), 32));
  const r2 = i64x2.add(p2, i64x2.shl(i64x2.extend_low_i32x4_u(c1), 32));
  const r3 = i64x2.add(p3, i64x2.shl(i64x2.extend_high_i32x4_u(c1), 32));
  if (w == 8) {
    v128.store(dst, r0);
    v128.store(dst, r1, 16);
    v128.store(dst, r2, 32);
    v128.store(dst, r3, 48);
  } else {
    // partial block (last w < 8 columns): whole vectors, then an odd last lane
    const full = w >> 1;
    if (full > 0) v128.store(dst, r0);
    if (full > 1) v128.store(dst, r1, 16);
    if (full > 2) v128.store(dst, r2, 32);
    if (w & 1) {
      const v = full == 0 ? r0 : full == 1 ? r1 : full == 2 ? r2 : r3;
      store<u64>(dst + ((<usize>(w - 1)) << 3), <u64>i64x2.extract_lane(v, 0));
    }
  }
}

// ------------------------------------------------------------------ Z_2^128 (limb arithmetic; elementwise scalar, matmul SIMD)

/** High 64 bits of the 128-bit product a*b. */
// @ts-ignore: decorator
@inline
function mulhi(a: u64, b: u64): u64 {
  const a0 = a & 0xffffffff, a1 = a >> 32, b0 = b & 0xffffffff, b1 = b >> 32;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >> 32) + (p01 & 0xffffffff) + (p10 & 0xffffffff);
  return p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

export function add128(a: usize, b: usize, o: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const off = (<usize>i) << 4;
    const al = load<u64>(a + off), ah = load<u64>(a + off, 8);
    const bl = load<u64>(b + off), bh = load<u64>(b + off, 8);
    const lo = al + bl;
    store<u64>(o + off, lo);
    store<u64>(o + off, ah + bh + <u64>(lo < al), 8);
  }
}

export function sub128(a: usize, b: usize, o: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const off = (<usize>i) << 4;
    const al = load<u64>(a + off), ah = load<u64>(a + off, 8);
    const bl = load<u64>(b + off), bh = load<u64>(b + off, 8);
    store<u64>(o + off, al - bl);
    store<u64>(o + off, ah - bh - <u64>(al < bl), 8);
  }
}

export function mul128(a: usize, b: usize, o: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const off = (<usize>i) << 4;
    const al = load<u64>(a + off), ah = load<u64>(a + off, 8);
    const bl = load<u64>(b + off), bh = load<u64>(b + off, 8);
    store<u64>(o + off, al * bl);
    store<u64>(o + off, mulhi(al, bl) + al * bh + ah * bl, 8);
  }
}

export function neg128(a: usize, o: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const off = (<usize>i) << 4;
    const al = load<u64>(a + off), ah = load<u64>(a + off, 8);
    store<u64>(o + off, 0 - al);
    store<u64>(o + off, ~ah + <u64>(al == 0), 8);
  }
}

export function addScalar128(a: usize, sl: u64, sh: u64, o: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const off = (<usize>i) << 4;
    const al = load<u64>(a + off), ah = load<u64>(a + off, 8);
    const lo = al + sl;
    store<u64>(o + off, lo);
    store<u64>(o + off, ah + sh + <u64>(lo < al), 8);
  }
}

export function mulScalar128(a: usize, sl: u64, sh: u64, o: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const off = (<usize>i) << 4;
    const al = load<u64>(a + off), ah = load<u64>(a + off, 8);
    store<u64>(o + off, al * sl);
    store<u64>(o + off, mulhi(al, sl) + al * sh + ah * sl, 8);
  }
}

/** kind 0: shl, 1: logical right, 2: arithmetic right; 0 <= k < 128. */
export function shift128(a: usize, k: i32, kind: i32, o: usize, n: i32): void {
  const K = <u64>k;
  for (let i = 0; i < n; i++) {
    const off = (<usize>i) << 4;
    const lo = load<u64>(a + off), hi = load<u64>(a + off, 8);
    let rl: u64, rh: u64;
    if (k == 0) {
      rl = lo;
      rh = hi;
    } else if (kind == 0) {
      if (k < 64) {
        rh = (hi << K) | (lo >> (64 - K));
        rl = lo << K;
      } else {
        rh = lo << (K - 64);
        rl = 0;
      }
    } else if (kind == 1) {
      if (k < 64) {
        rl = (lo >> K) | (hi << (64 - K));
        rh = hi >> K;
      } else {
        rl = hi >> (K - 64);
        rh = 0;
      }
    } else {
      if (k < 64) {
        rl = (lo >> K) | (hi << (64 - K));
        rh = <u64>(<i64>hi >> <i64>K);
      } else {
        rl = <u64>(<i64>hi >> <i64>(K - 64));
        rh = <u64>(<i64>hi >> 63);
      }
    }
    store<u64>(o + off, rl);
    store<u64>(o + off, rh, 8);
  }
}

/** a viewed as [outer, len, inner] (128-bit elements); o[outer, inner] = sum over len. */
export function sum128(a: usize, outer: i32, len: i32, inner: i32, o: usize): void {
  const rowBytes = (<usize>inner) << 4;
  for (let r = 0; r < outer; r++) {
    const dst = o + (<usize>r) * rowBytes;
    memory.fill(dst, 0, rowBytes);
    for (let l = 0; l < len; l++) add128(dst, a + ((<usize>r) * (<usize>len) + (<usize>l)) * rowBytes, dst, inner);
  }
}

/**
 * out[m,n] = a[m,k] x b[k,n] mod 2^128 (SIMD). `panel` is scratch of k*64 bytes.
 * With a = ah*2^64 + al, b = bh*2^64 + bl:
 *   sum a*b = sum al*bl (full 128 bits) + 2^64 * (sum al*bh + ah*bl mod 2^64).
 * Splitting al = a1*2^32 + a0, bl = b1*2^32 + b0, the full part is
 *   L + (H + C)*2^32 + (D + E)*2^64 with L, H the sums of the low/high 32 bits
 *   of a0*b0, C, D those of a0*b1 + a1*b0, E = sum a1*b1 mod 2^64; every lane
 *   sum stays below 2^64 while k < 2^30 (wasm memory caps k far below that).
 * Columns are packed 4 at a time as 32-bit halves: per p of the panel,
 *   b0 | b1 | bh0 | bh1 (4 x u32 each).
 * Pass 1 accumulates L, H, C, D, E; pass 2 the cross term X = sum al*bh + ah*bl
 * mod 2^64 (same 32-bit trick as matmul64); two passes keep each within the
 * 16 x64 vector registers.
 */
export function matmul128(a: usize, b: usize, o: usize, m: i32, k: i32, n: i32, panel: usize): void {
  const K = <usize>k, N = <usize>n;
  const M32 = i64x2.splat(0xffffffff);
  const SIGN = i64x2.splat(0x8000000000000000);
  for (let jb = 0; jb < n; jb += 4) {
    const w = min(4, n - jb);
    for (let p: usize = 0; p < K; p++) {
      const src = b + ((p * N + <usize>jb) << 4);
      const dst = panel + (p << 6);
      for (let c = 0; c < 4; c++) {
        const lo: u64 = c < w ? load<u64>(src + ((<usize>c) << 4)) : 0;
        const hi: u64 = c < w ? load<u64>(src + ((<usize>c) << 4), 8) : 0;
        const q = dst + ((<usize>c) << 2);
        store<u32>(q, <u32>lo);
        store<u32>(q, <u32>(lo >> 32), 16);
        store<u32>(q, <u32>hi, 32);
        store<u32>(q, <u32>(hi >> 32), 48);
      }
    }
    for (let i: usize = 0; i < <usize>m; i++) {
      const arow = a + ((i * K) << 4);
      // pass 1: full-width al*bl
      let L0 = i64x2.splat(0), L1 = L0, H0 = L0, H1 = L0, C0 = L0, C1 = L0, D0 = L0, D1 = L0, E0 = L0, E1 = L0;
      for (let p: usize = 0; p < K; p++) {
        const pp = panel + (p << 6);
        const b0 = v128.load(pp), b1 = v128.load(pp, 16);
        const al = load<u64>(arow + (p << 4));
        const a0 = i32x4.splat(<i32>al), a1 = i32x4.splat(<i32>(al >> 32));
        let t = i64x2.extmul_low_i32x4_u(a0, b0);
        L0 = i64x2.add(L0, v128.and(t, M32));
        H0 = i64x2.add(H0, i64x2.shr_u(t, 32));
        t = i64x2.extmul_high_i32x4_u(a0, b0);
        L1 = i64x2.add(L1, v128.and(t, M32));
        H1 = i64x2.add(H1, i64x2.shr_u(t, 32));
        t = i64x2.extmul_low_i32x4_u(a0, b1);
        let u = i64x2.extmul_low_i32x4_u(a1, b0);
        C0 = i64x2.add(C0, i64x2.add(v128.and(t, M32), v128.and(u, M32)));
        D0 = i64x2.add(D0, i64x2.add(i64x2.shr_u(t, 32), i64x2.shr_u(u, 32)));
        t = i64x2.extmul_high_i32x4_u(a0, b1);
        u = i64x2.extmul_high_i32x4_u(a1, b0);
        C1 = i64x2.add(C1, i64x2.add(v128.and(t, M32), v128.and(u, M32)));
        D1 = i64x2.add(D1, i64x2.add(i64x2.shr_u(t, 32), i64x2.shr_u(u, 32)));
        E0 = i64x2.add(E0, i64x2.extmul_low_i32x4_u(a1, b1));
        E1 = i64x2.add(E1, i64x2.extmul_high_i32x4_u(a1, b1));
      }
      // pass 2: cross terms al*bh + ah*bl mod 2^64
      let X0 = i64x2.splat(0), X1 = X0, XC = X0;
      for (let p: usize = 0; p < K; p++) {
        const pp = panel + (p << 6);
        const b0 = v128.load(pp), b1 = v128.load(pp, 16), h0 = v128.load(pp, 32), h1 = v128.load(pp, 48);
        const al = load<u64>(arow + (p << 4)), ah = load<u64>(arow + (p << 4), 8);
        const a0 = i32x4.splat(<i32>al), a1 = i32x4.splat(<i32>(al >> 32));
        const g0 = i32x4.splat(<i32>ah), g1 = i32x4.splat(<i32>(ah >> 32));
        X0 = i64x2.add(X0, i64x2.add(i64x2.extmul_low_i32x4_u(a0, h0), i64x2.extmul_low_i32x4_u(g0, b0)));
        X1 = i64x2.add(X1, i64x2.add(i64x2.extmul_high_i32x4_u(a0, h0), i64x2.extmul_high_i32x4_u(g0, b0)));
        XC = i32x4.add(XC, i32x4.add(i32x4.add(i32x4.mul(a1, h0), i32x4.mul(a0, h1)), i32x4.add(i32x4.mul(g1, b0), i32x4.mul(g0, b1))));
      }
      X0 = i64x2.add(X0, i64x2.shl(i64x2.extend_low_i32x4_u(XC), 32));
      X1 = i64x2.add(X1, i64x2.shl(i64x2.extend_high_i32x4_u(XC), 32));
      // combine: lo = L + (S << 32), hi = (S >> 32) + D + E + X + carry, S = H + C
      const S0 = i64x2.add(H0, C0), S1 = i64x2.add(H1, C1);
      const lo0 = i64x2.add(L0, i64x2.shl(S0, 32)), lo1 = i64x2.add(L1, i64x2.shl(S1, 32));
      const cy0 = i64x2.lt_s(v128.xor(lo0, SIGN), v128.xor(L0, SIGN)); // -1 where lo0 <u L0
      const cy1 = i64x2.lt_s(v128.xor(lo1, SIGN), v128.xor(L1, SIGN));
      const hi0 = i64x2.sub(i64x2.add(i64x2.add(i64x2.shr_u(S0, 32), D0), i64x2.add(E0, X0)), cy0);
      const hi1 = i64x2.sub(i64x2.add(i64x2.add(i64x2.shr_u(S1, 32), D1), i64x2.add(E1, X1)), cy1);
      const dst = o + ((i * N + <usize>jb) << 4);
      const r0 = i64x2.shuffle(lo0, hi0, 0, 2), r1 = i64x2.shuffle(lo0, hi0, 1, 3);
      const r2 = i64x2.shuffle(lo1, hi1, 0, 2), r3 = i64x2.shuffle(lo1, hi1, 1, 3);
      if (w == 4) {
        v128.store(dst, r0);
        v128.store(dst, r1, 16);
        v128.store(dst, r2, 32);
        v128.store(dst, r3, 48);
      } else {
        v128.store(dst, r0);
        if (w > 1) v128.store(dst, r1, 16);
        if (w > 2) v128.store(dst, r2, 32);
      }
    }
  }
}

// ------------------------------------------------------------------ heap support

/** Zeroes n bytes at p (a reused block of the resident tensor heap, src/ring/heap.ts). */
export function zero(p: usize, n: usize): void {
  memory.fill(p, 0, n);
}
