// CPU time next to wall time for the in-process benches: on a shared machine
// the wall time includes whatever else runs, the CPU time does not.
//   process: user + system time of all the process's threads (process.cpuUsage);
//   eventLoop: the main thread's own CPU time (Linux: /proc/self/task/<pid>/sched;
//   null elsewhere), i.e. without the PRF worker and V8's helper threads.
import { readFileSync } from 'node:fs';

function eventLoopMs(): number | null {
  try {
    const m = /se\.sum_exec_runtime\s*:\s*([\d.]+)/.exec(readFileSync(`/proc/self/task/${process.pid}/sched`, 'utf8'));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/** Run f, returning its wall, process CPU and event-loop CPU milliseconds. */
export async function timed(f: () => Promise<unknown>): Promise<{ wall: number; cpu: number; loop: number | null }> {
  const c = process.cpuUsage();
  const l = eventLoopMs();
  const s = performance.now();
  await f();
  const wall = performance.now() - s;
  const d = process.cpuUsage(c);
  const l2 = eventLoopMs();
  return { wall, cpu: (d.user + d.system) / 1000, loop: l === null || l2 === null ? null : l2 - l };
}

/** The median of the non-null values (null if none). */
export function median(v: readonly (number | null)[]): number | null {
  const w = v.filter((x): x is number => x !== null).sort((a, b) => a - b);
  return w.length === 0 ? null : w[Math.floor(w.length / 2)]!;
}

export const fmt = (v: number | null, d = 1): string => (v === null ? 'n/a' : v.toFixed(d));
