// Learning quality of DP-FedAvg (issue 16): network_a FedAvg on MNIST over 100 data owners (IID, or non-IID with
// DP_SPLIT=noniid), Poisson sampling with rate q, δ = 1e-5: the run without DP, central DP (Gaussian, fixed or adaptive
// clip) at several ε, and distributed DP (discrete Gaussian / Skellam, 16 bits) at the same ε. The noise multiplier of a
// cell is the smallest z whose ε after all rounds is at most the target (noiseMultiplierFor for the Gaussian mechanisms;
// a bisection on the distributed event for dgauss/skellam). Each cell is one train() run (run folder with report.html
// under bench/results/dp-accuracy/); results are written to bench/results/dp-accuracy.json after every cell.
//
//   npm run bench -- dp-accuracy
//   DP_CELLS=nodp,gaussian-8,dgauss-8 DP_ROUNDS=30 nice node --import tsx bench/dp-accuracy.bench.ts
//
// Environment (defaults = the lead's probe: q 0.5, 30 rounds, clip 0.2, client lr 0.1, batch 32, 1 local epoch, server SGD lr 1):
//   DP_CELLS        comma list of cells: nodp, <mechanism>-<ε> with mechanism gaussian|adaptive|dgauss|skellam (default
//                   nodp,gaussian-8,dgauss-8,gaussian-4,adaptive-8,skellam-8,gaussian-2)
//   DP_ROUNDS (30)  DP_Q (0.5)  DP_CLIP (0.2)  DP_CLIENT_LR (0.1)  DP_BATCH (32)  DP_LOCAL_EPOCHS (1)  DP_SERVER_LR (1)
//   DP_MOMENTUM (0) server SGD momentum   DP_BITS (16)   DP_BETA (0) conditional rounding (distributed; e.g. 0.6065 = e^-0.5)
//   DP_ACCOUNTANT (best: exact μ-GDP at q = 1, else RDP; rdp: RDP only) for the Gaussian cells   DP_SPLIT iid|noniid   DP_PROTOCOL (plaintext: the insecure
//   reference as the secure sum, the same DP arithmetic; aby3, pond, paillier, secagg run the real protocol, slower)
//   DP_VALIDATION (10000) test images per round   DP_SEED (bench) --dp-seed of every cell (same sampled clients in each)
//   DP_OUT (bench/results/dp-accuracy.json; the accuracy-vs-ε page next to it, .html)   DP_TAG a label stored with the results
//   DP_MERGE=a.json,b.json  merge the cells of other runs of this bench (e.g. run in parallel); DP_CELLS= (empty) only merges and renders
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { train, type TrainOptions } from '../src/learning/train.js';
import { noiseMultiplierFor } from '../src/dp/dpfedavg-accounting.js';
import { RdpAccountant } from '../src/dp/rdp-accountant.js';
import { poissonSampled, selfComposed } from '../src/dp/events.js';
import { ddpEvent } from '../src/dp/distributed.js';
import { ddpParams } from '../src/dp/ddp-params.js';
import { CryptoRandom } from '../src/dp/random.js';
import { dpSeedKey } from '../src/learning/dp-train.js';
import { renderAccuracyEpsilonPage } from '../src/learning/dp-report.js';
import { uplotAssets } from '../src/learning/report.js';

const env = (k: string, d: string): string => process.env[k] ?? d;
const ROUNDS = Number(env('DP_ROUNDS', '30'));
const Q = Number(env('DP_Q', '0.5'));
const CLIP = Number(env('DP_CLIP', '0.2'));
const CLIENT_LR = Number(env('DP_CLIENT_LR', '0.1'));
const BATCH = Number(env('DP_BATCH', '32'));
const LOCAL_EPOCHS = Number(env('DP_LOCAL_EPOCHS', '1'));
const SERVER_LR = Number(env('DP_SERVER_LR', '1'));
const MOMENTUM = Number(env('DP_MOMENTUM', '0'));
const BITS = Number(env('DP_BITS', '16'));
const BETA = Number(env('DP_BETA', '0'));
const ACCOUNTANT = env('DP_ACCOUNTANT', 'best') as 'best' | 'rdp';
const NON_IID = env('DP_SPLIT', 'iid') === 'noniid';
const PROTOCOL = env('DP_PROTOCOL', 'plaintext');
const VALIDATION = Number(env('DP_VALIDATION', '10000'));
const SEED = env('DP_SEED', 'bench');
const CELLS = env('DP_CELLS', 'nodp,gaussian-8,dgauss-8,dgauss@gauss-8,gaussian-4,adaptive-8,skellam-8,gaussian-2').split(',').map((s) => s.trim()).filter(Boolean);
const OUT = env('DP_OUT', new URL('results/dp-accuracy.json', import.meta.url).pathname);
const N = 100;
const DELTA = 1e-5;
const MODEL_DIM = 118_282; // network_a

/** The smallest z (bisection, 1e-4 relative) whose distributed-DP ε after ROUNDS Poisson-sampled rounds of qN clients is <= eps. */
function ddpNoiseFor(mechanism: 'dgauss' | 'skellam', eps: number): { z: number; epsilon: number } {
  const n = Math.round(Q * N);
  const epsAt = (z: number): number => {
    const p = ddpParams({ mechanism, bits: BITS, expectedClients: n, clip: CLIP, noiseMultiplier: z, beta: BETA, dim: MODEL_DIM, rotation: 'hadamard' });
    const e = ddpEvent(p, n);
    if (e === undefined) return Infinity;
    return new RdpAccountant().compose(selfComposed(poissonSampled(Q, e), ROUNDS)).getEpsilon(DELTA).epsilon;
  };
  let lo = 0.05, hi = 1;
  while (epsAt(hi) > eps) { lo = hi; hi *= 2; }
  while (hi - lo > 1e-4 * hi) {
    const mid = (lo + hi) / 2;
    if (epsAt(mid) <= eps) hi = mid; else lo = mid;
  }
  return { z: hi, epsilon: epsAt(hi) };
}

interface CellResult {
  cell: string; mechanism: string; targetEpsilon?: number; noiseMultiplier?: number; epsilon?: number; order?: number; accountant?: string;
  accuracy: number; loss: number; perRound: number[]; epsilonPerRound?: number[]; clipPerRound?: number[]; wallS: number; report?: string; error?: string;
}

const results: { config: Record<string, unknown>; cells: CellResult[] } = existsSync(OUT) && process.env.DP_APPEND === '1'
  ? JSON.parse(readFileSync(OUT, 'utf8'))
  : { config: {}, cells: [] };
results.config = {
  model: 'network_a', dataset: 'mnist', owners: N, split: NON_IID ? 'non-IID' : 'IID', rounds: ROUNDS, q: Q, clip: CLIP, clientLr: CLIENT_LR, batch: BATCH,
  localEpochs: LOCAL_EPOCHS, serverOptimizer: `sgd lr ${SERVER_LR}${MOMENTUM ? ` momentum ${MOMENTUM}` : ''}`, bits: BITS, beta: BETA, accountant: ACCOUNTANT, protocol: PROTOCOL, delta: DELTA, validation: VALIDATION,
  dpSeed: SEED, tag: process.env.DP_TAG, cpu: cpus()[0]?.model, load: loadavg()[0],
};
// DP_MERGE=a.json,b.json: the cells of other runs of this bench (same configuration) join this one's results
for (const f of (process.env.DP_MERGE ?? '').split(',').filter(Boolean)) {
  const other = JSON.parse(readFileSync(f, 'utf8')) as typeof results;
  for (const c of other.cells) results.cells = results.cells.filter((x) => x.cell !== c.cell).concat(c);
}
const save = () => {
  mkdirSync(new URL('results', import.meta.url), { recursive: true });
  writeFileSync(OUT, JSON.stringify(results, null, 2) + '\n');
  const base = results.cells.find((c) => c.cell === 'nodp');
  const points = results.cells.filter((c) => c.epsilon !== undefined).map((c) => ({ label: `${c.cell} (z ${c.noiseMultiplier!.toFixed(3)})`, mechanism: c.mechanism, epsilon: c.epsilon!, accuracy: c.accuracy }));
  const cfg = results.config;
  const notes = `<p>network_a, MNIST, ${cfg['owners']} data owners (${cfg['split']}), Poisson q ${cfg['q']}, ${cfg['rounds']} rounds, δ ${cfg['delta']}, clip ${cfg['clip']}, client lr ${cfg['clientLr']}, batch ${cfg['batch']}, ${cfg['localEpochs']} local epoch(s), server ${cfg['serverOptimizer']}, distributed DP at ${cfg['bits']} bits; secure sum: ${cfg['protocol']}.${base ? ` Without DP: ${(base.accuracy * 100).toFixed(2)}%.` : ''}</p>`;
  writeFileSync(OUT.replace(/\.json$/, '.html'), renderAccuracyEpsilonPage('DP-FedAvg: accuracy vs ε', points, base?.accuracy, uplotAssets(), notes));
};
if (CELLS.length === 0) save();

const common: TrainOptions = {
  model: 'network_a', dataset: 'mnist', mode: 'fedavg', owners: N, epochs: ROUNDS, batchSize: BATCH, localEpochs: LOCAL_EPOCHS, clientLr: CLIENT_LR,
  optimizer: 'sgd', lr: SERVER_LR, ...(MOMENTUM ? { serverMomentum: MOMENTUM } : {}), nonIid: NON_IID, seed: 1, validationLimit: VALIDATION,
  protocol: PROTOCOL, insecureAllowPlaintext: PROTOCOL === 'plaintext', minContributors: 1,
};
let baseline: CellResult | undefined = results.cells.find((c) => c.cell === 'nodp');

for (const cell of CELLS) {
  const t0 = performance.now();
  const tag = `${process.env.DP_TAG ? `${process.env.DP_TAG}-` : ''}${cell}${NON_IID ? '-noniid' : ''}`;
  const out = new URL(`results/dp-accuracy/${tag}`, import.meta.url).pathname;
  const progress = (m: { round: number; accuracy: number; dp?: { epsilon: number } }) =>
    console.log(`  [${cell}] round ${m.round}/${ROUNDS}: accuracy ${(m.accuracy * 100).toFixed(2)}%${m.dp ? `, ε so far ${m.dp.epsilon.toFixed(3)}` : ''} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  let r: CellResult;
  if (cell === 'nodp') {
    console.log(`== ${cell}: FedAvg without DP, Poisson q ${Q} (the same sampled clients as the DP cells)`);
    const rng = CryptoRandom.fromKey(dpSeedKey(SEED), 'fedcrypt/dp/sampling');
    const t = await train({ ...common, out, sampling: { kind: 'poisson', q: Q, rng }, onEpoch: progress });
    r = { cell, mechanism: 'none', accuracy: t.metrics.final.accuracy, loss: t.metrics.final.loss, perRound: t.metrics.epochs.map((e) => e.accuracy), wallS: (performance.now() - t0) / 1000, report: t.paths?.report, ...(t.error ? { error: t.error.message } : {}) };
    baseline = r;
  } else {
    // <mechanism>-<ε>: the noise for that ε under the mechanism's own accounting; <mechanism>@gauss-<ε>: the noise multiplier
    // of the Gaussian mechanism at that ε (the same noise as gaussian-<ε>; its own ε is then reported)
    const m = /^(gaussian|adaptive|dgauss|skellam)(-|@gauss-)([\d.]+)$/.exec(cell);
    if (!m) throw new RangeError(`DP_CELLS: unknown cell "${cell}" (nodp, <gaussian|adaptive|dgauss|skellam>-<epsilon> or <mechanism>@gauss-<epsilon>)`);
    const mech = m[1] as 'gaussian' | 'adaptive' | 'dgauss' | 'skellam';
    const target = Number(m[3]);
    const z = mech === 'gaussian' || mech === 'adaptive' || m[2] === '@gauss-'
      ? noiseMultiplierFor({ q: Q, rounds: ROUNDS, delta: DELTA, targetEpsilon: target, relativeTolerance: 1e-4, accountant: ACCOUNTANT }).noiseMultiplier
      : ddpNoiseFor(mech, target).z;
    console.log(`== ${cell}: ${mech} at ${m[2] === '@gauss-' ? `the Gaussian mechanism's noise for ε ${target}` : `ε ≤ ${target}`} (δ ${DELTA}), z = ${z.toFixed(4)}, q ${Q}, ${ROUNDS} rounds`);
    const t = await train({
      ...common, out,
      dp: { mechanism: mech, noiseMultiplier: z, samplingRate: Q, targetDelta: DELTA, seed: SEED, ...(mech === 'adaptive' ? {} : { clip: CLIP }), ...(mech === 'dgauss' || mech === 'skellam' ? { bits: BITS, beta: BETA } : { accountant: ACCOUNTANT }) },
      ...(baseline ? { noDpBaseline: { accuracy: baseline.accuracy, loss: baseline.loss, perRound: baseline.perRound } } : {}),
      onEpoch: progress,
    });
    const d = t.metrics.dp!;
    r = {
      cell, mechanism: mech, targetEpsilon: target, noiseMultiplier: z, epsilon: d.epsilon, order: d.order, accountant: d.accountant, accuracy: t.metrics.final.accuracy, loss: t.metrics.final.loss,
      perRound: t.metrics.epochs.map((e) => e.accuracy), epsilonPerRound: d.perRound.map((p) => p.epsilon), clipPerRound: d.perRound.map((p) => p.clip),
      wallS: (performance.now() - t0) / 1000, report: t.paths?.report, ...(t.error ? { error: t.error.message } : {}),
    };
  }
  results.cells = results.cells.filter((c) => c.cell !== cell).concat(r);
  save();
  console.log(`== ${cell}: accuracy ${(r.accuracy * 100).toFixed(2)}%${r.epsilon !== undefined ? ` at ε ${r.epsilon.toFixed(3)} (${r.accountant === 'gdp' ? 'exact Gaussian composition' : `RDP order ${r.order}`})` : ''}${baseline && cell !== 'nodp' ? `, ${((baseline.accuracy - r.accuracy) * 100).toFixed(2)} points below the run without DP` : ''}; ${r.wallS.toFixed(0)} s${r.error ? `; ERROR ${r.error}` : ''}`);
}
console.table(results.cells.map((c) => ({ cell: c.cell, z: c.noiseMultiplier?.toFixed(4), epsilon: c.epsilon?.toFixed(3), accuracy: (c.accuracy * 100).toFixed(2), gap: baseline && c.cell !== 'nodp' ? ((baseline.accuracy - c.accuracy) * 100).toFixed(2) : '', wallS: c.wallS.toFixed(0) })));
