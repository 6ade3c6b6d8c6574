/**
 * Plain TypeScript kernels over limb arrays: the reference (test oracle) for
 * every wasm kernel. Simple and obviously correct rather than fast.
 * Arrays hold 1 limb per element (64-bit) or 2 limbs little-endian (128-bit).
 * `out` may alias `a` or `b` in the elementwise kernels.
 */
import type { RingBits } from './tensor.js';

export interface RingKernels {
  readonly name: string;
  add(bits: RingBits, a: BigUint64Array, b: BigUint64Array, out: BigUint64Array): void;
  sub(bits: RingBits, a: BigUint64Array, b: BigUint64Array, out: BigUint64Array): void;
  mul(bits: RingBits, a: BigUint64Array, b: BigUint64Array, out: BigUint64Array): void;
  neg(bits: RingBits, a: BigUint64Array, out: BigUint64Array): void;
  /** s in [0, 2^bits). */
  addScalar(bits: RingBits, a: BigUint64Array, s: bigint, out: BigUint64Array): void;
  mulScalar(bits: RingBits, a: BigUint64Array, s: bigint, out: BigUint64Array): void;
  /** k in [0, bits). */
  shl(bits: RingBits, a: BigUint64Array, k: number, out: BigUint64Array): void;
  shrLogical(bits: RingBits, a: BigUint64Array, k: number, out: BigUint64Array): void;
  shrArith(bits: RingBits, a: BigUint64Array, k: number, out: BigUint64Array): void;
  /** a viewed as [outer, len, inner]; out[o, i] = sum_l a[o, l, i]. `out` does not alias `a`. */
  sumAxis(bits: RingBits, a: BigUint64Array, outer: number, len: number, inner: number, out: BigUint64Array): void;
  /** [m,k] x [k,n] -> [m,n]; `out` does not alias inputs. */
  matmul(bits: RingBits, a: BigUint64Array, b: BigUint64Array, out: BigUint64Array, m: number, k: number, n: number): void;
}

const M128 = (1n << 128n) - 1n;
const rd = (x: BigUint64Array, i: number): bigint => (x[2 * i + 1]! << 64n) | x[2 * i]!;
const wr = (x: BigUint64Array, i: number, v: bigint): void => {
  x[2 * i] = v; // ToBigUint64 keeps the low 64 bits
  x[2 * i + 1] = v >> 64n;
};

function binary(bits: RingBits, a: BigUint64Array, b: BigUint64Array, out: BigUint64Array, f: (x: bigint, y: bigint) => bigint): void {
  if (bits === 64) {
    for (let i = 0; i < out.length; i++) out[i] = f(a[i]!, b[i]!);
  } else {
    const n = out.length / 2;
    for (let i = 0; i < n; i++) wr(out, i, f(rd(a, i), rd(b, i)) & M128);
  }
}

function unary(bits: RingBits, a: BigUint64Array, out: BigUint64Array, f: (x: bigint) => bigint): void {
  if (bits === 64) {
    for (let i = 0; i < out.length; i++) out[i] = f(a[i]!);
  } else {
    const n = out.length / 2;
    for (let i = 0; i < n; i++) wr(out, i, f(rd(a, i)) & M128);
  }
}

export const referenceKernels: RingKernels = {
  name: 'ts',
  add: (bits, a, b, out) => binary(bits, a, b, out, (x, y) => x + y),
  sub: (bits, a, b, out) => binary(bits, a, b, out, (x, y) => x - y),
  mul: (bits, a, b, out) => binary(bits, a, b, out, (x, y) => x * y),
  neg: (bits, a, out) => unary(bits, a, out, (x) => -x),
  addScalar: (bits, a, s, out) => unary(bits, a, out, (x) => x + s),
  mulScalar: (bits, a, s, out) => unary(bits, a, out, (x) => x * s),
  shl: (bits, a, k, out) => unary(bits, a, out, (x) => x << BigInt(k)),
  shrLogical: (bits, a, k, out) => unary(bits, a, out, (x) => x >> BigInt(k)),
  shrArith: (bits, a, k, out) => unary(bits, a, out, (x) => BigInt.asIntN(bits, x) >> BigInt(k)),
  sumAxis(bits, a, outer, len, inner, out) {
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let acc = 0n;
        for (let l = 0; l < len; l++) {
          const idx = (o * len + l) * inner + i;
          acc += bits === 64 ? a[idx]! : rd(a, idx);
        }
        if (bits === 64) out[o * inner + i] = acc;
        else wr(out, o * inner + i, acc & M128);
      }
    }
  },
  matmul(bits, a, b, out, m, k, n) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0n;
        for (let p = 0; p < k; p++) {
          acc += bits === 64 ? a[i * k + p]! * b[p * n + j]! : rd(a, i * k + p) * rd(b, p * n + j);
        }
        if (bits === 64) out[i * n + j] = acc;
        else wr(out, i * n + j, acc & M128);
      }
    }
  },
};
