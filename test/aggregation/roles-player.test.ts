/**
 * deploy/roles-player.ts in one process: each party on its own
 * MemoryTransport of one hub (the cross-process run is
 * roles-processes.test.ts). runRole equals simulateRoles; a party refuses a
 * plan that names it where this process does not run it; the driver and
 * serveRoles: a refusal reaches the driver naming the party and the rule,
 * and every other party is told the plan ended.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TensorType } from '../../src/core/types.js';
import { PolicyError } from '../../src/core/errors.js';
import { checkPlan, planToBytes, type AggregationPlan } from '../../src/aggregation/plan.js';
import { referenceRoles } from '../../src/aggregation/reference.js';
import type { ClientInput, RolePolicy } from '../../src/aggregation/roles.js';
import { simulateRoles } from '../../src/aggregation/simulate.js';
import { resultToBytes } from '../../src/aggregation/wire.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { RoleDriver, runRole, serveRoles, type RoleOutcome } from '../../src/deploy/roles-player.js';

const leaf = (path: string, dtype: 'float32' | 'int32', n: number) => ({ path, type: new TensorType(dtype, [n]), size: n });
const OPEN: RolePolicy = Object.freeze({ minContributors: 1, allowInsecure: true });
const CLIENTS = ['c0', 'c1', 'c2'];

function plan(uri: 'federated_secure_sum' | 'federated_weighted_mean_at_aggregators', inv: string, clients = CLIENTS): AggregationPlan {
  const sum = uri === 'federated_secure_sum';
  return checkPlan({
    protocol: 'insecure-reference',
    invocationId: inv,
    uri,
    target: sum ? 'SERVER' : 'AGGREGATORS',
    leaves: sum ? [leaf('.a', 'int32', 5), leaf('.b', 'int32', 3)] : [leaf('.a', 'float32', 5), leaf('.b', 'int32', 3)],
    ...(sum ? { bound: 1n << 16n } : {}),
    clients,
    aggregators: ['agg'],
    server: 'server',
    params: {},
  });
}

function inputs(p: AggregationPlan): ClientInput[] {
  return p.clients.map(() => {
    const values = p.leaves.map((l) => (l.type.dtype === 'float32' ? Float32Array.from({ length: l.size }, () => Math.fround(Math.random() * 200 - 100)) : Int32Array.from({ length: l.size }, () => Math.floor(Math.random() * 65536))));
    return p.uri === 'federated_weighted_mean_at_aggregators' ? { values, weight: 0.5 + Math.random() * 3 } : { values };
  });
}

describe('runRole: one party of an aggregation on its own transport', () => {
  it('every party run by runRole (plans as bytes) gives the simulation\'s aggregate bit for bit', async () => {
    for (const uri of ['federated_secure_sum', 'federated_weighted_mean_at_aggregators'] as const) {
      const roles = referenceRoles();
      const p = plan(uri, `run/${uri}`);
      const ins = inputs(p);
      const sim = await simulateRoles(roles, p, ins, { policy: OPEN });
      const hub = new MemoryHub();
      const t = (me: string) => new MemoryTransport({ hub, local: [me] });
      const bytes = planToBytes(p);
      const [atServer, atAgg] = await Promise.all([
        runRole(t('server'), { roles, plan: p, role: 'server', policy: OPEN }),
        runRole(t('agg'), { roles, plan: bytes, role: 'aggregator', index: 0, policy: OPEN }),
        ...p.clients.map((c, i) => runRole(t(c), { roles, plan: bytes, role: 'client', input: ins[i]!, policy: OPEN })),
      ]);
      const got = p.target === 'SERVER' ? atServer : atAgg;
      assert.ok(got);
      assert.equal(p.target === 'SERVER' ? atAgg : atServer, undefined);
      assert.deepEqual(resultToBytes(p, got), resultToBytes(p, sim.result));
    }
  });

  it('a process refuses a role the plan gives to a party it does not run, before sending', async () => {
    const hub = new MemoryHub();
    const sent: string[] = [];
    const deliver = hub.deliver.bind(hub);
    hub.deliver = (from, to, key, payload) => {
      sent.push(`${from}>${to}:${key}`);
      deliver(from, to, key, payload);
    };
    const p = plan('federated_secure_sum', 'roster/1');
    const mallory = new MemoryTransport({ hub, local: ['mallory'] });
    await assert.rejects(runRole(mallory, { roles: referenceRoles(), plan: p, role: 'aggregator', index: 0, policy: OPEN }), (e: unknown) => e instanceof PolicyError && e.rule === 'roster' && e.party === 'agg');
    await assert.rejects(runRole(mallory, { roles: referenceRoles(), plan: p, role: 'client', input: inputs(p)[0]!, policy: OPEN }), /0 clients of the plan are local/);
    await assert.rejects(runRole(new MemoryTransport({ hub, local: ['agg'] }), { roles: referenceRoles(), plan: p, role: 'aggregator', policy: OPEN }), RangeError);
    await assert.rejects(runRole(new MemoryTransport({ hub, local: ['agg'] }), { roles: referenceRoles(), plan: p, role: 'aggregator', index: 0, policy: { minContributors: 0, allowInsecure: true } }), RangeError);
    assert.deepEqual(sent, []);
  });
});

describe('RoleDriver and serveRoles', () => {
  it('a refusal reaches the driver with the party and the rule; the others are told the plan ended', { timeout: 120_000 }, async (t) => {
    const hub = new MemoryHub();
    const outcomes: RoleOutcome[] = [];
    const clients = ['strict', 'c1', 'c2'];
    const p = plan('federated_secure_sum', 'refuse/1', clients);
    const ins = new Map(clients.map((c, i) => [c, inputs(p)[i]!]));
    const transports = ['agg', ...clients].map((me) => new MemoryTransport({ hub, local: [me] }));
    const serving = ['agg', ...clients].map((me, i) =>
      serveRoles(transports[i]!, {
        me,
        driver: 'server',
        protocols: [referenceRoles()],
        policy: me === 'strict' ? { minContributors: 5, allowInsecure: true } : OPEN,
        inputFor: () => (me === 'strict' ? assert.fail('a refusing client asks for no input') : ins.get(me)!),
        timeoutMs: 60_000,
        onOutcome: (o) => outcomes.push({ ...o, me } as RoleOutcome),
      }),
    );
    const driver = new RoleDriver(new MemoryTransport({ hub, local: ['server'] }), 'server');
    t.after(() => hub.close()); // a failed assertion leaves no player waiting
    await assert.rejects(driver.run(referenceRoles(), p, { policy: OPEN, timeoutMs: 60_000 }), (e: unknown) => e instanceof PolicyError && e.party === 'strict' && e.rule === 'minContributors' && /^strict: policy "minContributors" refuses: 3 clients/.test(e.message));
    // every party's plan ended: the refusing one with its error, the aggregator (waiting on it) aborted
    while (outcomes.length < 4) await new Promise((r) => setImmediate(r));
    const of = (me: string) => outcomes.find((o) => (o as RoleOutcome & { me: string }).me === me)!;
    assert.ok(of('strict').error instanceof PolicyError);
    assert.equal(of('agg').aborted, true);
    assert.equal(of('c1').error, undefined);
    // the next plan runs on the same players
    const q = plan('federated_secure_sum', 'ok/2', clients.slice(1).concat('c3'));
    const c3 = new MemoryTransport({ hub, local: ['c3'] });
    const q3 = inputs(q);
    ins.set('c1', q3[0]!).set('c2', q3[1]!);
    const s3 = serveRoles(c3, { me: 'c3', driver: 'server', protocols: [referenceRoles()], policy: OPEN, inputFor: () => q3[2]! });
    // c3 has had no plan from this driver: its first is number 0, the others' number 1
    const r = await driver.run(referenceRoles(), q, { policy: OPEN, timeoutMs: 20_000 });
    const sim = await simulateRoles(referenceRoles(), q, q3, { policy: OPEN });
    assert.deepEqual(resultToBytes(q, r.result!), resultToBytes(q, sim.result));
    hub.close();
    await Promise.all([...serving, s3]);
  });
});
