// Runs every test/**/*.test.ts with node's built-in runner (via tsx).
// Node 20 does not expand globs for --test, so the files are listed here.
//
// A watchdog against a stuck test process: every test (and every file's
// process as a whole) gets --test-timeout. A file's process that hangs
// while it loads (seen once on this machine: the main thread waiting forever
// in tsx's synchronous loader IPC with esbuild, before any test of the file
// ran) is then reported as timed out instead of holding the run until CI's
// deadline, and the files whose only failures are timeouts are run once
// more, alone; their second result is the one that counts. Any other
// failure fails the run as before. The TAP output goes to stdout as before;
// a copy is written to a temporary file to find the timed-out files.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const walk = (dir) => readdirSync(dir).flatMap((f) => {
  const p = join(dir, f);
  return statSync(p).isDirectory() ? walk(p) : [p];
});
const filter = process.argv.slice(2);
const files = walk(join(root, 'test'))
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => relative(root, f))
  .filter((f) => filter.length === 0 || filter.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// the slowest test takes under a minute on CI (2 cores); 4 minutes is only reached by a stuck process
const TIMEOUT_MS = Number(process.env['FEDCRYPT_TEST_TIMEOUT_MS'] ?? 240_000);
const dir = mkdtempSync(join(tmpdir(), 'fedcrypt-tests-'));

function run(list, tap) {
  const r = spawnSync(process.execPath, [
    '--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${TIMEOUT_MS}`,
    '--test-reporter=tap', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`,
    ...list,
  ], { cwd: root, stdio: 'inherit', env: { ...process.env, FEDCRYPT_TEST: '1' } });
  return r.status ?? 1;
}

/** From a TAP report: the files whose process timed out as a whole, and whether any other top-level test failed. */
function timedOutFiles(tap) {
  const lines = readFileSync(tap, 'utf8').split('\n');
  const timedOut = [];
  let other = false;
  for (let i = 0; i < lines.length; i++) {
    const m = /^not ok \d+ - (.*)$/.exec(lines[i]);
    if (m === null) continue;
    let kind = '';
    for (let j = i + 1; j < lines.length && !lines[j].startsWith('  ...'); j++) {
      const f = /^ {2}failureType: '(\w+)'/.exec(lines[j]);
      if (f !== null) kind = f[1];
    }
    const file = files.find((f) => m[1] === f || m[1] === join(root, f));
    if (kind === 'testTimeoutFailure' && file !== undefined) timedOut.push(file);
    else other = true;
  }
  return { timedOut, other };
}

let status = run(files, join(dir, 'run.tap'));
if (status !== 0) {
  const { timedOut, other } = timedOutFiles(join(dir, 'run.tap'));
  if (!other && timedOut.length > 0) {
    console.error(`\nrun-tests: ${timedOut.length} file(s) timed out as a whole (a stuck process), running them once more: ${timedOut.join(', ')}`);
    status = run(timedOut, join(dir, 'rerun.tap'));
  }
}
rmSync(dir, { recursive: true, force: true });
process.exit(status);
