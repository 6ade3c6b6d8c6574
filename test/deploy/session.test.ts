/**
 * Remote execution sessions across the players of a config (each on its own
 * transport of one hub, as separate processes would be): a session opens
 * with every player, runs user computations, and each player checks every
 * plan against its own policy and the config's roster.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, type DeployConfig } from '../../src/transport/config.js';
import { DEFAULT_POLICY, parseConfigPolicy, resolvePolicy, type PartyPolicy } from '../../src/deploy/policy.js';
import { openSession, serveSessions, checkPlanAgainstConfig, SESSION_KEY } from '../../src/deploy/session.js';
import { clientData } from '../../src/runtime/remote/context.js';
import { temperatureComputations, secureSumComputation } from '../../src/runtime/index.js';
import { withContext, PolicyError } from '../../src/core/index.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { checkPlan } from '../../src/aggregation/plan.js';
import { TensorType } from '../../src/core/types.js';
import { ROLES7 } from './helpers.js';
import { encodePublicKey, generateIdentity } from '../../src/crypto/identity.js';
import type { Identity } from '../../src/crypto/secure-channel.js';

function config(): DeployConfig {
  const players: Record<string, unknown> = {};
  ROLES7.forEach(([n, r], i) => (players[n] = { address: `127.0.0.1:${6000 + i}`, role: r }));
  return parseConfig(JSON.stringify({ version: 1, players }));
}
const OPTED_IN = resolvePolicy(undefined, { insecureAllowPlaintext: true });
const TEMPS = [68.5, 70, 69.5, 71.25, 72, 66, 67.5];

// each client's own data, by its party name (the driver never sees it)
const ownerIndex = (name: string) => Number(/^owner(\d)/.exec(name)![1]);
const clientIndex = (name: string) => (name.includes(':') ? Number(name.split(':')[1]) : 0);
const tempOf = (name: string) => TEMPS[(3 * ownerIndex(name) + clientIndex(name)) % TEMPS.length]!;
const vecOf = (name: string) => [ownerIndex(name), 10 * clientIndex(name) + 1];

const hubs: MemoryHub[] = [];
after(() => hubs.forEach((h) => h.close()));

/** Every non-driver player of the config serving sessions; owner i hosts `clientsOf(i)` clients. */
function start(c: DeployConfig, policyOf: (p: string) => PartyPolicy, clientsOf: (owner: string) => number | undefined = () => undefined) {
  const hub = new MemoryHub();
  hubs.push(hub);
  const logs: string[] = [];
  const sent: { from: string; to: string; key: string }[] = [];
  const deliver = hub.deliver.bind(hub);
  hub.deliver = (from, to, key, payload) => (sent.push({ from, to, key }), deliver(from, to, key, payload));
  const serving = ROLES7.filter(([, r]) => r !== 'model-owner').map(([n]) =>
    serveSessions(new MemoryTransport({ hub, local: [n] }), c, n, {
      policy: policyOf(n),
      data: (source, client) => {
        if (source === 'temps') return tempOf(client.name);
        if (source === 'vecs') return vecOf(client.name);
        throw new RangeError('unknown source');
      },
      ...(clientsOf(n) === undefined ? {} : { clients: clientsOf(n)! }),
      log: (l) => logs.push(l),
      maxSessions: 1,
      timeoutMs: 20_000,
    }).catch((e: unknown) => e),
  );
  return { hub, logs, sent, serving, driver: new MemoryTransport({ hub, local: ['model-owner'] }) };
}

describe('remote sessions over the config', () => {
  it('the temperature mean (to SERVER) over 3 owners hosting 1, 2 and 3 clients: one member per hosted client', async () => {
    const c = config();
    const d = start(c, () => OPTED_IN, (o) => ({ owner0: 1, owner1: 2, owner2: 3 })[o]);
    const ctx = await openSession(d.driver, c, { protocol: 'plaintext', policy: OPTED_IN, timeoutMs: 20_000 });
    assert.equal(ctx.numClients, 6);
    const names = ['owner0:0', 'owner1:0', 'owner1:1', 'owner2:0', 'owner2:1', 'owner2:2'];
    const r = (await withContext(ctx, () => temperatureComputations().server(clientData('temps')))) as number;
    const want = names.reduce((a, n) => a + Math.fround(tempOf(n)), 0) / names.length;
    assert.ok(Math.abs(r - want) < 1e-4, `${r} vs ${want}`);
    const s = (await withContext(ctx, () => secureSumComputation()(clientData('vecs')))) as number[];
    assert.deepEqual(s, [0 + 1 + 1 + 2 + 2 + 2, 1 + 1 + 11 + 1 + 11 + 21]);
    await ctx.close();
    assert.deepEqual(await Promise.all(d.serving), ROLES7.slice(1).map(() => undefined));
  });
});

describe('remote sessions with secure aggregation (players with the default policy)', () => {
  for (const protocol of ['aby3', 'pond'] as const) {
    it(`${protocol}: the temperature example in two forms and the secure sum; hosted clients are parties of their own`, async () => {
      const c = config();
      const d = start(c, () => DEFAULT_POLICY, (o) => ({ owner0: 1, owner1: 2, owner2: 1 })[o]);
      const ctx = await openSession(d.driver, c, { protocol, policy: DEFAULT_POLICY, timeoutMs: 20_000 });
      const names = ['owner0:0', 'owner1:0', 'owner1:1', 'owner2:0'];
      const want = names.reduce((a, n) => a + Math.fround(tempOf(n)), 0) / names.length;
      const t = temperatureComputations();
      for (const comp of [t.server, t.aggregatorsShort]) {
        const r = (await withContext(ctx, () => comp(clientData('temps')))) as number;
        // fixed point, 16 fractional bits: within n * 2^-17 of the exact mean
        assert.ok(Math.abs(r - want) <= names.length * 2 ** -17 + 1e-5, `${comp.computationName}: ${r} vs ${want}`);
      }
      assert.deepEqual(await withContext(ctx, () => secureSumComputation()(clientData('vecs'))), [0 + 1 + 1 + 2, 1 + 1 + 11 + 1]);
      await ctx.close();
      // each hosted client ran its own client role: the servers received shares from every hosted party
      const fromClients = new Set(d.sent.filter((m) => /^server/.test(m.to) && /^owner/.test(m.from)).map((m) => m.from));
      assert.deepEqual([...fromClients].sort(), ['owner0', 'owner1', 'owner2']);
      const keys = d.sent.filter((m) => m.from === 'owner1' && /^server/.test(m.to)).map((m) => m.key);
      assert.ok(keys.some((k) => k.startsWith('@owner1:0>')) && keys.some((k) => k.startsWith('@owner1:1>')), keys.join(' '));
      // no data owner ever sent anything to the model owner but command replies
      assert.ok(d.sent.filter((m) => /^owner/.test(m.from) && m.to === 'model-owner').every((m) => /^exec\/[0-9a-f]{16}\/(\d+\/reply|open)$/.test(m.key)));
    });
  }
});

describe('remote sessions with Paillier (key holder at SERVER, aggregation service at server0)', () => {
  // Paillier is not in the default policy (one compute server colluding with the model owner reads every update)
  const PAILLIER = resolvePolicy(parseConfigPolicy({ protocols: ['aby3', 'pond', 'paillier'] }));
  /** A config with every player's X25519 key pinned, and the identities that go with it. */
  function keyedConfig(): { c: DeployConfig; ids: Map<string, Identity> } {
    const ids = new Map<string, Identity>();
    const players: Record<string, unknown> = {};
    ROLES7.forEach(([n, r], i) => {
      const id = generateIdentity();
      ids.set(n, id);
      players[n] = { address: `127.0.0.1:${6000 + i}`, role: r, publicKey: encodePublicKey(id.publicKey) };
    });
    return { c: parseConfig(JSON.stringify({ version: 1, players })), ids };
  }
  function startKeyed(c: DeployConfig, ids: Map<string, Identity>, floor: number, clientsOf: (o: string) => number | undefined = () => undefined, policy = PAILLIER) {
    const hub = new MemoryHub();
    hubs.push(hub);
    const sent: { from: string; to: string; key: string }[] = [];
    const deliver = hub.deliver.bind(hub);
    hub.deliver = (from, to, key, payload) => (sent.push({ from, to, key }), deliver(from, to, key, payload));
    const serving = ROLES7.filter(([, r]) => r !== 'model-owner').map(([n]) =>
      serveSessions(new MemoryTransport({ hub, local: [n] }), c, n, {
        policy, identity: ids.get(n)!, minPaillierKeyBits: floor,
        data: (source, client) => (source === 'temps' ? tempOf(client.name) : vecOf(client.name)),
        ...(clientsOf(n) === undefined ? {} : { clients: clientsOf(n)! }),
        log: () => {}, maxSessions: 1, timeoutMs: 20_000,
      }).catch((e: unknown) => e),
    );
    return { sent, serving, driver: new MemoryTransport({ hub, local: ['model-owner'] }) };
  }

  it('the temperature mean and the secure sum; the aggregation service holds no key, SERVER only routes sealed boxes', async () => {
    const { c, ids } = keyedConfig();
    const d = startKeyed(c, ids, 512);
    const ctx = await openSession(d.driver, c, { protocol: 'paillier', params: { keyBits: 512 }, policy: PAILLIER, identity: ids.get('model-owner')!, timeoutMs: 20_000 });
    const names = ['owner0', 'owner1', 'owner2'];
    const want = names.reduce((a, n) => a + Math.fround(tempOf(n)), 0) / names.length;
    const r = (await withContext(ctx, () => temperatureComputations().server(clientData('temps')))) as number;
    assert.ok(Math.abs(r - want) < 1e-4, `${r} vs ${want}`);
    assert.deepEqual(await withContext(ctx, () => secureSumComputation()(clientData('vecs'))), [0 + 1 + 2, 3]);
    await ctx.close();
    // the data owners' protocol messages go to the model owner (the router) only, never to another owner; to the
    // aggregation service they send only the digest of the commands they were sent (the release gate's agreement)
    const fromOwners = d.sent.filter((m) => /^owner/.test(m.from));
    assert.ok(fromOwners.every((m) => m.to === 'model-owner' || (m.to === 'server0' && /\/agree\//.test(m.key))), JSON.stringify(fromOwners.filter((m) => m.to !== 'model-owner')));
    // the aggregation service hears from the model owner (relayed boxes, the public key) and those digests only
    assert.ok(d.sent.filter((m) => m.to === 'server0').every((m) => m.from === 'model-owner' || /\/agree\//.test(m.key)));
  });

  it("a data owner refuses a modulus below its floor; the driver names it and the rule", async () => {
    const { c, ids } = keyedConfig();
    const d = startKeyed(c, ids, 2048);
    const ctx = await openSession(d.driver, c, { protocol: 'paillier', params: { keyBits: 512 }, policy: PAILLIER, identity: ids.get('model-owner')!, timeoutMs: 20_000 });
    await assert.rejects(withContext(ctx, () => secureSumComputation()(clientData('vecs'))), (e: unknown) => e instanceof PolicyError && e.rule === 'protocol' && /^(owner\d|server0)$/.test(e.party ?? '') && /below this party's floor/.test(e.message));
    // a player with the default policy does not take part in Paillier at all
    const dflt = startKeyed(c, ids, 512, () => undefined, DEFAULT_POLICY);
    const ctx3 = await openSession(dflt.driver, c, { protocol: 'paillier', params: { keyBits: 512 }, policy: PAILLIER, identity: ids.get('model-owner')!, timeoutMs: 20_000 });
    await assert.rejects(withContext(ctx3, () => secureSumComputation()(clientData('vecs'))), (e: unknown) => e instanceof PolicyError && e.rule === 'protocol' && /takes part in aby3, pond$/.test(e.message));
  });

  it("owner1 hosts 2 clients: each seals its own box with owner1's pinned key, in its own slot; the secure sum is exact", async () => {
    const { c, ids } = keyedConfig();
    const d = startKeyed(c, ids, 512, (o) => (o === 'owner1' ? 2 : undefined));
    const ctx = await openSession(d.driver, c, { protocol: 'paillier', params: { keyBits: 512 }, policy: PAILLIER, identity: ids.get('model-owner')!, timeoutMs: 20_000 });
    assert.equal(ctx.numClients, 4);
    assert.deepEqual(await withContext(ctx, () => secureSumComputation()(clientData('vecs'))), [0 + 1 + 1 + 2, 1 + 1 + 11 + 1]);
    await ctx.close();
    assert.deepEqual(await Promise.all(d.serving), ROLES7.slice(1).map(() => undefined));
    // each hosted client handed SERVER its own box, in its own slot
    const ups = d.sent.filter((m) => m.from === 'owner1' && m.to === 'model-owner' && /\/up\/\d+$/.test(m.key)).map((m) => m.key);
    assert.ok(ups.some((k) => k.startsWith('@owner1:0>')) && ups.some((k) => k.startsWith('@owner1:1>')), ups.join(' '));
  });
});

describe('each player checks the session and every plan', () => {
  it('a player without the plaintext opt-in refuses the reference protocol; the driver names it', async () => {
    const c = config();
    const d = start(c, (p) => (p === 'owner1' ? DEFAULT_POLICY : OPTED_IN));
    const ctx = await openSession(d.driver, c, { protocol: 'plaintext', policy: OPTED_IN, timeoutMs: 20_000 });
    await assert.rejects(withContext(ctx, () => temperatureComputations().server(clientData('temps'))), (e: unknown) => e instanceof PolicyError && e.rule === 'protocol' && e.party === 'owner1');
    // owner1 sent nothing but command replies to the model owner
    assert.ok(d.sent.filter((m) => m.from === 'owner1').every((m) => m.to === 'model-owner'), JSON.stringify(d.sent.filter((m) => m.from === 'owner1')));
  });

  it('plans that break the roster or the minimum of distinct data owners are refused', () => {
    const c = config();
    const leaf = { path: '', type: new TensorType('float32', [1]), size: 1 };
    const plan = (over: object) => checkPlan({ protocol: 'insecure-reference', invocationId: 'x/1', uri: 'federated_sum_at_aggregators', target: 'SERVER', leaves: [leaf], clients: ['owner0', 'owner1', 'owner2'], aggregators: ['server0'], server: 'model-owner', params: {}, ...over });
    const rule = (p: object, r: string) => assert.throws(() => checkPlanAgainstConfig(plan(p), c, OPTED_IN, 'owner0'), (e: unknown) => e instanceof PolicyError && e.rule === r && e.party === 'owner0');
    assert.doesNotThrow(() => checkPlanAgainstConfig(plan({}), c, OPTED_IN, 'owner0'));
    rule({ server: 'server2' }, 'roster');
    rule({ aggregators: ['mallory'] }, 'roster');
    rule({ clients: ['owner0', 'owner1', 'mallory:0'] }, 'roster');
    // many clients, but all hosted by two data owners: fewer distinct owners than the minimum of 3
    rule({ clients: ['owner0:0', 'owner0:1', 'owner0:2', 'owner1:0'] }, 'minContributors');
    assert.throws(() => checkPlanAgainstConfig(plan({}), c, DEFAULT_POLICY, 'owner0'), (e: unknown) => e instanceof PolicyError && e.rule === 'protocol');
  });

  it('a session request for another config is refused with the reason', async () => {
    const c = config();
    const d = start(c, () => OPTED_IN);
    await d.driver.send('model-owner', 'owner0', SESSION_KEY, new TextEncoder().encode(JSON.stringify({ v: 1, session: '0123456789abcdef', configHash: 'f'.repeat(64) })));
    const r = JSON.parse(new TextDecoder().decode(await d.driver.receive('model-owner', 'owner0', 'exec/0123456789abcdef/open', { timeoutMs: 20_000 }))) as { ok: boolean; error: string };
    assert.equal(r.ok, false);
    assert.match(r.error, /another config/);
  });
});
