/**
 * Typed errors of the Paillier layer. Each extends TypeError (wrong type) or
 * RangeError (value out of range) so callers may catch either the precise class
 * or the generic one; `code` is a stable string for logs and wire replies.
 */

/** A ciphertext that is not an element of Z*_{n^2} (>= n^2, 0, or sharing a factor with n). */
export class InvalidCiphertextError extends RangeError {
  readonly code = 'PAILLIER_INVALID_CIPHERTEXT';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidCiphertextError';
  }
}

/** Bytes of the wrong length (ciphertext or key). */
export class EncodingLengthError extends RangeError {
  readonly code = 'PAILLIER_BAD_LENGTH';
  constructor(message: string) {
    super(message);
    this.name = 'EncodingLengthError';
  }
}

/** A plaintext value outside the declared range (message space or packing bitwidth). */
export class ValueOutOfRangeError extends RangeError {
  readonly code = 'PAILLIER_VALUE_OUT_OF_RANGE';
  constructor(message: string) {
    super(message);
    this.name = 'ValueOutOfRangeError';
  }
}

/** More contributions than the packing's headroom allows. */
export class TooManyClientsError extends RangeError {
  readonly code = 'PAILLIER_TOO_MANY_CLIENTS';
  constructor(message: string) {
    super(message);
    this.name = 'TooManyClientsError';
  }
}

/**
 * A public key a party refuses to encrypt under: a noise base that is not the
 * one derived from n, a noise exponent below the floor, a modulus that fails
 * the cheap sanity checks, or a key that does not match the pinned
 * fingerprint. `field` names the offending field ('n', 'hs', 'noiseBits',
 * 'keyFingerprint').
 */
export class UntrustedKeyError extends RangeError {
  readonly code = 'PAILLIER_UNTRUSTED_KEY';
  readonly field: 'n' | 'hs' | 'noiseBits' | 'keyFingerprint';
  constructor(field: UntrustedKeyError['field'], message: string) {
    super(message);
    this.name = 'UntrustedKeyError';
    this.field = field;
  }
}

/**
 * A decrypted slot whose sum exceeds what `contributions` in-range values can
 * add up to: some contribution was encrypted outside the packing's range
 * (a malicious or broken client). `index` is the value's position.
 */
export class SlotOverflowError extends RangeError {
  readonly code = 'PAILLIER_SLOT_OVERFLOW';
  readonly index: number;
  constructor(index: number, message: string) {
    super(message);
    this.name = 'SlotOverflowError';
    this.index = index;
  }
}

/** Two objects that must share a key (or packing) do not. */
export class KeyMismatchError extends TypeError {
  readonly code = 'PAILLIER_KEY_MISMATCH';
  constructor(message: string) {
    super(message);
    this.name = 'KeyMismatchError';
  }
}

/** An attempt to coerce or serialize a secret implicitly. */
export class SecretCoercionError extends TypeError {
  readonly code = 'PAILLIER_SECRET_COERCION';
  constructor(what: string) {
    super(`${what} refuses implicit conversion; use the explicit export function`);
    this.name = 'SecretCoercionError';
  }
}

/** Describe a value for an error message without leaking large secrets. */
export function describe(v: unknown): string {
  if (typeof v === 'bigint') {
    const s = v.toString();
    return s.length > 40 ? `bigint of ${v.toString(2).length} bits` : `${s}n`;
  }
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return `array of length ${v.length}`;
  if (v instanceof Uint8Array) return `Uint8Array of length ${v.length}`;
  if (typeof v === 'object') return `object ${(v as object).constructor?.name ?? ''}`.trim();
  return `${typeof v} ${String(v)}`;
}

export function expectBigint(fn: string, arg: string, v: unknown): bigint {
  if (typeof v !== 'bigint') throw new TypeError(`${fn}: "${arg}" expected bigint, got ${describe(v)}`);
  return v;
}

export function expectInt(fn: string, arg: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new TypeError(`${fn}: "${arg}" expected integer in [${min}, ${max}], got ${describe(v)}`);
  }
  if (v < min || v > max) throw new RangeError(`${fn}: "${arg}" expected integer in [${min}, ${max}], got ${v}`);
  return v;
}
