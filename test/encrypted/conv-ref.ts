// Plaintext references for the ABY3 conv tests (float64 loops, NHWC) and their deterministic test data.
import type { Geometry } from '../../src/encrypted/protocols/aby3-conv.js';

/** Deterministic test data: multiples of 2^-8 in [-4, 4) (exact in both encodings and in float64 products and sums). */
export function data(seed: number, n: number): Float64Array {
  let s = seed >>> 0 || 1;
  return Float64Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s >>> 8) % 2048) / 256 - 4;
  });
}

const at4 = (s: readonly number[]) => (a: number, b: number, c: number, d: number) => ((a * s[1]! + b) * s[2]! + c) * s[3]! + d;

/** y[b, oy, ox, f] = sum x[b, oy sh + ky - pt, ox sw + kx - pl, c] w[ky, kx, c, f] (zeros outside). */
export function convRef(x: Float64Array, w: Float64Array, g: Geometry, F: number): Float64Array {
  const { B, H, W, C, KH, KW, sh, sw, OH, OW, pt, pl } = g;
  const xi = at4([B, H, W, C]); const wi = at4([KH, KW, C, F]); const yi = at4([B, OH, OW, F]);
  const y = new Float64Array(B * OH * OW * F);
  for (let b = 0; b < B; b++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let f = 0; f < F; f++) {
    let acc = 0;
    for (let ky = 0; ky < KH; ky++) for (let kx = 0; kx < KW; kx++) {
      const iy = oy * sh + ky - pt; const ix = ox * sw + kx - pl;
      if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
      for (let c = 0; c < C; c++) acc += x[xi(b, iy, ix, c)]! * w[wi(ky, kx, c, f)]!;
    }
    y[yi(b, oy, ox, f)] = acc;
  }
  return y;
}

export function backInputRef(dy: Float64Array, w: Float64Array, g: Geometry, F: number): Float64Array {
  const { B, H, W, C, KH, KW, sh, sw, OH, OW, pt, pl } = g;
  const xi = at4([B, H, W, C]); const wi = at4([KH, KW, C, F]); const yi = at4([B, OH, OW, F]);
  const dx = new Float64Array(B * H * W * C);
  for (let b = 0; b < B; b++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let ky = 0; ky < KH; ky++) for (let kx = 0; kx < KW; kx++) {
    const iy = oy * sh + ky - pt; const ix = ox * sw + kx - pl;
    if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
    for (let c = 0; c < C; c++) for (let f = 0; f < F; f++) dx[xi(b, iy, ix, c)] += dy[yi(b, oy, ox, f)]! * w[wi(ky, kx, c, f)]!;
  }
  return dx;
}

export function backFilterRef(x: Float64Array, dy: Float64Array, g: Geometry, F: number): Float64Array {
  const { B, H, W, C, KH, KW, sh, sw, OH, OW, pt, pl } = g;
  const xi = at4([B, H, W, C]); const wi = at4([KH, KW, C, F]); const yi = at4([B, OH, OW, F]);
  const dw = new Float64Array(KH * KW * C * F);
  for (let b = 0; b < B; b++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let ky = 0; ky < KH; ky++) for (let kx = 0; kx < KW; kx++) {
    const iy = oy * sh + ky - pt; const ix = ox * sw + kx - pl;
    if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
    for (let c = 0; c < C; c++) for (let f = 0; f < F; f++) dw[wi(ky, kx, c, f)] += x[xi(b, iy, ix, c)]! * dy[yi(b, oy, ox, f)]!;
  }
  return dw;
}

