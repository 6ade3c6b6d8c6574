/**
 * `fedcrypt train ... --mode fedavg --dp gaussian|adaptive|skellam|dgauss`:
 * the DP flags, what they become in `train({ dp })`, and the lines the CLI
 * prints (ε so far each round, the final (ε, δ)). Which flags apply to which
 * run is in options.ts's rule table.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { DpTrainOptions, DpRoundRecord, DpRunMetrics } from '../learning/dp-train.js';
import { fmtEpsilon } from '../learning/dp-report.js';

export interface DpCliOptions {
  dp?: DpTrainOptions['mechanism'];
  noiseMultiplier?: number;
  clip?: number;
  initialClip?: number;
  targetDelta?: number;
  samplingRate?: number;
  clientsPerRound?: number;
  dpBits?: number;
  dpBeta?: number;
  dpAccountant?: 'best' | 'rdp';
  noiseAt?: 'server' | 'aggregators';
  dpSeed?: string;
  compareNoDp?: boolean;
}

function num(flag: string, ok: (x: number) => boolean, want: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !ok(n)) throw new InvalidArgumentError(`${flag} expected ${want}, got "${v}"`);
    return n;
  };
}

/** Add the DP flags to the train command. */
export function addDpOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--dp <mechanism>', 'FedAvg with differential privacy: gaussian / adaptive (central DP-FedAvg, fixed or adaptive clip), skellam / dgauss (distributed DP: each client adds its share of discrete noise)').choices(['gaussian', 'adaptive', 'skellam', 'dgauss']))
    .option('--noise-multiplier <z>', '--dp: noise std on the sum / clip (0: no noise, ε = ∞)', num('--noise-multiplier', (x) => Number.isFinite(x) && x >= 0, 'a number >= 0'))
    .option('--clip <c>', '--dp gaussian|skellam|dgauss: L2 clip of each update', num('--clip', (x) => Number.isFinite(x) && x > 0, 'a number > 0'))
    .option('--initial-clip <c>', '--dp adaptive: the initial clip (default 0.1)', num('--initial-clip', (x) => Number.isFinite(x) && x > 0, 'a number > 0'))
    .option('--target-delta <δ>', '--dp: δ of the reported (ε, δ) (default 1e-5)', num('--target-delta', (x) => x > 0 && x < 1, 'a number in (0, 1)'))
    .option('--sampling-rate <q>', '--dp: Poisson sampling, each data owner with probability q per round', num('--sampling-rate', (x) => x > 0 && x <= 1, 'a probability in (0, 1]'))
    .option('--clients-per-round <m>', '--dp gaussian|adaptive: fixed-size sampling of m data owners per round (flagged: replace-one accounting)', num('--clients-per-round', (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1'))
    .option('--dp-bits <b>', '--dp skellam|dgauss: bits of the secure sum modulus (default 16)', num('--dp-bits', (x) => Number.isInteger(x) && x >= 1 && x <= 31, 'an integer in [1, 31]'))
    .option('--dp-beta <β>', '--dp skellam|dgauss: conditional rounding β in [0, 1) (default 0: unconditional; Kairouz et al. use e^-0.5 = 0.6065, a smaller sensitivity)', num('--dp-beta', (x) => x >= 0 && x < 1, 'a number in [0, 1)'))
    .addOption(new Option('--dp-accountant <a>', '--dp: best (default: the exact Gaussian composition when no client is subsampled, q = 1; the privacy loss distribution or RDP, whichever is smaller, otherwise) or rdp').choices(['best', 'rdp']))
    .addOption(new Option('--noise-at <where>', '--dp gaussian|adaptive: SERVER adds the noise (trusted), or each aggregator adds its own (aby3, pond)').choices(['server', 'aggregators']))
    .option('--dp-seed <s>', '--dp: reproducible DP draws (sampling, noise) from this seed: experiments only, no privacy against whoever knows it')
    .option('--compare-no-dp', '--dp: also run the same training without DP (same seed and sampled clients) and report both accuracies');
}

/** The `dp` option of train() from the CLI flags (undefined without --dp). */
export function dpTrainOptions(o: DpCliOptions): DpTrainOptions | undefined {
  if (o.dp === undefined) return undefined;
  return {
    mechanism: o.dp,
    noiseMultiplier: o.noiseMultiplier!,
    ...(o.clip !== undefined ? { clip: o.clip } : {}),
    ...(o.initialClip !== undefined ? { initialClip: o.initialClip } : {}),
    ...(o.targetDelta !== undefined ? { targetDelta: o.targetDelta } : {}),
    ...(o.samplingRate !== undefined ? { samplingRate: o.samplingRate } : {}),
    ...(o.clientsPerRound !== undefined ? { clientsPerRound: o.clientsPerRound } : {}),
    ...(o.dpBits !== undefined ? { bits: o.dpBits } : {}),
    ...(o.dpBeta !== undefined ? { beta: o.dpBeta } : {}),
    ...(o.dpAccountant !== undefined ? { accountant: o.dpAccountant } : {}),
    ...(o.noiseAt !== undefined ? { noiseAt: o.noiseAt } : {}),
    ...(o.dpSeed !== undefined ? { seed: o.dpSeed } : {}),
  };
}

/** ", ε 1.234 (order 12)" for a round's line. */
export function dpRoundSuffix(r: DpRoundRecord | undefined, delta: number): string {
  if (r === undefined) return '';
  const clip = r.nextClip !== undefined ? `, clip ${r.clip.toPrecision(4)} → ${r.nextClip.toPrecision(4)}` : '';
  return `; ε so far ${fmtEpsilon(r.epsilon)} at δ ${delta}${Number.isFinite(r.order) ? ` (order ${r.order})` : r.accountant === 'gdp' ? ' (exact)' : r.accountant === 'pld' ? ' (PLD)' : ''}, ${r.clients} client(s)${r.clipped ? `, ${r.clipped} clipped` : ''}${r.wrapped ? `, ${r.wrapped} wrapped` : ''}${clip}`;
}

/** The run's closing DP lines. */
export function dpFinalLines(d: DpRunMetrics | undefined): string[] {
  if (d === undefined) return [];
  const out = [`differential privacy: (ε, δ) = (${fmtEpsilon(d.epsilon)}, ${d.delta}) after ${d.rounds} round(s)${Number.isFinite(d.order) ? `, RDP order ${d.order}` : d.accountant === 'gdp' ? `, exact Gaussian composition (μ-GDP, μ = ${d.mu!.toPrecision(5)})` : d.accountant === 'pld' ? ', privacy loss distribution (pessimistic)' : ''}; ${d.mechanism}, ${d.adjacency}, ${d.sampling === 'poisson' ? `Poisson sampling q = ${d.q}` : `FIXED-SIZE sampling ${d.clientsPerRound} of ${d.population} (replace-one)`}`];
  out.push(`must be honest: ${d.honest.join('; ')}`);
  if (d.noDp) out.push(`without DP (same seed and sampling): test accuracy ${(d.noDp.accuracy * 100).toFixed(2)}% (DP costs ${((d.accuracyGap ?? 0) * 100).toFixed(2)} points)`);
  if (d.seeded) out.push(`WARNING: ${d.seeded}`);
  return out;
}
