/**
 * A pipeline process: `node --import tsx pipeline/main.ts bridge|writer --id bridge-1
 * --metrics-addr 127.0.0.1:9401`. Counters at GET /metrics and /healthz on that address.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigError, formatAddress, loadConfig } from '../common/config.js';
import { CredentialsError, readCredentials } from '../common/credentials.js';
import { jsonLogger } from '../common/log.js';
import { connectNats } from '../common/nats.js';
import { FleetRegistry } from '../common/registry.js';
import { Metrics, onShutdown, processArgs, runProcess, serveMetrics, UsageError } from '../common/runtime.js';
import { Bridge } from './bridge.js';
import { FleetView } from './fleet-view.js';
import { pipelineInflux } from './influx.js';
import { pipelineKafka } from './kafka.js';
import { Writer } from './writer.js';

const argsSchema = z.object({
  ...processArgs,
  role: z.enum(['bridge', 'writer'], { error: 'the role must be "bridge" or "writer"' }),
  lanes: z.coerce.number().int().min(1).max(256, '--lanes must be 1-256').default(48),
});

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      id: { type: 'string' },
      'metrics-addr': { type: 'string' },
      lanes: { type: 'string' },
      'data-dir': { type: 'string' },
    },
  });
  const parsed = argsSchema.safeParse({ ...values, role: positionals[0] });
  if (!parsed.success) throw new UsageError(parsed.error.issues[0]!.message);
  const args = parsed.data;
  const config = loadConfig(
    args['data-dir'] ? { ...process.env, FACTORY_DATA_DIR: args['data-dir'] } : process.env,
  );
  const log = jsonLogger({ role: args.role, instance: args.id });
  const metrics = new Metrics(args.role, args.id);
  const kafka = pipelineKafka(config, args.id, log, args.role);
  const [host, port] = args['metrics-addr'].split(':') as [string, string];

  // The bridge checks every machine against the fleet registry (a line speaks only for its own).
  const nc =
    args.role === 'bridge' ? await connectNats(config, args.id, 'bridge', { reconnect: true }) : undefined;
  const machines = nc ? await FleetView.open(await FleetRegistry.open(nc)) : undefined;
  const process_ =
    args.role === 'bridge'
      ? new Bridge({
          machines,
          id: args.id,
          mqttUrl: `mqtt://${formatAddress(config.mqtt)}`,
          account: config.mqttOverride ?? readCredentials(config).mqttBridge,
          clientIdSuffix: readCredentials(config).mqttClientIdSuffix,
          lanes: args.lanes,
          kafka,
          metrics,
          log,
          lingerMs: 5,
          confirmations: config.pipeline.confirmations,
        })
      : new Writer({
          kafka,
          influx: pipelineInflux(config, 'writer'),
          metrics,
          log,
          chunk: 5_000,
          onFatal: () => process.exit(1),
        });
  const { port: bound } = await serveMetrics(metrics, { host, port: Number(port) }, () => process_.healthy);
  await process_.start();
  log.info('started', { metrics: `http://${host}:${bound}/metrics` });
  const statsTimer = setInterval(() => log.info('counters', metrics.snapshot()), 30_000);
  const code = await onShutdown(log, 20_000, () => process_.stop());
  clearInterval(statsTimer);
  await nc?.close();
  return code;
}

runProcess(
  'pipeline',
  () => main(process.argv.slice(2)),
  (err) => err instanceof ConfigError || err instanceof CredentialsError,
);
