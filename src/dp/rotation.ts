/**
 * Random rotations of distributed DP (TFF aggregators/rotation.py; Kairouz,
 * Liu, Steinke ICML'21 "The distributed discrete Gaussian mechanism", §4.2):
 * before quantization every client rotates its update by the same random
 * orthogonal map U, so that each coordinate of U·x is about ||x||/sqrt(D)
 * (sub-Gaussian with flatness ρ ≈ 1) and no coordinate needs many bits; the
 * target applies U^T to the noisy sum. U is PUBLIC: its seed is derived from
 * the plan's invocation id (`rotationSeed`), so every client rotates the
 * same way, a new rotation each aggregation, and the target unrotates.
 *
 *   'hadamard'  U = H·D / sqrt(D): D = diag of ±1 signs from the seed, H the
 *               Walsh–Hadamard matrix (fast transform, O(D log D)), the input
 *               zero-padded to D = 2^ceil(log2 d). H·H = D·I, so
 *               U^T = D·H / sqrt(D).
 *   'dft'       the input zero-padded to an even D, packed into m = D/2
 *               complex numbers z_j = x_j + i·x_{m+j}, each multiplied by
 *               e^{iθ_j} (θ_j uniform in [0, 2π) from the seed), then the
 *               DFT F (F_jk = e^{-2πi jk/m}) and 1/sqrt(m); the result is
 *               unpacked as (Re, Im). ||F z||^2 = m ||z||^2, so this is
 *               orthogonal; U^T: the inverse DFT (times sqrt(m)), e^{-iθ_j},
 *               unpacking. The DFT of a length m that is not a power of 2
 *               runs as Bluestein's chirp-z (a power-of-2 FFT of length
 *               >= 2m - 1).
 *
 * Every function takes and returns Float64Array (fresh arrays; inputs are
 * never written).
 */
import { createCipheriv, createHash } from 'node:crypto';

export type RotationKind = 'hadamard' | 'dft';
export const ROTATIONS: readonly RotationKind[] = Object.freeze(['hadamard', 'dft']);
/** Label of the seed derivation (a plan parameter, so every party checks it). */
export const ROTATION_SEED_DERIVATION = 'sha256-invocation-v1';

/** The public rotation seed of one aggregation: SHA-256("fedcrypt/dp/rotation/v1\0" || invocationId). */
export function rotationSeed(invocationId: string): Uint8Array {
  if (typeof invocationId !== 'string' || invocationId.length === 0) throw new TypeError(`rotationSeed: "invocationId" expected a non-empty string, got ${JSON.stringify(invocationId)}`);
  return new Uint8Array(createHash('sha256').update('fedcrypt/dp/rotation/v1\0').update(invocationId, 'utf8').digest());
}

/** `n` public pseudorandom 32-bit words from a 32-byte seed (AES-256-CTR keystream, zero IV). */
export function seedStream(seed: Uint8Array, n: number): Uint32Array {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new TypeError('seedStream: "seed" expected 32 bytes');
  const c = createCipheriv('aes-256-ctr', seed, Buffer.alloc(16));
  const b = c.update(Buffer.alloc(4 * n));
  // (a copy: a small Buffer may sit at an unaligned offset of Node's pool)
  const out = new Uint32Array(n);
  new Uint8Array(out.buffer).set(b.subarray(0, 4 * n));
  return out;
}

/** The padded dimension of a `kind` rotation of d values. */
export function paddedDim(kind: RotationKind, d: number): number {
  if (!Number.isInteger(d) || d < 1 || d > 2 ** 30) throw new RangeError(`paddedDim: "d" expected an integer in [1, 2^30], got ${String(d)}`);
  checkKind('paddedDim', kind);
  return kind === 'hadamard' ? 2 ** Math.ceil(Math.log2(d)) : d + (d % 2);
}

function checkKind(fn: string, kind: unknown): asserts kind is RotationKind {
  if (kind !== 'hadamard' && kind !== 'dft') throw new RangeError(`${fn}: "kind" expected 'hadamard' or 'dft', got ${JSON.stringify(kind)}`);
}

function checkSeed(fn: string, seed: unknown): asserts seed is Uint8Array {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new TypeError(`${fn}: "seed" expected 32 bytes (rotationSeed)`);
}

/** In-place unnormalized fast Walsh–Hadamard transform (length a power of 2): two butterfly stages per pass. */
export function fwht(a: Float64Array): void {
  const n = a.length;
  if (n & (n - 1)) throw new RangeError(`fwht: length expected a power of 2, got ${n}`);
  let h = 1;
  for (; 4 * h <= n; h *= 4) {
    const h2 = 2 * h, h4 = 4 * h;
    for (let i = 0; i < n; i += h4) {
      for (let j = i; j < i + h; j++) {
        const x0 = a[j]!, x1 = a[j + h]!, x2 = a[j + h2]!, x3 = a[j + h2 + h]!;
        const s01 = x0 + x1, d01 = x0 - x1, s23 = x2 + x3, d23 = x2 - x3;
        a[j] = s01 + s23;
        a[j + h] = d01 + d23;
        a[j + h2] = s01 - s23;
        a[j + h2 + h] = d01 - d23;
      }
    }
  }
  if (h < n) {
    for (let j = 0; j < h; j++) {
      const x = a[j]!, y = a[j + h]!;
      a[j] = x + y;
      a[j + h] = x - y;
    }
  }
}

/** ±1 signs: bit i of the keystream (1 → -1). */
function applySigns(a: Float64Array, seed: Uint8Array): void {
  const words = seedStream(seed, Math.ceil(a.length / 32));
  for (let i = 0; i < a.length; i++) a[i]! *= 1 - 2 * ((words[i >>> 5]! >>> (i & 31)) & 1);
}

/** U·x for a `kind` rotation with `seed`: length paddedDim(kind, x.length). */
export function rotate(kind: RotationKind, x: Float64Array, seed: Uint8Array): Float64Array {
  checkKind('rotate', kind);
  checkSeed('rotate', seed);
  if (!(x instanceof Float64Array) || x.length < 1) throw new TypeError('rotate: "x" expected a non-empty Float64Array');
  const D = paddedDim(kind, x.length);
  const a = new Float64Array(D);
  a.set(x);
  if (kind === 'hadamard') {
    applySigns(a, seed);
    fwht(a);
    scale(a, 1 / Math.sqrt(D));
    return a;
  }
  const m = D / 2;
  const re = a.slice(0, m), im = a.slice(m);
  phases(re, im, seed, 1);
  dft(re, im, false);
  const s = 1 / Math.sqrt(m);
  for (let j = 0; j < m; j++) {
    a[j] = re[j]! * s;
    a[m + j] = im[j]! * s;
  }
  return a;
}

/** U^T·y, cut to the first `d` values (the original dimension). */
export function unrotate(kind: RotationKind, y: Float64Array, seed: Uint8Array, d: number): Float64Array {
  checkKind('unrotate', kind);
  checkSeed('unrotate', seed);
  if (!(y instanceof Float64Array)) throw new TypeError('unrotate: "y" expected a Float64Array');
  if (y.length !== paddedDim(kind, d)) throw new RangeError(`unrotate: "y" has ${y.length} values, a ${kind} rotation of ${d} values has ${paddedDim(kind, d)}`);
  const D = y.length;
  if (kind === 'hadamard') {
    const a = y.slice();
    fwht(a);
    scale(a, 1 / Math.sqrt(D));
    applySigns(a, seed);
    return a.slice(0, d);
  }
  const m = D / 2;
  const re = y.slice(0, m), im = y.slice(m);
  dft(re, im, true);
  // inverse DFT is (1/m)·conj-DFT; with the forward 1/sqrt(m): sqrt(m)/m
  const s = 1 / Math.sqrt(m);
  scale(re, s);
  scale(im, s);
  phases(re, im, seed, -1);
  const out = new Float64Array(D);
  out.set(re, 0);
  out.set(im, m);
  return out.slice(0, d);
}

function scale(a: Float64Array, s: number): void {
  for (let i = 0; i < a.length; i++) a[i]! *= s;
}

/** Multiply z_j by e^{sign·iθ_j}, θ_j = 2π·w_j/2^32. */
function phases(re: Float64Array, im: Float64Array, seed: Uint8Array, sign: 1 | -1): void {
  const w = seedStream(seed, re.length);
  const k = (2 * Math.PI) / 2 ** 32;
  for (let j = 0; j < re.length; j++) {
    const t = w[j]! * k;
    const c = Math.cos(t), s = sign * Math.sin(t);
    const x = re[j]!, y = im[j]!;
    re[j] = x * c - y * s;
    im[j] = x * s + y * c;
  }
}

/** In-place DFT (inverse: e^{+2πi jk/m}, unnormalized) of any length. */
export function dft(re: Float64Array, im: Float64Array, inverse: boolean): void {
  const m = re.length;
  if (im.length !== m) throw new RangeError('dft: "re" and "im" expected the same length');
  if (m <= 1) return;
  if ((m & (m - 1)) === 0) return fft2(re, im, inverse);
  bluestein(re, im, inverse);
}

/** cos / sin of 2πk/n for k < n/2, per n (public constants; a few sizes kept). */
const twiddles = new Map<number, { c: Float64Array; s: Float64Array }>();
function twiddleTable(n: number): { c: Float64Array; s: Float64Array } {
  let t = twiddles.get(n);
  if (t === undefined) {
    const c = new Float64Array(n >> 1), s = new Float64Array(n >> 1);
    for (let k = 0; k < n >> 1; k++) {
      c[k] = Math.cos((2 * Math.PI * k) / n);
      s[k] = Math.sin((2 * Math.PI * k) / n);
    }
    if (twiddles.size >= 8) twiddles.clear();
    twiddles.set(n, (t = { c, s }));
  }
  return t;
}

/** Iterative radix-2 FFT, in place (forward e^{-2πi jk/n}; inverse e^{+2πi jk/n}, unnormalized). */
function fft2(re: Float64Array, im: Float64Array, inverse: boolean): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      let t = re[i]!; re[i] = re[j]!; re[j] = t;
      t = im[i]!; im[i] = im[j]!; im[j] = t;
    }
  }
  const { c, s } = twiddleTable(n);
  const sgn = inverse ? 1 : -1;
  for (let len = 2; len <= n; len <<= 1) {
    const half = len >> 1, step = n / len;
    for (let i = 0; i < n; i += len) {
      for (let k = 0; k < half; k++) {
        const wr = c[k * step]!, wi = sgn * s[k * step]!;
        const a = i + k, b = a + half;
        const xr = re[b]! * wr - im[b]! * wi;
        const xi = re[b]! * wi + im[b]! * wr;
        re[b] = re[a]! - xr;
        im[b] = im[a]! - xi;
        re[a] = re[a]! + xr;
        im[a] = im[a]! + xi;
      }
    }
  }
}

/** Bluestein's chirp and the FFT of its conjugate kernel, per (m, direction): public constants, a few kept. */
const chirps = new Map<string, { cr: Float64Array; ci: Float64Array; br: Float64Array; bi: Float64Array }>();
function chirp(m: number, n: number, inverse: boolean): { cr: Float64Array; ci: Float64Array; br: Float64Array; bi: Float64Array } {
  const key = `${m}/${inverse ? 1 : 0}`;
  let ch = chirps.get(key);
  if (ch === undefined) {
    const sgn = inverse ? 1 : -1;
    const cr = new Float64Array(m), ci = new Float64Array(m);
    // q = j² mod 2m, kept exact incrementally (j² - (j-1)² = 2j - 1): the angle stays small
    for (let j = 0, q = 0; j < m; j++, q = (q + 2 * j - 1) % (2 * m)) {
      const t = (sgn * Math.PI * q) / m;
      cr[j] = Math.cos(t);
      ci[j] = Math.sin(t);
    }
    const br = new Float64Array(n), bi = new Float64Array(n);
    br[0] = cr[0]!;
    bi[0] = -ci[0]!;
    for (let j = 1; j < m; j++) {
      br[j] = br[n - j] = cr[j]!;
      bi[j] = bi[n - j] = -ci[j]!;
    }
    fft2(br, bi, false);
    if (chirps.size >= 8) chirps.clear();
    chirps.set(key, (ch = { cr, ci, br, bi }));
  }
  return ch;
}

/**
 * Bluestein's chirp-z: with jk = (j² + k² - (k-j)²)/2 and c_j = e^{sgn·iπ j²/m},
 * X_k = Σ_j x_j e^{sgn·2πi jk/m} = c_k Σ_j (x_j c_j) conj(c_{k-j}), a
 * convolution computed by power-of-2 FFTs of length >= 2m - 1.
 */
function bluestein(re: Float64Array, im: Float64Array, inverse: boolean): void {
  const m = re.length;
  let n = 1;
  while (n < 2 * m - 1) n <<= 1;
  const { cr, ci, br, bi } = chirp(m, n, inverse);
  const ar = new Float64Array(n), ai = new Float64Array(n);
  for (let j = 0; j < m; j++) {
    ar[j] = re[j]! * cr[j]! - im[j]! * ci[j]!;
    ai[j] = re[j]! * ci[j]! + im[j]! * cr[j]!;
  }
  fft2(ar, ai, false);
  for (let i = 0; i < n; i++) {
    const xr = ar[i]! * br[i]! - ai[i]! * bi[i]!;
    const xi = ar[i]! * bi[i]! + ai[i]! * br[i]!;
    ar[i] = xr;
    ai[i] = xi;
  }
  fft2(ar, ai, true);
  for (let k = 0; k < m; k++) {
    const xr = ar[k]! / n, xi = ai[k]! / n;
    re[k] = xr * cr[k]! - xi * ci[k]!;
    im[k] = xr * ci[k]! + xi * cr[k]!;
  }
}
