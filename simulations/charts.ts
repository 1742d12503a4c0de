/**
 * The report's charts: Vega-Lite specifications rendered to SVG in Node (vega's headless view,
 * no canvas), so a report is plain files that any browser or Markdown viewer shows. Each chart
 * answers one question a plant engineer asks of a run: what did the faulted machine do and when
 * did the alarm come; which alarms were raised and for how long; did the platform keep storing
 * through its fault.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { FaultKind } from '../actors/commands.js';
import { loadRuleBook } from '../analytics/rules.js';
import { isAnnunciation } from './judge.js';
import type { RunRecord } from './record.js';

export interface Chart {
  /** File name within the report directory. */
  file: string;
  title: string;
  svg: string;
}

const WIDTH = 720;
const STATE_COLOURS = {
  domain: ['RUNNING', 'IDLE', 'MAINTENANCE', 'FAULT'],
  range: ['#4c9a2a', '#b0b0b0', '#3b6fb6', '#d62728'],
};
const SEVERITY_COLOURS = {
  domain: ['low', 'medium', 'high', 'critical'],
  range: ['#9ecae1', '#fdae6b', '#e6550d', '#a50f15'],
};

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The time axis: seconds for a wall-clock run, hours for a simulated week. */
function timeAxis(record: RunRecord) {
  const hours = record.scenario.durationMs > 3 * 3_600_000;
  return {
    div: hours ? 3_600_000 : 1000,
    title: hours ? 'hours since the start of the run' : 'seconds since the start of the run',
    domain: [0, record.scenario.durationMs / (hours ? 3_600_000 : 1000)],
  };
}

/** A fault's window (`from`, `to` on the time axis) as a shaded band behind the data. */
const shaded = (windows: { from: number; to: number }[], domain: number[]) => ({
  data: { values: windows },
  mark: { type: 'rect' as const, color: '#fdd0a2', opacity: 0.55 },
  encoding: {
    x: { field: 'from', type: 'quantitative' as const, scale: { domain, nice: false } },
    x2: { field: 'to' },
  },
});

/** The field that shows a fault best: vibration for wear, temperature for everything else. */
const fieldOf = (fault: FaultKind) =>
  fault === 'bearing_wear'
    ? ({ series: 'vibration', rule: 'vibrationMmS', label: 'vibration (mm/s)' } as const)
    : ({ series: 'temperature', rule: 'temperatureC', label: 'temperature (°C)' } as const);

/**
 * (a) One faulted machine: its reading over the run with the alarm limits as rules, the fault
 * window shaded, a mark at each alarm it raised; its state below as a coloured band.
 */
async function machineChart(record: RunRecord, machineId: string): Promise<Chart> {
  const { facts, series } = record;
  const start = facts.startedAt;
  const ax = timeAxis(record);
  const faults = facts.faults.filter((f) => f.machineId === machineId && f.injectedAt !== null);
  const field = fieldOf(faults[0]!.fault);
  const type = faults[0]!.type;
  const own = series.filter((s) => s.machineId === machineId);
  // A silence (a sensor dropout, a dead worker) breaks the line and the state band: each run of
  // readings without a gap wider than five usual spacings is its own segment.
  const spacings = own.slice(1).map((s, i) => s.t - own[i]!.t);
  const usual = spacings.length > 0 ? [...spacings].sort((a, b) => a - b)[spacings.length >> 1]! : 0;
  let segment = 0;
  const points = own.map((s, i) => {
    if (i > 0 && s.t - own[i - 1]!.t > 5 * usual) segment++;
    return { t: s.t / ax.div, value: s[field.series], state: s.state, segment };
  });
  const limits = loadRuleBook()
    .forType(type)
    .flatMap((r) =>
      r.kind === 'limit' && r.field === field.rule && r.high !== undefined
        ? [{ limit: r.high, label: `${r.id} ${r.high}` }]
        : [],
    );
  const windows = faults.map((f) => ({
    from: (f.injectedAt! - start) / ax.div,
    to: ((f.clearedAt ?? facts.endedAt) - start) / ax.div,
    label: `${f.fault}`,
  }));
  const raised = facts.alarms
    .filter((a) => a.machineId === machineId && isAnnunciation(a))
    .map((a) => ({ t: (a.at - start) / ax.div, label: a.rule, severity: a.severity }));
  stackLabels(raised, ax.domain[1]!);
  // States as bands: consecutive readings in one state and segment make one bar.
  const bands: { from: number; to: number; state: string; segment: number }[] = [];
  for (const p of points) {
    const lastBand = bands.at(-1);
    if (lastBand && lastBand.state === p.state && lastBand.segment === p.segment) lastBand.to = p.t;
    else {
      if (lastBand && lastBand.segment === p.segment) lastBand.to = p.t;
      bands.push({ from: p.t, to: p.t, state: p.state, segment: p.segment });
    }
  }
  const x = {
    field: 't',
    type: 'quantitative',
    title: ax.title,
    scale: { domain: ax.domain, nice: false },
  } as const;
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `${machineId} (${type}): ${field.label}`,
      subtitle: `fault shaded; alarm limits dashed; alarms raised marked; no line where no reading came`,
    },
    config: { font: 'sans-serif', view: { stroke: null } },
    vconcat: [
      {
        width: WIDTH,
        height: 260,
        layer: [
          shaded(windows, ax.domain),
          {
            data: { values: points },
            mark: { type: 'line', color: '#1f4e79', strokeWidth: 1.2 },
            encoding: {
              x,
              detail: { field: 'segment', type: 'nominal' },
              y: { field: 'value', type: 'quantitative', title: field.label, scale: { zero: false } },
            },
          },
          {
            data: { values: limits },
            mark: { type: 'rule', color: '#a50f15', strokeDash: [6, 4] },
            encoding: { y: { field: 'limit', type: 'quantitative' } },
          },
          {
            data: { values: limits },
            mark: { type: 'text', align: 'left', dx: 4, dy: -6, color: '#a50f15', fontSize: 10 },
            encoding: {
              y: { field: 'limit', type: 'quantitative' },
              x: { value: 0 },
              text: { field: 'label' },
            },
          },
          {
            data: { values: raised },
            mark: { type: 'rule', color: '#e6550d', strokeWidth: 1.5 },
            encoding: { x: { field: 't', type: 'quantitative' } },
          },
          {
            data: { values: raised },
            mark: { type: 'text', align: 'left', baseline: 'top', dx: 3, fontSize: 10, color: '#e6550d' },
            encoding: {
              x: { field: 't', type: 'quantitative' },
              y: { field: 'y', type: 'quantitative', scale: null },
              text: { field: 'label' },
            },
          },
        ],
        resolve: { scale: { y: 'shared' } },
      },
      {
        width: WIDTH,
        height: 24,
        data: { values: bands },
        mark: { type: 'rect' },
        encoding: {
          x: {
            field: 'from',
            type: 'quantitative',
            title: ax.title,
            scale: { domain: ax.domain, nice: false },
          },
          x2: { field: 'to' },
          color: { field: 'state', type: 'nominal', title: 'state', scale: STATE_COLOURS },
        },
      },
    ],
  };
  return {
    file: `machine-${machineId}.svg`,
    title: `${machineId}: ${field.label} and state`,
    svg: await renderSvg(spec),
  };
}

/**
 * Alarm labels side by side in rows from the top, so alarms close in time do not print over
 * each other: each goes to the first row where the previous label has ended (about 6 px a character).
 */
function stackLabels(labels: { t: number; label: string; y?: number }[], domainEnd: number): void {
  const ends: number[] = [];
  for (const l of [...labels].sort((a, b) => a.t - b.t)) {
    const x = (l.t / domainEnd) * WIDTH;
    let row = ends.findIndex((end) => end < x);
    if (row === -1) row = ends.push(0) - 1;
    ends[row] = x + 6 * l.label.length + 8;
    l.y = 4 + 13 * row;
  }
}

/** (b) Every alarm of the run, one row each: a bar from each raise (or reactivation) to its clear, or the end of the run. */
async function alarmTimeline(record: RunRecord): Promise<Chart | undefined> {
  const { facts } = record;
  const ax = timeAxis(record);
  const end = (facts.endedAt - facts.startedAt) / ax.div;
  type Bar = { alarm: string; first: number; from: number; to: number; severity: string };
  const bars: Bar[] = [];
  /** Per alarm id: when its row first opened, and its bar still open, if any. */
  const rows = new Map<string, { first: number; open: Bar | null }>();
  for (const a of [...facts.alarms].sort((x, y) => x.at - y.at)) {
    const t = (a.at - facts.startedAt) / ax.div;
    const row = rows.get(a.alarmId);
    if (isAnnunciation(a) && !row?.open) {
      const first = row?.first ?? t;
      const bar = {
        alarm: `${a.machineId ?? a.line} ${a.rule}`,
        first,
        from: t,
        to: end,
        severity: a.severity,
      };
      bars.push(bar);
      rows.set(a.alarmId, { first, open: bar });
    } else if (row?.open && a.transition === 'CLEARED') {
      row.open.to = t;
      row.open = null;
    }
  }
  if (bars.length === 0) return undefined;
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Alarms of the run',
      subtitle: 'raised (or reactivated) → cleared; still open at the end reach the right edge',
    },
    config: { font: 'sans-serif' },
    width: WIDTH,
    height: { step: 18 },
    data: { values: bars },
    mark: { type: 'bar', cornerRadius: 2 },
    encoding: {
      y: {
        field: 'alarm',
        type: 'nominal',
        title: null,
        sort: { field: 'first' },
        axis: { labelLimit: 320 },
      },
      x: { field: 'from', type: 'quantitative', title: ax.title, scale: { domain: ax.domain, nice: false } },
      x2: { field: 'to' },
      color: { field: 'severity', type: 'nominal', scale: SEVERITY_COLOURS },
    },
  };
  return { file: 'alarms.svg', title: 'Alarm timeline', svg: await renderSvg(spec) };
}

/** (c) Readings stored per second and the writers' Kafka lag, each platform fault shaded. */
async function throughputChart(record: RunRecord): Promise<Chart | undefined> {
  const { facts, samples } = record;
  if (samples.length < 2) return undefined;
  const ax = timeAxis(record);
  const rate: { t: number; perSecond: number }[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    if (a.written === null || b.written === null || b.written < a.written) continue;
    rate.push({ t: b.t / ax.div, perSecond: ((b.written - a.written) * 1000) / Math.max(1, b.t - a.t) });
  }
  const lag = samples.filter((s) => s.lag !== null).map((s) => ({ t: s.t / ax.div, lag: s.lag }));
  const windows = facts.platform.map((p) => ({
    from: (p.startedAt - facts.startedAt) / ax.div,
    to:
      Math.max((p.endedAt ?? facts.endedAt) - facts.startedAt, p.startedAt - facts.startedAt + 1000) / ax.div,
    label: `${p.kind} ${p.target}`,
  }));
  const panel = (data: object[], yField: string, title: string, colour: string) => ({
    width: WIDTH,
    height: 160,
    layer: [
      shaded(windows, ax.domain),
      {
        data: { values: windows },
        mark: { type: 'text', align: 'left', baseline: 'top', dx: 3, dy: 3, fontSize: 10, color: '#8c2d04' },
        encoding: { x: { field: 'from', type: 'quantitative' }, y: { value: 0 }, text: { field: 'label' } },
      },
      {
        data: { values: data },
        mark: { type: 'line', color: colour, strokeWidth: 1.2, interpolate: 'step-after' },
        encoding: {
          x: { field: 't', type: 'quantitative', title: ax.title, scale: { domain: ax.domain, nice: false } },
          // From zero, in whole records, and at least 0–10: a lag of zero throughout reads as zero.
          y: {
            field: yField,
            type: 'quantitative',
            title,
            scale: {
              domainMin: 0,
              domainMax: Math.max(
                10,
                ...data.map((d) => Number((d as Record<string, unknown>)[yField]) || 0),
              ),
            },
            axis: { format: ',d', tickMinStep: 1 },
          },
        },
      },
    ],
  });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: windows.length > 0 ? 'Storage through the platform fault' : 'Storage through the run',
      subtitle: `from the writers’ /healthz, sampled every second${windows.length > 0 ? '; fault shaded' : ''}`,
    },
    config: { font: 'sans-serif', view: { stroke: null } },
    vconcat: [
      panel(rate, 'perSecond', 'readings stored / s', '#1f4e79'),
      panel(lag, 'lag', 'Kafka lag (records)', '#6a51a3'),
    ],
  } as TopLevelSpec;
  return { file: 'throughput.svg', title: 'Throughput and Kafka lag', svg: await renderSvg(spec) };
}

/** Every chart of a run: one per faulted machine (at most six), the alarm timeline, throughput. */
export async function renderCharts(record: RunRecord): Promise<Chart[]> {
  const faulted = [
    ...new Set(record.facts.faults.filter((f) => f.injectedAt !== null).map((f) => f.machineId)),
  ];
  const charts: (Chart | undefined)[] = [];
  for (const id of faulted.slice(0, 6))
    if (record.series.some((s) => s.machineId === id)) charts.push(await machineChart(record, id));
  charts.push(await alarmTimeline(record), await throughputChart(record));
  return charts.filter((c): c is Chart => c !== undefined);
}
