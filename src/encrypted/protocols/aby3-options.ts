/**
 * ABY3's options (aby3-core.ts, aby3.ts): the protocol options, how
 * fixed-point products are truncated and the comparisons' bit length.
 */
import type { ProtocolOptions } from './base.js';
import type { Truncation } from './aby3-trunc.js';

/** ABY3's options: the protocol options and how fixed-point products are truncated. */
export interface ABY3Options extends ProtocolOptions {
  /**
   * 'probabilistic' (default): SecureML's local shift, within one unit but
   * wrong by 2^(l-f) with probability about |X| 2^(1-l) per element;
   * 'deterministic': exact, X/2^f rounded to nearest (ties up), for every
   * value in the ring, by a carry circuit (aby3-trunc.ts; 4 + log2 l rounds
   * instead of one). Every party of an instance must use the same.
   */
  truncation?: Truncation;
  /** The comparisons' bit length k (aby3-binary.ts checkComparisonBits): exact for |x| < 2^(k-1) ring units; default l. */
  comparisonBits?: number;
}
