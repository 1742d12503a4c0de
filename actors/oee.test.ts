import { describe, expect, it } from 'vitest';
import { newOeeWindow, recordInterval, updateFactors } from './oee.js';
import type { MachineState, OeeParams } from './params.js';
import { uniform } from './random.js';

const P: OeeParams = { bucketS: 60, windowBuckets: 5 };
const IDEAL = 1; // parts per second

interface Interval {
  ts: number;
  state: MachineState;
  dtMs: number;
  made: number;
  good: number;
}

/** OEE straight from the definition: every interval whose bucket is in the window. */
function bruteForce(intervals: Interval[], nowTs: number) {
  const bucketMs = P.bucketS * 1000;
  const newest = Math.floor(nowTs / bucketMs);
  let pbt = 0;
  let apt = 0;
  let made = 0;
  let good = 0;
  for (const i of intervals) {
    if (Math.floor(i.ts / bucketMs) <= newest - P.windowBuckets) continue;
    if (i.state !== 'MAINTENANCE') pbt += i.dtMs;
    if (i.state === 'RUNNING') apt += i.dtMs;
    made += i.made;
    good += i.good;
  }
  const availability = pbt > 0 ? Math.min(1, apt / pbt) : 0;
  const performance = apt > 0 ? Math.min(1, made / ((apt / 1000) * IDEAL)) : 0;
  const quality = made > 0 ? good / made : 1;
  return { availability, performance, quality, oee: availability * performance * quality };
}

describe('rolling OEE window', () => {
  it('matches the definition tick by tick, across bucket edges and gaps in time', () => {
    const src = { rng: 3 };
    const rnd = () => uniform(src);
    const states: MachineState[] = ['RUNNING', 'RUNNING', 'RUNNING', 'IDLE', 'MAINTENANCE', 'FAULT'];
    let ts = 1_700_000_000_000;
    const w = newOeeWindow(P, ts);
    const intervals: Interval[] = [];
    for (let k = 0; k < 5000; k++) {
      // Mostly one-second ticks; now and then a gap of minutes, longer than the whole window.
      const dtMs = rnd() < 0.002 ? Math.floor(rnd() * 600_000) : 1000;
      ts += dtMs;
      const state = states[Math.floor(rnd() * states.length)]!;
      const made = state === 'RUNNING' ? Math.floor(rnd() * 2) : 0;
      const good = made > 0 && rnd() < 0.9 ? made : 0;
      recordInterval(w, P, ts, state, dtMs, made, good);
      updateFactors(w, IDEAL);
      intervals.push({ ts, state, dtMs, made, good });
      const expected = bruteForce(intervals, ts);
      if (Math.abs(w.oee - expected.oee) > 1e-12 || Math.abs(w.availability - expected.availability) > 1e-12)
        throw new Error(`tick ${k}: ${JSON.stringify(w)} ≠ ${JSON.stringify(expected)}`);
      expect(w.performance).toBeCloseTo(expected.performance, 12);
      expect(w.quality).toBeCloseTo(expected.quality, 12);
    }
  });

  it('is all zero availability in a window of maintenance only, with quality 1 for no parts', () => {
    const w = newOeeWindow(P, 0);
    recordInterval(w, P, 1000, 'MAINTENANCE', 1000, 0, 0);
    updateFactors(w, IDEAL);
    expect(w).toMatchObject({ availability: 0, performance: 0, quality: 1, oee: 0 });
  });
});
