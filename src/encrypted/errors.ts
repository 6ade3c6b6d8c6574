/**
 * Errors of the encrypted layer. Each names the function and the argument.
 * Mixing protocols or precisions is a TypeError (the values are of
 * incompatible kinds); shapes, ranges and unknown players are RangeErrors;
 * a reveal outside the sensitivity set is a SensitivityError.
 */
export class ShapeMismatchError extends RangeError {
  override name = 'ShapeMismatchError';
}
export class PrecisionMismatchError extends TypeError {
  override name = 'PrecisionMismatchError';
}
export class ProtocolMismatchError extends TypeError {
  override name = 'ProtocolMismatchError';
}
export class UnknownPlayerError extends RangeError {
  override name = 'UnknownPlayerError';
}
export class SensitivityError extends Error {
  override name = 'SensitivityError';
}
/** Fixed-point encoding out of range (also NaN / Infinity). */
export class EncodingRangeError extends RangeError {
  override name = 'EncodingRangeError';
}
/** A protocol built with a repeated player. */
export class DuplicatePlayerError extends RangeError {
  override name = 'DuplicatePlayerError';
}
/** A value is read where its holder does not execute (SPMD). */
export class NotLocalError extends Error {
  override name = 'NotLocalError';
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

export const fmtShape = (s: readonly number[]): string => `[${s.join(', ')}]`;
