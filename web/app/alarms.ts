/** What the page derives from the open alarms: their order, and which floor cells get a ring. */
import type { Alarm } from '../api/schemas.js';

export type Ring = 'unacked' | 'acked';

const SEVERITY_RANK: Record<string, number> = { critical: 3, high: 2, medium: 1, low: 0 };

/** Still waiting for a person: active or cleared, but nobody acknowledged it. */
export function isUnacked(alarm: Alarm): boolean {
  return alarm.state === 'ACTIVE_UNACK' || alarm.state === 'CLEARED_UNACK';
}

/** The alarms page's order: most severe first, then the oldest first (raised time, else event time). */
export function sortAlarms(alarms: readonly Alarm[]): Alarm[] {
  return [...alarms].sort(
    (a, b) =>
      (SEVERITY_RANK[b.severity] ?? -1) - (SEVERITY_RANK[a.severity] ?? -1) ||
      (a.raisedAt ?? a.ts) - (b.raisedAt ?? b.ts) ||
      a.alarmId.localeCompare(b.alarmId),
  );
}

/**
 * The ring of each machine with an alarm that matters on the floor: red while any of its alarms
 * is unacknowledged, amber when the only ones left are acknowledged but still active.
 * Line (flood) alarms have no machineId and ring nothing.
 */
export function ringsOf(alarms: readonly Alarm[]): Map<string, Ring> {
  const rings = new Map<string, Ring>();
  for (const alarm of alarms) {
    if (alarm.machineId === null) continue;
    if (isUnacked(alarm)) rings.set(alarm.machineId, 'unacked');
    else if (alarm.state === 'ACTIVE_ACKED' && !rings.has(alarm.machineId))
      rings.set(alarm.machineId, 'acked');
  }
  return rings;
}

/** The machines whose ring differs between two ring maps (added, removed or changed colour). */
export function changedRings(before: ReadonlyMap<string, Ring>, after: ReadonlyMap<string, Ring>): string[] {
  const changed: string[] = [];
  for (const [id, ring] of after) if (before.get(id) !== ring) changed.push(id);
  for (const id of before.keys()) if (!after.has(id)) changed.push(id);
  return changed;
}
