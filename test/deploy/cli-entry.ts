/** The fedcrypt CLI (src/cli/main.ts, with the deployment commands registered), for the tests' child processes. */
import { main } from '../../src/cli/main.js';

await main();
