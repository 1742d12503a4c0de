/**
 * Replays the recorded histories in workflows/histories/ (made by the skipped-time tests with
 * RECORD_HISTORIES=1, one per workflow version) against today's workflow code. A change that
 * would break a running escalation or ticket (a new activity, a reordered step) without a
 * `patched()` guard fails here with a non-determinism error, before it reaches a plant.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { expect, test } from 'vitest';
import { workflowBundle } from './worker.js';

const dir = join(import.meta.dirname, 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

test('there are recorded histories of both workflows to replay', () => {
  expect(files.length).toBeGreaterThanOrEqual(4);
  expect(files.some((f) => /^v\d+-ticket-/.test(f))).toBe(true);
});

test.each(files)('%s replays on the current workflow code', async (file) => {
  const history = temporal.api.history.v1.History.fromObject(
    JSON.parse(readFileSync(join(dir, file), 'utf8')),
  );
  const bundle = await workflowBundle('.test-data/workflow-bundles');
  await expect(Worker.runReplayHistory({ workflowBundle: bundle }, history, file)).resolves.toBeUndefined();
});
