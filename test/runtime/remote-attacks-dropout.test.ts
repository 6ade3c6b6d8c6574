/**
 * A malicious model owner (driver) against honest players, with dropout
 * tolerance (`mpcRoles({ dropout: true })`, compute servers with their own
 * collection deadline): the driver makes a data owner "look dead" by never
 * sending it the aggregate command, so the compute servers see no
 * contribution from it and complete over the others. The honest players are
 * the real `serveSessions`; the driver is this test code (attack-helpers.ts).
 *
 * What the driver may get this way is a sum over a subset of the plan's
 * clients of its choosing, at least the compute servers' minimum: exactly
 * what a plan naming that subset would give it. What it must not get: a
 * contributor's value in a sum over fewer distinct data owners than that
 * contributor's OWN minimum (it checked the plan's roster, not the
 * survivors), or a sum whose contributors were not all sent the same
 * commands (the release gate must cover every survivor).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mpcRoles } from '../../src/aggregation/mpc-roles.js';
import { DEFAULT_POLICY, resolvePolicy } from '../../src/deploy/policy.js';
import type { DataSource } from '../../src/runtime/remote/player.js';
import { bytesOf, carries, closeHubs, config, DRIVER, network, plan, SERVERS, typeJson, type Network } from './attack-helpers.js';

after(closeHubs);

const OWNERS = ['owner0', 'owner1', 'owner2', 'owner3'];
/** Each owner's private vector (owner0 is the victim). */
const VEC: Record<string, number[]> = { owner0: [31337, 4242], owner1: [5, 6], owner2: [7, 8], owner3: [9, 10] };
const data: DataSource = (source, c) => {
  if (source === 'vecs') return VEC[c.name.split(':')[0]!];
  throw new RangeError(`no source ${source}`);
};
const I32x2 = typeJson('int32', [2]);
const ABY3 = mpcRoles({ protocol: 'aby3', dropout: true });
/** The compute servers stop waiting for contributions after this long (a hang guard here, never asserted). */
const COLLECT_MS = 300;
const refusal = (r: { header: Record<string, unknown> }) => ({ ok: r.header['ok'], rule: r.header['rule'], party: r.header['party'] });
// (a secure sum to SERVER takes ABY3's fused path: server0 and server1 collect, server2 takes no part and is not asked)
const FUSED = SERVERS.slice(0, 2);
const servers = <T>(v: T) => Object.fromEntries(FUSED.map((s) => [s, v]));
const sumOf = (owners: readonly string[]) => [0, 1].map((j) => owners.reduce((a, o) => a + VEC[o]![j]!, 0));

/** Every owner loads its own vector as value #0. */
async function loadAll(d: { command: (p: string, h: Record<string, unknown>) => Promise<{ header: Record<string, unknown> }> }): Promise<void> {
  for (const p of OWNERS) assert.equal((await d.command(p, { op: 'data', out: 0, source: 'vecs', type: I32x2 })).header['ok'], true);
}

/**
 * Nothing but command replies reached the driver from any player: not even
 * the servers' bitmap of who contributed, which SERVER is told only once a
 * server's release gate holds.
 */
function onlyReplies(net: Network): void {
  assert.deepEqual(net.atDriverBesidesReplies().map((m) => `${m.from} ${m.key}`), []);
}

describe('a driver that makes a data owner look dead (never sends it the aggregate command)', () => {
  it("baseline: every owner at the default minimum (3): the sum over the three others, exactly what a plan of those three gives (the victim's policy allows it)", async () => {
    const net = network(config(4), () => DEFAULT_POLICY, data, { collectMs: COLLECT_MS });
    const { d } = await net.open();
    await loadAll(d);
    const p = plan({ session: d.session, n: 0, protocol: ABY3.name, params: ABY3.params, clients: OWNERS });
    const asked = { owner0: { plan: p, value: 0 }, owner1: { plan: p, value: 0 }, owner2: { plan: p, value: 0 }, ...servers({ plan: p }) };
    const r = await d.aggregate(ABY3, p, asked, I32x2);
    await d.abort(net.players);
    await net.close();
    for (const s of FUSED) assert.equal(r.replies[s]!.header['ok'], true, JSON.stringify(r.replies[s]!.header));
    assert.deepEqual(r.result, sumOf(['owner0', 'owner1', 'owner2']));
    // owner3 sent nothing at all: it was never asked
    assert.deepEqual(net.wire.filter((m) => m.from === 'owner3' && !/\/(open|\d+\/reply)$/.test(m.key)).map((m) => m.key), []);
  });

  it("the victim requires 4 distinct data owners, the compute servers 3: the servers refuse at their release gate (rule 'minContributors'), the driver gets no aggregate", async () => {
    // owner0's operator is stricter than the config (--min-contributors 4); it checked the plan's four owners
    const policyOf = (p: string) => (p === 'owner0' ? resolvePolicy(undefined, { minContributors: 4 }) : DEFAULT_POLICY);
    const net = network(config(4), policyOf, data, { collectMs: COLLECT_MS });
    const { d } = await net.open();
    await loadAll(d);
    const p = plan({ session: d.session, n: 0, protocol: ABY3.name, params: ABY3.params, clients: OWNERS });
    // owner3 is never asked: the servers see it drop out and hold the contributions of owner0..owner2
    const asked = { owner0: { plan: p, value: 0 }, owner1: { plan: p, value: 0 }, owner2: { plan: p, value: 0 }, ...servers({ plan: p }) };
    const r = await d.aggregate(ABY3, p, asked, I32x2);
    await d.abort(net.players);
    await net.close();
    // the victim accepted the plan (four owners) and shared its vector ...
    assert.equal(r.replies['owner0']!.header['ok'], true);
    assert.ok(net.wire.some((m) => m.from === 'owner0' && SERVERS.includes(m.to) && /mpc-/.test(m.key)));
    // ... but no server opened the sum of three to the driver
    assert.equal(r.result, undefined, `the driver received an aggregate: ${JSON.stringify(r.result)}`);
    for (const s of FUSED) assert.deepEqual(refusal(r.replies[s]!), { ok: false, rule: 'minContributors', party: s }, s);
    assert.ok(!net.wire.filter((m) => m.to === DRIVER).some((m) => carries(m.payload, Int32Array.of(VEC['owner0']![0]!))));
    onlyReplies(net);
  });

  it("a survivor was sent other commands than the victim (a value the driver broadcast): the gate covers every survivor, every server refuses ('agreement')", async () => {
    const net = network(config(4), () => DEFAULT_POLICY, data, { collectMs: COLLECT_MS });
    const { d } = await net.open();
    await loadAll(d);
    // owner1 also holds a value the driver chose; it contributes that one
    assert.equal((await d.command('owner1', { op: 'broadcast', out: 1, placement: 'CLIENTS', type: I32x2 }, [bytesOf(Int32Array.of(0, 0))])).header['ok'], true);
    const p = plan({ session: d.session, n: 0, protocol: ABY3.name, params: ABY3.params, clients: OWNERS });
    // owner3, whose commands match the victim's, is the one made to look dead
    const asked = { owner0: { plan: p, value: 0 }, owner1: { plan: p, value: 1 }, owner2: { plan: p, value: 0 }, ...servers({ plan: p }) };
    const r = await d.aggregate(ABY3, p, asked, I32x2);
    await d.abort(net.players);
    await net.close();
    assert.equal(r.result, undefined, `the driver received an aggregate: ${JSON.stringify(r.result)}`);
    for (const s of FUSED) assert.deepEqual(refusal(r.replies[s]!), { ok: false, rule: 'agreement', party: s }, s);
    onlyReplies(net);
  });
});
