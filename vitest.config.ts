import { defineConfig } from 'vitest/config';
import { LifecycleLastSequencer } from './test/integration/sequencer.js';

// Two projects: `unit` runs pure code with no servers; `integration` talks to the real
// servers that test/integration/global-setup.ts starts once (on ports of its own) and always stops.
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
            '{actors,analytics,common,firmware,infra,pipeline,simulations,workers,workflows}/**/*.test.ts',
          ],
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
