/**
 * Operating the players as a new user would: a missing config or key file
 * says which file and how to make it; a key the config does not pin names the
 * player and the files; `launch` checks every key before starting anything
 * and restarts a crashed player (--restart), logged with its name.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keygen } from '../../src/deploy/keys.js';
import { freePorts, startCli, stop, waitFor, type Proc } from '../deploy/helpers.js';
import { fedcrypt } from './run-cli.js';

const PLAYERS = ['model-owner', 'owner0', 'owner1', 'owner2'];

/** A folder with keys for PLAYERS and a config made by `fedcrypt config` on free ports. */
async function deployment(prefix: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const n of PLAYERS) keygen(n, join(dir, 'keys'));
  const ports = await freePorts(PLAYERS.length);
  const r = fedcrypt(['config', '--keys', 'keys', '--model-owner', 'model-owner', '--data-owners', 'owner0,owner1,owner2',
    ...PLAYERS.flatMap((n, i) => ['--address', `${n}=127.0.0.1:${ports[i]}`])], dir);
  assert.equal(r.status, 0, r.out);
  return dir;
}

/** Hang guard only (far beyond a normal run): the exit code. */
async function exitCode(p: Proc, ms: number): Promise<number | null> {
  let t: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p.exited, new Promise<never>((_, rej) => { t = setTimeout(() => rej(new Error(`${p.name} did not exit; output:\n${p.out.join('\n')}`)), ms); })]);
  } finally {
    clearTimeout(t);
  }
}

describe('missing and mismatched files', { timeout: 120_000 }, () => {
  let dir = '';
  before(async () => { dir = await deployment('fedcrypt-files-'); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a missing config names the file and the command that makes it (player, launch, train --config, config --check)', () => {
    for (const args of [['player', '--config', 'nope.json', '--name', 'owner0'], ['launch', '--config', 'nope.json'], ['train', 'network_a', '--config', 'nope.json'], ['config', '--check', 'nope.json']]) {
      const r = fedcrypt(args, dir);
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.stderr, /^error: nope\.json: no such file \(the deployment config\); make it with "fedcrypt config --keys keys --model-owner <name> --data-owners <names>/m, args.join(' '));
      assert.doesNotMatch(r.out, /ENOENT/);
    }
  });

  it('a missing key file names the player, the file and the keygen command (player, train --config)', () => {
    const p = fedcrypt(['player', '--config', 'config.json', '--name', 'owner1', '--key', 'elsewhere/owner1.key'], dir);
    assert.equal(p.status, 1);
    assert.match(p.stderr, /^error: elsewhere\/owner1\.key: no such key file \(player "owner1"'s private key\); make it on that player's host with "fedcrypt keygen --name owner1 --dir elsewhere"/m);
    const t = fedcrypt(['train', 'network_a', '--config', 'config.json', '--protocol', 'plaintext', '--key', 'keys/none.key'], dir);
    assert.equal(t.status, 1);
    assert.match(t.stderr, /^error: keys\/none\.key: no such key file \(player "model-owner"'s private key\); make it on that player's host with "fedcrypt keygen --name model-owner --dir keys"/m);
    assert.doesNotMatch(p.out + t.out, /ENOENT/);
  });

  it('a key the config does not pin: the player, the key file and the config file', () => {
    const other = mkdtempSync(join(dir, 'other-'));
    const k = keygen('owner2', other);
    const r = fedcrypt(['player', '--config', 'config.json', '--name', 'owner2', '--key', k.privateKeyPath], dir);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`^error: player "owner2": ${k.privateKeyPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not match the certificate config\\.json pins for it \\(players\\.owner2\\.certificate\\); rebuild config\\.json .* with "fedcrypt config"`, 'm'));
    const wrong = fedcrypt(['player', '--config', 'config.json', '--name', 'owner2', '--key', 'keys/owner1.key'], dir);
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /^error: keys\/owner1\.key: key file is for player "owner1", not "owner2"/m);
  });
});

describe('launch', { timeout: 240_000 }, () => {
  let dir = '';
  before(async () => { dir = await deployment('fedcrypt-launch-'); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('checks every key before starting anything: one error listing each problem, no process started', async () => {
    renameSync(join(dir, 'keys', 'owner1.key'), join(dir, 'owner1.key.away'));
    chmodSync(join(dir, 'keys', 'owner2.key'), 0o644);
    const other = mkdtempSync(join(dir, 'other-'));
    renameSync(keygen('owner0', other).privateKeyPath, join(dir, 'owner0.key.away'));
    renameSync(join(dir, 'keys', 'owner0.key'), join(dir, 'owner0.key.orig'));
    renameSync(join(dir, 'owner0.key.away'), join(dir, 'keys', 'owner0.key'));
    try {
      const r = fedcrypt(['launch', '--config', 'config.json'], dir);
      assert.equal(r.status, 1, r.out);
      assert.match(r.stderr, /launch: nothing started: 3 player key file\(s\) do not fit config\.json:/);
      assert.match(r.stderr, /- player "owner0": keys\/owner0\.key does not match the certificate config\.json pins for it/);
      assert.match(r.stderr, /- keys\/owner1\.key: no such key file \(player "owner1"'s private key\); make it .* "fedcrypt keygen --name owner1 --dir keys"/);
      assert.match(r.stderr, /- keys\/owner2\.key: private key file is accessible by group or others \(mode 644\); run chmod 600 keys\/owner2\.key/);
      assert.doesNotMatch(r.out, /launch: started/);
    } finally {
      renameSync(join(dir, 'keys', 'owner0.key'), join(dir, 'owner0.key.other'));
      renameSync(join(dir, 'owner0.key.orig'), join(dir, 'keys', 'owner0.key'));
      renameSync(join(dir, 'owner1.key.away'), join(dir, 'keys', 'owner1.key'));
      chmodSync(join(dir, 'keys', 'owner2.key'), 0o600);
    }
  });

  it('--data names data owners only, each once', () => {
    const r = fedcrypt(['launch', '--config', 'config.json', '--data', 'model-owner=mnist:0-10'], dir);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--data model-owner=\.\.\.: model-owner is not a data owner of config\.json \(owner0, owner1, owner2\)/);
    const twice = fedcrypt(['launch', '--config', 'config.json', '--data', 'owner0=mnist:0-10', '--data', 'owner0=mnist:10-20'], dir);
    assert.equal(twice.status, 1);
    assert.match(twice.stderr, /--data: owner0 given twice/);
    assert.doesNotMatch(r.out + twice.out, /launch: started/);
  });

  it('--restart: a crashed player starts again (logged with its name) up to n times; a clean exit is not restarted', async () => {
    const pids = new Map<string, number[]>();
    // (--data: owner1's own data, passed to its player command, the restarted one's too)
    const launch = startCli('launch', ['launch', '--config', 'config.json', '--restart', '1', '--data', 'owner1=mnist:0-300'], dir, (line) => {
      const m = /^launch: started (\S+) \(pid (\d+)\)/.exec(line);
      if (m) pids.set(m[1]!, [...(pids.get(m[1]!) ?? []), Number(m[2])]);
    });
    try {
      for (const n of PLAYERS.slice(1)) await waitFor(launch, new RegExp(`^\\[${n}\\] ${n}: serving on port`), 90_000);
      assert.ok(!pids.has('model-owner'), 'the model owner is not launched');
      const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
      assert.deepEqual(cmdline(pids.get('owner1')![0]!).slice(-2), ['--data', 'mnist:0-300']);
      assert.ok(!cmdline(pids.get('owner0')![0]!).includes('--data'));
      process.kill(pids.get('owner0')![0]!, 'SIGKILL'); // a child of our launch
      await waitFor(launch, /^\[owner0\] exited \(SIGKILL\)$/, 30_000);
      await waitFor(launch, /^launch: restarting owner0 in 1\.0 s \(restart 1 of 1\)$/, 30_000);
      await waitFor(launch, /^launch: started owner0 \(pid \d+\)/, 30_000);
      const before = launch.out.filter((l) => /owner0: serving on port/.test(l)).length;
      await new Promise<void>((resolve, reject) => {
        const t = setInterval(() => {
          if (launch.out.filter((l) => /owner0: serving on port/.test(l)).length > before) { clearInterval(t); resolve(); }
          if (launch.child.exitCode !== null) { clearInterval(t); reject(new Error(launch.out.join('\n'))); }
        }, 50);
      });
      const second = pids.get('owner0')!;
      assert.equal(second.length, 2);
      assert.notEqual(second[1], second[0]);
      // a second crash is one more than --restart 1 allows
      process.kill(second[1]!, 'SIGKILL');
      await waitFor(launch, /^launch: owner0 crashed 2 time\(s\); not restarting it again \(--restart 1\)$/, 30_000);
      // a player stopped cleanly (SIGTERM from its operator: exit code 0) is not restarted
      process.kill(pids.get('owner1')![0]!, 'SIGTERM');
      await waitFor(launch, /^\[owner1\] exited \(code 0\)$/, 30_000);
      process.kill(pids.get('owner2')![0]!, 'SIGTERM');
      // every player is gone for good: launch exits by itself, with 1 (owner0 crashed)
      assert.equal(await exitCode(launch, 60_000), 1);
      const out = launch.out.join('\n');
      assert.doesNotMatch(out, /restarting owner1|restarting owner2/);
      assert.equal(pids.get('owner1')!.length, 1);
      assert.equal(out.match(/restarting owner0/g)?.length, 1);
    } finally {
      await stop(launch);
    }
  });
});

describe('player --ready-file', { timeout: 120_000 }, () => {
  let dir = '';
  before(async () => { dir = await deployment('fedcrypt-ready-'); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('exists while the player serves (for probes) and is gone after a clean stop', async () => {
    const p = startCli('owner0', ['player', '--config', 'config.json', '--name', 'owner0', '--ready-file', 'ready'], dir);
    try {
      assert.ok(!existsSync(join(dir, 'ready')));
      await waitFor(p, /^owner0: serving on port \d+$/, 90_000);
      assert.match(readFileSync(join(dir, 'ready'), 'utf8'), /^owner0: serving on port \d+\n$/);
      p.child.kill('SIGTERM');
      assert.equal(await exitCode(p, 30_000), 0);
      assert.ok(!existsSync(join(dir, 'ready')), 'removed on stop');
    } finally {
      await stop(p);
    }
  });
});
