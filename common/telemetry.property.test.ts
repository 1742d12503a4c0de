/**
 * Properties of the telemetry v1 contract itself (telemetryV1Schema, idSchema): the writer and
 * analytics parse Kafka records with it directly, without the bridge's validateTelemetry (whose
 * properties are in pipeline/validate.property.test.ts). Whatever the value, a typed reading or
 * issues with messages; never a throw, and nothing accepted that a topic or a tag cannot hold.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { idSchema, TELEMETRY_EXAMPLE, type TelemetryV1, telemetryV1Schema } from './telemetry.js';

const RUNS = { numRuns: 200 };

const id = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/).filter((s) => s !== '__proto__');
const real = (min: number, max: number) =>
  fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).map((x) => x + 0);
const reading: fc.Arbitrary<TelemetryV1> = fc
  .record({
    site: id,
    line: id,
    machineId: id,
    ts: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    state: fc.constantFrom('RUNNING', 'IDLE', 'MAINTENANCE', 'FAULT') as fc.Arbitrary<TelemetryV1['state']>,
    temperatureC: real(-60, 600),
    speedRpm: real(0, 100_000),
    vibrationMmS: real(0, 1_000),
    powerKw: real(0, 100_000),
    counts: fc.tuple(fc.maxSafeNat(), fc.maxSafeNat()),
    oee: real(0, 1),
  })
  .map(({ counts: [a, b], ...r }) => ({
    v: 1 as const,
    ...r,
    productionCount: Math.max(a, b),
    goodCount: Math.min(a, b),
  }));

type Safe = { success: true; data: unknown } | { success: false; error: { issues: { message: string }[] } };
function expectParsed(r: Safe): void {
  if (r.success) return;
  expect(r.error.issues.length).toBeGreaterThan(0);
  for (const i of r.error.issues) expect(i.message.trim()).not.toBe('');
}

function expectSane(t: TelemetryV1): void {
  for (const k of ['site', 'line', 'machineId'] as const) expect(t[k]).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
  for (const k of ['temperatureC', 'speedRpm', 'vibrationMmS', 'powerKw', 'oee'] as const)
    expect(Number.isFinite(t[k])).toBe(true);
  for (const k of ['ts', 'seq', 'productionCount', 'goodCount'] as const)
    expect(Number.isSafeInteger(t[k])).toBe(true);
  expect(t.goodCount).toBeLessThanOrEqual(t.productionCount);
}

describe('telemetryV1Schema (properties)', () => {
  it('never throws on fc.anything(); what it accepts is a sane reading', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withBoxedValues: true, withMap: true }), (x) => {
        const r = telemetryV1Schema.safeParse(x);
        expectParsed(r);
        if (r.success) expectSane(r.data);
      }),
      RUNS,
    );
  });

  it('accepts every valid reading, the contract example included, and round-trips it through JSON', () => {
    fc.assert(
      fc.property(fc.oneof(reading, fc.constant(TELEMETRY_EXAMPLE)), (t) => {
        expect(telemetryV1Schema.safeParse(JSON.parse(JSON.stringify(t)))).toEqual({
          success: true,
          data: t,
        });
      }),
      RUNS,
    );
  });

  it('a valid reading with one field made non-finite, negative, huge or of the wrong type is refused or still sane', () => {
    const keys = Object.keys(TELEMETRY_EXAMPLE);
    const hostile = fc.oneof(
      fc.constantFrom(
        Number.NaN,
        Number.POSITIVE_INFINITY,
        Number.NEGATIVE_INFINITY,
        -1,
        -0.5,
        2 ** 53,
        1e308,
        null,
        '',
        '1',
        [],
        {},
      ),
      fc.nat({ max: 10_000 }).map((n) => 'x'.repeat(n)),
      fc.anything(),
    );
    fc.assert(
      fc.property(reading, fc.constantFrom(...keys), hostile, (t, key, value) => {
        const r = telemetryV1Schema.safeParse({ ...t, [key]: value });
        expectParsed(r);
        if (r.success) expectSane(r.data);
      }),
      RUNS,
    );
  });

  it('refuses any key the contract does not name, prototype-ish names included', () => {
    const extra = fc.oneof(
      fc.string().filter((k) => !Object.hasOwn(TELEMETRY_EXAMPLE, k)),
      fc.constantFrom('__proto__', 'constructor', 'toString', 'valueOf'),
    );
    fc.assert(
      fc.property(reading, extra, fc.jsonValue(), (t, key, value) => {
        // Through JSON text, so that "__proto__" is an own key as JSON.parse makes it.
        const text = `${JSON.stringify(t).slice(0, -1)},${JSON.stringify(key)}:${JSON.stringify(value)}}`;
        expect(telemetryV1Schema.safeParse(JSON.parse(text)).success).toBe(false);
      }),
      RUNS,
    );
  });
});

describe('idSchema (properties)', () => {
  it('never throws; accepts exactly 1-64 letters, digits, ".", "_" or "-", nothing an MQTT topic treats specially', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), id, fc.string({ unit: 'binary', maxLength: 80 })), (s) => {
        const ok = idSchema.safeParse(s).success;
        expect(ok).toBe(/^[A-Za-z0-9._-]{1,64}$/.test(s));
        if (ok) expect(s).not.toMatch(/[/+#\s\0]/);
      }),
      RUNS,
    );
  });
});
