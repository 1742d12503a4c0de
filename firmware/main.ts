/**
 * The line gateway process: `node --import tsx firmware/main.ts --line plant-1/line-1`.
 * Hosts the line's machines from the fleet file and publishes their telemetry over MQTT.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEFAULT_FLEET_FILE, deriveFleet, loadFleet } from '../actors/index.js';
import { ConfigError, formatAddress, loadConfig } from '../common/config.js';
import { CredentialsError, readCredentials } from '../common/credentials.js';
import { jsonLogger } from '../common/log.js';
import { onShutdown, runProcess, UsageError } from '../common/runtime.js';
import { Gateway } from './gateway.js';

const argsSchema = z.object({
  line: z
    .string({ error: '--line is required, as site/line (for example plant-1/line-1)' })
    .regex(/^[\w.-]+\/[\w.-]+$/, '--line must be site/line, for example plant-1/line-1'),
  'gateway-id': z
    .string()
    .regex(/^[\w.-]{1,64}$/, '--gateway-id may use letters, digits, dot, dash and underscore')
    .optional(),
  fleet: z.string().default(DEFAULT_FLEET_FILE),
  machines: z.coerce.number().int('--machines must be a whole number').positive().optional(),
  'tick-ms': z.coerce.number().int().min(10, '--tick-ms must be at least 10').default(1_000),
  'data-dir': z.string().optional(),
});

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      line: { type: 'string' },
      'gateway-id': { type: 'string' },
      fleet: { type: 'string' },
      machines: { type: 'string' },
      'tick-ms': { type: 'string' },
      'data-dir': { type: 'string' },
    },
    strict: true,
  });
  const parsed = argsSchema.safeParse(values);
  if (!parsed.success) throw new UsageError(parsed.error.issues[0]!.message);
  const args = parsed.data;
  const [site, line] = args.line.split('/') as [string, string];
  const gatewayId = args['gateway-id'] ?? `gw-${site}-${line}`;
  const config = loadConfig(
    args['data-dir'] ? { ...process.env, FACTORY_DATA_DIR: args['data-dir'] } : process.env,
  );

  const fleet = loadFleet(args.fleet);
  if (!fleet.ok) throw new UsageError(`fleet ${args.fleet}: ${fleet.reason}`);
  const machines = deriveFleet(fleet.fleet, { machines: args.machines }).machines.filter(
    (m) => m.site === site && m.line === line,
  );
  if (machines.length === 0) throw new UsageError(`the fleet ${args.fleet} has no machines on ${args.line}`);
  const account = readCredentials(config).mqttGateways[args.line];
  if (!account) {
    throw new UsageError(
      `no MQTT account for ${args.line} in credentials.json: run "factory up" with this fleet first`,
    );
  }

  const log = jsonLogger({ gateway: gatewayId, site, line });
  const state = join(config.dataDir, 'gateways', gatewayId);
  const gateway = new Gateway({
    gatewayId,
    site,
    line,
    machines,
    tickMs: args['tick-ms'],
    snapshotFile: join(state, 'snapshots.json'),
    peerSnapshotFiles: () => {
      const root = join(config.dataDir, 'gateways');
      return existsSync(root) ? readdirSync(root).map((g) => join(root, g, 'snapshots.json')) : [];
    },
    snapshotEveryMs: 5_000,
    log,
    publisher: {
      url: `mqtt://${formatAddress(config.mqtt)}`,
      ...account,
      spool: { dir: join(state, 'spool'), maxBytes: 256 * 1024 * 1024, segmentBytes: 1024 * 1024 },
      maxInflight: 100,
      maxMemory: 5_000,
      backoffMinMs: 250,
      backoffMaxMs: 10_000,
      // Kept until a bridge confirms Kafka has it (ADR 0003): at most 50,000 unconfirmed,
      // published again after 15 s without confirmation (backing off to 5 min).
      confirm: config.pipeline.confirmations
        ? { maxUnconfirmed: 50_000, timeoutMs: 15_000, maxTimeoutMs: 300_000 }
        : undefined,
    },
  });
  gateway.start();
  log.info('gateway started', { machines: machines.length, tickMs: args['tick-ms'] });
  const statsTimer = setInterval(() => log.info('gateway stats', { ...gateway.publisher.stats }), 30_000);

  const code = await onShutdown(log, 15_000, async () => {
    clearInterval(statsTimer);
    await gateway.stop(10_000);
    log.info('gateway stopped', { ...gateway.publisher.stats });
  });
  return code;
}

runProcess(
  'gateway',
  () => main(process.argv.slice(2)),
  (err) => err instanceof ConfigError || err instanceof CredentialsError,
);
