import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPrivateTrain } from '../../src/cli/private-train.js';
import { loadModel } from '../../src/encrypted/nn/io.js';
import { fedcrypt } from './run-cli.js';

test('private-train (network_a, 2 steps of 32, SGD): per-epoch private evaluation, run folder with the model owner\'s model.json', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-private-train-'));
  try {
    const lines: string[] = [];
    const code = await runPrivateTrain('network_a', 'mnist', { protocol: 'aby3', optimizer: 'sgd', epochs: 1, batchSize: 32, maxSteps: 2, evalLimit: 64, precision: 'low', seed: 1, progress: false, out: join(dir, 'run') }, (s) => lines.push(s));
    const out = lines.join('\n');
    assert.equal(code, 0, out);
    assert.match(out, /under ABY3 \(low precision, probabilistic truncation\)/);
    assert.match(out, /optimizer sgd \(lr 0\.1\); batch 32; 2 steps; evaluation on 64 test images, accuracy and loss revealed to the model owner only/);
    assert.match(out, /epoch 1: test accuracy \d+\.\d\d%, test loss [\d.]+ \(private evaluation, revealed to the model owner\)/);
    assert.match(out, /median step: \d+ ms per batch of 32/);
    assert.match(out, /final test accuracy \(model owner, plaintext, 10000 images\): \d+\.\d\d%/);
    const m = JSON.parse(readFileSync(join(dir, 'run', 'metrics.json'), 'utf8'));
    assert.equal(m.config.protocol, 'aby3');
    assert.equal(m.epochs.length, 1);
    assert.equal(m.epochs[0].round, 2);
    assert.ok(m.totals.bytesByRole['server0'] > 0 && m.totals.bytesByRole['data-owner'] > 0);
    assert.match(readFileSync(join(dir, 'run', 'report.html'), 'utf8'), /fedcrypt run: network_a on mnist/);
    const model = loadModel(join(dir, 'run', 'model.json'));
    assert.equal(model.spec.layers.filter((l) => l.kind === 'dense').length, 3);
    assert.equal(model.weights.flat().reduce((a, w) => a + w.length, 0), 784 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('private-train refuses a protocol other than ABY3', async () => {
  await assert.rejects(runPrivateTrain('network_a', 'mnist', { protocol: 'pond', optimizer: 'sgd', epochs: 1, batchSize: 32, precision: 'low', seed: 1, progress: false }, () => {}), /private training runs under ABY3 only, got --protocol pond/);
});

test('private-train --truncation deterministic: the ABY3 instance truncates exactly; the run says so; other values are refused by the CLI', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-private-train-dt-'));
  try {
    const lines: string[] = [];
    const code = await runPrivateTrain('network_a', 'mnist', { protocol: 'aby3', optimizer: 'sgd', epochs: 1, batchSize: 16, maxSteps: 1, evalLimit: 16, precision: 'low', seed: 1, progress: false, out: join(dir, 'run'), truncation: 'deterministic' }, (s) => lines.push(s));
    const out = lines.join('\n');
    assert.equal(code, 0, out);
    assert.match(out, /under ABY3 \(low precision, deterministic truncation\)/);
    assert.equal(JSON.parse(readFileSync(join(dir, 'run', 'metrics.json'), 'utf8')).config.truncation, 'deterministic');
    const r = fedcrypt(['private-train', 'network_a', '--truncation', 'exact'], dir);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /option '--truncation <t>' argument 'exact' is invalid\. Allowed choices are probabilistic, deterministic/);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('private-train --comparison-bits 32: the ABY3 instance compares on 32 bits; the run and its metrics say so; a k outside [f + 2, l] is refused naming the flag', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-private-train-cb-'));
  try {
    const lines: string[] = [];
    const code = await runPrivateTrain('network_a', 'mnist', { protocol: 'aby3', optimizer: 'sgd', epochs: 1, batchSize: 16, maxSteps: 1, evalLimit: 16, precision: 'low', seed: 1, progress: false, out: join(dir, 'run'), comparisonBits: 32 }, (s) => lines.push(s));
    const out = lines.join('\n');
    assert.equal(code, 0, out);
    assert.match(out, /under ABY3 \(low precision, probabilistic truncation, comparisons on 32 bits \(\|x\| < 2\^15\)\)/);
    assert.equal(JSON.parse(readFileSync(join(dir, 'run', 'metrics.json'), 'utf8')).config.comparisonBits, 32);
    await assert.rejects(runPrivateTrain('network_a', 'mnist', { protocol: 'aby3', optimizer: 'sgd', epochs: 1, batchSize: 16, maxSteps: 1, precision: 'low', seed: 1, progress: false, comparisonBits: 8 }, () => {}), /--comparison-bits 8: .*option 'comparisonBits' must be an integer in \[18, 64\]/);
  } finally {
    rmSync(dir, { recursive: true });
  }
});
