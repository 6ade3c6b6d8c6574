/**
 * Party policy: every player checks a job against a policy it holds locally
 * and refuses, before it sends a byte of data, what a malicious model owner
 * asks for (issue 12, attack 1: job downgrade).
 *
 * The attacks are written as the model owner would run them: it sends real
 * players (servePlayer, the code `fedcrypt player` runs) a job of its own
 * making, over the in-memory hub and over gRPC with mutual TLS, and we record
 * everything each victim sends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseConfig, type DeployConfig } from '../../src/transport/config.js';
import { configHash, configRoles, type JobSpec } from '../../src/deploy/job.js';
import { checkJob, DEFAULT_POLICY, isPolicyRule, parseConfigPolicy, PolicyError, refusalOf, resolvePolicy } from '../../src/deploy/policy.js';
import { resolveParams, driveTraining } from '../../src/deploy/driver.js';
import { runDriverJob, runPlayerJob, servePlayer } from '../../src/deploy/training.js';
import { MemoryHub, MemoryTransport } from '../../src/transport/memory.js';
import { GrpcTransport } from '../../src/transport/grpc.js';
import type { Transport } from '../../src/transport/channel.js';
import { ROLES7 } from './helpers.js';
import { assertOnlyRefused, players, type Sent } from './policy-helpers.js';
import { deployment } from '../transport/helpers.js';

const OWNERS = ['owner0', 'owner1', 'owner2'];
const SERVERS = ['server0', 'server1', 'server2'];
const dec = new TextDecoder();

function config(roles: [string, string][] = ROLES7, policy?: unknown): DeployConfig {
  const players: Record<string, unknown> = {};
  roles.forEach(([n, r], i) => (players[n] = { address: `127.0.0.1:${6000 + i}`, role: r }));
  return parseConfig(JSON.stringify({ version: 1, ...(policy ? { policy } : {}), players }));
}

/** An honest job for config `c` (what `fedcrypt train --config` would send), then the attacker's changes. */
function spec(c: DeployConfig, over: Partial<JobSpec> = {}): JobSpec {
  return {
    version: 1, jobId: '0123456789ab', ...resolveParams(c, { epochs: 1, maxSteps: 2, batchSize: 16 }), numParams: 10, stepsPerEpoch: 5, totalSteps: 2, startRound: 0,
    roundTimeoutMs: 1000, idleTimeoutMs: 1000, configHash: configHash(c), ...over,
  };
}

const rule = (r: string) => (e: unknown) => e instanceof PolicyError && e.rule === r;

// ------------------------------------------------------------------ the rules, one by one

test('checkJob: an honest job passes; each rule refuses with a PolicyError naming it', () => {
  const c = config();
  const roster = configRoles(c);
  const p = DEFAULT_POLICY;
  checkJob(p, spec(c), roster, 'owner0');
  const cases: [Partial<JobSpec>, string][] = [
    [{ protocol: 'plaintext', servers: [] }, 'protocol'],
    [{ mode: 'fedavg' as never }, 'mode'],
    [{ modelOwner: 'owner1' }, 'roster'],
    [{ dataOwners: ['owner0', 'owner0', 'owner0'] }, 'roster'],
    [{ dataOwners: ['owner0', 'owner1', 'mallory'] }, 'roster'],
    [{ dataOwners: ['owner1', 'owner0', 'owner2'] }, 'roster'],
    [{ dataOwners: ['owner0'] }, 'minContributors'],
    [{ dataOwners: ['owner0', 'owner2'] }, 'minContributors'],
    [{ dataOwners: [] }, 'minContributors'],
    [{ servers: ['server0', 'server1'] }, 'roster'],
    [{ servers: ['server1', 'server0', 'server2'] }, 'roster'],
    [{ servers: ['server0', 'server1', 'model-owner'] }, 'roster'],
    [{ batchSize: 1 }, 'minBatchSize'],
    [{ batchSize: 15 }, 'minBatchSize'],
    [{ totalSteps: 10_001 }, 'maxRounds'],
  ];
  for (const [over, r] of cases) assert.throws(() => checkJob(p, spec(c, over), roster, 'owner0'), rule(r), `${JSON.stringify(over)} should break '${r}'`);
  // the boundaries themselves pass
  checkJob(p, spec(c, { batchSize: 16, totalSteps: 10_000 }), roster, 'owner0');
});

test('minimum contributors: exactly the minimum passes, one fewer is refused (any subset of the config\'s data owners, in config order)', () => {
  const names = Array.from({ length: 8 }, (_, i) => `owner${i}`);
  const c = config([['model-owner', 'model-owner'], ...SERVERS.map((s) => [s, 'compute-server'] as [string, string]), ...names.map((n) => [n, 'data-owner'] as [string, string])]);
  const roster = configRoles(c);
  fc.assert(fc.property(fc.integer({ min: 2, max: 8 }), fc.subarray(names), (min, subset) => {
    // the config's value, confirmed locally where it is below the built-in 3
    const p = resolvePolicy({ minContributors: min }, { minContributors: min });
    const job = spec(c, { dataOwners: subset });
    if (subset.length >= min) checkJob(p, job, roster, 'server0');
    else assert.throws(() => checkJob(p, job, roster, 'server0'), rule('minContributors'));
  }), { numRuns: 200 });
  const p3 = resolvePolicy({});
  checkJob(p3, spec(c, { dataOwners: names.slice(0, 3) }), roster, 'server0');
  assert.throws(() => checkJob(p3, spec(c, { dataOwners: names.slice(0, 2) }), roster, 'server0'), rule('minContributors'));
});

test('model and dataset: a player started for one refuses jobs for another', () => {
  const c = config();
  const p = resolvePolicy({}, { model: 'network_a', dataset: 'mnist' });
  checkJob(p, spec(c), configRoles(c), 'owner0');
  assert.throws(() => checkJob(p, spec(c, { model: 'logistic_regression' }), configRoles(c), 'owner0'), rule('model'));
  assert.throws(() => checkJob(p, spec(c, { dataset: 'cifar' }), configRoles(c), 'owner0'), rule('dataset'));
});

test('policy sources: the config cannot enable plaintext; the local command line can only make the policy stricter', () => {
  assert.throws(() => parseConfigPolicy({ protocols: ['aby3', 'plaintext'] }), /policy\.protocols: 'plaintext' cannot be enabled by the config/);
  assert.throws(() => parseConfigPolicy({ minContributors: 1 }), /policy\.minContributors: expected an integer >= 2/);
  assert.throws(() => parseConfigPolicy({ minBatchSize: 0 }), /policy\.minBatchSize/);
  assert.throws(() => parseConfigPolicy({ maxRounds: 1.5 }), /policy\.maxRounds/);
  assert.throws(() => parseConfigPolicy({ minContributors: 3, trustModelOwner: true }), /policy\.trustModelOwner: unknown field/);
  assert.throws(() => parseConfigPolicy([]), /policy: expected an object/);
  assert.throws(() => parseConfig(JSON.stringify({ version: 1, policy: 3, players: { a: { address: '127.0.0.1:1', role: 'model-owner' } } })), /policy: expected an object/);
  const cp = parseConfigPolicy({ minContributors: 4, minBatchSize: 32, maxRounds: 100, models: ['network_a'] });
  const p = resolvePolicy(cp);
  assert.deepEqual([p.minContributors, p.minBatchSize, p.maxRounds, p.models, p.protocols, p.insecureAllowPlaintext], [4, 32, 100, ['network_a'], ['aby3', 'pond'], false]);
  assert.equal(resolvePolicy(cp, { minContributors: 5 }).minContributors, 5);
  assert.throws(() => resolvePolicy(cp, { minContributors: 3 }), /"--min-contributors" 3 is below the config's 4/);
  assert.throws(() => resolvePolicy(cp, { minBatchSize: 16 }), /"--min-batch-size" 16 is below the config's 32/);
  assert.throws(() => resolvePolicy(cp, { maxRounds: 101 }), /"--max-rounds" 101 is above the config's 100/);
  assert.throws(() => resolvePolicy(cp, { model: 'network_b' }), /"--model" network_b is not among the config's/);
  // a config laxer than the built-in defaults is not taken on trust: the default holds, with a warning, unless the operator says the same locally
  const lax = parseConfigPolicy({ minContributors: 2, minBatchSize: 1, maxRounds: 1_000_000 });
  const kept = resolvePolicy(lax);
  assert.deepEqual([kept.minContributors, kept.minBatchSize, kept.maxRounds], [3, 16, 10_000]);
  assert.equal(kept.warnings?.length, 3);
  assert.match(kept.warnings![0]!, /the config's policy\.minContributors 2 is laxer than the built-in 3: this player keeps 3 \(its operator accepts 2 with --min-contributors 2\)/);
  const accepted = resolvePolicy(lax, { minContributors: 2, minBatchSize: 1, maxRounds: 1_000_000 });
  assert.deepEqual([accepted.minContributors, accepted.minBatchSize, accepted.maxRounds, accepted.warnings], [2, 1, 1_000_000, []]);
  assert.throws(() => resolvePolicy(lax, { minContributors: 1 }), /"--min-contributors" 1 is below the config's 2/);
  const opted = resolvePolicy(cp, { insecureAllowPlaintext: true });
  assert.deepEqual(opted.protocols, ['aby3', 'pond', 'plaintext']);
  // the config's policy is part of the config hash: a model owner cannot hand a player a laxer copy
  const a = config(ROLES7, { minContributors: 3 });
  const b = config(ROLES7, { minContributors: 2 });
  assert.notEqual(configHash(a), configHash(b));
});

// ------------------------------------------------------------------ attacks over the in-memory hub

const ATTACKS: { name: string; over: (c: DeployConfig) => Partial<JobSpec>; victims: string[]; rule: string }[] = [
  { name: "downgrade to 'plaintext' (each owner's raw gradient to the model owner)", over: () => ({ protocol: 'plaintext', servers: [] }), victims: OWNERS, rule: 'protocol' },
  { name: 'ABY3 with the victim as the only data owner (its exact update as "the mean")', over: () => ({ dataOwners: ['owner0'] }), victims: ['owner0', ...SERVERS], rule: 'minContributors' },
  { name: 'the victim three times over (one contributor counted thrice)', over: () => ({ dataOwners: ['owner0', 'owner0', 'owner0'] }), victims: ['owner0', ...SERVERS], rule: 'roster' },
  { name: 'batch size 1 (the first layer\'s gradient gives back the image)', over: () => ({ batchSize: 1 }), victims: [...OWNERS, ...SERVERS], rule: 'minBatchSize' },
  { name: 'the model owner as a compute server (it would hold two of three shares)', over: () => ({ servers: ['server0', 'model-owner', 'server2'] }), victims: [...OWNERS, 'server0', 'server2'], rule: 'roster' },
];

for (const a of ATTACKS) {
  test(`malicious model owner over the hub: ${a.name} is refused by every victim, which sends nothing but the refusal`, async () => {
    const c = config();
    const ps = players(c, [...OWNERS, ...SERVERS]);
    const job = spec(c, a.over(c));
    // the attacker hands every victim the job and collects the answers, as runDriverJob would
    for (const v of a.victims) await ps.modelOwner.send('model-owner', v, 'fedcrypt/job', new TextEncoder().encode(JSON.stringify(job)));
    const acks = await Promise.all(a.victims.map((v) => ps.modelOwner.receive('model-owner', v, `${job.jobId}/ack`, { timeoutMs: 30_000 })));
    for (const b of acks) assert.equal((JSON.parse(dec.decode(b)) as { ok: boolean }).ok, false);
    // the model owner keeps going: weights for the round, as if the job had started
    for (const v of a.victims) await ps.modelOwner.send('model-owner', v, `${job.jobId}/r1/go`, new Uint8Array(4 + 40).fill(1, 0, 1));
    // every player has stopped serving: nothing more can leave a victim
    await ps.close();
    for (const v of a.victims) assertOnlyRefused(ps.sent, v, job.jobId, a.rule);
    for (const v of a.victims) assert.ok(ps.logs.some((l) => l.startsWith(`${v}: refused job ${job.jobId}: policy "${a.rule}" refuses: `)), `${v} logged its refusal:\n${ps.logs.join('\n')}`);
  });
}

test('the driver reports a refusal as a PolicyError naming the rule and the player; the players that accepted are told to leave', async () => {
  const c = config();
  // owner0 runs a stricter local policy than the others: it wants 4 contributors
  const ps = players(c, [...OWNERS, ...SERVERS], (n) => (n === 'owner0' ? resolvePolicy(undefined, { minContributors: 4 }) : undefined));
  const job = spec(c);
  const logs: string[] = [];
  await assert.rejects(runDriverJob(ps.modelOwner, job, {} as never, { log: (l) => logs.push(l) }), (e: unknown) => {
    assert.ok(e instanceof PolicyError, String(e));
    assert.equal(e.rule, 'minContributors');
    assert.equal(e.party, 'owner0');
    assert.match(e.message, /^owner0: policy "minContributors" refuses: job 0123456789ab: the job aggregates 3 data owners .* owner0 requires at least 4$/);
    return true;
  });
  assertOnlyRefused(ps.sent, 'owner0', job.jobId, 'minContributors');
  // every player was sent the abort
  for (const p of [...OWNERS, ...SERVERS]) assert.ok(ps.sent.some((m) => m.from === 'model-owner' && m.to === p && m.key === `${job.jobId}/abort`), `abort to ${p}`);
  await ps.close();
});

test('a compute server asked to run a job it refuses sends nothing, whoever calls runPlayerJob', async () => {
  const c = config();
  const hub = new MemoryHub();
  const sent: string[] = [];
  const deliver = hub.deliver.bind(hub);
  hub.deliver = (from, to, key, payload) => {
    sent.push(`${from}>${to}:${key}`);
    deliver(from, to, key, payload);
  };
  const t: Transport = new MemoryTransport({ hub, local: ['server1'] });
  const guard = { policy: DEFAULT_POLICY, roster: configRoles(c) };
  await assert.rejects(runPlayerJob(t, spec(c, { dataOwners: ['owner0', 'owner1'] }), 'server1', guard), rule('minContributors'));
  assert.deepEqual(sent, []);
  hub.close();
});

test('plaintext runs only where each data owner\'s operator opted in locally, and that is in the logs on both sides', async () => {
  const roles = ROLES7.filter(([, r]) => r !== 'compute-server');
  const c = config(roles);
  const ps = players(c, OWNERS, () => resolvePolicy(undefined, { insecureAllowPlaintext: true }));
  const driverLog: string[] = [];
  const r = await driveTraining(ps.modelOwner, c, { protocol: 'plaintext', epochs: 1, maxSteps: 1, batchSize: 16, validationLimit: 10, roundTimeoutMs: 60_000, log: (l) => driverLog.push(l) });
  assert.equal(r.error, undefined, String(r.error));
  assert.equal(r.round, 1);
  for (const o of OWNERS) {
    assert.ok(ps.logs.some((l) => l.startsWith(`${o}: policy: protocols aby3, pond, plaintext (INSECURE plaintext opted in locally`)), ps.logs.join('\n'));
    assert.ok(ps.logs.some((l) => l.startsWith(`${o}: job `) && /INSECURE: this player's update goes to the model owner in the clear/.test(l)), ps.logs.join('\n'));
    assert.ok(driverLog.some((l) => l.includes(`player '${o}' takes part in the plaintext job by its operator's local opt-in`)), driverLog.join('\n'));
  }
  assert.ok(driverLog.some((l) => /warning: protocol 'plaintext'/.test(l)));
  await ps.close();
});

test('the driver refuses up front a job the config\'s policy floor refuses (no job is sent)', async () => {
  const c = config(ROLES7, { minBatchSize: 64 });
  const hub = new MemoryHub();
  const sent: string[] = [];
  hub.deliver = (from, to, key) => void sent.push(`${from}>${to}:${key}`);
  await assert.rejects(driveTraining(new MemoryTransport({ hub, local: ['model-owner'] }), c, { epochs: 1, maxSteps: 1, batchSize: 32 }), rule('minBatchSize'));
  assert.deepEqual(sent, []);
  hub.close();
});

// ------------------------------------------------------------------ the same attack over gRPC with mutual TLS

test('malicious model owner over gRPC (mutual TLS): a plaintext job, then a job with the victim as the only data owner, are refused; the victims send only their refusals', { timeout: 120_000 }, async () => {
  const d = await deployment(ROLES7.map(([n]) => n), 'tls');
  const raw = JSON.parse(d.configText) as { players: Record<string, { role: string }> };
  for (const [n, r] of ROLES7) raw.players[n]!.role = r;
  const c = parseConfig(JSON.stringify(raw));
  const transports = new Map<string, GrpcTransport>();
  const sent: Sent[] = [];
  for (const [n] of ROLES7) {
    const t = new GrpcTransport({ config: c, local: d.parties.get(n)!, runId: 'policy', connectTimeoutMs: 5000, logger: () => {} });
    const send = t.send.bind(t);
    t.send = (from, to, key, payload) => {
      sent.push({ from, to, key, payload: payload.slice() });
      return send(from, to, key, payload);
    };
    transports.set(n, t);
  }
  await Promise.all([...transports.values()].map((t) => t.start()));
  let stopped = false;
  const logs: string[] = [];
  const serving = [...OWNERS, ...SERVERS].map((n) => servePlayer(transports.get(n)!, c, n, { log: (l) => logs.push(l), stopped: () => stopped }));
  const refusedBy = async (jobId: string, victims: string[]) => {
    // the driver stops at the first refusal; every victim answers: wait (hang guard only) for each refusal in its log
    for (let i = 0; i < 1200 && victims.some((v) => !logs.some((l) => l.startsWith(`${v}: refused job ${jobId}`))); i++) await new Promise((r) => setTimeout(r, 50));
  };
  try {
    const mo = transports.get('model-owner')!;
    const downgrade = spec(c, { jobId: 'aaaaaaaaaaaa', protocol: 'plaintext', servers: [], roundTimeoutMs: 30_000 });
    await assert.rejects(runDriverJob(mo, downgrade, {} as never), (e: unknown) => e instanceof PolicyError && e.rule === 'protocol' && OWNERS.includes(e.party ?? ''));
    await refusedBy(downgrade.jobId, OWNERS);
    for (const o of OWNERS) assertOnlyRefused(sent.filter((m) => m.key.startsWith(downgrade.jobId)), o, downgrade.jobId, 'protocol');
    for (const s of SERVERS) assert.deepEqual(sent.filter((m) => m.from === s), [], `${s} sent nothing`);
    const lone = spec(c, { jobId: 'bbbbbbbbbbbb', dataOwners: ['owner0'], roundTimeoutMs: 30_000 });
    await assert.rejects(runDriverJob(mo, lone, {} as never), (e: unknown) => e instanceof PolicyError && e.rule === 'minContributors');
    await refusedBy(lone.jobId, ['owner0', ...SERVERS]);
    for (const v of ['owner0', ...SERVERS]) assertOnlyRefused(sent.filter((m) => m.key.startsWith(lone.jobId)), v, lone.jobId, 'minContributors');
    // nothing but refusals ever left a data owner or a server
    for (const m of sent.filter((x) => x.from !== 'model-owner')) assert.match(m.key, /^(aaaaaaaaaaaa|bbbbbbbbbbbb)\/ack$/, `${m.from} sent ${m.key}`);
  } finally {
    stopped = true;
    await Promise.all([...transports.values()].map((t) => t.close()));
    await Promise.all(serving);
  }
});

test('parseConfigPolicy refuses each malformed field by name; lists are de-duplicated', () => {
  const bad: [unknown, RegExp][] = [
    [null, /policy: expected an object/],
    [{ maxRounds: 2 ** 31 + 1 }, /policy\.maxRounds/],
    [{ minBatchSize: '16' }, /policy\.minBatchSize/],
    [{ protocols: [] }, /policy\.protocols: expected a non-empty list/],
    [{ protocols: 'aby3' }, /policy\.protocols/],
    [{ protocols: ['aby3', 'spdz'] }, /policy\.protocols/],
    [{ models: [] }, /policy\.models/],
    [{ models: 'network_a' }, /policy\.models/],
    [{ models: ['network_a', 3] }, /policy\.models/],
    [{ models: ['Network_A'] }, /policy\.models/],
    [{ datasets: ['mnist!'] }, /policy\.datasets/],
    [{ datasets: ['!mnist'] }, /policy\.datasets/],
    [{ datasets: ['m'.repeat(65)] }, /policy\.datasets/],
  ];
  for (const [raw, re] of bad) assert.throws(() => parseConfigPolicy(raw), (e: unknown) => e instanceof Error && e.name === 'ConfigError' && re.test(e.message), JSON.stringify(raw));
  assert.deepEqual(parseConfigPolicy({ maxRounds: 2 ** 31, minBatchSize: 1, minContributors: 2 }), { maxRounds: 2 ** 31, minBatchSize: 1, minContributors: 2 });
  assert.deepEqual(parseConfigPolicy({ protocols: ['aby3', 'aby3'], models: ['network_a', 'network_a'], datasets: ['m'.repeat(64)] }), { protocols: ['aby3'], models: ['network_a'], datasets: ['m'.repeat(64)] });
});

test('resolvePolicy: local options are checked by name; --model is lower-cased; the config protocols narrow', () => {
  assert.throws(() => resolvePolicy(undefined, { minContributors: 1.5 }), /"--min-contributors" expected an integer >= 1, got 1.5/);
  assert.throws(() => resolvePolicy(undefined, { maxRounds: 0 }), /"--max-rounds" expected an integer >= 1, got 0/);
  assert.throws(() => resolvePolicy(undefined, { model: '' }), /"--model" expected a non-empty name/);
  assert.deepEqual(resolvePolicy(undefined, { model: 'Network_A' }).models, ['network_a']);
  assert.deepEqual(resolvePolicy({ protocols: ['pond'] }).protocols, ['pond']);
  assert.deepEqual(resolvePolicy({ protocols: ['pond'] }, { insecureAllowPlaintext: true }).protocols, ['pond', 'plaintext']);
  assert.deepEqual(resolvePolicy(undefined, { minContributors: 4, maxRounds: 5 }).warnings, []);
});

test('checkJob: an opted-in plaintext job needs no compute servers; refusals carry the rule over the wire only for known rules', () => {
  const c = config();
  const opted = resolvePolicy(undefined, { insecureAllowPlaintext: true });
  checkJob(opted, spec(c, { protocol: 'plaintext', servers: [] }), configRoles(c), 'owner0');
  assert.throws(() => checkJob(opted, spec(c, { servers: [] }), configRoles(c), 'owner0'), (e: unknown) => e instanceof PolicyError && e.rule === 'roster' && /\(none\) are not the config's \(server0, server1, server2\)/.test(e.message));
  assert.throws(() => checkJob(DEFAULT_POLICY, spec(c, { dataOwners: ['owner0'] }), configRoles(c), 'owner0'), (e: unknown) => e instanceof PolicyError && /aggregates 1 data owner \(owner0\), owner0 requires at least 3$/.test(e.message));
  assert.deepEqual(refusalOf(new PolicyError('roster', 'x')), { rule: 'roster', error: 'policy "roster" refuses: x' });
  assert.deepEqual(refusalOf(new PolicyError('onInvalid', 'x')), { error: 'policy "onInvalid" refuses: x' });
  assert.deepEqual(refusalOf(new RangeError('y')), { error: 'y' });
  assert.equal(isPolicyRule('toString'), false);
  assert.equal(isPolicyRule(3), false);
  assert.equal(isPolicyRule('agreement'), true);
});
