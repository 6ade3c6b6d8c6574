/**
 * V8 heap tuning for a long-running player process (`fedcrypt player`, and
 * the model owner of `fedcrypt train --config`); the CLI calls it, the
 * library never does on its own (it changes a process-wide V8 setting).
 *
 * Why: such a process holds ~55-60 MB of live JS heap that never changes
 * (mostly tfjs's code), and each round leaves megabytes of garbage whose
 * memory is external (node:crypto's and grpc-js's buffers, received
 * payloads), i.e. little old-generation growth. After each full collection
 * V8 sets the next old-generation limit to the live size times a factor it
 * derives from the recent GC and mutator speeds, as low as ~1.1 (57 -> 65
 * MB). When the headroom left is below the young generation's capacity (up
 * to 2 x 16 MiB), V8 treats the limit as reached and starts incremental
 * marking at once: measured on the model owner of bench/networked.bench.ts
 * (`BENCH_MO_FLAGS=--trace-incremental-marking`), runs that fall into this
 * state mark and compact ~60 MB every one or two rounds (34 marking starts in
 * 60 rounds, 6-25 ms pauses each), others do not (5 starts): the factor
 * depends on timing. A fixed growing factor of 2 (`--heap-growing-percent=100`)
 * leaves ~57 MB of headroom: 6-7 marking starts in 60 rounds, mostly during
 * start-up. Cost: the old generation may grow to twice the live heap before
 * a full collection.
 *
 * A `--heap-growing-percent` given on the command line wins (e.g.
 * `node --heap-growing-percent=0 ...` restores V8's dynamic factor).
 */
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 100;
let applied = false;

/** Apply the tuning above once per process; returns whether this call changed the setting. */
export function tuneHeapForRounds(): boolean {
  if (applied) return false;
  applied = true;
  if (process.execArgv.some((a) => /^--heap[-_]growing[-_]percent/.test(a))) return false;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
