/**
 * An analytics process: `node --import tsx analytics/main.ts --id analytics-1
 * --metrics-addr 127.0.0.1:9461`. Counters at GET /metrics and /healthz on that address.
 */
import { ConfigError } from '../common/config.js';
import { jsonLogger } from '../common/log.js';
import { connectNats } from '../common/nats.js';
import { FleetRegistry } from '../common/registry.js';
import { Metrics, onShutdown, parseProcessArgs, runProcess, serveMetrics } from '../common/runtime.js';
import { pipelineInflux } from '../pipeline/influx.js';
import { pipelineKafka } from '../pipeline/kafka.js';
import { SnapshotStore } from '../workers/snapshot-store.js';
import { Processor } from './processor.js';
import { loadRuleBook, RulesError } from './rules.js';
import { AnalyticsStore } from './store.js';

async function main(argv: string[]): Promise<number> {
  const { args, config } = parseProcessArgs(argv, ['rules']);
  // Rules first: a bad rule file stops the process with every file, line and field at fault.
  const rules = loadRuleBook(args.rules);
  const log = jsonLogger({ role: 'analytics', instance: args.id });
  const metrics = new Metrics('analytics', args.id);
  const nc = await connectNats(config, args.id, 'analytics', { reconnect: true });
  const snapshots = await SnapshotStore.open(nc);
  const processor = new Processor({
    id: args.id,
    kafka: pipelineKafka(config, args.id, log, 'analytics'),
    nc,
    store: await AnalyticsStore.open(nc),
    registry: await FleetRegistry.open(nc),
    influx: pipelineInflux(config, 'writer'),
    rules,
    metrics,
    log,
    telemetryPartitions: config.partitions.telemetry,
    periodMs: config.workers.periodMs,
    onFatal: () => process.exit(1),
    recordedGap: async (machineId, from, to, epoch) => {
      const entry = await snapshots.read(machineId);
      return entry?.value.gaps.some(([f, t, e]) => f === from && t === to && e === epoch) ?? false;
    },
  });
  const [host, port] = args['metrics-addr'].split(':') as [string, string];
  const { port: bound } = await serveMetrics(metrics, { host, port: Number(port) }, () => processor.healthy);
  await processor.start();
  log.info('started', { metrics: `http://${host}:${bound}/metrics`, ruleTypes: rules.types });
  const statsTimer = setInterval(() => log.info('counters', metrics.snapshot()), 30_000);
  const code = await onShutdown(log, 20_000, () => processor.stop());
  clearInterval(statsTimer);
  await nc.close();
  return code;
}

runProcess(
  'analytics',
  () => main(process.argv.slice(2)),
  (err) => err instanceof ConfigError || err instanceof RulesError,
);
