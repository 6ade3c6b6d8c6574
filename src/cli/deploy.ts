/**
 * Deployment commands of the fedcrypt CLI:
 *
 *   fedcrypt keygen --name server0 [--dir keys] [--force]
 *   fedcrypt config --keys keys --model-owner mo --data-owners owner0,owner1,owner2 --servers server0,server1,server2 [--out config.json]
 *   fedcrypt config --check config.json [--keys keys]
 *   fedcrypt player --config config.json --name server0 [--key keys/server0.key] [policy options]
 *   fedcrypt launch --config config.json [--keys keys] [--restart 3]
 *   fedcrypt train network_a mnist --config config.json [--mode fedsgd|fedavg] [--round-timeout 60] [--checkpoint-dir ckpt] [--resume] [--dropout]
 *   fedcrypt compute computation.json --config config.json --input x=owner0:features [--input w=@w.json] (compute-command.ts)
 *
 * `train` without --config is unchanged (in process); these commands add the
 * options to the existing `train` command and run the networked driver when
 * --config is given.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
// a cycle (main.ts registers these commands); safe: runTrain is only called from an action, after both modules are evaluated.
// (A dynamic import('./main.js') here would wait for main.ts's top-level await when it is the entry point: a deadlock.)
import { runTrain, secAggChoices, type TrainCliOptions } from './main.js';
import { checkTrainOptions, userMessage } from './options.js';
import { registerConfigCommand } from './config-command.js';
import { registerComputeCommand } from './compute-command.js';

function intArg(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} expected an integer >= ${min}, got "${v}"`);
    return n;
  };
}
function secondsArg(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0.001) throw new InvalidArgumentError(`${name} expected a number of seconds >= 0.001, got "${v}"`);
    return n;
  };
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

interface NetTrainCli extends TrainCliOptions {
  config?: string;
  key?: string;
  roundTimeout?: number;
  checkpointDir?: string;
  resume?: boolean;
  validationLimit?: number;
  dropout?: boolean;
}

/** `fedcrypt train ... --config`: FedSGD or FedAvg on the execution stack (a remoteContext over the players). Returns the exit code. */
export async function runNetworkedTrain(model: string, dataset: string, o: NetTrainCli, ownersGiven: boolean, log: (s: string) => void = (s) => console.log(s)): Promise<number> {
  const { runStackTraining } = await import('../deploy/stack-training.js');
  (await import('../deploy/heap.js')).tuneHeapForRounds();
  const t0 = performance.now();
  const fedavg = o.mode === 'fedavg';
  log(`fedcrypt train: ${model} on ${dataset} across the players of ${o.config}, ${o.mode} over ${o.protocol} on the execution stack, ${o.epochs} ${fedavg ? 'rounds' : 'epochs'}, batch ${o.batchSize}`);
  const r = await runStackTraining({
    configPath: o.config!, ...(o.key ? { keyPath: o.key } : {}), mode: o.mode, model, dataset, protocol: o.protocol as 'aby3', precision: o.precision, rounds: o.epochs,
    ...(ownersGiven ? { owners: o.owners } : {}),
    batchSize: o.batchSize, seed: o.seed, ...(o.localEpochs !== undefined ? { localEpochs: o.localEpochs } : {}), ...(o.clientLr !== undefined ? { clientLr: o.clientLr } : {}),
    ...(o.maxSteps !== undefined ? { maxSteps: o.maxSteps } : {}), ...(o.optimizer ? { optimizer: o.optimizer } : {}), ...(o.lr !== undefined ? { lr: o.lr } : {}),
    roundTimeoutMs: Math.round((o.roundTimeout ?? 60) * 1000), ...(o.validationLimit !== undefined ? { validationLimit: o.validationLimit } : {}),
    ...(o.checkpointDir ? { checkpointDir: o.checkpointDir } : {}), resume: o.resume ?? false,
    ...(o.out !== undefined ? { out: o.out } : {}), ...(o.dropout ? { dropout: true } : {}), log,
    ...(secAggChoices(o) ? { secagg: secAggChoices(o)! } : {}),
    onRound: (x) => log(`  round ${x.round}/${x.totalRounds}, ${x.ms.toFixed(0)} ms`),
    onEpoch: (m) => log(`${fedavg ? `round ${m.round}` : `epoch ${m.epoch} (round ${m.round})`}: test accuracy ${pct(m.accuracy)}, test loss ${m.loss.toFixed(4)}`),
  });
  const secs = ((performance.now() - t0) / 1000).toFixed(2);
  if (r.paths) log(`run folder: ${r.paths.dir} (metrics.json, report.html)`);
  if (r.error) {
    console.error(`error: ${userMessage(r.error.message)}`);
    log(`stopped after round ${r.rounds}/${r.totalRounds}${o.checkpointDir ? `; checkpoint of round ${r.rounds} in ${o.checkpointDir} (continue with --resume)` : ''}`);
    return 1;
  }
  log(`finished round ${r.rounds}/${r.totalRounds} in ${secs}s; final test accuracy: ${pct(r.accuracy)}`);
  return 0;
}

interface PlayerCli {
  config: string;
  name: string;
  key?: string;
  minContributors?: number;
  minBatchSize?: number;
  maxRounds?: number;
  model?: string;
  dataset?: string;
  insecureAllowPlaintext?: boolean;
  data?: string;
  clients?: number;
  readyFile?: string;
  collectTimeout?: number;
  revealTo?: string[];
  ops?: string[];
  protocols?: string[];
  secaggAdversary?: 'semi-honest' | 'malicious';
  secaggMinThreshold?: number;
}

const listArg = (flag: string) => (v: string): string[] => {
  const xs = v.split(',').map((x) => x.trim());
  if (xs.some((x) => x === '')) throw new InvalidArgumentError(`${flag} expected a comma-separated list, got "${v}"`);
  return xs;
};

type DataFn = (source: string, client: { name: string; index: number }) => unknown;
type OutputFn = (o: { session: string; computation: string; index: number; shape: readonly number[]; values: Float64Array }) => unknown;

/** The operator's data module: exports `data(source, client)` (or a default function), and optionally `output(result)` (what an encrypted computation reveals to this player). */
async function loadDataModule(path: string): Promise<{ data: DataFn; output?: OutputFn }> {
  const { pathToFileURL } = await import('node:url');
  const { resolve } = await import('node:path');
  const { existsSync } = await import('node:fs');
  const abs = resolve(path);
  if (!existsSync(abs)) throw new InvalidArgumentError(`--data: no file ${abs} (a module exporting data(source, client))`);
  const m = (await import(pathToFileURL(abs).href)) as { data?: unknown; default?: unknown; output?: unknown };
  const f = typeof m.data === 'function' ? m.data : typeof m.default === 'function' ? m.default : undefined;
  if (f === undefined) throw new InvalidArgumentError(`--data: ${abs} exports no data(source, client) function`);
  return { data: f as DataFn, ...(typeof m.output === 'function' ? { output: m.output as OutputFn } : {}) };

}

export function registerDeployCommands(program: Command): void {
  program
    .command('keygen')
    .description("write a player's keys: <dir>/<name>.key (private, 0600, stays on this host), <dir>/<name>.crt and <dir>/<name>.pub (public: 'fedcrypt config' builds config.json from them)")
    .requiredOption('--name <name>', 'player name, as in config.json')
    .option('--dir <dir>', 'folder for the key files', 'keys')
    .option('--force', 'replace an existing key')
    .action(async (o: { name: string; dir: string; force?: boolean }) => {
      const { keygen } = await import('../deploy/keys.js');
      const k = keygen(o.name, o.dir, { force: o.force ?? false });
      console.log(`wrote ${k.privateKeyPath} (keep private), ${k.publicKeyPath} and ${k.certificatePath}`);
      console.log(`for config.json, players.${k.name}:`);
      console.log(`  "certificate": "${k.certificate}",`);
      console.log(`  "publicKey": "${k.publicKey}"`);
      console.log(`next: send ${k.certificatePath} and ${k.publicKeyPath} (public) to whoever assembles the config; "fedcrypt config --keys <folder with every player's .crt and .pub> ..." writes config.json from them`);
    });

  registerConfigCommand(program);
  registerComputeCommand(program);

  program
    .command('player')
    .description('run one player of config.json and serve the model owner\'s sessions until stopped (SIGTERM/SIGINT end it cleanly)')
    .requiredOption('--config <file>', 'config.json with every player (address, role, certificate or publicKey)')
    .requiredOption('--name <name>', 'the player this process runs')
    .option('--key <file>', "the player's key file (default keys/<name>.key)")
    .option('--min-contributors <n>', "policy: refuse an aggregate of fewer data owners (default: the config's policy, else 3; only upward)", intArg('--min-contributors', 2))
    .option('--min-batch-size <n>', "policy: refuse FedSGD batches smaller than n (default: the config's policy, else 16; only upward)", intArg('--min-batch-size', 1))
    .option('--max-rounds <n>', "policy: refuse learning steps past this many rounds (default: the config's policy, else 10000; only downward)", intArg('--max-rounds', 1))
    .option('--model <name>', 'policy: take part only in training of this model')
    .option('--dataset <name>', 'policy: train only on this dataset (its --data must be of it)')
    .option('--insecure-allow-plaintext', "INSECURE: also take part in the plaintext reference, which hands this data owner's values to the model owner (or the aggregators) in the clear")
    .option('--data <spec>', "data owner: the data this player's clients train on (mnist or mnist:<start>-<end>), or a module exporting data(source, client) that serves its CLIENTS values in remote sessions (the driver only names a source)")
    .option('--clients <n>', 'data owner: host n clients (<name>:0 ..), each its own party of every protocol (default 1: the player itself)', intArg('--clients', 1))
    .option('--ready-file <file>', 'write this file once serving, touch it every 10 s, remove it when stopping (for probes; deploy/k8s/)')
    .option('--collect-timeout <seconds>', "compute server: in a session whose protocol tolerates dropouts, wait this long for the data owners' contributions, then complete over those that arrived (docs/DEPLOY.md, \"Dropouts\")", secondsArg('--collect-timeout'))
    .option('--reveal-to <players>', "policy, encrypted computations (fedcrypt compute): the players a value computed from this player's inputs may be revealed to, besides itself (default none; within the config's policy.revealTo)", listArg('--reveal-to'))
    .option('--ops <ops>', "policy, encrypted computations: the only ops this player runs, e.g. matmul,add,relu (default: the config's policy.ops, else every op)", listArg('--ops'))
    .option('--protocols <names>', "policy: the only aggregation protocols this player takes part in, within the config's policy.protocols (e.g. aby3,secagg)", listArg('--protocols'))
    .addOption(new Option('--secagg-adversary <mode>', "policy: 'malicious' takes part only in secagg's malicious-server variant (default: the config's policy.secaggAdversary, else either)").choices(['semi-honest', 'malicious']))
    .option('--secagg-min-threshold <t>', "policy: refuse a secagg plan whose threshold t is below this (default: the config's policy.secaggMinThreshold, else 2; only upward)", intArg('--secagg-min-threshold', 2))

    .action(async (o: PlayerCli) => {
      (await import('../deploy/heap.js')).tuneHeapForRounds();
      const { startPlayer } = await import('../deploy/player.js');
      const { loadConfig } = await import('../transport/config.js');
      const { describePolicy, parseConfigPolicy, resolvePolicy } = await import('../deploy/policy.js');
      const config = loadConfig(o.config, { requireKeys: true });
      const policy = resolvePolicy(parseConfigPolicy(config.policy, `${o.config}: `), {
        insecureAllowPlaintext: o.insecureAllowPlaintext ?? false, minContributors: o.minContributors, minBatchSize: o.minBatchSize,
        maxRounds: o.maxRounds, model: o.model, dataset: o.dataset, ...(o.revealTo ? { revealTo: o.revealTo } : {}), ...(o.ops ? { ops: o.ops } : {}),
        ...(o.protocols ? { protocols: o.protocols } : {}), ...(o.secaggAdversary ? { secaggAdversary: o.secaggAdversary } : {}),
        ...(o.secaggMinThreshold !== undefined ? { secaggMinThreshold: o.secaggMinThreshold } : {}),
      });
      if (policy.insecureAllowPlaintext) console.error(`${o.name}: WARNING: --insecure-allow-plaintext: this player takes part in the plaintext reference, where each data owner's values reach the model owner (or the aggregators) in the clear`);
      // refuse data outside this player's own policy before it listens or sends a byte
      if (o.data !== undefined && /^[a-z0-9_-]+(:\d+-\d+)?$/.test(o.data)) {
        const dataset = o.data.split(':')[0]!;
        if (policy.datasets !== null && !policy.datasets.includes(dataset)) {
          throw new InvalidArgumentError(`--data ${o.data}: this player's policy trains on ${policy.datasets.join(', ')} only (--dataset / the config's policy.datasets)`);
        }
      }
      let stopped = false;
      const transport = await startPlayer({ configPath: o.config, name: o.name, keyPath: o.key ?? `keys/${o.name}.key`, handleSignals: false });
      const stop = () => {
        if (stopped) return;
        stopped = true;
        console.error(`${o.name}: stopping`);
        void transport.close();
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      const serving = `${o.name}: serving on port ${Object.values(transport.ports())[0] ?? '?'}`;
      const unready = o.readyFile ? (await import('./ready-file.js')).holdReadyFile(o.readyFile, `${serving}\n`) : undefined;
      console.error(serving);
      // what this player takes part in (the config's floor with its own options), and what it ignored of the config
      console.error(`${o.name}: policy: ${describePolicy(policy)}`);
      for (const w of policy.warnings ?? []) console.error(`${o.name}: WARNING: ${w}`);
      try {
        const { serveSessions } = await import('../deploy/session.js');
        // --data: the operator's own module, or a dataset range this player trains on (mnist:0-20000)
        let data: DataFn | undefined;
        let output: OutputFn | undefined;
        if (o.data !== undefined && /^[a-z0-9_-]+(:\d+-\d+)?$/.test(o.data)) {
          const { learningDataSource } = await import('../deploy/stack-training.js');
          const { setLearningPolicy } = await import('../learning/stack.js');
          setLearningPolicy({ minBatchSize: policy.minBatchSize, models: policy.models, maxRounds: policy.maxRounds });
          data = await learningDataSource(o.data, o.name, config, o.clients ?? 1);
        } else if (o.data !== undefined) ({ data, output } = await loadDataModule(o.data));
        // remote execution sessions (any federated computation, training included) until the transport closes
        const { loadIdentity } = await import('../deploy/keys.js');
        const identity = loadIdentity(o.key ?? `keys/${o.name}.key`);
        const sessions = serveSessions(transport, config, o.name, {
          policy, identity, ...(data ? { data } : {}), ...(o.clients ? { clients: o.clients } : {}), log: (l) => console.error(l), stopped: () => stopped,
          ...(output ? { onOutput: (r) => void output!(r) } : {}),
          ...(o.collectTimeout !== undefined ? { collectMs: Math.round(o.collectTimeout * 1000) } : {}),
        }).catch((e: unknown) => {
          if (!stopped) console.error(`${o.name}: sessions stopped: ${(e as Error).message}`);
        });
        await sessions;
      } finally {
        unready?.();
        // (also when the player refuses to start, e.g. --data outside its own --dataset: nothing keeps it alive)
        await transport.close();
      }
      console.error(`${o.name}: stopped`);
    });

  program
    .command('launch')
    .description("start every player of config.json on this machine as child processes (not the model owner: run 'fedcrypt train --config' for it)")
    .requiredOption('--config <file>', 'config.json')
    .option('--keys <dir>', 'folder with the <name>.key files', 'keys')
    .option('--include-model-owner', 'also start the model owner as a plain player')
    .option('--restart <n>', 'start a crashed player again, at most n times per player (backoff 1 s, doubling, at most 30 s)', intArg('--restart', 0), 0)
    .option('--data <player=spec>', "a data owner's --data (repeat per data owner), e.g. --data owner0=mnist:0-20000", (v: string, acc: Record<string, string>) => {
      const m = /^([^=\s]+)=(.+)$/.exec(v);
      if (!m) throw new InvalidArgumentError(`--data expected <player>=<spec> (e.g. owner0=mnist:0-20000), got "${v}"`);
      if (acc[m[1]!] !== undefined) throw new InvalidArgumentError(`--data: ${m[1]} given twice`);
      return { ...acc, [m[1]!]: m[2]! };
    }, {} as Record<string, string>)
    .action(async (o: { config: string; keys: string; includeModelOwner?: boolean; restart: number; data: Record<string, string> }) => {
      const { launchPlayers } = await import('../deploy/launch.js');
      const { loadConfig } = await import('../transport/config.js');
      const config = loadConfig(o.config);
      for (const name of Object.keys(o.data)) {
        const p = config.players.find((x) => x.name === name);
        if (p === undefined || p.role !== 'data-owner') throw new InvalidArgumentError(`--data ${name}=...: ${name} is not a data owner of ${o.config} (${config.players.filter((x) => x.role === 'data-owner').map((x) => x.name).join(', ')})`);
      }
      const l = launchPlayers({
        configPath: o.config, keysDir: o.keys, includeModelOwner: o.includeModelOwner ?? false, restarts: o.restart,
        playerArgs: (name) => (o.data[name] === undefined ? [] : ['--data', o.data[name]!]),
      });
      const stop = () => void l.stop();
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      const codes = await l.exited;
      process.exitCode = Object.values(codes).every((c) => c === 0 || c === null) ? 0 : 1;
    });

  const train = program.commands.find((c) => c.name() === 'train');
  if (train) {
    train
      .option('--config <file>', 'run across the players of config.json (this process is the model owner)')
      .option('--key <file>', "networked: the model owner's key file (default keys/<model owner>.key)")
      .option('--round-timeout <seconds>', 'networked: deadline of each round', secondsArg('--round-timeout'), 60)
      .option('--checkpoint-dir <dir>', 'networked: checkpoint after every round into this folder')
      .option('--resume', 'networked: continue from the checkpoint in --checkpoint-dir')
      .option('--validation-limit <n>', 'validate on at most n test images', intArg('--validation-limit', 1))
      .option('--dropout', "networked, aby3/pond/paillier: a round completes without a data owner lost in it, over the others (the compute servers' --collect-timeout); metrics.json and report.html name each dropout");
    train.action(async (model: string, dataset: string, o: NetTrainCli) => {
      checkTrainOptions(train, o as NetTrainCli & Record<string, unknown>);
      if (o.config === undefined) {
        process.exitCode = await runTrain(model, dataset, o);
        return;
      }
      const code = await runNetworkedTrain(model, dataset, o, train.getOptionValueSource('owners') === 'cli');
      process.exitCode = code;
      // the transport is closed; do not linger on a connection attempt to a dead player (stdout to a pipe is synchronous on Linux)
      setTimeout(() => process.exit(code), 500).unref();
    });
  }
}
