/**
 * Line KPIs: a line's machines are spread over the analytics instances (by machine id), so no
 * instance holds a whole line. The sums in the machines' `kpi` points are additive, so the
 * instance that owns the line's key sums them back from InfluxDB, window by window, and writes
 * the line's point beside them (scope "line"). OEE of a line is then ISO 22400's: totals of
 * times and counts, not an average of the machines' ratios.
 */
import type { InfluxDB, IPoint } from 'influx';
import { emptySums, KPI_WINDOWS, type KpiSums, type KpiWindowSize, WINDOW_MS } from './kpi.js';
import { KPI_RETENTION, kpiPoint } from './kpi-points.js';

const SUM_FIELDS: [keyof KpiSums, string][] = [
  ['pbtMs', 'pbt_ms'],
  ['aptMs', 'apt_ms'],
  ['plannedDownMs', 'planned_down_ms'],
  ['made', 'made'],
  ['good', 'good'],
  ['idealMade', 'ideal_made'],
  ['failures', 'failures'],
  ['repairs', 'repairs'],
  ['repairMs', 'repair_ms'],
  ['alarms', 'alarms'],
];

const quote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The line points of the current and the previous window of each size, for the given lines. */
export async function linePoints(
  influx: InfluxDB,
  lines: { site: string; line: string }[],
  now: number,
): Promise<IPoint[]> {
  if (lines.length === 0) return [];
  const where = lines.map((l) => `(site = ${quote(l.site)} AND line = ${quote(l.line)})`).join(' OR ');
  const points: IPoint[] = [];
  for (const size of KPI_WINDOWS) {
    const since = now - 2 * WINDOW_MS[size];
    const q =
      `SELECT ${SUM_FIELDS.map(([, f]) => `"${f}"`).join(', ')}, "complete", site, line FROM "${KPI_RETENTION}"."kpi" ` +
      `WHERE scope = 'machine' AND "window" = '${size}' AND time >= ${since}ms AND (${where})`;
    const rows = await influx.query<Record<string, unknown> & { time: Date }>(q, { precision: 'ms' });
    const byKey = new Map<
      string,
      { site: string; line: string; start: number; sums: KpiSums; complete: boolean }
    >();
    for (const r of rows) {
      const start = r.time.getTime();
      const key = `${r.site}/${r.line}@${start}`;
      let agg = byKey.get(key);
      if (!agg) {
        agg = { site: String(r.site), line: String(r.line), start, sums: emptySums(), complete: true };
        byKey.set(key, agg);
      }
      for (const [k, f] of SUM_FIELDS) agg.sums[k] += Number(r[f] ?? 0);
      agg.complete &&= r.complete === true;
    }
    for (const a of byKey.values()) {
      const span = a.sums.pbtMs + a.sums.plannedDownMs;
      points.push(
        kpiPoint(
          { site: a.site, line: a.line },
          { size: size as KpiWindowSize, start: a.start, sums: a.sums },
          span,
          a.complete,
        ),
      );
    }
  }
  return points;
}
