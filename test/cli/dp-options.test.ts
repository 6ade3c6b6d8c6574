/**
 * `fedcrypt train --dp ...`: the flags parse into train()'s `dp` option; a
 * DP flag that does not apply (no --dp, another mechanism, another mode or
 * protocol) or a missing one is an error naming it; a small run prints ε so
 * far each round and the final (ε, δ).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { addDpOptions, dpTrainOptions, type DpCliOptions } from '../../src/cli/dp-options.js';
import { inapplicableOptions, userMessage, type RunShape } from '../../src/cli/options.js';
import { fedcrypt } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-cli-dp-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function parse(args: string[]): DpCliOptions {
  const cmd = addDpOptions(new Command()).exitOverride().configureOutput({ writeErr: () => undefined });
  cmd.parse(args, { from: 'user' });
  return cmd.opts<DpCliOptions>();
}

test('the DP flags parse into train({ dp })', () => {
  assert.deepEqual(dpTrainOptions(parse(['--dp', 'gaussian', '--noise-multiplier', '1.97', '--clip', '0.2', '--target-delta', '1e-6', '--sampling-rate', '0.5', '--noise-at', 'aggregators', '--dp-seed', 'exp1'])), {
    mechanism: 'gaussian', noiseMultiplier: 1.97, clip: 0.2, targetDelta: 1e-6, samplingRate: 0.5, noiseAt: 'aggregators', seed: 'exp1',
  });
  assert.deepEqual(dpTrainOptions(parse(['--dp', 'dgauss', '--noise-multiplier', '0', '--clip', '1', '--clients-per-round', '10', '--dp-bits', '20'])), {
    mechanism: 'dgauss', noiseMultiplier: 0, clip: 1, clientsPerRound: 10, bits: 20,
  });
  assert.deepEqual(dpTrainOptions(parse(['--dp', 'adaptive', '--noise-multiplier', '1', '--initial-clip', '0.3', '--sampling-rate', '1'])), { mechanism: 'adaptive', noiseMultiplier: 1, initialClip: 0.3, samplingRate: 1 });
  assert.deepEqual(dpTrainOptions(parse(['--dp', 'dgauss', '--noise-multiplier', '2', '--clip', '1', '--sampling-rate', '1', '--dp-beta', '0.6065', '--dp-accountant', 'rdp'])), {
    mechanism: 'dgauss', noiseMultiplier: 2, clip: 1, samplingRate: 1, beta: 0.6065, accountant: 'rdp',
  });
  assert.equal(dpTrainOptions(parse([])), undefined);
  for (const [args, re] of [
    [['--dp', 'laplace'], /argument 'laplace' is invalid/],
    [['--noise-multiplier', '-1'], /--noise-multiplier expected a number >= 0, got "-1"/],
    [['--sampling-rate', '0'], /--sampling-rate expected a probability in \(0, 1\]/],
    [['--sampling-rate', '1.5'], /--sampling-rate expected a probability/],
    [['--target-delta', '1'], /--target-delta expected a number in \(0, 1\)/],
    [['--clients-per-round', '2.5'], /--clients-per-round expected an integer >= 1/],
    [['--dp-bits', '40'], /--dp-bits expected an integer in \[1, 31\]/],
    [['--dp-beta', '1'], /--dp-beta expected a number in \[0, 1\)/],
    [['--dp-accountant', 'pld'], /argument 'pld' is invalid/],
    [['--noise-at', 'clients'], /argument 'clients' is invalid/],
  ] as [string[], RegExp][]) {
    assert.throws(() => parse(args), re, args.join(' '));
  }
});

const run = (o: Partial<RunShape> = {}): RunShape => ({ mode: 'fedavg', protocol: 'aby3', networked: false, ...o });
const problems = (r: RunShape, keys: string[], values: Record<string, unknown> = {}) => inapplicableOptions(r, (k) => keys.includes(k), values);

test('DP flags that do not apply, and missing ones, are named', () => {
  const full = ['dp', 'noiseMultiplier', 'clip', 'samplingRate'];
  assert.deepEqual(problems(run({ dp: 'gaussian' }), full), []);
  assert.deepEqual(problems(run({ dp: 'adaptive' }), ['dp', 'noiseMultiplier', 'samplingRate', 'initialClip']), []);
  assert.deepEqual(problems(run({ dp: 'dgauss' }), [...full, 'dpBits']), []);
  assert.deepEqual(problems(run({ dp: 'gaussian' }), [...full, 'noiseAt'], { noiseAt: 'aggregators' }), []);
  const cases: [RunShape, string[], RegExp, Record<string, unknown>?][] = [
    [run({ mode: 'fedsgd', dp: 'gaussian' }), full, /^--dp applies to --mode fedavg only/],
    [run({ networked: true, dp: 'gaussian' }), full, /^--dp is in-process only/],
    [run(), ['noiseMultiplier'], /^--noise-multiplier applies with --dp only/],
    [run(), ['dpSeed'], /^--dp-seed applies with --dp only/],
    [run(), ['compareNoDp'], /^--compare-no-dp applies with --dp only/],
    [run(), ['targetDelta'], /^--target-delta applies with --dp only/],
    [run({ dp: 'adaptive' }), ['dp', 'noiseMultiplier', 'samplingRate', 'clip'], /^--clip applies to --dp gaussian\|skellam\|dgauss only, not --dp adaptive \(adaptive clipping starts at --initial-clip\)/],
    [run({ dp: 'gaussian' }), [...full, 'initialClip'], /^--initial-clip applies to --dp adaptive only, not --dp gaussian/],
    [run({ dp: 'gaussian' }), [...full, 'dpBits'], /^--dp-bits applies to --dp skellam\|dgauss only/],
    [run({ dp: 'gaussian' }), [...full, 'dpBeta'], /^--dp-beta applies to --dp skellam\|dgauss only/],
    [run(), ['dpAccountant'], /^--dp-accountant applies with --dp only/],
    [run({ dp: 'skellam' }), [...full, 'noiseAt'], /^--noise-at applies to --dp gaussian\|adaptive/, { noiseAt: 'server' }],
    [run({ dp: 'gaussian', protocol: 'paillier' }), [...full, 'noiseAt'], /^--noise-at aggregators applies to --protocol aby3 or pond only/, { noiseAt: 'aggregators' }],
    [run({ dp: 'dgauss' }), ['dp', 'noiseMultiplier', 'clip', 'clientsPerRound'], /^--clients-per-round applies to --dp gaussian\|adaptive only, not --dp dgauss \(fixed-size sampling/],
    [run({ dp: 'gaussian' }), ['dp', 'clip', 'samplingRate'], /^--dp needs --noise-multiplier/],
    [run({ dp: 'gaussian' }), ['dp', 'noiseMultiplier', 'samplingRate'], /^--dp gaussian needs --clip/],
    [run({ dp: 'gaussian' }), ['dp', 'noiseMultiplier', 'clip'], /^--dp needs exactly one of --sampling-rate q \(Poisson\) and --clients-per-round m/],
    [run({ dp: 'gaussian' }), [...full, 'clientsPerRound'], /^--dp needs exactly one of --sampling-rate/],
  ];
  for (const [r, keys, re, values] of cases) {
    const p = problems(r, keys, values);
    assert.ok(p.some((x) => re.test(x)), `${JSON.stringify(r)} ${keys.join(',')}: ${JSON.stringify(p)}`);
  }
  // the library's argument names reach the user as flags
  assert.equal(userMessage('dp: "samplingRate" expected a probability in (0, 1], got 2'), 'dp: --sampling-rate expected a probability in (0, 1], got 2');
  assert.equal(userMessage('dp: "noiseAt" is for the central mechanisms'), 'dp: --noise-at is for the central mechanisms');
});

test('CLI: a misapplied DP flag is refused before anything starts; a small DP run prints ε so far each round and the final (ε, δ)', () => {
  const bad = fedcrypt(['train', 'logistic_regression', 'mnist', '--mode', 'fedavg', '--dp', 'adaptive', '--noise-multiplier', '1', '--clip', '1', '--sampling-rate', '0.5'], dir);
  assert.equal(bad.status, 1, bad.out);
  assert.match(bad.stderr, /^error: --clip applies to --dp gaussian\|skellam\|dgauss only/m);
  assert.doesNotMatch(bad.out, /fedcrypt train:/);
  const r = fedcrypt(['train', 'logistic_regression', 'mnist', '--mode', 'fedavg', '--owners', '4', '--epochs', '2', '--max-steps', '1', '--validation-limit', '100', '--protocol', 'plaintext', '--insecure-allow-plaintext',
    '--dp', 'gaussian', '--noise-multiplier', '1.2', '--clip', '0.5', '--sampling-rate', '0.5', '--dp-seed', 'cli-test', '--out', 'run'], dir);
  assert.equal(r.status, 0, r.out);
  const rounds = [...r.stdout.matchAll(/^round (\d): .*; ε so far ([\d.]+) at δ 0\.00001 \((order [\d.]+|PLD)\)/gm)];
  assert.equal(rounds.length, 2, r.stdout);
  assert.match(r.stdout, /^differential privacy: \(ε, δ\) = \([\d.]+, 0\.00001\) after 2 round\(s\), (RDP order [\d.]+|privacy loss distribution \(pessimistic\)); gaussian, user-level add\/remove/m);
  assert.match(r.stdout, /^must be honest: SERVER/m);
  assert.match(r.stdout, /^WARNING: --dp-seed given/m);
  const m = JSON.parse(readFileSync(join(dir, 'run', 'metrics.json'), 'utf8')) as { dp: { epsilon: number; perRound: { epsilon: number }[] } };
  assert.equal(Number(rounds[1]![2]), Number(m.dp.perRound[1]!.epsilon.toPrecision(4)));
  assert.ok(existsSync(join(dir, 'run', 'report.html')));
});
