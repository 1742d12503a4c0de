/**
 * The HTTP API's shapes: request bodies and parameters are parsed with these at the edge, the
 * responses are built to them, and the OpenAPI document is generated from them, so the three
 * cannot drift apart. The page imports the types only (`import type`): no zod in the bundle.
 */
import { z } from 'zod';
import { alarmEventSchema } from '../../analytics/events.js';

export const MACHINE_STATES = ['RUNNING', 'IDLE', 'MAINTENANCE', 'FAULT', 'UNKNOWN'] as const;

const machineId = z
  .string()
  .regex(/^[A-Za-z0-9][\w.-]{0,99}$/, 'expected a machine id such as M-0001')
  .meta({ example: 'M-0001' });
export const machineIdParam = machineId;

export const machineSummarySchema = z
  .object({
    machineId,
    site: z.string(),
    line: z.string(),
    type: z.string(),
    /** UNKNOWN until an owner has saved or reported the machine. */
    state: z.enum(MACHINE_STATES),
    /** The worker hosting it and the shard (partition of machine-commands) it lives in. */
    owner: z.string().nullable(),
    shard: z.number().int().nullable(),
    ticketId: z.string().nullable(),
    /** Epoch ms when the state began (its state event); null when only the owner's last save is known. */
    since: z.number().nullable(),
  })
  .meta({ id: 'MachineSummary' });
export type MachineSummary = z.infer<typeof machineSummarySchema>;

export const alarmSchema = alarmEventSchema
  .extend({
    /** The alarm's escalation workflow in the Temporal UI. */
    workflowUrl: z.string(),
  })
  .meta({ id: 'Alarm' });
export type Alarm = z.infer<typeof alarmSchema>;

export const workerSchema = z
  .object({
    workerId: z.string(),
    pid: z.number().int(),
    shards: z.array(z.number().int()),
    actors: z.number().int(),
    fenced: z.boolean(),
    /** Epoch ms of its latest heartbeat. */
    lastSeen: z.number(),
  })
  .meta({ id: 'Worker' });
export type Worker = z.infer<typeof workerSchema>;

export const workersResponseSchema = z
  .object({
    workers: z.array(workerSchema),
    /** How many shards there are (partitions of machine-commands). */
    shards: z.number().int(),
  })
  .meta({ id: 'Workers' });
export type WorkersResponse = z.infer<typeof workersResponseSchema>;

export const machinesResponseSchema = z
  .object({ machines: z.array(machineSummarySchema), asOf: z.number() })
  .meta({ id: 'Machines' });

export const limitSchema = z.object({
  rule: z.string(),
  field: z.string(),
  severity: z.string(),
  /** above: raised over the limit; below: raised under it. */
  direction: z.enum(['above', 'below']),
  limit: z.number(),
});
export type Limit = z.infer<typeof limitSchema>;

export const kpiSchema = z
  .object({
    oee: z.number().nullable(),
    availability: z.number().nullable(),
    performance: z.number().nullable(),
    quality: z.number().nullable(),
    mtbfS: z.number().nullable(),
    mttrS: z.number().nullable(),
    /** Epoch ms of the KPI window these come from. */
    at: z.number().nullable(),
  })
  .meta({ id: 'Kpi' });
export type Kpi = z.infer<typeof kpiSchema>;

export const machineDetailSchema = z
  .object({
    machine: machineSummarySchema,
    /** What the owner answered just now; null when no owner answered within 2 s. */
    live: z
      .object({
        seq: z.number().int(),
        faults: z.array(z.unknown()),
        trip: z.unknown().nullable(),
        stopped: z.boolean(),
        commandsApplied: z.number().int(),
      })
      .nullable(),
    alarms: z.array(alarmSchema),
    limits: z.array(limitSchema),
    kpi: kpiSchema,
    ticketUrl: z.string().nullable(),
  })
  .meta({ id: 'MachineDetail' });
export type MachineDetail = z.infer<typeof machineDetailSchema>;

export const SERIES_FIELDS = ['temperature', 'speed', 'vibration', 'power'] as const;

export const seriesQuerySchema = z.object({
  minutes: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 60)
    .default(60),
});

export const seriesResponseSchema = z
  .object({
    /** Epoch ms, one per point (10 s means), and each signal's values (null: no reading). */
    t: z.array(z.number()),
    temperature: z.array(z.number().nullable()),
    speed: z.array(z.number().nullable()),
    vibration: z.array(z.number().nullable()),
    power: z.array(z.number().nullable()),
    /** The state timeline: each change with its time. */
    states: z.array(z.object({ t: z.number(), state: z.string() })),
  })
  .meta({ id: 'Series' });
export type SeriesResponse = z.infer<typeof seriesResponseSchema>;

export const lineKpiSchema = z
  .object({ site: z.string(), line: z.string(), machines: z.number().int(), kpi: kpiSchema })
  .meta({ id: 'LineKpi' });
export const kpisResponseSchema = z.object({ lines: z.array(lineKpiSchema) }).meta({ id: 'Kpis' });

export const pipelineComponentSchema = z
  .object({
    component: z.string(),
    role: z.enum(['bridge', 'writer', 'analytics']),
    /** false: the process did not answer, or answered unhealthy (see detail). */
    ok: z.boolean(),
    detail: z.string(),
    counters: z.record(z.string(), z.number()),
    rates: z.record(z.string(), z.number()),
  })
  .meta({ id: 'PipelineComponent' });
export const pipelineResponseSchema = z
  .object({ components: z.array(pipelineComponentSchema), asOf: z.number() })
  .meta({ id: 'Pipeline' });
export type PipelineResponse = z.infer<typeof pipelineResponseSchema>;

export const ticketSchema = z
  .object({
    ticketId: z.string(),
    machineId: z.string(),
    running: z.boolean(),
    stage: z.string().nullable(),
    reason: z.string().nullable(),
    openedAt: z.number(),
    closedAt: z.number().nullable(),
    workflowUrl: z.string(),
  })
  .meta({ id: 'Ticket' });
export type Ticket = z.infer<typeof ticketSchema>;
export const ticketsResponseSchema = z.object({ tickets: z.array(ticketSchema) }).meta({ id: 'Tickets' });
export const ticketsQuerySchema = z.object({ all: z.enum(['true', 'false']).default('false') });

const by = z.string().trim().min(1).max(100).optional();

export const acknowledgeBodySchema = z.object({ by }).strict().meta({ id: 'AcknowledgeRequest' });
export const shelveBodySchema = z
  .object({
    minutes: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 60),
    by,
  })
  .strict()
  .meta({ id: 'ShelveRequest' });
export const openTicketBodySchema = z
  .object({ machineId, reason: z.string().trim().min(1).max(500), by })
  .strict()
  .meta({ id: 'OpenTicketRequest' });
export const injectBodySchema = z
  .object({
    fault: z.string().min(1).max(40),
    params: z.record(z.string(), z.union([z.string(), z.number()])).default({}),
    by,
  })
  .strict()
  .meta({ id: 'InjectRequest' });
export const commandBodySchema = z
  .object({
    type: z.string().min(1).max(40),
    params: z.record(z.string(), z.union([z.string(), z.number()])).default({}),
    by,
  })
  .strict()
  .meta({ id: 'CommandRequest' });

export const commandAnswerResponseSchema = z
  .object({
    ok: z.boolean(),
    reason: z.string().optional(),
    machineId: z.string(),
    owner: z.string(),
    shard: z.number(),
    state: z.string().optional(),
    ticketId: z.string().nullable().optional(),
  })
  .meta({ id: 'CommandAnswer' });
export const alarmAnswerResponseSchema = z
  .object({
    ok: z.boolean(),
    reason: z.string().optional(),
    alarmId: z.string(),
    state: z.string().optional(),
  })
  .meta({ id: 'AlarmAnswer' });
export const openTicketResponseSchema = z
  .object({ ticketId: z.string(), stage: z.string().nullable(), workflowUrl: z.string() })
  .meta({ id: 'OpenedTicket' });

export const errorSchema = z.object({ error: z.string() }).meta({ id: 'Error' });

export const healthSchema = z
  .object({
    ok: z.boolean(),
    machines: z.number().int(),
    /** Epoch ms of the latest state event or heartbeat seen on NATS. */
    lastEventAt: z.number().nullable(),
    natsConnected: z.boolean(),
    sseClients: z.number().int(),
  })
  .meta({ id: 'Health' });

/** Live events on GET /api/events (Server-Sent Events), each a JSON object. */
export interface LiveSnapshot {
  machines: MachineSummary[];
  alarms: Alarm[];
  workers: WorkersResponse;
}
/** `machines`: the machines that changed since the previous batch (250 ms), whole. */
export interface MachinesDelta {
  machines: MachineSummary[];
  removed: string[];
  /** Server time when the batch was sent. */
  at: number;
}
