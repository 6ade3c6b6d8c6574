/** Run the fedcrypt CLI as a user would (`node --import tsx src/cli/main.ts ...`), in any folder. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const TSX = import.meta.resolve('tsx');

export interface CliRun { status: number | null; stdout: string; stderr: string; out: string }

/** Synchronous; `timeout` is a hang guard only. */
export function fedcrypt(args: string[], cwd: string, timeout = 180_000): CliRun {
  const r = spawnSync(process.execPath, ['--import', TSX, MAIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, CI: '1' }, timeout });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, out: `${r.stdout}${r.stderr}` };
}
