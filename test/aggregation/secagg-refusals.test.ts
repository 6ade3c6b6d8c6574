/**
 * A malicious SERVER driving honest SecAgg clients (test/aggregation/
 * secagg-harness.ts `tamper`: the honest server role's messages to client
 * c0, rewritten): for every refusal rule of the issue, one test in which c0
 * refuses with the SecAggViolationError naming the rule and sends nothing
 * after the bad message (no send of that round or later).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateIdentity } from '../../src/crypto/identity.js';
import { SecAggViolationError, type SecAggRule } from '../../src/aggregation/secagg-errors.js';
import {
  keysFromBytes,
  keysToBytes,
  roundOfKey,
  sealedFromBytes,
  sealedToBytes,
  unmaskFromBytes,
  unmaskToBytes,
} from '../../src/aggregation/secagg-wire.js';
import type { SecAggGraph } from '../../src/aggregation/secagg-graph.js';
import type { SecAggRoles } from '../../src/aggregation/secagg-roles.js';
import { makeRoles, rng, runSecAgg, sumInputs, sumPlan, type ServerMessage } from './secagg-harness.js';

const N = 5;
const T = 3;
const TARGET = 'c0';

type Tamper = (m: ServerMessage, g: SecAggGraph | undefined) => Uint8Array;

/** Rewrite the server's message `what` to the target only. */
const at = (what: string, f: (payload: Uint8Array, g: SecAggGraph | undefined) => Uint8Array): Tamper => (m, g) => (m.to === TARGET && m.what === what ? f(m.payload, g) : m.payload);

const editKeys = (f: (e: ReturnType<typeof keysFromBytes>) => ReturnType<typeof keysFromBytes>, n = N) => at('keys', (p) => keysToBytes(f(keysFromBytes(p, n))));
const editUnmask = (f: (r: { alive: number[]; dead: number[] }) => { alive: number[]; dead: number[] }, n = N) =>
  at('unmask', (p) => {
    const r = unmaskFromBytes(p, n);
    return unmaskToBytes(f({ alive: [...r.alive], dead: [...r.dead] }));
  });
const editRouted = (f: (e: ReturnType<typeof sealedFromBytes>, g: SecAggGraph | undefined) => ReturnType<typeof sealedFromBytes>, n = N) => at('routed', (p, g) => sealedToBytes('routed', f(sealedFromBytes('routed', p, n), g)));

const ROUND_OF: Record<string, number> = { keys: 1, routed: 2, unmask: 4 };

async function expectRefusal(rule: SecAggRule, what: keyof typeof ROUND_OF, tamper: Tamper, o: { roles?: SecAggRoles; n?: number; dropAt?: Map<string, number>; inv?: string } = {}): Promise<void> {
  const roles = o.roles ?? makeRoles('complete', { threshold: T });
  const plan = sumPlan(roles, o.n ?? N, o.inv ?? `refuse/${rule}`);
  const out = await runSecAgg({ roles, plan, inputs: sumInputs(plan, rng(7)), tamper, ...(o.dropAt ? { dropAt: o.dropAt } : {}) });
  const e = out.clientErrors.get(TARGET);
  assert.ok(e instanceof SecAggViolationError, `${TARGET} should refuse by rule '${rule}', got ${String(e)}`);
  assert.equal(e.rule, rule, String(e));
  const bad = ROUND_OF[what]!;
  const after = out.sent.get(TARGET)!.filter((k) => roundOfKey(k)! >= bad);
  assert.deepEqual(after, [], `${TARGET} sent after the bad message of round ${bad}`);
}

describe('secagg: an honest client refuses a malicious server, sending nothing more', () => {
  it("'malformed': a truncated message", () => expectRefusal('malformed', 'keys', at('keys', (p) => p.subarray(0, p.length - 1))));

  it("'unknown-id': an index outside the plan", () => expectRefusal('unknown-id', 'keys', editKeys((e) => e.map((x) => (x.index === 1 ? { ...x, index: N } : x)))));

  it("'repeated-id': a client listed twice", () => expectRefusal('repeated-id', 'keys', editKeys((e) => e.map((x) => (x.index === 1 ? e.find((y) => y.index === 2)! : x)))));

  it("'repeated-id': shares routed twice from one client", () => expectRefusal('repeated-id', 'routed', editRouted((e) => [...e, e[0]!])));

  it("'non-neighbour': shares from a client that is not a neighbour (SecAgg+)", async () => {
    const n = 8;
    await expectRefusal(
      'non-neighbour',
      'routed',
      editRouted((e, g) => {
        const stranger = Array.from({ length: n }, (_, u) => u).find((u) => u !== 0 && !g!.isNeighbour(0, u))!;
        return [...e, { peer: stranger, ct: e[0]!.ct }];
      }, n),
      { roles: makeRoles({ harary: { k: 4, t: 3 } }), n },
    );
  });

  it("'alive-and-dead': a client listed both alive and dead", () => expectRefusal('alive-and-dead', 'unmask', editUnmask((r) => ({ alive: r.alive, dead: [...r.dead, r.alive[0]!] }))));

  it("'self-dead': the client itself listed dead", () => expectRefusal('self-dead', 'unmask', editUnmask((r) => ({ alive: r.alive, dead: [...r.dead, 0] }))));

  it("'self-dead': the client left out of the keys of U1", () => expectRefusal('self-dead', 'keys', editKeys((e) => e.filter((x) => x.index !== 0))));

  it("'too-few-alive': fewer than t alive in the unmasking request", () => expectRefusal('too-few-alive', 'unmask', editUnmask((r) => ({ alive: r.alive.slice(0, T - 2), dead: r.dead }))));

  it("'too-few-alive': fewer than t in U1", () => expectRefusal('too-few-alive', 'keys', editKeys((e) => e.filter((x) => x.index < T - 1))));

  it("'not-nested': alive names a client that dropped before sharing its keys", () =>
    expectRefusal('not-nested', 'unmask', editUnmask((r) => ({ alive: [...r.alive, 4], dead: r.dead })), { dropAt: new Map([['c4', 1]]) }));

  it("'not-nested': shares routed from a client outside U1", () =>
    expectRefusal('not-nested', 'routed', editRouted((e) => [...e, { peer: 4, ct: e[0]!.ct }]), { dropAt: new Map([['c4', 0]]) }));

  it("'repeated-round': an aggregation id the client already took part in", async () => {
    const roles = makeRoles('complete', { threshold: T });
    const plan = sumPlan(roles, N, 'twice');
    const first = await runSecAgg({ roles, plan, inputs: sumInputs(plan, rng(1)) });
    assert.equal(first.error, undefined);
    const again = await runSecAgg({ roles, plan, inputs: sumInputs(plan, rng(2)) });
    const e = again.clientErrors.get(TARGET);
    assert.ok(e instanceof SecAggViolationError && e.rule === 'repeated-round', String(e));
    assert.deepEqual(again.sent.get(TARGET), [], 'nothing sent in the repeated round');
    assert.ok(again.error !== undefined, 'no aggregate of a repeated round');
  });

  it("'ciphertext': a tampered encrypted share", () =>
    expectRefusal('ciphertext', 'routed', editRouted((e) => e.map((x, j) => (j === 0 ? { peer: x.peer, ct: Uint8Array.from(x.ct, (b, i) => (i === 20 ? b ^ 1 : b)) } : x)))));

  it("'ciphertext': encrypted shares swapped between senders (misrouted)", () =>
    expectRefusal('ciphertext', 'routed', editRouted((e) => e.map((x, j) => ({ peer: x.peer, ct: e[(j + 1) % e.length]!.ct })))));

  it("'ciphertext': encrypted shares replayed from an earlier round", async () => {
    const roles = makeRoles('complete', { threshold: T });
    let recorded: Uint8Array | undefined;
    const plan = sumPlan(roles, N, 'replay/1');
    await runSecAgg({ roles, plan, inputs: sumInputs(plan, rng(3)), tamper: (m) => ((m.to === TARGET && m.what === 'routed' && (recorded = m.payload)), m.payload) });
    assert.ok(recorded !== undefined);
    await expectRefusal('ciphertext', 'routed', at('routed', () => recorded!), { roles, inv: 'replay/2' });
  });

  it("'duplicate-key': two advertised public keys equal", () =>
    expectRefusal('duplicate-key', 'keys', editKeys((e) => e.map((x) => (x.index === 2 ? { ...x, spk: e.find((y) => y.index === 1)!.spk } : x)))));

  it("'own-keys': the client's own key replaced", () => expectRefusal('own-keys', 'keys', editKeys((e) => e.map((x) => (x.index === 0 ? { ...x, cpk: generateIdentity().publicKey } : x)))));

  it("'bad-key': a low-order public key", () => expectRefusal('bad-key', 'keys', editKeys((e) => e.map((x) => (x.index === 1 ? { ...x, cpk: new Uint8Array(32) } : x)))));
});
