import { describe, expect, it } from 'vitest';
import { FlowWatch, lagGrowing } from './flow.js';

const status = (published: number) => Buffer.from(JSON.stringify({ online: true, published }));

describe('FlowWatch', () => {
  it('sums what every gateway published within the window, from its heartbeats', () => {
    let now = 0;
    const f = new FlowWatch(() => now);
    for (let t = 0; t <= 30_000; t += 5_000) {
      now = t;
      f.observe('factory/p/l1/status/gw-1', status(t / 10)); // 100/s
      f.observe('factory/p/l2/status/gw-2', status(t / 100)); // 10/s
    }
    expect(f.publishedWithin(20_000)).toBe(2_000 + 200);
    expect(f.watchingFor()).toBe(30_000);
  });

  it('counts a restarted gateway from zero, and ignores stale and malformed statuses', () => {
    let now = 0;
    const f = new FlowWatch(() => now);
    f.observe('factory/p/l/status/gw', status(5_000));
    now = 10_000;
    f.observe('factory/p/l/status/gw', status(40)); // a new process
    f.observe('factory/p/l/status/gw-old', status(99)); // one sample: no delta
    f.observe('factory/p/l/status/bad', Buffer.from('{'));
    f.observe('factory/p/l/M-1/telemetry', status(1_000_000));
    expect(f.publishedWithin(20_000)).toBe(40);
    now = 100_000;
    expect(f.publishedWithin(20_000)).toBe(0); // nobody has spoken for a while
  });
});

describe('lagGrowing', () => {
  const series = (lags: number[], every = 5_000) => lags.map((lag, i) => ({ at: i * every, lag }));
  const end = (lags: number[]) => (lags.length - 1) * 5_000;

  it('is true only for a lag that never shrank over the whole window and ended high', () => {
    const rising = [100, 400, 900, 1_500, 2_000, 2_600, 3_000];
    expect(lagGrowing(series(rising), 30_000, end(rising))).toBe(true);
    const sawtooth = [100, 4_000, 200, 3_800, 150, 4_100, 300];
    expect(lagGrowing(series(sawtooth), 30_000, end(sawtooth))).toBe(false);
    const small = [1, 2, 3, 4, 5, 6, 7];
    expect(lagGrowing(series(small), 30_000, end(small))).toBe(false);
    const flat = [5_000, 5_000, 5_000, 5_000, 5_000, 5_000, 5_000];
    expect(lagGrowing(series(flat), 30_000, end(flat))).toBe(false);
  });

  it('says nothing before it has watched a whole window', () => {
    const short = [100, 2_000, 4_000];
    expect(lagGrowing(series(short), 30_000, end(short))).toBe(false);
  });
});
