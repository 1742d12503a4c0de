/**
 * Condition detection, one rule at a time, on a machine's readings in seq order. Pure: time is
 * the reading's own `ts` (the silence rule alone is judged on the processor's wall clock, by
 * `silent`). Each rule keeps a small plain-JSON state, so a restarted processor continues
 * exactly where the saved state left off.
 */
import type { TelemetryV1 } from '../common/telemetry.js';
import type { Rule, RuleOf } from './rules.js';

export interface RuleState {
  /** The debounced condition (after on/off delays). */
  active: boolean;
  /** Since when the raw condition has differed from `active` (the delay running), else null. */
  pendingSince: number | null;
  /** The reading that started the pending change, and its value and limit. */
  pendingSeq: number | null;
  /** Kind-specific memory: previous value and time, baseline statistics, stuck-since. */
  prevTs: number | null;
  prevValue: number | null;
  n: number;
  mean: number;
  variance: number;
  since: number | null;
  /** Baseline: consecutive judged readings far below it (a repaired machine's new normal). Absent in states saved before it existed. */
  low?: number;
}

export const newRuleState = (): RuleState => ({
  active: false,
  pendingSince: null,
  pendingSeq: null,
  prevTs: null,
  prevValue: null,
  n: 0,
  mean: 0,
  variance: 0,
  since: null,
  low: 0,
});

export interface Verdict {
  /** The raw condition; null: this reading says nothing either way (the debounced state holds). */
  raw: boolean | null;
  value: number | null;
  limit: number | null;
}

/** A debounced condition that changed with this reading. */
export interface ConditionChange {
  ruleId: string;
  active: boolean;
  value: number | null;
  limit: number | null;
  ts: number;
  seq: number;
  /** When the raw condition first held (before the on-delay). */
  since: number;
}

/** Consecutive readings further apart than this are not compared (a gap, a restart). */
const MAX_COMPARE_MS = 10_000;

function limit(r: RuleOf<'limit'>, s: RuleState, t: TelemetryV1): Verdict {
  const v = t[r.field];
  // Hysteresis: once active, it stays so until the value is a deadband back inside the limit.
  if (r.high !== undefined) {
    const edge = s.active ? r.high - r.deadband : r.high;
    return { raw: v > edge, value: v, limit: r.high };
  }
  const edge = s.active ? r.low! + r.deadband : r.low!;
  return { raw: v < edge, value: v, limit: r.low! };
}

/**
 * Readings closer than this are not compared for a rate: a new owner's first tick can follow its
 * predecessor's last by milliseconds, and sensor noise over 5 ms reads as an absurd rate. The
 * earlier reading stays the reference until one far enough arrives.
 */
const MIN_RATE_INTERVAL_MS = 500;

function rate(r: RuleOf<'rate'>, s: RuleState, t: TelemetryV1): Verdict {
  const v = t[r.field];
  const { prevTs, prevValue } = s;
  if (prevTs !== null && t.ts > prevTs && t.ts - prevTs < MIN_RATE_INTERVAL_MS)
    return { raw: null, value: null, limit: r.maxPerS };
  s.prevTs = t.ts;
  s.prevValue = v;
  if (prevTs === null || prevValue === null || t.ts <= prevTs || t.ts - prevTs > MAX_COMPARE_MS)
    return { raw: false, value: null, limit: r.maxPerS };
  const perS = Math.abs(v - prevValue) / ((t.ts - prevTs) / 1000);
  return { raw: perS > r.maxPerS, value: Math.round(perS * 1000) / 1000, limit: r.maxPerS };
}

/**
 * Deviation from the machine's own baseline: an exponentially weighted mean and variance of the
 * field, learned only while RUNNING (past the ramp-up) and only from readings that look normal,
 * so a slow fault (bearing wear) is not absorbed into the baseline as it grows. A value that stays
 * as far below the baseline as the alarm edge is above it, for a quarter of `minSamples` readings
 * in a row, starts the learning afresh: the machine's new normal after a repair (a new bearing).
 */
function baseline(r: RuleOf<'baseline'>, s: RuleState, t: TelemetryV1): Verdict {
  // Outside steady running the baseline is neither learned nor judged, and an alarm (or its
  // on-delay) carries over to the next stint: a machine that stops every minute must not
  // restart the count each time.
  const none = { raw: null, value: null, limit: null };
  if (t.state !== 'RUNNING') {
    s.since = null;
    return none;
  }
  s.since ??= t.ts;
  if (t.ts - s.since < r.settleS * 1000) return none;
  const v = t[r.field];
  const sd = Math.sqrt(s.variance);
  const margin = Math.max(r.sigmas * sd, r.minDeviation);
  const edge = s.mean + margin;
  const judged = s.n >= r.minSamples;
  const raw = judged && v > edge;
  s.low = judged && v < s.mean - margin ? (s.low ?? 0) + 1 : 0;
  if (s.low >= Math.ceil(r.minSamples / 4)) {
    Object.assign(s, { n: 0, mean: 0, variance: 0, prevTs: null, low: 0 });
  }
  // Learn only from readings that look ordinary (within 3 sd once judged): a slow fault creeping
  // up inside the alarm limit must not drag the mean along and widen the variance. A baseline
  // learning afresh learns from everything, even under an alarm it will then clear.
  const young = s.n < r.minSamples;
  if (young || (!raw && !s.active && Math.abs(v - s.mean) <= 3 * sd)) {
    // 1/n while young, so the mean settles quickly; then time-based forgetting.
    const dt = s.prevTs === null ? 1000 : Math.min(Math.max(t.ts - s.prevTs, 0), MAX_COMPARE_MS);
    const alpha = young ? 1 / (s.n + 1) : 1 - 2 ** (-dt / (r.halfLifeS * 1000));
    const diff = v - s.mean;
    const inc = alpha * diff;
    s.mean += inc;
    s.variance = (1 - alpha) * (s.variance + diff * inc);
    s.n += 1;
    s.prevTs = t.ts;
  }
  return judged ? { raw, value: v, limit: Math.round(edge * 1000) / 1000 } : none;
}

function flatline(r: RuleOf<'flatline'>, s: RuleState, t: TelemetryV1): Verdict {
  const v = t[r.field];
  if (s.prevValue === null || Math.abs(v - s.prevValue) > r.epsilon || s.since === null) {
    s.prevValue = v;
    s.since = t.ts;
    s.n = 1;
    return { raw: false, value: v, limit: r.forS };
  }
  s.n += 1;
  return { raw: t.ts - s.since >= r.forS * 1000 && s.n >= r.minReadings, value: v, limit: r.forS };
}

function counter(r: RuleOf<'counter'>, s: RuleState, t: TelemetryV1): Verdict {
  const v = t[r.field];
  if (s.prevValue !== null && v < s.prevValue) s.since = t.ts;
  s.prevValue = v;
  return { raw: s.since !== null && t.ts - s.since < r.holdS * 1000, value: v, limit: null };
}

function verdict(r: Rule, s: RuleState, t: TelemetryV1): Verdict {
  switch (r.kind) {
    case 'limit':
      return limit(r, s, t);
    case 'rate':
      return rate(r, s, t);
    case 'baseline':
      return baseline(r, s, t);
    case 'flatline':
      return flatline(r, s, t);
    case 'counter':
      return counter(r, s, t);
    case 'state':
      return { raw: t.state === r.state, value: null, limit: null };
    case 'silence':
      // A reading is the end of any silence.
      return { raw: false, value: null, limit: r.afterS };
  }
}

/**
 * Applies the on/off delays: the raw condition must differ from the debounced one for the
 * delay before it changes. Returns the change, if this moment made one.
 */
export function debounce(
  r: Rule,
  s: RuleState,
  raw: boolean | null,
  at: { ts: number; seq: number },
  v: Verdict,
): ConditionChange | null {
  if (raw === null) return null;
  if (raw === s.active) {
    s.pendingSince = null;
    s.pendingSeq = null;
    return null;
  }
  if (s.pendingSince === null) {
    s.pendingSince = at.ts;
    s.pendingSeq = at.seq;
  }
  const delayMs = (raw ? r.onDelayS : r.offDelayS) * 1000;
  if (at.ts - s.pendingSince < delayMs) return null;
  const since = s.pendingSince;
  s.active = raw;
  s.pendingSince = null;
  s.pendingSeq = null;
  return { ruleId: r.id, active: raw, value: v.value, limit: v.limit, ts: at.ts, seq: at.seq, since };
}

/** Evaluates one rule on the next reading in seq order. */
export function evaluate(r: Rule, s: RuleState, t: TelemetryV1): ConditionChange | null {
  const inScope = r.states === undefined || r.states.includes(t.state);
  const v = verdict(r, s, t);
  if (!inScope && r.kind === 'flatline') s.since = null;
  return debounce(r, s, inScope ? v.raw : false, { ts: t.ts, seq: t.seq }, v);
}

/**
 * The silence rule, judged on the processor's clock: no reading from the machine for `afterS`
 * while the processor itself receives readings (a stalled pipeline is not a silent machine).
 */
export function silent(
  r: RuleOf<'silence'>,
  s: RuleState,
  lastHeardAt: number,
  now: number,
  lastSeq: number,
  graceFrom = 0,
): ConditionChange | null {
  // Silent for afterS since both its last reading and the end of any outage of the whole
  // pipeline: after an outage each machine gets the full delay to be heard again. The value
  // reported is still the whole silence.
  const quiet = now - Math.max(lastHeardAt, graceFrom) >= r.afterS * 1000;
  return debounce(
    r,
    s,
    quiet,
    { ts: now, seq: lastSeq },
    { raw: quiet, value: Math.round((now - lastHeardAt) / 1000), limit: r.afterS },
  );
}
