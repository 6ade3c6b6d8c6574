// Overhead of the Federated Core's local runtime: federatedMean (SERVER) and
// federatedSecureSum (insecure reference) over C clients x P elements, each
// compared with a plain JS loop computing the same result in the same run
// (ratio = core / loop); plus tracing and JSON round-trip times of the RFC's
// long temperature form. Medians of BENCH_REPS (default 5) runs.
// Writes bench/results/core.json.
//   node --import tsx bench/core.bench.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { CLIENTS, deserializeComputation, federated, federatedComputation, federatedMean, federatedSecureSum, serializeComputation, tensor } from '../src/core/index.js';
import { insecureReferenceAggregation, localContext, temperatureComputations } from '../src/runtime/index.js';

const REPS = Number(process.env['BENCH_REPS'] ?? 5);
const C = Number(process.env['BENCH_CLIENTS'] ?? 10);
const P = Number(process.env['BENCH_PARAMS'] ?? 100_000);

async function median(f: () => unknown, runs = REPS, warm = 1): Promise<number> {
  for (let i = 0; i < warm; i++) await f();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = process.hrtime.bigint();
    await f();
    t.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)]!;
}

// Public benchmark data (not secrets).
const floats = Array.from({ length: C }, (_, k) => Float32Array.from({ length: P }, (_, i) => ((i * 7 + k * 13) % 1000) / 100));
const ints = Array.from({ length: C }, (_, k) => Int32Array.from({ length: P }, (_, i) => (i * 31 + k * 17) % 1_000_000));

const ctx = localContext({ aggregation: insecureReferenceAggregation({ warn: () => undefined }) });
const meanComp = federatedComputation(federated(tensor('float32', [P]), CLIENTS), (x) => federatedMean(x));
const sumComp = federatedComputation(federated(tensor('int32', [P]), CLIENTS), (x) => federatedSecureSum(x, { bitwidth: 20 }));

function loopMean(): Float32Array {
  const acc = new Float64Array(P);
  for (const a of floats) for (let i = 0; i < P; i++) acc[i]! += a[i]!;
  const out = new Float32Array(P);
  for (let i = 0; i < P; i++) out[i] = acc[i]! / C;
  return out;
}
function loopSum(): Int32Array {
  const acc = new Float64Array(P);
  for (const a of ints) for (let i = 0; i < P; i++) acc[i]! += a[i]!;
  return Int32Array.from(acc);
}

// Same results first (a benchmark of a wrong computation is worthless).
const m = (await ctx.invoke(meanComp, [floats])) as number[];
const lm = loopMean();
if (m.length !== P || m.some((x, i) => x !== lm[i])) throw new Error('federatedMean differs from the loop');
const s = (await ctx.invoke(sumComp, [ints])) as number[];
const ls = loopSum();
if (s.some((x, i) => x !== ls[i])) throw new Error('federatedSecureSum differs from the loop');

const meanMs = await median(() => ctx.invoke(meanComp, [floats]));
const meanLoopMs = await median(loopMean);
const sumMs = await median(() => ctx.invoke(sumComp, [ints]));
const sumLoopMs = await median(loopSum);
const traceMs = await median(() => temperatureComputations(), REPS * 4);
const long = temperatureComputations().aggregatorsLong;
const text = serializeComputation(long);
const serializeMs = await median(() => serializeComputation(long), REPS * 4);
// The text is our own (count, divide are source-form locals): the one case allowSource: true is for.
const deserializeMs = await median(() => deserializeComputation(text, { allowSource: true }), REPS * 4);
const readings = [68.5, 70.0, 69.5, 71.25, 72.0];
const runLongMs = await median(() => ctx.invoke(long, [readings]), REPS * 4);

const results = {
  cpu: cpus()[0]?.model,
  node: process.version,
  reps: REPS,
  clients: C,
  params: P,
  federatedMean: { medianMs: meanMs, loopMedianMs: meanLoopMs, ratio: meanMs / meanLoopMs },
  federatedSecureSumReference: { medianMs: sumMs, loopMedianMs: sumLoopMs, ratio: sumMs / sumLoopMs },
  temperatureLongForm: { traceThreeFormsMs: traceMs, serializeMs, deserializeMs, runMs: runLongMs, jsonBytes: text.length },
};
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/core.json', import.meta.url), JSON.stringify(results, null, 2) + '\n');
console.log(JSON.stringify(results, null, 2));
