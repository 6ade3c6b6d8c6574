/**
 * Which `fedcrypt train` options apply to which run, and the words the user
 * sees in errors.
 *
 * An option given on the command line that does not apply to the chosen run
 * (mode, protocol, in process or across the players of --config) is an error
 * naming the option and the run it applies to, before anything starts: it is
 * never silently ignored. The table below is the one place that says so.
 */
import { InvalidArgumentError, type Command } from 'commander';

/** What decides whether an option applies. */
export interface RunShape {
  mode: 'fedsgd' | 'fedavg';
  protocol: string;
  /** --config given: the networked driver (the execution stack over the config's players). */
  networked: boolean;
  /** --dp's mechanism, if given. */
  dp?: string;
}

interface Rule {
  /** commander's attribute name */
  key: string;
  /** undefined: applies; else why not (shown to the user) */
  whyNot(run: RunShape, value: unknown): string | undefined;
}

const IN_PROCESS = 'applies to networked training only (with --config)';
const CENTRAL_DP = ['gaussian', 'adaptive'];
/** A DP option's reason not to apply: no --dp, or a mechanism it is not for. */
const needsDp = (r: RunShape, mechanisms?: readonly string[], why?: string): string | undefined =>
  r.dp === undefined ? 'applies with --dp only' : mechanisms && !mechanisms.includes(r.dp) ? `applies to --dp ${mechanisms.join('|')} only, not --dp ${r.dp}${why ? ` (${why})` : ''}` : undefined;

export const TRAIN_OPTION_RULES: readonly Rule[] = [
  { key: 'localEpochs', whyNot: (r) => (r.mode === 'fedavg' ? undefined : 'applies to --mode fedavg only (FedSGD takes one gradient step per round)') },
  { key: 'clientLr', whyNot: (r) => (r.mode === 'fedavg' ? undefined : 'applies to --mode fedavg only (FedSGD has no client optimizer)') },
  { key: 'roundTimeout', whyNot: (r) => (r.networked ? undefined : `${IN_PROCESS}; an in-process run has no network to wait for`) },
  { key: 'key', whyNot: (r) => (r.networked ? undefined : IN_PROCESS) },
  { key: 'checkpointDir', whyNot: (r) => (r.networked ? undefined : IN_PROCESS) },
  { key: 'resume', whyNot: (r) => (r.networked ? undefined : IN_PROCESS) },
  {
    key: 'dropout',
    whyNot: (r) => (!r.networked ? `${IN_PROCESS}: in one process no data owner can drop out` : r.protocol === 'plaintext' ? 'is built for the secure protocols (aby3, pond, paillier, secagg)' : undefined),
  },
  { key: 'nonIid', whyNot: (r) => (r.networked ? "is in-process only: with --config each data owner's data is what its player's --data names" : undefined) },
  { key: 'onBadUpdate', whyNot: (r, v) => (r.networked && v !== 'abort' ? 'skip is in-process only: with --config a bad update fails the round, naming the data owner' : undefined) },
  {
    key: 'minContributors',
    whyNot: (r) =>
      r.networked ? 'is each player\'s own policy with --config: set "policy": { "minContributors": n } in config.json, or pass it to "fedcrypt player"'
      : r.protocol === 'plaintext' ? 'applies to the secure protocols only (aby3, pond, paillier, secagg)' : undefined,
  },
  {
    key: 'precision',
    whyNot: (r) =>
      r.protocol === 'plaintext' ? 'applies to the secure protocols only (plaintext sends float32 updates as they are)'
      : r.protocol === 'secagg' ? "applies to aby3, pond and paillier (secagg's fixed point has 24 fractional bits; docs/secagg.md, \"Encoding\")" : undefined,
  },
  { key: 'secaggGraph', whyNot: (r) => (r.protocol === 'secagg' ? undefined : 'applies to --protocol secagg only') },
  { key: 'secaggThreshold', whyNot: (r) => (r.protocol === 'secagg' ? undefined : 'applies to --protocol secagg only') },
  { key: 'secaggAdversary', whyNot: (r) => (r.protocol === 'secagg' ? undefined : 'applies to --protocol secagg only') },
  {
    key: 'dp',
    whyNot: (r) => (r.networked ? 'is in-process only (the networked driver does not run DP-FedAvg yet)' : r.mode !== 'fedavg' ? 'applies to --mode fedavg only (DP-FedAvg)' : undefined),
  },
  { key: 'noiseMultiplier', whyNot: (r) => needsDp(r) },
  { key: 'targetDelta', whyNot: (r) => needsDp(r) },
  { key: 'samplingRate', whyNot: (r) => needsDp(r) },
  { key: 'dpSeed', whyNot: (r) => needsDp(r) },
  { key: 'compareNoDp', whyNot: (r) => needsDp(r) },
  { key: 'clip', whyNot: (r) => needsDp(r, ['gaussian', 'skellam', 'dgauss'], 'adaptive clipping starts at --initial-clip') },
  { key: 'initialClip', whyNot: (r) => needsDp(r, ['adaptive']) },
  { key: 'clientsPerRound', whyNot: (r) => needsDp(r, CENTRAL_DP, 'fixed-size sampling is accounted for the Gaussian mechanisms only; use --sampling-rate') },
  { key: 'dpBits', whyNot: (r) => needsDp(r, ['skellam', 'dgauss']) },
  { key: 'dpBeta', whyNot: (r) => needsDp(r, ['skellam', 'dgauss']) },
  { key: 'dpAccountant', whyNot: (r) => needsDp(r) },
  {
    key: 'noiseAt',
    whyNot: (r, v) => needsDp(r, CENTRAL_DP, 'distributed DP: every client adds its share of the noise') ?? (v === 'aggregators' && r.protocol !== 'aby3' && r.protocol !== 'pond' ? `aggregators applies to --protocol aby3 or pond only (each of their 3 aggregator parties adds its own secret-shared noise), not ${r.protocol}` : undefined),
  },
  {
    key: 'insecureAllowPlaintext',
    whyNot: (r) =>
      r.protocol !== 'plaintext' ? 'applies to --protocol plaintext only'
      : r.networked ? 'is each data owner\'s own opt-in with --config: its operator starts it with "fedcrypt player ... --insecure-allow-plaintext"' : undefined,
  },
];

const flagOf = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The options given (by `given`) that do not apply to `run`, each with the reason. */
export function inapplicableOptions(run: RunShape, given: (key: string) => boolean, values: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const r of TRAIN_OPTION_RULES) {
    if (!given(r.key)) continue;
    const why = r.whyNot(run, values[r.key]);
    if (why !== undefined) out.push(`${flagOf(r.key)} ${why}`);
  }
  if (run.networked && given('resume') && !given('checkpointDir')) out.push('--resume needs --checkpoint-dir (the folder the checkpoint is in)');
  if (run.dp !== undefined && !run.networked && run.mode === 'fedavg') {
    if (!given('noiseMultiplier')) out.push('--dp needs --noise-multiplier z (0: no noise, ε = ∞)');
    if (run.dp !== 'adaptive' && !given('clip')) out.push(`--dp ${run.dp} needs --clip c (the L2 clip of each update)`);
    if (given('samplingRate') === given('clientsPerRound')) out.push('--dp needs exactly one of --sampling-rate q (Poisson) and --clients-per-round m (fixed size, flagged)');
  }
  return out;
}

/**
 * Refuse, before anything starts, the options given on `cmd`'s command line
 * that do not apply to this run (InvalidArgumentError listing each).
 */
export function checkTrainOptions(cmd: Command, o: Record<string, unknown> & { mode: RunShape['mode']; protocol: string; config?: string }): void {
  const run: RunShape = { mode: o.mode, protocol: String(o.protocol).toLowerCase(), networked: o.config !== undefined, ...(typeof o['dp'] === 'string' ? { dp: o['dp'] } : {}) };
  const problems = inapplicableOptions(run, (k) => cmd.getOptionValueSource(k) === 'cli', o);
  if (problems.length === 1) throw new InvalidArgumentError(problems[0]!);
  if (problems.length > 1) throw new InvalidArgumentError(`${problems.length} options do not apply to this run:\n  ${problems.join('\n  ')}`);
}

/**
 * Library argument names that can reach a CLI user in an error, as the CLI
 * spells them (the library names its arguments as its API does).
 */
const FLAG_FOR: Record<string, string> = {
  batchSize: '--batch-size', maxSteps: '--max-steps', checkpointDir: '--checkpoint-dir', roundTimeoutMs: '--round-timeout', localEpochs: '--local-epochs',
  clientLr: '--client-lr', minContributors: '--min-contributors', validationLimit: '--validation-limit', nonIid: '--non-iid', onBadUpdate: '--on-bad-update',
  insecureAllowPlaintext: '--insecure-allow-plaintext', owners: '--owners', mode: '--mode', protocol: '--protocol', precision: '--precision', epochs: '--epochs',
  seed: '--seed', lr: '--lr', optimizer: '--optimizer', resume: '--resume',
  secaggGraph: '--secagg-graph', secaggThreshold: '--secagg-threshold', secaggAdversary: '--secagg-adversary',
  noiseMultiplier: '--noise-multiplier', clip: '--clip', initialClip: '--initial-clip', targetDelta: '--target-delta', samplingRate: '--sampling-rate',
  clientsPerRound: '--clients-per-round', bits: '--dp-bits', beta: '--dp-beta', accountant: '--dp-accountant', noiseAt: '--noise-at', dp: '--dp',
};
const QUOTED = new RegExp(`"(${Object.keys(FLAG_FOR).join('|')})"(?= (?:expected|is|needs|must|larger|smaller|exceeds|\\d))`, 'g');
// a bare camelCase name, not a config field (policy.minContributors, "minContributors":)
const CAMEL = new RegExp(`(?<![\\w.\"-])(${Object.keys(FLAG_FOR).filter((k) => /[A-Z]/.test(k)).join('|')})(?![\\w\"-])`, 'g');

/** An error message in the CLI's words: library argument names become the flags the user typed. */
export function userMessage(message: string): string {
  return message.replace(QUOTED, (_, k: string) => FLAG_FOR[k]!).replace(CAMEL, (_, k: string) => FLAG_FOR[k]!);
}
