import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.js';

describe('durations', () => {
  it('parse one whole number and one unit', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('4m')).toBe(240_000);
    expect(parseDuration(' 2h ')).toBe(7_200_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('0s')).toBe(0);
    for (const bad of ['5 minutes', '1.5h', '4m30s', '90', '-1s', ''])
      expect(parseDuration(bad), bad).toBeUndefined();
  });

  it('format for people, largest units first', () => {
    expect(formatDuration(270_000)).toBe('4m30s');
    expect(formatDuration(604_800_000)).toBe('7d');
    expect(formatDuration(90_061_000)).toBe('1d1h1m1s');
    expect(formatDuration(0)).toBe('0s');
  });
});
