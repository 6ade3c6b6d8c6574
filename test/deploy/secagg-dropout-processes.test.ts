/**
 * SecAgg with a data owner killed mid-aggregation, across OS processes: four
 * data owners (`fedcrypt player`, mutual TLS on 127.0.0.1, no compute
 * server), this test process as the model owner and SecAgg's SERVER with
 * `remoteContext({ protocol: 'secagg', dropout: true })`. owner3's data
 * module announces the aggregation and blocks; the test kills the process
 * (SIGKILL) at that line. SERVER's collection of round 0 ends when owner3's
 * link is lost (owner3 is not in U1), the other players' release gate waits
 * only for the players of U1, and the mean is that of owners 0 to 2; the
 * driver names the dropout, and the next aggregation runs without owner3.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { remoteContext } from '../../src/deploy/remote.js';
import { secAggPlanParams } from '../../src/deploy/stack-training.js';
import { clientData } from '../../src/runtime/remote/context.js';
import { secureSumComputation, temperatureComputations } from '../../src/runtime/index.js';
import { withContext } from '../../src/core/index.js';
import { writeTlsDeployment, startCli, stop, waitFor, type Proc, BLOCKING_DATA_MODULE as DATA_MODULE, TEMPS } from './helpers.js';

const ROLES: [string, string][] = [
  ['model-owner', 'model-owner'], ['owner0', 'data-owner'], ['owner1', 'data-owner'], ['owner2', 'data-owner'], ['owner3', 'data-owner'],
];

describe('secagg: a data owner killed mid-aggregation (processes)', { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-secagg-dropout-'));
  const procs = new Map<string, Proc>();
  const start = async (name: string, env: Record<string, string> = {}) => {
    const old = { ...process.env };
    Object.assign(process.env, env);
    let p: Proc;
    try {
      p = startCli(name, ['player', '--config', 'config.json', '--name', name, '--data', 'data.mjs'], dir);
    } finally {
      for (const k of Object.keys(env)) if (old[k] === undefined) delete process.env[k];
    }
    procs.set(name, p);
    await waitFor(p, new RegExp(`${name}: serving on port`), 90_000);
    return p;
  };

  before(async () => {
    await writeTlsDeployment(dir, ROLES, { policy: { protocols: ['secagg'] } });
    writeFileSync(join(dir, 'data.mjs'), DATA_MODULE);
    await Promise.all(['owner0', 'owner1', 'owner2'].map((n) => start(n)));
  });

  after(async () => {
    for (const p of procs.values()) await stop(p);
    rmSync(dir, { recursive: true, force: true });
  });

  test('the mean is over the three left, the driver names owner3, the next secure sum runs without it', async () => {
    const victim = await start('owner3', { FEDCRYPT_BLOCK_DATA: '1' });
    const killed = waitFor(victim, /owner3: data requested, blocking/, 120_000).then(() => victim.child.kill('SIGKILL'));
    const ctx = remoteContext({
      config: join(dir, 'config.json'), key: join(dir, 'keys', 'model-owner.key'), protocol: 'secagg',
      params: secAggPlanParams({ graph: 'complete', threshold: null, adversary: 'semi-honest' }), timeoutMs: 60_000, dropout: true,
    });
    try {
      const mean = (await withContext(ctx, () => temperatureComputations().server(clientData('temps')))) as number;
      await killed;
      const want = (TEMPS[0]! + TEMPS[1]! + TEMPS[2]!) / 3;
      assert.ok(Math.abs(mean - want) < 1e-4, `${mean} vs ${want} (owners 0-2)`);
      assert.equal(ctx.dropouts.length, 1);
      assert.deepEqual(ctx.dropouts[0]!.clients, ['owner3']);
      assert.deepEqual(ctx.dropouts[0]!.players, ['owner3']);
      assert.equal(ctx.numClients, 3);
      assert.deepEqual(await withContext(ctx, () => secureSumComputation()(clientData('vecs'))), [0 + 1 + 2, 1 + 11 + 21]);
    } catch (e) {
      for (const p of procs.values()) console.error(p.out.slice(-10).join('\n'));
      throw e;
    } finally {
      await ctx.close();
      await stop(victim);
    }
  });
});
