/**
 * Convolution and average pooling on any sharing whose parts are ring tensors
 * (ABY3's replicated, Pond's additive), NHWC (tfjs' and TensorFlow's default
 * layout: input [batch, height, width, channels], filter [kh, kw, in, out]).
 * The protocol comes in as an `NNHost` (its matmul, truncation, division).
 *
 * conv2d is im2col + one secure matmul: each server rearranges its own
 * parts of x into the patch matrix [B·OH·OW, KH·KW·C] (im2col.ts: a copy of
 * ring words, zeros for padding, no communication; the same rearrangement of
 * every part keeps the sharing consistent), the filter is reshaped to
 * [KH·KW·C, F], and the protocol's matmul gives [B·OH·OW, F]. ABY3: the ring
 * matmul kernel on the parts, one re-randomised 3-out-of-3 product fused with
 * the truncation: two rounds, one ring element per output element per server.
 * Pond (`matmulMapped`): a Beaver product whose triple's factor is dealt in
 * x's own shape (conv2d: a; the filter gradient: b), so the servers open
 * x − a (not its patch matrix) and apply im2col to the opened value and to
 * their share of the triple; for the input gradient the triple's product is
 * dealt after col2im, so the producer sends an input-shaped c and the
 * truncation comes after col2im.
 * The gradients are the same with the matmul's operands exchanged:
 *
 *   conv2dBackpropInput:  dcols = dy [B·OH·OW, F] · wᵀ [F, KH·KW·C], then
 *     col2im (linear and local) on the products before their truncation
 *     (`matmulMapped` with an `out` map: one truncation per input element);
 *   conv2dBackpropFilter: dWᵀ = dyᵀ [F, B·OH·OW] · im2col(x) [B·OH·OW, KH·KW·C]
 *     (`matmulMapped` with a `y` map), transposed back (the small [F, K], not the patch matrix).
 *
 * A public filter (PublicTensor) is encoded and multiplied into each part
 * locally, then the product is truncated (ABY3: one round, server0 and
 * server1 send one element per output element to server2; Pond: local).
 *
 * avgPool (valid padding): each server sums the window entries of its parts
 * (local), then one public division by the window area (the protocol's
 * divPublic: a multiplication by the encoded 1/area and one truncation).
 *
 * Costs and error bounds: docs/encrypted-ml.md.
 */
import * as ring from '../../ring/index.js';
import { RingTensor } from '../../ring/index.js';
import { describe, fmtShape, ShapeMismatchError } from '../errors.js';
import { encode, type FixedPointConfig } from '../fixed.js';
import { ProtocolTensor, PublicTensor, type Encoding, type Sensitivity } from '../tensor.js';
import { intersectSensitivity, type Parts } from './base.js';
import { col2im, fusedConv, geometry, im2col, local, strides2, windows, type ConvOptions, type MatmulMaps } from './im2col.js';

/** What the conv and pool ops need of their protocol instance (T its arithmetic tensor kind). */
export interface NNHost<T extends ProtocolTensor> {
  /** The protocol's class name, prefixed to errors ('ABY3', 'Pond'). */
  readonly name: string;
  readonly fixed: FixedPointConfig;
  arith(parts: Parts, shape: readonly number[], encoding: Encoding, sensitivity: Sensitivity): T;
  checkArith(fn: string, arg: string, x: unknown): T;
  matmul(x: T, y: T): Promise<T>;
  /**
   * out(mapX(x) · mapY(y)) for public linear maps of the parts (`x`, `y`:
   * im2col before the product, `out`: col2im after it), the truncation
   * (fixed · fixed) after `out`, so it is one unit per output element.
   * ABY3 (ABY3Core.matmulMapped): the operand maps on the parts, `out` on
   * each server's 3-out-of-3 product before the zero-sharing, truncation and
   * resharing (messages of out's size). Pond: the triple dealt in the
   * operands' and the output's own shapes, so x − a and y − b are opened
   * before the maps, and c is dealt after `out`.
   */
  matmulMapped(x: T, y: T, maps: MatmulMaps): Promise<T>;
  mul(x: T, y: T): Promise<T>;
  /**
   * Optional: mul of the flat concatenations [x^0, x^1, ...] and
   * [y^0 - ySub^0, y^1 - ySub^1, ...] (ySub absent: y^j; yMap: yMap.ring
   * of y^j's parts) without forming them: the same result and messages as
   * that mul (ABY3: aby3-mul.ts).
   */
  mulCat?(segs: readonly { x: T; y: T; ySub?: T; yMap?: PartMap }[]): Promise<T>;
  truncate(x: T): Promise<T>;
  divPublic(x: T, c: number): Promise<T>;
  greater(x: T, y: T): Promise<T>;
  addPublic(x: T, c: number): T;
}

export type { LinearMap, MatmulMaps } from './im2col.js';
import type { PartMap } from './pool-layout.js';

/**
 * The same words under another shape (a view, not ring.reshape's copy): for
 * operands only read here (the protocols' products read their operands) and
 * for fresh results this op owns.
 */
const view = (p: RingTensor, shape: readonly number[]): RingTensor => new RingTensor(p.bits, shape, p.data);
const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);
const posInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

type Pub = { pub: PublicTensor; shape: [number, number]; transpose?: boolean };

export class ConvOps<T extends ProtocolTensor> {
  readonly #h: NNHost<T>;
  constructor(host: NNHost<T>) {
    this.#h = host;
  }

  /** The qualified name of method `fn` for errors ('ABY3.conv2d'). */
  #w(fn: string): string {
    return `${this.#h.name}.${fn}`;
  }

  #filter(fn: string, w: unknown, arg = 'w'): T | PublicTensor {
    if (w instanceof PublicTensor) return w;
    return this.#h.checkArith(fn, arg, w);
  }

  #filterShape(fn: string, w: T | PublicTensor, C: number | undefined, arg = 'w'): [number, number, number, number] {
    if (w.shape.length !== 4) throw new ShapeMismatchError(`${this.#w(fn)}: argument '${arg}' must have shape [kh, kw, inChannels, outChannels], got ${fmtShape(w.shape)}`);
    if (C !== undefined && w.shape[2] !== C) throw new ShapeMismatchError(`${this.#w(fn)}: argument '${arg}' has ${w.shape[2]} input channels, the input has ${C} (shape ${fmtShape(w.shape)})`);
    return w.shape as [number, number, number, number];
  }

  /**
   * a · b for [m, k] · [k, n] with a secret and a secret or public operand
   * (`pub` given as its reshaped values, encoded here). Secret · secret is
   * the protocol's matmul (truncated); secret · public multiplies each part
   * locally and truncates (when the secret operand is fixed point).
   */
  async #matmul(a: T | Pub, b: typeof a): Promise<T> {
    const h = this.#h;
    if (a instanceof ProtocolTensor && b instanceof ProtocolTensor) return h.matmul(a, b);
    const secretLeft = a instanceof ProtocolTensor;
    const s = (secretLeft ? a : b) as T;
    const q = (secretLeft ? b : a) as Pub;
    let enc = encode(q.pub.values, q.transpose ? [q.shape[1], q.shape[0]] : q.shape, h.fixed, this.#w('conv2d'));
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
  async conv2d(x: T, w: T | PublicTensor, options: ConvOptions = {}): Promise<T> {
    const fn = 'conv2d';
    const h = this.#h;
    const a = h.checkArith(fn, 'x', x);
    const f = this.#filter(fn, w);
    const o = options ?? {};
    const g = geometry(this.#w(fn), a.shape, f.shape[0] ?? 0, f.shape[1] ?? 0, o.strides, o.padding);
    const [KH, KW, C, F] = this.#filterShape(fn, f, g.C);
    const rows = g.B * g.OH * g.OW;
    const K = KH * KW * C;
    const patches = (p: RingTensor): RingTensor => im2col(p, g);
    const y = f instanceof PublicTensor
      ? await this.#matmul(h.arith(local(a, patches), [rows, K], a.encoding, a.sensitivity), { pub: f, shape: [K, F] })
      : await h.matmulMapped(a, h.arith(local(f, (p) => ring.reshape(p, [K, F])), [K, F], f.encoding, f.sensitivity), { x: { f: patches, shape: [rows, K] }, product: fusedConv('forward', g, F) });
    return h.arith(local(y, (p) => view(p, [g.B, g.OH, g.OW, F])), [g.B, g.OH, g.OW, F], y.encoding, y.sensitivity);
  }

  /**
   * The gradient of conv2d with respect to its input: dy [B, OH, OW, F]
   * encrypted, w [KH, KW, C, F] encrypted or public, inputShape [B, H, W, C];
   * result [B, H, W, C] = col2im(dy · wᵀ).
   */
  async conv2dBackpropInput(inputShape: readonly number[], dy: T, w: T | PublicTensor, options: ConvOptions = {}): Promise<T> {
    const fn = 'conv2dBackpropInput';
    const h = this.#h;
    if (!Array.isArray(inputShape) || inputShape.length !== 4 || !inputShape.every(posInt)) throw new TypeError(`${this.#w(fn)}: argument 'inputShape' must be [batch, height, width, channels] of positive integers, got ${describe(inputShape)}`);
    const d = h.checkArith(fn, 'dy', dy);
    const f = this.#filter(fn, w);
    const o = options ?? {};
    const g = geometry(this.#w(fn), inputShape, f.shape[0] ?? 0, f.shape[1] ?? 0, o.strides, o.padding, 'inputShape');
    const [KH, KW, C, F] = this.#filterShape(fn, f, g.C);
    if (!same(d.shape, [g.B, g.OH, g.OW, F])) throw new ShapeMismatchError(`${this.#w(fn)}: argument 'dy' has shape ${fmtShape(d.shape)}, expected ${fmtShape([g.B, g.OH, g.OW, F])} for this input, filter, strides and padding`);
    const rows = g.B * g.OH * g.OW;
    const K = KH * KW * C;
    const dy2 = h.arith(local(d, (p) => view(p, [rows, F])), [rows, F], d.encoding, d.sensitivity);
    const outShape = [g.B, g.H, g.W, g.C];
    // col2im is linear: applied to the products before their truncation (and, ABY3, resharing), which then
    // cover the input's B·H·W·C elements instead of the patch matrix's B·OH·OW·KH·KW·C (one ulp, not one per overlapping tap)
    if (f instanceof PublicTensor) {
      const enc = ring.transpose(encode(f.values, [K, F], h.fixed, this.#w(fn)), [1, 0]);
      const t = h.arith(local(dy2, (p) => col2im(ring.matmul(p, enc), g)), outShape, 'fixed', dy2.sensitivity);
      return dy2.encoding === 'fixed' ? h.truncate(t) : t;
    }
    const wT = h.arith(local(f, (p) => ring.transpose(view(p, [K, F]), [1, 0])), [F, K], f.encoding, f.sensitivity);
    return h.matmulMapped(dy2, wT, { out: { f: (z) => col2im(z, g), shape: outShape }, product: fusedConv('input', g, F) });
  }

  /**
   * The gradient of conv2d with respect to its filter: x [B, H, W, C] and dy
   * [B, OH, OW, F] encrypted, filterShape [KH, KW, C, F]; result
   * [KH, KW, C, F] = im2col(x)ᵀ · dy.
   */
  async conv2dBackpropFilter(x: T, dy: T, filterShape: readonly number[], options: ConvOptions = {}): Promise<T> {
    const fn = 'conv2dBackpropFilter';
    const h = this.#h;
    const a = h.checkArith(fn, 'x', x);
    const d = h.checkArith(fn, 'dy', dy);
    if (!Array.isArray(filterShape) || filterShape.length !== 4 || !filterShape.every(posInt)) throw new TypeError(`${this.#w(fn)}: argument 'filterShape' must be [kh, kw, inChannels, outChannels] of positive integers, got ${describe(filterShape)}`);
    const [KH, KW, C, F] = filterShape as [number, number, number, number];
    const o = options ?? {};
    const g = geometry(this.#w(fn), a.shape, KH, KW, o.strides, o.padding);
    if (C !== g.C) throw new ShapeMismatchError(`${this.#w(fn)}: argument 'filterShape' has ${C} input channels, 'x' has ${g.C}`);
    if (!same(d.shape, [g.B, g.OH, g.OW, F])) throw new ShapeMismatchError(`${this.#w(fn)}: argument 'dy' has shape ${fmtShape(d.shape)}, expected ${fmtShape([g.B, g.OH, g.OW, F])} for this input, filter, strides and padding`);
    const rows = g.B * g.OH * g.OW;
    const K = KH * KW * C;
    // dWᵀ = dyᵀ · im2col(x): the transpose of dy [rows, F] (a map of the operand) and of the small product [F, K], instead of the patch matrix [rows, K]
    const dy2 = h.arith(local(d, (p) => view(p, [rows, F])), [rows, F], d.encoding, d.sensitivity);
    const dwT = await h.matmulMapped(dy2, a, { x: { f: (p) => ring.transpose(p, [1, 0]), shape: [F, rows] }, y: { f: (p) => im2col(p, g), shape: [rows, K] }, product: fusedConv('filter', g, F) });
    return h.arith(local(dwT, (p) => view(ring.transpose(p, [1, 0]), [KH, KW, C, F])), [KH, KW, C, F], dwT.encoding, intersectSensitivity([a.sensitivity, d.sensitivity]));
  }

  /**
   * Average pooling, valid padding: x [B, H, W, C] → [B, OH, OW, C], the
   * window sums local, then one divPublic by the window area (ABY3: one round; Pond: local).
   */
  async avgPool(x: T, options: { size: number | readonly [number, number]; strides?: number | readonly [number, number] }): Promise<T> {
    const fn = 'avgPool';
    const h = this.#h;
    const a = h.checkArith(fn, 'x', x);
    if (options === null || typeof options !== 'object') throw new TypeError(`${this.#w(fn)}: argument 'options' must be an object with 'size'`);
    const [KH, KW] = strides2(this.#w(fn), options.size, 'size');
    const g = geometry(this.#w(fn), a.shape, KH, KW, options.strides ?? options.size, 'valid');
    const sums = local(a, (p) => {
      const t = windows(p, g);
      return view(ring.sum(t, 0), [g.B, g.OH, g.OW, g.C]);
    });
    return h.divPublic(h.arith(sums, [g.B, g.OH, g.OW, g.C], a.encoding, a.sensitivity), KH * KW);
  }
}
