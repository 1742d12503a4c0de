import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, projectRoot } from '../../common/config.js';
import { ensureCredentials } from '../../common/credentials.js';
import { grafana, grafanaBinary, provisioningFiles } from './grafana.js';

const scratch = mkdtempSync(join(tmpdir(), 'factory-grafana-'));
const servers: Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
  rmSync(scratch, { recursive: true, force: true });
});

const tools = { kafkaLib: '', temporal: '', toxiproxy: '' };

/** A stand-in for Grafana's HTTP API: health, and a search that lists `uids`. */
async function fakeGrafana(uids: string[]): Promise<number> {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/api/health') res.end(JSON.stringify({ database: 'ok', version: '11.6.0' }));
    else if (req.url?.startsWith('/api/search'))
      res.end(JSON.stringify(uids.map((uid) => ({ uid, type: 'dash-db', title: uid }))));
    else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('grafana', () => {
  it('runs the named binary, else a grafana on PATH, else none', () => {
    expect(grafanaBinary(loadConfig({ FACTORY_GRAFANA_BIN: '/opt/grafana/bin/grafana' }), '')).toBe(
      '/opt/grafana/bin/grafana',
    );
    const bin = join(scratch, 'grafana');
    writeFileSync(bin, '#!/bin/sh\n');
    chmodSync(bin, 0o755);
    expect(grafanaBinary(loadConfig({}), `/nowhere:${scratch}`)).toBe(bin);
    expect(grafanaBinary(loadConfig({}), '/nowhere')).toBeUndefined();
  });

  it('provisions the datasource at the configured InfluxDB and the dashboards by absolute path', () => {
    const f = provisioningFiles(
      loadConfig({ FACTORY_INFLUX_ADDR: '127.0.0.1:28086', FACTORY_INFLUX_DB: 'plant7' }),
    );
    expect(f.datasource).toContain('url: http://127.0.0.1:28086');
    expect(f.datasource).toContain('dbName: plant7');
    expect(f.datasource).toContain('uid: factory-influxdb');
    expect(f.dashboards).toContain(`path: ${join(projectRoot, 'infra', 'grafana', 'dashboards')}`);
    expect(f.dashboards).not.toContain('path: __DASHBOARDS_DIR__');
  });

  it('writes its files into the data directory and starts with them, an admin password of its own', async () => {
    const config = loadConfig({
      FACTORY_DATA_DIR: join(scratch, 'data'),
      FACTORY_GRAFANA_ADDR: '127.0.0.1:23001',
    });
    const { credentials } = ensureCredentials(config, []);
    const c = grafana({ config, tools }, '/opt/grafana/bin/grafana');
    await c.prepare();
    const dir = join(scratch, 'data', 'grafana');
    const datasource = readFileSync(join(dir, 'provisioning', 'datasources', 'factory.yaml'), 'utf8');
    expect(datasource).toContain('uid: factory-influxdb');
    // Grafana reads with InfluxDB's read-only account, never the writer's or the admin's.
    expect(datasource).toContain(`user: ${credentials.influx!.reader.username}`);
    expect(datasource).toContain(JSON.stringify(credentials.influx!.reader.password));
    expect(datasource).not.toContain(credentials.influx!.writer.password);
    expect(statSync(join(dir, 'admin-password')).mode & 0o777).toBe(0o600);
    const spec = c.spawn();
    expect(spec.command).toBe('/opt/grafana/bin/grafana');
    expect(spec.args.slice(0, 3)).toEqual(['server', '--homepath', '/opt/grafana']);
    expect(spec.env).toMatchObject({
      GF_PATHS_PROVISIONING: join(dir, 'provisioning'),
      GF_SERVER_HTTP_PORT: '23001',
      GF_AUTH_ANONYMOUS_ORG_ROLE: 'Viewer',
    });
    expect(spec.env?.GF_SECURITY_ADMIN_PASSWORD).toBe(
      readFileSync(join(dir, 'admin-password'), 'utf8').trim(),
    );
    expect(spec.args.join(' ')).toContain(spec.marker);
  });

  it('is healthy only with every dashboard provisioned, and says which are missing', async () => {
    const all = ['factory-plant', 'factory-machine', 'factory-alarms', 'factory-pipeline'];
    const good = await fakeGrafana(all);
    const healthy = grafana(
      { config: loadConfig({ FACTORY_GRAFANA_ADDR: `127.0.0.1:${good}` }), tools },
      'grafana',
    );
    expect(await healthy.health()).toMatch(/^4 dashboards provisioned/);
    const partial = await fakeGrafana(all.slice(0, 2));
    const missing = grafana(
      { config: loadConfig({ FACTORY_GRAFANA_ADDR: `127.0.0.1:${partial}` }), tools },
      'grafana',
    );
    await expect(missing.health()).rejects.toThrow(
      'dashboards not provisioned: factory-alarms, factory-pipeline',
    );
  });
});
