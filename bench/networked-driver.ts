/**
 * The model owner of bench/networked.bench.ts, in its own process as
 * `fedcrypt train --config` runs in a deployment (and so that the in-process
 * baseline has the bench process, and its heap, to itself). Options come as JSON in
 * FEDCRYPT_BENCH_DRIVER (`engine`: 'spmd', the hand-written job, or 'stack',
 * FedSGD on the execution stack); the result (round times, final weights) is
 * the last line of stdout; trace lines go to stderr.
 */
import { runNetworkedTraining } from '../src/deploy/driver.js';
import { runStackTraining } from '../src/deploy/stack-training.js';
import { tuneHeapForRounds } from '../src/deploy/heap.js';

// as `fedcrypt train --config` does
tuneHeapForRounds();

const o = JSON.parse(process.env['FEDCRYPT_BENCH_DRIVER'] ?? '{}') as {
  engine?: 'spmd' | 'stack'; configPath: string; keyPath: string; protocol: string; steps: number; batchSize: number; seed: number; trace: boolean;
};
const rounds: number[] = [];
const t1 = performance.now();
const log = o.trace ? { log: (line: string) => console.error(line) } : {};
let w: Float32Array;
if (o.engine === 'stack') {
  const r = await runStackTraining({
    configPath: o.configPath, keyPath: o.keyPath, mode: 'fedsgd', protocol: o.protocol as 'aby3', rounds: 1, maxSteps: o.steps, batchSize: o.batchSize, seed: o.seed,
    validationLimit: 10, roundTimeoutMs: 60_000, out: false, onRound: (x) => rounds.push(x.ms), ...log,
  });
  if (r.error) throw r.error;
  w = r.weights;
} else {
  const r = await runNetworkedTraining({
    configPath: o.configPath, keyPath: o.keyPath, protocol: o.protocol, epochs: 1, maxSteps: o.steps, batchSize: o.batchSize, seed: o.seed, validationLimit: 10,
    roundTimeoutMs: 60_000, onRound: (x) => rounds.push(x.ms), ...log,
  });
  if (r.error) throw r.error;
  w = r.weights;
}
// exit once the line is flushed (a pipe is written asynchronously); tfjs keeps handles open
process.stdout.write(`${JSON.stringify({ rounds, jobMs: performance.now() - t1, weights: Buffer.from(w.buffer, w.byteOffset, w.byteLength).toString('base64') })}\n`, () => process.exit(0));
