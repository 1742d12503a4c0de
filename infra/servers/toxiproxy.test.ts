import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../common/config.js';
import { servers } from '../supervisor/stack.js';
import { analytics } from './analytics.js';
import type { ComponentContext } from './component.js';
import { keeper } from './keeper.js';
import { pipelineProcess } from './pipeline.js';
import { type Proxies, proxiesConfig, proxiesProblem, toxiproxy } from './toxiproxy.js';
import { worker } from './worker.js';
import { workflows } from './workflows.js';

const dataDir = mkdtempSync(join(tmpdir(), 'factory-toxiproxy-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const on = loadConfig({ FACTORY_LINK_PROXIES: '1', FACTORY_DATA_DIR: dataDir });
const off = loadConfig({ FACTORY_DATA_DIR: dataDir });
const ctx = (config = on): ComponentContext => ({
  config,
  tools: { kafkaLib: '/lib', temporal: '/bin/temporal', toxiproxy: '/cache/toxiproxy-v2.12.0/server' },
});

const expected = [
  { name: 'bridge-kafka', listen: '127.0.0.1:18500', upstream: '127.0.0.1:18520', enabled: true },
  { name: 'bridge-mosquitto', listen: '127.0.0.1:18501', upstream: '127.0.0.1:1883', enabled: true },
  { name: 'worker-mosquitto', listen: '127.0.0.1:18502', upstream: '127.0.0.1:1883', enabled: true },
  { name: 'writer-influxdb', listen: '127.0.0.1:18503', upstream: '127.0.0.1:8086', enabled: true },
  { name: 'writer-kafka', listen: '127.0.0.1:18504', upstream: '127.0.0.1:18524', enabled: true },
  { name: 'analytics-kafka', listen: '127.0.0.1:18505', upstream: '127.0.0.1:18525', enabled: true },
  { name: 'workflows-temporal', listen: '127.0.0.1:18506', upstream: '127.0.0.1:7233', enabled: true },
];

describe('the toxiproxy component', () => {
  it('writes every link proxy, enabled, into the config file it starts with', async () => {
    const c = toxiproxy(ctx());
    await c.prepare();
    const file = join(dataDir, 'toxiproxy', 'proxies.json');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(expected);
    expect(proxiesConfig(on)).toEqual(expected);
    expect(c.spawn()).toEqual({
      command: '/cache/toxiproxy-v2.12.0/server',
      args: ['-host', '127.0.0.1', '-port', '8474', '-config', file],
      env: { LOG_LEVEL: 'info' },
      marker: file,
    });
  });

  it('binds its API and every proxy, each named with the variable that moves it', () => {
    const binds = toxiproxy(ctx()).binds;
    expect(binds[0]).toEqual({ addr: { host: '127.0.0.1', port: 8474 }, variable: 'FACTORY_TOXIPROXY_ADDR' });
    expect(binds.slice(1).map((b) => b.addr.port)).toEqual([18500, 18501, 18502, 18503, 18504, 18505, 18506]);
    expect(new Set(binds.slice(1).map((b) => b.variable))).toEqual(new Set(['FACTORY_PROXY_PORT_BASE']));
  });

  it('is healthy only when every link proxy runs as configured', () => {
    const running: Proxies = Object.fromEntries(expected.map((p) => [p.name, { ...p, toxics: [] }]));
    expect(proxiesProblem(on, running)).toBeUndefined();
    const { 'writer-kafka': _, ...missing } = running;
    expect(proxiesProblem(on, missing)).toBe('link proxies: writer-kafka is missing');
    expect(
      proxiesProblem(on, { ...running, 'bridge-kafka': { ...running['bridge-kafka']!, enabled: false } }),
    ).toBe('link proxies: bridge-kafka is disabled');
    expect(
      proxiesProblem(on, {
        ...running,
        'worker-mosquitto': { ...running['worker-mosquitto']!, upstream: '127.0.0.1:9999' },
      }),
    ).toBe('link proxies: worker-mosquitto forwards to 127.0.0.1:9999, not 127.0.0.1:1883');
  });
});

describe('link proxies in the stack', () => {
  it('run Toxiproxy among the servers only when the switch is on', () => {
    expect(servers(on).map((c) => c.name)).toEqual([
      'mosquitto',
      'nats',
      'kafka',
      'influxdb',
      'temporal',
      'toxiproxy',
    ]);
    expect(servers(off).map((c) => c.name)).not.toContain('toxiproxy');
  });

  it("start each role's processes with their server addresses on the proxies", () => {
    expect(pipelineProcess(ctx(), 'bridge', 2).spawn().env).toEqual({
      FACTORY_KAFKA_ADDR: '127.0.0.1:18500',
      FACTORY_MQTT_ADDR: '127.0.0.1:18501',
    });
    expect(pipelineProcess(ctx(), 'writer', 1).spawn().env).toEqual({
      FACTORY_INFLUX_ADDR: '127.0.0.1:18503',
      FACTORY_KAFKA_ADDR: '127.0.0.1:18504',
    });
    expect(worker(ctx(), 3).spawn().env).toEqual({ FACTORY_MQTT_ADDR: '127.0.0.1:18502' });
    expect(analytics(ctx(), 1).spawn().env).toEqual({ FACTORY_KAFKA_ADDR: '127.0.0.1:18505' });
    expect(workflows(ctx(), 1).spawn().env).toEqual({ FACTORY_TEMPORAL_ADDR: '127.0.0.1:18506' });
    // The keeper probes and restarts with the real addresses.
    expect(keeper(ctx()).spawn().env).toBeUndefined();
  });

  it('leave every process on the real addresses when the switch is off', () => {
    for (const c of [
      pipelineProcess(ctx(off), 'bridge', 1),
      pipelineProcess(ctx(off), 'writer', 1),
      worker(ctx(off), 1),
      analytics(ctx(off), 1),
      workflows(ctx(off), 1),
    ])
      expect(c.spawn().env).toEqual({});
  });
});
