import { z } from 'zod';

/** Ids as they appear in topics and tags: no MQTT wildcards, no separators, bounded. */
export const idSchema = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, ".", "_" or "-"')
  // As an object key (confirmations, per-machine maps) it would set a prototype, not a key.
  .refine((s) => s !== '__proto__', 'must not be "__proto__"');

const finite = (min: number, max: number) =>
  z
    .number()
    .refine(Number.isFinite, 'must be a finite number')
    .refine((n) => n >= min && n <= max, `must lie within [${min}, ${max}]`);

const counter = z.number().int('must be a whole number').min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * Telemetry v1: the single source of truth for what a gateway publishes and what the
 * pipeline accepts. Bounds are physical plausibility limits, not alarm thresholds.
 */
export const telemetryV1Schema = z
  .strictObject({
    v: z.literal(1, 'unknown schema version (expected v: 1)'),
    site: idSchema,
    line: idSchema,
    machineId: idSchema,
    ts: z.number().int('must be integer epoch milliseconds').positive(),
    seq: counter.min(1),
    state: z.enum(['RUNNING', 'IDLE', 'MAINTENANCE', 'FAULT']),
    temperatureC: finite(-60, 600),
    speedRpm: finite(0, 100_000),
    vibrationMmS: finite(0, 1_000),
    powerKw: finite(0, 100_000),
    productionCount: counter,
    goodCount: counter,
    oee: finite(0, 1),
  })
  .refine((t) => t.goodCount <= t.productionCount, {
    message: 'goodCount cannot exceed productionCount',
    path: ['goodCount'],
  });

export type TelemetryV1 = z.infer<typeof telemetryV1Schema>;

/** The contract's example reading (docs, tests, fixtures). */
export const TELEMETRY_EXAMPLE: TelemetryV1 = {
  v: 1,
  site: 'plant-1',
  line: 'line-1',
  machineId: 'M-0001',
  ts: 1763900000000,
  seq: 1234,
  state: 'RUNNING',
  temperatureC: 45.2,
  speedRpm: 1050,
  vibrationMmS: 2.1,
  powerKw: 12.3,
  productionCount: 1247,
  goodCount: 1230,
  oee: 0.875,
};
