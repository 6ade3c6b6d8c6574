/**
 * SERVER's role in SecAgg / SecAgg+ (semi-honest variant). It routes, it
 * never sees a share in the clear before the unmasking round, and it asks
 * each client for ONE kind of share per peer:
 *
 *   round 0  collect the advertised keys → U1 (at least t, else abort);
 *            send every client of U1 the keys of U1 (the session id and the
 *            graph follow from them);
 *   round 1  collect each client's encrypted shares (exactly one per
 *            neighbour in U1) → U2; route to each client of U2 the shares
 *            addressed to it by the others of U2;
 *   round 2  collect the masked inputs → U3, added into the sum as they
 *            arrive (MaskSum: O(m) memory, never n masks);
 *   round 3  (malicious-server variant, secagg-consistency.ts) send U3 to
 *            every client of U3, collect their signatures of it → U4, send
 *            the signatures to every client of U4;
 *   round 4  ask each client v of U3 (malicious: U4) for the seed shares of its neighbours in
 *            U3 and the key shares of its neighbours in U2 \ U3; collect → U5;
 *            reconstruct (LagrangeCache) each b_u, u ∈ U3, and each s_sk_u,
 *            u ∈ U2 \ U3; subtract the self masks and the pairwise masks the
 *            survivors share with dropped clients, streaming each PRG into
 *            the sum.
 *
 * Each round's collection ends when every client it waits for has answered
 * or failed, or at the party's deadline (`PartyContext.collectMs`, else the
 * option `roundTimeoutMs`, else none). Fewer than t at any step: a
 * SecAggAbortError, and nothing more is asked of any client.
 * Memory: the sum (m entries), the keys (O(n)), the routed ciphertexts and
 * the revealed shares (O(n k)).
 */
import type { KeyObject } from 'node:crypto';
import { bytesEqual, identityFromPrivateKey, importPublicKey } from '../crypto/identity.js';
import { pairwiseMaskKey, pairwiseSign, selfMaskKey } from '../crypto/mask-prg.js';
import { MaskSum } from '../crypto/mask-sum.js';
import { shamirReconstruct, type IndexedShare, type LagrangeCache } from '../crypto/shamir.js';
import { checkSurvivors, collectContributions, contributorsField } from './dropout.js';
import type { AggregationPlan } from './plan.js';
import type { AggregationResult } from './protocol.js';
import { enforcePlan, type PartyContext } from './roles.js';
import { SecAggAbortError, SecAggSharesError } from './secagg-errors.js';
import { planDigest, sessionId } from './secagg-crypto.js';
import { secAggEncoding } from './secagg-encoding.js';
import { graphOf, type SecAggHost } from './secagg-client.js';
import { advertisePayload, survivorsPayload, verifyBytes } from './secagg-consistency.js';
import { secAggSetup } from './secagg-setup.js';
import {
  advertiseFromBytes,
  keysToBytes,
  maskedBody,
  revealFromBytes,
  routeSealed,
  sealedPeers,
  secAggKey,
  signatureFromBytes,
  signaturesToBytes,
  survivorsToBytes,
  unmaskToBytes,
  type KeyEntry,
} from './secagg-wire.js';

/** The result of SecAgg at SERVER: the aggregate, who is in it, who dropped when, and SERVER's traffic. */
export interface SecAggResult extends AggregationResult {
  /** The clients whose inputs are in the aggregate (U3), in plan order. */
  readonly survivors: readonly string[];
  /** Clients that did not complete a round (round 4: their input is in the sum, their shares were not needed). */
  readonly dropped: readonly { readonly id: string; readonly round: number }[];
  /** Bytes SERVER received and sent in this aggregation. */
  readonly bytes: { readonly received: number; readonly sent: number };
}

export interface SecAggServerHost extends SecAggHost {
  readonly roundTimeoutMs: number | undefined;
  readonly lagrange: LagrangeCache;
}

export async function secAggServer(host: SecAggServerHost, ctx: PartyContext, plan: AggregationPlan): Promise<SecAggResult> {
  enforcePlan(host.roles, ctx, plan, 'server');
  const setup = secAggSetup(host.params, plan, ctx.me);
  const enc = secAggEncoding(plan, host.params);
  const { n, t } = setup;
  const me = ctx.me;
  const inv = plan.invocationId;
  const collectMs = ctx.collectMs ?? host.roundTimeoutMs;
  const roundCtx: PartyContext = { ...ctx, ...(collectMs === undefined ? {} : { collectMs }) };
  const opts = ctx.timeoutMs === undefined ? {} : { timeoutMs: ctx.timeoutMs };
  const bytes = { received: 0, sent: 0 };
  const dropped: { id: string; round: number }[] = [];
  const receive = async (i: number, round: number, what: string): Promise<Uint8Array> => {
    const b = await ctx.transport.receive(me, plan.clients[i]!, secAggKey(inv, round, what), opts);
    bytes.received += b.length;
    return b;
  };
  const send = (i: number, round: number, what: string, payload: Uint8Array): Promise<void> => {
    bytes.sent += payload.length;
    return ctx.transport.send(me, plan.clients[i]!, secAggKey(inv, round, what), payload);
  };
  /** Collect one round from the clients in `from` (plan order); the others are recorded as dropped at `round`. */
  const collect = async (from: readonly number[], round: number, each: (i: number) => Promise<(() => void) | undefined>): Promise<number[]> => {
    const waiting = new Set(from);
    const got = await collectContributions(roundCtx, plan, async (i, c) => {
      if (!waiting.has(i)) return;
      const apply = await each(i);
      if (apply === undefined || !c.open) return;
      apply();
      c.applied(i);
    });
    const done = new Set(got);
    for (const i of from) if (!done.has(i)) dropped.push({ id: plan.clients[i]!, round });
    if (got.length < t) throw new SecAggAbortError(round, got.length, t);
    return got;
  };
  const all = Array.from({ length: n }, (_, i) => i);

  // round 0: advertised keys
  const malicious = host.params.adversary === 'malicious';
  const digest = planDigest(plan);
  const pinnedOf = (i: number) => {
    const k = host.signing?.pinned.get(plan.clients[i]!);
    if (k === undefined) throw new RangeError(`${me}: no pinned Ed25519 key of client '${plan.clients[i]}' ("signingKeys")`);
    return k;
  };
  if (malicious) plan.clients.forEach((_, i) => pinnedOf(i));
  const advertised = new Map<number, KeyEntry>();
  let U1 = await collect(all, 0, async (i) => {
    const k = advertiseFromBytes(await receive(i, 0, 'advertise'), malicious);
    if (malicious && !verifyBytes(pinnedOf(i), advertisePayload(digest, i, k.cpk, k.spk), k.sig!)) throw new RangeError(`${plan.clients[i]}: keys not signed by its pinned key`);
    return () => advertised.set(i, { index: i, ...k });
  });
  // a key advertised twice (a client copying another's) takes every client that advertised it out
  const count = new Map<string, number>();
  for (const i of U1) for (const k of [advertised.get(i)!.cpk, advertised.get(i)!.spk]) count.set(Buffer.from(k).toString('hex'), (count.get(Buffer.from(k).toString('hex')) ?? 0) + 1);
  const copied = new Set(U1.filter((i) => [advertised.get(i)!.cpk, advertised.get(i)!.spk].some((k) => count.get(Buffer.from(k).toString('hex'))! > 1)));
  if (copied.size > 0) {
    for (const i of copied) dropped.push({ id: plan.clients[i]!, round: 0 });
    U1 = U1.filter((i) => !copied.has(i));
    if (U1.length < t) throw new SecAggAbortError(0, U1.length, t, 'after removing clients that advertised the same key');
  }
  const entries = U1.map((i) => advertised.get(i)!);
  const session = sessionId(digest, entries);
  const graph = graphOf(setup, session);
  const inU1 = new Set(U1);
  const keysMsg = keysToBytes(entries, malicious);
  await Promise.all(U1.map((i) => send(i, 1, 'keys', keysMsg)));

  // round 1: encrypted shares, one per neighbour in U1; kept as received and routed by offset
  // (inbox[v] = [sender, item, ...]: no object per ciphertext)
  const sharesOf: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(n);
  const inbox: number[][] = Array.from({ length: n }, () => []);
  const seenFrom = new Int32Array(n).fill(-1);
  const U2 = await collect(U1, 1, async (i) => {
    const bytes = await receive(i, 1, 'shares');
    const peers = sealedPeers('shares', bytes, n);
    let want = 0;
    for (const u of graph.neighbours(i)) if (inU1.has(u)) want++;
    // each peer once, each a neighbour in U1, as many as its neighbours in U1: exactly its neighbours in U1
    let ok = peers.length === want;
    for (let j = 0; ok && j < peers.length; j++) {
      const u = peers[j]!;
      ok = seenFrom[u] !== i && inU1.has(u) && graph.isNeighbour(i, u);
      seenFrom[u] = i;
    }
    if (!ok) throw new RangeError(`${plan.clients[i]}: shares for other clients than its neighbours in U1`);
    return () => {
      sharesOf[i] = bytes;
      for (let j = 0; j < peers.length; j++) inbox[peers[j]!]!.push(i, j);
    };
  });
  const inU2 = new Set(U2);
  await Promise.all(
    U2.map((v) => {
      const items: number[] = [];
      const got = inbox[v]!;
      for (let k = 0; k < got.length; k += 2) if (inU2.has(got[k]!)) items.push(got[k]!, got[k + 1]!);
      return send(v, 2, 'routed', routeSealed(items, sharesOf));
    }),
  );
  inbox.length = 0;
  sharesOf.length = 0;

  // round 2: masked inputs, summed as they arrive
  const sum = new MaskSum(enc.bits, enc.entries);
  const U3 = await collect(U2, 2, async (i) => {
    const y = maskedBody(await receive(i, 2, 'masked'), enc.bits, enc.entries);
    return () => sum.addBytes(y);
  });
  checkSurvivors(ctx, plan, U3);
  const inU3 = new Set(U3);

  // round 3 (malicious-server variant): every client of U3 signs U3; at least t signatures go to every signer
  let asked = U3;
  if (malicious) {
    const u3Msg = survivorsToBytes(U3);
    await Promise.all(U3.map((v) => send(v, 3, 'survivors', u3Msg)));
    const sigs = new Map<number, Uint8Array>();
    asked = await collect(U3, 3, async (v) => {
      const sig = signatureFromBytes(await receive(v, 3, 'signature'));
      if (!verifyBytes(pinnedOf(v), survivorsPayload(session, U3, v), sig)) throw new RangeError(`${plan.clients[v]}: a signature that is not of U3`);
      return () => sigs.set(v, sig);
    });
    const sigMsg = signaturesToBytes(asked.map((v) => ({ index: v, sig: sigs.get(v)! })));
    await Promise.all(asked.map((v) => send(v, 4, 'signatures', sigMsg)));
  }

  // round 4: one kind of share per peer
  const requested = new Map<number, { alive: number[]; dead: number[] }>();
  for (const v of asked) {
    const nb = graph.neighbours(v);
    requested.set(v, { alive: nb.filter((u) => inU3.has(u)), dead: nb.filter((u) => inU2.has(u) && !inU3.has(u)) });
  }
  await Promise.all(asked.map((v) => send(v, 4, 'unmask', unmaskToBytes(requested.get(v)!))));
  const seedShares = new Map<number, IndexedShare[]>();
  const keyShares = new Map<number, IndexedShare[]>();
  // what v was asked for, per owner (wantKind: 0 nothing, 1 seed, 2 key), set and cleared around each check
  const wantKind = new Uint8Array(n);
  const seenOwner = new Int32Array(n).fill(-1);
  const U5 = await collect(asked, 4, async (v) => {
    const shares = revealFromBytes(await receive(v, 4, 'reveal'), n);
    const r = requested.get(v)!;
    wantKind[v] = 1;
    for (const u of r.alive) wantKind[u] = 1;
    for (const u of r.dead) wantKind[u] = 2;
    // exactly the shares asked: as many, each owner once, each of the kind asked
    let ok = shares.length === 1 + r.alive.length + r.dead.length;
    for (let j = 0; ok && j < shares.length; j++) {
      const s = shares[j]!;
      ok = seenOwner[s.owner] !== v && wantKind[s.owner] === (s.kind === 'seed' ? 1 : 2);
      seenOwner[s.owner] = v;
    }
    wantKind[v] = 0;
    for (const u of r.alive) wantKind[u] = 0;
    for (const u of r.dead) wantKind[u] = 0;
    if (!ok) throw new RangeError(`${plan.clients[v]}: revealed other shares than asked`);
    return () => {
      for (const s of shares) {
        const into = s.kind === 'seed' ? seedShares : keyShares;
        const list = into.get(s.owner) ?? [];
        list.push({ index: v + 1, share: s.share });
        into.set(s.owner, list);
      }
    };
  });
  const secret = (from: Map<number, IndexedShare[]>, u: number, what: string): Uint8Array => {
    const shares = from.get(u) ?? [];
    if (shares.length < t) throw new SecAggAbortError(4, U5.length, t, `${shares.length} share(s) of ${plan.clients[u]}'s ${what}`);
    try {
      return shamirReconstruct(shares, t, host.lagrange);
    } catch (e) {
      // shares that do not decode (an element >= p, a chunk out of range): a malicious dealer or holder
      if (e instanceof RangeError) throw new SecAggSharesError(plan.clients[u]!, what === 'masking key' ? 'masking key' : 'self-mask seed', false, U5.length, t);
      throw e;
    }
  };
  // every secret is reconstructed before any mask is removed: an abort leaves nothing half-done
  const seeds = U3.map((u) => secret(seedShares, u, 'self-mask seed'));
  const gone = U2.filter((u) => !inU3.has(u));
  const keys = gone.map((u) => {
    const raw = secret(keyShares, u, 'masking key');
    // a masking key is committed to by the public key u advertised (and signed, malicious variant): check it
    if (!bytesEqual(identityFromPrivateKey(raw).publicKey, advertised.get(u)!.spk)) {
      raw.fill(0);
      throw new SecAggSharesError(plan.clients[u]!, 'masking key', true, U5.length, t);
    }
    return raw;
  });
  // the shares and requests are done with: dropped before the masks are expanded, whose keystream
  // buffers make V8 collect garbage often (each collection marks what is still live)
  seedShares.clear();
  keyShares.clear();
  requested.clear();
  const label = { round: session, bits: enc.bits };
  U3.forEach((u, j) => sum.addMask(selfMaskKey(seeds[j]!, label, plan.clients[u]!), -1));
  // each survivor's masking key is imported once, however many dropped neighbours it has
  const spkOf = new Map<number, KeyObject>();
  const spk = (v: number): KeyObject => {
    let k = spkOf.get(v);
    if (k === undefined) spkOf.set(v, (k = importPublicKey(advertised.get(v)!.spk)));
    return k;
  };
  gone.forEach((u, j) => {
    const sk = identityFromPrivateKey(keys[j]!).privateKey;
    const nameU = plan.clients[u]!;
    for (const v of graph.neighbours(u)) {
      if (!inU3.has(v)) continue;
      const nameV = plan.clients[v]!;
      // v added pairwiseSign(v, u) · PRG(s_vu): take it out
      sum.addMask(pairwiseMaskKey(sk.agreeWith(spk(v)), label, nameV, nameU), pairwiseSign(nameV, nameU) === 1 ? -1 : 1);
    }
  });
  for (const s of [...seeds, ...keys]) s.fill(0);
  const leaves = enc.decode(sum.result(), U3.length);
  return {
    leaves,
    ...contributorsField(plan, U3),
    survivors: Object.freeze(U3.map((i) => plan.clients[i]!)),
    dropped: Object.freeze(dropped.sort((a, b) => plan.clients.indexOf(a.id) - plan.clients.indexOf(b.id))),
    bytes,
  };
}
