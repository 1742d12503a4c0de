/**
 * Properties of the telemetry v1 contract itself (telemetryV1Schema, idSchema): the writer and
 * analytics parse Kafka records with it directly, without the bridge's validateTelemetry (whose
 * properties are in pipeline/validate.property.test.ts). Whatever the value, a typed reading or
 * issues with messages; never a throw, and nothing accepted that a topic or a tag cannot hold.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  anyValue,
  expectParsed,
  expectRoundTrip,
  expectSaneTelemetryNumbers,
  hostileValue,
  PROTO_KEYS,
  RUNS,
  telemetryId,
  telemetryReading,
} from '../test/support/properties.js';
import { idSchema, TELEMETRY_EXAMPLE, type TelemetryV1, telemetryV1Schema } from './telemetry.js';

const reading = telemetryReading();

function expectSane(t: TelemetryV1): void {
  for (const k of ['site', 'line', 'machineId'] as const) expect(t[k]).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
  expectSaneTelemetryNumbers(t);
}

describe('telemetryV1Schema (properties)', () => {
  it('never throws on fc.anything(); what it accepts is a sane reading', () => {
    fc.assert(
      fc.property(anyValue, (x) => expectParsed(telemetryV1Schema.safeParse(x), expectSane)),
      RUNS.parse,
    );
  });

  it('accepts every valid reading, the contract example included, and round-trips it through JSON', () => {
    fc.assert(
      fc.property(fc.oneof(reading, fc.constant(TELEMETRY_EXAMPLE)), (t) =>
        expectRoundTrip(telemetryV1Schema, t),
      ),
      RUNS.parse,
    );
  });

  it('a valid reading with one field made non-finite, negative, huge or of the wrong type is refused or still sane', () => {
    const keys = Object.keys(TELEMETRY_EXAMPLE);
    // Just past 2^53, and a number written as a string.
    const hostile = hostileValue({ via: 'process', longest: 10_000, also: [-0.5, 2 ** 53, '1'] });
    fc.assert(
      fc.property(reading, fc.constantFrom(...keys), hostile, (t, key, value) =>
        expectParsed(telemetryV1Schema.safeParse({ ...t, [key]: value }), expectSane),
      ),
      RUNS.parse,
    );
  });

  it('refuses any key the contract does not name, prototype-ish names included', () => {
    const extra = fc.oneof(
      fc.string().filter((k) => !Object.hasOwn(TELEMETRY_EXAMPLE, k)),
      fc.constantFrom(...PROTO_KEYS),
    );
    fc.assert(
      fc.property(reading, extra, fc.jsonValue(), (t, key, value) => {
        // Through JSON text, so that "__proto__" is an own key as JSON.parse makes it.
        const text = `${JSON.stringify(t).slice(0, -1)},${JSON.stringify(key)}:${JSON.stringify(value)}}`;
        expect(telemetryV1Schema.safeParse(JSON.parse(text)).success).toBe(false);
      }),
      RUNS.parse,
    );
  });
});

describe('idSchema (properties)', () => {
  it('never throws; accepts exactly 1-64 letters, digits, ".", "_" or "-", nothing an MQTT topic treats specially', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), telemetryId, fc.string({ unit: 'binary', maxLength: 80 })), (s) => {
        const ok = idSchema.safeParse(s).success;
        expect(ok).toBe(/^[A-Za-z0-9._-]{1,64}$/.test(s));
        if (ok) expect(s).not.toMatch(/[/+#\s\0]/);
      }),
      RUNS.parse,
    );
  });
});
