/**
 * The web view and HTTP API process: `node --import tsx web/server/main.ts --id web`. Serves
 * at FACTORY_HTTP_ADDR (127.0.0.1:3000).
 */
import { loadRuleBook, RulesError } from '../../analytics/rules.js';
import { ConfigError, formatAddress } from '../../common/config.js';
import { apiToken, CredentialsError } from '../../common/credentials.js';
import { jsonLogger } from '../../common/log.js';
import { connectNats } from '../../common/nats.js';
import { FleetRegistry } from '../../common/registry.js';
import { onShutdown, parseProcessArgs, runProcess } from '../../common/runtime.js';
import { workflowLink } from '../../infra/cli/ticket.js';
import { pipelineInflux } from '../../pipeline/influx.js';
import { apiRoutes, PUBLIC_ROUTES } from './api.js';
import { LiveFleet } from './live.js';
import { openApiDocument } from './openapi.js';
import { PipelineCounters } from './pipeline.js';
import { startWebServer } from './server.js';

const PIPELINE_EVERY_MS = 5_000;

async function main(argv: string[]): Promise<number> {
  const { args, config } = parseProcessArgs(argv);
  const log = jsonLogger({ role: 'web', instance: args.id });
  const rules = loadRuleBook();
  // Read once now, so a missing credentials file stops the process with its reason.
  apiToken(config);
  const nc = await connectNats(config, args.id, 'operator', { reconnect: true });
  const live = new LiveFleet({
    nc,
    registry: await FleetRegistry.open(nc),
    log,
    shards: config.partitions.commands,
    workflowUrl: (id) => workflowLink(config, id),
  });
  await live.start();
  const pipeline = new PipelineCounters(config);
  let openapi: unknown;
  const routes = apiRoutes({
    config,
    live,
    nc,
    influx: pipelineInflux(config, 'reader'),
    rules,
    pipeline,
    openapi: () => openapi,
  });
  openapi = openApiDocument(routes, '1', PUBLIC_ROUTES);
  const server = await startWebServer({
    addr: config.http,
    routes,
    publicRoutes: PUBLIC_ROUTES,
    allowedHosts: config.httpAllowedHosts,
    token: () => apiToken(config),
    log,
  });
  const timer = setInterval(() => {
    if (live.followers > 0) void pipeline.read().then((p) => live.broadcast('pipeline', p));
  }, PIPELINE_EVERY_MS);
  log.info('started', { url: `http://${formatAddress(config.http)}/`, machines: live.size });
  const code = await onShutdown(log, 5_000, async () => {
    clearInterval(timer);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await live.stop();
  });
  await nc.close();
  return code;
}

runProcess(
  'web',
  () => main(process.argv.slice(2)),
  (err) => err instanceof ConfigError || err instanceof RulesError || err instanceof CredentialsError,
);
