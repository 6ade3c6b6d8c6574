/**
 * Attacks on the MPC dropout tolerance (`mpcRoles({ dropout: true })`,
 * src/aggregation/dropout.ts) by one malicious party among honest ones.
 * Every party runs its own role on its own transport view of one hub (every
 * delivered message recorded); the attacker runs the honest code with a
 * transport that rewrites, withholds or delays what it sends. Each test
 * asserts what the honest parties did (refused on which rule, sent what to
 * whom), not only the outcome.
 *
 *   - a compute server that lies about the set of contributions it holds
 *     (to another collector, or to the receiving party to make it mis-scale
 *     a mean);
 *   - a data owner that sends one sum's share and not another's, or whose
 *     shares arrive after the collection closed (released on an event: the
 *     first collector's agreement message).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TensorType } from '../../src/core/types.js';
import { PolicyError } from '../../src/core/errors.js';
import { checkPlan, type AggregationPlan } from '../../src/aggregation/plan.js';
import { mpcRoles } from '../../src/aggregation/mpc-roles.js';
import { contributorBits } from '../../src/aggregation/dropout.js';
import type { AggregationResult, AggregationUri } from '../../src/aggregation/protocol.js';
import type { AggregationRoles, ClientInput, PartyContext } from '../../src/aggregation/roles.js';
import type { Transport } from '../../src/transport/channel.js';
import { MemoryTransport } from '../../src/transport/memory.js';
import { recordingHub, type Delivered } from '../runtime/attack-helpers.js';

/** Hang guard of every receive (never reached when the code under test behaves). */
const GUARD_MS = 20_000;
/** The collectors' deadline (a window, never asserted). */
const COLLECT_MS = 300;
const SERVER = 'model-owner';
const CLIENTS = ['owner0', 'owner1', 'owner2', 'owner3', 'owner4'];
const POLICY = { minContributors: 3, allowInsecure: false };

type Outcome = { ok: true; value: AggregationResult | undefined } | { ok: false; error: unknown };

/** A transport whose `send` the attacker replaces (`undefined` from `over`: the message is not sent). */
function sending(t: Transport, over: (to: string, key: string, payload: Uint8Array, send: () => Promise<void>) => Promise<void>): Transport {
  return new Proxy(t, {
    get(target, prop) {
      if (prop === 'send') return (from: string, to: string, key: string, payload: Uint8Array) => over(to, key, payload, () => target.send(from, to, key, payload));
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * Every role of `plan` on its own transport (`wrap` makes the attacker's),
 * absent clients not run. Once every party of `settle` has settled, the hub
 * closes (a party still waiting then fails on the closed transport), and
 * every party's outcome is returned with what was delivered.
 */
async function runParties(roles: AggregationRoles, plan: AggregationPlan, inputs: readonly ClientInput[], o: { settle: readonly string[]; absent?: readonly string[]; wrap?: (party: string, t: Transport) => Transport }): Promise<{ outcomes: Map<string, Outcome>; wire: Delivered[] }> {
  const { hub, wire } = recordingHub();
  const ctx = (me: string): PartyContext => {
    const t = new MemoryTransport({ hub, local: [me] });
    return { me, transport: o.wrap ? o.wrap(me, t) : t, policy: POLICY, timeoutMs: GUARD_MS, collectMs: COLLECT_MS };
  };
  const runs = new Map<string, Promise<Outcome>>();
  const settled = (p: Promise<AggregationResult | undefined | void>): Promise<Outcome> => p.then((value) => ({ ok: true as const, value: value ?? undefined }), (error: unknown) => ({ ok: false as const, error }));
  runs.set(SERVER, settled(roles.server(ctx(SERVER), plan)));
  plan.aggregators.forEach((a, i) => runs.set(a, settled(roles.aggregator(ctx(a), plan, i))));
  plan.clients.forEach((c, i) => {
    if (!(o.absent ?? []).includes(c)) runs.set(c, settled(roles.client(ctx(c), plan, inputs[i]!)));
  });
  await Promise.all(o.settle.map((p) => runs.get(p)!));
  hub.close();
  const outcomes = new Map<string, Outcome>();
  for (const [p, r] of runs) outcomes.set(p, await r);
  return { outcomes, wire };
}

function planFor(roles: AggregationRoles, uri: AggregationUri, target: 'SERVER' | 'AGGREGATORS', inv: string, leaves: number[]): AggregationPlan {
  const secure = uri.startsWith('federated_secure_sum');
  return checkPlan({
    protocol: roles.name,
    invocationId: inv,
    uri,
    target,
    leaves: leaves.map((size, j) => {
      const type = new TensorType(secure ? 'int32' : 'float32', [size]);
      return { path: `.l${j}`, type, size };
    }),
    ...(secure ? { bound: 1n << 20n } : {}),
    clients: CLIENTS,
    aggregators: roles.aggregatorNames,
    server: SERVER,
    params: roles.params,
  });
}

/** Client i's leaf j: integers 100 i + 10 j + k (secure sums), else i + j / 10 + k / 100. */
function inputsFor(plan: AggregationPlan): ClientInput[] {
  const secure = plan.uri.startsWith('federated_secure_sum');
  return CLIENTS.map((_, i) => ({ values: plan.leaves.map((l, j) => (secure ? Int32Array.from({ length: l.size }, (_, k) => 100 * i + 10 * j + k) : Float32Array.from({ length: l.size }, (_, k) => i + j / 10 + k / 100))) }));
}

const refused = (o: Outcome | undefined, rule: string, party: string): boolean => o !== undefined && !o.ok && o.error instanceof PolicyError && o.error.rule === rule && o.error.party === party;
const bits = (survivors: readonly number[]): Uint8Array => contributorBits(CLIENTS.length, survivors);

describe('a malicious compute server lies about the contributions it collected', () => {
  it("aby3: it tells one honest server a different set than it holds: that server refuses (rule 'dropout') and sends SERVER nothing; SERVER gets no aggregate", async () => {
    // a mean scaled by the servers to SERVER (ABY3's generic program, not a fused path): all three servers collect and compare
    const roles = mpcRoles({ protocol: 'aby3', dropout: true, meanScaling: 'servers' });
    const plan = planFor(roles, 'federated_mean_at_aggregators', 'SERVER', 'atk/set/aby3', [3]);
    const liar = 'server2';
    const { outcomes, wire } = await runParties(roles, plan, inputsFor(plan), {
      absent: ['owner4'],
      settle: ['server0', 'server1', SERVER],
      // (server2 holds owners 0-3; it tells server1 that owner4 contributed too)
      wrap: (p, t) => (p !== liar ? t : sending(t, (to, key, payload, send) => (to === 'server1' && key.endsWith('/dropout/set') ? t.send(liar, to, key, bits([0, 1, 2, 3, 4])) : send()))),
    });
    assert.ok(refused(outcomes.get('server1'), 'dropout', 'server1'), String((outcomes.get('server1') as { error?: unknown }).error));
    assert.deepEqual(wire.filter((m) => m.from === 'server1' && m.to === SERVER).map((m) => m.key), []);
    // server0 compared with server1's true set (equal to its own): it may go on, over that set only
    const told = wire.filter((m) => m.from === 'server0' && m.key.endsWith('/dropout/survivors')).map((m) => [...m.payload]);
    assert.ok(told.every((b) => b[0] === bits([0, 1, 2, 3])[0]), JSON.stringify(told));
    assert.equal(outcomes.get(SERVER)!.ok, false, 'SERVER got an aggregate without every collector naming the same survivors');
  });

  it("aby3: it tells both honest servers a set it does not hold: both refuse (rule 'dropout'), nothing from them reaches SERVER", async () => {
    const roles = mpcRoles({ protocol: 'aby3', dropout: true, meanScaling: 'servers' });
    const plan = planFor(roles, 'federated_mean_at_aggregators', 'SERVER', 'atk/set2/aby3', [3]);
    const liar = 'server2';
    const { outcomes, wire } = await runParties(roles, plan, inputsFor(plan), {
      absent: ['owner4'],
      settle: ['server0', 'server1', SERVER],
      // (it claims owner0 dropped: a sum the honest servers do not hold)
      wrap: (p, t) => (p !== liar ? t : sending(t, (to, key, payload, send) => (key.endsWith('/dropout/set') ? t.send(liar, to, key, bits([1, 2, 3])) : send()))),
    });
    for (const s of ['server0', 'server1']) {
      assert.ok(refused(outcomes.get(s), 'dropout', s), s);
      assert.deepEqual(wire.filter((m) => m.from === s && m.to === SERVER).map((m) => m.key), [], s);
    }
    assert.equal(outcomes.get(SERVER)!.ok, false);
  });

  for (const [kind, lie, why] of [['aby3', [0, 1, 2], 'fewer survivors (SERVER would rescale by 5/3, not 5/4)'], ['pond', [0, 1, 2], 'fewer survivors (SERVER would rescale by 5/3, not 5/4)'], ['pond', [0, 1, 2, 4], 'other survivors (SERVER would name owner4, not owner3)']] as const) {
    it(`${kind}: it names SERVER ${why} than it agreed: SERVER refuses (rule 'dropout'), no mean`, async () => {
      const roles = mpcRoles({ protocol: kind, dropout: true });
      // a mean scaled by the owners (1/5 each), rescaled by 5/|survivors| at SERVER; the collectors are server0 and server1
      const plan = planFor(roles, 'federated_mean_at_aggregators', 'SERVER', `atk/scale/${kind}/${lie.length}`, [4]);
      const liar = 'server1';
      const { outcomes, wire } = await runParties(roles, plan, inputsFor(plan), {
        absent: ['owner4'],
        settle: [SERVER, 'server0'],
        // (owners 0-3 contributed)
        wrap: (p, t) => (p !== liar ? t : sending(t, (to, key, payload, send) => (to === SERVER && key.endsWith('/dropout/survivors') ? t.send(liar, to, key, bits(lie)) : send()))),
      });
      // the honest collector agreed and told SERVER the true set
      assert.deepEqual(wire.filter((m) => m.from === 'server0' && m.to === SERVER && m.key.endsWith('/dropout/survivors')).map((m) => [...m.payload]), [[...bits([0, 1, 2, 3])]]);
      assert.ok(refused(outcomes.get(SERVER), 'dropout', SERVER), String((outcomes.get(SERVER) as { error?: unknown }).error));
    });
  }
});

describe('a malicious or crashing data owner', () => {
  for (const [kind, target] of [['pond', 'SERVER'], ['aby3', 'AGGREGATORS']] as const) {
    it(`${kind} to ${target}: it sends its share of one leaf and not of the other (a crash half-way): every collector refuses (rule 'dropout'), nothing is opened`, async () => {
      const roles = mpcRoles({ protocol: kind, dropout: true });
      // two leaves: two sums, each collected separately (ops 1 and 2 of the instance)
      const plan = planFor(roles, 'federated_sum_at_aggregators', target, `atk/half/${kind}`, [2, 3]);
      const collectors = kind === 'pond' ? ['server0', 'server1'] : ['server0', 'server1', 'server2'];
      const { outcomes, wire } = await runParties(roles, plan, inputsFor(plan), {
        settle: [...collectors, ...(target === 'SERVER' ? [SERVER] : [])],
        wrap: (p, t) => (p !== 'owner2' ? t : sending(t, (_to, key, _payload, send) => (/-low\/2\/2\//.test(key) ? Promise.resolve() : send()))),
      });
      // it did send the first leaf's share to every collector
      for (const s of collectors) assert.ok(wire.some((m) => m.from === 'owner2' && m.to === s && /-low\/1\/2\//.test(m.key)), s);
      for (const s of collectors) assert.ok(refused(outcomes.get(s), 'dropout', s), `${s}: ${String((outcomes.get(s) as { error?: unknown }).error)}`);
      // no collector sent any party anything after collecting: no agreement message, no opening
      const after = wire.filter((m) => collectors.includes(m.from) && (m.key.includes('/dropout/') || !/-low\/[12]\//.test(m.key)));
      assert.deepEqual(after.map((m) => `${m.from}->${m.to} ${m.key}`), []);
    });
  }

  for (const [kind, uri] of [['aby3', 'federated_secure_sum'], ['pond', 'federated_secure_sum'], ['aby3', 'federated_mean_at_aggregators']] as const) {
    it(`${kind} ${uri}: its shares arrive once every collector has closed its collection (on their agreement messages), before they compare: it is left out everywhere, the aggregate and contributors are those of the others`, async () => {
      const roles = mpcRoles({ protocol: kind, dropout: true });
      const plan = planFor(roles, uri, 'SERVER', `atk/late/${kind}/${uri}`, [3]);
      // (ABY3 sums and means to SERVER take a fused path: server0 and server1 collect, as Pond's two servers do)
      const collectors = ['server0', 'server1'];
      const held: (() => Promise<void>)[] = [];
      let release!: () => void;
      const closed = new Promise<void>((r) => (release = r));
      const closing = new Set<string>();
      const { outcomes, wire } = await runParties(roles, plan, inputsFor(plan), {
        settle: [SERVER, ...plan.aggregators],
        wrap: (p, t) => {
          if (p === 'owner3') return sending(t, (_to, _key, _payload, send) => (held.push(send), closed));
          if (collectors.includes(p)) {
            return sending(t, (_to, key, _payload, send) => {
              const sent = send();
              if (key.endsWith('/dropout/set') && !closing.has(p)) {
                closing.add(p);
                // the last collector closed: the late owner's messages go out now, while the sets are compared
                if (closing.size === collectors.length) void Promise.all(held.map((s) => s().catch(() => undefined))).then(release);
              }
              return sent;
            });
          }
          return t;
        },
      });
      // they did arrive at the servers
      assert.ok(wire.some((m) => m.from === 'owner3' && m.to === 'server0'));
      const r = outcomes.get(SERVER)!;
      assert.ok(r.ok, String((r as { error?: unknown }).error));
      const got = r.value!;
      assert.deepEqual(got.contributors, ['owner0', 'owner1', 'owner2', 'owner4']);
      const inputs = inputsFor(plan);
      const want = [0, 1, 2].map((k) => [0, 1, 2, 4].reduce((a, i) => a + Number(inputs[i]!.values[0]![k]), 0) / (uri === 'federated_secure_sum' ? 1 : 4));
      const sum = Array.from(got.leaves[0] as ArrayLike<number | bigint>, Number);
      if (uri === 'federated_secure_sum') assert.deepEqual(sum, want);
      else sum.forEach((v, k) => assert.ok(Math.abs(v - want[k]!) < 1e-3, `${v} vs ${want[k]} (the mean of the others)`));
      // every collector told SERVER the same set, without owner3
      const sets = wire.filter((m) => m.to === SERVER && m.key.endsWith('/dropout/survivors')).map((m) => [...m.payload]);
      assert.equal(sets.length, collectors.length);
      for (const s of sets) assert.deepEqual(s, [...bits([0, 1, 2, 4])]);
    });
  }
});
