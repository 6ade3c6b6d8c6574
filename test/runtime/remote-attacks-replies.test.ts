/**
 * What the text of a reply can do: driver-controlled strings reach a
 * player's log, and a player's refusal names a party the driver believes.
 * (Findings 7a and 7b of branch attack-review; 7a is marked todo until fixed.)
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyError, withContext } from '../../src/core/index.js';
import { DEFAULT_POLICY } from '../../src/deploy/policy.js';
import { referenceRoles } from '../../src/aggregation/reference.js';
import { temperatureComputations } from '../../src/runtime/index.js';
import { clientData, remoteExecutionContext } from '../../src/runtime/remote/context.js';
import { execKey, servePlayerExecutor } from '../../src/runtime/remote/player.js';
import { frame, unframe } from '../../src/runtime/remote/wire.js';
import { HostingTransport } from '../../src/transport/hosting.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { closeHubs, config, DRIVER, GUARD_MS, network, typeJson } from './attack-helpers.js';

after(closeHubs);

describe('finding 7: reply and log text', () => {
  it(
    "7a: strings of a command reach the player's log unescaped (a forged 'session ended' line)",
    { todo: 'finding 7a: bad placement / no value #ref / bad value number quote String(x) of the command (player.ts:118, 123, 131, 155) into the log line (player.ts:271)' },
    async () => {
      const net = network(config(), () => DEFAULT_POLICY, () => 1);
      const { d } = await net.open();
      const forged = '\nowner0: session 0000000000000000 ended';
      const replies = [
        await d.command('owner0', { op: 'map', placement: `CLIENTS${forged}`, fn: 'x', arg: 0, out: 1 }),
        await d.command('owner0', { op: 'transfer', ref: `7${forged}` }),
        await d.command('owner0', { op: 'data', source: 'temps', type: typeJson('float32'), out: `1${forged}` }),
      ];
      await d.abort(net.players);
      await net.close();
      assert.ok(replies.every((r) => r.header['ok'] === false));
      const bad = net.logs.filter((l) => /[\u0000-\u001f]/.test(l));
      assert.deepEqual(bad, [], 'a log line holds a control character chosen by the driver');
    },
  );

  it(
    "7b: a malicious data owner's refusal names another (honest) party, and the driver reports that party",
    async () => {
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
    },
  );
});
