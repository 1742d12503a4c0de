import { describe, expect, it } from 'vitest';
import { Metrics, quantile } from './runtime.js';

describe('Metrics', () => {
  it('exposes counters, gauges and histograms as Prometheus text', () => {
    const m = new Metrics('bridge', 'bridge-1');
    m.inc('received', 3);
    m.set('pending', 2);
    m.observe('endToEndMs', 7);
    const text = m.prometheus();
    expect(text).toContain('factory_bridge_received_total{instance="bridge-1"} 3');
    expect(text).toContain('factory_bridge_pending{instance="bridge-1"} 2');
    expect(text).toContain('factory_bridge_end_to_end_ms_bucket{instance="bridge-1",le="10"} 1');
    expect(text).toContain('factory_bridge_end_to_end_ms_bucket{instance="bridge-1",le="5"} 0');
    expect(text).toContain('factory_bridge_end_to_end_ms_count{instance="bridge-1"} 1');
  });

  it('estimates quantiles from the buckets', () => {
    const m = new Metrics('writer', 'w');
    for (let i = 1; i <= 100; i++) m.observe('lat', i);
    const h = m.histogram('lat');
    expect(quantile(h, 0.5)).toBeGreaterThan(25);
    expect(quantile(h, 0.5)).toBeLessThanOrEqual(75);
    expect(quantile(h, 0.99)).toBeGreaterThan(75);
    expect(quantile(h, 0.99)).toBeLessThanOrEqual(100);
    expect(quantile([], 0.5)).toBeNull();
  });

  it('keeps latencies of minutes apart instead of piling them into the last bucket', () => {
    const m = new Metrics('writer', 'w');
    for (const ms of [45_000, 90_000, 200_000, 400_000]) m.observe('lat', ms);
    const h = m.histogram('lat');
    expect(h.find((b) => b.le === 60_000)?.count).toBe(1);
    expect(h.find((b) => b.le === 600_000)?.count).toBe(4);
    expect(quantile(h, 0.5)).toBeGreaterThan(60_000);
    expect(quantile(h, 0.5)).toBeLessThanOrEqual(120_000);
  });
});
