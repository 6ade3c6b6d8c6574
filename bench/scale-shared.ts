/**
 * What bench/scale.bench.ts and its in-process baseline (bench/scale-local.ts)
 * share: the computation (the clients' values summed with ABY3 at
 * AGGREGATORS, moved to SERVER), its exact result, and /proc readings.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { AGGREGATORS, CLIENTS, SERVER, federated, federatedComputation, federatedSum, federatedTransfer, tensor } from '../src/core/index.js';
// @ts-expect-error a plain ES module (the players load it with --data)
import { SIZE, valueOf } from './scale-data.mjs';

export const M = SIZE as number;
export const OWNERS = 4;

export const scaleSum = federatedComputation(
  [federated(tensor('float32', [M]), CLIENTS)],
  (x) => federatedTransfer(federatedSum(x, { placement: AGGREGATORS }), { placement: SERVER }),
  { name: 'scale_sum' },
);

/** The values of the `n` clients, as `OWNERS` owners hosting n / OWNERS each would serve them (owner-major). */
export function clientNames(n: number): { o: number; i: number }[] {
  const per = n / OWNERS;
  return Array.from({ length: n }, (_, c) => ({ o: Math.floor(c / per), i: c % per }));
}

/** The exact sum (every value is a multiple of 2^-6 below 32 in magnitude: exact in float64 and float32). */
export function exactSum(n: number): Float64Array {
  const out = new Float64Array(M);
  for (const { o, i } of clientNames(n)) for (let k = 0; k < M; k++) out[k]! += (valueOf as (o: number, i: number, k: number) => number)(o, i, k);
  return out;
}

/** Elements where `got` differs from `want` (and the first few). */
export function mismatches(got: ArrayLike<number>, want: Float64Array): { count: number; first: string[] } {
  const first: string[] = [];
  let count = got.length === want.length ? 0 : Math.max(got.length, want.length);
  for (let k = 0; k < Math.min(got.length, want.length); k++) {
    if (got[k] !== want[k]) {
      count++;
      if (first.length < 3) first.push(`[${k}] ${got[k]} != ${want[k]}`);
    }
  }
  return { count, first };
}

/** VmHWM and VmRSS of a process, MiB. */
export function memoryOf(pid: number | 'self'): { peakMiB: number; rssMiB: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN);
  return { peakMiB: kib('VmHWM') / 1024, rssMiB: kib('VmRSS') / 1024 };
}

/** Reset a process's peak RSS to its current RSS (Linux: /proc/<pid>/clear_refs, 5). */
export function resetPeak(pid: number | 'self'): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
