/**
 * An option that does not apply to the chosen run is an error naming it,
 * before anything starts; library argument names never reach the user.
 * Each case runs the CLI as a user would.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inapplicableOptions, userMessage, TRAIN_OPTION_RULES, type RunShape } from '../../src/cli/options.js';
import { keygen } from '../../src/deploy/keys.js';
import { freePorts } from '../deploy/helpers.js';
import { fedcrypt } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-cli-options-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Refused before anything starts: exit 1, the message, no training line, no run folder. */
function refused(args: string[], ...res: RegExp[]): void {
  const r = fedcrypt(['train', 'network_a', 'mnist', ...args], dir);
  assert.equal(r.status, 1, `${args.join(' ')}\n${r.out}`);
  for (const re of res) assert.match(r.stderr, re, args.join(' '));
  assert.doesNotMatch(r.out, /fedcrypt train:|job [0-9a-f]{12}|round \d/, 'nothing started');
  assert.ok(!existsSync(join(dir, 'runs')), 'no run folder');
}

describe('train: options that do not apply are errors (CLI)', { timeout: 240_000 }, () => {
  it('FedAvg-only options with --mode fedsgd (the default)', () => {
    refused(['--local-epochs', '2'], /^error: --local-epochs applies to --mode fedavg only/m);
    refused(['--mode', 'fedsgd', '--client-lr', '0.1'], /^error: --client-lr applies to --mode fedavg only/m);
  });

  it('the secagg options: named in every refusal', () => {
    refused(['--protocol', 'secagg', '--secagg-graph', 'auto', '--secagg-threshold', '3'], /^error: --secagg-threshold is for --secagg-graph complete/m);
    refused(['--protocol', 'secagg', '--secagg-adversary', 'evil'], /option '--secagg-adversary <mode>' argument 'evil' is invalid/);
    refused(['--secagg-graph', 'auto'], /^error: --secagg-graph applies to --protocol secagg only/m);
  });

  it('networked-only options without --config, each named (several at once listed together)', () => {
    refused(['--round-timeout', '5'], /^error: --round-timeout applies to networked training only \(with --config\)/m);
    refused(['--checkpoint-dir', 'ckpt', '--resume', '--key', 'keys/mo.key'], /3 options do not apply to this run/, /--key applies to networked training only/, /--checkpoint-dir applies/, /--resume applies/);
  });

  it('in-process-only options with --config, before the config is even read', () => {
    const net = ['--config', 'no-such-config.json'];
    refused([...net, '--non-iid'], /^error: --non-iid is in-process only: with --config each data owner's data is what its player's --data names/m);
    // (the retired SPMD job path's switch is gone: an unknown option)
    refused([...net, '--engine', 'spmd'], /^error: unknown option '--engine'/m);
    refused([...net, '--on-bad-update', 'skip'], /--on-bad-update skip is in-process only/);
    refused([...net, '--min-contributors', '4'], /--min-contributors is each player's own policy with --config: set "policy": \{ "minContributors": n \}/);
    refused([...net, '--protocol', 'plaintext', '--insecure-allow-plaintext'], /--insecure-allow-plaintext is each data owner's own opt-in with --config: .*fedcrypt player \.\.\. --insecure-allow-plaintext/);
    refused([...net, '--checkpoint-dir', 'c', '--resume', '--local-epochs', '1'], /--local-epochs applies to --mode fedavg only/);
    refused([...net, '--resume'], /--resume needs --checkpoint-dir/);
  });

  it('options of the secure protocols with --protocol plaintext, and the plaintext opt-in with a secure protocol', () => {
    refused(['--protocol', 'plaintext', '--insecure-allow-plaintext', '--precision', 'high'], /--precision applies to the secure protocols only/);
    refused(['--protocol', 'plaintext', '--insecure-allow-plaintext', '--min-contributors', '3'], /--min-contributors applies to the secure protocols only/);
    refused(['--protocol', 'aby3', '--insecure-allow-plaintext'], /--insecure-allow-plaintext applies to --protocol plaintext only/);
  });

  it('defaults never count as given: a plaintext run with the defaults of --precision, --round-timeout, --on-bad-update runs; --validation-limit applies in process', () => {
    const out = join(dir, 'ok-run');
    const r = fedcrypt(['train', 'logistic_regression', 'mnist', '--protocol', 'plaintext', '--insecure-allow-plaintext', '--epochs', '1', '--max-steps', '1', '--batch-size', '16', '--validation-limit', '7', '--out', out], dir);
    assert.equal(r.status, 0, r.out);
    const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    assert.equal(m.epochs.length, 1);
    rmSync(out, { recursive: true });
  });
});

describe('the table itself', () => {
  const fedsgd: RunShape = { mode: 'fedsgd', protocol: 'aby3', networked: false };
  const all = (run: RunShape, values: Record<string, unknown> = {}) => inapplicableOptions(run, () => true, { onBadUpdate: 'skip', ...values });

  it('every option applies somewhere, and each is refused exactly where it does not apply', () => {
    const shapes: RunShape[] = [];
    for (const mode of ['fedsgd', 'fedavg'] as const) for (const protocol of ['aby3', 'plaintext', 'secagg']) for (const networked of [false, true]) for (const dp of [undefined, 'gaussian', 'adaptive', 'dgauss']) shapes.push({ mode, protocol, networked, ...(dp ? { dp } : {}) });
    for (const rule of TRAIN_OPTION_RULES) {
      const flag = `--${rule.key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      const where = shapes.filter((s) => inapplicableOptions(s, (k) => k === rule.key || (rule.key === 'resume' && k === 'checkpointDir') || (s.dp !== undefined && ['noiseMultiplier', 'samplingRate', ...(s.dp === 'adaptive' ? [] : ['clip'])].includes(k)), { onBadUpdate: 'skip', noiseAt: 'server' }).length === 0);
      assert.ok(where.length > 0, `${flag} applies to some run`);
      assert.ok(where.length < shapes.length, `${flag} does not apply to some run`);
    }
    assert.deepEqual(inapplicableOptions({ mode: 'fedavg', protocol: 'aby3', networked: false }, (k) => ['localEpochs', 'clientLr', 'precision', 'minContributors', 'out', 'onBadUpdate'].includes(k), { onBadUpdate: 'skip' }), []);
    assert.deepEqual(inapplicableOptions({ mode: 'fedsgd', protocol: 'aby3', networked: true }, (k) => ['roundTimeout', 'key', 'checkpointDir', 'resume', 'precision', 'onBadUpdate'].includes(k), { onBadUpdate: 'abort' }), []);
    assert.deepEqual(all(fedsgd).map((m) => m.split(' ')[0]), ['--local-epochs', '--client-lr', '--round-timeout', '--key', '--checkpoint-dir', '--resume', '--dropout', '--secagg-graph', '--secagg-threshold', '--secagg-adversary', '--dp', '--noise-multiplier', '--target-delta', '--sampling-rate', '--dp-seed', '--compare-no-dp', '--clip', '--initial-clip', '--clients-per-round', '--dp-bits', '--dp-beta', '--dp-accountant', '--noise-at', '--insecure-allow-plaintext']);
    // networked (the execution stack): a run folder and checkpoints in both modes; no --non-iid (each player's --data is its data)
    for (const mode of ['fedsgd', 'fedavg'] as const) {
      assert.deepEqual(inapplicableOptions({ mode, protocol: 'aby3', networked: true }, (k) => ['out', 'checkpointDir', 'resume', 'roundTimeout'].includes(k), {}), []);
      assert.deepEqual(inapplicableOptions({ mode, protocol: 'aby3', networked: true }, (k) => k === 'nonIid', {}).map((m) => m.split(' ')[0]), ['--non-iid']);
    }
    assert.deepEqual(all({ mode: 'fedsgd', protocol: 'plaintext', networked: true }).map((m) => m.split(' ')[0]), ['--local-epochs', '--client-lr', '--dropout', '--non-iid', '--on-bad-update', '--min-contributors', '--precision', '--secagg-graph', '--secagg-threshold', '--secagg-adversary', '--dp', '--noise-multiplier', '--target-delta', '--sampling-rate', '--dp-seed', '--compare-no-dp', '--clip', '--initial-clip', '--clients-per-round', '--dp-bits', '--dp-beta', '--dp-accountant', '--noise-at', '--insecure-allow-plaintext']);
    // the secagg options: --protocol secagg only, in process and networked; --precision not with secagg
    for (const networked of [false, true]) {
      assert.deepEqual(inapplicableOptions({ mode: 'fedavg', protocol: 'secagg', networked }, (k) => ['secaggGraph', 'secaggThreshold', 'secaggAdversary'].includes(k), {}), []);
      assert.match(inapplicableOptions({ mode: 'fedsgd', protocol: 'secagg', networked }, (k) => k === 'precision', {})[0]!, /^--precision applies to aby3, pond and paillier/);
    }
    // --dropout: networked runs with a secure protocol only
    const dropout = (run: RunShape) => inapplicableOptions(run, (k) => k === 'dropout', {});
    for (const mode of ['fedsgd', 'fedavg'] as const) for (const protocol of ['aby3', 'pond', 'paillier']) assert.deepEqual(dropout({ mode, protocol, networked: true }), []);
    assert.match(dropout({ mode: 'fedavg', protocol: 'aby3', networked: false })[0]!, /^--dropout applies to networked training only/);
    assert.match(dropout({ mode: 'fedavg', protocol: 'plaintext', networked: true })[0]!, /^--dropout is built for the secure protocols/);
  });

  it('userMessage: library argument names become the flags; config fields and quoted values stay', () => {
    assert.equal(userMessage('data owner "data-owner-0": slice holds 20000 examples, fewer than batchSize 100000'), 'data owner "data-owner-0": slice holds 20000 examples, fewer than --batch-size 100000');
    assert.equal(userMessage('"owners" is 2 but the config has 3 data owners'), '--owners is 2 but the config has 3 data owners');
    assert.equal(userMessage('config.json: policy.minContributors: expected an integer >= 2'), 'config.json: policy.minContributors: expected an integer >= 2');
    assert.equal(userMessage('unknown model "mode"; valid models: a'), 'unknown model "mode"; valid models: a');
  });
});

describe('internal names never reach the user (CLI)', { timeout: 240_000 }, () => {
  it('too many owners or too large a batch, in process: the flags, not "total" or batchSize', () => {
    const o = fedcrypt(['train', 'network_a', '--owners', '100000', '--max-steps', '1', '--out', join(dir, 'r1')], dir);
    assert.equal(o.status, 1);
    assert.match(o.stderr, /^error: --owners expected at most 60000 \(the examples of mnist-train\), got 100000$/m);
    assert.doesNotMatch(o.out, /"total"|\btotal\b/);
    const b = fedcrypt(['train', 'network_a', '--batch-size', '100000', '--max-steps', '1', '--out', join(dir, 'r2')], dir);
    assert.equal(b.status, 1);
    assert.match(b.stderr, /fewer than --batch-size 100000/);
    assert.doesNotMatch(b.out, /batchSize/);
  });

  it('networked: --owners against the config, in the CLI\'s words', async () => {
    const [port] = await freePorts(1);
    const net = mkdtempSync(join(dir, 'net-'));
    keygen('model-owner', join(net, 'keys'));
    for (const n of ['owner0', 'owner1', 'owner2']) keygen(n, join(net, 'keys'));
    const c = fedcrypt(['config', '--keys', 'keys', '--model-owner', 'model-owner', '--data-owners', 'owner0,owner1,owner2', '--base-port', String(port)], net);
    assert.equal(c.status, 0, c.out);
    const r = fedcrypt(['train', 'network_a', 'mnist', '--config', 'config.json', '--owners', '2', '--protocol', 'plaintext'], net);
    assert.equal(r.status, 1, r.out);
    assert.match(r.stderr, /^error: --owners is 2 but the config has 3 data owners \(owner0, owner1, owner2\)$/m);
  });
});
