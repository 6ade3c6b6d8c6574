/**
 * The three roles of the Paillier aggregation (see `paillier-roles.ts` for the
 * protocol): each function runs ONE party with only what that party holds
 * (its own input, its own sealed-box endpoints, the server's key pair only in
 * `serverRole`) and what it receives over its own transport.
 *
 * Rendezvous keys (invocation id `inv`): `inv/pk` (SERVER → each client and
 * the aggregator), `inv/up/<i>` (client i → SERVER, sealed to the
 * aggregator), `inv/relay/<i>` (SERVER → aggregator), `inv/agg` (aggregator →
 * SERVER), `inv/result` (target AGGREGATORS: SERVER → aggregator).
 */
import type { SealedBoxReceiver, SealedBoxSender } from '../crypto/secure-channel.js';
import { publicKeyToBytes, type PaillierKeyPair, type PaillierPublicKey } from '../paillier/keys.js';
import { encrypt } from '../paillier/paillier.js';
import type { PaillierWorkerPool } from '../paillier/pool.js';
import { addVectors, decryptVector, encryptedVectorFromBytes, encryptedVectorToBytes, rerandomizeVector, type EncryptedVector } from '../paillier/vector.js';
import { PolicyError, requireMinContributors, type RejectedContribution } from './policy.js';
import type { AggregationPlan } from './plan.js';
import type { AggregationResult } from './protocol.js';
import { checkClientInput, enforcePlan, type AggregationRoles, type ClientInput, type PartyContext, type RoleName } from './roles.js';
import { resultFromBytes, resultToBytes } from './wire.js';
import { absentNoticeFromBytes, absentNoticeToBytes, aggregatorMessageFromBytes, aggregatorMessageToBytes } from './paillier-wire.js';
import { checkSurvivors, collectContributions, contributorsField } from './dropout.js';
import type { Encoding } from './paillier-plan.js';
import { channelFor, MisroutedMessageError, StageMachine, stagesOf, type ChannelGridEntry, type ObservedMessage, type RelayEvent } from './paillier-stages.js';
import type { InvocationRecord, PaillierParams } from './paillier-roles.js';

/** What the roles object gives a role: its configuration and the party's long-lived state. */
export interface RoleHost {
  readonly params: PaillierParams;
  readonly relay: ((e: RelayEvent) => Uint8Array) | undefined;
  readonly observe: ((m: ObservedMessage) => void) | undefined;
  /** Checks before any byte (packing headroom, identity, pinned peers) and this party's state for `plan`. */
  begin(me: string, plan: AggregationPlan, role: RoleName): RoleState;
  /** The checks on a published key (UntrustedKeyError / RangeError naming `party`). */
  acceptKey(party: string, bytes: Uint8Array): PaillierPublicKey;
  reasonOf(e: unknown): string;
}

export interface RoleState {
  readonly sender: SealedBoxSender;
  readonly receiver: SealedBoxReceiver;
  readonly enc: Encoding;
  /** Associated data of this plan's boxes. */
  readonly ad: string;
  readonly rec: InvocationRecord;
  readonly pool: PaillierWorkerPool | null;
}

/** One party's run: its context, the plan, and its stage machine. */
class Party {
  readonly sm: StageMachine;
  readonly me: string;
  readonly inv: string;
  readonly aggregator: string;
  constructor(
    readonly host: RoleHost,
    readonly ctx: PartyContext,
    readonly plan: AggregationPlan,
    readonly st: RoleState,
    role: RoleName,
  ) {
    this.sm = new StageMachine(stagesOf(role, plan.target));
    this.me = ctx.me;
    this.inv = plan.invocationId;
    this.aggregator = plan.aggregators[0]!;
  }

  /** Send on the grid's channel `ch`: to `to`, or to the relaying party when the channel is relayed. */
  async post(ch: ChannelGridEntry, to: string, key: string, payload: Uint8Array): Promise<void> {
    if (ch.kind === 'none') throw new Error(`paillier protocol: no channel from ${ch.from} to ${ch.to}`);
    const hop = ch.via === 'SERVER' && this.me !== this.plan.server ? this.plan.server : to;
    this.host.observe?.({ from: this.me, to: hop, key, payload });
    await this.ctx.transport.send(this.me, hop, key, payload);
  }

  receive(from: string, key: string): Promise<Uint8Array> {
    return this.ctx.transport.receive(this.me, from, key, this.ctx.timeoutMs === undefined ? {} : { timeoutMs: this.ctx.timeoutMs });
  }

  /** Open a box of this plan that must come from `from` (MisroutedMessageError when another pinned party sealed it). */
  open(box: Uint8Array, from: string, what: string): Uint8Array {
    const o = this.st.receiver.open(box, this.st.ad);
    if (o.sender !== from) throw new MisroutedMessageError(`${this.me}: ${what} holds a box from "${o.sender}", expected "${from}"`, o.sender);
    return o.plaintext;
  }

  /** Receive and check SERVER's public key (stage PUBLISH of a client or the aggregator). */
  async publicKey(): Promise<PaillierPublicKey> {
    this.sm.advance('PUBLISH');
    const box = await this.receive(this.plan.server, `${this.inv}/pk`);
    return this.host.acceptKey(this.me, this.open(box, this.plan.server, 'the public key message'));
  }
}

export async function clientRole(roles: AggregationRoles, host: RoleHost, ctx: PartyContext, plan: AggregationPlan, input: ClientInput): Promise<void> {
  enforcePlan(roles, ctx, plan, 'client');
  checkClientInput(ctx.me, plan, input);
  const st = host.begin(ctx.me, plan, 'client');
  const p = new Party(host, ctx, plan, st, 'client');
  const i = plan.clients.indexOf(ctx.me);
  const { packing, length } = st.enc;
  // encode and range-check this client's own values before anything else
  const plaintexts = packing.encode(st.enc.encode(ctx.me, input));
  const pk = await p.publicKey();
  p.sm.advance('SUBMIT');
  const ciphertexts = st.pool ? await st.pool.encryptMany(pk, plaintexts) : plaintexts.map((m) => encrypt(pk, m));
  const bytes = encryptedVectorToBytes(pk, { length, contributions: 1, ciphertexts });
  st.rec.report.bytesPerClient = bytes.length;
  await p.post(channelFor('CLIENTS', 'AGGREGATORS'), p.aggregator, `${p.inv}/up/${i}`, st.sender.seal(p.aggregator, bytes, st.ad));
  p.sm.advance('DONE');
}

export async function aggregatorRole(roles: AggregationRoles, host: RoleHost, ctx: PartyContext, plan: AggregationPlan, index: number): Promise<AggregationResult | undefined> {
  enforcePlan(roles, ctx, plan, 'aggregator', index);
  const st = host.begin(ctx.me, plan, 'aggregator');
  const p = new Party(host, ctx, plan, st, 'aggregator');
  const me = ctx.me;
  const { packing, length } = st.enc;
  const k = plan.clients.length;
  // it only ever holds the public key
  const pk = await p.publicKey();
  p.sm.advance('AGGREGATE');
  // one relay per slot: the client's box, or (dropout tolerance) SERVER's notice that it did not
  // contribute. SERVER's collection deadline starts once it has published the key, so this party
  // gives it its own collectMs from the key's arrival and as much again for the last relays; a slot
  // still empty then means SERVER stalled: nothing is released
  const relays: Uint8Array[] = [];
  const own = ctx.collectMs === undefined ? ctx : { ...ctx, collectMs: 2 * ctx.collectMs };
  const inTime = await collectContributions(own, plan, async (i, c) => {
    const box = await p.receive(plan.server, `${p.inv}/relay/${i}`);
    if (!c.open) return;
    relays[i] = box;
    c.applied(i);
  });
  st.rec.aggregatedHere = true;
  const accepted: EncryptedVector[] = [];
  const acceptedIdx: number[] = [];
  const absent: number[] = [];
  const rejected: { client: number; reason: string; error: Error }[] = [];
  for (const i of inTime) {
    const client = plan.clients[i]!;
    try {
      const o = st.receiver.open(relays[i]!, st.ad);
      if (o.sender === plan.server) {
        // SERVER's absence notice for this slot: it only lowers the count (the policy below still holds)
        const slot = absentNoticeFromBytes(o.plaintext);
        if (slot !== i) throw new MisroutedMessageError(`${me}: slot of ${client} holds ${plan.server}'s absence notice for slot ${slot}`, o.sender);
        absent.push(i);
        continue;
      }
      if (o.sender !== client) throw new MisroutedMessageError(`${me}: slot of ${client} holds a box from "${o.sender}", expected "${client}"`, o.sender);
      const v = encryptedVectorFromBytes(pk, packing, o.plaintext);
      if (v.length !== length || v.contributions !== 1) throw new RangeError(`${me}: ${client} sent ${v.length} values / ${v.contributions} contributions, expected ${length} / 1`);
      // full unit check of this client's ciphertexts before it is mixed in
      addVectors(pk, packing, [v]);
      accepted.push(v);
      acceptedIdx.push(i);
    } catch (e) {
      rejected.push({ client: i, reason: host.reasonOf(e), error: e as Error });
    }
  }
  st.rec.report.rejected = rejected;
  if (absent.length > 0) st.rec.report.absent = absent;
  const wire = (): RejectedContribution[] => rejected.map(({ client, reason }) => ({ client, reason }));
  const toServer = channelFor('AGGREGATORS', 'SERVER');
  // the aggregator protects the clients: it releases no aggregate below ITS minimum of distinct
  // contributors (whatever onInvalid says, however many clients SERVER marked absent), none at all
  // with onInvalid 'throw' and a rejected client, and none when SERVER marked a client absent but
  // this party runs without dropout tolerance. SERVER then gets a refusal without ciphertexts.
  const stalled = plan.clients.filter((_, i) => relays[i] === undefined);
  const names = (xs: readonly number[]) => xs.map((i) => plan.clients[i]!).join(', ');
  let refusal: { rule: string; count: number; minimum: number; why?: string } | undefined;
  if (stalled.length > 0) refusal = { rule: 'dropout', count: accepted.length, minimum: k, why: `${plan.server} relayed nothing for ${stalled.join(', ')} by this party's deadline` };
  else if (absent.length > 0 && ctx.collectMs === undefined) {
    refusal = { rule: 'dropout', count: accepted.length, minimum: k, why: `${plan.server} marked ${names(absent)} absent, and this party takes part only when every client contributes (no collectMs)` };
  } else if (host.params.onInvalid === 'throw' && rejected.length > 0) refusal = { rule: 'onInvalid', count: accepted.length, minimum: k };
  else refusal = belowMinimum(ctx, plan, acceptedIdx);
  if (refusal) {
    const { why, ...refused } = refusal;
    st.rec.report.contributions = 0;
    st.rec.report.refused = refused;
    const error =
      refused.rule === 'onInvalid'
        ? rejected[0]!.error
        : new PolicyError(refused.rule, `${why ?? `${refused.count} valid contributions${refused.count < accepted.length ? ` from distinct players (of ${accepted.length})` : ''}, fewer than the minimum of ${refused.minimum}`}; no aggregate was released`, {
            ...refused,
            party: me,
            rejected: wire(),
          });
    st.rec.aggregatorError = error;
    const msg = aggregatorMessageToBytes({ kind: 'refused', ...refused, rejected: wire(), absent });
    await p.post(toServer, plan.server, `${p.inv}/agg`, st.sender.seal(plan.server, msg, st.ad));
    throw error;
  }
  // nothing leaves before this party's release gate holds (remote execution: every client player was sent the same commands)
  // (with dropouts: the release gate waits for the players of the clients in the aggregate only)
  await ctx.releaseGate?.(contributorsField(plan, acceptedIdx).contributors);
  const sum = addVectors(pk, packing, accepted);
  const fresh = st.pool ? await st.pool.rerandomizeVector(pk, sum) : rerandomizeVector(pk, sum);
  const msg = aggregatorMessageToBytes({ kind: 'aggregate', rejected: wire(), absent, vector: encryptedVectorToBytes(pk, fresh) });
  await p.post(toServer, plan.server, `${p.inv}/agg`, st.sender.seal(plan.server, msg, st.ad));
  if (plan.target !== 'AGGREGATORS') {
    p.sm.advance('DONE');
    return undefined;
  }
  // target AGGREGATORS: SERVER decrypts and seals the plaintext aggregate back
  p.sm.advance('DECRYPT');
  const box = await p.receive(plan.server, `${p.inv}/result`);
  const result = resultFromBytes(plan, p.open(box, plan.server, 'the aggregate message'), `${me}: aggregate from ${plan.server}`);
  p.sm.advance('DONE');
  // the contributors as this party counted them (with dropout tolerance)
  return ctx.collectMs === undefined ? result : { ...result, ...contributorsField(plan, acceptedIdx) };
}

export async function serverRole(roles: AggregationRoles, host: RoleHost, ctx: PartyContext, plan: AggregationPlan, keys: () => PaillierKeyPair): Promise<AggregationResult | undefined> {
  enforcePlan(roles, ctx, plan, 'server');
  const st = host.begin(ctx.me, plan, 'server');
  const p = new Party(host, ctx, plan, st, 'server');
  const me = ctx.me;
  const agg = p.aggregator;
  const { packing, length } = st.enc;
  const k = plan.clients.length;
  // KEYS: the key pair this party holds (generated on first use)
  const { publicKey, privateKey } = keys();
  p.sm.advance('PUBLISH');
  const pkBytes = publicKeyToBytes(publicKey);
  await Promise.all([
    p.post(channelFor('SERVER', 'AGGREGATORS'), agg, `${p.inv}/pk`, st.sender.seal(agg, pkBytes, st.ad)),
    ...plan.clients.map((c) => p.post(channelFor('SERVER', 'CLIENTS'), c, `${p.inv}/pk`, st.sender.seal(c, pkBytes, st.ad))),
  ]);
  // RELAY: forward each client's box (which this party can neither read nor forge); with collectMs,
  // a box not in by the deadline is that client's dropout: its slot gets this party's absence notice
  // (a late box is never relayed)
  p.sm.advance('RELAY');
  const relayed = channelFor('CLIENTS', 'AGGREGATORS');
  const sent: Promise<void>[] = [];
  const inTime = await collectContributions(ctx, plan, async (i, c) => {
    const box = await p.receive(plan.clients[i]!, `${p.inv}/up/${i}`);
    if (!c.open) return;
    c.applied(i);
    const out = host.relay ? host.relay({ invocationId: p.inv, client: i, box }) : box;
    await (sent[i] = p.post(relayed, agg, `${p.inv}/relay/${i}`, out));
  });
  const marked = plan.clients.map((_, i) => i).filter((i) => !inTime.includes(i));
  const notice = channelFor('SERVER', 'AGGREGATORS');
  await Promise.all([...sent, ...marked.map((i) => p.post(notice, agg, `${p.inv}/relay/${i}`, st.sender.seal(agg, absentNoticeToBytes(i), st.ad)))]);
  if (marked.length > 0) st.rec.report.absent = marked;
  p.sm.advance('DECRYPT');
  const m = aggregatorMessageFromBytes(p.open(await p.receive(agg, `${p.inv}/agg`), agg, 'the aggregator message'));
  // where the aggregator ran elsewhere, its list of rejected clients is the report's
  if (!st.rec.aggregatedHere) st.rec.report.rejected = m.rejected.map((r) => ({ ...r }));
  if (m.kind === 'refused') {
    const refused = { rule: m.rule, count: m.count, minimum: m.minimum };
    st.rec.report.contributions = 0;
    st.rec.report.refused = refused;
    // where the aggregator ran in this process, its error (the root cause) is the run's, whichever party fails first
    throw st.rec.aggregatorError ?? new PolicyError(refused.rule, `${m.count} valid contributions, minimum ${m.minimum}; no aggregate was released`, { ...refused, party: agg, rejected: m.rejected });
  }
  const absent = m.absent ?? [];
  if (absent.length !== marked.length || absent.some((x, j) => x !== marked[j])) {
    throw new RangeError(`${me}: the aggregator counts clients [${absent.join(', ')}] absent, this party marked [${marked.join(', ')}]`);
  }
  const sumVector = encryptedVectorFromBytes(publicKey, packing, m.vector);
  if (sumVector.length !== length) throw new RangeError(`${me}: aggregate has ${sumVector.length} values, expected ${length}`);
  const left = new Set([...m.rejected.map((r) => r.client), ...absent]);
  if (sumVector.contributions + m.rejected.length + absent.length !== k || left.size !== m.rejected.length + absent.length || [...left].some((i) => !(Number.isInteger(i) && i >= 0 && i < k))) {
    throw new RangeError(`${me}: aggregate of ${sumVector.contributions} contributions with ${m.rejected.length} rejected and ${absent.length} absent clients, the plan has ${k} clients`);
  }
  requireMinContributors(me, 'contributions in the aggregate', sumVector.contributions, ctx.policy.minContributors, m.rejected);
  const sums = st.pool ? await st.pool.decryptVector(privateKey, packing, sumVector) : decryptVector(privateKey, packing, sumVector);
  // means are over the contributions in the aggregate (the count travels with the ciphertexts)
  const survivors = plan.clients.map((_, i) => i).filter((i) => !left.has(i));
  const result: AggregationResult = { leaves: st.enc.decode(sums, sumVector.contributions), ...(ctx.collectMs === undefined ? {} : contributorsField(plan, survivors)) };
  st.rec.report.contributions = sumVector.contributions;
  if (plan.target === 'AGGREGATORS') {
    // the key holder decrypted it, so it knows the aggregate too; the aggregators receive it sealed
    await p.post(channelFor('SERVER', 'AGGREGATORS'), agg, `${p.inv}/result`, st.sender.seal(agg, resultToBytes(plan, result), st.ad));
    p.sm.advance('DONE');
    return undefined;
  }
  p.sm.advance('DONE');
  return result;
}

/** The aggregator's refusal when its accepted contributions come from fewer distinct players than its minimum (`checkSurvivors`). */
function belowMinimum(ctx: PartyContext, plan: AggregationPlan, acceptedIdx: readonly number[]): { rule: string; count: number; minimum: number } | undefined {
  try {
    checkSurvivors(ctx, plan, acceptedIdx);
    return undefined;
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    return { rule: e.rule, count: e.count ?? 0, minimum: e.minimum ?? ctx.policy.minContributors };
  }
}
