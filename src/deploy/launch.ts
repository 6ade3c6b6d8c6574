/**
 * `fedcrypt launch --config config.json`: start every player of a config
 * (except the model owner, which `fedcrypt train --config` runs) on this
 * machine as child processes, the equivalent of TF Encrypted's
 * run-remote.sh. Output lines are prefixed with the player's name. On
 * SIGINT/SIGTERM it stops exactly the processes it started (by their pid:
 * SIGTERM, then SIGKILL after a grace period), never anything else.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { loadConfig } from '../transport/config.js';
import { configRoles } from './job.js';

export interface LaunchOptions {
  configPath: string;
  /** Folder of the key files (default 'keys'). */
  keysDir?: string;
  /** The CLI entry the children run (default: this process's script). */
  cliPath?: string;
  /** Node flags for the children (default: this process's, e.g. --import tsx). */
  execArgv?: string[];
  /** Also start the model owner as a plain player (default false). */
  includeModelOwner?: boolean;
  /** Extra arguments for every `player` command. */
  playerArgs?: string[];
  log?: (line: string) => void;
  /** Grace period between SIGTERM and SIGKILL (default 5 s). */
  graceMs?: number;
}

export interface Launched {
  children: Map<string, ChildProcess>;
  /** Stop every child this launch started (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
  /** Resolves when every child has exited, with their exit codes. */
  exited: Promise<Record<string, number | null>>;
}

export function launchPlayers(o: LaunchOptions): Launched {
  if (typeof o?.configPath !== 'string' || o.configPath === '') throw new TypeError('launchPlayers: "configPath" expected a non-empty string');
  const config = loadConfig(o.configPath, { requireKeys: true });
  const { modelOwner } = configRoles(config);
  const log = o.log ?? ((s: string) => process.stdout.write(`${s}\n`));
  const cli = o.cliPath ?? process.argv[1];
  if (!cli) throw new RangeError('launchPlayers: cannot tell which CLI script to run (pass cliPath)');
  const execArgv = o.execArgv ?? process.execArgv;
  const keysDir = o.keysDir ?? 'keys';
  const grace = o.graceMs ?? 5000;
  const children = new Map<string, ChildProcess>();
  const exits: Promise<[string, number | null]>[] = [];
  for (const p of config.players) {
    if (p.name === modelOwner && !o.includeModelOwner) continue;
    const args = [...execArgv, cli, 'player', '--config', o.configPath, '--name', p.name, '--key', join(keysDir, `${p.name}.key`), ...(o.playerArgs ?? [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.set(p.name, child);
    const prefix = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line !== '') log(`[${p.name}] ${line}`);
    };
    child.stdout!.on('data', prefix);
    child.stderr!.on('data', prefix);
    exits.push(
      new Promise((resolve) =>
        child.once('exit', (code, signal) => {
          log(`[${p.name}] exited (${signal ?? `code ${code}`})`);
          resolve([p.name, code]);
        }),
      ),
    );
    log(`launch: started ${p.name} (pid ${child.pid}) on ${p.address}`);
  }
  const exited = Promise.all(exits).then((e) => Object.fromEntries(e));
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      const alive = [...children.values()].filter((c) => c.exitCode === null && c.signalCode === null);
      for (const c of alive) c.kill('SIGTERM');
      const t = setTimeout(() => {
        for (const c of alive) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      }, grace);
      await exited;
      clearTimeout(t);
    })());
  return { children, stop, exited };
}
