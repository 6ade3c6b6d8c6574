/**
 * The protocol-independent side of convolution and pooling (NHWC, tfjs' and
 * TensorFlow's layout): window geometry, and the local rearrangements of one
 * ring part (im2col, col2im, windows, unwindows). A rearrangement is a copy of
 * ring words (zeros for padding), applied to every part of a sharing it gives
 * a sharing of the rearranged value (the map is linear), with no message: the
 * same code serves ABY3's replicated parts and Pond's additive ones (conv.ts,
 * pool.ts). Errors are prefixed with `where` (e.g. 'ABY3.conv2d').
 */
import { RingTensor } from '../../ring/index.js';
import { convAvailable, convProduct, type ConvKind } from '../../ring/conv.js';
import { describe, fmtShape, ShapeMismatchError } from '../errors.js';
import type { ProtocolTensor } from '../tensor.js';
import type { Parts } from './base.js';

export type Padding = 'valid' | 'same';
export interface ConvOptions { strides?: number | readonly [number, number]; padding?: Padding }

/** The shapes of one convolution (or pooling) window layout, TensorFlow's conventions. */
export interface Geometry {
  B: number; H: number; W: number; C: number;
  KH: number; KW: number;
  sh: number; sw: number;
  OH: number; OW: number;
  /** zero rows above / columns left of the input (same padding; the rest goes below / right). */
  pt: number; pl: number;
}

const posInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

export function strides2(where: string, s: unknown, arg = 'strides'): [number, number] {
  if (posInt(s)) return [s, s];
  if (Array.isArray(s) && s.length === 2 && posInt(s[0]) && posInt(s[1])) return [s[0], s[1]];
  throw new RangeError(`${where}: option '${arg}' must be a positive integer or a pair of them, got ${describe(s)}`);
}

/**
 * Output size and padding, as TensorFlow: valid: OH = floor((H - KH) / sh) + 1;
 * same: OH = ceil(H / sh), padding max((OH - 1) sh + KH - H, 0) split with the
 * smaller half on top (left).
 */
export function geometry(where: string, xShape: readonly number[], KH: number, KW: number, strides: unknown, padding: unknown, arg = 'x'): Geometry {
  if (xShape.length !== 4) throw new ShapeMismatchError(`${where}: argument '${arg}' must have shape [batch, height, width, channels] (NHWC), got ${fmtShape(xShape)}`);
  const [B, H, W, C] = xShape as [number, number, number, number];
  const [sh, sw] = strides2(where, strides ?? 1);
  const pad = padding ?? 'valid';
  if (pad !== 'valid' && pad !== 'same') throw new RangeError(`${where}: option 'padding' must be 'valid' or 'same', got ${describe(padding)}`);
  let OH: number, OW: number, pt = 0, pl = 0;
  if (pad === 'valid') {
    if (KH > H || KW > W) throw new ShapeMismatchError(`${where}: window ${KH}x${KW} is larger than the input ${H}x${W} of '${arg}' (padding 'valid')`);
    OH = Math.floor((H - KH) / sh) + 1;
    OW = Math.floor((W - KW) / sw) + 1;
  } else {
    OH = Math.ceil(H / sh);
    OW = Math.ceil(W / sw);
    pt = Math.floor(Math.max((OH - 1) * sh + KH - H, 0) / 2);
    pl = Math.floor(Math.max((OW - 1) * sw + KW - W, 0) / 2);
  }
  return { B, H, W, C, KH, KW, sh, sw, OH, OW, pt, pl };
}

const words = (t: RingTensor): Uint32Array => new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length * 2);

/** Copy `n` words; short runs in a loop (a subarray view per run costs more than the copy). */
function copyWords(dst: Uint32Array, d: number, src: Uint32Array, s: number, n: number): void {
  if (n >= 64) dst.set(src.subarray(s, s + n), d);
  else for (let k = 0; k < n; k++) dst[d + k] = src[s + k]!;
}

/** dst[d ..] += src[s ..] for `n` ring elements of L 32-bit words (little-endian limbs, carries propagated). */
function addWords(dst: Uint32Array, d: number, src: Uint32Array, s: number, n: number, L: number): void {
  if (L === 2) {
    for (let e = 0; e < 2 * n; e += 2) {
      const lo = dst[d + e]! + src[s + e]!;
      dst[d + e] = lo;
      dst[d + e + 1] = dst[d + e + 1]! + src[s + e + 1]! + (lo > 0xffffffff ? 1 : 0);
    }
    return;
  }
  for (let e = 0; e < L * n; e += L) {
    let carry = 0;
    for (let w = 0; w < L; w++) {
      const v = dst[d + e + w]! + src[s + e + w]! + carry;
      dst[d + e + w] = v;
      carry = v > 0xffffffff ? 1 : 0;
    }
  }
}

/**
 * The patch matrix of one part: [B·OH·OW, KH·KW·C], row (b, oy, ox), column
 * (ky, kx, c) (the filter's [KH, KW, C] order), zeros where a window overlaps
 * the padding. For each (row, ky) the KW·C entries are one contiguous run of
 * the NHWC input (clipped at the padding): copied as one block of words.
 * (`add`: the adjoint, col2im, the same runs added back into `x`.)
 */
function patches(x: RingTensor, cols: RingTensor, g: Geometry, add: boolean): void {
  const { B, H, W, C, KH, KW, sh, sw, OH, OW, pt, pl } = g;
  const K = KH * KW * C;
  const L = x.bits / 32;
  const xs = words(x);
  const cs = words(cols);
  for (let b = 0; b < B; b++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const row = (b * OH + oy) * OW + ox;
        const ix0 = ox * sw - pl;
        const lo = Math.max(0, -ix0);
        const hi = Math.min(KW, W - ix0);
        if (lo >= hi) continue;
        const n = (hi - lo) * C;
        for (let ky = 0; ky < KH; ky++) {
          const iy = oy * sh + ky - pt;
          if (iy < 0 || iy >= H) continue;
          const xo = ((b * H + iy) * W + ix0 + lo) * C * L;
          const co = (row * K + (ky * KW + lo) * C) * L;
          if (add) addWords(xs, xo, cs, co, n, L);
          else if (n * L >= 64) cs.set(xs.subarray(xo, xo + n * L), co);
          else for (let k = 0; k < n * L; k++) cs[co + k] = xs[xo + k]!;
        }
      }
    }
  }
}

/** The patch matrix of one part (see `patches`). */
export function im2col(x: RingTensor, g: Geometry): RingTensor {
  const out = new RingTensor(x.bits, [g.B * g.OH * g.OW, g.KH * g.KW * g.C]);
  patches(x, out, g, false);
  return out;
}

/**
 * The adjoint of im2col: [B·OH·OW, KH·KW·C] back to [B, H, W, C], each patch
 * entry added into the input position it came from (padding entries dropped):
 * the same runs as im2col, added (ring additions on 32-bit words with carries).
 */
export function col2im(cols: RingTensor, g: Geometry): RingTensor {
  const acc = new RingTensor(cols.bits, [g.B, g.H, g.W, g.C]);
  patches(acc, cols, g, true);
  return acc;
}

/**
 * For each tap (ky, kx) and output position (b, oy, ox) inside the input:
 * `visit(tap, inWord, outWord)`, the word offsets of the C channels at the
 * input position and in a tap-major [KH·KW, B·OH·OW·C] layout.
 */
function eachTap(g: Geometry, L: number, visit: (tap: number, inOff: number, outOff: number) => void): void {
  const { B, H, W, C, KH, KW, sh, sw, OH, OW, pt, pl } = g;
  const n = B * OH * OW * C;
  for (let ky = 0; ky < KH; ky++) {
    for (let kx = 0; kx < KW; kx++) {
      const tap = ky * KW + kx;
      for (let b = 0; b < B; b++) {
        for (let oy = 0; oy < OH; oy++) {
          const iy = oy * sh + ky - pt;
          if (iy < 0 || iy >= H) continue;
          for (let ox = 0; ox < OW; ox++) {
            const ix = ox * sw + kx - pl;
            if (ix < 0 || ix >= W) continue;
            visit(tap, ((b * H + iy) * W + ix) * C * L, (tap * n + ((b * OH + oy) * OW + ox) * C) * L);
          }
        }
      }
    }
  }
}

/** The window entries of one part, tap-major: [KH·KW, B·OH·OW·C] (tap (ky, kx), then the output position and channel). */
export function windows(x: RingTensor, g: Geometry): RingTensor {
  const T = g.KH * g.KW;
  const n = g.B * g.OH * g.OW * g.C;
  const out = new RingTensor(x.bits, [T, n]);
  const L = x.bits / 32;
  const src = words(x);
  const dst = words(out);
  const w = g.C * L;
  eachTap(g, L, (_, inOff, outOff) => copyWords(dst, outOff, src, inOff, w));
  return out;
}

/**
 * The adjoint of `windows`: [KH·KW, B·OH·OW·C] added back into [B, H, W, C].
 * A [B·OH·OW·C] tensor (or [1, n]) stands for the same entries at every tap
 * (an upsampling: maxPool2x2's and avgPool's backward passes).
 */
export function unwindows(t: RingTensor, g: Geometry): RingTensor {
  const n = g.B * g.OH * g.OW * g.C;
  const same = t.size === n;
  const acc = new RingTensor(t.bits, [g.B, g.H, g.W, g.C]);
  const L = t.bits / 32;
  const src = words(t);
  const dst = words(acc);
  const disjoint = g.sh >= g.KH && g.sw >= g.KW;
  eachTap(g, L, (tap, inOff, outOff) => {
    const from = same ? outOff - tap * n * L : outOff;
    if (disjoint) copyWords(dst, inOff, src, from, g.C * L);
    else addWords(dst, inOff, src, from, g.C, L);
  });
  return acc;
}

/** Apply a local rearrangement to every part this process holds (any sharing whose parts are ring tensors). */
export const local = (x: ProtocolTensor, f: (p: RingTensor) => RingTensor): Parts => x.parts.map((p) => (p === undefined ? undefined : f(p)));

/** A public linear map of ring parts (a rearrangement such as im2col) and the shape it gives. */
export interface LinearMap { f: (p: RingTensor) => RingTensor; shape: readonly number[] }

/**
 * Public linear maps around a matmul, out(mapX(x) · mapY(y)): `x` and `y`
 * applied to the operands' parts (im2col), `out` to the product (col2im),
 * the truncation (fixed · fixed) after `out`.
 */
export interface MatmulMaps {
  x?: LinearMap; y?: LinearMap; out?: LinearMap;
  /**
   * Optional fast path (ABY3): Σ over the pairs (a, b) of out(x(a) · y(b)),
   * from the parts as they are (unmapped), in one pass that never builds the
   * mapped operands (the fused conv kernels, `fusedConv`). It must equal the
   * composition of the maps, which stay the reference (and Pond's path).
   * `overlap`: the caller awaits the product and lets other ops run
   * meanwhile (ABY3: where it would give the plain product's matmuls to its
   * ring thread), else the product is computed before it returns.
   */
  product?: (pairs: readonly (readonly [RingTensor, RingTensor])[], options: { overlap: boolean }) => Promise<RingTensor>;
}

/**
 * MatmulMaps.product for the conv products of `g` with F filters (ring/conv.ts:
 * 'forward' im2col(x)·w, 'filter' dyᵀ·im2col(x), 'input' col2im(dy·wT)), or
 * undefined when the wasm conv kernels are not available (ts backend, not built).
 */
export function fusedConv(kind: ConvKind, g: Geometry, F: number): MatmulMaps['product'] {
  if (!convAvailable()) return undefined;
  return (pairs, { overlap }) => convProduct(kind, g, F, pairs, { overlap });
}
