/**
 * Dropout tolerance of the Paillier roles (docs/paillier.md, "Dropout"): SERVER, the router, waits
 * `collectMs` for the clients' sealed boxes and seals an absence notice to the aggregation service
 * in the slot of each client whose box is not in by then; the aggregation service adds the boxes it
 * got and releases nothing below ITS minimum of distinct contributors. The same shape as
 * test/aggregation/dropout.test.ts (random inputs, two of five clients absent, the plaintext
 * reference over the survivors), then what a malicious router can and cannot do with notices:
 * driven by hand against an honest aggregator and honest clients, each with only its own identity.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateIdentity, SealedBoxReceiver, SealedBoxSender } from '../../src/crypto/secure-channel.js';
import { MisroutedMessageError, paillierBoxAd, paillierRoles, type PaillierRoles, type PaillierRolesOptions } from '../../src/aggregation/paillier.js';
import { encodingFor } from '../../src/aggregation/paillier-plan.js';
import { absentNoticeToBytes, aggregatorMessageFromBytes, type AggregatorMessage } from '../../src/aggregation/paillier-wire.js';
import { checkPlan, type AggregationPlan } from '../../src/aggregation/plan.js';
import type { AggregateLeafValue, AggregationResult, AggregationUri } from '../../src/aggregation/protocol.js';
import { referenceAggregate } from '../../src/aggregation/reference.js';
import type { ClientInput, PartyContext, RolePolicy } from '../../src/aggregation/roles.js';
import { simulateRoles, type ReceivedMessage } from '../../src/aggregation/simulate.js';
import { PolicyError } from '../../src/core/errors.js';
import { TensorType } from '../../src/core/types.js';
import { decryptVector, encryptedVectorFromBytes, publicKeyToBytes } from '../../src/paillier/index.js';
import { sharedPaillierPool } from '../../src/paillier/pool.js';
import type { Transport } from '../../src/transport/channel.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { keyPair } from './fixtures.js';

after(() => sharedPaillierPool().close());

const CONTEXT = 'fedcrypt/aggregation/paillier/v1';
const N = 5;
const CLIENTS = Array.from({ length: N }, (_, i) => `owner${i}`);
const HOSTED = ['owner0:0', 'owner0:1', 'owner1', 'owner2', 'owner3'];
const SERVER = 'model-owner';
const NAMES = [SERVER, 'aggregator', ...CLIENTS, ...HOSTED];
const identities = new Map(NAMES.map((n) => [n, generateIdentity()]));
const pinned = new Map(NAMES.map((n) => [n, identities.get(n)!.publicKey]));
const KEYS = keyPair(512);
const POLICY: RolePolicy = { minContributors: 3, allowInsecure: false };
const COLLECT_MS = 1000;
/** A deadline that only guards against a hang (the attacker below sends every slot at once). */
const GUARD_MS = 60_000;
const base: PaillierRolesOptions = { maxClients: N, keyBits: 512, workers: false };
/** Simulation: one roles object with every party's identity and the server's key pair. */
const simRoles = (o: Partial<PaillierRolesOptions> = {}) => paillierRoles({ ...base, identities, serverKeys: KEYS, ...o });
/** Deployed: only `party`'s identity, everyone's public keys. */
const only = (party: string, o: Partial<PaillierRolesOptions> = {}) => paillierRoles({ ...base, identities: new Map([[party, identities.get(party)!]]), pinnedKeys: pinned, ...o });

const leaf = (path: string, dtype: 'float32' | 'int32' | 'float64', shape: number[]) => {
  const type = new TensorType(dtype, shape);
  return { path, type, size: type.size! };
};

function planFor(roles: PaillierRoles, uri: AggregationUri, target: 'SERVER' | 'AGGREGATORS', inv: string, clients = CLIENTS): AggregationPlan {
  const secure = uri === 'federated_secure_sum' || uri === 'federated_secure_sum_at_aggregators';
  return checkPlan({
    protocol: roles.name,
    invocationId: inv,
    uri,
    target,
    leaves: secure ? [leaf('.n', 'int32', [5])] : [leaf('.a', 'float32', [2, 3]), leaf('.b', 'float64', [4])],
    ...(secure ? { bound: 1n << 20n } : {}),
    clients,
    aggregators: ['aggregator'],
    server: SERVER,
    params: roles.params,
  });
}

function inputsFor(plan: AggregationPlan): ClientInput[] {
  const weighted = plan.uri === 'federated_weighted_mean_at_aggregators';
  return plan.clients.map(() => ({
    values: plan.leaves.map((l) =>
      l.type.dtype === 'int32'
        ? Int32Array.from({ length: l.size }, () => Math.floor(Math.random() * (1 << 20)))
        : l.type.dtype === 'float32'
          ? Float32Array.from({ length: l.size }, () => Math.fround(Math.random() * 20 - 10))
          : Float64Array.from({ length: l.size }, () => Math.random() * 20 - 10),
    ),
    ...(weighted ? { weight: 1 + Math.floor(Math.random() * 100) } : {}),
  }));
}

/** The reference aggregate over the survivors. */
function expected(plan: AggregationPlan, inputs: readonly ClientInput[], survivors: readonly number[]): AggregationResult {
  const weighted = plan.uri === 'federated_weighted_mean_at_aggregators';
  return referenceAggregate({
    uri: plan.uri,
    leaves: plan.leaves,
    clientValues: survivors.map((i) => inputs[i]!.values),
    numClients: survivors.length,
    ...(weighted ? { weights: Float64Array.from(survivors, (i) => inputs[i]!.weight!) } : {}),
  });
}

/** Integer leaves exactly; float leaves within the fixed point's precision (2^-32 per value). */
function matches(got: readonly AggregateLeafValue[], want: readonly AggregateLeafValue[], what: string): void {
  assert.equal(got.length, want.length, what);
  want.forEach((w, j) => {
    if (!(w instanceof Float64Array)) {
      assert.deepEqual(Array.from(got[j] as ArrayLike<bigint | number>, BigInt), Array.from(w as ArrayLike<bigint | number>, BigInt), `${what} leaf ${j} (exact)`);
      return;
    }
    const x = Array.from(got[j] as ArrayLike<number>);
    assert.equal(x.length, w.length);
    x.forEach((v, i) => assert.ok(Math.abs(v - w[i]!) <= 1e-6 * Math.max(1, Math.abs(w[i]!)), `${what} leaf ${j}[${i}]: ${v} vs ${w[i]}`));
  });
}

/** What SERVER's messages from the aggregator say (opened with SERVER's identity, as SERVER would). */
function openAtServer(plan: AggregationPlan, payload: Uint8Array): { m: AggregatorMessage; plaintext: Uint8Array } {
  const opener = new SealedBoxReceiver({ self: { name: SERVER, identity: identities.get(SERVER)! }, senders: pinned, context: CONTEXT });
  const o = opener.open(payload, paillierBoxAd(plan));
  assert.equal(o.sender, 'aggregator');
  return { m: aggregatorMessageFromBytes(o.plaintext), plaintext: o.plaintext };
}

/** A refusal carries its report and nothing after it (no ciphertext). */
function assertNoCiphertext(plaintext: Uint8Array): void {
  const reportLength = new DataView(plaintext.buffer, plaintext.byteOffset).getUint32(1);
  assert.equal(plaintext.length, 5 + reportLength);
}

const CASES: [AggregationUri, 'SERVER' | 'AGGREGATORS'][] = [
  ['federated_weighted_mean_at_aggregators', 'SERVER'],
  ['federated_mean_at_aggregators', 'SERVER'],
  ['federated_sum_at_aggregators', 'SERVER'],
  ['federated_secure_sum', 'SERVER'],
  ['federated_mean_at_aggregators', 'AGGREGATORS'],
  ['federated_secure_sum_at_aggregators', 'AGGREGATORS'],
];

describe('dropout: paillier', () => {
  for (const [uri, target] of CASES) {
    it(`${uri} to ${target}: completes over the survivors and names them`, async () => {
      const roles = simRoles();
      const plan = planFor(roles, uri, target, `pdrop/${uri}/${target}`);
      const inputs = inputsFor(plan);
      const survivors = [0, 2, 4];
      const r = await simulateRoles(roles, plan, inputs, { policy: POLICY, collectMs: COLLECT_MS, absent: ['owner1', 'owner3'] });
      assert.deepEqual(r.result.contributors, survivors.map((i) => CLIENTS[i]!));
      matches(r.result.leaves, expected(plan, inputs, survivors).leaves, uri);
      for (const at of r.atAggregators ?? []) assert.deepEqual(at.contributors, r.result.contributors);
      assert.deepEqual(roles.lastReport!.absent, [1, 3]);
      assert.equal(roles.lastReport!.contributions, 3);
    });
  }

  it('with collectMs and nobody missing: the full aggregate, no contributors field, no notice sent', async () => {
    const roles = simRoles();
    const plan = planFor(roles, 'federated_weighted_mean_at_aggregators', 'SERVER', 'pdrop/none');
    const inputs = inputsFor(plan);
    const atAggregator: ReceivedMessage[] = [];
    const r = await simulateRoles(roles, plan, inputs, { policy: POLICY, collectMs: GUARD_MS, observe: (m) => void (m.to === 'aggregator' && atAggregator.push(m)) });
    assert.equal(r.result.contributors, undefined);
    assert.equal(roles.lastReport!.absent, undefined);
    matches(r.result.leaves, expected(plan, inputs, [0, 1, 2, 3, 4]).leaves, 'none missing');
    // every relay the aggregator got is the box its client sent (sealed by that client)
    assert.equal(atAggregator.filter((m) => m.key.includes('/relay/')).length, N);
  });

  it("a box that arrives after SERVER's deadline is not relayed: the client is counted absent, its value is not in the aggregate", async () => {
    const roles = simRoles();
    const plan = planFor(roles, 'federated_secure_sum', 'SERVER', 'pdrop/late');
    const inputs = inputsFor(plan);
    const slot2 = `${plan.invocationId}/relay/2`;
    let noticed!: () => void;
    const notice = new Promise<void>((resolve) => (noticed = resolve));
    let delivered!: () => void;
    const lateAtServer = new Promise<void>((resolve) => (delivered = resolve));
    const seen: ReceivedMessage[] = [];
    // owner2 sends its box only once the aggregator holds SERVER's notice for its slot
    const late = (party: string, t: Transport): Transport =>
      party !== 'owner2'
        ? t
        : new Proxy(t, {
            get(target, prop, receiver) {
              if (prop === 'send') return async (from: string, to: string, key: string, payload: Uint8Array) => (key.includes('/up/') && (await notice), target.send(from, to, key, payload));
              const v = Reflect.get(target, prop, receiver) as unknown;
              return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
            },
          });
    const r = await simulateRoles(roles, plan, inputs, {
      policy: POLICY,
      collectMs: COLLECT_MS,
      transportOf: late,
      observe: (m) => {
        seen.push(m);
        if (m.to === 'aggregator' && m.key === slot2) noticed();
        if (m.to === SERVER && m.key === `${plan.invocationId}/up/2`) delivered();
      },
    });
    assert.deepEqual(r.result.contributors, ['owner0', 'owner1', 'owner3', 'owner4']);
    matches(r.result.leaves, expected(plan, inputs, [0, 1, 3, 4]).leaves, 'late');
    // SERVER did get the box, late (hang guard only); the aggregator got exactly one message in that slot (the notice)
    let guard: NodeJS.Timeout | undefined;
    await Promise.race([lateAtServer, new Promise((_, reject) => (guard = setTimeout(() => reject(new Error('the late box never reached SERVER')), GUARD_MS)))]);
    clearTimeout(guard);
    assert.equal(seen.filter((m) => m.to === 'aggregator' && m.key === slot2).length, 1);
  });

  it('too few survivors for the policy: PolicyError minContributors, and SERVER receives a refusal without ciphertexts', async () => {
    const roles = simRoles();
    const plan = planFor(roles, 'federated_mean_at_aggregators', 'SERVER', 'pdrop/few');
    const atServer: ReceivedMessage[] = [];
    await assert.rejects(
      simulateRoles(roles, plan, inputsFor(plan), { policy: POLICY, collectMs: COLLECT_MS, absent: ['owner0', 'owner2', 'owner4'], observe: (m) => void (m.to === SERVER && atServer.push(m)) }),
      (e: unknown) => e instanceof PolicyError && e.rule === 'minContributors' && e.count === 2 && e.minimum === 3,
    );
    const fromAggregator = atServer.filter((m) => m.from === 'aggregator');
    assert.deepEqual(fromAggregator.map((m) => m.key), [`${plan.invocationId}/agg`]);
    const { m, plaintext } = openAtServer(plan, fromAggregator[0]!.payload);
    assert.deepEqual(m.kind === 'refused' && [m.rule, m.count, m.minimum, m.absent], ['minContributors', 2, 3, [0, 2, 4]]);
    assertNoCiphertext(plaintext);
  });

  it("survivors hosted by fewer players than the minimum: refused (a player's clients count once)", async () => {
    const roles = simRoles();
    const plan = planFor(roles, 'federated_secure_sum', 'SERVER', 'pdrop/hosted', HOSTED);
    const atServer: ReceivedMessage[] = [];
    // owner0:0, owner0:1 and owner1 survive: three clients, two players
    await assert.rejects(
      simulateRoles(roles, plan, inputsFor(plan), { policy: POLICY, collectMs: COLLECT_MS, absent: ['owner2', 'owner3'], observe: (m) => void (m.to === SERVER && atServer.push(m)) }),
      (e: unknown) => e instanceof PolicyError && e.rule === 'minContributors' && e.count === 2,
    );
    const { m, plaintext } = openAtServer(plan, atServer.find((x) => x.from === 'aggregator')!.payload);
    assert.equal(m.kind, 'refused');
    assertNoCiphertext(plaintext);
  });

  it('a router that stalls a relay: the aggregation service refuses at its own deadline (PolicyError dropout); SERVER gets no aggregate', async () => {
    const roles = simRoles();
    const plan = planFor(roles, 'federated_secure_sum', 'SERVER', 'pdrop/stall');
    const atServer: ReceivedMessage[] = [];
    // SERVER swallows its relay of owner3's box: neither the box nor a notice reaches the aggregator
    const stall = (party: string, t: Transport): Transport =>
      party !== SERVER
        ? t
        : new Proxy(t, {
            get(target, prop, receiver) {
              if (prop === 'send') return (from: string, to: string, key: string, payload: Uint8Array) => (key === `${plan.invocationId}/relay/3` ? Promise.resolve() : target.send(from, to, key, payload));
              const v = Reflect.get(target, prop, receiver) as unknown;
              return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
            },
          });
    await assert.rejects(
      simulateRoles(roles, plan, inputsFor(plan), { policy: POLICY, collectMs: COLLECT_MS, transportOf: stall, observe: (m) => void (m.to === SERVER && atServer.push(m)) }),
      (e: unknown) => e instanceof PolicyError && e.rule === 'dropout' && /relayed nothing for owner3/.test(e.message),
    );
    const { m, plaintext } = openAtServer(plan, atServer.find((x) => x.from === 'aggregator')!.payload);
    assert.equal(m.kind, 'refused');
    assertNoCiphertext(plaintext);
  });
});

/** The honest aggregator and clients, each on its own roles object (its own identity only) and transport; `ctx` for an honest SERVER. */
function parties(plan: AggregationPlan, inputs: readonly ClientInput[], o: { collectOf: (party: string) => number | undefined; onInvalid?: 'throw' | 'drop'; absent?: readonly string[]; serverTransport?: (t: Transport) => Transport }) {
  const hub = new MemoryHub();
  const received: ReceivedMessage[] = [];
  const sent: { from: string; to: string; key: string; payload: Uint8Array }[] = [];
  const opts = { onInvalid: o.onInvalid ?? 'throw', observe: (m: { from: string; to: string; key: string; payload: Uint8Array }) => void sent.push(m) } as const;
  const ctx = (me: string): PartyContext => {
    const raw = new MemoryTransport({ hub, local: [me] });
    const t = me === SERVER && o.serverTransport ? o.serverTransport(raw) : raw;
    const collectMs = o.collectOf(me);
    return { me, transport: t, policy: POLICY, timeoutMs: 120_000, ...(collectMs === undefined ? {} : { collectMs }) };
  };
  const settle = (p: Promise<unknown>) => p.then((v) => v, (e: unknown) => e);
  const aggCtx = ctx('aggregator');
  const watched: PartyContext = {
    ...aggCtx,
    transport: new Proxy(aggCtx.transport, {
      get(target, prop, receiver) {
        if (prop === 'receive') return async (to: string, from: string, key: string, ro?: object) => {
          const payload = await target.receive(to, from, key, ro);
          received.push({ to, from, key, payload });
          return payload;
        };
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }),
  };
  const aggregator = settle(only('aggregator', opts).aggregator(watched, plan, 0));
  const clients = plan.clients.filter((c) => !(o.absent ?? []).includes(c)).map((c) => settle(only(c, opts).client(ctx(c), plan, inputs[plan.clients.indexOf(c)]!)));
  return { hub, aggregator, clients, received, sent, ctx, opts };
}

/** A malicious SERVER (its own identity only) driving an honest aggregator and honest clients. */
function attack(plan: AggregationPlan, inputs: readonly ClientInput[], onInvalid: 'throw' | 'drop') {
  const w = parties(plan, inputs, { collectOf: (p) => (p === 'aggregator' ? GUARD_MS : undefined), onInvalid });
  const t = new MemoryTransport({ hub: w.hub, local: [SERVER] });
  const self = { name: SERVER, identity: identities.get(SERVER)! };
  const sealer = new SealedBoxSender({ self, recipients: pinned, context: CONTEXT });
  const opener = new SealedBoxReceiver({ self, senders: pinned, context: CONTEXT });
  const ad = paillierBoxAd(plan);
  const inv = plan.invocationId;
  return {
    ...w,
    publish: async () => {
      for (const to of ['aggregator', ...plan.clients]) await t.send(SERVER, to, `${inv}/pk`, sealer.seal(to, publicKeyToBytes(KEYS.publicKey), ad));
    },
    boxes: () => Promise.all(plan.clients.map((c, i) => t.receive(SERVER, c, `${inv}/up/${i}`))),
    relay: (slot: number, box: Uint8Array) => t.send(SERVER, 'aggregator', `${inv}/relay/${slot}`, box),
    /** SERVER's absence notice for client `of`, in slot `slot`. */
    absent: (slot: number, of = slot) => t.send(SERVER, 'aggregator', `${inv}/relay/${slot}`, sealer.seal('aggregator', absentNoticeToBytes(of), ad)),
    reply: async () => {
      const o = opener.open(await t.receive(SERVER, 'aggregator', `${inv}/agg`, { timeoutMs: GUARD_MS }), ad);
      return { m: aggregatorMessageFromBytes(o.plaintext), plaintext: o.plaintext };
    },
    /** What the attacker decrypts of an aggregate reply: the exact slot sums and the contribution count. */
    decrypt: (m: AggregatorMessage) => {
      assert.equal(m.kind, 'aggregate');
      const { packing } = encodingFor(plan, only(SERVER, { onInvalid }).params);
      const v = encryptedVectorFromBytes(KEYS.publicKey, packing, m.kind === 'aggregate' ? m.vector : new Uint8Array());
      return { sums: decryptVector(KEYS.privateKey, packing, v), contributions: v.contributions };
    },
  };
}

const sumOf = (inputs: readonly ClientInput[], who: readonly number[]): bigint[] =>
  Array.from({ length: 5 }, (_, j) => who.reduce((s, i) => s + BigInt((inputs[i]!.values[0] as Int32Array)[j]!), 0n));

describe('dropout: a malicious router and its absence notices', () => {
  it('marks an honest client absent: the aggregate excludes it, and nothing of its box reaches the aggregator', async () => {
    const plan = planFor(only(SERVER), 'federated_secure_sum', 'SERVER', 'pdrop/attack/mark');
    const inputs = inputsFor(plan);
    const a = attack(plan, inputs, 'throw');
    await a.publish();
    const boxes = await a.boxes();
    for (const i of [0, 1, 3, 4]) await a.relay(i, boxes[i]!);
    await a.absent(2);
    const { m } = await a.reply();
    assert.deepEqual(m.kind === 'aggregate' && [m.absent, m.rejected], [[2], []]);
    const { sums, contributions } = a.decrypt(m);
    assert.equal(contributions, 4);
    assert.deepEqual(sums, sumOf(inputs, [0, 1, 3, 4]));
    assert.equal(await a.aggregator, undefined);
    // the aggregator's slot 2 holds the router's notice, not owner2's box
    const slot2 = a.received.filter((x) => x.key === `${plan.invocationId}/relay/2`);
    assert.equal(slot2.length, 1);
    assert.notDeepEqual(slot2[0]!.payload, boxes[2]);
    assert.ok(!a.received.some((x) => Buffer.from(x.payload).equals(Buffer.from(boxes[2]!))));
    a.hub.close();
  });

  it('claims a client absent AND forwards its box in another slot: counted zero times, the slot it took is rejected (MisroutedMessageError)', async () => {
    const plan = planFor(only(SERVER, { onInvalid: 'drop' }), 'federated_secure_sum', 'SERVER', 'pdrop/attack/both');
    const inputs = inputsFor(plan);
    const a = attack(plan, inputs, 'drop');
    await a.publish();
    const boxes = await a.boxes();
    await a.absent(1);
    // owner1's box in owner3's slot (owner3's own box withheld)
    for (const [slot, from] of [[0, 0], [2, 2], [3, 1], [4, 4]] as const) await a.relay(slot, boxes[from]!);
    const { m } = await a.reply();
    assert.deepEqual(m.kind === 'aggregate' && [m.absent, m.rejected.map((r) => r.client)], [[1], [3]]);
    assert.match(m.rejected[0]!.reason, /^MisroutedMessageError: /);
    const { sums, contributions } = a.decrypt(m);
    assert.equal(contributions, 3);
    assert.deepEqual(sums, sumOf(inputs, [0, 2, 4]));
    a.hub.close();
  });

  it("a notice in another client's slot is rejected, not counted as that client's absence (MisroutedMessageError)", async () => {
    const plan = planFor(only(SERVER, { onInvalid: 'drop' }), 'federated_secure_sum', 'SERVER', 'pdrop/attack/notice-slot');
    const inputs = inputsFor(plan);
    const a = attack(plan, inputs, 'drop');
    await a.publish();
    const boxes = await a.boxes();
    for (const i of [0, 1, 2, 4]) await a.relay(i, boxes[i]!);
    await a.absent(3, 1); // "owner1 is absent", in owner3's slot, while owner1's box is relayed in its own
    const { m } = await a.reply();
    assert.deepEqual(m.kind === 'aggregate' && [m.absent, m.rejected.map((r) => r.client)], [undefined, [3]]);
    assert.match(m.rejected[0]!.reason, /^MisroutedMessageError: .*absence notice for slot 1/);
    const { sums, contributions } = a.decrypt(m);
    assert.equal(contributions, 4);
    assert.deepEqual(sums, sumOf(inputs, [0, 1, 2, 4]));
    a.hub.close();
  });

  it('the same box in two slots with two clients marked absent: counted once, below the minimum, refused without ciphertexts', async () => {
    const plan = planFor(only(SERVER, { onInvalid: 'drop' }), 'federated_secure_sum', 'SERVER', 'pdrop/attack/twice');
    const inputs = inputsFor(plan);
    const a = attack(plan, inputs, 'drop');
    await a.publish();
    const boxes = await a.boxes();
    await a.absent(1);
    await a.absent(2);
    for (const [slot, from] of [[0, 0], [3, 0], [4, 4]] as const) await a.relay(slot, boxes[from]!);
    const { m, plaintext } = await a.reply();
    assert.deepEqual(m.kind === 'refused' && [m.rule, m.count, m.minimum, m.absent, m.rejected.map((r) => r.client)], ['minContributors', 2, 3, [1, 2], [3]]);
    assertNoCiphertext(plaintext);
    const err = await a.aggregator;
    assert.ok(err instanceof PolicyError && err.rule === 'minContributors' && err.count === 2, String(err));
    assert.ok(err.rejected.length === 1 && /MisroutedMessageError|ReplayError/.test(err.rejected[0]!.reason));
    a.hub.close();
  });

  it('an aggregation service without dropout tolerance (no collectMs) refuses any absence notice (PolicyError dropout); SERVER gets no aggregate', async () => {
    const plan = planFor(only(SERVER), 'federated_secure_sum', 'SERVER', 'pdrop/strict');
    // SERVER tolerates dropouts, the aggregation service requires every client; owner4 never runs
    const atServer: ReceivedMessage[] = [];
    const w = parties(plan, inputsFor(plan), {
      collectOf: (p) => (p === SERVER ? COLLECT_MS : undefined),
      absent: ['owner4'],
      serverTransport: (t) =>
        new Proxy(t, {
          get(target, prop, receiver) {
            if (prop === 'receive') return async (to: string, from: string, key: string, ro?: object) => {
              const payload = await target.receive(to, from, key, ro);
              atServer.push({ to, from, key, payload });
              return payload;
            };
            const v = Reflect.get(target, prop, receiver) as unknown;
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
          },
        }),
    });
    const server = await only(SERVER, { serverKeys: KEYS, ...w.opts }).server(w.ctx(SERVER), plan).then((v) => v, (e: unknown) => e);
    assert.ok(server instanceof PolicyError && server.rule === 'dropout', String(server));
    const agg = await w.aggregator;
    assert.ok(agg instanceof PolicyError && agg.rule === 'dropout' && /marked owner4 absent/.test(agg.message), String(agg));
    const { m, plaintext } = openAtServer(plan, atServer.find((x) => x.from === 'aggregator')!.payload);
    assert.deepEqual(m.kind === 'refused' && [m.rule, m.absent], ['dropout', [4]]);
    assertNoCiphertext(plaintext);
    w.hub.close();
  });
});
