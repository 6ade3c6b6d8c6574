/** Helpers for the networked-training tests: the in-process reference, configs, child processes. */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePorts } from '../transport/helpers.js';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'test', 'deploy', 'cli-entry.ts');
/** tsx's loader, resolved here (children may run in another folder). */
export const TSX = import.meta.resolve('tsx');

export interface RefParams {
  model: string; protocol: string; precision: 'low' | 'high'; owners: number; batchSize: number; epochs: number; seed: number; maxSteps: number; lr?: number;
}

/**
 * The in-process run (learning layer: ModelOwner, DataOwner, trainFedSGD and the
 * protocol's aggregator), built as train() builds it; returns the final weights.
 */
export async function referenceWeights(p: RefParams): Promise<Float32Array> {
  const L = await import('../../src/learning/index.js');
  await L.initTf();
  const data = L.loadDataset('mnist');
  const parts = L.splitForOwners(data.train, p.owners, false);
  const names = parts.map((_, i) => `data-owner-${i}`);
  const agg = await L.makeAggregator(p.protocol, p.precision, names);
  const owners = parts.map((part, i) => new L.DataOwner(names[i]!, p.model, data, part, { batchSize: p.batchSize, seed: p.seed, shuffleSeed: p.seed * 7919 + i }));
  const spe = Math.min(...owners.map((o) => o.iterations));
  const total = Math.min(p.epochs * spe, p.maxSteps);
  const mo = new L.ModelOwner('model-owner', p.model, data, { seed: p.seed, optimizer: L.adam({ lr: p.lr ?? 0.008, amsgrad: true, decay: L.cosineDecay(Math.max(1, total), 0.02) }) });
  await L.trainFedSGD(mo, owners, agg, { epochs: p.epochs, maxSteps: p.maxSteps, validationLimit: 50 });
  const w = mo.shareWeights();
  mo.dispose();
  owners.forEach((o) => o.dispose());
  await agg.close?.();
  return w;
}

export { freePorts };

/**
 * Keys for every player of `roles` in `<dir>/keys` and `<dir>/config.json` with mutual TLS links
 * on free loopback ports (what `fedcrypt keygen` + `fedcrypt config` produce); `extra` adds
 * top-level fields (e.g. a "policy").
 */
export async function writeTlsDeployment(dir: string, roles: readonly (readonly [string, string])[], extra: Record<string, unknown> = {}): Promise<void> {
  const { keygen } = await import('../../src/deploy/keys.js');
  const { writeFileSync } = await import('node:fs');
  const ports = await freePorts(roles.length);
  const players: Record<string, unknown> = {};
  roles.forEach(([name, role], i) => {
    const k = keygen(name, join(dir, 'keys'));
    players[name] = { address: `127.0.0.1:${ports[i]}`, role, certificate: k.certificate, publicKey: k.publicKey };
  });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ version: 1, links: 'tls', ...extra, players }, null, 2));
}

export const ROLES7: [string, string][] = [
  ['model-owner', 'model-owner'],
  ['server0', 'compute-server'], ['server1', 'compute-server'], ['server2', 'compute-server'],
  ['owner0', 'data-owner'], ['owner1', 'data-owner'], ['owner2', 'data-owner'],
];

/** Same bits? (compares the raw float32 words, so -0/NaN patterns count) */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

export interface Proc {
  name: string;
  child: ChildProcess;
  out: string[];
  exited: Promise<number | null>;
}

/** Start `node --import tsx test/deploy/cli-entry.ts ...args`, collecting its output lines. */
export function startCli(name: string, args: string[], cwd: string, onLine?: (line: string) => void): Proc {
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: '1' } });
  const out: string[] = [];
  const take = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (line === '') continue;
      out.push(line);
      onLine?.(line);
    }
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { name, child, out, exited };
}

/** Kill by pid (only processes this test started). */
export async function stop(p: Proc, signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  const t = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(t);
}

export function waitFor(p: Proc, re: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const hit = p.out.find((l) => re.test(l));
    if (hit) return resolve(hit);
    const onData = () => {
      const h = p.out.find((l) => re.test(l));
      if (h) {
        cleanup();
        resolve(h);
      }
    };
    const t = setTimeout(() => {
      cleanup();
      reject(new Error(`${p.name}: no line matching ${re} within ${timeoutMs} ms; output:\n${p.out.join('\n')}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(t);
      p.child.stdout!.off('data', onData);
      p.child.stderr!.off('data', onData);
    };
    p.child.stdout!.on('data', onData);
    p.child.stderr!.on('data', onData);
    void p.exited.then(() => setTimeout(onData, 10));
  });
}

/** Hang guard only: resolves with the exit code, or fails if `p` has not exited after `ms` (far beyond any normal run). */
export async function exitedOrHang(p: Proc, ms: number, what: string): Promise<number | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${p.name} hung: ${what} (no exit after ${ms / 1000} s); output:\n${p.out.join('\n')}`)), ms);
  });
  try {
    return await Promise.race([p.exited, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The six players of ROLES7 (all but the model owner) started as
 * `fedcrypt player` processes in `dir`, each data owner i serving MNIST's
 * training examples `ranges[i]` (--data), in a TLS config whose policy
 * enables Paillier; `extra` more arguments for every player (e.g.
 * --insecure-allow-plaintext). Resolves once every one serves.
 */
export async function startStackPlayers(dir: string, ranges: readonly (readonly [number, number])[], procs: Proc[], extra: readonly string[] = []): Promise<void> {
  // Paillier is not in the default policy: this config enables it for every player
  await writeTlsDeployment(dir, ROLES7, { policy: { protocols: ['aby3', 'pond', 'paillier'] } });
  await Promise.all(
    ROLES7.slice(1).map(async ([name, role]) => {
      const i = Number(/^owner(\d)$/.exec(name)?.[1] ?? -1);
      const data = role === 'data-owner' ? ['--data', `mnist:${ranges[i]![0]}-${ranges[i]![1]}`] : [];
      const p = startCli(name, ['player', '--config', 'config.json', '--name', name, ...data, ...extra], dir);
      procs.push(p);
      await waitFor(p, new RegExp(`${name}: serving on port`), 60_000);
    }),
  );
}

/**
 * A player's data module (its `--data`) for the dropout tests: temperatures and
 * small vectors per data owner; with FEDCRYPT_BLOCK_DATA=1 a player says so
 * and blocks in its data source (the tests kill it there).
 */
export const BLOCKING_DATA_MODULE = `
const TEMPS = [68.5, 70.25, 69.5, 71.75];
const owner = (n) => Number(/^owner(\\d)/.exec(n)[1]);
export async function data(source, client) {
  const k = owner(client.name);
  if (process.env.FEDCRYPT_BLOCK_DATA === '1') {
    console.error(client.name + ': data requested, blocking');
    await new Promise(() => {});
  }
  if (source === 'temps') return TEMPS[k];
  if (source === 'vecs') return [k, 10 * k + 1];
  throw new RangeError('no data source ' + source);
}
`;
/** BLOCKING_DATA_MODULE's temperatures, by owner number. */
export const TEMPS = [68.5, 70.25, 69.5, 71.75];
