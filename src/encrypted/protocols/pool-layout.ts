/**
 * Local rearrangements of one ring part for 2x2, stride-2, valid pooling
 * (NHWC, Geometry from im2col.ts): the four window taps gathered
 * tap-major, and the adjoint scatter back to the input's positions. Tap t is
 * (t >> 1, t & 1) = (dy, dx): t = 0 (0,0), 1 (0,1), 2 (1,0), 3 (1,1), the
 * order of im2col.ts `windows`. Word copies only (a window position's C
 * channels are one run of words; kernels gather2x2 / scatter2x2 of
 * bit-kernels.ts and bitplanes.wasm, in a bit workspace): no arithmetic, so
 * every server applies them to its parts and the result is a sharing of the
 * rearranged value.
 */
import { RingTensor } from '../../ring/index.js';
import type { Geometry } from './im2col.js';
import { BitSpace } from './bit-memory.js';

/** `f` on a workspace holding x's words; returns a fresh tensor of `shape` from the block f returns. */
function inSpace(x: RingTensor | readonly RingTensor[], outElems: number, shape: readonly number[], f: (sp: BitSpace, src: number, dst: number) => void, into?: RingTensor): RingTensor {
  const sp = new BitSpace();
  try {
    const xs = Array.isArray(x) ? x : [x as RingTensor];
    const bits = xs[0]!.bits;
    const bytes = outElems * (bits / 8);
    // the inputs one after the other in one block (a list: their concatenation, not formed outside)
    const src = sp.alloc(xs.reduce((a, t) => a + t.data.byteLength, 0));
    let off = src;
    for (const t of xs) {
      sp.heap.bytes().set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), off);
      off += t.data.byteLength;
    }
    const dst = sp.alloc(bytes);
    f(sp, src, dst);
    if (into !== undefined) {
      if (into.data.byteLength !== bytes || into.bits !== bits) throw new RangeError(`pool layout: argument 'into' has ${into.data.byteLength} bytes in Z_2^${into.bits}, expected ${bytes} in Z_2^${bits}`);
      new Uint8Array(into.data.buffer, into.data.byteOffset, bytes).set(sp.heap.bytes().subarray(dst, dst + bytes));
      return into;
    }
    return new RingTensor(bits, shape, new BigUint64Array(sp.take(dst, bytes).buffer));
  } finally {
    sp.release();
  }
}

/**
 * [4·n] (n = B·OH·OW·C): block j (elements [j·n, (j+1)·n)) holds tap
 * order[j] of every window, in output order (b, oy, ox, c); written into
 * `into` (a [4·n] tensor, e.g. from a RingArena) where given.
 */
export function gatherTaps(x: RingTensor, g: Geometry, order: readonly number[] = [0, 1, 2, 3], into?: RingTensor): RingTensor {
  const { B, H, W, C, OH, OW } = g;
  const n = B * OH * OW * C;
  const packed = order.reduce((a, t, j) => a | (t << (2 * j)), 0);
  return inSpace(x, 4 * n, [4 * n], (sp, src, dst) => sp.k.gather2x2(src, dst, B, H, W, OH, OW, C * (x.bits / 8), packed), into);
}

/**
 * The adjoint of gatherTaps with the default order: [4·n] back to
 * [B, H, W, C], zero where no window reaches (a last odd row or column).
 * With `same`, one block of n serves all four taps (dy copied to each
 * position of its window: the upsampling of the backward pass). `t` may be
 * a list of flat tensors: their concatenation, copied block by block into
 * the workspace (never formed as a ring tensor).
 */
export function scatterTaps(t: RingTensor | readonly RingTensor[], g: Geometry, same = false): RingTensor {
  const { B, H, W, C, OH, OW } = g;
  const ts = Array.isArray(t) ? t : [t as RingTensor];
  const n = B * OH * OW * C;
  const got = ts.reduce((a, u) => a + u.size, 0);
  if (got !== (same ? n : 4 * n)) throw new RangeError(`scatterTaps: argument 't' has ${got} elements, expected ${same ? n : 4 * n}`);
  return inSpace(ts, B * H * W * C, [B, H, W, C], (sp, src, dst) => sp.k.scatter2x2(src, dst, B, H, W, OH, OW, C * (ts[0]!.bits / 8), same ? 1 : 0));
}

/**
 * A public local map of one flat ring part run inside a bit workspace, with
 * its ring-tensor equivalent: `inElems` elements at `src` to the product's
 * segment at `dst` (for a product that gathers its operands there, see
 * aby3-mul.ts), or `ring(p)` outside.
 */
export interface PartMap {
  readonly inElems: number;
  run(sp: BitSpace, src: number, dst: number, bits: number): void;
  ring(p: RingTensor): RingTensor;
}

/** scatterTaps(·, g, true) (the backward pass's upsampling) as a PartMap: [n] to [B·H·W·C]. */
export function upsampleMap(g: Geometry): PartMap {
  const { B, H, W, C, OH, OW } = g;
  return {
    inElems: B * OH * OW * C,
    run: (sp, src, dst, bits) => sp.k.scatter2x2(src, dst, B, H, W, OH, OW, C * (bits / 8), 1),
    ring: (p) => scatterTaps(p, g, true),
  };
}
