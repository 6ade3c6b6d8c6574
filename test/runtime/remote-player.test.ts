/**
 * A player of the remote executor checks its place in every plan an
 * 'aggregate' command brings, and every party it runs there, before any of
 * them sends (`prepareRole`); and a refusal in an aggregation ends the
 * session at once: the driver throws the refusing party's PolicyError, every
 * other player and the driver's own role stop waiting.
 *
 * The first tests are a malicious driver: it frames its own commands and
 * sends them straight to an honest player (owner0, hosting two clients).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyError, tensor, withContext } from '../../src/core/index.js';
import { typeToJson } from '../../src/core/types.js';
import { secureSumComputation } from '../../src/runtime/index.js';
import { clientData, remoteExecutionContext, type RemotePlayer } from '../../src/runtime/remote/context.js';
import { execKey, servePlayerExecutor } from '../../src/runtime/remote/player.js';
import { frame, unframe } from '../../src/runtime/remote/wire.js';
import { checkPlan, planToBytes, type AggregationPlan } from '../../src/aggregation/plan.js';
import { referenceRoles } from '../../src/aggregation/reference.js';
import type { AggregationResult } from '../../src/aggregation/protocol.js';
import type { AggregationRoles, RolePolicy } from '../../src/aggregation/roles.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { HostingTransport } from '../../src/transport/hosting.js';

const OPT_IN: RolePolicy = Object.freeze({ minContributors: 1, allowInsecure: true });
const VEC = tensor('int32', [2]);
const DRIVER = 'model-owner';

/** A hub that logs every message sent on it (player names, as the network sees them). */
function loggedHub(): { hub: MemoryHub; sent: { from: string; to: string; key: string }[] } {
  const hub = new MemoryHub();
  const sent: { from: string; to: string; key: string }[] = [];
  const deliver = hub.deliver.bind(hub);
  hub.deliver = (from, to, key, payload) => {
    sent.push({ from, to, key });
    deliver(from, to, key, payload);
  };
  return { hub, sent };
}

function plan(over: Partial<AggregationPlan>): AggregationPlan {
  return checkPlan({
    protocol: 'insecure-reference',
    invocationId: 'mal/agg/0',
    uri: 'federated_secure_sum',
    target: 'SERVER',
    leaves: [{ path: '', type: VEC, size: 2 }],
    bound: 1n << 8n,
    clients: ['owner0:0', 'owner0:1'],
    aggregators: ['aggregator'],
    server: DRIVER,
    params: {},
    ...over,
  });
}

describe("a player checks its place in an 'aggregate' plan, and every party it runs there, before any sends (a malicious driver)", () => {
  async function victim(values: Record<string, number[]>) {
    const { hub, sent } = loggedHub();
    const session = 'mal';
    const log: string[] = [];
    const served = servePlayerExecutor(new HostingTransport(new MemoryTransport({ hub, local: ['owner0'] })), {
      me: 'owner0',
      driver: DRIVER,
      session,
      clients: ['owner0:0', 'owner0:1'],
      data: (_source, c) => values[c.name],
      roles: [referenceRoles()],
      policy: OPT_IN,
      timeoutMs: 60_000,
      log: (l) => log.push(l),
    });
    const mallory = new MemoryTransport({ hub, local: [DRIVER] });
    let seq = 0;
    const command = async (header: Record<string, unknown>, blobs: Uint8Array[] = []) => {
      const key = execKey(session, seq++);
      await mallory.send(DRIVER, 'owner0', key, frame(header, blobs));
      return unframe(await mallory.receive(DRIVER, 'owner0', `${key}/reply`, { timeoutMs: 60_000 }), 'reply').header;
    };
    // the reply never describes the value (no type, no shape): the driver named the type in full
    assert.deepEqual(await command({ op: 'data', out: 0, source: 'vecs', type: typeToJson(VEC) }), { ok: true, blobs: [] });
    /** What owner0 sent that is not a reply to the driver. */
    const contributions = () => sent.filter((m) => m.from === 'owner0' && !m.key.endsWith('/reply'));
    const end = async () => {
      await command({ op: 'end' });
      await served;
      hub.close();
    };
    const stopped = async () => {
      await served;
      hub.close();
    };
    return { command, contributions, log, end, stopped };
  }

  it('refuses a plan naming a client it does not host, a SERVER that is not its driver, or none of its parties: a PolicyError (roster) naming the player, nothing sent; the refusal ends its session', async () => {
    for (const [p, why] of [
      [plan({ clients: ['owner0:0', 'owner0:1', 'owner0:7'] }), /names client 'owner0:7', which this player does not host/],
      [plan({ server: 'mallory' }), /names 'mallory' as SERVER, this session's driver is 'model-owner'/],
      [plan({ clients: ['owner1:0', 'owner1:1'] }), /gives this player no part/],
    ] as const) {
      const v = await victim({ 'owner0:0': [1, 2], 'owner0:1': [3, 4] });
      const r = await v.command({ op: 'aggregate', value: 0, out: 1 }, [planToBytes(p)]);
      assert.equal(r['ok'], false);
      assert.equal(r['rule'], 'roster');
      assert.equal(r['party'], 'owner0');
      assert.match(String(r['error']), why);
      assert.deepEqual(v.contributions(), []);
      // a failed command ends the player's session: nothing more can be asked of it
      await v.stopped();
    }
  });

  it('an input outside the bound is clipped at its client (logged there only), so whether the aggregation goes on never depends on a value', async () => {
    const v = await victim({ 'owner0:0': [1, 2], 'owner0:1': [3, 300] });
    const r = await v.command({ op: 'aggregate', value: 0, out: 1 }, [planToBytes(plan({}))]);
    assert.equal(r['ok'], true);
    assert.match(v.log.join('\n'), /owner0:1: 1 value\(s\) outside the plan's range or not finite were clipped/);
    assert.ok(!v.log.join('\n').includes('300'), 'the log quotes the value');
    // both clients contributed (the reference sends in the clear: owner0:1's second element is 255, the bound minus one)
    const sent = v.contributions().filter((m) => m.key.includes('/ref/value'));
    assert.equal(sent.length, 2);
    await v.end();
  });
});

describe("a refusal in an 'aggregate' ends the session", () => {
  it("a hosted client's refusal reaches the driver as its PolicyError; every other player and the driver's own role stop waiting", { timeout: 120_000 }, async () => {
    const hub = new MemoryHub();
    const session = 'refused';
    const owners: RemotePlayer[] = [
      { name: 'owner0', clients: ['owner0:0', 'owner0:1'] },
      { name: 'owner1', clients: ['owner1:0'] },
    ];
    const players: RemotePlayer[] = [...owners, { name: 'aggregator', clients: [] }];
    const logs = new Map<string, string[]>(players.map((p) => [p.name, []]));
    const served = players.map((p) =>
      servePlayerExecutor(new HostingTransport(new MemoryTransport({ hub, local: [p.name] })), {
        me: p.name,
        driver: DRIVER,
        session,
        clients: p.clients,
        data: (_source, c) => [c.index, 1],
        roles: [referenceRoles()],
        // owner1 (the last to contribute) requires more contributors than the plan has
        policy: p.name === 'owner1' ? { minContributors: 4, allowInsecure: true } : OPT_IN,
        timeoutMs: 60_000,
        log: (l) => logs.get(p.name)!.push(l),
      }),
    );
    // the driver's own role, watched: it waits on the aggregator, which waits on owner1:0
    const roles = referenceRoles();
    let ownRole: Promise<AggregationResult | undefined> | undefined;
    const watchedRoles: AggregationRoles = { ...roles, server: (ctx, p) => (ownRole = roles.server(ctx, p)) };
    const ctx = remoteExecutionContext({ transport: new HostingTransport(new MemoryTransport({ hub, local: [DRIVER] })), server: DRIVER, session, players, roles: watchedRoles, policy: OPT_IN, timeoutMs: 60_000 });
    await assert.rejects(
      withContext(ctx, () => secureSumComputation()(clientData('vecs'))),
      (e: unknown) => e instanceof PolicyError && e.rule === 'minContributors' && e.party === 'owner1:0' && /^owner1:0: policy "minContributors" refuses: 2 distinct contributors/.test(e.message),
    );
    // the aggregator was waiting on owner1:0: it gave up at the abort, and every player stopped serving the session
    await Promise.all(served);
    assert.match(logs.get('aggregator')!.join('\n'), /command 0 failed: TransportError: receive from 'owner1:0': the driver aborted the session/);
    assert.deepEqual(logs.get('owner0'), []);
    assert.ok(ownRole, "the driver's role did not run");
    await assert.rejects(ownRole, /receive from 'aggregator': the aggregation failed at a player/);
    hub.close();
  });
});
