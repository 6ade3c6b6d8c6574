/**
 * Many clients hosted by a few data-owner players, in a remote session over
 * one MemoryHub (each player on its own transport, as separate processes
 * would be): 3 owners x 40 hosted clients sum their values with ABY3 at
 * AGGREGATORS. The sum is exact, and what each compute server receives from
 * the data owners is, client by client, exactly one sharing per hosted
 * client (ABY3, encryptAddN): server0 the 32 bytes of two seeds, server1 a
 * seed and one full component, server2 a seed; server2 gets the components
 * only as their sum, once, from server1. No player sends anything on behalf
 * of several clients together, and every client's seeds are its own.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, type DeployConfig } from '../../src/transport/config.js';
import { DEFAULT_POLICY } from '../../src/deploy/policy.js';
import { openSession, serveSessions } from '../../src/deploy/session.js';
import { clientData } from '../../src/runtime/remote/context.js';
import { AGGREGATORS, CLIENTS, SERVER, federated, federatedComputation, federatedSecureSum, federatedSum, federatedTransfer, tensor, withContext } from '../../src/core/index.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { ROLES7 } from './helpers.js';

const HOSTED = 40;
const M = 50;
const OWNERS = ['owner0', 'owner1', 'owner2'];
const SERVERS = ['server0', 'server1', 'server2'];

function config(): DeployConfig {
  const players: Record<string, unknown> = {};
  ROLES7.forEach(([n, r], i) => (players[n] = { address: `127.0.0.1:${6000 + i}`, role: r }));
  return parseConfig(JSON.stringify({ version: 1, players }));
}

/** Client `owner<o>:<i>`'s values: multiples of 2^-6 in [-32, 32) (exact in float32 and in fixed point), and small counts. */
const indexOf = (name: string): [number, number] => {
  const m = /^owner(\d):(\d+)$/.exec(name)!;
  return [Number(m[1]), Number(m[2])];
};
const valueOf = (o: number, i: number, k: number) => ((((o * 7919 + i * 104729 + k * 31) * 2654435761) >>> 0) % 4096 - 2048) / 64;
const countOf = (o: number, i: number, k: number) => (o + i + k) % 7;

const hubs: MemoryHub[] = [];
after(() => hubs.forEach((h) => h.close()));

describe('3 data owners hosting 40 clients each, ABY3 at AGGREGATORS', () => {
  it('the sum is exact, and each compute server receives one sharing from every hosted client, none on behalf of several', async () => {
    const c = config();
    const hub = new MemoryHub();
    hubs.push(hub);
    const sent: { from: string; to: string; key: string; bytes: number; payload: Uint8Array }[] = [];
    const deliver = hub.deliver.bind(hub);
    hub.deliver = (from, to, key, payload) => (sent.push({ from, to, key, bytes: payload.length, payload: payload.slice() }), deliver(from, to, key, payload));
    const serving = ROLES7.filter(([, r]) => r !== 'model-owner').map(([n]) =>
      serveSessions(new MemoryTransport({ hub, local: [n] }), c, n, {
        policy: DEFAULT_POLICY,
        data: (source, client) => {
          const [o, i] = indexOf(client.name);
          if (source === 'values') return Float32Array.from({ length: M }, (_, k) => valueOf(o, i, k));
          if (source === 'counts') return Int32Array.from({ length: M }, (_, k) => countOf(o, i, k));
          throw new RangeError('unknown source');
        },
        ...(OWNERS.includes(n) ? { clients: HOSTED } : {}),
        log: () => {},
        maxSessions: 1,
        timeoutMs: 60_000,
      }).catch((e: unknown) => e),
    );
    const ctx = await openSession(new MemoryTransport({ hub, local: ['model-owner'] }), c, { protocol: 'aby3', policy: DEFAULT_POLICY, timeoutMs: 60_000 });
    assert.equal(ctx.numClients, OWNERS.length * HOSTED);
    const clients = OWNERS.flatMap((o) => Array.from({ length: HOSTED }, (_, i) => `${o}:${i}`));

    const sumAt = federatedComputation([federated(tensor('float32', [M]), CLIENTS)], (x) => federatedTransfer(federatedSum(x, { placement: AGGREGATORS }), { placement: SERVER }), { name: 'sum_at_aggregators' });
    const got = (await withContext(ctx, () => sumAt(clientData('values')))) as number[];
    const want = Array.from({ length: M }, (_, k) => clients.reduce((a, n) => a + valueOf(...indexOf(n), k), 0));
    assert.deepEqual(Array.from(got), want, 'the exact sum (every value a multiple of 2^-6)');
    const aggregation = sent.splice(0);

    const counts = federatedComputation([federated(tensor('int32', [M]), CLIENTS)], (x) => federatedSecureSum(x, { bitwidth: 3 }), { name: 'secure_sum' });
    const got2 = (await withContext(ctx, () => counts(clientData('counts')))) as number[];
    assert.deepEqual(Array.from(got2), Array.from({ length: M }, (_, k) => clients.reduce((a, n) => a + countOf(...indexOf(n), k), 0)));
    await ctx.close();
    assert.deepEqual(await Promise.all(serving), ROLES7.slice(1).map(() => undefined));

    // what the compute servers received from the data owners during the float sum (keys: '@<client>><server>/<protocol op>/<owner index>/<what>')
    // (besides each owner's agreement: the digests of the commands it was sent and of its plan, and its own minimum of contributors, 68 bytes)
    const digests = aggregation.filter((m) => OWNERS.includes(m.from) && SERVERS.includes(m.to) && /\/agree\//.test(m.key));
    assert.ok(digests.every((m) => m.payload.byteLength === 68), 'an agreement message is more than two digests (the commands, the plan) and a minimum');
    const shares = aggregation.filter((m) => OWNERS.includes(m.from) && SERVERS.includes(m.to) && !/\/agree\//.test(m.key));
    assert.ok(shares.every((m) => /^@owner\d:\d+>server\d\//.test(m.key)), `every message a data owner sends a compute server is one hosted client's: ${shares.filter((m) => !/^@owner\d:\d+>/.test(m.key)).map((m) => m.key).slice(0, 3).join(', ')}`);
    const E = 8; // Z_2^64
    // (a sum at AGGREGATORS whose first use is its transfer to SERVER runs to SERVER, with ABY3 on the fused path,
    // aggregation/mpc-fused.ts: each client sends server0 its two seeds and server1 its one share component; server2 nothing)
    const predicted: Record<string, string[]> = { server0: ['seeds01:32'], server1: [`x2:${M * E}`], server2: [] };
    for (const s of SERVERS) {
      for (const cl of clients) {
        const mine = shares.filter((m) => m.to === s && m.key.startsWith(`@${cl}>${s}/`));
        assert.deepEqual(mine.map((m) => `${m.key.split('/').pop()}:${m.bytes}`).sort(), predicted[s], `${s} received from ${cl} exactly one sharing`);
        for (const m of mine) assert.equal(m.from, cl.split(':')[0], `over ${cl}'s own host`);
      }
      const total = shares.filter((m) => m.to === s).reduce((a, m) => a + m.bytes, 0);
      const perClient = predicted[s]!.reduce((a, x) => a + Number(x.split(':')[1]), 0);
      assert.equal(total, clients.length * perClient, `${s}: ${clients.length} clients x ${perClient} B`);
    }
    // every client's seeds are its own (no sharing made once for several clients)
    const seeds = shares.filter((m) => m.to === 'server0').map((m) => Buffer.from(m.payload).toString('hex'));
    assert.equal(new Set(seeds).size, clients.length);
    // the fused path forms no replicated sum: no share moves between the compute servers (server1 does not forward the x2 sum)
    const between = aggregation.filter((m) => SERVERS.includes(m.from) && SERVERS.includes(m.to) && m.bytes >= M * E);
    assert.deepEqual(between.map((m) => `${m.from}>${m.to}:${m.key}`), []);
    // server0 and server1 each send SERVER one sum, once
    const toServer = aggregation.filter((m) => SERVERS.includes(m.from) && m.to === 'model-owner' && !m.key.startsWith('exec/'));
    assert.deepEqual(toServer.map((m) => `${m.from}:${m.bytes}`).sort(), [`server0:${M * E}`, `server1:${M * E}`]);
  });
});
