/**
 * Fixed-point encoding of floats into Z_2^64 (16 fractional bits, precision
 * 'low', the default) or Z_2^128 (32 fractional bits, precision 'high').
 *
 * x is encoded as round(x * 2^f) mod 2^l, two's complement. The representable
 * range is |x| < 2^(l-1-f): 2^47 for 'low', 2^95 for 'high'. Encoding error is
 * at most 2^-(f+1). Decoding reads the two's complement value and divides by
 * 2^f (rounded to the nearest double). See docs/encrypted.md for the error
 * bounds of each operation.
 *
 * Hosts are assumed little-endian (limbs are read through 32-bit views).
 */
import { RingTensor, type RingBits } from '../ring/index.js';
import { describe, EncodingRangeError, fmtShape, ShapeMismatchError } from './errors.js';

export type Precision = 'low' | 'high';

export interface FixedPointConfig {
  readonly precision: Precision;
  /** Ring bit width l. */
  readonly bits: RingBits;
  /** Fractional bits f. */
  readonly frac: number;
  /** Largest magnitude that encodes: |x| < 2^(l-1-f). */
  readonly bound: number;
  /** log2 of `bound`. */
  readonly boundLog2: number;
}

export const FIXED_LOW: FixedPointConfig = Object.freeze({ precision: 'low', bits: 64, frac: 16, bound: 2 ** 47, boundLog2: 47 });
export const FIXED_HIGH: FixedPointConfig = Object.freeze({ precision: 'high', bits: 128, frac: 32, bound: 2 ** 95, boundLog2: 95 });

export function fixedConfig(precision: unknown = 'low', fn = 'fixedConfig'): FixedPointConfig {
  if (precision === 'low') return FIXED_LOW;
  if (precision === 'high') return FIXED_HIGH;
  if (typeof precision !== 'string') throw new TypeError(`${fn}: option 'precision' must be 'low' or 'high', got ${describe(precision)}`);
  throw new RangeError(`${fn}: option 'precision' must be 'low' or 'high', got ${JSON.stringify(precision)}`);
}

/** A float input: a number, nested number arrays, or a Float32Array/Float64Array (with a shape). */
export type FloatInput = number | readonly FloatInput[] | Float32Array | Float64Array;

export interface FlatFloats {
  values: Float64Array | Float32Array;
  shape: number[];
}

/** Check a shape argument (an array of non-negative safe integers); a copy. */
export function checkShapeArg(fn: string, shape: unknown): number[] {
  if (!Array.isArray(shape)) throw new TypeError(`${fn}: option 'shape' must be an array of non-negative integers, got ${describe(shape)}`);
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new RangeError(`${fn}: option 'shape' must hold non-negative integers, got ${fmtShape(shape)}`);
    }
  }
  return [...shape];
}

export const shapeSize = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** Flatten a float input into a typed array plus shape (typed arrays are not copied). */
export function flattenFloats(fn: string, arg: string, value: unknown, shape?: readonly number[]): FlatFloats {
  if (value instanceof Float64Array || value instanceof Float32Array) {
    const sh = shape === undefined ? [value.length] : checkShapeArg(fn, shape);
    if (shapeSize(sh) !== value.length) {
      throw new ShapeMismatchError(`${fn}: argument '${arg}' has ${value.length} elements, but option 'shape' ${fmtShape(sh)} needs ${shapeSize(sh)}`);
    }
    return { values: value, shape: sh };
  }
  if (typeof value === 'number') {
    const sh = shape === undefined ? [] : checkShapeArg(fn, shape);
    if (shapeSize(sh) !== 1) throw new ShapeMismatchError(`${fn}: argument '${arg}' is a scalar, but option 'shape' is ${fmtShape(sh)}`);
    return { values: Float64Array.of(value), shape: sh };
  }
  if (!Array.isArray(value)) {
    throw new TypeError(`${fn}: argument '${arg}' must be a number, nested number arrays, Float32Array or Float64Array, got ${describe(value)}`);
  }
  // infer the shape of a nested array and check it is rectangular
  const inferred: number[] = [];
  let probe: unknown = value;
  while (Array.isArray(probe)) {
    inferred.push(probe.length);
    probe = probe[0];
  }
  const out = new Float64Array(shapeSize(inferred));
  let k = 0;
  const walk = (v: unknown, depth: number, path: string): void => {
    if (depth === inferred.length) {
      if (typeof v !== 'number') throw new TypeError(`${fn}: argument '${arg}${path}' must be a number, got ${describe(v)}`);
      out[k++] = v;
      return;
    }
    if (!Array.isArray(v) || v.length !== inferred[depth]) {
      throw new ShapeMismatchError(`${fn}: argument '${arg}' is not rectangular: '${arg}${path}' should be an array of length ${inferred[depth]} (shape ${fmtShape(inferred)})`);
    }
    for (let i = 0; i < v.length; i++) walk(v[i], depth + 1, `${path}[${i}]`);
  };
  walk(value, 0, '');
  if (shape !== undefined) {
    const sh = checkShapeArg(fn, shape);
    if (shapeSize(sh) !== out.length) {
      throw new ShapeMismatchError(`${fn}: argument '${arg}' has shape ${fmtShape(inferred)}, incompatible with option 'shape' ${fmtShape(sh)}`);
    }
    return { values: out, shape: sh };
  }
  return { values: out, shape: inferred };
}

function rangeText(cfg: FixedPointConfig): string {
  return `(-2^${cfg.boundLog2}, 2^${cfg.boundLog2}) ≈ ±${cfg.bound.toExponential(3)} of precision '${cfg.precision}' (Z_2^${cfg.bits}, ${cfg.frac} fractional bits)`;
}

/** Check that every value is finite and inside the representable range; throws EncodingRangeError naming the range. */
export function checkEncodable(fn: string, arg: string, values: ArrayLike<number>, cfg: FixedPointConfig): void {
  const b = cfg.bound;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!(v > -b && v < b)) {
      const what = Number.isNaN(v) ? 'NaN' : String(v);
      throw new EncodingRangeError(`${fn}: argument '${arg}' element ${i} is ${what}; fixed-point values must be finite and in ${rangeText(cfg)}`);
    }
  }
}

const TWO32 = 2 ** 32;

/**
 * Math.round (ties toward +infinity), exactly, for finite x, without its cost
 * on the hot paths (V8's Math.round, or a data-dependent branch on the
 * fraction, is 2-3x slower here). floor(x + 0.5) is right unless x + 0.5
 * rounded up across an integer (x = 0.49999999999999994, or odd |x| >= 2^52),
 * which `r - 0.5 > x` detects exactly; that rare branch takes Math.round.
 */
const roundHalfUp = (x: number): number => {
  const r = Math.floor(x + 0.5);
  return r - 0.5 > x ? Math.round(x) : r;
};

/**
 * Encode floats into a ring tensor: round(values[i] * multiplier * 2^f).
 * Checks every value (times `multiplier`) first.
 */
export function encode(values: ArrayLike<number>, shape: readonly number[], cfg: FixedPointConfig, fn = 'encode', multiplier = 1): RingTensor {
  if (multiplier !== 1) {
    if (!Number.isFinite(multiplier)) throw new EncodingRangeError(`${fn}: multiplier ${multiplier} is not finite`);
    const b = cfg.bound / Math.abs(multiplier);
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!(v > -b && v < b)) checkEncodable(fn, 'value', [v * multiplier], cfg);
    }
  } else {
    checkEncodable(fn, 'value', values, cfg);
  }
  const n = values.length;
  const scale = 2 ** cfg.frac * multiplier;
  const t = new RingTensor(cfg.bits, shape);
  const u32 = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length * 2);
  if (cfg.bits === 64) {
    for (let i = 0; i < n; i++) {
      const x = roundHalfUp(values[i]! * scale);
      const hi = Math.floor(x / TWO32);
      u32[2 * i] = x - hi * TWO32;
      u32[2 * i + 1] = hi;
    }
  } else {
    for (let i = 0; i < n; i++) {
      let x = roundHalfUp(values[i]! * scale);
      for (let l = 0; l < 3; l++) {
        const q = Math.floor(x / TWO32);
        u32[4 * i + l] = x - q * TWO32;
        x = q;
      }
      u32[4 * i + 3] = x;
    }
  }
  return t;
}

/**
 * Decode a ring tensor holding values scaled by 2^scaleBits (default: the
 * config's f), into `out` when given (e.g. a Float32Array, to avoid a copy).
 */
export function decode<O extends Float64Array | Float32Array = Float64Array>(t: RingTensor, cfg: FixedPointConfig, scaleBits: number = cfg.frac, out?: O): O {
  const n = t.size;
  if (out !== undefined && out.length !== n) throw new ShapeMismatchError(`decode: argument 'out' has ${out.length} elements, expected ${n}`);
  out ??= new Float64Array(n) as O;
  const u32 = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length * 2);
  const i32 = new Int32Array(t.data.buffer, t.data.byteOffset, t.data.length * 2);
  const inv = 2 ** -scaleBits;
  if (t.bits === 64) {
    for (let i = 0; i < n; i++) out[i] = (i32[2 * i + 1]! * TWO32 + u32[2 * i]!) * inv;
  } else {
    for (let i = 0; i < n; i++) {
      const j = 4 * i;
      // split into the integer-ish top and the low limb to keep precision
      const top = (i32[j + 3]! * TWO32 + u32[j + 2]!) * TWO32 + u32[j + 1]!;
      out[i] = top * (TWO32 * inv) + u32[j]! * inv;
    }
  }
  return out;
}

/** Encode one public scalar as a ring element (bigint, two's complement). */
export function encodeScalar(v: number, cfg: FixedPointConfig, fn = 'encodeScalar', arg = 'value'): bigint {
  if (typeof v !== 'number') throw new TypeError(`${fn}: argument '${arg}' must be a number, got ${describe(v)}`);
  checkEncodable(fn, arg, [v], cfg);
  return BigInt(Math.round(v * 2 ** cfg.frac));
}

/** Check that every `values[i] * multiplier` is finite and encodable; the error names `arg`, the element and the scale. */
export function checkScaledEncodable(fn: string, arg: string, values: ArrayLike<number>, multiplier: number, cfg: FixedPointConfig): void {
  if (typeof multiplier !== 'number' || !Number.isFinite(multiplier)) throw new EncodingRangeError(`${fn}: multiplier ${String(multiplier)} is not finite`);
  const b = cfg.bound / Math.abs(multiplier);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!(v > -b && v < b)) {
      const what = Number.isNaN(v) ? 'NaN' : multiplier === 1 ? String(v) : `${v} (times the scale ${multiplier}: ${v * multiplier})`;
      throw new EncodingRangeError(`${fn}: argument '${arg}' element ${i} is ${what}; fixed-point values must be finite and in ${rangeText(cfg)}`);
    }
  }
}

/**
 * Fused owner-side sharing step, no BigInt and no temporary: writes
 * `out = encode(values * multiplier) - r0 - r1` (mod 2^l) word by word through
 * 32-bit views, with the same rounding as `encode` (so `out + r0 + r1` is
 * exactly `encode(values, shape, cfg, fn, multiplier)`). Checks the range
 * first (EncodingRangeError naming `arg`) unless `rangeChecked` (the caller
 * did it with `checkScaledEncodable`). `out` may alias neither r0 nor r1.
 */
export function encodeSubInto(values: Float32Array | Float64Array, multiplier: number, cfg: FixedPointConfig, r0: RingTensor, r1: RingTensor, out: RingTensor, fn = 'encodeSubInto', arg = 'values', rangeChecked = false): RingTensor {
  const n = values.length;
  for (const [name, t] of [['r0', r0], ['r1', r1], ['out', out]] as const) {
    if (!(t instanceof RingTensor)) throw new TypeError(`${fn}: argument '${name}' must be a RingTensor, got ${describe(t)}`);
    if (t.bits !== cfg.bits || t.size !== n) throw new ShapeMismatchError(`${fn}: argument '${name}' must hold ${n} elements of Z_2^${cfg.bits}, got ${t.size} of Z_2^${t.bits}`);
  }
  if (!rangeChecked) checkScaledEncodable(fn, arg, values, multiplier, cfg);
  const scale = 2 ** cfg.frac * multiplier;
  const o = new Uint32Array(out.data.buffer, out.data.byteOffset, out.data.length * 2);
  const a = new Uint32Array(r0.data.buffer, r0.data.byteOffset, r0.data.length * 2);
  const c = new Uint32Array(r1.data.buffer, r1.data.byteOffset, r1.data.length * 2);
  if (cfg.bits === 64) encodeSub64(values, scale, a, c, o);
  else encodeSub128(values, scale, a, c, o);
  return out;
}

// the loops of encodeSubInto, one small monomorphic function each (faster under V8)
function encodeSub64(values: Float32Array | Float64Array, scale: number, a: Uint32Array, c: Uint32Array, o: Uint32Array): void {
  const n = values.length;
  for (let i = 0, j = 0; i < n; i++, j += 2) {
    const x = roundHalfUp(values[i]! * scale);
    const hi = Math.floor(x / TWO32);
    const lo = x - hi * TWO32 - a[j]! - c[j]!; // in (-2^33, 2^32)
    const borrow = Math.floor(lo / TWO32);
    o[j] = lo - borrow * TWO32;
    o[j + 1] = hi - a[j + 1]! - c[j + 1]! + borrow; // stored mod 2^32
  }
}

function encodeSub128(values: Float32Array | Float64Array, scale: number, a: Uint32Array, c: Uint32Array, o: Uint32Array): void {
  const n = values.length;
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    const x = roundHalfUp(values[i]! * scale);
    const q0 = Math.floor(x / TWO32);
    const d0 = x - q0 * TWO32 - a[j]! - c[j]!;
    const b0 = Math.floor(d0 / TWO32);
    o[j] = d0 - b0 * TWO32;
    const q1 = Math.floor(q0 / TWO32);
    const d1 = q0 - q1 * TWO32 - a[j + 1]! - c[j + 1]! + b0;
    const b1 = Math.floor(d1 / TWO32);
    o[j + 1] = d1 - b1 * TWO32;
    const q2 = Math.floor(q1 / TWO32);
    const d2 = q1 - q2 * TWO32 - a[j + 2]! - c[j + 2]! + b1;
    const b2 = Math.floor(d2 / TWO32);
    o[j + 2] = d2 - b2 * TWO32;
    o[j + 3] = q2 - a[j + 3]! - c[j + 3]! + b2; // stored mod 2^32
  }
}

// decodeSumInto's loop for three 64-bit parts (a reveal)
function decodeSum64x3(a: Uint32Array, b: Uint32Array, c: Uint32Array, inv: number, out: Float32Array | Float64Array): void {
  const n = out.length;
  for (let i = 0, j = 0; i < n; i++, j += 2) {
    const lo = a[j]! + b[j]! + c[j]!;
    const carry = Math.floor(lo / TWO32);
    const hi = (a[j + 1]! + b[j + 1]! + c[j + 1]! + carry) | 0;
    out[i] = (hi * TWO32 + (lo - carry * TWO32)) * inv;
  }
}

let zeros = new Uint32Array(0);
/** A read-only run of at least `n` zero words (shared; grown on demand). */
function zeroWords(n: number): Uint32Array {
  if (zeros.length < n) zeros = new Uint32Array(n);
  return zeros.subarray(0, n);
}

// decodeSumInto's loop for three 128-bit parts (a reveal), unrolled
function decodeSum128x3(a: Uint32Array, b: Uint32Array, c: Uint32Array, inv: number, out: Float32Array | Float64Array): void {
  const n = out.length;
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    const s0 = a[j]! + b[j]! + c[j]!;
    const c0 = Math.floor(s0 / TWO32);
    const s1 = a[j + 1]! + b[j + 1]! + c[j + 1]! + c0;
    const c1 = Math.floor(s1 / TWO32);
    const s2 = a[j + 2]! + b[j + 2]! + c[j + 2]! + c1;
    const c2 = Math.floor(s2 / TWO32);
    const w3 = (a[j + 3]! + b[j + 3]! + c[j + 3]! + c2) | 0;
    const top = (w3 * TWO32 + (s2 - c2 * TWO32)) * TWO32 + (s1 - c1 * TWO32);
    out[i] = top * (TWO32 * inv) + (s0 - c0 * TWO32) * inv;
  }
}

/**
 * Decode the sum (mod 2^l) of ring tensors without materialising it: the
 * signed value of `parts[0] + parts[1] + ...`, divided by 2^scaleBits (and by
 * `divisor`, in the same multiplication: a weighted mean's total weight),
 * written into `out` (e.g. a Float32Array). At most 2^20 parts.
 */
export function decodeSumInto<O extends Float64Array | Float32Array>(parts: readonly RingTensor[], cfg: FixedPointConfig, scaleBits: number, out: O, divisor = 1): O {
  const fn = 'decodeSumInto';
  if (!Array.isArray(parts) || parts.length === 0 || parts.length > 2 ** 20) throw new TypeError(`${fn}: argument 'parts' must be a non-empty array of RingTensors`);
  if (typeof divisor !== 'number' || !(divisor > 0) || !Number.isFinite(divisor)) throw new RangeError(`${fn}: argument 'divisor' must be a finite number > 0, got ${String(divisor)}`);
  const n = out.length;
  parts.forEach((t, k) => {
    if (!(t instanceof RingTensor)) throw new TypeError(`${fn}: argument 'parts[${k}]' must be a RingTensor, got ${describe(t)}`);
    if (t.bits !== cfg.bits || t.size !== n) throw new ShapeMismatchError(`${fn}: argument 'parts[${k}]' has ${t.size} elements of Z_2^${t.bits}, expected ${n} of Z_2^${cfg.bits} (the length of 'out')`);
  });
  const inv = 2 ** -scaleBits / divisor;
  const vs = parts.map((t) => new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length * 2));
  // two parts (a reveal to an outside player): the unrolled three-part loops with a zero third part
  if (vs.length === 2) vs.push(zeroWords(vs[0]!.length));
  const m = vs.length;
  if (cfg.bits === 64) {
    if (m === 3) {
      decodeSum64x3(vs[0]!, vs[1]!, vs[2]!, inv, out);
    } else {
      for (let i = 0, j = 0; i < n; i++, j += 2) {
        let lo = 0;
        let hi = 0;
        for (let k = 0; k < m; k++) {
          lo += vs[k]![j]!;
          hi += vs[k]![j + 1]!;
        }
        const carry = Math.floor(lo / TWO32);
        out[i] = (((hi + carry) | 0) * TWO32 + (lo - carry * TWO32)) * inv;
      }
    }
  } else if (m === 3) {
    decodeSum128x3(vs[0]!, vs[1]!, vs[2]!, inv, out);
  } else {
    const w = [0, 0, 0, 0];
    for (let i = 0, j = 0; i < n; i++, j += 4) {
      let carry = 0;
      for (let l = 0; l < 4; l++) {
        let s = carry;
        for (let k = 0; k < m; k++) s += vs[k]![j + l]!;
        carry = Math.floor(s / TWO32);
        w[l] = s - carry * TWO32;
      }
      const top = ((w[3]! | 0) * TWO32 + w[2]!) * TWO32 + w[1]!;
      out[i] = top * (TWO32 * inv) + w[0]! * inv;
    }
  }
  return out;
}
