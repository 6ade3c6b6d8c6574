/**
 * FEDCRYPT_TRACE=1: phase marks of each round (or remote invocation) in this
 * process, one line per round on stderr (or the caller's log):
 *
 *   trace <party> <label> <phase>@<time> ... cpu=<ms> gc=<ms>/<count>/<full> faults=<n>
 *
 * Times are wall-clock (ms since the epoch, sub-ms), so that the lines of
 * every process of a machine merge into one timeline; cpu is this process's
 * CPU time (all threads) since its previous line, gc the main-thread GC
 * pauses, faults the minor page faults. Used by the remote executor
 * (driver and players).
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import type { Transport } from '../../transport/channel.js';

export const TRACE = process.env['FEDCRYPT_TRACE'] === '1';

const marks: [string, number][] = [];
let lastCpu: NodeJS.CpuUsage | undefined;
let lastFaults = 0;
/** Main-thread GC pauses since the previous line: [ms, count, of which full (mark-compact)]. */
const gc = [0, 0, 0];
if (TRACE) {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc[0]! += e.duration;
      gc[1]!++;
      if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc[2]!++;
    }
  }).observe({ entryTypes: ['gc'] });
}

/** Mark `phase` now (FEDCRYPT_TRACE=1 only). */
export function mark(phase: string): void {
  if (TRACE) marks.push([phase, performance.timeOrigin + performance.now()]);
}

/** Write the marks since the last line as one line for `me` and `label` (e.g. r12), and start anew. */
export function flushMarks(me: string, label: string, out: (line: string) => void = (l) => console.error(l)): void {
  if (!TRACE) return;
  const cpu = process.cpuUsage(lastCpu);
  lastCpu = process.cpuUsage();
  const faults = process.resourceUsage().minorPageFault;
  const newFaults = faults - lastFaults;
  lastFaults = faults;
  out(`trace ${me} ${label} ${marks.map(([p, t]) => `${p}@${t.toFixed(1)}`).join(' ')} cpu=${((cpu.user + cpu.system) / 1000).toFixed(1)} gc=${gc[0]!.toFixed(1)}/${gc[1]}/${gc[2]} faults=${newFaults}`);
  marks.length = 0;
  gc.fill(0);
}

/**
 * FEDCRYPT_TRACE=1: `t`, with a mark when each send and receive resolves
 * (`sent>to:key`, `got<from:key`; the key without its first `drop` parts).
 */
export function tracedTransport<T extends Transport>(t: T, drop = 2): T {
  if (!TRACE) return t;
  const short = (key: string) => key.split('/').slice(drop).join('/');
  return new Proxy(t, {
    get(target, prop, receiver) {
      if (prop === 'send') return (from: string, to: string, key: string, p: Uint8Array) => target.send(from, to, key, p).then(() => mark(`sent>${to}:${short(key)}`));
      if (prop === 'receive') return (to: string, from: string, key: string, o?: { timeoutMs?: number }) => target.receive(to, from, key, o).then((b) => (mark(`got<${from}:${short(key)}`), b));
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
