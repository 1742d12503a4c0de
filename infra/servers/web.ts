import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Config, formatAddress, projectRoot } from '../../common/config.js';
import { apiToken } from '../../common/credentials.js';
import { type Component, type ComponentContext, projectProcess, withTimeout } from './component.js';

const WEB = join(projectRoot, 'web');

/** Newest modification time under `dir` (0 when it does not exist). */
function newest(dir: string): number {
  let latest = 0;
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      latest = Math.max(latest, e.isDirectory() ? newest(path) : statSync(path).mtimeMs);
    }
  } catch {
    return 0;
  }
  return latest;
}

/** The page needs building: never built, or a source is newer than the bundle. */
export function webBuildIsStale(): boolean {
  const built = newest(join(WEB, 'dist'));
  return built === 0 || built < Math.max(newest(join(WEB, 'app')), newest(join(WEB, 'api')));
}

/** The live view's address; with `withToken`, the link that hands the page the API token once. */
export const webLink = (config: Config, withToken = false) =>
  `http://${formatAddress(config.http)}/${withToken ? `#token=${apiToken(config)}` : ''}`;

interface WebHealth {
  ok: boolean;
  machines: number;
  lastEventAt: number | null;
  natsConnected: boolean;
  sseClients: number;
}

/**
 * The web view and HTTP API (web/server). Healthy: it follows the fleet, that is state events
 * or worker heartbeats keep arriving from NATS, not merely that the port answers.
 */
export function web(ctx: ComponentContext): Component {
  const { config } = ctx;
  const base = `http://${formatAddress(config.http)}`;
  const read = async (): Promise<WebHealth> => {
    const res = await withTimeout('web', 3_000, fetch(`${base}/api/health`));
    return (await res.json()) as WebHealth;
  };
  return {
    name: 'web',
    address: `${base}/`,
    binds: [{ addr: config.http, variable: 'FACTORY_HTTP_ADDR', authenticated: true }],
    async prepare() {
      if (!webBuildIsStale()) return;
      const { buildWeb } = await import('../../web/build.js');
      await buildWeb();
    },
    spawn: () => projectProcess(config, 'web/server/main.ts', ['--id', 'web']),
    ping: async () => void (await read()),
    async health() {
      const h = await read();
      if (!h.natsConnected) throw new Error('not connected to NATS');
      if (!h.ok)
        throw new Error(
          h.lastEventAt === null
            ? 'no state event or heartbeat seen on NATS yet'
            : `nothing heard on NATS for ${Math.round((Date.now() - h.lastEventAt) / 1000)} s`,
        );
      return { detail: `${h.machines} machines followed`, rate: `${h.sseClients} viewers` };
    },
  };
}
