/**
 * Properties of machine patterns (`*`, `line-2/*`, `M-0009`, `line-1/M-00*`), written by people
 * in scenario files (machines:) and the escalation file (tickets.machines), and matched against
 * every alarm's machine by the workflows' dispatcher. machinePatternProblem never throws; a
 * pattern it accepts builds a matcher that agrees with a plain reference glob.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RUNS } from '../test/support/properties.js';
import { machineMatcher, machinePatternProblem } from './machine-pattern.js';

/** The reference: `*` is any run of characters within one part, everything else is literal (linear time). */
function globMatches(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else return false;
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

const reference = (pattern: string, m: { machineId: string; line: string }) => {
  const [a, b] = pattern.split('/') as [string, string | undefined];
  return b === undefined
    ? globMatches(a, m.machineId)
    : globMatches(a, m.line) && globMatches(b, m.machineId);
};

const idChar = fc.constantFrom(...'ab01-_M'.split(''));
const text = fc.array(idChar, { minLength: 1, maxLength: 12 }).map((cs) => cs.join(''));
/**
 * Parts with at most two `*`: more make the matcher's regular expression backtrack for seconds
 * on a long id (the skipped test at the end).
 */
const part = fc
  .tuple(text, fc.nat({ max: 2 }), fc.array(fc.nat({ max: 12 }), { minLength: 2, maxLength: 2 }))
  .map(([t, stars, at]) => {
    let s = t;
    for (let i = 0; i < stars; i++) {
      const k = at[i]! % (s.length + 1);
      s = `${s.slice(0, k)}*${s.slice(k)}`;
    }
    return s;
  });
const pattern = fc.oneof(
  part,
  fc.tuple(part, part).map(([l, m]) => `${l}/${m}`),
  fc.constant('*'),
);
const machine = fc.record({ machineId: text, line: text });

describe('machine patterns (properties)', () => {
  it('machinePatternProblem never throws; a problem is a sentence that quotes the pattern', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), pattern), (p) => {
        const problem = machinePatternProblem(p);
        if (problem === undefined) {
          expect(() => machineMatcher([p])).not.toThrow();
          return;
        }
        expect(problem).toContain(p);
        expect(() => machineMatcher([p])).toThrow(problem);
      }),
      RUNS.pure,
    );
  });

  it('a pattern matches a machine exactly when the reference glob does', () => {
    fc.assert(
      fc.property(pattern, machine, (p, m) => {
        expect(machineMatcher([p])(m)).toBe(reference(p, m));
      }),
      RUNS.pure,
    );
  });

  it('a list of patterns matches a machine when any of them does; "*" matches every machine', () => {
    fc.assert(
      fc.property(fc.array(pattern, { maxLength: 4 }), machine, (ps, m) => {
        expect(machineMatcher(ps)(m)).toBe(ps.some((p) => reference(p, m)));
        expect(machineMatcher([...ps, '*'])(m)).toBe(true);
      }),
      RUNS.pure,
    );
  });

  it('regular-expression characters in a pattern are refused, never interpreted', () => {
    const special = fc.constantFrom('.', '+', '?', '(', ')', '[', ']', '{', '}', '^', '$', '|', '\\', ' ');
    fc.assert(
      fc.property(text, special, text, (a, s, b) => {
        expect(machinePatternProblem(`${a}${s}${b}`)).toBeDefined();
      }),
      RUNS.pure,
    );
  });

  // Each `*` used to become `.*` in one regular expression, which backtracks polynomially in the
  // id's length with the number of stars: `*a*a*a*a*a*a*b` against 64 "a"s took ~9 s.
  it('matches in linear time, whatever the number of stars', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 10 }), (k) => {
        const started = performance.now();
        machineMatcher([`${'*a'.repeat(k)}*b`])({ machineId: 'a'.repeat(64), line: 'line-1' });
        expect(performance.now() - started).toBeLessThan(50);
      }),
      { numRuns: 10 },
    );
  });
});
