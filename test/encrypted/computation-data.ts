/** Test data for the computation tests (not secret): a small deterministic generator. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** n values uniform in [-1, 1). */
export const randn = (r: () => number, n: number): Float64Array => Float64Array.from({ length: n }, () => 2 * r() - 1);
