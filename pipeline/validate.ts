import { z } from 'zod';
import { idSchema, type TelemetryV1, telemetryV1Schema } from '../common/telemetry.js';

/** Larger than any real reading by two orders of magnitude; anything bigger is not telemetry. */
export const MAX_PAYLOAD_BYTES = 16 * 1024;
/** Older than the raw retention: it would be dropped by InfluxDB anyway. */
export const MAX_AGE_MS = 7 * 24 * 3600 * 1000;
/** Clock skew we tolerate from a gateway. */
export const MAX_FUTURE_MS = 5 * 60 * 1000;

export type Verdict<T> = { ok: true; value: T } | { ok: false; reason: string; key: string };

const TOPIC = /^factory\/([^/]+)\/([^/]+)\/([^/]+)\/(telemetry|events)$/;

function parseJson(raw: Buffer): { ok: true; value: unknown } | { ok: false; reason: string } {
  if (raw.length > MAX_PAYLOAD_BYTES)
    return { ok: false, reason: `oversized: ${raw.length} bytes > ${MAX_PAYLOAD_BYTES}` };
  try {
    return { ok: true, value: JSON.parse(raw.toString('utf8')) };
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
}

const issueText = (error: z.ZodError) =>
  error.issues
    .slice(0, 3)
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');

/**
 * Telemetry as the bridge receives it: size, JSON, the v1 schema, a sane timestamp, and the
 * topic agreeing with the payload (a gateway may only speak for machines on its own topics).
 */
export function validateTelemetry(topic: string, raw: Buffer, now: number): Verdict<TelemetryV1> {
  const m = TOPIC.exec(topic);
  const key = m?.[3] ?? `mqtt:${topic}`;
  const json = parseJson(raw);
  if (!json.ok) return { ok: false, reason: json.reason, key };
  const parsed = telemetryV1Schema.safeParse(json.value);
  if (!parsed.success) return { ok: false, reason: `schema: ${issueText(parsed.error)}`, key };
  const t = parsed.data;
  if (t.ts < now - MAX_AGE_MS)
    return { ok: false, reason: `ts ${t.ts} is more than 7 days in the past`, key };
  if (t.ts > now + MAX_FUTURE_MS)
    return { ok: false, reason: `ts ${t.ts} is more than 5 minutes in the future`, key };
  if (m && (m[1] !== t.site || m[2] !== t.line || m[3] !== t.machineId)) {
    return { ok: false, reason: `topic ${topic} does not match site/line/machineId of the payload`, key };
  }
  return { ok: true, value: t };
}

/** Lifecycle events of a machine: an epoch change after a crash, with the seq range it skipped. */
export const machineEventSchema = z
  .strictObject({
    v: z.literal(1),
    type: z.literal('resume'),
    machineId: idSchema,
    epoch: z.number().int().positive(),
    skippedFrom: z.number().int().positive(),
    skippedTo: z.number().int().nonnegative(),
    ts: z.number().int().positive(),
    /** The worker that took the machine over. */
    owner: z.string().max(100).optional(),
  })
  .refine((e) => e.skippedTo >= e.skippedFrom - 1, 'skippedTo must not be below skippedFrom - 1');
export type MachineEvent = z.infer<typeof machineEventSchema>;

export function validateEvent(
  topic: string,
  raw: Buffer,
): Verdict<MachineEvent & { site: string; line: string }> {
  const m = TOPIC.exec(topic);
  const key = m?.[3] ?? `mqtt:${topic}`;
  if (m?.[4] !== 'events' || !m) return { ok: false, reason: `not an events topic: ${topic}`, key };
  const json = parseJson(raw);
  if (!json.ok) return { ok: false, reason: json.reason, key };
  const parsed = machineEventSchema.safeParse(json.value);
  if (!parsed.success) return { ok: false, reason: `schema: ${issueText(parsed.error)}`, key };
  if (parsed.data.machineId !== m[3])
    return { ok: false, reason: `topic ${topic} does not match machineId`, key };
  return { ok: true, value: { ...parsed.data, site: m[1]!, line: m[2]! } };
}
