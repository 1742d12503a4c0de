import { describe, expect, it } from 'vitest';
import { FLOOD, floodCommand, floodRaise, floodTick, newFloodState } from './flood.js';

const T0 = Date.UTC(2026, 10, 24, 8);
const MIN = 60_000;

describe('flood detection per line', () => {
  it('the eleventh alarm within 10 minutes raises one flood alarm; it clears once calm', () => {
    const s = newFloodState('plant-1', 'line-2');
    const changes = [];
    for (let i = 0; i < 20; i++) {
      const c = floodRaise(s, T0 + i * 20_000);
      if (c) changes.push(c);
    }
    expect(changes.map((c) => c.transition)).toEqual(['RAISED']);
    // Raised at the 11th alarm (i = 10, 200 s in).
    expect(changes[0]!.alarmId).toBe(`plant-1/line-2.flood.${T0 + 200_000}`);
    expect(changes[0]!.alarm.value).toBe(FLOOD.count + 1);
    // No more alarms: the window empties; it clears when at most 5 remain in the last 10 minutes.
    const later = [];
    for (let m = 7; m <= 20; m++) later.push(...floodTick(s, T0 + m * MIN));
    expect(later.map((c) => c.transition)).toEqual(['CLEARED']);
    // The last 20 raises were at 0-380 s; at most 5 remain within 10 minutes from 600 + 300 s on.
    expect(later[0]!.ts).toBe(T0 + 15 * MIN);
    const ack = floodCommand(s, changes[0]!.alarmId, 'acknowledge', 'ana', T0 + 16 * MIN);
    expect(ack.ok && ack.change.alarm.state).toBe('NORMAL');
  });

  it('ten alarms in 10 minutes are no flood', () => {
    const s = newFloodState('plant-1', 'line-1');
    for (let i = 0; i < 30; i++) expect(floodRaise(s, T0 + i * 61_000)).toBeNull();
  });
});
