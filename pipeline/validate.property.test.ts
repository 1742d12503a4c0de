/**
 * Properties of the bridge's edge: `validateTelemetry` and `validateEvent` take whatever a
 * gateway (or anyone with broker credentials) publishes. Whatever the bytes, they answer ok with
 * a typed value or a rejection with a reason and a key; they never throw.
 *
 * The bounds (timestamp window, number ranges) are tightened from time to time: the valid records
 * below stay well inside any sane window (readings of the last hour, small skips), and the
 * rejections asserted are far outside it (a month old, a day ahead), so these keep holding.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TelemetryV1 } from '../common/telemetry.js';
import {
  anyValue,
  expectRoundTrip,
  expectSaneTelemetryNumbers,
  expectSentence,
  hostileValue,
  PROTO_KEYS,
  RUNS,
  recordBytes,
  TELEMETRY_FIELDS,
  telemetryId,
  telemetryReading,
  viaJson,
  withOwn,
} from '../test/support/properties.js';
import {
  MAX_PAYLOAD_BYTES,
  machineEventSchema,
  type Verdict,
  validateEvent,
  validateTelemetry,
} from './validate.js';

const now = 1_800_000_000_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** A reading of the last hour, unless `at` says when. */
const reading = (at: fc.Arbitrary<number> = fc.integer({ min: now - HOUR, max: now })) =>
  telemetryReading(at);

const telemetryTopic = (t: { site: string; line: string; machineId: string }) =>
  `factory/${t.site}/${t.line}/${t.machineId}/telemetry`;
const eventsTopic = (e: { machineId: string }, site = 'plant-1', line = 'line-1') =>
  `factory/${site}/${line}/${e.machineId}/events`;

/** A resume event with small, plausible numbers (a skip of at most a few thousand readings). */
const resumeEvent = fc
  .record({
    machineId: telemetryId,
    epoch: fc.integer({ min: 1, max: 1_000_000 }),
    skippedFrom: fc.integer({ min: 1, max: 1_000_000_000 }),
    skip: fc.integer({ min: -1, max: 5_000 }),
    ts: fc.integer({ min: now - HOUR, max: now }),
    owner: fc.option(fc.stringMatching(/^worker-[0-9]{1,3}$/), { nil: undefined }),
  })
  .map(({ skip, owner, ...e }) => ({
    v: 1 as const,
    type: 'resume' as const,
    machineId: e.machineId,
    epoch: e.epoch,
    skippedFrom: e.skippedFrom,
    skippedTo: e.skippedFrom + skip,
    ts: e.ts,
    ...(owner === undefined ? {} : { owner }),
  }));

/** Values no field of a reading should take: past 2^53, a hair below zero, a number as a string. */
const hostile = hostileValue({
  via: 'process',
  longest: 20_000,
  also: [-1e-300, 2 ** 53, -(2 ** 63), '1', { valueOf: 1 }, [1, 2, 3]],
});

/** Whether `key` survives as an own key of the JSON text of `x` (undefined and functions do not). */
const keptInJson = (x: unknown, key: string) => Object.hasOwn(viaJson(x) as object, key);

/** JSON literals that JSON.parse accepts but that are not what they look like (1e400 is Infinity). */
const hostileLiteral = fc.constantFrom(
  '1e400',
  '-1e400',
  '-0',
  '1e-400',
  '9007199254740993',
  '"\\u0000"',
  '"\\ud800"',
  '[]',
  '{}',
  'null',
  'true',
  '{"__proto__":{"v":1}}',
  '{"constructor":{"prototype":{}}}',
);

/** A JSON text of `record` with the value of one field replaced by a raw literal. */
const withLiteral = (record: object, key: string, literal: string) => {
  const text = JSON.stringify({ ...record, [key]: '@@' });
  return text.replace('"@@"', literal);
};

const bytes = (x: unknown) => Buffer.from(typeof x === 'string' ? x : (JSON.stringify(x) ?? 'undefined'));

const topicArb = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc
    .tuple(
      fc.oneof(telemetryId, fc.string()),
      fc.oneof(telemetryId, fc.string()),
      fc.oneof(telemetryId, fc.string()),
      fc.constantFrom('telemetry', 'events', 'state', ''),
    )
    .map((parts) => `factory/${parts.join('/')}`),
);

const payloadArb: fc.Arbitrary<Buffer> = recordBytes(
  fc.nat({ max: 10_000 }).map((n) => Buffer.from('['.repeat(n) + ']'.repeat(n))),
  fc.nat({ max: 10_000 }).map((n) => Buffer.from(`${'{"a":'.repeat(n)}1${'}'.repeat(n)}`)),
  fc.integer({ min: MAX_PAYLOAD_BYTES - 2, max: MAX_PAYLOAD_BYTES * 4 }).map((n) => Buffer.alloc(n, 0x20)),
);

// ---------------------------------------------------------------------------------------------
// What every verdict must look like

function expectVerdict(v: Verdict<unknown>): void {
  expect(typeof v.ok).toBe('boolean');
  if (v.ok) {
    expect(v.value).toBeTypeOf('object');
    return;
  }
  expectSentence(v.reason);
  expect(typeof v.key).toBe('string');
  expect(v.key).not.toBe('');
}

/** What an accepted reading guarantees, whatever it was made from. */
function expectSaneReading(topic: string, t: TelemetryV1): void {
  expect(t.v).toBe(1);
  expectSaneTelemetryNumbers(t);
  for (const k of ['seq', 'productionCount', 'goodCount', 'ts'] as const)
    expect(t[k]).toBeGreaterThanOrEqual(0);
  expect(t.ts).toBeGreaterThanOrEqual(now - 7 * DAY);
  expect(t.ts).toBeLessThanOrEqual(now + 5 * 60_000);
  const m = /^factory\/([^/]+)\/([^/]+)\/([^/]+)\/(telemetry|events)$/.exec(topic);
  if (m) expect([t.site, t.line, t.machineId]).toEqual([m[1], m[2], m[3]]);
  expect(Object.keys(t).sort()).toEqual([...TELEMETRY_FIELDS].sort());
}

// ---------------------------------------------------------------------------------------------

describe('validateTelemetry (properties)', () => {
  it('never throws on any topic and any bytes: ok with a sane reading, or a reason and a key', () => {
    fc.assert(
      fc.property(topicArb, payloadArb, (topic, raw) => {
        const v = validateTelemetry(topic, raw, now);
        expectVerdict(v);
        if (v.ok) expectSaneReading(topic, v.value);
      }),
      RUNS.batch,
    );
  });

  it('never throws on any JSON value (fc.anything) sent as the payload', () => {
    fc.assert(
      fc.property(fc.anything(), reading(), (x, r) => {
        const v = validateTelemetry(telemetryTopic(r), bytes(x), now);
        expectVerdict(v);
        if (v.ok) expectSaneReading(telemetryTopic(r), v.value);
      }),
      RUNS.batch,
    );
  });

  it('accepts every valid reading on its own topic and gives it back unchanged (round trip)', () => {
    fc.assert(
      fc.property(reading(), (r) => {
        const v = validateTelemetry(telemetryTopic(r), bytes(r), now);
        expect(v).toEqual({ ok: true, value: r });
      }),
      RUNS.batch,
    );
  });

  it('a valid reading with one field made hostile (or a prototype-ish key added) is refused or still sane', () => {
    fc.assert(
      fc.property(
        reading(),
        fc.constantFrom(...TELEMETRY_FIELDS, ...PROTO_KEYS),
        hostile,
        (r, key, value) => {
          const topic = telemetryTopic(r);
          const payload = withOwn(r, key, value);
          const v = validateTelemetry(topic, bytes(payload), now);
          expectVerdict(v);
          if (v.ok) expectSaneReading(topic, v.value);
          // An unknown key, even one named like a prototype member, is refused (strict schema).
          if (PROTO_KEYS.includes(key) && keptInJson(payload, key)) expect(v.ok).toBe(false);
        },
      ),
      RUNS.batch,
    );
  });

  it('a field written as a tricky JSON literal (1e400, -0, a lone surrogate, …) is refused or still sane', () => {
    fc.assert(
      fc.property(
        reading(),
        fc.constantFrom('ts', 'seq', 'temperatureC', 'oee', 'goodCount', 'machineId'),
        hostileLiteral,
        (r, key, literal) => {
          const topic = telemetryTopic(r);
          const v = validateTelemetry(topic, Buffer.from(withLiteral(r, key, literal)), now);
          expectVerdict(v);
          if (v.ok) expectSaneReading(topic, v.value);
        },
      ),
      RUNS.batch,
    );
  });

  it('refuses readings a month old or a day ahead, whatever else they hold', () => {
    const farOff = fc.oneof(
      fc.integer({ min: 1, max: now - 30 * DAY }),
      fc.integer({ min: now + DAY, max: Number.MAX_SAFE_INTEGER }),
    );
    fc.assert(
      fc.property(reading(farOff), (r) => {
        const v = validateTelemetry(telemetryTopic(r), bytes(r), now);
        expectVerdict(v);
        expect(v.ok).toBe(false);
      }),
      RUNS.batch,
    );
  });

  it('refuses a reading published on another machine’s topic', () => {
    fc.assert(
      fc.property(reading(), telemetryId, (r, other) => {
        fc.pre(other !== r.machineId);
        const v = validateTelemetry(telemetryTopic({ ...r, machineId: other }), bytes(r), now);
        expectVerdict(v);
        expect(v.ok).toBe(false);
      }),
      RUNS.batch,
    );
  });

  it('whitespace does not change the verdict while the payload fits; past MAX_PAYLOAD_BYTES it is refused', () => {
    fc.assert(
      fc.property(reading(), fc.nat({ max: MAX_PAYLOAD_BYTES * 2 }), (r, pad) => {
        const text = JSON.stringify(r);
        const raw = Buffer.from(`${' '.repeat(pad)}${text}`);
        const v = validateTelemetry(telemetryTopic(r), raw, now);
        expectVerdict(v);
        if (raw.length <= MAX_PAYLOAD_BYTES) expect(v).toEqual({ ok: true, value: r });
        else expect(v.ok).toBe(false);
      }),
      RUNS.batch,
    );
  });

  it('a good reading beside a bad one is untouched: its verdict does not depend on its neighbours', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(topicArb, payloadArb), { maxLength: 5 }),
        reading(),
        fc.array(fc.tuple(topicArb, payloadArb), { maxLength: 5 }),
        (before, good, after) => {
          const alone = validateTelemetry(telemetryTopic(good), bytes(good), now);
          const batch = [...before, [telemetryTopic(good), bytes(good)] as const, ...after].map(([t, raw]) =>
            validateTelemetry(t, raw, now),
          );
          expect(batch[before.length]).toEqual(alone);
          expect(alone).toEqual({ ok: true, value: good });
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('validateEvent (properties)', () => {
  it('never throws on any topic and any bytes: ok with an event of the topic’s machine, or a reason', () => {
    fc.assert(
      fc.property(topicArb, payloadArb, (topic, raw) => {
        const v = validateEvent(topic, raw, now);
        expectVerdict(v);
        if (v.ok) {
          const m = /^factory\/([^/]+)\/([^/]+)\/([^/]+)\/events$/.exec(topic);
          expect(m).not.toBeNull();
          expect([v.value.site, v.value.line, v.value.machineId]).toEqual([m?.[1], m?.[2], m?.[3]]);
          expect(v.value.skippedTo).toBeGreaterThanOrEqual(v.value.skippedFrom - 1);
        }
      }),
      RUNS.batch,
    );
  });

  it('accepts every valid resume event on its machine’s events topic (round trip, plus site and line)', () => {
    fc.assert(
      fc.property(resumeEvent, telemetryId, telemetryId, (e, site, line) => {
        const v = validateEvent(eventsTopic(e, site, line), bytes(e), now);
        expect(v).toEqual({ ok: true, value: { ...e, site, line } });
        expectRoundTrip(machineEventSchema, e);
      }),
      RUNS.batch,
    );
  });

  it('a valid event with one field made hostile is refused or still a valid event', () => {
    const keys = ['v', 'type', 'machineId', 'epoch', 'skippedFrom', 'skippedTo', 'ts', 'owner'];
    fc.assert(
      fc.property(resumeEvent, fc.constantFrom(...keys, ...PROTO_KEYS), hostile, (e, key, value) => {
        const payload = withOwn(e, key, value);
        const v = validateEvent(eventsTopic(e), bytes(payload), now);
        expectVerdict(v);
        if (v.ok) {
          expect(v.value.machineId).toBe(e.machineId);
          expect(Number.isSafeInteger(v.value.epoch) && v.value.epoch > 0).toBe(true);
          expect(v.value.skippedTo).toBeGreaterThanOrEqual(v.value.skippedFrom - 1);
        }
        if (PROTO_KEYS.includes(key) && keptInJson(payload, key)) expect(v.ok).toBe(false);
      }),
      RUNS.batch,
    );
  });

  it('is refused on a telemetry topic or another machine’s topic', () => {
    fc.assert(
      fc.property(resumeEvent, telemetryId, (e, other) => {
        expect(
          validateEvent(telemetryTopic({ site: 's', line: 'l', machineId: e.machineId }), bytes(e), now).ok,
        ).toBe(false);
        fc.pre(other !== e.machineId);
        const v = validateEvent(eventsTopic({ machineId: other }), bytes(e), now);
        expectVerdict(v);
        expect(v.ok).toBe(false);
      }),
      RUNS.batch,
    );
  });

  it('machineEventSchema never throws on fc.anything(), and what it accepts keeps skippedTo ≥ skippedFrom - 1', () => {
    fc.assert(
      fc.property(anyValue, (x) => {
        const r = machineEventSchema.safeParse(x);
        if (r.success) expect(r.data.skippedTo).toBeGreaterThanOrEqual(r.data.skippedFrom - 1);
        else expect(r.error.issues.length).toBeGreaterThan(0);
      }),
      RUNS.batch,
    );
  });
});
