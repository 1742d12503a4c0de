import { describe, expect, it } from 'vitest';
import {
  addSums,
  emptySums,
  type KpiOptions,
  type KpiReading,
  type KpiState,
  type KpiWindow,
  kpiAlarm,
  kpiFigures,
  kpiReading,
  newKpiState,
  windowStart,
} from './kpi.js';

const HOUR = 3_600_000;
const O: KpiOptions = { idealRatePerS: 1.2, maxGapMs: 5000, shiftOffsetMs: 6 * HOUR };
/** 2024-01-15 10:05:00 UTC: a minute boundary, not an hour one. */
const T0 = Date.UTC(2024, 0, 15, 10, 5, 0);

function feed(s: KpiState, readings: KpiReading[], o: KpiOptions = O): KpiWindow[] {
  return readings.flatMap((r) => kpiReading(s, r, o));
}

const reading = (ts: number, state: string, productionCount = 0, goodCount = 0): KpiReading => ({
  ts,
  state,
  productionCount,
  goodCount,
});

describe('KPIs over a scripted machine history', () => {
  // One reading a second, at T0 + k s, k = 0..165. The state of reading k holds over [k, k+1):
  //   k   0..59   RUNNING       60 s
  //   k  60..74   IDLE          15 s
  //   k  75..84   FAULT         10 s   (one failure, at k = 75; alarms at 75 s and 75.5 s)
  //   k  85..104  MAINTENANCE   20 s   (planned downtime)
  //   k 105..165  RUNNING       60 s   (intervals 105..164; reading 105 completes the repair)
  // One part per running second: productionCount(k) = running seconds before k; every tenth part
  // is scrap: goodCount = made − floor(made / 10).
  const stateAt = (k: number) =>
    k < 60 ? 'RUNNING' : k < 75 ? 'IDLE' : k < 85 ? 'FAULT' : k < 105 ? 'MAINTENANCE' : 'RUNNING';
  const s = newKpiState();
  const closed: KpiWindow[] = [];
  let made = 0;
  for (let k = 0; k <= 165; k++) {
    closed.push(...kpiReading(s, reading(T0 + k * 1000, stateAt(k), made, made - Math.floor(made / 10)), O));
    if (k === 75) {
      closed.push(...kpiAlarm(s, T0 + 75_000, O));
      closed.push(...kpiAlarm(s, T0 + 75_500, O));
    }
    if (stateAt(k) === 'RUNNING') made += 1;
  }

  it('gives the hour (and the shift) its figures', () => {
    const hour = s.windows['1h']!;
    expect(hour.start).toBe(Date.UTC(2024, 0, 15, 10));
    expect(s.windows['8h']!.start).toBe(Date.UTC(2024, 0, 15, 6));
    expect(s.windows['8h']!.sums).toEqual(hour.sums);
    // APT = 60 + 60 = 120 s; PBT = APT + IDLE 15 + FAULT 10 = 145 s; planned downtime 20 s.
    expect(hour.sums).toMatchObject({ aptMs: 120_000, pbtMs: 145_000, plannedDownMs: 20_000 });
    // made = 120 (one per running second), good = 120 − 12 = 108, ideal = 120 s × 1.2/s = 144.
    expect(hour.sums).toMatchObject({ made: 120, good: 108, failures: 1, repairs: 1, alarms: 2 });
    expect(hour.sums.idealMade).toBeCloseTo(144, 9);
    // Repair: FAULT entered at 75 s, RUNNING again at 105 s (through MAINTENANCE) = 30 s.
    expect(hour.sums.repairMs).toBe(30_000);
    expect(hour.lastTs).toBe(T0 + 165_000);

    // The hour is still open: spanMs = the time covered so far, from 10:00 to 10:07:45 = 465 s.
    expect(hour.lastTs - hour.start).toBe(465_000);
    const f = kpiFigures(hour.sums, hour.lastTs - hour.start);
    expect(f.availability).toBeCloseTo(120 / 145, 12); // 0.8276
    expect(f.performance).toBeCloseTo(120 / 144, 12); // 0.8333
    expect(f.quality).toBeCloseTo(108 / 120, 12); // 0.9
    expect(f.oee).toBeCloseTo((120 / 145) * (120 / 144) * 0.9, 12); // 0.6207
    expect(f.mtbfS).toBeCloseTo(120, 12); // 120 s of running, 1 failure
    expect(f.mttrS).toBeCloseTo(30, 12);
    // 2 alarms in 465 s: 2 × 3600 / 465 = 15.48 per hour.
    expect(f.alarmsPerHour).toBeCloseTo(15.483_871, 6);
  });

  it('closes each minute once, with its own share, and the minutes add up to the hour', () => {
    expect(closed.map((w) => [w.size, w.start])).toEqual([
      ['1m', T0],
      ['1m', T0 + 60_000],
    ]);
    const [m0, m1] = closed as [KpiWindow, KpiWindow];
    // Minute 0: intervals 0..59, all RUNNING. Readings 1..59 fall in it (reading 60 and the part it
    // reports belong to minute 1): made 59, good 59 − 5 = 54; ideal 60 s × 1.2 = 72.
    expect(m0.sums).toMatchObject({ aptMs: 60_000, pbtMs: 60_000, plannedDownMs: 0, made: 59, good: 54 });
    expect(m0.sums.idealMade).toBeCloseTo(72, 9);
    expect(m0.lastTs).toBe(T0 + 59_000);
    // Minute 1: intervals 60..119 = IDLE 15 s, FAULT 10 s, MAINTENANCE 20 s, RUNNING 105..119 = 15 s.
    // Parts: readings 60 and 106..119 report one each = 15; good: 74 − 7 − 54 = 13.
    expect(m1.sums).toMatchObject({
      aptMs: 15_000,
      pbtMs: 40_000,
      plannedDownMs: 20_000,
      made: 15,
      good: 13,
      failures: 1,
      repairs: 1,
      repairMs: 30_000,
      alarms: 2,
    });
    expect(kpiFigures(m1.sums, 60_000).alarmsPerHour).toBeCloseTo(120, 9); // 2 in one minute
    expect(kpiFigures(m1.sums, 60_000).mtbfS).toBeCloseTo(15, 9);

    const total = [m0, m1, s.windows['1m']!].reduce((acc, w) => addSums(acc, w.sums), emptySums());
    const { idealMade, ...rest } = total;
    const { idealMade: hourIdeal, ...hourRest } = s.windows['1h']!.sums;
    expect(rest).toEqual(hourRest);
    expect(idealMade).toBeCloseTo(hourIdeal, 9);
  });
});

describe('window boundaries', () => {
  it('splits an interval across a minute boundary exactly', () => {
    const s = newKpiState();
    const o = { ...O, idealRatePerS: 2 };
    expect(kpiReading(s, reading(T0 + 58_400, 'IDLE'), o)).toEqual([]);
    expect(kpiReading(s, reading(T0 + 59_400, 'RUNNING'), o)).toEqual([]);
    const closed = kpiReading(s, reading(T0 + 60_700, 'RUNNING', 3, 3), o);
    // Only the minute closes: 10:06 is neither an hour nor a shift boundary.
    expect(closed.map((w) => w.size)).toEqual(['1m']);
    const m0 = closed[0]!;
    // [58.4, 59.4) IDLE 1000 ms; [59.4, 60.7) RUNNING: 600 ms before the boundary, 700 ms after.
    expect(m0).toMatchObject({ start: T0, lastTs: T0 + 59_400 });
    expect(m0.sums).toMatchObject({ pbtMs: 1600, aptMs: 600, made: 0 });
    expect(m0.sums.idealMade).toBeCloseTo(0.6 * 2, 12);
    const m1 = s.windows['1m']!;
    expect(m1).toMatchObject({ start: T0 + 60_000, lastTs: T0 + 60_700 });
    expect(m1.sums).toMatchObject({ pbtMs: 700, aptMs: 700, made: 3, good: 3 });
    expect(m1.sums.idealMade).toBeCloseTo(0.7 * 2, 12);
    expect(s.windows['1h']!.sums).toMatchObject({ pbtMs: 2300, aptMs: 1300 });
  });

  it('fills and closes the minutes an interval crosses whole', () => {
    const s = newKpiState();
    const o = { ...O, maxGapMs: 5 * 60_000 };
    kpiReading(s, reading(T0 + 30_000, 'RUNNING'), o);
    const closed = kpiReading(s, reading(T0 + 150_000, 'IDLE'), o);
    // 120 s of RUNNING: 30 s in minute 0, all 60 s of minute 1, 30 s in minute 2 (still open).
    expect(closed.map((w) => [w.start, w.sums.aptMs])).toEqual([
      [T0, 30_000],
      [T0 + 60_000, 60_000],
    ]);
    expect(s.windows['1m']!.sums.aptMs).toBe(30_000);
  });

  it('aligns shifts to 06:00, 14:00 and 22:00 UTC', () => {
    const at = (d: number, h: number, m = 0, sec = 0) => Date.UTC(2024, 0, d, h, m, sec);
    expect(windowStart('8h', at(15, 5, 59, 59), 6 * HOUR)).toBe(at(14, 22));
    expect(windowStart('8h', at(15, 6), 6 * HOUR)).toBe(at(15, 6));
    expect(windowStart('8h', at(15, 13, 59, 59), 6 * HOUR)).toBe(at(15, 6));
    expect(windowStart('8h', at(15, 14), 6 * HOUR)).toBe(at(15, 14));
    expect(windowStart('8h', at(15, 23, 30), 6 * HOUR)).toBe(at(15, 22));
    expect(windowStart('8h', at(15, 5, 59, 59), 0)).toBe(at(15, 0));
    expect(windowStart('1h', at(15, 5, 59, 59), 6 * HOUR)).toBe(at(15, 5));
    expect(windowStart('1m', at(15, 5, 59, 59), 6 * HOUR)).toBe(at(15, 5, 59));

    const s = newKpiState();
    kpiReading(s, reading(at(15, 5, 59, 58), 'RUNNING'), O);
    expect(kpiReading(s, reading(at(15, 5, 59, 59), 'RUNNING'), O)).toEqual([]);
    const closed = kpiReading(s, reading(at(15, 6), 'RUNNING'), O);
    // 06:00:00 ends the minute, the hour and the night shift at once; each got both seconds.
    expect(closed.map((w) => [w.size, w.start, w.sums.aptMs])).toEqual([
      ['1m', at(15, 5, 59), 2000],
      ['1h', at(15, 5), 2000],
      ['8h', at(14, 22), 2000],
    ]);
    expect(s.windows['8h']).toMatchObject({ start: at(15, 6), lastTs: at(15, 6) });
    expect(s.windows['8h']!.sums).toEqual(emptySums());
  });

  it('lets an alarm close a minute, giving it the time up to its end', () => {
    const s = newKpiState();
    kpiReading(s, reading(T0 + 59_000, 'RUNNING'), O);
    const closed = kpiAlarm(s, T0 + 60_200, O);
    expect(closed.map((w) => [w.size, w.sums.aptMs, w.sums.alarms])).toEqual([['1m', 1000, 0]]);
    kpiReading(s, reading(T0 + 60_500, 'RUNNING'), O);
    // The new minute gets only its own 500 ms, not the 1500 ms since the last reading.
    expect(s.windows['1m']!.sums).toMatchObject({ aptMs: 500, alarms: 1 });
    expect(s.windows['1h']!.sums).toMatchObject({ aptMs: 1500, alarms: 1 });
  });
});

describe('unknown time and bad counters', () => {
  it('attributes neither time nor counts over a gap longer than maxGapMs', () => {
    const s = newKpiState();
    kpiReading(s, reading(T0, 'RUNNING', 0), O);
    kpiReading(s, reading(T0 + 1000, 'RUNNING', 1), O);
    kpiReading(s, reading(T0 + 7000, 'RUNNING', 7), O); // 6 s > maxGapMs 5 s
    expect(s.windows['1m']!.sums).toMatchObject({ aptMs: 1000, pbtMs: 1000, made: 1 });
    // A gap across minutes: the silent minute in between is skipped, not returned.
    const closed = kpiReading(s, reading(T0 + 130_000, 'RUNNING', 130), O);
    expect(closed.map((w) => [w.start, w.sums.aptMs, w.sums.made])).toEqual([[T0, 1000, 1]]);
    expect(s.windows['1m']).toMatchObject({ start: T0 + 120_000, lastTs: T0 + 130_000 });
    expect(s.windows['1m']!.sums).toEqual(emptySums());
    // Counting resumes from the reading after the gap.
    kpiReading(s, reading(T0 + 131_000, 'RUNNING', 131), O);
    expect(s.windows['1m']!.sums).toMatchObject({ aptMs: 1000, made: 1 });
  });

  it('adds nothing for a counter reset', () => {
    const s = newKpiState();
    feed(s, [
      reading(T0, 'RUNNING', 100, 90),
      reading(T0 + 1000, 'RUNNING', 101, 91), // +1
      reading(T0 + 2000, 'RUNNING', 2, 2), // reset: +0
      reading(T0 + 3000, 'RUNNING', 3, 2), // +1 made, +0 good
    ]);
    expect(s.windows['1m']!.sums).toMatchObject({ made: 2, good: 1, aptMs: 3000 });
  });

  it('times a repair from the first FAULT until RUNNING, across a relapse', () => {
    const s = newKpiState();
    feed(s, [
      reading(T0, 'FAULT'), // failure 1, repair clock starts
      reading(T0 + 1000, 'FAULT'), // same failure
      reading(T0 + 2000, 'IDLE'),
      reading(T0 + 3000, 'FAULT'), // failure 2, before the machine ran again
      reading(T0 + 4000, 'MAINTENANCE'),
      reading(T0 + 6000, 'RUNNING'), // one repair: 6 s since the first FAULT
    ]);
    expect(s.windows['1m']!.sums).toMatchObject({ failures: 2, repairs: 1, repairMs: 6000 });
    expect(s.failureSince).toBeNull();
  });

  it('ignores a reading not later than the last', () => {
    const s = newKpiState();
    feed(s, [reading(T0, 'RUNNING', 0), reading(T0 + 1000, 'FAULT', 1)]);
    const before = JSON.stringify(s);
    expect(kpiReading(s, reading(T0 + 1000, 'RUNNING', 5), O)).toEqual([]);
    expect(kpiReading(s, reading(T0 + 500, 'IDLE', 9), O)).toEqual([]);
    expect(JSON.stringify(s)).toBe(before);
  });

  it('has no figures for empty sums, and caps performance at 1', () => {
    expect(kpiFigures(emptySums(), 0)).toEqual({
      availability: null,
      performance: null,
      quality: null,
      oee: null,
      mtbfS: null,
      mttrS: null,
      alarmsPerHour: 0,
    });
    const f = kpiFigures(
      { ...emptySums(), pbtMs: 1000, aptMs: 1000, made: 10, good: 10, idealMade: 8 },
      1000,
    );
    expect(f.performance).toBe(1);
    expect(f.oee).toBe(1);
  });
});

describe('persistence', () => {
  it('gives the same windows when the state goes through JSON between any two events', () => {
    // A deterministic, varied history: jittered ticks, gaps, resets, faults and alarms.
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const states = ['RUNNING', 'RUNNING', 'RUNNING', 'IDLE', 'FAULT', 'MAINTENANCE'];
    type Event = { alarm: number } | { reading: KpiReading };
    const events: Event[] = [];
    let ts = T0 - 3 * HOUR;
    let state = 'RUNNING';
    let count = 0;
    for (let k = 0; k < 20_000; k++) {
      const u = rnd();
      ts += u < 0.002 ? 200_000 : u < 0.01 ? 8000 : 700 + Math.floor(rnd() * 600);
      if (rnd() < 0.03) state = states[Math.floor(rnd() * states.length)]!;
      if (state === 'RUNNING') count += 1;
      if (rnd() < 0.001) count = 0;
      events.push({ reading: reading(ts, state, count, count - Math.floor(count / 7)) });
      if (rnd() < 0.02) events.push({ alarm: ts + Math.floor(rnd() * 900) });
    }
    const apply = (s: KpiState, e: Event) =>
      'alarm' in e ? kpiAlarm(s, e.alarm, O) : kpiReading(s, e.reading, O);

    const straight = newKpiState();
    const closedStraight = events.flatMap((e) => apply(straight, e));
    let restored = newKpiState();
    const closedRestored = events.flatMap((e) => {
      restored = JSON.parse(JSON.stringify(restored)) as KpiState;
      return apply(restored, e);
    });
    expect(closedStraight.length).toBeGreaterThan(300);
    expect(closedRestored).toEqual(closedStraight);
    expect(restored).toEqual(straight);
  });
});
