import { describe, expect, it } from 'vitest';
import { Metrics } from './runtime.js';

describe('Metrics.rates', () => {
  it('gives each counter per second over the sampled window, gauges excluded', () => {
    const m = new Metrics('bridge', 'b');
    expect(m.rates()).toEqual({});
    for (let s = 0; s <= 20; s++) {
      m.inc('received', 50);
      m.set('pending', s);
      m.sample(s * 1_000);
    }
    // Kept: the last 10 s (11 samples); 50 per second throughout.
    expect(m.rates()).toEqual({ received: 50 });
  });
});
