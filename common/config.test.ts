import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('uses the contract defaults', () => {
    const c = loadConfig({});
    expect(c.mqtt).toEqual({ host: '127.0.0.1', port: 1883 });
    expect(c.nats.port).toBe(4222);
    expect(c.kafka.port).toBe(9092);
    expect(c.influx.port).toBe(8086);
    expect(c.temporal.port).toBe(7233);
    expect(c.temporalUi.port).toBe(8233);
    expect(c.http.port).toBe(3000);
    expect(c.influxDb).toBe('factory');
    expect(c.partitions).toEqual({ telemetry: 12, commands: 16 });
    expect(c.dataDir).toMatch(/\/\.data$/);
  });

  it('takes every address from the environment', () => {
    const c = loadConfig({ FACTORY_MQTT_ADDR: 'localhost:11883', FACTORY_TELEMETRY_PARTITIONS: '24' });
    expect(c.mqtt).toEqual({ host: 'localhost', port: 11883 });
    expect(c.partitions.telemetry).toBe(24);
  });

  it.each([
    ['FACTORY_KAFKA_ADDR', 'kafka', /expected host:port/],
    ['FACTORY_KAFKA_ADDR', '127.0.0.1:99999', /out of range/],
    ['FACTORY_COMMAND_PARTITIONS', '-3', /FACTORY_COMMAND_PARTITIONS="-3" is invalid/],
  ])('rejects %s=%s with a sentence naming the variable', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it('keeps the link proxies off unless switched on, with their API and port base', () => {
    expect(loadConfig({}).linkProxies).toEqual({
      enabled: false,
      api: { host: '127.0.0.1', port: 8474 },
      portBase: 18500,
    });
    for (const on of ['1', 'true', 'ON', ' yes '])
      expect(loadConfig({ FACTORY_LINK_PROXIES: on }).linkProxies.enabled).toBe(true);
    for (const off of ['0', 'false', 'off', 'No'])
      expect(loadConfig({ FACTORY_LINK_PROXIES: off }).linkProxies.enabled).toBe(false);
    const c = loadConfig({ FACTORY_TOXIPROXY_ADDR: '127.0.0.1:38474', FACTORY_PROXY_PORT_BASE: '38500' });
    expect(c.linkProxies.api.port).toBe(38474);
    expect(c.linkProxies.portBase).toBe(38500);
  });

  it.each([
    ['FACTORY_LINK_PROXIES', 'maybe', /FACTORY_LINK_PROXIES="maybe" is invalid: expected 1 or 0/],
    [
      'FACTORY_TOXIPROXY_ADDR',
      'toxiproxy',
      /FACTORY_TOXIPROXY_ADDR="toxiproxy" is invalid: expected host:port/,
    ],
    ['FACTORY_PROXY_PORT_BASE', '65500', /FACTORY_PROXY_PORT_BASE="65500" is invalid/],
  ])('rejects %s=%s', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it('only overrides the MQTT operator account when both halves are set', () => {
    expect(loadConfig({ FACTORY_MQTT_USERNAME: 'u' }).mqttOverride).toBeUndefined();
    expect(loadConfig({ FACTORY_MQTT_USERNAME: 'u', FACTORY_MQTT_PASSWORD: 'p' }).mqttOverride).toEqual({
      username: 'u',
      password: 'p',
    });
  });
});
