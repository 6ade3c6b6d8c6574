/**
 * Past the job spec: a malicious model owner that sends an honest spec, which
 * every player accepts, then attacks through the rounds (issue 12; found by
 * an attacker's review of the party policy). Each test drives real players
 * (servePlayer) over the in-memory hub and asserts what reaches the model
 * owner.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, type DeployConfig } from '../../src/transport/config.js';
import { configHash, type JobSpec } from '../../src/deploy/job.js';
import { resolvePolicy } from '../../src/deploy/policy.js';
import { resolveParams } from '../../src/deploy/driver.js';
import { jobAggregation, makeDataOwner, reportText } from '../../src/deploy/training.js';
import { checkAgreement, encodeAgreement, revealingServers, specHash } from '../../src/deploy/agreement.js';
import { PolicyError } from '../../src/core/errors.js';
import { players } from './policy-helpers.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const SERVERS = ['server0', 'server1', 'server2'];

function config(owners: string[]): DeployConfig {
  const players: Record<string, unknown> = {};
  const roles: [string, string][] = [['model-owner', 'model-owner'], ...SERVERS.map((s) => [s, 'compute-server'] as [string, string]), ...owners.map((o) => [o, 'data-owner'] as [string, string])];
  roles.forEach(([n, r], i) => (players[n] = { address: `127.0.0.1:${6000 + i}`, role: r }));
  return parseConfig(JSON.stringify({ version: 1, players }));
}

let model: { n: number; weights: Float32Array } | undefined;
/** network_a's size and initial weights (what an honest model owner sends in round 1). */
async function networkA(): Promise<{ n: number; weights: Float32Array }> {
  if (model) return model;
  const L = await import('../../src/learning/index.js');
  await L.initTf();
  const mo = new L.ModelOwner('m', 'network_a', L.loadDataset('mnist'), { seed: 1 });
  model = { n: mo.numParams, weights: mo.shareWeights().slice() };
  mo.dispose();
  return model;
}

function spec(c: DeployConfig, n: number, over: Partial<JobSpec> = {}): JobSpec {
  return {
    version: 1, jobId: '0123456789ab', ...resolveParams(c, { epochs: 1, maxSteps: 1, batchSize: 16 }), numParams: n, stepsPerEpoch: 100, totalSteps: 1, startRound: 0,
    roundTimeoutMs: 60_000, idleTimeoutMs: 60_000, configHash: configHash(c), ...over,
  };
}

/** The model owner's side, by hand: hand out the specs, collect the acceptances, send `go`s. */
function attacker(ps: ReturnType<typeof players>) {
  const mo = ps.modelOwner;
  return {
    async start(specs: Record<string, JobSpec>) {
      for (const [p, s] of Object.entries(specs)) await mo.send('model-owner', p, 'fedcrypt/job', enc.encode(JSON.stringify(s)));
      for (const [p, s] of Object.entries(specs)) {
        const ack = JSON.parse(dec.decode(await mo.receive('model-owner', p, `${s.jobId}/ack`, { timeoutMs: 60_000 }))) as { ok: boolean };
        assert.equal(ack.ok, true, `${p} accepted the (honest-looking) job`);
      }
    },
    go(p: string, jobId: string, r: number, w?: Float32Array) {
      const b = new Uint8Array(4 + (w ? w.byteLength : 0));
      b[0] = 1;
      if (w) b.set(new Uint8Array(w.buffer, w.byteOffset, w.byteLength), 4);
      return mo.send('model-owner', p, `${jobId}/r${r}/go`, b);
    },
    fail(p: string, jobId: string) {
      return mo.receive('model-owner', p, `${jobId}/fail`, { timeoutMs: 60_000 }).then((b) => JSON.parse(dec.decode(b)) as { message: string });
    },
  };
}

const sumsToModelOwner = (ps: ReturnType<typeof players>, jobId: string) =>
  ps.sent.filter((m) => m.to === 'model-owner' && SERVERS.includes(m.from) && m.key.startsWith(`job-${jobId}`));

test('different weights to each data owner (the victim the real ones, the others zeros): the servers reveal nothing', { timeout: 300_000 }, async () => {
  const OWNERS = ['owner0', 'owner1', 'owner2'];
  const c = config(OWNERS);
  const { n, weights } = await networkA();
  const job = spec(c, n);
  const ps = players(c, [...OWNERS, ...SERVERS]);
  const a = attacker(ps);
  try {
    await a.start(Object.fromEntries([...OWNERS, ...SERVERS].map((p) => [p, job])));
    await a.go('owner0', job.jobId, 1, weights);
    await a.go('owner1', job.jobId, 1, new Float32Array(n));
    await a.go('owner2', job.jobId, 1, new Float32Array(n));
    for (const s of SERVERS) await a.go(s, job.jobId, 1);
    const reports = await Promise.all(['server0', 'server1'].map((s) => a.fail(s, job.jobId)));
    for (const r of reports) assert.match(r.message, /policy "agreement" refuses: round 1: 'owner1' and 'owner0' were sent different weights/);
    // the model owner's half of the aggregation never completes: no sum from any server
    const mean = await Promise.race([jobAggregation(job, ps.modelOwner).round(1, undefined, 'model-owner').catch(() => undefined), new Promise<'none'>((r) => setTimeout(() => r('none'), 2000))]);
    assert.ok(mean === 'none' || mean === undefined, 'no mean was revealed');
    assert.deepEqual(sumsToModelOwner(ps, job.jobId).map((m) => `${m.from} ${m.key}`), []);
  } finally {
    await ps.close();
  }
});

test('different job specs under one job id (the victim sees five owners, the rest three): the servers take no part', { timeout: 300_000 }, async () => {
  const c = config(['owner0', 'owner1', 'owner2', 'owner3', 'owner4']);
  const { n, weights } = await networkA();
  const forVictim = spec(c, n);
  const forOthers = spec(c, n, { dataOwners: ['owner0', 'owner1', 'owner2'] });
  const names = ['owner0', 'owner1', 'owner2', ...SERVERS];
  // the victim wants five contributors
  const ps = players(c, names, (p) => (p === 'owner2' ? resolvePolicy(undefined, { minContributors: 5 }) : undefined));
  const a = attacker(ps);
  try {
    await a.start(Object.fromEntries(names.map((p) => [p, p === 'owner2' ? forVictim : forOthers])));
    for (const o of ['owner0', 'owner1', 'owner2']) await a.go(o, forOthers.jobId, 1, weights);
    for (const s of SERVERS) await a.go(s, forOthers.jobId, 1);
    const reports = await Promise.all(['server0', 'server1'].map((s) => a.fail(s, forOthers.jobId)));
    for (const r of reports) assert.match(r.message, /policy "agreement" refuses: round 1: 'owner2' was sent another job spec/);
    assert.deepEqual(sumsToModelOwner(ps, forOthers.jobId).map((m) => `${m.from} ${m.key}`), []);
  } finally {
    await ps.close();
  }
});

test('checkAgreement: the strictest minimum of the owners holds; equal specs and weights pass', () => {
  const h = specHash({ a: 1 } as never);
  const w = new Uint8Array(8).fill(7);
  const owners = ['o0', 'o1', 'o2'];
  checkAgreement(h, owners.map(() => encodeAgreement(h, w, 3)), owners, 1, 's0');
  assert.throws(() => checkAgreement(h, owners.map((_, i) => encodeAgreement(h, w, i === 1 ? 4 : 3)), owners, 1, 's0'),
    (e: unknown) => e instanceof PolicyError && e.rule === 'minContributors' && /'o1' requires at least 4 contributors, the job has 3/.test(e.message));
  assert.throws(() => checkAgreement(h, owners.map((_, i) => encodeAgreement(h, i === 2 ? new Uint8Array(8) : w, 3)), owners, 1, 's0'), (e: unknown) => e instanceof PolicyError && e.rule === 'agreement');
  assert.throws(() => checkAgreement(h, [encodeAgreement(h, w, 3).subarray(1), ...owners.slice(1).map(() => encodeAgreement(h, w, 3))], owners, 1, 's0'), (e: unknown) => e instanceof PolicyError && /67-byte agreement/.test(e.message));
  // the first owner with the strictest minimum is named
  assert.throws(() => checkAgreement(h, owners.map((_, i) => encodeAgreement(h, w, i === 0 ? 3 : 4)), owners, 1, 's0'), /'o1' requires at least 4/);
  assert.throws(() => checkAgreement(h, owners.slice(1).map(() => encodeAgreement(h, w, 3)), owners, 1, 's0'), RangeError);
  for (const m of [0, 1.5, 2 ** 32]) assert.throws(() => encodeAgreement(h, w, m), /"minContributors" expected an integer in \[1, 2\^32\)/);
  assert.throws(() => encodeAgreement(h.subarray(1), w, 3), /"spec" expected 32 bytes, got 31/);
  encodeAgreement(h, w, 1);
  encodeAgreement(h, w, 2 ** 32 - 1);
  assert.deepEqual(revealingServers({ protocol: 'aby3', servers: ['a', 'b', 'c'] }), ['a', 'b']);
  assert.deepEqual(revealingServers({ protocol: 'pond', servers: ['a', 'b', 'c'] }), ['a', 'b']);
  assert.deepEqual(revealingServers({ protocol: 'plaintext', servers: ['a', 'b', 'c'] }), []);
  // the spec hash does not depend on the order the fields came in
  assert.deepEqual(specHash({ b: 2, a: 1 } as never), specHash({ a: 1, b: 2 } as never));
  assert.notDeepEqual(specHash({ a: 1, b: 3 } as never), specHash({ a: 1, b: 2 } as never));
});

test('a round past the job\'s totalSteps is refused: the owners compute and share nothing for it', { timeout: 300_000 }, async () => {
  const OWNERS = ['owner0', 'owner1', 'owner2'];
  const c = config(OWNERS);
  const { n, weights } = await networkA();
  const job = spec(c, n, { totalSteps: 1 });
  const ps = players(c, [...OWNERS, ...SERVERS], () => resolvePolicy(undefined, { maxRounds: 1 }));
  const a = attacker(ps);
  try {
    await a.start(Object.fromEntries([...OWNERS, ...SERVERS].map((p) => [p, job])));
    const agg = jobAggregation(job, ps.modelOwner);
    for (const o of OWNERS) await a.go(o, job.jobId, 1, weights);
    for (const s of SERVERS) await a.go(s, job.jobId, 1);
    const mean = await agg.round(1, undefined, 'model-owner');
    assert.equal(mean!.length, n, 'round 1, the one accepted, runs');
    for (const o of OWNERS) await ps.modelOwner.receive('model-owner', o, `${job.jobId}/r1/done`, { timeoutMs: 60_000 });
    // round 2 was never agreed to
    for (const o of OWNERS) await a.go(o, job.jobId, 2, weights);
    const reports = await Promise.all(OWNERS.map((o) => a.fail(o, job.jobId)));
    for (const r of reports) assert.match(r.message, /policy "maxRounds" refuses: round 2 asked for, the job accepted has 1 rounds/);
    // nothing of round 2 left an owner: no agreement, no share (the protocol's second operation), no done
    assert.deepEqual(ps.sent.filter((m) => OWNERS.includes(m.from) && (m.key.includes('/r2/') || /^job-[0-9a-f]{12}\/2\//.test(m.key))).map((m) => `${m.from} ${m.key}`), []);
    assert.ok(ps.sent.some((m) => m.from === 'owner0' && /^job-[0-9a-f]{12}\/1\//.test(m.key)), 'the filter sees round 1\'s shares');
  } finally {
    await ps.close();
  }
});

test('failure reports carry no data: an update the owner cannot encode is reported by its class only', { timeout: 300_000 }, async () => {
  const OWNERS = ['owner0', 'owner1', 'owner2'];
  const c = config(OWNERS);
  const { n } = await networkA();
  const job = spec(c, n);
  const ps = players(c, [...OWNERS, ...SERVERS]);
  const a = attacker(ps);
  try {
    await a.start(Object.fromEntries([...OWNERS, ...SERVERS].map((p) => [p, job])));
    // weights that route one pixel through two layers scaled by 1e7, so one gradient value of the last layer
    // overflows the fixed-point range and its encoding fails quoting it (network_a: W1 784x128, b1, W2 128x128, b2, W3, b3)
    const W = new Float32Array(n);
    const pixel = 14 * 28 + 14;
    for (let k = 0; k < 128; k++) W[pixel * 128 + k] = 1e7;
    W.fill(1e7, 784 * 128 + 128, 784 * 128 + 128 + 128 * 128);
    await a.go('owner0', job.jobId, 1, W);
    const fail = await a.fail('owner0', job.jobId);
    assert.equal(fail.message, "EncodingRangeError at 'owner0' (details in its own log)");
    // the owner's own log keeps the details
    for (let i = 0; i < 600 && !ps.logs.some((l) => l.startsWith(`owner0: job ${job.jobId} failed`)); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(ps.logs.some((l) => l.startsWith(`owner0: job ${job.jobId} failed`) && /\d{6,}/.test(l)), ps.logs.join('\n'));
    // and the value it quotes locally is the victim's gradient: the report would have leaked it
    const v = await makeDataOwner(job, 0);
    v.updateModel(W);
    const g = v.computeGradient().grad;
    v.dispose();
    assert.ok(g.some((x) => Math.abs(x) > 2 ** 40), 'the crafted weights do overflow the encoding');
  } finally {
    await ps.close();
  }
});

test('reportText: job, policy, round and link errors go as they are; anything else by class only', () => {
  assert.equal(reportText(new PolicyError('roster', 'x'), 'o'), 'policy "roster" refuses: x');
  assert.equal(reportText(new RangeError('element 3 is 123456789'), 'o'), "RangeError at 'o' (details in its own log)");
  assert.equal(reportText(new TypeError('shape [3] of 0.25'), 'o'), "TypeError at 'o' (details in its own log)");
  assert.equal(reportText('boom', 'o'), "string at 'o' (details in its own log)");
});

test('a job id is taken once: the same id again is refused', { timeout: 120_000 }, async () => {
  const c = config(['owner0', 'owner1', 'owner2']);
  const job = spec(c, 10);
  const ps = players(c, ['server0']);
  try {
    await ps.modelOwner.send('model-owner', 'server0', 'fedcrypt/job', enc.encode(JSON.stringify(job)));
    assert.equal((JSON.parse(dec.decode(await ps.modelOwner.receive('model-owner', 'server0', `${job.jobId}/ack`, { timeoutMs: 30_000 }))) as { ok: boolean }).ok, true);
    // end that job, then send the same id again
    await ps.modelOwner.send('model-owner', 'server0', `${job.jobId}/r1/go`, Uint8Array.of(0, 0, 0, 0));
    for (let i = 0; i < 600 && !ps.logs.some((l) => l.startsWith(`server0: job ${job.jobId} finished`)); i++) await new Promise((r) => setTimeout(r, 20));
    await ps.modelOwner.send('model-owner', 'server0', 'fedcrypt/job', enc.encode(JSON.stringify(job)));
    const again = JSON.parse(dec.decode(await ps.modelOwner.receive('model-owner', 'server0', `${job.jobId}/ack`, { timeoutMs: 30_000 }))) as { ok: boolean; rule: string };
    assert.deepEqual([again.ok, again.rule], [false, 'jobId']);
  } finally {
    await ps.close();
  }
});
