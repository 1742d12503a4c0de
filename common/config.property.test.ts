/**
 * Properties of the environment parser (`loadConfig`): every process and the CLI read the
 * FACTORY_* variables an operator set. Whatever they hold, a Config, or a ConfigError whose
 * sentence names the variable; never another exception.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PROTO_KEYS, RUNS } from '../test/support/properties.js';
import { type Config, ConfigError, loadConfig } from './config.js';

const ADDRESSES = [
  'FACTORY_MQTT_ADDR',
  'FACTORY_NATS_ADDR',
  'FACTORY_KAFKA_ADDR',
  'FACTORY_INFLUX_ADDR',
  'FACTORY_TEMPORAL_ADDR',
  'FACTORY_HTTP_ADDR',
  'FACTORY_TOXIPROXY_ADDR',
] as const;
const COUNTS = [
  'FACTORY_TELEMETRY_PARTITIONS',
  'FACTORY_COMMAND_PARTITIONS',
  'FACTORY_BRIDGES',
  'FACTORY_WRITERS',
  'FACTORY_WORKERS',
  'FACTORY_TELEMETRY_PERIOD_MS',
  'FACTORY_SEQ_BLOCK',
  'FACTORY_WORKFLOW_WORKERS',
] as const;
const OTHERS = [
  'FACTORY_DATA_DIR',
  'FACTORY_INFLUX_DB',
  'FACTORY_KAFKA_HEAP',
  'FACTORY_CONFIRMATIONS',
  'FACTORY_LINK_PROXIES',
  'FACTORY_TEMPORAL_NAMESPACE',
] as const;
const NAMES = [...ADDRESSES, ...COUNTS, ...OTHERS];

const hostileText = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 100 }),
  fc.constantFrom(
    '',
    ' ',
    '0',
    '-1',
    '1.5',
    '1e3',
    '0x10',
    'Infinity',
    'NaN',
    '99999999999999999999',
    'host:',
    ':80',
    'host:0',
    'host:65536',
    'host:99999',
    '[::1]:80',
    'a:b:c',
    'ON',
    ' yes ',
    'maybe',
    '__proto__',
    'constructor',
  ),
  fc.nat({ max: 50_000 }).map((n) => '9'.repeat(n)),
);

function load(env: Record<string, string>): Config | undefined {
  try {
    return loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    // The sentence names one of the variables that were set, and what it held.
    expect(message).toMatch(/^FACTORY_[A-Z_]+=".*" is invalid: .+\.$/s);
    expect(Object.keys(env)).toContain(message.slice(0, message.indexOf('=')));
    return undefined;
  }
}

function expectSaneConfig(c: Config): void {
  for (const a of [c.mqtt, c.nats, c.kafka, c.influx, c.temporal, c.http, c.linkProxies.api]) {
    expect(a.host).toMatch(/^[A-Za-z0-9.-]+$/);
    expect(Number.isInteger(a.port) && a.port >= 1 && a.port <= 65535).toBe(true);
  }
  for (const n of [c.partitions.telemetry, c.partitions.commands, c.pipeline.bridges, c.workers.count])
    expect(Number.isSafeInteger(n) && n >= 1).toBe(true);
  expect(typeof c.linkProxies.enabled).toBe('boolean');
}

describe('loadConfig (properties)', () => {
  it('never throws anything but a ConfigError naming the variable, whatever the variables hold', () => {
    const env = fc.dictionary(fc.constantFrom(...NAMES), hostileText, { maxKeys: 4 });
    fc.assert(
      fc.property(env, (e) => {
        const c = load(e);
        if (c) expectSaneConfig(c);
      }),
      RUNS.small,
    );
  });

  it('ignores variables it does not know, prototype-ish names included', () => {
    const other = fc.dictionary(
      fc.oneof(
        fc.string().filter((k) => !k.startsWith('FACTORY_')),
        fc.constantFrom(...PROTO_KEYS, 'FACTORY_UNKNOWN', 'PATH'),
      ),
      fc.string(),
      { maxKeys: 5 },
    );
    fc.assert(
      fc.property(other, (e) => {
        expect(load(e)).toEqual(loadConfig({}));
      }),
      RUNS.small,
    );
  });

  it('reads every valid host:port and count, surrounded by blanks or not', () => {
    const host = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9.-]{0,30}$/);
    const port = fc.integer({ min: 1, max: 65535 });
    fc.assert(
      fc.property(
        host,
        port,
        fc.constantFrom(...ADDRESSES),
        fc.integer({ min: 1, max: 16 }),
        fc.stringMatching(/^ {0,2}$/),
        (h, p, name, n, blank) => {
          const c = load({ [name]: `${blank}${h}:${p}${blank}`, FACTORY_BRIDGES: `${blank}${n}${blank}` });
          expect(c).toBeDefined();
          if (!c) return;
          const key = {
            FACTORY_MQTT_ADDR: c.mqtt,
            FACTORY_NATS_ADDR: c.nats,
            FACTORY_KAFKA_ADDR: c.kafka,
            FACTORY_INFLUX_ADDR: c.influx,
            FACTORY_TEMPORAL_ADDR: c.temporal,
            FACTORY_HTTP_ADDR: c.http,
            FACTORY_TOXIPROXY_ADDR: c.linkProxies.api,
          }[name];
          expect(key).toEqual({ host: h, port: p });
          expect(c.pipeline.bridges).toBe(n);
        },
      ),
      RUNS.small,
    );
  });

  it('a good variable beside a bad one is untouched: the error names the bad one', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ADDRESSES),
        fc.constantFrom('host', 'host:0', 'host:65536', ':1', 'a b:1'),
        fc.integer({ min: 1, max: 16 }),
        (bad, value, n) => {
          expect(() => loadConfig({ FACTORY_BRIDGES: String(n), [bad]: value })).toThrow(`${bad}=`);
        },
      ),
      RUNS.parse,
    );
  });
});
