/**
 * The malicious-server variant (secagg-consistency.ts): Ed25519-signed keys
 * and the consistency round. End to end with dropouts at every round (round
 * 3 now has messages of its own: a client dropping there is in the sum but
 * reveals nothing), a typed abort below t at every round, and the refusals
 * that belong to this variant: keys not signed by the pinned key, fewer
 * than t signatures of the client's own U3, a signature of another set, an
 * unmasking request that departs from the signed U3.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateIdentity } from '../../src/crypto/identity.js';
import { PolicyError } from '../../src/core/errors.js';
import type { SecAggGraph } from '../../src/aggregation/secagg-graph.js';
import { SecAggAbortError, SecAggViolationError, type SecAggRule } from '../../src/aggregation/secagg-errors.js';
import { keysFromBytes, keysToBytes, roundOfKey, signaturesFromBytes, signaturesToBytes, survivorsFromBytes, survivorsToBytes, unmaskFromBytes, unmaskToBytes } from '../../src/aggregation/secagg-wire.js';
import type { SecAggRoles } from '../../src/aggregation/secagg-roles.js';
import { makeRoles, maliciousRoles, names, referenceOver, revealedShares, rng, runSecAgg, sumInputs, sumPlan, type ServerMessage, type Setting } from './secagg-harness.js';

// malicious thresholds at corruptionRate 0: 2t > n on the complete graph, 2t - k > 0 on H(n, k)
const SETTINGS: readonly Setting[] = [
  { label: 'complete n=7 t=4', graph: 'complete', n: 7, t: 4, tolerance: 3 },
  { label: 'harary n=10 k=6 t=4', graph: { harary: { k: 6, t: 4 } }, n: 10, t: 4, tolerance: 3 },
];
const makeRolesSemiHonest = (): SecAggRoles => makeRoles('complete', { threshold: 3 });
const rolesOf = (s: Setting): SecAggRoles => (s.graph === 'complete' ? maliciousRoles(s.n, 'complete', { threshold: s.t }) : maliciousRoles(s.n, s.graph));

describe('secagg (malicious-server variant): exact sum of the survivors for dropouts at every round', () => {
  for (const s of SETTINGS) {
    const counts = [...new Set([1, Math.floor(s.tolerance / 2), s.tolerance])].filter((d) => d >= 1);
    for (const round of [0, 1, 2, 3, 4]) {
      it(`${s.label}: ${counts.join(' / ')} dropped at round ${round}`, async () => {
        for (const d of counts) {
          const random = rng(500 + 10 * round + d);
          const roles = rolesOf(s);
          const plan = sumPlan(roles, s.n, `mal/${round}/${d}`);
          const inputs = sumInputs(plan, random);
          const chosen = names(s.n).sort(() => random() - 0.5).slice(0, d);
          const o = await runSecAgg({ roles, plan, inputs, dropAt: new Map(chosen.map((c) => [c, round])) });
          if (o.error !== undefined) throw o.error;
          const survivors = names(s.n).filter((c) => !chosen.includes(c) || round >= 3);
          assert.deepEqual(o.result!.survivors, survivors);
          assert.deepEqual(o.result!.leaves, referenceOver(plan, inputs, survivors));
          assert.deepEqual([...o.result!.dropped].map((x) => x.round), chosen.map(() => round));
        }
      });
    }
    it(`${s.label}: n - t + 1 dropped at any round is a typed abort at that round, nothing revealed`, async () => {
      for (const round of [0, 1, 2, 3, 4]) {
        const random = rng(700 + round);
        const roles = rolesOf(s);
        const plan = sumPlan(roles, s.n, `mal-abort/${round}`);
        const chosen = names(s.n).sort(() => random() - 0.5).slice(0, s.n - s.t + 1);
        const o = await runSecAgg({ roles, plan, inputs: sumInputs(plan, random), dropAt: new Map(chosen.map((c) => [c, round])) });
        assert.ok(o.error instanceof SecAggAbortError, String(o.error));
        assert.equal(o.error.round, round);
        const { seed, key } = revealedShares(o, s.n);
        if (round < 4) assert.equal(seed.size + key.size, 0);
        for (const [, from] of [...seed, ...key]) assert.ok(from.size < s.t);
      }
    });
  }
});

const N = 7;
const T = 4;
const TARGET = 'c0';
const at = (what: string, f: (p: Uint8Array) => Uint8Array) => (m: ServerMessage) => (m.to === TARGET && m.what === what ? f(m.payload) : m.payload);
const ROUND_OF: Record<string, number> = { keys: 1, survivors: 3, signatures: 4, unmask: 4 };

async function expectRefusal(rule: SecAggRule, what: string, tamper: (m: ServerMessage) => Uint8Array): Promise<void> {
  const roles = maliciousRoles(N, 'complete', { threshold: T });
  const plan = sumPlan(roles, N, `mal-refuse/${rule}/${what}`);
  const o = await runSecAgg({ roles, plan, inputs: sumInputs(plan, rng(3)), tamper });
  const e = o.clientErrors.get(TARGET);
  assert.ok(e instanceof SecAggViolationError, `expected a refusal by '${rule}', got ${String(e)}`);
  assert.equal(e.rule, rule, String(e));
  assert.deepEqual(o.sent.get(TARGET)!.filter((k) => roundOfKey(k)! >= ROUND_OF[what]!), [], 'sent after the bad message');
}

describe('secagg (malicious-server variant): an honest client refuses, sending nothing more', () => {
  it("'bad-signature': another client's keys replaced (its signature kept)", () =>
    expectRefusal('bad-signature', 'keys', at('keys', (p) => keysToBytes(keysFromBytes(p, N, true).map((e) => (e.index === 1 ? { ...e, cpk: generateIdentity().publicKey } : e)), true))));

  it("'self-dead': U3 without the client", () => expectRefusal('self-dead', 'survivors', at('survivors', (p) => survivorsToBytes(survivorsFromBytes(p, N).filter((u) => u !== 0)))));

  it("'too-few-alive': U3 shown with fewer than t clients (it would sign it without the check; then refuse the signatures)", () =>
    expectRefusal('too-few-alive', 'survivors', at('survivors', () => survivorsToBytes([0, 1, 2]))));

  it("'inconsistent-survivors': fewer than t signatures", () =>
    expectRefusal('inconsistent-survivors', 'signatures', at('signatures', (p) => signaturesToBytes(signaturesFromBytes(p, N).slice(0, T - 1)))));

  it("'inconsistent-survivors': a signature moved to another client's slot", () =>
    expectRefusal('inconsistent-survivors', 'signatures', at('signatures', (p) => {
      const s = signaturesFromBytes(p, N);
      return signaturesToBytes(s.map((x, j) => ({ index: x.index, sig: s[(j + 1) % s.length]!.sig })));
    })));

  it("'inconsistent-survivors': an alive neighbour listed dead (the split-view attack's request)", () =>
    expectRefusal('inconsistent-survivors', 'unmask', at('unmask', (p) => {
      const r = unmaskFromBytes(p, N);
      return unmaskToBytes({ alive: r.alive.slice(1), dead: [...r.dead, r.alive[0]!] });
    })));

  it("'inconsistent-survivors': U3 shown to the client differs from the one the others signed", async () => {
    // c0 is shown U3 without c1 and signs it; the honest server, whose check of c0's signature fails, drops c0;
    // the malicious server then sends c0 the others' signatures (of the true U3): c0 refuses them
    const roles = maliciousRoles(N, 'complete', { threshold: T });
    const plan = sumPlan(roles, N, 'mal-refuse/split');
    let injected = false;
    const o = await runSecAgg({
      roles,
      plan,
      inputs: sumInputs(plan, rng(4)),
      tamper: (m) => (m.to === TARGET && m.what === 'survivors' ? survivorsToBytes(survivorsFromBytes(m.payload, N).filter((u) => u !== 1)) : m.payload),
      inject: (m) => (m.what === 'signatures' && !injected ? ((injected = true), [{ to: TARGET, key: m.key, payload: m.payload }]) : []),
    });
    const e = o.clientErrors.get(TARGET);
    assert.ok(e instanceof SecAggViolationError && e.rule === 'inconsistent-survivors', String(e));
    assert.deepEqual(o.sent.get(TARGET)!.filter((k) => roundOfKey(k)! >= 4), []);
    // the others complete: c0's masked input arrived (it is in U3), and its seed shares come from the others
    assert.equal(o.error, undefined, String(o.error));
    assert.ok(o.result!.survivors.includes(TARGET));
  });
});

describe('secagg: the split-view attack (a server that tells some holders a client dropped)', () => {
  // c1 is alive; the server asks c2, c3, c4 for c1's masking-key share (listing it dead) and the others for its seed share
  const split = (m: ServerMessage): Uint8Array => {
    if (m.what !== 'unmask' || !['c2', 'c3', 'c4'].includes(m.to)) return m.payload;
    const r = unmaskFromBytes(m.payload, N);
    return unmaskToBytes({ alive: r.alive.filter((u) => u !== 1), dead: [...r.dead, 1] });
  };
  it('semi-honest (t = 3): the server gets t seed shares and t key shares of c1: outside that threat model, as documented', async () => {
    const roles = makeRolesSemiHonest();
    const plan = sumPlan(roles, N, 'split/semi-honest');
    const o = await runSecAgg({ roles, plan, inputs: sumInputs(plan, rng(11)), tamper: split });
    const { seed, key } = revealedShares(o, N);
    assert.ok((seed.get(1)?.size ?? 0) >= 3 && (key.get(1)?.size ?? 0) >= 3);
  });
  it('malicious-server variant (t = 4): the told holders refuse; the server never holds both kinds of c1', async () => {
    const roles = maliciousRoles(N, 'complete', { threshold: T });
    const plan = sumPlan(roles, N, 'split/malicious');
    const o = await runSecAgg({ roles, plan, inputs: sumInputs(plan, rng(11)), tamper: split });
    for (const c of ['c2', 'c3', 'c4']) assert.equal((o.clientErrors.get(c) as SecAggViolationError | undefined)?.rule, 'inconsistent-survivors');
    const { key } = revealedShares(o, N);
    assert.equal(key.get(1)?.size ?? 0, 0);
  });
});

describe('secagg (malicious-server variant, Harary graph): the signed U3 is checked at unmasking', () => {
  // H(10, 6), t = 4: c0 has 6 neighbours and 3 non-neighbours. The server shrinks U3 by discarding masked inputs
  // (to the clients, indistinguishable from dropouts at round 2: the harness's schedule). It shows every client the
  // same (smaller) U3 and gathers the signatures: the consistency round passes; c0's checks of what follows from it
  // at round 4 are what stop it. On H(n, k) the complete graph's alive-list check of minContributors does not apply:
  // the signed U3 is the only place c0 sees the sum's membership.
  const HN = 10;
  const harary = { harary: { k: 6, t: 4 } } as const;
  const nonNeighbours = (g: SecAggGraph) => names(HN).filter((_, u) => u !== 0 && !g.isNeighbour(0, u));
  const neighbours = (g: SecAggGraph) => names(HN).filter((_, u) => u !== 0 && g.isNeighbour(0, u));
  async function run(inv: string, dropAt: (g: SecAggGraph) => Map<string, number>, minContributors?: number) {
    const honest = maliciousRoles(HN, harary);
    const roles: SecAggRoles = minContributors === undefined ? honest : { ...honest, client: (ctx, p, input) => honest.client(ctx.me === TARGET ? { ...ctx, policy: { ...ctx.policy, minContributors } } : ctx, p, input) };
    const plan = sumPlan(roles, HN, inv);
    return runSecAgg({ roles, plan, inputs: sumInputs(plan, rng(31)), dropAt });
  }
  const reveals = (o: Awaited<ReturnType<typeof run>>) => o.sent.get(TARGET)!.filter((k) => k.endsWith('/r4/reveal'));

  it("'minContributors': c0's signed U3 (7 clients) is below its policy of 8: it refuses, revealing no share", async () => {
    const o = await run('mal-harary/min-contributors', (g) => new Map(nonNeighbours(g).map((c) => [c, 2])), 8);
    assert.equal(o.graph!.neighbours(0).length, 6);
    const e = o.clientErrors.get(TARGET);
    assert.ok(e instanceof PolicyError, `expected a PolicyError, got ${String(e)}`);
    assert.equal(e.rule, 'minContributors');
    assert.equal(e.count, 7);
    assert.equal(e.minimum, 8);
    assert.ok(o.sent.get(TARGET)!.some((k) => k.endsWith('/r3/signature')), 'c0 signed U3 (it passed the consistency round)');
    assert.deepEqual(reveals(o), [], 'c0 sent unmasking shares');
    // the same run with c0's policy met (7) completes: the refusal is the policy's, nothing else
    const ok = await run('mal-harary/min-contributors-met', (g) => new Map(nonNeighbours(g).map((c) => [c, 2])), 7);
    assert.equal(ok.clientErrors.get(TARGET), undefined, String(ok.clientErrors.get(TARGET)));
    assert.equal(reveals(ok).length, 1);
  });

  it("'too-few-alive': the signed U3 (6 >= t clients) leaves c0 only 2 neighbours, fewer than t - 1: it refuses, revealing no share", async () => {
    const o = await run('mal-harary/too-few-neighbours', (g) => new Map(neighbours(g).slice(0, 4).map((c) => [c, 2])));
    const e = o.clientErrors.get(TARGET);
    assert.ok(e instanceof SecAggViolationError, `expected a refusal, got ${String(e)}`);
    assert.equal(e.rule, 'too-few-alive', String(e));
    assert.ok(o.sent.get(TARGET)!.some((k) => k.endsWith('/r3/signature')), 'c0 signed U3 (|U3| >= t)');
    assert.deepEqual(reveals(o), [], 'c0 sent unmasking shares');
  });
});
