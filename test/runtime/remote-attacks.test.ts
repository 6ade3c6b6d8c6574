/**
 * Attacks on the remote execution stack by a malicious model owner (the
 * driver): the honest players are the real `serveSessions` (config checks,
 * default policy) or `servePlayerExecutor`; the driver is this test code
 * sending crafted commands. Each test asserts what the victim (owner0) must
 * never see leave it, and the refusal (rule, party) that stops the attack.
 * Findings 1-5 of branch attack-review (6 and 7: remote-attacks-replies);
 * an attack that still succeeds is marked `todo`, with how it succeeds.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mpcRoles } from '../../src/aggregation/mpc-roles.js';
import { DEFAULT_POLICY, resolvePolicy } from '../../src/deploy/policy.js';
import { TensorType } from '../../src/core/types.js';
import { servePlayerExecutor, type DataSource } from '../../src/runtime/remote/player.js';
import { HostingTransport } from '../../src/transport/hosting.js';
import { MemoryTransport } from '../../src/transport/memory.js';
import { planToBytes } from '../../src/aggregation/plan.js';
import { bytesOf, carries, closeHubs, config, DRIVER, EvilDriver, finish, GUARD_MS, network, opened, plan, recordingHub, SERVERS, sessionEnded, typeJson, type Network } from './attack-helpers.js';

after(closeHubs);

const ABY3 = mpcRoles({ protocol: 'aby3' });
const OWNERS = ['owner0', 'owner1', 'owner2'];
/** Each owner's private vector (owner0 is the victim). */
const VEC: Record<string, number[]> = { owner0: [31337, 4242], owner1: [5, 6], owner2: [7, 8], owner3: [9, 10] };
/** Each owner's private reading. */
const TEMP: Record<string, number> = { owner0: 98.625, owner1: 70.5, owner2: 69.25, owner3: 71 };
const data: DataSource = (source, c) => {
  const owner = c.name.split(':')[0]!;
  if (source === 'vecs') return VEC[owner];
  if (source === 'temps') return TEMP[owner];
  if (source === 'count') return VEC[owner]![0];
  throw new RangeError(`no source ${source}`);
};
const I32x2 = typeJson('int32', [2]);
const F32 = typeJson('float32');
const aby3Plan = (session: string, n: number, clients: string[], over: { bound?: bigint; leaf?: TensorType } = {}) => plan({ session, n, protocol: ABY3.name, params: ABY3.params, clients, ...over });
const refusal = (r: { header: Record<string, unknown> }) => ({ ok: r.header['ok'], rule: r.header['rule'], party: r.header['party'] });
// (a secure sum to SERVER takes ABY3's fused path: server0 and server1 take part, server2 none, and is not asked)
const FUSED = ['server0', 'server1'];
const servers = <T>(v: T) => Object.fromEntries(FUSED.map((s) => [s, v]));

/** Every aggregator asked refused at its release gate (rule 'agreement') and nothing but the replies reached the driver. */
function refusedAtTheGate(net: Network, r: { replies: Record<string, { header: Record<string, unknown> }>; result?: number[] }, asked: readonly string[] = FUSED): void {
  assert.equal(r.result, undefined, `the driver received an aggregate: ${JSON.stringify(r.result)}`);
  for (const s of asked) assert.deepEqual(refusal(r.replies[s]!), { ok: false, rule: 'agreement', party: s }, s);
  assert.deepEqual(net.atDriverBesidesReplies().map((m) => `${m.from} ${m.key}`), []);
}

describe('finding 1: the driver chooses which held value each data owner contributes', () => {
  it("the other owners contribute a value the driver broadcast: every server refuses at its release gate ('agreement'), the driver gets no aggregate", async () => {
    const net = network(config(), () => DEFAULT_POLICY, data);
    const { d } = await net.open();
    // every owner loads its own data (ref 0) ...
    for (const p of OWNERS) assert.equal((await d.command(p, { op: 'data', out: 0, source: 'vecs', type: I32x2 })).header['ok'], true);
    // ... and the other owners also hold a value the driver chose (ref 1), placed at their clients
    for (const p of ['owner1', 'owner2']) {
      assert.equal((await d.command(p, { op: 'broadcast', out: 1, placement: 'CLIENTS', type: I32x2 }, [bytesOf(Int32Array.of(0, 0))])).header['ok'], true);
    }
    // one plan for everybody (3 distinct data owners, config servers, ABY3): only the value refs differ
    const p = aby3Plan(d.session, 0, OWNERS);
    const r = await d.aggregate(ABY3, p, { owner0: { plan: p, value: 0 }, owner1: { plan: p, value: 1 }, owner2: { plan: p, value: 1 }, ...servers({ plan: p }) }, I32x2);
    await d.abort(net.players);
    await net.close();
    refusedAtTheGate(net, r);
  });

  it("a weighted mean with weight 0 (a broadcast) at the other owners: every server refuses at its release gate, the victim's reading never reaches the driver", async () => {
    const net = network(config(), () => DEFAULT_POLICY, data);
    const { d } = await net.open();
    for (const p of OWNERS) await d.command(p, { op: 'data', out: 0, source: 'temps', type: F32 });
    await d.command('owner0', { op: 'broadcast', out: 1, placement: 'CLIENTS', type: F32 }, [bytesOf(Float32Array.of(1))]);
    for (const p of ['owner1', 'owner2']) await d.command(p, { op: 'broadcast', out: 1, placement: 'CLIENTS', type: F32 }, [bytesOf(Float32Array.of(0))]);
    const wm = plan({ session: d.session, n: 0, protocol: ABY3.name, params: ABY3.params, clients: OWNERS, uri: 'federated_weighted_mean_at_aggregators', leaf: new TensorType('float32', []) });
    // (a weighted mean of floats to SERVER takes ABY3's fused path: server0 and server1 take part, server2 none)
    const fused = ['server0', 'server1'];
    const r = await d.aggregate(ABY3, wm, { ...Object.fromEntries(OWNERS.map((o) => [o, { plan: wm, value: 0, weight: 1 }])), ...Object.fromEntries(fused.map((s) => [s, { plan: wm }])) }, F32);
    await d.abort(net.players);
    await net.close();
    refusedAtTheGate(net, r, fused);
    assert.ok(!net.wire.filter((m) => m.to === DRIVER).some((m) => carries(m.payload, Float32Array.of(TEMP['owner0']!))));
  });
});

describe('an aggregator that takes no part in a plan', () => {
  it("server2, asked to run a plan of ABY3's fused path (it takes no part), refuses it ('roster') and sends no one anything", async () => {
    const net = network(config(), () => DEFAULT_POLICY, data);
    const { d } = await net.open();
    const wm = plan({ session: d.session, n: 0, protocol: ABY3.name, params: ABY3.params, clients: OWNERS, uri: 'federated_weighted_mean_at_aggregators', leaf: new TensorType('float32', []) });
    const r = await d.command('server2', { op: 'aggregate', out: 1, resultType: F32 }, [planToBytes(wm)]);
    await d.abort(net.players);
    await net.close();
    assert.deepEqual(refusal(r), { ok: false, rule: 'roster', party: 'server2' });
    assert.deepEqual(net.wire.filter((m) => m.from === 'server2' && m.to !== DRIVER).map((m) => m.key), []);
  });
});

describe("finding 2: a client's input checks answer the driver whether its value lies in a range the driver chose", () => {
  it("the secure-sum bound: the victim's value is clipped into [0, bound) (logged locally), so bounds below and above it get the same reply, and the session goes on", async () => {
    const net = network(config(), () => DEFAULT_POLICY, data);
    const { d } = await net.open();
    const I32 = typeJson('int32');
    assert.equal((await d.command('owner0', { op: 'data', out: 0, source: 'count', type: I32 })).header['ok'], true);
    // only the victim is asked (its reply used to be the oracle): 31337 lies above 2^10 and below 2^20
    const replies = [];
    for (const [n, bound] of [2n ** 10n, 2n ** 20n, 2n ** 10n].entries()) {
      const p = aby3Plan(d.session, n, OWNERS, { leaf: new TensorType('int32', []), bound });
      const r = await d.command('owner0', { op: 'aggregate', value: 0, out: 1000 + n, resultType: I32 }, [planToBytes(p)]);
      replies.push({ ...r.header, blobs: r.blobs.length });
      // a refusal would end the session: no command after it is answered
      if (r.header['ok'] !== true) break;
    }
    await d.abort(net.players);
    await net.close();
    assert.deepEqual(replies, [{ ok: true, blobs: 0 }, { ok: true, blobs: 0 }, { ok: true, blobs: 0 }]);
    assert.equal(net.logs.filter((l) => /^owner0: 1 value\(s\) outside the plan's range or not finite were clipped/.test(l)).length, 2, net.logs.join('\n'));
    // the victim sent the servers shares and agreement digests only, the driver its replies
    assert.deepEqual(net.atDriverBesidesReplies().map((m) => `${m.from} ${m.key}`), []);
    assert.ok(!net.wire.some((m) => m.from === 'owner0' && carries(m.payload, Int32Array.of(VEC['owner0']![0]!))));
  });

  it(
    "bisecting a weight the driver broadcasts: the fixed-point range check of weight x value answers whether |x| >= 2^47 / w, and the driver recovers the victim's reading (a session per refusal)",
    async () => {
      const F64 = typeJson('float64');
      // the smallest weight refused lies in (lo, hi]: w = 1 passes for any reading below 2^47, 2^47 is refused for any reading >= 1
      let lo = 1;
      let hi = 2 ** 47;
      let attempt: { net: Network; d: EvilDriver } | undefined;
      let sessions = 0;
      let n = 0;
      while (hi / lo > 1 + 1e-9 && n < 200) {
        const w = Math.sqrt(lo * hi);
        if (attempt === undefined) {
          attempt = await opened(config(), () => DEFAULT_POLICY, data);
          sessions++;
          assert.equal((await attempt.d.command('owner0', { op: 'data', out: 0, source: 'temps', type: F32 })).header['ok'], true);
        }
        const d = attempt.d;
        n++;
        await d.command('owner0', { op: 'broadcast', out: n, placement: 'CLIENTS', type: F64 }, [bytesOf(Float64Array.of(w))]);
        const wm = plan({ session: d.session, n, protocol: ABY3.name, params: ABY3.params, clients: OWNERS, uri: 'federated_weighted_mean_at_aggregators', leaf: new TensorType('float32', []) });
        const r = await d.command('owner0', { op: 'aggregate', value: 0, weight: n, out: 1000 + n, resultType: F32 }, [planToBytes(wm)]);
        if (r.header['ok'] === true) lo = w;
        else {
          hi = w;
          await finish(attempt);
          attempt = undefined;
        }
      }
      if (attempt !== undefined) await finish(attempt);
      const recovered = 2 ** 47 / hi;
      assert.ok(Math.abs(recovered - TEMP['owner0']!) > 1e-3, `the driver recovered the victim's reading ${recovered} in ${n} commands over ${sessions} sessions`);
    },
  );
});

describe('finding 3: federatedCollect takes its clients and aggregators from the command', () => {
  const OPTED_IN = resolvePolicy(undefined, { insecureAllowPlaintext: true });
  const rosters: Record<string, { clients: string[]; aggregators: string[]; rule: string | undefined }> = {
    // the model owner (SERVER) named as the aggregator: the roster names it twice
    modelOwner: { clients: ['owner0'], aggregators: [DRIVER], rule: undefined },
    dataOwner: { clients: OWNERS, aggregators: ['owner3'], rule: 'roster' },
    sybils: { clients: ['owner0', `${DRIVER}:0`, `${DRIVER}:1`], aggregators: ['server0'], rule: 'roster' },
    alone: { clients: ['owner0'], aggregators: ['server0'], rule: 'minContributors' },
  };
  for (const [what, roster] of Object.entries(rosters)) {
    it(`an opted-in data owner refuses a collect whose roster is ${what} (${roster.rule ?? 'malformed'}) before it sends its reading anywhere, and ends its session`, async () => {
      const a = await opened(config(4), () => OPTED_IN, data);
      await a.d.command('owner0', { op: 'data', out: 0, source: 'temps', type: F32 });
      const r = await a.d.command('owner0', { op: 'collect', value: 0, out: 1, element: F32, clients: roster.clients, aggregators: roster.aggregators });
      await sessionEnded(a.net, 'owner0', a.d.session);
      await finish(a);
      // the reply comes after every send of the command: whatever owner0 sent for it is recorded by now
      assert.deepEqual(a.net.wire.filter((m) => m.from === 'owner0' && !/\/(\d+\/reply|open)$/.test(m.key)).map((m) => `${m.to} ${m.key}`), []);
      assert.deepEqual(refusal(r), { ok: false, rule: roster.rule, party: 'owner0' });
    });
  }

  it("without a config (servePlayerExecutor): the victim and an honest aggregator refuse a collect of the victim and two 'model-owner:<i>' clients (rule 'roster')", async () => {
    const { hub, wire } = recordingHub();
    const session = 's-collect';
    const policy = { minContributors: 3, allowInsecure: true };
    const players = [{ name: 'owner0', clients: ['owner0'] }, { name: 'server0', clients: [] as string[] }];
    const serving = players.map((p) =>
      servePlayerExecutor(new HostingTransport(new MemoryTransport({ hub, local: [p.name] })), { me: p.name, driver: DRIVER, session, clients: p.clients, data, roles: [ABY3], policy, timeoutMs: GUARD_MS }).catch((e: unknown) => e),
    );
    const d = new EvilDriver(new HostingTransport(new MemoryTransport({ hub, local: [DRIVER] })), session);
    await d.command('owner0', { op: 'data', out: 0, source: 'temps', type: F32 });
    const collect = { op: 'collect', value: 0, out: 1, clients: ['owner0', `${DRIVER}:0`, `${DRIVER}:1`], aggregators: ['server0'], element: F32 };
    const rs = await Promise.all(players.map((p) => d.command(p.name, collect)));
    await d.abort(players.map((p) => p.name));
    await Promise.all(serving);
    hub.close();
    assert.deepEqual(rs.map(refusal), players.map((p) => ({ ok: false, rule: 'roster', party: p.name })));
    assert.deepEqual(wire.filter((m) => m.from === 'owner0' && m.to !== DRIVER).map((m) => m.key), []);
  });

  it('an honest aggregator refuses to collect one client (minContributors) as the victim does: nothing is collected or moved', async () => {
    const a = await opened(config(), () => OPTED_IN, data);
    await a.d.command('owner0', { op: 'data', out: 0, source: 'temps', type: F32 });
    const collect = { op: 'collect', value: 0, out: 1, clients: ['owner0'], aggregators: ['server0'], element: F32 };
    const [atOwner, atServer] = await Promise.all([a.d.command('owner0', collect), a.d.command('server0', collect)]);
    await sessionEnded(a.net, 'server0', a.d.session);
    await finish(a);
    assert.deepEqual(refusal(atOwner), { ok: false, rule: 'minContributors', party: 'owner0' });
    assert.deepEqual(refusal(atServer), { ok: false, rule: 'minContributors', party: 'server0' });
    assert.ok(!a.net.wire.some((m) => m.from === 'owner0' && m.to !== DRIVER));
  });
});

describe('finding 4: a plan equivocated between the parties', () => {
  const c = config(4);
  const strict = (p: string) => (p === 'owner0' ? resolvePolicy(undefined, { minContributors: 4 }) : DEFAULT_POLICY);
  const sum3 = [0, 1].map((i) => OWNERS.reduce((a, o) => a + VEC[o]![i]!, 0));

  it("the victim (--min-contributors 4) is sent a plan of 4 owners, everybody else one of 3: every server refuses at its release gate", async () => {
    const net = network(c, strict, data);
    const { d } = await net.open();
    for (const p of OWNERS) await d.command(p, { op: 'data', out: 0, source: 'vecs', type: I32x2 });
    const four = aby3Plan(d.session, 0, [...OWNERS, 'owner3']);
    const three = aby3Plan(d.session, 0, OWNERS);
    const r = await d.aggregate(ABY3, three, { owner0: { plan: four, value: 0 }, owner1: { plan: three, value: 0 }, owner2: { plan: three, value: 0 }, ...servers({ plan: three }) }, I32x2);
    await d.abort(net.players);
    await net.close();
    assert.notDeepEqual(r.result, sum3);
    refusedAtTheGate(net, r);
  });

  it("every owner is sent the plan of 4 (owner3 never asked), the servers one of 3 under the same invocation id: the servers refuse at their release gate (the clients' plan digest is not theirs)", async () => {
    const net = network(c, strict, data);
    const { d } = await net.open();
    for (const p of OWNERS) await d.command(p, { op: 'data', out: 0, source: 'vecs', type: I32x2 });
    const four = aby3Plan(d.session, 0, [...OWNERS, 'owner3']);
    const three = aby3Plan(d.session, 0, OWNERS);
    const r = await d.aggregate(ABY3, three, { ...Object.fromEntries(OWNERS.map((o) => [o, { plan: four, value: 0 }])), ...servers({ plan: three }) }, I32x2);
    await d.abort(net.players);
    await net.close();
    // the client players agree among themselves: only the plan digest tells the servers
    assert.ok(OWNERS.every((o) => r.replies[o]!.header['ok'] === true));
    assert.notDeepEqual(r.result, sum3, 'an aggregate of 3 owners including the victim, whose policy requires 4, reached the driver');
    refusedAtTheGate(net, r);
  });
});

describe('finding 5: sybil clients hosted by the driver', () => {
  it("servePlayerExecutor players (minContributors 3, no insecure opt-in) refuse a plan of the victim and two 'model-owner:<i>' clients (rule 'roster') before anything leaves them", async () => {
    const { hub, wire } = recordingHub();
    const session = 's-sybil';
    const policy = { minContributors: 3, allowInsecure: false };
    const players = [{ name: 'owner0', clients: ['owner0'] }, ...SERVERS.map((name) => ({ name, clients: [] as string[] }))];
    const serving = players.map((p) =>
      servePlayerExecutor(new HostingTransport(new MemoryTransport({ hub, local: [p.name] })), { me: p.name, driver: DRIVER, session, clients: p.clients, data, roles: [ABY3], policy, timeoutMs: GUARD_MS }).catch((e: unknown) => e),
    );
    const d = new EvilDriver(new HostingTransport(new MemoryTransport({ hub, local: [DRIVER] })), session);
    await d.command('owner0', { op: 'data', out: 0, source: 'vecs', type: I32x2 });
    const sybils = ['model-owner:0', 'model-owner:1'];
    const p = aby3Plan(session, 0, ['owner0', ...sybils]);
    const own = sybils.map((s) => ABY3.client(d.ctx(s), p, { values: [Int32Array.of(0, 0)] }).catch((e: unknown) => e));
    const r = await d.aggregate(ABY3, p, { owner0: { plan: p, value: 0 }, ...servers({ plan: p }) }, I32x2);
    await Promise.all(own);
    await d.abort(players.map((x) => x.name));
    await Promise.all(serving);
    hub.close();
    // (server2 takes no part in the fused path of a secure sum to SERVER: not asked)
    assert.equal(r.replies['server2'], undefined);
    for (const x of players.filter((y) => y.name !== 'server2')) assert.deepEqual(refusal(r.replies[x.name]!), { ok: false, rule: 'roster', party: x.name }, x.name);
    assert.equal(r.result, undefined);
    // the honest players sent nothing but their replies
    assert.deepEqual(wire.filter((m) => players.some((x) => x.name === m.from) && m.to !== DRIVER).map((m) => `${m.from} ${m.to} ${m.key}`), []);
  });
});
