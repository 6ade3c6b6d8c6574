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
 */
import { RingTensor } from '../../ring/index.js';
import { type Aby3Net, I3, mod3, type RingParts } from './aby3-binary.js';
import { Streams } from './aby3-and.js';
import { BitSpace } from './bit-memory.js';

/** z_i for each executing server i (fresh tensors of `shape`), undefined elsewhere. */
export async function mulProducts(net: Aby3Net, x: RingParts, y: RingParts, shape: readonly number[], key: string): Promise<(RingTensor | undefined)[]> {
  const sp = new BitSpace();
  const streams = new Streams();
  try {
    const n = shape.reduce((a, b) => a * b, 1);
    const L = net.bits / 64;
    const bytes = 8 * L * n;
    // stream j (key of servers j and j+1) serves servers j and j+1
    const want = I3.map((j) => (net.local(j) || net.local(j + 1) ? streams.get(net.key(j), `${key}/alpha`, bytes) : undefined));
    // each distinct component once
    const seen: [BigUint64Array, number][] = [];
    const put = (t: RingTensor | undefined, what: string): number => {
      if (t === undefined || t.size !== n) throw new Error(`${net.id}: internal error: mul operand ${what} missing or not ${n} elements`);
      const d = t.data;
      const hit = seen.find(([e]) => e.buffer === d.buffer && e.byteOffset === d.byteOffset && e.length === d.length);
      if (hit !== undefined) return hit[1];
      const p = sp.put(d);
      seen.push([d, p]);
      return p;
    };
    const ops = I3.map((i) => (net.local(i) ? [put(x[2 * i], `x${i}`), put(x[2 * i + 1], `x${i + 1}`), put(y[2 * i], `y${i}`), put(y[2 * i + 1], `y${i + 1}`)] : undefined));
    const S = await Promise.all(want.map(async (w) => {
      if (w === undefined) return 0;
      const s = await w.get();
      const p = sp.put(s.bytes);
      s.release();
      return p;
    }));
    return I3.map((i) => {
      const o = ops[i];
      if (o === undefined) return undefined;
      const out = sp.alloc(bytes);
      sp.k.mulCross(out, o[0]!, o[1]!, o[2]!, o[3]!, S[i]!, S[mod3(i - 1)]!, n, L);
      return new RingTensor(net.bits, shape, new BigUint64Array(sp.take(out, bytes).buffer));
    });
  } finally {
    streams.releaseAll();
    sp.release();
  }
}
