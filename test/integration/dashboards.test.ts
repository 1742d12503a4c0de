import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARDS_DIR } from '../../infra/grafana/generate.js';
import { panelQueries, substitute, templateVariableQueries } from '../../infra/grafana/queries.js';
import { waitFor } from '../../infra/supervisor/process.js';
import { pipelineInflux } from '../../pipeline/influx.js';
import { factory, testConfig } from './stack-env.js';

/**
 * Every Grafana panel's query, as Grafana would send it (template variables, the panel's or the
 * dashboard's `$timeFilter`, `$__interval` substituted), run against the suite's real InfluxDB
 * after this file has made the data every dashboard shows: a machine that overheats, trips,
 * is reset and acknowledged (alarms, a failure and a repair for MTBF and MTTR), a ticket opened
 * and closed on it; KPI windows and the keeper's pipeline counters come by themselves.
 */
const config = testConfig();
const influx = pipelineInflux(config, 'reader');
/** The machine of this file (no other file uses it): the machine dashboard shows it. */
const MACHINE = 'M-0002';
const TIME_FILTER = 'time >= now() - 30m';

async function cli(args: string[]) {
  const r = await factory(args);
  return { ...r, out: `${r.stdout}${r.stderr}` };
}

/** Rows of an InfluxQL query against the suite's database (none when it returns no series). */
async function rows(query: string): Promise<Record<string, unknown>[]> {
  return (await influx.query(query)) as unknown as Record<string, unknown>[];
}

/** The machine's latest alarm id for a rule and transition, once InfluxDB has it. */
async function alarmOf(rule: string, transition: string, timeoutMs: number): Promise<string> {
  let id = '';
  const seen = await waitFor(
    async () => {
      const r = await rows(
        `SELECT last("alarm_id") AS id FROM "raw"."alarms" WHERE "machine" = '${MACHINE}' AND "rule" = '${rule}' AND "transition" = '${transition}' AND ${TIME_FILTER}`,
      );
      id = String(r[0]?.id ?? '');
      return id !== '';
    },
    timeoutMs,
    2_000,
  );
  expect(seen, `${MACHINE} ${rule} ${transition}`).toBe(true);
  return id;
}

/** START until the machine runs (the chain may start a reset machine before START does). */
async function running(): Promise<void> {
  expect(
    await waitFor(
      async () => {
        const r = await cli(['command', MACHINE, 'START']);
        return r.code === 0 || r.out.includes('already RUNNING');
      },
      60_000,
      2_000,
    ),
  ).toBe(true);
}

afterAll(async () => {
  await cli(['command', MACHINE, 'CLEAR_FAULT']);
  await cli(['command', MACHINE, 'START']);
}, 120_000);

beforeAll(async () => {
  // Held IDLE and powered (the chain does not move a stopped machine), 300 °C above ambient:
  // high, high-high, then the trip to FAULT within a few minutes.
  expect(await waitFor(async () => (await cli(['command', MACHINE, 'STOP'])).code === 0, 90_000, 2_000)).toBe(
    true,
  );
  expect((await cli(['inject', MACHINE, 'overheat', '--param', 'extraC=300'])).code).toBe(0);
  const high = await alarmOf('temperature-high', 'RAISED', 150_000);
  const trip = await alarmOf('fault', 'RAISED', 150_000);
  // Reset once it has cooled below 80 °C, then run: a failure and a repair for MTBF and MTTR.
  expect(
    await waitFor(
      async () => (await cli(['command', MACHINE, 'CLEAR_FAULT'])).stdout.includes('state IDLE'),
      240_000,
      3_000,
    ),
  ).toBe(true);
  // Reset, it is free to run again: the chain may start it before START does.
  await running();
  // A person acknowledges the first alarm; high-high and the trip stay unacknowledged.
  const ack = await cli(['alarm', 'ack', high, '--by', 'dashboard-test']);
  expect(ack.code, ack.out).toBe(0);

  // A ticket, opened and closed by hand (the close is refused while the machine is too hot).
  const opened = await cli(['ticket', 'open', MACHINE, '--reason', 'dashboard test']);
  expect(opened.code, opened.out).toBe(0);
  const ticketId = /Ticket (\S+) opened/.exec(opened.stdout)?.[1];
  expect(ticketId, opened.out).toBeDefined();
  expect(
    await waitFor(
      async () => (await cli(['ticket', 'close', ticketId!, '--note', 'checked the fan'])).code === 0,
      180_000,
      5_000,
    ),
  ).toBe(true);

  // A standing alarm when the panels are read: the machine jams and stays in FAULT, unacknowledged
  // (the first episode's alarms may all be suppressed or back to normal by now).
  await running();
  expect((await cli(['inject', MACHINE, 'jam'])).code).toBe(0);
  expect(
    await waitFor(async () => (await alarmOf('fault', 'RAISED', 60_000)) !== trip, 90_000, 2_000),
    'a second fault alarm after the jam',
  ).toBe(true);

  // What the stack writes by itself: the acknowledgement, KPI windows, the keeper's counters.
  for (const [what, query] of [
    [
      'the acknowledgement',
      `SELECT count("alarm_id") FROM "raw"."alarms" WHERE "transition" = 'ACKNOWLEDGED'`,
    ],
    [
      'a repair in the KPIs',
      `SELECT count("mttr_s") FROM "rollup_1m"."kpi" WHERE "machine" = '${MACHINE}' AND ${TIME_FILTER}`,
    ],
    ['pipeline counters', `SELECT count("received") FROM "pipeline" WHERE ${TIME_FILTER}`],
  ] as const)
    expect(await waitFor(async () => (await rows(query)).length > 0, 120_000, 2_000), what).toBe(true);
}, 900_000);

const dashboards = readdirSync(DASHBOARDS_DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(DASHBOARDS_DIR, f), 'utf8')) as unknown);

/** Values for each template variable, from its own query, the way Grafana fills the drop-down. */
async function variableValues(dashboard: unknown): Promise<Record<string, string | string[]>> {
  const vars: Record<string, string | string[]> = {};
  for (const v of templateVariableQueries(dashboard)) {
    let values: string[];
    if (v.type === 'custom') values = v.query.split(',').map((s) => s.trim());
    else {
      const q = substitute(v.query, { timeFilter: TIME_FILTER, vars });
      values = (await rows(q)).map((r) => String(r.value ?? ''));
    }
    expect(values.length, `${v.dashboard} variable ${v.variable}: ${v.query}`).toBeGreaterThan(0);
    if (v.variable === 'machine') vars[v.variable] = MACHINE;
    else vars[v.variable] = v.multi || v.includeAll ? values : values[0]!;
  }
  return vars;
}

describe('Grafana dashboards on real data', () => {
  it('every panel query returns series with values', async () => {
    const empty: string[] = [];
    let checked = 0;
    for (const d of dashboards) {
      const vars = await variableValues(d);
      for (const p of panelQueries(d)) {
        // A panel with its own relative time gets it, as in Grafana.
        const timeFilter = p.timeFrom ? `time >= now() - ${p.timeFrom}` : TIME_FILTER;
        const query = substitute(p.query, { timeFilter, interval: '10s', vars });
        const where = `${p.dashboard} / ${p.panel} / ${p.refId}: ${query}`;
        const res = (await influx.queryRaw(query)) as {
          results: { error?: string; series?: { columns: string[]; values: unknown[][] }[] }[];
        };
        checked++;
        const errors = res.results.flatMap((r) => (r.error ? [r.error] : []));
        const series = res.results.flatMap((r) => r.series ?? []);
        const withValues = series.filter(
          (s) => s.columns.length >= 2 && s.values.some((row) => row.slice(1).some((x) => x !== null)),
        );
        if (errors.length) empty.push(`${where} → error: ${errors.join('; ')}`);
        else if (withValues.length === 0) empty.push(`${where} → no series with values`);
      }
    }
    expect(checked).toBeGreaterThan(20);
    expect(empty).toEqual([]);
  });
});
