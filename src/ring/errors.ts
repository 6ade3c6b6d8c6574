/** Errors raised by the ring layer. Messages name the function and the argument. */

/** A shape (or axis, slice bound, permutation) that does not fit. */
export class RingShapeError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'RingShapeError';
  }
}

/** Two tensors from different rings (Z_2^64 vs Z_2^128) combined. */
export class RingMismatchError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'RingMismatchError';
  }
}

/** The wasm backend was requested but its module is not available. */
export class RingBackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RingBackendError';
  }
}

/** A tensor used after the ring scope that created it ended (see ringScope). */
export class RingDisposedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RingDisposedError';
  }
}
