/**
 * Bounds every stage applies to what it is handed, so that a value no server will take never
 * reaches a server. Shared, so that the bridge, the writer and analytics refuse the same things.
 */
import type { PoisonCode } from './poison.js';

const HOUR_MS = 3600 * 1000;
/** The raw retention policy (common/influx-schema.ts RETENTION.raw): 7 days. */
export const RAW_RETENTION_MS = 7 * 24 * HOUR_MS;
/**
 * Readings older than the retention less a margin are refused at the edge: one accepted at
 * exactly the retention age would be beyond it by the time the writer sends it, and InfluxDB
 * refuses such points. The margin covers a backlog in Kafka of up to a day.
 */
export const AGE_MARGIN_MS = 24 * HOUR_MS;
export const MAX_AGE_MS = RAW_RETENTION_MS - AGE_MARGIN_MS;
/** Clock skew tolerated from a gateway, a worker or another process. */
export const MAX_FUTURE_MS = 5 * 60 * 1000;
/** Free text (messages, names of people) is at most this long. */
export const MAX_TEXT_CHARS = 1024;

/**
 * A timestamp's refusal, or undefined when it lies in [now − maxAgeMs, now + MAX_FUTURE_MS].
 * The edge uses MAX_AGE_MS; the writer, the last stage, passes STORE_MAX_AGE_MS.
 */
export function timeRefusal(
  ts: number,
  now: number,
  maxAgeMs = MAX_AGE_MS,
): { code: PoisonCode; reason: string } | undefined {
  if (!Number.isFinite(ts)) return { code: 'schema', reason: `ts ${ts} is not a number` };
  if (ts < now - maxAgeMs)
    return {
      code: 'too-old',
      reason: `ts ${ts} is ${((now - ts) / HOUR_MS).toFixed(1)} h old: older than the ${maxAgeMs / HOUR_MS} h accepted (raw retention ${RAW_RETENTION_MS / HOUR_MS} h less a margin)`,
    };
  if (ts > now + MAX_FUTURE_MS)
    return {
      code: 'future',
      reason: `ts ${ts} is ${Math.round((ts - now) / 1000)} s in the future: more than the ${MAX_FUTURE_MS / 1000} s of clock skew accepted`,
    };
  return undefined;
}

/** The writer's bound: anything the edge let through, up to an hour short of the retention. */
export const STORE_MAX_AGE_MS = RAW_RETENTION_MS - HOUR_MS;
