/**
 * Flood detection per line (ISA-18.2: more alarms than an operator can handle). More than
 * `count` alarms raised on a line within `windowMs` becomes one flood alarm for the line,
 * which clears once the rate has calmed to `calm` or fewer in the window. Alarms raised while
 * it is active carry its id (`flood`), so escalation can follow the one flood alarm instead
 * of each. The flood alarm has the ordinary lifecycle (acknowledge, shelve); its subject is
 * the line (`site/line`), and the analytics instance owning that key's partition owns it.
 */
import {
  type Alarm,
  acknowledge,
  type Change,
  type CommandOutcome,
  expireShelving,
  newAlarm,
  onCondition,
  shelve,
  unshelve,
} from './lifecycle.js';
import type { RuleFacts } from './machine.js';

export const FLOOD = { count: 10, windowMs: 10 * 60_000, calm: 5 } as const;

export interface FloodState {
  v: 1;
  site: string;
  line: string;
  /** Times of the alarms raised on the line within the window. */
  raises: number[];
  alarm: Alarm;
}

export const newFloodState = (site: string, line: string): FloodState => ({
  v: 1,
  site,
  line,
  raises: [],
  alarm: newAlarm('flood'),
});

export const floodFacts = (n: number): RuleFacts => ({
  id: 'flood',
  kind: 'flood',
  severity: 'high',
  field: null,
  message: `alarm flood: ${n} alarms raised on the line within ${FLOOD.windowMs / 60_000} minutes`,
});

export const lineSubject = (site: string, line: string) => `${site}/${line}`;

/** Counts one raised alarm (event time); returns the flood alarm's change, if any. */
export function floodRaise(s: FloodState, ts: number): Change | null {
  s.raises.push(ts);
  s.raises.sort((a, b) => a - b);
  return judge(s, Math.max(ts, s.raises.at(-1)!));
}

/** On the processor's clock: the window moves on, the flood may calm, shelving may run out. */
export function floodTick(s: FloodState, now: number): Change[] {
  const out: Change[] = [];
  const expired = expireShelving(s.alarm, now);
  if (expired) out.push(expired);
  const c = judge(s, now);
  if (c) out.push(c);
  return out;
}

function judge(s: FloodState, now: number): Change | null {
  while (s.raises.length > 0 && now - s.raises[0]! > FLOOD.windowMs) s.raises.shift();
  const n = s.raises.length;
  const active = s.alarm.condition ? n > FLOOD.calm : n > FLOOD.count;
  if (active === s.alarm.condition) return null;
  // The episode is named by the time it began (a line has no seq of its own).
  const detail = { seq: now, value: n, limit: FLOOD.count, since: now };
  return onCondition(s.alarm, active, now, detail, lineSubject(s.site, s.line));
}

export function floodCommand(
  s: FloodState,
  alarmId: string,
  action: 'acknowledge' | 'shelve' | 'unshelve',
  by: string,
  now: number,
  forMs = 0,
): CommandOutcome {
  if (action === 'acknowledge') return acknowledge(s.alarm, alarmId, by, now);
  if (action === 'shelve') return shelve(s.alarm, alarmId, by, now + forMs, now);
  return unshelve(s.alarm, alarmId, by, now);
}
