/**
 * A malicious model owner driving honest players through learning rounds on
 * the stack (remote sessions over one MemoryHub, every player on its own
 * transport, as in separate processes): the attacks once made on the retired
 * SPMD job, carried over. The driver opens an honest session and
 * then tampers with what it sends; the compute servers, told by every data
 * owner the digest of every command it was sent and of its plan (their
 * release gate, runtime/remote/player.ts), reveal nothing to the model owner.
 *
 *  1. the victim gets the real weights, the other data owners zeros (their
 *     gradients at zero weights are known: the aggregate would isolate the
 *     victim's gradient);
 *  2. the victim gets another hyperparameter (another round: another batch);
 *  3. one data owner gets another plan than the rest (the clients in another
 *     order).
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyError } from '../../src/core/errors.js';
import { type Dataset, type MnistData } from '../../src/learning/mnist.js';
import { mnistThirds } from '../learning/fixtures.js';
import { ModelOwner } from '../../src/learning/roles.js';
import { sgd } from '../../src/learning/optimizers.js';
import { hostLearningClients, trainOnContext } from '../../src/learning/stack.js';
import { clientData } from '../../src/runtime/remote/context.js';
import { frame, frameBatch, unframe, unframeBatch } from '../../src/runtime/remote/wire.js';
import { planFromBytes, planToBytes } from '../../src/aggregation/plan.js';
import { openSession, serveSessions } from '../../src/deploy/session.js';
import { DEFAULT_POLICY } from '../../src/deploy/policy.js';
import { parseConfig } from '../../src/transport/config.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import type { Transport } from '../../src/transport/channel.js';
import { ROLES7 } from './helpers.js';

const MODEL = 'logistic_regression';
const SERVERS = ['server0', 'server1', 'server2'];
let data: MnistData;
let parts: Dataset[];
before(async () => void ({ data, parts } = await mnistThirds()));

type Tamper = (to: string, header: Record<string, unknown>, blobs: Uint8Array[]) => Uint8Array[] | undefined;

interface Sent { from: string; to: string; key: string; bytes: number }

/** Honest players; a driver whose commands pass through `tamper` (which may replace a command's values). Returns the round's failure and what was sent. */
async function attack(tamper: Tamper): Promise<{ error: unknown; sent: Sent[]; n: number; logs: string[] }> {
  const players: Record<string, unknown> = {};
  ROLES7.forEach(([n, r], i) => (players[n] = { address: `127.0.0.1:${6000 + i}`, role: r }));
  const config = parseConfig(JSON.stringify({ version: 1, players }));
  const hub = new MemoryHub();
  const sent: Sent[] = [];
  const deliver = hub.deliver.bind(hub);
  hub.deliver = (from, to, key, payload) => {
    sent.push({ from, to, key, bytes: payload.byteLength });
    deliver(from, to, key, payload);
  };
  const logs: string[] = [];
  const serving = ROLES7.slice(1).map(([n]) => {
    let id: number | undefined;
    const i = Number(/^owner(\d)$/.exec(n)?.[1] ?? -1);
    return serveSessions(new MemoryTransport({ hub, local: [n] }), config, n, {
      policy: DEFAULT_POLICY,
      ...(i >= 0 ? { data: () => (id ??= hostLearningClients([{ name: n, data: parts[i]!, shuffleIndex: i }])[0]!) } : {}),
      maxSessions: 1,
      log: (l) => logs.push(l),
      timeoutMs: 20_000,
    });
  });
  const honest = new MemoryTransport({ hub, local: ['model-owner'] });
  // the attacker's transport: every command frame to a player may be rewritten
  const driver = new Proxy(honest, {
    get(target, prop, receiver) {
      if (prop === 'send') {
        return (from: string, to: string, key: string, payload: Uint8Array) => {
          if (/^exec\/[0-9a-f]+\/\d+$/.test(key)) {
            const f = unframe(payload, 'command');
            // a batch of commands, or one
            const items = f.header['op'] === 'batch' ? unframeBatch(f, 'batch') : [{ header: f.header, blobs: f.blobs }];
            let changed = false;
            const out = items.map((it) => {
              const blobs = tamper(to, it.header, [...it.blobs]);
              if (blobs === undefined) return it;
              changed = true;
              return { header: it.header, blobs };
            });
            if (changed) return target.send(from, to, key, f.header['op'] === 'batch' ? frameBatch(out) : frame(out[0]!.header, out[0]!.blobs));
          }
          return target.send(from, to, key, payload);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as Transport;
  const ctx = await openSession(driver, config, { protocol: 'aby3', policy: DEFAULT_POLICY, timeoutMs: 20_000 });
  const mo = new ModelOwner('model-owner', MODEL, data, { seed: 3, optimizer: sgd({ lr: 0.5 }) });
  let error: unknown;
  try {
    await trainOnContext(ctx, { mode: 'fedsgd', model: MODEL, modelOwner: mo, clients: clientData('fedcrypt/learning'), rounds: 1, hyper: { seed: 3, batchSize: 32, localEpochs: 1, clientLr: 0, maxLocalSteps: 0 } });
  } catch (e) {
    error = e;
  }
  const n = mo.numParams;
  mo.dispose();
  await ctx.close().catch(() => {});
  await Promise.all(serving);
  hub.close();
  return { error, sent, n, logs };
}

/** Nothing of the aggregate reached the model owner: no server sent it (or anyone) a share-sized message. */
function nothingRevealed(r: { sent: Sent[]; n: number }): void {
  const big = r.sent.filter((m) => SERVERS.includes(m.from) && m.bytes >= r.n * 8);
  assert.deepEqual(big.map((m) => `${m.from} -> ${m.to} ${m.key} (${m.bytes} B)`), [], 'a server sent a share-sized message');
}

function refusedByServers(r: { error: unknown; logs: string[] }, what: RegExp): void {
  const e = r.error;
  assert.ok(e instanceof PolicyError, `expected a refusal, got ${String(e)}`);
  assert.equal(e.rule, 'agreement');
  assert.ok(SERVERS.includes(e.party ?? ''), `refused by ${e.party}`);
  assert.match(e.message, what);
  // every server that got to the aggregation refused it, in its own log
  assert.ok(r.logs.some((l) => /^server\d: command \d+ failed: PolicyError/.test(l)), r.logs.join('\n'));
}

describe('a malicious model owner on the stack: the servers take no part', { timeout: 120_000 }, () => {
  it('the victim gets the real weights, the other data owners zeros', async () => {
    const r = await attack((to, h, blobs) => {
      if (h['op'] !== 'broadcast' || h['placement'] !== 'CLIENTS' || to === 'owner0' || blobs[0]!.byteLength < 1000) return undefined;
      return [new Uint8Array(blobs[0]!.byteLength)];
    });
    refusedByServers(r, /the client players were not sent the same commands \(owner0 and owner[12] differ\)/);
    nothingRevealed(r);
    // the data owners did take part (their shares alone reveal nothing): the attack reached the aggregation
    assert.ok(r.sent.some((m) => m.from === 'owner0' && m.to === 'server1' && m.bytes >= r.n * 8));
  });

  it('the victim gets another round number in its hyperparameters (another batch)', async () => {
    const r = await attack((to, h, blobs) => {
      if (h['op'] !== 'broadcast' || h['placement'] !== 'CLIENTS' || to !== 'owner2' || blobs[0]!.byteLength >= 1000) return undefined;
      // HYPER: seed, batchSize, round, ... (int32 little-endian): round 0 -> 7
      const b = blobs[0]!.slice();
      new DataView(b.buffer, b.byteOffset).setInt32(8, 7, true);
      return [b];
    });
    refusedByServers(r, /not sent the same commands \(owner0 and owner2 differ\)/);
    nothingRevealed(r);
  });

  it('one data owner gets another plan (the clients in another order)', async () => {
    const r = await attack((to, h, blobs) => {
      if (h['op'] !== 'aggregate' || to !== 'owner1') return undefined;
      const plan = planFromBytes(blobs[0]!);
      return [planToBytes({ ...plan, clients: [...plan.clients].reverse() })];
    });
    // (the plan travels in the 'aggregate' command: owner1's transcript differs from the others')
    refusedByServers(r, /not sent the same commands \(owner0 and owner1 differ\)/);
    nothingRevealed(r);
  });
});
