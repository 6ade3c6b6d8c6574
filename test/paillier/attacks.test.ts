// Attacks on the Paillier aggregation, written as the attacker would run them: a malicious SERVER
// (or client) in its own "process" on a shared in-memory hub, driving honest parties that run the
// real protocol code. Each test asserts what the victims send and what the attacker receives.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { generateIdentity, SealedBoxReceiver, SealedBoxSender } from '../../src/crypto/secure-channel.js';
import {
  clientName,
  paillierAggregation,
  paillierBoxAd,
  paillierRoles,
  type ObservedMessage,
  type PaillierAggregation,
  type PaillierRoles,
  type PaillierRolesOptions,
} from '../../src/aggregation/paillier.js';
import { PolicyError } from '../../src/aggregation/policy.js';
import { checkPlan, type AggregationPlan } from '../../src/aggregation/plan.js';
import type { AggregationResult } from '../../src/aggregation/protocol.js';
import { aggregatorMessageFromBytes } from '../../src/aggregation/paillier-wire.js';
import { TensorType } from '../../src/core/types.js';
import {
  encrypt,
  encryptedVectorToBytes,
  encryptWithNoise,
  generateKeyPair,
  PaillierPacking,
  publicKeyFingerprint,
  publicKeyFromBytes,
  publicKeyToBytes,
  SlotOverflowError,
  UntrustedKeyError,
} from '../../src/paillier/index.js';
import { modPow, randomPrime } from '../../src/paillier/bigint.js';
import { sharedPaillierPool } from '../../src/paillier/pool.js';
import { keyBytes, keyPair } from './fixtures.js';

after(() => sharedPaillierPool().close());

const CONTEXT = 'fedcrypt/aggregation/paillier/v1';
const K = 4;
const CLIENTS = Array.from({ length: K }, (_, i) => clientName(i));
const NAMES = ['server', 'aggregator', ...CLIENTS];
// the packing a secure sum of 16-bit values among at most K clients uses (the plan below)
const packing = new PaillierPacking({ keyBits: 512, bitwidth: 16, maxClients: K, signed: false });
const xs = [[11, 12, 13], [1, 2, 3], [4, 5, 6], [7, 8, 9]];
const INV = 'round';

/** The public plan of one secure sum of xs (int32[3], bound 2^16) among `clients`. */
function planOf(roles: PaillierRoles, invocationId: string, clients: readonly string[] = CLIENTS): AggregationPlan {
  return checkPlan({
    protocol: roles.name,
    invocationId,
    uri: 'federated_secure_sum',
    target: 'SERVER',
    leaves: [{ path: '', type: new TensorType('int32', [3]), size: 3 }],
    bound: 1n << 16n,
    clients,
    aggregators: ['aggregator'],
    server: 'server',
    params: roles.params,
  });
}
const inputOf = (x: number[]) => ({ values: [Int32Array.from(x)] });

/** Every party of `proto` in this process (simulateRoles), settled to { sums, contributions } or the error. */
function simulate(proto: PaillierAggregation, inv: string, values: number[][] = xs): Promise<unknown> {
  const plan = planOf(proto.roles, inv, CLIENTS.slice(0, values.length));
  return proto.simulate(plan, values.map(inputOf)).then(
    (r) => ({ sums: r.result.leaves[0] as bigint[], contributions: proto.lastReport!.contributions }),
    (e: unknown) => e,
  );
}

/**
 * The honest parties (all but `attacker`, or those in `local`), each with its own roles object holding
 * only its own identity (the server also its key pair) and everyone's public keys, each on its own
 * transport on a shared hub; the attacker on another, holding only its own identity.
 */
function world(attacker: string | undefined, options: Partial<PaillierRolesOptions> = {}, local = NAMES.filter((n) => n !== attacker)) {
  const hub = new MemoryHub();
  const identities = new Map(NAMES.map((n) => [n, generateIdentity()]));
  const pinned = new Map(NAMES.map((n) => [n, identities.get(n)!.publicKey]));
  const sent: ObservedMessage[] = [];
  const roles = new Map(
    NAMES.map((n) => [
      n,
      paillierRoles({
        maxClients: K,
        keyBits: 512,
        workers: false,
        identities: new Map([[n, identities.get(n)!]]),
        pinnedKeys: pinned,
        observe: (m) => sent.push(m),
        ...(n === 'server' ? { serverKeys: keyPair(512) } : {}),
        ...options,
      }),
    ]),
  );
  const plan = planOf(roles.get('aggregator')!, INV);
  const AD = paillierBoxAd(plan);
  const me = attacker ?? 'nobody';
  const keysOf = (ns: string[]) => new Map(ns.map((n) => [n, pinned.get(n)!]));
  const policy = { minContributors: 3, allowInsecure: false };
  return {
    hub,
    sent,
    roles,
    plan,
    AD,
    t: new MemoryTransport({ hub, local: [me] }),
    sender: new SealedBoxSender({ self: { name: me, identity: identities.get(me) ?? generateIdentity() }, recipients: keysOf(NAMES.filter((n) => n !== attacker)), context: CONTEXT }),
    receiver: new SealedBoxReceiver({ self: { name: me, identity: identities.get(me) ?? generateIdentity() }, senders: keysOf(attacker === 'server' ? ['aggregator', ...CLIENTS] : ['server']), context: CONTEXT }),
    /** Start every honest party's role; each settles to its result (undefined for clients) or its error. */
    start(): Map<string, Promise<unknown>> {
      const out = new Map<string, Promise<unknown>>();
      for (const n of local) {
        const ctx = { me: n, transport: new MemoryTransport({ hub, local: [n] }), policy, timeoutMs: 120_000 };
        const r = roles.get(n)!;
        const p: Promise<AggregationResult | undefined | void> =
          n === 'server' ? r.server(ctx, plan) : n === 'aggregator' ? r.aggregator(ctx, plan, 0) : r.client(ctx, plan, inputOf(xs[CLIENTS.indexOf(n)]!));
        out.set(n, p.then((v) => v, (e: unknown) => e));
      }
      return out;
    },
  };
}
const settled = async (m: Map<string, Promise<unknown>>) => Object.fromEntries(await Promise.all([...m].map(async ([k, p]) => [k, await p] as const)));

/** The malicious server publishes `pkBytes` to every client and the aggregator. */
async function publish(w: ReturnType<typeof world>, pkBytes: Uint8Array): Promise<void> {
  for (const to of ['aggregator', ...CLIENTS]) await w.t.send('server', to, `${INV}/pk`, w.sender.seal(to, pkBytes, w.AD));
}

test('lone client: a server that corrupts every box but one gets a refusal without ciphertexts; nothing is decrypted', async () => {
  const w = world('server', { onInvalid: 'drop' });
  const outcomes = w.start();
  const { publicKey } = keyPair(512);
  await publish(w, publicKeyToBytes(publicKey));
  // the router keeps client 0's box and breaks the others, hoping for "the sum of the valid rest"
  for (let i = 0; i < K; i++) {
    const box = await w.t.receive('server', CLIENTS[i]!, `${INV}/up/${i}`);
    const out = box.slice();
    if (i !== 0) out[out.length - 1]! ^= 1;
    await w.t.send('server', 'aggregator', `${INV}/relay/${i}`, out);
  }
  // what the server gets back from the aggregator: a refusal, no ciphertext
  const reply = w.receiver.open(await w.t.receive('server', 'aggregator', `${INV}/agg`), w.AD);
  assert.equal(reply.sender, 'aggregator');
  const m = aggregatorMessageFromBytes(reply.plaintext);
  assert.equal(m.kind, 'refused');
  // the whole message is the kind byte, the length and the JSON report: no ciphertext follows
  const reportLength = new DataView(reply.plaintext.buffer, reply.plaintext.byteOffset).getUint32(1);
  assert.equal(reply.plaintext.length, 5 + reportLength);
  assert.deepEqual(Object.keys(JSON.parse(Buffer.from(reply.plaintext.subarray(5)).toString('utf8'))), ['rule', 'count', 'minimum', 'rejected']);
  assert.deepEqual(m.kind === 'refused' && [m.rule, m.count, m.minimum], ['minContributors', 1, 3]);
  assert.deepEqual(m.rejected.map((r) => r.client), [1, 2, 3]);
  assert.ok(m.rejected.every((r) => /^ChannelAuthError: /.test(r.reason)), JSON.stringify(m.rejected));
  // the aggregator fails with the policy error naming the rule, the count, the minimum and the rejected
  // (the clients, which only hand over sealed boxes, completed)
  const all = await settled(outcomes);
  assert.deepEqual(CLIENTS.map((c) => all[c]), [undefined, undefined, undefined, undefined]);
  const err = all['aggregator'];
  assert.ok(err instanceof PolicyError, String(err));
  assert.deepEqual([err.rule, err.party, err.count, err.minimum, err.code], ['minContributors', 'aggregator', 1, 3, 'POLICY_REFUSED']);
  assert.deepEqual(err.rejected.map((r) => r.client), [1, 2, 3]);
  assert.match(err.message, /aggregator: policy "minContributors" refuses: 1 valid contributions, fewer than the minimum of 3; no aggregate was released; rejected: client 1 \(ChannelAuthError/);
  // the aggregator sent exactly that one message; the report says the same
  assert.deepEqual(w.sent.filter((s) => s.from === 'aggregator').map((s) => s.key), [`${INV}/agg`]);
  const report = w.roles.get('aggregator')!.lastReport!;
  assert.deepEqual(report.refused, { rule: 'minContributors', count: 1, minimum: 3 });
  assert.equal(report.contributions, 0);
  assert.deepEqual(report.rejected.map((r) => r.client), [1, 2, 3]);
});

test('minContributors edge: exactly the minimum valid contributions is released, one fewer is refused (onInvalid "drop")', async () => {
  const run = async (broken: number[]) => {
    const seen: ObservedMessage[] = [];
    const proto = paillierAggregation({
      numClients: K,
      keyBits: 512,
      workers: false,
      onInvalid: 'drop',
      observe: (m) => seen.push(m),
      relay: (e) => (broken.includes(e.client) ? e.box.subarray(1) : e.box),
    });
    const out = await simulate(proto, 'edge');
    const toServer = seen.find((m) => m.from === 'aggregator')!;
    const sid = { name: 'server', identity: proto.identityOf('server')! };
    const opened = new SealedBoxReceiver({ self: sid, senders: new Map([['aggregator', proto.pinnedKeys.get('aggregator')!]]), context: CONTEXT }).open(toServer.payload);
    await proto.close();
    return { out, msg: aggregatorMessageFromBytes(opened.plaintext), report: proto.lastReport! };
  };
  const ok = await run([2]);
  assert.deepEqual(ok.out, { sums: [19n, 22n, 25n], contributions: 3 });
  assert.equal(ok.msg.kind, 'aggregate');
  assert.deepEqual(ok.msg.rejected.map((r) => r.client), [2]);
  assert.equal(ok.report.contributions, 3);
  const refused = await run([1, 2]);
  assert.ok(refused.out instanceof PolicyError && refused.out.count === 2 && refused.out.minimum === 3, String(refused.out));
  assert.equal(refused.msg.kind, 'refused');
  assert.deepEqual(refused.msg.rejected.map((r) => r.client), [1, 2]);
});

test('fewer clients than minContributors: every party refuses before it sends a byte; a lower minimum must be set explicitly', async () => {
  const seen: ObservedMessage[] = [];
  const proto = paillierAggregation({ numClients: K, keyBits: 512, workers: false, observe: (m) => seen.push(m) });
  const err = await simulate(proto, 'few', xs.slice(0, 2));
  assert.ok(err instanceof PolicyError && err.rule === 'minContributors' && err.count === 2 && err.minimum === 3, String(err));
  assert.match(err.message, /2 distinct contributors \(clients of one player count once\), fewer than the minimum of 3/);
  assert.equal(seen.length, 0);
  const strict = paillierAggregation({ numClients: K, keyBits: 512, workers: false, minContributors: 4, observe: (m) => seen.push(m) });
  const strictErr = await simulate(strict, 'few', xs.slice(0, 3));
  assert.ok(strictErr instanceof PolicyError && strictErr.count === 3 && strictErr.minimum === 4, String(strictErr));
  assert.equal(seen.length, 0);
  assert.deepEqual(await simulate(strict, 'all'), { sums: [23n, 27n, 31n], contributions: 4 });
  const two = paillierAggregation({ numClients: K, keyBits: 512, workers: false, minContributors: 2 });
  assert.deepEqual(await simulate(two, 'two', xs.slice(0, 2)), { sums: [12n, 14n, 16n], contributions: 2 });
  await Promise.all([proto.close(), strict.close(), two.close()]);
});

test('onInvalid "throw": the aggregator reports the rejected client to the server in a refusal and releases nothing', async () => {
  const seen: ObservedMessage[] = [];
  const proto = paillierAggregation({ numClients: K, keyBits: 512, workers: false, observe: (m) => seen.push(m), relay: (e) => (e.client === 3 ? e.box.subarray(2) : e.box) });
  const err = await simulate(proto, 't');
  assert.ok(err instanceof Error && (err.name === 'ChannelAuthError' || err.name === 'SecureChannelError'), String(err));
  const toServer = seen.filter((m) => m.from === 'aggregator');
  assert.equal(toServer.length, 1);
  const sid = { name: 'server', identity: proto.identityOf('server')! };
  const opened = new SealedBoxReceiver({ self: sid, senders: new Map([['aggregator', proto.pinnedKeys.get('aggregator')!]]), context: CONTEXT }).open(toServer[0]!.payload);
  const m = aggregatorMessageFromBytes(opened.plaintext);
  assert.ok(m.kind === 'refused' && m.rule === 'onInvalid' && m.count === 3 && m.minimum === 4, JSON.stringify(m));
  assert.deepEqual(m.rejected.map((r) => r.client), [3]);
  await proto.close();
});

// ---- server-chosen keys ----------------------------------------------------------------------------

const kp = keyPair(512);
const { n, n2 } = kp.publicKey;
const { p, q } = kp.privateKey;
// u = 1 mod p^2, -1 mod q^2: a unit of order 2
const orderTwo = (1n + p * p * (((q * q - 2n) * modPow(p * p, -1n, q * q)) % (q * q))) % n2;
const MALICIOUS: [string, Uint8Array, UntrustedKeyError['field']][] = [
  ['hs = n^2 - 1 (noise ±1)', keyBytes(n, n2 - 1n, 256), 'hs'],
  ['hs of order 2', keyBytes(n, orderTwo, 256), 'hs'],
  ['hs = 1 + n (noise = an encryption of the exponent)', keyBytes(n, n + 1n, 256), 'hs'],
  ['noiseBits 128', keyBytes(n, kp.publicKey.hs, 128), 'noiseBits'],
  ['noiseBits 255', keyBytes(n, kp.publicKey.hs, 255), 'noiseBits'],
  ['a prime modulus', keyBytes(randomPrime(512), 2n, 256), 'n'],
];

for (const [label, bytes, field] of MALICIOUS) {
  test(`malicious server key (${label}): clients and the aggregator refuse it (UntrustedKeyError "${field}") and send nothing`, async () => {
    const w = world('server');
    const outcomes = w.start();
    await publish(w, bytes);
    const all = await settled(outcomes);
    for (const c of CLIENTS) {
      const err = all[c];
      assert.ok(err instanceof UntrustedKeyError && err.field === field, String(err));
      assert.match(err.message, new RegExp(`^${c}: PaillierPublicKey: `));
    }
    assert.ok(all['aggregator'] instanceof UntrustedKeyError && all['aggregator'].field === field, String(all['aggregator']));
    assert.deepEqual(w.sent, [], 'no honest party sent anything');
    // the aggregator on its own (the clients elsewhere) refuses the same key before it reads a box
    const agg = world('server', {}, ['aggregator']);
    const aggRun = agg.start().get('aggregator')!;
    await publish(agg, bytes);
    const aggErr = await aggRun;
    assert.ok(aggErr instanceof UntrustedKeyError && aggErr.field === field && /^aggregator: /.test(aggErr.message), String(aggErr));
    assert.deepEqual(agg.sent, []);
  });
}

test('why those keys must be refused: with noise ±1 (or 1 + n) anyone reads the plaintext; honest ciphertexts resist the trick', () => {
  const pk = kp.publicKey;
  // the attack, without the key: c = ±(1 + m·n) mod n^2
  const trick = (c: bigint): bigint | undefined => {
    for (const s of [c, n2 - c]) if ((s - 1n) % n === 0n) return (s - 1n) / n;
    return undefined;
  };
  const m = 0x1234_5678_9abc_def0_1234_5678n;
  assert.equal(trick(encryptWithNoise(pk, m, n2 - 1n)), m);
  assert.equal(trick(encryptWithNoise(pk, m, orderTwo)), undefined); // order 2: noise 1 or u, and u is public
  assert.equal(trick((encryptWithNoise(pk, m, orderTwo) * orderTwo) % n2), m);
  // hs = 1 + n: the "noise" (1 + n)^a = 1 + a·n only adds the short exponent a to m
  const a = 1n << 200n;
  assert.equal(trick(encryptWithNoise(pk, m, modPow(n + 1n, a, n2))), m + a);
  // a ciphertext under the derived base is not readable this way
  for (let i = 0; i < 20; i++) assert.equal(trick(encrypt(pk, m)), undefined);
});

test('pinned key: a fingerprint mismatch is refused by every client before any ciphertext is produced; the pinned key works', async () => {
  const pinnedTo = keyPair(1024).publicKey; // the key the operators pinned; the server uses another
  // every party honest and in its own process; the server's key is not the pinned one
  const w = world(undefined, { keyFingerprint: publicKeyFingerprint(pinnedTo) });
  const outcomes = w.start();
  for (const c of [...CLIENTS, 'aggregator']) {
    const err = await outcomes.get(c)!;
    assert.ok(err instanceof UntrustedKeyError && err.field === 'keyFingerprint', String(err));
    assert.match(err.message, new RegExp(`^${c}: the public key's fingerprint [0-9a-f]{64} is not the pinned "keyFingerprint"`));
  }
  // the server waits for boxes that never come (released here by closing the hub)
  w.hub.close();
  assert.ok((await outcomes.get('server')!) instanceof Error);
  // only the server's key publications went out: no client box, no aggregate
  assert.deepEqual(w.sent.map((m) => [m.from, m.key]), ['aggregator', ...CLIENTS].map(() => ['server', `${INV}/pk`]));
  const keys = generateKeyPair(512);
  const good = paillierAggregation({ numClients: K, keyBits: 512, workers: false, serverKeys: keys, keyFingerprint: publicKeyFingerprint(keys.publicKey) });
  assert.deepEqual(await simulate(good, 'pin'), { sums: [23n, 27n, 31n], contributions: 4 });
  assert.equal(good.publicKey, keys.publicKey);
  await good.close();
  assert.throws(() => paillierAggregation({ numClients: K, keyBits: 1024, serverKeys: keys }), (e: Error) => e instanceof RangeError && /"serverKeys" is a 512-bit key/.test(e.message));
});

// ---- a malicious client ----------------------------------------------------------------------------

/** Client 3 skips the encoder and encrypts a packed plaintext of its choosing. */
async function maliciousClient(slots: bigint[]) {
  const w = world('client-3');
  const outcomes = w.start();
  const pkBox = w.receiver.open(await w.t.receive('client-3', 'server', `${INV}/pk`), w.AD);
  const pk = publicKeyFromBytes(pkBox.plaintext);
  const m = slots.reduce((acc, v, i) => acc | (v << BigInt(i * packing.slotBits)), 0n);
  const bytes = encryptedVectorToBytes(pk, { length: 3, contributions: 1, ciphertexts: [encrypt(pk, m)] });
  await w.t.send('client-3', 'server', `${INV}/up/3`, w.sender.seal('aggregator', bytes, w.AD));
  const all = await settled(outcomes);
  // the honest clients and the aggregator completed; what the server made of it is the outcome
  assert.deepEqual(['aggregator', ...CLIENTS.slice(0, 3)].map((c) => all[c]), [undefined, undefined, undefined, undefined]);
  const out = all['server'];
  return out instanceof Error ? out : { sums: (out as AggregationResult).leaves[0] as bigint[], contributions: w.roles.get('server')!.lastReport!.contributions };
}

test('malicious client: a slot above what k in-range values can sum to (and below the slot capacity) is detected after decryption', async () => {
  const top = BigInt(K) * 65535n; // 4 contributions of at most 2^16 - 1; the slot holds up to 2^18 - 1 = top + 3
  // the honest clients put 11 + 1 + 4 = 16 in slot 0
  const err = await maliciousClient([top - 14n, 0n, 0n]);
  assert.ok(err instanceof SlotOverflowError && err.index === 0, String(err));
  assert.match(err.message, /slot of value 0 holds 262142, above 4 × \(2\^16 - 1\)/);
});

test('documented limit: an over-range value that keeps its slot within k·(2^bitwidth - 1) shifts the sum undetected (no range proofs)', async () => {
  const out = (await maliciousClient([0n, 1n << 16n, 0n])) as { sums: bigint[]; contributions: number };
  assert.deepEqual(out.sums, [16n, 19n + (1n << 16n), 22n]);
  assert.equal(out.contributions, 4);
  // one that carries out of its slot moves the next slot by one instead, also undetected
  const carry = (await maliciousClient([(1n << 18n) - 16n, 0n, 0n])) as { sums: bigint[] };
  assert.deepEqual(carry.sums, [0n, 20n, 22n]);
});
