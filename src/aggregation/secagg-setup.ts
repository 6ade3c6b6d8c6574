/**
 * The SecAgg / SecAgg+ options, the public parameters they put in every plan,
 * and what each party derives from a plan before it sends a byte: the
 * number of clients n, the graph (complete, or Harary H(n, k)) and the
 * threshold t. Every party derives the same from the same plan and its own
 * parameters (`enforcePlan` has checked they are equal); a plan whose n
 * breaks the parameter rules (secagg-params.ts) is refused by every party
 * with the SecAggParameterError naming the rule.
 */
import type { KeyObject } from 'node:crypto';
import { PolicyError } from '../core/errors.js';
import { secAggSigning, type SecAggSigning } from './secagg-consistency.js';
import type { AggregationPlan } from './plan.js';
import type { AggregationUri } from './protocol.js';
import { autoSecAggParameters, checkCompleteParameters, checkHararyParameters, checkRequirements, SecAggParameterError, type SecAggRequirements } from './secagg-params.js';

export interface SecAggOptions {
  /**
   * 'complete' (SecAgg, default): every client neighbours every other;
   * { harary: { k, t } } (SecAgg+): the Harary graph H(n, k) with threshold t;
   * 'auto': the smallest (k, t) meeting the rules for the plan's n (Google's
   * graph parameter finder), the complete graph when no Harary graph does.
   */
  graph?: 'complete' | 'auto' | { harary: { k: number; t: number } };
  /** Complete graph: the threshold t (default: the smallest t the rules allow for the plan's n). */
  threshold?: number;
  /**
   * 'semi-honest' (default): the server follows the protocol. 'malicious':
   * the server may lie about who dropped out; clients sign their keys and the
   * survivor set with pinned Ed25519 keys (`signingKeys`, `signers`) and
   * reveal nothing without t signatures of their own survivor set
   * (secagg-consistency.ts).
   */
  adversary?: 'semi-honest' | 'malicious';
  /** Malicious-server variant: every client's pinned Ed25519 public key (32 raw bytes or a KeyObject), by party name; never taken from SERVER. */
  signingKeys?: ReadonlyMap<string, Uint8Array | KeyObject>;
  /** Malicious-server variant: the Ed25519 private keys of the clients this process runs. */
  signers?: ReadonlyMap<string, KeyObject>;
  /** γ: fraction of clients colluding with the server (default 0.05). */
  corruptionRate?: number;
  /** δ: fraction of clients that may drop out (default 0.05). */
  dropoutRate?: number;
  /** Largest mask modulus R = 2^bits, bits in [8, 64] (default 64); values are split into limbs so that no sum wraps. */
  modulusBits?: number;
  /** Fixed-point fractional bits of float values and weights (default 24). */
  fracBits?: number;
  /** Bits of a fixed-point value, sign included (default 48: one limb up to 2^16 clients at modulusBits 64): |w · x| < 2^(floatBits - 1 - fracBits). */
  floatBits?: number;
  /** SERVER's deadline per round, ms, where its PartyContext has no collectMs (default: none, wait for every client). */
  roundTimeoutMs?: number;
}

/** The public parameters of a SecAgg role set (copied into every plan; `enforcePlan` compares them). */
export interface SecAggParams {
  readonly graph: 'complete' | 'harary' | 'auto';
  /** Harary degree (0 unless graph is 'harary'). */
  readonly k: number;
  /** Threshold (0: derived from the plan's n by the rules). */
  readonly threshold: number;
  readonly adversary: 'semi-honest' | 'malicious';
  readonly corruptionRate: number;
  readonly dropoutRate: number;
  readonly modulusBits: number;
  readonly fracBits: number;
  readonly floatBits: number;
  readonly [k: string]: string | number | boolean;
}

export const SECAGG_INTRINSICS: readonly AggregationUri[] = Object.freeze([
  'federated_secure_sum',
  'federated_sum_at_aggregators',
  'federated_mean_at_aggregators',
  'federated_weighted_mean_at_aggregators',
] as AggregationUri[]);

const OPTION_KEYS = ['graph', 'threshold', 'adversary', 'corruptionRate', 'dropoutRate', 'modulusBits', 'fracBits', 'floatBits', 'roundTimeoutMs', 'signingKeys', 'signers'];

function int(fn: string, name: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number') throw new TypeError(`${fn}: "${name}" expected an integer in [${lo}, ${hi}], got ${v === null ? 'null' : typeof v}`);
  if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${fn}: "${name}" expected an integer in [${lo}, ${hi}], got ${v}`);
  return v;
}

/** Validate the options (errors name `fn` and the option); the parameters and the SERVER's round deadline. */
export function secAggParams(options: SecAggOptions, fn: string): { params: SecAggParams; roundTimeoutMs: number | undefined; signing: SecAggSigning | undefined } {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new TypeError(`${fn}: "options" expected an object`);
  for (const k of Object.keys(options)) if (!OPTION_KEYS.includes(k)) throw new RangeError(`${fn}: unknown option "${k}" (known: ${OPTION_KEYS.join(', ')})`);
  const g = options.graph ?? 'complete';
  let graph: SecAggParams['graph'];
  let k = 0;
  let threshold = 0;
  if (g === 'complete' || g === 'auto') graph = g;
  else if (g !== null && typeof g === 'object' && !Array.isArray(g) && Object.keys(g).length === 1 && typeof (g as { harary?: unknown }).harary === 'object' && (g as { harary: unknown }).harary !== null) {
    const h = (g as { harary: { k: unknown; t: unknown } }).harary;
    graph = 'harary';
    k = int(fn, 'graph.harary.k', h.k, 2, 1_000_000);
    if (k % 2 !== 0) throw new SecAggParameterError('even-degree', `${fn}: "graph.harary.k" must be even, got ${k}`);
    threshold = int(fn, 'graph.harary.t', h.t, 2, k);
  } else throw new RangeError(`${fn}: "graph" expected 'complete', 'auto' or { harary: { k, t } }, got ${JSON.stringify(g)?.slice(0, 80)}`);
  if (options.threshold !== undefined) {
    if (graph !== 'complete') throw new RangeError(`${fn}: "threshold" is for graph 'complete' (a Harary graph takes { harary: { k, t } }; 'auto' derives t)`);
    threshold = int(fn, 'threshold', options.threshold, 2, 1_000_000);
  }
  const adversary = options.adversary ?? 'semi-honest';
  if (adversary !== 'semi-honest' && adversary !== 'malicious') throw new RangeError(`${fn}: "adversary" expected 'semi-honest' or 'malicious', got ${JSON.stringify(adversary)}`);
  let signing: SecAggSigning | undefined;
  if (adversary === 'malicious') signing = secAggSigning(options.signingKeys, options.signers, fn);
  else if (options.signingKeys !== undefined || options.signers !== undefined) throw new RangeError(`${fn}: "signingKeys" and "signers" are for adversary 'malicious'`);
  const corruptionRate = options.corruptionRate ?? 0.05;
  const dropoutRate = options.dropoutRate ?? 0.05;
  for (const [name, v] of [['corruptionRate', corruptionRate], ['dropoutRate', dropoutRate]] as const) {
    if (typeof v !== 'number') throw new TypeError(`${fn}: "${name}" expected a fraction in [0, 1), got ${typeof v}`);
    if (!(v >= 0 && v < 1)) throw new RangeError(`${fn}: "${name}" expected a fraction in [0, 1), got ${v}`);
  }
  checkRequirements({ corruptionRate, dropoutRate, adversary }, fn);
  const modulusBits = int(fn, 'modulusBits', options.modulusBits ?? 64, 8, 64);
  const fracBits = int(fn, 'fracBits', options.fracBits ?? 24, 0, 52);
  const floatBits = int(fn, 'floatBits', options.floatBits ?? 48, fracBits + 2, 128);
  let roundTimeoutMs: number | undefined;
  if (options.roundTimeoutMs !== undefined) {
    const v = options.roundTimeoutMs;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`${fn}: "roundTimeoutMs" expected a finite number of ms >= 0, got ${String(v)}`);
    roundTimeoutMs = v;
  }
  const params: SecAggParams = Object.freeze({ graph, k, threshold, adversary, corruptionRate, dropoutRate, modulusBits, fracBits, floatBits });
  return { params, roundTimeoutMs, signing };
}

/**
 * The options whose parameters are `params` (a plan's, as received): what a
 * deployed party passes to `secAggRoles` to run the plan's role set, with
 * its own signing keys and deadline added. Refuses (RangeError) parameters
 * no options give.
 */
export function secAggOptionsFromParams(params: Readonly<Record<string, unknown>>): SecAggOptions {
  const p = params as Partial<SecAggParams>;
  const graph = p.graph === 'harary' ? { harary: { k: p.k as number, t: p.threshold as number } } : p.graph;
  if (graph !== 'complete' && graph !== 'auto' && (typeof graph !== 'object' || graph === null)) throw new RangeError(`secagg parameters: "graph" expected 'complete', 'harary' or 'auto', got ${JSON.stringify(p.graph)}`);
  const options: SecAggOptions = {
    graph,
    ...(p.graph === 'complete' && p.threshold !== 0 ? { threshold: p.threshold as number } : {}),
    adversary: p.adversary as SecAggOptions['adversary'],
    corruptionRate: p.corruptionRate as number,
    dropoutRate: p.dropoutRate as number,
    modulusBits: p.modulusBits as number,
    fracBits: p.fracBits as number,
    floatBits: p.floatBits as number,
  };
  if ((p.graph === 'complete' || p.graph === 'auto') && p.k !== 0) throw new RangeError(`secagg parameters: "k" = ${String(p.k)} with graph ${p.graph}`);
  if (p.graph === 'auto' && p.threshold !== 0) throw new RangeError(`secagg parameters: "threshold" = ${String(p.threshold)} with graph auto`);
  return options;
}

/** What every party derives from a plan (the same at every party). */
export interface SecAggSetup {
  readonly n: number;
  readonly graph: 'complete' | 'harary';
  /** Neighbours per client (n - 1 on the complete graph). */
  readonly k: number;
  readonly t: number;
}

/**
 * The graph and threshold of `plan` (checked against the rules for its n),
 * refusing a plan SecAgg cannot run: target AGGREGATORS (no aggregator
 * parties: PolicyError 'protocol'), fewer than 2 clients (RangeError), or
 * parameters that break a rule (SecAggParameterError naming it).
 */
export function secAggSetup(params: SecAggParams, plan: AggregationPlan, me: string): SecAggSetup {
  if (plan.target !== 'SERVER') throw new PolicyError('protocol', `secagg delivers the aggregate to SERVER only (it has no aggregator parties); the plan's target is ${plan.target}`, { party: me });
  const n = plan.clients.length;
  if (n < 2) throw new RangeError(`${me}: secagg needs at least 2 clients, the plan has ${n}`);
  const req: SecAggRequirements = { corruptionRate: params.corruptionRate, dropoutRate: params.dropoutRate, adversary: params.adversary };
  if (params.graph === 'harary') {
    if (params.k > n - 1) throw new SecAggParameterError('degree', `${me}: the Harary degree k = ${params.k} needs at least k + 1 = ${params.k + 1} clients, the plan has ${n}`);
    checkHararyParameters(n, params.k, params.threshold, req);
    return { n, graph: 'harary', k: params.k, t: params.threshold };
  }
  if (params.graph === 'auto') {
    const c = autoSecAggParameters(n, req);
    return c.graph === 'harary' ? { n, graph: 'harary', k: c.k, t: c.t } : { n, graph: 'complete', k: n - 1, t: c.t };
  }
  if (params.threshold !== 0) {
    if (params.threshold > n) throw new SecAggParameterError('correctness-threshold', `${me}: threshold t = ${params.threshold} exceeds the plan's ${n} clients`);
    checkCompleteParameters(n, params.threshold, req);
    return { n, graph: 'complete', k: n - 1, t: params.threshold };
  }
  let last: unknown;
  for (let t = 2; t <= n; t++) {
    try {
      checkCompleteParameters(n, t, req);
      return { n, graph: 'complete', k: n - 1, t };
    } catch (e) {
      // (the smallest t meeting the privacy rule of the plan's variant: semi-honest t > n_C, malicious 2t > n + n_C)
      if (!(e instanceof SecAggParameterError) || (e.rule !== 'privacy-threshold' && e.rule !== 'malicious-threshold')) throw e;
      last = e;
    }
  }
  throw last;
}
