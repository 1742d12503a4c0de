/**
 * KPI windows as points of the contract's InfluxDB measurement `kpi` (retention `rollup_1m`,
 * 90 days). One point per window and scope, timestamped at the window's start: an open window
 * is rewritten in place as it grows (same series and time), and its last write says `complete`.
 * The additive sums ride along, so a line or a plant is the sum of its machines.
 */
import type { IPoint } from 'influx';
import { type KpiSums, type KpiWindow, kpiFigures } from './kpi.js';

export const KPI_RETENTION = 'rollup_1m';

export interface KpiScope {
  site: string;
  line: string;
  /** Absent for a line's point. */
  machineId?: string;
}

export function kpiPoint(
  scope: KpiScope,
  w: Pick<KpiWindow, 'size' | 'start'> & { sums: KpiSums },
  spanMs: number,
  complete: boolean,
): IPoint {
  const f = kpiFigures(w.sums, spanMs);
  const fields: Record<string, number | boolean> = {
    complete,
    span_s: Math.round(spanMs / 1000),
    alarms_per_hour: f.alarmsPerHour,
    pbt_ms: w.sums.pbtMs,
    apt_ms: w.sums.aptMs,
    planned_down_ms: w.sums.plannedDownMs,
    made: w.sums.made,
    good: w.sums.good,
    ideal_made: w.sums.idealMade,
    failures: w.sums.failures,
    repairs: w.sums.repairs,
    repair_ms: w.sums.repairMs,
    alarms: w.sums.alarms,
  };
  const figures = {
    availability: f.availability,
    performance: f.performance,
    quality: f.quality,
    oee: f.oee,
    mtbf_s: f.mtbfS,
    mttr_s: f.mttrS,
  };
  for (const [k, v] of Object.entries(figures)) if (v !== null) fields[k] = v;
  return {
    measurement: 'kpi',
    tags: {
      scope: scope.machineId === undefined ? 'line' : 'machine',
      site: scope.site,
      line: scope.line,
      machine: scope.machineId ?? '-',
      window: w.size,
    },
    fields,
    timestamp: w.start,
  };
}
