/**
 * Errors of computations (src/encrypted/computation). Each is thrown before
 * anything runs (at trace, concretization, or call time, before the first
 * message) and names the computation, the argument or op, and what was
 * expected against what was given.
 */

/** An argument or result does not fit the declared signature (kind, shape, dtype, placement, sensitivity). */
export class SignatureError extends TypeError {
  override name = 'SignatureError';
}

/** An op would place a value where the computation does not allow it (a private computation's value leaving its player; private values of different players combined). */
export class PlacementError extends Error {
  override name = 'PlacementError';
}

/** A computation that needs a protocol was made concrete without one (no context, no `protocol` option). */
export class NoProtocolError extends Error {
  override name = 'NoProtocolError';
}

/** A serialized computation names an op that is not registered, or is malformed. */
export class UnknownOpError extends RangeError {
  override name = 'UnknownOpError';
}

/** A serialized computation is malformed (wrong format, bad reference, bad attribute). */
export class SerializationError extends TypeError {
  override name = 'SerializationError';
}
