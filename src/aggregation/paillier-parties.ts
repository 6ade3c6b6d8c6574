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
import { aggregatorMessageFromBytes, aggregatorMessageToBytes } from './paillier-wire.js';
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
  const boxes = await Promise.all(plan.clients.map((_, i) => p.receive(plan.server, `${p.inv}/relay/${i}`)));
  st.rec.aggregatedHere = true;
  const accepted: EncryptedVector[] = [];
  const rejected: { client: number; reason: string; error: Error }[] = [];
  boxes.forEach((box, i) => {
    const client = plan.clients[i]!;
    try {
      const bytes = p.open(box, client, `slot of ${client}`);
      const v = encryptedVectorFromBytes(pk, packing, bytes);
      if (v.length !== length || v.contributions !== 1) throw new RangeError(`${me}: ${client} sent ${v.length} values / ${v.contributions} contributions, expected ${length} / 1`);
      // full unit check of this client's ciphertexts before it is mixed in
      addVectors(pk, packing, [v]);
      accepted.push(v);
    } catch (e) {
      rejected.push({ client: i, reason: host.reasonOf(e), error: e as Error });
    }
  });
  st.rec.report.rejected = rejected;
  const wire = (): RejectedContribution[] => rejected.map(({ client, reason }) => ({ client, reason }));
  const toServer = channelFor('AGGREGATORS', 'SERVER');
  // the aggregator protects the clients: it releases no aggregate below ITS minimum (whatever
  // onInvalid says), and none at all with onInvalid 'throw' and a rejected client. SERVER then
  // gets a refusal without ciphertexts.
  const minimum = ctx.policy.minContributors;
  const refusal =
    host.params.onInvalid === 'throw' && rejected.length > 0
      ? { rule: 'onInvalid', count: accepted.length, minimum: k }
      : accepted.length < minimum
        ? { rule: 'minContributors', count: accepted.length, minimum }
        : undefined;
  if (refusal) {
    st.rec.report.contributions = 0;
    st.rec.report.refused = refusal;
    const error =
      refusal.rule === 'onInvalid'
        ? rejected[0]!.error
        : new PolicyError(refusal.rule, `${refusal.count} valid contributions, fewer than the minimum of ${refusal.minimum}; no aggregate was released`, { ...refusal, party: me, rejected: wire() });
    st.rec.aggregatorError = error;
    const msg = aggregatorMessageToBytes({ kind: 'refused', ...refusal, rejected: wire() });
    await p.post(toServer, plan.server, `${p.inv}/agg`, st.sender.seal(plan.server, msg, st.ad));
    throw error;
  }
  // nothing leaves before this party's release gate holds (remote execution: every client player was sent the same commands)
  await ctx.releaseGate?.();
  const sum = addVectors(pk, packing, accepted);
  const fresh = st.pool ? await st.pool.rerandomizeVector(pk, sum) : rerandomizeVector(pk, sum);
  const msg = aggregatorMessageToBytes({ kind: 'aggregate', rejected: wire(), vector: encryptedVectorToBytes(pk, fresh) });
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
  return result;
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
  // RELAY: forward each client's box (which this party can neither read nor forge)
  p.sm.advance('RELAY');
  const relayed = channelFor('CLIENTS', 'AGGREGATORS');
  await Promise.all(
    plan.clients.map(async (c, i) => {
      const box = await p.receive(c, `${p.inv}/up/${i}`);
      const out = host.relay ? host.relay({ invocationId: p.inv, client: i, box }) : box;
      await p.post(relayed, agg, `${p.inv}/relay/${i}`, out);
    }),
  );
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
  const sumVector = encryptedVectorFromBytes(publicKey, packing, m.vector);
  if (sumVector.length !== length) throw new RangeError(`${me}: aggregate has ${sumVector.length} values, expected ${length}`);
  if (sumVector.contributions + m.rejected.length !== k) {
    throw new RangeError(`${me}: aggregate of ${sumVector.contributions} contributions with ${m.rejected.length} rejected clients, the plan has ${k} clients`);
  }
  requireMinContributors(me, 'contributions in the aggregate', sumVector.contributions, ctx.policy.minContributors, m.rejected);
  const sums = st.pool ? await st.pool.decryptVector(privateKey, packing, sumVector) : decryptVector(privateKey, packing, sumVector);
  const result: AggregationResult = { leaves: st.enc.decode(sums, sumVector.contributions) };
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
