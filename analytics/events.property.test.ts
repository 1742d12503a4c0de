/**
 * Properties of the analytics edge: alarm events (`alarms`, read by the writer, the workflows'
 * dispatcher, the web view and the processor itself) and alarm commands (`alarm-commands`,
 * from people and workflows). Whatever arrives, the parse answers a typed value or issues with
 * messages, never throws; an accepted command always names the subject it is keyed by.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  amongBad,
  anyValue,
  expectParsed,
  expectRoundTrip,
  finite,
  hostileValue,
  keyId,
  PROTO_KEYS,
  RUNS,
  recordBytes,
  replySubject,
  telemetryId,
  viaJson,
  withOwn,
} from '../test/support/properties.js';
import {
  type AlarmCommand,
  type AlarmEvent,
  alarmCommandSchema,
  alarmEventSchema,
  alarmIdSchema,
  subjectOf,
} from './events.js';
import { ALARM_STATES, TRANSITIONS } from './lifecycle.js';
import { SEVERITIES } from './rules.js';

const WEEK = 7 * 24 * 3600 * 1000;

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** A machine id, or `site/line` for a line's flood alarm. */
const subject = fc.oneof(
  keyId,
  fc.tuple(telemetryId, telemetryId).map(([s, l]) => `${s}/${l}`),
);
const ruleId = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,47}$/);
const seq = fc.stringMatching(/^\d{1,16}$/);
const alarmId = fc.tuple(subject, ruleId, seq).map(([s, r, n]) => ({ id: `${s}.${r}.${n}`, subject: s }));

const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
const num = finite();
const time = fc.integer({ min: 0, max: 4_102_444_800_000 });

/**
 * Alarm events as the processor writes them. The schema bounds every string (ids have the id
 * pattern, names are short, the message at most a kilobyte): the values below stay within the
 * tightest of those bounds, so that they are valid events whichever way the bounds move.
 */
const shortId = fc.stringMatching(/^[A-Za-z0-9._-]{1,40}$/).filter((s) => s !== '__proto__');
const shortName = fc.string({ minLength: 1, maxLength: 40 });
const eventAlarmId = fc
  .tuple(
    fc.oneof(
      shortId,
      fc.tuple(shortId, shortId).map(([s, l]) => `${s}/${l}`),
    ),
    ruleId,
    seq,
  )
  .map(([s, r, n]) => `${s}.${r}.${n}`);
const alarmEvent: fc.Arbitrary<AlarmEvent> = fc
  .record({
    alarmId: eventAlarmId,
    n: fc.nat({ max: 99_999 }),
    transition: fc.constantFrom(...TRANSITIONS),
    state: fc.constantFrom(...ALARM_STATES),
    machineId: nullable(shortId),
    site: shortId,
    line: shortId,
    machineType: nullable(shortName),
    rule: shortName,
    kind: shortName,
    severity: fc.constantFrom(...SEVERITIES),
    field: nullable(shortName),
    value: nullable(num),
    limit: nullable(num),
    ts: time,
    raisedAt: nullable(time),
    conditionSince: nullable(time),
    by: nullable(fc.string({ maxLength: 100 })),
    shelvedUntil: nullable(time),
    flood: nullable(fc.string({ maxLength: 200 })),
    message: fc.string({ maxLength: 1000 }),
  })
  .map(({ n, ...e }) => ({ v: 1 as const, eventId: `${e.alarmId}#${n}`, ...e }));

const alarmCommand: fc.Arbitrary<AlarmCommand> = fc
  .record({
    commandId: keyId,
    alarm: alarmId,
    action: fc.constantFrom('acknowledge', 'shelve', 'unshelve') as fc.Arbitrary<AlarmCommand['action']>,
    by: fc.string({ minLength: 1, maxLength: 100 }),
    forMs: fc.integer({ min: 1, max: WEEK }),
    replyTo: replySubject,
    ts: time,
  })
  .map(({ alarm, forMs, replyTo, ...c }) => ({
    v: 1 as const,
    commandId: c.commandId,
    alarmId: alarm.id,
    action: c.action,
    by: c.by,
    ...(c.action === 'shelve' ? { forMs } : {}),
    ...(replyTo === undefined ? {} : { replyTo }),
    ts: c.ts,
  }));

// Just past the week a shelve may last, and alarm ids that are not quite ids.
const hostile = hostileValue({
  via: 'process',
  longest: 100_000,
  also: [WEEK + 1, 'M-1.rule.1.x', '../../etc.r.1'],
  more: [fc.nat({ max: 100_000 }).map((n) => `${'a.'.repeat(n)}r.1`)],
});

/** A record value as Kafka gives it, read as the processor does (bad JSON is undefined). */
const jsonOf = (raw: Buffer): unknown => {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
};

/** What the processor relies on once a command is accepted (it keys and routes by the subject). */
function expectSaneCommand(c: AlarmCommand): void {
  expect(subjectOf(c.alarmId)).not.toBeNull();
  if (c.action === 'shelve') expect(c.forMs).toBeDefined();
  if (c.forMs !== undefined) {
    expect(Number.isSafeInteger(c.forMs)).toBe(true);
    expect(c.forMs).toBeGreaterThan(0);
    expect(c.forMs).toBeLessThanOrEqual(WEEK);
  }
  expect(c.by.length).toBeGreaterThan(0);
  expect(c.by.length).toBeLessThanOrEqual(100);
}

// ---------------------------------------------------------------------------------------------

describe('alarm ids (properties)', () => {
  it('subjectOf gives back the machine or line of every id built from one', () => {
    fc.assert(
      fc.property(alarmId, ({ id, subject: s }) => {
        expect(alarmIdSchema.safeParse(id).success).toBe(true);
        expect(subjectOf(id)).toBe(s);
      }),
      RUNS.parse,
    );
  });

  it('subjectOf never throws, and answers a subject exactly for the ids the schema accepts', () => {
    const text = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.nat({ max: 200_000 }).map((n) => `${'a.'.repeat(n)}r.1`),
      fc.tuple(fc.string(), fc.string(), fc.string()).map((p) => p.join('.')),
    );
    fc.assert(
      fc.property(text, (s) => {
        const subjectFound = subjectOf(s);
        expect(subjectFound !== null).toBe(alarmIdSchema.safeParse(s).success);
        if (subjectFound !== null) expect(s.startsWith(`${subjectFound}.`)).toBe(true);
      }),
      RUNS.parse,
    );
  });
});

describe('alarmEventSchema (properties)', () => {
  it('never throws on any record bytes', () => {
    fc.assert(
      fc.property(recordBytes(), (raw) => expectParsed(alarmEventSchema.safeParse(jsonOf(raw)))),
      RUNS.parse,
    );
  });

  it('never throws on fc.anything()', () => {
    fc.assert(
      fc.property(anyValue, (x) => expectParsed(alarmEventSchema.safeParse(x))),
      RUNS.parse,
    );
  });

  it('accepts every valid event and round-trips it through JSON unchanged', () => {
    fc.assert(
      fc.property(alarmEvent, (e) => expectRoundTrip(alarmEventSchema, e)),
      RUNS.parse,
    );
  });

  it('a valid event with one field made hostile is refused with issues, or still parses to an event', () => {
    const keys = ['v', 'eventId', 'alarmId', 'transition', 'state', 'severity', 'value', 'ts', 'message'];
    fc.assert(
      fc.property(alarmEvent, fc.constantFrom(...keys, ...PROTO_KEYS), hostile, (e, key, value) =>
        expectParsed(alarmEventSchema.safeParse(withOwn(e, key, value)), (parsed) =>
          expect(subjectOf(parsed.alarmId)).not.toBeNull(),
        ),
      ),
      RUNS.parse,
    );
  });
});

describe('alarmCommandSchema (properties)', () => {
  it('never throws on any record bytes; what it accepts is routable', () => {
    fc.assert(
      fc.property(recordBytes(), (raw) =>
        expectParsed(alarmCommandSchema.safeParse(jsonOf(raw)), expectSaneCommand),
      ),
      RUNS.parse,
    );
  });

  it('accepts every valid command and round-trips it through JSON unchanged', () => {
    fc.assert(
      fc.property(alarmCommand, (c) => {
        expectRoundTrip(alarmCommandSchema, c);
        expectSaneCommand(c);
      }),
      RUNS.parse,
    );
  });

  it('a valid command with one field made hostile is refused with issues, or still sane', () => {
    const keys = ['v', 'commandId', 'alarmId', 'action', 'by', 'forMs', 'replyTo', 'ts', ...PROTO_KEYS];
    fc.assert(
      fc.property(alarmCommand, fc.constantFrom(...keys), hostile, (c, key, value) =>
        expectParsed(alarmCommandSchema.safeParse(withOwn(c, key, value)), expectSaneCommand),
      ),
      RUNS.parse,
    );
  });

  it('a shelve without forMs, or for longer than a week, is refused', () => {
    fc.assert(
      fc.property(
        alarmCommand,
        fc.oneof(fc.constant(undefined), fc.integer({ min: WEEK + 1, max: Number.MAX_SAFE_INTEGER })),
        (c, forMs) => {
          const shelve = { ...c, action: 'shelve', forMs };
          expect(alarmCommandSchema.safeParse(viaJson(shelve)).success).toBe(false);
        },
      ),
      RUNS.parse,
    );
  });

  it('a good command beside bad ones is untouched: its verdict does not depend on its neighbours', () => {
    const bad = fc.oneof(
      fc.anything(),
      alarmCommand.chain((c) => hostile.map((v) => withOwn(c, 'alarmId', v))),
    );
    fc.assert(
      fc.property(amongBad(alarmCommand, bad, 4), ({ good, at, batch }) => {
        const answers = batch.map((x) => alarmCommandSchema.safeParse(x));
        expect(answers[at]).toEqual({ success: true, data: good });
      }),
      RUNS.batch,
    );
  });
});
