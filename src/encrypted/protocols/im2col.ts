/**
 * The protocol-independent side of convolution and pooling (NHWC, tfjs' and
 * TensorFlow's layout): window geometry, and the local rearrangements of one
 * ring part (im2col, col2im, windows, unwindows). A rearrangement is a copy of
 * ring words (zeros for padding), applied to every part of a sharing it gives
 * a sharing of the rearranged value (the map is linear), with no message: the
 * same code serves ABY3's replicated parts and Pond's additive ones (conv.ts,
 * pool.ts). Errors are prefixed with `where` (e.g. 'ABY3.conv2d').
 */
import * as ring from '../../ring/index.js';
import { RingTensor } from '../../ring/index.js';
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

/**
 * The patch matrix of one part: [B·OH·OW, KH·KW·C], row (b, oy, ox), column
 * (ky, kx, c) (the filter's [KH, KW, C] order), zeros where a window overlaps
 * the padding. For each (row, ky) the KW·C entries are one contiguous run of
 * the NHWC input: copied as one block of words.
 */
export function im2col(x: RingTensor, g: Geometry): RingTensor {
  const { B, H, W, C, KH, KW, sh, sw, OH, OW, pt, pl } = g;
  const K = KH * KW * C;
  const out = new RingTensor(x.bits, [B * OH * OW, K]);
  const L = x.bits / 32;
  const src = words(x);
  const dst = words(out);
  for (let b = 0; b < B; b++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const row = (b * OH + oy) * OW + ox;
        const ix0 = ox * sw - pl;
        const lo = Math.max(0, -ix0);
        const hi = Math.min(KW, W - ix0);
        if (lo >= hi) continue;
        for (let ky = 0; ky < KH; ky++) {
          const iy = oy * sh + ky - pt;
          if (iy < 0 || iy >= H) continue;
          const from = ((b * H + iy) * W + ix0 + lo) * C * L;
          dst.set(src.subarray(from, from + (hi - lo) * C * L), (row * K + (ky * KW + lo) * C) * L);
        }
      }
    }
  }
  return out;
}

/**
 * The adjoint of im2col: [B·OH·OW, KH·KW·C] back to [B, H, W, C], each patch
 * entry added into the input position it came from (padding entries dropped).
 * One scatter and one ring addition (the wasm kernel) per filter tap.
 */
export function col2im(cols: RingTensor, g: Geometry): RingTensor {
  const { B, H, W, C, KH, KW, sh, sw, OH, OW, pt, pl } = g;
  const K = KH * KW * C;
  const L = cols.bits / 32;
  const src = words(cols);
  const acc = new RingTensor(cols.bits, [B, H, W, C]);
  // taps whose windows never overlap (stride >= kernel) write disjoint positions: one buffer suffices
  const disjoint = sh >= KH && sw >= KW;
  let tmp = disjoint ? acc : new RingTensor(cols.bits, [B, H, W, C]);
  for (let ky = 0; ky < KH; ky++) {
    for (let kx = 0; kx < KW; kx++) {
      if (!disjoint && (ky > 0 || kx > 0)) tmp = new RingTensor(cols.bits, [B, H, W, C]);
      const dst = words(tmp);
      const col = (ky * KW + kx) * C * L;
      for (let b = 0; b < B; b++) {
        for (let oy = 0; oy < OH; oy++) {
          const iy = oy * sh + ky - pt;
          if (iy < 0 || iy >= H) continue;
          for (let ox = 0; ox < OW; ox++) {
            const ix = ox * sw + kx - pl;
            if (ix < 0 || ix >= W) continue;
            const from = ((b * OH + oy) * OW + ox) * K * L + col;
            dst.set(src.subarray(from, from + C * L), ((b * H + iy) * W + ix) * C * L);
          }
        }
      }
      if (!disjoint) {
        if (ky === 0 && kx === 0) acc.data.set(tmp.data);
        else ring.addInPlace(acc, tmp);
      }
    }
  }
  return acc;
}

/** The window entries of one part, tap-major: [KH·KW, B·OH·OW·C] (tap (ky, kx), then the output position and channel). */
export function windows(x: RingTensor, g: Geometry): RingTensor {
  const rows = g.B * g.OH * g.OW;
  const T = g.KH * g.KW;
  return ring.reshape(ring.transpose(ring.reshape(im2col(x, g), [rows, T, g.C]), [1, 0, 2]), [T, rows * g.C]);
}

/** The adjoint of `windows`: [KH·KW, B·OH·OW·C] added back into [B, H, W, C]. */
export function unwindows(t: RingTensor, g: Geometry): RingTensor {
  const rows = g.B * g.OH * g.OW;
  const T = g.KH * g.KW;
  return col2im(ring.reshape(ring.transpose(ring.reshape(t, [T, rows, g.C]), [1, 0, 2]), [rows, T * g.C]), g);
}

/** Apply a local rearrangement to every part this process holds (any sharing whose parts are ring tensors). */
export const local = (x: ProtocolTensor, f: (p: RingTensor) => RingTensor): Parts => x.parts.map((p) => (p === undefined ? undefined : f(p)));
