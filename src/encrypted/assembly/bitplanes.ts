// Kernels for ABY3's boolean sharing and bit injection, compiled with
// AssemblyScript to dist/wasm/bitplanes.wasm and driven by
// src/encrypted/protocols/bit-wasm.ts (which also holds the same kernels in
// plain JS, the fallback and the reference of the tests). Every pointer is a
// byte offset into this module's memory, laid out by the JS side above
// heapBase(). Bit strings are u32 words (`len` counts words); ring vectors
// are n elements of L u64 limbs (L = 1: Z_2^64, L = 2: Z_2^128, little-endian
// lo, hi). An output may alias an input at the same offset. A pointer 0 means
// "absent" where a kernel says so (the heap starts above 0).

export function heapBase(): usize {
  return (__heap_base + 63) & ~(<usize>63);
}

// ------------------------------------------------------------------ bit strings (SIMD, 4 words per v128)

/** o = a ^ b. */
export function xor2(o: usize, a: usize, b: usize, len: i32): void {
  let k = 0;
  for (; k + 4 <= len; k += 4) {
    const off = (<usize>k) << 2;
    v128.store(o + off, v128.xor(v128.load(a + off), v128.load(b + off)));
  }
  for (; k < len; k++) {
    const off = (<usize>k) << 2;
    store<u32>(o + off, load<u32>(a + off) ^ load<u32>(b + off));
  }
}

/** o = m1 ^ m2 ^ (xi & (yi ^ yj)) ^ (xj & yi): one server's AND message (cross terms xi yi ^ xi yj ^ xj yi, two PRF masks). */
export function and4(o: usize, m1: usize, m2: usize, xi: usize, xj: usize, yi: usize, yj: usize, len: i32): void {
  let k = 0;
  for (; k + 4 <= len; k += 4) {
    const off = (<usize>k) << 2;
    const a = v128.load(yi + off);
    const t = v128.xor(v128.and(v128.load(xi + off), v128.xor(a, v128.load(yj + off))), v128.and(v128.load(xj + off), a));
    v128.store(o + off, v128.xor(v128.xor(v128.load(m1 + off), v128.load(m2 + off)), t));
  }
  for (; k < len; k++) {
    const off = (<usize>k) << 2;
    const a = load<u32>(yi + off);
    store<u32>(o + off, load<u32>(m1 + off) ^ load<u32>(m2 + off) ^ (load<u32>(xi + off) & (a ^ load<u32>(yj + off))) ^ (load<u32>(xj + off) & a));
  }
}

/** o = m1 ^ m2 ^ (u & v), or m1 ^ m2 when u is 0 (absent): an AND message whose other cross terms are zero. */
export function and1(o: usize, m1: usize, m2: usize, u: usize, v: usize, len: i32): void {
  if (u == 0) {
    xor2(o, m1, m2, len);
    return;
  }
  let k = 0;
  for (; k + 4 <= len; k += 4) {
    const off = (<usize>k) << 2;
    const t = v128.and(v128.load(u + off), v128.load(v + off));
    v128.store(o + off, v128.xor(v128.xor(v128.load(m1 + off), v128.load(m2 + off)), t));
  }
  for (; k < len; k++) {
    const off = (<usize>k) << 2;
    store<u32>(o + off, load<u32>(m1 + off) ^ load<u32>(m2 + off) ^ (load<u32>(u + off) & load<u32>(v + off)));
  }
}

// ------------------------------------------------------------------ ring words to bit planes

/**
 * In place, two 64x64 bit matrices side by side (lane 0 and lane 1 of the 64
 * v128 rows at t): row r bit c <-> row c bit r, by the classic swap-mask
 * method (6 stages; stage j swaps the j-bit blocks off the diagonal).
 */
function transpose64x2(t: usize): void {
  let m: u64 = 0x00000000ffffffff;
  for (let j = 32; j != 0; j >>= 1, m ^= m << (<u64>j)) {
    const mv = i64x2.splat(m);
    for (let k = 0; k < 64; k = ((k | j) + 1) & ~j) {
      const pa = t + ((<usize>k) << 4);
      const pb = t + ((<usize>(k + j)) << 4);
      const a = v128.load(pa);
      const b = v128.load(pb);
      const x = v128.and(v128.xor(i64x2.shr_u(a, j), b), mv);
      v128.store(pb, v128.xor(b, x));
      v128.store(pa, v128.xor(a, i64x2.shl(x, j)));
    }
  }
}

/**
 * Bit planes of n ring elements at src (L u64 limbs each): plane j (W u32
 * words at dst + 4 j W) holds bit j of every element, element e at bit e % 32
 * of word e / 32; planes [0, planes) are written, and the bits past n are
 * zero. Two 64-element blocks at a time, one per v128 lane; tmp: 1 KiB of
 * scratch.
 */
export function toPlanes(src: usize, n: i32, L: i32, planes: i32, W: i32, dst: usize, tmp: usize): void {
  const blocks = (n + 63) >> 6;
  for (let q = 0; q < L && q * 64 < planes; q++) {
    const top = min(64, planes - q * 64);
    for (let b = 0; b < blocks; b += 2) {
      // lane 0: elements 64 b + r; lane 1: 64 (b + 1) + r (zero past n)
      for (let r = 0; r < 64; r++) {
        const e0 = (b << 6) + r;
        const e1 = e0 + 64;
        const v0: u64 = e0 < n ? load<u64>(src + ((<usize>e0 * L + q) << 3)) : 0;
        const v1: u64 = e1 < n ? load<u64>(src + ((<usize>e1 * L + q) << 3)) : 0;
        v128.store(tmp + ((<usize>r) << 4), i64x2.replace_lane(i64x2.splat(v0), 1, v1));
      }
      transpose64x2(tmp);
      // row c = plane 64 q + c of both blocks: u32 words 2b .. 2b+3 of the plane (those below W)
      const words = min(4, W - 2 * b);
      for (let c = 0; c < top; c++) {
        const p = dst + (((<usize>(q * 64 + c)) * W + 2 * b) << 2);
        const s = tmp + ((<usize>c) << 4);
        if (words == 4) v128.store(p, v128.load(s));
        else for (let w = 0; w < words; w++) store<u32>(p + ((<usize>w) << 2), load<u32>(s + ((<usize>w) << 2)));
      }
    }
  }
}

// ------------------------------------------------------------------ ring vectors (bit injection, products)

/** The high 64 bits of a 64x64-bit product. */
@inline
function mulhi(a: u64, b: u64): u64 {
  const a0 = a & 0xffffffff, a1 = a >> 32, b0 = b & 0xffffffff, b1 = b >> 32;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >> 32) + (p01 & 0xffffffff) + (p10 & 0xffffffff);
  return p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/**
 * One server's share of a product in ABY3's multiplication:
 * o = xi (yi + yj) + xj yi + m1 - m2 (xi yi + xi yj + xj yi re-randomised by
 * the zero-sharing term m1 - m2).
 */
export function mulCross(o: usize, xi: usize, xj: usize, yi: usize, yj: usize, m1: usize, m2: usize, n: i32, L: i32): void {
  if (L == 1) {
    let e = 0;
    for (; e + 2 <= n; e += 2) {
      const off = (<usize>e) << 3;
      const a = v128.load(yi + off);
      const t = i64x2.add(i64x2.mul(v128.load(xi + off), i64x2.add(a, v128.load(yj + off))), i64x2.mul(v128.load(xj + off), a));
      v128.store(o + off, i64x2.sub(i64x2.add(t, v128.load(m1 + off)), v128.load(m2 + off)));
    }
    for (; e < n; e++) {
      const off = (<usize>e) << 3;
      const a = load<u64>(yi + off);
      store<u64>(o + off, load<u64>(xi + off) * (a + load<u64>(yj + off)) + load<u64>(xj + off) * a + load<u64>(m1 + off) - load<u64>(m2 + off));
    }
    return;
  }
  for (let e = 0; e < n; e++) {
    const off = (<usize>e) << 4;
    // s = yi + yj (128-bit)
    const yil = load<u64>(yi + off), yih = load<u64>(yi + off, 8);
    const sl = yil + load<u64>(yj + off);
    const sh = yih + load<u64>(yj + off, 8) + <u64>(sl < yil);
    // p = xi s + xj yi (mod 2^128)
    const xil = load<u64>(xi + off), xih = load<u64>(xi + off, 8);
    const xjl = load<u64>(xj + off), xjh = load<u64>(xj + off, 8);
    const p1l = xil * sl;
    const p1h = mulhi(xil, sl) + xil * sh + xih * sl;
    const p2l = xjl * yil;
    const p2h = mulhi(xjl, yil) + xjl * yih + xjh * yil;
    let lo = p1l + p2l;
    let hi = p1h + p2h + <u64>(lo < p1l);
    // + m1 - m2
    const ml = load<u64>(m1 + off);
    const t = lo + ml;
    hi = hi + load<u64>(m1 + off, 8) + <u64>(t < lo);
    lo = t;
    const nl = load<u64>(m2 + off);
    hi = hi - load<u64>(m2 + off, 8) - <u64>(lo < nl);
    lo = lo - nl;
    store<u64>(o + off, lo);
    store<u64>(o + off, hi, 8);
  }
}

/** Bit e of the plane at p, as 0 or 1. */
@inline
function bit(p: usize, e: i32): u64 {
  return <u64>((load<u32>(p + ((<usize>(e >>> 5)) << 2)) >>> (e & 31)) & 1);
}

/** o = a + b (ring addition, L limbs). */
export function addRing(o: usize, a: usize, b: usize, n: i32, L: i32): void {
  for (let e = 0; e < n; e++) {
    const off = (<usize>(e * L)) << 3;
    const al = load<u64>(a + off);
    const lo = al + load<u64>(b + off);
    if (L == 2) store<u64>(o + off, load<u64>(a + off, 8) + load<u64>(b + off, 8) + <u64>(lo < al), 8);
    store<u64>(o + off, lo);
  }
}

/** o = a - b (ring subtraction, L limbs). */
export function subRing(o: usize, a: usize, b: usize, n: i32, L: i32): void {
  for (let e = 0; e < n; e++) {
    const off = (<usize>(e * L)) << 3;
    const al = load<u64>(a + off);
    const bl = load<u64>(b + off);
    if (L == 2) store<u64>(o + off, load<u64>(a + off, 8) - load<u64>(b + off, 8) - <u64>(al < bl), 8);
    store<u64>(o + off, al - bl);
  }
}

/**
 * The two messages of an OT sender in bit injection: with the choice plane
 * c = c0 ^ c1 (c1 may be 0: absent) and w = wa + wb (wb may be 0: absent;
 * wa 0: the constant 1),
 *   o0 = (c ? w : 0) - rho + pad0,   o1 = (c ? 0 : w) - rho + pad1.
 */
export function otSend(o0: usize, o1: usize, c0: usize, c1: usize, wa: usize, wb: usize, rho: usize, pad0: usize, pad1: usize, n: i32, L: i32): void {
  for (let e = 0; e < n; e++) {
    const off = (<usize>(e * L)) << 3;
    const c = c1 == 0 ? bit(c0, e) : bit(c0, e) ^ bit(c1, e);
    const sel = 0 - c; // all ones where c = 1
    // w
    let wl: u64 = 1;
    let wh: u64 = 0;
    if (wa != 0) {
      wl = load<u64>(wa + off);
      if (L == 2) wh = load<u64>(wa + off, 8);
      if (wb != 0) {
        const bl = load<u64>(wb + off);
        const lo = wl + bl;
        if (L == 2) wh = wh + load<u64>(wb + off, 8) + <u64>(lo < wl);
        wl = lo;
      }
    }
    // d = pad_t - rho, then + (selected w)
    const rl = load<u64>(rho + off);
    const p0l = load<u64>(pad0 + off);
    const p1l = load<u64>(pad1 + off);
    const d0l = p0l - rl;
    const d1l = p1l - rl;
    const s0l = wl & sel;
    const s1l = wl & ~sel;
    const r0l = d0l + s0l;
    const r1l = d1l + s1l;
    store<u64>(o0 + off, r0l);
    store<u64>(o1 + off, r1l);
    if (L == 2) {
      const rh = load<u64>(rho + off, 8);
      const d0h = load<u64>(pad0 + off, 8) - rh - <u64>(p0l < rl);
      const d1h = load<u64>(pad1 + off, 8) - rh - <u64>(p1l < rl);
      store<u64>(o0 + off, d0h + (wh & sel) + <u64>(r0l < d0l), 8);
      store<u64>(o1 + off, d1h + (wh & ~sel) + <u64>(r1l < d1l), 8);
    }
  }
}

/** o = bit ? p1 : p0 (an OT helper's message: the pad its choice bit selects). */
export function otHelp(o: usize, bp: usize, p0: usize, p1: usize, n: i32, L: i32): void {
  for (let e = 0; e < n; e++) {
    const off = (<usize>(e * L)) << 3;
    const sel = 0 - bit(bp, e);
    const a = load<u64>(p0 + off);
    store<u64>(o + off, a ^ ((a ^ load<u64>(p1 + off)) & sel));
    if (L == 2) {
      const ah = load<u64>(p0 + off, 8);
      store<u64>(o + off, ah ^ ((ah ^ load<u64>(p1 + off, 8)) & sel), 8);
    }
  }
}

/**
 * An OT receiver's result, re-randomised: o = (bit ? r1 : r0) - h + plus - minus
 * (plus and minus may be 0: absent).
 */
export function otRecv(o: usize, bp: usize, r0: usize, r1: usize, h: usize, plus: usize, minus: usize, n: i32, L: i32): void {
  for (let e = 0; e < n; e++) {
    const off = (<usize>(e * L)) << 3;
    const sel = 0 - bit(bp, e);
    const al = load<u64>(r0 + off);
    let lo = al ^ ((al ^ load<u64>(r1 + off)) & sel);
    let hi: u64 = 0;
    if (L == 2) {
      const ah = load<u64>(r0 + off, 8);
      hi = ah ^ ((ah ^ load<u64>(r1 + off, 8)) & sel);
    }
    // - h
    let y = load<u64>(h + off);
    if (L == 2) hi = hi - load<u64>(h + off, 8) - <u64>(lo < y);
    lo = lo - y;
    if (plus != 0) {
      y = load<u64>(plus + off);
      const s = lo + y;
      if (L == 2) hi = hi + load<u64>(plus + off, 8) + <u64>(s < lo);
      lo = s;
    }
    if (minus != 0) {
      y = load<u64>(minus + off);
      if (L == 2) hi = hi - load<u64>(minus + off, 8) - <u64>(lo < y);
      lo = lo - y;
    }
    store<u64>(o + off, lo);
    if (L == 2) store<u64>(o + off, hi, 8);
  }
}

// ------------------------------------------------------------------ 2x2 pooling windows (ring words, NHWC)

/** Copy `bytes` (a multiple of 8) from s to d. */
@inline
function copyRun(d: usize, s: usize, bytes: usize): void {
  let k: usize = 0;
  for (; k + 16 <= bytes; k += 16) v128.store(d + k, v128.load(s + k));
  if (k < bytes) store<u64>(d + k, load<u64>(s + k));
}

/**
 * The taps of 2x2, stride-2 windows over x [B, H, W, C] (one window position
 * = `run` bytes, the C channels' words): block j of dst (n = B OH OW C
 * elements, `run` bytes per output position) receives tap (order >> 2j) & 3,
 * tap t being (dy, dx) = (t >> 1, t & 1), in output order (b, oy, ox).
 */
export function gather2x2(src: usize, dst: usize, B: i32, H: i32, W: i32, OH: i32, OW: i32, run: i32, order: i32): void {
  let o = dst;
  const r = <usize>run;
  for (let j = 0; j < 4; j++) {
    const t = (order >> (2 * j)) & 3;
    for (let b = 0; b < B; b++) {
      for (let oy = 0; oy < OH; oy++) {
        let from = src + (<usize>((b * H + 2 * oy + (t >> 1)) * W + (t & 1))) * r;
        for (let ox = 0; ox < OW; ox++, from += 2 * r, o += r) copyRun(o, from, r);
      }
    }
  }
}

/**
 * The adjoint of gather2x2 with taps in order 0, 1, 2, 3: dst [B, H, W, C]
 * (zeroed first: a last odd row or column no window reaches stays 0) gets
 * tap t of every window from block t of src, or from block 0 for every tap
 * when `same` is 1.
 */
export function scatter2x2(src: usize, dst: usize, B: i32, H: i32, W: i32, OH: i32, OW: i32, run: i32, same: i32): void {
  memory.fill(dst, 0, <usize>(B * H * W) * <usize>run);
  const r = <usize>run;
  const block = <usize>(B * OH * OW) * r;
  for (let t = 0; t < 4; t++) {
    let o = src + (same ? 0 : <usize>t * block);
    for (let b = 0; b < B; b++) {
      for (let oy = 0; oy < OH; oy++) {
        let to = dst + (<usize>((b * H + 2 * oy + (t >> 1)) * W + (t & 1))) * r;
        for (let ox = 0; ox < OW; ox++, to += 2 * r, o += r) copyRun(to, o, r);
      }
    }
  }
}

