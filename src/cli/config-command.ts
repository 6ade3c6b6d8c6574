/**
 * `fedcrypt config`: assemble config.json from the players' keygen output, or check one.
 *
 *   fedcrypt config --keys keys --model-owner model-owner --data-owners owner0,owner1,owner2 \
 *       --servers server0,server1,server2 [--address owner0=10.0.0.5:7001 ...] [--host 127.0.0.1 --base-port 4440] \
 *       [--links tls] [--policy policy.json] [--out config.json] [--force]
 *   fedcrypt config --check config.json [--keys keys]
 */
import { existsSync, writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';

const namesArg = (flag: string) => (v: string, prev: string[] = []): string[] => {
  const names = v.split(',').map((s) => s.trim());
  if (names.some((n) => n === '')) throw new InvalidArgumentError(`${flag} expected comma-separated player names, got "${v}"`);
  return [...prev, ...names];
};
const addressArg = (v: string, prev: Record<string, string> = {}): Record<string, string> => {
  const m = /^([^=]+)=(.+)$/.exec(v);
  if (!m) throw new InvalidArgumentError(`--address expected <name>=<host:port>, got "${v}"`);
  if (m[1]! in prev) throw new InvalidArgumentError(`--address: "${m[1]}" is given twice`);
  return { ...prev, [m[1]!]: m[2]! };
};
const portArg = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError(`--base-port expected an integer in [1, 65535], got "${v}"`);
  return n;
};

interface ConfigCli {
  check?: string;
  keys: string;
  modelOwner?: string;
  dataOwners?: string[];
  servers?: string[];
  aggregators?: string[];
  address?: Record<string, string>;
  host: string;
  basePort: number;
  links: 'tls' | 'noise';
  policy?: string;
  out: string;
  force?: boolean;
}

const ASSEMBLY_OPTIONS = ['modelOwner', 'dataOwners', 'servers', 'aggregators', 'address', 'host', 'basePort', 'links', 'policy', 'out', 'force'] as const;
const flagOf = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

async function check(path: string, keysDir: string | undefined, log: (s: string) => void): Promise<number> {
  const { loadConfig } = await import('../transport/config.js');
  const { describeConfig } = await import('../deploy/assemble.js');
  const config = loadConfig(path, { requireKeys: true });
  const { lines, warnings } = describeConfig(config);
  log(`${path}: valid`);
  for (const l of lines) log(l);
  let bad = 0;
  if (keysDir !== undefined) {
    // the private key files present in --keys (usually only this host's players) against the config
    const { checkPlayerKey } = await import('../deploy/player.js');
    const { join } = await import('node:path');
    const here = config.players.filter((p) => existsSync(join(keysDir, `${p.name}.key`)));
    if (here.length === 0) log(`key files: none of the players' <name>.key files is in ${keysDir}`);
    for (const p of here) {
      try {
        checkPlayerKey(config, p.name, join(keysDir, `${p.name}.key`), path);
        log(`key file ${join(keysDir, `${p.name}.key`)}: matches players.${p.name}`);
      } catch (e) {
        bad++;
        console.error(`error: ${(e as Error).message}`);
      }
    }
  }
  for (const w of warnings) log(`warning: ${w}`);
  return bad ? 1 : 0;
}

export function registerConfigCommand(program: Command): void {
  const cmd = program
    .command('config')
    .description("assemble config.json from the players' public keygen files (<keys>/<name>.crt and .pub), or --check one")
    .option('--check <file>', 'validate this config and print a summary (players, roles, links, policy) instead of writing one')
    .option('--keys <dir>', "folder with every player's <name>.crt and <name>.pub (from 'fedcrypt keygen'); with --check: also check the <name>.key files found there", 'keys')
    .option('--model-owner <name>', 'the model owner (runs the driver: fedcrypt train --config)')
    .option('--data-owners <names>', 'data owners, comma-separated, in order (the i-th holds slice i of the data)', namesArg('--data-owners'))
    .option('--servers <names>', 'compute servers, comma-separated (three for aby3 and pond)', namesArg('--servers'))
    .option('--aggregators <names>', 'players with role "aggregator", comma-separated', namesArg('--aggregators'))
    .option('--address <name=host:port>', 'address of one player (repeat for each); the others get --host and the next port from --base-port', addressArg)
    .option('--host <host>', 'host of the players without --address; "{name}" stands for each player\'s name (one host each, e.g. a Kubernetes Service; every such player then uses --base-port)', '127.0.0.1')
    .option('--base-port <n>', 'port of the first player without --address; the i-th player (model owner, data owners, servers, aggregators) gets base-port + i', portArg, 4440)
    .addOption(new Option('--links <mode>', 'how links are secured').choices(['tls', 'noise']).default('tls'))
    .option('--policy <file>', 'a JSON file with the config\'s "policy" object (docs/DEPLOY.md, "Party policy")')
    .option('--out <file>', 'where to write the config ("-": standard output)', 'config.json')
    .option('--force', 'replace an existing --out file');
  cmd.action(async (o: ConfigCli) => {
    const given = (k: string) => cmd.getOptionValueSource(k) === 'cli';
    if (o.check !== undefined) {
      const wrong = ASSEMBLY_OPTIONS.filter(given).map(flagOf);
      if (wrong.length) throw new InvalidArgumentError(`${wrong.join(', ')}: not with --check (--check reads a config; only --keys applies, to check the key files in that folder)`);
      process.exitCode = await check(o.check, given('keys') ? o.keys : undefined, (s) => console.log(s));
      return;
    }
    const missing = (['modelOwner', 'dataOwners'] as const).filter((k) => o[k] === undefined).map(flagOf);
    if (missing.length) throw new InvalidArgumentError(`${missing.join(' and ')} required to assemble a config (or --check <file> to check one)`);
    if (o.out !== '-' && existsSync(o.out) && !o.force) throw new InvalidArgumentError(`${o.out} already exists; pass --force to replace it (or --out another file)`);
    let policy: Record<string, unknown> | undefined;
    if (o.policy !== undefined) {
      const { readDeployFile, ConfigError } = await import('../transport/config.js');
      const { parseJsonStrict } = await import('../transport/config-json.js');
      const text = readDeployFile(o.policy, 'the policy object for --policy', 'write it as JSON, e.g. { "minContributors": 3, "protocols": ["aby3"] } (docs/DEPLOY.md, "Party policy")');
      try {
        policy = parseJsonStrict(text) as Record<string, unknown>;
      } catch (e) {
        throw new ConfigError(`${o.policy}: ${(e as Error).message}`, o.policy);
      }
    }
    const { assembleConfig, describeConfig } = await import('../deploy/assemble.js');
    const a = assembleConfig({
      keysDir: o.keys, modelOwner: o.modelOwner!, dataOwners: o.dataOwners!, servers: o.servers ?? [], aggregators: o.aggregators ?? [],
      addresses: o.address ?? {}, host: o.host, basePort: o.basePort, links: o.links, ...(policy !== undefined ? { policy } : {}),
    });
    if (o.out === '-') {
      process.stdout.write(a.text);
      return;
    }
    writeFileSync(o.out, a.text, { flag: o.force ? 'w' : 'wx' });
    const { lines, warnings } = describeConfig(a.config);
    console.log(`wrote ${o.out} from ${Object.values(a.files).flat().length} public files in ${o.keys} (no private key read)`);
    for (const l of lines) console.log(l);
    for (const w of warnings) console.log(`warning: ${w}`);
    console.log(`next: give ${o.out} to every player; each checks it with "fedcrypt config --check ${o.out} --keys keys" and starts with "fedcrypt player --config ${o.out} --name <name>"`);
  });
}
