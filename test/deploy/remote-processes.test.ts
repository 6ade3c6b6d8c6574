/**
 * `remoteContext` across OS processes: six players (`fedcrypt player`, each
 * serving its own clients' data from its --data module) on 127.0.0.1 with
 * mutual TLS, this test process as the model owner. User-written federated
 * computations print the same values as in one process; a player whose
 * operator did not opt in refuses the plaintext reference, and the driver's
 * error names it and the rule.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { remoteContext } from '../../src/deploy/remote.js';
import { clientData } from '../../src/runtime/remote/context.js';
import { insecureReferenceAggregation, localContext, secureSumComputation, temperatureComputations } from '../../src/runtime/index.js';
import { PolicyError, withContext } from '../../src/core/index.js';
import { ROLES7, writeTlsDeployment, startCli, stop, waitFor, type Proc } from './helpers.js';

// the players' data: each client's value from its own name (the driver never reads this file)
const DATA_MODULE = `
const TEMPS = [68.5, 70, 69.5, 71.25, 72, 66, 67.5];
const owner = (n) => Number(/^owner(\\d)/.exec(n)[1]);
const index = (n) => (n.includes(':') ? Number(n.split(':')[1]) : 0);
export function data(source, client) {
  if (source === 'temps') return TEMPS[(3 * owner(client.name) + index(client.name)) % TEMPS.length];
  if (source === 'vecs') return [owner(client.name), 10 * index(client.name) + 1];
  throw new RangeError('no data source ' + source);
}
`;
const TEMPS = [68.5, 70, 69.5, 71.25, 72, 66, 67.5];
const ownerOf = (n: string) => Number(/^owner(\d)/.exec(n)![1]);
const indexOf = (n: string) => (n.includes(':') ? Number(n.split(':')[1]) : 0);
// owner2 hosts two clients
const CLIENTS = ['owner0', 'owner1', 'owner2:0', 'owner2:1'];

describe('remoteContext across processes', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-remote-'));
  const procs = new Map<string, Proc>();
  const start = async (name: string, extra: string[]) => {
    const p = startCli(name, ['player', '--config', 'config.json', '--name', name, ...extra], dir);
    procs.set(name, p);
    await waitFor(p, new RegExp(`${name}: serving on port`), 60_000);
  };
  const ownerArgs = (name: string, optIn: boolean) => ['--data', 'data.mjs', ...(optIn ? ['--insecure-allow-plaintext'] : []), ...(name === 'owner2' ? ['--clients', '2'] : [])];

  before(async () => {
    await writeTlsDeployment(dir, ROLES7);
    writeFileSync(join(dir, 'data.mjs'), DATA_MODULE);
    await Promise.all(
      ROLES7.slice(1).map(([name, role]) => start(name, role === 'data-owner' ? ownerArgs(name, true) : ['--insecure-allow-plaintext'])),
    );
  });

  after(async () => {
    for (const p of procs.values()) await stop(p);
    rmSync(dir, { recursive: true, force: true });
  });

  const ctxOf = (protocol: 'plaintext' | 'aby3' | 'pond' = 'plaintext') =>
    remoteContext({ config: join(dir, 'config.json'), key: join(dir, 'keys', 'model-owner.key'), protocol, insecureAllowPlaintext: protocol === 'plaintext', timeoutMs: 30_000 });

  test('the temperature example and the secure sum give the in-process values', async () => {
    const ctx = ctxOf();
    const local = localContext({ aggregation: insecureReferenceAggregation({ warn: () => {} }) });
    try {
      const t = temperatureComputations();
      const readings = CLIENTS.map((n) => TEMPS[(3 * ownerOf(n) + indexOf(n)) % TEMPS.length]!);
      for (const comp of [t.server, t.aggregatorsShort]) {
        const want = await withContext(local, () => comp(readings));
        assert.equal(await withContext(ctx, () => comp(clientData('temps'))), want, comp.computationName);
      }
      assert.equal(ctx.numClients, 4);
      const s = secureSumComputation();
      const want = await withContext(local, () => s(CLIENTS.map((n) => [ownerOf(n), 10 * indexOf(n) + 1])));
      assert.deepEqual(await withContext(ctx, () => s(clientData('vecs'))), want);
    } finally {
      await ctx.close();
    }
  });

  for (const protocol of ['aby3', 'pond'] as const) {
    test(`${protocol} across the processes: the same values (secure sum exact, mean within the fixed-point bound)`, async () => {
      const ctx = ctxOf(protocol);
      try {
        const readings = CLIENTS.map((n) => Math.fround(TEMPS[(3 * ownerOf(n) + indexOf(n)) % TEMPS.length]!));
        const want = readings.reduce((a, b) => a + b, 0) / readings.length;
        const t = temperatureComputations();
        for (const comp of [t.server, t.aggregatorsShort]) {
          const r = (await withContext(ctx, () => comp(clientData('temps')))) as number;
          assert.ok(Math.abs(r - want) <= CLIENTS.length * 2 ** -17 + 1e-5, `${comp.computationName}: ${r} vs ${want}`);
        }
        assert.deepEqual(await withContext(ctx, () => secureSumComputation()(clientData('vecs'))), [0 + 1 + 2 + 2, 1 + 1 + 1 + 11]);
      } finally {
        await ctx.close();
      }
    });
  }

  test('a data owner started without the opt-in refuses the plaintext reference; the error names it and the rule', async () => {
    await stop(procs.get('owner1')!);
    await start('owner1', ownerArgs('owner1', false));
    const ctx = ctxOf();
    try {
      await assert.rejects(
        withContext(ctx, () => temperatureComputations().server(clientData('temps'))),
        (e: unknown) => e instanceof PolicyError && e.rule === 'protocol' && e.party === 'owner1',
      );
    } catch (e) {
      if (process.env['DBG']) for (const p of procs.values()) console.error(p.out.join('\n'));
      throw e;
    } finally {
      await ctx.close();
    }
    await waitFor(procs.get('owner1')!, /owner1: command \d+ failed: PolicyError/, 30_000);
  });
});
