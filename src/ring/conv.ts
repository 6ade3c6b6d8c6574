/**
 * Fused convolution products over ring tensors: the three im2col products of
 * a conv layer (NHWC) without the patch matrix [B·OH·OW, KH·KW·C] ever built
 * whole, by dist/wasm/conv.wasm (src/ring/assembly/conv.ts; it reuses the ring
 * matmul kernels). Each call sums the products of a list of operand pairs
 * (ABY3's two local products per server) in one pass:
 *
 *   forward  Σ im2col(x) · w        x [B, H, W, C], w [K, F]   → [B·OH·OW, F]
 *   filter   Σ dyᵀ · im2col(x)      dy [B·OH·OW, F], x          → [F, K]
 *   input    Σ col2im(dy · wT)      dy [B·OH·OW, F], wT [F, K]  → [B, H, W, C]
 *
 * (K = KH·KW·C.) The kernel produces the patch rows a block at a time into
 * cache-sized scratch in its own memory; the operands are copied in once and
 * the result out once. Exact ring arithmetic, so the results are those of
 * im2col.ts's im2col / col2im and ring.matmul, word for word (the tests check
 * them against that reference).
 *
 * `convProduct` splits the batch between this thread and the ring thread
 * (threads.ts) when there is one and the product is large: the thread gets
 * the second half of the batch (its slice of each operand: the input, not its
 * patches), so both cores work on the same product, and writes its result
 * into shared memory. This thread computes its half, then waits for the
 * thread's synchronously (Atomics.wait: no yield to the event loop, so the
 * protocol's messages interleave as if it computed everything itself), or,
 * with `overlap`, awaits it (other ops run meanwhile).
 */
import { getRingBackend } from './backend.js';
import { RingShapeError } from './errors.js';
import { addInPlace } from './ops.js';
import { limbsOf, RingTensor } from './tensor.js';
import { ringThread } from './threads.js';
import { convShapes, GEO, KINDS, loadConvKernels, size, type ConvGeometry, type ConvKind } from './conv-kernels.js';

export { convShapes, type ConvGeometry, type ConvKind, type ConvPair } from './conv-kernels.js';

/** A convolution's window layout (src/encrypted/protocols/im2col.ts's Geometry). */
/** Whether convProduct can run here: the wasm ring backend is selected and conv.wasm is built. */
export function convAvailable(): boolean {
  return getRingBackend() === 'wasm' && loadConvKernels().kernels !== null;
}

/** Per batch item, the limbs of (a, b, out) that belong to it, 0 for an operand used whole; `sum`: the thread's result is added. */
function batchSlices(kind: ConvKind, g: ConvGeometry, F: number, L: number): { a: number; b: number; out: number; sum: boolean } {
  const x = g.H * g.W * g.C * L, dy = g.OH * g.OW * F * L;
  if (kind === 'forward') return { a: x, b: 0, out: dy, sum: false };
  if (kind === 'filter') return { a: dy, b: x, out: 0, sum: true };
  return { a: dy, b: 0, out: x, sum: false };
}

export interface ConvProductOptions {
  /** Split the batch with the ring thread: 'auto' (default: when there is one and ≥ 2^22 multiply-adds), true, or false. */
  split?: boolean | 'auto';
  /**
   * With a split, await the thread's half (the returned promise settles on
   * its reply; other work runs meanwhile) rather than wait for it
   * synchronously (the default: the promise is settled on return).
   */
  overlap?: boolean;
}

/**
 * Σ over `pairs` of the `kind` product (see the file comment), as a ring
 * tensor of convShapes(kind, g, F).out. Needs convAvailable().
 */
export function convProduct(kind: ConvKind, g: ConvGeometry, F: number, pairs: readonly (readonly [RingTensor, RingTensor])[], options: ConvProductOptions = {}): Promise<RingTensor> {
  if (!KINDS.includes(kind)) throw new RangeError(`convProduct: argument 'kind' must be 'forward', 'filter' or 'input', got ${String(kind)}`);
  for (const k of GEO) if (!Number.isSafeInteger(g?.[k]) || g[k] < (k === 'pt' || k === 'pl' ? 0 : 1)) throw new RangeError(`convProduct: argument 'g' has an invalid '${k}' (${String(g?.[k])})`);
  if (!Number.isSafeInteger(F) || F < 1) throw new RangeError(`convProduct: argument 'F' must be a positive integer, got ${String(F)}`);
  if (!Array.isArray(pairs) || pairs.length === 0) throw new RangeError(`convProduct: argument 'pairs' must be a non-empty array of [a, b] ring tensors`);
  const sh = convShapes(kind, g, F);
  const bits = pairs[0]![0].bits;
  pairs.forEach(([a, b], q) => {
    for (const [t, s, n] of [[a, sh.a, 'a'], [b, sh.b, 'b']] as const) {
      if (!(t instanceof RingTensor) || t.bits !== bits || t.size !== size(s)) throw new RingShapeError(`convProduct(${kind}): pairs[${q}].${n} must be a Z_2^${bits} tensor of ${size(s)} elements (shape [${s.join(', ')}]), got ${t instanceof RingTensor ? `Z_2^${t.bits} [${t.shape.join(', ')}]` : typeof t}`);
    }
  });
  const k = loadConvKernels().kernels;
  if (k === null) throw new Error(`convProduct: ${loadConvKernels().error}`);
  const out = new RingTensor(bits, sh.out);
  const L = limbsOf(bits);
  const work = g.B * g.OH * g.OW * g.KH * g.KW * g.C * F * pairs.length;
  const th = options.split === false || g.B < 2 || (options.split !== true && work < 2 ** 22) ? null : ringThread();
  const overlap = options.overlap === true;
  // a synchronous wait only once the thread has loaded (the first products of a process run here while it starts)
  if (th === null || (!overlap && !th.ready)) {
    k.run(kind, bits, g, F, pairs.map(([a, b]) => [a.data, b.data] as const), out.data);
    return Promise.resolve(out);
  }
  const b0 = g.B >> 1;
  const s = batchSlices(kind, g, F, L);
  const part = (t: BigUint64Array, per: number, from: number, to: number): BigUint64Array => (per === 0 ? t : t.subarray(from * per, to * per));
  const theirs = s.sum ? out.data.length : (g.B - b0) * s.out;
  const there = th.convStart(kind, bits, { ...g, B: g.B - b0 }, F, pairs.map(([a, b]) => [part(a.data, s.a, b0, g.B), part(b.data, s.b, b0, g.B)] as const), theirs, overlap);
  k.run(kind, bits, { ...g, B: b0 }, F, pairs.map(([a, b]) => [part(a.data, s.a, 0, b0), part(b.data, s.b, 0, b0)] as const), part(out.data, s.out, 0, b0));
  const finish = (): RingTensor => {
    const d = there.result();
    if (s.sum) addInPlace(out, new RingTensor(bits, sh.out, d.slice()));
    else out.data.set(d, b0 * s.out);
    return out;
  };
  return there.settled === undefined ? Promise.resolve(finish()) : there.settled.then(finish);
}
