/**
 * Networked training across OS processes (issue 6): 3 compute servers and 3
 * data owners started by `fedcrypt launch`, the model owner by
 * `fedcrypt train --config`, all on 127.0.0.1 with free ports.
 *
 *  1. a short ABY3 FedSGD run gives the same final weights, bit for bit, as the
 *     in-process run (learning layer's trainFedSGD + secure aggregator);
 *  2. killing server1 mid-training makes the driver fail naming server1, from
 *     the lost link or a peer's report (not from the round deadline running
 *     out); after restarting server1, --resume ends with the same weights as
 *     the uninterrupted run;
 *  3. the same job over MemoryTransports (one per player, one hub) gives the
 *     same bits as over gRPC, and each party receives only what it should;
 *     Pond as well gives the in-process result;
 *  4. a driver whose key is not the one pinned in the players' config is
 *     refused; a player started with a bad config exits naming the entry.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keygen } from '../../src/deploy/keys.js';
import { parseConfig } from '../../src/transport/config.js';
import { loadCheckpoint } from '../../src/deploy/checkpoint.js';
import { driveTraining } from '../../src/deploy/driver.js';
import { servePlayer } from '../../src/deploy/training.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { freePorts, referenceWeights, ROLES7, sameBits, startCli, stop, waitFor, type Proc, exitedOrHang } from './helpers.js';

const STEPS = 5;
const BATCH = 32;
const SEED = 5;
const TIMEOUT_S = 6;
const common = ['network_a', 'mnist', '--config', 'config.json', '--epochs', '1', '--max-steps', String(STEPS), '--batch-size', String(BATCH), '--seed', String(SEED), '--validation-limit', '20', '--round-timeout', String(TIMEOUT_S)];

describe('networked training across processes', { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-deploy-'));
  const procs: Proc[] = [];
  let configText = '';
  let launch: Proc;
  const pids = new Map<string, number>();
  let uninterrupted: Float32Array | undefined;

  before(async () => {
    const ports = await freePorts(ROLES7.length);
    const players: Record<string, unknown> = {};
    ROLES7.forEach(([name, role], i) => {
      const k = keygen(name, join(dir, 'keys'));
      players[name] = { address: `127.0.0.1:${ports[i]}`, role, certificate: k.certificate, publicKey: k.publicKey };
    });
    // mutual TLS links, as the README's deployment uses
    configText = JSON.stringify({ version: 1, links: 'tls', players }, null, 2);
    writeFileSync(join(dir, 'config.json'), configText);
    launch = startCli('launch', ['launch', '--config', 'config.json'], dir, (line) => {
      const m = /launch: started (\S+) \(pid (\d+)\)/.exec(line);
      if (m) pids.set(m[1]!, Number(m[2]));
    });
    procs.push(launch);
    for (const [name] of ROLES7.slice(1)) await waitFor(launch, new RegExp(`\\[${name}\\] ${name}: serving on port`), 60_000);
  });

  after(async () => {
    for (const p of procs.reverse()) await stop(p);
    rmSync(dir, { recursive: true, force: true });
  });

  test('ABY3 FedSGD across 7 processes equals the in-process run bit for bit', async () => {
    const driver = startCli('driver', ['train', ...common, '--checkpoint-dir', 'ck-a'], dir);
    procs.push(driver);
    const [code, ref] = await Promise.all([driver.exited, referenceWeights({ model: 'network_a', protocol: 'aby3', precision: 'low', owners: 3, batchSize: BATCH, epochs: 1, seed: SEED, maxSteps: STEPS })]);
    assert.equal(code, 0, driver.out.join('\n'));
    assert.match(driver.out.join('\n'), new RegExp(`finished round ${STEPS}/${STEPS}`));
    const ck = loadCheckpoint(join(dir, 'ck-a'));
    assert.equal(ck.round, STEPS);
    assert.ok(sameBits(ck.weights, ref), 'networked weights differ from the in-process run');
    uninterrupted = ck.weights;
    // the data owners' logs show they ran the job; nobody else's update reached them
    assert.match(launch.out.join('\n'), /\[owner1\] owner1: job [0-9a-f]{12} finished \(5 rounds\)/);
  });

  test('killing server1 mid-training fails the round naming server1; restart + --resume ends with the same model', async (t) => {
    assert.ok(uninterrupted, 'needs the uninterrupted run');
    let killed = false;
    const pid = pids.get('server1')!;
    const driver = startCli('driver-crash', ['train', ...common, '--checkpoint-dir', 'ck-b'], dir, (line) => {
      if (!killed && /round 2\/\d+/.test(line)) {
        killed = true;
        process.kill(pid, 'SIGKILL'); // started by our launch child
      }
    });
    procs.push(driver);
    // A generous hang guard, not a bound: the driver must notice the kill and exit on its own.
    const code = await exitedOrHang(driver, 120_000, 'server1 was killed and the driver did not fail');
    const out = driver.out.join('\n');
    assert.ok(killed, `server1 was never killed:\n${out}`);
    assert.equal(code, 1, out);
    // The driver names server1 as the culprit of the round in progress ...
    const failure = /round ([3-5]) failed after \d+ ms: player '([^']+)': (.*)/.exec(out);
    assert.ok(failure, `no round failure in:\n${out}`);
    assert.equal(failure[2], 'server1', failure[0]);
    // ... from an event (its link to server1 lost, a peer's report, an error naming server1), not from the round deadline running out.
    assert.doesNotMatch(failure[3]!, /did not complete within/, failure[0]);
    t.diagnostic(failure[0]);
    const ck = loadCheckpoint(join(dir, 'ck-b'));
    assert.ok(ck.round >= 2 && ck.round < STEPS, `checkpoint round ${ck.round}`);
    // restart server1 alone and resume
    const s1 = startCli('server1', ['player', '--config', 'config.json', '--name', 'server1'], dir);
    procs.push(s1);
    await waitFor(s1, /server1: serving on port/, 60_000);
    const resumed = startCli('driver-resume', ['train', ...common, '--checkpoint-dir', 'ck-b', '--resume'], dir);
    procs.push(resumed);
    const code2 = await resumed.exited;
    assert.equal(code2, 0, resumed.out.join('\n'));
    assert.match(resumed.out.join('\n'), new RegExp(`rounds ${ck.round + 1}\\.\\.${STEPS}`));
    const fin = loadCheckpoint(join(dir, 'ck-b'));
    assert.equal(fin.round, STEPS);
    assert.ok(sameBits(fin.weights, uninterrupted), 'resumed model differs from the uninterrupted run');
  });

  test('the same job over MemoryTransports gives the same bits as over gRPC', async () => {
    assert.ok(uninterrupted, 'needs the uninterrupted run');
    const config = parseConfig(configText);
    const hub = new MemoryHub();
    // what each party receives: (from, to, key, bytes) of every message
    const seen: { from: string; to: string; key: string; bytes: number }[] = [];
    const deliver = hub.deliver.bind(hub);
    hub.deliver = (from, to, key, payload) => {
      seen.push({ from, to, key, bytes: payload.byteLength });
      deliver(from, to, key, payload);
    };
    const serving = ROLES7.slice(1).map(([n]) => servePlayer(new MemoryTransport({ hub, local: [n] }), config, n, { maxJobs: 1, log: () => {} }));
    const r = await driveTraining(new MemoryTransport({ hub, local: ['model-owner'] }), config, {
      epochs: 1, maxSteps: STEPS, batchSize: BATCH, seed: SEED, validationLimit: 20, roundTimeoutMs: 30_000,
    });
    await Promise.all(serving);
    assert.equal(r.error, undefined);
    assert.ok(sameBits(r.weights, uninterrupted));
    const model = r.weights.length * 4;
    const owners = ['owner0', 'owner1', 'owner2'];
    const servers = ['server0', 'server1', 'server2'];
    // data owners hear only from the model owner: the job and, per round, the weights
    for (const m of seen.filter((x) => owners.includes(x.to))) assert.equal(m.from, 'model-owner', `${m.to} received ${m.key} from ${m.from}`);
    assert.equal(seen.filter((x) => owners.includes(x.to) && x.bytes === model + 4).length, 3 * STEPS);
    // the model owner never receives anything model-sized from a data owner (no individual update), and gets one revealed sum per round from the servers
    for (const m of seen.filter((x) => x.to === 'model-owner' && owners.includes(x.from))) assert.ok(m.bytes < 1000, `${m.from} sent ${m.bytes} bytes (${m.key}) to the model owner`);
    assert.ok(seen.some((x) => x.to === 'model-owner' && servers.includes(x.from) && x.bytes >= model));
    // servers get from the model owner only the job spec and 4-byte round markers (never the weights)
    for (const m of seen.filter((x) => servers.includes(x.to) && x.from === 'model-owner')) assert.ok(m.bytes < 2000, `${m.to} received ${m.bytes} bytes (${m.key}) from the model owner`);
    // each server receives from each owner per round at most one model-sized ring tensor (a share component) and seeds
    for (const s of servers) for (const o of owners) assert.ok(seen.filter((x) => x.to === s && x.from === o && x.bytes > 64 && !x.key.endsWith('/agree')).length <= STEPS);
    // the round agreement: each owner tells server0 and server1 (68 bytes: spec hash, weights digest, its minimum), once a round
    for (const o of owners) for (const s of servers) {
      const agree = seen.filter((x) => x.from === o && x.to === s && x.key.endsWith('/agree'));
      assert.deepEqual(agree.map((x) => x.bytes), s === 'server2' ? [] : Array(STEPS).fill(68), `${o} -> ${s} agreements`);
    }
    // ABY3.aggregateInto (as secureMean): each owner uploads exactly one model-sized component per round, to server1; only seeds to server0
    for (const o of owners) assert.ok(!seen.some((x) => x.from === o && x.to === 'server2'), `${o} sent nothing to server2`);
    for (const o of owners) {
      const big = seen.filter((x) => x.from === o && servers.includes(x.to) && x.bytes > 64 && !x.key.endsWith('/agree'));
      assert.equal(big.length, STEPS, `${o} sent ${big.length} model-sized messages to the servers in ${STEPS} rounds`);
      for (const m of big) assert.equal(m.to, 'server1', `${o} sent a model-sized ${m.key} to ${m.to}`);
    }
  });

  test('Pond (two servers and a crypto producer) as separate players gives the in-process Pond result bit for bit', async () => {
    const config = parseConfig(configText);
    const hub = new MemoryHub();
    const serving = ROLES7.slice(1).map(([n]) => servePlayer(new MemoryTransport({ hub, local: [n] }), config, n, { maxJobs: 1, log: () => {} }));
    const [r, ref] = await Promise.all([
      driveTraining(new MemoryTransport({ hub, local: ['model-owner'] }), config, {
        protocol: 'pond', epochs: 1, maxSteps: 3, batchSize: BATCH, seed: SEED + 1, validationLimit: 20, roundTimeoutMs: 30_000,
      }),
      referenceWeights({ model: 'network_a', protocol: 'pond', precision: 'low', owners: 3, batchSize: BATCH, epochs: 1, seed: SEED + 1, maxSteps: 3 }),
    ]);
    await Promise.all(serving);
    assert.equal(r.error, undefined);
    assert.ok(sameBits(r.weights, ref));
  });

  test('a model owner whose certificate is not pinned in the players\' config is refused', async () => {
    // the intruder's own config pins its certificate; the players' config does not
    const k = keygen('model-owner', join(dir, 'intruder'));
    const cfg = JSON.parse(configText) as { players: Record<string, { publicKey: string; certificate: string }> };
    cfg.players['model-owner']!.publicKey = k.publicKey;
    cfg.players['model-owner']!.certificate = k.certificate;
    writeFileSync(join(dir, 'intruder.json'), JSON.stringify(cfg));
    const args = ['train', ...common, '--round-timeout', '3'];
    args[args.indexOf('config.json')] = 'intruder.json';
    const driver = startCli('intruder', [...args, '--key', join('intruder', 'model-owner.key')], dir);
    procs.push(driver);
    const code = await driver.exited;
    const out = driver.out.join('\n');
    assert.equal(code, 1, out);
    assert.match(out, /cannot reach player '(server\d|owner\d)'.*(refused|authentication|closed|not reachable)/);
  });

  test('a player started with a bad config exits with an error naming the entry', async () => {
    const cfg = JSON.parse(configText) as { players: Record<string, Record<string, unknown>> };
    delete cfg.players['owner2']!['role'];
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(cfg));
    const p = startCli('bad', ['player', '--config', 'bad.json', '--name', 'server0'], dir);
    procs.push(p);
    const code = await p.exited;
    assert.notEqual(code, 0);
    assert.match(p.out.join('\n'), /players\.owner2\.role: missing/);
  });

  test('launch stops exactly the players it started on SIGTERM, each exiting cleanly', async () => {
    await stop(launch, 'SIGTERM', 15_000);
    const out = launch.out.join('\n');
    for (const name of ['server0', 'server2', 'owner0', 'owner1', 'owner2']) {
      assert.match(out, new RegExp(`\\[${name}\\] exited \\(code 0\\)`));
      assert.throws(() => process.kill(pids.get(name)!, 0), /ESRCH/, `${name} still running`);
    }
    // server1 was killed by the crash test and restarted outside launch: launch did not touch the new one
    const s1 = procs.find((p) => p.name === 'server1');
    if (s1) assert.equal(s1.child.exitCode, null, 'the separately started server1 should still run');
  });
});
