import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../common/config.js';
import { kafka, kafkaProperties } from './kafka.js';

const props = (text: string) =>
  Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

const tools = { kafkaLib: '/lib', temporal: '', toxiproxy: '' };

describe('kafkaProperties', () => {
  it('has PLAINTEXT and CONTROLLER only without link proxies', () => {
    const p = props(kafkaProperties(loadConfig({}), '/data/kafka/data'));
    expect(p.listeners).toBe('PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093');
    expect(p['advertised.listeners']).toBe('PLAINTEXT://127.0.0.1:9092');
    expect(p['listener.security.protocol.map']).toBe('CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT');
    expect(p['inter.broker.listener.name']).toBe('PLAINTEXT');
    expect(p['log.dirs']).toBe('/data/kafka/data');
  });

  it('adds a listener per proxied role that advertises its proxy, with link proxies on', () => {
    const config = loadConfig({
      FACTORY_LINK_PROXIES: '1',
      FACTORY_KAFKA_ADDR: '127.0.0.1:39092',
      FACTORY_KAFKA_CONTROLLER_ADDR: '127.0.0.1:39093',
      FACTORY_PROXY_PORT_BASE: '38500',
    });
    const p = props(kafkaProperties(config, '/d'));
    expect(p.listeners).toBe(
      'PLAINTEXT://127.0.0.1:39092,CONTROLLER://127.0.0.1:39093,BRIDGE://127.0.0.1:38520,WRITER://127.0.0.1:38524,ANALYTICS://127.0.0.1:38525',
    );
    expect(p['advertised.listeners']).toBe(
      'PLAINTEXT://127.0.0.1:39092,BRIDGE://127.0.0.1:38500,WRITER://127.0.0.1:38504,ANALYTICS://127.0.0.1:38505',
    );
    expect(p['listener.security.protocol.map']).toBe(
      'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,BRIDGE:PLAINTEXT,WRITER:PLAINTEXT,ANALYTICS:PLAINTEXT',
    );
    expect(p['inter.broker.listener.name']).toBe('PLAINTEXT');
    expect(p['controller.listener.names']).toBe('CONTROLLER');
  });

  it('binds the role listeners too, so the port check covers them', () => {
    const binds = kafka({ config: loadConfig({ FACTORY_LINK_PROXIES: '1' }), tools }).binds;
    expect(binds.map((b) => `${b.addr.port} ${b.variable}`)).toEqual([
      '9092 FACTORY_KAFKA_ADDR',
      '9093 FACTORY_KAFKA_CONTROLLER_ADDR',
      '18520 FACTORY_PROXY_PORT_BASE',
      '18524 FACTORY_PROXY_PORT_BASE',
      '18525 FACTORY_PROXY_PORT_BASE',
    ]);
    expect(kafka({ config: loadConfig({}), tools }).binds).toHaveLength(2);
  });
});
