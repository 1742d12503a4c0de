import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { paths, projectRoot } from '../../common/config.js';
import { readPidFile, waitFor } from '../../infra/supervisor/process.js';
import type { ComponentStatus } from '../../infra/supervisor/stack.js';
import { factory, testConfig } from './stack-env.js';

/**
 * `factory up` with FACTORY_GRAFANA_BIN: no Grafana can be installed on this machine, so a
 * stand-in (fixtures/fake-grafana.mjs) takes the binary's place. It is started with the
 * stack's own provisioning, reads the dashboards from the path that provisioning names, and
 * `factory status` calls it healthy only when all four dashboards are there.
 */
const config = testConfig();
const withGrafana = {
  FACTORY_GRAFANA_BIN: join(projectRoot, 'test', 'integration', 'fixtures', 'fake-grafana.mjs'),
};

afterAll(async () => {
  // The other files run without it: stop the stand-in (the keeper, started without it, ignores it).
  const pid = readPidFile(paths(config).pid('grafana'))?.pid;
  if (pid) process.kill(pid, 'SIGTERM');
});

describe('Grafana from factory up', () => {
  it('starts the named binary with the stack provisioning, and status shows the dashboards there', async () => {
    const up = await factory(['up'], withGrafana);
    expect(up.code, `${up.stdout}\n${up.stderr}`).toBe(0);
    expect(up.stdout).toContain('http://127.0.0.1:23001/d/factory-plant');
    const datasource = readFileSync(
      join(paths(config).server('grafana'), 'provisioning', 'datasources', 'factory.yaml'),
      'utf8',
    );
    expect(datasource).toContain(`url: http://127.0.0.1:28086`);
    let row: ComponentStatus | undefined;
    expect(
      await waitFor(
        async () => {
          const r = await factory(['status', '--json'], withGrafana);
          row = (JSON.parse(r.stdout) as ComponentStatus[]).find((c) => c.name === 'grafana');
          return row?.healthy === true;
        },
        30_000,
        1_000,
      ),
    ).toBe(true);
    expect(row!.detail).toBe('4 dashboards provisioned; datasource factory-influxdb → 127.0.0.1:28086');
  });
});
