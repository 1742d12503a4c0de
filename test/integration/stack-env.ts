import { join } from 'node:path';
import { type Config, loadConfig, projectRoot } from '../../common/config.js';
import { keeperHeld } from '../../infra/cli/bench-pause.js';
import { type CliResult, runCli } from '../../simulations/stack.js';

/**
 * The integration suite's stack: its own data directory and ports, so it never collides with
 * a developer's `factory up` on the default ports. Every address comes from the environment,
 * which is also how the suite checks that each one can be moved.
 */
export const testEnv: Record<string, string> = {
  FACTORY_DATA_DIR: join(projectRoot, '.test-data', 'stack'),
  FACTORY_MQTT_ADDR: '127.0.0.1:21883',
  FACTORY_NATS_ADDR: '127.0.0.1:24222',
  FACTORY_KAFKA_ADDR: '127.0.0.1:29092',
  FACTORY_KAFKA_CONTROLLER_ADDR: '127.0.0.1:29093',
  FACTORY_INFLUX_ADDR: '127.0.0.1:28086',
  FACTORY_INFLUX_RPC_ADDR: '127.0.0.1:28088',
  FACTORY_TEMPORAL_ADDR: '127.0.0.1:27233',
  FACTORY_TEMPORAL_UI_ADDR: '127.0.0.1:28233',
  FACTORY_HTTP_ADDR: '127.0.0.1:23000',
  FACTORY_METRICS_PORT_BASE: '29400',
  FACTORY_GRAFANA_ADDR: '127.0.0.1:23001',
  // Ladders in seconds, tickets only for the workflow test's machine (see the file).
  FACTORY_ESCALATION: 'test/integration/fixtures/escalation.yaml',
};

export const testConfig = (overrides: Record<string, string> = {}): Config =>
  loadConfig({ ...cleanEnv(), ...testEnv, ...overrides });

/**
 * The caller's environment without FACTORY_* settings that could leak into the suite; the
 * tool cache is kept (it says where servers are installed, not which stack to talk to).
 */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('FACTORY_') || k === 'FACTORY_CACHE_DIR'),
  );
}

export type { CliResult };

/** Runs the real CLI as an operator would, against the suite's stack unless told otherwise. */
export const factory = (args: string[], overrides: Record<string, string> = {}, timeoutMs = 600_000) =>
  runCli(args, { ...cleanEnv(), ...testEnv, ...overrides }, timeoutMs);

/**
 * Runs `work` with the suite's keeper paused (SIGSTOP), for tests that take a server down on
 * purpose and must see it stay down; the keeper resumes (SIGCONT) afterwards, whatever happens.
 */
export const keeperPaused = <T>(work: () => Promise<T>): Promise<T> => keeperHeld(testConfig(), work);

/** The confirmation settings of a real gateway (firmware/main.ts), for in-process test gateways. */
export const gatewayConfirm = { maxUnconfirmed: 50_000, timeoutMs: 15_000, maxTimeoutMs: 60_000 };
