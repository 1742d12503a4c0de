import { defineConfig } from 'vitest/config';
import { LifecycleLastSequencer } from './test/integration/sequencer.js';

// Two projects: `unit` runs pure code with no servers; `integration` talks to the real
// servers that test/integration/global-setup.ts starts once (on ports of its own) and always stops.
export default defineConfig({
  test: {
    sequence: { sequencer: LifecycleLastSequencer },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{actors,common,firmware,infra,simulations,workflows}/**/*.test.ts'],
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
