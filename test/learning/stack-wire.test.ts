/**
 * What each party of a learning round on the stack receives, across players
 * (a remote session over one MemoryHub, each player on its own transport, as
 * separate processes would be), recorded at the hub: the aggregate of an
 * AGGREGATORS mean that the round moves to SERVER is revealed to SERVER only
 * (no aggregator holds it: no transfer, nothing model-sized from server2),
 * and ABY3 runs its fused path: each data owner uploads one share component
 * (to server1) and seeds (to server0) per round, and to each of the two
 * its 68-byte agreement; server2 takes no part (not asked, sent nothing); SERVER
 * receives two sums, one from server0 and one from server1. The players
 * forget each round's values when it ends (a dispose command after each).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { type Dataset, type MnistData } from '../../src/learning/mnist.js';
import { mnistThirds } from './fixtures.js';
import { ModelOwner } from '../../src/learning/roles.js';
import { sgd } from '../../src/learning/optimizers.js';
import { hostLearningClients, trainOnContext } from '../../src/learning/stack.js';
import { clientData } from '../../src/runtime/remote/context.js';
import { unframe, unframeBatch } from '../../src/runtime/remote/wire.js';
import { openSession, serveSessions } from '../../src/deploy/session.js';
import { DEFAULT_POLICY } from '../../src/deploy/policy.js';
import { parseConfig } from '../../src/transport/config.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { ROLES7 } from '../deploy/helpers.js';

const MODEL = 'logistic_regression';
const ROUNDS = 3;
let data: MnistData;
let parts: Dataset[];
before(async () => void ({ data, parts } = await mnistThirds()));
const hubs: MemoryHub[] = [];
after(() => hubs.forEach((h) => h.close()));

interface Seen { from: string; to: string; key: string; bytes: number; ops?: string[]; blobs?: number; sha?: string }

describe('a FedSGD round on the stack, what each party receives', { timeout: 120_000 }, () => {
  it('the mean reaches SERVER only, by the fused ABY3 path; every round ends with the players forgetting its values', async () => {
    const players: Record<string, unknown> = {};
    ROLES7.forEach(([n, r], i) => (players[n] = { address: `127.0.0.1:${6000 + i}`, role: r }));
    const config = parseConfig(JSON.stringify({ version: 1, players }));
    const hub = new MemoryHub();
    hubs.push(hub);
    const seen: Seen[] = [];
    const deliver = hub.deliver.bind(hub);
    hub.deliver = (from, to, key, payload) => {
      let ops: string[] | undefined;
      let sha: string | undefined;
      // the driver's commands: their ops (a frame's header, or each of a batch's), and their bytes' digest
      if (from === 'model-owner' && /^exec\/[0-9a-f]+\/\d+$/.test(key)) {
        sha = createHash('sha256').update(payload).digest('hex');
        const f = unframe(payload, 'command');
        ops = (f.header['op'] === 'batch' ? unframeBatch(f, 'batch') : [f]).map((x) => String(x.header['op']));
      }
      // replies: the number of blobs they carry (every reply of a batch)
      let blobs: number | undefined;
      if (key.endsWith('/reply')) {
        const f = unframe(payload, 'reply');
        blobs = (f.header['op'] === 'batch' ? unframeBatch(f, 'replies') : [f]).reduce((a, r) => a + r.blobs.length, 0);
      }
      seen.push({ from, to, key, bytes: payload.byteLength, ...(ops ? { ops } : {}), ...(blobs !== undefined ? { blobs } : {}), ...(sha ? { sha } : {}) });
      deliver(from, to, key, payload);
    };
    const serving = ROLES7.slice(1).map(([n]) => {
      let id: number | undefined;
      const i = Number(/^owner(\d)$/.exec(n)?.[1] ?? -1);
      return serveSessions(new MemoryTransport({ hub, local: [n] }), config, n, {
        policy: DEFAULT_POLICY,
        ...(i >= 0 ? { data: () => (id ??= hostLearningClients([{ name: n, data: parts[i]!, shuffleIndex: i }])[0]!) } : {}),
        maxSessions: 1,
        log: () => {},
        timeoutMs: 60_000,
      });
    });
    const ctx = await openSession(new MemoryTransport({ hub, local: ['model-owner'] }), config, { protocol: 'aby3', policy: DEFAULT_POLICY, timeoutMs: 60_000 });
    const mo = new ModelOwner('model-owner', MODEL, data, { seed: 3, optimizer: sgd({ lr: 0.5 }) });
    await trainOnContext(ctx, { mode: 'fedsgd', model: MODEL, modelOwner: mo, clients: clientData('fedcrypt/learning'), rounds: ROUNDS, hyper: { seed: 3, batchSize: 32, localEpochs: 1, clientLr: 0, maxLocalSteps: 0 } });
    await ctx.close();
    await Promise.all(serving);
    const n = mo.numParams;
    const ring = n * 8; // one share component or sum: n elements of Z_2^64
    const big = (m: Seen) => m.bytes >= ring;
    const owners = ['owner0', 'owner1', 'owner2'];
    const servers = ['server0', 'server1', 'server2'];
    for (const o of owners) {
      // one share component a round, to server1; seeds only to server0; nothing at all to server2
      const up = seen.filter((m) => m.from === o && big(m));
      assert.equal(up.length, ROUNDS, `${o} sent ${up.length} model-sized messages in ${ROUNDS} rounds`);
      for (const m of up) assert.equal(m.to, 'server1', `${o} sent a model-sized ${m.key} to ${m.to}`);
      assert.ok(seen.filter((m) => m.from === o && m.to === 'server0').every((m) => m.bytes <= 68), `${o} sent server0 more than seeds and its agreement`);
      // nothing at all to server2 (it takes no part in the fused path: no share, no agreement digest)
      assert.deepEqual(seen.filter((m) => m.from === o && m.to === 'server2').map((m) => m.key), [], `${o} -> server2`);
      for (const s of ['server0', 'server1']) assert.equal(seen.filter((m) => m.from === o && m.to === s && /\/agree\//.test(m.key)).length, ROUNDS, `${o}'s agreements to ${s}`);
      // a data owner hears from the driver only (commands: the weights among them), never from a server or another owner
      assert.ok(seen.filter((m) => m.to === o).every((m) => m.from === 'model-owner'), `${o} received from a party other than the driver`);
      // it sends the driver its answer to the session and replies, none with a value
      for (const m of seen.filter((x) => x.from === o && x.to === 'model-owner')) assert.ok(/\/open$/.test(m.key) || (m.key.endsWith('/reply') && m.blobs === 0), `${o} sent the driver ${m.key} (${m.bytes} B)`);
    }
    // the data owners get the same command stream, byte for byte (the same messages under the same keys)
    const stream = (o: string) => seen.filter((m) => m.to === o && m.sha !== undefined).map((m) => `${m.key} ${m.sha}`);
    assert.ok(stream('owner0').length > 0);
    for (const o of owners.slice(1)) assert.deepEqual(stream(o), stream('owner0'), `${o}'s commands differ from owner0's`);
    // SERVER receives, per round, exactly two sums: one from server0, one from server1; nothing model-sized from server2
    for (const [s, count] of [['server0', ROUNDS], ['server1', ROUNDS], ['server2', 0]] as const) {
      assert.equal(seen.filter((m) => m.from === s && m.to === 'model-owner' && m.bytes >= ring).length, count, `${s} -> model-owner`);
      assert.ok(seen.filter((m) => m.from === s && m.to === 'model-owner').every((m) => m.bytes >= ring || m.bytes < 1000));
    }
    // no aggregator holds the mean: no transfer command, and nothing model-sized between the servers
    assert.deepEqual(seen.filter((m) => m.ops?.includes('transfer')), []);
    assert.deepEqual(seen.filter((m) => servers.includes(m.from) && servers.includes(m.to) && m.bytes > 64).map((m) => `${m.from}->${m.to} ${m.key}`), []);
    // the servers get commands only from the driver, never the weights
    assert.ok(seen.filter((m) => servers.includes(m.to) && m.from === 'model-owner').every((m) => m.bytes < 4 * n), 'a server received model-sized data from the driver');
    // after every invocation (the count is not run here: ROUNDS rounds) every player is told to forget its values
    for (const p of [...owners, ...servers]) assert.equal(seen.flatMap((m) => (m.to === p ? (m.ops ?? []) : [])).filter((op) => op === 'dispose').length, ROUNDS, `dispose commands to ${p}`);
    mo.dispose();
  });
});
