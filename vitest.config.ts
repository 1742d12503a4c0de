import { defineConfig } from 'vitest/config';

// Two projects: `unit` runs pure code with no servers; `integration` talks to the real
// servers that test/integration/global-setup.ts starts once (on ports of its own) and always stops.
export default defineConfig({
  test: {
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
          hookTimeout: 600_000,
          sequence: { sequencer: (await import('./test/integration/sequencer.js')).LifecycleLastSequencer },
        },
      },
    ],
  },
});
