// Phase 2: the Paillier aggregation service bound to the Federated Core.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  AGGREGATORS,
  CLIENTS,
  federated,
  federatedComputation,
  federatedMean,
  federatedSecureSum,
  tensor,
} from '../../src/core/index.js';
import { localContext } from '../../src/runtime/index.js';
import {
  ChannelAuthError,
  generateIdentity,
  ReplayError,
  SealedBoxReceiver,
  SealedBoxSender,
  UnknownPeerError,
} from '../../src/crypto/secure-channel.js';
import {
  channelFor,
  MisroutedMessageError,
  PAILLIER_CHANNEL_GRID,
  PaillierAggregation,
  paillierAggregation,
  paillierSecureMean,
  StageMachine,
  type ObservedMessage,
} from '../../src/aggregation/paillier.js';
import { paillierContext as fromPaillierLayer } from '../../src/paillier/index.js';
import { paillierContext } from '../../src/runtime/index.js';
import { decrypt, encryptedVectorFromBytes, PaillierPacking, TooManyClientsError } from '../../src/paillier/index.js';
import { sharedPaillierPool } from '../../src/paillier/pool.js';
import { runAggregationConformance } from '../aggregation/conformance.js';

after(() => sharedPaillierPool().close());

const seedComp = federatedComputation([federated(tensor('int32', [2]), CLIENTS)], (x) => federatedSecureSum(x, { bitwidth: 32 }), { name: 'secure_paillier_addition' });
const seedArgs = [Array.from({ length: 5 }, (_, i) => [i, i + 1])];

test('seed example: 5 clients holding [i, i+1], federatedSecureSum(x, { bitwidth: 32 }) = [10, 15]', async () => {
  const ctx = paillierContext({ numClients: 5, keyBits: 512, workers: false });
  assert.deepEqual(await ctx.invoke(seedComp, seedArgs), [10, 15]);
  assert.equal(fromPaillierLayer, paillierContext);
});

test('federatedMean at AGGREGATORS of floats, and secure sum at AGGREGATORS, match the plaintext', async () => {
  const comp = federatedComputation([federated(tensor('float64', [3]), CLIENTS)], (x) => federatedMean(x, { placement: AGGREGATORS }));
  const xs = [[1.5, -2.25, 1e3], [-0.5, 4, -7.125], [0, 0.001, 2]];
  const ctx = paillierContext({ numClients: 4, keyBits: 512, workers: false });
  const got = (await ctx.invoke(comp, [xs])) as number[];
  const want = [0, 1, 2].map((j) => xs.reduce((s, x) => s + x[j]!, 0) / 3);
  got.forEach((g, j) => assert.ok(Math.abs(g - want[j]!) < 1e-8, `${g} vs ${want[j]}`));
});

// the conformance cases draw 1..6 clients: below the default minimum of 3, so the minimum is set to 1 here
// weights are the clients' private inputs, encoded in fixed point (2^-32): weights below 2^-8 are drawn as 0 so the total weight is resolved
runAggregationConformance('paillier', () => paillierAggregation({ numClients: 6, keyBits: 512, workers: false, minContributors: 1 }), {
  minWeight: 2 ** -8,
  numRuns: 5,
  maxClients: 6,
  floatTolerance: { abs: 1e-6, rel: 1e-9 },
});

test('more clients than declared is TooManyClientsError before anything is encrypted', async () => {
  const seen: ObservedMessage[] = [];
  const ctx = paillierContext({ numClients: 4, keyBits: 512, workers: false, observe: (m) => seen.push(m) });
  await assert.rejects(ctx.invoke(seedComp, seedArgs), TooManyClientsError);
  assert.equal(seen.length, 0);
});

test('channel grid: client -> aggregator traffic is relayed by the server in sealed boxes', () => {
  const c2a = channelFor('CLIENTS', 'AGGREGATORS');
  assert.equal(c2a.kind, 'sealed-box-relayed');
  assert.equal(c2a.via, 'SERVER');
  assert.equal(channelFor('AGGREGATORS', 'SERVER').kind, 'sealed-box');
  assert.ok(PAILLIER_CHANNEL_GRID.every((e) => Object.isFrozen(e)));
  assert.throws(() => channelFor('SERVER', 'SERVER'), RangeError);
});

test('stage machine: every out-of-order transition throws', () => {
  const m = new StageMachine();
  assert.throws(() => m.advance('SUBMIT'));
  m.advance('PUBLISH');
  assert.throws(() => m.advance('PUBLISH'));
  assert.throws(() => m.advance('DONE'));
  m.advance('SUBMIT');
  m.advance('RELAY');
  m.advance('AGGREGATE');
  m.advance('DECRYPT');
  m.advance('DONE');
  assert.throws(() => m.advance('KEYS'));
});

test('what each party receives: the router sees only AEAD boxes, the aggregator only ciphertexts', async () => {
  const seen: ObservedMessage[] = [];
  const proto = paillierAggregation({ numClients: 5, keyBits: 512, workers: false, observe: (m) => seen.push(m) });
  const ctx = localContext({ aggregation: proto });
  const comp = federatedComputation([federated(tensor('int32', [60]), CLIENTS)], (x) => federatedSecureSum(x, { bitwidth: 16 }));
  const xs = Array.from({ length: 5 }, (_, c) => Array.from({ length: 60 }, (_, i) => (c * 1000 + i * 7) % 65536));
  const got = (await ctx.invoke(comp, [xs])) as number[];
  assert.deepEqual(got, xs[0]!.map((_, i) => xs.reduce((s, x) => s + x[i]!, 0)));
  const toServer = seen.filter((m) => m.to === 'server' && m.from.startsWith('client-'));
  const toAgg = seen.filter((m) => m.to === 'aggregator' && m.key.includes('/relay/'));
  assert.equal(toServer.length, 5);
  assert.equal(toAgg.length, 5);
  const pk = proto.publicKey;
  const packing = new PaillierPacking({ keyBits: 512, bitwidth: 16, maxClients: 5, signed: false });
  const aggId = { name: 'aggregator', identity: proto.identityOf('aggregator')! };
  const serverId = { name: 'server', identity: proto.identityOf('server')! };
  const clientKeys = new Map([...Array(5).keys()].map((i) => [`client-${i}`, proto.pinnedKeys.get(`client-${i}`)!]));
  const aggOpen = new SealedBoxReceiver({ self: aggId, senders: clientKeys, context: 'fedcrypt/aggregation/paillier/v1' });
  const serverTry = new SealedBoxReceiver({ self: serverId, senders: clientKeys, context: 'fedcrypt/aggregation/paillier/v1' });
  for (const m of toServer) {
    // the server cannot open what it relays
    assert.throws(() => serverTry.open(m.payload), ChannelAuthError);
    // and the relayed bytes are exactly what the client sent
    assert.ok(toAgg.some((a) => Buffer.from(a.payload).equals(Buffer.from(m.payload))));
  }
  for (const m of toAgg) {
    const opened = aggOpen.open(m.payload);
    const v = encryptedVectorFromBytes(pk, packing, opened.plaintext);
    // an encrypted vector of Paillier ciphertexts: its bytes are not in the box in the clear
    assert.equal(Buffer.from(m.payload).indexOf(Buffer.from(opened.plaintext.subarray(8, 72))), -1);
    for (const c of v.ciphertexts) assert.ok(c > 0n && c < pk.n2);
    // each is a ciphertext of the packed plaintext (checked with the server's key, which the aggregator lacks)
    const client = Number(opened.sender.split('-')[1]);
    const want = packing.encode(xs[client]!);
    assert.deepEqual(v.ciphertexts.map((c) => decrypt(proto.serverPrivateKey(), c)), want);
  }
  // the aggregator's published key is the server's public key; nothing private went its way
  const pkMsgs = seen.filter((m) => m.to === 'aggregator' && m.key.endsWith('/pk'));
  assert.equal(pkMsgs.length, 1);
  await proto.close();
});

async function runWithRouter(relay: ConstructorParameters<typeof PaillierAggregation>[0]['relay'], onInvalid: 'throw' | 'drop' = 'throw', pinnedOverride?: (p: PaillierAggregation) => void) {
  const seen: ObservedMessage[] = [];
  let hook = relay;
  const proto = paillierAggregation({ numClients: 4, keyBits: 512, workers: false, onInvalid, relay: (e) => (hook ? hook(e) : e.box), observe: (m) => seen.push(m) });
  pinnedOverride?.(proto);
  const ctx = localContext({ aggregation: proto });
  const comp = federatedComputation([federated(tensor('int32', [3]), CLIENTS)], (x) => federatedSecureSum(x, { bitwidth: 10 }));
  const xs = [[1, 2, 3], [10, 20, 30], [100, 200, 300], [5, 5, 5]];
  return { proto, ctx, comp, xs, seen, setHook: (h: typeof relay) => (hook = h) };
}

test('a box altered in transit is rejected (ChannelAuthError) before it reaches the aggregate', async () => {
  const { proto, ctx, comp, xs } = await runWithRouter((e) => {
    if (e.client !== 2) return e.box;
    const b = e.box.slice();
    b[b.length - 40]! ^= 1;
    return b;
  });
  await assert.rejects(ctx.invoke(comp, [xs]), ChannelAuthError);
  await proto.close();
});

test('with onInvalid "drop", the honest rest is aggregated exactly and the culprit is reported', async () => {
  const { proto, ctx, comp, xs } = await runWithRouter((e) => {
    if (e.client !== 1) return e.box;
    const b = e.box.slice();
    b[b.length - 1]! ^= 0x80;
    return b;
  }, 'drop');
  const got = (await ctx.invoke(comp, [xs])) as number[];
  assert.deepEqual(got, [106, 207, 308]);
  assert.equal(proto.lastReport!.rejected.length, 1);
  assert.equal(proto.lastReport!.rejected[0]!.client, 1);
  assert.ok(proto.lastReport!.rejected[0]!.error instanceof ChannelAuthError);
  assert.equal(proto.lastReport!.contributions, 3);
  await proto.close();
});

test('a box replayed from an earlier aggregation is rejected (ReplayError)', async () => {
  const { proto, ctx, comp, xs, seen, setHook } = await runWithRouter(undefined);
  assert.deepEqual(await ctx.invoke(comp, [xs]), [116, 227, 338]);
  const old = seen.find((m) => m.from === 'client-0' && m.to === 'server')!.payload;
  setHook((e) => (e.client === 0 ? old : e.box));
  await assert.rejects(ctx.invoke(comp, [xs]), ReplayError);
  await proto.close();
});

test('a box duplicated into another client slot is rejected (MisroutedMessageError or ReplayError)', async () => {
  let first: Uint8Array | undefined;
  const { proto, ctx, comp, xs } = await runWithRouter((e) => {
    if (e.client === 0) first = e.box;
    return e.client === 3 ? first! : e.box;
  }, 'drop');
  const got = (await ctx.invoke(comp, [xs])) as number[];
  assert.deepEqual(got, [111, 222, 333]);
  const err = proto.lastReport!.rejected[0]!.error;
  assert.ok(err instanceof ReplayError || err instanceof MisroutedMessageError, String(err));
  await proto.close();
});

test('a message from an unknown sender is rejected (UnknownPeerError); a forged one under a pinned name (ChannelAuthError)', async () => {
  const mallory = { name: 'mallory', identity: generateIdentity() };
  const { proto, ctx, comp, xs } = await runWithRouter(undefined);
  const aggKey = new Map([['aggregator', proto.pinnedKeys.get('aggregator')!]]);
  const forgeFrom = (name: string, invocationId: string) =>
    new SealedBoxSender({ self: { name, identity: mallory.identity }, recipients: aggKey, context: 'fedcrypt/aggregation/paillier/v1' }).seal('aggregator', new Uint8Array(8), invocationId);
  const r1 = await runWithRouter((e) => (e.client === 2 ? forgeFrom('mallory', e.invocationId) : e.box));
  await assert.rejects(r1.ctx.invoke(r1.comp, [r1.xs]), UnknownPeerError);
  const r2 = await runWithRouter((e) => (e.client === 2 ? forgeFrom('client-2', e.invocationId) : e.box));
  await assert.rejects(r2.ctx.invoke(r2.comp, [r2.xs]), ChannelAuthError);
  // and the honest run of the same shape still works
  assert.deepEqual(await ctx.invoke(comp, [xs]), [116, 227, 338]);
  await Promise.all([proto.close(), r1.proto.close(), r2.proto.close()]);
});

test('paillierSecureMean: weighted mean of Float32Array updates on worker threads, bytes by role', async () => {
  const updates = Array.from({ length: 3 }, (_, c) => Float32Array.from({ length: 200 }, (_, i) => Math.sin(i + c) * (c + 1)));
  const weights = [1, 2, 5];
  const W = 8;
  const r = await paillierSecureMean(updates, weights, { keyBits: 512 });
  for (let i = 0; i < 200; i++) {
    const want = updates.reduce((s, u, c) => s + (weights[c]! / W) * u[i]!, 0);
    assert.ok(Math.abs(r.mean[i]! - want) < 1e-5, `${i}: ${r.mean[i]} vs ${want}`);
  }
  assert.ok(r.bytesByRole.clients! > 0 && r.bytesByRole.server! > 0 && r.bytesByRole.aggregator! > 0);
  await assert.rejects(paillierSecureMean([new Float32Array([1e9])], undefined, { keyBits: 512, minContributors: 1 }), RangeError);
  await assert.rejects(paillierSecureMean([], undefined, { keyBits: 512 }), TypeError);
  await assert.rejects(paillierSecureMean([new Float32Array(2), new Float32Array(3)], undefined, { keyBits: 512 }), RangeError);
});

test('protocol options: bad values are typed errors naming the option; noiseBits reaches the server key', async () => {
  assert.throws(() => paillierAggregation({ numClients: 0 }), (e: Error) => e instanceof RangeError && /"numClients"/.test(e.message));
  assert.throws(() => paillierAggregation({ numClients: '3' as unknown as number }), TypeError);
  assert.throws(() => paillierAggregation({ numClients: 3, keyBits: 1001 }), (e: Error) => e instanceof RangeError && /"keyBits"/.test(e.message));
  assert.throws(() => paillierAggregation({ numClients: 3, noiseBits: 64 }), (e: Error) => e instanceof RangeError && /"noiseBits"/.test(e.message));
  assert.throws(() => paillierAggregation({ numClients: 3, onInvalid: 'ignore' as 'drop' }), RangeError);
  assert.throws(() => paillierAggregation({ numClients: 3, noiseBits: 255 }), (e: Error) => e instanceof RangeError && /"noiseBits"/.test(e.message));
  assert.throws(() => paillierAggregation({ numClients: 3, minContributors: 0 }), (e: Error) => e instanceof RangeError && /"minContributors"/.test(e.message));
  assert.throws(() => paillierAggregation({ numClients: 3, minContributors: 2.5 }), (e: Error) => e instanceof TypeError && /"minContributors"/.test(e.message));
  assert.throws(() => paillierAggregation({ numClients: 3, keyFingerprint: 'ABC' }), (e: Error) => e instanceof TypeError && /"keyFingerprint"/.test(e.message));
  assert.throws(() => paillierAggregation({ numClients: 3, serverKeys: {} as never }), (e: Error) => e instanceof TypeError && /"serverKeys"/.test(e.message));
  assert.equal(paillierAggregation({ numClients: 3 }).minContributors, 3);
  const proto = paillierAggregation({ numClients: 5, keyBits: 512, noiseBits: 300, workers: false });
  assert.deepEqual(await localContext({ aggregation: proto }).invoke(seedComp, seedArgs), [10, 15]);
  assert.equal(proto.publicKey.noiseBits, 300);
  await proto.close();
});
