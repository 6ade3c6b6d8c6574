/**
 * `fedcrypt private-train network_a mnist --protocol aby3 --optimizer amsgrad --epochs 5`:
 * private training under ABY3 (src/encrypted/nn/train.ts) with the three
 * servers, the data owner and the model owner in this process. The data
 * owner's MNIST training set is secret-shared batch by batch, the model
 * owner's initial weights (the tfjs model's initializers) once; per epoch
 * the servers evaluate on the data owner's (secret-shared) test set and the
 * model owner learns the accuracy and the mean loss; at the end the model
 * owner learns the trained weights, saves them (src/encrypted/nn/io.ts, read
 * by `fedcrypt private-predict`) and checks them on the test set in
 * plaintext. The run folder has metrics.json, report.html and model.json.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import cliProgress from 'cli-progress';
import { join } from 'node:path';
import { Player } from '../encrypted/index.js';
import { aby3ForCli } from './aby3-cli.js';
import { convertModel } from '../encrypted/nn/convert.js';
import { saveModel } from '../encrypted/nn/io.js';
import { amsgrad, amsgradIterations, sgd } from '../encrypted/nn/optimizers.js';
import { privateTrain, type EpochReport } from '../encrypted/nn/train.js';
import { defaultRunDir, writeRunFolder, type RunMetrics } from '../learning/report.js';
import { MemoryTransport } from '../transport/index.js';

export interface PrivateTrainCliOptions {
  protocol: string; optimizer: 'amsgrad' | 'sgd'; epochs: number; batchSize: number; lr?: number; maxSteps?: number; out?: string;
  precision?: 'low' | 'high'; seed: number; evalLimit?: number; progress?: boolean;
  /** ABY3's truncation of fixed-point products (default 'probabilistic'). */
  truncation?: 'probabilistic' | 'deterministic';
  /** ABY3's comparisons' bit length k (default the ring's bits): exact for |x| < 2^(k-1-f). */
  comparisonBits?: number;
}

const pct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(2)}%` : 'n/a');

function intArg(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} expected an integer >= ${min}, got "${v}"`);
    return n;
  };
}

/** Run one private training; `log` gets the lines a user reads. Resolves with the exit code. */
export async function runPrivateTrain(modelName: string, dataset: string, o: PrivateTrainCliOptions, log: (s: string) => void = (s) => console.log(s)): Promise<number> {
  // tfjs, MNIST and the model builders are loaded only for this command
  const [{ initTf }, { buildModel, evaluate, setFlatWeights }, { loadDataset }] = await Promise.all([
    import('../learning/tf.js'), import('../learning/models.js'), import('../learning/mnist.js'),
  ]);
  if (o.protocol !== 'aby3') throw new RangeError(`private training runs under ABY3 only, got --protocol ${o.protocol}`);
  // AMSgrad truncates about 40 values near 1 per parameter per step: at 'low' one of them fails (a 2^32 error) every
  // hundred steps or so of network_a (docs/encrypted-ml.md, "Truncation failure over a training run")
  const precision = o.precision ?? (o.optimizer === 'amsgrad' ? 'high' : 'low');
  const backend = await initTf();
  const data = loadDataset(dataset);
  const tfModel = buildModel(modelName, { seed: o.seed });
  const converted = convertModel(tfModel);
  const lr = o.lr ?? (o.optimizer === 'sgd' ? 0.1 : 0.001);
  const optimizer = o.optimizer === 'sgd' ? sgd({ lr }) : amsgrad({ lr });
  const evalCount = Math.min(o.evalLimit ?? data.test.count, data.test.count);
  const [s0, s1, s2, dataOwner, modelOwner] = ['server0', 'server1', 'server2', 'data-owner', 'model-owner'].map((n) => new Player(n)) as [Player, Player, Player, Player, Player];
  const transport = new MemoryTransport();
  const truncation = o.truncation ?? 'probabilistic';
  const prot = aby3ForCli([s0, s1, s2], { precision, transport, truncation }, o.comparisonBits);
  const comparisons = prot.comparisonBits === prot.bits ? '' : `, comparisons on ${prot.comparisonBits} bits (|x| < 2^${prot.comparisonBits - 1 - prot.fixed.frac})`;
  const perEpoch = Math.floor(data.train.count / o.batchSize);
  const total = Math.min(perEpoch * o.epochs, o.maxSteps ?? Infinity);
  const numParams = converted.weights.flat().reduce((a, w) => a + w.length, 0);
  log(`fedcrypt private-train: ${modelName} on ${dataset} under ABY3 (${precision} precision, ${truncation} truncation${comparisons}), three servers, data owner and model owner in this process; tfjs backend ${backend}`);
  log(`model: ${numParams} parameters; optimizer ${o.optimizer} (lr ${lr}${o.optimizer === 'amsgrad' ? `, inverse square root in ${amsgradIterations({}, 1 / o.batchSize, prot.fixed.frac)} iterations` : ''}); batch ${o.batchSize}; ${total} steps; evaluation on ${evalCount} test images, accuracy and loss revealed to the model owner only`);
  const fancy = o.progress !== false && process.stdout.isTTY === true && !process.env['CI'];
  let bar: cliProgress.SingleBar | undefined;
  if (fancy) {
    bar = new cliProgress.SingleBar({ format: '{bar} {value}/{total} | epoch {epoch} | {ms} ms/step (median) | eta {eta_formatted}', hideCursor: true }, cliProgress.Presets.shades_classic);
    bar.start(total, 0, { epoch: 1, ms: '-' });
  }
  const stepMs: number[] = [];
  const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1] ?? NaN;
  let lastLine = 0;
  const startedAt = new Date();
  const wall0 = performance.now();
  const epochs: EpochReport[] = [];
  const bytesAtEpoch: Record<string, number>[] = [];
  const bytesNow = (): Record<string, number> => Object.fromEntries(Object.entries(transport.stats()).map(([k, v]) => [k, v.bytesSent]));
  let prevBytes: Record<string, number> = {};
  let error: string | undefined;
  let result: Awaited<ReturnType<typeof privateTrain>> | undefined;
  try {
    result = await privateTrain({
      protocol: prot, dataOwner, modelOwner, model: converted, optimizer, batchSize: o.batchSize, epochs: o.epochs, maxSteps: o.maxSteps, seed: o.seed,
      train: { count: data.train.count, images: data.train.images, labels: data.train.labels },
      eval: { count: evalCount, images: data.test.images.subarray(0, evalCount * 784), labels: data.test.labels.subarray(0, evalCount) },
      onStep: (r) => {
        stepMs.push(r.stepMs);
        if (bar) bar.update(r.step, { epoch: r.epoch, ms: median(stepMs).toFixed(0) });
        else if (performance.now() - lastLine > 10000 || r.step === r.totalSteps) {
          lastLine = performance.now();
          log(`  step ${r.step}/${r.totalSteps} (epoch ${r.epoch}): ${r.stepMs.toFixed(0)} ms (median ${median(stepMs).toFixed(0)} ms), input sharing ${r.shareMs.toFixed(0)} ms`);
        }
      },
      onEpoch: (e) => {
        epochs.push(e);
        const now = bytesNow();
        bytesAtEpoch.push(Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - (prevBytes[k] ?? 0)])));
        prevBytes = now;
        bar?.stop();
        log(`epoch ${e.epoch}: test accuracy ${pct(e.accuracy)}, test loss ${e.loss.toFixed(4)} (private evaluation, revealed to the model owner); training ${(e.trainMs / 1000).toFixed(1)}s for ${e.steps} steps, evaluation ${(e.evalMs / 1000).toFixed(1)}s`);
        if (bar && e.epoch * perEpoch < total) bar.start(total, Math.min(total, e.epoch * perEpoch), { epoch: e.epoch + 1, ms: median(stepMs).toFixed(0) });
      },
    });
  } catch (e) {
    bar?.stop();
    error = (e as Error).message;
  }
  const out = o.out ?? defaultRunDir(startedAt);
  let final = { accuracy: NaN, loss: NaN };
  if (result?.model !== undefined) {
    // the model owner: its trained weights, saved and checked in plaintext on the test set
    setFlatWeights(tfModel, Float32Array.from(result.model.weights.flat().flatMap((w) => Array.from(w))));
    final = evaluate(tfModel, data.test.images, data.test.labels);
  }
  const bytesByRole = bytesNow();
  const metrics: RunMetrics = {
    version: 1, startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(),
    config: {
      model: modelName, dataset, protocol: 'aby3', precision, truncation, comparisonBits: prot.comparisonBits, owners: 1, mode: 'private-training' as unknown as 'fedsgd', batchSize: o.batchSize, epochs: o.epochs, seed: o.seed, nonIid: false,
      maxSteps: o.maxSteps, onBadUpdate: 'n/a', optimizer: o.optimizer, lr, backend,
      aggregation: 'none: private training under ABY3 (the data owner\'s images and labels and the model owner\'s weights secret-shared among three servers; "local training" below is the servers\' training time, "aggregation" their private evaluation time)',
      evaluation: `private, on ${evalCount} test images; accuracy and loss revealed to the model owner`, medianStepMs: median(stepMs),
    },
    numParams, unit: 'epoch',
    epochs: epochs.map((e, i) => ({ epoch: e.epoch, round: epochs.slice(0, i + 1).reduce((a, x) => a + x.steps, 0), accuracy: e.accuracy, loss: e.loss, trainLoss: NaN, localMs: e.trainMs, aggregationMs: e.evalMs, serverMs: 0, bytesByRole: bytesAtEpoch[i] ?? {}, skipped: [] })),
    final,
    totals: { localMs: epochs.reduce((a, e) => a + e.trainMs, 0), aggregationMs: epochs.reduce((a, e) => a + e.evalMs, 0), serverMs: 0, wallMs: performance.now() - wall0, aggregationShare: 0, bytesByRole },
    ...(error !== undefined ? { error } : {}),
  };
  const paths = writeRunFolder(out, metrics);
  if (result?.model !== undefined) saveModel(join(paths.dir, 'model.json'), result.model);
  log(`bytes sent per player: ${Object.entries(bytesByRole).map(([k, v]) => `${k} ${(v / 2 ** 20).toFixed(1)} MiB`).join(', ')}`);
  log(`run folder: ${paths.dir} (metrics.json, report.html${result?.model !== undefined ? ', model.json: the model owner\'s trained model' : ''})`);
  if (error !== undefined) {
    console.error(`error: ${error}`);
    return 1;
  }
  log(`median step: ${median(stepMs).toFixed(0)} ms per batch of ${o.batchSize}`);
  log(`final test accuracy (model owner, plaintext, ${data.test.count} images): ${pct(final.accuracy)}, loss ${final.loss.toFixed(4)}`);
  return 0;
}

/** `fedcrypt private-train` (registered by main.ts). */
export function registerPrivateTrain(program: Command): void {
  program
    .command('private-train')
    .description('train a model on secret-shared data under ABY3; only the model owner learns the trained weights')
    .argument('<model>', 'model: network_a, network_b, network_c, network_d, logistic_regression')
    .argument('[dataset]', 'dataset: mnist', 'mnist')
    .addOption(new Option('--protocol <name>', 'secure computation protocol').choices(['aby3']).default('aby3'))
    .addOption(new Option('--optimizer <name>', 'optimizer (under ABY3)').choices(['amsgrad', 'sgd']).default('amsgrad'))
    .option('--epochs <n>', 'epochs', intArg('--epochs', 1), 5)
    .option('--batch-size <n>', 'batch size', intArg('--batch-size', 1), 128)
    .option('--lr <x>', 'learning rate (default: sgd 0.1, amsgrad 0.001)', (v: string) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`--lr expected a number > 0, got "${v}"`);
      return n;
    })
    .option('--max-steps <n>', 'stop after n steps', intArg('--max-steps', 1))
    .addOption(new Option('--precision <p>', 'fixed-point precision (default: low for sgd, high for amsgrad, whose truncations fail at low over a long run)').choices(['low', 'high']))
    .addOption(new Option('--truncation <t>', 'truncation of fixed-point products: probabilistic (one round, fails with probability about |x| 2^(1-l) per value) or deterministic (exact, 4 + log2 l rounds; docs/encrypted-ml.md)').choices(['probabilistic', 'deterministic']).default('probabilistic'))
    .option('--comparison-bits <k>', 'bit length of the comparisons (relu, max pooling, the loss\'s max over the logits, AMSgrad\'s second moments): exact for |x| < 2^(k-1-f), f the fractional bits; k in [f + 2, l] (default l, the ring\'s bits; docs/encrypted-ml.md "Comparison bit length")', intArg('--comparison-bits', 1))
    .option('--seed <n>', 'seed of the initial weights and of the data owner\'s shuffling', intArg('--seed', 0), 1)
    .option('--eval-limit <n>', 'evaluate on the first n test images (default all 10000)', intArg('--eval-limit', 1))
    .option('--out <dir>', 'run folder (default runs/<timestamp>)')
    .option('--no-progress', 'plain progress lines instead of a progress bar')
    .action(async (model: string, dataset: string, o: PrivateTrainCliOptions) => {
      process.exitCode = await runPrivateTrain(model, dataset, o);
    });
}
