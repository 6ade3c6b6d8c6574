/**
 * Pond (two servers and the crypto producer, each its own player) on the
 * execution stack: FedSGD rounds across players (a remote session, every
 * player on its own transport of one MemoryHub, as separate processes
 * would be) give the model of the same rounds in one process (localContext
 * with Pond's roles simulated), bit for bit; and the aggregate reaches SERVER
 * only. (networked.test.ts claimed this of the SPMD job path; ABY3 is in
 * learning/stack.test.ts and, across processes, stack-fedsgd.test.ts.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type Dataset, type MnistData } from '../../src/learning/mnist.js';
import { mnistThirds } from '../learning/fixtures.js';
import { ModelOwner } from '../../src/learning/roles.js';
import { sgd } from '../../src/learning/optimizers.js';
import { hostLearningClients, trainOnContext } from '../../src/learning/stack.js';
import { localContext } from '../../src/runtime/index.js';
import { mpcAggregation } from '../../src/aggregation/mpc.js';
import { clientData } from '../../src/runtime/remote/context.js';
import { openSession, serveSessions } from '../../src/deploy/session.js';
import { DEFAULT_POLICY } from '../../src/deploy/policy.js';
import { parseConfig } from '../../src/transport/config.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { ROLES7, sameBits } from './helpers.js';

const MODEL = 'logistic_regression';
const ROUNDS = 3;
const OWNERS = ['owner0', 'owner1', 'owner2'];
const SERVERS = ['server0', 'server1', 'server2'];
const hyper = { seed: 4, batchSize: 32, localEpochs: 1, clientLr: 0, maxLocalSteps: 0 };
let data: MnistData;
let parts: Dataset[];
before(async () => void ({ data, parts } = await mnistThirds()));
const hubs: MemoryHub[] = [];
after(() => hubs.forEach((h) => h.close()));
const owner = () => new ModelOwner('model-owner', MODEL, data, { seed: 4, optimizer: sgd({ lr: 0.5 }) });

describe('Pond FedSGD on the stack', { timeout: 180_000 }, () => {
  it('across players equals the in-process rounds bit for bit; only SERVER receives anything model-sized from the servers', async () => {
    // in one process
    const ids = hostLearningClients(parts.map((d, i) => ({ name: OWNERS[i]!, data: d, shuffleIndex: i })));
    const a = owner();
    const start = a.shareWeights();
    const aggregation = mpcAggregation({ protocol: 'pond' });
    await trainOnContext(localContext({ aggregation }), { mode: 'fedsgd', model: MODEL, modelOwner: a, clients: ids, rounds: ROUNDS, hyper });
    await aggregation.close?.();
    // across players
    const players: Record<string, unknown> = {};
    ROLES7.forEach(([n, r], i) => (players[n] = { address: `127.0.0.1:${6000 + i}`, role: r }));
    const c = parseConfig(JSON.stringify({ version: 1, players }));
    const hub = new MemoryHub();
    hubs.push(hub);
    const seen: { from: string; to: string; bytes: number }[] = [];
    const deliver = hub.deliver.bind(hub);
    hub.deliver = (from, to, key, payload) => (seen.push({ from, to, bytes: payload.byteLength }), deliver(from, to, key, payload));
    const serving = [...OWNERS, ...SERVERS].map((n) => {
      const i = OWNERS.indexOf(n);
      let id: number | undefined;
      return serveSessions(new MemoryTransport({ hub, local: [n] }), c, n, {
        policy: DEFAULT_POLICY,
        ...(i >= 0 ? { data: () => (id ??= hostLearningClients([{ name: n, data: parts[i]!, shuffleIndex: i }])[0]!) } : {}),
        maxSessions: 1,
        log: () => {},
        timeoutMs: 60_000,
      });
    });
    const ctx = await openSession(new MemoryTransport({ hub, local: ['model-owner'] }), c, { protocol: 'pond', policy: DEFAULT_POLICY, timeoutMs: 60_000 });
    const b = owner();
    await trainOnContext(ctx, { mode: 'fedsgd', model: MODEL, modelOwner: b, clients: clientData('fedcrypt/learning'), rounds: ROUNDS, hyper });
    await ctx.close();
    await Promise.all(serving);
    assert.ok(!sameBits(a.shareWeights(), start), 'training changed nothing');
    assert.ok(sameBits(a.shareWeights(), b.shareWeights()), 'Pond across players differs from Pond in one process');
    // what is model-sized: the data owners' shares go to the servers only; the model owner gets it from the servers only
    const n = a.numParams;
    for (const m of seen.filter((x) => OWNERS.includes(x.from) && x.bytes >= n * 4)) assert.ok(SERVERS.includes(m.to), `${m.from} sent ${m.bytes} B to ${m.to}`);
    for (const m of seen.filter((x) => x.to === 'model-owner' && x.bytes >= n * 4)) assert.ok(SERVERS.includes(m.from), `${m.from} sent ${m.bytes} B to the model owner`);
    assert.ok(seen.some((x) => x.to === 'model-owner' && SERVERS.includes(x.from) && x.bytes >= n * 4), 'SERVER received the revealed sum');
    a.dispose();
    b.dispose();
  });
});
