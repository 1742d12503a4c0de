import { configDefaults, defineConfig } from 'vitest/config';
import { LifecycleLastSequencer } from './test/integration/sequencer.js';

// Three projects: `unit` runs pure code with no servers; `workflows` runs Temporal workflows on
// the time-skipping test server (one per file, from workflows/test-server-setup.ts); `integration`
// talks to the real servers that test/integration/global-setup.ts starts once (on ports of its
// own) and always stops.
export default defineConfig({
  test: {
    // In CI a JSON report too, from which .ci/run prints a plain "N passed, N failed" line.
    reporters: process.env.CI
      ? ['default', ['json', { outputFile: '.test-data/vitest-results.json' }]]
      : ['default'],
    sequence: { sequencer: LifecycleLastSequencer },
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            '{actors,analytics,common,firmware,infra,pipeline,simulations,workers,workflows,web}/**/*.test.ts',
          ],
          exclude: [...configDefaults.exclude, 'workflows/**/*.workflow.test.ts'],
        },
      },
      {
        test: {
          name: 'workflows',
          include: ['workflows/**/*.workflow.test.ts'],
          globalSetup: ['workflows/test-server-setup.ts'],
          // The first workflow of a file bundles its workflow code (a few seconds on busy cores).
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
