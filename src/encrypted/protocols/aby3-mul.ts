/**
 * The local step of ABY3's elementwise multiplication (aby3-core.ts has the
 * protocol): each executing server i computes its 3-out-of-3 share
 *   z_i = x_i (y_i + y_(i+1)) + x_(i+1) y_i + F(k_i, `${key}/alpha`) - F(k_(i-1), `${key}/alpha`)
 * in one pass of the mulCross kernel (bit-kernels.ts / bitplanes.wasm) over
 * operands copied once into a bit workspace (bit-memory.ts): a component
 * held by two servers executing here is copied once, and each PRF stream,
 * computed by the PRF worker (prf-worker.ts), serves both servers that use
 * it. The same z_i as the ring ops it replaces; the messages are the
 * caller's.
 *
 * The operands may come as segments (`MulSegment`): the product of the
 * concatenations x = [x^0, x^1, ...] and y = [y^0 - s^0, y^1 - s^1, ...]
 * (max pooling's selections, pool.ts), each segment's components copied
 * into the workspace once however often they recur (pooling multiplies one
 * comparison result by several terms) and the differences taken there: no
 * concatenation or difference as a ring tensor. z_i is the same as for the
 * concatenated operands, element by element (the PRF streams are of the
 * whole size), so the messages are too.
 */
import { RingTensor } from '../../ring/index.js';
import { type Aby3Net, I3, mod3, type RingParts } from './aby3-binary.js';
import { Streams } from './aby3-and.js';
import { BitSpace } from './bit-memory.js';
import type { PartMap } from './pool-layout.js';

/**
 * One segment of a segmented product: x times y (minus `ySub` where given;
 * or y mapped by `yMap` in the workspace, y then of yMap.inElems elements),
 * flat parts of `n` elements (n: the whole product's for a single segment).
 */
export interface MulSegment { x: RingParts; y: RingParts; ySub?: RingParts; yMap?: PartMap; n?: number }

/** z_i for each executing server i (fresh tensors of `shape`), undefined elsewhere; `segs`: the operands' segments in order (sizes summing to shape's). */
export async function mulProducts(net: Aby3Net, segs: readonly MulSegment[], shape: readonly number[], key: string): Promise<(RingTensor | undefined)[]> {
  const sp = new BitSpace();
  const streams = new Streams();
  try {
    const n = shape.reduce((a, b) => a * b, 1);
    const L = net.bits / 64;
    const E = 8 * L;
    const bytes = E * n;
    // stream j (key of servers j and j+1) serves servers j and j+1
    const want = I3.map((j) => (net.local(j) || net.local(j + 1) ? streams.get(net.key(j), `${key}/alpha`, bytes) : undefined));
    const sizes = segs.map((s) => s.n ?? (segs.length === 1 ? n : 0));
    if (segs.length === 0 || sizes.reduce((a, b) => a + b, 0) !== n) throw new Error(`${net.id}: internal error: mul segments of ${sizes.join(' + ')} elements, expected ${n}`);
    // each distinct component once (and each distinct difference)
    const seen: [BigUint64Array, number][] = [];
    const diffs = new Map<string, number>();
    const put = (t: RingTensor | undefined, m: number, what: string): number => {
      if (t === undefined || t.size !== m) throw new Error(`${net.id}: internal error: mul operand ${what} missing or not ${m} elements`);
      const d = t.data;
      const hit = seen.find(([e]) => e.buffer === d.buffer && e.byteOffset === d.byteOffset && e.length === d.length);
      if (hit !== undefined) return hit[1];
      const p = sp.put(d);
      seen.push([d, p]);
      return p;
    };
    const diff = (y: RingTensor | undefined, s: RingTensor | undefined, m: number, what: string): number => {
      const [a, b] = [put(y, m, what), put(s, m, `${what} (subtrahend)`)];
      const id = `${a},${b}`;
      let p = diffs.get(id);
      if (p === undefined) {
        sp.k.subRing((p = sp.alloc(E * m)), a, b, m, L);
        diffs.set(id, p);
      }
      return p;
    };
    const mapped = (f: PartMap, y: RingTensor | undefined, m: number, what: string): number => {
      const p = sp.alloc(E * m);
      f.run(sp, put(y, f.inElems, what), p, net.bits);
      return p;
    };
    const ops = segs.map((s, t) => {
      const m = sizes[t]!;
      const memo = new Map<RingTensor | undefined, number>();
      const viaMap = (f: PartMap, c: number): number => {
        // a component held by two servers here is mapped once
        const y = s.y[c];
        const hit = [...memo].find(([u]) => u !== undefined && y !== undefined && u.data.buffer === y.data.buffer && u.data.byteOffset === y.data.byteOffset);
        if (hit !== undefined) return hit[1];
        const p = mapped(f, y, m, `y${c >> 1}[${t}]`);
        memo.set(y, p);
        return p;
      };
      const yOf = (c: number): number => (s.yMap !== undefined ? viaMap(s.yMap, c) : s.ySub === undefined ? put(s.y[c], m, `y${c >> 1}[${t}]`) : diff(s.y[c], s.ySub[c], m, `y${c >> 1}[${t}]`));
      return I3.map((i) => (net.local(i) ? [put(s.x[2 * i], m, `x${i}[${t}]`), put(s.x[2 * i + 1], m, `x${i + 1}[${t}]`), yOf(2 * i), yOf(2 * i + 1)] : undefined));
    });
    const S = await Promise.all(want.map(async (w) => {
      if (w === undefined) return 0;
      const s = await w.get();
      const p = sp.put(s.bytes);
      s.release();
      return p;
    }));
    return I3.map((i) => {
      if (!net.local(i)) return undefined;
      const out = sp.alloc(bytes);
      let off = 0;
      segs.forEach((_, t) => {
        const o = ops[t]![i]!;
        sp.k.mulCross(out + off, o[0]!, o[1]!, o[2]!, o[3]!, S[i]! + off, S[mod3(i - 1)]! + off, sizes[t]!, L);
        off += E * sizes[t]!;
      });
      return new RingTensor(net.bits, shape, new BigUint64Array(sp.take(out, bytes).buffer));
    });
  } finally {
    streams.releaseAll();
    sp.release();
  }
}
