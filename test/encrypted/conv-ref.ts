// Plaintext references for the conv and pool tests (ABY3 and Pond) (float64 loops, NHWC) and their deterministic test data.
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

/** Values with many ties: a few distinct multiples of 2^-8 (or the full data range). */
export const tied = (seed: number, n: number, distinct: number) => data(seed, n).map((v) => (distinct > 0 ? Math.floor(((v + 4) / 8) * distinct) / 4 - 1 : v));

/** Reference max / argmax along `axis` (ties: the lowest index). */
export function reduceRef(x: Float64Array, shape: number[], axis: number): { max: number[]; arg: number[] } {
  const pre = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const k = shape[axis]!;
  const post = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const max: number[] = [];
  const arg: number[] = [];
  for (let i = 0; i < pre; i++) for (let j = 0; j < post; j++) {
    let best = -Infinity, at = -1;
    for (let t = 0; t < k; t++) {
      const v = x[(i * k + t) * post + j]!;
      if (v > best) { best = v; at = t; }
    }
    max.push(best);
    arg.push(at);
  }
  return { max, arg };
}

/** Reference 2x2 max pool (NHWC, valid) with its one-hot mask (window order (0,0), (0,1), (1,0), (1,1); ties: the first) and backward. */
export function poolRef(x: Float64Array, [B, H, W, C]: number[], dy?: Float64Array) {
  const OH = Math.floor(H / 2), OW = Math.floor(W / 2);
  const y: number[] = [];
  const mask = new Array<number>(x.length).fill(0);
  const dx = new Array<number>(x.length).fill(0);
  for (let b = 0; b < B; b++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let c = 0; c < C; c++) {
    let best = -Infinity, at = -1;
    for (const [dy_, dx_] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
      const i = ((b * H + 2 * oy + dy_!) * W + 2 * ox + dx_!) * C + c;
      if (x[i]! > best) { best = x[i]!; at = i; }
    }
    y.push(best);
    mask[at] = 1;
    if (dy) dx[at] = dy[((b * OH + oy) * OW + ox) * C + c]!;
  }
  return { y, mask, dx };
}
