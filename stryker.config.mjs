// Mutation testing (StrykerJS): `npm run mutation`, outside CI (see docs/MUTATION.md).
// One scope at a time: `npm run mutation -- --mutate 'src/encrypted/protocols/**/*.ts'`.
//
// Runner: the tap runner starts `node --import tsx <test file>` per test file
// (node:test prints TAP when its output is not a terminal). Coverage is
// recorded per test file in the dry run, so each mutant runs only the test
// files that execute its code, stopping at the first failure.

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  plugins: ['@stryker-mutator/tap-runner'],
  testRunner: 'tap',
  tap: {
    // the test files that exercise the mutated code (the whole suite would only slow the dry run)
    testFiles: [
      'test/encrypted/*.test.ts',
      'test/conformance/*.test.ts',
      'test/aggregation/mpc*.test.ts',
      'test/crypto/*.test.ts',
      'test/transport/tls.test.ts',
      'test/paillier/*.test.ts',
      'test/core/*.test.ts',
      'test/deploy/policy*.test.ts',
    ],
    nodeArgs: ['--import', 'tsx', '-r', '{{hookFile}}', '--test-reporter=tap', '{{testFile}}'],
    forceBail: true,
  },
  coverageAnalysis: 'perTest',
  mutate: [
    'src/crypto/**/*.ts',
    'src/encrypted/protocols/**/*.ts',
    'src/paillier/packing.ts',
    'src/paillier/keys.ts',
    'src/core/typecheck.ts',
    'src/deploy/policy.ts',
    '!src/**/index.ts',
  ],
  // the sandbox needs the built wasm kernels (dist/wasm, from `npm run build`), not the rest of dist
  ignorePatterns: ['/dist/*', '!/dist/wasm', '/runs', '/bench/results', '/reports', '/.tmp', '/tmp-scratch', '/.stryker-tmp*'],
  // tsx strips types without checking them; the AssemblyScript sources are not TypeScript babel can read
  disableTypeChecks: false,
  // the machine is shared: one mutant at a time (raise with --concurrency 2 on a free machine)
  concurrency: 1,
  // a mutant that makes a test hang is "timeout" (counted as detected) after the dry-run time plus this
  timeoutMS: 60_000,
  timeoutFactor: 2,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 85, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
