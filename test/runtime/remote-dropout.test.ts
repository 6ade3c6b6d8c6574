/**
 * A data owner that drops out of a remote aggregation (its player dies while
 * the aggregation is under way): with a dropout-tolerant protocol (ABY3, Pond
 * with `dropout`), the compute servers stop waiting at their `collectMs`,
 * agree on the contributions they hold, and the round completes over the
 * survivors; the driver records who dropped (`dropouts`) and leaves the lost
 * player out of the next round. Without dropout tolerance, the round fails
 * naming the player. What the dying owner sent before it died never reaches
 * SERVER on its own: SERVER receives only the aggregate's messages.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENTS, PolicyError, federated, federatedComputation, federatedMean, federatedSecureSum, tensor, withContext } from '../../src/core/index.js';
import { clientData, remoteExecutionContext, RemotePlayerError, type RemotePlayer } from '../../src/runtime/remote/context.js';
import { servePlayerExecutor, type DataSource } from '../../src/runtime/remote/player.js';
import { mpcRoles } from '../../src/aggregation/mpc-roles.js';
import { paillierRoles } from '../../src/aggregation/paillier-roles.js';
import { sharedPaillierPool } from '../../src/paillier/pool.js';
import { generateIdentity } from '../../src/crypto/identity.js';
import type { AggregationRoles, RolePolicy } from '../../src/aggregation/roles.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { HostingTransport } from '../../src/transport/hosting.js';
import { PeerError } from '../../src/transport/errors.js';
import type { Transport } from '../../src/transport/channel.js';

const POLICY: RolePolicy = { minContributors: 3, allowInsecure: false };
const OWNERS = ['owner0', 'owner1', 'owner2', 'owner3'];
const F32 = tensor('float32');
const meanTemp = federatedComputation([federated(F32, CLIENTS)], (t) => federatedMean(t), { name: 'mean_temp' });
const secureSum = federatedComputation([federated(tensor('int32', [3]), CLIENTS)], (x) => federatedSecureSum(x, { bitwidth: 16 }), { name: 'sum_counts' });

/** A proxy of `t` whose methods `over` replaces. */
function wrap(t: Transport, over: Partial<Pick<Transport, 'send' | 'receive'>>): Transport {
  return new Proxy(t, {
    get(target, prop) {
      if (prop in over) return (over as Record<string | symbol, unknown>)[prop];
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

const hubs: MemoryHub[] = [];
after(() => hubs.forEach((h) => h.close()));

/**
 * Four data owners (one client each, random private data), three compute
 * servers, the driver; `victim` dies at its first protocol send to a
 * compute server (nothing of it leaves after that; the driver's link to it
 * is lost).
 */
function deploy(rolesArg: AggregationRoles | ((party: string) => AggregationRoles), o: { dropout: boolean; victim: string; collectMs?: number; serverPolicy?: RolePolicy; dieAt?: RegExp; routerCollectMs?: number }) {
  const rolesOf = typeof rolesArg === 'function' ? rolesArg : () => rolesArg;
  const roles = rolesOf('model-owner');
  const hub = new MemoryHub();
  hubs.push(hub);
  const temps = new Map(OWNERS.map((p) => [`${p}`, Math.fround(50 + Math.random() * 40)]));
  const counts = new Map(OWNERS.map((p) => [`${p}`, Int32Array.from({ length: 3 }, () => Math.floor(Math.random() * 1000))]));
  const data: DataSource = (source, c) => (source === 'temps' ? temps.get(c.name) : Array.from(counts.get(c.name)!));
  const players: RemotePlayer[] = [...OWNERS.map((name) => ({ name, clients: [name] })), ...roles.aggregatorNames.map((name) => ({ name, clients: [] }))];
  let dead = false;
  let die!: () => void;
  const death = new Promise<void>((r) => (die = r));
  const atServer: { from: string; key: string }[] = [];
  const transportOf = (p: string): Transport => {
    const t = new HostingTransport(new MemoryTransport({ hub, local: [p] }));
    if (p === o.victim) {
      return wrap(t, {
        send: async (from, to, key, payload) => {
          if ((roles.aggregatorNames.includes(to) || to === 'model-owner') && (o.dieAt ?? /mpc-/).test(key)) {
            dead = true;
            die();
          }
          if (dead) return; // a dead process sends nothing
          return t.send(from, to, key, payload);
        },
      });
    }
    if (p === 'model-owner') {
      return wrap(t, {
        receive: async (to, from, key, opts) => {
          if (from !== o.victim) {
            const m = await t.receive(to, from, key, opts);
            atServer.push({ from, key });
            return m;
          }
          // the driver's link to the victim is lost when it dies
          return Promise.race([t.receive(to, from, key, opts), death.then(() => Promise.reject(new PeerError(`receive: link from '${from}' closed (peer ended the stream)`, from)))]);
        },
      });
    }
    return t;
  };
  const served = players.map((p) =>
    servePlayerExecutor(transportOf(p.name), {
      me: p.name, driver: 'model-owner', session: 'sd', clients: p.clients, data, roles: [rolesOf(p.name)], policy: p.clients.length === 0 ? (o.serverPolicy ?? POLICY) : POLICY, timeoutMs: 20_000,
      ...(o.collectMs !== undefined && p.clients.length === 0 ? { collectMs: o.collectMs } : {}),
    }).catch((e: unknown) => e),
  );
  const dropped: unknown[] = [];
  const ctx = remoteExecutionContext({
    transport: transportOf('model-owner'), server: 'model-owner', session: 'sd', players, roles, policy: POLICY, timeoutMs: 20_000,
    ...(o.dropout ? { dropout: true, onDropout: (d) => void dropped.push(d) } : {}),
    ...(o.routerCollectMs === undefined ? {} : { collectMs: o.routerCollectMs }),
  });
  return { ctx, temps, counts, served, dropped, atServer, isDead: () => dead };
}

for (const kind of ['aby3', 'pond'] as const) {
  describe(`remote dropout (${kind})`, () => {
    for (const [when, dieAt] of [['at its first share', /mpc-/], ['before it states its commands to the servers (agreement)', /\/agree\//]] as const) {
    it(`a data owner dies ${when}: the round completes over the survivors, the driver names it and leaves it out next round`, async () => {
      const roles = mpcRoles({ protocol: kind, dropout: true });
      const victim = OWNERS[1 + Math.floor(Math.random() * 3)]!;
      const d = deploy(roles, { dropout: true, victim, collectMs: 2000, dieAt });
      const survivors = OWNERS.filter((p) => p !== victim);
      const got = (await withContext(d.ctx, () => meanTemp(clientData('temps')))) as number;
      assert.ok(d.isDead());
      const want = survivors.reduce((a, p) => a + d.temps.get(p)!, 0) / survivors.length;
      assert.ok(Math.abs(got - want) < 1e-3, `${got} vs ${want} (the mean over the survivors)`);
      assert.equal(d.ctx.dropouts.length, 1);
      assert.deepEqual(d.ctx.dropouts[0]!.clients, [victim]);
      assert.deepEqual(d.ctx.dropouts[0]!.players, [victim]);
      assert.deepEqual(d.dropped, d.ctx.dropouts);
      assert.equal(d.ctx.numClients, 3);
      // SERVER received nothing from the victim (its reply never came), only from the players left
      assert.ok(d.atServer.every((m) => m.from !== victim));
      // the next round runs over the three left: an exact secure sum of their values
      const sum = (await withContext(d.ctx, () => secureSum(clientData('counts')))) as number[];
      assert.deepEqual(sum.map(Number), [0, 1, 2].map((i) => survivors.reduce((a, p) => a + d.counts.get(p)![i]!, 0)));
      assert.equal(d.ctx.dropouts.length, 1);
      await d.ctx.close();
    });
    }

    it("too few survivors for the compute servers' policy: the round fails on that rule, and SERVER gets nothing from them but failure replies", async () => {
      const roles = mpcRoles({ protocol: kind, dropout: true });
      // the compute servers require all four data owners
      const d = deploy(roles, { dropout: true, victim: 'owner2', collectMs: 1000, serverPolicy: { minContributors: 4, allowInsecure: false } });
      await assert.rejects(withContext(d.ctx, () => meanTemp(clientData('temps'))), (e: unknown) => e instanceof PolicyError && e.rule === 'minContributors' && roles.aggregatorNames.includes(e.party!));
      assert.ok(d.isDead());
      const fromServers = d.atServer.filter((m) => roles.aggregatorNames.includes(m.from));
      assert.ok(fromServers.every((m) => m.key.startsWith('exec/')), JSON.stringify(fromServers));
    });

    it('without dropout tolerance at the driver, the round fails naming the dead player', async () => {
      const roles = mpcRoles({ protocol: kind });
      const d = deploy(roles, { dropout: false, victim: 'owner3' });
      await assert.rejects(withContext(d.ctx, () => meanTemp(clientData('temps'))), (e: unknown) => e instanceof RemotePlayerError && e.player === 'owner3');
      assert.deepEqual(d.ctx.dropouts, []);
    });
  });
}

describe('remote dropout (paillier: SERVER routes the sealed boxes, the aggregation service adds)', () => {
  const names = ['model-owner', ...OWNERS, ...paillierRoles({ maxClients: 4, keyBits: 512, workers: false }).aggregatorNames];
  const ids = new Map(names.map((n) => [n, generateIdentity()]));
  const pinned = new Map(names.map((n) => [n, ids.get(n)!.publicKey]));
  const rolesOf = (me: string) => paillierRoles({ maxClients: 4, keyBits: 512, workers: false, identities: new Map([[me, ids.get(me)!]]), pinnedKeys: pinned });
  after(() => sharedPaillierPool().close());

  it('a data owner dies before its sealed box is out: the round completes over the other three, named; the next round runs without it', async () => {
    const victim = OWNERS[1 + Math.floor(Math.random() * 3)]!;
    const d = deploy(rolesOf, { dropout: true, victim, collectMs: 2000, routerCollectMs: 1500, dieAt: /\/up\// });
    const survivors = OWNERS.filter((p) => p !== victim);
    const got = (await withContext(d.ctx, () => meanTemp(clientData('temps')))) as number;
    assert.ok(d.isDead());
    const want = survivors.reduce((a, p) => a + d.temps.get(p)!, 0) / survivors.length;
    // (the result is a float32: within one of its ulps at ~70, 7.6e-6)
    assert.ok(Math.abs(got - want) < 1e-5, `${got} vs ${want} (the mean over the survivors)`);
    assert.deepEqual(d.ctx.dropouts.map((x) => [x.clients, x.players]), [[[victim], [victim]]]);
    const sum = (await withContext(d.ctx, () => secureSum(clientData('counts')))) as number[];
    assert.deepEqual(sum.map(Number), [0, 1, 2].map((i) => survivors.reduce((a, p) => a + d.counts.get(p)![i]!, 0)));
    await d.ctx.close();
  });

  it('without its own collectMs, the aggregation service refuses SERVER\'s absence notice: nothing is released', async () => {
    const d = deploy(rolesOf, { dropout: true, victim: 'owner2', routerCollectMs: 1500, dieAt: /\/up\// });
    await assert.rejects(withContext(d.ctx, () => meanTemp(clientData('temps'))), (e: unknown) => e instanceof PolicyError && e.rule === 'dropout');
  });
});
