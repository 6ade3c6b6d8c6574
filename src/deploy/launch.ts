/**
 * `fedcrypt launch --config config.json`: start every player of a config
 * (except the model owner, which `fedcrypt train --config` runs) on this
 * machine as child processes, the equivalent of TF Encrypted's
 * run-remote.sh. Output lines are prefixed with the player's name. On
 * SIGINT/SIGTERM it stops exactly the processes it started (by their pid:
 * SIGTERM, then SIGKILL after a grace period), never anything else.
 *
 * Before starting anything it checks every player's key file against the
 * config (one ConfigError listing every problem). With `restarts` it starts
 * a player again when it crashes (exits with a code other than 0, or by a
 * signal it did not get from launch), at most that many times per player,
 * after a backoff that doubles from `restartDelayMs` up to `maxRestartDelayMs`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../transport/config.js';
import { configRoles } from './roster.js';
import { checkPlayerKey } from './player.js';

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
  /** Extra arguments for every `player` command (or per player, e.g. each data owner's --data). */
  playerArgs?: string[] | ((name: string) => string[]);
  log?: (line: string) => void;
  /** Grace period between SIGTERM and SIGKILL (default 5 s). */
  graceMs?: number;
  /** Start a crashed player again, at most this many times per player (default 0: never). */
  restarts?: number;
  /** Delay before the first restart of a player (default 1 s); doubles with each restart of that player. */
  restartDelayMs?: number;
  /** Cap of the restart delay (default 30 s). */
  maxRestartDelayMs?: number;
}

export interface Launched {
  /** The current process of each player (a restart replaces it). */
  children: Map<string, ChildProcess>;
  /** Stop every child this launch started (SIGTERM, then SIGKILL); no restart after this. */
  stop(): Promise<void>;
  /**
   * Resolves when every player has exited for good, with their last exit codes
   * (null: stopped by launch's own signal; 128 + n: killed by signal n from elsewhere).
   */
  exited: Promise<Record<string, number | null>>;
}

/**
 * Check the key file of every named player against the config before anything
 * starts: one ConfigError listing every problem (missing file, wrong mode,
 * another player's key, a certificate or public key the config does not pin).
 */
export function checkLaunchKeys(config: ReturnType<typeof loadConfig>, names: readonly string[], keysDir: string, configPath: string): void {
  const problems: string[] = [];
  for (const name of names) {
    try {
      checkPlayerKey(config, name, join(keysDir, `${name}.key`), configPath);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (problems.length) {
    throw new ConfigError(`launch: nothing started: ${problems.length} player key file(s) do not fit ${configPath}:\n  - ${problems.join('\n  - ')}`, keysDir);
  }
}

const nonNegInt = (v: unknown, name: string, d: number): number => {
  const x = v ?? d;
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) throw new RangeError(`launchPlayers: "${name}" expected an integer >= 0, got ${String(x)}`);
  return x;
};

export function launchPlayers(o: LaunchOptions): Launched {
  if (typeof o?.configPath !== 'string' || o.configPath === '') throw new TypeError('launchPlayers: "configPath" expected a non-empty string');
  const restarts = nonNegInt(o.restarts, 'restarts', 0);
  const delay0 = nonNegInt(o.restartDelayMs, 'restartDelayMs', 1000);
  const maxDelay = nonNegInt(o.maxRestartDelayMs, 'maxRestartDelayMs', 30_000);
  const config = loadConfig(o.configPath, { requireKeys: true });
  const { modelOwner } = configRoles(config);
  const log = o.log ?? ((s: string) => process.stdout.write(`${s}\n`));
  const cli = o.cliPath ?? process.argv[1];
  if (!cli) throw new RangeError('launchPlayers: cannot tell which CLI script to run (pass cliPath)');
  const execArgv = o.execArgv ?? process.execArgv;
  const keysDir = o.keysDir ?? 'keys';
  const grace = o.graceMs ?? 5000;
  const names = config.players.filter((p) => p.name !== modelOwner || o.includeModelOwner).map((p) => p.name);
  checkLaunchKeys(config, names, keysDir, o.configPath);
  const children = new Map<string, ChildProcess>();
  /** Pending restarts: their timers, and how to give up on each. */
  const timers = new Map<ReturnType<typeof setTimeout>, () => void>();
  let stopping: Promise<void> | undefined;

  const run = (name: string, address: string): Promise<[string, number | null]> =>
    new Promise((resolve) => {
      let restarted = 0;
      const start = () => {
        const args = [...execArgv, cli, 'player', '--config', o.configPath, '--name', name, '--key', join(keysDir, `${name}.key`), ...(typeof o.playerArgs === 'function' ? o.playerArgs(name) : (o.playerArgs ?? []))];
        const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        children.set(name, child);
        const prefix = (chunk: Buffer) => {
          for (const line of chunk.toString().split('\n')) if (line !== '') log(`[${name}] ${line}`);
        };
        child.stdout!.on('data', prefix);
        child.stderr!.on('data', prefix);
        let done = false;
        const ended = (exitCode: number | null, how: string, signal?: NodeJS.Signals | null) => {
          if (done) return;
          done = true;
          log(`[${name}] exited (${how})`);
          // killed by a signal launch did not send: a crash, reported as a shell would (128 + signal number)
          const code = exitCode ?? (stopping === undefined ? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0) : null);
          const crashed = code !== 0 && stopping === undefined;
          if (!crashed) return resolve([name, code]);
          if (restarted >= restarts) {
            if (restarts > 0) log(`launch: ${name} crashed ${restarted + 1} time(s); not restarting it again (--restart ${restarts})`);
            return resolve([name, code]);
          }
          restarted++;
          const wait = Math.min(maxDelay, delay0 * 2 ** (restarted - 1));
          log(`launch: restarting ${name} in ${(wait / 1000).toFixed(1)} s (restart ${restarted} of ${restarts})`);
          const t = setTimeout(() => {
            timers.delete(t);
            if (stopping !== undefined) return resolve([name, code]);
            start();
          }, wait);
          timers.set(t, () => resolve([name, code]));
        };
        child.once('error', (e) => ended(1, `could not start: ${e.message}`));
        child.once('exit', (code, signal) => ended(code, signal ?? `code ${code}`, signal));
        log(`launch: started ${name} (pid ${child.pid}) on ${address}`);
      };
      start();
    });

  const exits = names.map((n) => run(n, config.players.find((p) => p.name === n)!.address));
  const exited = Promise.all(exits).then((e) => Object.fromEntries(e));
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      for (const [t, giveUp] of timers) {
        clearTimeout(t);
        giveUp();
      }
      timers.clear();
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
