import { describe, expect, it } from 'vitest';
import { NETWORK_LINKS } from '../simulations/scenario.js';
import { loadConfig } from './config.js';
import { kafkaRoleListeners, LINKS, linkProxies, linkProxy, linkProxyName, roleEnv } from './links.js';

const on = loadConfig({ FACTORY_LINK_PROXIES: '1' });
const off = loadConfig({});

describe('links', () => {
  it('are exactly the links a scenario may impair', () => {
    const scenarioLinks = Object.entries(NETWORK_LINKS).flatMap(([from, tos]) =>
      tos.map((to) => `${from}→${to}`),
    );
    expect(LINKS.map((l) => `${l.from}→${l.to}`).sort()).toEqual(scenarioLinks.sort());
  });

  it('gives each proxy a name and a port of its own, from the base in table order', () => {
    const proxies = linkProxies(on);
    expect(proxies.map((p) => p.name)).toEqual([
      'bridge-kafka',
      'bridge-mosquitto',
      'worker-mosquitto',
      'writer-influxdb',
      'writer-kafka',
      'analytics-kafka',
      'workflows-temporal',
    ]);
    expect(proxies.map((p) => p.listen.port)).toEqual([18500, 18501, 18502, 18503, 18504, 18505, 18506]);
    const ports = [...proxies.map((p) => p.listen.port), ...kafkaRoleListeners(on).map((l) => l.bind.port)];
    expect(new Set(ports).size).toBe(ports.length);
    expect(linkProxyName('writer', 'influxdb')).toBe('writer-influxdb');
  });

  it('forwards to the server, and for Kafka to the listener of the role', () => {
    const c = loadConfig({
      FACTORY_LINK_PROXIES: 'on',
      FACTORY_PROXY_PORT_BASE: '38500',
      FACTORY_MQTT_ADDR: '127.0.0.1:31883',
      FACTORY_KAFKA_ADDR: '127.0.0.1:39092',
    });
    expect(linkProxy(c, 'bridge', 'mosquitto')?.upstream).toEqual({ host: '127.0.0.1', port: 31883 });
    expect(linkProxy(c, 'writer', 'influxdb')?.upstream).toEqual(c.influx);
    expect(linkProxy(c, 'workflows', 'temporal')?.upstream).toEqual(c.temporal);
    expect(linkProxy(c, 'bridge', 'kafka')?.upstream).toEqual({ host: '127.0.0.1', port: 38520 });
    expect(linkProxy(c, 'analytics', 'kafka')?.upstream).toEqual({ host: '127.0.0.1', port: 38525 });
    expect(linkProxy(c, 'worker', 'kafka')).toBeUndefined();
  });

  it('opens a Kafka listener per proxied role, advertising its proxy, only when the switch is on', () => {
    expect(kafkaRoleListeners(off)).toEqual([]);
    expect(kafkaRoleListeners(on)).toEqual([
      {
        name: 'BRIDGE',
        bind: { host: '127.0.0.1', port: 18520 },
        advertised: { host: '127.0.0.1', port: 18500 },
      },
      {
        name: 'WRITER',
        bind: { host: '127.0.0.1', port: 18524 },
        advertised: { host: '127.0.0.1', port: 18504 },
      },
      {
        name: 'ANALYTICS',
        bind: { host: '127.0.0.1', port: 18525 },
        advertised: { host: '127.0.0.1', port: 18505 },
      },
    ]);
  });

  it("points a role's server variables at its proxies, and nothing else", () => {
    expect(roleEnv(on, 'bridge')).toEqual({
      FACTORY_KAFKA_ADDR: '127.0.0.1:18500',
      FACTORY_MQTT_ADDR: '127.0.0.1:18501',
    });
    expect(roleEnv(on, 'worker')).toEqual({ FACTORY_MQTT_ADDR: '127.0.0.1:18502' });
    expect(roleEnv(on, 'writer')).toEqual({
      FACTORY_INFLUX_ADDR: '127.0.0.1:18503',
      FACTORY_KAFKA_ADDR: '127.0.0.1:18504',
    });
    expect(roleEnv(on, 'analytics')).toEqual({ FACTORY_KAFKA_ADDR: '127.0.0.1:18505' });
    expect(roleEnv(on, 'workflows')).toEqual({ FACTORY_TEMPORAL_ADDR: '127.0.0.1:18506' });
    for (const role of ['bridge', 'worker', 'writer', 'analytics', 'workflows'] as const)
      expect(roleEnv(off, role)).toEqual({});
  });

  it('gives a process started with its role env the proxy addresses, and the rest unchanged', () => {
    const child = loadConfig({ FACTORY_LINK_PROXIES: '1', ...roleEnv(on, 'writer') });
    expect(child.kafka).toEqual({ host: '127.0.0.1', port: 18504 });
    expect(child.influx).toEqual({ host: '127.0.0.1', port: 18503 });
    expect(child.mqtt).toEqual(on.mqtt);
    expect(child.nats).toEqual(on.nats);
  });
});
