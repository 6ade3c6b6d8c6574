/**
 * Paillier with clients hosted by one player (`pinHosted`): the clients
 * `owner1:0` and `owner1:1` seal with their host's X25519 key (the only key
 * the config pins for them). Each is still its own party: a malicious
 * router that puts one hosted client's box into the other's slot is caught
 * (the sender's name is bound into the box's key), and the honest run gives
 * the exact secure sum with one contribution per hosted client.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { paillierRoles } from '../../src/aggregation/paillier-roles.js';
import { MisroutedMessageError } from '../../src/aggregation/paillier-stages.js';
import { checkPlan } from '../../src/aggregation/plan.js';
import { simulateRoles } from '../../src/aggregation/simulate.js';
import { TensorType } from '../../src/core/types.js';
import { generateIdentity } from '../../src/crypto/identity.js';
import { ReplayError } from '../../src/crypto/secure-channel.js';
import { sharedPaillierPool } from '../../src/paillier/pool.js';
import { keyPair } from './fixtures.js';

after(() => sharedPaillierPool().close());

const CLIENTS = ['owner0', 'owner1:0', 'owner1:1', 'owner2'];
const PLAYERS = ['model-owner', 'aggregator', 'owner0', 'owner1', 'owner2'];
const ids = new Map(PLAYERS.map((n) => [n, generateIdentity()]));
const KEYS = keyPair(512);
const plan = (inv: string) =>
  checkPlan({
    protocol: 'paillier', invocationId: inv, uri: 'federated_secure_sum', target: 'SERVER', bound: 1n << 16n,
    leaves: [{ path: '', type: new TensorType('int32', [3]), size: 3 }], clients: CLIENTS, aggregators: ['aggregator'], server: 'model-owner',
    params: { keyBits: 512, fracBits: 32, floatBits: 96, maxClients: 4, noiseBits: KEYS.publicKey.noiseBits, onInvalid: 'throw' },
  });
const inputs = CLIENTS.map(() => ({ values: [Int32Array.from({ length: 3 }, () => Math.floor(Math.random() * 60000))] }));
// only the players' own identities (owner1's stands for both of its clients)
const roles = (o: { relay?: Parameters<typeof paillierRoles>[0]['relay'] } = {}) => paillierRoles({ maxClients: 4, keyBits: 512, workers: false, identities: ids, serverKeys: KEYS, pinHosted: true, ...o });

describe('Paillier: clients hosted by one player', () => {
  it("each hosted client seals with its host's key, in its own slot: the exact sum of all four", async () => {
    const r = await simulateRoles(roles(), plan('hosted/ok'), inputs);
    const want = [0, 1, 2].map((i) => inputs.reduce((a, x) => a + x.values[0]![i]!, 0));
    assert.deepEqual(Array.from(r.result.leaves[0]!, Number), want);
  });

  it("a router that puts owner1:0's box into owner1:1's slot is caught (replay or misrouted), nothing released", async () => {
    const seen = new Map<number, Uint8Array>();
    // whichever of the two hosted clients' boxes comes second is replaced by the first one's
    const relay = (e: { client: number; box: Uint8Array }) => {
      if (e.client !== 1 && e.client !== 2) return e.box;
      const other = seen.get(3 - e.client);
      seen.set(e.client, e.box);
      return other ?? e.box;
    };
    // (the copy is refused as a replay or, in the other slot, as misrouted: either way the aggregator releases nothing)
    await assert.rejects(simulateRoles(roles({ relay }), plan('hosted/swap'), inputs), (e: unknown) => e instanceof MisroutedMessageError || e instanceof ReplayError);
  });

  it("without pinHosted a hosted client has no key: refused before anything is sent", async () => {
    await assert.rejects(simulateRoles(paillierRoles({ maxClients: 4, keyBits: 512, workers: false, identities: ids, serverKeys: KEYS }), plan('hosted/none'), inputs), /owner1:0/);
  });
});
