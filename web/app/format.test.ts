import { describe, expect, it } from 'vitest';
import { age, amount, duration, NONE, percent } from './format.js';

describe('formatting', () => {
  it('shows fractions as percentages and unknowns as a dash', () => {
    expect(percent(0.8754)).toBe('87.5 %');
    expect(percent(null)).toBe(NONE);
    expect(percent(Number.NaN)).toBe(NONE);
  });

  it('shows durations in their two largest units', () => {
    expect(duration(42)).toBe('42 s');
    expect(duration(125)).toBe('2 min 5 s');
    expect(duration(3600)).toBe('1 h');
    expect(duration(3 * 3600 + 240)).toBe('3 h 4 min');
    expect(duration(26 * 3600)).toBe('1 d 2 h');
    expect(duration(null)).toBe(NONE);
  });

  it('shows ages relative to now', () => {
    expect(age(10_000, 13_000)).toBe('3 s ago');
    expect(age(10_000, 10_100)).toBe('just now');
    expect(age(null, 1)).toBe(NONE);
  });

  it('shows amounts with digits only where they matter', () => {
    expect(amount(12345)).toBe('12,345');
    expect(amount(2.345)).toBe('2.3');
    expect(amount(1234.5)).toBe('1,235');
  });
});
