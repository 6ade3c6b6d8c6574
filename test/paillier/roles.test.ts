// The Paillier aggregation as per-party roles: each party runs only its own role, with only its own
// input, on its own transport. Random plans against the reference semantics, target AGGREGATORS,
// what each party receives, each party's own refusals before it sends, and parties configured
// as separate processes (the aggregator without the server's key).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ChannelAuthError, generateIdentity, SealedBoxReceiver, SealedBoxSender, WrongContextError } from '../../src/crypto/secure-channel.js';
import { MisroutedMessageError, paillierBoxAd, paillierRoles, type PaillierRoles, type PaillierRolesOptions } from '../../src/aggregation/paillier.js';
import { encodingFor } from '../../src/aggregation/paillier-plan.js';
import { aggregatorMessageFromBytes } from '../../src/aggregation/paillier-wire.js';
import { checkPlan, type AggregationPlan } from '../../src/aggregation/plan.js';
import { AGGREGATION_URIS, type AggregateLeafValue, type AggregationLeaf, type AggregationResult, type AggregationUri } from '../../src/aggregation/protocol.js';
import { referenceAggregate } from '../../src/aggregation/reference.js';
import type { ClientInput, RolePolicy } from '../../src/aggregation/roles.js';
import { simulateRoles, type ReceivedMessage } from '../../src/aggregation/simulate.js';
import { resultToBytes } from '../../src/aggregation/wire.js';
import { PolicyError } from '../../src/core/errors.js';
import { TensorType, type DType } from '../../src/core/types.js';
import { allocate, type NumericArray } from '../../src/core/values.js';
import { decryptVector, encryptedVectorFromBytes, generateKeyPair, publicKeyToBytes, UntrustedKeyError } from '../../src/paillier/index.js';
import { sharedPaillierPool } from '../../src/paillier/pool.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { keyPair } from './fixtures.js';

after(() => sharedPaillierPool().close());

const CONTEXT = 'fedcrypt/aggregation/paillier/v1';
const MAX = 6;
const CLIENTS = Array.from({ length: MAX }, (_, i) => `client-${i}`);
const NAMES = ['server', 'aggregator', ...CLIENTS];
const identities = new Map(NAMES.map((n) => [n, generateIdentity()]));
const pinned = new Map(NAMES.map((n) => [n, identities.get(n)!.publicKey]));
const KEYS = keyPair(512);
const POLICY: RolePolicy = { minContributors: 3, allowInsecure: false };
const base: PaillierRolesOptions = { maxClients: MAX, keyBits: 512, workers: false };
/** Simulation: one roles object holding every party's identity and the server's key pair. */
const SIM = paillierRoles({ ...base, identities, serverKeys: KEYS });
/** Deployed: a roles object with only `party`'s identity and everyone's public keys (the server's key only at the server). */
const only = (party: string, o: Partial<PaillierRolesOptions> = {}) =>
  paillierRoles({ ...base, identities: new Map([[party, identities.get(party)!]]), pinnedKeys: pinned, ...(party === 'server' ? { serverKeys: KEYS } : {}), ...o });

let invocations = 0;
function planOf(roles: PaillierRoles, uri: AggregationUri, leaves: readonly AggregationLeaf[], k: number, bound?: bigint): AggregationPlan {
  return checkPlan({
    protocol: roles.name,
    invocationId: `roles-test/${++invocations}`,
    uri,
    target: uri.endsWith('_at_aggregators') ? 'AGGREGATORS' : 'SERVER',
    leaves,
    ...(uri.startsWith('federated_secure_sum') ? { bound: bound ?? 1n << 16n } : {}),
    clients: CLIENTS.slice(0, k),
    aggregators: ['aggregator'],
    server: 'server',
    params: roles.params,
  });
}
const leaf = (dtype: DType, size: number, path = ''): AggregationLeaf => ({ path, type: new TensorType(dtype, [size]), size });

/** Run each party's role on its own transport on one hub, with its own roles object; each settles to its result or error. */
function runParties(plan: AggregationPlan, inputs: readonly ClientInput[], rolesOf: (party: string) => PaillierRoles = () => SIM) {
  const hub = new MemoryHub();
  const ctx = (me: string) => ({ me, transport: new MemoryTransport({ hub, local: [me] }), policy: POLICY, timeoutMs: 120_000 });
  const settle = (p: Promise<unknown>) => p.then((v) => v, (e: unknown) => e);
  const outcomes: Record<string, Promise<unknown>> = {
    [plan.server]: settle(rolesOf(plan.server).server(ctx(plan.server), plan)),
    [plan.aggregators[0]!]: settle(rolesOf(plan.aggregators[0]!).aggregator(ctx(plan.aggregators[0]!), plan, 0)),
  };
  plan.clients.forEach((c, i) => (outcomes[c] = settle(rolesOf(c).client(ctx(c), plan, inputs[i]!))));
  return { hub, outcomes };
}

const bigs = (v: AggregateLeafValue): bigint[] => Array.from(v as ArrayLike<bigint | number>, (x) => BigInt(x));
function assertMatches(got: AggregationResult, want: AggregationResult, what: string): void {
  assert.equal(got.leaves.length, want.leaves.length);
  want.leaves.forEach((w, j) => {
    if (!(w instanceof Float64Array)) {
      assert.deepEqual(bigs(got.leaves[j]!), bigs(w), `${what}: leaf ${j} (exact)`);
      return;
    }
    const g = got.leaves[j]!;
    assert.ok(g instanceof Float64Array && g.length === w.length, `${what}: leaf ${j} is a Float64Array of ${w.length}`);
    w.forEach((x, i) => assert.ok(Math.abs(g[i]! - x) <= 1e-6 + 1e-9 * Math.abs(x), `${what}: leaf ${j}[${i}] = ${g[i]}, reference ${x}`));
  });
}

/** Deterministic values for a case (xorshift), in the ranges of each uri. */
function valuesFor(uri: AggregationUri, leaves: readonly AggregationLeaf[], k: number, bits: number, seed: number): { values: NumericArray[][]; weights: number[] } {
  let s = seed | 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const secure = uri.startsWith('federated_secure_sum');
  const values = Array.from({ length: k }, () =>
    leaves.map((l) => {
      const a = allocate(l.type.dtype, l.size);
      for (let i = 0; i < l.size; i++) {
        const u = next();
        if (secure) {
          const x = Math.floor(u * 2 ** bits);
          if (a instanceof BigInt64Array) a[i] = BigInt(x);
          else a[i] = x;
        } else if (l.type.dtype === 'int64') (a as BigInt64Array)[i] = BigInt(Math.floor((u - 0.5) * 2 ** 40));
        else if (l.type.dtype === 'int32') a[i] = Math.floor((u - 0.5) * 2 ** 21);
        else a[i] = (u - 0.5) * 2000;
      }
      return a;
    }),
  );
  // private weights: 0 or a float32 in [2^-8, 10], at least one >= 1
  const weights = Array.from({ length: k }, (_, i) => (i === 0 ? 1 + Math.fround(next() * 9) : next() < 0.2 ? 0 : Math.fround(2 ** -8 + next() * 10)));
  return { values, weights };
}

const inputsOf = (uri: AggregationUri, c: { values: NumericArray[][]; weights: number[] }): ClientInput[] =>
  c.values.map((values, i) => (uri === 'federated_weighted_mean_at_aggregators' ? { values, weight: c.weights[i]! } : { values }));

for (const uri of AGGREGATION_URIS) {
  test(`${uri}: random plans and inputs, every party its own role, agree with referenceAggregate (integer sums exactly)`, async () => {
    const secure = uri.startsWith('federated_secure_sum');
    const dtypes: DType[] = secure ? ['int32', 'uint32', 'int64'] : ['int32', 'int64', 'float32', 'float64'];
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 3, max: MAX }),
        fc.array(fc.record({ dtype: fc.constantFrom(...dtypes), size: fc.integer({ min: 1, max: 5 }) }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 31 }),
        fc.integer(),
        async (k, specs, bits, seed) => {
          const leaves = specs.map((sp, j) => leaf(sp.dtype, sp.size, `.l${j}`));
          const plan = planOf(SIM, uri, leaves, k, 1n << BigInt(bits));
          const c = valuesFor(uri, leaves, k, bits, seed);
          const r = await simulateRoles(SIM, plan, inputsOf(uri, c), { policy: POLICY });
          const want = referenceAggregate({ uri, leaves, clientValues: c.values, numClients: k, weights: Float64Array.from(c.weights) });
          assertMatches(r.result, want, `${uri}, ${k} clients`);
          if (plan.target === 'AGGREGATORS') assert.equal(r.atAggregators!.length, 1);
          assert.equal(SIM.lastReport!.contributions, k);
        },
      ),
      { numRuns: 4 },
    );
  });
}

test('target AGGREGATORS: SERVER decrypts and seals the aggregate to the aggregation service, which resolves with it; SERVER resolves with nothing', async () => {
  const plan = planOf(SIM, 'federated_mean_at_aggregators', [leaf('float64', 4)], 3);
  const c = valuesFor(plan.uri, plan.leaves, 3, 0, 7);
  const { hub, outcomes } = runParties(plan, inputsOf(plan.uri, c));
  const [server, aggregator, ...clients] = await Promise.all([outcomes['server']!, outcomes['aggregator']!, ...plan.clients.map((x) => outcomes[x]!)]);
  assert.equal(server, undefined);
  assert.deepEqual(clients, [undefined, undefined, undefined]);
  assertMatches(aggregator as AggregationResult, referenceAggregate({ uri: plan.uri, leaves: plan.leaves, clientValues: c.values, numClients: 3 }), 'at the aggregator');
  // the server sent its result message to the aggregator, nothing to anyone else after the public keys
  assert.equal(hub.pending(), 0);
  // and with target SERVER (the secure sum), the aggregator resolves with nothing and the server with the sum
  const sumPlan = planOf(SIM, 'federated_secure_sum', [leaf('int32', 2)], 3);
  const s = runParties(sumPlan, [[1, 2], [3, 4], [5, 6]].map((x) => ({ values: [Int32Array.from(x)] })));
  assert.equal(await s.outcomes['aggregator'], undefined);
  assert.deepEqual(bigs((await s.outcomes['server'] as AggregationResult).leaves[0]!), [9n, 12n]);
});

test('what each party receives: the aggregator only sealed keys, ciphertexts and (target AGGREGATORS) the aggregate; SERVER only boxes it cannot open and the aggregate ciphertexts; a client only the public key', async () => {
  const secret = [KEYS.privateKey.p, KEYS.privateKey.q].map((x) => Buffer.from(x.toString(16).padStart(64, '0'), 'hex'));
  const opener = (who: string) => new SealedBoxReceiver({ self: { name: who, identity: identities.get(who)! }, senders: pinned, context: CONTEXT });
  for (const uri of ['federated_weighted_mean_at_aggregators', 'federated_secure_sum'] as const) {
    const plan = planOf(SIM, uri, [leaf('float32', 3, '.a'), leaf('int32', 2, '.b')].map((l) => (uri === 'federated_secure_sum' ? leaf('int32', l.size, l.path) : l)), 4);
    const c = valuesFor(uri, plan.leaves, 4, 12, 99);
    const inputs = inputsOf(uri, c);
    const received: ReceivedMessage[] = [];
    const r = await simulateRoles(SIM, plan, inputs, { policy: POLICY, observe: (m) => received.push(m) });
    const ad = paillierBoxAd(plan);
    const enc = encodingFor(plan, SIM.params);
    // nobody receives the private key: neither p nor q appears in any payload or opened box
    for (const m of received) for (const b of secret) assert.equal(Buffer.from(m.payload).indexOf(b), -1, `${m.key} to ${m.to}`);
    // the aggregation service
    const toAgg = received.filter((m) => m.to === 'aggregator');
    const expected = [['server', `${plan.invocationId}/pk`], ...plan.clients.map((_, i) => ['server', `${plan.invocationId}/relay/${i}`])];
    if (plan.target === 'AGGREGATORS') expected.push(['server', `${plan.invocationId}/result`]);
    assert.deepEqual(toAgg.map((m) => [m.from, m.key]).sort(), expected.sort());
    const agg = opener('aggregator');
    for (const m of toAgg) {
      const o = agg.open(m.payload, ad);
      for (const b of secret) assert.equal(Buffer.from(o.plaintext).indexOf(b), -1);
      if (m.key.endsWith('/pk')) assert.deepEqual([o.sender, Buffer.from(o.plaintext)], ['server', Buffer.from(publicKeyToBytes(KEYS.publicKey))]);
      else if (m.key.endsWith('/result')) assert.deepEqual([o.sender, Buffer.from(o.plaintext)], ['server', Buffer.from(resultToBytes(plan, r.result))]);
      else {
        // a client's ciphertexts, relayed: they decrypt (with the key the aggregator lacks) to that
        // client's own encoding, its private weight in the last slot for the weighted mean
        const i = Number(m.key.split('/').pop());
        assert.equal(o.sender, plan.clients[i]);
        const v = encryptedVectorFromBytes(KEYS.publicKey, enc.packing, o.plaintext);
        const want = Array.from(enc.encode(plan.clients[i]!, inputs[i]!) as ArrayLike<number | bigint>, (x) => BigInt(x));
        assert.deepEqual(decryptVector(KEYS.privateKey, enc.packing, v), want);
        if (uri === 'federated_weighted_mean_at_aggregators') assert.equal(want[want.length - 1], BigInt(Math.round(c.weights[i]! * 2 ** SIM.params.fracBits)));
      }
    }
    // SERVER: from each client one box sealed to the aggregator (it cannot open it), from the aggregator the aggregate
    const toServer = received.filter((m) => m.to === 'server');
    assert.deepEqual(toServer.map((m) => [m.from, m.key]).sort(), [...plan.clients.map((x, i) => [x, `${plan.invocationId}/up/${i}`]), ['aggregator', `${plan.invocationId}/agg`]].sort());
    const srv = opener('server');
    for (const m of toServer.filter((x) => x.from !== 'aggregator')) assert.throws(() => srv.open(m.payload, ad), ChannelAuthError);
    const aggMsg = aggregatorMessageFromBytes(srv.open(toServer.find((m) => m.from === 'aggregator')!.payload, ad).plaintext);
    assert.ok(aggMsg.kind === 'aggregate' && encryptedVectorFromBytes(KEYS.publicKey, enc.packing, aggMsg.vector).contributions === 4);
    // each client: exactly the server's public key
    for (const x of plan.clients) {
      const got = received.filter((m) => m.to === x);
      assert.deepEqual(got.map((m) => [m.from, m.key]), [['server', `${plan.invocationId}/pk`]]);
      assert.deepEqual(Buffer.from(opener(x).open(got[0]!.payload, ad).plaintext), Buffer.from(publicKeyToBytes(KEYS.publicKey)));
    }
  }
});

test('a party configured with another keyBits refuses the plan (PolicyError "protocol") before it sends a byte', async () => {
  const plan = planOf(SIM, 'federated_secure_sum', [leaf('int32', 2)], 3);
  for (const party of ['server', 'aggregator', 'client-0']) {
    const hub = new MemoryHub();
    const roles = only(party, { keyBits: 1024, ...(party === 'server' ? { serverKeys: keyPair(1024) } : {}) });
    // a party that did not refuse would wait for the key: the deadline is only a hang guard
    const ctx = { me: party, transport: new MemoryTransport({ hub, local: [party] }), policy: POLICY, timeoutMs: 30_000 };
    const run = party === 'server' ? roles.server(ctx, plan) : party === 'aggregator' ? roles.aggregator(ctx, plan, 0) : roles.client(ctx, plan, { values: [Int32Array.of(1, 2)] });
    await assert.rejects(run, (e: unknown) => e instanceof PolicyError && e.rule === 'protocol' && e.party === party && /keyBits = 512, this party runs paillier with 1024/.test(e.message));
    assert.deepEqual(hub.stats(), {});
  }
});

test('a client whose policy asks 5 contributors refuses a 3-client plan and sends nothing', async () => {
  const plan = planOf(SIM, 'federated_mean_at_aggregators', [leaf('float64', 2)], 3);
  const received: ReceivedMessage[] = [];
  const strict: RolePolicy = { minContributors: 5, allowInsecure: false };
  const err = await simulateRoles(SIM, plan, plan.clients.map(() => ({ values: [Float64Array.of(1, 2)] })), {
    policyOf: (p) => (p === 'client-1' ? strict : POLICY),
    observe: (m) => received.push(m),
  }).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof PolicyError && err.rule === 'minContributors' && err.party === 'client-1' && err.count === 3 && err.minimum === 5, String(err));
  assert.ok(!received.some((m) => m.from === 'client-1'), 'nothing from client-1');
  // the same client alone, in its own process: refused before it even waits for the key
  const hub = new MemoryHub();
  const ctx = { me: 'client-1', transport: new MemoryTransport({ hub, local: ['client-1'] }), policy: strict };
  await assert.rejects(only('client-1').client(ctx, plan, { values: [Float64Array.of(1, 2)] }), PolicyError);
  assert.deepEqual(hub.stats(), {});
});

test('separate processes: the aggregation service runs from a roles object without the server key (it never gets one); every party holds only its own identity', async () => {
  const rolesOf = new Map(NAMES.map((n) => [n, only(n)]));
  for (const uri of ['federated_weighted_mean_at_aggregators', 'federated_secure_sum'] as const) {
    const plan = planOf(SIM, uri, [leaf('int32', 3)], 5);
    const c = valuesFor(uri, plan.leaves, 5, 16, 5);
    const { outcomes } = runParties(plan, inputsOf(uri, c), (p) => rolesOf.get(p)!);
    const all = await Promise.all(Object.values(outcomes));
    assert.ok(!all.some((x) => x instanceof Error), String(all.find((x) => x instanceof Error)));
    const want = referenceAggregate({ uri, leaves: plan.leaves, clientValues: c.values, numClients: 5, weights: Float64Array.from(c.weights) });
    assertMatches((await outcomes[plan.target === 'SERVER' ? 'server' : 'aggregator']) as AggregationResult, want, uri);
  }
  assert.equal(rolesOf.get('aggregator')!.holdsServerKeys, false);
  assert.ok(CLIENTS.every((x) => !rolesOf.get(x)!.holdsServerKeys));
  assert.equal(rolesOf.get('aggregator')!.identityOf('server'), undefined);
  // a roles object cannot run a party whose identity it does not hold
  const ctx = { me: 'server', transport: new MemoryTransport({ hub: new MemoryHub(), local: ['server'] }), policy: POLICY };
  await assert.rejects(rolesOf.get('aggregator')!.server(ctx, planOf(SIM, 'federated_secure_sum', [leaf('int32', 1)], 3)), /server: this party's X25519 identity is not configured/);
});

test("unweighted mean with onInvalid 'drop' divides by the contributions that made it in; the culprit is reported", async () => {
  const roles = paillierRoles({ ...base, identities, serverKeys: KEYS, onInvalid: 'drop', relay: (e) => (e.client === 1 ? e.box.subarray(1) : e.box) });
  const plan = planOf(roles, 'federated_mean_at_aggregators', [leaf('float64', 2)], 4);
  const xs = [[1, 10], [1000, 1000], [3, 30], [5, 50]];
  const r = await simulateRoles(roles, plan, xs.map((x) => ({ values: [Float64Array.from(x)] })), { policy: POLICY });
  assertMatches(r.result, { leaves: [Float64Array.of(3, 30)] }, 'mean of clients 0, 2, 3');
  assert.equal(roles.lastReport!.contributions, 3);
  assert.deepEqual(roles.lastReport!.rejected.map((x) => x.client), [1]);
});

test('a plan shown differently to one client (server equivocation) does not open there: WrongContextError, and that client sends nothing', async () => {
  const plan = planOf(SIM, 'federated_secure_sum', [leaf('int32', 2)], 3);
  const other = checkPlan({ ...plan, bound: 1n << 20n }); // same invocation, another bound
  const hub = new MemoryHub();
  const ctx = (me: string) => ({ me, transport: new MemoryTransport({ hub, local: [me] }), policy: POLICY, timeoutMs: 120_000 });
  const server = SIM.server(ctx('server'), plan).then((v) => v, (e: unknown) => e);
  const err = await SIM.client(ctx('client-0'), other, { values: [Int32Array.of(1, 2)] }).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof WrongContextError, String(err));
  assert.equal(hub.stats()['client-0']?.bytesSent ?? 0, 0);
  hub.close();
  assert.ok((await server) instanceof Error);
});

/** The honest aggregator and clients of `plan` (each on its own transport), and a malicious server on another. */
function maliciousServer(roles: PaillierRoles, plan: AggregationPlan, values: (i: number) => NumericArray[]) {
  const hub = new MemoryHub();
  const ctx = (me: string) => ({ me, transport: new MemoryTransport({ hub, local: [me] }), policy: POLICY, timeoutMs: 120_000 });
  const settle = (p: Promise<unknown>) => p.then((v) => v, (e: unknown) => e);
  const honest = [settle(roles.aggregator(ctx('aggregator'), plan, 0)), ...plan.clients.map((c, i) => settle(roles.client(ctx(c), plan, { values: values(i) })))];
  const t = new MemoryTransport({ hub, local: ['server'] });
  const self = { name: 'server', identity: identities.get('server')! };
  const sealer = new SealedBoxSender({ self, recipients: pinned, context: CONTEXT });
  const opener = new SealedBoxReceiver({ self, senders: pinned, context: CONTEXT });
  const ad = paillierBoxAd(plan);
  const inv = plan.invocationId;
  return {
    hub,
    honest,
    publish: async (pkBytes: Uint8Array) => {
      for (const to of ['aggregator', ...plan.clients]) await t.send('server', to, `${inv}/pk`, sealer.seal(to, pkBytes, ad));
    },
    boxes: () => Promise.all(plan.clients.map((c, i) => t.receive('server', c, `${inv}/up/${i}`))),
    relay: (slot: number, box: Uint8Array) => t.send('server', 'aggregator', `${inv}/relay/${slot}`, box),
    reply: async () => aggregatorMessageFromBytes(opener.open(await t.receive('server', 'aggregator', `${inv}/agg`), ad).plaintext),
  };
}

test("a router that swaps two clients' boxes: each is authentic but in the wrong slot (MisroutedMessageError); the rest is below the minimum, so nothing is released", async () => {
  const roles = paillierRoles({ ...base, identities, serverKeys: KEYS, onInvalid: 'drop' });
  const plan = planOf(roles, 'federated_secure_sum', [leaf('int32', 1)], 4);
  const w = maliciousServer(roles, plan, (i) => [Int32Array.of(i + 1)]);
  await w.publish(publicKeyToBytes(KEYS.publicKey));
  const boxes = await w.boxes();
  for (const [slot, from] of [[0, 1], [1, 0], [2, 2], [3, 3]] as const) await w.relay(slot, boxes[from]!);
  const [aggOutcome, ...clients] = await Promise.all(w.honest);
  assert.deepEqual(clients, [undefined, undefined, undefined, undefined]);
  assert.ok(aggOutcome instanceof PolicyError && aggOutcome.rule === 'minContributors' && aggOutcome.count === 2, String(aggOutcome));
  const rejected = roles.lastReport!.rejected;
  assert.deepEqual(rejected.map((r) => r.client), [0, 1]);
  assert.ok(rejected.every((r) => r.error instanceof MisroutedMessageError), JSON.stringify(rejected));
  assert.equal((await w.reply()).kind, 'refused');
});

test('a valid key with other noiseBits than the plan says is refused by every client and the aggregator (UntrustedKeyError "noiseBits"), who send nothing', async () => {
  // fresh parties (the attacker's sealer starts at sequence number 0, which SIM's parties have seen from their server)
  const roles = paillierRoles({ ...base, identities, serverKeys: KEYS });
  const plan = planOf(roles, 'federated_secure_sum', [leaf('int32', 1)], 3);
  assert.equal(plan.params['noiseBits'], 256);
  const w = maliciousServer(roles, plan, (i) => [Int32Array.of(i)]);
  await w.publish(publicKeyToBytes(generateKeyPair(512, { noiseBits: 300 }).publicKey));
  const outcomes = await Promise.all(w.honest);
  outcomes.forEach((e, i) => assert.ok(e instanceof UntrustedKeyError && e.field === 'noiseBits' && /noiseBits 300, the plan says 256/.test(e.message), `${i}: ${String(e)}`));
  const stats = w.hub.stats();
  assert.deepEqual(['aggregator', ...plan.clients].map((p) => stats[p]?.bytesSent ?? 0), [0, 0, 0, 0]);
});
