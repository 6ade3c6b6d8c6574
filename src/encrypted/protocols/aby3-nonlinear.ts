/**
 * ABY3's first nonlinear ops on arithmetic sharings, from the sign bit
 * (aby3-msb.ts) and bit injection (aby3-inject.ts): [x < 0], [x >= 0], ReLU
 * and select (called by ABY3's public methods through aby3-boolean.ts; costs
 * in docs/encrypted-ml.md).
 */
import * as ring from '../../ring/index.js';
import { RingTensor } from '../../ring/index.js';
import { type Aby3Net, type BitParts, type RingParts, notShares, planeWords } from './aby3-binary.js';
import { bitInject } from './aby3-inject.js';
import { msbShares } from './aby3-msb.js';

export { bitInject, bitInjectBytes } from './aby3-inject.js';

/** The same words under another shape (views: parts are never mutated). */
const view = (p: RingTensor, shape: readonly number[]): RingTensor => new RingTensor(p.bits, shape, p.data);
const flat = (x: RingParts, n: number): RingParts => x.map((p) => (p === undefined ? undefined : view(p, [n])));
const shaped = (x: RingParts, shape: readonly number[]): RingParts => x.map((p) => (p === undefined ? undefined : view(p, shape)));

/** msb(x) (1 for a negative two's-complement encoding), or msb(x - y), as a boolean-shared plane. */
export function signBit(net: Aby3Net, x: RingParts, n: number, key: string, y?: RingParts): Promise<BitParts> {
  return msbShares(net, flat(x, n), n, `${key}/msb`, y === undefined ? undefined : flat(y, n));
}

/** NOT of a one-plane sharing of n bits (the padding bits of the last word stay zero). */
export function notBit(b: BitParts, n: number): BitParts {
  const W = planeWords(n);
  const mask = new Uint32Array(W).fill(0xffffffff);
  if (n % 32 !== 0) mask[W - 1] = (2 ** (n % 32) - 1) >>> 0;
  return notShares(b, mask);
}

/**
 * The nonlinear ops on flat arithmetic parts (n elements), reshaped to `shape`:
 * 'neg' = [x < 0], 'step' = [x >= 0], 'relu' = x [x >= 0] (0/1 results as ring
 * integers); with `y` (same size, 'neg' only), [x - y < 0] (the same messages
 * as 'neg' of the sharing x - y).
 */
export async function nonlinear(net: Aby3Net, op: 'neg' | 'step' | 'relu', x: RingParts, shape: readonly number[], key: string, y?: RingParts): Promise<RingParts> {
  const n = shape.reduce((a, b) => a * b, 1);
  if (y !== undefined && op !== 'neg') throw new Error(`${net.id}: internal error: a second operand for '${op}'`);
  const msb = await signBit(net, x, n, key, y);
  const b = op === 'neg' ? msb : notBit(msb, n);
  return shaped(await bitInject(net, b, op === 'relu' ? flat(x, n) : undefined, n, `${key}/inj`), shape);
}

/** y + b (x - y) for a boolean-shared bit plane b (parts flat, reshaped to `shape`). */
export async function selectParts(net: Aby3Net, b: BitParts, x: RingParts, y: RingParts, shape: readonly number[], key: string): Promise<RingParts> {
  const n = shape.reduce((a, c) => a * c, 1);
  const yf = flat(y, n);
  const d = flat(x, n).map((p, s) => (p === undefined ? undefined : ring.sub(p, yf[s]!)));
  const bd = await bitInject(net, b, d, n, `${key}/inj`);
  return shaped(bd.map((p, s) => (p === undefined ? undefined : ring.add(p, yf[s]!))), shape);
}
