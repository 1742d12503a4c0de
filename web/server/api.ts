/**
 * The HTTP API's routes. State-changing requests go through the same functions as the CLI
 * (`factory alarm ack|shelve`, `factory ticket open`, `factory inject`, `factory command`), so
 * a page and a terminal reach the machine's owner, the alarm's owner and Temporal the same way.
 */
import type { InfluxDB } from 'influx';
import type { NatsConnection } from 'nats';
import { z } from 'zod';
import type { RuleBook } from '../../analytics/rules.js';
import type { Config } from '../../common/config.js';
import { subjects } from '../../common/machine-commands.js';
import { safeJson } from '../../common/nats.js';
import { sendAlarmCommand } from '../../infra/cli/alarm.js';
import { commandOf, faultOf, sendCommand } from '../../infra/cli/command.js';
import { listTickets, openTicket, workflowLink } from '../../infra/cli/ticket.js';
import { StackError } from '../../infra/supervisor/stack.js';
import {
  acknowledgeBodySchema,
  alarmAnswerResponseSchema,
  alarmSchema,
  commandAnswerResponseSchema,
  commandBodySchema,
  healthSchema,
  injectBodySchema,
  type Kpi,
  kpisResponseSchema,
  type Limit,
  machineDetailSchema,
  machineIdParam,
  machinesResponseSchema,
  openTicketBodySchema,
  openTicketResponseSchema,
  pipelineResponseSchema,
  SERIES_FIELDS,
  seriesQuerySchema,
  seriesResponseSchema,
  shelveBodySchema,
  ticketSchema,
  ticketsQuerySchema,
  ticketsResponseSchema,
  workersResponseSchema,
} from '../api/schemas.js';
import type { LiveFleet } from './live.js';
import type { PipelineCounters } from './pipeline.js';
import { HttpError, type Route, route } from './routes.js';
import { openEventStream } from './sse.js';

export interface ApiContext {
  config: Config;
  live: LiveFleet;
  nc: NatsConnection;
  influx: InfluxDB;
  rules: RuleBook;
  pipeline: PipelineCounters;
  /** The OpenAPI document (built from these routes, served as is). */
  openapi: () => unknown;
}

const COMMAND_TIMEOUT_MS = 10_000;

/**
 * The routes anyone on this machine may call without the token: the API's description, its
 * health (`factory status` asks it) and the reads of the live view, which the page makes
 * before it has a token (it gets one only from the `#token=` link) and scripts make with none.
 * Every other route, a route added later included, needs `Authorization: Bearer <token>`.
 */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set([
  'GET /api/openapi.json',
  'GET /api/health',
  'GET /api/events',
  'GET /api/machines',
  'GET /api/machines/{machineId}',
  'GET /api/machines/{machineId}/series',
  'GET /api/alarms',
  'GET /api/tickets',
  'GET /api/kpis',
  'GET /api/workers',
  'GET /api/pipeline',
]);

/**
 * A CLI function's refusal as an HTTP answer: its sentence, with the status it amounts to.
 * The CLI's sentences are the contract for people; the status is for scripts.
 */
export function asHttp(err: unknown): unknown {
  if (!(err instanceof StackError)) return err;
  const m = err.message;
  if (/^No machine |^No ticket |not found|was retired/i.test(m)) return new HttpError(404, m);
  if (/^Cannot reach |^No answer /.test(m)) return new HttpError(503, m);
  if (/already exists/.test(m)) return new HttpError(409, m);
  return new HttpError(400, m);
}

const viaCli = async <T>(work: () => Promise<T>): Promise<T> => {
  try {
    return await work();
  } catch (err) {
    throw asHttp(err);
  }
};

const alarmParams = z.object({ alarmId: z.string().min(1).max(200) });
const machineParams = z.object({ machineId: machineIdParam });

const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The alarm limits of a machine type, for drawing on its charts. */
export function limitsOf(rules: RuleBook, type: string): Limit[] {
  return rules.forType(type).flatMap((r) =>
    r.kind === 'limit'
      ? [
          {
            rule: r.id,
            field: r.field,
            severity: r.severity,
            direction: r.high !== undefined ? ('above' as const) : ('below' as const),
            limit: (r.high ?? r.low)!,
          },
        ]
      : [],
  );
}

const KPI_FIELDS =
  'last("oee") AS "oee", last("availability") AS "availability", last("performance") AS "performance", ' +
  'last("quality") AS "quality", last("mtbf_s") AS "mtbf", last("mttr_s") AS "mttr"';

function kpiOf(row: Record<string, unknown> | undefined): Kpi {
  const n = (k: string) => (typeof row?.[k] === 'number' ? (row[k] as number) : null);
  const at = row?.time instanceof Date ? row.time.getTime() : null;
  return {
    oee: n('oee'),
    availability: n('availability'),
    performance: n('performance'),
    quality: n('quality'),
    mtbfS: n('mtbf'),
    mttrS: n('mttr'),
    at,
  };
}

type Row = Record<string, unknown> & { time?: Date };

async function rows(influx: InfluxDB, query: string): Promise<Row[]> {
  try {
    return (await influx.query(query)) as unknown as Row[];
  } catch (err) {
    throw new HttpError(
      503,
      `InfluxDB did not answer (${(err as Error).message}); is it running ("factory status")?`,
    );
  }
}

export function apiRoutes(ctx: ApiContext): Route[] {
  const { config, live } = ctx;
  const workflowUrl = (id: string) => workflowLink(config, id);
  const known = (machineId: string) => {
    const m = live.machine(machineId);
    if (!m) throw new HttpError(404, `No machine ${machineId} in the fleet registry.`);
    return m;
  };

  /** A command to a machine's owner, as the CLI sends it; parameters arrive as the CLI's strings. */
  const toMachine = async (
    machineId: string,
    body: { params: Record<string, string | number>; by?: string | undefined },
    command: (values: Record<string, string>) => Record<string, unknown>,
  ) => {
    const values = Object.fromEntries(Object.entries(body.params).map(([k, v]) => [k, String(v)]));
    const a = await viaCli(() =>
      sendCommand(config, machineId, command(values), {
        by: body.by ?? 'web',
        timeoutMs: COMMAND_TIMEOUT_MS,
      }),
    );
    return commandAnswerResponseSchema.parse(a);
  };

  return [
    route({
      method: 'GET',
      path: '/api/openapi.json',
      summary: 'This API described as OpenAPI 3.1.',
      response: z.object({ openapi: z.string() }).passthrough(),
      handle: async () => ctx.openapi(),
    }),
    route({
      method: 'GET',
      path: '/api/health',
      summary: 'Whether the web server follows the fleet: state events or heartbeats arrive from NATS.',
      response: healthSchema,
      handle: async () => ({
        ok: live.natsConnected && live.lastEventAt !== null && Date.now() - live.lastEventAt < 15_000,
        machines: live.size,
        lastEventAt: live.lastEventAt,
        natsConnected: live.natsConnected && !ctx.nc.isClosed(),
        sseClients: live.followers,
      }),
    }),
    route({
      method: 'GET',
      path: '/api/events',
      summary:
        'Server-Sent Events: `snapshot` (machines, alarms, workers) first, then `machines` (changed machines, every 250 ms at most), `alarms`, `workers` and `pipeline` (every 5 s).',
      response: 'stream',
      handle: async (_input, req, res) => openEventStream(live, req, res),
    }),
    route({
      method: 'GET',
      path: '/api/machines',
      summary: 'Every machine of the fleet with its state, owner worker and shard.',
      response: machinesResponseSchema,
      handle: async () => ({ machines: live.listMachines(), asOf: Date.now() }),
    }),
    route({
      method: 'GET',
      path: '/api/machines/{machineId}',
      summary: 'One machine: state, what its owner says now, open alarms, alarm limits, KPIs, open ticket.',
      params: machineParams,
      response: machineDetailSchema,
      handle: async ({ params }) => {
        const machine = known(params.machineId);
        const live_ = await ctx.nc
          .request(subjects.query(machine.machineId), undefined, { timeout: 2_000 })
          .then((msg) => safeJson(msg.data) as Record<string, unknown>)
          .catch(() => null);
        const kpiRows = await rows(
          ctx.influx,
          `SELECT ${KPI_FIELDS} FROM "rollup_1m"."kpi" WHERE "scope" = 'machine' AND "machine" = ${q(machine.machineId)} AND "window" = '1h' AND time > now() - 3h`,
        ).catch(() => []);
        const ticketId = (live_?.ticketId as string | null | undefined) ?? machine.ticketId;
        return {
          machine,
          live: live_
            ? {
                seq: Number(live_.seq ?? 0),
                faults: Array.isArray(live_.faults) ? live_.faults : [],
                trip: live_.trip ?? null,
                stopped: live_.stopped === true,
                commandsApplied: Number(live_.commandsApplied ?? 0),
              }
            : null,
          alarms: live.listAlarms().filter((a) => a.machineId === machine.machineId),
          limits: limitsOf(ctx.rules, machine.type),
          kpi: kpiOf(kpiRows[0]),
          ticketUrl: ticketId ? workflowUrl(`ticket-${ticketId}`) : null,
        };
      },
    }),
    route({
      method: 'GET',
      path: '/api/machines/{machineId}/series',
      summary: 'A machine’s signals (10 s means or coarser) and state timeline over the last `minutes` (60).',
      params: machineParams,
      query: seriesQuerySchema,
      response: seriesResponseSchema,
      handle: async ({ params, query }) => {
        const machine = known(params.machineId);
        // At most about 720 points per signal, never finer than the 10 s reading period.
        const stepS = Math.max(10, Math.ceil((query.minutes * 60) / 720 / 10) * 10);
        const where = `"machine" = ${q(machine.machineId)} AND time > now() - ${query.minutes}m`;
        const means = SERIES_FIELDS.map((f) => `mean("${f}") AS "${f}"`).join(', ');
        const [signals, states] = await Promise.all([
          rows(
            ctx.influx,
            `SELECT ${means} FROM "raw"."telemetry" WHERE ${where} GROUP BY time(${stepS}s) fill(null)`,
          ),
          rows(
            ctx.influx,
            `SELECT last("seq") AS "seq" FROM "raw"."telemetry" WHERE ${where} GROUP BY time(${stepS}s), "state" fill(none)`,
          ),
        ]);
        const t = signals.map((r) => r.time!.getTime());
        const series = Object.fromEntries(
          SERIES_FIELDS.map((f) => [
            f,
            signals.map((r) => (typeof r[f] === 'number' ? (r[f] as number) : null)),
          ]),
        ) as Record<(typeof SERIES_FIELDS)[number], (number | null)[]>;
        // The state of each step (the one with the latest reading), as a list of changes.
        const byStep = new Map<number, { seq: number; state: string }>();
        for (const r of states) {
          const at = r.time!.getTime();
          const seq = Number(r.seq);
          const prev = byStep.get(at);
          if (!prev || seq > prev.seq) byStep.set(at, { seq, state: String(r.state) });
        }
        const timeline: { t: number; state: string }[] = [];
        for (const [at, s] of [...byStep].sort((a, b) => a[0] - b[0]))
          if (timeline.at(-1)?.state !== s.state) timeline.push({ t: at, state: s.state });
        return { t, ...series, states: timeline };
      },
    }),
    route({
      method: 'POST',
      path: '/api/machines/{machineId}/inject',
      summary: 'Injects a fault into a machine through machine-commands, as `factory inject` does.',
      params: machineParams,
      body: injectBodySchema,
      response: commandAnswerResponseSchema,
      handle: async ({ params, body }) => {
        return toMachine(params.machineId, body, (values) => faultOf(body.fault, values));
      },
    }),
    route({
      method: 'POST',
      path: '/api/machines/{machineId}/commands',
      summary: 'Sends a command (START, STOP, CLEAR_FAULT, ...) to a machine, as `factory command` does.',
      params: machineParams,
      body: commandBodySchema,
      response: commandAnswerResponseSchema,
      handle: async ({ params, body }) => {
        return toMachine(params.machineId, body, (values) => commandOf(body.type, values));
      },
    }),
    route({
      method: 'GET',
      path: '/api/alarms',
      summary: 'Every open alarm (not back to normal), most severe then oldest first.',
      response: z.object({ alarms: z.array(alarmSchema) }),
      handle: async () => ({ alarms: live.listAlarms() }),
    }),
    route({
      method: 'POST',
      path: '/api/alarms/{alarmId}/acknowledge',
      summary: 'Acknowledges an alarm through its owner, as `factory alarm ack` does.',
      params: alarmParams,
      body: acknowledgeBodySchema,
      response: alarmAnswerResponseSchema,
      handle: async ({ params, body }) =>
        alarmAnswerResponseSchema.parse(
          await viaCli(() =>
            sendAlarmCommand(config, params.alarmId, 'acknowledge', {
              by: body.by ?? 'web',
              timeoutMs: COMMAND_TIMEOUT_MS,
            }),
          ),
        ),
    }),
    route({
      method: 'POST',
      path: '/api/alarms/{alarmId}/shelve',
      summary: 'Shelves an alarm for `minutes` (at most a week), as `factory alarm shelve` does.',
      params: alarmParams,
      body: shelveBodySchema,
      response: alarmAnswerResponseSchema,
      handle: async ({ params, body }) =>
        alarmAnswerResponseSchema.parse(
          await viaCli(() =>
            sendAlarmCommand(config, params.alarmId, 'shelve', {
              by: body.by ?? 'web',
              forMs: body.minutes * 60_000,
              timeoutMs: COMMAND_TIMEOUT_MS,
            }),
          ),
        ),
    }),
    route({
      method: 'GET',
      path: '/api/tickets',
      summary: 'Maintenance tickets: open ones, or the latest 200 of all with `all=true`.',
      query: ticketsQuerySchema,
      response: ticketsResponseSchema,
      handle: async ({ query }) => {
        const list = await viaCli(() => listTickets(config, { all: query.all === 'true' }));
        return {
          tickets: list.map((t) =>
            ticketSchema.parse({
              ticketId: t.ticketId,
              machineId: t.machineId,
              running: t.running,
              stage: t.status?.stage ?? null,
              reason: t.status?.reason ?? null,
              openedAt: t.startTime.getTime(),
              closedAt: t.closeTime?.getTime() ?? null,
              workflowUrl: workflowUrl(`ticket-${t.ticketId}`),
            }),
          ),
        };
      },
    }),
    route({
      method: 'POST',
      path: '/api/tickets',
      summary: 'Opens a maintenance ticket on a machine, as `factory ticket open` does.',
      body: openTicketBodySchema,
      response: openTicketResponseSchema,
      handle: async ({ body }) => {
        known(body.machineId);
        const r = await viaCli(() =>
          openTicket(config, body.machineId, { reason: body.reason, by: body.by ?? 'web', waitMs: 5_000 }),
        );
        return {
          ticketId: r.ticketId,
          stage: r.status?.stage ?? null,
          workflowUrl: workflowUrl(`ticket-${r.ticketId}`),
        };
      },
    }),
    route({
      method: 'GET',
      path: '/api/kpis',
      summary:
        'Each line’s KPIs over its latest hour window (OEE, availability, performance, quality, MTBF, MTTR).',
      response: kpisResponseSchema,
      handle: async () => {
        const found = await rows(
          ctx.influx,
          `SELECT ${KPI_FIELDS} FROM "rollup_1m"."kpi" WHERE "scope" = 'line' AND "window" = '1h' AND time > now() - 3h GROUP BY "site", "line"`,
        );
        const lines = new Map<string, { site: string; line: string; machines: number }>();
        for (const m of live.listMachines()) {
          const key = `${m.site}/${m.line}`;
          const l = lines.get(key) ?? { site: m.site, line: m.line, machines: 0 };
          l.machines++;
          lines.set(key, l);
        }
        return {
          lines: [...lines.entries()]
            .sort((a, b) => a[0].localeCompare(b[0]))
            .map(([, l]) => ({
              ...l,
              kpi: kpiOf(found.find((r) => r.site === l.site && r.line === l.line)),
            })),
        };
      },
    }),
    route({
      method: 'GET',
      path: '/api/workers',
      summary: 'The shard map: each worker’s shards and actor count, from its heartbeats.',
      response: workersResponseSchema,
      handle: async () => live.listWorkers(),
    }),
    route({
      method: 'GET',
      path: '/api/pipeline',
      summary: 'Each bridge’s, writer’s and analytics processor’s counters and rates, lag and dead letters.',
      response: pipelineResponseSchema,
      handle: async () => ctx.pipeline.read(),
    }),
  ];
}
