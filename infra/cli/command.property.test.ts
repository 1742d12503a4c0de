/**
 * Properties of the CLI's command flags (`factory command <id> <TYPE> --param k=v`,
 * `factory inject <id> <fault> --param k=v`, and the web routes that reuse them): paramsOf,
 * commandOf and faultOf build the command, and parseCommand then judges it. Whatever the
 * operator types, a command or a StackError with a sentence (exit 1), never another exception.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COMMAND_TYPES, FAULT_KINDS, parseCommand, SENSOR_FIELDS } from '../../actors/index.js';
import { expectSentence, INHERITED_NAMES, RUNS, setOwn } from '../../test/support/properties.js';
import { StackError } from '../supervisor/stack.js';
import { commandOf, faultOf, paramsOf } from './command.js';

/** Runs `build`; a refusal must be a StackError with a sentence. */
function built<T>(build: () => T): T | undefined {
  try {
    return build();
  } catch (err) {
    expect(err).toBeInstanceOf(StackError);
    expectSentence((err as Error).message);
    return undefined;
  }
}

const PARAM_NAMES = [
  'extraC',
  'ratePerHour',
  'field',
  'durationS',
  'ratePerMin',
  'sigma',
  'rpm',
  'ticketId',
  'fault',
];
/** A key of `--param key=value`: no "=", not empty. "__proto__" is left out: see the last test. */
const key = fc
  .oneof(
    fc.constantFrom(...PARAM_NAMES, 'constructor', 'toString', 'type'),
    fc.string({ minLength: 1, maxLength: 20 }),
  )
  .filter((k) => !k.includes('=') && k !== '__proto__');
const value = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.double().map(String),
  fc.constantFrom(...SENSOR_FIELDS, 'temperature', 'speed', '', '=', 'a=b', 'NaN', '1e400', '-1'),
  fc.constantFrom(...INHERITED_NAMES),
);
const pairs = fc.array(fc.tuple(key, value), { maxLength: 6 });

describe('paramsOf (properties)', () => {
  it('never throws anything but a StackError on any list of words', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.string({ unit: 'binary' }))), (words) => {
        const params = built(() => paramsOf(words));
        if (params) for (const v of Object.values(params)) expect(typeof v).toBe('string');
      }),
      RUNS.small,
    );
  });

  it('reads every key=value pair, the value being everything after the first "=" (the last pair of a key wins)', () => {
    fc.assert(
      fc.property(pairs, (ps) => {
        const params = paramsOf(ps.map(([k, v]) => `${k}=${v}`));
        const expected: Record<string, string> = {};
        for (const [k, v] of ps) setOwn(expected, k, v);
        expect(params).toEqual(expected);
        for (const [k] of ps) expect(Object.hasOwn(params, k)).toBe(true);
      }),
      RUNS.small,
    );
  });

  it('refuses a word without a key before "=", naming it', () => {
    fc.assert(
      fc.property(
        pairs,
        fc.oneof(
          fc.string().filter((s) => !s.includes('=')),
          fc.string().map((s) => `=${s}`),
        ),
        (ps, bad) => {
          const words = [...ps.map(([k, v]) => `${k}=${v}`), bad];
          expect(() => paramsOf(words)).toThrow(StackError);
          expect(() => paramsOf(words)).toThrow(`not "${bad}"`);
        },
      ),
      RUNS.small,
    );
  });
});

describe('commandOf and faultOf, then parseCommand (properties)', () => {
  const typeWord = fc.oneof(
    fc.constantFrom(
      ...COMMAND_TYPES,
      ...COMMAND_TYPES.map((t) => t.toLowerCase()),
      'constructor',
      '__proto__',
      'toString',
    ),
    fc.string({ maxLength: 20 }),
  );
  const faultWord = fc.oneof(
    fc.constantFrom(...FAULT_KINDS, 'constructor', '__proto__', 'Overheat'),
    fc.string({ maxLength: 20 }),
  );
  const params = pairs.map((ps) => paramsOf(ps.map(([k, v]) => `${k}=${v}`)));

  it('commandOf: a command of a known type (never INJECT_FAULT, never a type taken from --param), or a StackError', () => {
    fc.assert(
      fc.property(typeWord, params, (type, p) => {
        const command = built(() => commandOf(type, p));
        if (!command) return;
        expect(COMMAND_TYPES).toContain(command.type);
        expect(command.type).not.toBe('INJECT_FAULT');
        expect(command.type).toBe(type.toUpperCase());
        // What the CLI built, the machine's parser judges without throwing.
        const r = parseCommand(command);
        if (!r.ok) expectSentence(r.reason);
      }),
      RUNS.small,
    );
  });

  // fails before the own-property fix: `--param field=constructor` (or toString, valueOf…) is
  // looked up in the sensor field alias table with `[]`, finds Object.prototype's member, and the
  // INJECT_FAULT is accepted with a function as its field instead of being refused.
  it('faultOf: an INJECT_FAULT of a known fault, or a StackError; parseCommand accepts only sane fields', () => {
    // Mostly the parameters of the sensor faults, so that whole commands get through often.
    const sensorParams = fc
      .array(fc.tuple(fc.constantFrom('field', 'durationS', 'sigma', 'ratePerMin'), value), { maxLength: 3 })
      .map((ps) => paramsOf(ps.map(([k, v]) => `${k}=${v}`)));
    fc.assert(
      fc.property(
        fc.oneof(faultWord, fc.constantFrom('sensor_stuck', 'sensor_drift', 'noise_burst')),
        fc.oneof(params, sensorParams),
        (fault, p) => {
          const command = built(() => faultOf(fault, p));
          if (!command) return;
          expect(FAULT_KINDS).toContain(command.fault);
          const r = parseCommand(command);
          if (!r.ok) {
            expectSentence(r.reason);
            return;
          }
          if (
            r.command.type === 'INJECT_FAULT' &&
            'field' in r.command.params &&
            r.command.params.field !== undefined
          )
            expect(SENSOR_FIELDS).toContain(r.command.params.field);
        },
      ),
      RUNS.small,
    );
  });

  it('numbers typed as --param values reach the command as the same numbers', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-6, max: 1e6, noNaN: true }), (rpm) => {
        const r = parseCommand(commandOf('set_speed', paramsOf([`rpm=${rpm}`])));
        expect(r).toEqual({ ok: true, command: { type: 'SET_SPEED', rpm } });
      }),
      RUNS.small,
    );
  });
});

describe('paramsOf: a key named __proto__', () => {
  // `out["__proto__"] = "x"` is ignored by JavaScript: the flag used to be dropped without a word.
  it('keeps --param __proto__=x as a parameter, or refuses it with a sentence', () => {
    fc.assert(
      fc.property(fc.string(), (v) => {
        const params = built(() => paramsOf([`__proto__=${v}`]));
        if (params) expect(Object.hasOwn(params, '__proto__')).toBe(true);
      }),
      { numRuns: 50 },
    );
  });
});
