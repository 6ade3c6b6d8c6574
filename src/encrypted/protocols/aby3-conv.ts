/**
 * ABY3's names for the shared convolution geometry (im2col.ts): errors
 * prefixed 'ABY3.<fn>', as the computation IR and the tests expect. The conv
 * and pool code itself is protocol-independent: conv.ts, pool.ts, im2col.ts.
 */
import * as shared from './im2col.js';

export { col2im, im2col, local, unwindows, windows, type ConvOptions, type Geometry, type Padding } from './im2col.js';

/** The window geometry of ABY3 method `fn` (im2col.ts geometry; errors 'ABY3.<fn>: ...'). */
export function geometry(fn: string, xShape: readonly number[], KH: number, KW: number, strides: unknown, padding: unknown, arg = 'x'): shared.Geometry {
  return shared.geometry(`ABY3.${fn}`, xShape, KH, KW, strides, padding, arg);
}

/** A stride (or window size) option of ABY3 method `fn` as a pair. */
export function strides2(fn: string, s: unknown, arg = 'strides'): [number, number] {
  return shared.strides2(`ABY3.${fn}`, s, arg);
}
