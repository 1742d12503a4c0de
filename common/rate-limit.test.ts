import { describe, expect, it } from 'vitest';
import { KeyedRateLimit } from './rate-limit.js';

describe('KeyedRateLimit', () => {
  it('lets a burst through, then the rate, per key, without one key spending another', () => {
    let now = 0;
    const limit = new KeyedRateLimit(10, 20, () => now);
    const taken = (key: string, n: number) =>
      Array.from({ length: n }, () => limit.take(key)).filter(Boolean).length;
    expect(taken('line-1', 100)).toBe(20);
    expect(taken('line-2', 5)).toBe(5);
    now += 1_000;
    expect(taken('line-1', 100)).toBe(10);
  });

  it('forgets the oldest key beyond its bound', () => {
    const limit = new KeyedRateLimit(1, 1, () => 0, 2);
    expect(limit.take('a')).toBe(true);
    expect(limit.take('b')).toBe(true);
    expect(limit.take('c')).toBe(true);
    // "a" was forgotten: a fresh bucket.
    expect(limit.take('a')).toBe(true);
  });
});
