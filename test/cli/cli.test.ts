import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTrain, type TrainCliOptions } from '../../src/cli/main.js';

const root = new URL('../..', import.meta.url).pathname;
function cli(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, CI: '1' }, timeout: 120000 });
}

const base: TrainCliOptions = { epochs: 1, protocol: 'plaintext', precision: 'low', owners: 3, mode: 'fedsgd', batchSize: 32, seed: 1, onBadUpdate: 'abort', maxSteps: 3, progress: false, insecureAllowPlaintext: true };

test('train (plaintext, 3 short steps) prints the baseline warning, per-epoch metrics, time split, bytes per role, final accuracy; writes the run folder', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-cli-'));
  try {
    const lines: string[] = [];
    const code = await runTrain('network_a', 'mnist', { ...base, out: join(dir, 'run') }, (s) => lines.push(s));
    const out = lines.join('\n');
    assert.equal(code, 0, out);
    assert.match(out, /aggregation: plaintext aggregation \(baseline, NOT secure\)/);
    assert.match(out, /WARNING: --insecure-allow-plaintext/);
    assert.match(out, /epoch 1: test accuracy \d+\.\d\d%, test loss [\d.]+/);
    assert.match(out, /time: local training [\d.]+s, aggregation [\d.]+s/);
    assert.match(out, /bytes sent per role: model-owner [\d.]+ (KiB|MiB)/);
    assert.match(out, /final test accuracy: \d+\.\d\d%/);
    const m = JSON.parse(readFileSync(join(dir, 'run', 'metrics.json'), 'utf8'));
    assert.equal(m.config.protocol, 'plaintext');
    assert.equal(m.config.insecurePlaintextOptIn, true, 'the opt-in is on record in metrics.json');
    assert.match(readFileSync(join(dir, 'run', 'report.html'), 'utf8'), /the operator opted in \(--insecure-allow-plaintext\)/);
    assert.equal(m.epochs.length, 1);
    assert.equal(m.epochs[0].round, 3);
    assert.ok(existsSync(join(dir, 'run', 'report.html')));
    // fedavg mode
    const l2: string[] = [];
    assert.equal(await runTrain('logistic_regression', 'mnist', { ...base, mode: 'fedavg', epochs: 2, maxSteps: 2, out: join(dir, 'run2') }, (s) => l2.push(s)), 0, l2.join('\n'));
    assert.match(l2.join('\n'), /round 2: test accuracy/);
    // non-IID split with a secure protocol
    const l3: string[] = [];
    assert.equal(await runTrain('logistic_regression', 'mnist', { ...base, protocol: 'pond', nonIid: true, maxSteps: 2, out: join(dir, 'run3') }, (s) => l3.push(s)), 0, l3.join('\n'));
    assert.match(l3.join('\n'), /3 data owners \(non-IID\)/);
    assert.match(l3.join('\n'), /aggregation: secure aggregation with POND \(low precision\)/);
    const m3 = JSON.parse(readFileSync(join(dir, 'run3', 'metrics.json'), 'utf8'));
    assert.equal(m3.config.nonIid, true);
    assert.ok(Object.keys(m3.totals.bytesByRole).some((k: string) => /server/.test(k)));
  } finally { rmSync(dir, { recursive: true }); }
});

test('unknown model / dataset / protocol names list the valid ones (exit code 1)', () => {
  const m = cli(['train', 'network_q', 'mnist', '--protocol', 'plaintext', '--insecure-allow-plaintext']);
  assert.equal(m.status, 1);
  assert.match(m.stderr, /unknown model "network_q"; valid models: network_a, network_b, network_c, network_d, logistic_regression/);
  const d = cli(['train', 'network_a', 'cifar', '--protocol', 'plaintext', '--insecure-allow-plaintext']);
  assert.equal(d.status, 1);
  assert.match(d.stderr, /unknown dataset "cifar"; valid datasets: mnist/);
  const p = cli(['train', 'network_a', 'mnist', '--protocol', 'spdz']);
  assert.notEqual(p.status, 0);
  assert.match(p.stderr, /Allowed choices are aby3, pond, paillier, secagg, plaintext/);
  const b = cli(['train', 'network_a', '--on-bad-update', 'ignore']);
  assert.notEqual(b.status, 0);
  assert.match(b.stderr, /Allowed choices are abort, skip/);
  const e = cli(['train', 'network_a', '--epochs', 'x']);
  assert.notEqual(e.status, 0);
  assert.match(e.stderr, /--epochs expected an integer >= 1, got "x"/);
});

test('plaintext without the operator\'s opt-in is refused before anything is trained (PolicyError naming the rule and the flag)', async () => {
  const lines: string[] = [];
  await assert.rejects(runTrain('network_a', 'mnist', { ...base, insecureAllowPlaintext: false, out: undefined }, (l) => lines.push(l)),
    (e: Error) => e.name === 'PolicyError' && (e as Error & { rule: string }).rule === 'protocol' && /--insecure-allow-plaintext/.test(e.message));
  assert.deepEqual(lines, [], 'nothing was set up or logged');
  const r = cli(['train', 'network_a', 'mnist', '--protocol', 'plaintext', '--epochs', '1', '--max-steps', '1']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /policy "protocol" refuses: 'plaintext' hands every data owner's update to the model owner/);
});

test('an insecure aggregator needs the opt-in whatever its name', async () => {
  const { train } = await import('../../src/learning/train.js');
  const { plaintextAggregator } = await import('../../src/learning/aggregator.js');
  await assert.rejects(train({ aggregator: { ...plaintextAggregator(), name: 'baseline' }, maxSteps: 1, epochs: 1, out: false }),
    (e: Error) => e.name === 'PolicyError' && (e as Error & { rule: string }).rule === 'protocol');
});
