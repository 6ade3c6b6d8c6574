/**
 * A data owner killed mid-round, across OS processes: four data owners and
 * three compute servers (`fedcrypt player`, mutual TLS on 127.0.0.1), this
 * test process as the model owner with `remoteContext({ dropout: true })`.
 * owner3's data module announces the round and blocks; the test kills the
 * process (SIGKILL) at that line. The compute servers stop waiting at their
 * --collect-timeout, agree that owner3 contributed nothing, and the round
 * completes over the other three: the mean is theirs, the driver names the
 * dropped owner, and the next round runs without it. Without dropout
 * tolerance the same kill fails the round, naming owner3.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { remoteContext } from '../../src/deploy/remote.js';
import { clientData, RemotePlayerError } from '../../src/runtime/remote/context.js';
import { secureSumComputation, temperatureComputations } from '../../src/runtime/index.js';
import { withContext } from '../../src/core/index.js';
import { writeTlsDeployment, startCli, stop, waitFor, type Proc, BLOCKING_DATA_MODULE as DATA_MODULE, TEMPS } from './helpers.js';

const ROLES8: [string, string][] = [
  ['model-owner', 'model-owner'],
  ['server0', 'compute-server'], ['server1', 'compute-server'], ['server2', 'compute-server'],
  ['owner0', 'data-owner'], ['owner1', 'data-owner'], ['owner2', 'data-owner'], ['owner3', 'data-owner'],
];
// owner3 blocks in its data source after saying so (the test kills it there)

describe('a data owner killed mid-round', { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-dropout-'));
  const procs = new Map<string, Proc>();
  const start = async (name: string, extra: string[], env: Record<string, string> = {}) => {
    const old = { ...process.env };
    Object.assign(process.env, env);
    let p: Proc;
    try {
      p = startCli(name, ['player', '--config', 'config.json', '--name', name, ...extra], dir);
    } finally {
      for (const k of Object.keys(env)) if (old[k] === undefined) delete process.env[k];
    }
    procs.set(name, p);
    await waitFor(p, new RegExp(`${name}: serving on port`), 60_000);
    return p;
  };
  const owners = ['owner0', 'owner1', 'owner2'];

  before(async () => {
    await writeTlsDeployment(dir, ROLES8);
    writeFileSync(join(dir, 'data.mjs'), DATA_MODULE);
    await Promise.all([
      ...['server0', 'server1', 'server2'].map((n) => start(n, ['--collect-timeout', '5'])),
      ...owners.map((n) => start(n, ['--data', 'data.mjs'])),
    ]);
  });

  after(async () => {
    for (const p of procs.values()) await stop(p);
    rmSync(dir, { recursive: true, force: true });
  });

  const ctxOf = (dropout: boolean) => remoteContext({ config: join(dir, 'config.json'), key: join(dir, 'keys', 'model-owner.key'), protocol: 'aby3', timeoutMs: 60_000, dropout });

  for (const dropout of [true, false]) {
    test(dropout ? 'with dropout tolerance: the round completes over the three left, the driver names owner3, the next round runs without it' : 'without it: the round fails, naming owner3', async () => {
      const victim = await start('owner3', ['--data', 'data.mjs'], { FEDCRYPT_BLOCK_DATA: '1' });
      const killed = waitFor(victim, /owner3: data requested, blocking/, 120_000).then(() => victim.child.kill('SIGKILL'));
      const ctx = ctxOf(dropout);
      try {
        const round = withContext(ctx, () => temperatureComputations().server(clientData('temps')));
        if (!dropout) {
          await assert.rejects(round, (e: unknown) => e instanceof RemotePlayerError && e.player === 'owner3');
          await killed;
          return;
        }
        const mean = (await round) as number;
        await killed;
        const want = (TEMPS[0]! + TEMPS[1]! + TEMPS[2]!) / 3;
        assert.ok(Math.abs(mean - want) < 1e-4, `${mean} vs ${want} (owners 0-2)`);
        assert.equal(ctx.dropouts.length, 1);
        assert.deepEqual(ctx.dropouts[0]!.clients, ['owner3']);
        assert.deepEqual(ctx.dropouts[0]!.players, ['owner3']);
        assert.equal(ctx.numClients, 3);
        assert.deepEqual(await withContext(ctx, () => secureSumComputation()(clientData('vecs'))), [0 + 1 + 2, 1 + 11 + 21]);
      } catch (e) {
        if (process.env['DBG']) for (const p of procs.values()) console.error(p.out.join('\n'));
        throw e;
      } finally {
        await ctx.close();
        await stop(victim);
      }
    });
  }
});
