// Central DP (src/dp/central.ts) over ABY3 and Pond, one aggregation of a mean of 10 clients' float32 updates of
// 100,000 elements to SERVER, every party simulated in this process (simulateRoles): wall time per aggregation
// (median of interleaved rounds) and bytes sent in total, against the same aggregation without DP measured in the
// same run; and the client's clip (clipByGlobalNorm) per update of that size.
// The noise source is the tests' deterministic AES-CTR CSPRNG with Box–Muller (the real sampler, src/dp/random.ts,
// plugs in at merge). Writes bench/results/dp-central.json.
//   node --import tsx bench/dp-central.bench.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { mpcRoles } from '../src/aggregation/mpc-roles.js';
import { simulateRoles } from '../src/aggregation/simulate.js';
import { checkPlan } from '../src/aggregation/plan.js';
import type { AggregationRoles } from '../src/aggregation/roles.js';
import { TensorType } from '../src/core/types.js';
import { dpGaussianFixed } from '../src/dp/central.js';
import { clipByGlobalNorm } from '../src/dp/central-clip.js';
import { TestCsprng } from '../test/dp/central-helpers.js';

const D = 100_000;
const N = 10;
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const rng = new TestCsprng('bench-inputs');
const inputs = Array.from({ length: N }, () => {
  const v = new Float32Array(D);
  rng.gaussian(v, 0.005);
  return { values: [v] };
});
const noise = new TestCsprng('bench-noise').rng;
const contenders: Record<string, AggregationRoles> = {
  'aby3 (no DP, baseline)': mpcRoles(),
  'aby3 + DP, noise at SERVER': dpGaussianFixed(mpcRoles(), { noiseMultiplier: 1, clip: 1, clientsPerRound: N, noiseAt: 'server', rng: noise }),
  'aby3 + DP, noise at aggregators': dpGaussianFixed(mpcRoles({ aggregatorAddends: true }), { noiseMultiplier: 1, clip: 1, clientsPerRound: N, noiseAt: 'aggregators', rng: noise }),
  'pond (no DP, baseline)': mpcRoles({ protocol: 'pond' }),
  'pond + DP, noise at aggregators': dpGaussianFixed(mpcRoles({ protocol: 'pond', aggregatorAddends: true }), { noiseMultiplier: 1, clip: 1, clientsPerRound: N, noiseAt: 'aggregators', rng: noise }),
};
let id = 0;
const times: Record<string, number[]> = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
const bytes: Record<string, number> = {};
for (let r = 0; r < ROUNDS + 1; r++) {
  for (const [name, roles] of Object.entries(contenders)) {
    const plan = checkPlan({ protocol: roles.name, invocationId: `bench/${++id}`, uri: 'federated_mean_at_aggregators', target: 'SERVER', leaves: [{ path: '', type: new TensorType('float32', [D]), size: D }], clients: inputs.map((_, i) => `owner${i}`), aggregators: roles.aggregatorNames, server: 'model-owner', params: roles.params });
    const t0 = performance.now();
    const res = await simulateRoles(roles, plan, inputs, { policy: { minContributors: 1, allowInsecure: false } });
    if (r > 0) times[name]!.push(performance.now() - t0);
    bytes[name] = Object.values(res.bytesSent).reduce((a, b) => a + b, 0);
  }
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const rows = Object.keys(contenders).map((name) => ({ name, medianMs: Number(median(times[name]!).toFixed(1)), bytesSent: bytes[name] }));
const clipMs: number[] = [];
for (let r = 0; r < 30; r++) {
  const t0 = performance.now();
  clipByGlobalNorm(inputs[r % N]!.values, 0.1);
  clipMs.push(performance.now() - t0);
}
const results = { clients: N, elements: D, rounds: ROUNDS, cpu: cpus()[0]?.model, load: loadavg()[0], aggregation: rows, clipPerUpdateMs: Number(median(clipMs).toFixed(2)) };
console.table(rows);
console.log(`clip of one ${D}-element update: ${results.clipPerUpdateMs} ms (median)`);
mkdirSync(new URL('results', import.meta.url), { recursive: true });
writeFileSync(new URL('results/dp-central.json', import.meta.url), JSON.stringify(results, null, 2) + '\n');
