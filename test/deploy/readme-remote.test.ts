/**
 * The README's "Run across machines", followed as written with the built CLI
 * (`node dist/cli/main.js`): keygen for every player, `fedcrypt config` from
 * the public key files, `fedcrypt player` for each (the data owners with
 * `--data examples/remote-temperature.mjs`, each reading only its own entry
 * of its data file), then the model owner runs the user-written computation
 * module. It prints the same values as the computations give in one process.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, ROLES7, ROOT } from './helpers.js';
import { CLIENTS, federated, federatedComputation, federatedMean, tensor, withContext } from '../../src/core/index.js';
import { insecureReferenceAggregation, localContext } from '../../src/runtime/index.js';

const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const EXAMPLE = join(ROOT, 'examples', 'remote-temperature.mjs');
// readings with a fraction: a log line can hold a port or a byte count, never such a number by accident
const READINGS: Record<string, number> = { owner0: 68.53125, owner1: 71.28125, owner2: 72.40625 };

describe("the README's run across machines, with a user-written computation", { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-readme-'));
  const players: ChildProcess[] = [];
  const out = new Map<string, string[]>();

  before(async () => {
    for (const [name] of ROLES7) {
      const r = spawnSync(process.execPath, [CLI, 'keygen', '--name', name, '--dir', 'keys'], { cwd: dir, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
    const ports = await freePorts(ROLES7.length);
    const cfg = spawnSync(process.execPath, [CLI, 'config', '--keys', 'keys', '--model-owner', 'model-owner', '--data-owners', 'owner0,owner1,owner2', '--servers', 'server0,server1,server2',
      ...ROLES7.flatMap(([name], i) => ['--address', `${name}=127.0.0.1:${ports[i]}`]), '--out', 'config.json'], { cwd: dir, encoding: 'utf8' });
    assert.equal(cfg.status, 0, cfg.stderr + cfg.stdout);
    // each data owner's data, on its own host (here one folder: each player reads only its own entry)
    writeFileSync(join(dir, 'temperature-readings.json'), JSON.stringify(READINGS));
    await Promise.all(
      ROLES7.slice(1).map(([name, role]) => {
        const args = [CLI, 'player', '--config', 'config.json', '--name', name, ...(role === 'data-owner' ? ['--data', EXAMPLE] : [])];
        const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
        players.push(child);
        const lines: string[] = [];
        out.set(name, lines);
        return new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${lines.join('\n')}`)), 60_000);
          const take = (b: Buffer) => {
            lines.push(...b.toString().split('\n').filter(Boolean));
            if (lines.some((l) => l.includes(`${name}: serving on port`))) {
              clearTimeout(timer);
              resolve();
            }
          };
          child.stdout!.on('data', take);
          child.stderr!.on('data', take);
        });
      }),
    );
  });

  after(async () => {
    for (const p of players) {
      if (p.exitCode === null) {
        p.kill('SIGTERM');
        await new Promise((r) => p.once('exit', r));
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('the model owner runs the module: the values of the in-process run, and no reading reaches it', async () => {
    const r = spawnSync(process.execPath, [EXAMPLE, 'config.json', 'keys/model-owner.key', 'aby3'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const mean = Number(/mean at SERVER\):\s+(\S+)/.exec(r.stdout)?.[1]);
    const moved = Number(/mean at AGGREGATORS, moved\):\s+(\S+)/.exec(r.stdout)?.[1]);
    const hot = Number(/secure sum\):\s+(\S+)/.exec(r.stdout)?.[1]);
    // the same computation in one process (the insecure reference: the exact mean)
    const comp = federatedComputation([federated(tensor('float32'), CLIENTS)], (x) => federatedMean(x));
    const want = (await withContext(localContext({ aggregation: insecureReferenceAggregation({ warn: () => {} }) }), () => comp(Object.values(READINGS)))) as number;
    // ABY3's fixed point (16 fractional bits): within n * 2^-17
    assert.ok(Math.abs(mean - want) <= 3 * 2 ** -17 + 1e-5, `${mean} vs ${want}\n${r.stdout}`);
    assert.ok(Math.abs(moved - want) <= 3 * 2 ** -17 + 1e-5, `${moved} vs ${want}`);
    assert.equal(hot, 2);
    // the data owners opened and ended the session; their logs name no reading
    for (const o of ['owner0', 'owner1', 'owner2']) {
      // the player logs the end after the driver has exited (hang guard only)
      for (let i = 0; i < 600 && !out.get(o)!.some((l) => /session [0-9a-f]{16} ended/.test(l)); i++) await new Promise((res) => setTimeout(res, 50));
      const log = out.get(o)!.join('\n');
      assert.match(log, /session [0-9a-f]{16} ended/);
      assert.ok(!log.includes(String(READINGS[o])), `${o} logged its reading`);
    }
  });
});
