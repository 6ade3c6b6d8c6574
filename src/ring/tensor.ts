/** RingTensor: a dense row-major tensor over Z_2^64 or Z_2^128. */
import { RingDisposedError, RingShapeError } from './errors.js';
import { currentScope, MIN_RESIDENT_BYTES, residentHeap, track } from './heap.js';
import { checkShape, describe, fmtShape, shapeSize } from './shape.js';

export type RingBits = 64 | 128;

const MASK64 = (1n << 64n) - 1n;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function checkBits(fn: string, bits: unknown): RingBits {
  if (bits !== 64 && bits !== 128) {
    if (typeof bits !== 'number') throw new TypeError(`${fn}: argument 'bits' must be 64 or 128, got ${describe(bits)}`);
    throw new RangeError(`${fn}: argument 'bits' must be 64 or 128, got ${String(bits)}`);
  }
  return bits;
}

/** Limbs (64-bit words) per element. */
export const limbsOf = (bits: RingBits): 1 | 2 => (bits === 64 ? 1 : 2);

export class RingTensor {
  readonly bits: RingBits;
  readonly shape: readonly number[];
  /** 64-bit: one limb per element. 128-bit: two limbs per element, little-endian [lo0, hi0, lo1, hi1, ...]. */
  readonly data: BigUint64Array;
  /** Number of elements (product of shape). */
  readonly size: number;

  /**
   * Adopts `data` without copying (zeros when omitted). `data.length` must be
   * size * (bits / 64).
   */
  constructor(bits: RingBits, shape: readonly number[], data?: BigUint64Array) {
    this.bits = checkBits('RingTensor', bits);
    this.shape = checkShape('RingTensor', 'shape', shape);
    this.size = shapeSize(this.shape);
    const limbs = this.size * limbsOf(this.bits);
    if (data === undefined) {
      this.data = allocate(this, limbs);
    } else {
      if (!(data instanceof BigUint64Array)) {
        throw new TypeError(`RingTensor: argument 'data' must be a BigUint64Array, got ${describe(data)}`);
      }
      if (data.length !== limbs) {
        throw new RingShapeError(
          `RingTensor: argument 'data' has ${data.length} limbs, expected ${limbs} for shape ${fmtShape(this.shape)} in Z_2^${this.bits}`,
        );
      }
      this.data = data;
    }
  }

  /** From arbitrary bigints, reduced mod 2^bits (negatives map to two's complement). */
  static fromBigInts(bits: RingBits, shape: readonly number[], values: readonly bigint[]): RingTensor {
    checkBits('fromBigInts', bits);
    const sh = checkShape('fromBigInts', 'shape', shape);
    if (!Array.isArray(values)) {
      throw new TypeError(`fromBigInts: argument 'values' must be an array of bigint, got ${describe(values)}`);
    }
    const n = shapeSize(sh);
    if (values.length !== n) {
      throw new RingShapeError(`fromBigInts: argument 'values' has ${values.length} elements, expected ${n} for shape ${fmtShape(sh)}`);
    }
    const t = new RingTensor(bits, sh);
    const d = t.data;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v !== 'bigint') {
        throw new TypeError(`fromBigInts: argument 'values' must contain only bigint, got ${describe(v)} at index ${i}`);
      }
      if (bits === 64) d[i] = v; // ToBigUint64 reduces mod 2^64
      else {
        d[2 * i] = v;
        d[2 * i + 1] = v >> 64n;
      }
    }
    return t;
  }

  /** Unsigned representatives in [0, 2^bits). */
  toBigInts(): bigint[] {
    const out = new Array<bigint>(this.size);
    for (let i = 0; i < this.size; i++) out[i] = this.get(i);
    return out;
  }

  /** Two's complement representatives in [-2^(bits-1), 2^(bits-1)). */
  toSignedBigInts(): bigint[] {
    const out = new Array<bigint>(this.size);
    for (let i = 0; i < this.size; i++) out[i] = BigInt.asIntN(this.bits, this.get(i));
    return out;
  }

  /** Element at flat (row-major) index i, unsigned. */
  get(i: number): bigint {
    if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= this.size) {
      if (typeof i !== 'number') throw new TypeError(`get: argument 'i' must be an integer, got ${describe(i)}`);
      throw new RangeError(`get: argument 'i' expected integer in [0, ${this.size}), got ${i}`);
    }
    this.checkLive('get');
    if (this.bits === 64) return this.data[i]!;
    return (this.data[2 * i + 1]! << 64n) | this.data[2 * i]!;
  }

  clone(): RingTensor {
    this.checkLive('clone');
    const t = emptyTensor(this.bits, this.shape);
    t.data.set(this.data);
    return t;
  }

  /** Little-endian limbs; a view over `data` (no copy) on little-endian hosts. */
  toBytes(): Uint8Array {
    this.checkLive('toBytes');
    if (LITTLE_ENDIAN) return new Uint8Array(this.data.buffer, this.data.byteOffset, this.data.byteLength);
    const out = new Uint8Array(this.data.byteLength);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < this.data.length; i++) dv.setBigUint64(8 * i, this.data[i]!, true);
    return out;
  }

  /** Inverse of toBytes; copies. `bytes.length` must be exactly size * bits / 8. */
  static fromBytes(bits: RingBits, shape: readonly number[], bytes: Uint8Array): RingTensor {
    return fromByteSource('fromBytes', bits, shape, bytes, true);
  }

  /**
   * Uniformly random tensor from a PRG stream: uses the first size * bits / 8
   * bytes of `bytes` (which must hold at least that many); copies.
   */
  static fromRandomBytes(bits: RingBits, shape: readonly number[], bytes: Uint8Array): RingTensor {
    return fromByteSource('fromRandomBytes', bits, shape, bytes, false);
  }

  /** Zero tensor. */
  static zeros(bits: RingBits, shape: readonly number[]): RingTensor {
    return new RingTensor(bits, shape);
  }

  toString(): string {
    return `RingTensor(Z_2^${this.bits}, shape ${fmtShape(this.shape)})`;
  }

  /** True once the ring scope that created this tensor has ended without returning it (see ringScope). */
  get disposed(): boolean {
    return this.data.length !== this.size * limbsOf(this.bits);
  }

  private checkLive(fn: string): void {
    if (this.disposed) throw new RingDisposedError(`${fn}: this tensor was freed when the ring scope that created it ended (return it from the scope to keep it)`);
  }
}

const EMPTY = new BigUint64Array(0);
/** Set by emptyTensor: the next allocation may skip zeroing (its caller writes every limb). */
let uninitialised = false;

/**
 * Limbs for a new tensor: a block of the resident heap inside a ring scope
 * (large enough tensors, heap available), else a fresh zeroed JS array.
 */
function allocate(t: RingTensor, limbs: number): BigUint64Array {
  const zero = !uninitialised;
  uninitialised = false;
  const scope = currentScope();
  const heap = scope === undefined ? null : residentHeap();
  if (heap === null || limbs * 8 < MIN_RESIDENT_BYTES) return new BigUint64Array(limbs);
  let block: [number, number];
  try {
    block = heap.alloc(limbs * 8);
  } catch {
    return new BigUint64Array(limbs); // the heap cannot grow (wasm32's 4 GiB): JS memory, as outside scopes
  }
  const [ptr, cls] = block;
  if (zero) heap.zero(ptr, limbs * 8);
  const w = t as { data: BigUint64Array };
  track(scope!, t, {
    ptr,
    cls,
    dispose() {
      w.data = EMPTY;
      heap.release(ptr, cls);
    },
    evict() {
      w.data = w.data.slice();
      heap.release(ptr, cls);
    },
  });
  return heap.view(ptr, limbs);
}

/**
 * A tensor whose limbs the caller overwrites entirely before anyone reads
 * them (ring ops' outputs): inside a ring scope its reused heap block is not
 * zeroed first. Outside scopes it is a zeroed tensor like any other.
 */
export function emptyTensor(bits: RingBits, shape: readonly number[]): RingTensor {
  uninitialised = true;
  try {
    return new RingTensor(bits, shape);
  } finally {
    uninitialised = false;
  }
}

function fromByteSource(fn: string, bits: RingBits, shape: readonly number[], bytes: Uint8Array, exact: boolean): RingTensor {
  checkBits(fn, bits);
  const sh = checkShape(fn, 'shape', shape);
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`${fn}: argument 'bytes' must be a Uint8Array, got ${describe(bytes)}`);
  }
  const need = shapeSize(sh) * (bits / 8);
  if (exact ? bytes.length !== need : bytes.length < need) {
    throw new RingShapeError(
      `${fn}: argument 'bytes' has ${bytes.length} bytes, expected ${exact ? '' : 'at least '}${need} for shape ${fmtShape(sh)} in Z_2^${bits}`,
    );
  }
  const t = emptyTensor(bits, sh);
  const data = t.data;
  if (LITTLE_ENDIAN) {
    new Uint8Array(data.buffer, data.byteOffset, need).set(bytes.subarray(0, need));
  } else {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, need);
    for (let i = 0; i < data.length; i++) data[i] = dv.getBigUint64(8 * i, true);
  }
  return t;
}

export { MASK64 };
