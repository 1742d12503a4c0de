import { z } from 'zod';
import { timeRefusal } from '../common/bounds.js';
import type { PoisonCode } from '../common/poison.js';
import { idSchema, type TelemetryV1, telemetryV1Schema } from '../common/telemetry.js';

export { MAX_AGE_MS, MAX_FUTURE_MS } from '../common/bounds.js';

/** Larger than any real reading by two orders of magnitude; anything bigger is not telemetry. */
export const MAX_PAYLOAD_BYTES = 16 * 1024;

export type Verdict<T> =
  | { ok: true; value: T }
  | { ok: false; code: PoisonCode; reason: string; key: string };

const TOPIC = /^factory\/([^/]+)\/([^/]+)\/([^/]+)\/(telemetry|events)$/;

function parseJson(
  raw: Buffer,
): { ok: true; value: unknown } | { ok: false; code: PoisonCode; reason: string } {
  if (raw.length > MAX_PAYLOAD_BYTES)
    return { ok: false, code: 'oversized', reason: `oversized: ${raw.length} bytes > ${MAX_PAYLOAD_BYTES}` };
  try {
    return { ok: true, value: JSON.parse(raw.toString('utf8')) };
  } catch (err) {
    return { ok: false, code: 'not-json', reason: `not JSON: ${(err as Error).message.slice(0, 200)}` };
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
  if (!json.ok) return { ...json, key };
  const parsed = telemetryV1Schema.safeParse(json.value);
  if (!parsed.success)
    return { ok: false, code: 'schema', reason: `schema: ${issueText(parsed.error)}`, key };
  const t = parsed.data;
  const time = timeRefusal(t.ts, now);
  if (time) return { ok: false, ...time, key };
  if (m && (m[1] !== t.site || m[2] !== t.line || m[3] !== t.machineId)) {
    return {
      ok: false,
      code: 'topic-mismatch',
      reason: `topic ${topic.slice(0, 300)} does not match site/line/machineId of the payload`,
      key,
    };
  }
  return { ok: true, value: t };
}

/** Lifecycle events of a machine: an epoch change after a crash, with the seq range it skipped. */
export const machineEventSchema = z
  .strictObject({
    v: z.literal(1),
    type: z.literal('resume'),
    machineId: idSchema,
    epoch: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    skippedFrom: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    skippedTo: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    ts: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    /** The worker that took the machine over. */
    owner: z.string().max(100).optional(),
  })
  .refine((e) => e.skippedTo >= e.skippedFrom - 1, 'skippedTo must not be below skippedFrom - 1');
export type MachineEvent = z.infer<typeof machineEventSchema>;

/**
 * A machine event as the bridge receives it: the schema, a sane timestamp, the topic agreeing.
 * Whether its skip range is one the owner really recorded is checked where it is used
 * (analytics, against `actor-snapshots`); here only its shape.
 */
export function validateEvent(
  topic: string,
  raw: Buffer,
  now: number,
): Verdict<MachineEvent & { site: string; line: string }> {
  const m = TOPIC.exec(topic);
  const key = m?.[3] ?? `mqtt:${topic}`;
  if (m?.[4] !== 'events' || !m)
    return { ok: false, code: 'topic-mismatch', reason: `not an events topic: ${topic.slice(0, 300)}`, key };
  const json = parseJson(raw);
  if (!json.ok) return { ...json, key };
  const parsed = machineEventSchema.safeParse(json.value);
  if (!parsed.success)
    return { ok: false, code: 'schema', reason: `schema: ${issueText(parsed.error)}`, key };
  const time = timeRefusal(parsed.data.ts, now);
  if (time) return { ok: false, ...time, key };
  if (parsed.data.machineId !== m[3])
    return {
      ok: false,
      code: 'topic-mismatch',
      reason: `topic ${topic.slice(0, 300)} does not match machineId`,
      key,
    };
  return { ok: true, value: { ...parsed.data, site: m[1]!, line: m[2]! } };
}
