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

const admin = { username: 'admin', password: 's3cret-pass' };
const tools = { kafkaLib: '/lib', temporal: '', toxiproxy: '' };

describe('kafkaProperties', () => {
  it('has CLIENT and CONTROLLER only without link proxies, both SASL', () => {
    const p = props(kafkaProperties(loadConfig({}), '/data/kafka/data', admin));
    expect(p.listeners).toBe('CLIENT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093');
    expect(p['advertised.listeners']).toBe('CLIENT://127.0.0.1:9092');
    expect(p['listener.security.protocol.map']).toBe('CONTROLLER:SASL_PLAINTEXT,CLIENT:SASL_PLAINTEXT');
    expect(p['inter.broker.listener.name']).toBe('CLIENT');
    expect(p['log.dirs']).toBe('/data/kafka/data');
  });

  it('authorises every request, deny by default, with only the admin as super user', () => {
    const p = props(kafkaProperties(loadConfig({}), '/d', admin));
    expect(p['authorizer.class.name']).toBe('org.apache.kafka.metadata.authorizer.StandardAuthorizer');
    expect(p['allow.everyone.if.no.acl.found']).toBe('false');
    expect(p['super.users']).toBe('User:admin');
    expect(p['sasl.enabled.mechanisms']).toBe('SCRAM-SHA-512,PLAIN');
    expect(p['listener.name.controller.sasl.enabled.mechanisms']).toBe('PLAIN');
    // PLAIN knows only the admin: every role must use SCRAM.
    expect(p['listener.name.client.plain.sasl.jaas.config']).toMatch(/ user_admin="s3cret-pass";$/);
    expect(p['listener.name.client.plain.sasl.jaas.config']?.match(/user_/g)).toHaveLength(1);
  });

  it('refuses an account that JAAS would misread rather than writing a broken file', () => {
    expect(() => kafkaProperties(loadConfig({}), '/d', { username: 'admin', password: 'a"b c;' })).toThrow(
      /JAAS/,
    );
  });

  it('adds a listener per proxied role that advertises its proxy, with link proxies on', () => {
    const config = loadConfig({
      FACTORY_LINK_PROXIES: '1',
      FACTORY_KAFKA_ADDR: '127.0.0.1:39092',
      FACTORY_KAFKA_CONTROLLER_ADDR: '127.0.0.1:39093',
      FACTORY_PROXY_PORT_BASE: '38500',
    });
    const p = props(kafkaProperties(config, '/d', admin));
    expect(p.listeners).toBe(
      'CLIENT://127.0.0.1:39092,CONTROLLER://127.0.0.1:39093,BRIDGE://127.0.0.1:38520,WRITER://127.0.0.1:38524,ANALYTICS://127.0.0.1:38525',
    );
    expect(p['advertised.listeners']).toBe(
      'CLIENT://127.0.0.1:39092,BRIDGE://127.0.0.1:38500,WRITER://127.0.0.1:38504,ANALYTICS://127.0.0.1:38505',
    );
    expect(p['listener.security.protocol.map']).toBe(
      'CONTROLLER:SASL_PLAINTEXT,CLIENT:SASL_PLAINTEXT,BRIDGE:SASL_PLAINTEXT,WRITER:SASL_PLAINTEXT,ANALYTICS:SASL_PLAINTEXT',
    );
    expect(p['inter.broker.listener.name']).toBe('CLIENT');
    expect(p['controller.listener.names']).toBe('CONTROLLER');
    expect(p['listener.name.bridge.scram-sha-512.sasl.jaas.config']).toBeDefined();
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
