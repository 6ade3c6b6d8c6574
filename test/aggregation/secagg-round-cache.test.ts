/**
 * The per-process round cache (src/aggregation/secagg-round-cache.ts): the clients a process
 * hosts parse and check the keys of U1 once, and derive the session id, graph and plan digest
 * once. As an attacker would use it:
 * - one list sent to every client, in which ONE client's own key is replaced: that client still
 *   refuses ('own-keys') though another client's parse built the shared view, and sends nothing
 *   after; the same with that client left out ('self-dead');
 * - the buffer a client received, changed after its parse, does not change what the next client
 *   with the original bytes sees (the view is built from a private copy, keyed by content);
 * - different lists get different views; a bad list's refusal is not another list's.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateIdentity } from '../../src/crypto/identity.js';
import { SecAggViolationError } from '../../src/aggregation/secagg-errors.js';
import { keysFromBytes, keysToBytes, roundOfKey } from '../../src/aggregation/secagg-wire.js';
import { cachedPlanDigest, keysView } from '../../src/aggregation/secagg-round-cache.js';
import { planDigest } from '../../src/aggregation/secagg-crypto.js';
import { makeRoles, rng, runSecAgg, sumInputs, sumPlan } from './secagg-harness.js';

const N = 6;

function keyList(n: number): Uint8Array {
  return keysToBytes(Array.from({ length: n }, (_, index) => ({ index, cpk: generateIdentity().publicKey, spk: generateIdentity().publicKey })));
}

describe('secagg round cache', () => {
  for (const [rule, edit] of [
    ['own-keys', (e: ReturnType<typeof keysFromBytes>) => e.map((x) => (x.index === 3 ? { ...x, cpk: generateIdentity().publicKey } : x))],
    ['self-dead', (e: ReturnType<typeof keysFromBytes>) => e.filter((x) => x.index !== 3)],
  ] as const) {
    it(`one list to every client, wrong for c3 only: c3 still refuses ('${rule}') from the shared view and sends nothing more`, async () => {
      const roles = makeRoles('complete', { threshold: 3 });
      const plan = sumPlan(roles, N, `cache/${rule}`);
      let list: Uint8Array | undefined;
      const out = await runSecAgg({
        roles, plan, inputs: sumInputs(plan, rng(3)),
        // the very same bytes to every client (built once from the honest list)
        tamper: (m) => (m.what === 'keys' ? (list ??= keysToBytes(edit(keysFromBytes(m.payload, N)))) : m.payload),
      });
      const e = out.clientErrors.get('c3');
      assert.ok(e instanceof SecAggViolationError && e.rule === rule, `c3: ${String(e)}`);
      assert.deepEqual(out.sent.get('c3')!.filter((k) => roundOfKey(k)! >= 1), [], 'c3 sent after the keys');
      // the others accepted the same list (their own keys are right): at least one reached the shares round
      assert.ok(['c0', 'c1', 'c2', 'c4', 'c5'].some((c) => out.sent.get(c)!.some((k) => roundOfKey(k) === 1)));
    });
  }

  it('a received buffer changed after the parse does not reach the next client: views are by content, from a private copy', () => {
    const bytes = keyList(N);
    const copy = new Uint8Array(bytes);
    const v1 = keysView(bytes, N, false);
    const before = v1.entries.map((e) => Buffer.from(e.cpk).toString('hex'));
    bytes.fill(0);
    const v2 = keysView(copy, N, false);
    assert.equal(v2, v1, 'the same content: the same view');
    assert.deepEqual(v2.entries.map((e) => Buffer.from(e.cpk).toString('hex')), before, 'the view kept the bytes as parsed');
    assert.throws(() => keysView(bytes, N, false), 'the zeroed buffer is another list (and does not parse as one)');
  });

  it('a shared view cannot be changed through any reference (an in-process holder cannot clear a refusal or swap a key), and only Uint8Arrays are taken', () => {
    const good = keysFromBytes(keyList(N), N);
    const bad = good.map((x) => (x.index === 2 ? { ...x, spk: good[1]!.spk } : x));
    const v = keysView(keysToBytes(bad), N, false);
    assert.ok(Object.isFrozen(v) && Object.isFrozen(v.entries) && v.entries.every((e) => Object.isFrozen(e)) && Object.isFrozen(v.refusal));
    assert.throws(() => { (v as { refusal: unknown }).refusal = undefined; }, TypeError);
    assert.equal(keysView(keysToBytes(bad), N, false).refusal?.rule, 'duplicate-key');
    for (const m of ['add', 'delete', 'clear']) assert.equal((v.U1 as unknown as Record<string, unknown>)[m], undefined, `U1.${m}`);
    for (const m of ['set', 'delete', 'clear']) assert.equal((v.byIndex as unknown as Record<string, unknown>)[m], undefined, `byIndex.${m}`);
    assert.ok(Object.isFrozen(v.U1) && Object.isFrozen(v.byIndex));
    assert.throws(() => keysView(Uint16Array.from(keysToBytes(good)) as unknown as Uint8Array, N, false), /"bytes" expected a Uint8Array/);
  });

  it('different lists, different views; a duplicate key is the bad list\'s refusal only', () => {
    const good = keysFromBytes(keyList(N), N);
    const bad = good.map((x) => (x.index === 2 ? { ...x, spk: good[1]!.spk } : x));
    const vg = keysView(keysToBytes(good), N, false), vb = keysView(keysToBytes(bad), N, false);
    assert.notEqual(vg, vb);
    assert.equal(vg.refusal, undefined);
    assert.equal(vb.refusal?.rule, 'duplicate-key');
    const rep = good.map((x) => (x.index === 5 ? { ...x, index: 0 } : x));
    assert.equal(keysView(keysToBytes(rep), N, false).refusal?.rule, 'repeated-id');
  });

  it('the plan digest is cached only for a frozen plan, and follows its leaves', () => {
    const roles = makeRoles('complete', { threshold: 3 });
    const plan = sumPlan(roles, N, 'cache/digest');
    assert.ok(Object.isFrozen(plan) && Object.isFrozen(plan.clients));
    assert.deepEqual(cachedPlanDigest(plan), planDigest(plan));
    const d = cachedPlanDigest(plan);
    d.fill(0); // a caller's copy
    assert.deepEqual(cachedPlanDigest(plan), planDigest(plan));
    const open = { ...plan, clients: [...plan.clients] }; // not frozen: hashed every time
    assert.deepEqual(cachedPlanDigest(open), planDigest(open));
    open.clients[0] = 'other';
    assert.deepEqual(cachedPlanDigest(open), planDigest(open));
  });
});
