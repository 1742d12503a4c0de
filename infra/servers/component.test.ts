import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../common/config.js';
import { type Component, exposedBinds, isLoopback } from './component.js';
import { kafka } from './kafka.js';
import { mosquitto } from './mosquitto.js';
import { nats } from './nats.js';
import { web } from './web.js';

const ctx = (env: Record<string, string>) => ({
  config: loadConfig({ FACTORY_DATA_DIR: '/tmp/factory-component-test', ...env }),
  tools: { kafkaLib: '', temporal: '', toxiproxy: '' },
});

describe('servers without authentication stay on loopback', () => {
  it('knows loopback when it sees it', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'])
      expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '10.0.0.5', '192.168.1.2', 'plant.example', '::'])
      expect(isLoopback(h), h).toBe(false);
  });

  it('refuses Kafka or NATS on a reachable address with one sentence each, and lets MQTT and the web server (which authenticate) go there', () => {
    const c = ctx({
      FACTORY_KAFKA_ADDR: '0.0.0.0:9092',
      FACTORY_NATS_ADDR: '10.0.0.5:4222',
      FACTORY_MQTT_ADDR: '0.0.0.0:1883',
      FACTORY_HTTP_ADDR: '0.0.0.0:3000',
    });
    const components: Component[] = [kafka(c), nats(c), mosquitto(c), web(c)];
    const refusals = exposedBinds(components);
    expect(refusals).toHaveLength(2);
    expect(refusals[0]).toMatch(
      /^kafka would listen on 0\.0\.0\.0:9092, reachable from other machines without authentication or TLS: keep FACTORY_KAFKA_ADDR on 127\.0\.0\.1/,
    );
    expect(refusals[1]).toMatch(/^nats would listen on 10\.0\.0\.5:4222/);
    expect(exposedBinds([kafka(ctx({})), nats(ctx({}))])).toEqual([]);
  });
});
