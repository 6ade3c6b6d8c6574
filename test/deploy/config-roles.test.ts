/**
 * The roles of a config and the parameters of a run on the execution stack
 * (pure functions that stay when the SPMD job path goes): configRoles,
 * checkServersFor and resolveStackParams name the problem. Moved from
 * job.test.ts (its resolveParams checks are the stack's resolveStackParams
 * here).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, ConfigError } from '../../src/transport/config.js';
import { configRoles, checkServersFor } from '../../src/deploy/roster.js';
import { checkConfigPolicy, resolveStackParams, totalRounds } from '../../src/deploy/stack-params.js';
import { PolicyError } from '../../src/deploy/policy.js';
import { ROLES7 } from './helpers.js';

function config(roles: [string, string][] = ROLES7) {
  const players: Record<string, unknown> = {};
  roles.forEach(([n, r], i) => (players[n] = { address: `127.0.0.1:${6000 + i}`, role: r }));
  return parseConfig(JSON.stringify({ version: 1, players }));
}
const without = (role: string) => ROLES7.filter(([, r]) => r !== role);

test('configRoles: one model owner, data owners and servers in config order; errors name the problem', () => {
  assert.deepEqual(configRoles(config()), { modelOwner: 'model-owner', dataOwners: ['owner0', 'owner1', 'owner2'], servers: ['server0', 'server1', 'server2'] });
  // config order, not name order
  assert.deepEqual(configRoles(config([ROLES7[0]!, ['owner2', 'data-owner'], ['server1', 'compute-server'], ['owner0', 'data-owner']])), { modelOwner: 'model-owner', dataOwners: ['owner2', 'owner0'], servers: ['server1'] });
  assert.throws(() => configRoles(config(ROLES7.slice(1))), (e: unknown) => e instanceof ConfigError && /exactly one player with role "model-owner", found 0/.test(e.message));
  assert.throws(() => configRoles(config([...ROLES7, ['mo2', 'model-owner']])), /exactly one player with role "model-owner", found 2 \(model-owner, mo2\)/);
  assert.throws(() => configRoles(config(without('data-owner'))), /at least one player with role "data-owner"/);
});

test('checkServersFor and resolveStackParams: the servers a protocol needs, the owners, the mode and protocol, by name', () => {
  assert.throws(() => checkServersFor('aby3', ['server0', 'server1']), (e: unknown) => e instanceof ConfigError && /aby3 needs exactly 3 players with role "compute-server", found 2/.test(e.message));
  assert.throws(() => checkServersFor('pond', []), /pond needs exactly 3 players with role "compute-server" \(two servers and the crypto producer\), found 0/);
  assert.throws(() => checkServersFor('paillier', []), /paillier needs a player with role "compute-server" \(the aggregation service\)/);
  checkServersFor('paillier', ['server0']);
  // the insecure reference's aggregator is a compute server too (the first)
  assert.throws(() => checkServersFor('plaintext', []), /plaintext needs a player with role "compute-server" \(the insecure reference's aggregator\)/);
  checkServersFor('plaintext', ['server0']);
  assert.throws(() => resolveStackParams(config(ROLES7.filter(([n]) => n !== 'server2')), { protocol: 'aby3' }), /aby3 needs exactly 3 players with role "compute-server", found 2/);
  assert.throws(() => resolveStackParams(config(), { owners: 4 }), /"owners" is 4 but the config has 3 data owners \(owner0, owner1, owner2\)/);
  assert.throws(() => resolveStackParams(config(), { mode: 'fedprox' as never }), (e: unknown) => e instanceof RangeError && /"mode" expected 'fedsgd' or 'fedavg'/.test(e.message));
  assert.throws(() => resolveStackParams(config(), { protocol: 'spdz' as never }), (e: unknown) => e instanceof RangeError && /"protocol" expected one of aby3, pond, paillier, secagg, plaintext/.test(e.message));
  assert.throws(() => resolveStackParams(config(), { precision: 'mid' as never }), /"precision" expected 'low' or 'high'/);
  assert.throws(() => resolveStackParams(config(), { batchSize: 0 }), /"batchSize" expected an integer >= 1, got 0/);
  assert.throws(() => resolveStackParams(config(), { lr: 0 }), /"lr" expected a finite number > 0/);
  assert.throws(() => resolveStackParams(config(), { optimizer: 'rmsprop' as never }), /"optimizer" expected amsgrad, adam or sgd/);
  // the roles come from the config
  assert.throws(() => resolveStackParams(config(without('compute-server')), { protocol: 'plaintext', mode: 'fedsgd' }), /plaintext needs a player with role "compute-server"/);
  const p = resolveStackParams(config(ROLES7.filter(([n]) => n !== 'server1' && n !== 'server2')), { protocol: 'plaintext', mode: 'fedsgd' });
  assert.deepEqual([p.servers, p.dataOwners, p.modelOwner, p.optimizer, p.localEpochs, p.clientLr], [['server0'], ['owner0', 'owner1', 'owner2'], 'model-owner', 'amsgrad', null, null]);
  assert.deepEqual(resolveStackParams(config(), { protocol: 'Pond' as never }).servers, ['server0', 'server1', 'server2']);
  // rounds of a run: FedAvg its rounds; FedSGD epochs x stepsPerEpoch, capped by maxSteps, once the players have answered
  const fedavg = resolveStackParams(config(), { epochs: 4 });
  assert.equal(totalRounds(fedavg), 4);
  const fedsgd = resolveStackParams(config(), { mode: 'fedsgd', epochs: 2, maxSteps: 7 });
  assert.throws(() => totalRounds(fedsgd), /needs its stepsPerEpoch/);
  assert.equal(totalRounds({ ...fedsgd, stepsPerEpoch: 5, clients: 3 }), 7);
  assert.equal(totalRounds({ ...fedsgd, maxSteps: null, stepsPerEpoch: 5, clients: 3 }), 10);
});

test("checkConfigPolicy: the driver refuses up front what the config's policy (every player's floor) refuses, naming the rule", () => {
  const withPolicy = (policy: Record<string, unknown>) => {
    const players: Record<string, unknown> = {};
    ROLES7.forEach(([n, r], i) => (players[n] = { address: `127.0.0.1:${6000 + i}`, role: r }));
    return parseConfig(JSON.stringify({ version: 1, policy, players }));
  };
  const refused = (rule: string, re: RegExp) => (e: unknown) => e instanceof PolicyError && e.rule === rule && e.party === "the config's policy" && re.test(e.message);
  const ok = withPolicy({});
  const p = resolveStackParams(ok, { batchSize: 32, epochs: 3 });
  checkConfigPolicy(ok, p, 3);
  // the built-in floor: Paillier off, batches of at least 16, at most 10,000 rounds
  assert.throws(() => checkConfigPolicy(ok, resolveStackParams(ok, { protocol: 'paillier' }), 3), refused('protocol', /every player refuses 'paillier': the config's policy allows aby3, pond/));
  assert.throws(() => checkConfigPolicy(ok, resolveStackParams(ok, { batchSize: 15 }), 3), refused('minBatchSize', /batch size 15 is below the config's minimum of 16/));
  assert.throws(() => checkConfigPolicy(ok, p, 10_001), refused('maxRounds', /the run has 10001 rounds, the config's policy allows at most 10000/));
  checkConfigPolicy(ok, p, 10_000);
  // the config's own policy, stricter
  const strict = withPolicy({ protocols: ['aby3', 'paillier'], minContributors: 4, minBatchSize: 64, maxRounds: 50, models: ['logistic_regression'], datasets: ['mnist'] });
  const sp = (o: Parameters<typeof resolveStackParams>[1]) => resolveStackParams(strict, { batchSize: 64, model: 'logistic_regression', ...o });
  assert.throws(() => checkConfigPolicy(strict, sp({}), 3), refused('minContributors', /the config has 3 data owner\(s\), every player requires at least 4/));
  const five = withPolicy({ minContributors: 3, protocols: ['aby3', 'paillier'] });
  checkConfigPolicy(five, resolveStackParams(five, { protocol: 'paillier' }), 3);
  assert.throws(() => checkConfigPolicy(withPolicy({ protocols: ['aby3'] }), resolveStackParams(ok, { protocol: 'pond' }), 3), refused('protocol', /refuses 'pond'/));
  const models = withPolicy({ models: ['logistic_regression'], datasets: ['mnist'], maxRounds: 50 });
  assert.throws(() => checkConfigPolicy(models, resolveStackParams(models, { model: 'network_a' }), 3), refused('model', /trains logistic_regression, not 'network_a'/));
  assert.throws(() => checkConfigPolicy(models, resolveStackParams(models, { model: 'logistic_regression', dataset: 'fashion' }), 3), refused('dataset', /trains on mnist, not 'fashion'/));
  assert.throws(() => checkConfigPolicy(models, resolveStackParams(models, { model: 'logistic_regression' }), 51), refused('maxRounds', /at most 50/));
  // plaintext is each data owner's own opt-in: not the driver's to decide
  checkConfigPolicy(ok, resolveStackParams(ok, { protocol: 'plaintext' }), 3);
});
