/**
 * Grafana, started by `factory up` only when the operator names a Grafana 10+ binary
 * (FACTORY_GRAFANA_BIN, or a `grafana` on PATH): no Grafana reaches this machine's registries,
 * so the platform installs none. It runs on a data directory of its own with the repository's
 * provisioning, rewritten for this stack (the configured InfluxDB address, the absolute path of
 * the generated dashboards), and anonymous viewers so that a link from the web view opens.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { z } from 'zod';
import { addressVariable, type Config, formatAddress, paths, projectRoot } from '../../common/config.js';
import { readCredentials } from '../../common/credentials.js';
import { DASHBOARD_UIDS } from '../grafana/dashboards.js';
import { type Component, type ComponentContext, withTimeout } from './component.js';

const PROVISIONING = join(projectRoot, 'infra', 'grafana', 'provisioning');
const DASHBOARDS = join(projectRoot, 'infra', 'grafana', 'dashboards');
/** The address the repository's datasource file names: the embedded stack's default. */
const DEFAULT_INFLUX_URL = 'http://127.0.0.1:8086';

/** The Grafana binary to run: FACTORY_GRAFANA_BIN, else `grafana` on PATH, else none. */
export function grafanaBinary(config: Config, path = process.env.PATH ?? ''): string | undefined {
  if (config.grafana.bin) return config.grafana.bin;
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, 'grafana');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The repository's two provisioning files, rewritten for this stack. */
export function provisioningFiles(config: Config): { datasource: string; dashboards: string } {
  const influxUrl = `http://${formatAddress(config.influx)}`;
  const datasource = readFileSync(join(PROVISIONING, 'datasources', 'factory.yaml'), 'utf8')
    .replace(DEFAULT_INFLUX_URL, influxUrl)
    .replace('dbName: factory', `dbName: ${config.influxDb}`)
    // Grafana reads with the read-only account (credentials.json influx.reader).
    .replace(
      / {4}# With authentication on, add[^\n]*\n {4}# user: grafana\n {4}# secureJsonData:\n {4}# {3}password: <password>\n?/,
      () => {
        let reader: { username: string; password: string } | undefined;
        try {
          reader = readCredentials(config).influx?.reader;
        } catch {
          reader = undefined; // no stack yet: the file keeps its comment
        }
        return reader
          ? `    user: ${reader.username}\n    secureJsonData:\n      password: ${JSON.stringify(reader.password)}\n`
          : '';
      },
    );
  const dashboards = readFileSync(join(PROVISIONING, 'dashboards', 'factory.yaml'), 'utf8').replace(
    'path: __DASHBOARDS_DIR__',
    `path: ${DASHBOARDS}`,
  );
  return { datasource, dashboards };
}

const searchSchema = z.array(z.object({ uid: z.string(), type: z.string() }));

export function grafana(ctx: ComponentContext, bin: string): Component {
  const { config } = ctx;
  const dir = paths(config).server('grafana');
  const provisioning = join(dir, 'provisioning');
  const addr = config.grafana.addr;
  const url = `http://${formatAddress(addr)}`;
  const home = config.grafana.home ?? dirname(dirname(bin));
  const passwordFile = join(dir, 'admin-password');

  const get = async (path: string): Promise<unknown> => {
    const res = await withTimeout('grafana', 5_000, fetch(`${url}${path}`));
    if (!res.ok) throw new Error(`grafana answered GET ${path} with HTTP ${res.status}`);
    return res.json();
  };

  return {
    name: 'grafana',
    address: `${url}/d/${DASHBOARD_UIDS.plant}`,
    binds: [{ addr, variable: addressVariable.grafana }],
    async prepare() {
      const files = provisioningFiles(config);
      for (const sub of ['datasources', 'dashboards', 'plugins', 'alerting'])
        mkdirSync(join(provisioning, sub), { recursive: true });
      writeFileSync(join(provisioning, 'datasources', 'factory.yaml'), files.datasource);
      writeFileSync(join(provisioning, 'dashboards', 'factory.yaml'), files.dashboards);
      // An admin password of its own, not Grafana's well-known default.
      if (!existsSync(passwordFile))
        writeFileSync(passwordFile, `${randomBytes(18).toString('base64url')}\n`, { mode: 0o600 });
    },
    spawn: () => ({
      command: bin,
      // `cfg:` overrides on the command line also mark the process as this stack's.
      args: ['server', '--homepath', home, `cfg:default.paths.data=${join(dir, 'data')}`],
      env: {
        GF_PATHS_LOGS: join(dir, 'logs'),
        GF_PATHS_PLUGINS: join(dir, 'plugins'),
        GF_PATHS_PROVISIONING: provisioning,
        GF_SERVER_HTTP_ADDR: addr.host,
        GF_SERVER_HTTP_PORT: String(addr.port),
        GF_SECURITY_ADMIN_PASSWORD: readFileSync(passwordFile, 'utf8').trim(),
        // Anyone who reaches the (loopback) address may look, nobody may edit.
        GF_AUTH_ANONYMOUS_ENABLED: 'true',
        GF_AUTH_ANONYMOUS_ORG_ROLE: 'Viewer',
        GF_ANALYTICS_REPORTING_ENABLED: 'false',
        GF_ANALYTICS_CHECK_FOR_UPDATES: 'false',
      },
      marker: join(dir, 'data'),
    }),
    ping: async () => void (await get('/api/health')),
    async health() {
      const h = z.object({ database: z.string() }).parse(await get('/api/health'));
      if (h.database !== 'ok') throw new Error(`grafana's database is ${h.database}`);
      // Provisioned means every dashboard of the repository is there for a viewer.
      const found = new Set(searchSchema.parse(await get('/api/search?type=dash-db')).map((d) => d.uid));
      const missing = Object.values(DASHBOARD_UIDS).filter((uid) => !found.has(uid));
      if (missing.length) throw new Error(`dashboards not provisioned: ${missing.join(', ')}`);
      return `${found.size} dashboards provisioned; datasource factory-influxdb → ${formatAddress(config.influx)}`;
    },
  };
}
