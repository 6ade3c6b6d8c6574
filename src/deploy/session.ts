/**
 * Remote execution sessions across the players of config.json.
 *
 * The model owner (driver, SERVER) opens a session with every other player
 * of the config; each player checks it (same config, from the config's model
 * owner, a session id not seen before), answers with the CLIENTS members it
 * hosts, and serves the session's commands (`servePlayerExecutor`) until the
 * driver ends or aborts it. A player hosts its own clients and data: the
 * driver never sends client data, only the name of a data source.
 *
 * Each player checks every aggregation plan against its own policy and the
 * config before its role runs: the protocol is one its policy allows (the
 * insecure reference only with its operator's --insecure-allow-plaintext),
 * the SERVER party is the config's model owner, the aggregators are config
 * compute servers, every client is hosted by a config data owner, and there
 * are at least its minimum of distinct data owners among the clients.
 */
import { PolicyError } from '../core/errors.js';
import type { AggregationPlan } from '../aggregation/plan.js';
import type { AggregationRoles, RolePolicy } from '../aggregation/roles.js';
import { referenceRoles } from '../aggregation/reference.js';
import { mpcRoles, type MpcRolesOptions } from '../aggregation/mpc-roles.js';
import { paillierRoles } from '../aggregation/paillier-roles.js';
import { secAggRoles } from '../aggregation/secagg-roles.js';
import { secAggOptionsFromParams, secAggParams, secAggSetup } from '../aggregation/secagg-setup.js';
import { X509Certificate, type KeyObject } from 'node:crypto';
import type { Identity } from '../crypto/secure-channel.js';
import { servePlayerExecutor, type DataSource } from '../runtime/remote/player.js';
import { remoteExecutionContext, type Dropout, type RemoteContext, type RemotePlayer } from '../runtime/remote/context.js';
import type { PlayerStats, Transport } from '../transport/channel.js';
import { ConfigError, type DeployConfig } from '../transport/config.js';
import { HostingTransport, hostedName, hostOf } from '../transport/hosting.js';
import { configHash, configRoles } from './roster.js';
import type { NetworkProtocol, PartyPolicy } from './policy.js';
import { serveComputation, type ComputeOutput } from './compute-player.js';

export const SESSION_KEY = 'fedcrypt/session';
const enc = new TextEncoder();
const dec = new TextDecoder();

/** What a party brings to the role sets it makes: its name, its own X25519 identity, the config (pinned keys). */
export interface PartyKeys {
  readonly me: string;
  readonly identity?: Identity;
  readonly config: DeployConfig;
  /** A floor on the Paillier modulus a plan may ask for (default 2048). */
  readonly minPaillierKeyBits?: number;
  /** This player's Ed25519 key (its TLS key, whose certificate config.json pins): SecAgg's malicious variant signs with it for the clients it hosts. */
  readonly signingKey?: KeyObject;
  /** The clients this party runs (SecAgg's malicious variant: the ones it signs for). */
  readonly hosted?: readonly string[];
  /** The clients of the plan (SecAgg's malicious variant: whose hosts' keys are pinned). */
  readonly roster?: readonly string[];
  /** SecAgg at SERVER: its deadline per round, ms, where no collectMs is set. */
  readonly roundTimeoutMs?: number;
}

export interface RoleSet {
  readonly name: string;
  /** The role set a plan's (or the driver's) public parameters describe, for this party. */
  make(params: Readonly<Record<string, unknown>>, party: PartyKeys): AggregationRoles;
}

/** How the policy's protocol names map to role sets (and back). */
export const ROLE_SETS: Readonly<Record<NetworkProtocol, RoleSet>> = Object.freeze({
  plaintext: { name: 'insecure-reference', make: () => referenceRoles() },
  aby3: { name: 'mpc-aby3', make: (p) => mpcRoles({ protocol: 'aby3', ...mpcParams(p) }) },
  pond: { name: 'mpc-pond', make: (p) => mpcRoles({ protocol: 'pond', ...mpcParams(p) }) },
  paillier: { name: 'paillier', make: (p, party) => paillierFor(p, party) },
  secagg: { name: 'secagg', make: (p, party) => secAggFor(p, party) },
});

/** The Ed25519 public key of a config player's pinned certificate (SecAgg's malicious variant: the key its hosted clients sign with). */
export function pinnedSigningKey(config: DeployConfig, player: string): KeyObject {
  const entry = config.players.find((x) => x.name === player);
  if (entry?.certificate === undefined) throw new RangeError(`secagg's malicious variant needs player '${player}'s certificate in config.json (its Ed25519 key signs for its clients; "links": "tls" configs have them)`);
  return new X509Certificate(Buffer.from(entry.certificate)).publicKey;
}

/**
 * SecAgg / SecAgg+ for a party of a session: the plan's public parameters
 * (secAggOptionsFromParams) and, in the malicious-server variant, every
 * client's key pinned from config.json (a hosted client signs with its host
 * player's TLS key, whose certificate the config pins; never a key from
 * SERVER) and this party's own key for the clients it runs.
 */
function secAggFor(p: Readonly<Record<string, unknown>>, party: PartyKeys): AggregationRoles {
  const options = secAggOptionsFromParams(p);
  const timeout = party.roundTimeoutMs === undefined ? {} : { roundTimeoutMs: party.roundTimeoutMs };
  if (options.adversary !== 'malicious') return secAggRoles({ ...options, ...timeout });
  const roster = party.roster ?? [];
  const signingKeys = new Map<string, KeyObject>();
  const byHost = new Map<string, KeyObject>();
  for (const c of roster) {
    const h = hostOf(c);
    if (!byHost.has(h)) byHost.set(h, pinnedSigningKey(party.config, h));
    signingKeys.set(c, byHost.get(h)!);
  }
  const signers = new Map<string, KeyObject>();
  for (const c of party.hosted ?? []) {
    if (!roster.includes(c)) continue;
    if (party.signingKey === undefined) throw new RangeError(`${party.me}: secagg's malicious variant needs this player's Ed25519 (TLS) key from its key file`);
    signers.set(c, party.signingKey);
  }
  return secAggRoles({ ...options, ...timeout, signingKeys, signers });
}

/** The plan's precision and mean scaling (checked by mpcRoles; the protocol itself is the role set's). */
function mpcParams(p: Readonly<Record<string, unknown>>): MpcRolesOptions {
  return {
    ...(p['precision'] === undefined ? {} : { precision: p['precision'] as 'low' }),
    ...(p['meanScaling'] === undefined ? {} : { meanScaling: p['meanScaling'] as 'owners' }),
    ...(p['dropout'] === undefined ? {} : { dropout: p['dropout'] as boolean }),
  };
}

/** The X25519 public keys of the config's players (every Paillier box is sealed to or from one of them). */
export function configPinnedKeys(config: DeployConfig): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const p of config.players) if (p.publicKey) out.set(p.name, p.publicKey);
  return out;
}

/**
 * Paillier for a party of a session: its own identity, every config player's
 * X25519 key pinned (never a key from the router), the plan's public
 * parameters, and no modulus below this party's floor.
 */
function paillierFor(p: Readonly<Record<string, unknown>>, party: PartyKeys): AggregationRoles {
  const num = (k: string): number | undefined => (typeof p[k] === 'number' ? (p[k] as number) : undefined);
  const keyBits = num('keyBits') ?? 2048;
  const floor = party.minPaillierKeyBits ?? 2048;
  if (keyBits < floor) throw new PolicyError('protocol', `a ${keyBits}-bit Paillier modulus is below this party's floor of ${floor} bits`, { party: party.me });
  if (party.identity === undefined) throw new RangeError(`${party.me}: Paillier needs this player's X25519 identity (its key file)`);
  const pinned = configPinnedKeys(party.config);
  if (!pinned.has(party.me)) throw new RangeError(`${party.me}: Paillier needs every player's "publicKey" in config.json (missing for ${party.me})`);
  const maxClients = num('maxClients');
  if (maxClients === undefined) throw new RangeError(`${party.me}: a Paillier plan names its maxClients`);
  return paillierRoles({
    maxClients,
    keyBits,
    ...(num('fracBits') !== undefined ? { fracBits: num('fracBits')! } : {}),
    ...(num('floatBits') !== undefined ? { floatBits: num('floatBits')! } : {}),
    ...(num('noiseBits') !== undefined ? { noiseBits: num('noiseBits')! } : {}),
    ...(p['onInvalid'] === 'drop' || p['onInvalid'] === 'throw' ? { onInvalid: p['onInvalid'] } : {}),
    identities: new Map([[party.me, party.identity]]),
    pinnedKeys: pinned,
    // a client hosted by a player (--clients n) seals with its host's key, pinned in config.json
    pinHosted: true,
  });
}

/** The policy's protocol for a plan's role-set name. */
export function policyProtocolOf(roleSet: string): NetworkProtocol | undefined {
  return (Object.keys(ROLE_SETS) as NetworkProtocol[]).find((k) => ROLE_SETS[k].name === roleSet);
}

/** A player's rules as the role layer reads them. */
export function rolePolicy(p: PartyPolicy): RolePolicy {
  return Object.freeze({ minContributors: p.minContributors, allowInsecure: p.insecureAllowPlaintext });
}

/** The checks a player makes of every plan against the config and its policy (PolicyError naming the rule). */
export function checkPlanAgainstConfig(plan: AggregationPlan, config: DeployConfig, policy: PartyPolicy, me: string): void {
  const roles = configRoles(config);
  const protocol = policyProtocolOf(plan.protocol);
  if (protocol === undefined || !policy.protocols.includes(protocol)) {
    throw new PolicyError('protocol', `plan asks for ${protocol ?? plan.protocol}; this player takes part in ${policy.protocols.join(', ')}`, { party: me });
  }
  if (plan.server !== roles.modelOwner) throw new PolicyError('roster', `plan names '${plan.server}' as SERVER, the config's model owner is '${roles.modelOwner}'`, { party: me });
  const bad = plan.aggregators.find((a) => !roles.servers.includes(a));
  if (bad !== undefined) throw new PolicyError('roster', `plan names '${bad}' as an aggregator, not a compute server of the config`, { party: me });
  const foreign = plan.clients.find((c) => !roles.dataOwners.includes(hostOf(c)));
  if (foreign !== undefined) throw new PolicyError('roster', `plan names client '${foreign}', not hosted by a data owner of the config`, { party: me });
  const owners = new Set(plan.clients.map(hostOf)).size;
  if (owners < policy.minContributors) {
    throw new PolicyError('minContributors', `${owners} distinct data owners among the plan's clients, fewer than the minimum of ${policy.minContributors}`, { party: me, count: owners, minimum: policy.minContributors });
  }
  if (protocol === 'secagg') checkSecAggPolicy(plan, policy, me);
}

/**
 * A SecAgg plan against this player's policy, before any role runs: its
 * adversary mode (a policy requiring 'malicious' refuses the semi-honest
 * variant) and the threshold t every party derives for the plan's clients
 * (at least the policy's secaggMinThreshold). PolicyError 'secagg'.
 */
export function checkSecAggPolicy(plan: AggregationPlan, policy: PartyPolicy, me: string): void {
  const adversary = plan.params['adversary'];
  if (policy.secaggAdversary === 'malicious' && adversary !== 'malicious') {
    throw new PolicyError('secagg', `the plan runs secagg's ${JSON.stringify(adversary)} variant; this player takes part in the malicious-server variant only`, { party: me });
  }
  // (the parameters are checked in full by the role; here only what this player's policy adds)
  const options = secAggOptionsFromParams(plan.params);
  const setup = secAggSetup(secAggParams({ ...options, ...(options.adversary === 'malicious' ? { signingKeys: new Map() } : {}) }, 'secagg plan').params, plan, me);
  if (setup.t < policy.secaggMinThreshold) {
    throw new PolicyError('secagg', `the plan's threshold is t = ${setup.t} for its ${setup.n} clients; this player requires at least ${policy.secaggMinThreshold}`, { party: me, count: setup.t, minimum: policy.secaggMinThreshold });
  }
}

export interface SessionServeOptions {
  readonly policy: PartyPolicy;
  /** This player's data source (data owners). */
  readonly data?: DataSource;
  /** Clients this player hosts (data owners; default 1: the player itself is the client). */
  readonly clients?: number;
  readonly log?: (line: string) => void;
  /** Resolve after this many sessions (tests); default: forever. */
  readonly maxSessions?: number;
  /** Deadline of each protocol receive, ms. */
  readonly timeoutMs?: number;
  /** Stop serving (checked when a wait for the next session fails). */
  readonly stopped?: () => boolean;
  /** This player's X25519 identity (from its key file): Paillier's sealed boxes. */
  readonly identity?: Identity;
  /** Refuse Paillier plans with a smaller modulus (default 2048; tests only go lower). */
  readonly minPaillierKeyBits?: number;
  /** Dropout tolerance as a compute server: how long it waits for the data owners' contributions (ms; default: until each one's link is lost or its deadline). */
  readonly collectMs?: number;
  /** A value an encrypted computation reveals to this player (compute-player.ts). */
  readonly onOutput?: (o: ComputeOutput) => void;
}

interface OpenMessage {
  v: 1;
  session: string;
  configHash: string;
  /** An encrypted computation's request (compute-request.ts) instead of a federated session. */
  computation?: unknown;
}

/** Serve remote execution sessions from the config's model owner, one at a time. */
export async function serveSessions(transport: Transport, config: DeployConfig, me: string, o: SessionServeOptions): Promise<void> {
  const log = o.log ?? ((s: string) => console.error(s));
  const roles = configRoles(config);
  const hash = configHash(config);
  const isOwner = roles.dataOwners.includes(me);
  const n = o.clients ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new RangeError(`serveSessions: "clients" expected an integer in [1, 100000], got ${n}`);
  const clients = !isOwner ? [] : n === 1 && o.clients === undefined ? [me] : Array.from({ length: n }, (_, i) => hostedName(me, i));
  const hosting = new HostingTransport(transport);
  const seen = new Set<string>();
  let pause = 50;
  for (let served = 0; served < (o.maxSessions ?? Infinity); ) {
    let bytes: Uint8Array;
    try {
      bytes = await transport.receive(me, roles.modelOwner, SESSION_KEY);
      pause = 50;
    } catch (e) {
      // the model owner's link went away (it ended its run): wait for the next one, unless this player stops
      if ((o.stopped?.() ?? false) || /transport is closed|transport closed/.test((e as Error).message)) return;
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(1000, pause * 2);
      continue;
    }
    let open: OpenMessage;
    try {
      open = JSON.parse(dec.decode(bytes)) as OpenMessage;
      if (open?.v !== 1 || typeof open.session !== 'string' || !/^[0-9a-f]{16}$/.test(open.session)) throw new RangeError('malformed session request');
      if (open.configHash !== hash) throw new RangeError(`session for another config (hash ${(JSON.stringify(open.configHash) ?? 'none').slice(0, 20)}, this player's is ${hash.slice(0, 12)})`);
      if (seen.has(open.session)) throw new PolicyError('jobId', `session ${open.session} was used before`, { party: me });
    } catch (e) {
      // a request's text reaches this line through JSON.parse's message: escaped, so it cannot forge log lines
      log(`${me}: refused a session: ${JSON.stringify((e as Error).message).slice(1, -1).slice(0, 300)}`);
      const id = (() => { try { return (JSON.parse(dec.decode(bytes)) as { session?: unknown }).session; } catch { return undefined; } })();
      if (typeof id === 'string' && /^[0-9a-f]{16}$/.test(id)) {
        await transport.send(me, roles.modelOwner, `exec/${id}/open`, enc.encode(JSON.stringify({ ok: false, error: (e as Error).message, ...(e instanceof PolicyError ? { rule: e.rule } : {}) }))).catch(() => {});
      }
      continue;
    }
    seen.add(open.session);
    served++;
    if (open.computation !== undefined) {
      // an encrypted computation: its own checks and answer (compute-player.ts)
      try {
        await serveComputation(transport, config, me, open.session, open.computation, {
          policy: o.policy, log, ...(o.data ? { data: o.data } : {}), ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}), ...(o.onOutput ? { onOutput: o.onOutput } : {}),
        });
      } catch (e) {
        // (e.g. the driver gone before the answer: this player serves the next session)
        log(`${me}: computation session ${open.session} failed: ${JSON.stringify((e as Error).message).slice(1, -1).slice(0, 300)}`);
      }
      continue;
    }
    await transport.send(me, roles.modelOwner, `exec/${open.session}/open`, enc.encode(JSON.stringify({ ok: true, clients })));
    log(`${me}: session ${open.session} opened (${clients.length} client(s) hosted)`);
    const made = new Map<string, AggregationRoles>();
    const before = transport.stats()[me];
    try {
      await servePlayerExecutor(hosting, {
        me,
        driver: roles.modelOwner,
        session: open.session,
        clients,
        ...(o.data ? { data: o.data } : {}),
        policy: rolePolicy(o.policy),
        ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
        ...(o.collectMs !== undefined ? { collectMs: o.collectMs } : {}),
        checkPlan: (plan) => checkPlanAgainstConfig(plan, config, o.policy, me),
        roles: (plan) => {
          const baseKey = `${plan.protocol} ${JSON.stringify(plan.params)}`;
          let r: AggregationRoles | undefined;
          const p = policyProtocolOf(plan.protocol)!;
          // (secagg's malicious variant pins the keys of the plan's clients: one role set per roster)
          const key = p === 'secagg' && plan.params['adversary'] === 'malicious' ? `${baseKey} ${plan.clients.join(',')}` : baseKey;
          r = made.get(key);
          if (r === undefined) {
            const signingKey = (o.identity as { tls?: { privateKey?: KeyObject } } | undefined)?.tls?.privateKey;
            r = ROLE_SETS[p].make(plan.params, {
              me, config, ...(o.identity ? { identity: o.identity } : {}), ...(o.minPaillierKeyBits ? { minPaillierKeyBits: o.minPaillierKeyBits } : {}),
              ...(signingKey ? { signingKey } : {}), hosted: clients, roster: plan.clients,
            });
            made.set(key, r);
            // (only with this player's own opt-in, checked before: said in its log, once per session)
            if (!r.secure) log(`${me}: WARNING: session ${open!.session} runs the INSECURE ${plan.protocol} protocol (opted in locally with --insecure-allow-plaintext): the values of this player's clients reach ${plan.target === 'SERVER' ? plan.server : 'the aggregators'} in the clear`);
          }
          return r;
        },
        log,
      });
      log(`${me}: session ${open.session} ended (${traffic(before, transport.stats()[me])})`);
    } catch (e) {
      log(`${me}: session ${open.session} failed: ${(e as Error).message}`);
    } finally {
      for (const r of made.values()) await r.close?.();
    }
  }
}

/** What this player sent and received during a session (its transport's counters, every hosted client's messages included). */
function traffic(before: PlayerStats | undefined, after: PlayerStats | undefined): string {
  const d = (k: keyof PlayerStats) => (after?.[k] ?? 0) - (before?.[k] ?? 0);
  return `sent ${d('bytesSent')} B in ${d('messagesSent')} messages, received ${d('bytesReceived')} B in ${d('messagesReceived')} messages`;
}

export interface OpenSessionOptions {
  readonly protocol: NetworkProtocol;
  /** Public parameters of the protocol (precision, ...). */
  readonly params?: Readonly<Record<string, unknown>>;
  /** The driver's own policy as SERVER. */
  readonly policy: PartyPolicy;
  /** The model owner's X25519 identity (from its key file): Paillier's sealed boxes. */
  readonly identity?: Identity;
  /** Deadline of each reply, ms (default 10 minutes). */
  readonly timeoutMs?: number;
  /**
   * Dropout tolerance: the driver goes on without a data owner lost in an
   * aggregation (ABY3, Pond: the plans ask for it; Paillier: SERVER marks a
   * client whose box is not in by `collectMs` absent).
   */
  readonly dropout?: boolean;
  /** Paillier with dropout: how long SERVER waits for the clients' sealed boxes, ms (default 10 s); SecAgg: SERVER's deadline per round (default with dropout: the session's timeoutMs; without dropout and collectMs: none, every client must answer). */
  readonly collectMs?: number;
  readonly onDropout?: (d: Dropout) => void;
}

/** Open a session with every player of the config; resolves with a remote execution context over them. */
export async function openSession(transport: Transport, config: DeployConfig, o: OpenSessionOptions): Promise<RemoteContext> {
  const roles = configRoles(config);
  const me = roles.modelOwner;
  // the compute servers the protocol needs (its aggregators are the first of them), before anything is sent
  const needed = o.protocol === 'aby3' || o.protocol === 'pond' ? 3 : o.protocol === 'secagg' ? 0 : 1;
  if (roles.servers.length < needed) {
    throw new ConfigError(`players: ${o.protocol} needs ${needed === 3 ? '3 players' : 'a player'} with role "compute-server" (${o.protocol === 'paillier' ? 'the aggregation service' : o.protocol === 'plaintext' ? "the insecure reference's aggregator" : 'its compute servers'}), the config has ${roles.servers.length}`, 'players');
  }
  const session = [...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, '0')).join('');
  // (secagg has no aggregator parties: the compute servers, if any, are not asked)
  const players = [...roles.dataOwners, ...(o.protocol === 'secagg' ? [] : roles.servers)];
  const msg = enc.encode(JSON.stringify({ v: 1, session, configHash: configHash(config) } satisfies OpenMessage));
  await Promise.all(players.map((p) => transport.send(me, p, SESSION_KEY, msg)));
  const timeoutMs = o.timeoutMs ?? 600_000;
  const replies = await Promise.all(
    players.map(async (p) => {
      const r = JSON.parse(dec.decode(await transport.receive(me, p, `exec/${session}/open`, { timeoutMs }))) as { ok?: unknown; clients?: unknown; error?: unknown; rule?: unknown };
      if (r.ok !== true) {
        const why = typeof r.error === 'string' ? r.error.slice(0, 500) : 'refused';
        if (typeof r.rule === 'string') throw new PolicyError(r.rule, why, { party: p });
        throw new Error(`player '${p}' refused the session: ${why}`);
      }
      const clients = Array.isArray(r.clients) ? r.clients : [];
      if (!clients.every((c): c is string => typeof c === 'string' && hostOf(c) === p)) throw new Error(`player '${p}' answered with clients it does not host`);
      return { name: p, clients } satisfies RemotePlayer;
    }),
  );
  const clientCount = replies.reduce((a, r) => a + r.clients.length, 0);
  if (o.dropout && o.protocol === 'plaintext') throw new RangeError('openSession: dropout tolerance is built for aby3, pond and paillier, not plaintext');
  const params =
    o.protocol === 'paillier' ? { maxClients: clientCount, ...(o.params ?? {}) }
    // (SecAgg tolerates dropouts by itself: SERVER's deadline per round decides who dropped)
    : o.protocol === 'secagg' ? { ...(o.params ?? {}) }
    : { ...(o.params ?? {}), ...(o.dropout ? { dropout: true } : {}) };
  const roster = replies.flatMap((r) => r.clients);
  const rs = ROLE_SETS[o.protocol].make(params, { me, config, ...(o.identity ? { identity: o.identity } : {}), minPaillierKeyBits: 1, roster });
  return remoteExecutionContext({
    transport: new HostingTransport(transport),
    server: me,
    session,
    players: replies,
    roles: rs,
    aggregators: roles.servers.slice(0, rs.aggregatorCount),
    policy: rolePolicy(o.policy),
    timeoutMs,
    ...(o.dropout ? { dropout: true } : {}),
    ...(o.onDropout ? { onDropout: o.onDropout } : {}),
    ...(o.dropout && o.protocol === 'paillier' ? { collectMs: o.collectMs ?? 10_000 } : {}),
    // SecAgg's SERVER: each round's collection ends at this deadline; a client not in by then dropped out (without dropout: every client must answer).
    // By default the session's deadline: a player that dies is dropped at once (its link is lost); the window only bounds one that hangs, and
    // round 0's window runs while the data owners compute their inputs (FedAvg: local training), so a short one would drop slow honest owners
    ...(o.protocol === 'secagg' && (o.dropout || o.collectMs !== undefined) ? { collectMs: o.collectMs ?? timeoutMs } : {}),
  });
}
