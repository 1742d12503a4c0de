/**
 * The four Grafana dashboards of the platform, built with @grafana/grafana-foundation-sdk:
 * plant overview, machine detail, alarms and pipeline health. Every panel reads InfluxDB 1.x
 * through one provisioned datasource (uid `factory-influxdb`) with raw InfluxQL, so a query can
 * be copied into the `influx` shell as it is (after the substitutions of ./queries.ts).
 *
 * Only measurements and fields that are really written are queried: `telemetry` (pipeline/influx.ts),
 * `kpi` (analytics/kpi-points.ts), `alarms` (pipeline/influx.ts), `tickets` (workflows/activities.ts),
 * plus `pipeline`, the self-report every pipeline process writes every 10 s.
 */

import { PanelBuilder as BarGaugePanel } from '@grafana/grafana-foundation-sdk/bargauge';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import {
  BarGaugeDisplayMode,
  BigValueColorMode,
  BigValueGraphMode,
  BigValueTextMode,
  GraphDrawStyle,
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
  ReduceDataOptionsBuilder,
  StackingConfigBuilder,
  StackingMode,
  TableSortByFieldStateBuilder,
  VizOrientation,
} from '@grafana/grafana-foundation-sdk/common';
import {
  CustomVariableBuilder,
  type Dashboard,
  DashboardBuilder,
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
  type DataSourceRef,
  type DataTransformerConfig,
  type DynamicConfigValue,
  MappingType,
  type Panel,
  QueryVariableBuilder,
  RowBuilder,
  type Threshold,
  type ThresholdsConfig,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  type ValueMapping,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as StateTimelinePanel } from '@grafana/grafana-foundation-sdk/statetimeline';
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { KPI_RETENTION } from '../../analytics/kpi-points.js';
import { loadRuleBook, type Rule, type RuleField, type Severity } from '../../analytics/rules.js';
import { MEASUREMENTS, RETENTION } from '../../common/influx-schema.js';

export const DATASOURCE_UID = 'factory-influxdb';
export const DATASOURCE: DataSourceRef = { type: 'influxdb', uid: DATASOURCE_UID };

export const DASHBOARD_UIDS = {
  plant: 'factory-plant',
  machine: 'factory-machine',
  alarms: 'factory-alarms',
  pipeline: 'factory-pipeline',
} as const;

/** Every dashboard carries this tag; the dashboard links list the others by it. */
const TAG = 'factory';

// Retention policy and measurement, quoted, as every FROM names them: a plant's InfluxDB may have
// another default retention policy than ours, so the name is never left to the default.
const q = (s: string) => `"${s}"`;
const FROM = {
  telemetry: `${q(RETENTION.raw.name)}.${q(MEASUREMENTS.telemetry)}`,
  alarms: `${q(RETENTION.raw.name)}.${q(MEASUREMENTS.alarms)}`,
  kpi: `${q(KPI_RETENTION)}.${q(MEASUREMENTS.kpi)}`,
  tickets: `${q(RETENTION.rollup.name)}.${q(MEASUREMENTS.tickets)}`,
  // Written by the pipeline processes' status reporter (not built yet) into the default retention
  // policy, which `factory up` makes `raw`; so it is named without one.
  pipeline: q('pipeline'),
} as const;

// ---------------------------------------------------------------------------------------------
// InfluxQL targets. The SDK of this Grafana version has no InfluxDB query type, so this is the
// datasource's own query model (raw mode): refId, datasource, rawQuery, query, resultFormat, alias.

export type ResultFormat = 'time_series' | 'table';

export interface InfluxQLTarget {
  refId: string;
  datasource: DataSourceRef;
  rawQuery: true;
  query: string;
  resultFormat: ResultFormat;
  /** Series name pattern of the InfluxDB datasource (`$tag_line`, `$col`); not part of the query. */
  alias?: string;
}

export interface QuerySpec {
  query: string;
  alias?: string;
  format?: ResultFormat;
}

class InfluxQLQueryBuilder implements cog.Builder<cog.Dataquery> {
  constructor(private readonly target: InfluxQLTarget) {}

  build(): cog.Dataquery {
    // The marker method only tells the SDK's types this is a query; JSON.stringify drops it.
    const built: InfluxQLTarget & cog.Dataquery = { ...this.target, _implementsDataqueryVariant: () => {} };
    return built;
  }
}

/** Targets A, B, C… of one panel, all on the factory datasource. */
function targets(specs: QuerySpec[]): InfluxQLQueryBuilder[] {
  return specs.map(
    (s, i) =>
      new InfluxQLQueryBuilder({
        refId: String.fromCharCode(65 + i),
        datasource: DATASOURCE,
        rawQuery: true,
        query: s.query,
        resultFormat: s.format ?? 'time_series',
        ...(s.alias === undefined ? {} : { alias: s.alias }),
      }),
  );
}

// ---------------------------------------------------------------------------------------------
// Panel helpers: what every panel shares, set in one place.

interface PanelSpec {
  title: string;
  description: string;
  queries: QuerySpec[];
  w: number;
  h: number;
  unit?: string;
  /** Minimum `$__interval`: a measurement written once a minute makes finer buckets empty. */
  minInterval?: string;
  /** Own relative time range ("what is the case now"), independent of the dashboard's picker. */
  timeFrom?: string;
  thresholds?: Threshold[];
  mappings?: ValueMapping[];
  transformations?: DataTransformerConfig[];
}

/** The builder methods every panel type of the SDK has (they all extend dashboard.Panel). */
interface CommonPanelBuilder<Self> extends cog.Builder<Panel> {
  title(title: string): Self;
  description(description: string): Self;
  datasource(datasource: DataSourceRef): Self;
  targets(targets: cog.Builder<cog.Dataquery>[]): Self;
  span(w: number): Self;
  height(h: number): Self;
  unit(unit: string): Self;
  interval(interval: string): Self;
  timeFrom(timeFrom: string): Self;
  thresholds(thresholds: cog.Builder<ThresholdsConfig>): Self;
  mappings(mappings: ValueMapping[]): Self;
  transformations(transformations: DataTransformerConfig[]): Self;
}

function panel<B extends CommonPanelBuilder<B>>(builder: B, spec: PanelSpec): B {
  builder
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .targets(targets(spec.queries))
    .span(spec.w)
    .height(spec.h);
  if (spec.unit !== undefined) builder.unit(spec.unit);
  if (spec.minInterval !== undefined) builder.interval(spec.minInterval);
  if (spec.timeFrom !== undefined) builder.timeFrom(spec.timeFrom);
  if (spec.thresholds !== undefined)
    builder.thresholds(new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(spec.thresholds));
  if (spec.mappings !== undefined) builder.mappings(spec.mappings);
  if (spec.transformations !== undefined) builder.transformations(spec.transformations);
  return builder;
}

const timeseries = (spec: PanelSpec) => panel(new TimeseriesPanel(), spec).fillOpacity(10).spanNulls(false);

const bars = (spec: PanelSpec) =>
  panel(new TimeseriesPanel(), spec)
    .drawStyle(GraphDrawStyle.Bars)
    .fillOpacity(80)
    .stacking(new StackingConfigBuilder().mode(StackingMode.Normal));

const reduce = (calc: string) => new ReduceDataOptionsBuilder().calcs([calc]).values(false);

const stat = (spec: PanelSpec, calc = 'lastNotNull') =>
  panel(new StatPanel(), spec)
    .reduceOptions(reduce(calc))
    .graphMode(BigValueGraphMode.None)
    .colorMode(BigValueColorMode.Value);

const barGauge = (spec: PanelSpec) =>
  panel(new BarGaugePanel(), spec)
    .reduceOptions(reduce('lastNotNull'))
    .displayMode(BarGaugeDisplayMode.Basic)
    .orientation(VizOrientation.Horizontal)
    .showUnfilled(true);

const table = (spec: PanelSpec) => panel(new TablePanel(), spec);

/** Alarm-free colouring for panels without limits of their own. */
const ONE_COLOUR: Threshold[] = [{ value: null, color: 'green' }];

/** A world-class OEE is 85 %; below 60 % a line needs attention. */
const OEE_THRESHOLDS: Threshold[] = [
  { value: null, color: 'red' },
  { value: 0.6, color: 'yellow' },
  { value: 0.85, color: 'green' },
];

const STATE_COLOURS = { RUNNING: 'green', IDLE: 'blue', MAINTENANCE: 'orange', FAULT: 'red' } as const;

const stateMappings = (): ValueMapping[] => [
  {
    type: MappingType.ValueToText,
    options: Object.fromEntries(
      Object.entries(STATE_COLOURS).map(([state, color], index) => [state, { color, index }]),
    ),
  },
];

const fixedColour = (color: string): DynamicConfigValue => ({
  id: 'color',
  value: { mode: 'fixed', fixedColor: color },
});

/** A link from a table's machine column to that machine's dashboard, keeping the time range. */
const machineLink = (): DynamicConfigValue => ({
  id: 'links',
  value: [
    {
      title: 'Machine detail',
      url: `/d/${DASHBOARD_UIDS.machine}?var-machine=\${__value.raw}&\${__url_time_range}`,
    },
  ],
});

const hideColumns = (...names: string[]): DataTransformerConfig => ({
  id: 'organize',
  options: { excludeByName: Object.fromEntries(names.map((n) => [n, true])) },
});

// ---------------------------------------------------------------------------------------------
// Template variables.

/** `SHOW TAG VALUES`, re-read when the dashboard loads (tag values do not depend on the time range). */
function tagVariable(name: string, label: string, query: string, multi: boolean) {
  const v = new QueryVariableBuilder(name)
    .label(label)
    .query(query)
    .datasource(DATASOURCE)
    .refresh(VariableRefresh.OnDashboardLoad)
    .sort(VariableSort.NaturalAsc)
    .multi(multi)
    .includeAll(multi);
  // No custom "all" value: then Grafana sends every value, as a regex alternation (a|b|c).
  return multi ? v.current({ text: 'All', value: '$__all' }) : v;
}

const siteVariable = () =>
  tagVariable('site', 'Site', `SHOW TAG VALUES FROM ${q(MEASUREMENTS.telemetry)} WITH KEY = "site"`, true);

const lineVariable = () =>
  tagVariable(
    'line',
    'Line',
    `SHOW TAG VALUES FROM ${q(MEASUREMENTS.telemetry)} WITH KEY = "line" WHERE "site" =~ /^$site$/`,
    true,
  );

/** The KPI window sizes of analytics/kpi.ts (KPI_WINDOWS); an hour is what a shift lead reads. */
function windowVariable() {
  const sizes = ['1m', '1h', '8h'];
  return new CustomVariableBuilder('window')
    .label('KPI window')
    .values(sizes.join(','))
    .current({ text: '1h', value: '1h' })
    .options(sizes.map((s) => ({ text: s, value: s, selected: s === '1h' })));
}

const PLANT_SCOPE = `"site" =~ /^$site$/ AND "line" =~ /^$line$/`;

// ---------------------------------------------------------------------------------------------
// Alarm limits, from the alarm rules (analytics/rules/*.yaml) so the lines drawn are the limits
// the analytics processor raises alarms at.

const TELEMETRY_FIELD: Record<RuleField, string> = {
  temperatureC: 'temperature',
  speedRpm: 'speed',
  vibrationMmS: 'vibration',
  powerKw: 'power',
};

const SEVERITY_COLOUR: Record<Severity, string> = {
  low: 'blue',
  medium: 'yellow',
  high: 'orange',
  critical: 'red',
};

export interface AlarmLimit {
  rule: string;
  /** The InfluxDB field of `telemetry`. */
  field: string;
  high: number;
  severity: Severity;
}

/**
 * The high limits of limit rules. Low limits are left out: a threshold step colours everything
 * above it, so a low limit would need its own colouring, and no rule has one today.
 */
export function highLimits(rules: Rule[]): AlarmLimit[] {
  const limits: AlarmLimit[] = [];
  for (const r of rules)
    if (r.kind === 'limit' && r.high !== undefined)
      limits.push({ rule: r.id, field: TELEMETRY_FIELD[r.field], high: r.high, severity: r.severity });
  return limits.sort((a, b) => a.high - b.high);
}

function limitThresholds(limits: AlarmLimit[], field: string): Threshold[] {
  return [
    { value: null, color: 'green' },
    ...limits
      .filter((l) => l.field === field)
      .map((l) => ({ value: l.high, color: SEVERITY_COLOUR[l.severity] })),
  ];
}

// ---------------------------------------------------------------------------------------------
// Dashboards.

function base(uid: string, title: string, description: string) {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags([TAG])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .timezone('browser')
    .link(
      new DashboardLinkBuilder('Factory')
        .type(DashboardLinkType.Dashboards)
        .tags([TAG])
        .asDropdown(false)
        .includeVars(false)
        .keepTime(true)
        .targetBlank(false)
        .icon('external link')
        .tooltip(''),
    );
}

/** Alarm states an operator still has to see: active, or cleared but not yet acknowledged (ISA-18.2). */
const STANDING = `/^(ACTIVE_UNACK|ACTIVE_ACKED|CLEARED_UNACK)$/`;
const UNACKNOWLEDGED = `/^(ACTIVE_UNACK|CLEARED_UNACK)$/`;

/** Each alarm's latest transition: one series per (machine, rule), so the latest episode wins. */
const latestAlarmTransitions = (extraFields: string) =>
  `SELECT last("state") AS "state"${extraFields} FROM ${FROM.alarms} WHERE $timeFilter AND ${PLANT_SCOPE} ` +
  `GROUP BY "line", "machine", "rule", "severity"`;

export function plantOverview(): Dashboard {
  const activeCount = (states: string) =>
    `SELECT count("state") FROM (${latestAlarmTransitions('')}) WHERE "state" =~ ${states}`;
  return base(
    DASHBOARD_UIDS.plant,
    'Plant overview',
    'OEE by line, machines by state and the alarms that stand now, per site and line.',
  )
    .time({ from: 'now-6h', to: 'now' })
    .refresh('30s')
    .withVariable(siteVariable())
    .withVariable(lineVariable())
    .withPanel(
      stat({
        title: 'Standing alarms',
        description:
          'Alarms active or waiting for acknowledgement, from each alarm’s latest transition in the last 7 days (the raw retention).',
        queries: [
          { query: activeCount(STANDING), alias: 'standing' },
          { query: activeCount(UNACKNOWLEDGED), alias: 'unacknowledged' },
        ],
        w: 6,
        h: 6,
        timeFrom: '7d',
        thresholds: [
          { value: null, color: 'green' },
          { value: 1, color: 'orange' },
        ],
      }).textMode(BigValueTextMode.ValueAndName),
    )
    .withPanel(
      barGauge({
        title: 'Machines by state',
        description:
          'Machines per state tag in the last minute of telemetry. A machine that changed state in that minute counts in both states.',
        queries: [
          {
            query:
              `SELECT count("seq") FROM (SELECT last("seq") AS "seq" FROM ${FROM.telemetry} ` +
              `WHERE $timeFilter AND ${PLANT_SCOPE} GROUP BY "machine", "state") GROUP BY "state"`,
            alias: '$tag_state',
          },
        ],
        w: 8,
        h: 6,
        timeFrom: '1m',
        thresholds: ONE_COLOUR,
      }).overrides(
        Object.entries(STATE_COLOURS).map(([state, color]) => ({
          matcher: { id: 'byName', options: state },
          properties: [fixedColour(color)],
        })),
      ),
    )
    .withPanel(
      barGauge({
        title: 'OEE by line, this hour',
        description: 'The current 1-hour KPI window of each line (measurement kpi, scope line).',
        queries: [
          {
            query:
              `SELECT last("oee") FROM ${FROM.kpi} WHERE $timeFilter AND "scope" = 'line' AND "window" = '1h' ` +
              `AND ${PLANT_SCOPE} GROUP BY "line"`,
            alias: '$tag_line',
          },
        ],
        w: 10,
        h: 6,
        unit: 'percentunit',
        // Hour windows are aligned to the epoch: the current one started within the last hour.
        timeFrom: '1h',
        thresholds: OEE_THRESHOLDS,
      })
        .min(0)
        .max(1),
    )
    .withPanel(
      timeseries({
        title: 'OEE by line',
        description: 'OEE of each line’s 1-minute KPI windows (availability × performance × quality).',
        queries: [
          {
            query:
              `SELECT mean("oee") FROM ${FROM.kpi} WHERE $timeFilter AND "scope" = 'line' AND "window" = '1m' ` +
              `AND ${PLANT_SCOPE} GROUP BY time($__interval), "line" fill(none)`,
            alias: '$tag_line',
          },
        ],
        w: 12,
        h: 8,
        unit: 'percentunit',
        minInterval: '1m',
        thresholds: OEE_THRESHOLDS,
      })
        .min(0)
        .max(1),
    )
    .withPanel(
      timeseries({
        title: 'Parts per minute by line',
        description:
          'The growth of each machine’s production counter, summed per line. A counter reset (a restarted machine) is skipped, not counted negative.',
        queries: [
          {
            query:
              `SELECT sum("rate") FROM (SELECT non_negative_derivative(max("production_count"), 1m) AS "rate" ` +
              `FROM ${FROM.telemetry} WHERE $timeFilter AND ${PLANT_SCOPE} ` +
              `GROUP BY time($__interval), "line", "machine" fill(none)) ` +
              `WHERE $timeFilter GROUP BY time($__interval), "line" fill(none)`,
            alias: '$tag_line',
          },
        ],
        w: 12,
        h: 8,
        unit: 'suffix: parts/min',
        minInterval: '10s',
      }),
    )
    .withPanel(
      table({
        title: 'Standing alarms',
        description:
          'Every alarm whose latest transition in the last 7 days leaves it active or unacknowledged. A line’s own (flood) alarm has machine "-".',
        queries: [
          {
            query: `SELECT "state", "alarm_id", "value", "limit", "message" FROM (${latestAlarmTransitions(
              ', "alarm_id", "value", "limit", "message"',
            )}) WHERE "state" =~ ${STANDING} GROUP BY "line", "machine", "rule", "severity"`,
            format: 'table',
          },
        ],
        w: 24,
        h: 9,
        timeFrom: '7d',
      })
        .sortBy([new TableSortByFieldStateBuilder().displayName('Time').desc(true)])
        .overrideByName('machine', [machineLink()]),
    )
    .build();
}

export function machineDetail(rules: Rule[]): Dashboard {
  const limits = highLimits(rules);
  const ofMachine = `"machine" = '$machine'`;
  const signal = (field: string, title: string, unit: string) =>
    timeseries({
      title,
      description: `Mean and maximum of "${field}" per interval. Dashed lines: the alarm limits of the default rules (analytics/rules/default.yaml).`,
      queries: [
        {
          query:
            `SELECT mean("${field}") AS "mean", max("${field}") AS "max" FROM ${FROM.telemetry} ` +
            `WHERE $timeFilter AND ${ofMachine} GROUP BY time($__interval) fill(none)`,
          alias: '$col',
        },
      ],
      w: 12,
      h: 8,
      unit,
      thresholds: limitThresholds(limits, field),
    }).thresholdsStyle(
      new GraphThresholdsStyleConfigBuilder().mode(
        limits.some((l) => l.field === field)
          ? GraphThresholdsStyleMode.Dashed
          : GraphThresholdsStyleMode.Off,
      ),
    );
  const kpiScope = `"scope" = 'machine' AND ${ofMachine} AND "window" = '$window'`;

  return base(
    DASHBOARD_UIDS.machine,
    'Machine detail',
    'One machine: its signals against the alarm limits, its state over time, its KPIs, alarms and tickets.',
  )
    .time({ from: 'now-1h', to: 'now' })
    .refresh('10s')
    .withVariable(
      tagVariable(
        'machine',
        'Machine',
        `SHOW TAG VALUES FROM ${q(MEASUREMENTS.telemetry)} WITH KEY = "machine"`,
        false,
      ),
    )
    .withVariable(windowVariable())
    .withRow(new RowBuilder('Signals'))
    .withPanel(signal('temperature', 'Temperature', 'celsius'))
    .withPanel(signal('speed', 'Spindle / drive speed', 'rotrpm'))
    .withPanel(signal('vibration', 'Vibration', 'suffix: mm/s'))
    .withPanel(signal('power', 'Power', 'kwatt'))
    .withPanel(
      panel(new StateTimelinePanel(), {
        title: 'State',
        description: 'The machine state tag of the last reading in each interval.',
        queries: [
          {
            // A tag can be selected next to a selector: it comes from the selected (last) reading.
            query:
              `SELECT last("seq") AS "seq", "state" FROM ${FROM.telemetry} ` +
              `WHERE $timeFilter AND ${ofMachine} GROUP BY time($__interval) fill(none)`,
            alias: '$col',
          },
        ],
        w: 24,
        h: 5,
        mappings: stateMappings(),
        thresholds: ONE_COLOUR,
      })
        .mergeValues(true)
        .overrideByName('seq', [
          { id: 'custom.hideFrom', value: { viz: true, legend: true, tooltip: true } },
        ]),
    )
    .withRow(new RowBuilder('KPIs'))
    .withPanel(
      stat({
        title: 'OEE, availability, performance, quality',
        description:
          'The latest KPI window of the chosen size in the last 8 hours (ISO 22400; measurement kpi, scope machine).',
        queries: [
          {
            query:
              `SELECT last("oee") AS "OEE", last("availability") AS "Availability", ` +
              `last("performance") AS "Performance", last("quality") AS "Quality" FROM ${FROM.kpi} ` +
              `WHERE $timeFilter AND ${kpiScope}`,
            alias: '$col',
          },
        ],
        w: 16,
        h: 5,
        unit: 'percentunit',
        // The longest window is a shift of 8 h: its start is always within the last 8 hours.
        timeFrom: '8h',
        thresholds: OEE_THRESHOLDS,
      }).textMode(BigValueTextMode.ValueAndName),
    )
    .withPanel(
      stat({
        title: 'MTBF and MTTR',
        description:
          'Mean time between failures (run time per failure) and mean time to repair, in the latest window of the last 8 hours that had a failure or a repair.',
        queries: [
          {
            query: `SELECT last("mtbf_s") AS "MTBF", last("mttr_s") AS "MTTR" FROM ${FROM.kpi} WHERE $timeFilter AND ${kpiScope}`,
            alias: '$col',
          },
        ],
        w: 8,
        h: 5,
        unit: 's',
        timeFrom: '8h',
        thresholds: ONE_COLOUR,
      }).textMode(BigValueTextMode.ValueAndName),
    )
    .withPanel(
      timeseries({
        title: 'KPIs over time',
        description: 'One point per KPI window of the chosen size, at the window’s start.',
        queries: [
          {
            query:
              `SELECT mean("oee") AS "OEE", mean("availability") AS "Availability", ` +
              `mean("performance") AS "Performance", mean("quality") AS "Quality" FROM ${FROM.kpi} ` +
              `WHERE $timeFilter AND ${kpiScope} GROUP BY time($__interval) fill(none)`,
            alias: '$col',
          },
        ],
        w: 24,
        h: 8,
        unit: 'percentunit',
        minInterval: '1m',
      })
        .min(0)
        .max(1),
    )
    .withRow(new RowBuilder('Alarms'))
    .withPanel(
      table({
        title: 'Alarm transitions',
        description: 'Every transition of this machine’s alarms, newest first.',
        queries: [
          {
            query:
              `SELECT "transition", "state", "severity", "rule", "value", "limit", "by", "message" ` +
              `FROM ${FROM.alarms} WHERE $timeFilter AND ${ofMachine} ORDER BY time DESC LIMIT 500`,
            format: 'table',
          },
        ],
        w: 24,
        h: 9,
      }),
    )
    .withRow(
      // Collapsed: tickets are rare, and the row keeps them out of the way until asked for.
      new RowBuilder('Maintenance tickets').withPanel(
        table({
          title: 'Tickets',
          description:
            'Ticket events of this machine (workflows/activities.ts): opened, then repaired, cancelled or merged with the measured times.',
          queries: [
            {
              query:
                `SELECT "event", "ticket_id", "reason", "by", "response_s", "repair_s", "open_s" ` +
                `FROM ${FROM.tickets} WHERE $timeFilter AND ${ofMachine} ORDER BY time DESC`,
              format: 'table',
            },
          ],
          w: 24,
          h: 8,
        }).overrides(
          ['response_s', 'repair_s', 'open_s'].map((name) => ({
            matcher: { id: 'byName', options: name },
            properties: [{ id: 'unit', value: 's' }],
          })),
        ),
      ),
    )
    .build();
}

export function alarmsDashboard(): Dashboard {
  const scope = `${PLANT_SCOPE} AND "severity" =~ /^$severity$/`;
  const transitions = (transition: string) =>
    `FROM ${FROM.alarms} WHERE $timeFilter AND "transition" = '${transition}' AND ${scope}`;
  // Time to acknowledge = time of the ACKNOWLEDGED point − its raised_at field. InfluxQL cannot
  // subtract a field from time, so Grafana computes it after the query.
  const timeToAck: DataTransformerConfig = {
    id: 'calculateField',
    options: {
      mode: 'binary',
      binary: { left: 'Time', operator: '-', right: 'raised_at' },
      alias: 'Time to acknowledge',
      replaceFields: false,
    },
  };
  const ackQuery = `SELECT "raised_at", "machine", "rule", "severity", "by" ${transitions('ACKNOWLEDGED')}`;

  return base(
    DASHBOARD_UIDS.alarms,
    'Alarms',
    'Alarm load after ISA-18.2: how many are raised, by whom (bad actors), and how long acknowledgement takes.',
  )
    .time({ from: 'now-24h', to: 'now' })
    .refresh('1m')
    .withVariable(siteVariable())
    .withVariable(lineVariable())
    .withVariable(
      tagVariable(
        'severity',
        'Severity',
        `SHOW TAG VALUES FROM ${q(MEASUREMENTS.alarms)} WITH KEY = "severity"`,
        true,
      ),
    )
    .withPanel(
      stat({
        title: 'Raised',
        description: 'Alarms raised in the time range.',
        queries: [{ query: `SELECT count("alarm_id") ${transitions('RAISED')}` }],
        w: 6,
        h: 5,
        thresholds: ONE_COLOUR,
      }),
    )
    .withPanel(
      stat({
        title: 'Acknowledged',
        description: 'Acknowledgements in the time range.',
        queries: [{ query: `SELECT count("alarm_id") ${transitions('ACKNOWLEDGED')}` }],
        w: 6,
        h: 5,
        thresholds: ONE_COLOUR,
      }),
    )
    .withPanel(
      stat(
        {
          title: 'Mean time to acknowledge',
          description: 'From raised to acknowledged, over the acknowledgements in the time range.',
          queries: [{ query: ackQuery, format: 'table' }],
          w: 12,
          h: 5,
          unit: 'ms',
          thresholds: [
            { value: null, color: 'green' },
            { value: 300_000, color: 'orange' },
          ],
          transformations: [{ ...timeToAck, options: { ...timeToAck.options, replaceFields: true } }],
        },
        'mean',
      ),
    )
    .withPanel(
      bars({
        title: 'Alarm rate',
        description: 'Alarms raised per interval, stacked by severity.',
        queries: [
          {
            query: `SELECT count("alarm_id") ${transitions('RAISED')} GROUP BY time($__interval), "severity" fill(0)`,
            alias: '$tag_severity',
          },
        ],
        w: 24,
        h: 8,
        minInterval: '1m',
      }).overrides(
        Object.entries(SEVERITY_COLOUR).map(([severity, color]) => ({
          matcher: { id: 'byName', options: severity },
          properties: [fixedColour(color)],
        })),
      ),
    )
    .withPanel(
      table({
        title: 'Top bad actors',
        description: 'Machines by alarms raised in the time range, most first (line alarms left out).',
        queries: [
          {
            query: `SELECT count("alarm_id") AS "raised" ${transitions('RAISED')} AND "machine" <> '-' GROUP BY "machine"`,
            format: 'table',
          },
        ],
        w: 12,
        h: 9,
        transformations: [hideColumns('Time')],
      })
        .sortBy([new TableSortByFieldStateBuilder().displayName('raised').desc(true)])
        .overrideByName('machine', [machineLink()]),
    )
    .withPanel(
      table({
        title: 'Most frequent rules',
        description:
          'Rules by alarms raised in the time range: chattering or badly set limits show here first.',
        queries: [
          {
            query: `SELECT count("alarm_id") AS "raised" ${transitions('RAISED')} GROUP BY "rule", "severity"`,
            format: 'table',
          },
        ],
        w: 12,
        h: 9,
        transformations: [hideColumns('Time')],
      }).sortBy([new TableSortByFieldStateBuilder().displayName('raised').desc(true)]),
    )
    .withPanel(
      table({
        title: 'Time to acknowledge',
        description: 'Each acknowledgement: who, of what, and how long after the alarm was raised.',
        queries: [{ query: `${ackQuery} ORDER BY time DESC LIMIT 500`, format: 'table' }],
        w: 24,
        h: 9,
        transformations: [timeToAck, hideColumns('raised_at')],
      })
        .overrideByName('Time to acknowledge', [{ id: 'unit', value: 'ms' }])
        .overrideByName('machine', [machineLink()]),
    )
    .build();
}

export function pipelineHealth(): Dashboard {
  const scope = `"role" =~ /^$role$/ AND "component" =~ /^$component$/`;
  const perSecond = (field: string) =>
    `SELECT non_negative_derivative(max("${field}"), 1s) FROM ${FROM.pipeline} WHERE $timeFilter AND ${scope} ` +
    `GROUP BY time($__interval), "component" fill(none)`;
  // Reports come every 10 s: a finer bucket would be empty and break the derivative.
  const throughput = (field: string, title: string, description: string) =>
    timeseries({
      title,
      description,
      queries: [{ query: perSecond(field), alias: '$tag_component' }],
      w: 8,
      h: 8,
      unit: 'suffix: rec/s',
      minInterval: '10s',
    });

  return base(
    DASHBOARD_UIDS.pipeline,
    'Pipeline health',
    'Bridges, writers and analytics: records through each, Kafka lag and dead letters, from their 10-second self-reports.',
  )
    .time({ from: 'now-1h', to: 'now' })
    .refresh('10s')
    .withVariable(
      tagVariable('role', 'Role', `SHOW TAG VALUES FROM ${FROM.pipeline} WITH KEY = "role"`, true),
    )
    .withVariable(
      tagVariable(
        'component',
        'Component',
        `SHOW TAG VALUES FROM ${FROM.pipeline} WITH KEY = "component" WHERE "role" =~ /^$role$/`,
        true,
      ),
    )
    .withPanel(
      throughput(
        'received',
        'Received',
        'Records each component took in (MQTT for a bridge, Kafka for the others).',
      ),
    )
    .withPanel(throughput('forwarded', 'Forwarded', 'Records a bridge handed on to Kafka.'))
    .withPanel(throughput('written', 'Written', 'Points a writer stored in InfluxDB.'))
    .withPanel(
      timeseries({
        title: 'Kafka lag',
        description:
          'Records each consumer is behind the end of its partitions (the largest report per interval).',
        queries: [
          {
            query:
              `SELECT max("lag") FROM ${FROM.pipeline} WHERE $timeFilter AND ${scope} ` +
              `GROUP BY time($__interval), "component" fill(none)`,
            alias: '$tag_component',
          },
        ],
        w: 12,
        h: 8,
        unit: 'short',
        minInterval: '10s',
      }),
    )
    .withPanel(
      bars({
        title: 'Dead letters',
        description: 'Records a component gave up on and sent to a dead-letter topic, per minute.',
        queries: [
          {
            query:
              `SELECT non_negative_derivative(max("dead_lettered"), 1m) FROM ${FROM.pipeline} ` +
              `WHERE $timeFilter AND ${scope} GROUP BY time($__interval), "component" fill(none)`,
            alias: '$tag_component',
          },
        ],
        w: 12,
        h: 8,
        unit: 'suffix: /min',
        minInterval: '10s',
      }),
    )
    .withPanel(
      barGauge({
        title: 'Dead letters in range',
        description:
          'The sum of each counter’s increases in the time range; a process restart (counter back to 0) is not counted negative.',
        queries: [
          {
            query:
              `SELECT sum("n") FROM (SELECT non_negative_difference(max("dead_lettered")) AS "n" FROM ${FROM.pipeline} ` +
              `WHERE $timeFilter AND ${scope} GROUP BY time($__interval), "component" fill(none)) ` +
              `WHERE $timeFilter GROUP BY "component"`,
            alias: '$tag_component',
          },
        ],
        w: 8,
        h: 8,
        minInterval: '10s',
        thresholds: [
          { value: null, color: 'green' },
          { value: 1, color: 'red' },
        ],
      }),
    )
    .withPanel(
      barGauge({
        title: 'Lag now',
        description: 'The latest lag each component reported.',
        queries: [
          {
            query: `SELECT last("lag") FROM ${FROM.pipeline} WHERE $timeFilter AND ${scope} GROUP BY "component"`,
            alias: '$tag_component',
          },
        ],
        w: 8,
        h: 8,
        thresholds: [
          { value: null, color: 'green' },
          { value: 10_000, color: 'orange' },
        ],
      }),
    )
    .withPanel(
      table({
        title: 'Latest report per component',
        description:
          'Each component’s last self-report and its counters since process start. An old time means the process stopped reporting.',
        queries: [
          {
            query:
              `SELECT last("received") AS "received", "forwarded", "written", "dead_lettered", "lag" ` +
              `FROM ${FROM.pipeline} WHERE $timeFilter AND ${scope} GROUP BY "role", "component"`,
            format: 'table',
          },
        ],
        w: 8,
        h: 8,
      }).sortBy([new TableSortByFieldStateBuilder().displayName('component').desc(false)]),
    )
    .build();
}

// ---------------------------------------------------------------------------------------------

/**
 * Panel ids, in reading order. Grafana keys panel state (and `viewPanel` links) by id; the SDK
 * leaves them unset, and numbering them here keeps the generated JSON stable.
 */
function numberPanels(d: Dashboard): Dashboard {
  let id = 0;
  for (const p of d.panels ?? []) {
    p.id = ++id;
    if (p.type === 'row' && 'collapsed' in p) for (const inner of p.panels) inner.id = ++id;
  }
  return d;
}

/** All four dashboards; the alarm limits come from the default machine type's rules. */
export function factoryDashboards(rules: Rule[] = loadRuleBook().forType('default')): Dashboard[] {
  return [plantOverview(), machineDetail(rules), alarmsDashboard(), pipelineHealth()].map(numberPanels);
}

/** The file content of a dashboard: 2-space JSON with a trailing newline (functions dropped). */
export function dashboardJson(d: Dashboard): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}
