/**
 * Learning on the execution stack: FedSGD steps and FedAvg rounds as
 * federated computations give the same model, bit for bit, in one process
 * (localContext with the MPC roles) and across players (a remote session,
 * each data owner hosting its own client and data), and a client refuses
 * hyperparameters its policy does not allow.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type Dataset, type MnistData } from '../../src/learning/mnist.js';
import { mnistThirds } from './fixtures.js';
import { ModelOwner } from '../../src/learning/roles.js';
import { sgd } from '../../src/learning/optimizers.js';
import { hostLearningClients, setLearningPolicy, trainOnContext, type StackMode } from '../../src/learning/stack.js';
import { localContext } from '../../src/runtime/index.js';
import { mpcAggregation } from '../../src/aggregation/mpc.js';
import { clientData } from '../../src/runtime/remote/context.js';
import { openSession, serveSessions } from '../../src/deploy/session.js';
import { DEFAULT_POLICY } from '../../src/deploy/policy.js';
import { parseConfig, type DeployConfig } from '../../src/transport/config.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { PolicyError } from '../../src/core/index.js';
import { ROLES7 } from '../deploy/helpers.js';

const MODEL = 'logistic_regression';
let data: MnistData;
let parts: Dataset[];
before(async () => void ({ data, parts } = await mnistThirds()));
const hubs: MemoryHub[] = [];
after(() => hubs.forEach((h) => h.close()));

function config(): DeployConfig {
  const players: Record<string, unknown> = {};
  ROLES7.forEach(([n, r], i) => (players[n] = { address: `127.0.0.1:${6000 + i}`, role: r }));
  return parseConfig(JSON.stringify({ version: 1, players }));
}
const hyper = { seed: 3, batchSize: 32, localEpochs: 1, clientLr: 0.1, maxLocalSteps: 4 };
const owner = () => new ModelOwner('model-owner', MODEL, data, { seed: 3, optimizer: sgd({ lr: 0.5 }) });

async function inProcess(mode: StackMode, rounds: number): Promise<Float32Array> {
  const ids = hostLearningClients(parts.map((d, i) => ({ name: `owner${i}`, data: d, shuffleIndex: i })));
  const mo = owner();
  const ctx = localContext({ aggregation: mpcAggregation({ protocol: 'aby3' }) });
  await trainOnContext(ctx, { mode, model: MODEL, modelOwner: mo, clients: ids, rounds, hyper });
  return mo.shareWeights();
}

async function remote(mode: StackMode, rounds: number): Promise<Float32Array> {
  const c = config();
  const hub = new MemoryHub();
  hubs.push(hub);
  const owners = ROLES7.filter(([, r]) => r !== 'model-owner').map(([n]) => n);
  const serving = owners.map((n) => {
    // each data owner hosts its own client; the data source gives the driver only the client's local number
    let id: number | undefined;
    const i = Number(/^owner(\d)$/.exec(n)?.[1] ?? -1);
    return serveSessions(new MemoryTransport({ hub, local: [n] }), c, n, {
      policy: DEFAULT_POLICY,
      ...(i >= 0 ? { data: (source: string) => {
        if (source !== 'fedcrypt/learning') throw new RangeError('unknown source');
        return (id ??= hostLearningClients([{ name: n, data: parts[i]!, shuffleIndex: i }])[0]!);
      } } : {}),
      maxSessions: 1,
      log: () => {},
      timeoutMs: 60_000,
    });
  });
  const ctx = await openSession(new MemoryTransport({ hub, local: ['model-owner'] }), c, { protocol: 'aby3', policy: DEFAULT_POLICY, timeoutMs: 60_000 });
  const mo = owner();
  await trainOnContext(ctx, { mode, model: MODEL, modelOwner: mo, clients: clientData('fedcrypt/learning'), rounds, hyper });
  await ctx.close();
  await Promise.all(serving);
  return mo.shareWeights();
}

const sameBits = (a: Float32Array, b: Float32Array) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('learning rounds on the execution stack', { timeout: 240_000 }, () => {
  for (const mode of ['fedsgd', 'fedavg'] as const) {
    it(`${mode}: the same model bit for bit in one process and across players`, async () => {
      const start = owner().shareWeights();
      const a = await inProcess(mode, 3);
      const b = await remote(mode, 3);
      assert.ok(!sameBits(a, start), 'training changed nothing');
      assert.ok(sameBits(a, b), `${mode}: in-process and remote models differ`);
    });
  }

  it("a client refuses a batch size below its operator's minimum, naming itself and the rule", async () => {
    setLearningPolicy({ minBatchSize: 64, models: null });
    try {
      await assert.rejects(inProcess('fedsgd', 1), (e: unknown) => e instanceof PolicyError && e.rule === 'minBatchSize' && /^owner\d$/.test(e.party ?? ''));
      setLearningPolicy({ minBatchSize: 1, models: ['network_a'] });
      await assert.rejects(inProcess('fedavg', 1), (e: unknown) => e instanceof PolicyError && e.rule === 'model');
      // a player's maximum of rounds: round 3 of a run is refused by a player that takes at most 2
      setLearningPolicy({ minBatchSize: 1, models: null, maxRounds: 2 });
      await assert.rejects(inProcess('fedsgd', 3), (e: unknown) => e instanceof PolicyError && e.rule === 'maxRounds' && /round 3 is past this player's maximum of 2/.test(e.message));
    } finally {
      setLearningPolicy({ minBatchSize: 1, models: null });
    }
  });
});

describe('the data order of a round does not depend on the rounds run before in this process', () => {
  it('fedavg and fedsgd from a fresh process state give the same model as a continued one (resume)', async () => {
    // 3 rounds in one go, against 1 round then (new trainers: a restarted player) 2 more from round 1
    for (const mode of ['fedsgd', 'fedavg'] as const) {
      const ids = hostLearningClients(parts.map((d, i) => ({ name: `owner${i}`, data: d, shuffleIndex: i })));
      const a = owner();
      const ctx = localContext({ aggregation: mpcAggregation({ protocol: 'aby3' }) });
      await trainOnContext(ctx, { mode, model: MODEL, modelOwner: a, clients: ids, rounds: 3, hyper });
      const ids2 = hostLearningClients(parts.map((d, i) => ({ name: `owner${i}`, data: d, shuffleIndex: i })));
      const b = owner();
      await trainOnContext(ctx, { mode, model: MODEL, modelOwner: b, clients: ids2, rounds: 1, hyper });
      const ids3 = hostLearningClients(parts.map((d, i) => ({ name: `owner${i}`, data: d, shuffleIndex: i })));
      await trainOnContext(ctx, { mode, model: MODEL, modelOwner: b, clients: ids3, rounds: 3, startRound: 1, hyper });
      assert.ok(sameBits(a.shareWeights(), b.shareWeights()), `${mode}: resumed run differs`);
    }
  });
});
