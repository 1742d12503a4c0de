/**
 * Properties of the duration grammar shared by CLI flags (`--since 15m`, `--for 2h`) and
 * scenario files: one whole number and one unit. Whatever the text, milliseconds or undefined;
 * never a throw, never a fraction, a negative or an unsafe number.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RUNS } from '../test/support/properties.js';
import { formatDuration, parseDuration } from './duration.js';

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const unit = fc.constantFrom(...(Object.keys(UNIT_MS) as (keyof typeof UNIT_MS)[]));

describe('parseDuration (properties)', () => {
  it('never throws on any text; what it accepts is a whole, non-negative, safe number of ms', () => {
    const text = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc
        .tuple(
          fc.oneof(fc.integer().map(String), fc.double().map(String), fc.string()),
          fc.string({ maxLength: 3 }),
        )
        .map(([n, u]) => `${n}${u}`),
      fc.nat({ max: 100_000 }).map((n) => `${'9'.repeat(n)}s`),
      fc.constantFrom(
        '1e3s',
        '0x10s',
        '١٢s',
        '１s',
        'Infinitys',
        'NaNs',
        '-0s',
        '+5m',
        '5 m',
        '5M',
        '5S',
        '05s',
      ),
    );
    fc.assert(
      fc.property(text, (t) => {
        const ms = parseDuration(t);
        if (ms === undefined) return;
        expect(Number.isSafeInteger(ms)).toBe(true);
        expect(ms).toBeGreaterThanOrEqual(0);
        expect(ms).toBeLessThanOrEqual(999_999 * UNIT_MS.d);
      }),
      RUNS.pure,
    );
  });

  it('reads every whole number of up to six digits with a unit, with or without surrounding blanks', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 999_999 }),
        unit,
        fc.stringMatching(/^[ \t\n]{0,3}$/),
        fc.stringMatching(/^[ \t\n]{0,3}$/),
        (n, u, before, after) => {
          expect(parseDuration(`${before}${n}${u}${after}`)).toBe(n * UNIT_MS[u]);
        },
      ),
      RUNS.pure,
    );
  });

  it('refuses fractions, signs, exponents, several units and numbers of more than six digits', () => {
    const bad = fc.oneof(
      fc
        .tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 1, max: 9 }), unit)
        .map(([a, b, u]) => `${a}.${b}${u}`),
      fc.tuple(fc.constantFrom('-', '+'), fc.nat({ max: 999 }), unit).map(([s, n, u]) => `${s}${n}${u}`),
      fc
        .tuple(fc.nat({ max: 99 }), unit, fc.nat({ max: 99 }), unit)
        .map(([a, u, b, v]) => `${a}${u}${b}${v}`),
      fc
        .tuple(fc.integer({ min: 1_000_000, max: Number.MAX_SAFE_INTEGER }), unit)
        .map(([n, u]) => `${n}${u}`),
      fc.tuple(fc.integer({ min: 1, max: 9 }), unit).map(([n, u]) => `${n}e3${u}`),
    );
    fc.assert(
      fc.property(bad, (t) => {
        expect(parseDuration(t)).toBeUndefined();
      }),
      RUNS.pure,
    );
  });
});

describe('formatDuration (properties)', () => {
  it('never throws on any number, and gives units in order that add up to the whole seconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_999 * UNIT_MS.d }), (ms) => {
        const text = formatDuration(ms);
        expect(text).toMatch(/^(\d+d)?(\d+h)?(\d+m)?(\d+s)?$/);
        const parts = [...text.matchAll(/(\d+)([dhms])/g)];
        const total = parts.reduce(
          (sum, [, n, u]) => sum + Number(n) * UNIT_MS[u as keyof typeof UNIT_MS],
          0,
        );
        expect(total).toBe(Math.round(ms / 1000) * 1000);
        // Each part that is a single unit reads back as the same duration.
        for (const [part] of parts) expect(parseDuration(part)).toBe(formatPartMs(part));
      }),
      RUNS.pure,
    );
  });

  it('round-trips a single unit: parseDuration(formatDuration(n·unit)) is n·unit when it is one unit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_999 }), unit, (n, u) => {
        const ms = n * UNIT_MS[u];
        const text = formatDuration(ms);
        if (/^\d+[dhms]$/.test(text) && Number(text.slice(0, -1)) <= 999_999)
          expect(parseDuration(text)).toBe(ms);
      }),
      RUNS.pure,
    );
  });

  it('never throws on hostile numbers (NaN, infinities, negatives) and always answers a string', () => {
    fc.assert(
      fc.property(fc.double(), (x) => {
        expect(typeof formatDuration(x)).toBe('string');
      }),
      RUNS.small,
    );
  });
});

function formatPartMs(part: string): number {
  return Number(part.slice(0, -1)) * UNIT_MS[part.slice(-1) as keyof typeof UNIT_MS];
}
