/**
 * Properties of the machine command parser (`parseCommand`): every command a machine gets, from
 * Kafka, the CLI, the web API or a Temporal activity, passes through it. Whatever it is given it
 * answers ok with a typed command, or refuses with a reason; it never throws.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  amongBad,
  anyValue,
  defined,
  expectSentence,
  faultParams,
  finite,
  hostileValue,
  INHERITED_NAMES,
  opt,
  RUNS,
  viaJson,
  withOwn,
} from '../test/support/properties.js';
import {
  COMMAND_TYPES,
  type Command,
  commandSchema,
  FAULT_KINDS,
  isParsedCommand,
  type ParsedCommand,
  parseCommand,
  SENSOR_FIELDS,
} from './commands.js';

// ---------------------------------------------------------------------------------------------
// Arbitraries: valid commands, in the canonical form parseCommand gives back

/** A finite double in (0, max]. */
const positive = (max: number) => finite(Number.MIN_VALUE, max);
const faults = faultParams({ positive, ratePerMin: finite(), maxDurationS: 1e9, maxSigma: 1e6 });

const ticketId = fc.string({ minLength: 1, maxLength: 200 });

const validCommand: fc.Arbitrary<Command> = fc.oneof(
  ticketId.map((t) => ({ type: 'START_MAINTENANCE' as const, ticketId: t })),
  opt(ticketId).map((t) => defined({ type: 'COMPLETE_MAINTENANCE' as const, ticketId: t })),
  opt(fc.constantFrom(...FAULT_KINDS)).map((f) => defined({ type: 'CLEAR_FAULT' as const, fault: f })),
  positive(1e6).map((rpm) => ({ type: 'SET_SPEED' as const, rpm })),
  fc.constant({ type: 'STOP' as const }),
  fc.constant({ type: 'START' as const }),
  fc
    .constantFrom(...FAULT_KINDS)
    .chain((fault) =>
      faults[fault].map((params) => ({ type: 'INJECT_FAULT' as const, fault, params }) as Command),
    ),
) as fc.Arbitrary<Command>;

// Numbers as the CLI sends them, spelled wrong. BigInts and cycles have a test of their own below.
const hostile = hostileValue({ via: 'process', longest: 100_000, also: ['NaN', '1e400', 'toString'] });

const commandKeys = ['type', 'fault', 'params', 'ticketId', 'rpm'];

// ---------------------------------------------------------------------------------------------

/** What every answer must look like: a typed command, or a refusal a person can read. */
function expectParsed(r: ParsedCommand): void {
  if (r.ok) {
    expect(typeof r.command).toBe('object');
    expect(COMMAND_TYPES).toContain(r.command.type);
    // What was accepted is a command by the schema, as it is (no second reading needed).
    expect(commandSchema.safeParse(r.command).success).toBe(true);
    expect(isParsedCommand(r.command)).toBe(true);
    return;
  }
  expect(typeof r.command).toBe('string');
  expectSentence(r.reason);
}

/** Every number in an accepted command is finite; every sensor field is one of SENSOR_FIELDS. */
function expectSaneCommand(c: Command): void {
  const walk = (v: unknown): void => {
    if (typeof v === 'number') expect(Number.isFinite(v)).toBe(true);
    else if (typeof v === 'function') throw new Error(`a function in an accepted command: ${String(v)}`);
    else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
  };
  walk(c);
  if (c.type === 'INJECT_FAULT' && 'field' in c.params && c.params.field !== undefined)
    expect(SENSOR_FIELDS).toContain(c.params.field);
}

describe('parseCommand (properties)', () => {
  it('never throws on anything (fc.anything): a typed command or a reason', () => {
    fc.assert(
      fc.property(anyValue, (x) => {
        const r = parseCommand(x);
        expectParsed(r);
        if (r.ok) expectSaneCommand(r.command);
      }),
      RUNS.parse,
    );
  });

  // fails before the own-property fix: fc.string() is biased towards names such as "valueOf" and
  // "__proto__", and such a type makes parseCommand throw instead of refusing.
  it('never throws on objects with a known or arbitrary type and arbitrary other fields', () => {
    const type = fc.oneof(fc.constantFrom(...COMMAND_TYPES), fc.string(), fc.anything());
    const shaped = fc.record(
      {
        type,
        fault: fc.oneof(fc.constantFrom(...FAULT_KINDS), fc.anything()),
        params: fc.oneof(fc.dictionary(fc.string(), fc.anything()), fc.anything()),
        rpm: fc.anything(),
        ticketId: fc.anything(),
      },
      { requiredKeys: ['type'] },
    );
    fc.assert(
      fc.property(shaped, (x) => {
        const r = parseCommand(x);
        expectParsed(r);
        if (r.ok) expectSaneCommand(r.command);
      }),
      RUNS.parse,
    );
  });

  it('accepts every valid command and round-trips it through JSON unchanged', () => {
    fc.assert(
      fc.property(validCommand, (c) => {
        const r = parseCommand(viaJson(c));
        expect(r).toEqual({ ok: true, command: c });
        // A parsed command is not parsed again: the same object comes back.
        if (r.ok) expect(parseCommand(r.command)).toEqual({ ok: true, command: r.command });
      }),
      RUNS.parse,
    );
  });

  it('takes numbers written as strings (as the CLI sends them) as the same numbers', () => {
    const asStrings = (o: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' ? String(v) : v]));
    fc.assert(
      fc.property(validCommand, (c) => {
        const input: Record<string, unknown> = asStrings(c as Record<string, unknown>);
        if (c.type === 'INJECT_FAULT') input.params = asStrings(c.params);
        expect(parseCommand(input)).toEqual({ ok: true, command: c });
      }),
      RUNS.parse,
    );
  });

  // fails before the own-property fix: the hostile values include "__proto__", "constructor" and
  // "toString", and as the type they make parseCommand throw instead of refusing.
  it('a valid command with one field made hostile is refused with a reason, or still a sane command', () => {
    fc.assert(
      fc.property(validCommand, fc.constantFrom(...commandKeys), hostile, (c, key, value) => {
        const r = parseCommand(withOwn(c, key, value));
        expectParsed(r);
        if (r.ok) expectSaneCommand(r.command);
      }),
      RUNS.parse,
    );
  });

  // fails before the own-property fix (of the sensor field aliases): the hostile values include
  // "constructor", "toString" and "__proto__", and as a field they are accepted as a function.
  it('an INJECT_FAULT whose params get one hostile field is refused with a reason, or still sane', () => {
    const inject = validCommand.filter((c) => c.type === 'INJECT_FAULT');
    const key = fc.oneof(
      { weight: 2, arbitrary: fc.constant('field') },
      { weight: 1, arbitrary: fc.constantFrom('extraC', 'ratePerHour', 'durationS', 'ratePerMin', 'sigma') },
      { weight: 1, arbitrary: fc.constantFrom(...INHERITED_NAMES) },
      { weight: 1, arbitrary: fc.string() },
    );
    // Names of Object.prototype's members often: they are what a lookup table trips over.
    const values = fc.oneof(fc.constantFrom(...INHERITED_NAMES), hostile);
    fc.assert(
      fc.property(inject, key, values, (c, k, value) => {
        if (c.type !== 'INJECT_FAULT') return;
        const r = parseCommand({ ...c, params: withOwn(c.params, k, value) });
        expectParsed(r);
        if (r.ok) expectSaneCommand(r.command);
      }),
      RUNS.parse,
    );
  });

  // fails before the own-property fix: `type in SCHEMAS` finds Object.prototype's members, and
  // `SCHEMAS[type].safeParse` then throws a TypeError ("is not a function") instead of refusing.
  it('refuses a command type named like a prototype member with a reason, and never throws', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...INHERITED_NAMES),
        fc.dictionary(fc.string(), fc.jsonValue()),
        (type, rest) => {
          let r: ParsedCommand | undefined;
          expect(() => {
            r = parseCommand({ ...rest, type });
          }).not.toThrow();
          if (!r) return;
          expectParsed(r);
          expect(r.ok).toBe(false);
          expect(r.command).toBe(type);
        },
      ),
      { numRuns: 100 },
    );
  });

  // fails before the own-property fix: the sensor field alias table is read with `[]`, so
  // `field: "constructor"` (or "toString", "__proto__") becomes a function or Object.prototype,
  // and the command is accepted with that as its field instead of being refused.
  it('refuses a sensor field named like a prototype member with a reason', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('sensor_stuck', 'sensor_drift', 'noise_burst'),
        fc.constantFrom(...INHERITED_NAMES),
        (fault, name) => {
          const r = parseCommand({ type: 'INJECT_FAULT', fault, params: { field: name } });
          expectParsed(r);
          expect(r.ok).toBe(false);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses a fault or CLEAR_FAULT kind named like a prototype member with a reason', () => {
    fc.assert(
      fc.property(fc.constantFrom(...INHERITED_NAMES), (name) => {
        for (const input of [
          { type: 'INJECT_FAULT', fault: name },
          { type: 'CLEAR_FAULT', fault: name },
        ]) {
          const r = parseCommand(input);
          expectParsed(r);
          expect(r.ok).toBe(false);
        }
      }),
      { numRuns: 100 },
    );
  });

  // fails before the fix of the unknown-type/unknown-fault reason: it is built with
  // JSON.stringify of the raw value, which throws on a BigInt ("Do not know how to serialize a
  // BigInt") or a cycle ("Converting circular structure to JSON") instead of refusing. JSON from
  // Kafka cannot hold either; an in-process caller (CLI, activity, test) can.
  it('refuses a type or fault that JSON cannot write (a BigInt, a cycle) with a reason, and never throws', () => {
    const cyclic = () => {
      const o: Record<string, unknown> = { a: 1 };
      o.self = o;
      return o;
    };
    const unwritable = fc.oneof(
      fc.bigInt(),
      fc.bigInt().map((n) => ({ n })),
      fc.constant(null).map(cyclic),
    );
    fc.assert(
      fc.property(fc.constantFrom('type', 'fault'), unwritable, (key, value) => {
        const input = key === 'type' ? { type: value } : { type: 'INJECT_FAULT', fault: value };
        let r: ParsedCommand | undefined;
        expect(() => {
          r = parseCommand(input);
        }).not.toThrow();
        if (!r) return;
        expectParsed(r);
        expect(r.ok).toBe(false);
      }),
      { numRuns: 100 },
    );
  });

  it('a good command beside bad ones is untouched: its verdict does not depend on its neighbours', () => {
    const bad = fc.oneof(
      fc.anything(),
      validCommand.chain((c) => hostile.map((v) => withOwn(c, 'params', v))),
    );
    // Read off the wire, as a batch from Kafka is: a copy through JSON, not the generated object.
    fc.assert(
      fc.property(amongBad(validCommand.map(viaJson), bad, 5), ({ good, at, batch }) => {
        const alone = parseCommand(viaJson(good));
        expect(batch.map((x) => parseCommand(x))[at]).toEqual(alone);
        expect(alone).toEqual({ ok: true, command: good });
      }),
      RUNS.batch,
    );
  });
});
