/**
 * The players' processes, independent of the job path (networked.test.ts
 * claimed these with the SPMD job running): `launch` stops exactly the
 * players it started on SIGTERM, each exiting cleanly, and leaves a player
 * started outside it alone; a player started with a bad config exits naming
 * the entry; a data owner whose --data is outside its own --dataset policy
 * does not start serving sessions. No timing is asserted (hang guards only).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keygen } from '../../src/deploy/keys.js';
import { exitedOrHang, freePorts, startCli, stop, waitFor, type Proc } from './helpers.js';
import { fedcrypt } from '../cli/run-cli.js';

const PLAYERS = ['model-owner', 'owner0', 'owner1', 'owner2'];

describe('players as processes', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-players-'));
  const procs: Proc[] = [];
  before(async () => {
    for (const n of PLAYERS) keygen(n, join(dir, 'keys'));
    const ports = await freePorts(PLAYERS.length);
    const r = fedcrypt(['config', '--keys', 'keys', '--model-owner', 'model-owner', '--data-owners', 'owner0,owner1,owner2', ...PLAYERS.flatMap((n, i) => ['--address', `${n}=127.0.0.1:${ports[i]}`])], dir);
    assert.equal(r.status, 0, r.out);
  });
  after(async () => {
    for (const p of procs.reverse()) await stop(p);
    rmSync(dir, { recursive: true, force: true });
  });

  it('launch stops exactly the players it started on SIGTERM, each exiting cleanly; a player started outside it keeps running', async () => {
    const pids = new Map<string, number>();
    const launch = startCli('launch', ['launch', '--config', 'config.json'], dir, (line) => {
      const m = /^launch: started (\S+) \(pid (\d+)\)/.exec(line);
      if (m) pids.set(m[1]!, Number(m[2]));
    });
    procs.push(launch);
    for (const n of PLAYERS.slice(1)) await waitFor(launch, new RegExp(`^\\[${n}\\] ${n}: serving on port`), 90_000);
    // owner2 crashes (no --restart) and its operator starts it by hand
    process.kill(pids.get('owner2')!, 'SIGKILL'); // a child of our launch
    await waitFor(launch, /^\[owner2\] exited \(SIGKILL\)$/, 30_000);
    const own = startCli('owner2', ['player', '--config', 'config.json', '--name', 'owner2'], dir);
    procs.push(own);
    await waitFor(own, /owner2: serving on port/, 60_000);
    launch.child.kill('SIGTERM');
    await exitedOrHang(launch, 60_000, 'launch on SIGTERM');
    const out = launch.out.join('\n');
    for (const n of ['owner0', 'owner1']) {
      assert.match(out, new RegExp(`\\[${n}\\] exited \\(code 0\\)`));
      assert.throws(() => process.kill(pids.get(n)!, 0), /ESRCH/, `${n} still running`);
    }
    assert.equal(own.child.exitCode, null, 'the separately started owner2 was stopped by launch');
    assert.equal(own.child.signalCode, null);
    await stop(own);
  });

  it('a player started with a bad config exits with an error naming the entry', async () => {
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { players: Record<string, Record<string, unknown>> };
    delete cfg.players['owner2']!['role'];
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(cfg));
    const r = fedcrypt(['player', '--config', 'bad.json', '--name', 'owner0'], dir, 60_000);
    assert.notEqual(r.status, 0);
    assert.match(r.out, /players\.owner2\.role: missing/);
    assert.doesNotMatch(r.out, /serving on port/);
  });

  it("a data owner whose --data is not among its policy's datasets (--dataset) does not serve it, naming the option", async () => {
    const p = startCli('owner0-cifar', ['player', '--config', 'config.json', '--name', 'owner0', '--dataset', 'fashion', '--data', 'mnist:0-100'], dir);
    procs.push(p);
    await waitFor(p, /--data mnist:0-100: this player's policy trains on fashion only/, 60_000);
    // it refuses before it listens (no port taken, nothing sent) and exits with an error
    assert.equal(await exitedOrHang(p, 60_000, 'the refused player should exit'), 1);
    assert.doesNotMatch(p.out.join('\n'), /serving on port|session|sessions stopped/);
  });
});
