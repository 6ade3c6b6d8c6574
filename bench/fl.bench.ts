/**
 * Federated-learning figures (issue 4), written to bench/results/fl.json.
 *
 * (1) accuracy: 5 epochs of per-batch FedSGD, network_a, MNIST, 3 owners x batch 128,
 *     secure aggregation vs plaintext aggregation from the same seed.
 * (2) speed: median FedSGD step (secure vs plaintext aggregation, same state), and the
 *     secure aggregation share of a FedAvg round with 1 local epoch.
 * (3) memory: aggregating a 1M-parameter update from 3 owners (in a fresh child
 *     process per aggregator): peak RSS and copies of one update it amounts to.
 *
 * FL_BENCH_QUICK=1: 1 epoch, fewer steps. FL_BENCH_ONLY=speed,memory,accuracy: run only those
 * parts (the others are kept from an existing bench/results/fl.json). FL_BENCH_OUT=<path>
 * writes elsewhere (e.g. bench/results/fl-pond.json). FL_BENCH_PROTOCOL=aby3|pond|paillier (default aby3);
 * when that protocol is not available yet, the secure side is measured with the
 * plaintext aggregator and the JSON says so.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
// light imports only: the memory child must not load tfjs (its heap would blur the RSS figures)
import { plaintextAggregator, type Aggregator } from '../src/learning/aggregator.js';
import { makeAggregator, protocolAvailable, type Precision } from '../src/learning/secure-aggregators.js';

const root = new URL('..', import.meta.url).pathname;
const QUICK = process.env.FL_BENCH_QUICK === '1';
const PROTOCOL = (process.env.FL_BENCH_PROTOCOL ?? 'aby3') as 'aby3' | 'pond' | 'paillier';
const PRECISION = (process.env.FL_BENCH_PRECISION ?? 'low') as Precision;
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

async function secureOrFallback(): Promise<{ agg: Aggregator; available: boolean }> {
  const available = await protocolAvailable(PROTOCOL);
  return { agg: available ? await makeAggregator(PROTOCOL, PRECISION) : plaintextAggregator(), available };
}

async function memoryChild(kind: string, n: number): Promise<void> {
  const k = 3;
  const agg = kind === 'plaintext' ? plaintextAggregator() : await makeAggregator(kind, PRECISION);
  // warm up on a small input first so module/JIT/wasm set-up is not counted as copies
  const small = Array.from({ length: k }, () => new Float32Array(1000).fill(0.01));
  await agg.mean(small, [1, 1, 1]);
  const updates = Array.from({ length: k }, (_, j) => { const u = new Float32Array(n); for (let i = 0; i < n; i++) u[i] = Math.sin(i + j) * 0.01; return u; });
  globalThis.gc?.();
  // Linux: VmHWM is the peak RSS of this process image; writing 5 to clear_refs resets it to the current RSS
  const hwm = (): number => { const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8')); return m ? Number(m[1]) * 1024 : process.resourceUsage().maxRSS * 1024; };
  let reset = true;
  try { writeFileSync('/proc/self/clear_refs', '5'); } catch { reset = false; }
  const before = process.memoryUsage();
  const maxBefore = hwm();
  const t0 = performance.now();
  const r = await agg.mean(updates, [1, 1, 1]);
  const ms = performance.now() - t0;
  const maxAfter = hwm();
  const after = process.memoryUsage();
  await agg.close?.();
  const extra = Math.max(0, maxAfter - Math.max(before.rss, maxBefore));
  process.stdout.write(JSON.stringify({
    kind, params: n, owners: k, ms, peakReset: reset, rssBeforeBytes: before.rss, maxRssBeforeBytes: maxBefore, peakRssBytes: maxAfter, extraPeakBytes: extra,
    copiesOfOneUpdate: extra / (4 * n), inputBytes: k * 4 * n, arrayBuffersRetainedBytes: after.arrayBuffers - before.arrayBuffers, meanOk: r.mean.length === n,
  }) + '\n');
}

async function main(): Promise<void> {
  if (process.argv[2] === '--memory-child') return memoryChild(process.argv[3]!, Number(process.argv[4]));
  const { initTf, loadMnist, splitForOwners, ModelOwner, DataOwner, fedSgdRound, train, buildFederatedAveraging, sgd } = await import('../src/learning/index.js');
  const backend = await initTf();
  const { agg: secure, available } = await secureOrFallback();
  const plain = plaintextAggregator();
  const secureLabel = available ? `${PROTOCOL} (${PRECISION})` : `plaintext (STAND-IN: ${PROTOCOL} not available in src/aggregation yet)`;
  console.log(`fl bench: backend ${backend}; secure side = ${secureLabel}${QUICK ? '; QUICK' : ''}`);
  const only = new Set((process.env.FL_BENCH_ONLY ?? 'speed,memory,accuracy').split(',').map((x) => x.trim()));
  const resultsPath = join(root, process.env.FL_BENCH_OUT ?? 'bench/results/fl.json');
  let previous: Record<string, unknown> = {};
  if (only.size < 3) { try { previous = JSON.parse(readFileSync(resultsPath, 'utf8')) as Record<string, unknown>; } catch { previous = {}; } }
  const out: Record<string, unknown> = { ...previous, date: new Date().toISOString(), quick: QUICK, backend, protocol: PROTOCOL, precision: PRECISION, secureAvailable: available, secureLabel };

  // (2a) speed: FedSGD steps, alternating aggregators from the same model state
  if (only.has('speed')) {
    const data = loadMnist();
    const parts = splitForOwners(data.train, 3);
    const owners = parts.map((p, i) => new DataOwner(`data-owner-${i}`, 'network_a', data, p, { batchSize: 128, seed: 1, shuffleSeed: i }));
    const mo = new ModelOwner('model-owner', 'network_a', data, { seed: 1, totalSteps: 1000 });
    const steps = QUICK ? 10 : 40;
    const sec: number[] = [], pl: number[] = [], secAgg: number[] = [], plAgg: number[] = [];
    for (let w = 0; w < 3; w++) { await fedSgdRound(mo, owners, secure); await fedSgdRound(mo, owners, plain); }
    for (let s = 0; s < steps; s++) {
      const snap = mo.snapshot();
      let t = performance.now();
      const a = await fedSgdRound(mo, owners, secure);
      sec.push(performance.now() - t); secAgg.push(a.aggregationMs);
      mo.restore(snap);
      t = performance.now();
      const b = await fedSgdRound(mo, owners, plain);
      pl.push(performance.now() - t); plAgg.push(b.aggregationMs);
    }
    const r = { steps, medianSecureStepMs: median(sec), medianPlaintextStepMs: median(pl), ratio: median(sec) / median(pl), target: 1.25, medianSecureAggregationMs: median(secAgg), medianPlaintextAggregationMs: median(plAgg) };
    out.fedsgdStep = r;
    console.log(`FedSGD step (network_a, 3 x 128): secure ${r.medianSecureStepMs.toFixed(1)} ms vs plaintext ${r.medianPlaintextStepMs.toFixed(1)} ms -> ratio ${r.ratio.toFixed(3)} (target <= 1.25); aggregation ${r.medianSecureAggregationMs.toFixed(2)} vs ${r.medianPlaintextAggregationMs.toFixed(2)} ms`);
    [...owners, mo].forEach((x) => x.dispose());
  }

  // (2b) speed: FedAvg round with 1 local epoch
  if (only.has('speed')) {
    const data = loadMnist();
    const parts = splitForOwners(data.train, 3);
    const owners = parts.map((p, i) => new DataOwner(`data-owner-${i}`, 'network_a', data, p, { batchSize: 128, seed: 1, shuffleSeed: i }));
    const proc = buildFederatedAveraging({ modelFn: 'network_a', aggregator: secure, clientOptimizer: () => sgd({ lr: 0.05 }), seed: 1, maxLocalSteps: QUICK ? 40 : undefined });
    const { metrics } = await proc.next(proc.initialize(), owners);
    const total = metrics.localMs + metrics.aggregationMs + metrics.serverMs;
    const r = { localSteps: QUICK ? 40 : Math.floor(20000 / 128), localMs: metrics.localMs, aggregationMs: metrics.aggregationMs, serverMs: metrics.serverMs, aggregationShare: metrics.aggregationMs / total, target: 0.05 };
    out.fedavgRound = r;
    console.log(`FedAvg round (1 local epoch${QUICK ? ', capped at 40 steps' : ''}): local ${(r.localMs / 1000).toFixed(2)} s, aggregation ${r.aggregationMs.toFixed(1)} ms -> share ${(r.aggregationShare * 100).toFixed(2)}% (target <= 5%)`);
    owners.forEach((x) => x.dispose());
  }

  // (3) memory, in fresh processes
  if (only.has('memory')) {
    // Two sizes: the excess peak RSS has a constant part (V8 frees node:crypto's PRG output buffers only
    // when external memory has grown by its GC threshold, tens of MiB whatever the model size) and a part
    // proportional to the update. The marginal copies (slope between the sizes) is the second.
    const sizes = [1_000_000, 4_000_000];
    const kinds = available ? ['plaintext', PROTOCOL] : ['plaintext'];
    const res: unknown[] = [];
    for (const kind of kinds) {
      const byN: { n: number; extra: number }[] = [];
      for (const n of sizes) {
        const c = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(root, 'bench/fl.bench.ts'), '--memory-child', kind, String(n)], { cwd: root, encoding: 'utf8', env: process.env });
        if (c.status !== 0) { res.push({ kind, params: n, error: c.stderr.slice(-500) }); continue; }
        const line = c.stdout.trim().split('\n').pop()!;
        const j = JSON.parse(line) as { kind: string; peakRssBytes: number; rssBeforeBytes: number; extraPeakBytes: number; copiesOfOneUpdate: number; ms: number };
        res.push(j);
        byN.push({ n, extra: j.extraPeakBytes });
        console.log(`memory, ${(n / 1e6).toFixed(0)}M-parameter update x 3 owners, ${kind}: RSS before ${(j.rssBeforeBytes / 2 ** 20).toFixed(0)} MiB, peak ${(j.peakRssBytes / 2 ** 20).toFixed(0)} MiB: +${(j.extraPeakBytes / 2 ** 20).toFixed(1)} MiB during aggregation = ${j.copiesOfOneUpdate.toFixed(1)} copies of one ${(4 * n / 1e6).toFixed(0)} MB update; ${j.ms.toFixed(0)} ms`);
      }
      if (byN.length === 2) {
        const marginal = (byN[1]!.extra - byN[0]!.extra) / (4 * (byN[1]!.n - byN[0]!.n));
        const constant = byN[0]!.extra - marginal * 4 * byN[0]!.n;
        res.push({ kind, marginalCopiesOfUpdate: marginal, constantExtraBytes: constant });
        console.log(`memory, ${kind}: marginal ${marginal.toFixed(2)} copies of the update per parameter added, constant part ${(constant / 2 ** 20).toFixed(1)} MiB`);
      }
    }
    out.memory = res;
  }

  // (1) accuracy, 5 epochs from the same seed
  if (only.has('accuracy')) {
    const epochs = QUICK ? 1 : 5;
    const maxSteps = QUICK ? 60 : undefined;
    const runs: Record<string, unknown> = {};
    for (const [label, agg] of [['secure', secure], ['plaintext', plain]] as const) {
      const t = performance.now();
      const r = await train({ model: 'network_a', dataset: 'mnist', owners: 3, batchSize: 128, epochs, maxSteps, seed: 1, aggregator: agg, out: false, insecureAllowPlaintext: label === 'plaintext' });
      runs[label] = { aggregator: agg.description ?? agg.name, finalAccuracy: r.metrics.final.accuracy, perEpoch: r.metrics.epochs.map((e) => e.accuracy), localMs: r.metrics.totals.localMs, aggregationMs: r.metrics.totals.aggregationMs, wallMs: performance.now() - t };
      console.log(`accuracy, ${label}: ${(r.metrics.final.accuracy * 100).toFixed(2)}% after ${epochs} epoch(s) [${r.metrics.epochs.map((e) => (e.accuracy * 100).toFixed(2)).join(', ')}]`);
    }
    const s = (runs.secure as { finalAccuracy: number }).finalAccuracy, p = (runs.plaintext as { finalAccuracy: number }).finalAccuracy;
    out.accuracy = { epochs, seed: 1, ...runs, differencePoints: (s - p) * 100, target: { accuracy: 0.975, maxDifferencePoints: 0.2 } };
    console.log(`accuracy difference secure - plaintext: ${((s - p) * 100).toFixed(3)} points (target |d| <= 0.2); target accuracy >= 97.5%: ${s >= 0.975 ? 'met' : 'NOT met'}`);
  }

  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(resultsPath, JSON.stringify(out, null, 2) + '\n');
  console.log(`wrote ${resultsPath}`);
}

await main();
