import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = (file: string) => spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8' });

test('examples/temperature.ts prints the same number for the three forms', () => {
  const r = run('examples/temperature.ts');
  assert.equal(r.status, 0, r.stderr);
  const values = [...r.stdout.matchAll(/^\(\{float32\}@CLIENTS -> float32@SERVER\) (\S+)$/gm)].map((m) => m[1]);
  assert.deepEqual(values, ['70.25', '70.25', '70.25']);
});

test('examples/secure-sum.ts prints [ 10, 15 ] and warns about the insecure reference', () => {
  const r = run('examples/secure-sum.ts');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\(\{int32\[2\]\}@CLIENTS -> int32\[2\]@SERVER\)\n\[ 10, 15 \]/);
  assert.equal(r.stderr.match(/FEDCRYPT_INSECURE_AGGREGATION/g)?.length, 1);
});
