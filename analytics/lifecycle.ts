/**
 * The alarm lifecycle after ISA-18.2, one record per (machine, rule), pure and plain JSON:
 *
 *   NORMAL ──condition──▶ ACTIVE_UNACK ──ack──▶ ACTIVE_ACKED ──clear──▶ NORMAL
 *                            │   ▲                                        ▲
 *                          clear │ condition again                        │
 *                            ▼   │                                        │
 *                         CLEARED_UNACK ─────────────ack──────────────────┘
 *
 *   any annunciated state ──shelve(until)──▶ SHELVED ──unshelve / expiry──▶ active ? ACTIVE_UNACK : NORMAL
 *   any annunciated state ──machine out of service──▶ SUPPRESSED ──back in service──▶ active ? ACTIVE_UNACK : NORMAL
 *
 * An episode runs from leaving NORMAL to returning to it; it has one alarmId (`<subject>.<rule>.<seq>`,
 * the seq of the reading that raised it), so a replayed reading can never raise it twice.
 * While shelved or suppressed the condition is still followed, silently.
 */

export const ALARM_STATES = [
  'NORMAL',
  'ACTIVE_UNACK',
  'ACTIVE_ACKED',
  'CLEARED_UNACK',
  'SHELVED',
  'SUPPRESSED',
] as const;
export type AlarmState = (typeof ALARM_STATES)[number];

export const TRANSITIONS = [
  'RAISED',
  'REACTIVATED',
  'ACKNOWLEDGED',
  'CLEARED',
  'SHELVED',
  'UNSHELVED',
  'SUPPRESSED',
  'UNSUPPRESSED',
] as const;
export type Transition = (typeof TRANSITIONS)[number];

export interface Alarm {
  ruleId: string;
  state: AlarmState;
  /** The current episode's id; null in NORMAL. */
  alarmId: string | null;
  /** The debounced condition, followed in every state. */
  condition: boolean;
  /** Machine out of service (MAINTENANCE): nothing is annunciated. */
  suppressed: boolean;
  raisedAt: number | null;
  /** Value and limit when the episode was raised (or last reactivated). */
  value: number | null;
  limit: number | null;
  /** When the condition first held (before any on-delay): the start of the detection. */
  conditionSince: number | null;
  ackedBy: string | null;
  ackedAt: number | null;
  shelvedBy: string | null;
  shelvedUntil: number | null;
  clearedAt: number | null;
  /** Transitions of this episode so far: with the alarmId, a stable event id. */
  transitions: number;
}

export interface Change {
  transition: Transition;
  /** The alarm as it is after the transition (a copy). */
  alarm: Alarm;
  alarmId: string;
  ts: number;
  by: string | null;
}

export const newAlarm = (ruleId: string): Alarm => ({
  ruleId,
  state: 'NORMAL',
  alarmId: null,
  condition: false,
  suppressed: false,
  raisedAt: null,
  value: null,
  limit: null,
  conditionSince: null,
  ackedBy: null,
  ackedAt: null,
  shelvedBy: null,
  shelvedUntil: null,
  clearedAt: null,
  transitions: 0,
});

/** Shown to people (`factory alarm list`): active or awaiting acknowledgement, shelved or suppressed. */
export const isOpen = (a: Alarm) => a.state !== 'NORMAL';

function change(a: Alarm, transition: Transition, ts: number, by: string | null): Change {
  a.transitions += 1;
  return { transition, alarm: { ...a }, alarmId: a.alarmId!, ts, by };
}

/** Ends the episode: NORMAL, with the record ready for the next one. */
function toNormal(a: Alarm, transition: Transition, ts: number, by: string | null): Change {
  a.state = 'NORMAL';
  const c = change(a, transition, ts, by);
  Object.assign(a, {
    ...newAlarm(a.ruleId),
    condition: a.condition,
    suppressed: a.suppressed,
    conditionSince: a.conditionSince,
  });
  return c;
}

function raise(a: Alarm, ts: number, detail: Detail, subject: string): Change {
  a.state = 'ACTIVE_UNACK';
  a.alarmId = `${subject}.${a.ruleId}.${detail.seq}`;
  a.raisedAt = ts;
  a.value = detail.value;
  a.limit = detail.limit;
  a.transitions = 0;
  return change(a, 'RAISED', ts, null);
}

export interface Detail {
  /** The reading that decided (its seq names a new episode). */
  seq: number;
  value: number | null;
  limit: number | null;
  /** When the condition first held, before the on-delay. */
  since: number;
}

/** The debounced condition changed (or was re-asserted). Returns the annunciated change, if any. */
export function onCondition(
  a: Alarm,
  active: boolean,
  ts: number,
  detail: Detail,
  subject: string,
): Change | null {
  if (active) a.conditionSince = detail.since;
  a.condition = active;
  if (a.suppressed || a.state === 'SHELVED' || a.state === 'SUPPRESSED') return null;
  if (active) {
    if (a.state === 'NORMAL') return raise(a, ts, detail, subject);
    if (a.state === 'CLEARED_UNACK') {
      a.state = 'ACTIVE_UNACK';
      a.value = detail.value;
      a.limit = detail.limit;
      a.clearedAt = null;
      return change(a, 'REACTIVATED', ts, null);
    }
    return null;
  }
  a.clearedAt = ts;
  if (a.state === 'ACTIVE_UNACK') {
    a.state = 'CLEARED_UNACK';
    return change(a, 'CLEARED', ts, null);
  }
  if (a.state === 'ACTIVE_ACKED') return toNormal(a, 'CLEARED', ts, null);
  return null;
}

export type CommandOutcome = { ok: true; change: Change } | { ok: false; reason: string };

const describe = (a: Alarm) =>
  a.state === 'NORMAL'
    ? 'has returned to normal'
    : a.state === 'SHELVED'
      ? `is shelved by ${a.shelvedBy} until ${new Date(a.shelvedUntil!).toISOString()}`
      : a.state === 'SUPPRESSED'
        ? 'is suppressed while the machine is in maintenance'
        : a.state === 'ACTIVE_ACKED'
          ? `was already acknowledged by ${a.ackedBy} at ${new Date(a.ackedAt!).toISOString()}`
          : 'is active';

/** An operator's (or a workflow's) acknowledgement. */
export function acknowledge(a: Alarm, alarmId: string, by: string, ts: number): CommandOutcome {
  if (a.alarmId !== alarmId) return { ok: false, reason: notCurrent(a, alarmId) };
  if (a.state === 'ACTIVE_UNACK') {
    a.state = 'ACTIVE_ACKED';
    a.ackedBy = by;
    a.ackedAt = ts;
    return { ok: true, change: change(a, 'ACKNOWLEDGED', ts, by) };
  }
  if (a.state === 'CLEARED_UNACK') {
    a.ackedBy = by;
    a.ackedAt = ts;
    return { ok: true, change: toNormal(a, 'ACKNOWLEDGED', ts, by) };
  }
  return { ok: false, reason: `alarm ${alarmId} ${describe(a)}; there is nothing to acknowledge` };
}

/** Shelving hides an alarm for a while (a known nuisance); it comes back when the time is up. */
export function shelve(a: Alarm, alarmId: string, by: string, until: number, ts: number): CommandOutcome {
  if (a.alarmId !== alarmId) return { ok: false, reason: notCurrent(a, alarmId) };
  if (until <= ts) return { ok: false, reason: 'the shelving must end in the future' };
  if (a.state === 'ACTIVE_UNACK' || a.state === 'ACTIVE_ACKED' || a.state === 'CLEARED_UNACK') {
    a.state = 'SHELVED';
    a.shelvedBy = by;
    a.shelvedUntil = until;
    return { ok: true, change: change(a, 'SHELVED', ts, by) };
  }
  return { ok: false, reason: `alarm ${alarmId} ${describe(a)}; it cannot be shelved` };
}

/** Back from the shelf, by command or because the time is up: annunciated again if still active. */
export function unshelve(a: Alarm, alarmId: string, by: string | null, ts: number): CommandOutcome {
  if (a.alarmId !== alarmId) return { ok: false, reason: notCurrent(a, alarmId) };
  if (a.state !== 'SHELVED')
    return { ok: false, reason: `alarm ${alarmId} ${describe(a)}; it is not shelved` };
  a.shelvedBy = null;
  a.shelvedUntil = null;
  return { ok: true, change: backInView(a, 'UNSHELVED', ts, by) };
}

/**
 * Returns from SHELVED or SUPPRESSED: the episode ends if the condition is gone; a machine still
 * in maintenance keeps it suppressed; otherwise it is active again and unacknowledged.
 */
function backInView(a: Alarm, transition: Transition, ts: number, by: string | null): Change {
  if (!a.condition) return toNormal(a, transition, ts, by);
  a.state = a.suppressed ? 'SUPPRESSED' : 'ACTIVE_UNACK';
  a.clearedAt = null;
  a.ackedBy = null;
  a.ackedAt = null;
  return change(a, transition, ts, by);
}

/** Shelving that has run out (called with wall-clock time). */
export function expireShelving(a: Alarm, now: number): Change | null {
  if (a.state !== 'SHELVED' || a.shelvedUntil === null || now < a.shelvedUntil) return null;
  const out = unshelve(a, a.alarmId!, null, now);
  return out.ok ? out.change : null;
}

/**
 * The machine went out of service (MAINTENANCE) or came back. Alarms of a machine in maintenance
 * are suppressed by design: the work on it explains them. A condition still present when the
 * machine returns is annunciated again (a new episode when the old one had ended).
 */
export function setSuppressed(
  a: Alarm,
  suppressed: boolean,
  ts: number,
  detail: Detail,
  subject: string,
): Change | null {
  if (a.suppressed === suppressed) return null;
  a.suppressed = suppressed;
  if (suppressed) {
    if (a.state === 'ACTIVE_UNACK' || a.state === 'ACTIVE_ACKED' || a.state === 'CLEARED_UNACK') {
      a.state = 'SUPPRESSED';
      return change(a, 'SUPPRESSED', ts, null);
    }
    return null;
  }
  if (a.state === 'SUPPRESSED') return backInView(a, 'UNSUPPRESSED', ts, null);
  if (a.state === 'NORMAL' && a.condition) return raise(a, ts, detail, subject);
  return null;
}

function notCurrent(a: Alarm, alarmId: string): string {
  return a.alarmId === null
    ? `alarm ${alarmId} is not open (its rule is normal now)`
    : `alarm ${alarmId} is not the current episode of its rule (that is ${a.alarmId})`;
}
