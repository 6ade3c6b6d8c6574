/**
 * A player's policy from its three sources (built-in defaults, the config's
 * `"policy"`, the operator's command line): pure functions of
 * deploy/policy.ts that every player of the execution stack resolves at start
 * (`fedcrypt player`, `remoteContext`). Moved from policy.test.ts, which tests
 * the SPMD job path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, type DeployConfig } from '../../src/transport/config.js';
import { configHash } from '../../src/deploy/roster.js';
import { parseConfigPolicy, resolvePolicy, describePolicy, DEFAULT_POLICY } from '../../src/deploy/policy.js';
import { ROLES7 } from './helpers.js';

function config(policy?: unknown): DeployConfig {
  const players: Record<string, unknown> = {};
  ROLES7.forEach(([n, r], i) => (players[n] = { address: `127.0.0.1:${6000 + i}`, role: r }));
  return parseConfig(JSON.stringify({ version: 1, ...(policy ? { policy } : {}), players }));
}

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
  // the config's policy is part of the config hash (every session request carries it): a model owner cannot hand a player a laxer copy
  assert.notEqual(configHash(config({ minContributors: 3 })), configHash(config({ minContributors: 2 })));
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
  assert.deepEqual(parseConfigPolicy(undefined), {});
  assert.deepEqual(parseConfigPolicy({ maxRounds: 2 ** 31, minBatchSize: 1, minContributors: 2 }), { maxRounds: 2 ** 31, minBatchSize: 1, minContributors: 2 });
  assert.deepEqual(parseConfigPolicy({ protocols: ['aby3', 'aby3'], models: ['network_a', 'network_a'], datasets: ['m'.repeat(64)] }), { protocols: ['aby3'], models: ['network_a'], datasets: ['m'.repeat(64)] });
  // Paillier is enabled by the config only (not among the defaults: its key holder is the model owner)
  assert.deepEqual(DEFAULT_POLICY.protocols, ['aby3', 'pond']);
  assert.deepEqual(resolvePolicy(parseConfigPolicy({ protocols: ['aby3', 'pond', 'paillier'] })).protocols, ['aby3', 'pond', 'paillier']);
});

test('resolvePolicy: local options are checked by name; --model is lower-cased; the config protocols narrow', () => {
  assert.throws(() => resolvePolicy(undefined, { minContributors: 1.5 }), /"--min-contributors" expected an integer >= 1, got 1.5/);
  assert.throws(() => resolvePolicy(undefined, { maxRounds: 0 }), /"--max-rounds" expected an integer >= 1, got 0/);
  assert.throws(() => resolvePolicy(undefined, { model: '' }), /"--model" expected a non-empty name/);
  assert.throws(() => resolvePolicy({ datasets: ['mnist'] }, { dataset: 'cifar' }), /"--dataset" cifar is not among the config's \(mnist\)/);
  assert.deepEqual(resolvePolicy(undefined, { model: 'Network_A' }).models, ['network_a']);
  assert.deepEqual(resolvePolicy(undefined, { dataset: 'MNIST' }).datasets, ['mnist']);
  assert.deepEqual(resolvePolicy({ protocols: ['pond'] }).protocols, ['pond']);
  assert.deepEqual(resolvePolicy({ protocols: ['pond'] }, { insecureAllowPlaintext: true }).protocols, ['pond', 'plaintext']);
  assert.deepEqual(resolvePolicy(undefined, { minContributors: 4, maxRounds: 5 }).warnings, []);
  assert.match(describePolicy(resolvePolicy(undefined, { insecureAllowPlaintext: true, model: 'network_a' })), /^protocols aby3, pond, plaintext \(INSECURE plaintext opted in locally: --insecure-allow-plaintext\); at least 3 contributors; batch size at least 16; at most 10000 rounds; models network_a; datasets any; computations reveal its inputs' results to itself only; ops any$/);
});
