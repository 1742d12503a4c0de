/**
 * A workflow worker process: `node --import tsx workflows/main.ts --id workflows-1
 * --metrics-addr 127.0.0.1:9481`. It runs the Temporal worker (task queue `factory-alarms`), the
 * alarm dispatcher (`alarms` → escalations) and the state watch (machine reports → tickets).
 * Counters at GET /metrics and /healthz on that address.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { AnalyticsStore } from '../analytics/store.js';
import { ConfigError, formatAddress } from '../common/config.js';
import { jsonLogger } from '../common/log.js';
import { connectNats } from '../common/nats.js';
import { retryUntil } from '../common/retry.js';
import { Metrics, onShutdown, parseProcessArgs, runProcess, serveMetrics } from '../common/runtime.js';
import { pipelineInflux } from '../pipeline/influx.js';
import { pipelineKafka, reliableProducer } from '../pipeline/kafka.js';
import { createActivities } from './activities.js';
import { ensureSearchAttributes } from './client.js';
import { EscalationConfigError, loadEscalationConfig } from './config.js';
import { Dispatcher } from './dispatcher.js';
import { StateWatch } from './state-watch.js';
import { createWorker, workflowBundle } from './worker.js';

async function main(argv: string[]): Promise<number> {
  const { args, config } = parseProcessArgs(argv, ['escalation']);
  // The configuration first: a bad ladder stops the process with every file, line and field at fault.
  const escalation = loadEscalationConfig(args.escalation ?? config.escalationFile);
  const log = jsonLogger({ role: 'workflows', instance: args.id });
  const metrics = new Metrics('workflows', args.id);
  Runtime.install({
    logger: {
      log: (level: string, message: string, meta?: Record<string, unknown>) => {
        if (level === 'WARN' || level === 'ERROR') log.warn(`temporal: ${message}`, meta);
      },
      trace: () => {},
      debug: () => {},
      info: () => {},
      warn: (m: string, meta?: Record<string, unknown>) => log.warn(`temporal: ${m}`, meta),
      error: (m: string, meta?: Record<string, unknown>) => log.error(`temporal: ${m}`, meta),
    },
  });

  const address = formatAddress(config.temporal);
  const [nativeConnection, connection] = await retryUntil(
    async () =>
      Promise.all([
        NativeConnection.connect({ address }),
        Connection.connect({ address, connectTimeout: 3_000 }),
      ]),
    {
      keepGoing: () => true,
      onRetry: (err, attempt) =>
        log.warn('Temporal not reachable yet; retrying', { address, attempt, error: err.message }),
    },
  );
  const client = new Client({ connection, namespace: config.temporalNamespace });
  const added = await ensureSearchAttributes(connection, config.temporalNamespace);
  if (added.length > 0) log.info('registered search attributes', { added });
  const nc = await connectNats(config, args.id, 'workflows', { reconnect: true });
  const kafka = pipelineKafka(config, args.id, log, 'workflows');
  const producer = reliableProducer(kafka);
  await producer.connect();
  const activities = createActivities({
    producer,
    nc,
    influx: pipelineInflux(config, 'writer'),
    channels: escalation.channels,
    log: log.child({ part: 'activities' }),
  });
  const bundleStarted = Date.now();
  const bundle = await workflowBundle(`${config.cacheDir}/workflow-bundles`);
  const worker = await createWorker({
    connection: nativeConnection,
    namespace: config.temporalNamespace,
    activities,
    bundle,
    identity: `${args.id}@${process.pid}`,
  });
  const running = worker.run();
  const openView = await AnalyticsStore.open(nc);
  const dispatcher = new Dispatcher({
    kafka,
    client,
    config: escalation,
    isOpen: (alarmId) => openView.isOpen(alarmId),
    metrics,
    log: log.child({ part: 'dispatcher' }),
    onFatal: () => process.exit(1),
  });
  const watch = new StateWatch({ nc, client, metrics, log: log.child({ part: 'state-watch' }) });

  const health = () => {
    const d = dispatcher.healthy;
    const state = worker.getState();
    return {
      ok: d.ok && state === 'RUNNING',
      detail: `worker ${state.toLowerCase()} on factory-alarms; ${d.detail}`,
    };
  };
  const [host, port] = args['metrics-addr'].split(':') as [string, string];
  const { port: bound } = await serveMetrics(metrics, { host, port: Number(port) }, health);
  await dispatcher.start();
  await watch.start();
  log.info('started', {
    metrics: `http://${host}:${bound}/metrics`,
    taskQueue: 'factory-alarms',
    bundleMs: Date.now() - bundleStarted,
  });
  const statsTimer = setInterval(() => log.info('counters', metrics.snapshot()), 30_000);
  const code = await onShutdown(log, 20_000, async () => {
    watch.stop();
    await dispatcher.stop();
    worker.shutdown();
    await running;
  });
  clearInterval(statsTimer);
  await producer.disconnect().catch(() => undefined);
  await nc.close();
  await connection.close();
  await nativeConnection.close();
  return code;
}

runProcess(
  'workflows',
  () => main(process.argv.slice(2)),
  (err) => err instanceof ConfigError || err instanceof EscalationConfigError,
);
