import { describe, expect, it } from 'vitest';
import type { Limit } from '../api/schemas.js';
import { limitsBySeries, stateSegments, valueRange } from './series.js';

const limit = (field: string, value: number): Limit => ({
  rule: `${field}-high`,
  field,
  severity: 'high',
  direction: 'above',
  limit: value,
});

describe('machine charts', () => {
  it('puts each limit on the chart of its telemetry field', () => {
    const by = limitsBySeries([
      limit('temperatureC', 85),
      limit('speedRpm', 1500),
      limit('vibrationMmS', 7),
      limit('powerKw', 30),
      limit('oee', 0.5),
    ]);
    expect(by.temperature.map((l) => l.limit)).toEqual([85]);
    expect(by.speed.map((l) => l.limit)).toEqual([1500]);
    expect(by.vibration.map((l) => l.limit)).toEqual([7]);
    expect(by.power.map((l) => l.limit)).toEqual([30]);
  });

  it('cuts the state timeline to the window, each state lasting until the next', () => {
    const states = [
      { t: 50, state: 'IDLE' },
      { t: 200, state: 'FAULT' },
      { t: 120, state: 'RUNNING' },
      { t: 400, state: 'IDLE' },
    ];
    expect(stateSegments(states, 100, 300)).toEqual([
      { from: 100, to: 120, state: 'IDLE' },
      { from: 120, to: 200, state: 'RUNNING' },
      { from: 200, to: 300, state: 'FAULT' },
    ]);
    expect(stateSegments([], 0, 10)).toEqual([]);
  });

  it('widens the y range to show the limits', () => {
    const [low, high] = valueRange(40, 60, [85]);
    expect(low).toBeLessThan(40);
    expect(high).toBeGreaterThan(85);
    expect(valueRange(null, null, [])).toEqual([0, 1]);
    const [flatLow, flatHigh] = valueRange(5, 5, []);
    expect(flatLow).toBeLessThan(5);
    expect(flatHigh).toBeGreaterThan(5);
  });
});
