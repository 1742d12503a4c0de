import { describe, expect, it } from 'vitest';
import type { TelemetryV1 } from '../common/telemetry.js';
import type { AlarmEvent } from './events.js';
import { MachineAnalytics, newMachineState } from './machine.js';
import { loadRuleBook } from './rules.js';

/** A seeded generator for test noise (mulberry32). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const book = loadRuleBook();
const rules = book.forType('cnc-mill');
const T0 = Date.UTC(2026, 10, 24, 8, 0, 0);
const info = { machineId: 'M-0001', site: 'plant-1', line: 'line-1', type: 'cnc-mill' };
const opts = {
  kpi: { idealRatePerS: 1, maxGapMs: 30_000, shiftOffsetMs: 6 * 3600_000 },
  maxHoldMs: 3_000,
  floodOf: () => null,
};

/** A healthy running machine's reading at second i, with `over` applied. */
function reading(i: number, over: Partial<TelemetryV1> = {}, rnd = mulberry32(i)): TelemetryV1 {
  return {
    v: 1,
    site: 'plant-1',
    line: 'line-1',
    machineId: 'M-0001',
    ts: T0 + i * 1000,
    seq: i + 1,
    state: 'RUNNING',
    temperatureC: Math.round((60 + (rnd() - 0.5) * 0.6) * 100) / 100,
    speedRpm: Math.round(1000 + (rnd() - 0.5) * 4),
    vibrationMmS: Math.round((1.8 + (rnd() - 0.5) * 0.2) * 100) / 100,
    powerKw: 9,
    productionCount: i * 2,
    goodCount: i * 2,
    oee: 0.8,
    ...over,
  };
}

/** Feeds readings in the order given, the processor's clock following the readings; returns every event. */
function run(
  list: TelemetryV1[],
  m = new MachineAnalytics(newMachineState(info), rules, opts, T0),
): AlarmEvent[] {
  const events: AlarmEvent[] = [];
  for (const t of list) {
    const now = t.ts + 50;
    events.push(...m.receive(t, now).events, ...m.tick(now, true).events);
  }
  return events;
}

const raised = (events: AlarmEvent[], rule?: string) =>
  events.filter((e) => e.transition === 'RAISED' && (rule === undefined || e.rule === rule));

describe('alarm rules on crafted sequences', () => {
  it('a healthy machine raises nothing in an hour', () => {
    const events = run(Array.from({ length: 3600 }, (_, i) => reading(i)));
    expect(events).toEqual([]);
  });

  it('noise around the high limit raises one alarm, not a chatter, and clears once', () => {
    const list = Array.from({ length: 300 }, (_, i) => {
      // 100 s at 77-79.6 °C (the limit is 78, deadband 2), then back to 60.
      const t = i >= 100 && i < 200 ? 78.3 + (i % 2 === 0 ? 1.3 : -1.2) : 60;
      return reading(i, { temperatureC: t });
    });
    const events = run(list).filter((e) => e.rule === 'temperature-high');
    expect(events.map((e) => e.transition)).toEqual(['RAISED', 'CLEARED']);
    expect(events[0]).toMatchObject({
      value: 79.6,
      limit: 78,
      severity: 'high',
      alarmId: 'M-0001.temperature-high.101',
    });
    // The off-delay (10 s) holds the clear until 10 s after the last reading above 76.
    expect(events[1]!.ts).toBe(T0 + 210_000);
  });

  it('an overheat raises high, then high-high, then the trip to FAULT, each once', () => {
    const list = Array.from({ length: 400 }, (_, i) => {
      const r = reading(i);
      const temp = i < 50 ? r.temperatureC : 60 + (i - 50) * 0.1 + (i % 2) * 0.01;
      return { ...r, temperatureC: temp, state: temp >= 90 ? ('FAULT' as const) : ('RUNNING' as const) };
    });
    const r = raised(run(list));
    expect(r.map((e) => e.rule)).toEqual(['temperature-high', 'temperature-high-high', 'fault']);
    // 60 + 0.1 (i - 50) > 78 first at i = 231 (78.1): seq 232.
    expect(r[0]!.alarmId).toBe('M-0001.temperature-high.232');
    expect(r[0]!.conditionSince).toBe(T0 + 231_000);
  });

  it('a temperature jump (noise burst) raises the rate alarm once for the whole burst', () => {
    const rnd = mulberry32(7);
    const list = Array.from({ length: 200 }, (_, i) =>
      reading(i, { temperatureC: i >= 50 && i < 80 ? 60 + (rnd() - 0.5) * 20 : 60 }),
    );
    const events = run(list).filter((e) => e.rule === 'temperature-jump');
    expect(events.map((e) => e.transition)).toEqual(['RAISED', 'CLEARED']);
  });

  it('slow bearing wear rises above the learned baseline and is raised once', () => {
    const list = Array.from({ length: 1800 }, (_, i) => {
      const base = reading(i);
      // Healthy for 10 minutes, then +0.004 mm/s per second (bearing wear).
      return i < 600 ? base : { ...base, vibrationMmS: base.vibrationMmS + (i - 600) * 0.004 };
    });
    const r = raised(run(list), 'vibration-baseline');
    expect(r).toHaveLength(1);
    // The baseline's limit is at least 0.4 mm/s above ~1.8: reached after 100-200 s of wear.
    const at = (r[0]!.ts - T0) / 1000;
    expect(at).toBeGreaterThan(650);
    expect(at).toBeLessThan(850);
  });

  /** Readings every `stepS` seconds for `hours`, vibration 1.8 mm/s plus `extra(hoursSinceStart)`. */
  function vibrationHours(hours: number, stepS: number, extra: (h: number) => number): TelemetryV1[] {
    return Array.from({ length: Math.floor((hours * 3600) / stepS) }, (_, k) => {
      const base = reading(k, { ts: T0 + k * stepS * 1000 });
      const h = (k * stepS) / 3600;
      return { ...base, vibrationMmS: Math.round((base.vibrationMmS + extra(h)) * 100) / 100 };
    });
  }

  it('wear at a failing bearing’s pace (0.18 mm/s per hour) is raised within hours, not learned into the baseline', () => {
    // The pace of the bearing-wear-week scenario: 0.03 wear per running hour × 6 mm/s per wear.
    const list = vibrationHours(8, 2, (h) => (h < 1 ? 0 : (h - 1) * 0.18));
    const r = raised(run(list), 'vibration-baseline');
    expect(r).toHaveLength(1);
    const hoursOfWear = (r[0]!.ts - T0) / 3600_000 - 1;
    // 0.4 mm/s above the baseline is 2.2 h of wear at this pace; the baseline may follow a little.
    expect(hoursOfWear).toBeGreaterThan(2);
    expect(hoursOfWear).toBeLessThan(4);
  });

  it('natural ageing (0.006 mm/s per running hour) raises nothing in a week', () => {
    const list = vibrationHours(7 * 24, 10, (h) => h * 0.006);
    expect(raised(run(list), 'vibration-baseline')).toEqual([]);
  });

  it('after a repair the baseline learns the new bearing’s level, and wear from there is raised', () => {
    // Worn (1.8 + 1.2 = 3.0 mm/s) for 2 h, repaired (1.8), then wearing again from 2.5 h on.
    const list = vibrationHours(8, 2, (h) => (h < 2 ? 1.2 : h < 2.5 ? 0 : (h - 2.5) * 0.18));
    const r = raised(run(list), 'vibration-baseline');
    expect(r).toHaveLength(1);
    const hoursOfWear = (r[0]!.ts - T0) / 3600_000 - 2.5;
    // Against the old 3.0 mm/s baseline the new wear would need 9 h to be raised.
    expect(hoursOfWear).toBeGreaterThan(2);
    expect(hoursOfWear).toBeLessThan(4);
  });

  it('a machine that stops every few seconds still gets its wear alarm: idle stints do not restart the on-delay', () => {
    const list = Array.from({ length: 1200 }, (_, i) => {
      const running = i < 600 || i % 16 < 8; // after 10 min: 8 s running, 8 s idle
      const base = running
        ? reading(i)
        : reading(i, { state: 'IDLE', speedRpm: 0, vibrationMmS: 0, powerKw: 1.5 });
      return i >= 600 && running ? { ...base, vibrationMmS: base.vibrationMmS + 1 } : base;
    });
    const r = raised(run(list), 'vibration-baseline');
    expect(r).toHaveLength(1);
    // First worn stint 608-615 (settle 5 s: judged from 613, the on-delay starts), idle 616-623,
    // next stint judged from 629: 16 s past 613, beyond the 10 s on-delay. Raised at 629.
    expect((r[0]!.ts - T0) / 1000).toBe(629);
  });

  it('the baseline learns only while RUNNING: idle readings neither teach nor alarm', () => {
    const list = Array.from({ length: 900 }, (_, i) =>
      i % 60 < 30 ? reading(i) : reading(i, { state: 'IDLE', speedRpm: 0, vibrationMmS: 0, powerKw: 1.5 }),
    );
    expect(raised(run(list))).toEqual([]);
  });

  it('a stuck temperature sensor raises the flat-line alarm after 20 s', () => {
    const list = Array.from({ length: 120 }, (_, i) => reading(i, i >= 40 ? { temperatureC: 61.23 } : {}));
    const r = raised(run(list), 'temperature-stuck');
    expect(r).toHaveLength(1);
    expect(r[0]!.ts).toBe(T0 + 60_000);
  });

  it('a production counter going backwards raises once and clears after its hold', () => {
    const list = Array.from({ length: 200 }, (_, i) =>
      reading(i, {
        productionCount: i < 50 ? i * 2 : (i - 50) * 2,
        goodCount: i < 50 ? i * 2 : (i - 50) * 2,
      }),
    );
    const events = run(list).filter((e) => e.rule === 'count-backwards');
    expect(events.map((e) => [e.transition, (e.ts - T0) / 1000])).toEqual([
      ['RAISED', 50],
      ['CLEARED', 110],
    ]);
  });

  it('counters restored by a new owner after a failover gap are not a counter going backwards', () => {
    // A worker died at seq 100 (count 200); its successor announced the gap 101-160 and went on
    // from its last save (count 150), 10 s later.
    const m = new MachineAnalytics(newMachineState(info), rules, opts, T0);
    const before = Array.from({ length: 100 }, (_, i) => reading(i));
    const after = Array.from({ length: 60 }, (_, k) =>
      reading(170 + k, { seq: 161 + k, productionCount: 150 + 2 * k, goodCount: 150 + 2 * k }),
    );
    const events = run(before, m);
    events.push(...m.skip(101, 160).events, ...run(after, m));
    expect(events.filter((e) => e.rule === 'count-backwards')).toEqual([]);
    // Once past the gap, going backwards is raised again.
    const later = reading(230, { seq: 221, productionCount: 10, goodCount: 10 });
    expect(run([later], m).map((e) => `${e.rule} ${e.transition}`)).toContain('count-backwards RAISED');
  });

  it('silence: no reading for 15 s while others flow raises comms-loss; the next reading clears it', () => {
    const m = new MachineAnalytics(newMachineState(info), rules, opts, T0);
    const events = run(
      Array.from({ length: 10 }, (_, i) => reading(i)),
      m,
    );
    const lastHeard = m.lastHeardAt;
    for (let s = 1; s <= 20; s++) events.push(...m.tick(lastHeard + s * 1000, true).events);
    // A stalled pipeline (nothing flows) is not a silent machine.
    for (let s = 21; s <= 40; s++) events.push(...m.tick(lastHeard + s * 1000, false).events);
    events.push(...m.receive(reading(10), lastHeard + 41_000).events);
    const comms = events.filter((e) => e.rule === 'comms-loss');
    expect(comms.map((e) => e.transition)).toEqual(['RAISED', 'CLEARED']);
    expect(comms[0]!.ts).toBe(lastHeard + 15_000);
  });

  it('after an outage of the whole pipeline a machine gets the full silence delay from when readings flow again', () => {
    const m = new MachineAnalytics(newMachineState(info), rules, opts, T0);
    const events = run(
      Array.from({ length: 10 }, (_, i) => reading(i)),
      m,
    );
    const lastHeard = m.lastHeardAt;
    // Nothing reaches the processor for 20 s (the broker is down) ...
    for (let s = 1; s <= 20; s++) events.push(...m.tick(lastHeard + s * 1000, false).events);
    // ... then other machines' readings flow again from 21 s: this one is silent only from 36 s.
    const resumed = lastHeard + 21_000;
    for (let s = 21; s <= 40; s++) events.push(...m.tick(lastHeard + s * 1000, true, resumed).events);
    const comms = events.filter((e) => e.rule === 'comms-loss');
    expect(comms.map((e) => [e.transition, e.ts - lastHeard])).toEqual([['RAISED', 36_000]]);
    // The value is the whole silence.
    expect(comms[0]!.value).toBe(36);
  });
});

describe('ordering', () => {
  /** A history with several alarms: an overheat, a trip, a stuck sensor, a counter reset. */
  const history = Array.from({ length: 600 }, (_, i) => {
    const temp = i < 100 ? 60 : Math.min(95, 60 + (i - 100) * 0.2);
    return reading(i, {
      temperatureC: i >= 450 && i < 500 ? 70.5 : temp,
      state: temp >= 90 ? 'FAULT' : 'RUNNING',
      productionCount: i < 300 ? i : i - 300,
      goodCount: i < 300 ? i : i - 300,
    });
  });

  it('out-of-order and duplicated readings give the same alarms as the ordered stream', () => {
    const ordered = run(history);
    expect(raised(ordered).length).toBeGreaterThanOrEqual(4);
    // Shuffle within blocks of 6 (the bridge's lanes), and deliver a fifth of readings twice, late.
    const rnd = mulberry32(42);
    const messy: TelemetryV1[] = [];
    for (let i = 0; i < history.length; i += 6) {
      const block = history.slice(i, i + 6);
      for (let j = block.length - 1; j > 0; j--) {
        const k = Math.floor(rnd() * (j + 1));
        [block[j], block[k]] = [block[k]!, block[j]!];
      }
      messy.push(...block);
      for (const t of block) if (rnd() < 0.2) messy.push(t);
    }
    const m = new MachineAnalytics(newMachineState(info), rules, opts, T0);
    const events: AlarmEvent[] = [];
    let now = T0;
    for (const t of messy) {
      now = Math.max(now, t.ts + 50);
      events.push(...m.receive(t, now).events);
    }
    expect(events.map((e) => e.eventId)).toEqual(ordered.map((e) => e.eventId));
    expect(events).toEqual(ordered);
    expect(m.stats.duplicates).toBeGreaterThan(50);
    expect(m.stats.missing).toBe(0);
  });

  it('a gap that never fills holds later readings for at most maxHoldMs, then they are delivered', () => {
    const m = new MachineAnalytics(newMachineState(info), rules, opts, T0);
    m.receive(reading(0), T0);
    m.receive(reading(2), T0 + 100); // seq 2 is missing
    m.receive(reading(3), T0 + 200);
    expect(m.state.lastSeq).toBe(1);
    m.tick(T0 + 2_900, true);
    expect(m.state.lastSeq).toBe(1);
    m.tick(T0 + 3_100, true);
    expect(m.state.lastSeq).toBe(4);
    expect(m.stats.missing).toBe(1);
  });

  it('an announced skip range is a gap by design: nothing is held for it', () => {
    const m = new MachineAnalytics(newMachineState(info), rules, opts, T0);
    m.receive(reading(0), T0);
    m.skip(2, 60);
    m.receive(reading(60), T0 + 100); // seq 61
    expect(m.state.lastSeq).toBe(61);
    expect(m.stats.skipped).toBe(59);
    expect(m.stats.missing).toBe(0);
  });

  it('a restart from the saved state mid-episode raises nothing again', () => {
    const whole = run(history);
    const m1 = new MachineAnalytics(newMachineState(info), rules, opts, T0);
    const first = run(history.slice(0, 250), m1);
    const saved = JSON.parse(JSON.stringify(m1.state));
    // The new instance re-reads from an older committed offset: readings it has already applied come again.
    const m2 = new MachineAnalytics(saved, rules, opts, T0 + 250_000);
    const second = run(history.slice(150), m2);
    expect([...first, ...second]).toEqual(whole);
  });
});

describe('suppression and commands', () => {
  it('alarms of a machine in MAINTENANCE on a ticket are suppressed, and annunciated again if still present after', () => {
    const list = Array.from({ length: 200 }, (_, i) => {
      if (i < 20) return reading(i);
      if (i < 60) return reading(i, { temperatureC: 80 });
      if (i < 120)
        return reading(i, { temperatureC: 80, state: 'MAINTENANCE', speedRpm: 0, vibrationMmS: 0 });
      return reading(i, { temperatureC: 80 });
    });
    const m = new MachineAnalytics(newMachineState(info), rules, opts, T0);
    // The owner reports the ticket after the reading of seq 60 (the last one before maintenance).
    const events = run(list.slice(0, 60), m);
    m.setTicket('T-17', 60);
    events.push(...run(list.slice(60, 120), m));
    m.setTicket(null, 120);
    events.push(...run(list.slice(120), m));
    const high = events.filter((e) => e.rule === 'temperature-high');
    expect(high.map((e) => [e.transition, e.state])).toEqual([
      ['RAISED', 'ACTIVE_UNACK'],
      ['SUPPRESSED', 'SUPPRESSED'],
      ['UNSUPPRESSED', 'ACTIVE_UNACK'],
    ]);
    expect(high[1]!.ts).toBe(T0 + 60_000);
    expect(new Set(high.map((e) => e.alarmId)).size).toBe(1);
  });

  it("a planned stop (the chain's MAINTENANCE, no ticket) suppresses nothing", () => {
    const list = Array.from({ length: 120 }, (_, i) =>
      reading(i, i < 60 ? { temperatureC: 80 } : { temperatureC: 80, state: 'MAINTENANCE', speedRpm: 0 }),
    );
    const high = run(list).filter((e) => e.rule === 'temperature-high');
    expect(high.map((e) => e.transition)).toEqual(['RAISED']);
  });

  it('ack, shelve and their refusals come back with reasons', () => {
    const m = new MachineAnalytics(newMachineState(info), rules, opts, T0);
    const events = run(
      Array.from({ length: 30 }, (_, i) => reading(i, { temperatureC: i > 10 ? 80 : 60 })),
      m,
    );
    const id = raised(events, 'temperature-high')[0]!.alarmId;
    const ack = m.command(id, 'acknowledge', 'ana', T0 + 40_000);
    expect(ack.outcome.ok).toBe(true);
    expect(ack.out.events[0]).toMatchObject({ transition: 'ACKNOWLEDGED', by: 'ana', state: 'ACTIVE_ACKED' });
    const again = m.command(id, 'acknowledge', 'bo', T0 + 41_000);
    expect(again.outcome).toMatchObject({
      ok: false,
      reason: expect.stringContaining('already acknowledged by ana'),
    });
    const shelf = m.command(id, 'shelve', 'bo', T0 + 42_000, 60_000);
    expect(shelf.out.events[0]).toMatchObject({ transition: 'SHELVED', shelvedUntil: T0 + 102_000 });
    // Still hot when the shelving runs out: back, unacknowledged.
    const back = m.tick(T0 + 102_000, true).events.filter((e) => e.rule === 'temperature-high');
    expect(back[0]).toMatchObject({ transition: 'UNSHELVED', state: 'ACTIVE_UNACK', alarmId: id });
    const unknownRule = m.command('M-0001.no-such-rule.5', 'acknowledge', 'ana', T0);
    expect(unknownRule.outcome.ok).toBe(false);
  });
});

describe('rate of change', () => {
  it('two readings milliseconds apart (a new owner’s first tick) are not an absurd rate', () => {
    const list = [
      reading(0),
      { ...reading(0), seq: 2, ts: T0 + 5, temperatureC: reading(0).temperatureC + 0.2 },
    ];
    for (let i = 1; i < 30; i++) list.push({ ...reading(i), seq: i + 2 });
    expect(raised(run(list), 'temperature-jump')).toEqual([]);
  });
});

describe('review findings', () => {
  it('a held reading that an announced skip passes over is dropped, never applied late or backwards', () => {
    const m = new MachineAnalytics(newMachineState(info), rules, opts, T0);
    m.receive(reading(0), T0); // seq 1
    m.receive(reading(2), T0 + 10); // seq 3 held (seq 2 missing)
    m.skip(2, 60); // the new owner skipped 2..60 (3 lies inside)
    expect(m.state.reorder.held).toEqual([]);
    m.receive({ ...reading(60), seq: 61 }, T0 + 20);
    expect(m.state.lastSeq).toBe(61);
    m.tick(T0 + 10_000, true);
    expect(m.state.lastSeq).toBe(61);
    expect(m.state.reorder.next).toBe(62);
  });

  it('two silences between the same two readings are two episodes with their own ids', () => {
    const m = new MachineAnalytics(newMachineState(info), rules, opts, T0);
    run(
      Array.from({ length: 5 }, (_, i) => reading(i)),
      m,
    );
    const t = m.lastHeardAt;
    const first = m.tick(t + 15_000, true).events.find((e) => e.rule === 'comms-loss')!;
    expect(first.transition).toBe('RAISED');
    // A duplicate arrives: it does not end the silence (nothing new was heard).
    m.receive(reading(4), t + 16_000);
    expect(m.tick(t + 17_000, true).events.filter((e) => e.rule === 'comms-loss')).toEqual([]);
    // A new reading ends it, though it is held (seq 6 is missing) and applies nothing yet;
    // acknowledged, the alarm is normal again; then silence again, with no seq applied in between.
    m.receive(reading(6), t + 18_000);
    expect(m.state.lastSeq).toBe(5);
    m.tick(t + 18_500, true);
    expect(m.command(first.alarmId, 'acknowledge', 'ana', t + 19_000).outcome.ok).toBe(true);
    const second = m.tick(t + 33_000, true).events.find((e) => e.rule === 'comms-loss')!;
    expect(second.transition).toBe('RAISED');
    expect(second.alarmId).not.toBe(first.alarmId);
  });
});
