// Build: compile the AssemblyScript kernels (if any) to dist/wasm, then TypeScript to dist/.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

const SHARED_VARIANTS = new Set(['ring']);
// dist/ is not wiped: builds may run concurrently with tests that read dist/wasm.
mkdirSync(join(root, 'dist/wasm'), { recursive: true });
// Every src/<layer>/assembly/<name>.ts (not starting with '_') becomes dist/wasm/<name>.wasm.
for (const layer of readdirSync(join(root, 'src'))) {
  const asmDir = join(root, 'src', layer, 'assembly');
  if (!existsSync(asmDir)) continue;
  for (const f of readdirSync(asmDir)) {
    if (!f.endsWith('.ts') || f.endsWith('.d.ts') || f.startsWith('_')) continue;
    const name = f.replace(/\.ts$/, '');
    const asc = (out, extra) => run(process.execPath, [
      join(root, 'node_modules/assemblyscript/bin/asc.js'),
      join('src', layer, 'assembly', f),
      '--outFile', join('dist/wasm', out),
      '-O3', '--noAssert', '--runtime', 'stub', '--enable', 'simd',
      '--initialMemory', '32', '--maximumMemory', '65536',
      ...extra,
    ]);
    asc(`${name}.wasm`, []);
    // A second build over an imported shared memory: the resident tensor heap
    // (src/ring/heap.ts) keeps tensors there, and views over a shared memory
    // stay valid when it grows.
    if (SHARED_VARIANTS.has(name)) asc(`${name}-shared.wasm`, ['--enable', 'threads', '--sharedMemory', '--importMemory']);
  }
}
run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']);
