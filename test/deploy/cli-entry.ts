/** The CLI with the deployment commands registered (what src/cli/main.ts runs once it registers them). */
import { buildCli } from '../../src/cli/main.js';
import { registerDeployCommands } from '../../src/cli/deploy.js';

const program = buildCli();
registerDeployCommands(program);
try {
  await program.parseAsync(process.argv);
} catch (e) {
  console.error(`error: ${(e as Error).message}`);
  process.exitCode = 1;
}
