/**
 * The in-process baseline of bench/scale.bench.ts, in its own process (so
 * that its peak RSS is its own): the same computation over the same n
 * clients' values with localContext({ aggregation: mpcAggregation() }).
 * Options as JSON in FEDCRYPT_BENCH_SCALE ({ n, rounds }); the result is the
 * last line of stdout.
 */
import { withContext } from '../src/core/index.js';
import { localContext } from '../src/runtime/index.js';
import { mpcAggregation } from '../src/aggregation/mpc.js';
import { clientNames, exactSum, memoryOf, mismatches, resetPeak, scaleSum } from './scale-shared.js';
// @ts-expect-error a plain ES module
import { valuesOf } from './scale-data.mjs';

const o = JSON.parse(process.env['FEDCRYPT_BENCH_SCALE'] ?? '{}') as { n: number; rounds: number };
const startup = memoryOf('self');
const ctx = localContext({ aggregation: mpcAggregation({ protocol: 'aby3' }), numClients: o.n });
const want = exactSum(o.n);
const rounds: number[] = [];
let peakWarm = 0;
for (let r = 0; r <= o.rounds; r++) {
  // the values are the clients' (here all in this process), made anew each round as a data owner's player would serve them
  const values = clientNames(o.n).map(({ o: ow, i }) => (valuesOf as (name: string) => Float32Array)(`owner${ow}:${i}`));
  const t0 = performance.now();
  const got = (await withContext(ctx, () => scaleSum(values))) as ArrayLike<number>;
  const ms = performance.now() - t0;
  const bad = mismatches(got, want);
  if (bad.count > 0) throw new Error(`in-process sum of ${o.n} clients: ${bad.count} elements differ from the exact sum (${bad.first.join(', ')})`);
  if (r === 0) {
    peakWarm = memoryOf('self').peakMiB;
    resetPeak('self');
  } else rounds.push(ms);
}
const m = memoryOf('self');
process.stdout.write(`${JSON.stringify({ rounds, startupPeakMiB: startup.peakMiB, peakWithWarmupMiB: peakWarm, peakRoundsMiB: m.peakMiB })}\n`, () => process.exit(0));
