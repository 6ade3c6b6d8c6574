// `fedcrypt private-predict`: the report of a run (as a user runs it), a saved model read back, and the usage errors.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runPrivatePredict, type PrivatePredictOptions } from '../../src/cli/private-predict.js';
import { fedcrypt } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-pp-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const quiet = () => {};
const base: PrivatePredictOptions = { model: 'network_a', batchSize: 32, precision: 'low', output: 'class', seed: 1, progress: false };

let saved: string;
before(async () => {
  // the model owner trains network_a briefly in plaintext and saves the converted model
  saved = join(dir, 'a.json');
  const r = await runPrivatePredict('mnist', { ...base, trainEpochs: 1, trainLimit: 2048, save: saved, limit: 64 }, quiet);
  assert.equal(r.images, 64);
  assert.ok(r.agreement >= 0.995, `agreement ${r.agreement}`);
});

test('private-predict --model <saved file>: accuracy, agreement, images/s, bytes and rounds per image; --json', () => {
  const json = join(dir, 'r.json');
  const r = fedcrypt(['private-predict', '--model', saved, 'mnist', '--limit', '96', '--batch-size', '48', '--json', json, '--no-progress'], dir);
  assert.equal(r.status, 0, r.out);
  for (const line of [/model: 6 layer specs, 118282 weights secret-shared by the model owner/, /accuracy: private \d+\.\d+%, plaintext \d+\.\d+%/,
    /agreement with the plaintext prediction: 9[6-9]\/96/, /throughput: private [\d.]+ images\/s .*plaintext tfjs \d+ images\/s/, /per image: [\d.]+ KiB sent \(servers .*, client 12\.3 KiB\); \d+ rounds per batch \(critical path\)/]) {
    assert.match(r.stdout, line);
  }
  const j = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(j.images, 96);
  assert.ok(j.agreement >= 0.995);
  // the client uploads its images' two components and three seeds: (2·784·8 + 64)·2 batches / 96 images
  assert.equal(j.clientBytesPerImage, (2 * 48 * 784 * 8 + 64) * 2 / 96);
  assert.ok(j.roundsPerBatch > 20 && j.roundsPerImage === j.roundsPerBatch / 48);
});

test('usage errors name the option (before any model is shared)', async () => {
  await assert.rejects(runPrivatePredict('mnist', base, quiet), /--model network_a needs exactly one of --weights <file> .* or --train-epochs <n>/);
  await assert.rejects(runPrivatePredict('mnist', { ...base, model: join(dir, 'missing.json') }, quiet), /--model: ".*missing.json" is neither a model file .* nor a network name \(network_a/);
  await assert.rejects(runPrivatePredict('cifar', { ...base, model: saved }, quiet), /unknown dataset "cifar"; valid datasets: mnist/);
  await assert.rejects(runPrivatePredict('mnist', { ...base, model: saved, weights: 'w.f32' }, quiet), /--weights and --train-epochs apply to a network name/);
  await assert.rejects(runPrivatePredict('mnist', { ...base, weights: 'w.f32', trainLimit: 10 }, quiet), /--train-limit applies with --train-epochs only/);
  const w = join(dir, 'short.f32');
  writeFileSync(w, new Uint8Array(40));
  await assert.rejects(runPrivatePredict('mnist', { ...base, weights: w }, quiet), /--weights .*short\.f32: 40 bytes, network_a has 118282 float32 weights \(473128 bytes\)/);
});

test('private-predict --model network_a --weights: the flat float32 weights of the network', async () => {
  const { buildModel, getFlatWeights, initTf } = await import('../../src/learning/index.js');
  await initTf();
  const m = buildModel('network_a', { seed: 4 });
  const w = join(dir, 'a.f32');
  writeFileSync(w, new Uint8Array(getFlatWeights(m).buffer));
  const r = await runPrivatePredict('mnist', { ...base, weights: w, limit: 32 }, quiet);
  assert.equal(r.parameters, 118282);
  assert.ok(r.agreement >= 0.9, `agreement ${r.agreement}`); // untrained: near-ties between logits are possible
});

test('private-predict --comparison-bits 32: the same predictions as at 64 bits, fewer bytes per image; a k outside [f + 2, l] is refused naming the flag', async () => {
  const lines: string[] = [];
  const at32 = await runPrivatePredict('mnist', { ...base, model: saved, limit: 64, comparisonBits: 32 }, (s) => lines.push(s));
  const at64 = await runPrivatePredict('mnist', { ...base, model: saved, limit: 64 }, quiet);
  assert.match(lines.join('\n'), /ABY3 'low', comparisons on 32 bits, batch 32/);
  assert.equal(at32.comparisonBits, 32);
  assert.equal(at64.comparisonBits, 64);
  assert.equal(at32.accuracy, at64.accuracy);
  assert.ok(at32.agreement >= 0.995, `agreement ${at32.agreement}`);
  assert.ok(at32.serverBytesPerImage < at64.serverBytesPerImage, `${at32.serverBytesPerImage} < ${at64.serverBytesPerImage}`);
  await assert.rejects(runPrivatePredict('mnist', { ...base, model: saved, limit: 8, comparisonBits: 65 }, quiet), /--comparison-bits 65: .*option 'comparisonBits' must be an integer in \[18, 64\]/);
});
