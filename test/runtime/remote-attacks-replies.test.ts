/**
 * What the text of a reply (and of a player's log) can tell or do: a reply
 * that describes a client's value (finding 6), driver-controlled strings in
 * a player's log (7a), a refusal naming another party (7b). Findings of
 * branch attack-review; an attack that still succeeds is marked `todo`.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { localComputation, PolicyError, registerLocalComputation, unregisterLocalComputation, withContext } from '../../src/core/index.js';
import { TensorType } from '../../src/core/types.js';
import { mpcRoles } from '../../src/aggregation/mpc-roles.js';
import { planToBytes } from '../../src/aggregation/plan.js';
import { DEFAULT_POLICY } from '../../src/deploy/policy.js';
import { SESSION_KEY } from '../../src/deploy/session.js';
import { referenceRoles } from '../../src/aggregation/reference.js';
import { temperatureComputations } from '../../src/runtime/index.js';
import { clientData, remoteExecutionContext } from '../../src/runtime/remote/context.js';
import { execKey, servePlayerExecutor, type DataSource } from '../../src/runtime/remote/player.js';
import { frame, unframe } from '../../src/runtime/remote/wire.js';
import { HostingTransport } from '../../src/transport/hosting.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { closeHubs, config, DRIVER, failed, finish, GUARD_MS, network, opened, plan, sessionEnded, typeJson } from './attack-helpers.js';

after(closeHubs);

/** The victim owner0 holds 5 readings, every other owner 3; 'signed' is -3 at owner0, 2.5 elsewhere. */
const data: DataSource = (source, c) => {
  const victim = c.name.split(':')[0] === 'owner0';
  if (source === 'readings') return victim ? [1, 2, 3, 4, 5] : [1, 2, 3];
  if (source === 'signed') return victim ? -3 : 2.5;
  return 1;
};
/** A reply's header without the frame's own blob list (asserted empty). */
const head = (r: { header: Record<string, unknown>; blobs: readonly Uint8Array[] }): Record<string, unknown> => {
  assert.equal(r.blobs.length, 0);
  const { blobs: _, ...h } = r.header;
  return h;
};
const withoutName = (r: { header: Record<string, unknown>; blobs: readonly Uint8Array[] }, name: string) => ({ ...head(r), error: String(r.header['error']).replaceAll(name, 'X'), party: 'X' });

describe("finding 6: replies to data and map describe a client's value", () => {
  it("a 'data' reply carries no type; a 'data' command with unknown dimensions is refused (not answered with the victim's shape) and ends the session", async () => {
    const a = await opened(config(), () => DEFAULT_POLICY, data);
    const known = await a.d.command('owner0', { op: 'data', out: 0, source: 'readings', type: typeJson('float32', [5]) });
    const unknown = await a.d.command('owner0', { op: 'data', out: 1, source: 'readings', type: typeJson('float32', [null]) });
    await sessionEnded(a.net, 'owner0', a.d.session);
    await finish(a);
    assert.deepEqual(head(known), { ok: true });
    assert.deepEqual(head(unknown), { ok: false, error: failed('owner0'), party: 'owner0' });
    assert.ok(a.net.logs.some((l) => /^owner0: command 1 failed: RangeError: .*unknown dimensions/.test(l)), a.net.logs.join('\n'));
  });

  it('a dtype the value does not fit: the failures of a negative integer (victim) and of a fraction read the same', async () => {
    const a = await opened(config(), () => DEFAULT_POLICY, data);
    const neg = await a.d.command('owner0', { op: 'data', out: 0, source: 'signed', type: typeJson('uint32') });
    const frac = await a.d.command('owner1', { op: 'data', out: 0, source: 'signed', type: typeJson('uint32') });
    await finish(a);
    assert.equal(neg.header['ok'], false);
    assert.deepEqual(withoutName(neg, 'owner0'), withoutName(frac, 'owner1'));
  });

  it("a 'map' of a registered computation whose result has unknown dimensions is refused before it runs", async () => {
    let runs = 0;
    const echo = localComputation([new TensorType('float32', [5])], (x: number[]) => (runs++, x.slice(0, 2)), { name: 'echo', result: new TensorType('float32', [null]) });
    registerLocalComputation('test.attacks.echo', echo);
    try {
      const a = await opened(config(), () => DEFAULT_POLICY, data);
      await a.d.command('owner0', { op: 'data', out: 0, source: 'readings', type: typeJson('float32', [5]) });
      const r = await a.d.command('owner0', { op: 'map', placement: 'CLIENTS', fn: 'test.attacks.echo', arg: 0, out: 1 });
      await sessionEnded(a.net, 'owner0', a.d.session);
      await finish(a);
      assert.deepEqual(head(r), { ok: false, error: failed('owner0'), party: 'owner0' });
      assert.equal(runs, 0);
      assert.ok(a.net.logs.some((l) => /^owner0: command 1 failed: RangeError: owner0: "test\.attacks\.echo" has a result type with unknown dimensions/.test(l)), a.net.logs.join('\n'));
    } finally {
      unregisterLocalComputation('test.attacks.echo');
    }
  });
});

describe('finding 7: reply and log text', () => {
  const forged = '\nowner0: session 0000000000000000 ended';
  const controlChars = (logs: readonly string[]) => logs.filter((l) => /[\u0000-\u001f]/.test(l));

  it("7a: strings of a command (placement, ref, value number, the plan's bytes, a plan parameter) reach the player's log quoted", async () => {
    const ABY3 = mpcRoles({ protocol: 'aby3' });
    const attempts: [string, (s: string) => [Record<string, unknown>, Uint8Array[]]][] = [
      ['placement', () => [{ op: 'map', placement: `CLIENTS${forged}`, fn: 'x', arg: 0, out: 1 }, []]],
      ['ref', () => [{ op: 'transfer', ref: `7${forged}` }, []]],
      ['value number', () => [{ op: 'data', source: 'temps', type: typeJson('float32'), out: `1${forged}` }, []]],
      ['plan bytes', () => [{ op: 'aggregate', value: 0, out: 100, resultType: typeJson('int32', [2]) }, [new TextEncoder().encode(`x${forged}`)]]],
      ['plan parameter', (s) => [{ op: 'aggregate', value: 0, out: 100, resultType: typeJson('int32', [2]) }, [planToBytes(plan({ session: s, n: 0, protocol: ABY3.name, params: { ...ABY3.params, precision: `low${forged}` }, clients: ['owner0', 'owner1', 'owner2'] }))]]],
    ];
    for (const [what, make] of attempts) {
      const a = await opened(config(), () => DEFAULT_POLICY, data);
      const [h, blobs] = make(a.d.session);
      const r = await a.d.command('owner0', h, blobs);
      await sessionEnded(a.net, 'owner0', a.d.session);
      await finish(a);
      assert.equal(r.header['ok'], false, what);
      assert.ok(!/[\u0000-\u001f]/.test(String(r.header['error'])), what);
      assert.ok(a.net.logs.some((l) => l.startsWith('owner0: command 0 failed: ')), what);
      assert.deepEqual(controlChars(a.net.logs), [], `${what}: a log line holds a control character chosen by the driver`);
    }
  });

  it(
    "7a: a session request's text (a malformed request, a config hash) reaches the player's log raw",
    async () => {
      const net = network(config(), () => DEFAULT_POLICY, data);
      const session = 'abcdef0123456789';
      const enc = new TextEncoder();
      const driver = new MemoryTransport({ hub: net.hub, local: [DRIVER] });
      await driver.send(DRIVER, 'owner0', SESSION_KEY, enc.encode(`x${forged}`));
      await driver.send(DRIVER, 'owner0', SESSION_KEY, enc.encode(JSON.stringify({ v: 1, session, configHash: '\nowner0: ok' })));
      // the requests are handled in order; the second's refusal is answered under its open key (after it is logged)
      const answer = JSON.parse(new TextDecoder().decode(await driver.receive(DRIVER, 'owner0', `exec/${session}/open`, { timeoutMs: GUARD_MS }))) as { ok: boolean };
      await net.close();
      assert.equal(answer.ok, false);
      assert.equal(net.logs.filter((l) => l.startsWith('owner0: refused a session: ')).length, 2, net.logs.join('\n'));
      assert.deepEqual(controlChars(net.logs), [], 'a log line holds a control character chosen by the driver');
    },
  );

  it("7b: a malicious data owner's refusal names another (honest) party, and the driver reports the replying one", async () => {
    const hub = new MemoryHub();
    const session = 'blame';
    const t = (p: string) => new HostingTransport(new MemoryTransport({ hub, local: [p] }));
    const roles = referenceRoles();
    const policy = { minContributors: 1, allowInsecure: true };
    const honest = ['owner0', 'aggregator'].map((p) =>
      servePlayerExecutor(t(p), { me: p, driver: DRIVER, session, clients: p === 'owner0' ? ['owner0'] : [], data: () => 1, roles: [roles], policy, timeoutMs: GUARD_MS }).catch((e: unknown) => e),
    );
    // owner1 answers its first command with a refusal in owner0's name
    const mallory = t('owner1');
    const lie = (async () => {
      unframe(await mallory.receive('owner1', DRIVER, execKey(session, 0), { timeoutMs: GUARD_MS }), 'command');
      await mallory.send('owner1', DRIVER, `${execKey(session, 0)}/reply`, frame({ ok: false, error: 'owner0: policy "minContributors" refuses: too few', rule: 'minContributors', party: 'owner0' }));
    })();
    const ctx = remoteExecutionContext({
      transport: t(DRIVER), server: DRIVER, session, roles, policy, timeoutMs: GUARD_MS,
      players: [{ name: 'owner0', clients: ['owner0'] }, { name: 'owner1', clients: ['owner1'] }, { name: 'aggregator', clients: [] }],
    });
    const err = await withContext(ctx, () => temperatureComputations().server(clientData('temps'))).then(() => undefined, (e: unknown) => e);
    await lie;
    await Promise.all(honest);
    hub.close();
    assert.ok(err instanceof PolicyError, String(err));
    assert.equal(err.party, 'owner1', `the driver blames '${err.party}' for owner1's refusal`);
  });
});
