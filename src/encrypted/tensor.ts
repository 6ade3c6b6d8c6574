/**
 * Tensor kinds, after the TFE-on-TF2 design: each tensor has a `placement`
 * (the players holding its parts) and a `sensitivity` (the players allowed to
 * see its value; `null` means unrestricted).
 *
 *   Tensor
 *   ├── PublicTensor                 plain floats, sensitivity null
 *   └── SecretTensor                 refuses coercion to number/string/JSON
 *       ├── PrivateTensor            a plaintext held by one owner (e.g. a reveal's result)
 *       └── ProtocolTensor           bound to one protocol instance and precision
 *           ├── PlaintextTensor      Plaintext protocol: one ring tensor at the evaluator
 *           └── EncryptedTensor
 *               ├── AdditiveTensor   Pond: 2-party additive shares
 *               ├── ReplicatedTensor ABY3: 3-party replicated shares
 *               ├── BinaryAdditiveTensor    Pond: 2-party XOR shares of ring words
 *               └── BinaryReplicatedTensor  ABY3: 3-party replicated XOR shares
 */
import type { RingTensor } from '../ring/index.js';
import { describe, fmtShape, NotLocalError } from './errors.js';
import { flattenFloats, type FloatInput, type Precision } from './fixed.js';
import { Player } from './player.js';

/** How a protocol tensor's ring values are to be read: fixed point (scaled by 2^f) or plain ring integers. */
export type Encoding = 'fixed' | 'int';

export type Sensitivity = readonly Player[] | null;

const INSPECT = Symbol.for('nodejs.util.inspect.custom');
const names = (ps: readonly Player[] | null): string => (ps === null ? 'public' : `{${ps.map((p) => p.name).join(', ')}}`);

export abstract class Tensor {
  abstract readonly kind: string;
  readonly shape: readonly number[];
  readonly size: number;

  protected constructor(shape: readonly number[]) {
    this.shape = Object.freeze([...shape]);
    this.size = this.shape.reduce((a, b) => a * b, 1);
  }

  /** Players holding (parts of) the value; empty for public values (anyone may hold them). */
  abstract get placement(): readonly Player[];
  /** Players allowed to see the value; null = anyone. */
  abstract get sensitivity(): Sensitivity;
}

/** A value anyone may see (public constants, public weights). */
export class PublicTensor extends Tensor {
  readonly kind = 'public';
  readonly values: Float64Array;

  constructor(values: FloatInput, shape?: readonly number[]) {
    const flat = flattenFloats('PublicTensor', 'values', values, shape);
    super(flat.shape);
    this.values = flat.values instanceof Float64Array ? flat.values : Float64Array.from(flat.values);
  }

  get placement(): readonly Player[] { return []; }
  get sensitivity(): Sensitivity { return null; }
}

/** Base of tensors whose value is sensitive: refuses every implicit conversion. */
export abstract class SecretTensor extends Tensor {
  #refuse(how: string): never {
    throw new TypeError(`${this.constructor.name}: refusing to convert a sensitive value ${how}; reveal it to a player and read it there explicitly`);
  }
  override valueOf(): never { return this.#refuse('to a number (valueOf)'); }
  override toString(): never { return this.#refuse('to a string'); }
  toJSON(): never { return this.#refuse('to JSON'); }
  [Symbol.toPrimitive](hint: string): never { return this.#refuse(`to a primitive (hint '${hint}')`); }
  [INSPECT](): string {
    return `${this.constructor.name} { shape: ${fmtShape(this.shape)}, placement: ${names(this.placement)}, sensitivity: ${names(this.sensitivity)}${this.describeExtra()} }`;
  }
  protected describeExtra(): string { return ''; }
}

/** A plaintext value held by exactly one player (its owner). */
export class PrivateTensor extends SecretTensor {
  readonly kind = 'private';
  readonly owner: Player;
  #values: Float64Array | undefined;
  #ring: RingTensor | undefined;

  /** `values`/`ring` are present only in the process where `owner` executes. */
  constructor(owner: Player, shape: readonly number[], values?: Float64Array, ring?: RingTensor) {
    super(shape);
    if (!(owner instanceof Player)) throw new TypeError(`PrivateTensor: argument 'owner' must be a Player, got ${describe(owner)}`);
    this.owner = owner;
    this.#values = values;
    this.#ring = ring;
  }

  get placement(): readonly Player[] { return [this.owner]; }
  get sensitivity(): Sensitivity { return [this.owner]; }
  /** Whether the value is present in this process. */
  get isLocal(): boolean { return this.#values !== undefined || this.#ring !== undefined; }

  /** The plaintext floats (explicit read; only where the owner executes). */
  read(): Float64Array {
    if (this.#values === undefined) {
      throw new NotLocalError(`PrivateTensor.read: the value of '${this.owner.name}' is not present in this process${this.#ring ? ' (it holds ring integers: use readRing)' : ''}`);
    }
    return this.#values;
  }

  /** The plaintext as ring elements (integer results, e.g. a secure sum of integers). */
  readRing(): RingTensor {
    if (this.#ring === undefined) throw new NotLocalError(`PrivateTensor.readRing: no ring value of '${this.owner.name}' is present in this process`);
    return this.#ring;
  }

  protected override describeExtra(): string { return `, owner: ${this.owner.name}`; }
}

/** What a protocol tensor needs to know about its protocol (avoids an import cycle). */
export interface ProtocolRef {
  readonly id: string;
  readonly kind: string;
  readonly precision: Precision;
}

/** A tensor bound to one protocol instance: its local parts are ring tensors. */
export abstract class ProtocolTensor extends SecretTensor {
  readonly protocol: ProtocolRef;
  readonly encoding: Encoding;
  readonly #sensitivity: Sensitivity;
  readonly #placement: readonly Player[];
  readonly #parts: readonly (RingTensor | undefined)[];

  constructor(protocol: ProtocolRef, placement: readonly Player[], parts: readonly (RingTensor | undefined)[], shape: readonly number[], encoding: Encoding, sensitivity: Sensitivity) {
    super(shape);
    this.protocol = protocol;
    this.#placement = Object.freeze([...placement]);
    this.#parts = Object.freeze([...parts]);
    this.encoding = encoding;
    this.#sensitivity = sensitivity === null ? null : Object.freeze([...sensitivity]);
  }

  get precision(): Precision { return this.protocol.precision; }
  get placement(): readonly Player[] { return this.#placement; }
  get sensitivity(): Sensitivity { return this.#sensitivity; }
  /**
   * @internal Local ring parts, in the protocol's part order (undefined where
   * the holder does not execute in this process). For protocol code only.
   */
  get parts(): readonly (RingTensor | undefined)[] { return this.#parts; }

  protected override describeExtra(): string {
    return `, protocol: ${this.protocol.id}, precision: ${this.precision}, encoding: ${this.encoding}`;
  }
}

/** Plaintext protocol value: one ring tensor held by the evaluator. */
export class PlaintextTensor extends ProtocolTensor {
  readonly kind = 'plaintext';
  get value(): RingTensor | undefined { return this.parts[0]; }
}

export abstract class EncryptedTensor extends ProtocolTensor {}

/** Pond: x = x0 + x1 mod 2^l, server i holds xi. */
export class AdditiveTensor extends EncryptedTensor {
  readonly kind = 'additive';
}

/** ABY3: x = x0 + x1 + x2 mod 2^l, server i holds (xi, x(i+1)); parts are [x0, x1 | x1, x2 | x2, x0]. */
export class ReplicatedTensor extends EncryptedTensor {
  readonly kind = 'replicated';
}

/**
 * ABY3's boolean sharing of ring words: x = x0 ^ x1 ^ x2 (bitwise), server i
 * holds (xi, x(i+1)); parts in ReplicatedTensor's order. Made and combined by
 * `ABY3.boolean` (xor, and, not, shifts, reveal); arithmetic ops refuse it.
 */
export class BinaryReplicatedTensor extends EncryptedTensor {
  readonly kind = 'binary-replicated';
}

/**
 * Pond's boolean sharing of ring words: x = x0 ^ x1 (bitwise), server i holds
 * xi. Made and combined by `Pond.boolean` (signBit, xor, not, and, reveal);
 * arithmetic ops refuse it.
 */
export class BinaryAdditiveTensor extends EncryptedTensor {
  readonly kind = 'binary-additive';
}
