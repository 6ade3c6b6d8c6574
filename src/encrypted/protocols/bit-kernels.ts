/**
 * The bit kernels of src/encrypted/assembly/bitplanes.ts (see there for what
 * each computes), in plain JS over the same pointer-addressed memory: the
 * fallback where dist/wasm/bitplanes.wasm is not built, and the reference
 * the tests compare the wasm build against. Straight loops, no cleverness.
 */

/** The kernels' signatures (pointers are byte offsets into the heap's memory; 0 = absent where allowed). */
export interface BitKernelSet {
  xor2(o: number, a: number, b: number, len: number): void;
  and4(o: number, m1: number, m2: number, xi: number, xj: number, yi: number, yj: number, len: number): void;
  and1(o: number, m1: number, m2: number, u: number, v: number, len: number): void;
  toPlanes(src: number, n: number, L: number, planes: number, W: number, dst: number, tmp: number): void;
  addRing(o: number, a: number, b: number, n: number, L: number): void;
  subRing(o: number, a: number, b: number, n: number, L: number): void;
  mulCross(o: number, xi: number, xj: number, yi: number, yj: number, m1: number, m2: number, n: number, L: number): void;
  gather2x2(src: number, dst: number, B: number, H: number, W: number, OH: number, OW: number, run: number, order: number): void;
  scatter2x2(src: number, dst: number, B: number, H: number, W: number, OH: number, OW: number, run: number, same: number): void;
  otSend(o0: number, o1: number, c0: number, c1: number, wa: number, wb: number, rho: number, pad0: number, pad1: number, n: number, L: number): void;
  otHelp(o: number, bp: number, p0: number, p1: number, n: number, L: number): void;
  otRecv(o: number, bp: number, r0: number, r1: number, h: number, plus: number, minus: number, n: number, L: number): void;
}

const M64 = (1n << 64n) - 1n;
const M128 = (1n << 128n) - 1n;

/** The JS kernels over the memory `buf()` returns (fetched on every call: the memory may have been replaced by a larger one). */
export function jsKernels(buf: () => ArrayBuffer): BitKernelSet {
  const u32 = (): Uint32Array => new Uint32Array(buf());
  const u64 = (): BigUint64Array => new BigUint64Array(buf());
  // ring element e of the vector at p (L limbs), as a bigint
  const get = (m: BigUint64Array, p: number, e: number, L: number): bigint => (L === 1 ? m[p / 8 + e]! : m[p / 8 + 2 * e]! | (m[p / 8 + 2 * e + 1]! << 64n));
  const set = (m: BigUint64Array, p: number, e: number, L: number, v: bigint): void => {
    if (L === 1) m[p / 8 + e] = v & M64;
    else {
      m[p / 8 + 2 * e] = v & M64;
      m[p / 8 + 2 * e + 1] = (v >> 64n) & M64;
    }
  };
  const bitOf = (m: Uint32Array, p: number, e: number): number => (m[p / 4 + (e >>> 5)]! >>> (e & 31)) & 1;
  const mod = (L: number): bigint => (L === 1 ? M64 : M128);
  return {
    xor2(o, a, b, len) {
      const m = u32();
      for (let k = 0; k < len; k++) m[o / 4 + k] = m[a / 4 + k]! ^ m[b / 4 + k]!;
    },
    and4(o, m1, m2, xi, xj, yi, yj, len) {
      const m = u32();
      for (let k = 0; k < len; k++) {
        const y = m[yi / 4 + k]!;
        m[o / 4 + k] = m[m1 / 4 + k]! ^ m[m2 / 4 + k]! ^ (m[xi / 4 + k]! & (y ^ m[yj / 4 + k]!)) ^ (m[xj / 4 + k]! & y);
      }
    },
    and1(o, m1, m2, u, v, len) {
      const m = u32();
      for (let k = 0; k < len; k++) m[o / 4 + k] = m[m1 / 4 + k]! ^ m[m2 / 4 + k]! ^ (u === 0 ? 0 : m[u / 4 + k]! & m[v / 4 + k]!);
    },
    toPlanes(src, n, L, planes, W, dst) {
      const m = u32();
      for (let j = 0; j < planes; j++) {
        const q = L * 2; // u32 limbs per element
        for (let w = 0; w < W; w++) {
          let word = 0;
          for (let r = 0; r < 32 && w * 32 + r < n; r++) word |= ((m[src / 4 + (w * 32 + r) * q + (j >>> 5)]! >>> (j & 31)) & 1) << r;
          m[dst / 4 + j * W + w] = word;
        }
      }
    },
    addRing(o, a, b, n, L) {
      const m = u64();
      for (let e = 0; e < n; e++) set(m, o, e, L, get(m, a, e, L) + get(m, b, e, L));
    },
    subRing(o, a, b, n, L) {
      const m = u64();
      for (let e = 0; e < n; e++) set(m, o, e, L, (get(m, a, e, L) - get(m, b, e, L)) & mod(L));
    },
    mulCross(o, xi, xj, yi, yj, m1, m2, n, L) {
      const m = u64();
      for (let e = 0; e < n; e++) {
        const a = get(m, yi, e, L);
        set(m, o, e, L, (get(m, xi, e, L) * (a + get(m, yj, e, L)) + get(m, xj, e, L) * a + get(m, m1, e, L) - get(m, m2, e, L)) & mod(L));
      }
    },
    gather2x2(src, dst, B, H, W, OH, OW, run, order) {
      const m = new Uint8Array(buf());
      let o = dst;
      for (let j = 0; j < 4; j++) {
        const t = (order >> (2 * j)) & 3;
        for (let b = 0; b < B; b++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++, o += run) {
          const from = src + ((b * H + 2 * oy + (t >> 1)) * W + 2 * ox + (t & 1)) * run;
          m.copyWithin(o, from, from + run);
        }
      }
    },
    scatter2x2(src, dst, B, H, W, OH, OW, run, same) {
      const m = new Uint8Array(buf());
      m.fill(0, dst, dst + B * H * W * run);
      for (let t = 0; t < 4; t++) {
        let o = src + (same ? 0 : t * B * OH * OW * run);
        for (let b = 0; b < B; b++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++, o += run) {
          m.copyWithin(dst + ((b * H + 2 * oy + (t >> 1)) * W + 2 * ox + (t & 1)) * run, o, o + run);
        }
      }
    },
    otSend(o0, o1, c0, c1, wa, wb, rho, pad0, pad1, n, L) {
      const m = u64();
      const b = u32();
      for (let e = 0; e < n; e++) {
        const c = bitOf(b, c0, e) ^ (c1 === 0 ? 0 : bitOf(b, c1, e));
        const w = wa === 0 ? 1n : get(m, wa, e, L) + (wb === 0 ? 0n : get(m, wb, e, L));
        const base = get(m, pad0, e, L) - get(m, rho, e, L);
        const base1 = get(m, pad1, e, L) - get(m, rho, e, L);
        set(m, o0, e, L, (base + (c === 1 ? w : 0n)) & mod(L));
        set(m, o1, e, L, (base1 + (c === 1 ? 0n : w)) & mod(L));
      }
    },
    otHelp(o, bp, p0, p1, n, L) {
      const m = u64();
      const b = u32();
      for (let e = 0; e < n; e++) set(m, o, e, L, get(m, bitOf(b, bp, e) === 1 ? p1 : p0, e, L));
    },
    otRecv(o, bp, r0, r1, h, plus, minus, n, L) {
      const m = u64();
      const b = u32();
      for (let e = 0; e < n; e++) {
        let v = get(m, bitOf(b, bp, e) === 1 ? r1 : r0, e, L) - get(m, h, e, L);
        if (plus !== 0) v += get(m, plus, e, L);
        if (minus !== 0) v -= get(m, minus, e, L);
        set(m, o, e, L, v & mod(L));
      }
    },
  };
}
