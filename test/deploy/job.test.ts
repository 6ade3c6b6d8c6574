/** Job spec, roles, checkpoints and refusals of the networked training (no processes). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseConfig } from '../../src/transport/config.js';
import { configHash, configRoles, encodeJobSpec, JobError, parseJobSpec, type JobSpec } from '../../src/deploy/job.js';
import { CheckpointError, checkpointPath, loadCheckpoint, paramDifferences, saveCheckpoint, flattenOptimizerState } from '../../src/deploy/checkpoint.js';
import { JOB_KEY, runDriverJob, servePlayer, RoundError } from '../../src/deploy/training.js';
import { resolveParams } from '../../src/deploy/driver.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { ROLES7 } from './helpers.js';

function config(roles: [string, string][] = ROLES7) {
  const players: Record<string, unknown> = {};
  roles.forEach(([n, r], i) => (players[n] = { address: `127.0.0.1:${6000 + i}`, role: r }));
  return parseConfig(JSON.stringify({ version: 1, players }));
}

function spec(over: Partial<JobSpec> = {}): JobSpec {
  const c = config();
  return {
    version: 1, jobId: '0123456789ab', ...resolveParams(c, { epochs: 1, maxSteps: 2, batchSize: 16 }), numParams: 10, stepsPerEpoch: 5, totalSteps: 2, startRound: 0,
    roundTimeoutMs: 1000, idleTimeoutMs: 1000, configHash: configHash(c), ...over,
  };
}

test('configRoles: one model owner, data owners and servers in config order; errors name the problem', () => {
  const r = configRoles(config());
  assert.deepEqual(r, { modelOwner: 'model-owner', dataOwners: ['owner0', 'owner1', 'owner2'], servers: ['server0', 'server1', 'server2'] });
  assert.throws(() => configRoles(config(ROLES7.slice(1))), /exactly one player with role "model-owner", found 0/);
  assert.throws(() => configRoles(config(ROLES7.filter(([, r]) => r !== 'data-owner'))), /at least one player with role "data-owner"/);
  assert.throws(() => resolveParams(config(ROLES7.filter(([n]) => n !== 'server2')), { protocol: 'aby3' }), /aby3 needs exactly 3 players with role "compute-server", found 2/);
  assert.throws(() => resolveParams(config(), { owners: 4 }), /"owners" is 4 but the config has 3 data owners/);
  assert.throws(() => resolveParams(config(), { mode: 'fedavg' }), /only 'fedsgd'/);
  assert.throws(() => resolveParams(config(), { protocol: 'paillier' }), RangeError);
  // plaintext needs no servers
  assert.deepEqual(resolveParams(config(ROLES7.filter(([, r]) => r !== 'compute-server')), { protocol: 'plaintext' }).servers, []);
});

test('parseJobSpec round-trips a spec and refuses each malformed field by name', () => {
  const s = spec();
  assert.deepEqual(parseJobSpec(encodeJobSpec(s)), s);
  const bad: [Partial<Record<keyof JobSpec, unknown>>, RegExp][] = [
    [{ version: 2 }, /"version"/], [{ jobId: 'zz' }, /"jobId"/], [{ protocol: 'paillier' }, /"protocol"/], [{ precision: 'mid' }, /"precision"/],
    [{ mode: 'fedavg' }, /"mode"/], [{ epochs: 0 }, /"epochs"/], [{ batchSize: 1.5 }, /"batchSize"/], [{ seed: -1 }, /"seed"/], [{ maxSteps: 0 }, /"maxSteps"/],
    [{ lr: 0 }, /"lr"/], [{ dataOwners: [] }, /"dataOwners"/], [{ startRound: 3 }, /"startRound"/], [{ roundTimeoutMs: 0 }, /"roundTimeoutMs"/], [{ nonIid: 'no' }, /"nonIid"/],
  ];
  for (const [over, re] of bad) assert.throws(() => parseJobSpec(encodeJobSpec({ ...s, ...over } as JobSpec)), (e: Error) => e instanceof JobError && re.test(e.message), JSON.stringify(over));
  assert.throws(() => parseJobSpec(new TextEncoder().encode('{"version":')), /not valid JSON/);
  assert.throws(() => parseJobSpec(new TextEncoder().encode('[1]')), /expected an object/);
});

test('checkpoint: atomic save, exact round trip of weights and optimizer state (property), corruption refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-ckpt-'));
  try {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.float32Array({ minLength: 1, maxLength: 64 }), fc.float32Array({ maxLength: 64 }), (round, w, m) => {
        const opt = flattenOptimizerState({ t: round, m: m.length ? m : undefined });
        saveCheckpoint(dir, { round, params: spec(), configHash: 'h', weights: w, optimizer: opt });
        const c = loadCheckpoint(dir);
        assert.equal(c.round, round);
        assert.deepEqual(new Uint32Array(c.weights.buffer), new Uint32Array(w.buffer.slice(w.byteOffset, w.byteOffset + w.byteLength)));
        assert.equal(c.optimizer['t'], round);
        if (m.length) assert.deepEqual(new Uint32Array((c.optimizer['m'] as Float32Array).buffer), new Uint32Array(m.buffer.slice(m.byteOffset, m.byteOffset + m.byteLength)));
        else assert.equal(c.optimizer['m'], undefined);
      }),
      { numRuns: 30 },
    );
    assert.deepEqual(readdirSync(dir), ['checkpoint.bin'], 'no temp file left behind');
    const buf = readFileSync(checkpointPath(dir));
    buf[buf.length - 40]! ^= 1;
    writeFileSync(checkpointPath(dir), buf);
    assert.throws(() => loadCheckpoint(dir), (e: Error) => e instanceof CheckpointError && /checksum mismatch/.test(e.message));
    writeFileSync(checkpointPath(dir), 'hello world, not a checkpoint at all, really not');
    assert.throws(() => loadCheckpoint(dir), /not a fedcrypt checkpoint/);
    assert.throws(() => loadCheckpoint(join(dir, 'none')), /no checkpoint to resume from/);
    assert.throws(() => flattenOptimizerState({ t: 1, m: [1, 2] }), /field "m"/);
    assert.throws(() => saveCheckpoint('', { round: 0, params: spec(), configHash: '', weights: new Float32Array(1), optimizer: {} }), TypeError);
    assert.equal(existsSync(join(dir, 'none')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('resume refuses a checkpoint of another run, naming each differing parameter', () => {
  assert.deepEqual(paramDifferences(spec(), spec()), []);
  const d = paramDifferences(spec(), spec({ seed: 9, protocol: 'pond' }));
  assert.deepEqual(d.map((x) => x.split(':')[0]), ['protocol', 'seed']);
});

test('a player refuses a job for another config, and the driver reports which player refused', async () => {
  const c = config();
  const hub = new MemoryHub();
  const served = servePlayer(new MemoryTransport({ hub, local: ['server0'] }), c, 'server0', { maxJobs: 1, log: () => {} });
  const s = spec({ configHash: 'f'.repeat(64), protocol: 'aby3' });
  // only server0 answers; the driver reports its refusal at once (the others never acknowledge)
  const mo = new MemoryTransport({ hub, local: ['model-owner'] });
  await assert.rejects(
    runDriverJob(mo, { ...s, dataOwners: ['owner0'], servers: ['server0', 'server1', 'server2'] }, {} as never),
    (e: Error) => e instanceof JobError && /player 'server0' refused the job: job for another config/.test(e.message),
  );
  hub.close();
  await Promise.race([served, new Promise((r) => setTimeout(r, 100))]);
});

test('an acknowledgement reaches a driver still sending the job to a slower peer (frames carry round ids, as over gRPC)', async () => {
  const c = config();
  const hub = new MemoryHub();
  // the gRPC transport's rule, on the hub: a frame stamped with a round older than the receiver's current round is dropped
  const rounds = new Map<string, number>();
  const dropped: string[] = [];
  let ackSent!: () => void;
  const server0Acked = new Promise<void>((r) => (ackSent = r));
  const deliver = hub.deliver.bind(hub);
  hub.deliver = (from, to, key, payload) => {
    if ((rounds.get(from) ?? 0) < (rounds.get(to) ?? 0)) dropped.push(`${key} from ${from} (round ${rounds.get(from) ?? 0}) to ${to} (round ${rounds.get(to) ?? 0})`);
    else deliver(from, to, key, payload);
    if (from === 'server0' && key.endsWith('/ack')) ackSent();
  };
  const withRounds = (name: string): MemoryTransport => Object.assign(new MemoryTransport({ hub, local: [name] }), { setRound: (r: number) => void rounds.set(name, r) });
  const served = servePlayer(withRounds('server0'), c, 'server0', { maxJobs: 1, log: () => {} });
  const mo = withRounds('model-owner');
  const send = mo.send.bind(mo);
  // the job reaches owner0 only once server0 has acknowledged it: the driver is still sending job specs (at the control round)
  mo.send = async (from, to, key, payload) => {
    if (to === 'owner0' && key === JOB_KEY) await server0Acked;
    return send(from, to, key, payload);
  };
  const s = spec({ protocol: 'aby3' });
  const job = runDriverJob(mo, s, {} as never);
  job.catch(() => {});
  await server0Acked;
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(dropped, [], 'a frame was dropped as stale');
  assert.equal(rounds.get('server0'), 0, 'server0 is back at round 0 after acknowledging');
  // nobody else serves: end the job start
  hub.close();
  await assert.rejects(job, RoundError);
  await Promise.race([served, new Promise((r) => setTimeout(r, 100))]);
});

test('a job start that gets no acknowledgement fails with an error naming a player', async () => {
  const hub = new MemoryHub();
  const mo = new MemoryTransport({ hub, local: ['model-owner'] });
  const s = spec({ roundTimeoutMs: 50 });
  // nobody serves; the transport closes while the driver waits for acknowledgements
  const short = { ...s, dataOwners: ['owner0'], servers: ['server0', 'server1', 'server2'], roundTimeoutMs: 1 } as JobSpec;
  const p = runDriverJob(mo, short, {} as never);
  hub.close();
  await assert.rejects(p, (e: Error) => e instanceof RoundError && /player '(owner0|server\d)'/.test(e.message) && e.player !== undefined);
});
