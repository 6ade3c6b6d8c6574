/**
 * tuneHeapForRounds (src/deploy/heap.ts): applied once per process, and a
 * --heap-growing-percent on the command line wins. Each case runs in a fresh
 * process (the setting is process-wide).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const root = new URL('../..', import.meta.url).pathname;
const script = `import { tuneHeapForRounds } from './src/deploy/heap.ts'; console.log(JSON.stringify([tuneHeapForRounds(), tuneHeapForRounds()]));`;

function run(flags: string[]): [boolean, boolean] {
  const r = spawnSync(process.execPath, [...flags, '--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim()) as [boolean, boolean];
}

test('tuneHeapForRounds sets the growing factor once per process', () => {
  assert.deepEqual(run([]), [true, false]);
});

test('a --heap-growing-percent given to node wins over tuneHeapForRounds', () => {
  assert.deepEqual(run(['--heap-growing-percent=0']), [false, false]);
  assert.deepEqual(run(['--heap_growing_percent=50']), [false, false]);
});
