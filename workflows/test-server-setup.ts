import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { loadConfig, projectRoot } from '../common/config.js';
import { ensureTemporalTestServer } from '../infra/install/temporal-test-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The executable `TestWorkflowEnvironment.createTimeSkipping` starts (see test-env.ts). */
    temporalTestServer: string;
  }
}

/**
 * Installs Temporal's time-skipping test server into the tool cache (once, with Maven) and
 * hands its path to the `workflows` test files; each file starts its own server from it.
 */
export default async function setup(project: TestProject) {
  const logFile = join(projectRoot, '.test-data', 'logs', 'temporal-test-server-install.log');
  const progress = (text: string) => process.stdout.write(`[workflows] ${text}\n`);
  const started = Date.now();
  const path = await ensureTemporalTestServer(loadConfig().cacheDir, logFile, progress);
  progress(`test server ready in ${((Date.now() - started) / 1000).toFixed(1)}s: ${path}`);
  project.provide('temporalTestServer', path);
}
