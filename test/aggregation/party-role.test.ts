/**
 * aggregation/party.ts: `prepareRole` checks one party's part in a plan (the
 * party is one this process runs, its place in the plan, its own policy, a
 * client's input) and sends nothing; `run()` then runs the role. Every party
 * prepared and run on its own transport gives the simulation's aggregate.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TensorType } from '../../src/core/types.js';
import { PolicyError } from '../../src/core/errors.js';
import { checkPlan, planToBytes, type AggregationPlan } from '../../src/aggregation/plan.js';
import { prepareRole } from '../../src/aggregation/party.js';
import { referenceRoles } from '../../src/aggregation/reference.js';
import { mpcRoles } from '../../src/aggregation/mpc-roles.js';
import type { AggregationRoles, ClientInput, RolePolicy } from '../../src/aggregation/roles.js';
import { simulateRoles } from '../../src/aggregation/simulate.js';
import { resultToBytes } from '../../src/aggregation/wire.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';

const leaf = (path: string, dtype: 'float32' | 'int32', n: number) => ({ path, type: new TensorType(dtype, [n]), size: n });
const OPEN: RolePolicy = Object.freeze({ minContributors: 1, allowInsecure: true });
const CLIENTS = ['c0', 'c1', 'c2'];

function plan(roles: AggregationRoles, uri: 'federated_secure_sum' | 'federated_weighted_mean_at_aggregators', inv: string, clients = CLIENTS): AggregationPlan {
  const sum = uri === 'federated_secure_sum';
  return checkPlan({
    protocol: roles.name,
    invocationId: inv,
    uri,
    target: sum ? 'SERVER' : 'AGGREGATORS',
    leaves: sum ? [leaf('.a', 'int32', 5), leaf('.b', 'int32', 3)] : [leaf('.a', 'float32', 5), leaf('.b', 'int32', 3)],
    ...(sum ? { bound: 1n << 16n } : {}),
    clients,
    aggregators: roles.aggregatorNames,
    server: 'server',
    params: roles.params,
  });
}

function inputs(p: AggregationPlan): ClientInput[] {
  return p.clients.map(() => {
    const values = p.leaves.map((l) => (l.type.dtype === 'float32' ? Float32Array.from({ length: l.size }, () => Math.fround(Math.random() * 200 - 100)) : Int32Array.from({ length: l.size }, () => Math.floor(Math.random() * 65536))));
    return p.uri === 'federated_weighted_mean_at_aggregators' ? { values, weight: 0.5 + Math.random() * 3 } : { values };
  });
}

/** A hub that logs every message sent on it. */
function loggedHub(): { hub: MemoryHub; sent: string[] } {
  const hub = new MemoryHub();
  const sent: string[] = [];
  const deliver = hub.deliver.bind(hub);
  hub.deliver = (from, to, key, payload) => {
    sent.push(`${from}>${to}:${key}`);
    deliver(from, to, key, payload);
  };
  return { hub, sent };
}

describe('prepareRole: one party of an aggregation on its own transport', () => {
  for (const roles of [referenceRoles(), mpcRoles({ protocol: 'aby3' })]) {
    it(`${roles.name}: every party prepared and run (plans as bytes) gives the simulation's aggregate bit for bit`, async () => {
      for (const uri of ['federated_secure_sum', 'federated_weighted_mean_at_aggregators'] as const) {
        const p = plan(roles, uri, `run/${uri}`);
        const ins = inputs(p);
        const sim = await simulateRoles(roles, p, ins, { policy: OPEN });
        const hub = new MemoryHub();
        const t = (me: string) => new MemoryTransport({ hub, local: [me] });
        const bytes = planToBytes(p);
        const parties = [
          prepareRole(t('server'), { roles, plan: p, role: 'server', policy: OPEN }),
          ...p.aggregators.map((a, i) => prepareRole(t(a), { roles, plan: bytes, role: 'aggregator', index: i, policy: OPEN })),
          ...p.clients.map((c, i) => prepareRole(t(c), { roles, plan: bytes, role: 'client', index: i, input: ins[i]!, policy: OPEN })),
        ];
        assert.deepEqual(parties.map((x) => x.me), [p.server, ...p.aggregators, ...p.clients]);
        const [atServer, ...rest] = await Promise.all(parties.map((x) => x.run()));
        const atAggs = rest.slice(0, p.aggregators.length);
        if (p.target === 'SERVER') {
          assert.deepEqual(resultToBytes(p, atServer!), resultToBytes(p, sim.result));
          assert.ok(atAggs.every((r) => r === undefined));
        } else {
          assert.equal(atServer, undefined);
          atAggs.forEach((r, i) => assert.deepEqual(resultToBytes(p, r!), resultToBytes(p, sim.atAggregators![i]!)));
        }
        assert.ok(rest.slice(p.aggregators.length).every((r) => r === undefined), 'a client holds an aggregate');
        hub.close();
      }
    });
  }

  it('refuses, sending nothing: a party this process does not run, a policy that refuses the plan, a client input outside the plan; and wrong arguments', () => {
    const { hub, sent } = loggedHub();
    const roles = referenceRoles();
    const p = plan(roles, 'federated_secure_sum', 'refuse/1');
    const mallory = new MemoryTransport({ hub, local: ['mallory'] });
    const agg = new MemoryTransport({ hub, local: ['aggregator'] });
    const c0 = new MemoryTransport({ hub, local: ['c0'] });
    const input = inputs(p)[0]!;
    // the plan gives its aggregator and its client 0 to parties mallory's process does not run
    assert.throws(() => prepareRole(mallory, { roles, plan: p, role: 'aggregator', index: 0, policy: OPEN }), (e: unknown) => e instanceof PolicyError && e.rule === 'roster' && e.party === 'aggregator');
    assert.throws(() => prepareRole(mallory, { roles, plan: p, role: 'client', index: 0, input, policy: OPEN }), (e: unknown) => e instanceof PolicyError && e.rule === 'roster' && e.party === 'c0');
    // the party's own policy: too few contributors, no opt-in to a protocol that is not secure
    assert.throws(() => prepareRole(c0, { roles, plan: p, role: 'client', index: 0, input, policy: { minContributors: 4, allowInsecure: true } }), (e: unknown) => e instanceof PolicyError && e.rule === 'minContributors' && e.party === 'c0');
    assert.throws(() => prepareRole(agg, { roles, plan: p, role: 'aggregator', index: 0, policy: { minContributors: 1, allowInsecure: false } }), (e: unknown) => e instanceof PolicyError && e.rule === 'protocol' && e.party === 'aggregator');
    // the client's own input: a value outside the secure sum's bound, a leaf of the wrong size
    const big = { values: [Int32Array.of(1, 2, 3, 4, 1 << 16), input.values[1]!] };
    assert.throws(() => prepareRole(c0, { roles, plan: p, role: 'client', index: 0, input: big, policy: OPEN }), /element 4 = 65536 outside \[0, 65536\)/);
    assert.throws(() => prepareRole(c0, { roles, plan: p, role: 'client', index: 0, input: { values: [Int32Array.of(1), input.values[1]!] }, policy: OPEN }), RangeError);
    // arguments
    assert.throws(() => prepareRole(agg, { roles, plan: p, role: 'aggregator', policy: OPEN }), RangeError);
    assert.throws(() => prepareRole(agg, { roles, plan: p, role: 'aggregator', index: 1, policy: OPEN }), RangeError);
    assert.throws(() => prepareRole(c0, { roles, plan: p, role: 'client', index: 0, policy: OPEN }), TypeError);
    assert.throws(() => prepareRole(agg, { roles, plan: p, role: 'aggregator', index: 0, policy: { minContributors: 0, allowInsecure: true } }), RangeError);
    assert.throws(() => prepareRole(agg, { roles, plan: p, role: 'dealer' as 'server', policy: OPEN }), RangeError);
    assert.throws(() => prepareRole({} as MemoryTransport, { roles, plan: p, role: 'server', policy: OPEN }), TypeError);
    assert.deepEqual(sent, []);
    hub.close();
  });
});
