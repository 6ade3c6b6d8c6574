// Shared arbitraries and independent oracles for the ring tests.
import fc from 'fast-check';
import { RingTensor, setRingBackend, getRingBackend, wasmAvailable, type RingBits } from '../../src/ring/index.js';

export const hasWasm = wasmAvailable().available;

export const bitsArb = fc.constantFrom<RingBits>(64, 128);
export const mod = (bits: RingBits): bigint => 1n << BigInt(bits);
export const elemArb = (bits: RingBits): fc.Arbitrary<bigint> => fc.bigInt({ min: 0n, max: mod(bits) - 1n });
export const shapeArb = (maxRank = 3, maxDim = 6, minDim = 0): fc.Arbitrary<number[]> =>
  fc.array(fc.integer({ min: minDim, max: maxDim }), { maxLength: maxRank });
export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export const tensorArb = (bits: RingBits, shape: readonly number[]): fc.Arbitrary<RingTensor> =>
  fc.array(elemArb(bits), { minLength: sizeOf(shape), maxLength: sizeOf(shape) }).map((v) => RingTensor.fromBigInts(bits, shape, v));

/** A tensor of random bits and shape. */
export const anyTensorArb = (maxRank = 3, maxDim = 6): fc.Arbitrary<RingTensor> =>
  fc.tuple(bitsArb, shapeArb(maxRank, maxDim)).chain(([bits, shape]) => tensorArb(bits, shape));

/** Two tensors in the same ring with numpy-broadcast-compatible shapes (either side may broadcast). */
export const broadcastPairArb = fc
  .tuple(bitsArb, shapeArb(3, 5, 1), fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 3, maxLength: 3 }), fc.integer({ min: 0, max: 3 }), fc.boolean())
  .chain(([bits, shape, mode, drop, swap]) => {
    // derive the other shape: drop leading dims, set some dims to 1
    const other = shape.slice(Math.min(drop, shape.length)).map((d, i) => (mode[i % 3] === 0 ? 1 : d));
    const [sa, sb] = swap ? [other, shape] : [shape, other];
    return fc.tuple(tensorArb(bits, sa), tensorArb(bits, sb));
  });

/** Same-shape pair (more elements). */
export const samePairArb = fc
  .tuple(bitsArb, shapeArb(3, 9))
  .chain(([bits, shape]) => fc.tuple(tensorArb(bits, shape), tensorArb(bits, shape)));

/** Runs f under each available backend and returns the results keyed by backend. */
export function underBackends<T>(f: () => T): { ts: T; wasm?: T } {
  const prev = getRingBackend();
  try {
    setRingBackend('ts');
    const ts = f();
    if (!hasWasm) return { ts };
    setRingBackend('wasm');
    return { ts, wasm: f() };
  } finally {
    setRingBackend(prev);
  }
}

export function withBackend<T>(name: 'ts' | 'wasm', f: () => T): T {
  const prev = getRingBackend();
  setRingBackend(name);
  try {
    return f();
  } finally {
    setRingBackend(prev);
  }
}

export const backends: ('ts' | 'wasm')[] = hasWasm ? ['ts', 'wasm'] : ['ts'];

// ---- independent index oracles (multi-index arithmetic, no shared code with src/)

export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return idx;
}

export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let i = 0;
  for (let d = 0; d < shape.length; d++) i = i * shape[d]! + idx[d]!;
  return i;
}

/** Value at out-index `idx` of x broadcast (numpy rules) to an output of rank idx.length. */
export function bcastGet(x: RingTensor, xs: bigint[], idx: readonly number[]): bigint {
  const off = idx.length - x.shape.length;
  const src = x.shape.map((d, j) => (d === 1 ? 0 : idx[j + off]!));
  return xs[ravel(src, x.shape)]!;
}

export function bcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    out.push(da === 1 ? db : da);
  }
  return out;
}

export function randomTensor(bits: RingBits, shape: number[], bytes: (n: number) => Uint8Array): RingTensor {
  return RingTensor.fromRandomBytes(bits, shape, bytes(sizeOf(shape) * (bits / 8)));
}
