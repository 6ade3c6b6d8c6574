/**
 * Networked FedSGD as one SPMD program: every process (the model owner, each
 * data owner, each compute server) runs this code and executes only its own
 * parts, over any Transport (gRPC across processes, or MemoryTransports on
 * one hub to simulate them in one process).
 *
 * Per round r (rendezvous keys `<jobId>/r<r>/...`):
 *   1. the model owner sends `go` to every player: the weights to each data
 *      owner, an empty marker to each compute server;
 *   2. each data owner sets the weights, computes its gradient on its next
 *      batch (data order = f(seed, round)), and secret-shares
 *      (w_i / sum w) * grad_i to the servers (ABY3 / Pond; the public factor
 *      is folded into the owner's fixed-point encoding, as in secureMean with
 *      meanScaling 'owners'); plaintext: sends grad_i to the model owner;
 *   3. the servers add the shares and reveal the sum to the model owner only
 *      (exact ring sum, so the result is deterministic: the same bits as the
 *      in-process secureMean);
 *   4. every player sends `done` (data owners: loss, examples); the model
 *      owner applies the mean with its optimizer and checkpoints.
 * Every receive of a round has the round deadline. A failure anywhere ends
 * the round with a RoundError naming the player at fault; the model owner's
 * state stays that of the last completed round.
 */
import { flushMarks, mark, TRACE, tracedTransport } from '../runtime/remote/trace.js';
import { decode, encode } from '../encrypted/fixed.js';
import { RingArena } from '../encrypted/arena.js';
import { Player } from '../encrypted/player.js';
import { ABY3 } from '../encrypted/protocols/aby3.js';
import { Pond } from '../encrypted/protocols/pond.js';
import type { ReplicatedTensor } from '../encrypted/tensor.js';
import type { Transport } from '../transport/channel.js';
import { encodeJobSpec, jobPeers, JobError, parseJobSpec, configRoles, configHash, type JobSpec } from './job.js';
import { checkAgreement, encodeAgreement, revealingServers, specHash } from './agreement.js';
import { TransportError } from '../transport/errors.js';
import { checkJob, describePolicy, isPolicyRule, parseConfigPolicy, PolicyError, refusalOf, resolvePolicy, type PartyPolicy, type PolicyRoster } from './policy.js';
import type { DeployConfig } from '../transport/config.js';
import type { DataOwner, ModelOwner } from '../learning/roles.js';
// a leaf module (no tfjs): imported statically, since a dynamic import() in the round loop costs a
// round trip to the ESM loader's hooks thread under tsx, several ms on a busy machine
import { BadUpdateError, validateUpdate, weightedMeanPlain } from '../learning/aggregator.js';

export const JOB_KEY = 'fedcrypt/job';
// FEDCRYPT_TRACE=1: per-round phase times on stderr (runtime/remote/trace.ts: `trace <player> r<round> <phase>@<time> ...`)
const flushRound = (me: string, r: number, out: (line: string) => void): void => flushMarks(me, `r${r}`, out);
/** Job control frames carry the largest round id, so a player still in an older round accepts them. */
const CONTROL_ROUND = 2 ** 32 - 1;
const GO_ROUND = 1;
const GO_END = 0;
const enc = new TextEncoder();
const dec = new TextDecoder();

export class RoundError extends Error {
  override name = 'RoundError';
  constructor(message: string, readonly round: number, readonly player: string | undefined, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

/**
 * The text of a failure a player reports to the model owner. Errors about the
 * job, the policy, the round or the links say nothing of this player's data
 * and go as they are; any other error (encoding a value out of range, the
 * model computation) may quote values of the update, so the model owner gets
 * its class only and the details stay in the player's own log.
 */
export function reportText(e: unknown, me: string): string {
  if (e instanceof PolicyError || e instanceof JobError || e instanceof RoundError || e instanceof TransportError) return e.message;
  const name = e instanceof Error ? e.name : typeof e;
  return `${name} at '${me}' (details in its own log)`;
}

/** Set the transport's round id where the transport has one (gRPC). */
export function setTransportRound(t: Transport, round: number): void {
  const g = t as Transport & { setRound?: (r: number) => void };
  if (typeof g.setRound === 'function') g.setRound(round);
}

const json = (v: unknown): Uint8Array => enc.encode(JSON.stringify(v));

/**
 * Send a job acknowledgement at the control round id, as the job spec came:
 * the driver stays at that round until every job spec is out (a slow peer can
 * take a while), and a frame of an older round would be dropped there.
 * Nothing else reaches this player before the driver has every acknowledgement,
 * and the round is back to 0 as soon as the frame is written.
 */
async function sendAck(transport: Transport, from: string, to: string, key: string, payload: Uint8Array): Promise<void> {
  setTransportRound(transport, CONTROL_ROUND);
  try {
    await transport.send(from, to, key, payload);
  } finally {
    setTransportRound(transport, 0);
  }
}
const unjson = <T>(b: Uint8Array): T => JSON.parse(dec.decode(b)) as T;

function f32Bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
/**
 * The n float32 values of `b` from byte `offset`: a view where they are
 * 4-byte aligned (a received payload is the receiver's own buffer, never
 * written again by the transport), else a copy. Read-only use only: with the
 * in-memory transport, every data owner gets the same payload.
 */
function bytesF32(b: Uint8Array, offset: number, what: string, n: number): Float32Array {
  if (b.length - offset !== n * 4) throw new JobError(`${what}: expected ${n} float32 values (${n * 4} bytes), got ${b.length - offset} bytes`);
  if ((b.byteOffset + offset) % 4 === 0) return new Float32Array(b.buffer, b.byteOffset + offset, n);
  const out = new Float32Array(n);
  new Uint8Array(out.buffer).set(b.subarray(offset));
  return out;
}

/** Error text with the peer it names, if any. */
function peerOf(e: unknown): string | undefined {
  const p = (e as { peer?: unknown } | null)?.peer;
  return typeof p === 'string' ? p : undefined;
}

// ------------------------------------------------------------------ the aggregation step (SPMD)

export interface Aggregation {
  /**
   * Run round `round`'s aggregation; `update` is this process's data owner's update (if any).
   * Resolves with the mean at the model owner (valid until the next call: its memory may be reused).
   */
  round(round: number, update: Float32Array | undefined, me: string | undefined): Promise<Float32Array | undefined>;
}

/** FEDCRYPT_TRACE=1: the transport, with a mark when each send and receive of the aggregation resolves (keys without the protocol id and the op counter). */
const traced = (t: Transport): Transport => tracedTransport(t, 2);

/** The job's aggregation: one protocol instance per job (id `job-<jobId>`), one sum and reveal per round. */
export function jobAggregation(spec: JobSpec, transport: Transport): Aggregation {
  transport = traced(transport);
  const n = spec.numParams;
  const counts = spec.dataOwners.map(() => spec.batchSize);
  let total = 0;
  for (const c of counts) total += c;
  if (spec.protocol === 'plaintext') {
    return {
      async round(r, update, me) {
        const key = `${spec.jobId}/r${r}/update`;
        if (me !== undefined && spec.dataOwners.includes(me)) await transport.send(me, spec.modelOwner, key, f32Bytes(update!));
        if (!transport.isLocal(spec.modelOwner)) return undefined;
        const ups = await Promise.all(spec.dataOwners.map((o) => transport.receive(spec.modelOwner, o, key, { timeoutMs: spec.roundTimeoutMs })));
        return weightedMeanPlain(ups.map((b, i) => bytesF32(b, 0, `update of ${spec.dataOwners[i]!}`, n)), counts);
      },
    };
  }
  const owners = spec.dataOwners.map((o) => new Player(o));
  const mo = new Player(spec.modelOwner);
  const [s0, s1, s2] = spec.servers.map((s) => new Player(s)) as [Player, Player, Player];
  // one protocol instance per job, with an id every process derives alike (rendezvous keys `job-<jobId>/<op>/...`)
  const opts = { precision: spec.precision, transport, id: `job-${spec.jobId}`, players: [...owners, mo], timeoutMs: spec.roundTimeoutMs };
  // meanScaling 'owners', as secureMean: owner i folds the public w_i / sum w into its fixed-point encoding; the servers only add
  const multipliers = counts.map((c) => c / total);
  // where this process runs a data owner, its update; undefined for the owners of other processes
  const inputs = (update: Float32Array | undefined): (Float32Array | undefined)[] => owners.map((o) => (transport.isLocal(o.name) ? update : undefined));
  if (spec.protocol === 'aby3') {
    const pr = new ABY3(s0, s1, s2, opts);
    // The round's working memory (shares, masks, sums: ~6 tensors of n ring elements per process)
    // is reused from round to round (a process-wide pool) where nothing can still read it once the
    // round's sends and receives are done: with every player in this process on the in-memory
    // transport (secureMean's rule), and over gRPC, which encrypts, i.e. copies, a payload to a
    // remote player before its send resolves (and every local player of this process has
    // finished the round when it resolves). Fresh buffers instead cost page faults and garbage
    // every round. Only a completed round gives its memory back: after a failure, a send may still be pending.
    const allLocal = [...owners, mo, s0, s1, s2].every((p) => transport.isLocal(p.name));
    const pooled = transport.kind === 'grpc' || (transport.kind === 'memory' && allLocal);
    // the mean (the model owner's output), reused from round to round: the caller applies it before the next round
    const mean = transport.isLocal(mo.name) ? new Float32Array(n) : undefined;
    return {
      async round(_r, update) {
        // secureMean's path (ABY3.aggregateInto), run SPMD: each owner sends seeds to server0 and one
        // masked component to server1; server0 and server1 each send one sum to the model owner
        const arena = new RingArena({ pooled });
        const out = await pr.aggregateInto(owners, inputs(update), multipliers, mo, mean, { size: n, arena });
        mark('revealed');
        arena.dispose();
        return out;
      },
    };
  }
  const pr = new Pond(s0, s1, s2, opts);
  const p3 = pr as unknown as ABY3; // Pond shares the generic Protocol API used here
  return {
    async round(_r, update) {
      // secureMean's Pond path: encryptEncoded (scale folded into the encoding) + addN + revealRing + decode
      const x = inputs(update);
      const shares = await Promise.all(
        owners.map((o, i) => {
          const w = multipliers[i]!;
          if (w === 1) return p3.encrypt(o, x[i], { shape: [n] });
          return p3.encryptEncoded(o, (cfg) => encode(x[i]!, [n], cfg, 'secureMean', w), [n]);
        }),
      );
      const sum = p3.addN(shares as ReplicatedTensor[]);
      const revealed = await p3.revealRing(sum, mo);
      if (revealed === undefined) return undefined;
      const out = new Float32Array(n);
      decode(revealed, p3.fixed, p3.fixed.frac, out);
      return out;
    },
  };
}

// ------------------------------------------------------------------ data owner set-up

const sliceCache = new Map<string, import('../learning/mnist.js').Dataset>();

/** Data owner `index` of the job, as train() builds it (same slice, same data-order seed), advanced to the job's start round. */
export async function makeDataOwner(spec: JobSpec, index: number): Promise<DataOwner> {
  const L = await import('../learning/index.js');
  await L.initTf();
  const cacheKey = `${spec.dataset}/${spec.dataOwners.length}/${spec.nonIid}/${index}`;
  let mine = sliceCache.get(cacheKey);
  if (mine === undefined) {
    const data = L.loadDataset(spec.dataset);
    const part = L.splitForOwners(data.train, spec.dataOwners.length, spec.nonIid)[index]!;
    // keep only this owner's slice (a copy), not the whole training set
    mine = { ...part, images: part.images.slice(), labels: part.labels.slice() };
    sliceCache.clear();
    sliceCache.set(cacheKey, mine);
  }
  const owner = new L.DataOwner(spec.dataOwners[index]!, spec.model, { train: mine, test: mine }, mine, {
    batchSize: spec.batchSize, seed: spec.seed, shuffleSeed: spec.seed * 7919 + index,
  });
  owner.skipBatches(spec.startRound);
  return owner;
}

// ------------------------------------------------------------------ player side

export interface PlayerJobResult {
  jobId: string;
  rounds: number;
}

/** What a player checks every job against: its own policy and the config's roster. */
export interface PlayerGuard {
  policy: PartyPolicy;
  roster: PolicyRoster;
}

/**
 * Run this process's parts of a job (data owner or compute server). The job
 * is checked against `guard` first (PolicyError, nothing sent), so a compute
 * server never reveals, and a data owner never shares, an aggregate its
 * policy refuses, whoever calls this.
 */
export async function runPlayerJob(transport: Transport, spec: JobSpec, me: string, guard: PlayerGuard, prepared?: DataOwner): Promise<PlayerJobResult> {
  checkJob(guard.policy, spec, guard.roster, me);
  const mo = spec.modelOwner;
  const ownerIndex = spec.dataOwners.indexOf(me);
  const isServer = spec.servers.includes(me) && spec.protocol !== 'plaintext';
  if (ownerIndex < 0 && !isServer) throw new JobError(`player '${me}' has no part in job ${spec.jobId}`);
  let abortReject!: (e: Error) => void;
  const abort = new Promise<never>((_, reject) => (abortReject = reject));
  abort.catch(() => {});
  transport.receive(me, mo, `${spec.jobId}/abort`).then(
    (b) => abortReject(new JobError(`job ${spec.jobId} aborted by the model owner: ${dec.decode(b)}`)),
    (e: Error) => abortReject(e),
  );
  const race = <T>(p: Promise<T>): Promise<T> => Promise.race([p, abort]);
  let round = spec.startRound;
  let owner: DataOwner | undefined;
  try {
    owner = ownerIndex >= 0 ? (prepared ?? (await makeDataOwner(spec, ownerIndex))) : undefined;
    const agg = jobAggregation(spec, transport);
    const hash = specHash(spec);
    const checkers = revealingServers(spec);
    for (let r = spec.startRound + 1; ; r++) {
      const tWait = performance.now();
      const go = await race(transport.receive(me, mo, `${spec.jobId}/r${r}/go`, { timeoutMs: spec.idleTimeoutMs }));
      const tGo = performance.now();
      mark('go');
      if (go[0] === GO_END) break;
      // the job's rounds are what this player accepted: no round past totalSteps
      if (r > spec.totalSteps) throw new PolicyError('maxRounds', `round ${r} asked for, the job accepted has ${spec.totalSteps} rounds: ${me} takes no part`);
      round = r;
      setTransportRound(transport, r);
      let update: Float32Array | undefined;
      let status: { loss?: number; examples?: number; bad?: string } = {};
      if (owner) {
        // what this owner got, to the servers that reveal: they check every owner got the same job and weights
        const agreement = encodeAgreement(hash, go.subarray(4), guard.policy.minContributors);
        const told = Promise.all(checkers.map((s) => transport.send(me, s, `${spec.jobId}/r${r}/agree`, agreement)));
        owner.updateModel(bytesF32(go, 4, `weights of round ${r}`, spec.numParams));
        mark('weights');
        const g = owner.computeGradient();
        mark('grad');
        try {
          validateUpdate(me, g.grad, spec.numParams);
        } catch (e) {
          // the details (values, indices) stay in this player's log: the report to the model owner is generic
          if (e instanceof BadUpdateError) throw new RoundError(`data owner '${me}' computed a non-finite or wrong-size update in round ${r} (details in its own log)`, r, me, e);
          throw e;
        }
        update = g.grad;
        status = { loss: g.loss, examples: g.examples };
        await race(told);
      } else if (checkers.includes(me)) {
        const got = await race(Promise.all(spec.dataOwners.map((o) => transport.receive(me, o, `${spec.jobId}/r${r}/agree`, { timeoutMs: spec.roundTimeoutMs }))));
        checkAgreement(hash, got, spec.dataOwners, r, me);
      }
      const tg = performance.now();
      await race(agg.round(r, update, me));
      await race(transport.send(me, mo, `${spec.jobId}/r${r}/done`, json(status)));
      mark('done');
      flushRound(me, r, (l) => console.error(l));
      if (TRACE) console.error(`${me} r${r}: waited go ${(tGo - tWait).toFixed(0)} ms, local ${(tg - tGo).toFixed(0)} ms, aggregation ${(performance.now() - tg).toFixed(0)} ms`);
    }
    return { jobId: spec.jobId, rounds: round - spec.startRound };
  } catch (e) {
    // tell the model owner what went wrong and whom it concerns (best effort), never data-derived details
    const report = { round, peer: peerOf(e) ?? (e instanceof RoundError ? e.player : undefined), message: reportText(e, me) };
    await Promise.race([transport.send(me, mo, `${spec.jobId}/fail`, json(report)).catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())]);
    throw e;
  } finally {
    owner?.dispose();
  }
}

export interface ServeOptions {
  /** Stop serving (checked between jobs). */
  stopped?: () => boolean;
  log?: (line: string) => void;
  /** Resolve after this many jobs (tests); default: forever. */
  maxJobs?: number;
  /** This player's policy (default: the config's `"policy"` over the secure defaults, no local options). */
  policy?: PartyPolicy;
}

/**
 * Serve jobs in sequence: wait for a job spec from the config's model owner,
 * check it (same config hash, names this player, passes this player's
 * policy), acknowledge, run it, and wait for the next one. A refused job is
 * logged and answered with the refusal only (its rule and reason): the
 * player sends nothing else for it.
 */
export async function servePlayer(transport: Transport, config: DeployConfig, me: string, options: ServeOptions = {}): Promise<void> {
  const log = options.log ?? ((s: string) => console.error(s));
  const roster = configRoles(config);
  const { modelOwner } = roster;
  const policy = options.policy ?? resolvePolicy(parseConfigPolicy(config.policy));
  const guard: PlayerGuard = { policy, roster };
  log(`${me}: policy: ${describePolicy(policy)}`);
  for (const w of policy.warnings ?? []) log(`${me}: WARNING: ${w}`);
  const hash = configHash(config);
  // job ids this process has taken part in: a reused id would reuse its rendezvous keys and masks' labels
  const seenJobs = new Set<string>();
  let jobs = 0;
  while (!(options.stopped?.() ?? false) && jobs < (options.maxJobs ?? Infinity)) {
    setTransportRound(transport, 0);
    let bytes: Uint8Array;
    try {
      bytes = await transport.receive(me, modelOwner, JOB_KEY);
    } catch (e) {
      if ((options.stopped?.() ?? false) || /closed/.test((e as Error).message) && /transport is closed|transport closed/.test((e as Error).message)) break;
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    let spec: JobSpec;
    try {
      spec = parseJobSpec(bytes);
      if (spec.configHash !== hash) throw new JobError(`job for another config (hash ${spec.configHash.slice(0, 12)}, this player's config has ${hash.slice(0, 12)})`);
      if (spec.modelOwner !== modelOwner) throw new JobError(`job names model owner '${spec.modelOwner}', the config's is '${modelOwner}'`);
      if (!jobPeers(spec).includes(me)) throw new JobError(`job ${spec.jobId} gives player '${me}' no part`);
      checkJob(policy, spec, roster, me);
      if (seenJobs.has(spec.jobId)) throw new PolicyError('jobId', `job id ${spec.jobId} was used before: ${me} takes part in each job id once`);
    } catch (e) {
      const id = (() => { try { return (JSON.parse(dec.decode(bytes)) as { jobId?: unknown }).jobId; } catch { return undefined; } })();
      const jobName = typeof id === 'string' && /^[0-9a-f]{12}$/.test(id) ? id : undefined;
      log(`${me}: refused ${jobName ? `job ${jobName}` : 'a job'}: ${(e as Error).message}`);
      if (jobName) await sendAck(transport, me, modelOwner, `${jobName}/ack`, json({ ok: false, ...refusalOf(e) })).catch(() => {});
      continue;
    }
    jobs++;
    seenJobs.add(spec.jobId);
    try {
      // load the data (and tfjs) before accepting, so that the first round's deadline does not include it
      const idx = spec.dataOwners.indexOf(me);
      const prepared = idx >= 0 ? await makeDataOwner(spec, idx) : undefined;
      // a plaintext job runs only by this operator's local opt-in: say so here and to the model owner
      const insecure = spec.protocol === 'plaintext';
      await sendAck(transport, me, modelOwner, `${spec.jobId}/ack`, json({ ok: true, ...(insecure ? { insecurePlaintextOptIn: true } : {}) }));
      log(`${me}: job ${spec.jobId}: ${spec.protocol} ${spec.model}, rounds ${spec.startRound + 1}..${spec.totalSteps}${insecure ? " (INSECURE: this player's update goes to the model owner in the clear, by the local --insecure-allow-plaintext)" : ''}`);
      const r = await runPlayerJob(transport, spec, me, guard, prepared);
      log(`${me}: job ${spec.jobId} finished (${r.rounds} rounds)`);
    } catch (e) {
      log(`${me}: job ${spec.jobId} failed: ${(e as Error).message}`);
    }
  }
}

// ------------------------------------------------------------------ model owner (driver) side

export interface DriverRound {
  round: number;
  epoch: number;
  totalSteps: number;
  trainLoss: number;
  ms: number;
}

export interface DriverHooks {
  onRound?: (r: DriverRound) => void | Promise<void>;
  /** After the model owner applied round `round` (checkpoint here). */
  afterRound?: (round: number) => void | Promise<void>;
  log?: (line: string) => void;
}

class FailureCollector {
  #signals: { player: string | undefined; message: string; rank: number }[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #reject!: (e: Error) => void;
  readonly promise: Promise<never>;
  active = true;
  #started = performance.now();
  constructor(readonly round: () => number) {
    this.promise = new Promise<never>((_, rej) => (this.#reject = rej));
    this.promise.catch(() => {});
  }
  /** Start timing a new round. */
  restart(): void {
    this.#started = performance.now();
  }
  /** rank: 0 link lost, 1 reported by a peer, 2 error seen here, 3 deadline */
  signal(player: string | undefined, message: string, rank: number): void {
    if (!this.active) return;
    this.#signals.push({ player, message, rank });
    this.#timer ??= setTimeout(() => this.#fire(), 300);
  }
  #fire(): void {
    const best = [...this.#signals].sort((a, b) => a.rank - b.rank)[0]!;
    const r = this.round();
    const who = best.player !== undefined ? `player '${best.player}'` : 'unknown player';
    const ms = (performance.now() - this.#started).toFixed(0);
    this.#reject(new RoundError(`round ${r} failed after ${ms} ms: ${who}: ${best.message}`, r, best.player));
  }
  stop(): void {
    this.active = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }
}

/**
 * The model owner's loop: send the job, wait for every acknowledgement, then
 * run rounds startRound+1 .. totalSteps. On failure throws a RoundError (or
 * JobError at start) naming the player; `modelOwner` then holds the state of
 * the last completed round.
 */
export async function runDriverJob(transport: Transport, spec: JobSpec, modelOwner: ModelOwner, hooks: DriverHooks = {}): Promise<{ rounds: number }> {
  const mo = spec.modelOwner;
  const peers = jobPeers(spec);
  const job = spec.jobId;
  const log = hooks.log ?? (() => {});
  // 1. the job spec, at the control round id (accepted whatever round a player is still in)
  setTransportRound(transport, CONTROL_ROUND);
  const sent = await Promise.allSettled(peers.map((p) => transport.send(mo, p, JOB_KEY, encodeJobSpec(spec))));
  setTransportRound(transport, 0);
  sent.forEach((s, i) => {
    if (s.status === 'rejected') throw new RoundError(`job ${job}: cannot reach player '${peers[i]!}': ${(s.reason as Error).message}`, spec.startRound + 1, peers[i]);
  });
  // a player still busy with an aborted job takes up to a round deadline to notice
  // (and a data owner loads its data before accepting)
  const ackTimeout = 2 * spec.roundTimeoutMs + 60_000;
  // fail fast: the first refusal or missing acknowledgement ends the start
  try {
    await Promise.all(
      peers.map((p) =>
        transport.receive(mo, p, `${job}/ack`, { timeoutMs: ackTimeout }).then(
          (b) => {
            const v = unjson<{ ok: boolean; error?: string; rule?: unknown; insecurePlaintextOptIn?: unknown }>(b);
            if (v.ok) {
              if (v.insecurePlaintextOptIn === true) log(`model owner: player '${p}' takes part in the plaintext job by its operator's local opt-in (--insecure-allow-plaintext): its updates arrive in the clear`);
              return;
            }
            const why = typeof v.error === 'string' ? v.error : '';
            if (isPolicyRule(v.rule)) throw new PolicyError(v.rule, `job ${job}: ${why.replace(/^policy "[A-Za-z]+" refuses: /, '')}`, { party: p });
            throw new JobError(`job ${job}: player '${p}' refused the job: ${why}`);
          },
          (e: Error) => {
            throw new RoundError(`job ${job}: player '${p}' did not accept the job: ${e.message}`, spec.startRound + 1, p);
          },
        ),
      ),
    );
  } catch (e) {
    // the players that accepted leave the job at once instead of waiting for a first round
    await abortJob(transport, spec, peers, (e as Error).message);
    throw e;
  }
  let round = spec.startRound;
  const failure = new FailureCollector(() => round + 1);
  for (const p of peers) {
    transport.receive(mo, p, `${job}/fail`).then(
      (b) => {
        const rep = unjson<{ peer?: string; message?: string }>(b);
        const peer = rep.peer !== undefined && rep.peer !== mo ? rep.peer : p;
        failure.signal(peer, `${rep.message ?? 'failed'} (reported by ${p})`, peer === p ? 1 : 1);
      },
      (e: Error) => failure.signal(p, `link lost (${e.message})`, 0),
    );
  }
  const agg = jobAggregation(spec, transport);
  try {
    for (let r = spec.startRound + 1; r <= spec.totalSteps; r++) {
      const t0 = performance.now();
      mark('start');
      failure.restart();
      setTransportRound(transport, r);
      const done = new Set<string>();
      const deadline = setTimeout(() => {
        const missing = peers.filter((p) => !done.has(p));
        failure.signal(missing[0], `round did not complete within ${spec.roundTimeoutMs} ms (no answer from ${missing.join(', ') || 'nobody?'})`, 3);
      }, spec.roundTimeoutMs);
      const weights = modelOwner.shareWeights();
      const goOwner = new Uint8Array(4 + weights.byteLength);
      goOwner[0] = GO_ROUND;
      goOwner.set(f32Bytes(weights), 4);
      const goServer = Uint8Array.of(GO_ROUND, 0, 0, 0);
      const work = (async () => {
        await Promise.all(peers.map((p) => transport.send(mo, p, `${job}/r${r}/go`, spec.dataOwners.includes(p) ? goOwner : goServer)));
        const tSent = performance.now();
        mark('goSent');
        const [mean, statuses] = await Promise.all([
          agg.round(r, undefined, mo).then((m) => {
            if (TRACE) log(`model owner r${r}: go sent in ${(tSent - t0).toFixed(0)} ms, mean after ${(performance.now() - t0).toFixed(0)} ms`);
            return m;
          }),
          Promise.all(
            peers.map((p) =>
              transport.receive(mo, p, `${job}/r${r}/done`, { timeoutMs: spec.roundTimeoutMs }).then((b) => {
                done.add(p);
                mark(`done:${p}`);
                return unjson<{ loss?: number; examples?: number }>(b);
              }),
            ),
          ),
        ]);
        return { mean: mean!, statuses };
      })();
      // a failure of the work is one signal among others (link losses, peers' reports, the deadline): the collector names the culprit
      const ok = work.then(
        (v) => v,
        (e: Error) => {
          failure.signal(peerOf(e), e.message, 2);
          return new Promise<never>(() => {});
        },
      );
      let res: Awaited<typeof work>;
      try {
        res = await Promise.race([ok, failure.promise]);
      } finally {
        clearTimeout(deadline);
      }
      mark('allDone');
      modelOwner.updateModel(res.mean);
      mark('applied');
      round = r;
      let lossSum = 0;
      let total = 0;
      for (const s of res.statuses) {
        if (typeof s.loss === 'number' && typeof s.examples === 'number') {
          lossSum += s.loss * s.examples;
          total += s.examples;
        }
      }
      await hooks.afterRound?.(r);
      mark('after');
      flushRound(mo, r, log);
      await hooks.onRound?.({ round: r, epoch: Math.ceil(r / spec.stepsPerEpoch), totalSteps: spec.totalSteps, trainLoss: total > 0 ? lossSum / total : NaN, ms: performance.now() - t0 });
    }
    failure.stop();
    // end of job: every player leaves its loop
    setTransportRound(transport, spec.totalSteps + 1);
    await Promise.allSettled(peers.map((p) => transport.send(mo, p, `${job}/r${spec.totalSteps + 1}/go`, Uint8Array.of(GO_END, 0, 0, 0))));
    return { rounds: round - spec.startRound };
  } catch (e) {
    failure.stop();
    log(`model owner: ${(e as Error).message}; aborting job ${job}`);
    await abortJob(transport, spec, peers, (e as Error).message);
    throw e;
  }
}

/** Tell every player to leave the job (best effort, bounded). */
async function abortJob(transport: Transport, spec: JobSpec, peers: readonly string[], why: string): Promise<void> {
  await Promise.race([
    Promise.allSettled(peers.map((p) => transport.send(spec.modelOwner, p, `${spec.jobId}/abort`, enc.encode(why)))),
    new Promise((r) => setTimeout(r, 1000).unref()),
  ]);
}
