/**
 * Shamir t-of-n secret sharing of 32-byte secrets (X25519 private keys,
 * self-mask seeds) over the prime field F_p, p = 2^26 - 5 = 67108859.
 *
 * Encoding (exact, no bias): the 32 secret bytes are read as 11 chunks, ten
 * of 3 bytes and a last one of 2 bytes, each a little-endian integer
 * (< 2^24 < p), and every chunk is shared with its own random polynomial of
 * degree t - 1 whose constant term is the chunk. A share is 11 field
 * elements, each a u32 little-endian: 44 bytes. Reconstruction checks that
 * every chunk decodes below 2^24 (the last below 2^16), so a 32-byte value
 * round-trips exactly and shares that do not lie on one polynomial are
 * refused in most cases (a sanity check, not an integrity guarantee).
 *
 * Why this field: every product of two elements is below 2^52, so field
 * arithmetic is exact in JavaScript numbers (no BigInt, no limbs), several
 * times faster than BigInt arithmetic mod 2^61 - 1 (docs/secagg.md has the
 * figures). Shamir's scheme is perfectly hiding in any field larger than the
 * number of parties; p allows evaluation points up to 67,108,858.
 *
 * Evaluation points are the parties' indices, integers in [1, p); index 0
 * (where the secret sits) is never a share. Polynomial coefficients come
 * from node:crypto's CSPRNG, uniform in [0, p) by rejection sampling.
 *
 * Reconstruction interpolates at 0 with the Lagrange coefficients of the t
 * smallest indices given, cached per index set (`LagrangeCache`): the server
 * reconstructs many secrets from the same survivors.
 */
import { randomFillSync } from 'node:crypto';
import { checkBytes, describe } from './identity.js';

/** The field's prime, 2^26 - 5. */
export const SHAMIR_PRIME = 67108859;
/** Bytes of a shared secret. */
export const SHAMIR_SECRET_BYTES = 32;
/** Field elements per share (ten 3-byte chunks and one 2-byte chunk). */
export const SHAMIR_CHUNKS = 11;
/** Bytes of one share: 11 u32 little-endian field elements. */
export const SHAMIR_SHARE_BYTES = SHAMIR_CHUNKS * 4;

const P = SHAMIR_PRIME;

/** A share and the index (evaluation point) of the party that holds it. */
export interface IndexedShare {
  readonly index: number;
  readonly share: Uint8Array;
}

const INV_P = 1 / P;
/**
 * x mod p for an integer 0 <= x < 2^53: the float quotient is off by at
 * most one, corrected below (q * p < 2^53 and x - q * p are exact). 2.5x
 * faster than `%` (fmod) here.
 */
const red = (x: number): number => {
  const r = x - Math.floor(x * INV_P) * P;
  return r < 0 ? r + P : r >= P ? r - P : r;
};
const mul = (a: number, b: number): number => red(a * b); // a, b < 2^26: product < 2^52, exact

/** a^-1 mod p by the extended Euclidean algorithm (a in [1, p)). */
function inv(a: number): number {
  let r0 = P, r1 = a, s0 = 0, s1 = 1;
  while (r1 !== 0) {
    const q = Math.floor(r0 / r1);
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return s0 < 0 ? s0 + P : s0;
}

function checkThreshold(threshold: unknown, fn: string): number {
  if (typeof threshold !== 'number') throw new TypeError(`${fn}: "threshold" expected an integer, got ${describe(threshold)}`);
  if (!Number.isInteger(threshold) || threshold < 2) throw new RangeError(`${fn}: "threshold" expected an integer >= 2, got ${threshold}`);
  return threshold;
}

/** Checks one index: an integer in [1, p). */
function checkIndex(index: unknown, name: string, fn: string): number {
  if (typeof index !== 'number') throw new TypeError(`${fn}: "${name}" expected an integer index, got ${describe(index)}`);
  if (!Number.isInteger(index) || index < 1 || index >= P) {
    throw new RangeError(`${fn}: "${name}" expected an integer in [1, ${P - 1}] (index 0 is the secret), got ${index}`);
  }
  return index;
}

/** `points` as a list of distinct indices in [1, p): a count n means 1..n. */
function checkPoints(points: unknown, fn: string): number[] {
  if (typeof points === 'number') {
    if (!Number.isInteger(points) || points < 1 || points >= P) throw new RangeError(`${fn}: "points" expected a count in [1, ${P - 1}], got ${points}`);
    return Array.from({ length: points }, (_, i) => i + 1);
  }
  if (!Array.isArray(points)) throw new TypeError(`${fn}: "points" expected a count or an array of indices, got ${describe(points)}`);
  const seen = new Set<number>();
  const out = points.map((x, i) => checkIndex(x, `points[${i}]`, fn));
  for (let i = 0; i < out.length; i++) {
    if (seen.has(out[i]!)) throw new RangeError(`${fn}: "points[${i}]" duplicates index ${out[i]}`);
    seen.add(out[i]!);
  }
  return out;
}

/** Uniform field elements from the CSPRNG (26-bit draws, rejecting the 5 values >= p). */
function randomElements(count: number): Float64Array {
  const out = new Float64Array(count);
  const buf = new Uint32Array(Math.min(Math.max(count, 16), 1 << 14));
  let have = 0, pos = buf.length;
  while (have < count) {
    if (pos === buf.length) { randomFillSync(buf); pos = 0; }
    const v = buf[pos++]! & 0x3ffffff;
    if (v < P) out[have++] = v;
  }
  return out;
}

/** The 11 chunks of a 32-byte secret (ten of 3 bytes, one of 2), little-endian. */
function encode(secret: Uint8Array): number[] {
  const c: number[] = [];
  for (let i = 0; i < 30; i += 3) c.push(secret[i]! | (secret[i + 1]! << 8) | (secret[i + 2]! << 16));
  c.push(secret[30]! | (secret[31]! << 8));
  return c;
}

/**
 * Split a 32-byte secret into shares for `points` (a count n: indices 1..n;
 * or a list of distinct indices in [1, p)), any `threshold` of which
 * reconstruct it. Returns one 44-byte share per point, in the order given.
 */
export function shamirSplit(secret: Uint8Array, threshold: number, points: number | readonly number[]): Uint8Array[] {
  const fn = 'shamirSplit';
  checkBytes(secret, 'secret', fn, SHAMIR_SECRET_BYTES);
  const t = checkThreshold(threshold, fn);
  const xs = checkPoints(points, fn);
  if (t > xs.length) throw new RangeError(`${fn}: "threshold" ${t} exceeds the number of shares ${xs.length}`);
  const chunks = encode(secret);
  // coefficient j (1..t-1) of chunk c at coeffs[c * (t - 1) + j - 1]. Horner's rule at four
  // points at once: four independent chains in local variables keep the multiplier busy
  // while each reduction completes (6x faster than one point at a time, which waits on it)
  const C = SHAMIR_CHUNKS;
  const coeffs = randomElements(C * (t - 1));
  const shares = xs.map(() => new Uint8Array(SHAMIR_SHARE_BYTES));
  const views = shares.map((sh) => new DataView(sh.buffer));
  const n = xs.length;
  for (let c = 0; c < C; c++) {
    const base = c * (t - 1);
    const top = coeffs[base + t - 2]!;
    const s0 = chunks[c]!;
    let k = 0;
    for (; k + 4 <= n; k += 4) {
      const x0 = xs[k]!, x1 = xs[k + 1]!, x2 = xs[k + 2]!, x3 = xs[k + 3]!;
      let a0 = top, a1 = top, a2 = top, a3 = top;
      for (let j = t - 3; j >= 0; j--) {
        const cf = coeffs[base + j]!;
        a0 = red(a0 * x0 + cf);
        a1 = red(a1 * x1 + cf);
        a2 = red(a2 * x2 + cf);
        a3 = red(a3 * x3 + cf);
      }
      views[k]!.setUint32(c * 4, red(a0 * x0 + s0), true);
      views[k + 1]!.setUint32(c * 4, red(a1 * x1 + s0), true);
      views[k + 2]!.setUint32(c * 4, red(a2 * x2 + s0), true);
      views[k + 3]!.setUint32(c * 4, red(a3 * x3 + s0), true);
    }
    for (; k < n; k++) {
      const x = xs[k]!;
      let a = top;
      for (let j = t - 3; j >= 0; j--) a = red(a * x + coeffs[base + j]!);
      views[k]!.setUint32(c * 4, red(a * x + s0), true);
    }
  }
  coeffs.fill(0);
  chunks.fill(0);
  return shares;
}

/**
 * Lagrange coefficients at 0 per index set, cached (least recently used
 * first out, `capacity` sets). The server reconstructs every secret whose
 * shares came from the same survivors with one entry.
 */
export class LagrangeCache {
  readonly capacity: number;
  readonly #map = new Map<string, Float64Array>();
  #last: { xs: number[]; key: string; lambda: Float64Array } | undefined;
  hits = 0;
  misses = 0;

  constructor(capacity = 1024) {
    if (typeof capacity !== 'number') throw new TypeError(`LagrangeCache: "capacity" expected an integer, got ${describe(capacity)}`);
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`LagrangeCache: "capacity" expected an integer >= 1, got ${capacity}`);
    this.capacity = capacity;
  }

  /** λ_i = Π_{j≠i} x_j / (x_j - x_i) mod p, for sorted distinct indices `xs` in [1, p). */
  coefficients(xs: readonly number[]): Float64Array {
    // the server reconstructs many secrets from one survivor set in a row: compare with the last set first
    const last = this.#last;
    if (last !== undefined && last.xs.length === xs.length) {
      let same = true;
      for (let i = 0; i < xs.length && same; i++) same = last.xs[i] === xs[i];
      if (same && this.#map.get(last.key) === last.lambda) {
        this.hits++;
        return last.lambda;
      }
    }
    const lambda = this.#lookup(xs);
    this.#last = { xs: [...xs], key: indexKey(xs), lambda };
    return lambda;
  }

  #lookup(xs: readonly number[]): Float64Array {
    const key = indexKey(xs);
    const hit = this.#map.get(key);
    if (hit !== undefined) {
      this.hits++;
      this.#map.delete(key); // refresh its place in the LRU order
      this.#map.set(key, hit);
      return hit;
    }
    this.misses++;
    const t = xs.length;
    const lambda = new Float64Array(t);
    for (let i = 0; i < t; i++) {
      let num = 1, den = 1;
      const xi = xs[i]!;
      for (let j = 0; j < t; j++) {
        if (j === i) continue;
        num = mul(num, xs[j]!);
        const d = xs[j]! - xi; // |d| < p
        den = mul(den, d < 0 ? d + P : d);
      }
      lambda[i] = mul(num, inv(den));
    }
    if (this.#map.size >= this.capacity) this.#map.delete(this.#map.keys().next().value!);
    this.#map.set(key, lambda);
    return lambda;
  }

  get size(): number {
    return this.#map.size;
  }
}

const defaultCache = new LagrangeCache();

/** An exact string key of an index list: two UTF-16 units (high and low 16 bits) per index (10x faster than join). */
function indexKey(xs: readonly number[]): string {
  const u = new Uint16Array(2 * xs.length);
  for (let i = 0; i < xs.length; i++) {
    u[2 * i] = xs[i]! >>> 16;
    u[2 * i + 1] = xs[i]! & 0xffff;
  }
  let key = '';
  for (let i = 0; i < u.length; i += 8192) key += String.fromCharCode.apply(null, u.subarray(i, i + 8192) as unknown as number[]);
  return key;
}

let gather = new Float64Array(0);

/**
 * Reconstruct the 32-byte secret from at least `threshold` shares (the
 * `threshold` smallest indices are used). Throws RangeError on fewer shares,
 * duplicate or out-of-range indices, a share of the wrong length or with an
 * element >= p, and on shares that do not decode to a 32-byte secret.
 */
export function shamirReconstruct(shares: readonly IndexedShare[], threshold: number, cache: LagrangeCache = defaultCache): Uint8Array {
  const fn = 'shamirReconstruct';
  const t = checkThreshold(threshold, fn);
  if (!Array.isArray(shares)) throw new TypeError(`${fn}: "shares" expected an array of { index, share }, got ${describe(shares)}`);
  if (!(cache instanceof LagrangeCache)) throw new TypeError(`${fn}: "cache" expected a LagrangeCache, got ${describe(cache)}`);
  if (shares.length < t) throw new RangeError(`${fn}: "shares" expected at least threshold ${t} shares, got ${shares.length}`);
  for (let i = 0; i < shares.length; i++) {
    const s = shares[i] as IndexedShare | null | undefined;
    if (typeof s !== 'object' || s === null) throw new TypeError(`${fn}: "shares[${i}]" expected { index, share }, got ${describe(s)}`);
    checkIndex(s.index, `shares[${i}].index`, fn);
    checkBytes(s.share, `shares[${i}].share`, fn, SHAMIR_SHARE_BYTES);
  }
  // strictly increasing: no duplicates; otherwise sort, and duplicates are neighbours
  let sorted = true;
  for (let i = 1; i < shares.length && sorted; i++) sorted = shares[i - 1]!.index < shares[i]!.index;
  const ordered = sorted ? shares : [...shares].sort((a, b) => a.index - b.index);
  if (!sorted) {
    for (let i = 1; i < ordered.length; i++) {
      if (ordered[i - 1]!.index !== ordered[i]!.index) continue;
      const seen = new Set<number>(); // name the first repeated position, in the caller's order
      for (let j = 0; j < shares.length; j++) {
        if (seen.has(shares[j]!.index)) throw new RangeError(`${fn}: "shares[${j}].index" duplicates index ${shares[j]!.index}`);
        seen.add(shares[j]!.index);
      }
    }
  }
  const use = ordered.length === t ? ordered : ordered.slice(0, t);
  const lambda = cache.coefficients(use.map((s) => s.index));
  // gather the shares chunk-major (Y[c * t + i]), then four independent partial sums per chunk
  const C = SHAMIR_CHUNKS;
  if (gather.length < C * t) gather = new Float64Array(C * t);
  const Y = gather;
  for (let i = 0; i < t; i++) {
    const b = use[i]!.share; // bytes read directly: a typed-array view per share costs more than the arithmetic
    for (let c = 0; c < C; c++) {
      const o = 4 * c;
      const y = (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
      if (y >= P) throw new RangeError(`${fn}: the share of index ${use[i]!.index}: element ${c} is ${y}, not below the prime ${P}`);
      Y[c * t + i] = y;
    }
  }
  const acc = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const row = c * t;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    let i = 0;
    // each s < p and λ·y < 2^52: every sum below 2^53, exact
    for (; i + 4 <= t; i += 4) {
      s0 = red(s0 + lambda[i]! * Y[row + i]!);
      s1 = red(s1 + lambda[i + 1]! * Y[row + i + 1]!);
      s2 = red(s2 + lambda[i + 2]! * Y[row + i + 2]!);
      s3 = red(s3 + lambda[i + 3]! * Y[row + i + 3]!);
    }
    for (; i < t; i++) s0 = red(s0 + lambda[i]! * Y[row + i]!);
    acc[c] = red(s0 + s1 + s2 + s3);
  }
  Y.fill(0, 0, C * t);
  const out = new Uint8Array(SHAMIR_SECRET_BYTES);
  for (let c = 0; c < SHAMIR_CHUNKS; c++) {
    const x = acc[c]!;
    const last = c === SHAMIR_CHUNKS - 1;
    if (x >= (last ? 1 << 16 : 1 << 24)) {
      out.fill(0);
      throw new RangeError(`${fn}: the shares do not encode a ${SHAMIR_SECRET_BYTES}-byte secret (chunk ${c} out of range): inconsistent shares`);
    }
    out[c * 3] = x & 0xff;
    out[c * 3 + 1] = (x >>> 8) & 0xff;
    if (!last) out[c * 3 + 2] = x >>> 16;
  }
  return out;
}
