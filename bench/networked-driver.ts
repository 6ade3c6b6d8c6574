/**
 * The model owner of bench/networked.bench.ts, in its own process as
 * `fedcrypt train --config` runs in a deployment (and so that the in-process
 * baseline has the bench process, and its heap, to itself): FedSGD on the
 * execution stack. Options come as JSON in FEDCRYPT_BENCH_DRIVER; the result
 * (round times, final weights) is the last line of stdout; trace lines go to
 * stderr.
 */
import { runStackTraining } from '../src/deploy/stack-training.js';
import { tuneHeapForRounds } from '../src/deploy/heap.js';

// as `fedcrypt train --config` does
tuneHeapForRounds();

const o = JSON.parse(process.env['FEDCRYPT_BENCH_DRIVER'] ?? '{}') as {
  configPath: string; keyPath: string; protocol: string; steps: number; batchSize: number; seed: number; trace: boolean;
};
const rounds: number[] = [];
const t1 = performance.now();
const log = o.trace ? { log: (line: string) => console.error(line) } : {};
const r = await runStackTraining({
  configPath: o.configPath, keyPath: o.keyPath, mode: 'fedsgd', protocol: o.protocol as 'aby3', rounds: 1, maxSteps: o.steps, batchSize: o.batchSize, seed: o.seed,
  validationLimit: 10, roundTimeoutMs: 60_000, out: false, onRound: (x) => rounds.push(x.ms), ...log,
});
if (r.error) throw r.error;
const w = r.weights;
// exit once the line is flushed (a pipe is written asynchronously); tfjs keeps handles open
process.stdout.write(`${JSON.stringify({ rounds, jobMs: performance.now() - t1, weights: Buffer.from(w.buffer, w.byteOffset, w.byteLength).toString('base64') })}\n`, () => process.exit(0));
