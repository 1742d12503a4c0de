import { describe, expect, it } from 'vitest';
import { Outstanding } from './outstanding.js';

describe('Outstanding', () => {
  it('reports the lowest unsettled seq while settlements arrive out of order', () => {
    const o = new Outstanding();
    for (let n = 5; n <= 9; n++) o.emitted('M-1', n);
    expect(o.lowest('M-1')).toBe(5);
    o.settled('M-1', 6);
    o.settled('M-1', 8);
    expect(o.lowest('M-1')).toBe(5);
    o.settled('M-1', 5);
    expect(o.lowest('M-1')).toBe(7);
    o.settled('M-1', 7);
    o.settled('M-1', 9);
    expect(o.lowest('M-1')).toBeUndefined();
    expect(o.count('M-1')).toBe(0);
  });

  it('ignores settlements of machines and seqs it never saw', () => {
    const o = new Outstanding();
    o.emitted('M-1', 10);
    o.settled('M-2', 10);
    o.settled('M-1', 3);
    expect(o.lowest('M-1')).toBe(10);
  });

  it('stays compact over a long run', () => {
    const o = new Outstanding();
    for (let n = 1; n <= 100_000; n++) {
      o.emitted('M-1', n);
      if (n > 10) o.settled('M-1', n - 10);
    }
    expect(o.lowest('M-1')).toBe(99_991);
    expect(o.count('M-1')).toBe(10);
  });
});
