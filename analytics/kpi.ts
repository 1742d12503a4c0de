/**
 * Per-machine KPIs over tumbling windows (1 minute, 1 hour, 8-hour shifts), after ISO 22400 as
 * the machine model defines them (actors/oee.ts):
 *
 *   availability = APT / PBT          MAINTENANCE is planned downtime, outside PBT;
 *   performance  = made / idealMade   RUNNING is APT; IDLE and FAULT are losses inside PBT.
 *   quality      = good / made
 *   OEE          = A × P × Q
 *
 * Pure and cheap: a reading mutates the state in place, and the state is plain JSON so that it
 * can be persisted with JSON.stringify and restored with JSON.parse between any two readings.
 */

export const KPI_WINDOWS = ['1m', '1h', '8h'] as const;
export type KpiWindowSize = (typeof KPI_WINDOWS)[number];

export const WINDOW_MS: Record<KpiWindowSize, number> = { '1m': 60_000, '1h': 3_600_000, '8h': 28_800_000 };

/** Shifts 06-14, 14-22, 22-06 UTC. */
export const DEFAULT_SHIFT_OFFSET_MS = 6 * 3_600_000;

export interface KpiSums {
  pbtMs: number;
  aptMs: number;
  plannedDownMs: number;
  made: number;
  good: number;
  idealMade: number;
  failures: number;
  repairs: number;
  repairMs: number;
  alarms: number;
}

export interface KpiWindow {
  size: KpiWindowSize;
  start: number;
  sums: KpiSums;
  /** last reading ts counted in it (its start while no reading has fallen in it) */
  lastTs: number;
}

export interface KpiReading {
  ts: number;
  state: string;
  productionCount: number;
  goodCount: number;
}

export interface KpiState {
  prev: KpiReading | null;
  failureSince: number | null;
  windows: Record<KpiWindowSize, KpiWindow | null>;
}

export interface KpiOptions {
  idealRatePerS: number;
  /** an interval between readings longer than this is unknown time: neither its time nor its counts are attributed */
  maxGapMs: number;
  /** 8-hour shifts start at this offset from midnight UTC (DEFAULT_SHIFT_OFFSET_MS: shifts 06-14, 14-22, 22-06) */
  shiftOffsetMs: number;
}

/** 1m and 1h windows are aligned to the epoch; 8h windows to shiftOffsetMs. */
export function windowStart(size: KpiWindowSize, ts: number, shiftOffsetMs: number): number {
  const len = WINDOW_MS[size];
  const offset = size === '8h' ? shiftOffsetMs : 0;
  return Math.floor((ts - offset) / len) * len + offset;
}

export function newKpiState(): KpiState {
  return { prev: null, failureSince: null, windows: { '1m': null, '1h': null, '8h': null } };
}

export const emptySums = (): KpiSums => ({
  pbtMs: 0,
  aptMs: 0,
  plannedDownMs: 0,
  made: 0,
  good: 0,
  idealMade: 0,
  failures: 0,
  repairs: 0,
  repairMs: 0,
  alarms: 0,
});

export function addSums(into: KpiSums, from: KpiSums): KpiSums {
  into.pbtMs += from.pbtMs;
  into.aptMs += from.aptMs;
  into.plannedDownMs += from.plannedDownMs;
  into.made += from.made;
  into.good += from.good;
  into.idealMade += from.idealMade;
  into.failures += from.failures;
  into.repairs += from.repairs;
  into.repairMs += from.repairMs;
  into.alarms += from.alarms;
  return into;
}

/** Time spent in `state`, by the machine model's classes. */
function addTime(sums: KpiSums, state: string, ms: number, o: KpiOptions): void {
  if (ms <= 0) return;
  if (state === 'RUNNING') {
    sums.aptMs += ms;
    sums.pbtMs += ms;
    sums.idealMade += (ms / 1000) * o.idealRatePerS;
  } else if (state === 'IDLE' || state === 'FAULT') {
    sums.pbtMs += ms;
  } else if (state === 'MAINTENANCE') {
    sums.plannedDownMs += ms;
  }
}

/**
 * Moves the window of `size` on to the one containing ts and returns it, pushing the windows
 * that close onto `closed`. With `since` (the time from since.from on is known, spent in
 * since.state), each closing window first gets its share of that time, up to its end, and every
 * window in between is opened, filled and closed too: none of that time is lost. Without it,
 * the windows in between hold nothing and are skipped.
 */
function roll(
  s: KpiState,
  size: KpiWindowSize,
  ts: number,
  since: { from: number; state: string } | null,
  o: KpiOptions,
  closed: KpiWindow[],
): KpiWindow {
  const target = windowStart(size, ts, o.shiftOffsetMs);
  let w = s.windows[size];
  if (!w) {
    w = { size, start: target, sums: emptySums(), lastTs: target };
    s.windows[size] = w;
  }
  // A ts before the current window (a late event after an alarm closed its window) counts in the current one.
  while (w.start < target) {
    const end: number = w.start + WINDOW_MS[size];
    if (since) addTime(w.sums, since.state, end - Math.max(since.from, w.start), o);
    closed.push(w);
    const start: number = since ? end : target;
    w = { size, start, sums: emptySums(), lastTs: start };
    s.windows[size] = w;
  }
  return w;
}

/** Counts one reading. Returns the windows this reading closed (a window closes when a reading falls in a later window; it is returned once, complete). */
export function kpiReading(s: KpiState, r: KpiReading, o: KpiOptions): KpiWindow[] {
  const prev = s.prev;
  // Readings come in seq order; one not later than the last is a duplicate or a clock step back.
  if (prev && r.ts <= prev.ts) return [];
  const known = prev !== null && r.ts - prev.ts <= o.maxGapMs;
  const since = known ? { from: prev.ts, state: prev.state } : null;
  // Counts are cumulative: a drop is a counter reset, and what was made around it is unknown.
  const made = known ? Math.max(0, r.productionCount - prev.productionCount) : 0;
  const good = known ? Math.max(0, r.goodCount - prev.goodCount) : 0;
  const failed = r.state === 'FAULT' && prev?.state !== 'FAULT';
  const repaired = r.state === 'RUNNING' && s.failureSince !== null;
  const closed: KpiWindow[] = [];
  for (const size of KPI_WINDOWS) {
    const w = roll(s, size, r.ts, since, o, closed);
    // The rest of the interval, from where the window (or the known time) begins: the part before
    // it went to windows already closed, by this reading or by an alarm.
    if (since) addTime(w.sums, since.state, r.ts - Math.max(since.from, w.start), o);
    w.sums.made += made;
    w.sums.good += good;
    if (failed) w.sums.failures += 1;
    if (repaired) {
      w.sums.repairs += 1;
      w.sums.repairMs += r.ts - s.failureSince!;
    }
    if (r.ts > w.lastTs) w.lastTs = r.ts;
  }
  // Repair time runs from entering FAULT until running again, through IDLE or MAINTENANCE.
  if (failed && s.failureSince === null) s.failureSince = r.ts;
  if (repaired) s.failureSince = null;
  if (prev) {
    prev.ts = r.ts;
    prev.state = r.state;
    prev.productionCount = r.productionCount;
    prev.goodCount = r.goodCount;
  } else {
    s.prev = { ts: r.ts, state: r.state, productionCount: r.productionCount, goodCount: r.goodCount };
  }
  return closed;
}

/**
 * Counts an alarm raised at ts in each current window (windows opened lazily if needed), and
 * returns the windows it closed. A window it closes gets the machine's time up to its end in
 * the last reported state, as the next reading would have given it, unless the machine has
 * already been silent longer than maxGapMs (that time is then unknown whatever comes next).
 */
export function kpiAlarm(s: KpiState, ts: number, o: KpiOptions): KpiWindow[] {
  const prev = s.prev;
  const since = prev && ts - prev.ts <= o.maxGapMs ? { from: prev.ts, state: prev.state } : null;
  const closed: KpiWindow[] = [];
  for (const size of KPI_WINDOWS) roll(s, size, ts, since, o, closed).sums.alarms += 1;
  return closed;
}

export interface KpiFigures {
  availability: number | null;
  performance: number | null;
  quality: number | null;
  oee: number | null;
  mtbfS: number | null;
  mttrS: number | null;
  alarmsPerHour: number;
}

/** The figures of a window's sums; `spanMs` = the window's length when complete, or the time covered so far when it is still open. */
export function kpiFigures(sums: KpiSums, spanMs: number): KpiFigures {
  const availability = sums.pbtMs > 0 ? sums.aptMs / sums.pbtMs : null;
  // Parts are counted in the window of the reading that reports them while time is split exactly,
  // so a window edge can give one window a part made partly in the one before: clamp the overshoot.
  const performance = sums.idealMade > 0 ? Math.min(1, Math.max(0, sums.made / sums.idealMade)) : null;
  const quality = sums.made > 0 ? sums.good / sums.made : null;
  const oee =
    availability !== null && performance !== null && quality !== null
      ? availability * performance * quality
      : null;
  return {
    availability,
    performance,
    quality,
    oee,
    mtbfS: sums.failures > 0 ? sums.aptMs / 1000 / sums.failures : null,
    mttrS: sums.repairs > 0 ? sums.repairMs / 1000 / sums.repairs : null,
    alarmsPerHour: spanMs > 0 ? sums.alarms / (spanMs / 3_600_000) : 0,
  };
}
