// Convolution kernels over Z_2^64 and Z_2^128 (dist/wasm/conv.wasm): the
// three im2col products of a conv layer with the patch matrix never built
// whole. The patch rows are produced a block at a time (rb rows, sized by the
// caller to stay in cache) into scratch, multiplied by the ring matmul kernels
// of ring.ts, and (input gradient) added back by col2im block by block.
// Pointers are byte offsets into this module's memory, laid out by
// src/ring/conv.ts. L is the limbs (u64) per element: 1 (Z_2^64) or 2 (Z_2^128).
// The geometry `g` is 12 i32 at a pointer: B, H, W, C, KH, KW, sh, sw, OH, OW,
// pt, pl (src/encrypted/protocols/im2col.ts's Geometry, NHWC, the patch row
// (b, oy, ox), the patch column (ky, kx, c)).
import { add128, add64, matmul128, matmul64 } from './ring';

export function heapBase(): usize {
  return (__heap_base + 63) & ~(<usize>63);
}

// @ts-ignore: decorator
@inline
function gi(g: usize, i: i32): i32 {
  return load<i32>(g + ((<usize>i) << 2));
}

// @ts-ignore: decorator
@inline
function mm(L: i32, a: usize, b: usize, o: usize, m: i32, k: i32, n: i32, panel: usize): void {
  if (L == 1) matmul64(a, b, o, m, k, n, panel);
  else matmul128(a, b, o, m, k, n, panel);
}

// @ts-ignore: decorator
@inline
function addN(L: i32, a: usize, b: usize, o: usize, n: i32): void {
  if (L == 1) add64(a, b, o, n);
  else add128(a, b, o, n);
}

/** Copy `bytes` (a multiple of 8): short runs word by word, long ones with memory.copy. */
// @ts-ignore: decorator
@inline
function copyRun(dst: usize, src: usize, bytes: usize): void {
  if (bytes > 128) {
    memory.copy(dst, src, bytes);
    return;
  }
  for (let o: usize = 0; o < bytes; o += 8) store<u64>(dst + o, load<u64>(src + o));
}

/** Rows [r0, r1) of the patch matrix of x ([B, H, W, C]) into cols ([r1 - r0, KH·KW·C]), zeros for the padding. */
function im2colRows(g: usize, L: i32, x: usize, cols: usize, r0: i32, r1: i32): void {
  const H = gi(g, 1), W = gi(g, 2), C = gi(g, 3), KH = gi(g, 4), KW = gi(g, 5);
  const sh = gi(g, 6), sw = gi(g, 7), OH = gi(g, 8), OW = gi(g, 9), pt = gi(g, 10), pl = gi(g, 11);
  const run = (<usize>C) * (<usize>L << 3); // bytes of one input position's channels
  const rowBytes = (<usize>(KH * KW)) * run;
  for (let r = r0; r < r1; r++) {
    const ox = r % OW, t = r / OW;
    const oy = t % OH, b = t / OH;
    const dst = cols + (<usize>(r - r0)) * rowBytes;
    const ix0 = ox * sw - pl;
    const lo = max(0, -ix0), hi = min(KW, W - ix0);
    if (lo >= hi) {
      memory.fill(dst, 0, rowBytes);
      continue;
    }
    for (let ky = 0; ky < KH; ky++) {
      const iy = oy * sh - pt + ky;
      const d = dst + (<usize>(ky * KW)) * run;
      if (iy < 0 || iy >= H) {
        memory.fill(d, 0, (<usize>KW) * run);
        continue;
      }
      if (lo > 0) memory.fill(d, 0, (<usize>lo) * run);
      copyRun(d + (<usize>lo) * run, x + (<usize>((b * H + iy) * W + ix0 + lo)) * run, (<usize>(hi - lo)) * run);
      if (hi < KW) memory.fill(d + (<usize>hi) * run, 0, (<usize>(KW - hi)) * run);
    }
  }
}

/** The adjoint of im2colRows: rows [r0, r1) of cols added into acc ([B, H, W, C]) where they came from (padding dropped). */
function col2imRows(g: usize, L: i32, cols: usize, acc: usize, r0: i32, r1: i32): void {
  const H = gi(g, 1), W = gi(g, 2), C = gi(g, 3), KH = gi(g, 4), KW = gi(g, 5);
  const sh = gi(g, 6), sw = gi(g, 7), OH = gi(g, 8), OW = gi(g, 9), pt = gi(g, 10), pl = gi(g, 11);
  const run = (<usize>C) * (<usize>L << 3);
  const rowBytes = (<usize>(KH * KW)) * run;
  for (let r = r0; r < r1; r++) {
    const ox = r % OW, t = r / OW;
    const oy = t % OH, b = t / OH;
    const src = cols + (<usize>(r - r0)) * rowBytes;
    const ix0 = ox * sw - pl;
    const lo = max(0, -ix0), hi = min(KW, W - ix0);
    if (lo >= hi) continue;
    for (let ky = 0; ky < KH; ky++) {
      const iy = oy * sh - pt + ky;
      if (iy < 0 || iy >= H) continue;
      const d = acc + (<usize>((b * H + iy) * W + ix0 + lo)) * run;
      addN(L, d, src + (<usize>(ky * KW + lo)) * run, d, (hi - lo) * C);
    }
  }
}

/** dst [n, m] = transpose of src [m, n] (L limbs per element). */
function transposeBlock(L: i32, src: usize, dst: usize, m: i32, n: i32): void {
  const E = <usize>L << 3;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const s = src + ((<usize>i) * (<usize>n) + <usize>j) * E;
      const d = dst + ((<usize>j) * (<usize>m) + <usize>i) * E;
      store<u64>(d, load<u64>(s));
      if (L == 2) store<u64>(d, load<u64>(s, 8), 8);
    }
  }
}

/**
 * out [B·OH·OW, F] = im2col(x) · w (acc != 0: out +=), w [K, F], K = KH·KW·C.
 * Scratch: cols rb·K elements, tmp rb·F elements (acc only), panel K·64 bytes.
 */
export function convForward(g: usize, L: i32, x: usize, w: usize, F: i32, out: usize, acc: i32, rb: i32, cols: usize, tmp: usize, panel: usize): void {
  const rows = gi(g, 0) * gi(g, 8) * gi(g, 9), K = gi(g, 3) * gi(g, 4) * gi(g, 5);
  const E = <usize>L << 3;
  for (let r0 = 0; r0 < rows; r0 += rb) {
    const r1 = min(rows, r0 + rb);
    im2colRows(g, L, x, cols, r0, r1);
    const o = out + (<usize>r0) * (<usize>F) * E;
    if (acc == 0) {
      mm(L, cols, w, o, r1 - r0, K, F, panel);
    } else {
      mm(L, cols, w, tmp, r1 - r0, K, F, panel);
      addN(L, o, tmp, o, (r1 - r0) * F);
    }
  }
}

/**
 * out [F, K] = dyᵀ · im2col(x) (acc != 0: out +=), dy [B·OH·OW, F].
 * Scratch: at F·rb elements, cols rb·K, tmp F·K, panel rb·64 bytes.
 */
export function convFilter(g: usize, L: i32, dy: usize, F: i32, x: usize, out: usize, acc: i32, rb: i32, at: usize, cols: usize, tmp: usize, panel: usize): void {
  const rows = gi(g, 0) * gi(g, 8) * gi(g, 9), K = gi(g, 3) * gi(g, 4) * gi(g, 5);
  const E = <usize>L << 3;
  if (acc == 0) memory.fill(out, 0, (<usize>(F * K)) * E);
  for (let r0 = 0; r0 < rows; r0 += rb) {
    const r1 = min(rows, r0 + rb);
    transposeBlock(L, dy + (<usize>r0) * (<usize>F) * E, at, r1 - r0, F);
    im2colRows(g, L, x, cols, r0, r1);
    mm(L, at, cols, tmp, F, r1 - r0, K, panel);
    addN(L, out, tmp, out, F * K);
  }
}

/**
 * out [B, H, W, C] = col2im(dy · wT) (acc != 0: out +=), dy [B·OH·OW, F], wT [F, K].
 * Scratch: cols rb·K elements, panel F·64 bytes.
 */
export function convInput(g: usize, L: i32, dy: usize, F: i32, wT: usize, out: usize, acc: i32, rb: i32, cols: usize, panel: usize): void {
  const B = gi(g, 0), H = gi(g, 1), W = gi(g, 2), C = gi(g, 3);
  const rows = B * gi(g, 8) * gi(g, 9), K = C * gi(g, 4) * gi(g, 5);
  const E = <usize>L << 3;
  if (acc == 0) memory.fill(out, 0, (<usize>(B * H * W * C)) * E);
  for (let r0 = 0; r0 < rows; r0 += rb) {
    const r1 = min(rows, r0 + rb);
    mm(L, dy + (<usize>r0) * (<usize>F) * E, wT, cols, r1 - r0, F, K, panel);
    col2imRows(g, L, cols, out, r0, r1);
  }
}
