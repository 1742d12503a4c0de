import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IPoint } from 'influx';
import { describe, expect, it } from 'vitest';
import { kpiPoint } from '../../analytics/kpi-points.js';
import { loadRuleBook, type Rule } from '../../analytics/rules.js';
import { TELEMETRY_EXAMPLE } from '../../common/telemetry.js';
import { alarmPoint, telemetryPoint } from '../../pipeline/influx.js';
import {
  DASHBOARD_UIDS,
  DATASOURCE_UID,
  factoryDashboards,
  highLimits,
  machineDetail,
} from './dashboards.js';
import { DASHBOARDS_DIR, dashboardFiles } from './generate.js';
import {
  allPanels,
  type PanelQuery,
  panelQueries,
  parseDashboard,
  type Substitution,
  substitute,
  templateVariableQueries,
  unresolvedReferences,
} from './queries.js';

const dashboards = factoryDashboards();
const queries: PanelQuery[] = dashboards.flatMap((d) => panelQueries(d));

/** The React panels Grafana 10+ ships; `graph` (angular) is deprecated. */
const REACT_PANELS = new Set(['timeseries', 'stat', 'table', 'state-timeline', 'bargauge']);

/** Sample values: an array for multi-value variables (as "All" sends), the first option of a custom one. */
function sampleVars(dashboard: unknown): Substitution['vars'] {
  return Object.fromEntries(
    templateVariableQueries(dashboard).map((v) => [
      v.variable,
      v.type === 'custom' ? (v.query.split(',')[0] ?? '') : v.multi ? ['plant-1', 'line.2'] : 'M-0001',
    ]),
  );
}

const committedFiles = () =>
  readdirSync(DASHBOARDS_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => readFileSync(join(DASHBOARDS_DIR, f), 'utf8'));

describe('the generated files', () => {
  it('are the four dashboards by uid', () => {
    expect(dashboards.map((d) => d.uid)).toEqual(Object.values(DASHBOARD_UIDS));
  });

  it('are committed as generate.ts writes them (run `npm run dashboards` after a change)', () => {
    const files = dashboardFiles();
    const committed = readdirSync(DASHBOARDS_DIR).filter((f) => f.endsWith('.json'));
    expect(committed.sort()).toEqual([...files.keys()].sort());
    // Byte for byte (biome leaves the generated directory alone).
    for (const [name, json] of files) expect(readFileSync(join(DASHBOARDS_DIR, name), 'utf8')).toBe(json);
  });

  it('are 2-space indented with a trailing newline', () => {
    for (const content of [...dashboardFiles().values(), ...committedFiles()]) {
      expect(content.endsWith('}\n')).toBe(true);
      expect(content.split('\n')[1]).toMatch(/^ {2}"/);
    }
  });
});

describe('every panel', () => {
  const panels = dashboards.flatMap((d) => allPanels(d).map((p) => ({ uid: d.uid, ...p })));

  it('is a React panel, never the legacy graph', () => {
    for (const p of panels) {
      expect(p.type).not.toBe('graph');
      expect(REACT_PANELS, `${p.uid} / ${p.title}`).toContain(p.type);
    }
  });

  it('has at least one target, with distinct refIds', () => {
    for (const p of panels) {
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(refIds.length, `${p.uid} / ${p.title}`).toBeGreaterThan(0);
      expect(new Set(refIds).size).toBe(refIds.length);
    }
  });

  it('has an id of its own within its dashboard', () => {
    for (const d of dashboards) {
      const ids = (d.panels ?? []).flatMap((p) => [
        p.id,
        ...('collapsed' in p ? p.panels.map((i) => i.id) : []),
      ]);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.every((id) => typeof id === 'number' && id > 0)).toBe(true);
    }
  });

  it('includes the panel nested in the collapsed tickets row', () => {
    expect(queries.some((q) => q.dashboard === DASHBOARD_UIDS.machine && q.panel === 'Tickets')).toBe(true);
  });
});

describe('every target', () => {
  it('names the factory datasource and is raw InfluxQL', () => {
    for (const d of dashboards)
      for (const p of allPanels(d))
        for (const t of p.targets ?? []) {
          expect(t.datasource?.uid, `${d.uid} / ${p.title}`).toBe(DATASOURCE_UID);
          expect(t.datasource?.type).toBe('influxdb');
          expect(t.rawQuery).toBe(true);
        }
  });

  it('filters on $timeFilter, and groups by time only in $__interval buckets', () => {
    for (const q of queries) {
      expect(q.query, `${q.dashboard} / ${q.panel}`).toContain('$timeFilter');
      for (const m of q.query.matchAll(/GROUP BY time\(([^)]*)\)/g)) expect(m[1]).toBe('$__interval');
    }
  });

  it('leaves no template reference once substituted as Grafana would', () => {
    for (const d of dashboards) {
      const vars = sampleVars(d);
      for (const q of panelQueries(d)) {
        const out = substitute(q.query, { vars });
        expect(unresolvedReferences(out), `${q.dashboard} / ${q.panel}: ${out}`).toEqual([]);
      }
    }
  });

  it('reads only measurements, tags and fields that are written', () => {
    const known = writtenNames();
    for (const q of queries) {
      const from = [...q.query.matchAll(/FROM (?:"([\w-]+)"\.)?"([\w-]+)"/g)].map((m) => m[2] ?? '');
      const aliases = new Set([...q.query.matchAll(/ AS "([^"]+)"/g)].map((m) => m[1]));
      const measurements = from.filter((m) => known.has(m));
      expect(measurements.length, `${q.panel}: ${q.query}`).toBeGreaterThan(0);
      const allowed = new Set([
        ...measurements.flatMap((m) => [...(known.get(m) ?? [])]),
        ...from,
        'raw',
        'rollup_1m',
      ]);
      for (const [, name] of q.query.matchAll(/"([^"]+)"/g))
        if (name !== undefined && !aliases.has(name))
          expect(allowed, `"${name}" in ${q.dashboard} / ${q.panel}`).toContain(name);
    }
  });
});

describe('template variables', () => {
  const byUid = (uid: string) => templateVariableQueries(dashboards.find((d) => d.uid === uid));

  it('give the plant overview site and line, multi-valued with All', () => {
    const vars = byUid(DASHBOARD_UIDS.plant);
    expect(vars.map((v) => v.variable)).toEqual(['site', 'line']);
    for (const v of vars) expect(v).toMatchObject({ type: 'query', multi: true, includeAll: true });
    expect(vars[1]?.query).toContain('WITH KEY = "line"');
  });

  it('give the machine detail one machine from the telemetry tags', () => {
    expect(byUid(DASHBOARD_UIDS.machine)[0]).toMatchObject({
      variable: 'machine',
      query: 'SHOW TAG VALUES FROM "telemetry" WITH KEY = "machine"',
      multi: false,
    });
  });

  it('leave no template reference in their own queries once substituted', () => {
    for (const d of dashboards) {
      const vars = sampleVars(d);
      for (const v of templateVariableQueries(d))
        expect(unresolvedReferences(substitute(v.query, { vars }))).toEqual([]);
    }
  });

  it('all point at the factory datasource', () => {
    for (const d of dashboards)
      for (const v of d.templating.list ?? [])
        if (v.type === 'query') expect(v.datasource?.uid).toBe(DATASOURCE_UID);
  });
});

describe('alarm limits on the machine dashboard', () => {
  const thresholdsOf = (d: unknown, title: string) => {
    const raw = JSON.parse(JSON.stringify(d)) as { panels: unknown[] };
    const panel = raw.panels.find((p) => (p as { title?: string }).title === title) as {
      fieldConfig: { defaults: { thresholds: { steps: { value: number | null; color: string }[] } } };
    };
    return panel.fieldConfig.defaults.thresholds.steps;
  };

  it('draws the default rules’ temperature-high and high-high limits (78 and 86 °C)', () => {
    const limits = highLimits(loadRuleBook().forType('default')).filter((l) => l.field === 'temperature');
    expect(limits.map((l) => [l.rule, l.high])).toEqual([
      ['temperature-high', 78],
      ['temperature-high-high', 86],
    ]);
    const machine = dashboards.find((d) => d.uid === DASHBOARD_UIDS.machine);
    expect(thresholdsOf(machine, 'Temperature')).toEqual([
      { value: null, color: 'green' },
      { value: 78, color: 'orange' },
      { value: 86, color: 'red' },
    ]);
  });

  it('follows the rules it is given, field by field', () => {
    const rules: Rule[] = [
      {
        id: 'power-high',
        kind: 'limit',
        field: 'powerKw',
        high: 30,
        deadband: 1,
        severity: 'medium',
        onDelayS: 0,
        offDelayS: 0,
      },
    ];
    const d = machineDetail(rules);
    expect(thresholdsOf(d, 'Power')).toEqual([
      { value: null, color: 'green' },
      { value: 30, color: 'yellow' },
    ]);
    expect(thresholdsOf(d, 'Temperature')).toEqual([{ value: null, color: 'green' }]);
  });
});

/** Measurement → tag and field names, taken from the writers themselves where they are functions. */
function writtenNames(): Map<string, Set<string>> {
  const names = (p: IPoint) => new Set([...Object.keys(p.tags ?? {}), ...Object.keys(p.fields ?? {})]);
  const alarm = alarmPoint({
    v: 1,
    eventId: 'M-0001.temperature-high.7#2',
    alarmId: 'M-0001.temperature-high.7',
    transition: 'ACKNOWLEDGED',
    state: 'ACTIVE_ACKED',
    machineId: 'M-0001',
    site: 'plant-1',
    line: 'line-1',
    machineType: 'cnc-mill',
    rule: 'temperature-high',
    kind: 'limit',
    severity: 'high',
    field: 'temperatureC',
    value: 80,
    limit: 78,
    ts: 2,
    raisedAt: 1,
    conditionSince: 1,
    by: 'operator',
    shelvedUntil: null,
    flood: 'plant-1/line-1.alarm-flood.3',
    message: 'too hot',
  });
  const sums = {
    pbtMs: 60_000,
    aptMs: 50_000,
    plannedDownMs: 0,
    made: 10,
    good: 9,
    idealMade: 12,
    failures: 1,
    repairs: 1,
    repairMs: 5_000,
    alarms: 1,
  };
  const kpi = kpiPoint(
    { site: 'plant-1', line: 'line-1', machineId: 'M-0001' },
    { size: '1m', start: 0, sums },
    60_000,
    true,
  );
  return new Map([
    ['telemetry', names(telemetryPoint(TELEMETRY_EXAMPLE))],
    ['alarms', names(alarm)],
    ['kpi', names(kpi)],
    // workflows/activities.ts writes tickets inline (recordTicket, recordRepair).
    [
      'tickets',
      new Set([
        'site',
        'line',
        'machine',
        'event',
        'ticket_id',
        'reason',
        'by',
        'response_s',
        'repair_s',
        'open_s',
      ]),
    ],
    // The pipeline self-report (issue "Grafana dashboards as code"), written every 10 s.
    ['pipeline', new Set(['component', 'role', 'received', 'forwarded', 'written', 'dead_lettered', 'lag'])],
  ]);
}

describe('parseDashboard', () => {
  it('reads every committed file', () => {
    for (const name of readdirSync(DASHBOARDS_DIR))
      expect(parseDashboard(readFileSync(join(DASHBOARDS_DIR, name), 'utf8')).uid).toBe(
        name.replace(/\.json$/, ''),
      );
  });
});
