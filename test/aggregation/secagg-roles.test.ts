/**
 * SecAgg's options, plans, encoding and wire, piece by piece: options
 * refused with errors naming the option; every party refuses a plan with
 * other parameters, target AGGREGATORS, fewer than 2 clients or parameters
 * that break a rule; the encoding is exact for integer sums (limbs, 32-bit
 * masks, int64 extremes) and within the stated error for floats; every
 * decoder refuses a wrong version, type, length or count; keys are fresh
 * every round.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyError } from '../../src/core/errors.js';
import { TensorType } from '../../src/core/types.js';
import { checkPlan } from '../../src/aggregation/plan.js';
import { enforcePlan, type PartyContext } from '../../src/aggregation/roles.js';
import { secAggRoles, type SecAggRoles } from '../../src/aggregation/secagg-roles.js';
import { SecAggParameterError } from '../../src/aggregation/secagg-params.js';
import { secAggEncoding } from '../../src/aggregation/secagg-encoding.js';
import { secAggOptionsFromParams, secAggSetup } from '../../src/aggregation/secagg-setup.js';
import { advertiseFromBytes, keysFromBytes, keysToBytes, maskedFromBytes, revealFromBytes, revealToBytes, sealedFromBytes, unmaskFromBytes, unmaskToBytes, UnknownIndexError } from '../../src/aggregation/secagg-wire.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { makeRoles, names, referenceOver, rng, runSecAgg, signingKeysFor, sumInputs, sumPlan } from './secagg-harness.js';

const ctxOf = (me: string): PartyContext => ({ me, transport: new MemoryTransport({ hub: new MemoryHub(), local: [me] }), policy: { minContributors: 1, allowInsecure: false } });

describe('secagg options', () => {
  const bad: [object, RegExp][] = [
    [{ graph: 'ring' }, /"graph"/],
    [{ graph: { harary: { k: 3, t: 2 } } }, /graph\.harary\.k/],
    [{ graph: { harary: { k: 4, t: 5 } } }, /"graph\.harary\.t"/],
    [{ graph: 'auto', threshold: 3 }, /"threshold"/],
    [{ threshold: 1 }, /"threshold"/],
    [{ adversary: 'curious' }, /"adversary"/],
    [{ adversary: 'malicious' }, /"signingKeys" expected a Map/],
    [{ signingKeys: new Map() }, /"signingKeys" and "signers" are for adversary 'malicious'/],
    [{ adversary: 'malicious', signingKeys: new Map([['c0', new Uint8Array(31)]]) }, /"signingKeys" of 'c0': expected 32 bytes/],
    [{ corruptionRate: 1 }, /"corruptionRate"/],
    [{ dropoutRate: -0.1 }, /"dropoutRate"/],
    [{ corruptionRate: 0.5, dropoutRate: 0.5 }, /corruption-plus-dropout/],
    [{ modulusBits: 65 }, /"modulusBits"/],
    [{ fracBits: 60 }, /"fracBits"/],
    [{ fracBits: 24, floatBits: 20 }, /"floatBits"/],
    [{ roundTimeoutMs: -1 }, /"roundTimeoutMs"/],
    [{ rounds: 3 }, /unknown option "rounds"/],
  ];
  for (const [o, re] of bad) it(`refuses ${JSON.stringify(o)}`, () => assert.throws(() => secAggRoles(o as never), (e: unknown) => e instanceof Error && re.test(e.message)));

  it("a plan's parameters give back the options (a deployed party builds the plan's role set from them)", () => {
    for (const o of [{}, { graph: 'auto' as const }, { threshold: 5, modulusBits: 40 }, { graph: { harary: { k: 6, t: 3 } }, corruptionRate: 0, dropoutRate: 0.1, fracBits: 20, floatBits: 60 }]) {
      const params = secAggRoles(o).params;
      assert.deepEqual(secAggRoles(secAggOptionsFromParams({ ...params })).params, params);
    }
    assert.throws(() => secAggOptionsFromParams({ ...makeRoles('auto').params, threshold: 3 }), /"threshold"/);
    assert.throws(() => secAggOptionsFromParams({ ...makeRoles('complete').params, graph: 'ring' }), /"graph"/);
  });

  it('puts its public parameters in the plan; a party with other parameters refuses it', () => {
    const a = makeRoles('complete', { threshold: 3 });
    const b = makeRoles('complete', { threshold: 4 });
    const plan = sumPlan(a, 5);
    assert.deepEqual(Object.keys(plan.params).sort(), ['adversary', 'corruptionRate', 'dropoutRate', 'floatBits', 'fracBits', 'graph', 'k', 'modulusBits', 'threshold']);
    enforcePlan(a, ctxOf('c0'), plan, 'client');
    assert.throws(() => enforcePlan(b, ctxOf('c0'), plan, 'client'), (e: unknown) => e instanceof PolicyError && e.rule === 'protocol');
  });
});

describe('secagg plans every party refuses', () => {
  it('target AGGREGATORS (no aggregator parties)', () => {
    const r = makeRoles('complete');
    const plan = checkPlan({ ...sumPlan(r, 4), uri: 'federated_sum_at_aggregators', bound: undefined, target: 'AGGREGATORS' } as never);
    assert.throws(() => secAggSetup(r.params, plan, 'c0'), (e: unknown) => e instanceof PolicyError && e.rule === 'protocol');
  });
  it('fewer than 2 clients', () => assert.throws(() => secAggSetup(makeRoles('complete').params, sumPlan(makeRoles('complete'), 1), 'c0'), /at least 2 clients/));
  it('a Harary degree the plan cannot hold, a threshold above n, rates the rules refuse', () => {
    assert.throws(() => secAggSetup(makeRoles({ harary: { k: 6, t: 3 } }).params, sumPlan(makeRoles({ harary: { k: 6, t: 3 } }), 5), 'c0'), (e: unknown) => e instanceof SecAggParameterError && e.rule === 'degree');
    assert.throws(() => secAggSetup(makeRoles('complete', { threshold: 6 }).params, sumPlan(makeRoles('complete', { threshold: 6 }), 5), 'c0'), (e: unknown) => e instanceof SecAggParameterError && e.rule === 'correctness-threshold');
    const r = secAggRoles({ threshold: 2, corruptionRate: 0.3, dropoutRate: 0 });
    assert.throws(() => secAggSetup(r.params, sumPlan(r, 10), 'c0'), (e: unknown) => e instanceof SecAggParameterError && e.rule === 'privacy-threshold');
  });
  it("'auto' and the default threshold follow the rules for the plan's n", () => {
    const auto = secAggRoles({ graph: 'auto' });
    assert.deepEqual(secAggSetup(auto.params, sumPlan(auto, 1000), 's'), { n: 1000, graph: 'harary', k: 30, t: 17 });
    const complete = secAggRoles({ corruptionRate: 0.2, dropoutRate: 0.1 });
    assert.equal(secAggSetup(complete.params, sumPlan(complete, 10), 's').t, 3);
  });
  it('the aggregator role refuses', async () => {
    const r = makeRoles('complete');
    await assert.rejects(r.aggregator(ctxOf('a'), sumPlan(r, 3), 0), (e: unknown) => e instanceof PolicyError && e.rule === 'roster');
  });
});

describe('secagg encoding', () => {
  const leaf = (dtype: 'int32' | 'int64' | 'uint32' | 'float32' | 'float64', size: number) => ({ path: '', type: new TensorType(dtype, [size]), size });
  const planOf = (uri: string, leaves: ReturnType<typeof leaf>[], n: number, bound?: bigint) =>
    checkPlan({ protocol: 'secagg', invocationId: 'e', uri, target: 'SERVER', leaves, ...(bound ? { bound } : {}), clients: names(n), aggregators: [], server: 's', params: {} } as never);
  /** Sum encodings modulo 2^bits as the unmasked sum would be. */
  const sumOf = (enc: ReturnType<typeof secAggEncoding>, vs: ReturnType<ReturnType<typeof secAggEncoding>['encode']>[]) => {
    if (enc.bits <= 32) {
      const out = new Uint32Array(enc.entries);
      for (const v of vs) for (let i = 0; i < out.length; i++) out[i] = (out[i]! + Number(v[i]!)) >>> 0;
      for (let i = 0; i < out.length; i++) out[i] = enc.bits === 32 ? out[i]! : out[i]! & (2 ** enc.bits - 1);
      return out;
    }
    const out = new BigUint64Array(enc.entries);
    for (const v of vs) for (let i = 0; i < out.length; i++) out[i] = BigInt.asUintN(enc.bits, out[i]! + BigInt(v[i]!));
    return out;
  };
  it('secure sum of 32-bit values in 32-bit masks: two limbs, exact', () => {
    const params = makeRoles('complete', { modulusBits: 32 }).params;
    const plan = planOf('federated_secure_sum', [leaf('uint32', 3)], 7, 1n << 32n);
    const enc = secAggEncoding(plan, params);
    assert.equal(enc.bits, 32);
    assert.equal(enc.entries, 6);
    const xs = Array.from({ length: 7 }, (_, k) => Uint32Array.from([2 ** 32 - 1, k, 2 ** 31 + k]));
    const got = enc.decode(sumOf(enc, xs.map((x) => enc.encode({ values: [x] }))), 7)[0] as bigint[];
    assert.deepEqual(got, [7n * (2n ** 32n - 1n), 21n, 7n * 2n ** 31n + 21n]);
  });
  it('int64 sums at the extremes and int32 means: exact', () => {
    const params = makeRoles('complete').params;
    const plan = planOf('federated_sum_at_aggregators', [leaf('int64', 2), leaf('int32', 1)], 3);
    const enc = secAggEncoding(plan, params);
    const big = 2n ** 63n - 1n;
    const xs = [0, 1, 2].map((k) => ({ values: [BigInt64Array.from([big, -big - 1n]), Int32Array.from([-(2 ** 31) + k])] }));
    const got = enc.decode(sumOf(enc, xs.map((x) => enc.encode(x))), 3);
    assert.deepEqual(got[0], [3n * big, 3n * (-big - 1n)]);
    assert.deepEqual(got[1], [3n * -(2n ** 31n) + 3n]);
    const mean = secAggEncoding(planOf('federated_mean_at_aggregators', [leaf('int32', 1)], 3), params);
    assert.deepEqual(mean.decode(sumOf(mean, [1, 2, 4].map((v) => mean.encode({ values: [Int32Array.from([v])] }))), 3)[0], Float64Array.from([7 / 3]));
  });
  it('float sums within n · 2^-(f+1); values beyond the range saturate', () => {
    const params = makeRoles('complete', { fracBits: 16, floatBits: 40 }).params;
    const plan = planOf('federated_sum_at_aggregators', [leaf('float64', 3)], 4);
    const enc = secAggEncoding(plan, params);
    const random = rng(9);
    const xs = Array.from({ length: 4 }, () => Float64Array.from({ length: 3 }, () => random() * 2000 - 1000));
    const got = enc.decode(sumOf(enc, xs.map((x) => enc.encode({ values: [x] }))), 4)[0] as Float64Array;
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(got[i]! - xs.reduce((a, x) => a + x[i]!, 0)) <= 4 * 2 ** -17);
    const limit = 2 ** (40 - 1 - 16);
    const sat = enc.decode(sumOf(enc, [enc.encode({ values: [Float64Array.from([1e30, -1e30, Infinity])] })]), 1)[0] as Float64Array;
    assert.ok(Math.abs(sat[0]! - limit) < 1e-3 && Math.abs(sat[1]! + limit) < 1e-3 && Math.abs(sat[2]! - limit) < 1e-3);
  });
});

describe('secagg wire: strict decoders', () => {
  it('refuse a wrong version, type, length or count; name an unknown index', () => {
    const keys = keysToBytes([{ index: 1, cpk: new Uint8Array(32).fill(1), spk: new Uint8Array(32).fill(2) }]);
    assert.equal(keysFromBytes(keys, 3).length, 1);
    assert.throws(() => keysFromBytes(Uint8Array.from(keys, (b, i) => (i === 0 ? 9 : b)), 3), /version/);
    assert.throws(() => keysFromBytes(Uint8Array.from(keys, (b, i) => (i === 1 ? 0x12 : b)), 3), /message type/);
    assert.throws(() => keysFromBytes(keys.subarray(0, keys.length - 1), 3), /bytes/);
    assert.throws(() => keysFromBytes(Uint8Array.of(...keys, 0), 3), /bytes/);
    assert.throws(() => keysFromBytes(keys, 1), (e: unknown) => e instanceof UnknownIndexError);
    assert.throws(() => advertiseFromBytes(keys), /message type/);
    assert.throws(() => sealedFromBytes('routed', keys, 3), /message type/);
    assert.throws(() => maskedFromBytes(Uint8Array.of(1, 0x14, 0, 0, 0), 32, 1), /bytes/);
    const req = unmaskToBytes({ alive: [1, 2], dead: [0] });
    assert.deepEqual(unmaskFromBytes(req, 3), { alive: [1, 2], dead: [0] });
    assert.throws(() => unmaskFromBytes(req.subarray(0, 13), 3), /bytes/);
    const rev = revealToBytes([{ owner: 2, kind: 'key', share: new Uint8Array(44) }]);
    assert.equal(revealFromBytes(rev, 3)[0]!.kind, 'key');
    assert.throws(() => revealFromBytes(Uint8Array.from(rev, (b, i) => (i === 10 ? 3 : b)), 3), /share kind/);
  });
});

describe('secagg rounds', () => {
  it('fresh keys every round: no advertised key repeats across two rounds of the same clients', async () => {
    const roles = makeRoles('complete', { threshold: 3 });
    const seen = new Set<string>();
    for (const inv of ['fresh/1', 'fresh/2']) {
      const plan = sumPlan(roles, 4, inv);
      const o = await runSecAgg({ roles, plan, inputs: sumInputs(plan, rng(4)) });
      assert.equal(o.error, undefined);
      for (const m of o.serverView.filter((x) => x.key.endsWith('/r0/advertise'))) {
        const k = advertiseFromBytes(m.payload);
        for (const b of [k.cpk, k.spk]) {
          const hex = Buffer.from(b).toString('hex');
          assert.ok(!seen.has(hex), 'a key advertised twice');
          seen.add(hex);
        }
      }
    }
    assert.equal(seen.size, 16);
  });

  it("message sizes as docs/secagg.md's table states (complete graph, n = 5, no dropouts)", async () => {
    const roles = makeRoles('complete', { threshold: 3 });
    const plan = sumPlan(roles, 5, 'sizes', 7);
    const o = await runSecAgg({ roles, plan, inputs: sumInputs(plan, rng(6)) });
    assert.equal(o.error, undefined);
    const sizes = new Map<string, Set<number>>();
    for (const m of o.serverView) {
      const what = m.key.slice(m.key.lastIndexOf('/') + 1);
      if (!sizes.has(what)) sizes.set(what, new Set());
      sizes.get(what)!.add(m.payload.length);
    }
    // bound 2^16, n = 5: B = 16 + 3 bits, one limb, 4-byte words; d = 4 neighbours; a + e = 4
    assert.deepEqual(Object.fromEntries([...sizes].map(([k, v]) => [k, [...v]])), { advertise: [66], shares: [6 + 116 * 4], masked: [2 + 4 * 7], reveal: [6 + 49 * 5] });
  });

  it('every party with a role set of its own, built from the plan\'s parameters, holding only its own signing key (as deployed)', async () => {
    const n = 6;
    const { signingKeys, signers } = signingKeysFor(n);
    const driver = secAggRoles({ adversary: 'malicious', threshold: 4, corruptionRate: 0, dropoutRate: 0, signingKeys });
    const plan = sumPlan(driver, n, 'own-role-sets');
    const own = new Map<string, SecAggRoles>();
    const rolesOf = (me: string): SecAggRoles => {
      let r = own.get(me);
      if (r === undefined) {
        const mine = signers.has(me) ? { signers: new Map([[me, signers.get(me)!]]) } : {};
        own.set(me, (r = secAggRoles({ ...secAggOptionsFromParams(plan.params), signingKeys, ...mine })));
      }
      return r;
    };
    const dispatch: SecAggRoles = { ...driver, client: (ctx, p, input) => rolesOf(ctx.me).client(ctx, p, input), server: (ctx, p) => rolesOf(ctx.me).server(ctx, p) };
    const inputs = sumInputs(plan, rng(8));
    const o = await runSecAgg({ roles: dispatch, plan, inputs, dropAt: new Map([['c2', 3]]) });
    assert.equal(o.error, undefined, String(o.error));
    assert.deepEqual(o.result!.leaves, referenceOver(plan, inputs, names(n)));
    assert.equal(own.size, n + 1);
  });
});
