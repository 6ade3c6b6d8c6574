// Statistical smoke tests of what a party receives: bit frequencies over 64-bit words.
import assert from 'node:assert/strict';

/** Fraction of ones per bit position over the 64-bit words of the payloads. */
export function bitFrequencies(payloads: Uint8Array[]): { freq: number[]; count: number } {
  const ones = new Array<number>(64).fill(0);
  let count = 0;
  for (const p of payloads) {
    // little-endian 64-bit words as (low, high) 32-bit halves
    const w = new Uint32Array(p.slice().buffer);
    for (let i = 0; i < w.length; i += 2) {
      for (let h = 0; h < 2; h++) {
        const x = w[i + h]!;
        for (let b = 0; b < 32; b++) ones[32 * h + b]! += (x >>> b) & 1;
      }
      count++;
    }
  }
  return { freq: ones.map((o) => o / count), count };
}

/**
 * Each bit position is 1 with frequency 1/2 within 6 sigma (a false alarm per
 * call has probability about 64 x 2e-9; the suites make a few hundred calls).
 * Returns the frequencies.
 */
export function assertUniformBits(payloads: Uint8Array[], what: string): number[] {
  const { freq, count } = bitFrequencies(payloads);
  assert.ok(count >= 256, `${what}: too few words (${count}) for a frequency test`);
  const tol = 6 * 0.5 / Math.sqrt(count); // 6 sigma
  freq.forEach((f, b) => assert.ok(Math.abs(f - 0.5) < tol, `${what}: bit ${b} is 1 with frequency ${f.toFixed(4)} over ${count} words (tolerance ${tol.toFixed(4)})`));
  return freq;
}

/** Two views of differing inputs have the same bit frequencies (within 2 x 6 sigma). */
export function assertSameFrequencies(a: Uint8Array[], b: Uint8Array[], what: string): void {
  const fa = bitFrequencies(a);
  const fb = bitFrequencies(b);
  const tol = 2 * 6 * 0.5 / Math.sqrt(Math.min(fa.count, fb.count));
  fa.freq.forEach((f, i) => assert.ok(Math.abs(f - fb.freq[i]!) < tol, `${what}: bit ${i}: ${f} vs ${fb.freq[i]}`));
}

export function xorBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  assert.equal(a.length, b.length, 'same length');
  return a.map((v, i) => v ^ b[i]!);
}

/**
 * Two uniformly random payloads that are independent of each other: their
 * bitwise XOR is uniform too (equal, or one a function of the other such as
 * a shift or a double, fails).
 */
export function assertIndependentBits(a: Uint8Array, b: Uint8Array, what: string): void {
  assertUniformBits([a], `${what} (first)`);
  assertUniformBits([b], `${what} (second)`);
  assertUniformBits([xorBytes(a, b)], `${what} (XOR of the two)`);
}
