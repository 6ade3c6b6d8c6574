/**
 * ABY3 convolution and average pooling (NHWC, tfjs' and TensorFlow's default
 * layout: input [batch, height, width, channels], filter [kh, kw, in, out]).
 *
 * conv2d is im2col + one secure matmul: each server rearranges its own two
 * parts of x into the patch matrix [B·OH·OW, KH·KW·C] (a copy of ring words,
 * zeros for padding: no communication, the same rearrangement of every
 * component keeps the sharing consistent), the filter is reshaped to
 * [KH·KW·C, F], and ABY3's matmul (the ring matmul kernel on the parts, one
 * re-randomised 3-out-of-3 product, fused with the truncation) gives
 * [B·OH·OW, F]: two rounds, one ring element per output element per server.
 * The gradients are the same with the matmul's operands exchanged:
 *
 *   conv2dBackpropInput:  dcols = dy [B·OH·OW, F] · wᵀ [F, KH·KW·C], then
 *     col2im (each server adds the patch entries back into its parts, local);
 *   conv2dBackpropFilter: dW = im2col(x)ᵀ [KH·KW·C, B·OH·OW] · dy [B·OH·OW, F].
 *
 * A public filter (PublicTensor) is encoded and multiplied into each part
 * locally, then the product is truncated (one round: server0 and server1 send
 * one element per output element to server2).
 *
 * avgPool (valid padding): each server sums the window entries of its parts
 * (local), then one public division by the window area (ABY3's divPublic: a
 * multiplication by the encoded 1/area and one truncation, one round).
 *
 * Costs and error bounds: docs/encrypted-ml.md.
 */
import * as ring from '../../ring/index.js';
import { RingTensor } from '../../ring/index.js';
import { describe, fmtShape, ShapeMismatchError } from '../errors.js';
import { encode, type FixedPointConfig } from '../fixed.js';
import { PublicTensor, ReplicatedTensor, type Encoding, type Sensitivity } from '../tensor.js';
import type { RingParts } from './aby3-binary.js';
import { intersectSensitivity } from './base.js';

/** What the conv and pool ops need of their ABY3 instance. */
export interface NNHost {
  readonly fixed: FixedPointConfig;
  arith(parts: RingParts, shape: readonly number[], encoding: Encoding, sensitivity: Sensitivity): ReplicatedTensor;
  checkArith(fn: string, arg: string, x: unknown): ReplicatedTensor;
  matmul(x: ReplicatedTensor, y: ReplicatedTensor): Promise<ReplicatedTensor>;
  /** map(x · y) with the truncation after the (linear, local) map (ABY3Core.matmulMapped). */
  matmulMapped(x: ReplicatedTensor, y: ReplicatedTensor, map: (z: RingTensor) => RingTensor, outShape: readonly number[]): Promise<ReplicatedTensor>;
  mul(x: ReplicatedTensor, y: ReplicatedTensor): Promise<ReplicatedTensor>;
  truncate(x: ReplicatedTensor): Promise<ReplicatedTensor>;
  divPublic(x: ReplicatedTensor, c: number): Promise<ReplicatedTensor>;
  greater(x: ReplicatedTensor, y: ReplicatedTensor): Promise<ReplicatedTensor>;
  addPublic(x: ReplicatedTensor, c: number): ReplicatedTensor;
}

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

const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);
const posInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

export function strides2(fn: string, s: unknown, arg = 'strides'): [number, number] {
  if (posInt(s)) return [s, s];
  if (Array.isArray(s) && s.length === 2 && posInt(s[0]) && posInt(s[1])) return [s[0], s[1]];
  throw new RangeError(`ABY3.${fn}: option '${arg}' must be a positive integer or a pair of them, got ${describe(s)}`);
}

/**
 * Output size and padding, as TensorFlow: valid: OH = floor((H - KH) / sh) + 1;
 * same: OH = ceil(H / sh), padding max((OH - 1) sh + KH - H, 0) split with the
 * smaller half on top (left).
 */
export function geometry(fn: string, xShape: readonly number[], KH: number, KW: number, strides: unknown, padding: unknown, arg = 'x'): Geometry {
  if (xShape.length !== 4) throw new ShapeMismatchError(`ABY3.${fn}: argument '${arg}' must have shape [batch, height, width, channels] (NHWC), got ${fmtShape(xShape)}`);
  const [B, H, W, C] = xShape as [number, number, number, number];
  const [sh, sw] = strides2(fn, strides ?? 1);
  const pad = padding ?? 'valid';
  if (pad !== 'valid' && pad !== 'same') throw new RangeError(`ABY3.${fn}: option 'padding' must be 'valid' or 'same', got ${describe(padding)}`);
  let OH: number, OW: number, pt = 0, pl = 0;
  if (pad === 'valid') {
    if (KH > H || KW > W) throw new ShapeMismatchError(`ABY3.${fn}: window ${KH}x${KW} is larger than the input ${H}x${W} of '${arg}' (padding 'valid')`);
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

/** Apply a local rearrangement to every part this process holds. */
export const local = (x: ReplicatedTensor, f: (p: RingTensor) => RingTensor): RingParts => x.parts.map((p) => (p === undefined ? undefined : f(p)));

type Filter = ReplicatedTensor | PublicTensor;

export class ABY3Conv {
  readonly #h: NNHost;
  constructor(host: NNHost) {
    this.#h = host;
  }

  #filter(fn: string, w: unknown, arg = 'w'): Filter {
    if (w instanceof PublicTensor) return w;
    return this.#h.checkArith(fn, arg, w);
  }

  #filterShape(fn: string, w: Filter, C: number | undefined, arg = 'w'): [number, number, number, number] {
    if (w.shape.length !== 4) throw new ShapeMismatchError(`ABY3.${fn}: argument '${arg}' must have shape [kh, kw, inChannels, outChannels], got ${fmtShape(w.shape)}`);
    if (C !== undefined && w.shape[2] !== C) throw new ShapeMismatchError(`ABY3.${fn}: argument '${arg}' has ${w.shape[2]} input channels, the input has ${C} (shape ${fmtShape(w.shape)})`);
    return w.shape as [number, number, number, number];
  }

  /**
   * a · b for [m, k] · [k, n] with a secret and a secret or public operand
   * (`pub` given as its reshaped values, encoded here). Secret · secret is
   * ABY3's matmul (truncation fused); secret · public multiplies each part
   * locally and truncates (when the secret operand is fixed point).
   */
  async #matmul(a: ReplicatedTensor | { pub: PublicTensor; shape: [number, number]; transpose?: boolean }, b: typeof a): Promise<ReplicatedTensor> {
    const h = this.#h;
    if (a instanceof ReplicatedTensor && b instanceof ReplicatedTensor) return h.matmul(a, b);
    const secretLeft = a instanceof ReplicatedTensor;
    const s = (secretLeft ? a : b) as ReplicatedTensor;
    const q = (secretLeft ? b : a) as { pub: PublicTensor; shape: [number, number]; transpose?: boolean };
    let enc = encode(q.pub.values, q.transpose ? [q.shape[1], q.shape[0]] : q.shape, h.fixed, 'ABY3.conv2d');
    if (q.transpose) enc = ring.transpose(enc, [1, 0]);
    const parts = local(s, (p) => (secretLeft ? ring.matmul(p, enc) : ring.matmul(enc, p)));
    const shape = [secretLeft ? s.shape[0]! : q.shape[0], secretLeft ? q.shape[1] : s.shape[1]!];
    const t = h.arith(parts, shape, 'fixed', s.sensitivity);
    return s.encoding === 'fixed' ? h.truncate(t) : t;
  }

  /**
   * conv2d(x, w): x [B, H, W, C] encrypted, w [KH, KW, C, F] encrypted or public;
   * result [B, OH, OW, F]. Options: strides (default 1), padding 'valid' (default) or 'same'.
   */
  async conv2d(x: ReplicatedTensor, w: Filter, options: ConvOptions = {}): Promise<ReplicatedTensor> {
    const fn = 'conv2d';
    const h = this.#h;
    const a = h.checkArith(fn, 'x', x);
    const f = this.#filter(fn, w);
    const o = options ?? {};
    const g = geometry(fn, a.shape, f.shape[0] ?? 0, f.shape[1] ?? 0, o.strides, o.padding);
    const [KH, KW, C, F] = this.#filterShape(fn, f, g.C);
    const rows = g.B * g.OH * g.OW;
    const K = KH * KW * C;
    const cols = h.arith(local(a, (p) => im2col(p, g)), [rows, K], a.encoding, a.sensitivity);
    const w2 = f instanceof PublicTensor ? { pub: f, shape: [K, F] as [number, number] } : h.arith(local(f, (p) => ring.reshape(p, [K, F])), [K, F], f.encoding, f.sensitivity);
    const y = await this.#matmul(cols, w2);
    return h.arith(local(y, (p) => ring.reshape(p, [g.B, g.OH, g.OW, F])), [g.B, g.OH, g.OW, F], y.encoding, y.sensitivity);
  }

  /**
   * The gradient of conv2d with respect to its input: dy [B, OH, OW, F]
   * encrypted, w [KH, KW, C, F] encrypted or public, inputShape [B, H, W, C];
   * result [B, H, W, C] = col2im(dy · wᵀ).
   */
  async conv2dBackpropInput(inputShape: readonly number[], dy: ReplicatedTensor, w: Filter, options: ConvOptions = {}): Promise<ReplicatedTensor> {
    const fn = 'conv2dBackpropInput';
    const h = this.#h;
    if (!Array.isArray(inputShape) || inputShape.length !== 4 || !inputShape.every(posInt)) throw new TypeError(`ABY3.${fn}: argument 'inputShape' must be [batch, height, width, channels] of positive integers, got ${describe(inputShape)}`);
    const d = h.checkArith(fn, 'dy', dy);
    const f = this.#filter(fn, w);
    const o = options ?? {};
    const g = geometry(fn, inputShape, f.shape[0] ?? 0, f.shape[1] ?? 0, o.strides, o.padding, 'inputShape');
    const [KH, KW, C, F] = this.#filterShape(fn, f, g.C);
    if (!same(d.shape, [g.B, g.OH, g.OW, F])) throw new ShapeMismatchError(`ABY3.${fn}: argument 'dy' has shape ${fmtShape(d.shape)}, expected ${fmtShape([g.B, g.OH, g.OW, F])} for this input, filter, strides and padding`);
    const rows = g.B * g.OH * g.OW;
    const K = KH * KW * C;
    const dy2 = h.arith(local(d, (p) => ring.reshape(p, [rows, F])), [rows, F], d.encoding, d.sensitivity);
    const outShape = [g.B, g.H, g.W, g.C];
    // col2im is linear: applied to the products before their truncation (and resharing), which then
    // cover the input's B·H·W·C elements instead of the patch matrix's B·OH·OW·KH·KW·C
    if (f instanceof PublicTensor) {
      const enc = ring.transpose(encode(f.values, [K, F], h.fixed, 'ABY3.conv2dBackpropInput'), [1, 0]);
      const t = h.arith(local(dy2, (p) => col2im(ring.matmul(p, enc), g)), outShape, 'fixed', dy2.sensitivity);
      return dy2.encoding === 'fixed' ? h.truncate(t) : t;
    }
    const wT = h.arith(local(f, (p) => ring.transpose(ring.reshape(p, [K, F]), [1, 0])), [F, K], f.encoding, f.sensitivity);
    return h.matmulMapped(dy2, wT, (z) => col2im(z, g), outShape);
  }

  /**
   * The gradient of conv2d with respect to its filter: x [B, H, W, C] and dy
   * [B, OH, OW, F] encrypted, filterShape [KH, KW, C, F]; result
   * [KH, KW, C, F] = im2col(x)ᵀ · dy.
   */
  async conv2dBackpropFilter(x: ReplicatedTensor, dy: ReplicatedTensor, filterShape: readonly number[], options: ConvOptions = {}): Promise<ReplicatedTensor> {
    const fn = 'conv2dBackpropFilter';
    const h = this.#h;
    const a = h.checkArith(fn, 'x', x);
    const d = h.checkArith(fn, 'dy', dy);
    if (!Array.isArray(filterShape) || filterShape.length !== 4 || !filterShape.every(posInt)) throw new TypeError(`ABY3.${fn}: argument 'filterShape' must be [kh, kw, inChannels, outChannels] of positive integers, got ${describe(filterShape)}`);
    const [KH, KW, C, F] = filterShape as [number, number, number, number];
    const o = options ?? {};
    const g = geometry(fn, a.shape, KH, KW, o.strides, o.padding);
    if (C !== g.C) throw new ShapeMismatchError(`ABY3.${fn}: argument 'filterShape' has ${C} input channels, 'x' has ${g.C}`);
    if (!same(d.shape, [g.B, g.OH, g.OW, F])) throw new ShapeMismatchError(`ABY3.${fn}: argument 'dy' has shape ${fmtShape(d.shape)}, expected ${fmtShape([g.B, g.OH, g.OW, F])} for this input, filter, strides and padding`);
    const rows = g.B * g.OH * g.OW;
    const K = KH * KW * C;
    // dWᵀ = dyᵀ · im2col(x): the transpose of dy [rows, F] and of the small product [F, K], instead of the patch matrix [rows, K]
    const cols = h.arith(local(a, (p) => im2col(p, g)), [rows, K], a.encoding, a.sensitivity);
    const dyT = h.arith(local(d, (p) => ring.transpose(ring.reshape(p, [rows, F]), [1, 0])), [F, rows], d.encoding, d.sensitivity);
    const dwT = await h.matmul(dyT, cols);
    return h.arith(local(dwT, (p) => ring.reshape(ring.transpose(p, [1, 0]), [KH, KW, C, F])), [KH, KW, C, F], dwT.encoding, intersectSensitivity([a.sensitivity, d.sensitivity]));
  }

  /**
   * Average pooling, valid padding: x [B, H, W, C] → [B, OH, OW, C], the
   * window sums local, then one divPublic by the window area (one round).
   */
  async avgPool(x: ReplicatedTensor, options: { size: number | readonly [number, number]; strides?: number | readonly [number, number] }): Promise<ReplicatedTensor> {
    const fn = 'avgPool';
    const h = this.#h;
    const a = h.checkArith(fn, 'x', x);
    if (options === null || typeof options !== 'object') throw new TypeError(`ABY3.${fn}: argument 'options' must be an object with 'size'`);
    const [KH, KW] = strides2(fn, options.size, 'size');
    const g = geometry(fn, a.shape, KH, KW, options.strides ?? options.size, 'valid');
    const sums = local(a, (p) => {
      const t = windows(p, g);
      return ring.reshape(ring.sum(t, 0), [g.B, g.OH, g.OW, g.C]);
    });
    return h.divPublic(h.arith(sums, [g.B, g.OH, g.OW, g.C], a.encoding, a.sensitivity), KH * KW);
  }
}
