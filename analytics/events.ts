/**
 * Records of the analytics processor's topics: alarm events on `alarms` (key = machineId, or
 * `site/line` for a line's flood alarm) and the commands people and workflows send it on
 * `alarm-commands` (same key), answered over NATS. Parsed here, at the edge.
 */
import { z } from 'zod';
import { MAX_TEXT_CHARS } from '../common/bounds.js';
import { idSchema } from '../common/telemetry.js';
import { ALARM_STATES, TRANSITIONS } from './lifecycle.js';
import { SEVERITIES } from './rules.js';

/** `<subject>.<rule>.<seq>`: the subject is a machine id or `site/line`; the seq names the episode. */
const ALARM_ID = /^([A-Za-z0-9._/-]{1,130})\.([a-z0-9][a-z0-9-]{0,47})\.(\d{1,16})$/;

export const alarmIdSchema = z
  .string()
  .regex(ALARM_ID, 'expected an alarm id such as M-0003.temperature-high.4711');

/** The machine (or line) an alarm belongs to: the Kafka key of its commands. */
export function subjectOf(alarmId: string): string | null {
  return ALARM_ID.exec(alarmId)?.[1] ?? null;
}

/** A short name (rule kind, field, machine type): bounded, so no consumer stores or forwards a novel. */
const name = z.string().min(1).max(64);
const safeInt = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * Every string is bounded and every id has the id pattern: an alarm event is indexed by Temporal
 * (search attributes have a size limit) and stored as InfluxDB tags, and either would refuse an
 * outsized one again and again.
 */
export const alarmEventSchema = z.object({
  v: z.literal(1),
  /** `<alarmId>#<n>`: the n-th transition of the episode. A consumer drops an id it has seen. */
  eventId: z.string().min(1).max(200),
  alarmId: alarmIdSchema,
  transition: z.enum(TRANSITIONS),
  state: z.enum(ALARM_STATES),
  machineId: idSchema.nullable(),
  site: idSchema,
  line: idSchema,
  machineType: name.nullable(),
  rule: name,
  kind: name,
  severity: z.enum(SEVERITIES),
  field: name.nullable(),
  value: z.number().nullable(),
  limit: z.number().nullable(),
  /** Event time of the transition (reading time, or the processor's clock for silence and commands). */
  ts: safeInt,
  raisedAt: safeInt.nullable(),
  /** When the condition first held (the first out-of-limit reading), before any on-delay. */
  conditionSince: safeInt.nullable(),
  by: z.string().max(100).nullable(),
  shelvedUntil: safeInt.nullable(),
  /** The line's flood alarm this one was raised under, if the line was flooding. */
  flood: z.string().max(200).nullable(),
  message: z.string().max(MAX_TEXT_CHARS),
});
export type AlarmEvent = z.infer<typeof alarmEventSchema>;

const MAX_SHELVE_MS = 7 * 24 * 3600 * 1000;

export const alarmCommandSchema = z
  .object({
    v: z.literal(1),
    commandId: z.string().regex(/^[A-Za-z0-9][\w.-]{0,99}$/, 'expected a plain id (max 100)'),
    alarmId: alarmIdSchema,
    action: z.enum(['acknowledge', 'shelve', 'unshelve']),
    by: z.string().min(1).max(100),
    /** Shelve: for how long (at most a week). */
    forMs: z.number().int().positive().max(MAX_SHELVE_MS, 'shelving is limited to 7 days').optional(),
    replyTo: z
      .string()
      .regex(/^[\w.-]+$/, 'expected a plain NATS subject')
      .max(200)
      .optional(),
    ts: z.number(),
  })
  .refine((c) => c.action !== 'shelve' || c.forMs !== undefined, {
    message: 'shelve needs forMs',
    path: ['forMs'],
  });
export type AlarmCommand = z.infer<typeof alarmCommandSchema>;

export const alarmAnswerSchema = z.object({
  commandId: z.string(),
  alarmId: z.string(),
  ok: z.boolean(),
  reason: z.string().optional(),
  state: z.string().optional(),
  owner: z.string(),
});
export type AlarmAnswer = z.infer<typeof alarmAnswerSchema>;

export const alarmSubjects = {
  answer: (commandId: string) => `factory.alarms.answer.${commandId}`,
} as const;
