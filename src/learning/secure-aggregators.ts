/**
 * Adapters from the aggregation layer's secure protocols to the learning
 * layer's `Aggregator` interface.
 *
 * - ABY3 / Pond: `secureMean(updates, weights, options)` from
 *   `src/aggregation/mpc.ts` (data owners secret-share their updates to the
 *   compute servers, which compute the weighted mean on shares; only the
 *   model owner receives the revealed mean).
 * - Paillier: `secureMean` from `src/aggregation/paillier.ts`.
 *
 * The modules are loaded lazily (on the first aggregation), so the plaintext
 * path and CLI start-up do not load them; a failing load gives an error
 * naming the module.
 */
import { type Aggregator, type AggregateResult, checkMeanArgs } from './aggregator.js';
import { rolesAggregator } from './roles-aggregator.js';

export const PROTOCOL_NAMES = ['aby3', 'pond', 'paillier', 'secagg', 'plaintext'] as const;
export type ProtocolName = (typeof PROTOCOL_NAMES)[number];
export const PRECISIONS = ['low', 'high'] as const;
export type Precision = (typeof PRECISIONS)[number];

export interface SecureAggregatorOptions {
  protocol: Exclude<ProtocolName, 'plaintext' | 'secagg'>;
  precision?: Precision;
  /** Names of the data owners, in update order (for the bytes-per-role figures). */
  ownerNames?: readonly string[];
  /**
   * Aggregate at most this many values per protocol run (the mean is
   * elementwise, so chunks give the same result); bounds the protocol's
   * working memory for large models. Default 65536.
   */
  chunkSize?: number;
  /** Extra options passed through to the protocol. */
  protocolOptions?: Record<string, unknown>;
}

interface SecureMeanModule {
  secureMean(updates: Float32Array[], weights: number[] | undefined, options: Record<string, unknown>): Promise<{ mean: Float32Array; bytesPerPlayer?: Record<string, number>; bytesByRole?: Record<string, number> }>;
}

const MODULES: Record<SecureAggregatorOptions['protocol'], { path: string; load: () => Promise<unknown> }> = {
  aby3: { path: 'src/aggregation/mpc.ts', load: () => import('../aggregation/mpc.js') },
  pond: { path: 'src/aggregation/mpc.ts', load: () => import('../aggregation/mpc.js') },
  paillier: { path: 'src/aggregation/paillier.ts', load: () => import('../aggregation/paillier.js') },
};

/** Load the protocol's module lazily (the plaintext path and the CLI's start-up do not pay for it). */
async function loadModule(protocol: SecureAggregatorOptions['protocol']): Promise<SecureMeanModule> {
  const { path, load } = MODULES[protocol];
  let mod: Partial<SecureMeanModule>;
  try {
    mod = (await load()) as Partial<SecureMeanModule>;
  } catch (e) {
    throw new Error(`secure aggregation with ${protocol} is not available: cannot load ${path} (${(e as Error).message})`);
  }
  if (typeof mod.secureMean !== 'function') throw new Error(`secure aggregation with ${protocol} is not available: ${path} exports no secureMean()`);
  return mod as SecureMeanModule;
}

/** Whether the aggregation layer provides `protocol` in this build. */
export async function protocolAvailable(protocol: ProtocolName): Promise<boolean> {
  if (protocol === 'plaintext' || protocol === 'secagg') return true;
  try {
    await loadModule(protocol);
    return true;
  } catch {
    return false;
  }
}

export function secureAggregator(options: SecureAggregatorOptions): Aggregator {
  const { protocol } = options;
  if (!(protocol in MODULES)) throw new RangeError(`unknown protocol "${String(protocol)}"; valid protocols: ${PROTOCOL_NAMES.join(', ')}`);
  const precision = options.precision ?? 'low';
  if (!PRECISIONS.includes(precision)) throw new RangeError(`"precision" expected one of ${PRECISIONS.join(', ')}, got ${String(precision)}`);
  const chunk = options.chunkSize ?? 65536;
  if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`"chunkSize" expected integer >= 1, got ${String(chunk)}`);
  let mod: Promise<SecureMeanModule> | undefined;
  return {
    name: protocol,
    secure: true,
    description: `secure aggregation with ${protocol === 'paillier' ? 'Paillier' : protocol.toUpperCase()} (${precision} precision)`,
    async mean(updates, weights, owners): Promise<AggregateResult> {
      checkMeanArgs(updates, weights);
      mod ??= loadModule(protocol);
      const m = await mod;
      const ownerNames = owners && owners.length === updates.length ? owners : options.ownerNames && options.ownerNames.length === updates.length ? options.ownerNames : undefined;
      const opts = { protocol, precision, ...(ownerNames ? { ownerNames } : {}), ...options.protocolOptions };
      const n = updates[0]!.length;
      if (n <= chunk) {
        const r = await m.secureMean([...updates], [...weights], opts);
        return { mean: r.mean, bytesByRole: { ...(r.bytesByRole ?? r.bytesPerPlayer ?? {}) } };
      }
      const mean = new Float32Array(n);
      const bytesByRole: Record<string, number> = {};
      for (let s = 0; s < n; s += chunk) {
        const e = Math.min(n, s + chunk);
        // decoded straight into the result where the module supports option 'out' (ABY3/Pond)
        const target = mean.subarray(s, e);
        const r = await m.secureMean(updates.map((u) => u.subarray(s, e)), [...weights], { ...opts, out: target });
        if (r.mean !== target) mean.set(r.mean, s);
        for (const [k, v] of Object.entries(r.bytesByRole ?? r.bytesPerPlayer ?? {})) bytesByRole[k] = (bytesByRole[k] ?? 0) + v;
      }
      return { mean, bytesByRole };
    },
  };
}

/** SecAgg's choices in a training run (`--secagg-graph`, `--secagg-threshold`, `--secagg-adversary`). */
export interface SecAggChoices {
  graph?: 'complete' | 'auto';
  threshold?: number;
  adversary?: 'semi-honest' | 'malicious';
}

/**
 * SecAgg / SecAgg+ in one process: each mean is a weighted `federatedMean`
 * at SERVER run by `localContext({ aggregation: secAgg(...) })`, every
 * party's role simulated (clients submit [w·q(x), w], fixed point with 24
 * fractional bits: the mean is within about 2^-25 (1 + |mean|) of the exact
 * one for weights of a few hundred examples). The malicious-server variant
 * gets a fresh Ed25519 key per simulated client.
 */
export function secAggAggregator(choices: SecAggChoices = {}, minContributors?: number): Aggregator {
  const graph = choices.graph ?? 'complete';
  const adversary = choices.adversary ?? 'semi-honest';
  const roles = async (n: number) => {
    const { secAggRoles } = await import('../aggregation/secagg-roles.js');
    let signing = {};
    if (adversary === 'malicious') {
      const { generateKeyPairSync } = await import('node:crypto');
      const signingKeys = new Map<string, import('node:crypto').KeyObject>();
      const signers = new Map<string, import('node:crypto').KeyObject>();
      for (let i = 0; i < n; i++) {
        const k = generateKeyPairSync('ed25519');
        signingKeys.set(`client-${i}`, k.publicKey);
        signers.set(`client-${i}`, k.privateKey);
      }
      signing = { signingKeys, signers };
    }
    // (in one process no data owner can drop out: dropoutRate 0, so the parameter rules admit small client counts)
    return secAggRoles({ graph, adversary, dropoutRate: 0, ...(choices.threshold !== undefined ? { threshold: choices.threshold } : {}), ...signing });
  };
  return rolesAggregator(roles, {
    name: 'secagg',
    description: `secure aggregation with SecAgg${graph === 'auto' ? '/SecAgg+ (graph auto)' : ' (complete graph)'}, ${adversary} server, simulated in this process`,
    ...(minContributors === undefined ? {} : { minContributors }),
  });
}

/** An aggregator by protocol name; 'plaintext' is the (insecure) baseline. */
export async function makeAggregator(protocol: string, precision: Precision = 'low', ownerNames?: readonly string[], protocolOptions?: Record<string, unknown>): Promise<Aggregator> {
  if (typeof protocol !== 'string') throw new TypeError(`"protocol" expected string, got ${typeof protocol}`);
  const p = protocol.toLowerCase();
  if (!(PROTOCOL_NAMES as readonly string[]).includes(p)) throw new RangeError(`unknown protocol "${protocol}"; valid protocols: ${PROTOCOL_NAMES.join(', ')}`);
  if (p === 'plaintext') {
    const { plaintextAggregator } = await import('./aggregator.js');
    return plaintextAggregator(ownerNames);
  }
  if (p === 'secagg') {
    const o = protocolOptions ?? {};
    return secAggAggregator((o['secagg'] as SecAggChoices | undefined) ?? {}, typeof o['minContributors'] === 'number' ? o['minContributors'] : undefined);
  }
  const { secagg: _secagg, ...rest } = protocolOptions ?? {};
  return secureAggregator({ protocol: p as SecureAggregatorOptions['protocol'], precision, ownerNames, ...(protocolOptions ? { protocolOptions: rest } : {}) });
}
