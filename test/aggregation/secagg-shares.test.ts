/**
 * A malicious CLIENT against SecAgg (the server honest): it deals garbage
 * Shamir shares of its masking key in round 1, sealed to its honest
 * neighbours (who cannot check them: they only hold one share each), then
 * drops out, so the server must reconstruct that key from the shares the
 * honest holders forward at unmasking. The server aborts with a typed
 * SecAggSharesError (rule "inconsistent-shares") that names the dealer, and
 * outputs no aggregate; the honest clients finish without error. And a
 * malicious HOLDER that reveals a garbage seed share: the seed has no
 * commitment, so only shares that do not decode are caught (typed, naming
 * the seed's owner, not the holder: docs/secagg.md, threat model).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PartyContext } from '../../src/aggregation/roles.js';
import type { AggregationPlan } from '../../src/aggregation/plan.js';
import { SecAggAbortError, SecAggSharesError } from '../../src/aggregation/secagg-errors.js';
import { graphOf } from '../../src/aggregation/secagg-client.js';
import { planDigest, sealShares, sessionId } from '../../src/aggregation/secagg-crypto.js';
import { secAggSetup } from '../../src/aggregation/secagg-setup.js';
import type { SecAggRoles } from '../../src/aggregation/secagg-roles.js';
import { advertiseToBytes, keysFromBytes, revealFromBytes, revealToBytes, sealedToBytes, secAggKey } from '../../src/aggregation/secagg-wire.js';
import { exportPrivateKey, generateIdentity } from '../../src/crypto/identity.js';
import { SHAMIR_SHARE_BYTES, shamirSplit } from '../../src/crypto/shamir.js';
import { makeRoles, names, referenceOver, rng, runSecAgg, sumInputs, sumPlan } from './secagg-harness.js';

const N = 5;
const T = 3;
const DEALER = 'c1';

/** Garbage key shares for the holders at these indices (1-based): how the malicious dealer lies. */
type Garbage = (points: readonly number[], realKey: Uint8Array) => Uint8Array[];

/**
 * The malicious dealer: advertises fresh keys (round 0), seals `garbage` key shares (and honest-looking
 * seed shares) to each neighbour in U1 (round 1), then leaves (the harness records it dropped at round 2).
 */
function dealer(roles: SecAggRoles, garbage: Garbage) {
  return async (ctx: PartyContext, plan: AggregationPlan): Promise<void> => {
    const inv = plan.invocationId;
    const n = plan.clients.length;
    const i = plan.clients.indexOf(ctx.me);
    const c = generateIdentity();
    const s = generateIdentity();
    await ctx.transport.send(ctx.me, plan.server, secAggKey(inv, 0, 'advertise'), advertiseToBytes({ cpk: c.publicKey, spk: s.publicKey }));
    const entries = keysFromBytes(await ctx.transport.receive(ctx.me, plan.server, secAggKey(inv, 1, 'keys'), {}), n);
    const session = sessionId(planDigest(plan), entries);
    const graph = graphOf(secAggSetup(roles.params, plan, ctx.me), session);
    const inU1 = new Set(entries.map((e) => e.index));
    const neighbours = graph.neighbours(i).filter((u) => inU1.has(u));
    const keyShares = garbage(neighbours.map((u) => u + 1), exportPrivateKey(s.privateKey));
    const seedShares = shamirSplit(new Uint8Array(32), T, neighbours.map((u) => u + 1));
    const sealed = neighbours.map((u, j) => ({ peer: u, ct: sealShares(c.privateKey.agree(entries.find((e) => e.index === u)!.cpk), session, inv, i, u, keyShares[j]!, seedShares[j]!) }));
    await ctx.transport.send(ctx.me, plan.server, secAggKey(inv, 1, 'shares'), sealedToBytes('shares', sealed));
    throw new Error(`${ctx.me} (malicious) leaves after dealing its shares`);
  };
}

async function attack(garbage: Garbage, inv: string) {
  const honest = makeRoles('complete', { threshold: T });
  const roles: SecAggRoles = { ...honest, client: (ctx, p, input) => (ctx.me === DEALER ? dealer(honest, garbage)(ctx, p) : honest.client(ctx, p, input)) };
  const plan = sumPlan(roles, N, inv);
  const inputs = sumInputs(plan, rng(21));
  return { ...(await runSecAgg({ roles, plan, inputs })), plan, inputs };
}

function expectDealerNamed(o: Awaited<ReturnType<typeof attack>>, verified: boolean): void {
  assert.ok(o.error instanceof SecAggSharesError, `expected a SecAggSharesError, got ${String(o.error)}`);
  assert.ok(o.error instanceof SecAggAbortError, 'it is an abort');
  assert.equal(o.error.rule, 'inconsistent-shares');
  assert.equal(o.error.owner, DEALER);
  assert.equal(o.error.secret, 'masking key');
  assert.equal(o.error.verified, verified);
  assert.equal(o.error.round, 4);
  assert.match(o.error.message, /inconsistent-shares.*c1's masking key/);
  assert.equal(o.result, undefined, 'no aggregate');
  // the honest clients answered every round and refused nothing: the fault is the dealer's, found by the server
  for (const c of names(N).filter((c) => c !== DEALER)) assert.equal(o.clientErrors.get(c), undefined, `${c}: ${String(o.clientErrors.get(c))}`);
}

describe('secagg: a malicious client deals inconsistent shares of its masking key (round 1), then drops', () => {
  it('shares that do not decode (field elements >= p): a typed abort naming the dealer, not a RangeError', async () => {
    const o = await attack((pts) => pts.map(() => new Uint8Array(SHAMIR_SHARE_BYTES).fill(0xff)), 'shares/undecodable');
    expectDealerNamed(o, false);
  });

  it("consistent shares of ANOTHER key (they decode): caught by the check against its advertised public key", async () => {
    const o = await attack((pts) => shamirSplit(new Uint8Array(32).fill(7), T, pts), 'shares/other-key');
    expectDealerNamed(o, true);
  });

  it('control: the same dealer with true shares of its real key is only a dropout (exact sum of the others)', async () => {
    const o = await attack((pts, realKey) => shamirSplit(realKey, T, pts), 'shares/control');
    assert.equal(o.error, undefined, String(o.error));
    assert.deepEqual(o.result!.survivors, names(N).filter((c) => c !== DEALER));
    assert.deepEqual(o.result!.dropped, [{ id: DEALER, round: 2 }]);
    assert.deepEqual(o.result!.leaves, referenceOver(o.plan, o.inputs, o.result!.survivors));
  });
});

describe('secagg: a malicious holder reveals a garbage seed share (round 4)', () => {
  it('shares that do not decode: a typed abort naming the seed owner (the holder cannot be told from t shares)', async () => {
    const HOLDER = 'c2';
    const honest = makeRoles('complete', { threshold: T });
    const roles: SecAggRoles = {
      ...honest,
      client: (ctx, p, input) => {
        if (ctx.me !== HOLDER) return honest.client(ctx, p, input);
        const t = ctx.transport;
        // the honest role, its reveal rewritten: client c0's seed share replaced by field elements >= p
        const transport = new Proxy(t, {
          get(target, prop, receiver) {
            if (prop === 'send')
              return (from: string, to: string, key: string, payload: Uint8Array) =>
                t.send(from, to, key, key.endsWith('/r4/reveal') ? revealToBytes(revealFromBytes(payload, N).map((r) => (r.owner === 0 && r.kind === 'seed' ? { ...r, share: new Uint8Array(SHAMIR_SHARE_BYTES).fill(0xff) } : r))) : payload);
            const v = Reflect.get(target, prop, receiver) as unknown;
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
          },
        });
        return honest.client({ ...ctx, transport }, p, input);
      },
    };
    const plan = sumPlan(roles, N, 'shares/holder-seed');
    const o = await runSecAgg({ roles, plan, inputs: sumInputs(plan, rng(22)) });
    assert.ok(o.error instanceof SecAggSharesError, `expected a SecAggSharesError, got ${String(o.error)}`);
    assert.equal(o.error.owner, 'c0');
    assert.equal(o.error.secret, 'self-mask seed');
    assert.equal(o.error.verified, false);
    assert.equal(o.result, undefined);
  });
});
