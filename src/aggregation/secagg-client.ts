/**
 * A SecAgg / SecAgg+ client's role (Bonawitz et al., CCS'17; Bell et al.,
 * CCS'20), semi-honest variant, as a stage machine:
 *
 *   ADVERTISE  fresh X25519 key pairs (c: encryption, s: masking) → SERVER;
 *   SHARE      receives the keys of U1, checks them, derives the session id
 *              and the graph; Shamir t-of-(d+1) of s_sk and of a fresh
 *              self-mask seed b among itself and its d alive neighbours, each
 *              pair of shares encrypted to its holder → SERVER;
 *   MASK       receives the shares its neighbours in U2 sent it, opens them;
 *              y = x + PRG(b) + Σ_{u ∈ U2 ∩ N} ±PRG(X25519(s_sk, s_pk_u)) → SERVER;
 *   CONSISTENCY (malicious-server variant, secagg-consistency.ts) receives
 *              U3, checks and signs it;
 *   UNMASK     (malicious: first, at least t signatures of its U3)
 *              receives the alive and dead neighbours; reveals, for each
 *              alive one (and itself) its seed share, for each dead one its
 *              key share, never both for one peer → SERVER;
 *   DONE.
 *
 * Before each send it checks the message it answers and refuses, sending
 * nothing more, with a SecAggViolationError naming the rule
 * (secagg-errors.ts; docs/secagg.md has the table).
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { bytesEqual, exportPrivateKey, generateIdentity, type Identity } from '../crypto/identity.js';
import { pairwiseMaskKey, pairwiseSign, selfMaskKey } from '../crypto/mask-prg.js';
import { MaskSum } from '../crypto/mask-sum.js';
import { shamirSplit } from '../crypto/shamir.js';
import type { AggregationPlan } from './plan.js';
import { checkClientInput, checkContributors, enforcePlan, type AggregationRoles, type ClientInput, type PartyContext } from './roles.js';
import { SecAggViolationError, type SecAggRule } from './secagg-errors.js';
import { openShares, sealShares } from './secagg-crypto.js';
import { cachedGraph, cachedPlanDigest, cachedSessionId, keysView, type KeysView } from './secagg-round-cache.js';
import { secAggEncoding } from './secagg-encoding.js';
import { secAggSetup, type SecAggParams, type SecAggSetup } from './secagg-setup.js';
import { advertisePayload, checkSignatures, checkSurvivorSet, signBytes, survivorsPayload, verifyBytes, type SecAggSigning } from './secagg-consistency.js';
import {
  advertiseToBytes,
  maskedToBytes,
  revealToBytes,
  sealedFromBytes,
  sealedToBytes,
  secAggKey,
  signatureToBytes,
  signaturesFromBytes,
  survivorsFromBytes,
  UnknownIndexError,
  unmaskFromBytes,
  type RevealedShare,
  type ShareKind,
} from './secagg-wire.js';

/** What the role set gives a role: its parameters and the party's memory across aggregations. */
export interface SecAggHost {
  readonly roles: AggregationRoles;
  readonly params: SecAggParams;
  /** Record that `me` takes part in `invocationId`; false when it already did (a repeated round id). */
  claimRound(me: string, invocationId: string): boolean;
  /** The pinned Ed25519 keys (malicious-server variant only). */
  readonly signing: SecAggSigning | undefined;
}

export const CLIENT_STAGES = ['ADVERTISE', 'SHARE', 'MASK', 'CONSISTENCY', 'UNMASK', 'DONE'] as const;
export type ClientStage = (typeof CLIENT_STAGES)[number];

/** The graph of a session (the Harary graph's positions come from the session id): `cachedGraph`. */
export { cachedGraph as graphOf };

/** One client's run of one aggregation. */
class ClientRun {
  stage: ClientStage = 'ADVERTISE';
  readonly me: string;
  readonly i: number;
  readonly n: number;
  readonly t: number;
  /** What this client revealed, per peer: never both kinds for one (checked before every reveal). */
  readonly revealed = new Map<number, ShareKind>();
  constructor(
    readonly ctx: PartyContext,
    readonly plan: AggregationPlan,
    readonly setup: SecAggSetup,
    readonly malicious: boolean,
  ) {
    this.me = ctx.me;
    this.i = plan.clients.indexOf(ctx.me);
    this.n = setup.n;
    this.t = setup.t;
  }
  refuse(rule: SecAggRule, message: string): never {
    throw new SecAggViolationError(rule, this.me, message);
  }
  advance(to: ClientStage): void {
    const next = CLIENT_STAGES[CLIENT_STAGES.indexOf(this.stage) + 1];
    // (the semi-honest variant has no consistency round)
    const skip = this.malicious ? next : next === 'CONSISTENCY' ? 'UNMASK' : next;
    if (skip !== to) throw new Error(`secagg client ${this.me}: invalid stage transition ${this.stage} -> ${to}`);
    this.stage = to;
  }
  /** Parse with `parse`; a message that does not parse is refused ('unknown-id' for an index outside the plan, else 'malformed'). */
  parse<T>(what: string, parse: () => T): T {
    try {
      return parse();
    } catch (e) {
      this.refuse(e instanceof UnknownIndexError ? 'unknown-id' : 'malformed', `${what}: ${(e as Error).message}`);
    }
  }
  /** Ids of one list: each once, never this client, each a client of the plan. */
  distinct(what: string, ids: readonly number[]): Set<number> {
    const seen = new Set<number>();
    for (const u of ids) {
      if (u === this.i) this.refuse('repeated-id', `${what} lists this client itself`);
      if (seen.has(u)) this.refuse('repeated-id', `${what} lists client ${u} twice`);
      seen.add(u);
    }
    return seen;
  }
  send(round: number, what: string, payload: Uint8Array): Promise<void> {
    return this.ctx.transport.send(this.me, this.plan.server, secAggKey(this.plan.invocationId, round, what), payload);
  }
  receive(round: number, what: string): Promise<Uint8Array> {
    return this.ctx.transport.receive(this.me, this.plan.server, secAggKey(this.plan.invocationId, round, what), this.ctx.timeoutMs === undefined ? {} : { timeoutMs: this.ctx.timeoutMs });
  }
  /** Add a share to the reveal, refusing a second kind for one peer. */
  reveal(out: RevealedShare[], owner: number, kind: ShareKind, share: Uint8Array): void {
    const before = this.revealed.get(owner);
    if (before !== undefined && before !== kind) this.refuse('both-shares', `asked for the ${kind} share of client ${owner}, whose ${before} share it revealed`);
    if (before === kind) this.refuse('repeated-id', `asked twice for the ${kind} share of client ${owner}`);
    this.revealed.set(owner, kind);
    out.push({ owner, kind, share });
  }
}

export async function secAggClient(host: SecAggHost, ctx: PartyContext, plan: AggregationPlan, input: ClientInput): Promise<void> {
  enforcePlan(host.roles, ctx, plan, 'client');
  checkClientInput(ctx.me, plan, input);
  const setup = secAggSetup(host.params, plan, ctx.me);
  const malicious = host.params.adversary === 'malicious';
  const run: ClientRun = new ClientRun(ctx, plan, setup, malicious);
  const signer = malicious ? host.signing!.signers.get(ctx.me) : undefined;
  const pinnedOf = (u: number): KeyObject => host.signing!.pinned.get(plan.clients[u]!)!;
  if (malicious) {
    if (signer === undefined) throw new RangeError(`${ctx.me}: no Ed25519 signing key of its own ("signers"), which the malicious-server variant needs`);
    const missing = plan.clients.find((c) => !host.signing!.pinned.has(c));
    if (missing !== undefined) throw new RangeError(`${ctx.me}: no pinned Ed25519 key of client '${missing}' ("signingKeys")`);
  }
  if (!host.claimRound(ctx.me, plan.invocationId)) run.refuse('repeated-round', `already took part in aggregation '${plan.invocationId}' (a round id is never run twice: fresh keys and seeds every round)`);
  const enc = secAggEncoding(plan, host.params);
  const x = enc.encode(input);
  const { i, t, n } = run;

  // ADVERTISE: fresh key pairs for this round only
  const c: Identity = generateIdentity();
  const s: Identity = generateIdentity();
  const digest = cachedPlanDigest(plan);
  const sig = signer === undefined ? {} : { sig: signBytes(signer, advertisePayload(digest, i, c.publicKey, s.publicKey)) };
  await run.send(0, 'advertise', advertiseToBytes({ cpk: c.publicKey, spk: s.publicKey, ...sig }));

  // SHARE: the keys of U1
  run.advance('SHARE');
  const keyBytes = await run.receive(1, 'keys');
  // the parse and the checks every client of this round makes alike: once per process (secagg-round-cache.ts)
  const view = run.parse('keys of U1', () => keysView(keyBytes, n, malicious));
  const U1 = checkKeys(run, view, c, s);
  if (malicious) {
    for (const e of view.entries) if (!verifyBytes(pinnedOf(e.index), advertisePayload(digest, e.index, e.cpk, e.spk), e.sig!)) run.refuse('bad-signature', `client ${e.index}'s keys are not signed by its pinned key`);
  }
  const session = cachedSessionId(view, digest);
  const graph = cachedGraph(setup, session);
  const neighbours = graph.neighbours(i).filter((u) => U1.has(u));
  if (neighbours.length + 1 < t) run.refuse('too-few-alive', `${neighbours.length} neighbour(s) in U1 and itself, fewer than t = ${t}`);
  const byIndex = view.byIndex;
  const agreed = new Map<number, Uint8Array>();
  for (const u of neighbours) {
    try {
      agreed.set(u, c.privateKey.agree(byIndex.get(u)!.cpk));
    } catch {
      run.refuse('bad-key', `client ${u}'s encryption key has no shared secret with this client's (a low-order point)`);
    }
  }
  const seed = new Uint8Array(randomBytes(32));
  const sRaw = exportPrivateKey(s.privateKey);
  const holders = [i, ...neighbours];
  const keyShares = shamirSplit(sRaw, t, holders.map((h) => h + 1));
  const seedShares = shamirSplit(seed, t, holders.map((h) => h + 1));
  sRaw.fill(0);
  const ownSeedShare = seedShares[0]!;
  const sealed = neighbours.map((u, j) => ({ peer: u, ct: sealShares(agreed.get(u)!, session, plan.invocationId, i, u, keyShares[j + 1]!, seedShares[j + 1]!) }));
  await run.send(1, 'shares', sealedToBytes('shares', sealed));

  // MASK: the shares of the neighbours in U2
  run.advance('MASK');
  const routedBytes = await run.receive(2, 'routed');
  const routed = run.parse('shares of U2', () => sealedFromBytes('routed', routedBytes, n));
  const U2 = run.distinct('the shares of U2', routed.map((r) => r.peer));
  for (const u of U2) {
    if (!graph.isNeighbour(i, u)) run.refuse('non-neighbour', `shares from client ${u}, not a neighbour`);
    if (!U1.has(u)) run.refuse('not-nested', `shares from client ${u}, not in U1 (U2 must be a subset of U1)`);
  }
  if (U2.size + 1 < t) run.refuse('too-few-alive', `${U2.size} neighbour(s) in U2 and itself, fewer than t = ${t}`);
  const held = new Map<number, { keyShare: Uint8Array; seedShare: Uint8Array }>();
  for (const r of routed) {
    const opened = openShares(agreed.get(r.peer)!, session, plan.invocationId, r.peer, i, r.ct);
    if (opened === undefined) run.refuse('ciphertext', `the shares from client ${r.peer} do not open (tampered, replayed from another round or session, or misrouted)`);
    held.set(r.peer, opened);
  }
  // the release gate (deployed: every player hosting a client of U1 was sent the same commands and plan as this one's)
  // before anything computed from the input leaves this client
  await ctx.releaseGate?.([...U1].map((u) => plan.clients[u]!));
  const label = { round: session, bits: enc.bits };
  const y = new MaskSum(enc.bits, enc.entries);
  y.addValues(x);
  y.addMask(selfMaskKey(seed, label, ctx.me), 1);
  for (const u of U2) {
    let secret: Uint8Array;
    try {
      secret = s.privateKey.agree(byIndex.get(u)!.spk);
    } catch {
      run.refuse('bad-key', `client ${u}'s masking key has no shared secret with this client's (a low-order point)`);
    }
    const peer = plan.clients[u]!;
    y.addMask(pairwiseMaskKey(secret, label, ctx.me, peer), pairwiseSign(ctx.me, peer));
  }
  seed.fill(0);
  await run.send(2, 'masked', maskedToBytes(y.result()));

  // CONSISTENCY (malicious-server variant): sign U3, reveal nothing without t signatures of it
  let signedU3: Set<number> | undefined;
  if (malicious) {
    run.advance('CONSISTENCY');
    const u3Bytes = await run.receive(3, 'survivors');
    const u3 = run.parse('U3', () => survivorsFromBytes(u3Bytes, n));
    signedU3 = checkSurvivorSet(run, u3, (u) => graph.isNeighbour(i, u), U2);
    const u3List = [...signedU3];
    await run.send(3, 'signature', signatureToBytes(signBytes(signer!, survivorsPayload(session, u3List, i))));
    run.advance('UNMASK');
    const sigBytes = await run.receive(4, 'signatures');
    const sigs = run.parse('signatures of U3', () => signaturesFromBytes(sigBytes, n));
    checkSignatures(run, sigs, signedU3, (v) => survivorsPayload(session, u3List, v), pinnedOf);
  } else run.advance('UNMASK');

  // UNMASK: seed shares of the alive, key shares of the dead, never both for one peer
  const reqBytes = await run.receive(4, 'unmask');
  const req = run.parse('unmasking request', () => unmaskFromBytes(reqBytes, n));
  if (req.dead.includes(i)) run.refuse('self-dead', 'the unmasking request lists this client dead');
  const alive = run.distinct('the alive list', req.alive);
  const dead = run.distinct('the dead list', req.dead);
  for (const u of alive) if (dead.has(u)) run.refuse('alive-and-dead', `client ${u} is listed both alive and dead`);
  for (const u of [...alive, ...dead]) {
    if (!graph.isNeighbour(i, u)) run.refuse('non-neighbour', `the unmasking request names client ${u}, not a neighbour`);
    if (!U2.has(u)) run.refuse('not-nested', `the unmasking request names client ${u}, not in U2 (the survivor sets must be nested)`);
  }
  if (alive.size + 1 < t) run.refuse('too-few-alive', `${alive.size} neighbour(s) alive and itself, fewer than t = ${t}`);
  if (signedU3 !== undefined) {
    // the request must follow from the U3 this client signed: alive = its neighbours in U3, dead = its neighbours in U2 \ U3
    const wantAlive = [...U2].filter((u) => signedU3!.has(u));
    const wantDead = [...U2].filter((u) => !signedU3!.has(u));
    if (wantAlive.length !== alive.size || wantAlive.some((u) => !alive.has(u)) || wantDead.length !== dead.size || wantDead.some((u) => !dead.has(u))) {
      run.refuse('inconsistent-survivors', 'the unmasking request departs from the U3 this client signed');
    }
  }
  if (setup.graph === 'complete') checkContributors({ ...plan, clients: [ctx.me, ...[...alive].map((u) => plan.clients[u]!)] }, ctx.policy, ctx.me);
  // (malicious-server variant: the signed U3 is the sum's whole membership, on any graph)
  if (signedU3 !== undefined) checkContributors({ ...plan, clients: [...signedU3].map((u) => plan.clients[u]!) }, ctx.policy, ctx.me);
  const out: RevealedShare[] = [];
  run.reveal(out, i, 'seed', ownSeedShare);
  for (const u of alive) run.reveal(out, u, 'seed', held.get(u)!.seedShare);
  for (const u of dead) run.reveal(out, u, 'key', held.get(u)!.keyShare);
  await run.send(4, 'reveal', revealToBytes(out));
  run.advance('DONE');
}

/**
 * The checks of the keys of U1: each index once and no key twice (the view's, the same for every
 * client of the round), this client's own keys as it sent them, at least t clients.
 */
function checkKeys(run: ClientRun, view: KeysView, c: Identity, s: Identity): ReadonlySet<number> {
  if (view.refusal !== undefined) run.refuse(view.refusal.rule, view.refusal.message);
  const own = view.byIndex.get(run.i);
  if (own === undefined) run.refuse('self-dead', 'the keys of U1 leave this client out');
  if (!bytesEqual(own.cpk, c.publicKey) || !bytesEqual(own.spk, s.publicKey)) run.refuse('own-keys', 'the keys of U1 list this client with keys it did not advertise');
  if (view.U1.size < run.t) run.refuse('too-few-alive', `${view.U1.size} client(s) in U1, fewer than t = ${run.t}`);
  return view.U1;
}
