import { TestWorkflowEnvironment } from '@temporalio/testing';
import { inject } from 'vitest';

/**
 * A time-skipping environment on the Java test server that test-server-setup.ts installed:
 * timers fire as soon as nothing else is pending while a test awaits a workflow's result. Time
 * is global to an environment, so create one per test file (in `beforeAll`, torn down in
 * `afterAll`), and give activities a `scheduleToCloseTimeout`.
 */
export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const path = inject('temporalTestServer');
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path } },
  });
}
