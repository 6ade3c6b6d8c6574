// Build: compile the AssemblyScript kernels (if any) to dist/wasm, then TypeScript to dist/.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

rmSync(join(root, 'dist'), { recursive: true, force: true });
mkdirSync(join(root, 'dist/wasm'), { recursive: true });
const asmDir = join(root, 'src/ring/assembly');
if (existsSync(asmDir)) {
  for (const f of readdirSync(asmDir)) {
    if (!f.endsWith('.ts') || f.endsWith('.d.ts') || f.startsWith('_')) continue;
    const name = f.replace(/\.ts$/, '');
    run(process.execPath, [
      join(root, 'node_modules/assemblyscript/bin/asc.js'),
      join('src/ring/assembly', f),
      '--outFile', join('dist/wasm', `${name}.wasm`),
      '-O3', '--noAssert', '--runtime', 'stub', '--enable', 'simd',
      '--initialMemory', '32', '--maxMemory', '65536',
    ]);
  }
}
run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']);
