/**
 * The MPC roles add each client's share into a running sum as it arrives:
 * every aggregator asks for every client's share of every leaf (and of the
 * weight) before any arrives, so no message is held waiting for its turn,
 * and the order in which the clients' shares arrive does not change a bit of
 * the result.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tensor, type DType } from '../../src/core/types.js';
import { mpcRoles } from '../../src/aggregation/mpc-roles.js';
import { checkPlan, type AggregationPlan } from '../../src/aggregation/plan.js';
import type { AggregationUri, AggregationResult } from '../../src/aggregation/protocol.js';
import type { AggregationRoles, ClientInput, PartyContext, RolePolicy } from '../../src/aggregation/roles.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import type { ReceiveOptions, Transport } from '../../src/transport/channel.js';

const OPEN: RolePolicy = Object.freeze({ minContributors: 1, allowInsecure: false });
let invocation = 0;

function makePlan(roles: AggregationRoles, uri: AggregationUri, leaves: { dtype: DType; size: number }[], n: number, bound?: bigint): AggregationPlan {
  return checkPlan({
    protocol: roles.name,
    invocationId: `stream/${++invocation}`,
    uri,
    target: uri.endsWith('_at_aggregators') ? 'AGGREGATORS' : 'SERVER',
    leaves: leaves.map((l, j) => ({ path: `[${j}]`, type: tensor(l.dtype, [l.size]), size: l.size })),
    clients: Array.from({ length: n }, (_, i) => `client-${i}`),
    aggregators: roles.aggregatorNames,
    server: 'server',
    params: roles.params,
    ...(bound === undefined ? {} : { bound }),
  });
}

/** A transport that reports each receive it is asked for (before anything arrives). */
function spied(t: Transport, onReceive: (from: string) => void): Transport {
  return new Proxy(t, {
    get(target, prop, receiver) {
      if (prop === 'receive') return (to: string, from: string, key: string, o?: ReceiveOptions) => (onReceive(from), target.receive(to, from, key, o));
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * Run the plan with the aggregators and the server started first; once every
 * aggregator has asked for every client's share messages, the clients run
 * one at a time in `order`, and after each, no message waits unclaimed.
 */
async function runInOrder(roles: AggregationRoles, plan: AggregationPlan, inputs: readonly ClientInput[], order: readonly number[], sharesPerClient: number): Promise<AggregationResult> {
  const hub = new MemoryHub();
  let asked = 0;
  const expected = plan.clients.length * sharesPerClient;
  let allAsked: () => void = () => undefined;
  const asking = new Promise<void>((r) => (allAsked = r));
  const ctx = (me: string, spy: boolean): PartyContext => {
    const t = new MemoryTransport({ hub, local: [me] });
    const onReceive = (from: string) => {
      if (plan.clients.includes(from) && ++asked === expected) allAsked();
    };
    return { me, transport: spy ? spied(t, onReceive) : t, policy: OPEN, timeoutMs: 60_000 };
  };
  try {
    const server = roles.server(ctx(plan.server, false), plan);
    const aggs = plan.aggregators.map((a, i) => roles.aggregator(ctx(a, true), plan, i));
    [server, ...aggs].forEach((p) => p.catch(() => undefined));
    // hang guard only: the aggregators ask for every share before any client has sent one
    let guard: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([asking, new Promise((_, reject) => (guard = setTimeout(() => reject(new Error(`the aggregators asked for ${asked} of the ${expected} share messages before any client sent`)), 30_000)))]);
    clearTimeout(guard);
    assert.equal(asked, expected);
    for (const i of order) {
      await roles.client(ctx(plan.clients[i]!, false), plan, inputs[i]!);
      assert.equal(hub.pending(), 0, `after client-${i}: every message it sent was taken by a waiting receive`);
    }
    const [atServer, ...atAggs] = await Promise.all([server, ...aggs]);
    return (plan.target === 'SERVER' ? atServer : atAggs[0])!;
  } finally {
    hub.close();
  }
}

/** The raw bytes of every leaf (bit-for-bit comparison, -0 and NaN patterns included). */
const bits = (r: AggregationResult): string[] =>
  r.leaves.map((l) => (l instanceof Float64Array || l instanceof BigInt64Array ? Buffer.from(l.buffer, l.byteOffset, l.byteLength).toString('hex') : JSON.stringify((l as readonly bigint[]).map(String))));

describe('mpcRoles: each client\'s share is added in as it arrives, in any order', () => {
  const n = 6;
  const orders = [[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [3, 0, 5, 1, 4, 2]];
  for (const protocol of ['aby3', 'pond'] as const) {
    const roles = mpcRoles({ protocol });
    // share messages each aggregator asks of one client per shared vector: ABY3 server0 1, server1 2, server2 1; Pond server0 1, server1 1
    const perVector = protocol === 'aby3' ? 4 : 2;
    const cases: { uri: AggregationUri; leaves: { dtype: DType; size: number }[]; bound?: bigint; weighted?: boolean }[] = [
      { uri: 'federated_weighted_mean_at_aggregators', leaves: [{ dtype: 'float32', size: 5 }, { dtype: 'float64', size: 3 }], weighted: true },
      { uri: 'federated_secure_sum', leaves: [{ dtype: 'int32', size: 4 }, { dtype: 'int64', size: 2 }], bound: 1n << 40n },
      { uri: 'federated_sum_at_aggregators', leaves: [{ dtype: 'float32', size: 4 }, { dtype: 'int64', size: 2 }] },
    ];
    for (const c of cases) {
      it(`${protocol}, ${c.uri}: every share is asked for before any arrives, none waits unclaimed, and the result has the same bits in every arrival order`, async () => {
        const inputs: ClientInput[] = Array.from({ length: n }, (_, k) => ({
          values: c.leaves.map((l, j) => {
            const v = (i: number) => (k + 1) * 1000 + j * 100 + i;
            if (l.dtype === 'int32') return Int32Array.from({ length: l.size }, (_, i) => v(i));
            if (l.dtype === 'int64') return BigInt64Array.from({ length: l.size }, (_, i) => BigInt(v(i)) * (c.bound === undefined ? 1n << 40n : 1n) * (c.bound === undefined && k % 2 ? -1n : 1n));
            const f = (_: unknown, i: number) => (k - 2.5) * 3.3 + i / 7;
            return l.dtype === 'float32' ? Float32Array.from({ length: l.size }, f) : Float64Array.from({ length: l.size }, f);
          }),
          ...(c.weighted ? { weight: 1 + k * 0.75 } : {}),
        }));
        const shared = c.leaves.length + (c.weighted ? 1 : 0);
        // (ABY3's exact secure sum to SERVER takes the fused path: one vector of every leaf, seeds to server0 and x2 to server1)
        const perClient = protocol === 'aby3' && c.uri === 'federated_secure_sum' ? 2 : shared * perVector;
        const results: AggregationResult[] = [];
        for (const order of orders) results.push(await runInOrder(roles, makePlan(roles, c.uri, c.leaves, n, c.bound), inputs, order, perClient));
        for (const r of results.slice(1)) assert.deepEqual(bits(r), bits(results[0]!), 'the same bits whatever the order');
        // integer leaves: the exact sum
        c.leaves.forEach((l, j) => {
          if (l.dtype !== 'int32' && l.dtype !== 'int64') return;
          const want = Array.from({ length: l.size }, (_, i) => inputs.reduce((a, x) => a + BigInt(x.values[j]![i]!), 0n));
          assert.deepEqual(Array.from(results[0]!.leaves[j] as BigInt64Array), want, `leaf ${j} is exact`);
        });
      });
    }
  }
});
