/**
 * The InfluxQL of a dashboard as Grafana would send it to InfluxDB: every panel target, every
 * template variable query, and the substitution of `$timeFilter`, `$__interval` and template
 * variables. Pure functions, so a test can check the queries without Grafana, and a check
 * against a real InfluxDB can run exactly what a panel would run.
 */
import { z } from 'zod';

// A dashboard JSON is read at the edge: only what the queries need is kept.
const targetSchema = z.object({
  refId: z.string(),
  query: z.string().optional(),
  rawQuery: z.boolean().optional(),
  datasource: z.object({ uid: z.string().optional(), type: z.string().optional() }).optional(),
});

interface PanelJson {
  type: string;
  title?: string | undefined;
  /** The panel's own relative time range (`1h`, `7d`), over the dashboard's. */
  timeFrom?: string | undefined;
  targets?: z.infer<typeof targetSchema>[] | undefined;
  /** A collapsed row holds its panels. */
  panels?: PanelJson[] | undefined;
}

const panelSchema: z.ZodType<PanelJson> = z.lazy(() =>
  z.object({
    type: z.string(),
    title: z.string().optional(),
    timeFrom: z.string().optional(),
    targets: z.array(targetSchema).optional(),
    panels: z.array(panelSchema).optional(),
  }),
);

const variableSchema = z.object({
  name: z.string(),
  type: z.string(),
  query: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
  multi: z.boolean().optional(),
  includeAll: z.boolean().optional(),
});

const dashboardSchema = z.object({
  uid: z.string(),
  title: z.string(),
  panels: z.array(panelSchema).default([]),
  templating: z.object({ list: z.array(variableSchema).default([]) }).default({ list: [] }),
});

export type DashboardJson = z.infer<typeof dashboardSchema>;

/** Parses a dashboard (an object or its JSON text); the error names what is missing. */
export function parseDashboard(input: unknown): DashboardJson {
  return dashboardSchema.parse(typeof input === 'string' ? JSON.parse(input) : input);
}

export interface PanelQuery {
  /** The dashboard's uid. */
  dashboard: string;
  panel: string;
  /** The panel type (`timeseries`, `stat`, …). */
  type: string;
  refId: string;
  query: string;
  /** The uid of the target's datasource, if it names one. */
  datasource: string | undefined;
  /** The panel's relative time (`1h`): Grafana's `$timeFilter` is then `time >= now() - 1h`. */
  timeFrom: string | undefined;
}

/** The panels of a dashboard, those nested in collapsed rows included (rows themselves left out). */
export function allPanels(dashboard: unknown): PanelJson[] {
  const flat = (ps: PanelJson[]): PanelJson[] =>
    ps.flatMap((p) => (p.type === 'row' ? flat(p.panels ?? []) : [p]));
  return flat(parseDashboard(dashboard).panels);
}

/** Every panel target's query, in panel order. A target without a query gives an empty one. */
export function panelQueries(dashboard: unknown): PanelQuery[] {
  const d = parseDashboard(dashboard);
  return allPanels(d).flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      dashboard: d.uid,
      panel: p.title ?? '',
      type: p.type,
      refId: t.refId,
      query: t.query ?? '',
      datasource: t.datasource?.uid,
      timeFrom: p.timeFrom,
    })),
  );
}

export interface VariableQuery {
  dashboard: string;
  variable: string;
  /** `query` (asks the datasource), `custom` (a comma-separated list), … */
  type: string;
  query: string;
  multi: boolean;
  includeAll: boolean;
}

/** Each template variable's query (a custom variable's is its list of values). */
export function templateVariableQueries(dashboard: unknown): VariableQuery[] {
  const d = parseDashboard(dashboard);
  return d.templating.list.map((v) => ({
    dashboard: d.uid,
    variable: v.name,
    type: v.type,
    // Newer Grafana may store a query variable's query as an object with a `query` string.
    query: typeof v.query === 'string' ? v.query : String(v.query?.query ?? ''),
    multi: v.multi ?? false,
    includeAll: v.includeAll ?? false,
  }));
}

// ---------------------------------------------------------------------------------------------
// Substitution, after Grafana's template service and its InfluxDB datasource.

export interface Substitution {
  /** `$timeFilter`; Grafana renders a relative range so. Default: the last hour. */
  timeFilter?: string;
  /** `$__interval` (and the legacy `$interval`); default `10s`. */
  interval?: string;
  /**
   * Template variable values: a string for a single value, an array for a multi-value variable
   * (and for "All", which Grafana sends as every value when no custom all-value is set).
   */
  vars: Record<string, string | string[]>;
}

export const DEFAULT_TIME_FILTER = 'time >= now() - 1h';
export const DEFAULT_INTERVAL = '10s';

/** Grafana's template syntax: `$var`, `[[var]]` / `[[var:fmt]]`, `${var}` / `${var:fmt}`. */
const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.[^:^}]+)?(?::([^}]+))?\}/g;

/** The regex literals of InfluxQL comparisons (`=~ /…/`, `!~ /…/`): [start, end) of each body. */
function regexSpans(query: string): [number, number][] {
  const spans: [number, number][] = [];
  for (const m of query.matchAll(/[=!]~\s*\/((?:\\.|[^\\/\n])*)\//g)) {
    const body = m[1] ?? '';
    const start = (m.index ?? 0) + m[0].length - body.length - 1;
    spans.push([start, start + body.length]);
  }
  return spans;
}

/** Grafana's regex escaping of a variable value (kbn.regexEscape / escapeRegex). */
export function regexEscape(value: string): string {
  return value.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
}

/**
 * What the InfluxDB datasource puts for a variable without an explicit format: a number as is;
 * several values as an escaped alternation `(a|b)`; one value escaped when it stands inside a
 * regex literal, else as is (so `= '$machine'` gets the plain id).
 */
function interpolate(value: string | string[], inRegex: boolean): string {
  if (Array.isArray(value)) return `(${value.map(regexEscape).join('|')})`;
  if (!Number.isNaN(Number.parseFloat(value))) return value;
  return inRegex ? regexEscape(value) : value;
}

/** The explicit formats of `${var:format}` that InfluxQL dashboards use. */
function formatted(value: string | string[], format: string): string {
  const values = Array.isArray(value) ? value : [value];
  switch (format) {
    case 'raw':
    case 'csv':
      return values.join(',');
    case 'pipe':
      return values.join('|');
    case 'regex':
      return values.length === 1 ? regexEscape(values[0] ?? '') : `(${values.map(regexEscape).join('|')})`;
    case 'doublequote':
      return values.map((v) => `"${v.replace(/"/g, '\\"')}"`).join(',');
    case 'singlequote':
      return values.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(',');
    default:
      throw new Error(
        `unsupported variable format "${format}" (use raw, csv, pipe, regex, singlequote or doublequote)`,
      );
  }
}

function builtins(s: Substitution): Record<string, string> {
  const interval = s.interval ?? DEFAULT_INTERVAL;
  return {
    timeFilter: s.timeFilter ?? DEFAULT_TIME_FILTER,
    __interval: interval,
    interval,
    __interval_ms: String(intervalMs(interval)),
  };
}

/** `10s` → 10000; the units Grafana writes an interval in. */
export function intervalMs(interval: string): number {
  const m = /^(\d+)(ms|s|m|h|d|w|y)$/.exec(interval);
  if (!m) throw new Error(`"${interval}" is not an interval such as 10s or 1m`);
  const unit = { ms: 1, s: 1e3, m: 60e3, h: 3_600e3, d: 86_400e3, w: 604_800e3, y: 31_536_000e3 }[
    m[2] as string
  ];
  return Number(m[1]) * (unit ?? 1);
}

/**
 * The query as Grafana sends it. A name that is neither built in nor given stays as written,
 * as in Grafana; unresolvedReferences finds it.
 */
export function substitute(query: string, s: Substitution): string {
  const fixed = builtins(s);
  const spans = regexSpans(query);
  const inRegex = (at: number) => spans.some(([from, to]) => at >= from && at < to);
  return query.replace(
    VARIABLE,
    (
      whole,
      plain?: string,
      bracket?: string,
      bracketFormat?: string,
      braced?: string,
      bracedFormat?: string,
      at?: number,
    ) => {
      const name = plain ?? bracket ?? braced ?? '';
      const format = bracketFormat ?? bracedFormat;
      const builtin = fixed[name];
      if (builtin !== undefined) return builtin;
      const value = s.vars[name];
      if (value === undefined) return whole;
      return format === undefined ? interpolate(value, inRegex(at ?? 0)) : formatted(value, format);
    },
  );
}

/**
 * Template references left in a query (`$x`, `${x}`, `[[x]]`). A `$` that is a regex anchor
 * (`/^…$/`) is not one: Grafana's syntax needs a name right after it.
 */
export function unresolvedReferences(query: string): string[] {
  return [...query.matchAll(VARIABLE)].map((m) => m[0]);
}
