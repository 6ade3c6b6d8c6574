// Dependencies point one way: a module in a layer imports only from its own
// layer or from layers of lower rank (docs/ARCHITECTURE.md has the table).
// Entry-point facades (src/<layer>/index.ts) follow the same rule except for
// the re-exports listed in FACADE_EXCEPTIONS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

export const RANK: Record<string, number> = {
  ring: 0, core: 0,
  crypto: 1,
  transport: 2,
  encrypted: 3, paillier: 3,
  aggregation: 4,
  dp: 4.5, // differential privacy: the accountant and samplers (pure), the DP aggregation wrappers over aggregation roles
  runtime: 5,
  learning: 6,
  deploy: 7,
  cli: 8,
};
// issue 5 names paillierContext and the aggregation service as part of fedcrypt/paillier
const FACADE_EXCEPTIONS = new Set(['paillier/index.ts -> runtime', 'paillier/index.ts -> aggregation']);

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? (f === 'assembly' ? [] : walk(p)) : p.endsWith('.ts') ? [p] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:import|export)\s[^'"`;]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec) specs.push(spec);
  }
  return specs;
}

test('every src/ top-level directory has a rank', () => {
  const layers = readdirSync(src).filter((f) => statSync(join(src, f)).isDirectory());
  assert.deepEqual(layers.filter((l) => RANK[l] === undefined), []);
});

test('imports point down the layer table', () => {
  const violations: string[] = [];
  let checked = 0;
  for (const file of walk(src)) {
    const rel = relative(src, file).split(sep).join('/');
    const layer = rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : '';
    if (!layer) continue; // src/index.ts: the root facade
    for (const spec of importsOf(file)) {
      if (!spec.startsWith('.')) continue;
      const target = relative(src, resolve(dirname(file), spec)).split(sep).join('/');
      const tLayer = target.slice(0, target.indexOf('/'));
      checked++;
      if (tLayer === layer) continue;
      assert.ok(RANK[tLayer] !== undefined, `${rel} imports ${spec} outside the layers`);
      if (RANK[tLayer]! < RANK[layer]!) continue;
      if (FACADE_EXCEPTIONS.has(`${rel} -> ${tLayer}`)) continue;
      violations.push(`${rel} (${layer}, rank ${RANK[layer]}) imports ${spec} (${tLayer}, rank ${RANK[tLayer]})`);
    }
  }
  assert.ok(checked > 50, `only ${checked} relative imports found: the scanner is broken`);
  assert.deepEqual(violations, []);
});

test('the scanner sees an upward import when there is one', () => {
  // guard against a test that cannot fail: the facade exception is a real upward import
  const facade = readFileSync(join(src, 'paillier/index.ts'), 'utf8');
  assert.ok(importsOf(join(src, 'paillier/index.ts')).some((s) => s.startsWith('../runtime/')), facade.slice(0, 200));
});
