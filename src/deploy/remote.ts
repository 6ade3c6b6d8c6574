/**
 * `remoteContext({ config, key })`: an execution context over the players of
 * config.json, like `localContext` in one process:
 *
 *   const ctx = remoteContext({ config: 'config.json', key: 'keys/model-owner.key', protocol: 'aby3' });
 *   const mean = await withContext(ctx, () => getAverageTemperature(clientData('temps')));
 *   await ctx.close();
 *
 * This process is the config's model owner (SERVER). On the first call it
 * starts its transport (mutual TLS or pinned keys, as the config says) and
 * opens a session with every player; each data-owner player serves its own
 * clients' data (`fedcrypt player --data <module> [--clients n]`). A failure
 * ends the session (the players are told); the next call opens a new one.
 */
import type { Computation } from '../core/tracing.js';
import type { Dropout, RemoteContext } from '../runtime/remote/context.js';
import type { GrpcTransport } from '../transport/grpc.js';
import { loadConfig, type DeployConfig } from '../transport/config.js';
import { configRoles } from './roster.js';
import { loadIdentity } from './keys.js';
import { parseConfigPolicy, resolvePolicy, type NetworkProtocol } from './policy.js';
import { openSession } from './session.js';

export interface RemoteContextOptions {
  /** Path of config.json. */
  readonly config: string;
  /** The model owner's key file (default keys/<model owner>.key). */
  readonly key?: string;
  /** The aggregation protocol of every aggregation (default 'aby3'). */
  readonly protocol?: NetworkProtocol;
  /** Its public parameters (e.g. { precision: 'high' }; SecAgg: `secAggPlanParams({ graph, threshold, adversary })`). */
  readonly params?: Readonly<Record<string, unknown>>;
  /** INSECURE: the model owner's own opt-in to the plaintext reference (each player needs its own). */
  readonly insecureAllowPlaintext?: boolean;
  /** Deadline of each reply and protocol step, ms (default 10 minutes). */
  readonly timeoutMs?: number;
  /**
   * Complete an aggregation without a data owner whose link is lost (ABY3,
   * Pond: the compute servers agree on the contributions they received;
   * Paillier: this process marks a client whose box is not in by
   * `collectMs` absent, and the aggregation service adds the rest; see
   * docs/DEPLOY.md, "Dropouts"). Each dropout is in `dropouts`.
   */
  readonly dropout?: boolean;
  /**
   * Paillier with dropout: how long this process (the router) waits for the
   * clients' sealed boxes, ms (default 10 s). SecAgg: this process's
   * (SERVER's) deadline per round (default with dropout: timeoutMs).
   */
  readonly collectMs?: number;
}

export interface DeployedContext extends RemoteContext {
  /** The config it runs over. */
  readonly deployConfig: DeployConfig;
}

export function remoteContext(o: RemoteContextOptions): DeployedContext {
  if (o === null || typeof o !== 'object' || typeof o.config !== 'string') throw new TypeError('remoteContext: "options" expected { config: <path of config.json>, key?, protocol? }');
  const config = loadConfig(o.config, { requireKeys: true });
  const { modelOwner } = configRoles(config);
  const policy = resolvePolicy(parseConfigPolicy(config.policy, `${o.config}: `), { insecureAllowPlaintext: o.insecureAllowPlaintext ?? false });
  const protocol = o.protocol ?? 'aby3';
  // the model owner's key, read now: a missing or wrong key file is said before anything else is tried
  const identity = loadIdentity(o.key ?? `keys/${modelOwner}.key`, { name: modelOwner });
  let transport: GrpcTransport | undefined;
  let session: RemoteContext | undefined;
  let closed = false;
  let numClients = 0;
  const dropouts: Dropout[] = [];
  async function connect(): Promise<RemoteContext> {
    if (transport === undefined) {
      const { startPlayer } = await import('./player.js');
      transport = await startPlayer({ configPath: o.config, name: modelOwner, keyPath: o.key ?? `keys/${modelOwner}.key`, handleSignals: false, connectTimeoutMs: 10_000 });
    }
    session = await openSession(transport, config, {
      protocol, ...(o.params ? { params: o.params } : {}), policy, identity, ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
      ...(o.dropout ? { dropout: true, onDropout: (d: Dropout) => void dropouts.push(d) } : {}),
      ...(o.collectMs !== undefined ? { collectMs: o.collectMs } : {}),
    });
    numClients = session.numClients;
    return session;
  }
  async function call(comp: Computation, args: readonly unknown[], typed: boolean): Promise<unknown> {
    if (closed) throw new Error('remoteContext: closed');
    const s = session ?? (await connect());
    try {
      return await (typed ? s.invokeTyped(comp, args) : s.invoke(comp, args));
    } catch (e) {
      // the session ended with the failure (its players were told); the next call opens a new one
      session = undefined;
      throw e;
    }
  }
  return {
    name: 'remote',
    deployConfig: config,
    get numClients() {
      return session?.numClients ?? numClients;
    },
    get dropouts() {
      return [...dropouts];
    },
    invoke: (comp: Computation, args: readonly unknown[]) => call(comp, args, false),
    invokeTyped: (comp: Computation, args: readonly unknown[]) => call(comp, args, true),
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      try {
        await session?.close();
      } finally {
        await transport?.close();
      }
    },
  };
}
