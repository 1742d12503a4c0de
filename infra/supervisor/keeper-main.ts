/**
 * The keeper process: `node --import tsx infra/supervisor/keeper-main.ts --data-dir .data`.
 * Started last by `factory up`, stopped first by `factory down`. It also records the pipeline's
 * counters into InfluxDB every 10 s (pipeline-recorder.ts).
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../../common/config.js';
import { CredentialsError } from '../../common/credentials.js';
import { jsonLogger } from '../../common/log.js';
import { onShutdown, runProcess } from '../../common/runtime.js';
import { Keeper } from './keeper.js';
import { PipelineRecorder } from './pipeline-recorder.js';

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { 'data-dir': { type: 'string' } }, strict: true });
  const config = loadConfig(
    values['data-dir'] ? { ...process.env, FACTORY_DATA_DIR: values['data-dir'] } : process.env,
  );
  const log = jsonLogger({ role: 'keeper' });
  const keeper = new Keeper({
    config,
    log,
    liveEveryMs: 1_000,
    healthEveryMs: 5_000,
    unhealthyGraceMs: 45_000,
    backoff: { minMs: 1_000, maxMs: 60_000 },
    // A component that ran healthily for 10 s and then died is restarted at once again; only
    // one that keeps dying soon after its start backs off (up to a minute).
    resetAfterMs: 10_000,
  });
  keeper.start();
  // The pipeline's counters into InfluxDB `pipeline`, for the pipeline-health dashboard.
  const recorder = new PipelineRecorder(config, log);
  recorder.start(10_000);
  log.info('keeper started', { dataDir: config.dataDir });
  return onShutdown(log, config.stopTimeoutMs, async () => {
    await recorder.stop();
    await keeper.stop();
  });
}

runProcess(
  'keeper',
  () => main(process.argv.slice(2)),
  (err) => err instanceof ConfigError || err instanceof CredentialsError,
);
