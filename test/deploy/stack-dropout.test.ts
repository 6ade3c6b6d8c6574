/**
 * `fedcrypt train --config --mode fedavg --dropout`: four data owners serve
 * their own MNIST ranges, three compute servers wait at most
 * --collect-timeout for the owners' shares. owner3 is killed (SIGKILL) once
 * the driver reports round 1: the run goes on over the other three owners to
 * its last round, exits 0, and metrics.json and report.html name the round
 * owner3 dropped out of. Without --dropout the same kill stops the run,
 * naming owner3.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTlsDeployment, startCli, stop, waitFor, type Proc } from './helpers.js';

const ROLES8: [string, string][] = [
  ['model-owner', 'model-owner'],
  ['server0', 'compute-server'], ['server1', 'compute-server'], ['server2', 'compute-server'],
  ['owner0', 'data-owner'], ['owner1', 'data-owner'], ['owner2', 'data-owner'], ['owner3', 'data-owner'],
];
const ROUNDS = 3;

describe('FedAvg across processes with a data owner killed mid-run', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-stack-dropout-'));
  const procs: Proc[] = [];
  const startPlayer = async (name: string): Promise<Proc> => {
    const i = Number(/^owner(\d)$/.exec(name)?.[1] ?? -1);
    const extra = i >= 0 ? ['--data', `mnist:${i * 300}-${(i + 1) * 300}`] : ['--collect-timeout', '5'];
    const p = startCli(name, ['player', '--config', 'config.json', '--name', name, ...extra], dir);
    procs.push(p);
    await waitFor(p, new RegExp(`${name}: serving on port`), 60_000);
    return p;
  };

  before(async () => {
    await writeTlsDeployment(dir, ROLES8);
    await Promise.all(ROLES8.slice(1, 7).map(([name]) => startPlayer(name)));
  });

  after(async () => {
    for (const p of procs) await stop(p);
    rmSync(dir, { recursive: true, force: true });
  });

  const args = (out: string, dropout: boolean) => ['train', 'logistic_regression', 'mnist', '--config', 'config.json', '--mode', 'fedavg', '--protocol', 'aby3', '--epochs', String(ROUNDS),
    '--batch-size', '32', '--max-steps', '3', '--seed', '5', '--client-lr', '0.3', '--validation-limit', '100', '--round-timeout', '60', '--out', out, ...(dropout ? ['--dropout'] : [])];

  for (const dropout of [true, false]) {
    test(dropout ? '--dropout: the run finishes over the other owners and its report names the dropout' : 'without --dropout: the run stops, naming owner3', async () => {
      const victim = await startPlayer('owner3');
      const out = `run-${dropout}`;
      let killed = false;
      const driver = startCli('driver', args(out, dropout), dir, (line) => {
        if (!killed && /round 1\/3/.test(line)) {
          killed = true;
          victim.child.kill('SIGKILL');
        }
      });
      procs.push(driver);
      const code = await driver.exited;
      const log = driver.out.join('\n');
      assert.ok(killed, log);
      if (!dropout) {
        assert.equal(code, 1, log);
        assert.match(log, /error: round [23] failed: .*owner3/);
        return;
      }
      assert.equal(code, 0, log + (process.env['DBG'] ? procs.map((p) => p.out.join('\n')).join('\n') : ''));
      assert.match(log, new RegExp(`finished round ${ROUNDS}/${ROUNDS}`));
      // (the kill lands while round 2 runs, or before it starts: the round it shows in is 2, or 3 if the link loss is seen late)
      assert.match(log, /round [23]: owner3 dropped out; completed over the other data owners/);
      const m = JSON.parse(readFileSync(join(dir, out, 'metrics.json'), 'utf8')) as { epochs: unknown[]; dropouts?: { round: number; clients: string[]; players: string[] }[] };
      assert.equal(m.epochs.length, ROUNDS);
      assert.equal(m.dropouts?.length, 1, JSON.stringify(m.dropouts));
      const d = m.dropouts![0]!;
      assert.deepEqual(d.players, ['owner3']);
      assert.ok(d.round === 2 || d.round === 3, JSON.stringify(d));
      // owner3's client is left out of the aggregate, unless its shares were in before it died
      assert.ok(d.clients.length === 0 || (d.clients.length === 1 && d.clients[0] === 'owner3'), JSON.stringify(d));
      assert.match(readFileSync(join(dir, out, 'report.html'), 'utf8'), new RegExp(`Round ${d.round}: owner3 dropped out`));
    });
  }
});
