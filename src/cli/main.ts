#!/usr/bin/env node
/**
 * fedcrypt CLI: a thin layer over the public API.
 *
 *   fedcrypt train network_a mnist --epochs 5 --protocol aby3 --owners 3 --mode fedsgd
 *   fedcrypt demo
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { pathToFileURL } from 'node:url';
import { registerDeployCommands } from './deploy.js';
import { registerPrivatePredict } from './private-predict.js';
import { registerPrivateTrain } from './private-train.js';
import { userMessage } from './options.js';
import { addDpOptions, dpFinalLines, dpRoundSuffix, dpTrainOptions, type DpCliOptions } from './dp-options.js';
import { train, type TrainOptions, MODEL_NAMES, DATASET_NAMES, PROTOCOL_NAMES, type EpochMetrics, type RoundInfo } from '../learning/index.js';

function intArg(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} expected an integer >= ${min}, got "${v}"`);
    return n;
  };
}
function numArg(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} expected a number > 0, got "${v}"`);
    return n;
  };
}

const fmtBytes = (b: number) => (b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MiB` : b >= 1 << 10 ? `${(b / 1024).toFixed(1)} KiB` : `${b} B`);
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

export interface TrainCliOptions extends DpCliOptions {
  epochs: number; protocol: string; precision: 'low' | 'high'; owners: number; mode: 'fedsgd' | 'fedavg'; batchSize: number; seed: number;
  nonIid?: boolean; out?: string; onBadUpdate: 'abort' | 'skip'; maxSteps?: number; lr?: number; optimizer?: 'amsgrad' | 'adam' | 'sgd';
  localEpochs?: number; clientLr?: number; progress?: boolean; insecureAllowPlaintext?: boolean; minContributors?: number; validationLimit?: number;
  secaggGraph?: 'complete' | 'auto'; secaggThreshold?: number; secaggAdversary?: 'semi-honest' | 'malicious';
}

/** The run's SecAgg choices from the CLI (undefined unless one was given or the protocol is secagg). */
export function secAggChoices(o: TrainCliOptions): { graph?: 'complete' | 'auto'; threshold?: number; adversary?: 'semi-honest' | 'malicious' } | undefined {
  if (String(o.protocol).toLowerCase() !== 'secagg') return undefined;
  if (o.secaggThreshold !== undefined && o.secaggGraph === 'auto') throw new InvalidArgumentError("--secagg-threshold is for --secagg-graph complete ('auto' derives the threshold from the number of clients)");
  return { ...(o.secaggGraph ? { graph: o.secaggGraph } : {}), ...(o.secaggThreshold !== undefined ? { threshold: o.secaggThreshold } : {}), ...(o.secaggAdversary ? { adversary: o.secaggAdversary } : {}) };
}

export async function runTrain(model: string, dataset: string, o: TrainCliOptions, log: (s: string) => void = (s) => console.log(s)): Promise<number> {
  const fancy = o.progress !== false && process.stdout.isTTY === true && !process.env.CI;
  let bar: cliProgress.SingleBar | undefined;
  let lastLine = 0;
  const opts: TrainOptions = {
    model, dataset, protocol: o.protocol, precision: o.precision, owners: o.owners, mode: o.mode, batchSize: o.batchSize, epochs: o.epochs,
    seed: o.seed, nonIid: o.nonIid ?? false, out: o.out, onBadUpdate: o.onBadUpdate, maxSteps: o.maxSteps, lr: o.lr, optimizer: o.optimizer,
    localEpochs: o.localEpochs, clientLr: o.clientLr, insecureAllowPlaintext: o.insecureAllowPlaintext ?? false,
    ...(o.minContributors !== undefined ? { minContributors: o.minContributors } : {}),
    ...(o.validationLimit !== undefined ? { validationLimit: o.validationLimit } : {}),
    ...(secAggChoices(o) ? { secagg: secAggChoices(o)! } : {}),
    ...(o.dp !== undefined ? { dp: dpTrainOptions(o)!, ...(o.compareNoDp ? { compareNoDp: true } : {}) } : {}),
    onStart: ({ aggregator, numParams, totalSteps, backend }) => {
      log(`fedcrypt train: ${model} on ${dataset}, ${o.owners} data owners${o.nonIid ? ' (non-IID)' : ''}, ${o.mode}, batch ${o.batchSize}, seed ${o.seed}, tfjs backend ${backend}`);
      log(`aggregation: ${aggregator.description ?? aggregator.name}`);
      if (aggregator.name === 'plaintext') log("WARNING: --insecure-allow-plaintext: every data owner's update reaches the model owner in the clear");
      log(`model: ${numParams} parameters; ${totalSteps} ${o.mode === 'fedsgd' ? 'steps' : 'rounds'}`);
      if (fancy) {
        bar = new cliProgress.SingleBar({ format: '{bar} {value}/{total} | epoch {epoch} | loss {loss} | local {local}s agg {agg}s', hideCursor: true }, cliProgress.Presets.shades_classic);
        bar.start(totalSteps, 0, { epoch: 1, loss: '-', local: '0.0', agg: '0.0' });
      }
    },
    onRound: (() => {
      let local = 0, agg = 0;
      return (r: RoundInfo) => {
        local += r.localMs; agg += r.aggregationMs;
        if (bar) bar.update(r.round, { epoch: r.epoch, loss: r.trainLoss.toFixed(4), local: (local / 1000).toFixed(1), agg: (agg / 1000).toFixed(1) });
        else {
          const now = Date.now();
          if (now - lastLine > 10000 || r.round === r.totalSteps) {
            lastLine = now;
            log(`  round ${r.round}/${r.totalSteps} (epoch ${r.epoch}) train loss ${r.trainLoss.toFixed(4)}`);
          }
        }
      };
    })(),
    onEpoch: (m: EpochMetrics) => {
      const line = `${o.mode === 'fedsgd' ? 'epoch' : 'round'} ${m.epoch}: test accuracy ${pct(m.accuracy)}, test loss ${m.loss.toFixed(4)}, train loss ${m.trainLoss.toFixed(4)}; local training ${(m.localMs / 1000).toFixed(2)}s, aggregation ${(m.aggregationMs / 1000).toFixed(2)}s` + (m.skipped.length ? `; skipped ${m.skipped.length} bad update(s): ${[...new Set(m.skipped.map((s) => s.owner))].join(', ')}` : '') + dpRoundSuffix(m.dp, o.targetDelta ?? 1e-5);
      if (bar) bar.stop();
      log(line);
      if (bar && m.round < bar.getTotal()) bar.start(bar.getTotal(), m.round, { epoch: m.epoch + 1, loss: m.trainLoss.toFixed(4), local: '-', agg: '-' });
    },
  };
  const r = await train(opts);
  bar?.stop();
  const t = r.metrics.totals;
  const share = t.localMs + t.aggregationMs > 0 ? (t.aggregationMs / (t.localMs + t.aggregationMs + t.serverMs)) * 100 : 0;
  log(`time: local training ${(t.localMs / 1000).toFixed(2)}s, aggregation ${(t.aggregationMs / 1000).toFixed(2)}s (${share.toFixed(2)}%), model-owner update ${(t.serverMs / 1000).toFixed(2)}s`);
  log(`bytes sent per role: ${Object.entries(t.bytesByRole).map(([k, v]) => `${k} ${fmtBytes(v)}`).join(', ')}`);
  if (r.paths) log(`run folder: ${r.paths.dir} (metrics.json, report.html)`);
  if (r.error) {
    console.error(`error: ${userMessage(r.error.message)}`);
    return 1;
  }
  log(`final test accuracy: ${pct(r.metrics.final.accuracy)}`);
  for (const line of dpFinalLines(r.metrics.dp)) log(line);
  return 0;
}

export function buildCli(): Command {
  const program = new Command();
  program.name('fedcrypt').description('privacy-preserving federated learning: secure aggregation (ABY3, Pond, Paillier, SecAgg) of tfjs training').showHelpAfterError();
  program
    .command('train')
    .description('train a model with a model owner, data owners and secure aggregation')
    .argument('<model>', `model: ${MODEL_NAMES.join(', ')}`)
    .argument('[dataset]', `dataset: ${DATASET_NAMES.join(', ')}`, 'mnist')
    .option('--epochs <n>', 'FedSGD: epochs; FedAvg: rounds', intArg('--epochs', 1), 5)
    .addOption(new Option('--protocol <name>', 'aggregation protocol').choices([...PROTOCOL_NAMES]).default('aby3'))
    .addOption(new Option('--precision <p>', 'fixed-point precision of the secure protocol').choices(['low', 'high']).default('low'))
    .option('--owners <n>', 'number of data owners', intArg('--owners', 1), 3)
    .addOption(new Option('--mode <m>', 'training mode').choices(['fedsgd', 'fedavg']).default('fedsgd'))
    .option('--batch-size <n>', 'batch size per data owner', intArg('--batch-size', 1), 128)
    .option('--seed <n>', 'seed for model initialisation and data order', intArg('--seed', 0), 1)
    .option('--non-iid', 'split the data by label instead of equal slices')
    .option('--out <dir>', 'run folder (default runs/<timestamp>)')
    .addOption(new Option('--on-bad-update <policy>', 'a NaN/Infinity/wrong-shape update: abort the round or skip the owner').choices(['abort', 'skip']).default('abort'))
    .option('--max-steps <n>', 'stop after n rounds (FedSGD) / n local steps per round (FedAvg)', intArg('--max-steps', 1))
    .option('--lr <x>', 'model owner (server) learning rate', numArg('--lr'))
    .addOption(new Option('--optimizer <name>', 'model owner (server) optimizer').choices(['amsgrad', 'adam', 'sgd']))
    .option('--local-epochs <n>', 'FedAvg: local epochs per round', intArg('--local-epochs', 1))
    .option('--client-lr <x>', 'FedAvg: client SGD learning rate (default 0.3)', numArg('--client-lr'))
    .option('--no-progress', 'plain progress lines instead of a progress bar')
    .option('--min-contributors <n>', 'secure protocols: the servers / aggregator refuse an aggregate of fewer data owners (default 3)', intArg('--min-contributors', 1))
    .option('--insecure-allow-plaintext', "INSECURE: allow --protocol plaintext, which hands every data owner's update to the model owner (in process; networked players opt in on their own command line)")
    .addOption(new Option('--secagg-graph <graph>', "--protocol secagg: complete (SecAgg) or auto (SecAgg+'s Harary graph where the number of clients allows one; docs/secagg.md)").choices(['complete', 'auto']))
    .option('--secagg-threshold <t>', '--protocol secagg, complete graph: the Shamir threshold t (default: the smallest the parameter rules allow)', intArg('--secagg-threshold', 2))
    .addOption(new Option('--secagg-adversary <mode>', "--protocol secagg: semi-honest (the server follows the protocol) or malicious (clients sign keys and the survivor set; networked: with their players' pinned certificate keys)").choices(['semi-honest', 'malicious']))
    .action(async (model: string, dataset: string, o: TrainCliOptions) => {
      process.exitCode = await runTrain(model, dataset, o);
    });
  addDpOptions(program.commands.find((c) => c.name() === 'train')!);
  program
    .command('demo')
    .description("the Federated Core's demo (runCoreDemo from the runtime layer)")
    .action(async () => {
      const rt = await import('../runtime/index.js');
      const text = await rt.runCoreDemo();
      if (typeof text === 'string') console.log(text);
    });
  registerDeployCommands(program);
  registerPrivatePredict(program);
  registerPrivateTrain(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (e) {
    // the CLI's own usage errors are already in its words; a library's name its arguments as its API does
    console.error(`error: ${e instanceof InvalidArgumentError ? (e as Error).message : userMessage((e as Error).message)}`);
    process.exitCode = 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main();
}
