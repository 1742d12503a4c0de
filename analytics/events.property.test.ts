/**
 * Properties of the analytics edge: alarm events (`alarms`, read by the writer, the workflows'
 * dispatcher, the web view and the processor itself) and alarm commands (`alarm-commands`,
 * from people and workflows). Whatever arrives, the parse answers a typed value or issues with
 * messages, never throws; an accepted command always names the subject it is keyed by.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
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

const RUNS = { numRuns: 200 };
const WEEK = 7 * 24 * 3600 * 1000;

// ---------------------------------------------------------------------------------------------
// Arbitraries

const machineId = fc.stringMatching(/^[A-Za-z0-9][\w.-]{0,99}$/);
const lineId = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/).filter((s) => s !== '__proto__');
/** A machine id, or `site/line` for a line's flood alarm. */
const subject = fc.oneof(
  machineId,
  fc.tuple(lineId, lineId).map(([s, l]) => `${s}/${l}`),
);
const ruleId = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,47}$/);
const seq = fc.stringMatching(/^\d{1,16}$/);
const alarmId = fc.tuple(subject, ruleId, seq).map(([s, r, n]) => ({ id: `${s}.${r}.${n}`, subject: s }));

const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
const num = fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => x + 0);
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
    commandId: fc.stringMatching(/^[A-Za-z0-9][\w.-]{0,99}$/),
    alarm: alarmId,
    action: fc.constantFrom('acknowledge', 'shelve', 'unshelve') as fc.Arbitrary<AlarmCommand['action']>,
    by: fc.string({ minLength: 1, maxLength: 100 }),
    forMs: fc.integer({ min: 1, max: WEEK }),
    replyTo: fc.option(fc.stringMatching(/^[\w.-]{1,200}$/), { nil: undefined }),
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

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    -1,
    0,
    0.5,
    WEEK + 1,
    Number.MAX_VALUE,
    null,
    true,
    '',
    '__proto__',
    'constructor',
    'M-1.rule.1.x',
    '../../etc.r.1',
    [],
    {},
    Object.create(null),
  ),
  fc.nat({ max: 100_000 }).map((n) => 'x'.repeat(n)),
  fc.nat({ max: 100_000 }).map((n) => `${'a.'.repeat(n)}r.1`),
  fc.anything({ withNullPrototype: true, withBoxedValues: true }),
);
const PROTO_KEYS = ['__proto__', 'constructor', 'toString', 'valueOf'];

function withOwn(o: object, key: string, value: unknown): Record<string, unknown> {
  const copy = { ...o } as Record<string, unknown>;
  Object.defineProperty(copy, key, { value, enumerable: true, configurable: true, writable: true });
  return copy;
}

/** A record value as Kafka gives it, read as the processor does (bad JSON is undefined). */
const jsonOf = (raw: Buffer): unknown => {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
};
const recordBytes = fc.oneof(
  fc.uint8Array({ maxLength: 1_000 }).map((a) => Buffer.from(a)),
  fc.json().map((s) => Buffer.from(s)),
  fc.string({ unit: 'binary' }).map((s) => Buffer.from(s)),
);

type Safe = { success: true; data: unknown } | { success: false; error: { issues: { message: string }[] } };
function expectParsed(r: Safe): void {
  if (r.success) return;
  expect(r.error.issues.length).toBeGreaterThan(0);
  for (const i of r.error.issues) expect(i.message.trim()).not.toBe('');
}

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
      RUNS,
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
      RUNS,
    );
  });
});

describe('alarmEventSchema (properties)', () => {
  it('never throws on any record bytes', () => {
    fc.assert(
      fc.property(recordBytes, (raw) => expectParsed(alarmEventSchema.safeParse(jsonOf(raw)))),
      RUNS,
    );
  });

  it('never throws on fc.anything()', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withBoxedValues: true, withMap: true }), (x) =>
        expectParsed(alarmEventSchema.safeParse(x)),
      ),
      RUNS,
    );
  });

  it('accepts every valid event and round-trips it through JSON unchanged', () => {
    fc.assert(
      fc.property(alarmEvent, (e) => {
        expect(alarmEventSchema.safeParse(JSON.parse(JSON.stringify(e)))).toEqual({ success: true, data: e });
      }),
      RUNS,
    );
  });

  it('a valid event with one field made hostile is refused with issues, or still parses to an event', () => {
    const keys = ['v', 'eventId', 'alarmId', 'transition', 'state', 'severity', 'value', 'ts', 'message'];
    fc.assert(
      fc.property(alarmEvent, fc.constantFrom(...keys, ...PROTO_KEYS), hostileValue, (e, key, value) => {
        const r = alarmEventSchema.safeParse(withOwn(e, key, value));
        expectParsed(r);
        if (r.success) expect(subjectOf(r.data.alarmId)).not.toBeNull();
      }),
      RUNS,
    );
  });
});

describe('alarmCommandSchema (properties)', () => {
  it('never throws on any record bytes; what it accepts is routable', () => {
    fc.assert(
      fc.property(recordBytes, (raw) => {
        const r = alarmCommandSchema.safeParse(jsonOf(raw));
        expectParsed(r);
        if (r.success) expectSaneCommand(r.data);
      }),
      RUNS,
    );
  });

  it('accepts every valid command and round-trips it through JSON unchanged', () => {
    fc.assert(
      fc.property(alarmCommand, (c) => {
        const r = alarmCommandSchema.safeParse(JSON.parse(JSON.stringify(c)));
        expect(r).toEqual({ success: true, data: c });
        if (r.success) expectSaneCommand(r.data);
      }),
      RUNS,
    );
  });

  it('a valid command with one field made hostile is refused with issues, or still sane', () => {
    const keys = ['v', 'commandId', 'alarmId', 'action', 'by', 'forMs', 'replyTo', 'ts', ...PROTO_KEYS];
    fc.assert(
      fc.property(alarmCommand, fc.constantFrom(...keys), hostileValue, (c, key, value) => {
        const r = alarmCommandSchema.safeParse(withOwn(c, key, value));
        expectParsed(r);
        if (r.success) expectSaneCommand(r.data);
      }),
      RUNS,
    );
  });

  it('a shelve without forMs, or for longer than a week, is refused', () => {
    fc.assert(
      fc.property(
        alarmCommand,
        fc.oneof(fc.constant(undefined), fc.integer({ min: WEEK + 1, max: Number.MAX_SAFE_INTEGER })),
        (c, forMs) => {
          const shelve = { ...c, action: 'shelve', forMs };
          expect(alarmCommandSchema.safeParse(JSON.parse(JSON.stringify(shelve))).success).toBe(false);
        },
      ),
      RUNS,
    );
  });

  it('a good command beside bad ones is untouched: its verdict does not depend on its neighbours', () => {
    const bad = fc.oneof(
      fc.anything(),
      alarmCommand.chain((c) => hostileValue.map((v) => withOwn(c, 'alarmId', v))),
    );
    fc.assert(
      fc.property(
        fc.array(bad, { maxLength: 4 }),
        alarmCommand,
        fc.array(bad, { maxLength: 4 }),
        (xs, good, ys) => {
          const batch = [...xs, good, ...ys].map((x) => alarmCommandSchema.safeParse(x));
          expect(batch[xs.length]).toEqual({ success: true, data: good });
        },
      ),
      { numRuns: 150 },
    );
  });
});
