/**
 * What the property-based tests (`**\/*.property.test.ts`, fast-check) share: how many runs a
 * property gets, the values nothing should trip over, the arbitraries of records several parsers
 * read (telemetry readings, fault parameters), and the assertions every parser's answer must
 * pass (refused with a sentence, or accepted and sane). One definition each, so that a value
 * added to the hostile table, or a check added to a verdict, reaches every parser at once.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { stringify } from 'yaml';
import { type FAULT_KINDS, SENSOR_FIELDS } from '../../actors/commands.js';
import type { TelemetryV1 } from '../../common/telemetry.js';
import type { YamlResult } from '../../common/yaml-file.js';

// ---------------------------------------------------------------------------------------------
// Runs

/**
 * Runs per property, by what one case costs: the unit project runs every property file on every
 * check, so the dearer a case, the fewer. A property whose cases cost something of their own (a
 * whole escalation file, YAML nested thousands deep) keeps its own number beside its reason.
 */
export const RUNS = {
  /** A short string through a pure function (a duration, a machine pattern): microseconds a case. */
  pure: { numRuns: 500 },
  /** A few small values (variables, argv words, request bodies, confirmations) through a parser. */
  small: { numRuns: 300 },
  /** A value, or a record's bytes, through a parser or a zod schema: well under a millisecond a case. */
  parse: { numRuns: 200 },
  /** Several parses a case (a good record among bad ones), or payloads past the size limit. */
  batch: { numRuns: 150 },
  /** A valid YAML document written and read back: the round trip is worth twice the YAML runs. */
  yamlRoundTrip: { numRuns: 80 },
  /** A YAML document read by the yaml library: about a millisecond or two a case. */
  yaml: { numRuns: 40 },
} as const;

// ---------------------------------------------------------------------------------------------
// Small arbitraries and object helpers

/** An optional value, absent as `undefined` (an optional field of a record). */
export const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

/** An object without the keys whose value is undefined (what JSON and zod give back). */
export function defined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** A finite double in [min, max] without -0 (JSON writes -0 as 0, which would spoil round trips). */
export const finite = (min?: number, max?: number) =>
  fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).map((x) => x + 0);

/** A value as it arrives over the wire: what JSON keeps of it. */
export const viaJson = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

/** Anything at all, objects without a prototype, boxed primitives and Maps included. */
export const anyValue = fc.anything({ withNullPrototype: true, withBoxedValues: true, withMap: true });

/** A machine or command id as a Kafka key and a NATS subject carry it. */
export const keyId = fc.stringMatching(/^[A-Za-z0-9][\w.-]{0,99}$/);

/** A NATS subject to answer to, when a record asks for an answer. */
export const replySubject = opt(fc.stringMatching(/^[\w.-]{1,200}$/));

/** Sets one own, enumerable property: `__proto__` too, where an assignment would set the prototype. */
export function setOwn(o: object, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, configurable: true, writable: true });
}

/** A copy of `o` with one own property set (see setOwn). */
export function withOwn(o: object, key: string, value: unknown): Record<string, unknown> {
  const copy = { ...o };
  setOwn(copy, key, value);
  return copy;
}

// ---------------------------------------------------------------------------------------------
// Hostile input

/** Names every plain object inherits: a lookup by `in` or `[]` finds them on any table. */
export const INHERITED_NAMES: readonly string[] = Object.getOwnPropertyNames(Object.prototype);

/** The inherited names that an id of `pattern` can spell: the ones a lookup by that id may find. */
export const inheritedNamesMatching = (pattern: RegExp) => INHERITED_NAMES.filter((n) => pattern.test(n));

/**
 * Keys named like what every object has without being given it: a strict schema must refuse
 * them as it does any key it does not know, and a copy must not turn them into a prototype.
 */
export const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty'];

/** Values that JSON and YAML text can hold and no field takes: wrongly typed, empty, negative, huge, prototype-ish. */
const WRITABLE_HOSTILE: readonly unknown[] = [
  -1,
  0,
  0.5,
  1e308,
  null,
  true,
  '',
  ' ',
  '__proto__',
  'constructor',
  [],
  {},
];

/** Values only a caller in the same process can hand over: text cannot hold them. */
const IN_PROCESS_HOSTILE: readonly unknown[] = [
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  -0,
  Number.MAX_VALUE,
  2 ** 64,
  undefined,
  Object.create(null),
  Symbol('s'),
  () => 1,
];

/** `depth` objects (or arrays) inside one another: deeper than any record, shallower than the stack. */
function nest(depth: number, inArrays: boolean): unknown {
  let v: unknown = 0;
  for (let i = 0; i < depth; i++) v = inArrays ? [v] : { a: v };
  return v;
}

export interface Hostile {
  /**
   * How the values reach the parser: `process`, any JavaScript value (a record already read, a
   * CLI, an activity); `text`, what a JSON body or a YAML file can hold (no NaN, no functions,
   * and no deep nesting, which the yaml library's parser and writer cannot take).
   */
  via: 'process' | 'text';
  /** The longest run of "x"s: past every string bound of the record, yet quick to write and read. */
  longest: number;
  /** Values of the record's own domain: just past its bounds, or what its lookups trip over. */
  also?: readonly unknown[];
  /** Arbitraries of the record's own domain, drawn as often as the tables. */
  more?: readonly fc.Arbitrary<unknown>[];
}

/** Values nothing should trip over: non-finite, huge, deep, wrongly typed, prototype-ish. */
export function hostileValue({ via, longest, also = [], more = [] }: Hostile): fc.Arbitrary<unknown> {
  const inProcess = via === 'process';
  return fc.oneof(
    fc.constantFrom(...WRITABLE_HOSTILE, ...(inProcess ? IN_PROCESS_HOSTILE : []), ...also),
    fc.nat({ max: longest }).map((n) => 'x'.repeat(n)),
    ...(inProcess
      ? [fc.tuple(fc.nat({ max: 3_000 }), fc.boolean()).map(([n, inArrays]) => nest(n, inArrays))]
      : []),
    ...more,
    inProcess ? anyValue : fc.jsonValue({ maxDepth: 4 }),
  );
}

/** A record value as it comes off Kafka or NATS: junk bytes, some JSON, any text, or `more`. */
export const recordBytes = (...more: fc.Arbitrary<Buffer>[]): fc.Arbitrary<Buffer> =>
  fc.oneof(
    fc.uint8Array({ maxLength: 1_000 }).map((a) => Buffer.from(a)),
    fc.json().map((s) => Buffer.from(s)),
    fc.string({ unit: 'binary' }).map((s) => Buffer.from(s)),
    ...more,
  );

/**
 * A good value with up to `most` bad ones before and after it, and where it stands in the
 * batch: a parser's verdict on one record must not depend on the records around it.
 */
export function amongBad<G, B>(good: fc.Arbitrary<G>, bad: fc.Arbitrary<B>, most: number) {
  return fc
    .tuple(fc.array(bad, { maxLength: most }), good, fc.array(bad, { maxLength: most }))
    .map(([before, g, after]) => ({ good: g, at: before.length, batch: [...before, g, ...after] }));
}

// ---------------------------------------------------------------------------------------------
// Answers: refused with a sentence, or accepted and sane

/** A refusal a person can read: a string that is not blank. */
export function expectSentence(text: unknown): void {
  expect(typeof text).toBe('string');
  expect((text as string).trim()).not.toBe('');
}

/** A zod schema's answer, as safeParse gives it. */
type SafeParse<T> =
  | { success: true; data: T }
  | { success: false; error: { issues: readonly { message: string }[] } };

/** A value that passes `sane`, or issues that each say what is wrong. */
export function expectParsed<T>(r: SafeParse<T>, sane?: (value: T) => void): void {
  if (r.success) {
    sane?.(r.data);
    return;
  }
  expect(r.error.issues.length).toBeGreaterThan(0);
  for (const i of r.error.issues) expectSentence(i.message);
}

/** `schema` accepts `value` unchanged after a trip through JSON text. */
export function expectRoundTrip(schema: { safeParse(x: unknown): unknown }, value: unknown): void {
  expect(schema.safeParse(viaJson(value))).toEqual({ success: true, data: value });
}

// ---------------------------------------------------------------------------------------------
// Telemetry readings (telemetryV1Schema, and the bridge's validateTelemetry around it)

/** The contract's fields, written out here so that the tests do not take them from the code they test. */
export const TELEMETRY_FIELDS = [
  'v',
  'site',
  'line',
  'machineId',
  'ts',
  'seq',
  'state',
  'temperatureC',
  'speedRpm',
  'vibrationMmS',
  'powerKw',
  'productionCount',
  'goodCount',
  'oee',
];

/** A site, line or machine id as idSchema takes it ("__proto__" is refused: it would set a prototype). */
export const telemetryId = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/).filter((s) => s !== '__proto__');

/** A valid reading taken at `ts` (any safe time by default). */
export const telemetryReading = (
  ts: fc.Arbitrary<number> = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
): fc.Arbitrary<TelemetryV1> =>
  fc
    .record({
      site: telemetryId,
      line: telemetryId,
      machineId: telemetryId,
      ts,
      seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      state: fc.constantFrom('RUNNING', 'IDLE', 'MAINTENANCE', 'FAULT') as fc.Arbitrary<TelemetryV1['state']>,
      temperatureC: finite(-60, 600),
      speedRpm: finite(0, 100_000),
      vibrationMmS: finite(0, 1_000),
      powerKw: finite(0, 100_000),
      counts: fc.tuple(fc.maxSafeNat(), fc.maxSafeNat()),
      oee: finite(0, 1),
    })
    .map(({ counts: [a, b], ...r }) => ({
      v: 1 as const,
      ...r,
      productionCount: Math.max(a, b),
      goodCount: Math.min(a, b),
    }));

/** What the writer and analytics do arithmetic on: finite measures, whole counters, good ≤ produced. */
export function expectSaneTelemetryNumbers(t: TelemetryV1): void {
  for (const k of ['temperatureC', 'speedRpm', 'vibrationMmS', 'powerKw', 'oee'] as const)
    expect(Number.isFinite(t[k])).toBe(true);
  for (const k of ['ts', 'seq', 'productionCount', 'goodCount'] as const)
    expect(Number.isSafeInteger(t[k])).toBe(true);
  expect(t.goodCount).toBeLessThanOrEqual(t.productionCount);
}

// ---------------------------------------------------------------------------------------------
// Fault parameters (INJECT_FAULT commands, and the faults of scenario files)

/** The numbers a caller's parser takes in a fault's parameters. */
export interface FaultNumbers {
  /** A positive number up to `max`. */
  positive: (max: number) => fc.Arbitrary<number>;
  /** A sensor's drift per minute, of either sign. */
  ratePerMin: fc.Arbitrary<number>;
  /** The longest fault, in seconds, and the widest noise, in the field's unit. */
  maxDurationS: number;
  maxSigma: number;
}

/** Valid parameters for each fault kind, as written (optional ones absent, not undefined). */
export function faultParams(
  n: FaultNumbers,
): Record<(typeof FAULT_KINDS)[number], fc.Arbitrary<Record<string, unknown>>> {
  const field = opt(fc.constantFrom(...SENSOR_FIELDS));
  const durationS = opt(n.positive(n.maxDurationS));
  return {
    overheat: fc.record({ extraC: opt(n.positive(500)) }).map(defined),
    bearing_wear: fc.record({ ratePerHour: opt(n.positive(1000)) }).map(defined),
    jam: fc.constant({}),
    sensor_stuck: fc.record({ field, durationS }).map(defined),
    sensor_drift: fc.record({ field, ratePerMin: opt(n.ratePerMin), durationS }).map(defined),
    sensor_dropout: fc.record({ durationS }).map(defined),
    noise_burst: fc.record({ field, sigma: opt(n.positive(n.maxSigma)), durationS }).map(defined),
  };
}

// ---------------------------------------------------------------------------------------------
// YAML files (parseYamlText: rule files, the escalation file, scenarios, the fleet)

/** Any text a person may save as the file: plain, JSON, YAML of any value, or one of `extra`. */
export const yamlText = (...extra: string[]): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string(),
    fc.json(),
    fc.jsonValue().map((v) => stringify(v)),
    ...(extra.length > 0 ? [fc.constantFrom(...extra)] : []),
  );

/** A document as a person saves it: YAML, or JSON (which YAML reads too). */
export const writeDoc = (doc: unknown, asJson: boolean): string =>
  asJson ? JSON.stringify(doc) : stringify(doc);

/** A value that passes `sane`, or problems that each name the file, a line, a column and what is wrong. */
export function expectYamlResult<T>(r: YamlResult<T>, file: string, sane?: (value: T) => void): void {
  if (r.ok) {
    sane?.(r.value);
    return;
  }
  expect(r.problems.length).toBeGreaterThan(0);
  for (const p of r.problems) {
    expect(p.file).toBe(file);
    expect(Number.isInteger(p.line) && p.line >= 1).toBe(true);
    expect(Number.isInteger(p.column) && p.column >= 1).toBe(true);
    expectSentence(p.message);
  }
}

/** Refused, with a problem at `field`: where the person has to look. */
export function expectRefusedAt(r: YamlResult<unknown>, field: string): void {
  expect(r.ok).toBe(false);
  if (!r.ok) expect(r.problems.map((p) => p.field)).toContain(field);
}

/** Every problem (if any) is inside `prefix`: a bad part spoils no good part beside it. */
export function expectProblemsWithin(r: YamlResult<unknown>, prefix: string): void {
  if (!r.ok) for (const p of r.problems) expect(p.field.startsWith(prefix), p.field).toBe(true);
}
