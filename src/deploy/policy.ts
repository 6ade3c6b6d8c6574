/**
 * Party policy: what a player is willing to contribute to, held locally and
 * checked before it sends a byte for a session (session.ts: the protocol and
 * roster of the session; each aggregation plan, roles.ts `enforcePlan`; the
 * learning steps, learning/stack.ts `setLearningPolicy`).
 *
 * A data owner or compute server never trusts what the model owner asks for.
 * Its policy is built from three sources, each only able to make the previous
 * one stricter:
 *
 *   1. the defaults below (secure: no plaintext, at least 3 contributors,
 *      batches of at least 16, at most 10,000 rounds);
 *   2. the `"policy"` object of config.json (shared by every player; it
 *      may raise or lower the numbers, but never enables plaintext);
 *   3. the player's own command line (`fedcrypt player --min-contributors 5`):
 *      only stricter than the config, and the one place where the loudly
 *      named `--insecure-allow-plaintext` opts in to the plaintext baseline.
 *
 * What breaks the policy is refused with a PolicyError naming the rule; the
 * refusing player logs it, answers the model owner with the refusal, and
 * sends nothing else in that session.
 */
import { PolicyError } from '../core/errors.js';
import { ConfigError } from '../transport/config.js';

export { PolicyError };

/** The protocols a networked session may name. */
export const NETWORK_PROTOCOLS = ['aby3', 'pond', 'paillier', 'secagg', 'plaintext'] as const;
export type NetworkProtocol = (typeof NETWORK_PROTOCOLS)[number];
/** The secure ones: what a policy accepts unless told otherwise. */
export const SECURE_PROTOCOLS: readonly NetworkProtocol[] = ['aby3', 'pond', 'paillier', 'secagg'];
/** SecAgg's adversary modes, weakest first (a policy requiring 'malicious' refuses 'semi-honest' plans). */
export const SECAGG_ADVERSARIES = ['semi-honest', 'malicious'] as const;
export type SecAggAdversary = (typeof SECAGG_ADVERSARIES)[number];
/**
 * What a player takes part in when neither the config nor its operator says
 * otherwise. Paillier is left out: its key holder is the model owner, so one
 * compute server (the aggregation service) colluding with it reads every
 * update, where ABY3 needs two of three servers. SecAgg is left out too: its
 * SERVER is the model owner, and its privacy rests on the model owner
 * following the protocol (semi-honest variant) or on t honest signers
 * (malicious variant) and on fewer than t clients colluding with it. A
 * config's `"policy": { "protocols": [...] }` or the operator enables them.
 */
export const DEFAULT_PROTOCOLS: readonly NetworkProtocol[] = ['aby3', 'pond'];

export interface PartyPolicy {
  /** Protocols this party takes part in. Contains 'plaintext' only if `insecureAllowPlaintext`. */
  readonly protocols: readonly NetworkProtocol[];
  /** The operator's local opt-in to the plaintext baseline (never from the config or the model owner). */
  readonly insecureAllowPlaintext: boolean;
  /** An aggregate this party contributes to (or reveals) has at least this many distinct data owners. */
  readonly minContributors: number;
  /** FedSGD: each data owner's gradient is over at least this many examples. */
  readonly minBatchSize: number;
  /** A training run (the learning steps of a session) has at most this many rounds in total. */
  readonly maxRounds: number;
  /** The models this party was started for (null: any model the library knows). */
  readonly models: readonly string[] | null;
  /** The datasets this party was started for (null: any). */
  readonly datasets: readonly string[] | null;
  /**
   * Encrypted computations (`fedcrypt compute`): the players besides itself
   * to whom a value computed from this party's inputs may be revealed
   * (default none; only its operator's --reveal-to adds any).
   */
  readonly revealTo: readonly string[];
  /** Encrypted computations: the ops this party runs (null: every registered op). */
  readonly ops: readonly string[] | null;
  /** SecAgg: the weakest adversary mode of a plan this party takes part in ('malicious': only the malicious-server variant). */
  readonly secaggAdversary: SecAggAdversary;
  /** SecAgg: no plan whose threshold t (as every party derives it for the plan's clients) is below this. */
  readonly secaggMinThreshold: number;
  /** What the player should log at start (e.g. a config laxer than the defaults, ignored). */
  readonly warnings?: readonly string[];
}

export const DEFAULT_POLICY: PartyPolicy = Object.freeze({
  protocols: Object.freeze([...DEFAULT_PROTOCOLS]),
  insecureAllowPlaintext: false,
  minContributors: 3,
  minBatchSize: 16,
  maxRounds: 10_000,
  models: null,
  datasets: null,
  revealTo: Object.freeze([]),
  ops: null,
  secaggAdversary: 'semi-honest',
  secaggMinThreshold: 2,
});

/** The `"policy"` object of config.json, as written (every field optional). */
export interface ConfigPolicy {
  minContributors?: number;
  minBatchSize?: number;
  maxRounds?: number;
  protocols?: NetworkProtocol[];
  models?: string[];
  datasets?: string[];
  /** Encrypted computations: the most any player reveals a value computed from its inputs to (each operator chooses within it with --reveal-to). */
  revealTo?: string[];
  /** Encrypted computations: the ops every player runs. */
  ops?: string[];
  /** SecAgg: 'malicious' makes every player refuse the semi-honest variant. */
  secaggAdversary?: SecAggAdversary;
  /** SecAgg: the smallest threshold t any player accepts. */
  secaggMinThreshold?: number;
}

const POLICY_FIELDS = ['minContributors', 'minBatchSize', 'maxRounds', 'protocols', 'models', 'datasets', 'revealTo', 'ops', 'secaggAdversary', 'secaggMinThreshold'] as const;
const isList = (v: unknown, re: RegExp): v is string[] => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' && re.test(x));
const PLAYER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const OP_NAME = /^[A-Za-z][A-Za-z0-9]{0,63}$/;
const isInt = (v: unknown, lo: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= 2 ** 31;
const isNameList = (v: unknown): v is string[] => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' && /^[a-z0-9_.-]{1,64}$/.test(x));

/** Validate the config's `"policy"` object (ConfigError naming `policy.<field>`); undefined: no policy given. */
export function parseConfigPolicy(raw: unknown, src = ''): ConfigPolicy {
  if (raw === undefined) return {};
  const err = (field: string, msg: string) => new ConfigError(`${src}policy${field ? `.${field}` : ''}: ${msg}`, field ? `policy.${field}` : 'policy');
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw err('', 'expected an object');
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(POLICY_FIELDS as readonly string[]).includes(k)) throw err(k, `unknown field (expected ${POLICY_FIELDS.join(', ')})`);
  const out: ConfigPolicy = {};
  if (o['minContributors'] !== undefined) {
    if (!isInt(o['minContributors'], 2)) throw err('minContributors', `expected an integer >= 2, got ${JSON.stringify(o['minContributors'])} (an aggregate of one contributor is that contributor's data)`);
    out.minContributors = o['minContributors'];
  }
  if (o['minBatchSize'] !== undefined) {
    if (!isInt(o['minBatchSize'], 1)) throw err('minBatchSize', `expected an integer >= 1, got ${JSON.stringify(o['minBatchSize'])}`);
    out.minBatchSize = o['minBatchSize'];
  }
  if (o['maxRounds'] !== undefined) {
    if (!isInt(o['maxRounds'], 1)) throw err('maxRounds', `expected an integer >= 1, got ${JSON.stringify(o['maxRounds'])}`);
    out.maxRounds = o['maxRounds'];
  }
  if (o['protocols'] !== undefined) {
    const p = o['protocols'];
    if (!Array.isArray(p) || p.length === 0 || !p.every((x) => (NETWORK_PROTOCOLS as readonly unknown[]).includes(x))) {
      throw err('protocols', `expected a non-empty list of ${SECURE_PROTOCOLS.join(', ')}, got ${JSON.stringify(p)}`);
    }
    if (p.includes('plaintext')) throw err('protocols', "'plaintext' cannot be enabled by the config: each player's operator opts in locally with --insecure-allow-plaintext");
    out.protocols = [...new Set(p as NetworkProtocol[])];
  }
  for (const k of ['models', 'datasets'] as const) {
    if (o[k] === undefined) continue;
    if (!isNameList(o[k])) throw err(k, `expected a non-empty list of lower-case names, got ${JSON.stringify(o[k])}`);
    out[k] = [...new Set(o[k])];
  }
  if (o['revealTo'] !== undefined) {
    if (!isList(o['revealTo'], PLAYER_NAME)) throw err('revealTo', `expected a non-empty list of player names, got ${JSON.stringify(o['revealTo'])}`);
    out.revealTo = [...new Set(o['revealTo'])];
  }
  if (o['ops'] !== undefined) {
    if (!isList(o['ops'], OP_NAME)) throw err('ops', `expected a non-empty list of op names (e.g. "matmul", "relu"), got ${JSON.stringify(o['ops'])}`);
    out.ops = [...new Set(o['ops'])];
  }
  if (o['secaggAdversary'] !== undefined) {
    if (!(SECAGG_ADVERSARIES as readonly unknown[]).includes(o['secaggAdversary'])) throw err('secaggAdversary', `expected one of ${SECAGG_ADVERSARIES.join(', ')}, got ${JSON.stringify(o['secaggAdversary'])}`);
    out.secaggAdversary = o['secaggAdversary'] as SecAggAdversary;
  }
  if (o['secaggMinThreshold'] !== undefined) {
    if (!isInt(o['secaggMinThreshold'], 2)) throw err('secaggMinThreshold', `expected an integer >= 2, got ${JSON.stringify(o['secaggMinThreshold'])}`);
    out.secaggMinThreshold = o['secaggMinThreshold'];
  }
  return out;
}

/** What the player's operator says on its own command line (every field optional). */
export interface LocalPolicyOptions {
  insecureAllowPlaintext?: boolean;
  minContributors?: number;
  minBatchSize?: number;
  maxRounds?: number;
  model?: string;
  dataset?: string;
  /** Encrypted computations: the players a value computed from this party's inputs may be revealed to (--reveal-to). */
  revealTo?: readonly string[];
  /** Encrypted computations: the ops this party runs (--ops). */
  ops?: readonly string[];
  /** The protocols this party takes part in, within the config's (--protocols). */
  protocols?: readonly string[];
  /** SecAgg: 'malicious' refuses the semi-honest variant (--secagg-adversary; only stricter than the config). */
  secaggAdversary?: SecAggAdversary;
  /** SecAgg: the smallest threshold t this party accepts (--secagg-min-threshold; only upward). */
  secaggMinThreshold?: number;
}

/**
 * The policy of one player: defaults, then the config's `"policy"`, then the
 * operator's local options, which may only make it stricter than the config
 * (RangeError naming the option otherwise).
 *
 * The config is written by someone else (often the model owner's side), so
 * where it is laxer than the built-in defaults (fewer contributors, smaller
 * batches, more rounds) it takes effect only when this player's operator
 * says the same value locally; otherwise the default holds and the policy
 * carries a warning for the player's log.
 */
export function resolvePolicy(config: ConfigPolicy | undefined, local: LocalPolicyOptions = {}): PartyPolicy {
  const c = config ?? {};
  const warnings: string[] = [];
  const numeric = (name: 'minContributors' | 'minBatchSize' | 'maxRounds', flag: string): number => {
    const up = name !== 'maxRounds';
    const d = DEFAULT_POLICY[name];
    const fromConfig = c[name] ?? d;
    const v = local[name];
    if (v !== undefined) {
      if (!isInt(v, 1)) throw new RangeError(`"${flag}" expected an integer >= 1, got ${String(v)}`);
      if (up ? v < fromConfig : v > fromConfig) throw new RangeError(`"${flag}" ${v} is ${up ? 'below' : 'above'} the config's ${fromConfig}: the local policy may only be stricter than the config`);
      return v;
    }
    if (up ? fromConfig < d : fromConfig > d) {
      warnings.push(`the config's policy.${name} ${fromConfig} is laxer than the built-in ${d}: this player keeps ${d} (its operator accepts ${fromConfig} with ${flag} ${fromConfig})`);
      return d;
    }
    return fromConfig;
  };
  const minContributors = numeric('minContributors', '--min-contributors');
  const minBatchSize = numeric('minBatchSize', '--min-batch-size');
  const maxRounds = numeric('maxRounds', '--max-rounds');
  const narrow = (list: readonly string[] | undefined, pick: string | undefined, flag: string): readonly string[] | null => {
    if (pick === undefined) return list ? Object.freeze([...list]) : null;
    if (typeof pick !== 'string' || pick === '') throw new RangeError(`"${flag}" expected a non-empty name, got ${JSON.stringify(pick)}`);
    const p = pick.toLowerCase();
    if (list && !list.includes(p)) throw new RangeError(`"${flag}" ${p} is not among the config's (${list.join(', ')})`);
    return Object.freeze([p]);
  };
  const within = (list: readonly string[] | undefined, pick: readonly string[] | undefined, flag: string, re: RegExp): readonly string[] | undefined => {
    if (pick === undefined) return undefined;
    if (!Array.isArray(pick) || pick.length === 0 || !pick.every((x) => typeof x === 'string' && re.test(x))) throw new RangeError(`"${flag}" expected a non-empty list of names, got ${JSON.stringify(pick)}`);
    const bad = pick.find((x) => list !== undefined && !list.includes(x));
    if (bad !== undefined) throw new RangeError(`"${flag}" ${bad} is not among the config's policy.${flag === '--ops' ? 'ops' : 'revealTo'} (${list!.join(', ')}): the local policy may only be stricter than the config`);
    return Object.freeze([...new Set(pick)]);
  };
  const revealTo = within(c.revealTo, local.revealTo, '--reveal-to', PLAYER_NAME) ?? Object.freeze([]);
  if (local.revealTo === undefined && c.revealTo !== undefined) {
    warnings.push(`the config's policy.revealTo lists ${c.revealTo.join(', ')}: this player reveals values computed from its inputs to none of them unless its operator says so (--reveal-to ${c.revealTo.join(',')})`);
  }
  const ops = within(c.ops, local.ops, '--ops', OP_NAME) ?? (c.ops ? Object.freeze([...c.ops]) : null);
  const insecureAllowPlaintext = local.insecureAllowPlaintext === true;
  const allowed = c.protocols ?? DEFAULT_PROTOCOLS;
  let chosen: readonly NetworkProtocol[] = allowed;
  if (local.protocols !== undefined) {
    const l = local.protocols;
    if (!Array.isArray(l) || l.length === 0) throw new RangeError(`"--protocols" expected a non-empty list, got ${JSON.stringify(l)}`);
    const bad = l.find((x) => !(allowed as readonly string[]).includes(x));
    if (bad !== undefined) throw new RangeError(`"--protocols" ${bad} is not among the protocols the config's policy allows (${allowed.join(', ')}): the local policy may only be stricter than the config`);
    chosen = [...new Set(l as NetworkProtocol[])];
  }
  const protocols = [...chosen, ...(insecureAllowPlaintext ? (['plaintext'] as const) : [])];
  const rank = (a: SecAggAdversary) => SECAGG_ADVERSARIES.indexOf(a);
  const fromConfigAdv = c.secaggAdversary ?? DEFAULT_POLICY.secaggAdversary;
  if (local.secaggAdversary !== undefined && !(SECAGG_ADVERSARIES as readonly unknown[]).includes(local.secaggAdversary)) throw new RangeError(`"--secagg-adversary" expected one of ${SECAGG_ADVERSARIES.join(', ')}, got ${JSON.stringify(local.secaggAdversary)}`);
  if (local.secaggAdversary !== undefined && rank(local.secaggAdversary) < rank(fromConfigAdv)) throw new RangeError(`"--secagg-adversary" ${local.secaggAdversary} is laxer than the config's ${fromConfigAdv}: the local policy may only be stricter than the config`);
  const secaggAdversary = local.secaggAdversary ?? fromConfigAdv;
  const fromConfigT = c.secaggMinThreshold ?? DEFAULT_POLICY.secaggMinThreshold;
  if (local.secaggMinThreshold !== undefined) {
    if (!isInt(local.secaggMinThreshold, 2)) throw new RangeError(`"--secagg-min-threshold" expected an integer >= 2, got ${String(local.secaggMinThreshold)}`);
    if (local.secaggMinThreshold < fromConfigT) throw new RangeError(`"--secagg-min-threshold" ${local.secaggMinThreshold} is below the config's ${fromConfigT}: the local policy may only be stricter than the config`);
  }
  const secaggMinThreshold = local.secaggMinThreshold ?? fromConfigT;
  return Object.freeze({
    protocols: Object.freeze(protocols),
    insecureAllowPlaintext,
    minContributors,
    minBatchSize,
    maxRounds,
    models: narrow(c.models, local.model, '--model'),
    datasets: narrow(c.datasets, local.dataset, '--dataset'),
    revealTo,
    ops,
    secaggAdversary,
    secaggMinThreshold,
    warnings: Object.freeze(warnings),
  });
}

/** One line for the player's log: what it accepts. */
export function describePolicy(p: PartyPolicy): string {
  return [
    `protocols ${p.protocols.join(', ')}${p.insecureAllowPlaintext ? ' (INSECURE plaintext opted in locally: --insecure-allow-plaintext)' : ''}`,
    `at least ${p.minContributors} contributors`,
    `batch size at least ${p.minBatchSize}`,
    `at most ${p.maxRounds} rounds`,
    `models ${p.models ? p.models.join(', ') : 'any'}`,
    `datasets ${p.datasets ? p.datasets.join(', ') : 'any'}`,
    `computations reveal its inputs' results to ${p.revealTo.length ? `itself and ${p.revealTo.join(', ')}` : 'itself only'}`,
    `ops ${p.ops ? p.ops.join(', ') : 'any'}`,
    ...(p.protocols.includes('secagg') ? [`secagg ${p.secaggAdversary === 'malicious' ? 'malicious-server variant only' : 'either variant'}, threshold at least ${p.secaggMinThreshold}`] : []),
  ].join('; ');
}
