/**
 * The commands a machine accepts (Kafka `machine-commands`, CLI `factory inject`, Temporal
 * activities). Every payload is parsed here once; a bad one becomes a reason a person can act on.
 */
import { z } from 'zod';

export const FAULT_KINDS = [
  'overheat',
  'bearing_wear',
  'jam',
  'sensor_stuck',
  'sensor_drift',
  'sensor_dropout',
  'noise_burst',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Faults of the machine itself; the others only falsify what its sensors report. */
export const PHYSICAL_FAULTS = ['overheat', 'bearing_wear', 'jam'] as const satisfies readonly FaultKind[];
export type SensorFaultKind = Exclude<FaultKind, (typeof PHYSICAL_FAULTS)[number]>;

/** Telemetry fields a sensor fault can falsify. */
export const SENSOR_FIELDS = ['temperatureC', 'speedRpm', 'vibrationMmS', 'powerKw'] as const;
export type SensorField = (typeof SENSOR_FIELDS)[number];

/** Short names accepted too, as an operator types them (`--param field=temperature`). */
const FIELD_ALIASES: Record<string, SensorField> = {
  temperature: 'temperatureC',
  speed: 'speedRpm',
  vibration: 'vibrationMmS',
  power: 'powerKw',
};

const field = z
  .string()
  .transform((s, ctx) => {
    // Own properties only: `constructor` is "in" every object, and would come back as a function.
    const f = (SENSOR_FIELDS as readonly string[]).includes(s)
      ? (s as SensorField)
      : Object.hasOwn(FIELD_ALIASES, s)
        ? FIELD_ALIASES[s]
        : undefined;
    if (!f) {
      ctx.addIssue({
        code: 'custom',
        message: `unknown sensor field '${s.slice(0, 64)}'; expected one of ${SENSOR_FIELDS.join(', ')}`,
      });
      return z.NEVER;
    }
    return f;
  })
  .optional();
/** Numbers may arrive as strings from a command line (`--param extraC=60`). */
const number = z.coerce
  .number({ error: 'expected a number' })
  .refine(Number.isFinite, 'expected a finite number');
const durationS = number.refine((n) => n > 0, 'expected a positive duration in seconds').optional();

/** Parameters of each fault; all optional, defaults are documented in actors/README.md. */
export const faultParamsSchemas = {
  /** A cooling failure: the temperature set point rises by extraC while the machine is powered. */
  overheat: z.strictObject({
    extraC: number.refine((n) => n > 0 && n <= 500, 'expected 0 < extraC ≤ 500').optional(),
  }),
  /** Bearing wear grows by ratePerHour (at nominal speed) on top of natural wear. */
  bearing_wear: z.strictObject({
    ratePerHour: number.refine((n) => n > 0 && n <= 1000, 'expected 0 < ratePerHour ≤ 1000').optional(),
  }),
  jam: z.strictObject({}),
  sensor_stuck: z.strictObject({ field, durationS }),
  /** Reported value drifts away by ratePerMin (field units) per minute. */
  sensor_drift: z.strictObject({ field, ratePerMin: number.optional(), durationS }),
  /** No telemetry at all for the duration. */
  sensor_dropout: z.strictObject({ durationS }),
  /** Extra Gaussian noise of standard deviation sigma (field units). */
  noise_burst: z.strictObject({
    field,
    sigma: number.refine((n) => n > 0, 'expected a positive sigma').optional(),
    durationS,
  }),
} satisfies Record<FaultKind, z.ZodType>;

const inject = { type: z.literal('INJECT_FAULT') };
const P = faultParamsSchemas;

export const injectFaultSchema = z.discriminatedUnion('fault', [
  z.object({ ...inject, fault: z.literal('overheat'), params: P.overheat.prefault({}) }),
  z.object({ ...inject, fault: z.literal('bearing_wear'), params: P.bearing_wear.prefault({}) }),
  z.object({ ...inject, fault: z.literal('jam'), params: P.jam.prefault({}) }),
  z.object({ ...inject, fault: z.literal('sensor_stuck'), params: P.sensor_stuck.prefault({}) }),
  z.object({ ...inject, fault: z.literal('sensor_drift'), params: P.sensor_drift.prefault({}) }),
  z.object({ ...inject, fault: z.literal('sensor_dropout'), params: P.sensor_dropout.prefault({}) }),
  z.object({ ...inject, fault: z.literal('noise_burst'), params: P.noise_burst.prefault({}) }),
]);

export const startMaintenanceSchema = z.object({
  type: z.literal('START_MAINTENANCE'),
  ticketId: z.string({ error: 'expected a ticket id' }).min(1).max(200),
});
export const completeMaintenanceSchema = z.object({
  type: z.literal('COMPLETE_MAINTENANCE'),
  /** When given, it must match the ticket that holds the machine. */
  ticketId: z.string({ error: 'expected a ticket id' }).min(1).max(200).optional(),
});
export const clearFaultSchema = z.object({
  type: z.literal('CLEAR_FAULT'),
  /** Clear only this kind; all injected faults when absent. */
  fault: z.enum(FAULT_KINDS).optional(),
});
export const setSpeedSchema = z.object({
  type: z.literal('SET_SPEED'),
  rpm: number.refine((n) => n > 0, 'expected a positive speed in rpm'),
});
export const stopSchema = z.object({ type: z.literal('STOP') });
export const startSchema = z.object({ type: z.literal('START') });

const SCHEMAS = {
  START_MAINTENANCE: startMaintenanceSchema,
  COMPLETE_MAINTENANCE: completeMaintenanceSchema,
  INJECT_FAULT: injectFaultSchema,
  CLEAR_FAULT: clearFaultSchema,
  SET_SPEED: setSpeedSchema,
  STOP: stopSchema,
  START: startSchema,
} as const;

export const COMMAND_TYPES = Object.keys(SCHEMAS) as (keyof typeof SCHEMAS)[];
export type CommandType = (typeof COMMAND_TYPES)[number];

/** Any command, discriminated by `type` (INJECT_FAULT further by `fault`). */
export const commandSchema = z.union([
  startMaintenanceSchema,
  completeMaintenanceSchema,
  injectFaultSchema,
  clearFaultSchema,
  setSpeedSchema,
  stopSchema,
  startSchema,
]);
export type Command = z.output<typeof commandSchema>;
export type InjectFault = z.output<typeof injectFaultSchema>;

/** What a caller learns about a command: taken, or refused with a reason a person can act on. */
export type CommandResult = { ok: true } | { ok: false; reason: string };

export type ParsedCommand = { ok: true; command: Command } | { ok: false; command: string; reason: string };

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/** Commands this module produced: already parsed, so the model need not parse them again. */
const parsedCommands = new WeakSet<object>();

/** Whether `event` is a command `parseCommand` produced (and so needs no second parse). */
export const isParsedCommand = (event: unknown): event is Command =>
  typeof event === 'object' && event !== null && parsedCommands.has(event);

/**
 * A refused value, as a reason shows it: strings quoted and cut at 64 characters, anything
 * else by its kind (a BigInt or a cyclic object cannot be written as JSON, and must not throw).
 */
function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.slice(0, 64));
  if (v === undefined || v === null) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return `(a ${Array.isArray(v) ? 'list' : typeof v})`;
}

/** Parses an untrusted command. Never throws; the reason names the field and what was expected. */
export function parseCommand(input: unknown): ParsedCommand {
  if (isParsedCommand(input)) return { ok: true, command: input };
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    return { ok: false, command: 'unknown', reason: 'a command must be an object with a "type"' };
  const type = (input as { type?: unknown }).type;
  // Own properties only: `constructor` or `toString` are "in" every object.
  if (typeof type !== 'string' || !Object.hasOwn(SCHEMAS, type))
    return {
      ok: false,
      command: typeof type === 'string' ? type.slice(0, 64) : 'unknown',
      reason: `unknown command ${describeValue(type)}; expected one of ${COMMAND_TYPES.join(', ')}`,
    };
  if (type === 'INJECT_FAULT') {
    const fault = (input as { fault?: unknown }).fault;
    if (typeof fault !== 'string' || !(FAULT_KINDS as readonly string[]).includes(fault))
      return {
        ok: false,
        command: type,
        reason: `unknown fault ${describeValue(fault)}; expected one of ${FAULT_KINDS.join(', ')}`,
      };
  }
  const parsed = SCHEMAS[type as CommandType].safeParse(input);
  if (!parsed.success)
    return { ok: false, command: type, reason: `${type}: ${describeIssues(parsed.error)}` };
  parsedCommands.add(parsed.data);
  return { ok: true, command: parsed.data as Command };
}
