/**
 * A worker (region) process: `node --import tsx workers/main.ts --id worker-1
 * --metrics-addr 127.0.0.1:9441`. Hosts the machines of the shards the worker group gives it.
 */
import { join } from 'node:path';
import { ConfigError, formatAddress } from '../common/config.js';
import { CredentialsError, readCredentials } from '../common/credentials.js';
import { jsonLogger } from '../common/log.js';
import { connectNats } from '../common/nats.js';
import { FleetRegistry } from '../common/registry.js';
import { Metrics, onShutdown, parseProcessArgs, runProcess, serveMetrics } from '../common/runtime.js';
import { pipelineKafka } from '../pipeline/kafka.js';
import { legacySnapshots } from './legacy.js';
import { Region } from './region.js';
import { SnapshotStore } from './snapshot-store.js';
import { TelemetrySink } from './telemetry-sink.js';

async function main(argv: string[]): Promise<number> {
  const { args, config } = parseProcessArgs(argv);
  const log = jsonLogger({ role: 'worker', worker: args.id });
  const metrics = new Metrics('worker', args.id);
  const nc = await connectNats(config, args.id, 'workers', { reconnect: true });
  const registry = await FleetRegistry.open(nc);
  const store = await SnapshotStore.open(nc);
  const credentials = readCredentials(config);
  const { workers } = config;
  const region = new Region({
    workerId: args.id,
    nc,
    kafka: pipelineKafka(config, args.id, log, 'workers'),
    registry,
    store,
    sink: (hostedOn) =>
      new TelemetrySink({
        workerId: args.id,
        mqttUrl: `mqtt://${formatAddress(config.mqtt)}`,
        account: (site, line) => credentials.mqttGateways[`${site}/${line}`],
        clientIdSuffix: credentials.mqttClientIdSuffix,
        stateDir: join(config.dataDir, 'workers', args.id),
        // Kept until a bridge confirms Kafka has it (ADR 0003).
        confirm: config.pipeline.confirmations
          ? { maxUnconfirmed: 50_000, timeoutMs: 15_000, maxTimeoutMs: 300_000 }
          : undefined,
        hostedOn,
        log,
      }),
    shards: config.partitions.commands,
    periodMs: workers.periodMs,
    snapshotEveryMs: workers.snapshotEveryMs,
    block: workers.seqBlock,
    sessionTimeoutMs: workers.sessionTimeoutMs,
    legacy: legacySnapshots(config.dataDir),
    metrics,
    log,
  });
  const [host, port] = args['metrics-addr'].split(':') as [string, string];
  const { port: bound } = await serveMetrics(metrics, { host, port: Number(port) }, () => region.health());
  await region.start();
  log.info('worker started', { metrics: `http://${host}:${bound}/metrics`, periodMs: workers.periodMs });
  const statsTimer = setInterval(
    () =>
      log.info('worker stats', {
        ...region.host.counters,
        ...region.sink.stats,
        shards: region.host.ownedShards,
      }),
    30_000,
  );
  const code = await onShutdown(log, 30_000, async () => {
    clearInterval(statsTimer);
    await region.stop(20_000);
    await nc.drain();
    log.info('worker stopped', { ...region.host.counters });
  });
  return code;
}

runProcess(
  'worker',
  () => main(process.argv.slice(2)),
  (err) => err instanceof ConfigError || err instanceof CredentialsError,
);
