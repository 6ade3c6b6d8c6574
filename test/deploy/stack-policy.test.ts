/**
 * Party policy on the execution stack, as a malicious model owner meets it
 * (the claims once tested on the retired SPMD job path, carried over). Every player is the real `serveSessions`
 * on its own transport of one MemoryHub, as separate processes would be;
 * every delivery is recorded, so each test asserts what the victims SENT:
 * nothing but their command replies and session answers to the driver, none
 * of them model-sized, nothing to anyone else.
 *
 *  1. learning steps (learning/stack.ts, the player's `setLearningPolicy`):
 *     a batch below the player's minimum, a model it was not started for, a
 *     round past its maximum: refused with a PolicyError naming the rule and
 *     the player; no data owner sends a byte of its update;
 *  2. plans (session.ts `checkPlanAgainstConfig`): the model owner as a
 *     compute server, fewer data owners than a compute server's minimum;
 *     the strictest data owner's minimum reaches the driver as a PolicyError
 *     naming it, and every player is told the session is over; the minimum
 *     of distinct data owners, exactly (property);
 *  3. sessions: a request for another config is refused, naming the player;
 *     a player that does not answer is named.
 */
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PolicyError, withContext } from '../../src/core/index.js';
import { TensorType } from '../../src/core/types.js';
import { type Dataset, type MnistData } from '../../src/learning/mnist.js';
import { mnistThirds } from '../learning/fixtures.js';
import { ModelOwner } from '../../src/learning/roles.js';
import { sgd } from '../../src/learning/optimizers.js';
import { hostLearningClients, setLearningPolicy, trainOnContext } from '../../src/learning/stack.js';
import { mpcRoles } from '../../src/aggregation/mpc-roles.js';
import { checkPlan, planToBytes } from '../../src/aggregation/plan.js';
import { clientData } from '../../src/runtime/remote/context.js';
import type { DataSource } from '../../src/runtime/remote/player.js';
import { secureSumComputation } from '../../src/runtime/index.js';
import { checkPlanAgainstConfig, openSession } from '../../src/deploy/session.js';
import { DEFAULT_POLICY, resolvePolicy, type PartyPolicy } from '../../src/deploy/policy.js';
import { parseConfig, type DeployConfig } from '../../src/transport/config.js';
import { MemoryTransport } from '../../src/transport/memory.js';
import { PeerError } from '../../src/transport/errors.js';
import { closeHubs, config, DRIVER, failed, GUARD_MS, network, opened, plan, SERVERS, sessionEnded, typeJson, type Delivered, type Network } from '../runtime/attack-helpers.js';

const MODEL = 'logistic_regression';
const OWNERS = ['owner0', 'owner1', 'owner2'];
const REPLY = /^exec\/[0-9a-f]{16}\/(\d+\/reply|open)$/;
const ABY3 = mpcRoles({ protocol: 'aby3' });
const I32x2 = typeJson('int32', [2]);

let data: MnistData;
let parts: Dataset[];
before(async () => void ({ data, parts } = await mnistThirds()));
after(closeHubs);

/** Each data owner's data: its learning client (hosted in this process on first use) and a small vector. */
function ownData(): DataSource {
  const ids = new Map<string, number>();
  return (source, c) => {
    const i = Number(/^owner(\d)/.exec(c.name)![1]);
    if (source === 'vecs') return [31337 + i, 7];
    if (source !== 'fedcrypt/learning') throw new RangeError(`no data source ${source}`);
    if (!ids.has(c.name)) ids.set(c.name, hostLearningClients([{ name: c.name, data: parts[i]!, shuffleIndex: i }])[0]!);
    return ids.get(c.name)!;
  };
}

/** Everything the data owners sent from `mark` on: replies and session answers to the driver only, none model-sized. */
function ownersSentOnlyReplies(wire: readonly Delivered[], mark = 0, owners = OWNERS): void {
  const sent = wire.slice(mark).filter((m) => owners.includes(m.from));
  const other = sent.filter((m) => m.to !== DRIVER || !REPLY.test(m.key) || m.payload.byteLength >= 1000);
  assert.deepEqual(other.map((m) => `${m.from} -> ${m.to} ${m.key} (${m.payload.byteLength} B)`), [], 'a data owner sent more than its replies');
}

/** An honest-looking driver (openSession, trainOnContext) asking for the rounds it chooses; resolves with the failure, if any. */
async function train(net: Network, c: DeployConfig, o: { rounds: number; batchSize: number; model?: string; beforeRound?: (r: number) => void }): Promise<unknown> {
  const ctx = await openSession(new MemoryTransport({ hub: net.hub, local: [DRIVER] }), c, { protocol: 'aby3', policy: DEFAULT_POLICY, timeoutMs: GUARD_MS });
  const mo = new ModelOwner(DRIVER, o.model ?? MODEL, data, { seed: 3, optimizer: sgd({ lr: 0.5 }) });
  try {
    await trainOnContext(ctx, {
      mode: 'fedsgd', model: o.model ?? MODEL, modelOwner: mo, clients: clientData('fedcrypt/learning'), rounds: o.rounds,
      hyper: { seed: 3, batchSize: o.batchSize, localEpochs: 1, clientLr: 0, maxLocalSteps: 0 }, ...(o.beforeRound ? { beforeRound: o.beforeRound } : {}),
    });
    return undefined;
  } catch (e) {
    return e;
  } finally {
    mo.dispose();
    await ctx.close().catch(() => {});
  }
}

const policyError = (e: unknown, rule: string, message: RegExp): PolicyError => {
  assert.ok(e instanceof PolicyError, `expected a PolicyError '${rule}', got ${String(e)}`);
  assert.equal(e.rule, rule, e.message);
  assert.match(e.party ?? '', /^owner\d$/, e.message);
  assert.match(e.message, message);
  return e;
};

describe("a data owner's learning policy on the stack: refused before any share of its update leaves it", { timeout: 120_000 }, () => {
  // the policy of this process's hosted clients (a player's operator sets it at start: fedcrypt player --min-batch-size ...)
  after(() => setLearningPolicy({ minBatchSize: 1, models: null }));

  it('a batch of 1 (the first layer\'s gradient gives back the image): PolicyError minBatchSize naming the player; no data owner sends a byte of its update', async () => {
    setLearningPolicy({ minBatchSize: 16, models: null });
    const net = network(config(), () => DEFAULT_POLICY, ownData());
    const e = await train(net, config(), { rounds: 1, batchSize: 1 });
    await net.close();
    policyError(e, 'minBatchSize', /batch size 1 is below the minimum of 16/);
    ownersSentOnlyReplies(net.wire);
    // the servers had nothing to combine, and revealed nothing
    assert.deepEqual(net.wire.filter((m) => SERVERS.includes(m.from) && !REPLY.test(m.key)).map((m) => `${m.from} -> ${m.to} ${m.key}`), []);
  });

  it('a model the player was not started for (--model network_a): PolicyError model; nothing of an update sent', async () => {
    setLearningPolicy({ minBatchSize: 16, models: ['network_a'] });
    const net = network(config(), () => DEFAULT_POLICY, ownData());
    const e = await train(net, config(), { rounds: 1, batchSize: 16 });
    await net.close();
    policyError(e, 'model', /asked to train 'logistic_regression', this player trains network_a/);
    ownersSentOnlyReplies(net.wire);
  });

  it('a round past the player\'s maximum (--max-rounds 1): round 1 runs; round 2 is refused, and the owners share nothing for it', async () => {
    setLearningPolicy({ minBatchSize: 16, models: null, maxRounds: 1 });
    const net = network(config(), () => DEFAULT_POLICY, ownData());
    let mark = -1;
    const e = await train(net, config(), { rounds: 2, batchSize: 16, beforeRound: (r) => void (r === 1 && (mark = net.wire.length)) });
    await net.close();
    assert.ok(mark > 0, 'round 1 completed');
    policyError(e, 'maxRounds', /round 2 is past this player's maximum of 1 rounds/);
    // round 1 did run: each owner sent its share component to server1 then
    for (const o of OWNERS) assert.ok(net.wire.slice(0, mark).some((m) => m.from === o && m.to === 'server1' && m.payload.byteLength >= 7850 * 8), `${o}'s round-1 share`);
    ownersSentOnlyReplies(net.wire, mark);
  });
});

describe('plans a malicious model owner makes, refused at each victim before it sends anything', () => {
  const vec = (i: number) => Int32Array.from([31337 + i, 7]);
  const carries = (m: Delivered, v: Int32Array) => Buffer.from(m.payload).includes(Buffer.from(v.buffer));

  it("the model owner as a compute server (it would hold two of three ABY3 shares besides SERVER's): every data owner and the real servers refuse the plan, sending only the refusal", async () => {
    const a = await opened(config(), () => DEFAULT_POLICY, ownData());
    // planToBytes refuses a party named twice: the attacker writes the JSON itself
    const honest = JSON.parse(new TextDecoder().decode(planToBytes(plan({ session: a.d.session, n: 0, protocol: ABY3.name, params: ABY3.params, clients: OWNERS })))) as { aggregators: string[] };
    honest.aggregators = ['server0', DRIVER, 'server2'];
    const evil = new TextEncoder().encode(JSON.stringify(honest));
    const header = { op: 'aggregate', out: 100, resultType: I32x2 };
    const replies = await Promise.all([
      ...OWNERS.map(async (o) => {
        assert.equal((await a.d.command(o, { op: 'data', out: 0, source: 'vecs', type: I32x2 })).header['ok'], true);
        return [o, await a.d.command(o, { ...header, value: 0 }, [evil])] as const;
      }),
      ...['server0', 'server2'].map(async (s) => [s, await a.d.command(s, header, [evil])] as const),
    ]);
    for (const [p, r] of replies) {
      assert.deepEqual([r.header['ok'], r.header['party']], [false, p], p);
      // a malformed plan (SERVER named again as an aggregator): refused without a rule, the reason in the player's log; were it
      // well-formed, the config's roster refuses it (checkPlanAgainstConfig: every aggregator is a compute server of the config)
      if (r.header['rule'] === undefined) {
        assert.equal(r.header['error'], failed(p));
        assert.ok(a.net.logs.some((l) => l.startsWith(`${p}: command `) && /names a party twice/.test(l)), `${p} logged the reason:\n${a.net.logs.join('\n')}`);
      } else assert.equal(r.header['rule'], 'roster');
    }
    for (const p of [...OWNERS, 'server0', 'server2']) await sessionEnded(a.net, p, a.d.session);
    await a.d.abort(a.net.players);
    await a.net.close();
    ownersSentOnlyReplies(a.net.wire);
    for (const s of ['server0', 'server2']) assert.ok(a.net.wire.filter((m) => m.from === s).every((m) => m.to === DRIVER && REPLY.test(m.key)), `${s} sent more than its replies`);
    assert.ok(!a.net.wire.some((m) => OWNERS.some((o, i) => m.from === o && carries(m, vec(i)))), "a reply carries a victim's vector");
  });

  it("the model owner as a compute server under another SERVER: refused ('roster')", () => {
    const c = config();
    const pl = plan({ session: '0123456789abcdef', n: 0, protocol: ABY3.name, params: ABY3.params, clients: OWNERS, server: 'server1', aggregators: ['server0', DRIVER, 'server2'] });
    for (const p of [...OWNERS, 'server0', 'server2']) assert.throws(() => checkPlanAgainstConfig(pl, c, DEFAULT_POLICY, p), (e: unknown) => e instanceof PolicyError && e.rule === 'roster' && e.party === p);
  });

  it("a compute server asked to aggregate two data owners (its minimum is 3) refuses ('minContributors') and sends nothing but the refusal", async () => {
    const a = await opened(config(), () => DEFAULT_POLICY, ownData());
    const two = plan({ session: a.d.session, n: 0, protocol: ABY3.name, params: ABY3.params, clients: ['owner0', 'owner1'] });
    const r = await a.d.command('server1', { op: 'aggregate', out: 100, resultType: I32x2 }, [planToBytes(two)]);
    await sessionEnded(a.net, 'server1', a.d.session);
    await a.d.abort(a.net.players);
    await a.net.close();
    assert.deepEqual([r.header['ok'], r.header['rule'], r.header['party']], [false, 'minContributors', 'server1']);
    assert.deepEqual(a.net.wire.filter((m) => m.from === 'server1').map((m) => `${m.to} ${m.key}`).filter((x) => !/^model-owner exec\/[0-9a-f]{16}\/(0\/reply|open)$/.test(x)), []);
  });

  it('the strictest data owner (--min-contributors 4) reaches the driver as a PolicyError naming it and the rule; it sends only its refusal; every player is told the session is over', async () => {
    const c = config();
    const net = network(c, (p) => (p === 'owner0' ? resolvePolicy(undefined, { minContributors: 4 }) : DEFAULT_POLICY), ownData());
    const ctx = await openSession(new MemoryTransport({ hub: net.hub, local: [DRIVER] }), c, { protocol: 'aby3', policy: DEFAULT_POLICY, timeoutMs: GUARD_MS });
    const e = await withContext(ctx, () => secureSumComputation()(clientData('vecs'))).then(() => undefined, (x: unknown) => x);
    await ctx.close().catch(() => {});
    await Promise.all(net.serving);
    await net.close();
    assert.ok(e instanceof PolicyError, String(e));
    assert.deepEqual([e.rule, e.party], ['minContributors', 'owner0']);
    assert.match(e.message, /3 distinct data owners among the plan's clients, fewer than the minimum of 4/);
    ownersSentOnlyReplies(net.wire, 0, ['owner0']);
    for (const p of [...OWNERS, ...SERVERS]) assert.ok(net.wire.some((m) => m.from === DRIVER && m.to === p && /^exec\/[0-9a-f]{16}\/abort$/.test(m.key)), `abort to ${p}`);
    // nothing but replies reached the driver: no aggregate was revealed
    assert.deepEqual(net.wire.filter((m) => m.to === DRIVER && !REPLY.test(m.key)).map((m) => `${m.from} ${m.key}`), []);
  });
});

test('minimum contributors: exactly the minimum of distinct data owners passes, one fewer is refused, however many clients each hosts (property)', () => {
  const names = Array.from({ length: 8 }, (_, i) => `owner${i}`);
  const players: Record<string, unknown> = { [DRIVER]: { address: '127.0.0.1:7000', role: 'model-owner' } };
  [...SERVERS, ...names].forEach((n, i) => (players[n] = { address: `127.0.0.1:${7001 + i}`, role: n.startsWith('server') ? 'compute-server' : 'data-owner' }));
  const c = parseConfig(JSON.stringify({ version: 1, players }));
  const leaf = { path: '', type: new TensorType('int32', [2]), size: 2 };
  fc.assert(fc.property(fc.integer({ min: 2, max: 8 }), fc.subarray(names, { minLength: 1 }), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 8, maxLength: 8 }), (min, owners, hosted) => {
    // the config's value, confirmed locally where it is below the built-in 3
    const p: PartyPolicy = resolvePolicy({ minContributors: min }, { minContributors: min });
    const clients = owners.flatMap((o) => Array.from({ length: hosted[names.indexOf(o)]! }, (_, k) => `${o}:${k}`));
    const pl = checkPlan({ protocol: ABY3.name, invocationId: 's/agg/0', uri: 'federated_secure_sum', target: 'SERVER', leaves: [leaf], bound: 2n ** 32n, clients, aggregators: SERVERS, server: DRIVER, params: ABY3.params });
    if (owners.length >= min) checkPlanAgainstConfig(pl, c, p, 'server0');
    else assert.throws(() => checkPlanAgainstConfig(pl, c, p, 'server0'), (e: unknown) => e instanceof PolicyError && e.rule === 'minContributors' && e.party === 'server0');
  }), { numRuns: 200 });
});

describe('sessions', () => {
  it("a session for another config (the model owner's copy differs from the players'): every player refuses, the driver names one; nothing but refusals sent", async () => {
    const theirs = config();
    const net = network(theirs, () => DEFAULT_POLICY, ownData());
    // the model owner's copy: a laxer policy in its config (the config hash covers it)
    const mine = parseConfig(JSON.stringify({ version: 1, policy: { minContributors: 2 }, players: Object.fromEntries(theirs.players.map((p) => [p.name, { address: `${p.host}:${p.port}`, role: p.role }])) }));
    await assert.rejects(openSession(new MemoryTransport({ hub: net.hub, local: [DRIVER] }), mine, { protocol: 'aby3', policy: DEFAULT_POLICY, timeoutMs: GUARD_MS }),
      (e: unknown) => e instanceof Error && /^player '(owner\d|server\d)' refused the session: session for another config/.test(e.message));
    // every player answered with its refusal, and with nothing else
    for (let i = 0; i < 400 && net.logs.filter((l) => /refused a session: session for another config/.test(l)).length < 6; i++) await new Promise((r) => setTimeout(r, 25));
    await net.close();
    for (const p of [...OWNERS, ...SERVERS]) {
      const out = net.wire.filter((m) => m.from === p);
      assert.equal(out.length, 1, `${p} sent ${out.map((m) => m.key).join(', ')}`);
      assert.match(out[0]!.key, /^exec\/[0-9a-f]{16}\/open$/);
      assert.equal((JSON.parse(new TextDecoder().decode(out[0]!.payload)) as { ok: boolean }).ok, false);
    }
  });

  it('a player that never answers the session request is named by the error', async () => {
    const c = config();
    // only the data owners serve; the compute servers are not there
    const net = network(c, () => DEFAULT_POLICY, ownData());
    const { hub } = net;
    const absent = new Set(SERVERS);
    const deliver = hub.deliver.bind(hub);
    hub.deliver = (from, to, key, payload) => (absent.has(to) ? undefined : deliver(from, to, key, payload));
    await assert.rejects(openSession(new MemoryTransport({ hub, local: [DRIVER] }), c, { protocol: 'aby3', policy: DEFAULT_POLICY, timeoutMs: 300 }),
      (e: unknown) => e instanceof PeerError && SERVERS.includes(e.peer) && e.message.includes(e.peer));
    await net.close();
  });
});

