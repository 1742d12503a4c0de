/**
 * The workflow worker (the samples' `worker.ts`): runs `alarmEscalation` and `maintenanceTicket`
 * and their activities on task queue `factory-alarms`. The workflow code is bundled once per
 * version of its sources and cached under the data directory, so a restart (after a crash, by
 * the keeper) polls again within a second or two instead of re-bundling.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, type NativeConnection, Worker } from '@temporalio/worker';
import type { Activities } from './activities.js';
import { TASK_QUEUE } from './definitions.js';

export const WORKFLOWS_PATH = join(import.meta.dirname, 'workflows.ts');

/** The bundle for the current workflow sources, built once and kept in `cacheDir`. */
export async function workflowBundle(cacheDir: string): Promise<{ code: string }> {
  const hash = createHash('sha256');
  for (const f of readdirSync(import.meta.dirname)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .sort())
    hash.update(f).update(readFileSync(join(import.meta.dirname, f)));
  const file = join(cacheDir, `workflow-bundle-${hash.digest('hex').slice(0, 16)}.js`);
  if (existsSync(file)) return { code: readFileSync(file, 'utf8') };
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundler });
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(`${file}.partial`, code);
  renameSync(`${file}.partial`, file);
  return { code };
}

const quietBundler = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (m: string) => process.stderr.write(`bundler: ${m}\n`),
  error: (m: string) => process.stderr.write(`bundler: ${m}\n`),
};

export async function createWorker(opts: {
  connection: NativeConnection;
  namespace: string;
  activities: Activities;
  bundle: { code: string };
  taskQueue?: string;
  identity?: string;
}): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue ?? TASK_QUEUE,
    workflowBundle: opts.bundle,
    activities: opts.activities,
    identity: opts.identity,
    // Gentle on a 2-core machine shared with the whole stack.
    maxConcurrentActivityTaskExecutions: 50,
    maxConcurrentWorkflowTaskExecutions: 20,
  });
}
